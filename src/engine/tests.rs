//! Fast sequencing tests of the engine with the scripted fake prober, under paused tokio time.
//!
//! Each test reads as a scenario over simulated servers; waiting is done by awaiting published
//! snapshots or feed items (paused time makes timers fire deterministically), never by sleeping.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fake::{self, FakeProber};
use super::snapshot::{AttemptOutcome, NodeView};
use super::*;
use crate::clock::{ManualClock, SharedClock};
use crate::config::{ConfigState, ProbeSettings};
use crate::topology::{IslandNo, Topology};

mod audit;
mod chain;
mod check;
mod episodes;
mod inflight;
mod interval;
mod islands;
mod lifecycle;
mod pace;
mod reconcile;

/// The fake's quick settings (chain 1s, audit 10s, deadline 2s).
fn settings() -> ProbeSettings {
    fake::settings()
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .expect("valid time")
}

fn key(island: u32, name: &str) -> NodeKey {
    NodeKey {
        island: IslandNo(island),
        name: name.into(),
    }
}

/// A running engine over a fake, with everything a scenario needs to drive and observe it.
struct Harness {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<Command>,
    feed: broadcast::Receiver<Feed>,
    task: JoinHandle<()>,
    states: watch::Sender<ConfigState>,
    shutdown: CancellationToken,
    clock: SharedClock,
    fake: FakeProber,
    started: Instant,
}

impl Harness {
    fn start(fake: &FakeProber, topology: Topology, settings: ProbeSettings) -> Self {
        Self::start_config(fake, fake::config(topology, settings))
    }

    fn start_config(fake: &FakeProber, config: Config) -> Self {
        Self::start_clocked(fake, config, Arc::new(ManualClock::new(t0())))
    }

    /// A harness whose wall clock follows tokio's (paused) time from [`t0`], for tests of
    /// what happened when.
    fn start_following(fake: &FakeProber, config: Config) -> Self {
        Self::start_clocked(fake, config, Arc::new(fake::TokioClock::new(t0())))
    }

    /// [`Harness::start_following`] with a `[state]` file.
    fn start_with_state(fake: &FakeProber, config: Config, state: persist::StateFile) -> Self {
        let clock: SharedClock = Arc::new(fake::TokioClock::new(t0()));
        Self::start_options(
            fake,
            config,
            clock,
            EngineOptions {
                seed: Some(42),
                state: Some(Arc::new(state)),
                ..EngineOptions::default()
            },
        )
    }

    fn start_clocked(fake: &FakeProber, config: Config, clock: SharedClock) -> Self {
        let options = EngineOptions {
            seed: Some(42),
            ..EngineOptions::default()
        };
        Self::start_options(fake, config, clock, options)
    }

    fn start_options(
        fake: &FakeProber,
        config: Config,
        clock: SharedClock,
        options: EngineOptions,
    ) -> Self {
        let (feed, states) = ConfigFeed::manual(config, clock.now());
        let shutdown = CancellationToken::new();
        let started = Instant::now();
        let handle =
            Engine::spawn_with(feed, clock.clone(), fake.clone(), shutdown.clone(), options);
        Harness {
            snapshots: handle.snapshots,
            commands: handle.commands,
            feed: handle.feed_from_start,
            task: handle.task,
            states,
            shutdown,
            clock,
            fake: fake.clone(),
            started,
        }
    }

    /// Waits (in paused time, up to an hour) until a published snapshot satisfies `pred`.
    async fn until(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&Snapshot) -> bool,
    ) -> Arc<Snapshot> {
        let waited = tokio::time::timeout(
            Duration::from_secs(3600),
            self.snapshots.wait_for(|s| pred(s)),
        )
        .await;
        match waited {
            Ok(Ok(snapshot)) => snapshot.clone(),
            _ => panic!("gave up waiting for {what}"),
        }
    }

    /// Waits until `calls` probes of `node` as `login` have started.
    async fn until_calls(&mut self, node: &str, login: &str, calls: usize) -> Arc<Snapshot> {
        let fake = self.fake.clone();
        self.until(&format!("{calls} calls of {node}/{login}"), |_| {
            fake.calls_to(node, login).len() >= calls
        })
        .await
    }

    /// Waits until `calls` probes of `node` as `login` have started and the node has nothing in
    /// flight any more (so their results are in the snapshot).
    async fn until_done(&mut self, name: &str, login: &str, calls: usize) -> Arc<Snapshot> {
        let fake = self.fake.clone();
        self.until(&format!("{calls} calls of {name}/{login} done"), |s| {
            fake.calls_to(name, login).len() >= calls && !node(s, name).probing
        })
        .await
    }

    /// Seconds since the harness started, of a tokio instant.
    fn secs(&self, at: Instant) -> f64 {
        at.duration_since(self.started).as_secs_f64()
    }

    async fn send(&self, command: Command) {
        self.commands.send(command).await.expect("engine running");
    }

    /// Publishes a new config generation, as a successful reload does.
    fn reload(&self, config: Config) {
        self.states.send_modify(|s| {
            s.config = Arc::new(config);
            s.generation += 1;
            s.loaded_at = self.clock.now();
            s.last_error = None;
        });
    }

    /// Every feed item received so far.
    fn drain(&mut self) -> Vec<Feed> {
        let mut items = Vec::new();
        loop {
            match self.feed.try_recv() {
                Ok(item) => items.push(item),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return items,
            }
        }
    }

    /// Every event received so far.
    fn events(&mut self) -> Vec<EventKind> {
        self.drain()
            .into_iter()
            .filter_map(|f| match f {
                Feed::Event(e) => Some(e.kind),
                Feed::Probe(_) => None,
            })
            .collect()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("engine stops")
            .expect("engine task did not panic");
    }
}

/// The node called `name` in a snapshot.
fn node<'a>(snapshot: &'a Snapshot, name: &str) -> &'a NodeView {
    snapshot
        .nodes()
        .find(|n| &*n.key.name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

/// The last chain probe of a node as (index, outcome) pairs, each candidate at its place in the
/// node's current config order.
fn chain_of(n: &NodeView) -> Vec<(usize, AttemptOutcome)> {
    n.last_chain
        .iter()
        .flat_map(|c| c.attempts.iter())
        .map(|a| {
            let listed = n
                .candidate(&a.candidate)
                .expect("attempted candidate listed");
            (listed.index, a.outcome)
        })
        .collect()
}

/// A fake with one master `name` where each `(login, password)` logs in.
fn fake_with(name: &str, logins: &[(&str, &str)]) -> FakeProber {
    let fake = FakeProber::new();
    fake.server(name, Role::Master);
    for (login, password) in logins {
        fake.password(name, login, password);
    }
    fake
}
