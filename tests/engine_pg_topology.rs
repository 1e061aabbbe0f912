//! Acceptance tests 6–8 of issue 3, against real PostgreSQL: roles, islands and shards.
//!
//! 6. Failover: the master stops, the replica is promoted: `role_changed` replica→master, and a
//!    `no_master` warning raised while it lasts and cleared after.
//! 7. Topology reload: an added island and a removed node take effect without a restart; the
//!    kept node keeps its latency history and winner.
//! 8. Shards: schemas matching `sh%04d` listed per island; one shard on two islands raises
//!    `shard_conflict` (and clears it when it goes).

mod support;

use rotascope::engine::event::EventKind;
use rotascope::engine::probe::Role;
use rotascope::engine::snapshot::WarningKind;
use rotascope::engine::{Command, Health};
use rotascope::lab::ServerOptions;
use rotascope::topology::IslandNo;
use support::{find_node, island, lab_server, node, secret, ConfigFile, Running, Settings};

const APP: &str = "accept-topo-app-Wq3r6v";
const APP_B: &str = "accept-topo-b-Gx8m1z";
const BROKEN: &str = "accept-topo-broken-Yh7c5d";
const ALL: [&str; 3] = [APP, APP_B, BROKEN];

fn is_warning(e: &EventKind, kind: WarningKind, on: bool) -> bool {
    matches!(e, EventKind::Warning { warning, active, .. } if *warning == kind && *active == on)
}

/// Given a master and its streaming replica, when the master stops, the island warns
/// `no_master`; when the replica is promoted, it reports `role_changed` replica→master and the
/// warning is cleared. When the old master then comes back unfenced, the island warns
/// `split_brain` until it is stopped again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_promotes_the_replica_and_clears_no_master() {
    let primary = lab_server(ServerOptions::default()).await;
    primary.create_role("app", APP).await.expect("app");
    let replica = primary.start_replica().await.expect("replica");
    let p = primary.conn_string("postgres");
    let r = replica.conn_string("postgres");
    let text = format!(
        "islands = [[\"{p}\", \"{r}\"]]\n\n{}{}",
        Settings::default().toml(),
        secret("app", APP, "current")
    );
    let file = ConfigFile::new(&text);
    let mut run = Running::start(&file).await;
    let s = run
        .wait("master and replica ok", |s| {
            node(s, &p).role == Role::Master
                && node(s, &r).role == Role::Replica
                && s.nodes().all(|n| n.health == Health::Ok)
        })
        .await;
    assert!(
        s.islands[0].warnings.is_empty(),
        "{:?}",
        s.islands[0].warnings
    );
    let lag = node(&s, &r).replication.expect("replica WAL positions");
    assert!(
        lag.wal.replay.is_some() && lag.lag_bytes.is_some(),
        "{lag:?}"
    );

    let stopped = run.feed.mark();
    primary.stop().await.expect("stop the master");
    let raised = run
        .feed
        .find_event(stopped, "no_master raised", |e| {
            is_warning(e, WarningKind::NoMaster, true)
        })
        .await;
    let s = run
        .wait("no_master on screen", |s| {
            s.islands[0]
                .warnings
                .iter()
                .any(|w| w.kind == WarningKind::NoMaster)
        })
        .await;
    assert_eq!(node(&s, &p).health, Health::Down);
    assert_eq!(node(&s, &r).role, Role::Replica);

    replica.promote().await.expect("promote");
    let promoted = run
        .feed
        .find_event(raised, "role_changed replica→master", |e| {
            matches!(e, EventKind::RoleChanged { node, from: Role::Replica, to: Role::Master, .. }
                if *node == *r)
        })
        .await;
    let cleared = run
        .feed
        .find_event(raised, "no_master cleared", |e| {
            is_warning(e, WarningKind::NoMaster, false)
        })
        .await;
    assert!(
        raised < promoted && promoted < cleared,
        "raised {raised}, promoted {promoted}, cleared {cleared}"
    );
    // Between raising and clearing, the warning was not cleared early.
    assert!(!run
        .feed
        .events(raised + 1..cleared)
        .iter()
        .any(|e| is_warning(e, WarningKind::NoMaster, false)));
    let s = run
        .wait("no warning, the replica is master", |s| {
            s.islands[0].warnings.is_empty() && node(s, &r).role == Role::Master
        })
        .await;
    assert_eq!(node(&s, &r).health, Health::Ok);

    // The old master comes back on its own, still a master: two masters, split brain.
    let restarted = run.feed.mark();
    primary.start().await.expect("restart the old master");
    let split = run
        .feed
        .find_event(restarted, "split_brain raised", |e| {
            is_warning(e, WarningKind::SplitBrain, true)
        })
        .await;
    if let EventKind::Warning { detail, .. } = run.feed.events(split..split + 1)[0] {
        assert!(detail.contains(&*p) && detail.contains(&*r), "{detail}");
    }
    let s = run
        .wait("split_brain on screen", |s| {
            s.islands[0]
                .warnings
                .iter()
                .any(|w| w.kind == WarningKind::SplitBrain)
        })
        .await;
    assert_eq!(s.verdict(), rotascope::engine::snapshot::Verdict::Down);
    // Fenced again: one master left, the warning clears.
    primary.stop().await.expect("stop the old master");
    run.feed
        .find_event(split, "split_brain cleared", |e| {
            is_warning(e, WarningKind::SplitBrain, false)
        })
        .await;
    run.assert_no_leak(&ALL);
}

