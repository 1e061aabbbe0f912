//! Shared support for the real-PostgreSQL acceptance tests: a config file on disk that tests
//! rewrite atomically, the engine started exactly as `rotascope watch` starts it (the config
//! loader, the real reload task, the PostgreSQL prober), a recorder of the engine's feed, and
//! secret scanning.
//!
//! Nothing here sleeps to synchronise: snapshots are awaited on the engine's `watch` channel and
//! events on its broadcast feed, each under [`PATIENCE`].

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rotascope::clock::{SharedClock, SystemClock};
use rotascope::engine::event::{EventKind, ProbeMode, ProbeRecord};
use rotascope::engine::pg::PgProber;
use rotascope::engine::snapshot::NodeView;
use rotascope::engine::{Command, Engine, EngineHandle, Feed, Snapshot};
use rotascope::lab::{Lab, Server, ServerOptions};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// The longest any awaited condition may take before the test fails (generous: the machine is
/// shared, and a failure should be a wrong result, not a slow one).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The `[probe]` and `[reload]` settings of a test config.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `probe.interval`.
    pub interval: &'static str,
    /// `probe.audit_interval`.
    pub audit_interval: &'static str,
    /// `probe.connect_timeout`.
    pub connect_timeout: &'static str,
    /// `probe.timeout`.
    pub timeout: &'static str,
    /// `reload.watch`.
    pub watch: bool,
    /// `shards.pattern`.
    pub shard_pattern: Option<&'static str>,
}

impl Default for Settings {
    /// Fast chains (200 ms), audits only when a candidate is new (1 h), 1 s deadlines, file
    /// watch on and a periodic reload too rare to matter: a reload in a test is the watcher's (or
    /// a `Command::Reload`).
    fn default() -> Self {
        Settings {
            interval: "200ms",
            audit_interval: "1h",
            connect_timeout: "1s",
            timeout: "1s",
            watch: true,
            shard_pattern: None,
        }
    }
}

impl Settings {
    /// The settings tables as TOML (they go after the top-level keys of a config).
    pub fn toml(&self) -> String {
        let mut s = format!(
            "[probe]\ninterval = \"{}\"\naudit_interval = \"{}\"\nconnect_timeout = \"{}\"\n\
             timeout = \"{}\"\n\n[reload]\ninterval = \"1h\"\nwatch = {}\n\n",
            self.interval, self.audit_interval, self.connect_timeout, self.timeout, self.watch
        );
        if let Some(p) = self.shard_pattern {
            s.push_str(&format!("[shards]\npattern = \"{p}\"\n\n"));
        }
        s
    }
}

/// One `[[secrets]]` entry.
pub fn secret(login: &str, password: &str, label: &str) -> String {
    format!("[[secrets]]\nlogin = \"{login}\"\npassword = \"{password}\"\nlabel = \"{label}\"\n\n")
}

/// One `[[island]]` of the explicit form with one node called `name` and one candidate per
/// `(login, password)`.
pub fn island(no: u32, name: &str, url: &str, creds: &[(&str, &str)]) -> String {
    let mut s = format!("[[island]]\nno = {no}\n\n");
    for (login, password) in creds {
        s.push_str(&format!(
            "[[island.node]]\nname = \"{name}\"\nurl = \"{url}\"\nlogin = \"{login}\"\n\
             password = \"{password}\"\n\n"
        ));
    }
    s
}

/// A config file in its own temporary directory (removed on drop).
pub struct ConfigFile {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl ConfigFile {
    /// Writes `text` to `<tmp>/rotascope.toml`.
    pub fn new(text: &str) -> ConfigFile {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rotascope.toml");
        std::fs::write(&path, text).expect("write config");
        ConfigFile { dir, path }
    }

    /// The config file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the file atomically (write a sibling, rename over), as editors, secret
    /// operators and Kubernetes do.
    pub fn replace(&self, text: &str) {
        let tmp = self.dir.path().join(".rotascope.toml.new");
        std::fs::write(&tmp, text).expect("write new config");
        std::fs::rename(&tmp, &self.path).expect("rename new config");
    }
}

/// The engine on real PostgreSQL, started the way `rotascope watch` starts it. Dropping it
/// cancels the engine and the reload task.
pub struct Running {
    /// The engine handle.
    pub engine: EngineHandle,
    /// Everything the engine streamed since its first config.
    pub feed: Recorder,
    shutdown: CancellationToken,
}

impl Running {
    /// Loads `file` with the real loader and starts the real reload task and the engine with the
    /// PostgreSQL prober.
    pub async fn start(file: &ConfigFile) -> Running {
        let config = rotascope::config::load(file.path())
            .await
            .unwrap_or_else(|e| panic!("the test config does not load: {e}"));
        let clock: SharedClock = Arc::new(SystemClock);
        let shutdown = CancellationToken::new();
        let feed = rotascope::config::reload::spawn(
            file.path().to_path_buf(),
            config,
            clock.clone(),
            shutdown.clone(),
        );
        let mut engine = Engine::spawn(feed, clock, PgProber::new(), shutdown.clone());
        let from_start = std::mem::replace(&mut engine.feed_from_start, engine.feed.subscribe());
        Running {
            engine,
            feed: Recorder::new(from_start),
            shutdown,
        }
    }

