//! `/metrics` of `rotascope serve`: a pure function of a snapshot and the feed's [`Tally`],
//! written through the `prometheus-client` crate in the Prometheus text format (0.0.4) or
//! OpenMetrics 1.0, whichever the scraper prefers ([`Exposition::negotiate`]).
//!
//! Every series carries the instance's `shard` (`"K/N"`, `"0/1"` without `--shard`). Names,
//! labels and the series each one adds (the README lists the same):
//!
//! | metric | type | labels | series |
//! | --- | --- | --- | --- |
//! | `rotascope_build_info` | gauge (1) | `version` | 1 |
//! | `rotascope_verdict` | one-hot gauge | `verdict` = ok, degraded, down | 3 |
//! | `rotascope_islands` | gauge | | 1 |
//! | `rotascope_config_generation` | gauge | | 1 |
//! | `rotascope_config_last_reload_successful` | gauge 0/1 | | 1 |
//! | `rotascope_config_last_reload_success_timestamp_seconds` | gauge | | 1 |
//! | `rotascope_config_reloads_total` | counter | | 1 |
//! | `rotascope_config_reload_failures_total` | counter | | 1 |
//! | `rotascope_warning` | gauge 0/1 | `warning` = behind_schedule | 1 |
//! | `rotascope_island_warning` | gauge (1) | `island`, `warning` = no_master, split_brain, shard_conflict | 1 per active warning |
//! | `rotascope_node_health` | one-hot gauge | `island`, `node`, `health` = ok, degraded, down, unknown | 4 per node |
//! | `rotascope_node_role` | state set | `island`, `node`, `role` = master, replica | 2 per node |
//! | `rotascope_node_winner` | gauge (1) | `island`, `node`, `login`, `label`, `fingerprint` | 1 per node with a winner |
//! | `rotascope_replica_lag_bytes` | gauge | `island`, `node` | 1 per replica with a known lag |
//! | `rotascope_candidate_valid` | gauge 1/0 | `island`, `node`, `login`, `label`, `fingerprint` | ≤ 1 per candidate |
//! | `rotascope_probes_total` | counter | `mode` = chain, audit; `outcome` = ok or an error kind | 32 |
//! | `rotascope_probe_duration_seconds` | histogram | `mode`, `outcome` | 16 per (mode, outcome) seen |
//! | `rotascope_auth_failures_total` | counter | `mode`, `login` | 2 per login |
//! | `rotascope_usage_enabled` | gauge 0/1 | | 1 |
//! | `rotascope_login_sessions` | gauge | `island`, `node`, `login` | 1 per (node, login) with a known count |
//! | `rotascope_login_safe_to_revoke` | gauge 0/1 | `login` | 1 per login |
//! | `rotascope_feed_lagged_total` | counter | | 1 |
//! | `rotascope_rotations_total` | counter | `outcome` = completed, timed_out | 2 |
//! | `rotascope_rotation_outages_total` | counter | | 1 |
//! | `rotascope_rotation_in_progress` | gauge 0/1 | | 1 |
//! | `rotascope_rotation_last_end_timestamp_seconds` | gauge | | 1 after the first episode |
//! | `rotascope_rotation_last_degraded_seconds` | gauge | | 1 after the first episode |
//! | `rotascope_rotation_last_outages` | gauge | | 1 after the first episode |
//!
//! Decisions:
//! - Gauges of 0 and 1, every state listed, stand for OpenMetrics state sets, which
//!   `prometheus-client` cannot write; they read the same in PromQL. Health and the verdict are
//!   one-hot (exactly one state at 1). Role is a set of two, `master` and `replica`, both 0 while
//!   the role is unknown (before a first successful probe): a third series per node for a state
//!   that lasts seconds would cost more than it tells (the size budget below).
//! - Island warnings are series while active (1) and absent otherwise, like the `warning` events
//!   that raise and clear them: three zeros per island would be most of their bytes.
//! - Size: at 1,000 nodes × 2 candidates in 500 islands, named like `db-0042-a`, `/metrics` is
//!   0.93 MB and renders in about 3 ms of CPU (`benches/metrics.rs`); every further byte of a
//!   node name adds about 9.5 bytes per node (its name is on every node and candidate series).
//! - `rotascope_candidate_valid` is 1 when the candidate logged in the last time it was tried, 0
//!   when the server refused it (`invalid`), and absent while its validity is unknown (never
//!   tried, or the node was unreachable or failed first): a down node is not a rejected secret.
//! - The winner is one series per node (`rotascope_node_winner`, labelled with the winning
//!   candidate) rather than a 0/1 per candidate: half the series, and it changes only when the
//!   winner does.
//! - Failed authentications count probes whose outcome is `auth_failed` (SQLSTATE class 28: bad
//!   password, unknown role), by mode and login: `mode="chain"` is what an application would
//!   have met on reconnect (the figure a rotation must keep near zero); `mode="audit"` failures of
//!   a stale secret are expected while a rotation is under way.
//! - `rotascope_config_reloads_total` counts applied reloads (the generation less the first);
//!   failures come from `config_failed` events, which the reload task publishes once per distinct
//!   failure (a file that stays broken counts once; `last_reload_successful` stays 0).
//! - Counters come from the feed; if the metrics task ever falls behind the engine, the items it
//!   missed are counted in `rotascope_feed_lagged_total` (the other counters then undercount).
//! - Never a password and never a connection string: nodes are named by their name (the redacted
//!   connection string unless the config names them), candidates by login, label and fingerprint.
//!   Causes and error messages are not exported (unbounded text; they are in `/snapshot`).
//! - Rotation episodes: `rotascope_rotations_total` and `rotascope_rotation_outages_total` count
//!   `rotation_finished` events since start (counters must never go down, so they cannot come
//!   from the bounded history); the in-progress gauge and the `rotascope_rotation_last_*` gauges
//!   describe the open and the latest finished episode from the engine's history.
//! - Sessions per login (`engine/usage.rs`) are one series per node and login of its candidates
//!   (at most 32 logins a node: the probe asks about no more), absent while unknown (not
//!   measured yet, node down); never per application name or client address, which are
//!   unbounded: those are in `/snapshot`. Readiness is one series per login. With
//!   `[usage] enabled = false` neither family has a series and `rotascope_usage_enabled` is 0,
//!   so a dashboard can tell "not counted" from "no data yet".

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::engine::probe::Role;
use crate::engine::snapshot::{
    CandidateState, CandidateView, Health, NodeView, Verdict, WarningKind,
};
use crate::engine::Snapshot;
use crate::shard::Shard;

