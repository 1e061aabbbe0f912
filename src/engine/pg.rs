//! The PostgreSQL prober: one fresh connection per probe, with tokio-postgres and rustls.
//!
//! A probe is: TCP connect (bounded by `connect_timeout`), TLS per `sslmode`, startup and SCRAM
//! authentication with the candidate's login and password, one simple-protocol query (role, WAL
//! positions, shard schemas), and a clean close. `request.timeout` bounds all of it, so a server
//! that accepts and never answers costs one timeout and yields a `timeout` failure. The
//! connection is driven inside the probe's own future (not spawned): when the deadline drops the
//! future, the socket goes with it.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_postgres::{Connection, SimpleQueryMessage};

use super::classify::{classify, one_line, timeout_error};
use crate::topology::{ConnTarget, Endpoint};

use super::probe::{
    ErrorKind, PhaseLatency, ProbeError, ProbeFailure, ProbeOutcome, ProbeRequest, ProbeSuccess,
    Prober,
};

pub(crate) mod query;
mod tls;

/// What every probe connection calls itself in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "rotascope";

/// Probes real PostgreSQL servers. Cheap to share; holds the TLS setup.
#[derive(Debug, Default)]
pub struct PgProber {
    tls: tls::TlsSetup,
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
        let sql = match query::probe_sql(request.shard_pattern.as_deref()) {
            Ok(sql) => sql,
            Err(message) => return fail(plain_error(ErrorKind::Other, &message, &secrets)),
        };
        let (ssl_mode, connector) =
            match tokio::time::timeout_at(deadline, self.tls.connector(&candidate.target)).await {
                Err(_) => return fail(timeout_error(request.timeout)),
                Ok(Err(message)) => return fail(plain_error(ErrorKind::Tls, &message, &secrets)),
                Ok(Ok(c)) => c,
            };
        let mut config = pg_config(&candidate.target);
        config
            .user(&candidate.login)
            .password(candidate.password.expose())
            .connect_timeout(request.connect_timeout)
            .ssl_mode(ssl_mode);

        let exchange = async {
            let (client, mut connection) = config.connect(connector).await?;
            let connected = start.elapsed();
            let messages = drive(client.simple_query(&sql), &mut connection).await?;
            Ok::<_, tokio_postgres::Error>((client, connection, messages, connected))
        };
        let (client, connection, messages, connected) =
            match tokio::time::timeout_at(deadline, exchange).await {
                Err(_) => return fail(timeout_error(request.timeout)),
                Ok(Err(e)) => return fail(classify(&e, &secrets)),
                Ok(Ok(done)) => done,
            };
        let queried = start.elapsed();
        let answer = query::parse(&messages, request.shard_pattern.is_some());
        // Close: dropping the client makes the connection send Terminate and finish. The probe
        // already has its answer, so a slow or failed close only costs time, within the deadline.
        drop(client);
        let _ = tokio::time::timeout_at(deadline, connection).await;
        let answer = match answer {
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
        })
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

/// The tokio-postgres config of a target, without credentials.
fn pg_config(target: &ConnTarget) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    match &target.endpoint {
        Endpoint::Tcp { host, addr, port } => {
            match (host, addr) {
                (Some(h), _) => pg.host(h),
                (None, Some(a)) => pg.host(a.to_string()),
                (None, None) => &mut pg,
            };
            if let Some(a) = addr {
                pg.hostaddr(*a);
            }
            pg.port(*port);
        }
        Endpoint::Unix { dir, port } => {
            pg.host_path(dir).port(*port);
        }
    }
    pg.dbname(&target.dbname).application_name(
        target
            .application_name
            .as_deref()
            .unwrap_or(APPLICATION_NAME),
    );
    if let Some(options) = &target.options {
        pg.options(options);
    }
    pg
}

/// Runs `query` while driving `connection` (which does the actual I/O).
///
/// If the connection ends first, its error is the informative one (a FATAL from the server,
/// say), not the query's "connection closed".
async fn drive<Q, S, T>(
    query: Q,
    connection: &mut Connection<S, T>,
) -> Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>
where
    Q: std::future::Future<Output = Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>>,
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    tokio::pin!(query);
    tokio::select! {
        result = &mut query => result,
        ended = connection => match ended {
            Err(e) => Err(e),
            // Closed cleanly before answering: the query resolves with its own error now.
            Ok(()) => query.await,
        },
    }
}

fn plain_error(kind: ErrorKind, message: &str, secrets: &[&crate::secret::Password]) -> ProbeError {
    ProbeError {
        kind,
        sqlstate: None,
        message: one_line(message, secrets),
    }
}
