//! History: what the cluster did over time, as compact intervals, in every snapshot.
//!
//! The engine folds every event it emits into one [`History`] (through [`Observed`], the
//! reducer the report uses too), and each snapshot carries a clone of it. What it keeps:
//! - per node and credential: the candidate's state over time (`valid`, `invalid`,
//!   `unreachable`, `untested`/`skipped`; `None` while not listed or not monitored);
//! - per node: health, [`Access`] (working candidate / locked out / unreachable) and the winner
//!   with why it changed ([`WinnerMark`]); failed authentications since the start, by chain
//!   probes and audits;
//! - rotation episodes: the last [`MAX_EPISODES`] finished [`EpisodeSummary`]s and the open one
//!   so far;
//! - runs: when the monitor was running (a restored `[state]` file adds earlier runs; the time
//!   between runs is a gap, never healthy time).
//!
//! **Bounds.** Time: points older than the horizon (24 h by default) go, except the one in
//! effect at its start. Memory: at most [`MAX_POINTS`] points in all (a track keeps at least
//! 256); the oldest go first. [`History::kept_from`] says from when it is complete.
//!
//! **Cost.** A track's full chunks are shared by `Arc` between the engine and every snapshot,
//! and node histories are copy-on-write: cloning a `History` is O(nodes) reference bumps, and a
//! snapshot after a probe copies only the tracks that changed (their open chunk and chunk list).
//!
//! **Reading it** (the TUI timeline, `report --live`, metrics): times are wall-clock, "now" is
//! the snapshot's `generated_at`.
//! - [`History::credentials`]: every credential seen (login, label, fingerprint), in key order;
//! - [`History::credential_cells`]: one credential across the cluster as `n` cells of a time
//!   window ([`Cell`]: valid everywhere / on some nodes / invalid everywhere / untested / gap);
//! - [`History::cluster_cells`]: per cell, whether some node was degraded, locked out or
//!   unreachable, or monitoring was off — the shading behind the rows;
//! - [`History::winner_spans`]: one node's winner over a window, with why it changed;
//! - [`History::node`]: one node's tracks, for anything else ([`Track::spans`]);
//! - [`History::episodes`], [`History::open_episode`], [`History::latest_episode`]: summaries
//!   ([`EpisodeSummary::line`] is the one-line form).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::episodes::{EpisodeSummary, FailedAuths};
use super::event::{rfc3339, CandidateRef, ProbeRecord};
use super::snapshot::{CandidateState, Health};
use crate::secret::Fingerprint;
use crate::topology::NodeKey;

pub mod cells;
mod folded;
mod observed;
pub mod saved;
pub mod track;

pub use cells::{Cell, Grid, Seen};
pub use observed::{Access, CandNow, Change, NodeNow, Observed, Why};
pub use track::{millis, time, Millis, Span, Track};

/// How far back history goes by default.
pub const HORIZON: Duration = Duration::from_secs(24 * 60 * 60);

/// The most change points kept in all.
pub const MAX_POINTS: usize = 1_000_000;

/// The fewest points a track keeps, however many tracks share [`MAX_POINTS`].
pub const MIN_TRACK_POINTS: usize = 256;

/// How many finished episodes are kept.
pub const MAX_EPISODES: usize = 256;

/// How many runs are kept (older ones go with their history).
pub const MAX_RUNS: usize = 64;

/// A credential across the cluster: a login and its password's fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredKey {
    /// Login.
    pub login: Arc<str>,
    /// Password fingerprint.
    pub fingerprint: Fingerprint,
}

impl CredKey {
    /// The credential of a candidate as events name it.
    pub fn of(c: &CandidateRef) -> CredKey {
        CredKey {
            login: Arc::from(c.login.as_str()),
            fingerprint: c.fingerprint,
        }
    }
}

/// A node's winner from some time on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WinnerMark {
    /// The winning credential, `None` when no candidate works.
    pub cred: Option<CredKey>,
    /// Why it changed to this.
    pub why: Why,
}

