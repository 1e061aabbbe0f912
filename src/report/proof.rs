//! `rotascope report`: proof (or refutation) that no node was ever without a working credential.
//!
//! A [`Builder`] folds a stream of [`Input`]s — read from a `watch --record` file
//! ([`record::Reader`]) or taken live from the engine's feed (`report --live`) — into a
//! [`Proof`]: the rotation episodes, every window a node had no working candidate (an outage),
//! could not be reached, or was degraded, the gaps in monitoring, and a chart of every credential
//! over time. The same fold serves both sources, so a live report and the report of a recording
//! of the same run agree. Node and candidate states come from the reducer the engine's history
//! uses ([`Observed`]); episodes are the engine's own `rotation_started` / `rotation_finished`
//! events (the engine counts every probe; a record holds probes only with `--probes`).
//!
//! **Memory is bounded** whatever the input's size: per-node state is O(nodes × candidates); the
//! lists (windows, gaps, episodes) keep their first [`MAX_LISTED`] entries and count the rest
//! (totals stay exact); the chart has at most [`chart::COLUMNS`] columns, each covering twice as
//! much time whenever the record outgrows it.
//!
//! **Gaps.** A silence longer than two heartbeat periods plus a second ([`silence`]), a
//! `lagged` line (lines lost), and the time between two runs of `watch` (a new `config_applied`
//! of generation 1) are gaps: shown as such, never counted as healthy time. Node state carries
//! across a silence (the monitor may have kept running unrecorded), not across a restart.
//!
//! **Verdict** ([`Verdict`]): `outage` (exit 2) when some node had no working credential — every
//! candidate refused — for some time; `degraded` (exit 1) when it never happened but some node
//! was degraded, unreachable, or monitoring had gaps (the record does not prove the whole
//! span); `ok` (exit 0) otherwise. An input with no line at all proves nothing: exit 3.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::episodes::{EpisodeSummary, FailedAuths, Trigger, Window};
use crate::engine::event::{rfc3339, CandidateRef, Event, EventKind, ProbeMode};
use crate::engine::history::{millis, Access, Cell, Change, CredKey, Observed, Seen};
use crate::engine::snapshot::{CandidateState, Health};
use crate::report::Exit;
use crate::secret::Fingerprint;
use crate::topology::{IslandNo, NodeKey};

pub mod chart;
mod html;
mod markdown;
pub mod record;
mod text;

pub use html::write_html;
pub use markdown::write_markdown;
pub use record::{Input, Reader, RecordError};
pub use text::write_text;

/// How many entries each list of a proof keeps (the rest are counted).
pub const MAX_LISTED: usize = 1000;

/// The heartbeat period assumed before the first heartbeat line of a run.
pub const DEFAULT_BEAT: Duration = Duration::from_secs(10);

/// The longest silence that is not a gap, for heartbeats every `every`.
pub fn silence(every: Duration) -> Duration {
    every * 2 + Duration::from_secs(1)
}

/// The report's conclusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every node kept a working credential, was never degraded, and monitoring had no gap.
    Ok,
    /// No node was ever without a working credential, but some was degraded or unreachable, or
    /// monitoring had gaps.
    Degraded,
    /// Some node had no working credential for some time.
    Outage,
}

impl Verdict {
    /// The exit code: 0, 1, 2.
    pub fn exit(self) -> Exit {
        match self {
            Verdict::Ok => Exit::Ok,
            Verdict::Degraded => Exit::Degraded,
            Verdict::Outage => Exit::Down,
        }
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Degraded => "degraded",
            Verdict::Outage => "outage",
        }
    }
}

/// A window of one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeWindow {
    /// Island.
    pub island: IslandNo,
    /// Node name.
    pub node: String,
    /// When.
    #[serde(flatten)]
    pub window: Window,
}

