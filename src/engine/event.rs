//! Events: timestamped changes, as the timeline, `watch` and recordings show them.
//!
//! Serialized flat with a `type` tag: `{"at": "...", "type": "winner_changed", "island": 0, ...}`.
//! The type names are a contract with scripts: add fields, never rename.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::episodes::{EpisodeSummary, Trigger};
use super::probe::{ErrorKind, ProbeError, Role};
use super::snapshot::{CandidateState, Health, Pace, WarningKind};
use crate::secret::Fingerprint;
use crate::topology::IslandNo;

/// One change, with the (injected) wall-clock time it was seen.
///
/// Events read back from a recording (`rotascope report`) deserialize too, except `warning`
/// events, which no reader needs back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When the engine saw it.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// What changed.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A candidate as events name it: never a password, only its fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateRef {
    /// Position in the node's config order (0-based).
    pub index: usize,
    /// Login.
    pub login: String,
    /// Label from the config.
    pub label: Option<String>,
    /// Password fingerprint.
    pub fingerprint: Fingerprint,
}

/// What changed. `island` and `node` name the node concerned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A config was applied (the first one too).
    ConfigApplied {
        /// Config file.
        path: String,
        /// Generation number (1 for the first).
        generation: u64,
        /// Counts after applying.
        islands: usize,
        /// Counts after applying.
        nodes: usize,
        /// Counts after applying.
        candidates: usize,
    },
    /// The lab did something (rotated a password, stopped a node, ...): its own words.
    LabAction {
        /// What it did or is about to do.
        text: String,
    },
    /// A reload failed; the last good config keeps running.
    ConfigFailed {
        /// Config file.
        path: String,
        /// The redacted error.
        error: String,
    },
    /// A node appeared in the config.
    NodeAdded {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
    },
    /// A node left the config.
    NodeRemoved {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
    },
    /// A reload listed a new candidate for a node that was already there (a new password, a new
    /// secret). Candidates of added nodes come with `node_added` instead.
    CandidateAdded {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
        /// The new candidate.
        candidate: CandidateRef,
    },
    /// A reload no longer lists a candidate of a node that stays (an old password left the
    /// secrets). `candidate.index` is its position in the previous config.
    CandidateRemoved {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
        /// The candidate that left.
        candidate: CandidateRef,
    },
    /// A reload gave a candidate of a node that stays another label, with the same login and
    /// password (`current` became `previous`): the same credential under a new name. `candidate`
    /// is as the new config names it.
    CandidateRelabeled {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
        /// The candidate, with its new label.
        candidate: CandidateRef,
        /// Its label before.
        from_label: Option<String>,
    },
    /// A chain probe's winner differs from the previous winner.
    WinnerChanged {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
        /// Previous winner, if there was one.
        from: Option<CandidateRef>,
        /// New winner, or `None` when no candidate works any more.
        to: Option<CandidateRef>,
    },
    /// A candidate's state changed (valid ↔ invalid, unreachable, ...).
    CandidateChanged {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
        /// The candidate.
        candidate: CandidateRef,
        /// Previous state.
        from: CandidateState,
        /// New state.
        to: CandidateState,
        /// The error behind the new state, if any.
        error: Option<ProbeError>,
    },
    /// A node's role changed (failover, promotion, first probe).
    RoleChanged {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
        /// Previous role.
        from: Role,
        /// New role.
        to: Role,
    },
    /// A node's health changed.
    HealthChanged {
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
        /// Previous health.
        from: Health,
        /// New health.
        to: Health,
        /// First line of the cause, when there is one.
        cause: Option<String>,
    },
    /// An island warning was raised (`active: true`) or cleared.
    #[serde(skip_deserializing)]
    Warning {
        /// Island.
        island: IslandNo,
        /// Which warning.
        warning: WarningKind,
        /// Raised or cleared.
        active: bool,
        /// Human detail (node names, shard name).
        detail: String,
    },
    /// A cluster-level warning (`behind_schedule`) was raised or cleared: a `warning` event like
    /// the island ones, without `island`, with the measured figures (`interval_ms`,
    /// `real_p50_ms`, `real_max_ms`, `samples`).
    #[serde(rename = "warning", skip_deserializing)]
    ClusterWarning {
        /// Which warning.
        warning: WarningKind,
        /// Raised or cleared.
        active: bool,
        /// Human detail.
        detail: String,
        /// The figures when it was raised or cleared.
        #[serde(flatten)]
        pace: Pace,
    },
    /// A rotation episode began (`engine/episodes.rs`): a candidate that had worked was refused
    /// on `node`, or a reload changed the secret set (`candidate` is the first one changed).
    RotationStarted {
        /// Episode number within the engine's run.
        episode: u64,
        /// What started it.
        trigger: Trigger,
        /// Island of the first node concerned.
        island: IslandNo,
        /// The first node concerned.
        node: String,
        /// The first credential concerned (`index` is not meaningful here: 0).
        candidate: CandidateRef,
    },
    /// A rotation episode ended: its summary, flat (`episode`, `trigger`, `started`, `ended`,
    /// `outcome`, `changed`, `nodes_total`, `nodes_degraded`, `outages`, `failed_auths`, `nodes`).
    RotationFinished(Box<EpisodeSummary>),
    /// A login became safe to revoke (`engine/usage.rs`): its replacement is valid on every node
    /// that lists it, and it has had no session on any of them for `[usage] quiet_for`.
    SafeToRevoke {
        /// The login.
        login: String,
        /// Since when it has had no session anywhere.
        #[serde(serialize_with = "opt_rfc3339")]
        idle_since: Option<DateTime<Utc>>,
        /// Nodes that list it.
        nodes: usize,
    },
    /// A login that was safe to revoke is not any more: a session appeared, its replacement
    /// failed somewhere, or a node's sessions became unknown.
    NoLongerSafeToRevoke {
        /// The login.
        login: String,
        /// Why, one line each (`1/db-b: 2 sessions`, `0/db-a: no valid replacement`).
        reasons: Vec<String>,
    },
}