/// One node over time. Values are `None` while the node is not listed or not monitored.
#[derive(Clone, Debug, Default)]
pub struct NodeHistory {
    /// Health.
    pub health: Track<Option<Health>>,
    /// Whether some candidate works.
    pub access: Track<Option<Access>>,
    /// The winner.
    pub winner: Track<Option<WinnerMark>>,
    /// Each credential's candidate state on this node.
    pub candidates: BTreeMap<CredKey, Track<Option<CandidateState>>>,
    /// Failed authentications since the history began.
    pub failed_auths: FailedAuths,
}

impl NodeHistory {
    fn tracks(&self) -> usize {
        3 + self.candidates.len()
    }
}

/// One stretch of time the monitor ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// When it started.
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    /// When it ended; `None` while running.
    #[serde(
        serialize_with = "crate::engine::event::opt_rfc3339",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub end: Option<DateTime<Utc>>,
}

/// Per cell of a window: what the cluster's nodes went through (the shading behind the rows).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterCell {
    /// Some node was degraded (or down).
    pub degraded: bool,
    /// Some node had no working candidate, every one refused.
    pub locked_out: bool,
    /// Some node could not be reached.
    pub unreachable: bool,
    /// The monitor was not running for some of it.
    pub gap: bool,
}

/// The history (see the module docs). Cheap to clone.
#[derive(Clone, Debug)]
pub struct History {
    horizon: Duration,
    max_points: usize,
    nodes: Arc<BTreeMap<NodeKey, Arc<NodeHistory>>>,
    credentials: Arc<BTreeMap<CredKey, Option<String>>>,
    episodes: Arc<VecDeque<Arc<EpisodeSummary>>>,
    open: Option<Arc<EpisodeSummary>>,
    runs: Arc<Vec<Run>>,
    /// Time before which something was dropped (the horizon or the memory bound).
    kept_from: Option<Millis>,
    /// Tracks of every node (the point cap is shared by them), kept as they are added.
    tracks: usize,
    /// Each credential folded across the nodes, made when first read and replaced when one of
    /// its tracks changes (see [`folded`]).
    folded_creds: Arc<BTreeMap<CredKey, folded::Lazy<folded::Credential>>>,
    /// Health and access folded across the nodes, likewise.
    folded_cluster: folded::Lazy<ClusterFold>,
}

/// [`History::cluster_cells`]'s folds: health (bit 1: degraded or down) and access (bit 1: locked
/// out, bit 2: unreachable).
#[derive(Clone, Debug, Default)]
struct ClusterFold {
    health: folded::Points,
    access: folded::Points,
}

impl Default for History {
    fn default() -> Self {
        History::new(HORIZON, MAX_POINTS)
    }
}

impl History {
    /// An empty history keeping `horizon` and at most `max_points` points.
    pub fn new(horizon: Duration, max_points: usize) -> Self {
        History {
            horizon,
            max_points,
            nodes: Arc::default(),
            credentials: Arc::default(),
            episodes: Arc::default(),
            open: None,
            runs: Arc::default(),
            kept_from: None,
            tracks: 0,
            folded_creds: Arc::default(),
            folded_cluster: folded::Lazy::default(),
        }
    }

    // ---- reading -------------------------------------------------------------------------

    /// When the monitor ran, oldest first.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// The earliest time the history is complete from: before it, points were dropped (or the
    /// first run had not started).
    pub fn kept_from(&self) -> Option<DateTime<Utc>> {
        let first_run = self.runs.first().map(|r| millis(r.start));
        match (self.kept_from, first_run) {
            (Some(a), Some(b)) => Some(time(a.max(b))),
            (a, b) => a.or(b).map(time),
        }
    }

    /// Every credential seen, with its latest label, in key order (login, then fingerprint).
    pub fn credentials(&self) -> impl Iterator<Item = (&CredKey, Option<&str>)> {
        self.credentials.iter().map(|(k, l)| (k, l.as_deref()))
    }

