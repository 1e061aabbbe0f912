//! The snapshot: an immutable picture of the whole cluster plus recent events.
//!
//! The engine publishes a fresh `Arc<Snapshot>` after every change; the TUI, `check` and `watch`
//! read nothing else. Everything here is plain data, so fixtures for render tests are easy to build.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{millis, Event};
use super::history::History;
use super::probe::{ErrorKind, ProbeError, Role, Route, WalPosition};
use super::usage::{LoginUsage, NodeLoginUsage};
use crate::config::{ProbeSettings, ReloadFailure};
use crate::secret::Fingerprint;
use crate::topology::{CandidateId, IslandNo, NodeKey};

/// How many probe latencies a node keeps.
pub const LATENCY_HISTORY: usize = 60;

/// The whole picture.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// When it was published (injected clock).
    pub generated_at: DateTime<Utc>,
    /// Config status.
    pub config: ConfigStatus,
    /// The probe settings in force.
    pub settings: ProbeSettings,
    /// Islands in `no` order.
    pub islands: Vec<IslandView>,
    /// Recent events, oldest first (a bounded ring).
    pub events: VecDeque<Event>,
    /// The cluster-level `behind_schedule` warning, while chain probes fall behind their interval.
    pub behind_schedule: Option<BehindSchedule>,
    /// What happened over time: candidate, health and winner intervals and rotation episodes
    /// (shared with the engine and every other snapshot; see [`History`] for how to read it).
    pub history: History,
    /// Every login over the cluster: where it is in use, and whether it is safe to revoke
    /// (`engine/usage.rs`). Empty, like every node's `usage`, while counting is off.
    pub usage: Vec<LoginUsage>,
    /// Sessions are counted (`[usage] enabled`); false: nothing is known about them, by choice.
    pub usage_enabled: bool,
}

/// The config as the engine applied it.
#[derive(Clone, Debug)]
pub struct ConfigStatus {
    /// Config file path.
    pub path: PathBuf,
    /// Generation of the applied config (0 before the first).
    pub generation: u64,
    /// When the applied config was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// The latest failed reload since it, if any.
    pub last_error: Option<ReloadFailure>,
}

/// One island.
#[derive(Clone, Debug)]
pub struct IslandView {
    /// Its number.
    pub no: IslandNo,
    /// Nodes in config order.
    pub nodes: Vec<NodeView>,
    /// Shard schemas found on it (sorted), or `None` when discovery is off or not done yet.
    pub shards: Option<Vec<String>>,
    /// Active warnings.
    pub warnings: Vec<IslandWarning>,
}

/// Warning kinds (stable names): island-level ones, and the cluster-level `behind_schedule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// No reachable node reports itself master (failover in progress, or the master is down).
    NoMaster,
    /// Two or more nodes report themselves master.
    SplitBrain,
    /// A shard schema is also found on another island.
    ShardConflict,
    /// No host of a connection string satisfies its `target_session_attrs`: an application using
    /// that string cannot connect (see `conninfo::session`).
    SessionAttrsUnmet,
    /// Cluster-level: chain probes run less often than `probe.interval` says (overload).
    BehindSchedule,
}

impl WarningKind {
    /// True for the island warnings that make the verdict `down` (exit 2): no master, split
    /// brain, and a string that no host satisfies. A shard conflict is `degraded`.
    pub fn is_critical(self) -> bool {
        matches!(
            self,
            WarningKind::NoMaster | WarningKind::SplitBrain | WarningKind::SessionAttrsUnmet
        )
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::NoMaster => "no_master",
            WarningKind::SplitBrain => "split_brain",
            WarningKind::ShardConflict => "shard_conflict",
            WarningKind::SessionAttrsUnmet => "session_attrs_unmet",
            WarningKind::BehindSchedule => "behind_schedule",
        }
    }
}

/// How often chain probes really run, measured by the engine: the figures of `behind_schedule`.
/// What a "real interval" is, and the rule, are documented in the engine (`engine/pace.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Pace {
    /// The configured `probe.interval`.
    #[serde(rename = "interval_ms", serialize_with = "millis")]
    pub interval: Duration,
    /// The median real interval of the recent window.
    #[serde(rename = "real_p50_ms", serialize_with = "millis")]
    pub real_p50: Duration,
    /// The longest real interval of the recent window.
    #[serde(rename = "real_max_ms", serialize_with = "millis")]
    pub real_max: Duration,
    /// How many chain probes the figures come from.
    pub samples: usize,
}

