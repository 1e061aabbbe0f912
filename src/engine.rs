//! The probe engine: owns all mutable cluster state, probes nodes, publishes snapshots.
//!
//! [`Engine::spawn`] starts it on the tokio runtime and returns an [`EngineHandle`]: the latest
//! `Arc<Snapshot>` on a `watch` channel (readers never lock), a bounded command sender, and a
//! broadcast [`Feed`] of events and probe records for streaming outputs. The engine knows nothing
//! of the UI. [`check_once`] runs the same state code for one pass (`rotascope check`).
//!
//! Inside, one task owns all state (`engine/core.rs`, `engine/state.rs`); each probe job (a chain probe or an
//! audit of one node) runs as its own task and reports every attempt back over a channel. At most
//! one job per node is in flight, and jobs across nodes share a semaphore of `probe.concurrency`
//! permits.
//!
//! Decisions where the spec is silent:
//! - A `Reprobe`/`Audit` asked for a node with a job in flight sets a flag: the work runs once
//!   right after that job; any number of asks meanwhile collapse into that one run.
//! - Candidates a node-level failure kept a chain from trying keep their last known state; one
//!   never tried at all becomes `skipped` instead of staying `untested`.
//! - An audit also stops at a node-level failure (one deadline per node, never one per
//!   candidate), and scheduled audits wait while the node is unreachable.
//! - Every try counts as a check, chain or audit; audits therefore mostly probe the candidates
//!   chains do not reach, and a candidate refused by a chain waits out the backoff too.
//! - The backoff (`interval × 2ⁿ` after n refusals in a row, plus jitter, capped at exactly 10×
//!   with the jitter included; one implementation, `Stretch::backoff`) applies to
//!   every candidate-level failure (`auth_failed`, `login_not_permitted`, `role_conn_limit`), and to
//!   chain probes of a node whose candidates were all refused.
//! - The first config's nodes get no `node_added` events (its `config_applied` counts them).
//! - A job holds its permit from its first probe to its end (`engine/job.rs`), rather than
//!   taking one per probe: the failover to a chain's next candidate then starts at once instead of
//!   queueing behind every other node's probe, which under load delayed it by seconds. A job runs
//!   one probe at a time, so at most `probe.concurrency` probes are in flight all the same.
//! - A reload never cuts a probe short: a job whose node left or whose candidates changed is
//!   called off between probes (a token checked before each next candidate); the probe in
//!   progress ends normally, its result kept when its candidate is still listed and dropped
//!   otherwise, and the node's next job waits for it (`engine/reconcile.rs`). Stopping the engine
//!   gives probes in progress a short grace the same way, then aborts what is left.
//! - When chain probes run less often than `probe.interval` says (overload), the snapshot carries
//!   the cluster-level `behind_schedule` warning with the measured real interval, raised and
//!   cleared with `warning` events; the rule and thresholds are in `engine/pace.rs`. It does not
//!   change the verdict: it is about the monitor, not the cluster.
//! - Snapshots for probe results are coalesced: at most one per 50 ms, the latest state always
//!   published in the end (events and probe records on the feed are never held back); a config
//!   change or a command is published at once.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::{Config, ConfigFeed};
use crate::topology::{IslandNo, NodeKey};

mod attempt;
mod audit;
mod chain;
pub mod classify;
mod core;
pub mod episodes;
pub mod event;
// Test support (integration tests and benches use it), not part of the product.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod fake;
mod health;
pub mod history;
mod islands;
mod job;
mod journal;
mod pace;
pub mod persist;
pub mod pg;
pub mod probe;
mod publish;
mod reconcile;
mod run;
mod schedule;
pub mod snapshot;
mod state;
pub mod usage;

#[cfg(test)]
mod tests;

pub use event::{Event, EventKind, Feed};
pub use probe::{ErrorKind, ProbeOutcome, ProbeRequest, Prober, Role, TimeoutOrigin};
pub use snapshot::{Health, Snapshot};

use self::core::{Core, Mode};
use journal::Journal;

/// Work asked of the engine (by keys, signals or scripts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Re-read the config sources now.
    Reload,
    /// Chain-probe one node now (coalesced with a probe already in flight).
    Reprobe(NodeKey),
    /// Chain-probe every node now.
    ReprobeAll,
    /// Audit every candidate of one node now (ignores auth-failure backoff).
    Audit(NodeKey),
    /// Audit every candidate of every node now.
    AuditAll,
    /// Record what the program driving the cluster just did (the lab: "rotating app_a in the
    /// database now") as a `lab_action` event, so effects on screen come with their cause.
    Note(String),
    /// A request for the program driving the cluster (the lab's keys). The lab puts itself
    /// between the dashboard and the engine and takes these; the engine ignores any that reach it.
    Lab(LabRequest),
    /// Chain-probe every node at this interval (plus jitter) from now on, for this run only: the
    /// config file is not changed, and a reload keeps this interval (the dashboard's `+`/`-`).
    SetInterval(std::time::Duration),
}