    /// Every node seen, in key order.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeKey, &NodeHistory)> {
        self.nodes.iter().map(|(k, n)| (k, &**n))
    }

    /// One node's history.
    pub fn node(&self, key: &NodeKey) -> Option<&NodeHistory> {
        self.nodes.get(key).map(|n| &**n)
    }

    /// Finished episodes, oldest first (at most [`MAX_EPISODES`]).
    pub fn episodes(&self) -> impl DoubleEndedIterator<Item = &EpisodeSummary> {
        self.episodes.iter().map(|e| &**e)
    }

    /// The open episode so far (its `ended` is the snapshot time, its outcome not final).
    pub fn open_episode(&self) -> Option<&EpisodeSummary> {
        self.open.as_deref()
    }

    /// The latest finished episode.
    pub fn latest_episode(&self) -> Option<&EpisodeSummary> {
        self.episodes.back().map(|e| &**e)
    }

    /// One credential across the cluster as `n` cells over `[from, to)`: each cell folds the
    /// candidate states of every node listing it during the cell ([`Seen::cell`]); time the
    /// monitor was not running is [`Cell::Gap`] unless some state was seen in the same cell.
    pub fn credential_cells(
        &self,
        cred: &CredKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
    ) -> Vec<Cell> {
        let grid = Grid {
            from: millis(from),
            to: millis(to),
            n,
        };
        let mut seen = vec![Seen::default(); n];
        let paint = |seen: &mut [Seen], c: &folded::Credential| {
            for (a, b, bits) in folded::stretches(&c.points, grid.from, grid.to) {
                if bits != 0 {
                    grid.paint(seen, a, b, Seen(bits));
                }
            }
        };
        match self.folded_creds.get(cred) {
            Some(lazy) => paint(
                &mut seen,
                &lazy.get(grid.from, |s| self.fold_credential(cred, s)),
            ),
            None => paint(&mut seen, &self.fold_credential(cred, grid.from)),
        }
        self.paint_gaps(&grid, &mut seen);
        seen.into_iter().map(Seen::cell).collect()
    }

    /// Per cell of `[from, to)`: degraded, locked-out or unreachable nodes, and gaps.
    pub fn cluster_cells(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: usize,
    ) -> Vec<ClusterCell> {
        let grid = Grid {
            from: millis(from),
            to: millis(to),
            n,
        };
        let mut cells = vec![ClusterCell::default(); n];
        let fold = self.folded_cluster.get(grid.from, |since| ClusterFold {
            health: folded::fold(self.nodes.values().map(|n| &n.health), since, |h| {
                u8::from(matches!(h, Some(Health::Degraded | Health::Down)))
            }),
            access: folded::fold(self.nodes.values().map(|n| &n.access), since, |a| match a {
                Some(Access::LockedOut) => 1,
                Some(Access::Unreachable) => 2,
                _ => 0,
            }),
        });
        for (a, b, bits) in folded::stretches(&fold.health, grid.from, grid.to) {
            if bits != 0 {
                for c in &mut cells[grid.cells(a, b)] {
                    c.degraded = true;
                }
            }
        }
        for (a, b, bits) in folded::stretches(&fold.access, grid.from, grid.to) {
            for c in &mut cells[grid.cells(a, b)] {
                c.locked_out |= bits & 1 != 0;
                c.unreachable |= bits & 2 != 0;
            }
        }
        let mut gaps = vec![Seen::default(); n];
        self.paint_gaps(&grid, &mut gaps);
        for (c, g) in cells.iter_mut().zip(gaps) {
            c.gap = g.has(Seen::GAP);
        }
        cells
    }

    /// One node's winner over `[from, to)`.
    pub fn winner_spans(
        &self,
        node: &NodeKey,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Span<Option<WinnerMark>>> {
        self.node(node)
            .map(|n| n.winner.spans(millis(from), millis(to)))
            .unwrap_or_default()
    }

    /// Marks [`Seen::GAP`] where no run covers the grid (before the first run included).
    fn paint_gaps(&self, grid: &Grid, cells: &mut [Seen]) {
        let mut covered_to = grid.from;
        for r in self.runs.iter() {
            let start = millis(r.start);
            let end = r.end.map_or(grid.to, millis);
            if start > covered_to {
                grid.paint(cells, covered_to, start, Seen::GAP);
            }
            covered_to = covered_to.max(end);
        }
        if covered_to < grid.to {
            grid.paint(cells, covered_to, grid.to, Seen::GAP);
        }
    }

    // ---- recording (the engine's journal, a restored state file) --------------------------

    /// The history these events make, as the engine would record them, in one run starting at
    /// `start` (fixtures and tests: a timeline drawn from a list of events).
    pub fn from_events<'a>(
        start: DateTime<Utc>,
        events: impl IntoIterator<Item = &'a super::event::Event>,
    ) -> History {
        let mut h = History::default();
        h.start_run(start);
        let mut observed = Observed::default();
        let mut changes = Vec::new();
        for e in events {
            changes.clear();
            observed.apply(e, &mut changes);
            for c in &changes {
                h.record(e.at, c);
            }
            if let super::event::EventKind::RotationFinished(s) = &e.kind {
                h.record_episode((**s).clone());
            }
        }
        h
    }

    /// The monitor started running at `at`.
    pub fn start_run(&mut self, at: DateTime<Utc>) {
        let runs = Arc::make_mut(&mut self.runs);
        if let Some(last) = runs.last_mut() {
            // A run left open (a crash before it was saved as ended) ended by now at the latest.
            last.end.get_or_insert(at);
        }
        runs.push(Run {
            start: at,
            end: None,
        });
        if runs.len() > MAX_RUNS {
            runs.remove(0);
        }
    }

    /// The first time any node's track of `cred` starts (listed or not), if one has.
    pub fn credential_first_at(&self, cred: &CredKey) -> Option<DateTime<Utc>> {
        // Any fold knows it: the first point of each track is read whatever the fold's start.
        let first = match self.folded_creds.get(cred) {
            Some(lazy) => {
                lazy.get(Millis::MAX, |s| self.fold_credential(cred, s))
                    .first_at
            }
            None => self.fold_credential(cred, Millis::MAX).first_at,
        };
        first.map(time)
    }

    fn fold_credential(&self, cred: &CredKey, since: Millis) -> folded::Credential {
        let tracks = || self.nodes.values().filter_map(|n| n.candidates.get(cred));
        folded::Credential {
            points: folded::fold(tracks(), since, |s| s.map_or(0, |s| Seen::of(s).0)),
            first_at: tracks().filter_map(|t| t.first_at()).min(),
        }
    }

    /// Forgets every fold (each is made again when next read): after a change to every track.
    fn refold_all(&mut self) {
        let keys = self
            .nodes
            .values()
            .flat_map(|n| n.candidates.keys())
            .chain(self.credentials.keys());
        self.folded_creds = Arc::new(keys.map(|k| (k.clone(), Default::default())).collect());
        self.folded_cluster = Default::default();
    }

    /// The monitor stopped at `at`: every value becomes unknown from then on.
    pub fn end_run(&mut self, at: DateTime<Utc>) {
        if let Some(last) = Arc::make_mut(&mut self.runs).last_mut() {
            last.end.get_or_insert(at);
        }
        let at = millis(at);
        let nodes = Arc::make_mut(&mut self.nodes);
        for node in nodes.values_mut() {
            let node = Arc::make_mut(node);
            node.health.push(at, None);
            node.access.push(at, None);
            node.winner.push(at, None);
            for t in node.candidates.values_mut() {
                t.push(at, None);
            }
        }
        self.refold_all();
    }

    /// Records one change seen at `at`.
    pub fn record(&mut self, at: DateTime<Utc>, change: &Change) {
        let ms = millis(at);
        let keep_from = ms - i64::try_from(self.horizon.as_millis()).unwrap_or(i64::MAX);
        let cap = self.track_cap();
        let node_key = match change {
            Change::Listed { node, .. }
            | Change::Candidate { node, .. }
            | Change::Relabeled { node, .. }
            | Change::Health { node, .. }
            | Change::Winner { node, .. }
            | Change::Access { node, .. } => node,
        };
        if let Change::Candidate {
            cred,
            label,
            to: Some(_),
            ..
        }
        | Change::Relabeled { cred, label, .. } = change
        {
            if self.credentials.get(cred) != Some(label) {
                Arc::make_mut(&mut self.credentials).insert(cred.clone(), label.clone());
            }
        }
        match change {
            Change::Candidate { cred, .. } => {
                Arc::make_mut(&mut self.folded_creds).insert(cred.clone(), Default::default());
            }
            Change::Listed { .. } | Change::Health { .. } | Change::Access { .. } => {
                self.folded_cluster = Default::default();
            }
            Change::Winner { .. } | Change::Relabeled { .. } => {}
        }
        let nodes = Arc::make_mut(&mut self.nodes);
        let node = Arc::make_mut(nodes.entry(node_key.clone()).or_insert_with(|| {
            self.tracks += 3;
            Arc::default()
        }));
        // The oldest point left in a track that lost some.
        let trimmed = |t: &mut dyn Trim| {
            (t.trim_to(keep_from, cap) > 0)
                .then(|| t.oldest())
                .flatten()
        };
        let oldest = match change {
            Change::Listed { listed, .. } => {
                node.health.push(ms, listed.then_some(Health::Unknown));
                node.access.push(ms, listed.then_some(Access::Unknown));
                if !listed {
                    node.winner.push(ms, None);
                }
                trimmed(&mut node.health).max(trimmed(&mut node.access))
            }
            Change::Candidate { cred, to, .. } => {
                let t = node.candidates.entry(cred.clone()).or_insert_with(|| {
                    self.tracks += 1;
                    Track::default()
                });
                t.push(ms, *to);
                trimmed(t)
            }
            Change::Health { to, .. } => {
                node.health.push(ms, Some(*to));
                trimmed(&mut node.health)
            }
            Change::Winner { to, why, .. } => {
                node.winner.push(
                    ms,
                    Some(WinnerMark {
                        cred: to.clone(),
                        why: *why,
                    }),
                );
                trimmed(&mut node.winner)
            }
            Change::Access { to, .. } => {
                node.access.push(ms, Some(*to));
                trimmed(&mut node.access)
            }
            // The credential's label, recorded above, is all it changes.
            Change::Relabeled { .. } => None,
        };
        if let Some(at) = oldest {
            self.kept_from = Some(self.kept_from.map_or(at, |k| k.max(at)));
        }
    }

    /// Counts a probe record's failed authentication on its node.
    pub fn count_probe(&mut self, record: &ProbeRecord) {
        let key = NodeKey {
            island: record.island,
            name: Arc::from(record.node.as_str()),
        };
        let mut counted = FailedAuths::default();
        counted.count(record);
        if counted.total() == 0 {
            return;
        }
        if let Some(node) = Arc::make_mut(&mut self.nodes).get_mut(&key) {
            Arc::make_mut(node).failed_auths.count(record);
        }
    }

    /// Records a finished episode.
    pub fn record_episode(&mut self, summary: EpisodeSummary) {
        let episodes = Arc::make_mut(&mut self.episodes);
        episodes.push_back(Arc::new(summary));
        if episodes.len() > MAX_EPISODES {
            episodes.pop_front();
        }
        self.open = None;
    }

    /// Sets the open episode's summary so far (`None`: no episode open).
    pub fn set_open_episode(&mut self, summary: Option<EpisodeSummary>) {
        self.open = summary.map(Arc::new);
    }

    /// The per-track point cap: [`MAX_POINTS`] shared by every track, at least
    /// [`MIN_TRACK_POINTS`].
    fn track_cap(&self) -> usize {
        (self.max_points / self.tracks.max(1)).max(MIN_TRACK_POINTS)
    }
}

/// Trimming any track, whatever its value type.
trait Trim {
    fn trim_to(&mut self, keep_from: Millis, cap: usize) -> usize;
    fn oldest(&self) -> Option<Millis>;
}

impl<T: Clone + PartialEq> Trim for Track<T> {
    fn trim_to(&mut self, keep_from: Millis, cap: usize) -> usize {
        self.trim(keep_from, cap)
    }
    fn oldest(&self) -> Option<Millis> {
        self.first_at()
    }
}

#[cfg(test)]
mod tests;
