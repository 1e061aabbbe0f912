//! Overload: a chain's failover never queues behind other nodes' probes, and a schedule that
//! falls behind says so (`behind_schedule`, raised and cleared).

use super::*;
use crate::engine::snapshot::{Pace, WarningKind};

/// `count` nodes `n00`, `n01`, ... on island 0, each listing a stale `old` login first and a
/// working `new` one, answering after `latency`.
fn crowd(count: usize, latency: Duration) -> (FakeProber, Topology) {
    let fake = FakeProber::new();
    let mut nodes = Vec::new();
    for i in 0..count {
        let name = format!("n{i:02}");
        fake.server(&name, Role::Replica)
            .password(&name, "new", "pn");
        fake.update(&name, |s| s.latency = latency);
        nodes.push(fake::node(0, &name, &[("old", "stale"), ("new", "pn")]));
    }
    (fake, fake::topology(nodes))
}

/// `behind_schedule` events so far: (active, figures).
fn pace_events(h: &mut Harness) -> Vec<(bool, Pace)> {
    h.events()
        .into_iter()
        .filter_map(|e| match e {
            EventKind::ClusterWarning {
                warning: WarningKind::BehindSchedule,
                active,
                pace,
                ..
            } => Some((active, pace)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_chain_fails_over_to_its_next_candidate_without_queueing_behind_other_nodes() {
    // Given one permit and eight nodes whose first candidate is refused
    let (fake, topo) = crowd(8, Duration::from_millis(10));
    let one = ProbeSettings {
        concurrency: 1,
        ..settings()
    };
    let mut h = Harness::start(&fake, topo, one);
    h.until("every node ok", |s| s.nodes().all(|n| n.winner == Some(1)))
        .await;

    // Then each refusal is followed at once by the same node's next candidate
    let calls = fake.calls();
    for pair in calls.windows(2) {
        if pair[0].login == "old" {
            assert_eq!(
                (pair[1].node.as_str(), pair[1].login.as_str(), pair[1].at),
                (
                    pair[0].node.as_str(),
                    "new",
                    pair[0].at + Duration::from_millis(10)
                ),
                "{calls:#?}"
            );
        }
    }
    assert_eq!(fake.max_in_flight(), 1, "the permit still bounds probes");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_overloaded_schedule_raises_behind_schedule_and_clears_it_when_it_keeps_up() {
    // Given 20 nodes at one probe at a time, two probes of 100 ms a chain: four seconds of
    // probing for a 1 s interval
    let (fake, topo) = crowd(20, Duration::from_millis(100));
    let one = ProbeSettings {
        concurrency: 1,
        ..settings()
    };
    let mut h = Harness::start(&fake, topo, one);

    // Then the warning is raised with the real interval, well above the configured one
    let s = h
        .until("behind schedule", |s| s.behind_schedule.is_some())
        .await;
    let raised = pace_events(&mut h);
    assert_eq!(raised.len(), 1, "{raised:?}");
    let (active, pace) = raised[0];
    assert!(active);
    assert_eq!(pace.interval, settings().interval);
    assert!(pace.real_p50 > pace.interval.mul_f64(1.3), "{pace:?}");
    assert!(pace.real_max >= pace.real_p50);
    let shown = s.behind_schedule.expect("in the snapshot");
    assert_eq!(shown.since, t0(), "stamped by the engine's clock");

    // When the servers answer fast again, the schedule keeps up and the warning clears
    for i in 0..20 {
        fake.update(&format!("n{i:02}"), |s| {
            s.latency = Duration::from_millis(1)
        });
    }
    h.until("caught up", |s| s.behind_schedule.is_none()).await;
    let cleared = pace_events(&mut h);
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    let (active, pace) = cleared[0];
    assert!(!active);
    assert!(pace.real_p50 <= pace.interval.mul_f64(1.2), "{pace:?}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_schedule_that_keeps_up_never_warns() {
    // 20 nodes, 8 permits, 10 ms probes: a small fraction of what the permits can serve, with
    // refusals on every node (two probes a chain) and audits on top
    let (fake, topo) = crowd(20, Duration::from_millis(10));
    let mut h = Harness::start(&fake, topo, settings());
    h.until_calls("n19", "new", 60).await;
    assert!(h.snapshots.borrow().behind_schedule.is_none());
    assert_eq!(pace_events(&mut h), []);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_new_interval_starts_the_measurement_over() {
    let (fake, topo) = crowd(20, Duration::from_millis(100));
    let one = ProbeSettings {
        concurrency: 1,
        ..settings()
    };
    let mut h = Harness::start(&fake, topo.clone(), one.clone());
    h.until("behind schedule", |s| s.behind_schedule.is_some())
        .await;
    pace_events(&mut h);

    // a ten times longer interval: the old figures no longer mean anything
    let slow = ProbeSettings {
        interval: Duration::from_secs(10),
        ..one
    };
    h.reload(fake::config(topo, slow));
    let s = h.until("generation 2", |s| s.config.generation == 2).await;
    assert!(s.behind_schedule.is_none());
    let events = pace_events(&mut h);
    assert_eq!(events.len(), 1);
    assert!(!events[0].0, "cleared");
    // and four seconds of probing fit a ten-second interval: it stays clear
    h.until_calls("n19", "new", 8).await;
    assert!(h.snapshots.borrow().behind_schedule.is_none());
    assert_eq!(pace_events(&mut h), []);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_shorter_interval_is_not_taken_for_falling_behind() {
    // 8 nodes keeping a 1 s interval with ease
    let (fake, topo) = crowd(8, Duration::from_millis(10));
    let mut h = Harness::start(&fake, topo, settings());
    h.until_calls("n07", "new", 5).await;

    // When `-` makes it four times shorter
    h.send(Command::SetInterval(Duration::from_millis(250)))
        .await;

    // Then the chains that straddle the change (up to 1 s since the last one, against 250 ms)
    // are no sign of falling behind: no warning, ever
    h.until_calls("n07", "new", 40).await;
    assert_eq!(pace_events(&mut h), []);
    assert!(h.snapshots.borrow().behind_schedule.is_none());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn check_says_behind_schedule_when_one_round_takes_longer_than_the_interval() {
    let one = ProbeSettings {
        concurrency: 1,
        ..settings()
    };
    // 12 nodes × 2 probes × 50 ms, one at a time: the last chain starts 1.1 s into the pass
    let (fake, topo) = crowd(12, Duration::from_millis(50));
    let s = check_once(
        fake::config(topo, one.clone()),
        Arc::new(ManualClock::new(t0())),
        fake,
    )
    .await;
    let behind = s.behind_schedule.expect("behind schedule");
    assert_eq!(behind.pace.real_p50, Duration::from_millis(1100));
    assert_eq!(behind.pace.real_max, Duration::from_millis(1100));
    assert!(s
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::ClusterWarning { active: true, .. })));

    // 8 nodes: the last chain starts 0.7 s in, within the interval
    let (fake, topo) = crowd(8, Duration::from_millis(50));
    let s = check_once(
        fake::config(topo, one),
        Arc::new(ManualClock::new(t0())),
        fake,
    )
    .await;
    assert_eq!(s.behind_schedule, None);
}
