//! The `check --format json` document: typed structs borrowed from a snapshot.
//!
//! Field names are a contract with scripts (issue 3): fields may be added, never renamed.
//!
//! ```json
//! {"status": "ok|degraded|down", "generated_at": "RFC 3339",
//!  "config": {"path", "generation", "loaded_at", "last_error": {"at", "message"} | null},
//!  "islands": [{"no", "warnings": ["no_master" | "split_brain" | "session_attrs_unmet" |
//!    "shard_conflict"],
//!    "warning_details": [{"kind", "detail"}], "shards": [...] | null,
//!    "nodes": [{"name", "address", "role", "health", "health_since", "cause",
//!      "winner": {"index", "login", "label", "fingerprint"} | null, "remembered_best": ... | null,
//!      "latency_ms", "p50_ms", "p95_ms",
//!      "replication": {"current", "receive", "replay", "lag_bytes"} | null,
//!      "last_chain": {"at", "attempts": [{"index" (null once no longer listed), "outcome",
//!        "latency_ms"}]} | null,
//!      "candidates": [{"index", "login", "label", "fingerprint", "state",
//!        "error": {"kind", "sqlstate", "message"} | null, "latency_ms", "last_checked",
//!        "last_valid", "consecutive_failures", "next_audit", "address", "via",
//!        "route": "direct" | "pgbouncer" | "pooler" | null}],
//!      "usage": [{"login", "measured": {"login", "sessions", "apps": [{"name", "sessions"}],
//!        "other_apps", "detail": {"oldest_start", "client_addrs", "client_addr_count"} | null}
//!        | null, "measured_at", "zero_since", "via_pooler", "passwords", "safe_to_revoke"}]}]}],
//!  "summary": {"islands", "nodes", "ok", "degraded", "down", "unknown", "warnings",
//!    "candidates", "valid_candidates"},
//!  "warnings": ["behind_schedule"],
//!  "warning_details": [{"kind", "detail", "since", "interval_ms", "real_p50_ms", "real_max_ms",
//!    "samples"}],
//!  "usage": [{"login", "nodes", "nodes_in_use", "sessions", "nodes_unknown", "idle_since",
//!    "shared_by_passwords", "via_pooler", "safe_to_revoke", "reasons": [...]}],
//!  "usage_enabled": true | false}
//! ```
//!
//! Decisions: `warnings` lists the warning kind names (what scripts match on) and
//! `warning_details` carries the same warnings with their human detail. The top-level pair holds
//! the cluster-level warnings (`behind_schedule`, with the measured real chain interval against
//! the configured one; for `check`, the length of its one round, see the engine's `pace.rs`); it
//! does not change `status` nor `summary.warnings`, which count island warnings. Node `latency_ms` is the
//! winning probe's latency of the last chain probe, `null` without a winner. Latencies are float
//! milliseconds ([`duration_ms`]), timestamps RFC 3339 with milliseconds ([`rfc3339`]). A
//! candidate's `address` is where it connects (its node's entries may differ: a pooler's port and
//! the server's own), `via` what the config says that path goes through, `route` what its last
//! telling probe showed (`null` until one did).

use std::io::{self, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::engine::event::{duration_ms, rfc3339};
use crate::engine::probe::{ProbeError, Role, Route, WalPosition};
use crate::engine::snapshot::{
    AttemptOutcome, BehindSchedule, CandidateState, CandidateView, ChainRecord, Health, IslandView,
    IslandWarning, NodeView, Pace, Summary, Verdict, WarningKind,
};
use crate::engine::usage::{LoginUsage, NodeLoginUsage};
use crate::engine::Snapshot;
use crate::secret::Fingerprint;
use crate::topology::IslandNo;

/// The whole `check` document.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    /// The cluster verdict: `ok`, `degraded` or `down`.
    pub status: Verdict,
    /// When the snapshot was taken.
    #[serde(serialize_with = "rfc3339")]
    pub generated_at: DateTime<Utc>,
    /// The config the pass ran with.
    pub config: ConfigJson,
    /// Islands in `no` order.
    pub islands: Vec<IslandJson<'a>>,
    /// Counts.
    pub summary: Summary,
    /// Active cluster-level warning kinds (`behind_schedule`).
    pub warnings: Vec<WarningKind>,
    /// The same warnings with their detail and figures.
    pub warning_details: Vec<ClusterWarningJson>,
    /// Every login over the cluster: where it is in use, and whether it is safe to revoke.
    pub usage: &'a [LoginUsage],
    /// Sessions are counted (`[usage] enabled`). `false`: every `usage` list is empty because
    /// nothing was counted, not because no login has a session.
    pub usage_enabled: bool,
}