/// A list that keeps its first [`MAX_LISTED`] entries and counts the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listed<T> {
    /// The entries kept, in order.
    pub items: Vec<T>,
    /// How many more there were.
    pub more: u64,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            items: Vec::new(),
            more: 0,
        }
    }
}

impl<T> Listed<T> {
    fn push(&mut self, item: T) {
        if self.items.len() < MAX_LISTED {
            self.items.push(item);
        } else {
            self.more += 1;
        }
    }

    /// Entries in all.
    pub fn total(&self) -> u64 {
        self.items.len() as u64 + self.more
    }

    /// True when there were none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.more == 0
    }
}

/// A rotation episode as the report knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Episode {
    /// Its `rotation_finished` is in the input.
    Finished(EpisodeSummary),
    /// It started, but monitoring ended (or restarted) before it finished.
    Unfinished {
        /// Episode number within its run.
        episode: u64,
        /// What started it.
        trigger: Trigger,
        /// When it started.
        #[serde(serialize_with = "rfc3339")]
        started: DateTime<Utc>,
        /// When monitoring of it ended.
        #[serde(serialize_with = "rfc3339")]
        until: DateTime<Utc>,
        /// The first node concerned.
        island: IslandNo,
        /// The first node concerned.
        node: String,
        /// The first credential concerned.
        candidate: CandidateRef,
    },
}

impl Episode {
    /// When it started.
    pub fn started(&self) -> DateTime<Utc> {
        match self {
            Episode::Finished(s) => s.started,
            Episode::Unfinished { started, .. } => *started,
        }
    }

    /// When it ended (or monitoring of it did).
    pub fn ended(&self) -> DateTime<Utc> {
        match self {
            Episode::Finished(s) => s.ended,
            Episode::Unfinished { until, .. } => *until,
        }
    }
}

/// One node's totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeTotals {
    /// Island.
    pub island: IslandNo,
    /// Node name.
    pub node: String,
    /// How long it was degraded or down.
    pub degraded_ms: u64,
    /// How many degraded windows.
    pub degraded_windows: u64,
    /// How long it had no working credential.
    pub outage_ms: u64,
    /// How long it could not be reached.
    pub unreachable_ms: u64,
    /// Failed authentications counted from probe lines (recorded with `--probes` only).
    pub failed_auths: FailedAuths,
}

/// A credential and its chart row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// Login.
    pub login: String,
    /// Latest label.
    pub label: Option<String>,
    /// Fingerprint.
    pub fingerprint: Fingerprint,
    /// Its chart cells ([`chart::Chart`] columns).
    #[serde(skip)]
    pub cells: Vec<Cell>,
}

/// What was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InputStats {
    /// Lines read.
    pub lines: u64,
    /// Events.
    pub events: u64,
    /// Probe lines.
    pub probes: u64,
    /// Heartbeats.
    pub heartbeats: u64,
    /// Runs of the monitor (starts of `watch`).
    pub runs: u64,
    /// Lines the recorder lost (`lagged`).
    pub missed: u64,
    /// Lines of types the report does not read.
    pub skipped: u64,
    /// The last line was cut short and dropped.
    pub truncated_last_line: bool,
}

/// The proof (see the module docs). Serialized as `report --format json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proof {
    /// What was read: a file path, or `live`.
    pub source: String,
    /// The conclusion.
    pub verdict: Verdict,
    /// The exit code.
    pub exit: u8,
    /// First time seen.
    #[serde(serialize_with = "crate::engine::event::opt_rfc3339")]
    pub from: Option<DateTime<Utc>>,
    /// Last time seen.
    #[serde(serialize_with = "crate::engine::event::opt_rfc3339")]
    pub to: Option<DateTime<Utc>>,
    /// Time covered by monitoring (the span less the gaps).
    pub monitored_ms: u64,
    /// Gaps in monitoring.
    pub gaps: Listed<Window>,
    /// Rotation episodes.
    pub episodes: Listed<Episode>,
    /// Windows a node had no working credential (every candidate refused).
    pub outages: Listed<NodeWindow>,
    /// Windows a node could not be reached.
    pub unreachable: Listed<NodeWindow>,
    /// Windows a node was degraded (or down).
    pub degraded: Listed<NodeWindow>,
    /// Per node totals, in key order.
    pub nodes: Vec<NodeTotals>,
    /// Credentials with their chart rows, by login and then by when each was first seen.
    pub credentials: Vec<Credential>,
    /// Credentials beyond the chart's rows.
    pub credentials_more: u64,
    /// The chart's time axis.
    pub chart: chart::Axis,
    /// Gaps per chart column.
    #[serde(skip)]
    pub chart_gaps: Vec<bool>,
    /// What was read.
    pub input: InputStats,
}

