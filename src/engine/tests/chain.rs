//! Chain probes: order, remembered best, node-level stops, deadlines, concurrency.

use super::*;
use crate::engine::event::ProbeMode;
use crate::engine::snapshot::CandidateState;
use crate::secret::Password;
use AttemptOutcome::{Failed, Ok as Won, Skipped};
use ErrorKind::{AuthFailed, Refused, Timeout};

#[tokio::test(start_paused = true)]
async fn chain_tries_the_remembered_best_first_then_the_others_in_config_order() {
    // Given a node where only app_b logs in
    let fake = fake_with("db", &[("app_b", "pw-b")]);
    let creds = [("app_a", "pw-a"), ("app_b", "pw-b"), ("app_c", "pw-c")];
    let topo = fake::topology(vec![fake::node(0, "db", &creds)]);
    let mut h = Harness::start(&fake, topo, settings());

    // the first chain walks the config order until app_b works
    let s = h
        .until("a chain", |s| node(s, "db").last_chain.is_some())
        .await;
    let db = node(&s, "db");
    assert_eq!(chain_of(db), [(0, Failed(AuthFailed)), (1, Won)]);
    assert_eq!((db.winner, db.remembered_best), (Some(1), Some(1)));
    let last = db.latency.last().expect("a sample");
    assert!(last.ok && last.fell_back, "{last:?}");

    // and the next chain, starting at the winner, does not fall back
    let s = h
        .until("a second chain", |s| {
            node(s, "db").latency.samples.len() >= 2
        })
        .await;
    let last = node(&s, "db").latency.last().expect("a sample");
    assert!(last.ok && !last.fell_back, "{last:?}");

    // When app_b's password rotates and app_a gets the one the config lists
    fake.password("db", "app_b", "rotated")
        .password("db", "app_a", "pw-a");

    // Then the next chain starts at the remembered best, then goes back to config order
    let s = h
        .until("a new winner", |s| node(s, "db").winner == Some(0))
        .await;
    let db = node(&s, "db");
    assert_eq!(chain_of(db), [(1, Failed(AuthFailed)), (0, Won)]);
    assert_eq!(db.remembered_best, Some(0));
    assert!(db.latency.last().is_some_and(|l| l.fell_back));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_wrong_password_listed_first_is_tried_once_then_chains_start_at_the_winner() {
    let fake = fake_with("db", &[("app", "right")]);
    let topo = fake::topology(vec![fake::node(
        0,
        "db",
        &[("app", "wrong"), ("app", "right")],
    )]);
    let mut h = Harness::start(&fake, topo, settings());

    h.until_done("db", "app", 6).await;

    let wrong = Password::new("wrong").fingerprint();
    let calls = fake.calls_to("db", "app");
    assert_eq!(
        calls[0].fingerprint, wrong,
        "the first chain tries it first"
    );
    let wrong_calls = calls.iter().filter(|c| c.fingerprint == wrong).count();
    assert_eq!(wrong_calls, 1, "never again: chains start at the winner");
    let chain: Vec<usize> = h
        .drain()
        .into_iter()
        .filter_map(|f| match f {
            Feed::Probe(r) if r.mode == ProbeMode::Chain => Some(r.index),
            _ => None,
        })
        .collect();
    assert_eq!(chain[..6], [0, 1, 1, 1, 1, 1]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_node_level_failure_stops_the_chain_and_the_others_keep_their_validity() {
    // Given a node where every candidate works, audited
    let creds = [("a", "pa"), ("b", "pb"), ("c", "pc")];
    let fake = fake_with("db", &creds);
    let topo = fake::topology(vec![fake::node(0, "db", &creds)]);
    let mut h = Harness::start(&fake, topo, settings());
    h.until("all valid", |s| node(s, "db").valid_count() == 3)
        .await;

    // When the server refuses connections
    fake.down("db", Some(Refused));
    let s = h
        .until("down", |s| node(s, "db").health == Health::Down)
        .await;

    // Then the chain stopped at the first candidate and the others were not tried
    let db = node(&s, "db");
    assert_eq!(
        chain_of(db),
        [(0, Failed(Refused)), (1, Skipped), (2, Skipped)]
    );
    let states: Vec<_> = db.candidates.iter().map(|c| c.state).collect();
    use CandidateState::{Unreachable, Valid};
    assert_eq!(states, [Unreachable, Valid, Valid]);
    assert_eq!(db.winner, None);
    assert_eq!(db.role, Role::Master, "the role is kept while down");
    assert!(db.cause.as_deref().unwrap_or("").starts_with("refused"));

    // and each later chain costs one connection attempt; audits wait
    let before = fake.calls().len();
    let watched = fake.clone();
    h.until("three more chains", |_| watched.calls().len() >= before + 3)
        .await;
    let later = &fake.calls()[before..];
    assert!(later.iter().all(|c| c.login == "a"), "{later:?}");
    for pair in later.windows(2) {
        assert!(pair[1].at - pair[0].at >= settings().interval);
    }

    // When it comes back
    fake.down("db", None);
    let s = h
        .until("ok again", |s| node(s, "db").health == Health::Ok)
        .await;
    assert_eq!(node(&s, "db").winner, Some(0));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn candidates_never_tried_because_the_node_failed_first_are_skipped() {
    let creds = [("a", "pa"), ("b", "pb")];
    let fake = fake_with("db", &creds);
    fake.down("db", Some(Refused));
    let topo = fake::topology(vec![fake::node(0, "db", &creds)]);
    let mut h = Harness::start(&fake, topo, settings());

    let s = h
        .until("down", |s| node(s, "db").health == Health::Down)
        .await;
    let states: Vec<_> = node(&s, "db").candidates.iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        [CandidateState::Unreachable, CandidateState::Skipped]
    );
    let skipped = h.events().into_iter().any(|e| {
        matches!(e, EventKind::CandidateChanged { candidate, from: CandidateState::Untested,
            to: CandidateState::Skipped, .. } if candidate.index == 1)
    });
    assert!(skipped, "the change is an event");

    // When the node comes back, the audit held back meanwhile fills in the rest at once
    fake.down("db", None);
    h.until("all valid", |s| node(s, "db").valid_count() == 2)
        .await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_hung_server_costs_one_deadline_per_chain_and_does_not_delay_other_nodes() {
    let creds = [("a", "pa"), ("b", "pb"), ("c", "pc")];
    let fake = fake_with("hung", &creds);
    fake.hung("hung", true);
    fake.server("fast", Role::Master)
        .password("fast", "a", "pa");
    let topo = fake::topology(vec![
        fake::node(0, "hung", &creds),
        fake::node(1, "fast", &[("a", "pa")]),
    ]);
    let mut h = Harness::start(&fake, topo, settings());

    let s = h
        .until("the hung chain", |s| node(s, "hung").last_chain.is_some())
        .await;
    let hung = node(&s, "hung");
    assert_eq!(
        chain_of(hung),
        [(0, Failed(Timeout)), (1, Skipped), (2, Skipped)]
    );
    let chain = hung.last_chain.as_ref().expect("a chain");
    assert_eq!(chain.attempts[0].latency, settings().timeout);
    assert_eq!(fake.calls_to("hung", "a").len(), 1);
    assert!(fake.calls_to("hung", "b").is_empty() && fake.calls_to("hung", "c").is_empty());
    assert!(h.secs(Instant::now()) < 2.1, "one deadline, not three");

    // the other node kept its own pace meanwhile
    let fast = fake.calls_to("fast", "a");
    let before_deadline = fast.iter().filter(|c| h.secs(c.at) < 2.0).count();
    assert!(before_deadline >= 2, "{fast:?}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn probes_across_nodes_are_bounded_by_concurrency() {
    let fake = FakeProber::new();
    let mut nodes = Vec::new();
    for i in 0..6 {
        let name = format!("db{i}");
        fake.server(&name, Role::Master)
            .password(&name, "app", "pw");
        fake.update(&name, |s| s.latency = Duration::from_millis(100));
        nodes.push(fake::node(0, &name, &[("app", "pw")]));
    }
    let settings = ProbeSettings {
        concurrency: 2,
        ..settings()
    };
    let mut h = Harness::start(&fake, fake::topology(nodes), settings);
    h.until("every node probed", |s| {
        s.nodes().all(|n| n.health == Health::Ok)
    })
    .await;
    assert_eq!(fake.max_in_flight(), 2);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn one_node_never_has_two_probes_in_flight() {
    let creds = [("a", "pa"), ("b", "pb"), ("c", "pc")];
    let fake = fake_with("db", &creds);
    fake.update("db", |s| s.latency = Duration::from_millis(300));
    let topo = fake::topology(vec![fake::node(0, "db", &creds)]);
    let mut h = Harness::start(&fake, topo, settings());
    for _ in 0..3 {
        h.send(Command::AuditAll).await;
        h.send(Command::ReprobeAll).await;
        h.send(Command::Audit(key(0, "db"))).await;
    }
    h.until_calls("db", "c", 3).await;
    assert_eq!(fake.max_in_flight(), 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_node_whose_candidates_are_all_refused_backs_off_until_a_new_identity_arrives() {
    let fake = fake_with("db", &[("app", "current")]);
    let stale = [("app", "old-1"), ("app", "old-2")];
    let topo = fake::topology(vec![fake::node(0, "db", &stale)]);
    let mut h = Harness::start(&fake, topo, settings());

    let s = h.until_calls("db", "app", 12).await;
    let db = node(&s, "db");
    assert_eq!(db.health, Health::Down);
    assert!(db.cause.as_deref().unwrap_or("").starts_with("auth_failed"));
    // every call so far belongs to a chain (audits wait out their own backoff); chains start
    // with old-1, 2, 4, 8, 10 and 10 intervals apart
    let first = Password::new("old-1").fingerprint();
    let starts: Vec<Instant> = fake
        .calls()
        .iter()
        .filter(|c| c.fingerprint == first)
        .map(|c| c.at)
        .collect();
    let gaps: Vec<f64> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    for (gap, factor) in gaps.iter().zip([2.0, 4.0, 8.0, 10.0, 10.0]) {
        assert!(*gap >= factor && *gap <= factor * 1.2 + 0.01, "{gaps:?}");
    }

    // When the current password reaches the config, it is tried at once
    let sent = Instant::now();
    let fixed = [("app", "old-1"), ("app", "old-2"), ("app", "current")];
    h.reload(fake::config(
        fake::topology(vec![fake::node(0, "db", &fixed)]),
        settings(),
    ));
    let s = h
        .until("a winner", |s| node(s, "db").winner == Some(2))
        .await;
    assert!(h.secs(Instant::now()) - h.secs(sent) < 0.1);
    assert_eq!(node(&s, "db").health, Health::Degraded);
    h.stop().await;
}

/// Issue 11, bug 3: a down node's candidate that its chain could not try keeps its last known
/// state, but it is not counted as valid: not in the node's count, not in the cluster's.
#[tokio::test(start_paused = true)]
async fn a_down_node_counts_no_valid_candidate() {
    let fake = fake_with("db", &[("a", "pa"), ("b", "pb")]);
    let topo = fake::topology(vec![fake::node(0, "db", &[("a", "pa"), ("b", "pb")])]);
    let mut h = Harness::start(&fake, topo, settings());
    let s = h
        .until("both valid", |s| node(s, "db").valid_count() == 2)
        .await;
    assert_eq!(s.summary().valid_candidates, 2);

    fake.down("db", Some(ErrorKind::Refused));
    let s = h
        .until("down", |s| node(s, "db").health == Health::Down)
        .await;
    let n = node(&s, "db");
    assert_eq!(
        chain_of(n),
        [
            (0, AttemptOutcome::Failed(ErrorKind::Refused)),
            (1, AttemptOutcome::Skipped)
        ]
    );
    assert_eq!(n.candidates[1].state, CandidateState::Valid, "last known");
    assert_eq!(n.valid_count(), 0);
    assert_eq!(s.summary().valid_candidates, 0);
    h.stop().await;
}
