//! A scripted fake prober for fast, deterministic sequencing tests (never for behaviour tests:
//! those run against real PostgreSQL).
//!
//! It simulates servers by node name: each has a role, WAL positions, shards, a latency, and a
//! table of logins with their current password. A probe with the right login and password
//! succeeds; a wrong one is refused (`auth_failed`); a server can be made to fail every probe with
//! a node-level kind, or to hang (the fake then honours `request.timeout`, as real probers must).
//! Every call is logged with its tokio time, so tests can check order and spacing, and a probe
//! whose future is dropped before it answers is counted (a real prober's connection would be
//! torn down mid-conversation).
//!
//! Also here: small builders for topologies and configs, for unit and integration tests alike.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::probe::{
    ErrorKind, PhaseLatency, ProbeError, ProbeFailure, ProbeOutcome, ProbeRequest, ProbeSuccess,
    Prober, Role, Route, WalPosition,
};
use crate::config::{Config, ProbeSettings, ReloadSettings, ShardSettings};
use crate::secret::{Fingerprint, Password};
use crate::topology::{Candidate, ConnTarget, Island, IslandNo, Node, NodeKey, SslMode, Topology};

/// A simulated server.
#[derive(Clone, Debug)]
pub struct FakeServer {
    /// What `pg_is_in_recovery()` would say.
    pub role: Role,
    /// WAL positions the probe reads.
    pub wal: WalPosition,
    /// Shard schemas the probe finds (reported only when the request asks for discovery).
    pub shards: Option<Vec<String>>,
    /// How long a probe takes.
    pub latency: Duration,
    /// When set, every probe fails with this node-level kind.
    pub down: Option<ErrorKind>,
    /// When true, probes never answer (until the request's deadline).
    pub hung: bool,
    /// A hostile server: a refused password is quoted in the error message.
    pub echo: bool,
    /// Login → its password, or the error a login attempt meets (e.g. `login_not_permitted`).
    pub logins: HashMap<String, FakeLogin>,
}

/// How a login fares on a fake server.
#[derive(Clone, Debug)]
pub enum FakeLogin {
    /// Logs in with this password; any other is refused.
    Password(Password),
    /// Every attempt fails with this kind.
    Fails(ErrorKind),
}

impl Default for FakeServer {
    fn default() -> Self {
        FakeServer {
            role: Role::Master,
            wal: WalPosition::default(),
            shards: None,
            latency: Duration::from_millis(1),
            down: None,
            hung: false,
            echo: false,
            logins: HashMap::new(),
        }
    }
}

/// One call the fake received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeCall {
    /// When it started (tokio time).
    pub at: Instant,
    /// Node name.
    pub node: String,
    /// Login tried.
    pub login: String,
    /// Fingerprint of the password tried.
    pub fingerprint: Fingerprint,
    /// What the fake answered: `None` for success, else the failure's kind.
    pub failed: Option<ErrorKind>,
}

#[derive(Debug, Default)]
struct Inner {
    servers: HashMap<String, FakeServer>,
    calls: Vec<FakeCall>,
    in_flight: usize,
    max_in_flight: usize,
    dropped: usize,
}

/// The fake prober. Clones share the same simulated servers and call log.
#[derive(Clone, Debug, Default)]
pub struct FakeProber {
    inner: Arc<Mutex<Inner>>,
}

impl FakeProber {
    /// A fake with no servers (every probe is `refused` until one is added).
    pub fn new() -> Self {
        FakeProber::default()
    }

    /// Adds (or replaces) a server with this role, no logins, 1 ms latency.
    pub fn server(&self, node: &str, role: Role) -> &Self {
        let server = FakeServer {
            role,
            ..FakeServer::default()
        };
        self.lock().servers.insert(node.to_owned(), server);
        self
    }

    /// Changes a server (adding a default one if missing).
    pub fn update(&self, node: &str, change: impl FnOnce(&mut FakeServer)) -> &Self {
        change(self.lock().servers.entry(node.to_owned()).or_default());
        self
    }

