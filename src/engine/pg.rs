//! The PostgreSQL prober: one fresh connection per probe, with its own small client.
//!
//! A probe is: dial (TCP or Unix socket, bounded by `connect_timeout`), TLS per `sslmode`, startup
//! and authentication under the target's [`AuthPolicy`](crate::topology::AuthPolicy), one
//! simple-protocol query (role, WAL positions, shard schemas), Terminate. `request.timeout`
//! bounds all of it, so a server that accepts and never answers costs one timeout and yields a
//! `timeout` failure naming the setting that set it.
//!
//! Why our own client rather than tokio-postgres (issue 13): SCRAM's PBKDF2 is nearly all of a
//! login's client CPU, and tokio-postgres cannot take a precomputed key. The client here is small
//! — `postgres-protocol`'s message codecs, rustls, and [`scram`] — and remembers SaltedPassword
//! with the password ([`Password::salted_key`](crate::secret::Password::salted_key)), so a
//! monitor logging in with the same password to the same role thousands of times a day pays
//! PBKDF2 once. Owning the exchange also lets it refuse a weak authentication request before
//! anything derived from the password leaves the process (issue 14).
//!
//! `sslmode` follows libpq, fallbacks included: `prefer` asks for TLS and goes on in plain text
//! when the server declines (or the handshake fails: a new connection); `allow` tries plain text
//! first and retries with TLS. libpq also retries on *any* error the server sends during startup;
//! rotascope retries only when pg_hba turned the path away (`hba_rejected`: a `hostssl` or
//! `hostnossl` line is the usual reason), because repeating a refused password over the other
//! transport can only add a second failed login to the server's log.

use tokio::time::Instant;

use super::classify::{classify_fault, one_line, timeout_error};
use crate::topology::{ConnTarget, Endpoint, SslMode};

use super::probe::{
    ErrorKind, PhaseLatency, ProbeError, ProbeFailure, ProbeOutcome, ProbeRequest, ProbeSuccess,
    Prober, Route,
};

mod auth;
mod connect;
pub mod fault;
pub(crate) mod query;
mod scram;
mod tls;
mod wire;

pub use query::probe_sql;

use auth::Greeting;
use fault::Fault;
use wire::{Conn, Stream};

/// What every probe connection calls itself in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "rotascope";

/// Probes real PostgreSQL servers. Cheap to share; holds the TLS setup.
#[derive(Debug, Default)]
pub struct PgProber {
    tls: tls::TlsSetup,
}

/// How one connection attempt uses TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// No SSL request.
    Plain,
    /// SSL request; plain text on the same connection when the server declines.
    Preferred,
    /// SSL request; the server declining is a failure.
    Required,
}

impl PgProber {
    /// A prober using rustls with the ring crypto provider.
    pub fn new() -> PgProber {
        PgProber {
            tls: tls::TlsSetup::new(),
        }
    }

    async fn run(&self, request: ProbeRequest) -> ProbeOutcome {
        let start = Instant::now();
        let deadline = start + request.timeout;
        let candidate = &request.candidate;
        let secrets = [&candidate.password];
        let fail = |error: ProbeError| {
            Err(ProbeFailure {
                error,
                elapsed: start.elapsed(),
            })
        };
        let sql = match query::probe_sql(request.shard_pattern.as_deref(), &request.usage_logins) {
            Ok(sql) => sql,
            Err(message) => return fail(plain_error(ErrorKind::Other, &message, &secrets)),
        };
        let exchange = async {
            let (mut conn, greeting) = self.connect(&request).await?;
            let connected = start.elapsed();
            let row = query::run(&mut conn, &sql).await;
            Ok::<_, Fault>((conn, greeting, row, connected, start.elapsed()))
        };
        let (conn, greeting, row, connected, queried) =
            match tokio::time::timeout_at(deadline, exchange).await {
                Err(_) => return fail(timeout_error(request.timeout, request.timeout_origin)),
                Ok(Err(fault)) => return fail(classify_fault(&fault, &secrets)),
                Ok(Ok(done)) => done,
            };
        // The probe has its answer: a slow or failed close only costs time, within the deadline.
        let _ = tokio::time::timeout_at(deadline, conn.close()).await;
        let row = match row {
            Ok(row) => row,
            Err(fault) => return fail(classify_fault(&fault, &secrets)),
        };
        let answer = match query::parse(
            row.as_deref(),
            request.shard_pattern.is_some(),
            &request.usage_logins,
        ) {
            Ok(a) => a,
            Err(message) => return fail(plain_error(ErrorKind::Protocol, &message, &secrets)),
        };
        Ok(ProbeSuccess {
            role: answer.role,
            wal: answer.wal,
            shards: answer.shards,
            latency: PhaseLatency {
                connect: connected,
                query: queried.saturating_sub(connected),
                total: start.elapsed(),
            },
            route: route(&greeting, answer.backend_pid),
            usage: answer.usage,
        })
    }

    /// An authenticated connection, with libpq's `sslmode` fallbacks (see the module docs).
    async fn connect(&self, request: &ProbeRequest) -> Result<(Conn, Greeting), Fault> {
        let target = &request.candidate.target;
        if matches!(target.endpoint, Endpoint::Unix { .. }) {
            return self
                .attempt(request, Transport::Plain)
                .await
                .map_err(|(f, _)| f);
        }
        let path_rejected = |f: &Fault| classify_fault(f, &[]).kind == ErrorKind::HbaRejected;
        match target.tls.mode {
            SslMode::Disable => self
                .attempt(request, Transport::Plain)
                .await
                .map_err(|(f, _)| f),
            SslMode::Allow => match self.attempt(request, Transport::Plain).await {
                Err((f, _)) if path_rejected(&f) => self
                    .attempt(request, Transport::Required)
                    .await
                    .map_err(|(f, _)| f),
                other => other.map_err(|(f, _)| f),
            },
            SslMode::Prefer => match self.attempt(request, Transport::Preferred).await {
                Err((f, true)) if path_rejected(&f) || matches!(f, Fault::Tls(_)) => self
                    .attempt(request, Transport::Plain)
                    .await
                    .map_err(|(f, _)| f),
                other => other.map_err(|(f, _)| f),
            },
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => self
                .attempt(request, Transport::Required)
                .await
                .map_err(|(f, _)| f),
        }
    }

