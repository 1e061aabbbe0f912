//! `/metrics` from fixed snapshots: every family, the one-hot sets, the shard on every series,
//! OpenMetrics, negotiation, no password, foreign text made harmless.

use std::sync::Arc;

use super::*;
use crate::engine::event::ProbeMode;
use crate::engine::Feed;
use crate::report::fixtures;

fn shard() -> Shard {
    "1/3".parse().unwrap()
}

/// The rotation fixture's feed folded into a tally.
fn tally() -> Tally {
    let mut t = Tally::default();
    for item in fixtures::feed() {
        t.record(&item);
    }
    t
}

fn prometheus(s: crate::engine::Snapshot) -> String {
    render(Arc::new(s), tally(), shard(), Exposition::Prometheus)
}

/// Sample lines (not comments) whose name starts with `name` followed by `{` or a space.
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// Fingerprints differ per process (a random key), and the version moves: replaced for the
/// snapshot.
fn stable(s: &crate::engine::Snapshot, text: &str) -> String {
    let mut text = text.replace(
        &format!("version=\"{}\"", env!("CARGO_PKG_VERSION")),
        "version=\"<version>\"",
    );
    for c in s.nodes().flat_map(|n| n.candidates.iter()) {
        text = text.replace(&c.fingerprint.to_string(), "<fp>");
    }
    text
}

#[test]
fn the_rotation_fixture_in_the_prometheus_format() {
    let s = fixtures::rotation();
    let text = prometheus(s.clone());
    insta::assert_snapshot!(stable(&s, &text));
}

#[test]
fn every_series_carries_the_shard_and_every_family_is_listed() {
    let text = prometheus(fixtures::rotation());
    let mut families = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            families.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "{line}");
        assert!(line.contains("shard=\"1/3\""), "no shard: {line}");
    }
    let listed: BTreeSet<String> = metric_names().into_iter().collect();
    assert_eq!(families, listed);
}

#[test]
fn health_role_and_verdict_are_one_hot() {
    let text = prometheus(fixtures::rotation());
    let on = |name: &str, node: &str| -> Vec<String> {
        samples(&text, name)
            .into_iter()
            .filter(|l| l.contains(&format!("node=\"{node}\"")))
            .filter(|l| l.ends_with(" 1"))
            .map(str::to_owned)
            .collect()
    };
    let health = on("rotascope_node_health", "db-b");
    assert_eq!(health.len(), 1);
    assert!(health[0].contains("health=\"degraded\""), "{health:?}");
    assert_eq!(samples(&text, "rotascope_node_health").len(), 3 * 4);
    let role = on("rotascope_node_role", fixtures::LONG_NAME);
    assert!(role[0].contains("role=\"master\""), "{role:?}");
    assert_eq!(samples(&text, "rotascope_node_role").len(), 3 * 2);
    let verdict: Vec<&str> = samples(&text, "rotascope_verdict")
        .into_iter()
        .filter(|l| l.ends_with(" 1"))
        .collect();
    assert_eq!(verdict.len(), 1);
    assert!(verdict[0].contains("verdict=\"down\""));
}

#[test]
fn an_unknown_role_is_neither_master_nor_replica() {
    let mut s = fixtures::rotation();
    s.islands[0].nodes[0].role = crate::engine::probe::Role::Unknown;
    let text = prometheus(s);
    let db_a: Vec<&str> = samples(&text, "rotascope_node_role")
        .into_iter()
        .filter(|l| l.contains("node=\"db-a\""))
        .collect();
    assert_eq!(db_a.len(), 2);
    assert!(db_a.iter().all(|l| l.ends_with(" 0")), "{db_a:?}");
}

