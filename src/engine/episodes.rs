//! Rotation episodes: the engine notices a rotation begin and follows it to its end.
//!
//! **Start** (when no episode is open): a candidate that had been working (or unreachable) is
//! refused on some node — a password changed in the database — or a reload adds or removes a
//! candidate — the secret set changed. A candidate stale from the first config on (never valid,
//! refused at its first try) starts nothing: no rotation was seen.
//!
//! **End**: every node listed is `ok` again and every candidate of theirs has been tried (a new
//! secret counts once it was tested, not when it is merely listed), and it stays so for the
//! settle time (1.2 × the longer of `probe.interval` and `probe.audit_interval`: long enough for
//! every candidate to be tried again) — `completed`, ended at the moment it became so. A
//! candidate's validity is only as fresh as its last try: without the settle time, a database
//! switch seen first by an audit of the new password would look settled until the next chain
//! probe found the old one refused. Or [`EPISODE_TIMEOUT`] after the start — `timed_out` (a
//! stale secret, or a node that stays down). One episode at a time: a rotation that begins
//! while another is open is part of it.
//!
//! Both ends are events, `rotation_started` and `rotation_finished`; the latter carries the
//! [`EpisodeSummary`]: which credentials changed, per node its degraded window, the time it had
//! no working candidate (an outage: every candidate refused) or could not be reached, and the
//! failed authentications chain probes and audits caused.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::event::{rfc3339, CandidateRef, EventKind, ProbeMode, ProbeRecord, ProbeRecordOutcome};
use super::history::{Access, Change, CredKey, Observed};
use super::probe::ErrorKind;
use super::snapshot::{CandidateState, Health};
use crate::secret::Fingerprint;
use crate::topology::{IslandNo, NodeKey};

/// How long an episode may stay open.
pub const EPISODE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The most credential changes one summary lists (the rest are counted).
pub const MAX_CHANGES: usize = 64;

/// The most windows of one kind one node's entry lists (the rest are counted in the time).
pub const MAX_WINDOWS: usize = 32;

/// What started an episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A candidate that had worked was refused: a password changed in the database.
    CandidateRefused,
    /// A reload added or removed a candidate: the secret set changed.
    SecretsChanged,
}

/// How an episode ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every node ok again, every candidate tried.
    Completed,
    /// Still not settled after [`EPISODE_TIMEOUT`].
    TimedOut,
}

/// What happened to a credential during an episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Refused after having worked (its password changed in the database).
    Refused,
    /// Left the config.
    Removed,
    /// Added to the config.
    Added,
}

/// A credential that changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialChange {
    /// Login.
    pub login: String,
    /// Label from the config.
    pub label: Option<String>,
    /// Fingerprint.
    pub fingerprint: Fingerprint,
    /// What happened to it.
    pub change: ChangeKind,
}

/// A stretch of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start.
    #[serde(serialize_with = "rfc3339")]
    pub from: DateTime<Utc>,
    /// End.
    #[serde(serialize_with = "rfc3339")]
    pub to: DateTime<Utc>,
    /// True when it had not ended yet (cut at the end of the episode or the record).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ongoing: bool,
}

impl Window {
    /// Its length.
    pub fn duration(&self) -> Duration {
        (self.to - self.from).to_std().unwrap_or_default()
    }
}

/// Failed authentications (`auth_failed`), by what caused them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAuths {
    /// By chain probes.
    pub chain: u64,
    /// By audits.
    pub audit: u64,
}

impl FailedAuths {
    /// Both together.
    pub fn total(&self) -> u64 {
        self.chain + self.audit
    }

    /// Counts one probe record, when it is a failed authentication.
    pub fn count(&mut self, record: &ProbeRecord) {
        if record.outcome == ProbeRecordOutcome::Failed(ErrorKind::AuthFailed) {
            match record.mode {
                ProbeMode::Chain => self.chain += 1,
                ProbeMode::Audit => self.audit += 1,
            }
        }
    }

    fn add(&mut self, other: FailedAuths) {
        self.chain += other.chain;
        self.audit += other.audit;
    }
}

/// One node during an episode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEpisode {
    /// Island.
    pub island: IslandNo,
    /// Node name.
    pub node: String,
    /// From the first time it was not ok to the last time it was ok again.
    pub degraded: Option<Window>,
    /// How long it was not ok in all.
    #[serde(rename = "degraded_ms")]
    pub degraded_ms: u64,
    /// When it had no working candidate, every one refused.
    pub outages: Vec<Window>,
    /// When it could not be reached.
    pub unreachable: Vec<Window>,
    /// Failed authentications on it.
    pub failed_auths: FailedAuths,
}