/// One node while folding.
#[derive(Debug)]
struct NodeAcc {
    totals: NodeTotals,
    degraded_since: Option<DateTime<Utc>>,
    outage_since: Option<DateTime<Utc>>,
    unreachable_since: Option<DateTime<Utc>>,
    /// Each candidate's state and since when, for the chart.
    cands: BTreeMap<CredKey, (CandidateState, DateTime<Utc>)>,
}

/// The most nodes the report follows (a hostile record could name millions).
pub const MAX_NODES: usize = 100_000;

/// Folds inputs into a [`Proof`] (see the module docs).
#[derive(Debug)]
pub struct Builder {
    source: String,
    observed: Observed,
    changes: Vec<Change>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    beat: Duration,
    gap_ms: u64,
    gaps: Listed<Window>,
    nodes: BTreeMap<NodeKey, NodeAcc>,
    outages: Listed<NodeWindow>,
    unreachable: Listed<NodeWindow>,
    degraded: Listed<NodeWindow>,
    episodes: Listed<Episode>,
    /// Episodes started and not finished in this run, by number.
    open: BTreeMap<u64, Episode>,
    labels: BTreeMap<CredKey, Option<String>>,
    chart: chart::Chart,
    stats: InputStats,
}

impl Builder {
    /// A builder for input named `source`.
    pub fn new(source: impl Into<String>) -> Self {
        Builder {
            source: source.into(),
            observed: Observed::default(),
            changes: Vec::new(),
            first: None,
            last: None,
            beat: DEFAULT_BEAT,
            gap_ms: 0,
            gaps: Listed::default(),
            nodes: BTreeMap::new(),
            outages: Listed::default(),
            unreachable: Listed::default(),
            degraded: Listed::default(),
            episodes: Listed::default(),
            open: BTreeMap::new(),
            labels: BTreeMap::new(),
            chart: chart::Chart::default(),
            stats: InputStats::default(),
        }
    }

    /// Notes that the last line was cut short.
    pub fn truncated(&mut self) {
        self.stats.truncated_last_line = true;
    }

    /// Folds in one input.
    pub fn add(&mut self, input: Input) {
        self.stats.lines += 1;
        let prev = self.last;
        // Time never runs backwards in the fold (a clock step back reads as "same time").
        let at = prev.map_or(input.at(), |p| input.at().max(p));
        let new_run = matches!(
            &input,
            Input::Event(Event {
                kind: EventKind::ConfigApplied { generation: 1, .. },
                ..
            })
        );
        self.alive(at, new_run);
        match input {
            Input::Event(event) => {
                self.stats.events += 1;
                self.event(&event, at);
            }
            Input::Heartbeat { every, .. } => {
                self.stats.heartbeats += 1;
                self.beat = every.max(Duration::from_millis(100));
            }
            Input::Probe {
                island,
                node,
                mode,
                auth_failed,
                ..
            } => {
                self.stats.probes += 1;
                let key = NodeKey {
                    island,
                    name: node.as_str().into(),
                };
                if let (true, Some(n)) = (auth_failed, self.nodes.get_mut(&key)) {
                    match mode {
                        ProbeMode::Chain => n.totals.failed_auths.chain += 1,
                        ProbeMode::Audit => n.totals.failed_auths.audit += 1,
                    }
                }
            }
            Input::Lagged { missed, .. } => {
                self.stats.missed += missed;
                // Lines were lost somewhere since the previous one: that stretch is unproven.
                if let Some(prev) = prev {
                    self.gap(prev, at);
                }
            }
            Input::Other { .. } => self.stats.skipped += 1,
        }
    }