/// What the dashboard's lab keys ask of the lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabRequest {
    /// Rotate a password now (`R`).
    Rotate,
    /// Fail this island over (`F`).
    Failover(IslandNo),
    /// Stop the node, or start it when stopped (`S`): the island and the node's place in it.
    StopStart {
        /// Island.
        island: IslandNo,
        /// The node's position in its island, in config order.
        index: usize,
    },
}

/// How many commands may wait for the engine.
pub const COMMAND_QUEUE: usize = 64;

/// How many events the snapshot keeps (the newest; the dashboard's title says "last 2000" once
/// older ones were dropped).
pub const EVENT_RING: usize = 2000;

/// How many feed items a slow subscriber may fall behind before it misses some.
pub const FEED_CAPACITY: usize = 4096;

/// A running engine, seen from outside.
#[derive(Debug)]
pub struct EngineHandle {
    /// The latest snapshot.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Commands to the engine.
    pub commands: mpsc::Sender<Command>,
    /// Events and probe records as they happen; `subscribe()` before work you want to see.
    pub feed: broadcast::Sender<Feed>,
    /// A subscription taken before the engine applied its first config: it sees every feed item
    /// from that first `config_applied` on (for `watch` and recordings). Drop it if unused.
    pub feed_from_start: broadcast::Receiver<Feed>,
    /// The engine task; ends after `shutdown` is cancelled.
    pub task: JoinHandle<()>,
}

/// Knobs for [`Engine::spawn_with`].
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Seed of the jitter RNG; `None` draws one at random. Tests set it to repeat a run.
    pub seed: Option<u64>,
    /// The `[state]` file: the engine starts from what it holds (remembered best, history) and
    /// writes it every minute and when it stops (`engine/persist.rs`).
    pub state: Option<Arc<persist::StateFile>>,
    /// Read the `[state]` file at start but never write it (`check --ready-to-revoke`, beside a
    /// running rotascope that owns the file).
    pub state_read_only: bool,
}

/// The probe engine.
pub struct Engine;

impl Engine {
    /// Starts the engine: applies the feed's config, probes on schedule, obeys commands, and stops
    /// when `shutdown` is cancelled.
    pub fn spawn<P: Prober>(
        feed: ConfigFeed,
        clock: SharedClock,
        prober: P,
        shutdown: CancellationToken,
    ) -> EngineHandle {
        Self::spawn_with(feed, clock, prober, shutdown, EngineOptions::default())
    }

    /// [`Engine::spawn`] with options. Must be called inside a tokio runtime.
    ///
    /// The first config is applied before this returns, so the first snapshot already lists every
    /// node (`unknown`) and the config status.
    pub fn spawn_with<P: Prober>(
        mut feed: ConfigFeed,
        clock: SharedClock,
        prober: P,
        shutdown: CancellationToken,
        options: EngineOptions,
    ) -> EngineHandle {
        let (feed_tx, feed_from_start) = broadcast::channel(FEED_CAPACITY);
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let initial = feed.state.borrow_and_update().clone();
        let restored = options
            .state
            .as_ref()
            .map(|s| s.take_restored())
            .unwrap_or_default();
        let journal =
            Journal::with_history(clock, feed_tx.clone(), restored.history.unwrap_or_default());
        let mut core = Core::new(
            &initial,
            journal,
            Arc::new(prober),
            options.seed.unwrap_or_else(rand::random),
            reports_tx,
            Mode::Run,
        );
        core.restore_remembered(&restored.remembered);
        core.restore_usage(&restored.usage);
        let (snapshots_tx, snapshots) = watch::channel(Arc::new(core.snapshot()));
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let wiring = run::Wiring {
            reports,
            feed,
            commands: commands_rx,
            snapshots: snapshots_tx,
            state: options.state.filter(|_| !options.state_read_only),
        };
        let task = tokio::spawn(run::engine(core, wiring, shutdown));
        EngineHandle {
            snapshots,
            commands,
            feed: feed_tx,
            feed_from_start,
            task,
        }
    }
}

/// One pass for `rotascope check`: a chain probe of every node, then an audit of each node's
/// candidates the chain did not try (nodes concurrently, bounded by `probe.concurrency`), through
/// the same code as the running engine; returns the final snapshot.
///
/// A node whose chain met a node-level failure is not audited (it would only meet the same
/// failure once more): its untried candidates are `skipped`, or keep no state at all.
pub async fn check_once<P: Prober>(config: Config, clock: SharedClock, prober: P) -> Arc<Snapshot> {
    let (feed, _states) = ConfigFeed::manual(config, clock.now());
    let initial = feed.state.borrow().clone();
    // Nobody listens to a one-shot pass; the snapshot's ring holds its events.
    let (feed_tx, _) = broadcast::channel(1);
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let core = Core::new(
        &initial,
        Journal::new(clock, feed_tx),
        Arc::new(prober),
        rand::random(),
        reports_tx,
        Mode::Once,
    );
    run::once(core, reports).await
}