/// The summary `rotation_finished` carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeSummary {
    /// Episode number within the engine's run (1, 2, ...).
    pub episode: u64,
    /// What started it.
    pub trigger: Trigger,
    /// When it started.
    #[serde(serialize_with = "rfc3339")]
    pub started: DateTime<Utc>,
    /// When it ended.
    #[serde(serialize_with = "rfc3339")]
    pub ended: DateTime<Utc>,
    /// How it ended.
    pub outcome: Outcome,
    /// Credentials that changed (at most [`MAX_CHANGES`]).
    pub changed: Vec<CredentialChange>,
    /// Nodes listed at the end, and those that took part and left before it (a failover's old
    /// master), so `nodes_degraded` is never more than this.
    pub nodes_total: usize,
    /// Nodes that were not ok at some time during it.
    pub nodes_degraded: usize,
    /// Nodes that were without a working candidate at some time during it.
    pub outages: usize,
    /// Failed authentications in all.
    pub failed_auths: FailedAuths,
    /// Nodes that were degraded, had an outage or failed authentications, in key order.
    pub nodes: Vec<NodeEpisode>,
}

impl EpisodeSummary {
    /// The logins that changed, each once, in order.
    pub fn logins(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.changed {
            if !out.contains(&c.login.as_str()) {
                out.push(&c.login);
            }
        }
        out
    }

    /// The longest degraded time of a node.
    pub fn longest_degraded(&self) -> Duration {
        let ms = self.nodes.iter().map(|n| n.degraded_ms).max().unwrap_or(0);
        Duration::from_millis(ms)
    }

    /// How long it lasted.
    pub fn duration(&self) -> Duration {
        (self.ended - self.started).to_std().unwrap_or_default()
    }

    /// What it did, in one line for people (times are the caller's to add, in its zone):
    /// `app_a changed, 4/4 nodes degraded 6 s, 0 outages, 4 failed auths`.
    pub fn outcome_text(&self) -> String {
        let logins = self.logins();
        let what = if logins.is_empty() {
            "no credential changed".to_owned()
        } else {
            format!("{} changed", logins.join(", "))
        };
        format!(
            "{what}, {}/{} nodes degraded {}, {}, {}{}",
            self.nodes_degraded,
            self.nodes_total,
            super::snapshot::span_text(self.longest_degraded()),
            crate::text::plural(self.outages, "outage"),
            crate::text::plural(self.failed_auths.total() as usize, "failed auth"),
            match self.outcome {
                Outcome::Completed => "",
                Outcome::TimedOut => " (timed out)",
            }
        )
    }
}

/// One node while an episode is open.
#[derive(Clone, Debug, Default)]
struct NodeTrack {
    first_degraded: Option<DateTime<Utc>>,
    last_ok: Option<DateTime<Utc>>,
    degraded_since: Option<DateTime<Utc>>,
    degraded_ms: u64,
    outages: Vec<Window>,
    outage_since: Option<DateTime<Utc>>,
    unreachable: Vec<Window>,
    unreachable_since: Option<DateTime<Utc>>,
    failed: FailedAuths,
}

impl NodeTrack {
    fn health(&mut self, at: DateTime<Utc>, to: Health) {
        let bad = matches!(to, Health::Degraded | Health::Down);
        match (bad, self.degraded_since) {
            (true, None) => {
                self.degraded_since = Some(at);
                self.first_degraded.get_or_insert(at);
            }
            (false, Some(since)) => {
                self.degraded_ms += ms(since, at);
                self.degraded_since = None;
                self.last_ok = Some(at);
            }
            _ => {}
        }
    }

    fn access(&mut self, at: DateTime<Utc>, to: Access) {
        close(
            &mut self.outages,
            &mut self.outage_since,
            at,
            to != Access::LockedOut,
        );
        close(
            &mut self.unreachable,
            &mut self.unreachable_since,
            at,
            to != Access::Unreachable,
        );
        match to {
            Access::LockedOut => {
                self.outage_since.get_or_insert(at);
            }
            Access::Unreachable => {
                self.unreachable_since.get_or_insert(at);
            }
            _ => {}
        }
    }

    fn touched(&self) -> bool {
        self.first_degraded.is_some()
            || !self.outages.is_empty()
            || self.outage_since.is_some()
            || self.failed.total() > 0
    }

    fn had_outage(&self) -> bool {
        !self.outages.is_empty() || self.outage_since.is_some()
    }

