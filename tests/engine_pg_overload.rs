//! Issue 14 item 9, against real PostgreSQL: overload is neither slow to fail over nor silent.
//!
//! One server behind a hundred node names, one probe at a time (`probe.concurrency = 1`), chain
//! probes every 100 ms: far more work than one permit can serve, so every node's chain waits
//! for the permit. Each node lists a stale password first. Then:
//! - a chain's second candidate is tried right after the first is refused, never behind other
//!   nodes' queued probes (with one permit, probes run one after another, so no other node's
//!   probe may come between the two);
//! - the engine says the schedule fell behind: `behind_schedule` in the snapshot and as a
//!   `warning` event, with a measured real interval above the configured 100 ms.

mod support;

use rotascope::engine::event::{EventKind, ProbeMode, ProbeRecord, ProbeRecordOutcome};
use rotascope::engine::probe::ErrorKind;
use rotascope::engine::snapshot::WarningKind;
use rotascope::engine::{Feed, Health};
use rotascope::lab::ServerOptions;
use support::{island, lab_server, ConfigFile, Running, Settings};

const RIGHT: &str = "overload-right-Fm4q8s";
const STALE: &str = "overload-stale-Jd2w6p";
const NODES: u32 = 100;

fn config(url: &str) -> String {
    let settings = Settings {
        interval: "100ms",
        watch: false,
        ..Settings::default()
    };
    let mut text = settings
        .toml()
        .replace("[probe]\n", "[probe]\nconcurrency = 1\n");
    for no in 0..NODES {
        text.push_str(&island(
            no,
            &format!("n{no:03}"),
            url,
            &[("app", STALE), ("app", RIGHT)],
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_permit_many_nodes_failover_is_immediate_and_the_lag_is_reported() {
    let pg = lab_server(ServerOptions::default()).await;
    pg.create_role("app", RIGHT).await.expect("app");
    let file = ConfigFile::new(&config(&pg.conn_string("postgres")));
    let mut run = Running::start(&file).await;

    // Every node's first chain: the stale password refused, then the right one.
    run.wait("every node reached with its second candidate", |s| {
        s.nodes().count() == NODES as usize && s.nodes().all(|n| n.winner == Some(1))
    })
    .await;
    run.feed.drain();
    let probes: Vec<&ProbeRecord> = run
        .feed
        .items()
        .iter()
        .filter_map(|item| match item {
            Feed::Probe(p) => Some(p),
            Feed::Event(_) => None,
        })
        .collect();
    let mut failovers = 0;
    for (i, p) in probes.iter().enumerate() {
        if p.outcome != ProbeRecordOutcome::Failed(ErrorKind::AuthFailed) {
            continue;
        }
        assert_eq!(p.mode, ProbeMode::Chain, "{p:?}");
        let next = probes.get(i + 1).expect("the failover probe");
        assert_eq!(
            (next.node.as_str(), next.index, next.outcome),
            (p.node.as_str(), 1, ProbeRecordOutcome::Ok),
            "another node's probe came between a refusal and its failover"
        );
        failovers += 1;
    }
    assert_eq!(failovers, NODES, "one failover per node");

    // The schedule cannot keep 100 ms with one permit: the engine says so.
    let s = run
        .wait("behind_schedule", |s| s.behind_schedule.is_some())
        .await;
    let pace = s.behind_schedule.expect("raised").pace;
    assert_eq!(pace.interval.as_millis(), 100);
    assert!(pace.real_p50.as_millis() > 130, "{pace:?}");
    run.feed
        .find_event(0, "the behind_schedule warning event", |e| {
            matches!(
                e,
                EventKind::ClusterWarning {
                    warning: WarningKind::BehindSchedule,
                    active: true,
                    ..
                }
            )
        })
        .await;
    assert!(s.nodes().all(|n| n.health == Health::Degraded));
}
