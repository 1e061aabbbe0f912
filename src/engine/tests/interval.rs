//! The session interval (`Command::SetInterval`, the dashboard's `+`/`-`): it takes effect at
//! once, shows in the snapshot, and a reload of the config file does not take it back.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_session_interval_takes_effect_at_once_and_outlives_a_reload() {
    let fake = fake_with("db", &[("app", "pw")]);
    let slow = ProbeSettings {
        interval: Duration::from_secs(600),
        ..settings()
    };
    let topo = || fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]);
    let mut h = Harness::start(&fake, topo(), slow.clone());
    h.until_calls("db", "app", 1).await;

    // Given a 10-minute interval, when the dashboard asks for 1 s, then the next chain probe
    // comes within 1 s (plus jitter), not 10 minutes later, and the snapshot says 1 s.
    let asked = Instant::now();
    h.send(Command::SetInterval(Duration::from_secs(1))).await;
    h.until("the snapshot shows 1s", |s| {
        s.settings.interval == Duration::from_secs(1)
    })
    .await;
    h.until_calls("db", "app", 3).await;
    let calls = fake.calls();
    assert!(
        h.secs(calls[1].at) - h.secs(asked) <= 1.2 + 0.01,
        "{calls:?}"
    );
    assert!((calls[2].at - calls[1].at).as_secs_f64() <= 1.2 + 0.01);

    // When the config file is reloaded (still saying 10 minutes), the session's 1 s stays.
    h.reload(fake::config(topo(), slow));
    h.until("generation 2", |s| s.config.generation == 2).await;
    let reloaded = Instant::now();
    let before = fake.calls().len();
    h.until_calls("db", "app", before + 2).await;
    let calls = fake.calls();
    assert!(h.secs(calls[before + 1].at) - h.secs(reloaded) <= 2.4 + 0.02);
    assert_eq!(
        h.snapshots.borrow().settings.interval,
        Duration::from_secs(1)
    );

    // An absurdly short interval is raised to the floor: a typo cannot hammer the fleet.
    h.send(Command::SetInterval(Duration::ZERO)).await;
    h.until("the floor", |s| {
        s.settings.interval == crate::engine::core::MIN_SESSION_INTERVAL
    })
    .await;
    h.stop().await;
}