    fn summary(&self, key: &NodeKey, end: DateTime<Utc>) -> NodeEpisode {
        let mut outages = self.outages.clone();
        let mut unreachable = self.unreachable.clone();
        let cut = |list: &mut Vec<Window>, since: Option<DateTime<Utc>>| {
            if let Some(from) = since {
                if list.len() < MAX_WINDOWS {
                    list.push(Window {
                        from,
                        to: end,
                        ongoing: true,
                    });
                }
            }
        };
        cut(&mut outages, self.outage_since);
        cut(&mut unreachable, self.unreachable_since);
        let degraded_ms = self.degraded_ms + self.degraded_since.map_or(0, |since| ms(since, end));
        NodeEpisode {
            island: key.island,
            node: key.name.to_string(),
            degraded: self.first_degraded.map(|from| Window {
                from,
                to: if self.degraded_since.is_some() {
                    end
                } else {
                    self.last_ok.unwrap_or(end)
                },
                ongoing: self.degraded_since.is_some(),
            }),
            degraded_ms,
            outages,
            unreachable,
            failed_auths: self.failed,
        }
    }
}

/// Closes the open window `since` at `at` when `ends`.
fn close(list: &mut Vec<Window>, since: &mut Option<DateTime<Utc>>, at: DateTime<Utc>, ends: bool) {
    if !ends {
        return;
    }
    if let Some(from) = since.take() {
        if list.len() < MAX_WINDOWS {
            list.push(Window {
                from,
                to: at,
                ongoing: false,
            });
        }
    }
}

fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_milliseconds()).unwrap_or(0)
}

/// The open episode.
#[derive(Debug)]
struct Open {
    episode: u64,
    trigger: Trigger,
    started: DateTime<Utc>,
    deadline: Instant,
    changed: BTreeMap<(CredKey, ChangeKind), Option<String>>,
    more_changes: usize,
    nodes: BTreeMap<NodeKey, NodeTrack>,
    /// Since when every node is ok and every candidate tried (wall clock, tokio time).
    settled: Option<(DateTime<Utc>, Instant)>,
}

/// Follows episodes (see the module docs). The journal feeds it every change and probe record;
/// it answers with the events to emit.
#[derive(Debug, Default)]
pub(crate) struct Detector {
    last: u64,
    open: Option<Open>,
    /// How long an episode must stay settled to end.
    settle: Duration,
}

impl Detector {
    /// True while an episode is open.
    pub(crate) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Sets the settle time from the probe settings in force.
    pub(crate) fn set_settle(&mut self, interval: Duration, audit_interval: Duration) {
        self.settle = interval.max(audit_interval).mul_f64(1.2);
    }

    /// When [`Detector::tick`] may end the open episode (settled long enough, or timed out).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.open.as_ref().map(|o| match o.settled {
            Some((_, since)) => o.deadline.min(since + self.settle),
            None => o.deadline,
        })
    }

    /// Takes the changes one event made (`observed` is the state after it); returns the
    /// `rotation_started` or `rotation_finished` to emit, if any.
    pub(crate) fn observe(
        &mut self,
        at: DateTime<Utc>,
        changes: &[Change],
        observed: &Observed,
        now: Instant,
    ) -> Option<EventKind> {
        let mut started = None;
        if self.open.is_none() {
            let trigger = changes.iter().find_map(trigger);
            if let Some((trigger, node, cred, label)) = trigger {
                self.last += 1;
                let mut nodes = BTreeMap::new();
                // Nodes not ok already are degraded from the start of the episode.
                for (k, n) in observed.nodes() {
                    let mut t = NodeTrack::default();
                    t.health(at, n.health);
                    t.access(at, n.access);
                    nodes.insert(k.clone(), t);
                }
                self.open = Some(Open {
                    episode: self.last,
                    trigger,
                    started: at,
                    deadline: now + EPISODE_TIMEOUT,
                    changed: BTreeMap::new(),
                    more_changes: 0,
                    nodes,
                    settled: None,
                });
                started = Some(EventKind::RotationStarted {
                    episode: self.last,
                    trigger,
                    island: node.island,
                    node: node.name.to_string(),
                    candidate: CandidateRef {
                        index: 0,
                        login: cred.login.to_string(),
                        label,
                        fingerprint: cred.fingerprint,
                    },
                });
            }
        }
        let open = self.open.as_mut()?;
        for change in changes {
            open.fold(at, change);
        }
        if settled(observed) {
            open.settled.get_or_insert((at, now));
        } else {
            open.settled = None;
        }
        started
    }

    /// Counts a probe record's failed authentication into the open episode.
    pub(crate) fn probe(&mut self, record: &ProbeRecord) {
        if let Some(open) = self.open.as_mut() {
            let key = NodeKey {
                island: record.island,
                name: record.node.as_str().into(),
            };
            open.nodes.entry(key).or_default().failed.count(record);
        }
    }

    /// Ends the open episode when it has stayed settled for the settle time (ended when it
    /// became settled), or when its time is up.
    pub(crate) fn tick(
        &mut self,
        at: DateTime<Utc>,
        now: Instant,
        observed: &Observed,
    ) -> Option<EventKind> {
        let open = self.open.as_ref()?;
        match open.settled {
            Some((since, instant)) if instant + self.settle <= now => {
                Some(self.finish(since, Outcome::Completed, observed))
            }
            _ if open.deadline <= now => Some(self.finish(at, Outcome::TimedOut, observed)),
            _ => None,
        }
    }

    /// The open episode's summary so far (for the snapshot), ended at `at`.
    pub(crate) fn progress(
        &self,
        at: DateTime<Utc>,
        observed: &Observed,
    ) -> Option<EpisodeSummary> {
        self.open
            .as_ref()
            .map(|o| o.summary(at, Outcome::TimedOut, observed))
    }

    fn finish(&mut self, at: DateTime<Utc>, outcome: Outcome, observed: &Observed) -> EventKind {
        let open = self.open.take().expect("an open episode");
        EventKind::RotationFinished(Box::new(open.summary(at, outcome, observed)))
    }
}

