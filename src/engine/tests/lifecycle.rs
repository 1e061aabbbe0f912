//! Starting, reloading by command, losing the config feed, and shutting down.

use super::*;
use crate::engine::snapshot::CandidateState;

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
    // (The guard `wait_for` returns is let go at once: held, it would keep the engine from
    // publishing its last snapshot when it stops.)
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        handle.snapshots.wait_for(|_| watched.calls().len() >= 5),
    )
    .await
    .map(|r| r.map(drop));
    assert!(matches!(waited, Ok(Ok(()))));
    shutdown.cancel();
    handle.task.await.expect("clean end");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_results_is_published_in_few_snapshots_with_every_result_in_the_last() {
    // 40 nodes probed at once, answering 1 ms apart: 40 results spread over 40 ms
    const NODES: usize = 40;
    let fake = FakeProber::new();
    let names: Vec<String> = (0..NODES).map(|i| format!("db{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        let role = if i == 0 { Role::Master } else { Role::Replica };
        fake.server(name, role).password(name, "app", "pw");
        fake.update(name, |s| s.latency = Duration::from_millis(i as u64 + 1));
    }
    let topo = fake::topology(
        names
            .iter()
            .map(|name| fake::node(0, name, &[("app", "pw")]))
            .collect(),
    );
    let wide = ProbeSettings {
        concurrency: 64,
        ..settings()
    };
    let mut h = Harness::start(&fake, topo, wide);

    // Events and probe records go out as they happen, not with the snapshot
    let first_probe = loop {
        match h.feed.recv().await.expect("feed open") {
            Feed::Probe(record) => break record,
            Feed::Event(_) => {}
        }
    };
    assert_eq!(first_probe.node, "db00");
    assert!(h.secs(Instant::now()) < 0.002, "probe record held back");
    assert!(
        h.snapshots
            .borrow()
            .nodes()
            .all(|n| n.health == Health::Unknown),
        "the snapshot waits out the gap"
    );

    let mut seen = 0;
    let all_ok = loop {
        tokio::time::timeout(Duration::from_secs(60), h.snapshots.changed())
            .await
            .expect("a snapshot comes")
            .expect("engine running");
        seen += 1;
        let s = h.snapshots.borrow_and_update().clone();
        if s.nodes().all(|n| n.health == Health::Ok) {
            break s;
        }
    };
    // every result is in (the last one came 40 ms in), yet they were published at most twice
    assert!(seen <= 2, "{seen} snapshots for {NODES} results");
    assert!(h.secs(Instant::now()) < 0.1, "published within the gap");
    for n in all_ok.nodes() {
        assert_eq!(n.latency.samples.len(), 1, "{}", n.key.name);
        assert_eq!(n.candidates[0].state, CandidateState::Valid);
    }
    let probes = h
        .drain()
        .into_iter()
        .filter(|f| matches!(f, Feed::Probe(_)))
        .count();
    assert_eq!(
        probes + 1,
        NODES,
        "one record per node (the first taken above)"
    );
    h.stop().await;
}