pub mod tally;

pub use tally::Tally;

/// A metric family: what `# HELP` and `# TYPE` say.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// The name without the unit and `_total` suffixes (the encoder adds them).
    pub base: &'static str,
    /// `# HELP`.
    pub help: &'static str,
    /// Seconds or bytes, when the value has a unit.
    pub unit: Option<FamilyUnit>,
    /// Gauge, counter or histogram.
    pub kind: Kind,
}

/// The units rotascope's metrics use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyUnit {
    /// `_seconds`.
    Seconds,
    /// `_bytes`.
    Bytes,
}

/// Metric types rotascope's metrics use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down (one-hot sets included).
    Gauge,
    /// A count since the process started.
    Counter,
    /// Durations in buckets.
    Histogram,
}

impl Family {
    const fn new(base: &'static str, kind: Kind, help: &'static str) -> Family {
        Family {
            base,
            help,
            unit: None,
            kind,
        }
    }

    const fn with_unit(self, unit: FamilyUnit) -> Family {
        Family {
            unit: Some(unit),
            ..self
        }
    }

    /// The name queries use: base, unit, and `_total` for counters (histograms by their base
    /// name; `_bucket`, `_sum` and `_count` follow from it).
    pub fn name(&self) -> String {
        let unit = match self.unit {
            Some(FamilyUnit::Seconds) => "_seconds",
            Some(FamilyUnit::Bytes) => "_bytes",
            None => "",
        };
        let total = if self.kind == Kind::Counter {
            "_total"
        } else {
            ""
        };
        format!("{}{unit}{total}", self.base)
    }

    fn unit(&self) -> Option<Unit> {
        self.unit.map(|u| match u {
            FamilyUnit::Seconds => Unit::Seconds,
            FamilyUnit::Bytes => Unit::Bytes,
        })
    }