impl EventKind {
    /// The node whose state this event changes (listed, a candidate, the winner, role or health),
    /// as island and name; `None` for cluster-wide events and for episodes (a `rotation_started`
    /// names the node that triggered it, but changes nothing of it).
    pub fn node(&self) -> Option<(IslandNo, &str)> {
        match self {
            EventKind::NodeAdded { island, node }
            | EventKind::NodeRemoved { island, node }
            | EventKind::CandidateAdded { island, node, .. }
            | EventKind::CandidateRemoved { island, node, .. }
            | EventKind::CandidateRelabeled { island, node, .. }
            | EventKind::WinnerChanged { island, node, .. }
            | EventKind::CandidateChanged { island, node, .. }
            | EventKind::RoleChanged { island, node, .. }
            | EventKind::HealthChanged { island, node, .. } => Some((*island, node.as_str())),
            _ => None,
        }
    }
}

/// One probe attempt, for `watch --probes`: streamed, never kept in the snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeRecord {
    /// When the probe finished.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// Island.
    pub island: IslandNo,
    /// Node name.
    pub node: String,
    /// Candidate index in config order.
    pub index: usize,
    /// Candidate login.
    pub login: String,
    /// Candidate password fingerprint.
    pub fingerprint: Fingerprint,
    /// Candidate label from the config.
    pub label: Option<String>,
    /// Chain probe or audit.
    pub mode: ProbeMode,
    /// `ok`, or the error kind.
    pub outcome: ProbeRecordOutcome,
    /// How long the probe took.
    #[serde(rename = "latency_ms", serialize_with = "millis")]
    pub latency: Duration,
}

/// Why a probe ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeMode {
    /// Part of a chain probe.
    Chain,
    /// Part of an audit.
    Audit,
}

/// `ok` or an error kind, serialized as one string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ProbeRecordOutcome {
    /// Success, serialized as `"ok"`.
    #[serde(serialize_with = "ok_str")]
    Ok,
    /// The failure's kind.
    Failed(ErrorKind),
}

/// Everything the engine streams: events, and probe records for those who ask.
#[derive(Clone, Debug, PartialEq)]
pub enum Feed {
    /// A change.
    Event(Event),
    /// One probe attempt.
    Probe(ProbeRecord),
}

fn ok_str<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("ok")
}

/// RFC 3339 with milliseconds and `Z`, the one timestamp format of every output.
pub fn rfc3339<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// [`rfc3339`] for an optional time.
pub fn opt_rfc3339<S: serde::Serializer>(
    at: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, s),
        None => s.serialize_none(),
    }
}

/// Milliseconds as a float with microsecond precision, the one latency format of every output.
pub fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(duration_ms(*d))
}

/// A duration in milliseconds, rounded to microseconds.
pub fn duration_ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_flat_with_a_type_tag() {
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = Event {
            at,
            kind: EventKind::RoleChanged {
                island: IslandNo(1),
                node: "db-b".into(),
                from: Role::Replica,
                to: Role::Master,
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"at": "2026-11-28T10:00:00.000Z", "type": "role_changed",
                "island": 1, "node": "db-b", "from": "replica", "to": "master"})
        );
    }

    #[test]
    fn behind_schedule_is_a_warning_event_without_an_island() {
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let pace = Pace {
            interval: Duration::from_secs(1),
            real_p50: Duration::from_millis(1700),
            real_max: Duration::from_millis(3250),
            samples: 812,
        };
        let e = Event {
            at,
            kind: EventKind::ClusterWarning {
                warning: WarningKind::BehindSchedule,
                active: true,
                detail: pace.detail(),
                pace,
            },
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"at": "2026-11-28T10:00:00.000Z", "type": "warning",
                "warning": "behind_schedule", "active": true, "detail": pace.detail(),
                "interval_ms": 1000.0, "real_p50_ms": 1700.0, "real_max_ms": 3250.0,
                "samples": 812})
        );
    }

    #[test]
    fn probe_records_say_ok_or_the_kind() {
        let at = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut r = ProbeRecord {
            at,
            island: IslandNo(0),
            node: "a".into(),
            index: 1,
            login: "app".into(),
            fingerprint: Fingerprint::with_key(b"test", "pw"),
            label: None,
            mode: ProbeMode::Chain,
            outcome: ProbeRecordOutcome::Ok,
            latency: Duration::from_micros(4250),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["outcome"], "ok");
        assert_eq!(v["latency_ms"], 4.25);
        r.outcome = ProbeRecordOutcome::Failed(ErrorKind::AuthFailed);
        assert_eq!(serde_json::to_value(&r).unwrap()["outcome"], "auth_failed");
    }
}
