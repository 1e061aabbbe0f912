//! The engine's public API, driven from outside the crate the way the real-PostgreSQL acceptance
//! tests and the CLI will drive it (here over the scripted fake prober, for sequencing only).

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use rotascope::clock::{Clock, ManualClock};
use rotascope::config::{ConfigFeed, ProbeSettings};
use rotascope::engine::fake::{self, FakeProber};
use rotascope::engine::{check_once, Command, Engine, Feed, Health, Role, Snapshot};
use rotascope::topology::{IslandNo, NodeKey};
use tokio_util::sync::CancellationToken;

fn settings() -> ProbeSettings {
    ProbeSettings {
        concurrency: 4,
        ..fake::settings()
    }
}

#[tokio::test(start_paused = true)]
async fn a_rotation_switches_the_winner_and_the_feed_tells_it() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap(),
    ));
    let prober = FakeProber::new();
    prober
        .server("db", Role::Master)
        .password("db", "app_a", "a-1")
        .password("db", "app_b", "b-1");
    let topology = fake::topology(vec![fake::node(
        0,
        "db",
        &[("app_a", "a-1"), ("app_b", "b-1")],
    )]);
    let (feed, _states) = ConfigFeed::manual(fake::config(topology, settings()), clock.now());
    let shutdown = CancellationToken::new();
    let mut engine = Engine::spawn(feed, clock, prober.clone(), shutdown.clone());

    let ok = |s: &Arc<Snapshot>| s.nodes().all(|n| n.health == Health::Ok);
    engine.snapshots.wait_for(ok).await.expect("engine running");

    // the database rotates app_a's password; a reprobe sees it at once
    prober.password("db", "app_a", "a-2");
    let node = NodeKey {
        island: IslandNo(0),
        name: "db".into(),
    };
    engine
        .commands
        .send(Command::Reprobe(node))
        .await
        .expect("engine running");
    let switched = engine
        .snapshots
        .wait_for(|s| s.nodes().all(|n| n.winner == Some(1)))
        .await
        .expect("engine running")
        .clone();
    assert_eq!(
        switched.nodes().next().map(|n| n.health),
        Some(Health::Degraded)
    );

    let mut winner_changes = 0;
    while let Ok(item) = engine.feed_from_start.try_recv() {
        if let Feed::Event(e) = item {
            let json = serde_json::to_value(&e).expect("serializes");
            if json["type"] == "winner_changed" {
                winner_changes += 1;
            }
        }
    }
    assert_eq!(winner_changes, 2, "none → app_a, then app_a → app_b");
    shutdown.cancel();
    engine.task.await.expect("clean end");
}

#[tokio::test(start_paused = true)]
async fn check_once_returns_the_final_snapshot() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap(),
    ));
    let prober = FakeProber::new();
    prober
        .server("db", Role::Master)
        .password("db", "app", "pw");
    let config = fake::config(
        fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]),
        settings(),
    );
    let snapshot = check_once(config, clock, prober).await;
    assert_eq!(snapshot.verdict(), rotascope::engine::snapshot::Verdict::Ok);
}