/// One entry of the top-level `warning_details`.
#[derive(Debug, Serialize)]
pub struct ClusterWarningJson {
    /// Which warning.
    pub kind: WarningKind,
    /// Human detail.
    pub detail: String,
    /// Since when it is active.
    #[serde(serialize_with = "rfc3339")]
    pub since: DateTime<Utc>,
    /// The measured figures (`interval_ms`, `real_p50_ms`, `real_max_ms`, `samples`).
    #[serde(flatten)]
    pub pace: Pace,
}

/// `config`.
#[derive(Debug, Serialize)]
pub struct ConfigJson {
    /// The config file path.
    pub path: String,
    /// Generation of the applied config (1 for the first).
    pub generation: u64,
    /// When it was loaded.
    #[serde(serialize_with = "opt_rfc3339")]
    pub loaded_at: Option<DateTime<Utc>>,
    /// The latest failed reload since, if any.
    pub last_error: Option<ReloadErrorJson>,
}

/// `config.last_error`.
#[derive(Debug, Serialize)]
pub struct ReloadErrorJson {
    /// When the reload failed.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// The redacted error.
    pub message: String,
}

/// One island.
#[derive(Debug, Serialize)]
pub struct IslandJson<'a> {
    /// Its number.
    pub no: IslandNo,
    /// Active warning kinds.
    pub warnings: Vec<WarningKind>,
    /// The same warnings with their human detail (`{"kind", "detail"}`).
    pub warning_details: &'a [IslandWarning],
    /// Shard schemas found, or `null` when discovery is off or not done.
    pub shards: Option<&'a [String]>,
    /// Nodes in config order.
    pub nodes: Vec<NodeJson<'a>>,
}

/// One node.
#[derive(Debug, Serialize)]
pub struct NodeJson<'a> {
    /// Node name (unique in the cluster).
    pub name: &'a str,
    /// Connection string without password.
    pub address: &'a str,
    /// `master`, `replica` or `unknown`.
    pub role: Role,
    /// `ok`, `degraded`, `down` or `unknown`.
    pub health: Health,
    /// Since when the node has had this health.
    #[serde(serialize_with = "opt_rfc3339")]
    pub health_since: Option<DateTime<Utc>>,
    /// First line of why it is not ok.
    pub cause: Option<&'a str>,
    /// The candidate the node is reached with, `null` when none works.
    pub winner: Option<CandidateBrief<'a>>,
    /// Where the next chain probe starts.
    pub remembered_best: Option<CandidateBrief<'a>>,
    /// The winning probe's latency, `null` without a winner.
    pub latency_ms: Option<f64>,
    /// Median of recent successful chain probes.
    pub p50_ms: Option<f64>,
    /// 95th percentile of recent successful chain probes.
    pub p95_ms: Option<f64>,
    /// WAL positions and lag behind the master (replicas).
    pub replication: Option<ReplicationJson>,
    /// The last chain probe, attempts in the order they ran.
    pub last_chain: Option<ChainJson>,
    /// Candidates in config order.
    pub candidates: Vec<CandidateJson<'a>>,
    /// Sessions per login of its candidates.
    pub usage: &'a [NodeLoginUsage],
}

/// A candidate named briefly (winner, remembered best).
#[derive(Debug, Serialize)]
pub struct CandidateBrief<'a> {
    /// Position in config order.
    pub index: usize,
    /// Login.
    pub login: &'a str,
    /// Label from the config.
    pub label: Option<&'a str>,
    /// Password fingerprint (tells two passwords of one login apart).
    pub fingerprint: Fingerprint,
}

/// `replication`.
#[derive(Debug, Serialize)]
pub struct ReplicationJson {
    /// LSNs (`current` on a master, `receive`/`replay` on a replica).
    #[serde(flatten)]
    pub wal: WalPosition,
    /// Bytes the replica's replay trails its master's current LSN.
    pub lag_bytes: Option<u64>,
}

