//! The demo `rotascope lab` runs: a cluster of lab servers, the config and secrets files
//! rotascope reads, and a driver that rotates passwords the way a rotation tool does (and, on
//! request, fails a master over), so the degraded windows show up on screen.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rotascope::lab::LabError> {
//! use rotascope::lab::{driver::{DemoSettings, Driver}, Lab};
//! let driver = Driver::start(Lab::new()?, DemoSettings::default(), Box::new(|n| println!("{n}"))).await?;
//! println!("rotascope --config {}", driver.config_path().display());
//! let (_commands, receiver) = tokio::sync::mpsc::channel(8);
//! driver.run(receiver, tokio_util::sync::CancellationToken::new()).await; // until cancelled
//! # Ok(()) }
//! ```
//!
//! One task does everything in order (the driver's loop), so a rotation, a failover and a
//! command never race each other: each step is carried out, then the next due one. A step that
//! fails is reported in the notes and the lab carries on. A new password for an island with no
//! master at that moment (a failover in progress) is owed, and set as soon as a master is back,
//! as a rotation tool retrying would.
//!
//! With [`DemoSettings::pooler`], a PgBouncer stands in front of each island's master and the
//! config lists every master by both paths (see [`files`]). Its `auth_query` sees a new password
//! at once; with `auth_file`, the lab copies the verifiers into the pooler and `RELOAD`s it
//! [`PoolerSettings::lag`] after each password change, so the screen shows the auth_file trap:
//! direct valid, pooler invalid. A failover repoints the pooler at the new master.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{random_token, Lab, LabError};
use crate::secret::Password;

pub mod cluster;
pub mod command;
pub mod files;
mod perform;
pub mod rotation;

pub use cluster::{
    DemoCluster, NodeAddresses, NodeRef, NodeState, PoolerSettings, Shape, DATABASE,
};
pub use command::{LabCommand, HELP};
pub use files::{Intervals, LabFiles, CONFIG_FILE, SECRETS_FILE};
pub use rotation::{Rotation, Scheme, SecretEntry, Step};

/// Pause between the steps of a failover (master stopped → replica promoted → stopped node
/// replaced), long enough for a few probes to show each state.
pub const FAILOVER_PAUSE: Duration = Duration::from_secs(3);

/// What the demo cluster looks like and how it is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoSettings {
    /// Islands and replicas.
    pub shape: Shape,
    /// How passwords rotate.
    pub scheme: Scheme,
    /// Time between rotations.
    pub rotate_every: Duration,
    /// Time between the database change and the secrets file change (the degraded window).
    pub config_lag: Duration,
    /// Fail island 0's master over this often (off when `None`).
    pub failover_every: Option<Duration>,
    /// A PgBouncer in front of each island's master (none when `None`).
    pub pooler: Option<PoolerSettings>,
}

impl Default for DemoSettings {
    fn default() -> Self {
        DemoSettings {
            shape: Shape::default(),
            scheme: Scheme::Alternating,
            rotate_every: Duration::from_secs(20),
            config_lag: Duration::from_secs(3),
            failover_every: None,
            pooler: None,
        }
    }
}

/// Receives the driver's notes: one line each, saying what it did or what failed. Never a
/// password.
pub type Notes = Box<dyn FnMut(&str) + Send>;

/// A scheduled piece of work.
#[derive(Clone, Debug)]
enum Action {
    /// A step of rotation number `no`.
    Rotation { no: u64, step: Step },
    /// Failover, first step: stop the island's master.
    StopMaster(usize),
    /// Failover, second step: promote the island's first replica.
    PromoteReplica(usize),
    /// Failover, last step: replace stopped nodes by fresh replicas, rewrite the config.
    Rebuild(usize),
    /// `auth_file` poolers catch up with the passwords of rotation number `no`.
    SyncPoolers { no: u64 },
}

impl Action {
    fn failover_island(&self) -> Option<usize> {
        match self {
            Action::StopMaster(i) | Action::PromoteReplica(i) | Action::Rebuild(i) => Some(*i),
            Action::Rotation { .. } | Action::SyncPoolers { .. } => None,
        }
    }
}

/// A password an island could not take yet (no master at the time).
#[derive(Clone, Debug)]
struct Owed {
    island: usize,
    login: String,
    password: Password,
}