    fn metric_type(&self) -> MetricType {
        match self.kind {
            Kind::Gauge => MetricType::Gauge,
            Kind::Counter => MetricType::Counter,
            Kind::Histogram => MetricType::Histogram,
        }
    }
}

const BUILD_INFO: Family = Family::new(
    "rotascope_build_info",
    Kind::Gauge,
    "The running rotascope (always 1).",
);
const VERDICT: Family = Family::new(
    "rotascope_verdict",
    Kind::Gauge,
    "The verdict over this instance's islands, one-hot: ok, degraded, down (as `check` exits).",
);
const ISLANDS: Family = Family::new(
    "rotascope_islands",
    Kind::Gauge,
    "Islands this instance probes (its shard of the config).",
);
const GENERATION: Family = Family::new(
    "rotascope_config_generation",
    Kind::Gauge,
    "Generation of the applied config (1 for the first; +1 per applied reload).",
);
const RELOAD_OK: Family = Family::new(
    "rotascope_config_last_reload_successful",
    Kind::Gauge,
    "1 when the latest reload succeeded; 0 while the last good config runs after a failed one.",
);
const RELOAD_TIME: Family = Family::new(
    "rotascope_config_last_reload_success_timestamp",
    Kind::Gauge,
    "When the applied config was loaded (Unix time).",
)
.with_unit(FamilyUnit::Seconds);
const RELOADS: Family = Family::new(
    "rotascope_config_reloads",
    Kind::Counter,
    "Reloads applied since start (the first config not counted).",
);
const RELOAD_FAILURES: Family = Family::new(
    "rotascope_config_reload_failures",
    Kind::Counter,
    "Reloads that failed since start (the last good config kept running).",
);
const WARNING: Family = Family::new(
    "rotascope_warning",
    Kind::Gauge,
    "Cluster-level warnings, 1 while active (behind_schedule: chain probes run late).",
);
const ISLAND_WARNING: Family = Family::new(
    "rotascope_island_warning",
    Kind::Gauge,
    "Active island warnings (1; absent when inactive): no_master, split_brain, shard_conflict.",
);
const NODE_HEALTH: Family = Family::new(
    "rotascope_node_health",
    Kind::Gauge,
    "Node health, one-hot: ok, degraded (some candidate refused), down, unknown (not probed).",
);
const NODE_ROLE: Family = Family::new(
    "rotascope_node_role",
    Kind::Gauge,
    "Node role from its winning probe: master or replica at 1 (both 0 while unknown).",
);
const NODE_WINNER: Family = Family::new(
    "rotascope_node_winner",
    Kind::Gauge,
    "The candidate a node is reached with (1; absent while no candidate works).",
);
const REPLICA_LAG: Family = Family::new(
    "rotascope_replica_lag",
    Kind::Gauge,
    "Bytes a replica's replay trails its island master's current WAL position.",
)
.with_unit(FamilyUnit::Bytes);
const CANDIDATE_VALID: Family = Family::new(
    "rotascope_candidate_valid",
    Kind::Gauge,
    "1: logged in when last tried; 0: refused by the server; absent while unknown.",
);
const PROBES: Family = Family::new(
    "rotascope_probes",
    Kind::Counter,
    "Probes (one login attempt each) by mode and outcome (ok or the error kind).",
);
const PROBE_DURATION: Family = Family::new(
    "rotascope_probe_duration",
    Kind::Histogram,
    "How long probes took, by mode and outcome.",
)
.with_unit(FamilyUnit::Seconds);
const AUTH_FAILURES: Family = Family::new(
    "rotascope_auth_failures",
    Kind::Counter,
    "Probes refused at authentication (auth_failed) by mode and login; chain = what apps meet.",
);
const USAGE_ENABLED: Family = Family::new(
    "rotascope_usage_enabled",
    Kind::Gauge,
    "1: sessions per login are counted; 0: [usage] enabled = false, no rotascope_login_* series.",
);
const LOGIN_SESSIONS: Family = Family::new(
    "rotascope_login_sessions",
    Kind::Gauge,
    "Sessions of a login on a node, rotascope's own excluded (absent while unknown).",
);
const SAFE_TO_REVOKE: Family = Family::new(
    "rotascope_login_safe_to_revoke",
    Kind::Gauge,
    "1: the login is safe to revoke (replacement valid everywhere, no session for quiet_for).",
);
const FEED_LAGGED: Family = Family::new(
    "rotascope_feed_lagged",
    Kind::Counter,
    "Engine feed items the metrics missed by falling behind (counters undercount by as many).",
);