    /// Waits until the latest snapshot satisfies `pred` and returns it; fails after
    /// [`PATIENCE`] showing the last snapshot's nodes.
    pub async fn wait(&mut self, what: &str, pred: impl FnMut(&Snapshot) -> bool) -> Arc<Snapshot> {
        let mut pred = pred;
        let found = tokio::time::timeout(PATIENCE, self.engine.snapshots.wait_for(|s| pred(s)))
            .await
            .map(|r| r.map(|s| s.clone()));
        match found {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => panic!("the engine stopped while waiting for {what}"),
            Err(_) => {
                let last = self.engine.snapshots.borrow().clone();
                panic!(
                    "timed out waiting for {what}; last snapshot:\n{}",
                    describe(&last)
                )
            }
        }
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.engine.snapshots.borrow().clone()
    }

    /// Sends a command to the engine.
    pub async fn command(&self, command: Command) {
        self.engine
            .commands
            .send(command)
            .await
            .expect("the engine takes commands");
    }

    /// Scans the latest snapshot (its `Debug` form, the `check` JSON and table made of it) and
    /// every feed item seen so far (`Debug` and JSON) for `secrets`.
    pub fn assert_no_leak(&mut self, secrets: &[&str]) {
        self.feed.drain();
        let snapshot = self.snapshot();
        assert_no_secret("snapshot", &format!("{snapshot:?}"), secrets);
        let mut out = Vec::new();
        rotascope::report::write_check_json(&mut out, &snapshot).expect("check JSON");
        rotascope::report::write_check_table(&mut out, &snapshot).expect("check table");
        assert_no_secret("check report", &String::from_utf8_lossy(&out), secrets);
        for item in self.feed.items() {
            let json = match item {
                Feed::Event(e) => serde_json::to_string(e),
                Feed::Probe(p) => serde_json::to_string(p),
            }
            .expect("feed items serialize");
            assert_no_secret("feed item", &format!("{item:?}\n{json}"), secrets);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Records the engine's feed so tests can await an item and then look back at what came before.
pub struct Recorder {
    rx: broadcast::Receiver<Feed>,
    seen: Vec<Feed>,
}

impl Recorder {
    /// A recorder reading `rx`.
    pub fn new(rx: broadcast::Receiver<Feed>) -> Recorder {
        Recorder {
            rx,
            seen: Vec::new(),
        }
    }

    /// Everything received so far, in order.
    pub fn items(&self) -> &[Feed] {
        &self.seen
    }

    /// How many items were received so far (a position to search from later).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Takes in every item already waiting and returns the position after them: what happens
    /// from now on is at or after it.
    pub fn mark(&mut self) -> usize {
        self.drain();
        self.len()
    }

    /// The position of the `config_applied` event of `generation`, at or after `from`.
    pub async fn applied(&mut self, from: usize, generation: u64) -> usize {
        let what = format!("config generation {generation}");
        self.find_event(
            from,
            &what,
            |e| matches!(e, EventKind::ConfigApplied { generation: g, .. } if *g == generation),
        )
        .await
    }

    /// Waits for `n` chain-probe records of `node` at or after `from`; returns them and the
    /// position after the last.
    pub async fn chains(&mut self, from: usize, n: usize, node: &str) -> (Vec<ProbeRecord>, usize) {
        let what = format!("{n} chain probes of {node}");
        let last = self
            .count_probes(from, n, &what, |p| {
                p.node == node && p.mode == ProbeMode::Chain
            })
            .await;
        let records = self
            .probes(from..last + 1, Some(node), Some(ProbeMode::Chain))
            .into_iter()
            .cloned()
            .collect();
        (records, last + 1)
    }

    /// Takes in every item already waiting.
    pub fn drain(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(item) => self.seen.push(item),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    panic!("the test fell {n} feed items behind")
                }
                Err(_) => return,
            }
        }
    }