    /// The proof; `None` when nothing was read (nothing is proven).
    pub fn finish(mut self) -> Option<Proof> {
        let end = self.last?;
        let keys: Vec<NodeKey> = self.nodes.keys().cloned().collect();
        for k in &keys {
            self.close_node(k, end, true);
        }
        let open = std::mem::take(&mut self.open);
        for (_, mut e) in open {
            if let Episode::Unfinished { until, .. } = &mut e {
                *until = end;
            }
            self.episodes.push(e);
        }
        self.episodes.items.sort_by_key(Episode::started);
        let verdict = if !self.outages.is_empty() {
            Verdict::Outage
        } else if !self.degraded.is_empty() || !self.unreachable.is_empty() || !self.gaps.is_empty()
        {
            Verdict::Degraded
        } else {
            Verdict::Ok
        };
        let first = self.first.unwrap_or(end);
        let span = u64::try_from((end - first).num_milliseconds()).unwrap_or(0);
        let axis = self.chart.axis(millis(end));
        let credentials = self
            .chart
            .rows(axis.columns)
            .map(|(cred, cells)| Credential {
                login: cred.login.to_string(),
                label: self.labels.get(cred).cloned().flatten(),
                fingerprint: cred.fingerprint,
                cells,
            })
            .collect();
        Some(Proof {
            source: self.source,
            verdict,
            exit: verdict.exit().code(),
            from: self.first,
            to: Some(end),
            monitored_ms: span.saturating_sub(self.gap_ms),
            gaps: self.gaps,
            episodes: self.episodes,
            outages: self.outages,
            unreachable: self.unreachable,
            degraded: self.degraded,
            nodes: self.nodes.into_values().map(|n| n.totals).collect(),
            credentials,
            credentials_more: self.chart.more_rows(),
            chart_gaps: self.chart.gap_columns(axis.columns),
            chart: axis,
            input: self.stats,
        })
    }

    /// Time moves to `at` (already no earlier than the last input): a silence longer than
    /// [`silence`] is a gap; a new run of the monitor ends the previous one.
    fn alive(&mut self, at: DateTime<Utc>, new_run: bool) {
        if new_run {
            self.stats.runs += 1;
        }
        let Some(last) = self.last else {
            self.first = Some(at);
            self.last = Some(at);
            self.chart.start(millis(at));
            return;
        };
        if new_run {
            self.end_run(last);
            self.beat = DEFAULT_BEAT;
            if at > last {
                self.gap(last, at);
            }
        } else if (at - last).to_std().unwrap_or_default() > silence(self.beat) {
            self.gap(last, at);
        }
        self.last = Some(at);
        self.chart.reached(millis(at));
    }

    /// The monitor stopped at `at`: what it knew ends there, and episodes it had open stay
    /// unfinished.
    fn end_run(&mut self, at: DateTime<Utc>) {
        let keys: Vec<NodeKey> = self.nodes.keys().cloned().collect();
        for k in &keys {
            self.close_node(k, at, true);
        }
        let mut changes = std::mem::take(&mut self.changes);
        changes.clear();
        self.observed.reset(&mut changes);
        for c in &changes {
            self.change(at, c);
        }
        self.changes = changes;
        for (_, mut e) in std::mem::take(&mut self.open) {
            if let Episode::Unfinished { until, .. } = &mut e {
                *until = at;
            }
            self.episodes.push(e);
        }
    }