const ROTATIONS: Family = Family::new(
    "rotascope_rotations",
    Kind::Counter,
    "Rotation episodes that ended since start, by outcome: completed, timed_out.",
);
const ROTATION_OUTAGES: Family = Family::new(
    "rotascope_rotation_outages",
    Kind::Counter,
    "Nodes left without any working candidate during a finished rotation episode (keep at 0).",
);
const ROTATION_IN_PROGRESS: Family = Family::new(
    "rotascope_rotation_in_progress",
    Kind::Gauge,
    "1 while a rotation episode is open (a credential refused or the secret set changed).",
);
const ROTATION_LAST_END: Family = Family::new(
    "rotascope_rotation_last_end_timestamp",
    Kind::Gauge,
    "When the latest finished rotation episode ended (Unix time; absent before the first).",
)
.with_unit(FamilyUnit::Seconds);
const ROTATION_LAST_DEGRADED: Family = Family::new(
    "rotascope_rotation_last_degraded",
    Kind::Gauge,
    "The longest degraded window of any node in the latest finished rotation episode.",
)
.with_unit(FamilyUnit::Seconds);
const ROTATION_LAST_OUTAGES: Family = Family::new(
    "rotascope_rotation_last_outages",
    Kind::Gauge,
    "Nodes without any working candidate during the latest finished rotation episode.",
);

/// Every family rotascope exports, in the order `/metrics` writes them. Tests hold the
/// dashboard, the alert rules and the README to this list.
pub const FAMILIES: [Family; 28] = [
    BUILD_INFO,
    VERDICT,
    ISLANDS,
    GENERATION,
    RELOAD_OK,
    RELOAD_TIME,
    RELOADS,
    RELOAD_FAILURES,
    WARNING,
    ISLAND_WARNING,
    NODE_HEALTH,
    NODE_ROLE,
    NODE_WINNER,
    REPLICA_LAG,
    CANDIDATE_VALID,
    PROBES,
    PROBE_DURATION,
    AUTH_FAILURES,
    USAGE_ENABLED,
    LOGIN_SESSIONS,
    SAFE_TO_REVOKE,
    FEED_LAGGED,
    ROTATIONS,
    ROTATION_OUTAGES,
    ROTATION_IN_PROGRESS,
    ROTATION_LAST_END,
    ROTATION_LAST_DEGRADED,
    ROTATION_LAST_OUTAGES,
];

/// The names queries use, one per family ([`Family::name`]).
pub fn metric_names() -> Vec<String> {
    FAMILIES.iter().map(Family::name).collect()
}

/// A text exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// The Prometheus text format, version 0.0.4 (what every scraper reads).
    Prometheus,
    /// OpenMetrics 1.0 text (`# EOF` at the end, `# UNIT` lines, counters named without
    /// `_total` in `# TYPE`).
    OpenMetrics,
}

impl Exposition {
    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Exposition::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format an `Accept` header prefers: the media range with the highest `q` among
    /// `application/openmetrics-text` (OpenMetrics) and `text/plain`, `text/*`, `*/*` (the
    /// Prometheus format), the first of equals winning; the Prometheus format without a header
    /// or a match.
    pub fn negotiate(accept: Option<&str>) -> Exposition {
        let mut best: Option<(f32, Exposition)> = None;
        for range in accept.unwrap_or_default().split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or_default().trim();
            let format = if media.eq_ignore_ascii_case("application/openmetrics-text") {
                Exposition::OpenMetrics
            } else if ["text/plain", "text/*", "*/*"]
                .iter()
                .any(|m| media.eq_ignore_ascii_case(m))
            {
                Exposition::Prometheus
            } else {
                continue;
            };
            let q = params
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(0.0));
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, format));
            }
        }
        best.map_or(Exposition::Prometheus, |(_, f)| f)
    }
}