impl Pace {
    /// What to do about it.
    pub const ADVICE: &'static str = "raise probe.concurrency or probe.interval";

    /// The figures for people: the real interval against the configured one.
    pub fn figures(&self) -> String {
        format!(
            "chain probes run every {} (median; longest {}) instead of every {}",
            seconds(self.real_p50),
            seconds(self.real_max),
            seconds(self.interval)
        )
    }

    /// The warning's detail: the figures, and what to do.
    pub fn detail(&self) -> String {
        format!("{}: {}", self.figures(), Self::ADVICE)
    }
}

/// The active `behind_schedule` warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BehindSchedule {
    /// The latest figures.
    pub pace: Pace,
    /// When it was raised.
    pub since: DateTime<Utc>,
}

/// A duration as people read a window: [`seconds`] under a minute, then `4m05s`, `2h05m`.
pub fn span_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => seconds(d),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// `850 ms`, `1.7 s`, `2 s`, `12 s`: a duration as people read an interval.
pub fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 10_000 && !ms.is_multiple_of(1000) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs_f64().round())
    }
}

/// An active island warning with its human detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IslandWarning {
    /// Which warning.
    pub kind: WarningKind,
    /// Detail: the masters' names, the unmet string and its hosts, or the shard and the other
    /// island.
    pub detail: String,
}

/// A node's health (stable names).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Not probed yet.
    #[default]
    Unknown,
    /// Has a winner and every candidate is valid.
    Ok,
    /// Has a winner, some candidate is invalid (rotation in progress, or a stale secret).
    Degraded,
    /// No candidate works.
    Down,
}

impl Health {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }
}

/// One node.
#[derive(Clone, Debug)]
pub struct NodeView {
    /// Identity.
    pub key: NodeKey,
    /// Redacted connection string.
    pub address: String,
    /// Role from the winning probe (`unknown` until one succeeds; kept while down).
    pub role: Role,
    /// Health.
    pub health: Health,
    /// Since when the node has had this health.
    pub health_since: Option<DateTime<Utc>>,
    /// The first line of why the node is not ok, if it is not.
    pub cause: Option<String>,
    /// Index of the current winner, `None` when no candidate works or before the first probe.
    pub winner: Option<usize>,
    /// Index of the remembered best: where the next chain probe starts.
    pub remembered_best: Option<usize>,
    /// True while a probe of this node is in flight.
    pub probing: bool,
    /// The last chain probe.
    pub last_chain: Option<ChainRecord>,
    /// Latencies of the last chain probes (at most [`LATENCY_HISTORY`]), oldest first.
    pub latency: LatencyHistory,
    /// WAL positions and replica lag.
    pub replication: Option<Replication>,
    /// Shard schemas seen on this node, when discovery is on.
    pub shards: Option<Vec<String>>,
    /// Candidates in config order.
    pub candidates: Vec<CandidateView>,
    /// Sessions per login of its candidates (one entry per login, in config order).
    pub usage: Vec<NodeLoginUsage>,
}

impl NodeView {
    /// The listed candidate with this identity, if it is still in the config.
    pub fn candidate(&self, id: &CandidateId) -> Option<&CandidateView> {
        self.candidates.iter().find(|c| &c.id == id)
    }

    /// How many candidates are known to work: none on a down node (a candidate its chain
    /// could not try keeps its last known state, but it does not work now).
    pub fn valid_count(&self) -> usize {
        if self.health == Health::Down {
            return 0;
        }
        self.candidates
            .iter()
            .filter(|c| c.state == CandidateState::Valid)
            .count()
    }
}

/// One chain probe: when, and every attempt in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRecord {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Attempts in the order they ran; candidates not tried after a node-level failure are listed
    /// as skipped at the end.
    pub attempts: Vec<Attempt>,
}

/// One attempt of a chain probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The candidate tried, by identity: a reload may reorder or drop candidates after the chain
    /// ran, so a position would name another one (find it with [`NodeView::candidate`]).
    pub candidate: CandidateId,
    /// What happened.
    pub outcome: AttemptOutcome,
    /// How long it took (zero when skipped).
    pub latency: Duration,
}

