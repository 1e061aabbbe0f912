//! The engine core: state plus the machinery that starts probe jobs and folds their reports in.
//!
//! Both the long-running engine ([`super::run`]) and the one-shot `check` pass drive the same
//! `Core`, so chain, audit and reconcile logic exist once. Its behaviour is split by concern across
//! `chain`, `audit`, `attempt`, `health`, `islands`, `reconcile` and `publish`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::event::ProbeMode;
use super::job::{self, Job, Report};
use super::journal::Journal;
use super::pace::PaceWatch;
use super::persist::SavedBest;
use super::probe::Prober;
use super::schedule::{Jitter, Stretch};
use super::snapshot::ConfigStatus;
use super::state::{InFlight, IslandState, NodeState};
use super::usage::SavedQuiet;
use super::{attempt, audit, chain, health, islands, usage, Command};
use crate::config::{Config, ConfigState, ProbeSettings, ReloadFailure};
use crate::topology::NodeKey;

/// How long stopping the engine waits for probes in progress to end before it aborts them: long
/// enough for a probe of a healthy server, short enough that quitting never feels stuck on a
/// hung one.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(1);

/// How the core is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The running engine: chains and audits on their schedules.
    Run,
    /// One pass (`check`): only the chains asked for, and the audits due now.
    Once,
}

/// What one handler needs besides the node it changes.
pub(crate) struct Cx<'a> {
    /// Events go here.
    pub log: &'a mut Journal,
    /// Jitter for new deadlines.
    pub jitter: &'a mut Jitter,
    /// Settings in force.
    pub settings: &'a ProbeSettings,
    /// Tokio time now.
    pub now: Instant,
    /// Wall-clock time now.
    pub at: DateTime<Utc>,
}

/// All engine state and the probe machinery.
pub(crate) struct Core<P: Prober> {
    pub(super) prober: Arc<P>,
    pub(super) mode: Mode,
    /// The applied config.
    pub(super) config: Arc<Config>,
    pub(super) status: ConfigStatus,
    pub(super) islands: Vec<IslandState>,
    /// Where each node lives in `islands`.
    pub(super) index: HashMap<NodeKey, (usize, usize)>,
    pub(super) log: Journal,
    pub(super) permits: Arc<Semaphore>,
    pub(super) jitter: Jitter,
    /// How chain probes keep their interval (`behind_schedule`).
    pub(super) pace: PaceWatch,
    pub(super) jobs: JoinSet<()>,
    next_job: u64,
    reports: mpsc::UnboundedSender<Report>,
    /// Something changed since the last snapshot.
    pub(super) dirty: bool,
    /// The chain interval set by [`Command::SetInterval`]; it outlives reloads.
    pub(super) interval_override: Option<std::time::Duration>,
    /// Logins safe to revoke at the last snapshot (for the readiness events).
    pub(super) safe_logins: std::collections::HashSet<String>,
}

/// The shortest interval [`Command::SetInterval`] accepts: a typo must not hammer the fleet.
pub const MIN_SESSION_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

impl<P: Prober> Core<P> {
    /// A core that has applied `initial`; reports of its jobs arrive on `reports`' receiver.
    pub(crate) fn new(
        initial: &ConfigState,
        log: Journal,
        prober: Arc<P>,
        seed: u64,
        reports: mpsc::UnboundedSender<Report>,
        mode: Mode,
    ) -> Self {
        let config = initial.config.clone();
        let mut core = Core {
            prober,
            mode,
            status: ConfigStatus {
                path: config.path.clone(),
                generation: 0,
                loaded_at: None,
                last_error: None,
            },
            permits: Arc::new(Semaphore::new(config.probe.concurrency.max(1))),
            pace: PaceWatch::new(config.probe.interval, Instant::now()),
            config,
            islands: Vec::new(),
            index: HashMap::new(),
            log,
            jitter: Jitter::new(seed),
            jobs: JoinSet::new(),
            next_job: 0,
            reports,
            dirty: true,
            interval_override: None,
            safe_logins: Default::default(),
        };
        core.on_config(initial);
        core
    }