/// Given islands 0 (node a) and 1 (node b), when the config is edited to drop island 1 and add
/// island 2 (node c) and a reload is asked for, b leaves (`node_removed`) and c arrives
/// (`node_added`) without a restart, while a keeps its latency history, winner and candidate
/// states. A broken edit before that fails with `config_failed` and changes nothing.
///
/// The reload here is `Command::Reload` with the file watcher off: the other trigger the
/// rotation tests do not use. All three nodes are the same server under different names (the
/// explicit form's `name`), one per island so each island has exactly one master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_reload_adds_and_removes_without_losing_history() {
    let pg = lab_server(ServerOptions::default()).await;
    pg.create_role("app", APP).await.expect("app");
    pg.create_role("app_b", APP_B).await.expect("app_b");
    let url = pg.conn_string("postgres");
    let settings = Settings {
        watch: false,
        ..Settings::default()
    };
    let a = island(0, "a", &url, &[("app", APP), ("app_b", APP_B)]);
    let v1 = format!(
        "{}{a}{}",
        settings.toml(),
        island(1, "b", &url, &[("app", APP)])
    );
    let v2 = format!(
        "{}{a}{}",
        settings.toml(),
        island(2, "c", &url, &[("app_b", APP_B)])
    );
    let file = ConfigFile::new(&v1);
    let mut run = Running::start(&file).await;

    let before = run
        .wait("a and b ok, a with some history", |s| {
            s.nodes().all(|n| n.health == Health::Ok)
                && node(s, "a").latency.samples.len() >= 3
                && node(s, "a")
                    .candidates
                    .iter()
                    .all(|c| c.last_checked.is_some())
        })
        .await;
    let a_before = node(&before, "a").clone();

    // A broken edit first (a TOML error on a line holding a new password): the reload fails,
    // the error says where without the password, and the running config keeps being probed.
    let broken = run.feed.mark();
    file.replace(&format!("{v1}[[island]]\nno = 3\npassword = \"{BROKEN}\n"));
    run.command(Command::Reload).await;
    let failed = run
        .feed
        .find_event(broken, "config_failed", |e| {
            matches!(e, EventKind::ConfigFailed { .. })
        })
        .await;
    if let EventKind::ConfigFailed { error, .. } = run.feed.events(failed..failed + 1)[0] {
        assert!(error.contains("rotascope.toml"), "{error}");
    }
    let s = run
        .wait("the failure on the status line", |s| {
            s.config.last_error.is_some()
        })
        .await;
    assert_eq!(s.config.generation, 1);
    run.feed.chains(failed, 2, "b").await;

    let edited = run.feed.mark();
    file.replace(&v2);
    run.command(Command::Reload).await;
    let applied = run.feed.applied(edited, 2).await;
    assert!(
        matches!(
            run.feed.events(applied..applied + 1)[0],
            EventKind::ConfigApplied {
                islands: 2,
                nodes: 2,
                ..
            }
        ),
        "{}",
        run.feed.tail(5)
    );
    run.feed
        .find_event(
            applied,
            "node_removed b",
            |e| matches!(e, EventKind::NodeRemoved { island: IslandNo(1), node } if node == "b"),
        )
        .await;
    run.feed
        .find_event(
            applied,
            "node_added c",
            |e| matches!(e, EventKind::NodeAdded { island: IslandNo(2), node } if node == "c"),
        )
        .await;
    let s = run
        .wait("generation 2 with c probed", |s| {
            s.config.generation == 2 && find_node(s, "c").is_some_and(|c| c.health == Health::Ok)
        })
        .await;
    assert!(
        s.config.last_error.is_none(),
        "a good reload clears the error"
    );
    let nos: Vec<u32> = s.islands.iter().map(|i| i.no.0).collect();
    assert_eq!(nos, [0, 2]);
    assert!(find_node(&s, "b").is_none());

    let a_after = node(&s, "a");
    assert_eq!(a_after.winner, a_before.winner);
    assert_eq!(a_after.remembered_best, a_before.remembered_best);
    assert_eq!(a_after.health, Health::Ok);
    let last_before = a_before.latency.last().expect("a sample");
    assert!(
        a_after.latency.samples.contains(last_before),
        "a's latency history was lost"
    );
    assert!(a_after.latency.samples.len() >= a_before.latency.samples.len());
    for (old, new) in a_before.candidates.iter().zip(&a_after.candidates) {
        assert_eq!(old.id, new.id);
        assert!(new.last_checked >= old.last_checked && new.last_valid.is_some());
    }
    let events = run.feed.events(applied..run.feed.len());
    assert!(
        !events.iter().any(|e| matches!(e,
            EventKind::NodeAdded { node, .. } | EventKind::NodeRemoved { node, .. } if node == "a")),
        "{events:?}"
    );
    // No probe of b after it left.
    run.feed.chains(applied, 3, "a").await;
    let probes_of_b = run.feed.probes(applied..run.feed.len(), Some("b"), None);
    assert!(probes_of_b.is_empty(), "{probes_of_b:?}");
    run.assert_no_leak(&ALL);
}

