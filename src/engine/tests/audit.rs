//! Audits: filling the screen early, the refusal backoff and what resets it, node-level stops,
//! and coalesced commands.

use super::*;
use crate::engine::event::ProbeMode;
use crate::engine::snapshot::CandidateState;
use crate::secret::Password;

#[tokio::test(start_paused = true)]
async fn a_new_node_is_audited_right_after_its_first_chain() {
    let creds = [("a", "pa"), ("b", "pb"), ("c", "pc")];
    let fake = fake_with("db", &creds);
    let topo = fake::topology(vec![fake::node(0, "db", &creds)]);
    let mut h = Harness::start(&fake, topo, settings());

    h.until("all valid", |s| node(s, "db").valid_count() == 3)
        .await;
    assert!(
        h.secs(Instant::now()) < 0.1,
        "no waiting for the audit interval"
    );
    let probes: Vec<(usize, ProbeMode)> = h
        .drain()
        .into_iter()
        .filter_map(|f| match f {
            Feed::Probe(r) => Some((r.index, r.mode)),
            _ => None,
        })
        .collect();
    // the chain's winner counts as checked: the audit takes only the others
    assert_eq!(
        probes,
        [
            (0, ProbeMode::Chain),
            (1, ProbeMode::Audit),
            (2, ProbeMode::Audit)
        ]
    );
    h.stop().await;
}

/// Start times of the probes of `password` on node `db`.
fn probes_of(fake: &FakeProber, password: &str) -> Vec<Instant> {
    let fp = Password::new(password).fingerprint();
    fake.calls()
        .iter()
        .filter(|c| c.fingerprint == fp)
        .map(|c| c.at)
        .collect()
}

/// Asserts consecutive gaps are `factor × audit_interval`, stretched by the jitter but never
/// past 10 intervals (plus the 1 ms the refusal takes to arrive).
fn assert_backoff(times: &[Instant], factors: &[f64]) {
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    assert!(gaps.len() >= factors.len(), "{gaps:?}");
    let audit = settings().audit_interval.as_secs_f64();
    for (gap, factor) in gaps.iter().zip(factors) {
        let (low, high) = (factor * audit, (factor * 1.2).min(10.0) * audit + 0.001);
        assert!(
            *gap >= low && *gap <= high,
            "gaps {gaps:?}, factors {factors:?}"
        );
    }
}

/// A node with a working `good` and a refused `bad` candidate.
fn good_and_bad() -> (FakeProber, Topology) {
    let fake = fake_with("db", &[("good", "pg")]);
    let topo = fake::topology(vec![fake::node(
        0,
        "db",
        &[("good", "pg"), ("bad", "stale")],
    )]);
    (fake, topo)
}