impl Open {
    fn fold(&mut self, at: DateTime<Utc>, change: &Change) {
        match change {
            Change::Candidate {
                cred,
                label,
                from,
                to,
                by_reload,
                ..
            } => {
                let kind = match (from, to, by_reload) {
                    (_, None, true) => Some(ChangeKind::Removed),
                    (_, Some(_), true) => Some(ChangeKind::Added),
                    (Some(f), Some(CandidateState::Invalid), false) if was_working(*f) => {
                        Some(ChangeKind::Refused)
                    }
                    _ => None,
                };
                if let Some(kind) = kind {
                    let k = (cred.clone(), kind);
                    if self.changed.contains_key(&k) || self.changed.len() < MAX_CHANGES {
                        self.changed.insert(k, label.clone());
                    } else {
                        self.more_changes += 1;
                    }
                }
            }
            Change::Health { node, to, .. } => {
                self.nodes.entry(node.clone()).or_default().health(at, *to);
            }
            Change::Access { node, to, .. } => {
                self.nodes.entry(node.clone()).or_default().access(at, *to);
            }
            Change::Listed { .. } | Change::Winner { .. } | Change::Relabeled { .. } => {}
        }
    }

    fn summary(&self, end: DateTime<Utc>, outcome: Outcome, observed: &Observed) -> EpisodeSummary {
        let nodes: Vec<NodeEpisode> = self
            .nodes
            .iter()
            .filter(|(_, t)| t.touched())
            .map(|(k, t)| t.summary(k, end))
            .collect();
        let mut failed = FailedAuths::default();
        nodes.iter().for_each(|n| failed.add(n.failed_auths));
        let mut changed: Vec<CredentialChange> = self
            .changed
            .iter()
            .map(|((cred, kind), label)| CredentialChange {
                login: cred.login.to_string(),
                label: label.clone(),
                fingerprint: cred.fingerprint,
                change: *kind,
            })
            .collect();
        changed.sort_by(|a, b| (&a.login, a.change).cmp(&(&b.login, b.change)));
        let left = self
            .nodes
            .iter()
            .filter(|(k, t)| t.touched() && observed.node(k).is_none())
            .count();
        EpisodeSummary {
            episode: self.episode,
            trigger: self.trigger,
            started: self.started,
            ended: end,
            outcome,
            changed,
            nodes_total: observed.nodes().count() + left,
            nodes_degraded: nodes.iter().filter(|n| n.degraded.is_some()).count(),
            outages: self.nodes.values().filter(|t| t.had_outage()).count(),
            failed_auths: failed,
            nodes,
        }
    }
}

/// A candidate state that counts as "had been working" for a refusal to start an episode.
fn was_working(state: CandidateState) -> bool {
    matches!(
        state,
        CandidateState::Valid | CandidateState::Unreachable | CandidateState::Skipped
    )
}

/// The episode a change starts, if any: its trigger, node and credential.
fn trigger(change: &Change) -> Option<(Trigger, NodeKey, CredKey, Option<String>)> {
    match change {
        Change::Candidate {
            node,
            cred,
            label,
            by_reload: true,
            ..
        } => Some((
            Trigger::SecretsChanged,
            node.clone(),
            cred.clone(),
            label.clone(),
        )),
        Change::Candidate {
            node,
            cred,
            label,
            from: Some(from),
            to: Some(CandidateState::Invalid),
            by_reload: false,
        } if was_working(*from) => Some((
            Trigger::CandidateRefused,
            node.clone(),
            cred.clone(),
            label.clone(),
        )),
        _ => None,
    }
}

/// Every node ok, every candidate tried.
fn settled(observed: &Observed) -> bool {
    observed.nodes().all(|(_, n)| {
        n.health == Health::Ok
            && n.candidates
                .iter()
                .all(|c| !matches!(c.state, CandidateState::Untested | CandidateState::Skipped))
    })
}