/// The `/metrics` body for `snapshot` and `tally`, every series labelled with `shard`.
pub fn render(snapshot: Arc<Snapshot>, tally: Tally, shard: Shard, format: Exposition) -> String {
    let mut registry =
        Registry::with_labels([("shard".into(), shard.to_string().into())].into_iter());
    registry.register_collector(Box::new(View { snapshot, tally }));
    let mut out = String::new();
    let written = match format {
        Exposition::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
        Exposition::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    // Writing to a String cannot fail, and our label sets are well formed.
    written.expect("encoding metrics into a String");
    out
}

/// What one scrape shows.
#[derive(Debug)]
struct View {
    snapshot: Arc<Snapshot>,
    tally: Tally,
}

/// A label value: our own text, foreign text, or a number (island numbers, written without an
/// allocation).
#[derive(Clone, Copy)]
enum Value<'a> {
    Text(&'a str),
    /// Node names, logins and labels come from a config or a secrets source: control and
    /// bidirectional characters are written as visible escapes ([`crate::text::sanitize`]), so
    /// `curl /metrics` on a terminal is as harmless as the table. The exposition format itself
    /// escapes `\`, `"` and newlines.
    Foreign(&'a str),
    Number(u32),
}

impl EncodeLabelValue for Value<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        match self {
            Value::Text(t) => EncodeLabelValue::encode(t, encoder),
            Value::Foreign(t) => EncodeLabelValue::encode(&crate::text::sanitize(t), encoder),
            Value::Number(n) => EncodeLabelValue::encode(n, encoder),
        }
    }
}

type Label<'a> = (&'static str, Value<'a>);

const HEALTHS: [Health; 4] = [Health::Ok, Health::Degraded, Health::Down, Health::Unknown];
/// `unknown` is no state of its own: both 0 (see the module docs).
const ROLES: [Role; 2] = [Role::Master, Role::Replica];
const VERDICTS: [Verdict; 3] = [Verdict::Ok, Verdict::Degraded, Verdict::Down];

/// One metric family: its descriptor, then each sample through `samples`.
fn family(
    e: &mut DescriptorEncoder,
    f: &Family,
    samples: impl FnOnce(&mut MetricEncoder) -> fmt::Result,
) -> fmt::Result {
    let unit = f.unit();
    let mut m = e.encode_descriptor(f.base, f.help, unit.as_ref(), f.metric_type())?;
    samples(&mut m)
}

fn gauge<const N: usize>(m: &mut MetricEncoder, labels: [Label; N], v: i64) -> fmt::Result {
    m.encode_family(&labels)?.encode_gauge(&v)
}

fn counter<const N: usize>(m: &mut MetricEncoder, labels: [Label; N], v: u64) -> fmt::Result {
    m.encode_family(&labels)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn text(s: &str) -> Value<'_> {
    Value::Text(s)
}

fn foreign(s: &str) -> Value<'_> {
    Value::Foreign(s)
}

impl Collector for View {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let s = &*self.snapshot;
        let t = &self.tally;
        family(&mut e, &BUILD_INFO, |m| {
            gauge(m, [("version", text(env!("CARGO_PKG_VERSION")))], 1)
        })?;
        let verdict = s.verdict();
        family(&mut e, &VERDICT, |m| {
            VERDICTS.iter().try_for_each(|v| {
                gauge(m, [("verdict", text(v.as_str()))], i64::from(*v == verdict))
            })
        })?;
        family(&mut e, &ISLANDS, |m| {
            m.encode_gauge(&(s.islands.len() as i64))
        })?;
        family(&mut e, &GENERATION, |m| {
            m.encode_gauge(&s.config.generation)
        })?;
        family(&mut e, &RELOAD_OK, |m| {
            m.encode_gauge(&i64::from(s.config.last_error.is_none()))
        })?;
        if let Some(at) = s.config.loaded_at {
            family(&mut e, &RELOAD_TIME, |m| {
                m.encode_gauge(&(at.timestamp_millis() as f64 / 1000.0))
            })?;
        }
        family(&mut e, &RELOADS, |m| {
            let applied = s.config.generation.saturating_sub(1);
            m.encode_counter::<NoLabelSet, _, u64>(&applied, None)
        })?;
        family(&mut e, &RELOAD_FAILURES, |m| {
            m.encode_counter::<NoLabelSet, _, u64>(&t.reload_failures, None)
        })?;
        family(&mut e, &WARNING, |m| {
            let behind = WarningKind::BehindSchedule.as_str();
            gauge(
                m,
                [("warning", text(behind))],
                i64::from(s.behind_schedule.is_some()),
            )
        })?;
        family(&mut e, &ISLAND_WARNING, |m| {
            s.islands.iter().try_for_each(|i| {
                i.warnings.iter().try_for_each(|w| {
                    let labels = [
                        ("island", Value::Number(i.no.0)),
                        ("warning", text(w.kind.as_str())),
                    ];
                    gauge(m, labels, 1)
                })
            })
        })?;
        self.encode_nodes(&mut e)?;
        self.encode_probes(&mut e)?;
        self.encode_usage(&mut e)?;
        family(&mut e, &FEED_LAGGED, |m| {
            m.encode_counter::<NoLabelSet, _, u64>(&t.lagged, None)
        })?;
        self.encode_rotation_episodes(&mut e)
    }
}