    /// Sets a login's password (like `ALTER ROLE ... PASSWORD`).
    pub fn password(&self, node: &str, login: &str, password: &str) -> &Self {
        self.update(node, |s| {
            s.logins.insert(
                login.to_owned(),
                FakeLogin::Password(Password::new(password)),
            );
        })
    }

    /// Makes every login attempt of `login` fail with `kind`.
    pub fn login_fails(&self, node: &str, login: &str, kind: ErrorKind) -> &Self {
        self.update(node, |s| {
            s.logins.insert(login.to_owned(), FakeLogin::Fails(kind));
        })
    }

    /// Sets the role.
    pub fn role(&self, node: &str, role: Role) -> &Self {
        self.update(node, |s| s.role = role)
    }

    /// Makes every probe fail with a node-level `kind` (`None` brings the server back).
    pub fn down(&self, node: &str, kind: Option<ErrorKind>) -> &Self {
        self.update(node, |s| s.down = kind)
    }

    /// Makes the server accept and never answer (or answer again).
    pub fn hung(&self, node: &str, hung: bool) -> &Self {
        self.update(node, |s| s.hung = hung)
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.lock().calls.clone()
    }

    /// Calls so far to `node` with `login`.
    pub fn calls_to(&self, node: &str, login: &str) -> Vec<FakeCall> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.node == node && c.login == login)
            .cloned()
            .collect()
    }

    /// The most probes that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Probes in flight now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Probes whose future was dropped before it answered (cut off mid-connection).
    pub fn dropped(&self) -> usize {
        self.lock().dropped
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock has failed already; carry on with the data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides the outcome at the start of a call, logs the call, counts it in flight.
    fn begin(&self, request: &ProbeRequest) -> (Duration, ProbeOutcome) {
        let c = &request.candidate;
        let mut inner = self.lock();
        let (wait, outcome) = match inner.servers.get(&*c.id.node) {
            None => (
                Duration::ZERO,
                failure(ErrorKind::Refused, "connection refused"),
            ),
            Some(server) => decide(server, request),
        };
        inner.calls.push(FakeCall {
            at: Instant::now(),
            node: c.id.node.to_string(),
            login: c.login.clone(),
            fingerprint: c.password.fingerprint(),
            failed: outcome.as_ref().err().map(|f| f.error.kind),
        });
        inner.in_flight += 1;
        inner.max_in_flight = inner.max_in_flight.max(inner.in_flight);
        (wait, outcome)
    }
}

impl Prober for FakeProber {
    async fn probe(&self, request: ProbeRequest) -> ProbeOutcome {
        let (wait, outcome) = self.begin(&request);
        let mut counted = InFlightGuard {
            fake: self.clone(),
            answered: false,
        };
        tokio::time::sleep(wait).await;
        counted.answered = true;
        outcome.map_err(|mut f| {
            f.elapsed = wait;
            f
        })
    }
}

/// Counts a call out of flight when it ends, and as dropped when it ends before answering.
struct InFlightGuard {
    fake: FakeProber,
    answered: bool,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut inner = self.fake.lock();
        inner.in_flight -= 1;
        inner.dropped += usize::from(!self.answered);
    }
}