/// Given shards sh0001..sh0003 in island 0's database and sh0004 in island 1's (plus schemas the
/// pattern must not match), each island lists its own; when sh0002 appears on island 1 too,
/// both islands warn `shard_conflict`, cleared when it is dropped again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_are_listed_per_island_and_conflicts_warn() {
    let pg = lab_server(ServerOptions::default()).await;
    pg.create_role("app", APP).await.expect("app");
    pg.create_database("second").await.expect("database");
    for shard in ["sh0001", "sh0002", "sh0003", "sh12", "sh0001x", "shard"] {
        pg.create_schema("postgres", shard).await.expect("schema");
    }
    pg.create_schema("second", "sh0004").await.expect("schema");
    // Two databases of one server: two nodes, one per island, each the master of its island.
    let port = pg.port();
    let settings = Settings {
        shard_pattern: Some("sh%04d"),
        ..Settings::default()
    };
    let text = format!(
        "{}{}{}",
        settings.toml(),
        island(
            0,
            "i0",
            &format!("postgres://127.0.0.1:{port}/postgres"),
            &[("app", APP)]
        ),
        island(
            1,
            "i1",
            &format!("postgres://127.0.0.1:{port}/second"),
            &[("app", APP)]
        ),
    );
    let file = ConfigFile::new(&text);
    let mut run = Running::start(&file).await;

    let shards = |s: &rotascope::engine::Snapshot, i: usize| s.islands[i].shards.clone();
    let list = |names: &[&str]| Some(names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    let s = run
        .wait("shards of both islands", |s| {
            s.islands.iter().all(|i| i.shards.is_some())
        })
        .await;
    assert_eq!(shards(&s, 0), list(&["sh0001", "sh0002", "sh0003"]));
    assert_eq!(shards(&s, 1), list(&["sh0004"]));
    assert!(s.islands.iter().all(|i| i.warnings.is_empty()));

    let created = run.feed.mark();
    pg.create_schema("second", "sh0002").await.expect("schema");
    for no in [0, 1] {
        let at = run
            .feed
            .find_event(created, "shard_conflict raised", |e| {
                is_warning(e, WarningKind::ShardConflict, true)
                    && matches!(e, EventKind::Warning { island, .. } if island.0 == no)
            })
            .await;
        if let EventKind::Warning { detail, .. } = run.feed.events(at..at + 1)[0] {
            assert!(detail.contains("sh0002"), "{detail}");
        }
    }
    let s = run
        .wait("conflict on both islands", |s| {
            s.islands.iter().all(|i| {
                i.warnings
                    .iter()
                    .any(|w| w.kind == WarningKind::ShardConflict)
            })
        })
        .await;
    assert_eq!(shards(&s, 1), list(&["sh0002", "sh0004"]));
    assert_eq!(shards(&s, 0), list(&["sh0001", "sh0002", "sh0003"]));

    let dropped = run.feed.mark();
    pg.execute_in("second", "DROP SCHEMA sh0002")
        .await
        .expect("drop schema");
    for no in [0, 1] {
        run.feed
            .find_event(dropped, "shard_conflict cleared", |e| {
                is_warning(e, WarningKind::ShardConflict, false)
                    && matches!(e, EventKind::Warning { island, .. } if island.0 == no)
            })
            .await;
    }
    let s = run
        .wait("no warnings", |s| {
            s.islands.iter().all(|i| i.warnings.is_empty())
        })
        .await;
    assert_eq!(shards(&s, 1), list(&["sh0004"]));
    run.assert_no_leak(&ALL);
}