    /// Takes a new config state: applies a new generation, records a new failure.
    pub(crate) fn on_config(&mut self, state: &ConfigState) {
        if state.generation != self.status.generation {
            self.apply_config(state);
            if !self.config.usage.enabled {
                // Counting turned off: what was counted goes stale at once; turned on again, the
                // quiet times start over (sessions came and went unseen meanwhile).
                self.forget_usage();
            }
        }
        // One event per distinct failure: a reload retried on its interval with the same error
        // updates the status (and its time) without repeating the event.
        let message = |e: &Option<ReloadFailure>| e.as_ref().map(|f| f.message.clone());
        if state.last_error.is_some()
            && message(&state.last_error) != message(&self.status.last_error)
        {
            if let Some(failure) = &state.last_error {
                let error =
                    crate::secret::redact_all(&failure.message, self.config.topology.passwords());
                self.log.emit(super::EventKind::ConfigFailed {
                    path: self.config.path.display().to_string(),
                    error,
                });
            }
        }
        if state.last_error != self.status.last_error {
            self.status.last_error = state.last_error.clone();
            self.dirty = true;
        }
    }

    /// Obeys a command. `reload` is the config feed's reload trigger, if it has one.
    pub(crate) fn on_command(&mut self, command: Command, reload: Option<&mpsc::Sender<()>>) {
        match command {
            Command::Reload => match reload {
                // A full queue means a reload is already asked for: that one will do.
                Some(tx) => {
                    let _ = tx.try_send(());
                }
                None => tracing::debug!("reload asked for, but the config is fixed"),
            },
            Command::Reprobe(key) => match self.node_mut(&key) {
                Some(st) => st.pending_chain = true,
                None => tracing::debug!(node = %key, "reprobe of an unknown node ignored"),
            },
            Command::Audit(key) => match self.node_mut(&key) {
                Some(st) => st.pending_audit = true,
                None => tracing::debug!(node = %key, "audit of an unknown node ignored"),
            },
            Command::ReprobeAll => self.each_node(|st| st.pending_chain = true),
            Command::AuditAll => self.each_node(|st| st.pending_audit = true),
            Command::Note(text) => self.log.emit(super::EventKind::LabAction { text }),
            Command::Lab(request) => {
                tracing::debug!(?request, "lab request with no lab to take it ignored");
            }
            Command::SetInterval(interval) => self.set_interval(interval),
        }
    }

    /// Probes every node at `interval` from now on (a session setting: reloads keep it).
    fn set_interval(&mut self, interval: std::time::Duration) {
        let interval = interval.max(MIN_SESSION_INTERVAL);
        self.interval_override = Some(interval);
        if self.config.probe.interval == interval {
            return;
        }
        let old = self.config.probe.clone();
        let mut config = (*self.config).clone();
        config.probe.interval = interval;
        self.config = Arc::new(config);
        self.log
            .set_probe_intervals(self.config.probe.interval, self.config.probe.audit_interval);
        self.adopt_settings(&old, Instant::now());
        self.dirty = true;
    }

    /// Folds one job report into the state.
    ///
    /// Its island is refreshed only when the node's island inputs changed: in practice when a
    /// chain finished with another winner, role, health or shard list. An attempt changes only
    /// candidate states (health `ok` ↔ `degraded` at most, which no island warning reads), and a
    /// steady chain changes nothing, so most reports cost O(1), not O(nodes).
    pub(crate) fn on_report(&mut self, report: Report) {
        let (key, job) = match &report {
            Report::Attempt { node, job, .. } | Report::Done { node, job } => (node, *job),
        };
        let Some(&(i, n)) = self.index.get(key) else {
            return; // the node left the config
        };
        let st = &self.islands[i].nodes[n];
        let Some(flight) = st.in_flight.as_ref().filter(|f| f.id == job) else {
            return; // a late report of a job that was replaced
        };
        if let Report::Attempt { started, .. } = &report {
            if flight.mode == ProbeMode::Chain && flight.attempts.is_empty() {
                // The chain's first probe: how late did it start?
                match (self.mode, flight.paced) {
                    (Mode::Run, Some(prev_end)) => {
                        let real = started.saturating_duration_since(prev_end);
                        self.pace.chain_started(*started, real, &mut self.log);
                    }
                    (Mode::Once, _) => self.pace.round_started(*started),
                    (Mode::Run, None) => {}
                }
            }
        }
        let counting = self.config.usage.enabled;
        let (islands, mut cx) = self.split(Instant::now());
        let st = &mut islands[i].nodes[n];
        let before = islands::NodeInputs::of(st);
        let mut new_shards = false;
        match report {
            Report::Attempt {
                candidate, outcome, ..
            } => {
                if let Some(index) = st.position(&candidate) {
                    attempt::apply(st, index, *outcome, &mut cx);
                }
            }
            Report::Done { .. } => {
                if let Some(flight) = st.in_flight.take() {
                    match flight.mode {
                        // Called off by a reload: what it learned of candidates still listed is
                        // folded in already; its verdict is the one of the job asked for instead.
                        _ if flight.cancel.is_cancelled() => {}
                        ProbeMode::Chain => {
                            // A winning chain replaces the node's shards.
                            new_shards = flight
                                .success
                                .as_ref()
                                .is_some_and(|(_, s)| s.shards != st.shards);
                            chain::finish(st, flight, &mut cx);
                        }
                        ProbeMode::Audit => audit::finish(st, flight),
                    }
                }
            }
        }
        health::refresh(st, &mut cx);
        if st.health == super::Health::Down || !counting {
            // Unreachable: sessions may come and go unseen, the quiet time starts over. (Counting
            // off: a chain started before the switch may still have brought counts.)
            st.usage.forget();
        }
        if new_shards || islands::NodeInputs::of(st) != before {
            islands::refresh_island(islands, i, cx.log);
        }
        self.dirty = true;
    }