    /// One connection: dial, TLS as `transport` says, startup and authentication. A failure
    /// tells whether TLS was in use (or being set up) when it happened.
    async fn attempt(
        &self,
        request: &ProbeRequest,
        transport: Transport,
    ) -> Result<(Conn, Greeting), (Fault, bool)> {
        let candidate = &request.candidate;
        let target: &ConnTarget = &candidate.target;
        let plain = |f| (f, false);
        let raw = connect::dial(target, request.connect_timeout)
            .await
            .map_err(plain)?;
        let mut conn = match transport {
            Transport::Plain => Conn::new(Stream::Plain(raw)),
            Transport::Preferred | Transport::Required => {
                let config = self
                    .tls
                    .client_config(target)
                    .map_err(|m| (Fault::Tls(m), true))?;
                match connect::start_tls(raw, config, tls::server_name(target)).await {
                    Ok(connect::Negotiated::Tls(stream)) => Conn::new(stream),
                    Ok(connect::Negotiated::Declined(raw)) if transport == Transport::Preferred => {
                        Conn::new(Stream::Plain(raw))
                    }
                    Ok(connect::Negotiated::Declined(_)) => return Err((Fault::NoTls, false)),
                    Ok(connect::Negotiated::Error(raw)) => Conn::resume(Stream::Plain(raw), b'E'),
                    Err(f @ Fault::Tls(_)) => return Err((f, true)),
                    Err(f) => return Err((f, false)),
                }
            }
        };
        let login = auth::Login {
            user: &candidate.login,
            password: &candidate.password,
        };
        let tls = conn.stream().is_tls();
        let greeting = auth::startup(&mut conn, target, &login)
            .await
            .map_err(|f| (f, tls))?;
        Ok((conn, greeting))
    }
}

impl Prober for PgProber {
    fn probe(
        &self,
        request: ProbeRequest,
    ) -> impl std::future::Future<Output = ProbeOutcome> + Send {
        self.run(request)
    }
}

/// How the connection reached PostgreSQL (see [`Route`] for the signs read here).
fn route(greeting: &Greeting, backend_pid: Option<i32>) -> Route {
    if greeting
        .server_version
        .as_deref()
        .is_some_and(|v| v.ends_with("/bouncer"))
    {
        return Route::Pgbouncer;
    }
    let at = |name: &str| greeting.reported.iter().position(|n| n == name);
    // PostgreSQL reports its parameters in name order, `application_name` first; PgBouncer
    // replays the backend's report and appends the ones it keeps per client, that one last.
    if let (Some(app), Some(version)) = (at("application_name"), at("server_version")) {
        if app > version {
            return Route::Pgbouncer;
        }
    }
    match (greeting.backend_pid, backend_pid) {
        (Some(announced), Some(ran)) if announced != ran => Route::Pooler,
        _ => Route::Direct,
    }
}

fn plain_error(kind: ErrorKind, message: &str, secrets: &[&crate::secret::Password]) -> ProbeError {
    ProbeError {
        kind,
        sqlstate: None,
        message: one_line(message, secrets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeting(names: &[&str], version: &str, pid: i32) -> Greeting {
        Greeting {
            reported: names.iter().map(|n| (*n).to_owned()).collect(),
            server_version: Some(version.to_owned()),
            backend_pid: Some(pid),
        }
    }

    /// The reports as PostgreSQL 15 and PgBouncer 1.18 in front of it sent them (read off the
    /// wire).
    const POSTGRES: [&str; 13] = [
        "application_name",
        "client_encoding",
        "DateStyle",
        "default_transaction_read_only",
        "in_hot_standby",
        "integer_datetimes",
        "IntervalStyle",
        "is_superuser",
        "server_encoding",
        "server_version",
        "session_authorization",
        "standard_conforming_strings",
        "TimeZone",
    ];
    const PGBOUNCER: [&str; 13] = [
        "default_transaction_read_only",
        "in_hot_standby",
        "integer_datetimes",
        "IntervalStyle",
        "is_superuser",
        "server_encoding",
        "server_version",
        "session_authorization",
        "client_encoding",
        "DateStyle",
        "TimeZone",
        "standard_conforming_strings",
        "application_name",
    ];

    #[test]
    fn the_route_shows_in_the_parameter_report_and_the_backend_pid() {
        let v = "15.18 (Debian 15.18-0+deb12u1)";
        assert_eq!(
            route(&greeting(&POSTGRES, v, 4242), Some(4242)),
            Route::Direct
        );
        assert_eq!(
            route(&greeting(&PGBOUNCER, v, 218_574_330), Some(4242)),
            Route::Pgbouncer
        );
        // Another pooler: PostgreSQL's report, someone else's process id.
        assert_eq!(
            route(&greeting(&POSTGRES, v, 99), Some(4242)),
            Route::Pooler
        );
        // The admin console names itself.
        assert_eq!(
            route(&greeting(&[], "1.18.0/bouncer", 1), None),
            Route::Pgbouncer
        );
        // Nothing to compare: direct, as far as can be told.
        assert_eq!(route(&Greeting::default(), None), Route::Direct);
    }
}