/// What a server answers to `request`, and after how long.
fn decide(server: &FakeServer, request: &ProbeRequest) -> (Duration, ProbeOutcome) {
    if server.hung || server.latency >= request.timeout {
        return (
            request.timeout,
            failure(ErrorKind::Timeout, "probe timed out"),
        );
    }
    let c = &request.candidate;
    let outcome = match (server.down, server.logins.get(&c.login)) {
        (Some(kind), _) => failure(kind, &format!("{kind} (simulated)")),
        (None, Some(FakeLogin::Password(p))) if *p == c.password => Ok(ProbeSuccess {
            role: server.role,
            wal: server.wal,
            shards: request.shard_pattern.as_ref().and(server.shards.clone()),
            latency: PhaseLatency {
                connect: server.latency / 2,
                query: server.latency / 2,
                total: server.latency,
            },
            route: Route::Direct,
            usage: None,
        }),
        (None, Some(FakeLogin::Fails(kind))) => failure(*kind, &format!("{kind} (simulated)")),
        (None, _) if server.echo => failure(
            ErrorKind::AuthFailed,
            &format!(
                "password {} is wrong for user \"{}\"",
                c.password.expose(),
                c.login
            ),
        ),
        (None, _) => failure(
            ErrorKind::AuthFailed,
            &format!("password authentication failed for user \"{}\"", c.login),
        ),
    };
    (server.latency, outcome)
}

fn failure(kind: ErrorKind, message: &str) -> ProbeOutcome {
    Err(ProbeFailure {
        error: ProbeError {
            kind,
            sqlstate: match kind {
                ErrorKind::AuthFailed => Some("28P01".to_owned()),
                ErrorKind::LoginNotPermitted => Some("28000".to_owned()),
                _ => None,
            },
            message: message.to_owned(),
        },
        elapsed: Duration::ZERO,
    })
}

/// A candidate of node `node` logging in as `login` with `password`.
pub fn candidate(node: &str, login: &str, password: &str) -> Candidate {
    let mut target = ConnTarget::tcp(node, 5432, "app", format!("postgresql://{node}/app"));
    target.tls.mode = SslMode::Disable;
    Candidate::new(
        node.into(),
        Arc::new(target),
        login,
        Password::new(password),
        None,
    )
}

/// A node of island `island` with one candidate per `(login, password)`, in that order.
pub fn node(island: u32, name: &str, credentials: &[(&str, &str)]) -> Node {
    Node {
        key: NodeKey {
            island: IslandNo(island),
            name: name.into(),
        },
        address: format!("postgresql://{name}/app"),
        candidates: credentials
            .iter()
            .map(|(login, password)| candidate(name, login, password))
            .collect(),
    }
}

/// A topology of these nodes, grouped into islands by number (islands sorted, nodes in order).
pub fn topology(nodes: Vec<Node>) -> Topology {
    let mut islands: Vec<Island> = Vec::new();
    for n in nodes {
        match islands.iter_mut().find(|i| i.no == n.key.island) {
            Some(island) => island.nodes.push(n),
            None => islands.push(Island {
                no: n.key.island,
                nodes: vec![n],
            }),
        }
    }
    islands.sort_by_key(|i| i.no);
    Topology { islands }
}

/// Settings small enough to reason about in sequencing tests: chain probe every 1s, audit every
/// 10s, probe deadline 2s, 8 probes at once.
pub fn settings() -> ProbeSettings {
    ProbeSettings {
        interval: Duration::from_secs(1),
        audit_interval: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        concurrency: 8,
    }
}

/// A config of `topology` with these probe settings, read from `fake.toml`.
pub fn config(topology: Topology, probe: ProbeSettings) -> Config {
    Config {
        path: PathBuf::from("fake.toml"),
        probe,
        reload: ReloadSettings::default(),
        shards: ShardSettings::default(),
        state: Default::default(),
        ui: Default::default(),
        usage: Default::default(),
        topology,
        watched_files: Vec::new(),
        source_digest: Default::default(),
    }
}

/// A wall clock that follows tokio's time: `start` when made, then as much later as tokio time
/// has advanced (deterministic under paused time), for tests of what happened when.
#[derive(Debug)]
pub struct TokioClock {
    start: chrono::DateTime<chrono::Utc>,
    at: Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    pub fn new(start: chrono::DateTime<chrono::Utc>) -> Self {
        TokioClock {
            start,
            at: Instant::now(),
        }
    }
}

impl crate::clock::Clock for TokioClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.start + chrono::Duration::from_std(self.at.elapsed()).expect("in range")
    }
}