#[test]
fn validity_is_known_or_absent_and_the_winner_names_its_candidate() {
    let s = fixtures::rotation();
    let text = prometheus(s.clone());
    let valid = samples(&text, "rotascope_candidate_valid");
    // db-a: 2 valid; db-b: app_a refused, app_b valid; the down node: unknown, so absent.
    assert_eq!(valid.len(), 4, "{valid:#?}");
    let stale = s.islands[0].nodes[1].candidates[0].fingerprint.to_string();
    let refused: Vec<&&str> = valid.iter().filter(|l| l.ends_with(" 0")).collect();
    assert_eq!(refused.len(), 1);
    assert!(refused[0].contains("node=\"db-b\",login=\"app_a\",label=\"previous\""));
    assert!(refused[0].contains(&format!("fingerprint=\"{stale}\"")));
    assert!(!valid.iter().any(|l| l.contains(fixtures::LONG_NAME)));

    let winners = samples(&text, "rotascope_node_winner");
    assert_eq!(winners.len(), 2, "the down node has none: {winners:#?}");
    assert!(winners
        .iter()
        .any(|l| l.contains("node=\"db-b\",login=\"app_b\",label=\"\"")));
}

#[test]
fn counters_come_from_the_tally_and_start_at_zero() {
    let text = prometheus(fixtures::rotation());
    let line = |name: &str, labels: &str| -> String {
        samples(&text, name)
            .into_iter()
            .find(|l| l.contains(labels))
            .unwrap_or_else(|| panic!("{name} {labels}:\n{text}"))
            .to_owned()
    };
    assert!(line(
        "rotascope_probes_total",
        "mode=\"chain\",outcome=\"auth_failed\""
    )
    .ends_with(" 1"));
    assert!(line("rotascope_probes_total", "mode=\"chain\",outcome=\"ok\"").ends_with(" 1"));
    assert!(line(
        "rotascope_probes_total",
        "mode=\"audit\",outcome=\"timeout\""
    )
    .ends_with(" 0"));
    assert_eq!(
        samples(&text, "rotascope_probes_total").len(),
        2 * tally::OUTCOMES
    );
    assert!(line(
        "rotascope_auth_failures_total",
        "mode=\"chain\",login=\"app_a\""
    )
    .ends_with(" 1"));
    assert!(line(
        "rotascope_auth_failures_total",
        "mode=\"audit\",login=\"app_b\""
    )
    .ends_with(" 0"));
    // Only the outcomes seen have a histogram: chain ok and chain auth_failed.
    let counts = samples(&text, "rotascope_probe_duration_seconds_count");
    assert_eq!(counts.len(), 2, "{counts:#?}");
    let inf = line(
        "rotascope_probe_duration_seconds_bucket",
        "mode=\"chain\",outcome=\"ok\",le=\"+Inf\"",
    );
    assert!(inf.ends_with(" 1"), "{inf}");
    // The fixture's generation is 1: no reload yet. Its last reload failed.
    assert!(line("rotascope_config_reloads_total", "shard").ends_with(" 0"));
    assert!(line("rotascope_config_last_reload_successful", "shard").ends_with(" 0"));
    assert!(line("rotascope_replica_lag_bytes", "node=\"db-b\"").ends_with(" 328"));
    assert!(line(
        "rotascope_island_warning",
        "island=\"1\",warning=\"no_master\""
    )
    .ends_with(" 1"));
    // Island warnings are there while active only.
    assert_eq!(samples(&text, "rotascope_island_warning").len(), 1);
    assert!(line("rotascope_warning", "behind_schedule").ends_with(" 0"));
}