#[tokio::test(start_paused = true)]
async fn a_refused_candidate_is_audited_with_a_doubling_backoff_capped_at_ten_intervals() {
    let (fake, topo) = good_and_bad();
    let mut h = Harness::start(&fake, topo, settings());
    let s = h.until_done("db", "bad", 6).await;
    assert_backoff(&probes_of(&fake, "stale"), &[2.0, 4.0, 8.0, 10.0, 10.0]);

    // between audits the candidate keeps its last known state, with when it was checked
    let bad = &node(&s, "db").candidates[1];
    assert_eq!(bad.state, CandidateState::Invalid);
    assert_eq!(bad.consecutive_failures, 6);
    assert!(bad.last_checked.is_some() && bad.next_audit > bad.last_checked);
    assert_eq!(node(&s, "db").health, Health::Degraded);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_longest_backoff_is_exactly_ten_audit_intervals() {
    // The README promises "up to 10× the interval", jitter included: from the fourth refusal in
    // a row on, every audit of the refused candidate comes ten intervals after the last refusal
    let (fake, topo) = good_and_bad();
    let mut h = Harness::start(&fake, topo, settings());
    h.until_done("db", "bad", 9).await;
    let refusal = Duration::from_millis(1);
    let ten = settings().audit_interval * 10 + refusal;
    let times = probes_of(&fake, "stale");
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps[3..], [ten; 5], "{gaps:?}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_audit_asked_for_by_hand_probes_at_once_and_restarts_the_backoff() {
    let (fake, topo) = good_and_bad();
    let mut h = Harness::start(&fake, topo, settings());
    h.until_calls("db", "bad", 3).await;

    let asked = Instant::now();
    h.send(Command::Audit(key(0, "db"))).await;
    h.until_calls("db", "bad", 5).await;
    let times = probes_of(&fake, "stale");
    assert!(h.secs(times[3]) - h.secs(asked) < 0.01, "at once");
    assert_backoff(&times[3..], &[2.0]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_new_identity_is_audited_at_once_and_starts_a_fresh_backoff() {
    let (fake, topo) = good_and_bad();
    let mut h = Harness::start(&fake, topo, settings());
    h.until_calls("db", "bad", 3).await;

    // When the config gets another (still wrong) password for `bad`
    let reloaded = Instant::now();
    let creds = [("good", "pg"), ("bad", "stale-2")];
    h.reload(fake::config(
        fake::topology(vec![fake::node(0, "db", &creds)]),
        settings(),
    ));
    h.until_calls("db", "bad", 5).await;
    let times = probes_of(&fake, "stale-2");
    assert!(h.secs(times[0]) - h.secs(reloaded) < 0.01, "at once");
    assert_backoff(&times, &[2.0]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_audit_stops_at_a_node_level_failure_and_waits_for_a_chain_to_get_through() {
    let fake = fake_with("db", &[("a", "pa"), ("c", "pc")]);
    // `b` meets a node-level failure (as if the server went away just then)
    fake.login_fails("db", "b", ErrorKind::Refused);
    let creds = [("a", "pa"), ("b", "pb"), ("c", "pc")];
    let topo = fake::topology(vec![fake::node(0, "db", &creds)]);
    let mut h = Harness::start(&fake, topo, settings());

    h.until_calls("db", "c", 1).await;
    let b = fake.calls_to("db", "b");
    let c = fake.calls_to("db", "c");
    assert_eq!(b.len(), 1);
    // not in the same audit: only after the next chain got through
    let a_after_b = fake
        .calls_to("db", "a")
        .iter()
        .any(|a| a.at > b[0].at && a.at <= c[0].at);
    assert!(a_after_b && c[0].at - b[0].at >= settings().interval);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn reprobes_asked_while_a_probe_is_in_flight_collapse_into_one_run_after_it() {
    let fake = fake_with("db", &[("app", "pw")]);
    fake.hung("db", true);
    let topo = fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]);
    let mut h = Harness::start(&fake, topo, settings());
    h.until_calls("db", "app", 1).await;

    for _ in 0..3 {
        h.send(Command::Reprobe(key(0, "db"))).await;
    }
    h.until_calls("db", "app", 3).await;
    let times: Vec<f64> = fake.calls().iter().map(|c| h.secs(c.at)).collect();
    // 0s: the first chain (hangs 2s); 2s: the one coalesced reprobe; then back on schedule
    // (4s + one jittered interval), not a queue of three
    assert_eq!(times[..2], [0.0, 2.0]);
    assert!(times[2] >= 5.0 && times[2] <= 5.2 + 0.01, "{times:?}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reprobe_of_an_idle_node_runs_at_once() {
    let fake = fake_with("db", &[("app", "pw")]);
    let topo = fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]);
    let mut h = Harness::start(&fake, topo, settings());
    h.until_done("db", "app", 2).await;
    let asked = Instant::now();
    h.send(Command::Reprobe(key(0, "db"))).await;
    h.until_calls("db", "app", 3).await;
    assert_eq!(fake.calls()[2].at, asked);
    h.stop().await;
}
