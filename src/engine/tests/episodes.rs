//! Rotation episodes and the history, as the engine sees a rotation happen (fake prober, paused
//! time, a wall clock that follows it).

use super::*;
use crate::engine::episodes::{ChangeKind, Outcome, Trigger, EPISODE_TIMEOUT};
use crate::engine::history::{Access, Cell, CredKey, Why};
use crate::secret::Password;

/// Two nodes listing `app_a` with `a` and `app_b` with `b-1`.
fn alternating(a: &str) -> Config {
    let creds = [("app_a", a), ("app_b", "b-1")];
    fake::config(
        fake::topology(vec![
            fake::node(0, "db-a", &creds),
            fake::node(0, "db-b", &creds),
        ]),
        settings(),
    )
}

fn cluster() -> FakeProber {
    let fake = fake_with("db-a", &[("app_a", "a-1"), ("app_b", "b-1")]);
    fake.server("db-b", Role::Replica)
        .password("db-b", "app_a", "a-1")
        .password("db-b", "app_b", "b-1");
    fake
}

fn cred(login: &str, password: &str) -> CredKey {
    CredKey {
        login: login.into(),
        fingerprint: Password::new(password).fingerprint(),
    }
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[tokio::test(start_paused = true)]
async fn a_rotation_is_one_episode_from_the_refusal_to_the_config_catching_up() {
    // Given two healthy nodes whose winner is app_a
    let fake = cluster();
    let mut h = Harness::start_following(&fake, alternating("a-1"));
    h.until("both ok", |s| {
        s.nodes()
            .all(|n| n.health == Health::Ok && n.valid_count() == 2)
    })
    .await;
    h.drain();

    // When app_a's password changes in the database ...
    fake.password("db-a", "app_a", "a-2")
        .password("db-b", "app_a", "a-2");
    let rotated = h.clock.now();
    let s = h
        .until("an episode", |s| s.history.open_episode().is_some())
        .await;
    // ... then an episode starts within one chain interval (1 s, +20% jitter)
    let open = s.history.open_episode().unwrap();
    assert_eq!(open.trigger, Trigger::CandidateRefused);
    let late = secs(open.started - rotated);
    assert!(
        (0.0..=1.2).contains(&late),
        "started {late} s after the change"
    );

    // When the config catches up 5 s later
    tokio::time::sleep(Duration::from_secs(5)).await;
    let caught_up = h.clock.now();
    h.reload(alternating("a-2"));
    let s = h
        .until("the episode's end", |s| {
            s.history.latest_episode().is_some()
        })
        .await;

    // Then it ends as soon as the new password was tried, with what happened on each node
    let e = s.history.latest_episode().unwrap().clone();
    assert_eq!(e.outcome, Outcome::Completed);
    assert!(s.history.open_episode().is_none());
    let ended = secs(e.ended - caught_up);
    assert!(
        (0.0..=1.2).contains(&ended),
        "ended {ended} s after the reload"
    );
    let changed: Vec<(&str, ChangeKind)> =
        e.changed.iter().map(|c| (&*c.login, c.change)).collect();
    assert_eq!(
        changed,
        [
            ("app_a", ChangeKind::Refused),
            ("app_a", ChangeKind::Removed),
            ("app_a", ChangeKind::Added)
        ]
    );
    assert_eq!(e.logins(), ["app_a"]);
    assert_eq!((e.nodes_total, e.nodes_degraded, e.outages), (2, 2, 0));
    for n in &e.nodes {
        let d = n.degraded.expect("degraded");
        assert!(!d.ongoing);
        assert!(n.degraded_ms >= 4000, "{n:?}");
        assert!(n.outages.is_empty());
        // Each node's chain tried app_a once before falling back.
        assert_eq!(n.failed_auths.chain, 1, "{n:?}");
    }
    assert_eq!(e.failed_auths.chain, 2);
    assert!(e
        .outcome_text()
        .starts_with("app_a changed, 2/2 nodes degraded"));

    // The events came in order, the summary with the finish.
    let kinds: Vec<&'static str> = h
        .events()
        .iter()
        .filter_map(|k| match k {
            EventKind::RotationStarted { .. } => Some("started"),
            EventKind::RotationFinished(_) => Some("finished"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["started", "finished"]);

    // The history tells the same, seen 5 s later: the old password valid, then refused, then
    // gone; the winner failed over; degraded cells in the middle.
    let later = e.ended + chrono::Duration::seconds(5);
    let s = h.until("5 s later", |s| s.generated_at >= later).await;
    let (from, to) = (t0(), s.generated_at);
    let old = s
        .history
        .credential_cells(&cred("app_a", "a-1"), from, to, 40);
    assert_eq!(old.first(), Some(&Cell::ValidEverywhere));
    assert!(old.contains(&Cell::InvalidEverywhere), "{old:?}");
    assert_eq!(old.last(), Some(&Cell::Absent));
    let new = s
        .history
        .credential_cells(&cred("app_a", "a-2"), from, to, 40);
    assert_eq!(new.first(), Some(&Cell::Absent));
    assert_eq!(new.last(), Some(&Cell::ValidEverywhere));
    let b = s
        .history
        .credential_cells(&cred("app_b", "b-1"), from, to, 40);
    assert!(b.iter().all(|c| *c == Cell::ValidEverywhere), "{b:?}");
    let shading = s.history.cluster_cells(from, to, 40);
    assert!(shading.iter().any(|c| c.degraded));
    assert!(shading.iter().all(|c| !c.locked_out && !c.gap));
    let winners = s.history.winner_spans(&key(0, "db-a"), from, to);
    let whys: Vec<Why> = winners
        .iter()
        .filter_map(|w| w.value.as_ref().map(|m| m.why))
        .collect();
    assert_eq!(whys, [Why::First, Why::Failover]);
    h.stop().await;
}

/// Found in the lab: a failover during a rotation replaced a degraded node, and the summary said
/// "7/6 nodes degraded". A node that took part and left counts in the total.
#[tokio::test(start_paused = true)]
async fn a_node_that_leaves_during_an_episode_still_counts_in_its_total() {
    let fake = cluster();
    let mut h = Harness::start_following(&fake, alternating("a-1"));
    h.until("both ok", |s| {
        s.nodes()
            .all(|n| n.health == Health::Ok && n.valid_count() == 2)
    })
    .await;
    fake.password("db-a", "app_a", "a-2")
        .password("db-b", "app_a", "a-2");
    h.until("both degraded", |s| {
        s.nodes().all(|n| n.health == Health::Degraded)
    })
    .await;
    // db-b leaves the config while the episode is open; db-a's config catches up.
    let creds = [("app_a", "a-2"), ("app_b", "b-1")];
    h.reload(fake::config(
        fake::topology(vec![fake::node(0, "db-a", &creds)]),
        settings(),
    ));
    let s = h
        .until("the episode's end", |s| {
            s.history.latest_episode().is_some()
        })
        .await;
    let e = s.history.latest_episode().unwrap();
    assert_eq!((e.nodes_total, e.nodes_degraded), (2, 2), "{e:?}");
    assert!(e.outcome_text().contains("2/2 nodes degraded"), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn every_password_rotated_on_a_node_is_an_outage_and_the_episode_times_out() {
    // Given two healthy nodes
    let fake = cluster();
    let mut h = Harness::start_following(&fake, alternating("a-1"));
    h.until("both ok", |s| s.nodes().all(|n| n.health == Health::Ok))
        .await;

    // When both passwords change on db-a and the secrets never catch up
    fake.password("db-a", "app_a", "x-1")
        .password("db-a", "app_b", "x-2");
    let rotated = h.clock.now();
    let s = h
        .until("the episode's timeout", |s| {
            s.history.latest_episode().is_some()
        })
        .await;

    // Then db-a had no working credential from its next chain probe on, still at the end
    let e = s.history.latest_episode().unwrap();
    assert_eq!(e.outcome, Outcome::TimedOut);
    let lasted = (e.ended - e.started).to_std().unwrap();
    assert!(lasted >= EPISODE_TIMEOUT && lasted < EPISODE_TIMEOUT + Duration::from_secs(2));
    assert_eq!(e.outages, 1);
    let a = e.nodes.iter().find(|n| n.node == "db-a").expect("db-a");
    assert_eq!(a.outages.len(), 1);
    let outage = a.outages[0];
    assert!(outage.ongoing);
    assert!(secs(outage.from - rotated) <= 1.2, "{outage:?}");
    assert!(e
        .nodes
        .iter()
        .all(|n| n.node != "db-b" || n.outages.is_empty()));
    // The chain backs off: a node with no working secret is not hammered.
    // (Two refusals per chain, chains at most every 10 s once backed off: about 190; without
    // the backoff it would be 1800.)
    assert!(a.failed_auths.chain <= 200, "{:?}", a.failed_auths);
    let access = s
        .history
        .node(&key(0, "db-a"))
        .unwrap()
        .access
        .last()
        .cloned();
    assert_eq!(access.map(|p| p.value), Some(Some(Access::LockedOut)));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_secret_stale_from_the_start_is_no_rotation() {
    // Given app_a's password wrong in the config from the start
    let fake = cluster();
    let mut h = Harness::start_following(&fake, alternating("stale"));
    let s = h
        .until("a minute of probes", |s| {
            s.generated_at > t0() + chrono::Duration::seconds(60)
        })
        .await;
    // Then the node is degraded, but no rotation was seen
    assert!(s.nodes().all(|n| n.health == Health::Degraded));
    assert!(s.history.open_episode().is_none());
    assert_eq!(s.history.episodes().count(), 0);
    assert!(!h
        .events()
        .iter()
        .any(|k| matches!(k, EventKind::RotationStarted { .. })));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_history_is_shared_between_snapshots_and_ends_with_the_run() {
    let fake = cluster();
    let mut h = Harness::start_following(&fake, alternating("a-1"));
    let first = h
        .until("both ok", |s| s.nodes().all(|n| n.health == Health::Ok))
        .await;
    let later = h
        .until("later", |s| s.generated_at > first.generated_at)
        .await;
    // Nothing changed in between: the node histories are the same allocations.
    let (a, b) = (
        first.history.node(&key(0, "db-a")).unwrap(),
        later.history.node(&key(0, "db-a")).unwrap(),
    );
    assert!(std::ptr::eq(a, b));
    assert_eq!(later.history.runs().len(), 1);
    assert_eq!(later.history.runs()[0].end, None);
    let mut snapshots = h.snapshots.clone();
    h.stop().await;
    let last = snapshots.borrow_and_update().clone();
    assert!(
        last.history.runs()[0].end.is_some(),
        "the run ends with the engine"
    );
}

#[tokio::test(start_paused = true)]
async fn the_remembered_best_and_the_history_survive_a_restart_with_a_state_file() {
    // Given app_a stale on db-a, so its chains win with app_b, and a state file
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let fake = cluster();
    fake.password("db-a", "app_a", "changed");
    let state = crate::engine::persist::StateFile::open(&path).unwrap();
    let mut h = Harness::start_with_state(&fake, alternating("a-1"), state);
    h.until("db-a wins with app_b", |s| {
        node(s, "db-a").remembered_best == Some(1)
    })
    .await;
    h.stop().await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("a-1") && !text.contains("b-1"),
        "no password: {text}"
    );

    // When the engine starts again on the same file
    let calls = fake.calls().len();
    let state = crate::engine::persist::StateFile::open(&path).unwrap();
    let mut h = Harness::start_with_state(&fake, alternating("a-1"), state);
    let s = h
        .until("db-a probed", |s| node(s, "db-a").winner.is_some())
        .await;

    // Then db-a's first chain starts with app_b, not with app_a first in config order
    let first = fake.calls()[calls..]
        .iter()
        .find(|c| c.node == "db-a")
        .cloned()
        .expect("a call");
    assert_eq!(first.login, "app_b");
    // And the history goes on: the first run ended, the second runs.
    let runs = s.history.runs();
    assert_eq!(runs.len(), 2);
    assert!(runs[0].end.is_some() && runs[1].end.is_none());
    let b = cred("app_b", "b-1");
    let cells = s.history.credential_cells(&b, t0(), s.generated_at, 10);
    assert_eq!(cells[0], Cell::ValidEverywhere, "{cells:?}");
    h.stop().await;
}