#[test]
fn openmetrics_has_units_eof_and_the_same_samples() {
    let s = Arc::new(fixtures::rotation());
    let om = render(s.clone(), tally(), shard(), Exposition::OpenMetrics);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE rotascope_probes counter\n"));
    assert!(om.contains("# UNIT rotascope_replica_lag_bytes bytes\n"));
    let prom = render(s, tally(), shard(), Exposition::Prometheus);
    assert!(prom.contains("# TYPE rotascope_probes_total counter\n"));
    // Histograms differ in the order of their lines and labels and in how bounds are written;
    // everything else is the same sample for sample.
    let values = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("rotascope_probe_duration"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(values(&om), values(&prom));
}

#[test]
fn no_password_and_no_raw_control_character() {
    for s in [fixtures::rotation(), fixtures::hostile()] {
        for format in [Exposition::Prometheus, Exposition::OpenMetrics] {
            let text = render(Arc::new(s.clone()), tally(), shard(), format);
            fixtures::assert_no_password(&text);
            assert!(
                !text.chars().any(
                    |c| c != '\n' && (c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c))
                ),
                "raw control character in {text}"
            );
        }
    }
    let text = prometheus(fixtures::hostile());
    assert!(text.contains(r#"node="db-boom\\x1b]0;pwned"#), "{text}");
}

#[test]
fn an_empty_snapshot_still_renders_the_instance_series() {
    let s = crate::engine::Snapshot::empty(
        "c.toml".into(),
        crate::config::ProbeSettings::default(),
        fixtures::at(0),
    );
    let text = render(
        Arc::new(s),
        Tally::default(),
        Shard::ALL,
        Exposition::Prometheus,
    );
    assert!(
        text.contains("rotascope_config_generation{shard=\"0/1\"} 0\n"),
        "{text}"
    );
    assert!(text.contains("rotascope_islands{shard=\"0/1\"} 0\n"));
    assert!(samples(&text, "rotascope_node_health").is_empty());
}

#[test]
fn negotiation_follows_the_accept_header() {
    use Exposition::*;
    // What Prometheus 2.x sends.
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                      version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    for (accept, want) in [
        (None, Prometheus),
        (Some(prometheus), OpenMetrics),
        (Some("text/plain"), Prometheus),
        (Some("*/*"), Prometheus),
        (
            Some("text/plain;q=0.9, application/openmetrics-text"),
            OpenMetrics,
        ),
        (
            Some("application/openmetrics-text;q=0.2, text/plain;q=0.5"),
            Prometheus,
        ),
        (Some("application/openmetrics-text;q=0"), Prometheus),
        (
            Some("Application/OpenMetrics-Text; version=1.0.0"),
            OpenMetrics,
        ),
        (Some("application/json"), Prometheus),
        (Some(""), Prometheus),
        (Some(";;,,q=,"), Prometheus),
    ] {
        assert_eq!(Exposition::negotiate(accept), want, "{accept:?}");
    }
}

#[test]
fn auth_failures_count_logins_of_the_config_only() {
    let mut t = tally();
    let mut gone = fixtures::probe_record();
    gone.login = "app_retired".into();
    gone.mode = ProbeMode::Audit;
    t.record(&Feed::Probe(gone));
    let text = render(
        Arc::new(fixtures::rotation()),
        t,
        shard(),
        Exposition::Prometheus,
    );
    assert!(!text.contains("app_retired"));
    assert_eq!(samples(&text, "rotascope_auth_failures_total").len(), 2 * 2);
}

/// A finished episode with one outage on one node, whose degraded window lasted 6.5 s.
fn episode(
    no: u64,
    outcome: crate::engine::episodes::Outcome,
) -> crate::engine::episodes::EpisodeSummary {
    use crate::engine::episodes::{FailedAuths, NodeEpisode, Trigger};
    let at = fixtures::at(1_000);
    crate::engine::episodes::EpisodeSummary {
        episode: no,
        trigger: Trigger::CandidateRefused,
        started: at,
        ended: at + chrono::Duration::seconds(7),
        outcome,
        changed: Vec::new(),
        nodes_total: 2,
        nodes_degraded: 1,
        outages: 1,
        failed_auths: FailedAuths { chain: 2, audit: 0 },
        nodes: vec![NodeEpisode {
            island: crate::topology::IslandNo(0),
            node: "db-a".into(),
            degraded: None,
            degraded_ms: 6_500,
            outages: Vec::new(),
            unreachable: Vec::new(),
            failed_auths: FailedAuths::default(),
        }],
    }
}

#[test]
fn rotation_episodes_count_from_the_feed_and_describe_the_latest() {
    use crate::engine::episodes::Outcome;
    use crate::engine::event::{Event, EventKind};
    let mut s = fixtures::rotation();
    // Before any episode: zero counters, nothing in progress, no "last" gauges.
    let text = prometheus(s.clone());
    assert_eq!(
        samples(&text, "rotascope_rotations_total"),
        [
            "rotascope_rotations_total{shard=\"1/3\",outcome=\"completed\"} 0",
            "rotascope_rotations_total{shard=\"1/3\",outcome=\"timed_out\"} 0"
        ]
    );
    assert_eq!(
        samples(&text, "rotascope_rotation_in_progress"),
        ["rotascope_rotation_in_progress{shard=\"1/3\"} 0"]
    );
    assert!(samples(&text, "rotascope_rotation_last_outages").is_empty());

    // Two episodes end on the feed; the history holds the latest.
    let mut t = tally();
    for (no, outcome) in [(1, Outcome::Completed), (2, Outcome::TimedOut)] {
        let kind = EventKind::RotationFinished(Box::new(episode(no, outcome)));
        t.record(&Feed::Event(Event {
            at: fixtures::at(1_007),
            kind,
        }));
    }
    s.history.record_episode(episode(2, Outcome::TimedOut));
    s.history
        .set_open_episode(Some(episode(3, Outcome::Completed)));
    let text = render(Arc::new(s), t, shard(), Exposition::Prometheus);
    let one = |name: &str| -> String {
        let lines = samples(&text, name);
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        lines[0].rsplit(' ').next().unwrap().to_owned()
    };
    assert_eq!(
        samples(&text, "rotascope_rotations_total"),
        [
            "rotascope_rotations_total{shard=\"1/3\",outcome=\"completed\"} 1",
            "rotascope_rotations_total{shard=\"1/3\",outcome=\"timed_out\"} 1"
        ]
    );
    assert_eq!(one("rotascope_rotation_outages_total"), "2");
    assert_eq!(one("rotascope_rotation_in_progress"), "1");
    let ended: f64 = one("rotascope_rotation_last_end_timestamp_seconds")
        .parse()
        .unwrap();
    assert_eq!(ended, fixtures::at(1_007).timestamp() as f64);
    assert_eq!(one("rotascope_rotation_last_degraded_seconds"), "6.5");
    assert_eq!(one("rotascope_rotation_last_outages"), "1");
}

#[test]
fn sessions_per_node_and_login_and_readiness_per_login() {
    use crate::engine::probe::Route;
    use crate::engine::usage::{self, LoginSessions, NodeUsage};
    let mut s = fixtures::rotation();
    let at = s.generated_at - chrono::Duration::hours(1);
    let node = &mut s.islands[0].nodes[0];
    let mut u = NodeUsage::default();
    let measured = |login: &str, sessions| LoginSessions {
        login: login.into(),
        sessions,
        apps: Vec::new(),
        other_apps: sessions,
        detail: None,
    };
    u.fold(
        &[measured("app_a", 0), measured("app_b", 7)],
        Route::Direct,
        at,
    );
    node.usage = u.view(
        node.candidates
            .iter()
            .map(|c| (c.login.as_str(), c.fingerprint)),
    );
    let name = node.key.name.to_string();
    s.usage = usage::cluster(
        &s.islands,
        std::time::Duration::from_secs(600),
        s.generated_at,
    );
    let text = prometheus(s);
    let sessions = samples(&text, "rotascope_login_sessions");
    assert_eq!(sessions.len(), 2, "known counts only: {sessions:?}");
    assert!(sessions
        .iter()
        .any(|l| l.contains(&format!("node=\"{name}\""))
            && l.contains("login=\"app_b\"")
            && l.ends_with(" 7")));
    let safe = samples(&text, "rotascope_login_safe_to_revoke");
    // app_a: quiet for an hour, app_b valid beside it; app_b: 7 sessions.
    assert_eq!(
        safe,
        [
            "rotascope_login_safe_to_revoke{shard=\"1/3\",login=\"app_a\"} 1",
            "rotascope_login_safe_to_revoke{shard=\"1/3\",login=\"app_b\"} 0"
        ]
    );
}

#[test]
fn session_counting_off_is_a_zero_not_a_gap() {
    let on = prometheus(fixtures::rotation());
    assert_eq!(
        samples(&on, "rotascope_usage_enabled"),
        ["rotascope_usage_enabled{shard=\"1/3\"} 1"]
    );
    let mut off = fixtures::rotation();
    off.usage_enabled = false;
    off.usage.clear();
    for n in off.islands.iter_mut().flat_map(|i| i.nodes.iter_mut()) {
        n.usage.clear();
    }
    let text = prometheus(off);
    assert_eq!(
        samples(&text, "rotascope_usage_enabled"),
        ["rotascope_usage_enabled{shard=\"1/3\"} 0"]
    );
    assert!(samples(&text, "rotascope_login_sessions").is_empty());
    assert!(samples(&text, "rotascope_login_safe_to_revoke").is_empty());
}