/// The running demo: its cluster, files and rotation state. Dropping it stops every server.
pub struct Driver {
    cluster: DemoCluster,
    files: LabFiles,
    rotation: Rotation,
    /// What the secrets (or, with poolers, the config) list now.
    secrets: Vec<SecretEntry>,
    settings: DemoSettings,
    intervals: Intervals,
    /// Due work, in time order (equal times keep their order).
    queue: Vec<(Instant, Action)>,
    owed: Vec<Owed>,
    notes: Notes,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("cluster", &self.cluster)
            .field("files", &self.files)
            .field("settings", &self.settings)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Starts the cluster in `lab` with the roles of both schemes (and its poolers), and writes
    /// the config and the secrets file (with poolers: the config alone) into the lab directory.
    pub async fn start(lab: Lab, settings: DemoSettings, notes: Notes) -> Result<Driver, LabError> {
        let rotation = Rotation::new(settings.scheme, new_password);
        let cluster =
            DemoCluster::start_with(lab, settings.shape, &rotation.roles(), settings.pooler)
                .await?;
        let mut driver = Driver {
            files: LabFiles::new(cluster.lab().dir()),
            cluster,
            secrets: rotation.secrets(),
            rotation,
            settings,
            intervals: Intervals::for_lag(settings.config_lag),
            queue: Vec::new(),
            owed: Vec::new(),
            notes,
        };
        driver.write_config()?;
        let secrets = driver.rotation.secrets();
        driver
            .write_secrets(secrets)
            .map_err(LabError::io("writing the secrets file"))?;
        Ok(driver)
    }

    /// The config file rotascope reads (`<lab dir>/rotascope.toml`).
    pub fn config_path(&self) -> PathBuf {
        self.files.config_path()
    }

    /// The secrets file the driver rewrites (`<lab dir>/secrets.json`; with poolers the secrets
    /// are in the config and this file is not written).
    pub fn secrets_path(&self) -> PathBuf {
        self.files.secrets_path()
    }