/// `last_chain`.
#[derive(Debug, Serialize)]
pub struct ChainJson {
    /// When it finished.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// Attempts in order.
    pub attempts: Vec<AttemptJson>,
}

/// One attempt of the last chain probe.
#[derive(Debug, Serialize)]
pub struct AttemptJson {
    /// The candidate's position in the current config order; `null` once a reload has
    /// dropped it.
    pub index: Option<usize>,
    /// `ok`, `skipped`, or the error kind.
    pub outcome: &'static str,
    /// How long it took.
    pub latency_ms: f64,
}

/// One candidate.
#[derive(Debug, Serialize)]
pub struct CandidateJson<'a> {
    /// Position in config order (0-based).
    pub index: usize,
    /// Login.
    pub login: &'a str,
    /// Label from the config.
    pub label: Option<&'a str>,
    /// Password fingerprint.
    pub fingerprint: Fingerprint,
    /// `valid`, `invalid`, `unreachable`, `untested` or `skipped`.
    pub state: CandidateState,
    /// The last failure (`{"kind", "sqlstate", "message"}`), `null` when none.
    pub error: Option<&'a ProbeError>,
    /// Latency of its last try.
    pub latency_ms: Option<f64>,
    /// When it was last tried.
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_checked: Option<DateTime<Utc>>,
    /// When it last logged in.
    #[serde(serialize_with = "opt_rfc3339")]
    pub last_valid: Option<DateTime<Utc>>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// When its next audit is due.
    #[serde(serialize_with = "opt_rfc3339")]
    pub next_audit: Option<DateTime<Utc>>,
    /// Where it connects: its connection string without password.
    pub address: &'a str,
    /// What the config says its connection goes through (`via`), `null` when it says nothing.
    pub via: Option<&'a str>,
    /// `direct`, `pgbouncer` or `pooler`: what its last telling probe showed; `null` until one did.
    pub route: Option<Route>,
}

/// Builds the `check` document from a snapshot.
pub fn check_report(snapshot: &Snapshot) -> CheckReport<'_> {
    CheckReport {
        status: snapshot.verdict(),
        generated_at: snapshot.generated_at,
        config: ConfigJson {
            path: snapshot.config.path.display().to_string(),
            generation: snapshot.config.generation,
            loaded_at: snapshot.config.loaded_at,
            last_error: snapshot
                .config
                .last_error
                .as_ref()
                .map(|e| ReloadErrorJson {
                    at: e.at,
                    message: e.message.clone(),
                }),
        },
        islands: snapshot.islands.iter().map(island).collect(),
        summary: snapshot.summary(),
        warnings: snapshot
            .behind_schedule
            .iter()
            .map(|_| WarningKind::BehindSchedule)
            .collect(),
        warning_details: snapshot.behind_schedule.iter().map(behind).collect(),
        usage: &snapshot.usage,
        usage_enabled: snapshot.usage_enabled,
    }
}

fn behind(w: &BehindSchedule) -> ClusterWarningJson {
    ClusterWarningJson {
        kind: WarningKind::BehindSchedule,
        detail: w.pace.detail(),
        since: w.since,
        pace: w.pace,
    }
}

/// Writes the `check` document as pretty JSON followed by a newline (foreign text exact, but
/// no raw control or bidirectional characters: [`crate::text::json_safe`]).
pub fn write_check_json(out: &mut impl Write, snapshot: &Snapshot) -> io::Result<()> {
    let json = serde_json::to_string_pretty(&check_report(snapshot)).map_err(io::Error::other)?;
    out.write_all(crate::text::json_safe(json).as_bytes())?;
    out.write_all(b"\n")
}

/// The latency of the probe that produced the current winner, `None` without a winner.
pub fn winning_latency(node: &NodeView) -> Option<Duration> {
    node.winner?;
    let from_chain = node.last_chain.as_ref().and_then(|c| {
        c.attempts
            .iter()
            .find(|a| a.outcome == AttemptOutcome::Ok)
            .map(|a| a.latency)
    });
    from_chain.or_else(|| node.latency.last().filter(|s| s.ok).map(|s| s.latency))
}

