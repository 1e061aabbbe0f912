//! What a probe is: the request, the [`Prober`] trait, and the result as data.
//!
//! A probe is one fresh connection with one candidate (TCP, TLS, startup, auth, one query, close).
//! Failures are data ([`ProbeFailure`]), classified into stable [`ErrorKind`] names that say whether
//! the next candidate is worth trying (candidate-level) or the node itself is unwell (node-level).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::topology::Candidate;

/// A node's role, found by the probe query (`pg_is_in_recovery()`), never configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accepts writes.
    Master,
    /// In recovery: a streaming replica.
    Replica,
    /// Not probed successfully yet.
    #[default]
    Unknown,
}

impl Role {
    /// The stable name (`master`, `replica`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "replica",
            Role::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a probe failed, in stable names used on screen, in JSON and in events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Candidate-level: bad password or unknown role (SQLSTATE 28P01 and the rest of class 28).
    AuthFailed,
    /// Candidate-level: the role may not log in (28000 "role is not permitted to log in").
    LoginNotPermitted,
    /// Candidate-level: the role's own connection limit is reached (53300 with a per-role message).
    RoleConnLimit,
    /// Node-level: connection refused.
    Refused,
    /// Node-level: the host name did not resolve.
    Dns,
    /// Node-level: connect or probe deadline passed.
    Timeout,
    /// Node-level: TLS handshake or certificate failure.
    Tls,
    /// Node-level: the server is out of connection slots (53300).
    TooManyConnections,
    /// Node-level: the database does not exist (3D000).
    DbMissing,
    /// Node-level: the server is shutting down (57P01, 57P02, and 57P03 "the database system is
    /// shutting down": a smart or fast shutdown in progress).
    ShuttingDown,
    /// Node-level: the server is starting up, or in recovery without hot standby (57P03 "starting
    /// up" / "not yet accepting connections").
    StartingUp,
    /// Node-level: the peer does not speak the PostgreSQL protocol as expected (random bytes on
    /// the port, a broken message, a SCRAM server signature that does not verify).
    Protocol,
    /// Node-level: pg_hba.conf turned the connection away (28000 "no pg_hba.conf entry" or a
    /// `reject` line), a fact about the path (address, database, TLS or not), not the password. A
    /// pg_hba rule that names one login is then shown as the node's fault too: the server does not
    /// say whether another login would have been let in. Over a connection without TLS the
    /// message says the server may require TLS (a `hostssl` line, `sslmode=disable`).
    HbaRejected,
    /// Node-level: the server asked for an authentication method the policy does not allow
    /// (`[probe] allow_auth`, the connection string's `require_auth` and `channel_binding`), and
    /// the prober refused before sending anything derived from the password. The same server
    /// would ask every candidate the same, so the chain stops: a listener that asks for a
    /// cleartext password receives none of them.
    AuthMethodRefused,
    /// Node-level: a connection pooler answered, but has no working server connection to give:
    /// its PostgreSQL backend is down, refusing the pooler's logins, or too busy to hand out a
    /// connection in time (PgBouncer's "server login has been failing", `query_wait_timeout`,
    /// `client_login_timeout`, a backend's shutdown or start-up passed on). Not `refused`: the
    /// pooler itself is up.
    BackendUnavailable,
    /// Node-level: anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::AuthFailed,
        ErrorKind::LoginNotPermitted,
        ErrorKind::RoleConnLimit,
        ErrorKind::Refused,
        ErrorKind::Dns,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::TooManyConnections,
        ErrorKind::DbMissing,
        ErrorKind::ShuttingDown,
        ErrorKind::StartingUp,
        ErrorKind::Protocol,
        ErrorKind::HbaRejected,
        ErrorKind::AuthMethodRefused,
        ErrorKind::BackendUnavailable,
        ErrorKind::Other,
    ];

    /// The stable name (`auth_failed`, `refused`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::AuthFailed => "auth_failed",
            ErrorKind::LoginNotPermitted => "login_not_permitted",
            ErrorKind::RoleConnLimit => "role_conn_limit",
            ErrorKind::Refused => "refused",
            ErrorKind::Dns => "dns",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::TooManyConnections => "too_many_connections",
            ErrorKind::DbMissing => "db_missing",
            ErrorKind::ShuttingDown => "shutting_down",
            ErrorKind::StartingUp => "starting_up",
            ErrorKind::Protocol => "protocol",
            ErrorKind::HbaRejected => "hba_rejected",
            ErrorKind::AuthMethodRefused => "auth_method_refused",
            ErrorKind::BackendUnavailable => "backend_unavailable",
            ErrorKind::Other => "other",
        }
    }

    /// True when the failure says nothing about the node, only about this candidate: the chain
    /// goes on to the next candidate. Otherwise the chain stops and the node is down.
    pub fn is_candidate_level(self) -> bool {
        matches!(
            self,
            ErrorKind::AuthFailed | ErrorKind::LoginNotPermitted | ErrorKind::RoleConnLimit
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified probe error. `message` is short, one line, and carries no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeError {
    /// The stable classification.
    pub kind: ErrorKind,
    /// The server's SQLSTATE, when the server sent one.
    pub sqlstate: Option<String>,
    /// A short human message (redacted).
    pub message: String,
}

/// A PostgreSQL WAL position (`pg_lsn`), as a byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses PostgreSQL's `XXXXXXXX/XXXXXXXX` text form.
    pub fn parse(s: &str) -> Option<Lsn> {
        let (hi, lo) = s.split_once('/')?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        Some(Lsn((hi << 32) | lo))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// WAL positions read by the probe query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WalPosition {
    /// `pg_current_wal_lsn()` on a master.
    pub current: Option<Lsn>,
    /// `pg_last_wal_receive_lsn()` on a replica.
    pub receive: Option<Lsn>,
    /// `pg_last_wal_replay_lsn()` on a replica.
    pub replay: Option<Lsn>,
}

/// How long each phase of a successful probe took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseLatency {
    /// TCP connect + TLS + startup + authentication.
    pub connect: Duration,
    /// The probe query.
    pub query: Duration,
    /// Everything, close included.
    pub total: Duration,
}

/// What a successful probe learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSuccess {
    /// Master or replica.
    pub role: Role,
    /// WAL positions.
    pub wal: WalPosition,
    /// Schemas matching `shards.pattern`, sorted, when discovery is on.
    pub shards: Option<Vec<String>>,
    /// Phase latencies.
    pub latency: PhaseLatency,
    /// How the connection reached PostgreSQL: straight, or through a pooler.
    pub route: Route,
    /// Sessions per login asked about (`usage_logins`), rotascope's own excluded; `None` when
    /// none was asked.
    pub usage: Option<Vec<crate::engine::usage::LoginSessions>>,
}

