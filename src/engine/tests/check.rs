//! The one-shot pass behind `rotascope check`.

use super::*;
use crate::engine::snapshot::CandidateState::{Invalid, Skipped, Unreachable, Valid};

#[tokio::test(start_paused = true)]
async fn one_pass_chain_probes_and_audits_every_reachable_node_once() {
    let fake = fake_with("a", &[("app_y", "py"), ("app_z", "pz")]);
    fake.login_fails("a", "app_w", ErrorKind::LoginNotPermitted);
    fake.server("b", Role::Replica)
        .down("b", Some(ErrorKind::Refused));
    let config = fake::config(
        fake::topology(vec![
            fake::node(
                0,
                "a",
                &[
                    ("app_x", "wrong"),
                    ("app_y", "py"),
                    ("app_z", "pz"),
                    ("app_w", "pw"),
                ],
            ),
            fake::node(0, "b", &[("app_p", "pp"), ("app_q", "pq")]),
        ]),
        settings(),
    );
    let clock = ManualClock::new(t0());
    let started = Instant::now();
    let s = check_once(config, Arc::new(clock), fake.clone()).await;
    assert!(Instant::now() - started < Duration::from_millis(100));

    let a = node(&s, "a");
    let states: Vec<_> = a.candidates.iter().map(|c| c.state).collect();
    assert_eq!(states, [Invalid, Valid, Valid, Invalid]);
    assert_eq!(a.winner, Some(1));
    assert_eq!(a.health, Health::Degraded);
    let kinds: Vec<_> = a
        .candidates
        .iter()
        .map(|c| c.error.as_ref().map(|e| e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            Some(ErrorKind::AuthFailed),
            None,
            None,
            Some(ErrorKind::LoginNotPermitted)
        ]
    );
    // every candidate of `a` tried exactly once: the chain's tries count for the audit
    for login in ["app_x", "app_y", "app_z", "app_w"] {
        assert_eq!(fake.calls_to("a", login).len(), 1, "{login}");
    }

    let b = node(&s, "b");
    let states: Vec<_> = b.candidates.iter().map(|c| c.state).collect();
    assert_eq!(states, [Unreachable, Skipped]);
    assert_eq!(b.health, Health::Down);
    assert_eq!(fake.calls().iter().filter(|c| c.node == "b").count(), 1);
    assert!(s.nodes().all(|n| !n.probing));
    assert_eq!(s.verdict(), crate::engine::snapshot::Verdict::Down);
    assert!(
        !format!("{s:?}").contains("wrong"),
        "no password in the snapshot"
    );
}

#[tokio::test(start_paused = true)]
async fn one_pass_over_a_hung_node_costs_one_deadline() {
    let creds = [("a", "pa"), ("b", "pb"), ("c", "pc")];
    let fake = fake_with("hung", &creds);
    fake.hung("hung", true);
    fake.server("ok", Role::Master).password("ok", "a", "pa");
    let config = fake::config(
        fake::topology(vec![
            fake::node(0, "hung", &creds),
            fake::node(0, "ok", &[("a", "pa")]),
        ]),
        settings(),
    );
    let started = Instant::now();
    let s = check_once(config, Arc::new(ManualClock::new(t0())), fake.clone()).await;
    assert_eq!(Instant::now() - started, settings().timeout);
    assert_eq!(node(&s, "hung").health, Health::Down);
    assert_eq!(node(&s, "ok").health, Health::Ok);
    assert_eq!(fake.calls().iter().filter(|c| c.node == "hung").count(), 1);
}

#[tokio::test(start_paused = true)]
async fn one_pass_over_nothing_returns_at_once() {
    let config = fake::config(Topology::default(), settings());
    let s = check_once(config, Arc::new(ManualClock::new(t0())), FakeProber::new()).await;
    assert_eq!(s.summary().nodes, 0);
    assert_eq!(s.config.generation, 1);
}