    /// Starts every job that is due or asked for, on nodes with nothing in flight.
    pub(crate) fn dispatch_ready(&mut self) {
        let now = Instant::now();
        for i in 0..self.islands.len() {
            for n in 0..self.islands[i].nodes.len() {
                if let Some((mode, forced)) = ready(&self.islands[i].nodes[n], now, self.mode) {
                    self.start(i, n, mode, forced, now);
                }
            }
        }
    }

    /// When the next scheduled job falls due (nodes in flight are woken by their reports).
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.islands
            .iter()
            .flat_map(|i| i.nodes.iter())
            .filter(|st| st.in_flight.is_none() && !st.node.candidates.is_empty())
            .map(|st| match st.audit_due().filter(|_| !st.unreachable) {
                Some(audit) => audit.min(st.next_chain),
                None => st.next_chain,
            })
            .min()
    }

    /// True when no job is in flight.
    pub(crate) fn idle(&self) -> bool {
        self.islands
            .iter()
            .flat_map(|i| i.nodes.iter())
            .all(|st| st.in_flight.is_none())
    }

    /// Stops every job: each is called off and gets [`STOP_GRACE`] to finish its probe in
    /// progress (so servers see connections closed, not reset); what is left then is aborted.
    pub(crate) async fn stop_jobs(&mut self) {
        self.islands
            .iter()
            .flat_map(|i| i.nodes.iter())
            .filter_map(|st| st.in_flight.as_ref())
            .for_each(|f| f.cancel.cancel());
        let ended = async { while self.jobs.join_next().await.is_some() {} };
        if tokio::time::timeout(STOP_GRACE, ended).await.is_err() {
            self.jobs.abort_all();
            while self.jobs.join_next().await.is_some() {}
        }
    }

    /// Forgets tasks that have ended (their reports came through the channel).
    pub(crate) fn reap(&mut self) {
        while self.jobs.try_join_next().is_some() {}
    }

    /// The islands, and a handler context over the rest, borrowed apart.
    pub(super) fn split(&mut self, now: Instant) -> (&mut [IslandState], Cx<'_>) {
        let at = self.log.now();
        let Core {
            islands,
            log,
            jitter,
            config,
            ..
        } = self;
        let cx = Cx {
            log,
            jitter,
            settings: &config.probe,
            now,
            at,
        };
        (islands, cx)
    }

    /// Takes the remembered best of each node from a `[state]` file, where its candidate is
    /// still listed (a password changed since is a new candidate: the chain starts afresh).
    pub(crate) fn restore_remembered(&mut self, saved: &[SavedBest]) {
        for best in saved {
            let key = NodeKey {
                island: best.island,
                name: best.node.as_str().into(),
            };
            let Some(st) = self.node_mut(&key) else {
                continue;
            };
            let found =
                st.node.candidates.iter().find(|c| {
                    c.login == best.login && c.id.fingerprint.full_hex() == best.fingerprint
                });
            if let Some(c) = found {
                st.remembered = Some(c.id.clone());
            }
        }
    }

    /// Carries on the quiet times of a `[state]` file (see [`NodeUsage::restore`](super::usage::NodeUsage::restore)),
    /// unless counting is off (nothing would confirm them).
    pub(crate) fn restore_usage(&mut self, saved: &[SavedQuiet]) {
        if !self.config.usage.enabled {
            return;
        }
        for q in saved {
            let key = NodeKey {
                island: q.island,
                name: q.node.as_str().into(),
            };
            if let Some(st) = self.node_mut(&key) {
                st.usage.restore(&q.login, q.zero_since);
            }
        }
    }

    /// Forgets every node's session counts and quiet times (counting was turned off).
    fn forget_usage(&mut self) {
        for st in self.islands.iter_mut().flat_map(|i| i.nodes.iter_mut()) {
            st.usage.forget();
        }
    }

    /// Each node's quiet times per login, for the `[state]` file.
    pub(crate) fn saved_quiet(&self) -> Vec<SavedQuiet> {
        self.islands
            .iter()
            .flat_map(|i| i.nodes.iter())
            .flat_map(|st| {
                st.usage.quiet().map(|(login, zero_since)| SavedQuiet {
                    island: st.node.key.island,
                    node: st.node.key.name.to_string(),
                    login: login.to_owned(),
                    zero_since,
                })
            })
            .collect()
    }

    /// Each node's remembered best, for the `[state]` file.
    pub(crate) fn saved_bests(&self) -> Vec<SavedBest> {
        self.islands
            .iter()
            .flat_map(|i| i.nodes.iter())
            .filter_map(|st| {
                let id = st.remembered.as_ref()?;
                Some(SavedBest {
                    island: st.node.key.island,
                    node: st.node.key.name.to_string(),
                    login: id.login.clone(),
                    fingerprint: id.fingerprint.full_hex(),
                })
            })
            .collect()
    }

    fn node_mut(&mut self, key: &NodeKey) -> Option<&mut NodeState> {
        let &(i, n) = self.index.get(key)?;
        Some(&mut self.islands[i].nodes[n])
    }

    fn each_node(&mut self, f: impl Fn(&mut NodeState)) {
        self.islands
            .iter_mut()
            .flat_map(|i| i.nodes.iter_mut())
            .for_each(f);
    }

    fn start(&mut self, i: usize, n: usize, mode: ProbeMode, forced: bool, now: Instant) {
        let settings = &self.config.probe;
        let st = &mut self.islands[i].nodes[n];
        let mut paced = None;
        let order = match mode {
            ProbeMode::Chain => {
                // Only a chain that ran on schedule measures the pace (`pace.rs`).
                if !st.pending_chain && st.refused_chains == 0 {
                    paced = st.last_chain_end;
                }
                st.pending_chain = false;
                chain::plan(st)
            }
            ProbeMode::Audit => {
                if forced {
                    st.pending_audit = false;
                    // Asked for by hand: the backoff starts over.
                    st.cands.iter_mut().for_each(|c| c.refusals = 0);
                }
                audit::plan(st, forced, now, settings.audit_interval / 2)
            }
        };
        if order.is_empty() {
            return;
        }
        self.next_job += 1;
        let job = Job {
            node: st.node.key.clone(),
            id: self.next_job,
            mode,
            plan: order
                .iter()
                .map(|&k| st.node.candidates[k].clone())
                .collect(),
            connect_timeout: settings.connect_timeout,
            timeout: settings.timeout,
            shard_pattern: self.config.shards.pattern.clone(),
            // Sessions are counted by chain probes only (`engine/attempt.rs`): audits skip the
            // cost. Counting off: the query does not read the server's activity at all.
            usage_logins: match mode {
                ProbeMode::Chain if self.config.usage.enabled => {
                    usage::logins_of(st.node.candidates.iter().map(|c| c.login.as_str()))
                }
                ProbeMode::Chain | ProbeMode::Audit => Vec::new(),
            },
        };
        let plan = job.plan.iter().map(|c| c.id.clone()).collect();
        let cancel = CancellationToken::new();
        self.jobs.spawn(job::run(
            self.prober.clone(),
            self.permits.clone(),
            job,
            self.reports.clone(),
            cancel.clone(),
        ));
        st.in_flight = Some(InFlight {
            id: self.next_job,
            mode,
            forced,
            plan,
            attempts: Vec::new(),
            success: None,
            last_error: None,
            audit_stretch: match mode {
                ProbeMode::Audit => self.jitter.draw(),
                ProbeMode::Chain => Stretch::NONE,
            },
            paced,
            cancel,
        });
        self.dirty = true;
    }
}

/// The job a free node should start now, if any: a chain first, then an audit asked for by hand,
/// then a scheduled audit (held back while the node is unreachable: it would only meet the same
/// failure again).
fn ready(st: &NodeState, now: Instant, mode: Mode) -> Option<(ProbeMode, bool)> {
    if st.in_flight.is_some() || st.node.candidates.is_empty() {
        None
    } else if st.pending_chain || (mode == Mode::Run && st.next_chain <= now) {
        Some((ProbeMode::Chain, false))
    } else if st.pending_audit {
        Some((ProbeMode::Audit, true))
    } else if !st.unreachable && st.audit_due().is_some_and(|d| d <= now) {
        Some((ProbeMode::Audit, false))
    } else {
        None
    }
}