/// What one attempt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Logged in and queried.
    Ok,
    /// Failed with this kind.
    Failed(ErrorKind),
    /// Not tried: an earlier attempt showed the node itself is unwell.
    Skipped,
}

/// Recent chain-probe latencies of a node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistory {
    /// Oldest first, at most [`LATENCY_HISTORY`].
    pub samples: VecDeque<LatencySample>,
}

/// One chain probe's latency (the winning attempt's total, or the time to fail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencySample {
    /// When.
    pub at: DateTime<Utc>,
    /// How long.
    pub latency: Duration,
    /// False when the chain found no working candidate.
    pub ok: bool,
    /// True when it worked only after some candidate tried before the winner failed: the chain
    /// fell back (a rotated or stale password on this node).
    pub fell_back: bool,
}

impl LatencyHistory {
    /// Appends a sample, dropping the oldest beyond [`LATENCY_HISTORY`].
    pub fn push(&mut self, sample: LatencySample) {
        if self.samples.len() == LATENCY_HISTORY {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// The latest sample.
    pub fn last(&self) -> Option<&LatencySample> {
        self.samples.back()
    }

    /// The `q` quantile (0.0..=1.0, nearest rank) of successful samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut ok: Vec<Duration> = self
            .samples
            .iter()
            .filter(|s| s.ok)
            .map(|s| s.latency)
            .collect();
        if ok.is_empty() {
            return None;
        }
        ok.sort_unstable();
        let rank = ((q.clamp(0.0, 1.0) * ok.len() as f64).ceil() as usize).max(1);
        Some(ok[rank - 1])
    }

    /// Median of successful samples.
    pub fn p50(&self) -> Option<Duration> {
        self.quantile(0.50)
    }

    /// 95th percentile of successful samples.
    pub fn p95(&self) -> Option<Duration> {
        self.quantile(0.95)
    }
}

/// WAL positions of a node and, for a replica, how far it trails its island's master.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replication {
    /// Positions from the last successful probe.
    pub wal: WalPosition,
    /// Master's current LSN minus this replica's replay LSN, when both are known.
    pub lag_bytes: Option<u64>,
}

/// A candidate's last known state (stable names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateState {
    /// Logged in last time it was tried.
    Valid,
    /// Refused at the candidate level last time (bad password, no LOGIN, role limit).
    Invalid,
    /// The node could not be reached the last time this candidate was tried.
    Unreachable,
    /// Never tried yet.
    #[default]
    Untested,
    /// Not tried in the last chain probe because the node failed first; see `last_valid`.
    Skipped,
}

impl CandidateState {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateState::Valid => "valid",
            CandidateState::Invalid => "invalid",
            CandidateState::Unreachable => "unreachable",
            CandidateState::Untested => "untested",
            CandidateState::Skipped => "skipped",
        }
    }
}

/// One candidate.
#[derive(Clone, Debug)]
pub struct CandidateView {
    /// Position in the node's config order (0-based).
    pub index: usize,
    /// Identity.
    pub id: CandidateId,
    /// Login.
    pub login: String,
    /// Label from the config.
    pub label: Option<String>,
    /// Password fingerprint.
    pub fingerprint: Fingerprint,
    /// Last known state.
    pub state: CandidateState,
    /// The error of the last failed try, while the state is not `valid`.
    pub error: Option<ProbeError>,
    /// Latency of the last try.
    pub latency: Option<Duration>,
    /// When it was last tried (chain probe or audit).
    pub last_checked: Option<DateTime<Utc>>,
    /// When it last logged in successfully.
    pub last_valid: Option<DateTime<Utc>>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// When the next audit of it is due.
    pub next_audit: Option<DateTime<Utc>>,
    /// What the config says its connection goes through (`via`), if it says.
    pub via: Option<String>,
    /// The route its last telling probe showed (direct, PgBouncer, another pooler); `None`
    /// until a probe got an answer that tells (a refused connection does not).
    pub route: Option<Route>,
}