/// Given one application string over a master and its replica with
/// `target_session_attrs=primary` (password inside the string), when the master stops, no host
/// satisfies it: the island warns `session_attrs_unmet`, naming the string without its password;
/// when the master is back, the warning clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_only_string_warns_while_its_primary_is_stopped() {
    let primary = lab_server(ServerOptions::default()).await;
    primary.create_role("app", APP).await.expect("app");
    let replica = primary.start_replica().await.expect("replica");
    let (pp, rp) = (primary.port(), replica.port());
    let url = format!(
        "postgres://app:{APP}@127.0.0.1:{pp},127.0.0.1:{rp}/postgres?target_session_attrs=primary"
    );
    let text = format!("islands = [[\"{url}\"]]\n\n{}", Settings::default().toml());
    let file = ConfigFile::new(&text);
    let mut run = Running::start(&file).await;
    let (p, r) = (format!("127.0.0.1:{pp}"), format!("127.0.0.1:{rp}"));
    let unmet = |s: &rotascope::engine::Snapshot| {
        s.islands[0]
            .warnings
            .iter()
            .find(|w| w.kind == WarningKind::SessionAttrsUnmet)
            .cloned()
    };
    let s = run
        .wait("master and replica ok", |s| {
            node(s, &p).role == Role::Master
                && node(s, &r).role == Role::Replica
                && s.nodes().all(|n| n.health == Health::Ok)
        })
        .await;
    assert_eq!(unmet(&s), None);

    let stopped = run.feed.mark();
    primary.stop().await.expect("stop the master");
    run.feed
        .find_event(stopped, "session_attrs_unmet raised", |e| {
            is_warning(e, WarningKind::SessionAttrsUnmet, true)
        })
        .await;
    let s = run.wait("unmet on screen", |s| unmet(s).is_some()).await;
    let detail = unmet(&s).unwrap().detail;
    assert!(
        detail.contains("target_session_attrs=primary")
            && detail.contains(&format!("{p} (down)"))
            && detail.contains(&format!("{r} (replica)"))
            && detail.contains(&format!("127.0.0.1:{pp},127.0.0.1:{rp}")),
        "{detail}"
    );
    assert!(!detail.contains(APP), "{detail}");
    assert_eq!(
        rotascope::report::exit_code(&s),
        2,
        "an application that cannot connect"
    );

    let restarted = run.feed.mark();
    primary.start().await.expect("restart the master");
    run.feed
        .find_event(restarted, "session_attrs_unmet cleared", |e| {
            is_warning(e, WarningKind::SessionAttrsUnmet, false)
        })
        .await;
    let s = run
        .wait("no warning", |s| s.islands[0].warnings.is_empty())
        .await;
    assert_eq!(node(&s, &p).role, Role::Master);
    run.assert_no_leak(&ALL);
}