    /// The cluster.
    pub fn cluster(&self) -> &DemoCluster {
        &self.cluster
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &DemoSettings {
        &self.settings
    }

    /// Rotates on schedule, fails over on schedule, and obeys `commands`, until `shutdown` is
    /// cancelled (work in progress is abandoned: the servers are stopped anyway). A closed
    /// command channel only means no more commands. Returns itself, so the caller can say what
    /// it is about to stop before dropping it (which stops every server).
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<LabCommand>,
        shutdown: CancellationToken,
    ) -> Self {
        let mut rotate = ticker(self.settings.rotate_every);
        let mut failover = self.settings.failover_every.map(ticker);
        let mut commands_open = true;
        loop {
            let due = self.queue.first().map(|(at, _)| *at);
            let work = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = sleep_until_opt(due) => Work::Due,
                _ = rotate.tick() => Work::Rotate,
                () = tick_opt(&mut failover) => Work::Failover(0),
                command = commands.recv(), if commands_open => match command {
                    Some(c) => Work::Command(c),
                    None => {
                        commands_open = false;
                        continue;
                    }
                },
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = self.work(work) => {}
            }
        }
        self
    }

    async fn work(&mut self, work: Work) {
        match work {
            Work::Due => {
                let (_, action) = self.queue.remove(0);
                self.perform(action).await;
            }
            Work::Rotate => self.rotate().await,
            Work::Failover(island) => self.plan_failover(island),
            Work::Command(command) => self.command(command).await,
        }
        if !self.owed.is_empty() {
            self.settle_owed().await;
        }
    }

    async fn command(&mut self, command: LabCommand) {
        let outcome = match command {
            LabCommand::Rotate => return self.rotate().await,
            LabCommand::Failover(island) if island < self.cluster.island_count() => {
                return self.plan_failover(island)
            }
            LabCommand::Failover(island) => Err(format!("there is no island {island}")),
            LabCommand::Status => {
                for line in self.cluster.status().await {
                    self.note(&line);
                }
                return;
            }
            LabCommand::Help => return self.note(HELP),
            LabCommand::Stop(node) => self.cluster.stop(node).await.map(|()| (node, "stopped")),
            LabCommand::Start(node) => self
                .cluster
                .start_node(node)
                .await
                .map(|()| (node, "started")),
            LabCommand::Toggle(node) => {
                let running = self.cluster.server(node).map(|s| s.is_running());
                match running {
                    Ok(true) => {
                        self.note(&format!("stopping {node}"));
                        self.cluster.stop(node).await.map(|()| (node, "stopped"))
                    }
                    Ok(false) => {
                        self.note(&format!("starting {node}"));
                        self.cluster
                            .start_node(node)
                            .await
                            .map(|()| (node, "started"))
                    }
                    Err(e) => Err(e),
                }
            }
            LabCommand::Promote(node) => self
                .cluster
                .promote(node)
                .await
                .map(|()| (node, "promoted")),
        };
        match outcome {
            Ok((node, done)) => self.note(&format!("{node} {done}")),
            Err(e) => self.note(&format!("`{command}` failed: {e}")),
        }
    }

    /// Starts a rotation now; steps of the previous one still waiting are carried out first.
    async fn rotate(&mut self) {
        let (pending, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|(_, a)| matches!(a, Action::Rotation { .. }));
        self.queue = rest;
        let no = self.rotation.count() + 1;
        if !pending.is_empty() {
            self.note(&format!(
                "rotation {no} asked for: rotation {}'s remaining steps are done now",
                no - 1
            ));
        }
        for (_, action) in pending {
            self.perform(action).await;
        }
        if !self.owed.is_empty() {
            let mut islands: Vec<usize> = self.owed.iter().map(|o| o.island).collect();
            islands.sort_unstable();
            islands.dedup();
            // What a careless rotation tool does; the lab does it too, and says so.
            self.note(&format!(
                "rotation {no}: island {} still waits for an earlier new password (no master to \
                 set it on): its nodes may be left with no password that the secrets list, an outage \
                 a rotation pipeline avoids by waiting for `rotascope check --ready-to-revoke`",
                perform::list(&islands)
            ));
        }
        let now = Instant::now();
        let steps = self
            .rotation
            .rotate(self.settings.config_lag, new_password());
        for (delay, step) in steps {
            self.schedule(now + delay, Action::Rotation { no, step });
        }
    }

    fn plan_failover(&mut self, island: usize) {
        if self
            .queue
            .iter()
            .any(|(_, a)| a.failover_island() == Some(island))
        {
            self.note(&format!(
                "a failover of island {island} is in progress already"
            ));
            return;
        }
        let now = Instant::now();
        self.schedule(now, Action::StopMaster(island));
        self.schedule(now + FAILOVER_PAUSE, Action::PromoteReplica(island));
        self.schedule(now + FAILOVER_PAUSE * 2, Action::Rebuild(island));
    }

    fn schedule(&mut self, at: Instant, action: Action) {
        let pos = self.queue.partition_point(|(t, _)| *t <= at);
        self.queue.insert(pos, (at, action));
    }

    fn write_config(&self) -> Result<(), LabError> {
        if self.cluster.has_poolers() {
            self.write_explicit_config()
        } else {
            self.files
                .write_config(&self.cluster.conn_strings(), &self.intervals)
        }
        .map_err(LabError::io("writing the config"))
    }

    /// Lists `entries` from now on: in the secrets file, or (with poolers) in the config.
    fn write_secrets(&mut self, entries: Vec<SecretEntry>) -> std::io::Result<()> {
        self.secrets = entries;
        if self.cluster.has_poolers() {
            self.write_explicit_config()
        } else {
            self.files.write_secrets(&self.secrets)
        }
    }

    /// The config with poolers: every node by its paths, every secret inline.
    fn write_explicit_config(&self) -> std::io::Result<()> {
        self.files
            .write_explicit_config(&self.cluster.addresses(), &self.secrets, &self.intervals)
    }

    /// The file the secrets are listed in.
    fn secrets_file_name(&self) -> &'static str {
        if self.cluster.has_poolers() {
            CONFIG_FILE
        } else {
            SECRETS_FILE
        }
    }

    fn note(&mut self, line: &str) {
        (self.notes)(line);
    }
}

/// What the loop does next.
enum Work {
    Due,
    Rotate,
    Failover(usize),
    Command(LabCommand),
}

/// True when `pid` is a live process (a zombie counts as dead), for checking that no server
/// outlives its lab.
pub fn process_alive(pid: u32) -> bool {
    super::os::alive(pid)
}

/// A lab password: random, lowercase alphanumeric (safe in every file format and URL).
fn new_password() -> Password {
    Password::new(random_token(20))
}

/// An interval whose first tick is one period away (the first rotation waits a full period).
fn ticker(every: Duration) -> Interval {
    let mut t = interval_at(Instant::now() + every, every);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

async fn tick_opt(ticker: &mut Option<Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