    /// `[from, to)` was not monitored (or its lines were lost): a gap, merged with the previous
    /// one when they touch. Node windows open across it are cut at `from` and go on from `to`.
    fn gap(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) {
        if to <= from {
            return;
        }
        let extends = self
            .gaps
            .items
            .last()
            .filter(|g| g.to >= from)
            .map(|g| g.to);
        match extends {
            Some(prev_to) if self.gaps.more == 0 => {
                let g = self.gaps.items.last_mut().expect("a last gap");
                g.to = g.to.max(to);
                self.gap_ms += ms(prev_to.max(from), to);
            }
            _ => {
                self.gaps.push(Window {
                    from,
                    to,
                    ongoing: false,
                });
                self.gap_ms += ms(from, to);
            }
        }
        self.chart.paint_gap(millis(from), millis(to));
        let keys: Vec<NodeKey> = self.nodes.keys().cloned().collect();
        for k in &keys {
            let reopen = self.close_node(k, from, false);
            let n = self.nodes.get_mut(k).expect("a known node");
            let (degraded, outage, unreachable) = reopen;
            n.degraded_since = degraded.then_some(to);
            n.outage_since = outage.then_some(to);
            n.unreachable_since = unreachable.then_some(to);
            for (_, since) in n.cands.values_mut() {
                *since = to;
            }
        }
    }

    /// Closes node `k`'s open windows at `at` and paints its candidates up to it; returns which
    /// windows were open (degraded, outage, unreachable).
    fn close_node(&mut self, k: &NodeKey, at: DateTime<Utc>, ongoing: bool) -> (bool, bool, bool) {
        let Some(n) = self.nodes.get_mut(k) else {
            return (false, false, false);
        };
        let window = |from: DateTime<Utc>| NodeWindow {
            island: k.island,
            node: k.name.to_string(),
            window: Window {
                from,
                to: at,
                ongoing,
            },
        };
        let degraded = n.degraded_since.take();
        let outage = n.outage_since.take();
        let unreachable = n.unreachable_since.take();
        if let Some(from) = degraded {
            n.totals.degraded_ms += ms(from, at);
            n.totals.degraded_windows += 1;
            self.degraded.push(window(from));
        }
        if let Some(from) = outage {
            n.totals.outage_ms += ms(from, at);
            self.outages.push(window(from));
        }
        if let Some(from) = unreachable {
            n.totals.unreachable_ms += ms(from, at);
            self.unreachable.push(window(from));
        }
        for (cred, (state, since)) in &mut n.cands {
            self.chart
                .paint(cred, millis(*since), millis(at), Seen::of(*state));
            *since = at;
        }
        (degraded.is_some(), outage.is_some(), unreachable.is_some())
    }

    fn event(&mut self, event: &Event, at: DateTime<Utc>) {
        if let Some((island, name)) = event.kind.node() {
            let k = NodeKey {
                island,
                name: name.into(),
            };
            if !self.nodes.contains_key(&k) && self.nodes.len() >= MAX_NODES {
                self.stats.skipped += 1;
                return;
            }
        }
        let mut changes = std::mem::take(&mut self.changes);
        changes.clear();
        self.observed.apply(event, &mut changes);
        for c in &changes {
            self.change(at, c);
        }
        self.changes = changes;
        match &event.kind {
            EventKind::RotationStarted {
                episode,
                trigger,
                island,
                node,
                candidate,
            } => {
                self.open.insert(
                    *episode,
                    Episode::Unfinished {
                        episode: *episode,
                        trigger: *trigger,
                        started: at,
                        until: at,
                        island: *island,
                        node: node.clone(),
                        candidate: candidate.clone(),
                    },
                );
            }
            EventKind::RotationFinished(summary) => {
                self.open.remove(&summary.episode);
                self.episodes.push(Episode::Finished((**summary).clone()));
            }
            _ => {}
        }
    }