fn island(i: &IslandView) -> IslandJson<'_> {
    IslandJson {
        no: i.no,
        warnings: i.warnings.iter().map(|w| w.kind).collect(),
        warning_details: &i.warnings,
        shards: i.shards.as_deref(),
        nodes: i.nodes.iter().map(node).collect(),
    }
}

fn node(n: &NodeView) -> NodeJson<'_> {
    let brief = |index: Option<usize>| {
        let c = n.candidates.get(index?)?;
        Some(CandidateBrief {
            index: c.index,
            login: &c.login,
            label: c.label.as_deref(),
            fingerprint: c.fingerprint,
        })
    };
    NodeJson {
        name: &n.key.name,
        address: &n.address,
        role: n.role,
        health: n.health,
        health_since: n.health_since,
        cause: n.cause.as_deref(),
        winner: brief(n.winner),
        remembered_best: brief(n.remembered_best),
        latency_ms: winning_latency(n).map(duration_ms),
        p50_ms: n.latency.p50().map(duration_ms),
        p95_ms: n.latency.p95().map(duration_ms),
        replication: n.replication.map(|r| ReplicationJson {
            wal: r.wal,
            lag_bytes: r.lag_bytes,
        }),
        last_chain: n.last_chain.as_ref().map(|c| chain(n, c)),
        candidates: n.candidates.iter().map(candidate).collect(),
        usage: &n.usage,
    }
}

fn chain(n: &NodeView, c: &ChainRecord) -> ChainJson {
    ChainJson {
        at: c.at,
        attempts: c
            .attempts
            .iter()
            .map(|a| AttemptJson {
                index: n.candidate(&a.candidate).map(|c| c.index),
                outcome: outcome_name(a.outcome),
                latency_ms: duration_ms(a.latency),
            })
            .collect(),
    }
}

/// The stable name of an attempt's outcome: `ok`, `skipped`, or the error kind.
pub fn outcome_name(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Ok => "ok",
        AttemptOutcome::Skipped => "skipped",
        AttemptOutcome::Failed(kind) => kind.as_str(),
    }
}

fn candidate(c: &CandidateView) -> CandidateJson<'_> {
    CandidateJson {
        index: c.index,
        login: &c.login,
        label: c.label.as_deref(),
        fingerprint: c.fingerprint,
        state: c.state,
        error: c.error.as_ref(),
        latency_ms: c.latency.map(duration_ms),
        last_checked: c.last_checked,
        last_valid: c.last_valid,
        consecutive_failures: c.consecutive_failures,
        next_audit: c.next_audit,
        address: &c.id.address,
        via: c.via.as_deref(),
        route: c.route,
    }
}