impl View {
    /// Every node with its island number, island by island.
    fn nodes(&self) -> impl Iterator<Item = (u32, &NodeView)> {
        let islands = self.snapshot.islands.iter();
        islands.flat_map(|i| i.nodes.iter().map(move |n| (i.no.0, n)))
    }

    /// Node and candidate families.
    fn encode_nodes(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        family(e, &NODE_HEALTH, |m| {
            self.nodes().try_for_each(|(no, n)| {
                HEALTHS.iter().try_for_each(|h| {
                    let labels = node(no, n, ("health", text(h.as_str())));
                    gauge(m, labels, i64::from(n.health == *h))
                })
            })
        })?;
        family(e, &NODE_ROLE, |m| {
            self.nodes().try_for_each(|(no, n)| {
                ROLES.iter().try_for_each(|r| {
                    let labels = node(no, n, ("role", text(r.as_str())));
                    gauge(m, labels, i64::from(n.role == *r))
                })
            })
        })?;
        let mut fp = String::with_capacity(8);
        family(e, &NODE_WINNER, |m| {
            self.nodes()
                .try_for_each(|(no, n)| match n.winner.and_then(|w| n.candidates.get(w)) {
                    Some(c) => gauge(m, candidate(no, n, c, &mut fp)?, 1),
                    None => Ok(()),
                })
        })?;
        family(e, &REPLICA_LAG, |m| {
            self.nodes().try_for_each(|(no, n)| {
                let Some(lag) = n.replication.and_then(|r| r.lag_bytes) else {
                    return Ok(());
                };
                let labels = [
                    ("island", Value::Number(no)),
                    ("node", foreign(&n.key.name)),
                ];
                gauge(m, labels, i64::try_from(lag).unwrap_or(i64::MAX))
            })
        })?;
        family(e, &CANDIDATE_VALID, |m| {
            self.nodes().try_for_each(|(no, n)| {
                n.candidates.iter().try_for_each(|c| {
                    let valid = match c.state {
                        CandidateState::Valid => 1,
                        CandidateState::Invalid => 0,
                        // Untested, unreachable, skipped: validity unknown, no sample.
                        _ => return Ok(()),
                    };
                    gauge(m, candidate(no, n, c, &mut fp)?, valid)
                })
            })
        })
    }

    /// Rotation episodes: counters from the feed (monotonic since start), the open episode and
    /// the latest finished one from the engine's history (which a `[state] file` carries over a
    /// restart).
    fn encode_rotation_episodes(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let t = &self.tally;
        let history = &self.snapshot.history;
        family(e, &ROTATIONS, |m| {
            tally::EPISODE_OUTCOMES
                .iter()
                .zip(t.rotations)
                .try_for_each(|(o, n)| {
                    let labels = [("outcome", text(tally::episode_outcome_name(*o)))];
                    counter(m, labels, n)
                })
        })?;
        family(e, &ROTATION_OUTAGES, |m| {
            m.encode_counter::<NoLabelSet, _, u64>(&t.rotation_outages, None)
        })?;
        family(e, &ROTATION_IN_PROGRESS, |m| {
            m.encode_gauge(&i64::from(history.open_episode().is_some()))
        })?;
        // Families are always declared; their one sample only once an episode has finished.
        let last = history.episodes().next_back();
        family(e, &ROTATION_LAST_END, |m| match last {
            Some(l) => m.encode_gauge(&(l.ended.timestamp_millis() as f64 / 1000.0)),
            None => Ok(()),
        })?;
        family(e, &ROTATION_LAST_DEGRADED, |m| match last {
            Some(l) => m.encode_gauge(&l.longest_degraded().as_secs_f64()),
            None => Ok(()),
        })?;
        family(e, &ROTATION_LAST_OUTAGES, |m| match last {
            Some(l) => m.encode_gauge(&(l.outages as i64)),
            None => Ok(()),
        })
    }

