//! Starting, reloading by command, losing the config feed, and shutting down.

use super::*;

#[tokio::test(start_paused = true)]
async fn the_first_snapshot_lists_every_node_before_any_probe() {
    let fake = fake_with("db", &[("app", "pw")]);
    let topo = fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]);
    let h = Harness::start(&fake, topo, settings());
    let first = h.snapshots.borrow().clone();
    assert_eq!(first.config.generation, 1);
    assert_eq!(first.config.loaded_at, Some(t0()));
    assert_eq!(node(&first, "db").health, Health::Unknown);
    assert_eq!(first.settings, settings());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_engine_and_its_probes_in_flight() {
    let fake = fake_with("db", &[("app", "pw")]);
    fake.hung("db", true);
    let topo = fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]);
    let mut h = Harness::start(&fake, topo, settings());
    h.until("probing", |s| node(s, "db").probing).await;
    assert_eq!(fake.in_flight(), 1);
    let probe = fake.clone();
    h.stop().await;
    assert_eq!(probe.in_flight(), 0, "the hung probe was dropped");
}

#[tokio::test(start_paused = true)]
async fn the_reload_command_asks_the_config_feed_to_reload() {
    let fake = fake_with("db", &[("app", "pw")]);
    let config = fake::config(
        fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]),
        settings(),
    );
    let (mut feed, _states) = ConfigFeed::manual(config, t0());
    let (reload_tx, mut reload_rx) = mpsc::channel(1);
    feed.reload = Some(reload_tx);
    let shutdown = CancellationToken::new();
    let handle = Engine::spawn(
        feed,
        Arc::new(ManualClock::new(t0())),
        fake,
        shutdown.clone(),
    );
    handle.commands.send(Command::Reload).await.expect("sent");
    let asked = tokio::time::timeout(Duration::from_secs(10), reload_rx.recv()).await;
    assert_eq!(asked, Ok(Some(())));
    shutdown.cancel();
    handle.task.await.expect("clean end");
}

#[tokio::test(start_paused = true)]
async fn the_engine_keeps_running_on_its_last_config_when_the_feed_goes_away() {
    let fake = fake_with("db", &[("app", "pw")]);
    let config = fake::config(
        fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]),
        settings(),
    );
    let (feed, states) = ConfigFeed::manual(config, t0());
    drop(states);
    let shutdown = CancellationToken::new();
    let mut handle = Engine::spawn(
        feed,
        Arc::new(ManualClock::new(t0())),
        fake.clone(),
        shutdown.clone(),
    );
    let watched = fake.clone();
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        handle.snapshots.wait_for(|_| watched.calls().len() >= 5),
    )
    .await;
    assert!(matches!(waited, Ok(Ok(_))));
    shutdown.cancel();
    handle.task.await.expect("clean end");
}
