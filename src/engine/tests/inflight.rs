//! Probes in flight when the config changes or the engine stops: they end normally (a real
//! prober closes its connection instead of having it torn down); a result about a candidate
//! still listed is kept, one about a removed candidate is dropped, and nothing else of the old
//! plan starts.

use super::*;
use crate::engine::event::ProbeMode;
use crate::secret::{Fingerprint, Password};

/// A one-node topology of `db` with these credentials.
fn db(creds: &[(&str, &str)]) -> Topology {
    fake::topology(vec![fake::node(0, "db", creds)])
}

/// Probe records streamed so far, as (login, index, mode).
fn records(h: &mut Harness) -> Vec<(String, usize, ProbeMode)> {
    h.drain()
        .into_iter()
        .filter_map(|f| match f {
            Feed::Probe(p) => Some((p.login, p.index, p.mode)),
            Feed::Event(_) => None,
        })
        .collect()
}

/// Seconds since the start of each call of `db`, with the fingerprint tried.
fn calls(h: &Harness) -> Vec<(f64, Fingerprint)> {
    h.fake
        .calls()
        .iter()
        .map(|c| (h.secs(c.at), c.fingerprint))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_reload_lets_the_probe_of_a_removed_candidate_end_and_drops_its_result() {
    // Given a chain whose first candidate, a stale password, takes a second to be refused
    let fake = fake_with("db", &[("app", "new")]);
    fake.update("db", |s| s.latency = Duration::from_secs(1));
    let mut h = Harness::start(&fake, db(&[("app", "old"), ("app", "new")]), settings());
    h.until_calls("db", "app", 1).await;
    records(&mut h);

    // When a reload drops the stale password and lists a third one while it is in flight
    h.reload(fake::config(
        db(&[("app", "new"), ("app", "third")]),
        settings(),
    ));
    let s = h
        .until("the new chain's winner", |s| {
            s.config.generation == 2 && node(s, "db").winner == Some(0)
        })
        .await;

    // Then the probe ended normally, and the next one (of the new plan) started only then
    assert_eq!(fake.dropped(), 0, "a probe was cut off");
    assert_eq!(fake.max_in_flight(), 1, "two probes of one node at once");
    let fp = |p: &str| Password::new(p).fingerprint();
    assert_eq!(calls(&h)[..2], [(0.0, fp("old")), (1.0, fp("new"))]);
    // its refusal is about a candidate no longer listed: no state, no record, no event
    let db = node(&s, "db");
    assert!(db.candidates.iter().all(|c| c.fingerprint != fp("old")));
    assert_eq!(db.health, Health::Ok);
    assert_eq!(
        records(&mut h)[0],
        ("app".into(), 0, ProbeMode::Chain),
        "the first record is the new chain's"
    );
    let about_old = |e: &EventKind| {
        matches!(e, EventKind::CandidateChanged { candidate, .. }
            if candidate.fingerprint == fp("old"))
    };
    assert!(!h.events().iter().any(about_old));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_result_of_a_probe_of_a_kept_candidate() {
    // Given a chain probe of `a` that takes a second
    let fake = fake_with("db", &[("a", "pa"), ("b", "pb")]);
    fake.update("db", |s| s.latency = Duration::from_secs(1));
    let mut h = Harness::start(&fake, db(&[("a", "pa")]), settings());
    h.until_calls("db", "a", 1).await;
    records(&mut h);

    // When a reload adds `b` while it is in flight
    h.reload(fake::config(db(&[("a", "pa"), ("b", "pb")]), settings()));
    h.until("b audited", |s| {
        s.config.generation == 2 && node(s, "db").valid_count() == 2
    })
    .await;

    // Then the probe of `a` ended normally and counts; the chain runs again over the new list
    assert_eq!(fake.dropped(), 0, "a probe was cut off");
    assert_eq!(
        records(&mut h),
        [
            ("a".into(), 0, ProbeMode::Chain),
            ("a".into(), 0, ProbeMode::Chain),
            ("b".into(), 1, ProbeMode::Audit),
        ]
    );
    let starts: Vec<f64> = calls(&h).iter().map(|c| c.0).collect();
    assert_eq!(starts, [0.0, 1.0, 2.0]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_removed_node_finishes_its_probe_and_is_probed_no_more() {
    let fake = fake_with("gone", &[("a", "x"), ("b", "pb")]);
    fake.update("gone", |s| s.latency = Duration::from_secs(1));
    fake.server("stays", Role::Master)
        .password("stays", "a", "pa");
    let both = fake::topology(vec![
        fake::node(0, "gone", &[("a", "wrong"), ("b", "pb")]),
        fake::node(0, "stays", &[("a", "pa")]),
    ]);
    let mut h = Harness::start(&fake, both, settings());
    h.until_calls("gone", "a", 1).await;

    h.reload(fake::config(
        fake::topology(vec![fake::node(0, "stays", &[("a", "pa")])]),
        settings(),
    ));
    h.until_calls("stays", "a", 5).await;
    assert_eq!(fake.dropped(), 0, "a probe was cut off");
    // `b` comes next in the chain of `gone`: it never starts
    assert_eq!(fake.calls_to("gone", "a").len(), 1);
    assert_eq!(fake.calls_to("gone", "b").len(), 0);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stopping_lets_a_probe_in_progress_end_but_not_a_hung_one() {
    let fake = fake_with("slow", &[("a", "pa")]);
    fake.update("slow", |s| s.latency = Duration::from_millis(300));
    fake.server("hung", Role::Replica)
        .password("hung", "a", "pa")
        .hung("hung", true);
    let topo = fake::topology(vec![
        fake::node(0, "slow", &[("a", "pa")]),
        fake::node(0, "hung", &[("a", "pa")]),
    ]);
    let mut h = Harness::start(&fake, topo, settings());
    h.until("both probing", |s| s.nodes().all(|n| n.probing))
        .await;
    let stopping = Instant::now();
    let probe = fake.clone();
    h.stop().await;
    // the slow probe answered; the hung one was cut off after the grace
    assert_eq!(probe.dropped(), 1);
    assert_eq!(probe.in_flight(), 0);
    assert_eq!(
        Instant::now() - stopping,
        crate::engine::core::STOP_GRACE,
        "waited out the grace for the hung probe only"
    );
}