/// The cluster at a glance, for headers, `check` and exit codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Islands.
    pub islands: usize,
    /// Nodes.
    pub nodes: usize,
    /// Nodes by health.
    pub ok: usize,
    /// Nodes by health.
    pub degraded: usize,
    /// Nodes by health.
    pub down: usize,
    /// Nodes by health.
    pub unknown: usize,
    /// Active island warnings.
    pub warnings: usize,
    /// Candidates in all.
    pub candidates: usize,
    /// Candidates known valid.
    pub valid_candidates: usize,
}

/// The cluster verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every node ok, no warning.
    Ok,
    /// Some node degraded, or not probed yet, or a shard conflict.
    Degraded,
    /// Some node down, an island without a master, split brain, or a connection string whose
    /// `target_session_attrs` no host satisfies.
    Down,
}

impl Verdict {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Degraded => "degraded",
            Verdict::Down => "down",
        }
    }
}

impl Snapshot {
    /// An empty snapshot before the first config is applied.
    pub fn empty(path: PathBuf, settings: ProbeSettings, at: DateTime<Utc>) -> Self {
        Snapshot {
            generated_at: at,
            config: ConfigStatus {
                path,
                generation: 0,
                loaded_at: None,
                last_error: None,
            },
            settings,
            islands: Vec::new(),
            events: VecDeque::new(),
            behind_schedule: None,
            history: History::default(),
            usage: Vec::new(),
            usage_enabled: true,
        }
    }

    /// Every node, island by island.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeView> {
        self.islands.iter().flat_map(|i| i.nodes.iter())
    }

    /// Counts by health.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            islands: self.islands.len(),
            ..Summary::default()
        };
        for n in self.nodes() {
            s.nodes += 1;
            match n.health {
                Health::Ok => s.ok += 1,
                Health::Degraded => s.degraded += 1,
                Health::Down => s.down += 1,
                Health::Unknown => s.unknown += 1,
            }
            s.candidates += n.candidates.len();
            s.valid_candidates += n.valid_count();
        }
        s.warnings = self.islands.iter().map(|i| i.warnings.len()).sum();
        s
    }

    /// The verdict: `down` if any node is down, an island has no master or two, or an
    /// application's string finds no host it accepts (`session_attrs_unmet`: that application
    /// cannot connect at all, an outage as much as `no_master`); `degraded` if any node is
    /// degraded or unknown or shards conflict; `ok` otherwise.
    pub fn verdict(&self) -> Verdict {
        let s = self.summary();
        let critical_warning = self
            .islands
            .iter()
            .any(|i| i.warnings.iter().any(|w| w.kind.is_critical()));
        if s.down > 0 || critical_warning {
            Verdict::Down
        } else if s.degraded > 0 || s.unknown > 0 || s.warnings > 0 {
            Verdict::Degraded
        } else {
            Verdict::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64, ok: bool) -> LatencySample {
        LatencySample {
            at: DateTime::<Utc>::UNIX_EPOCH,
            latency: Duration::from_millis(ms),
            ok,
            fell_back: false,
        }
    }

    #[test]
    fn quantiles_use_nearest_rank_over_successes_only() {
        let mut h = LatencyHistory::default();
        assert_eq!(h.p50(), None);
        for ms in 1..=20 {
            h.push(sample(ms, true));
        }
        h.push(sample(5000, false));
        assert_eq!(h.p50(), Some(Duration::from_millis(10)));
        assert_eq!(h.p95(), Some(Duration::from_millis(19)));
    }

    #[test]
    fn the_pace_reads_as_people_say_intervals() {
        let pace = Pace {
            interval: Duration::from_secs(1),
            real_p50: Duration::from_millis(1700),
            real_max: Duration::from_millis(12_400),
            samples: 400,
        };
        assert_eq!(
            pace.detail(),
            "chain probes run every 1.7 s (median; longest 12 s) instead of every 1 s: raise \
             probe.concurrency or probe.interval"
        );
        assert_eq!(seconds(Duration::from_millis(850)), "850 ms");
    }

    #[test]
    fn history_is_bounded() {
        let mut h = LatencyHistory::default();
        for ms in 0..(LATENCY_HISTORY as u64 + 5) {
            h.push(sample(ms, true));
        }
        assert_eq!(h.samples.len(), LATENCY_HISTORY);
        assert_eq!(h.samples.front().unwrap().latency, Duration::from_millis(5));
    }
}