    fn change(&mut self, at: DateTime<Utc>, change: &Change) {
        match change {
            Change::Listed { node, listed } => {
                if *listed {
                    self.nodes.entry(node.clone()).or_insert_with(|| NodeAcc {
                        totals: NodeTotals {
                            island: node.island,
                            node: node.name.to_string(),
                            degraded_ms: 0,
                            degraded_windows: 0,
                            outage_ms: 0,
                            unreachable_ms: 0,
                            failed_auths: FailedAuths::default(),
                        },
                        degraded_since: None,
                        outage_since: None,
                        unreachable_since: None,
                        cands: BTreeMap::new(),
                    });
                } else {
                    self.close_node(node, at, false);
                }
            }
            Change::Candidate {
                node,
                cred,
                label,
                to,
                ..
            } => {
                // Labels are kept for the charted credentials only (bounded).
                if to.is_some() && self.chart.row(cred) {
                    self.labels.insert(cred.clone(), label.clone());
                }
                let Some(n) = self.nodes.get_mut(node) else {
                    return;
                };
                if let Some((state, since)) = n.cands.remove(cred) {
                    self.chart
                        .paint(cred, millis(since), millis(at), Seen::of(state));
                }
                if let Some(state) = to {
                    n.cands.insert(cred.clone(), (*state, at));
                }
            }
            Change::Health { node, to, .. } => {
                let bad = matches!(to, Health::Degraded | Health::Down);
                let Some(n) = self.nodes.get_mut(node) else {
                    return;
                };
                match (bad, n.degraded_since) {
                    (true, None) => n.degraded_since = Some(at),
                    (false, Some(from)) => {
                        n.degraded_since = None;
                        n.totals.degraded_ms += ms(from, at);
                        n.totals.degraded_windows += 1;
                        self.degraded.push(node_window(node, from, at));
                    }
                    _ => {}
                }
            }
            Change::Access { node, to, .. } => {
                let Some(n) = self.nodes.get_mut(node) else {
                    return;
                };
                if *to != Access::LockedOut {
                    if let Some(from) = n.outage_since.take() {
                        n.totals.outage_ms += ms(from, at);
                        self.outages.push(node_window(node, from, at));
                    }
                }
                if *to != Access::Unreachable {
                    if let Some(from) = n.unreachable_since.take() {
                        n.totals.unreachable_ms += ms(from, at);
                        self.unreachable.push(node_window(node, from, at));
                    }
                }
                match to {
                    Access::LockedOut => {
                        n.outage_since.get_or_insert(at);
                    }
                    Access::Unreachable => {
                        n.unreachable_since.get_or_insert(at);
                    }
                    _ => {}
                }
            }
            Change::Relabeled { cred, label, .. } => {
                if self.chart.row(cred) {
                    self.labels.insert(cred.clone(), label.clone());
                }
            }
            Change::Winner { .. } => {}
        }
    }
}

fn node_window(node: &NodeKey, from: DateTime<Utc>, to: DateTime<Utc>) -> NodeWindow {
    NodeWindow {
        island: node.island,
        node: node.name.to_string(),
        window: Window {
            from,
            to,
            ongoing: false,
        },
    }
}

fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_milliseconds()).unwrap_or(0)
}

/// Reads a whole record into a proof. `Ok(None)`: the record holds no line.
pub fn from_record<R: std::io::BufRead>(
    input: R,
    path: &str,
) -> Result<Option<Proof>, RecordError> {
    let mut reader = Reader::new(input, path);
    let mut builder = Builder::new(path);
    while let Some(item) = reader.next_input()? {
        builder.add(item);
    }
    if reader.truncated() {
        builder.truncated();
    }
    Ok(builder.finish())
}

/// Writes the proof as `report --format json`.
pub fn write_json<W: std::io::Write>(out: &mut W, proof: &Proof) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, proof)?;
    writeln!(out)
}

#[cfg(test)]
mod tests;