    /// Sessions per login and node, and each login's readiness to be revoked.
    fn encode_usage(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        family(e, &USAGE_ENABLED, |m| {
            m.encode_gauge(&i64::from(self.snapshot.usage_enabled))
        })?;
        family(e, &LOGIN_SESSIONS, |m| {
            self.nodes().try_for_each(|(no, n)| {
                n.usage.iter().try_for_each(|u| match u.sessions() {
                    Some(count) => {
                        gauge(m, node(no, n, ("login", foreign(&u.login))), count.into())
                    }
                    None => Ok(()),
                })
            })
        })?;
        family(e, &SAFE_TO_REVOKE, |m| {
            self.snapshot.usage.iter().try_for_each(|l| {
                gauge(
                    m,
                    [("login", foreign(&l.login))],
                    i64::from(l.safe_to_revoke),
                )
            })
        })
    }

    /// Probe counters, durations and failed authentications.
    fn encode_probes(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let t = &self.tally;
        let by_outcome = || {
            tally::MODES.iter().enumerate().flat_map(|(mi, mode)| {
                (0..tally::OUTCOMES).map(move |oi| (mi, tally::mode_name(*mode), oi))
            })
        };
        family(e, &PROBES, |m| {
            by_outcome().try_for_each(|(mi, mode, oi)| {
                let labels = [
                    ("mode", text(mode)),
                    ("outcome", text(tally::outcome_name(oi))),
                ];
                counter(m, labels, t.probes[mi][oi].count)
            })
        })?;
        family(e, &PROBE_DURATION, |m| {
            by_outcome().try_for_each(|(mi, mode, oi)| {
                let d = &t.probes[mi][oi];
                if d.count == 0 {
                    return Ok(());
                }
                let bounds = tally::DURATION_BUCKETS.iter().chain([&f64::INFINITY]);
                let buckets: Vec<(f64, u64)> =
                    bounds.copied().zip(d.buckets.iter().copied()).collect();
                let labels = [
                    ("mode", text(mode)),
                    ("outcome", text(tally::outcome_name(oi))),
                ];
                m.encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(d.sum, d.count, &buckets, None)
            })
        })?;
        family(e, &AUTH_FAILURES, |m| {
            let logins: BTreeSet<&str> = (self.snapshot.nodes())
                .flat_map(|n| n.candidates.iter().map(|c| c.login.as_str()))
                .collect();
            tally::MODES.iter().try_for_each(|mode| {
                logins.iter().try_for_each(|login| {
                    let labels = [
                        ("mode", text(tally::mode_name(*mode))),
                        ("login", foreign(login)),
                    ];
                    counter(m, labels, t.auth_failures(*mode, login))
                })
            })
        })
    }
}

/// `island`, `node` and one more label.
fn node<'a>(no: u32, n: &'a NodeView, more: Label<'a>) -> [Label<'a>; 3] {
    [
        ("island", Value::Number(no)),
        ("node", foreign(&n.key.name)),
        more,
    ]
}

/// `island`, `node`, `login`, `label` and `fingerprint` (written into `fp` first).
fn candidate<'a>(
    no: u32,
    n: &'a NodeView,
    c: &'a CandidateView,
    fp: &'a mut String,
) -> Result<[Label<'a>; 5], fmt::Error> {
    fp.clear();
    write!(fp, "{}", c.fingerprint)?;
    Ok([
        ("island", Value::Number(no)),
        ("node", foreign(&n.key.name)),
        ("login", foreign(&c.login)),
        ("label", foreign(c.label.as_deref().unwrap_or_default())),
        ("fingerprint", text(fp)),
    ])
}

#[cfg(test)]
mod tests;