/// How a probe's connection reached PostgreSQL, as the connection itself showed it.
///
/// Found by the probe client, never configured (the config's `via` says what the SRE expects):
/// - PgBouncer tells itself apart by the order of its parameter report (it replays the
///   backend's, then appends the parameters it tracks per client: `application_name` after
///   `server_version`, where PostgreSQL reports in name order), by its admin console's
///   `server_version` (`1.18.0/bouncer`), and by its own error texts (SQLSTATE 08P01);
/// - another pooler or proxy shows when the backend that runs the probe query
///   (`pg_backend_pid()`) is not the process the connection announced (BackendKeyData);
/// - otherwise the connection is direct.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Straight to PostgreSQL.
    #[default]
    Direct,
    /// Through PgBouncer.
    Pgbouncer,
    /// Through some other connection pooler or proxy.
    Pooler,
}

impl Route {
    /// The stable name (`direct`, `pgbouncer`, `pooler`).
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Pgbouncer => "pgbouncer",
            Route::Pooler => "pooler",
        }
    }

    /// How screens say it: `direct`, `via pgbouncer`, `via a pooler`.
    pub fn describe(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Pgbouncer => "via pgbouncer",
            Route::Pooler => "via a pooler",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed probe: the classified error and how long it took to fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeFailure {
    /// What went wrong.
    pub error: ProbeError,
    /// Time from start to failure.
    pub elapsed: Duration,
}

/// The result of one probe. Failures are data, not errors.
pub type ProbeOutcome = Result<ProbeSuccess, ProbeFailure>;

/// Which setting a probe's deadline came from, so a timeout can say which knob to turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutOrigin {
    /// `[probe] timeout` (or `connect_timeout`) in rotascope's config.
    #[default]
    Settings,
    /// `connect_timeout` inside the node's connection string, which is smaller.
    ConnString,
}

impl TimeoutOrigin {
    /// How messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            TimeoutOrigin::Settings => "probe.timeout",
            TimeoutOrigin::ConnString => "connect_timeout of the connection string",
        }
    }
}

/// Everything a prober needs for one probe.
#[derive(Clone, Debug)]
pub struct ProbeRequest {
    /// The candidate to log in with.
    pub candidate: Candidate,
    /// Bound on the TCP connect.
    pub connect_timeout: Duration,
    /// Bound on the whole probe; the prober must return a `timeout` failure by then.
    pub timeout: Duration,
    /// Where `timeout` came from.
    pub timeout_origin: TimeoutOrigin,
    /// Shard schema pattern (`sh%04d`), when discovery is on.
    pub shard_pattern: Option<String>,
    /// Logins whose sessions the probe query counts (the node's candidates' logins); empty:
    /// none.
    pub usage_logins: Vec<String>,
}

impl ProbeRequest {
    /// The request for `candidate` under the config's limits, with the deadlines its target
    /// computes ([`ConnTarget::deadlines`](crate::topology::ConnTarget::deadlines): the string's
    /// own `connect_timeout`, when smaller, bounds both the connect and the whole probe).
    pub fn new(
        candidate: Candidate,
        connect_timeout: Duration,
        timeout: Duration,
        shard_pattern: Option<String>,
    ) -> ProbeRequest {
        let deadlines = candidate.target.deadlines(connect_timeout, timeout);
        ProbeRequest {
            candidate,
            connect_timeout: deadlines.connect,
            timeout: deadlines.probe,
            timeout_origin: if deadlines.from_string {
                TimeoutOrigin::ConnString
            } else {
                TimeoutOrigin::Settings
            },
            shard_pattern,
            usage_logins: Vec::new(),
        }
    }
}

/// Something that can probe a candidate: the PostgreSQL prober, or a scripted fake in tests.
///
/// Implementations must honour `request.timeout` themselves (a hung server is a `timeout`
/// failure, never a hang) and must never put a password into the result.
pub trait Prober: Send + Sync + 'static {
    /// Runs one probe.
    fn probe(&self, request: ProbeRequest) -> impl Future<Output = ProbeOutcome> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips_through_text() {
        let lsn = Lsn::parse("16/B374D848").unwrap();
        assert_eq!(lsn.0, (0x16 << 32) | 0xB374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!(Lsn::parse("nonsense"), None);
    }

    #[test]
    fn only_auth_like_kinds_are_candidate_level() {
        let candidate: Vec<_> = ErrorKind::ALL
            .into_iter()
            .filter(|k| k.is_candidate_level())
            .collect();
        assert_eq!(
            candidate,
            [
                ErrorKind::AuthFailed,
                ErrorKind::LoginNotPermitted,
                ErrorKind::RoleConnLimit
            ]
        );
    }
}