fn opt_rfc3339<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{self, LONG_NAME};
    use serde_json::{json, Value};

    fn doc(s: &Snapshot) -> Value {
        let mut out = Vec::new();
        write_check_json(&mut out, s).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"));
        serde_json::from_str(&text).unwrap()
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    /// Asserts `v` has at least the contract's keys.
    fn has_keys(v: &Value, contract: &[&str]) {
        let k = keys(v);
        for want in contract {
            assert!(k.contains(want), "missing {want:?} in {k:?}");
        }
    }

    #[test]
    fn session_counting_off_is_said_not_left_empty() {
        let v = doc(&fixtures::all_ok());
        assert_eq!(v["usage_enabled"], true);
        let mut off = fixtures::all_ok();
        off.usage_enabled = false;
        let v = doc(&off);
        assert_eq!(v["usage_enabled"], false);
        // The lists stay (empty: the engine keeps no counts while off, as tests/usage_lab.rs
        // proves on a real server): a script reading `usage` needs no special case.
        assert!(v["usage"].is_array());
        for node in v["islands"][0]["nodes"].as_array().unwrap() {
            assert!(node["usage"].is_array());
        }
    }

    #[test]
    fn every_contract_field_is_present_with_the_right_type() {
        let v = doc(&fixtures::rotation());
        has_keys(
            &v,
            &["status", "generated_at", "config", "islands", "summary"],
        );
        assert_eq!(v["status"], "down");
        assert_eq!(v["generated_at"], "2026-11-28T10:00:00.000Z");
        assert_eq!(v["config"]["path"], "/etc/rotascope/config.toml");

        for island in v["islands"].as_array().unwrap() {
            has_keys(island, &["no", "warnings", "shards", "nodes"]);
            assert!(island["no"].is_u64());
            assert!(island["warnings"].is_array());
            assert!(island["shards"].is_array() || island["shards"].is_null());
            for node in island["nodes"].as_array().unwrap() {
                has_keys(
                    node,
                    &[
                        "name",
                        "address",
                        "role",
                        "health",
                        "winner",
                        "latency_ms",
                        "candidates",
                    ],
                );
                assert!(node["name"].is_string() && node["address"].is_string());
                assert!(node["latency_ms"].is_f64() || node["latency_ms"].is_null());
                if !node["winner"].is_null() {
                    has_keys(&node["winner"], &["index", "login"]);
                    assert!(node["winner"]["index"].is_u64());
                }
                for c in node["candidates"].as_array().unwrap() {
                    has_keys(
                        c,
                        &[
                            "index",
                            "login",
                            "label",
                            "fingerprint",
                            "state",
                            "error",
                            "latency_ms",
                            "address",
                            "via",
                            "route",
                        ],
                    );
                    assert!(c["index"].is_u64());
                    assert!(c["address"].is_string());
                    assert_eq!(c["fingerprint"].as_str().unwrap().len(), 8);
                    if !c["error"].is_null() {
                        assert_eq!(keys(&c["error"]), ["kind", "message", "sqlstate"]);
                    }
                }
            }
        }
        has_keys(
            &v["summary"],
            &["nodes", "ok", "degraded", "down", "unknown", "warnings"],
        );
    }

    #[test]
    fn a_degraded_node_shows_the_switched_winner_and_the_auth_error() {
        let s = fixtures::rotation();
        let v = doc(&s);
        let db_b = &v["islands"][0]["nodes"][1];
        let b = &s.islands[0].nodes[1];
        assert_eq!(db_b["name"], "db-b");
        assert_eq!(db_b["role"], "replica");
        assert_eq!(db_b["health"], "degraded");
        assert_eq!(
            db_b["winner"],
            json!({"index": 1, "login": "app_b", "label": null,
                   "fingerprint": b.candidates[1].fingerprint.to_string()})
        );
        assert_eq!(
            db_b["latency_ms"], 5.5,
            "the winning attempt, not the failed one"
        );
        assert_eq!(db_b["replication"]["replay"], "0/3000000");
        assert_eq!(db_b["replication"]["lag_bytes"], 328);
        assert_eq!(
            db_b["last_chain"]["attempts"],
            json!([{"index": 0, "outcome": "auth_failed", "latency_ms": 3.01},
                   {"index": 1, "outcome": "ok", "latency_ms": 5.5}])
        );
        assert_eq!(
            db_b["candidates"][0],
            json!({
                "index": 0, "login": "app_a", "label": "previous",
                "fingerprint": b.candidates[0].fingerprint.to_string(),
                "state": "invalid",
                "error": {"kind": "auth_failed", "sqlstate": "28P01",
                          "message": "password authentication failed for user \"app_a\""},
                "latency_ms": 3.01,
                "last_checked": "2026-11-28T09:59:59.000Z",
                "last_valid": "2026-11-28T09:59:30.000Z",
                "consecutive_failures": 2,
                "next_audit": "2026-11-28T10:00:29.000Z",
                "address": "db-b",
                "via": null,
                "route": null,
            })
        );
        assert!(db_b["candidates"][1]["error"].is_null());
    }

    #[test]
    fn a_down_node_has_a_null_winner_and_a_node_level_error() {
        let v = doc(&fixtures::rotation());
        let island = &v["islands"][1];
        assert_eq!(island["warnings"], json!(["no_master"]));
        assert_eq!(
            island["warning_details"],
            json!([{"kind": "no_master", "detail": "no reachable node reports itself master"}])
        );
        assert!(island["shards"].is_null());
        let n = &island["nodes"][0];
        assert_eq!(n["name"], LONG_NAME);
        assert_eq!(n["health"], "down");
        assert!(n["winner"].is_null());
        assert!(n["latency_ms"].is_null());
        assert_eq!(n["remembered_best"]["index"], 0);
        assert_eq!(
            n["candidates"][0]["error"],
            json!({"kind": "refused", "sqlstate": null,
                   "message": "connection refused (os error 111)"})
        );
        assert_eq!(n["candidates"][0]["state"], "unreachable");
        assert_eq!(n["candidates"][1]["state"], "skipped");
    }

    #[test]
    fn shards_summary_and_config_status() {
        let v = doc(&fixtures::rotation());
        assert_eq!(v["islands"][0]["shards"], json!(["sh0001", "sh0002"]));
        assert_eq!(v["islands"][0]["warnings"], json!([]));
        assert_eq!(
            v["summary"],
            json!({"islands": 2, "nodes": 3, "ok": 1, "degraded": 1, "down": 1, "unknown": 0,
                   "warnings": 1, "candidates": 6, "valid_candidates": 3})
        );
        assert_eq!(v["config"]["generation"], 1);
        assert_eq!(v["config"]["loaded_at"], "2026-11-28T09:59:58.000Z");
        assert_eq!(v["config"]["last_error"]["at"], "2026-11-28T09:59:55.000Z");

        let ok = doc(&fixtures::all_ok());
        assert_eq!(ok["status"], "ok");
        assert!(ok["config"]["last_error"].is_null());
        assert_eq!(ok["islands"][0]["nodes"][0]["latency_ms"], 4.25);
        assert_eq!(
            ok["islands"][0]["nodes"][0]["replication"]["current"],
            "0/3000148"
        );
    }

    #[test]
    fn behind_schedule_is_a_top_level_warning_with_its_figures() {
        let mut s = fixtures::all_ok();
        let v = doc(&s);
        assert_eq!(
            (&v["warnings"], &v["warning_details"]),
            (&json!([]), &json!([]))
        );

        let pace = Pace {
            interval: Duration::from_secs(1),
            real_p50: Duration::from_millis(1700),
            real_max: Duration::from_millis(3250),
            samples: 812,
        };
        s.behind_schedule = Some(BehindSchedule {
            pace,
            since: fixtures::at(-30),
        });
        let v = doc(&s);
        assert_eq!(v["warnings"], json!(["behind_schedule"]));
        assert_eq!(
            v["warning_details"],
            json!([{"kind": "behind_schedule", "detail": pace.detail(),
                    "since": "2026-11-28T09:59:30.000Z", "interval_ms": 1000.0,
                    "real_p50_ms": 1700.0, "real_max_ms": 3250.0, "samples": 812}])
        );
        // the cluster is as healthy as before: the monitor is what lags
        assert_eq!(v["status"], "ok");
        assert_eq!(v["summary"]["warnings"], 0);
    }

    #[test]
    fn an_empty_snapshot_is_still_a_valid_document() {
        let s = Snapshot::empty("rotascope.toml".into(), Default::default(), fixtures::at(0));
        let v = doc(&s);
        assert_eq!(v["islands"], json!([]));
        assert_eq!(v["status"], "ok");
        assert!(v["config"]["loaded_at"].is_null());
    }

    #[test]
    fn winning_latency_falls_back_to_the_history() {
        let mut s = fixtures::all_ok();
        let n = &mut s.islands[0].nodes[0];
        n.last_chain = None;
        assert_eq!(winning_latency(n), Some(Duration::from_micros(4250)));
        n.winner = None;
        assert_eq!(winning_latency(n), None);
    }

    #[test]
    fn no_password_in_the_document() {
        let mut out = Vec::new();
        write_check_json(&mut out, &fixtures::rotation()).unwrap();
        fixtures::assert_no_password(&String::from_utf8(out).unwrap());
    }

    #[test]
    fn foreign_control_characters_stay_valid_json_with_the_exact_text() {
        let mut out = Vec::new();
        write_check_json(&mut out, &fixtures::hostile()).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Escaped, nothing raw reaches a terminal that prints the document...
        for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(!text.contains(raw), "{raw:?}");
        }
        // ...and a script gets the exact text back.
        let v: Value = serde_json::from_str(&text).unwrap();
        let error = &v["islands"][0]["nodes"][1]["candidates"][0]["error"]["message"];
        assert_eq!(
            error.as_str().unwrap(),
            format!("{}: password authentication failed", fixtures::HOSTILE)
        );
    }
}