    /// The position of the first item at or after `from` that satisfies `pred`, receiving more
    /// as needed; fails after [`PATIENCE`].
    pub async fn find(
        &mut self,
        from: usize,
        what: &str,
        mut pred: impl FnMut(&Feed) -> bool,
    ) -> usize {
        if let Some(i) = self.seen.iter().skip(from).position(&mut pred) {
            return from + i;
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let item = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Ok(item)) => item,
                Ok(Err(RecvError::Lagged(n))) => panic!("the test fell {n} feed items behind"),
                Ok(Err(RecvError::Closed)) => panic!("the engine stopped while waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; the last items:\n{}",
                    self.tail(20)
                ),
            };
            self.seen.push(item);
            let i = self.seen.len() - 1;
            if i >= from && pred(&self.seen[i]) {
                return i;
            }
        }
    }

    /// The position of the first event at or after `from` that satisfies `pred`.
    pub async fn find_event(
        &mut self,
        from: usize,
        what: &str,
        mut pred: impl FnMut(&EventKind) -> bool,
    ) -> usize {
        self.find(
            from,
            what,
            |item| matches!(item, Feed::Event(e) if pred(&e.kind)),
        )
        .await
    }

    /// Waits until `n` probe records at or after `from` satisfy `pred`; returns the position of
    /// the last of them.
    pub async fn count_probes(
        &mut self,
        from: usize,
        n: usize,
        what: &str,
        mut pred: impl FnMut(&ProbeRecord) -> bool,
    ) -> usize {
        let mut seen = 0;
        let mut at = from;
        while seen < n {
            at = self
                .find(at, what, |item| matches!(item, Feed::Probe(p) if pred(p)))
                .await;
            seen += 1;
            at += 1;
        }
        at - 1
    }

    /// The probe records in `range`, optionally of one node and one mode.
    pub fn probes(
        &self,
        range: std::ops::Range<usize>,
        node: Option<&str>,
        mode: Option<ProbeMode>,
    ) -> Vec<&ProbeRecord> {
        self.seen[range]
            .iter()
            .filter_map(|item| match item {
                Feed::Probe(p) => Some(p),
                Feed::Event(_) => None,
            })
            .filter(|p| node.is_none_or(|n| p.node == n))
            .filter(|p| mode.is_none_or(|m| p.mode == m))
            .collect()
    }

    /// The events in `range`.
    pub fn events(&self, range: std::ops::Range<usize>) -> Vec<&EventKind> {
        self.seen[range]
            .iter()
            .filter_map(|item| match item {
                Feed::Event(e) => Some(&e.kind),
                Feed::Probe(_) => None,
            })
            .collect()
    }

    /// The last `n` items, one per line, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        let start = self.seen.len().saturating_sub(n);
        self.seen[start..]
            .iter()
            .map(|item| format!("{item:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A lab with one fresh server; derefs to the server. Dropping it stops the server and removes
/// the lab directory.
pub struct LabServer {
    /// The server.
    pub server: Server,
    /// Its lab (for more servers, or the CA certificate).
    pub lab: Lab,
}

impl std::ops::Deref for LabServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

/// Starts a lab and one server in it.
pub async fn lab_server(options: ServerOptions) -> LabServer {
    let lab = Lab::new().expect("lab");
    let server = lab.start_server(options).await.expect("lab server");
    LabServer { server, lab }
}

/// The node called `name` (fails when there is none).
pub fn node<'a>(snapshot: &'a Snapshot, name: &str) -> &'a NodeView {
    snapshot
        .nodes()
        .find(|n| &*n.key.name == name)
        .unwrap_or_else(|| panic!("no node {name} in:\n{}", describe(snapshot)))
}

/// The node called `name`, if listed.
pub fn find_node<'a>(snapshot: &'a Snapshot, name: &str) -> Option<&'a NodeView> {
    snapshot.nodes().find(|n| &*n.key.name == name)
}

/// A compact picture of the snapshot's nodes, for failure messages.
pub fn describe(snapshot: &Snapshot) -> String {
    let mut out = format!("generation {}\n", snapshot.config.generation);
    for island in &snapshot.islands {
        let warnings: Vec<&str> = island.warnings.iter().map(|w| w.kind.as_str()).collect();
        out.push_str(&format!(
            "island {} warnings {warnings:?} shards {:?}\n",
            island.no, island.shards
        ));
        for n in &island.nodes {
            out.push_str(&format!(
                "  {} role {} health {} winner {:?} best {:?} cause {:?}\n    last chain {:?}\n",
                n.key.name,
                n.role,
                n.health.as_str(),
                n.winner,
                n.remembered_best,
                n.cause,
                n.last_chain.as_ref().map(|c| &c.attempts)
            ));
            for c in &n.candidates {
                out.push_str(&format!(
                    "    #{} {} {} {:?}\n",
                    c.index,
                    c.login,
                    c.state.as_str(),
                    c.error.as_ref().map(|e| e.kind)
                ));
            }
        }
    }
    out
}

/// Fails when `text` contains any of `secrets`.
pub fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a test password leaked into the {what}: {text}"
        );
    }
}
