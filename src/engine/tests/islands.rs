//! Roles, island warnings, shards, replication lag, and the events that tell of them.

use super::*;
use crate::config::ShardSettings;
use crate::engine::event::CandidateRef;
use crate::engine::probe::{Lsn, WalPosition};
use crate::engine::snapshot::{CandidateState, WarningKind};
use crate::secret::Password;
use crate::topology::SessionAttrs;

fn kinds(s: &Snapshot, island: u32) -> Vec<WarningKind> {
    s.islands
        .iter()
        .find(|i| i.no == IslandNo(island))
        .map(|i| i.warnings.iter().map(|w| w.kind).collect())
        .unwrap_or_default()
}

fn warnings(events: &[EventKind]) -> Vec<(u32, WarningKind, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::Warning {
                island,
                warning,
                active,
                ..
            } => Some((island.0, *warning, *active)),
            _ => None,
        })
        .collect()
}

/// Island 0: master `m` and replica `r`, both reachable with app/pw.
fn pair() -> (FakeProber, Topology) {
    let fake = fake_with("m", &[("app", "pw")]);
    fake.server("r", Role::Replica).password("r", "app", "pw");
    let topo = fake::topology(vec![
        fake::node(0, "m", &[("app", "pw")]),
        fake::node(0, "r", &[("app", "pw")]),
    ]);
    (fake, topo)
}

/// `m` and `r` as the two hosts of one application string asking for `attrs`.
fn one_string(attrs: SessionAttrs) -> (FakeProber, Topology) {
    let (fake, mut topo) = pair();
    for node in &mut topo.islands[0].nodes {
        for c in &mut node.candidates {
            let t = std::sync::Arc::make_mut(&mut c.target);
            t.session_attrs = attrs;
            t.from_string = Some(format!("host=m,r target_session_attrs={}", attrs.as_str()));
        }
    }
    (fake, topo)
}

/// Given a string `host=m,r target_session_attrs=primary`, when the master goes down, no host
/// satisfies it: `session_attrs_unmet` names the string and what each host is, and the verdict
/// is down; when the master is back, the warning clears.
#[tokio::test(start_paused = true)]
async fn a_string_no_host_satisfies_warns_until_one_does() {
    let (fake, topo) = one_string(SessionAttrs::Primary);
    let mut h = Harness::start(&fake, topo, settings());
    let s = h
        .until("both ok", |s| s.nodes().all(|n| n.health == Health::Ok))
        .await;
    assert!(kinds(&s, 0).is_empty(), "{:?}", s.islands[0].warnings);

    fake.down("m", Some(ErrorKind::Refused));
    let s = h
        .until("unmet", |s| {
            kinds(s, 0).contains(&WarningKind::SessionAttrsUnmet)
        })
        .await;
    let w = s.islands[0]
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::SessionAttrsUnmet)
        .unwrap();
    assert_eq!(
        w.detail,
        "no host of host=m,r target_session_attrs=primary satisfies \
         target_session_attrs=primary: m (down), r (replica)"
    );
    assert_eq!(s.verdict(), crate::engine::snapshot::Verdict::Down);

    fake.down("m", None);
    h.until("met again", |s| kinds(s, 0).is_empty()).await;
    let unmet: Vec<_> = warnings(&h.events())
        .into_iter()
        .filter(|w| w.1 == WarningKind::SessionAttrsUnmet)
        .collect();
    assert_eq!(
        unmet,
        [
            (0, WarningKind::SessionAttrsUnmet, true),
            (0, WarningKind::SessionAttrsUnmet, false)
        ]
    );
    h.stop().await;
}

/// A string asking for a standby is met by the replica, and one asking for nothing never warns,
/// even with every host down (the nodes say that already).
#[tokio::test(start_paused = true)]
async fn standby_strings_are_met_by_a_replica_and_any_never_warns() {
    let (fake, topo) = one_string(SessionAttrs::Standby);
    let mut h = Harness::start(&fake, topo, settings());
    let s = h
        .until("both ok", |s| s.nodes().all(|n| n.health == Health::Ok))
        .await;
    assert!(kinds(&s, 0).is_empty(), "{:?}", s.islands[0].warnings);
    fake.down("r", Some(ErrorKind::Refused));
    h.until("unmet without the replica", |s| {
        kinds(s, 0) == [WarningKind::SessionAttrsUnmet]
    })
    .await;
    h.stop().await;

    let (fake, topo) = one_string(SessionAttrs::Any);
    let mut h = Harness::start(&fake, topo, settings());
    fake.down("m", Some(ErrorKind::Refused));
    fake.down("r", Some(ErrorKind::Refused));
    let s = h
        .until("both down", |s| s.nodes().all(|n| n.health == Health::Down))
        .await;
    assert_eq!(kinds(&s, 0), [WarningKind::NoMaster]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_master_is_raised_during_a_failover_and_cleared_after() {
    let (fake, topo) = pair();
    let mut h = Harness::start(&fake, topo, settings());
    let s = h
        .until("both ok", |s| s.nodes().all(|n| n.health == Health::Ok))
        .await;
    assert!(kinds(&s, 0).is_empty());

    fake.down("m", Some(ErrorKind::Refused));
    let s = h
        .until("no master", |s| kinds(s, 0) == [WarningKind::NoMaster])
        .await;
    let detail = &s.islands[0].warnings[0].detail;
    assert!(
        detail.contains("m (down)") && detail.contains("r (replica)"),
        "{detail}"
    );

    fake.role("r", Role::Master);
    h.until("a master again", |s| kinds(s, 0).is_empty()).await;
    let events = h.events();
    let promoted = EventKind::RoleChanged {
        island: IslandNo(0),
        node: "r".into(),
        from: Role::Replica,
        to: Role::Master,
    };
    assert!(events.contains(&promoted));
    assert_eq!(
        warnings(&events),
        [
            (0, WarningKind::NoMaster, true),
            (0, WarningKind::NoMaster, false)
        ]
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_masters_are_a_split_brain_until_one_steps_down() {
    let (fake, topo) = pair();
    let mut h = Harness::start(&fake, topo, settings());
    h.until("both ok", |s| s.nodes().all(|n| n.health == Health::Ok))
        .await;

    fake.role("r", Role::Master);
    let s = h
        .until("split brain", |s| kinds(s, 0) == [WarningKind::SplitBrain])
        .await;
    assert_eq!(s.islands[0].warnings[0].detail, "masters: m, r");
    fake.role("r", Role::Replica);
    h.until("one master", |s| kinds(s, 0).is_empty()).await;
    assert_eq!(
        warnings(&h.events()),
        [
            (0, WarningKind::SplitBrain, true),
            (0, WarningKind::SplitBrain, false)
        ]
    );
    h.stop().await;
}

fn shards(names: &[&str]) -> Option<Vec<String>> {
    Some(names.iter().map(|s| s.to_string()).collect())
}

#[tokio::test(start_paused = true)]
async fn shards_are_listed_per_island_and_a_shard_on_two_islands_is_a_conflict() {
    let fake = fake_with("m0", &[("app", "pw")]);
    fake.server("r0", Role::Replica).password("r0", "app", "pw");
    fake.server("m1", Role::Master).password("m1", "app", "pw");
    fake.update("m0", |s| s.shards = shards(&["sh0001", "sh0002", "sh0003"]));
    fake.update("r0", |s| s.shards = shards(&["sh0001", "sh0002", "sh0003"]));
    fake.update("m1", |s| s.shards = shards(&["sh0004"]));
    let mut config = fake::config(
        fake::topology(vec![
            fake::node(0, "m0", &[("app", "pw")]),
            fake::node(0, "r0", &[("app", "pw")]),
            fake::node(1, "m1", &[("app", "pw")]),
        ]),
        settings(),
    );
    config.shards = ShardSettings {
        pattern: Some("sh%04d".into()),
    };
    let mut h = Harness::start_config(&fake, config);
    let s = h
        .until("shards", |s| s.islands.iter().all(|i| i.shards.is_some()))
        .await;
    assert_eq!(s.islands[0].shards, shards(&["sh0001", "sh0002", "sh0003"]));
    assert_eq!(s.islands[1].shards, shards(&["sh0004"]));
    assert!(kinds(&s, 0).is_empty() && kinds(&s, 1).is_empty());

    // the same shard on two islands
    fake.update("m1", |s| s.shards = shards(&["sh0003", "sh0004"]));
    let s = h
        .until("conflict", |s| kinds(s, 1) == [WarningKind::ShardConflict])
        .await;
    assert_eq!(kinds(&s, 0), [WarningKind::ShardConflict]);
    assert_eq!(s.islands[1].warnings[0].detail, "sh0003 also on island 0");

    fake.update("m1", |s| s.shards = shards(&["sh0004"]));
    h.until("no conflict", |s| kinds(s, 1).is_empty()).await;

    // while island 0's master is down, its shards come from the replica
    fake.update("r0", |s| s.shards = shards(&["sh0001", "sh0002"]));
    fake.down("m0", Some(ErrorKind::Refused));
    h.until("shards from the replica", |s| {
        s.islands[0].shards == shards(&["sh0001", "sh0002"])
    })
    .await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_replica_lags_by_the_masters_position_minus_its_replay_position() {
    let (fake, topo) = pair();
    fake.update("m", |s| {
        s.wal = WalPosition {
            current: Some(Lsn(10_000)),
            ..WalPosition::default()
        }
    });
    fake.update("r", |s| {
        s.wal = WalPosition {
            current: None,
            receive: Some(Lsn(9_800)),
            replay: Some(Lsn(9_400)),
        }
    });
    let mut h = Harness::start(&fake, topo, settings());
    let s = h
        .until("both ok", |s| s.nodes().all(|n| n.health == Health::Ok))
        .await;
    let lag = |name: &str| node(&s, name).replication.and_then(|r| r.lag_bytes);
    assert_eq!(lag("r"), Some(600));
    assert_eq!(lag("m"), None);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_first_chain_tells_its_story_in_events_with_every_field() {
    let fake = fake_with("db", &[("app", "right-pw")]);
    let topo = fake::topology(vec![fake::node(
        0,
        "db",
        &[("app", "wrong-pw"), ("app", "right-pw")],
    )]);
    let mut h = Harness::start(&fake, topo, settings());
    let s = h
        .until("first chain", |s| node(s, "db").last_chain.is_some())
        .await;

    let named = |index: usize, password: &str| CandidateRef {
        index,
        login: "app".into(),
        label: None,
        fingerprint: Password::new(password).fingerprint(),
    };
    let island = IslandNo(0);
    let db = || "db".to_string();
    let expected = vec![
        EventKind::ConfigApplied {
            path: "fake.toml".into(),
            generation: 1,
            islands: 1,
            nodes: 1,
            candidates: 2,
        },
        EventKind::CandidateChanged {
            island,
            node: db(),
            candidate: named(0, "wrong-pw"),
            from: CandidateState::Untested,
            to: CandidateState::Invalid,
            error: node(&s, "db").candidates[0].error.clone(),
        },
        EventKind::CandidateChanged {
            island,
            node: db(),
            candidate: named(1, "right-pw"),
            from: CandidateState::Untested,
            to: CandidateState::Valid,
            error: None,
        },
        EventKind::WinnerChanged {
            island,
            node: db(),
            from: None,
            to: Some(named(1, "right-pw")),
        },
        EventKind::RoleChanged {
            island,
            node: db(),
            from: Role::Unknown,
            to: Role::Master,
        },
        EventKind::HealthChanged {
            island,
            node: db(),
            from: Health::Unknown,
            to: Health::Degraded,
            cause: Some(
                "app #0: auth_failed: password authentication failed for user \"app\"".into(),
            ),
        },
    ];
    let error = node(&s, "db").candidates[0]
        .error
        .clone()
        .expect("an error");
    assert_eq!(error.kind, ErrorKind::AuthFailed);
    assert_eq!(error.sqlstate.as_deref(), Some("28P01"));

    let feed = h.drain();
    let events: Vec<&Event> = feed
        .iter()
        .filter_map(|f| match f {
            Feed::Event(e) => Some(e),
            Feed::Probe(_) => None,
        })
        .collect();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds, expected);
    assert!(
        events.iter().all(|e| e.at == t0()),
        "stamped by the injected clock"
    );
    // the snapshot's ring holds the same events, oldest first
    let ring: Vec<EventKind> = s.events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(ring, expected);

    // and no password anywhere: feed items, their JSON, the snapshot
    let mut shown = format!("{feed:?}{s:?}");
    for item in &feed {
        let json = match item {
            Feed::Event(e) => serde_json::to_string(e),
            Feed::Probe(p) => serde_json::to_string(p),
        };
        shown.push_str(&json.expect("serializes"));
    }
    assert!(!shown.contains("wrong-pw") && !shown.contains("right-pw"));
    h.stop().await;
}

/// Island state built by hand, for the island refresh on its own (no engine, no prober).
mod refresh_one {
    use super::*;
    use crate::engine::islands;
    use crate::engine::journal::Journal;
    use crate::engine::snapshot::IslandWarning;
    use crate::engine::state::{IslandState, NodeState, Winner};

    /// Island 0: master `m0`, replica `r0`; island 1: master `m1`. All reachable, shards apart.
    fn cluster() -> Vec<IslandState> {
        let now = Instant::now();
        let island = |no: u32, nodes: &[(&str, Role, &[&str])]| IslandState {
            no: IslandNo(no),
            nodes: nodes
                .iter()
                .map(|&(name, role, held)| {
                    let mut st = NodeState::new(fake::node(no, name, &[("app", "pw")]), now, t0());
                    st.winner = Some(Winner {
                        id: st.node.candidates[0].id.clone(),
                        named: st.named(0),
                    });
                    st.role = role;
                    st.health = Health::Ok;
                    st.shards = shards(held);
                    st
                })
                .collect(),
            shards: None,
            warnings: Vec::new(),
            session_groups: Default::default(),
        };
        vec![
            island(
                0,
                &[
                    ("m0", Role::Master, &["sh1", "sh2"]),
                    ("r0", Role::Replica, &["sh1", "sh2"]),
                ],
            ),
            island(1, &[("m1", Role::Master, &["sh3"])]),
        ]
    }

    fn journal() -> (Journal, broadcast::Receiver<Feed>) {
        let (tx, rx) = broadcast::channel(64);
        (Journal::new(Arc::new(ManualClock::new(t0())), tx), rx)
    }

    fn events(rx: &mut broadcast::Receiver<Feed>) -> Vec<EventKind> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .filter_map(|f| match f {
                Feed::Event(e) => Some(e.kind),
                Feed::Probe(_) => None,
            })
            .collect()
    }

    fn state(islands: &[IslandState]) -> Vec<(Option<Vec<String>>, Vec<IslandWarning>)> {
        islands
            .iter()
            .map(|i| (i.shards.clone(), i.warnings.clone()))
            .collect()
    }

    /// Two copies of the cluster, one refreshed whole and one island at a time: after each change
    /// to one node, both must hold the same shards and warnings and have told the same events.
    #[tokio::test(start_paused = true)]
    async fn refreshing_only_the_changed_island_concludes_what_a_full_refresh_does() {
        let (mut whole, mut one) = (cluster(), cluster());
        let (mut log_whole, mut rx_whole) = journal();
        let (mut log_one, mut rx_one) = journal();
        islands::refresh(&mut whole, &mut log_whole);
        islands::refresh(&mut one, &mut log_one);
        assert!(events(&mut rx_whole).is_empty() && events(&mut rx_one).is_empty());

        /// Which node (island, index) changes, how, and the warning events that must follow.
        type Step = (
            (usize, usize),
            fn(&mut NodeState),
            &'static [(u32, WarningKind, bool)],
        );
        let steps: [Step; 5] = [
            // a shard of island 0 shows up on island 1: both islands conflict
            (
                (1, 0),
                |st| st.shards = shards(&["sh2", "sh3"]),
                &[
                    (0, WarningKind::ShardConflict, true),
                    (1, WarningKind::ShardConflict, true),
                ],
            ),
            // island 0 loses its master: no_master there; its replica's shards keep the conflict
            (
                (0, 0),
                |st| {
                    st.winner = None;
                    st.health = Health::Down;
                },
                &[(0, WarningKind::NoMaster, true)],
            ),
            // the replica is promoted: island 0 only
            (
                (0, 1),
                |st| st.role = Role::Master,
                &[(0, WarningKind::NoMaster, false)],
            ),
            // the promoted master reports another shard list: both conflict details change
            (
                (0, 1),
                |st| st.shards = shards(&["sh2", "sh3"]),
                &[
                    (0, WarningKind::ShardConflict, true),
                    (1, WarningKind::ShardConflict, true),
                ],
            ),
            // island 1 moves to a shard of its own: the conflict clears on both islands
            (
                (1, 0),
                |st| st.shards = shards(&["sh4"]),
                &[
                    (0, WarningKind::ShardConflict, false),
                    (1, WarningKind::ShardConflict, false),
                ],
            ),
        ];
        for (step, ((i, n), change, expected)) in steps.into_iter().enumerate() {
            change(&mut whole[i].nodes[n]);
            change(&mut one[i].nodes[n]);
            islands::refresh(&mut whole, &mut log_whole);
            islands::refresh_island(&mut one, i, &mut log_one);
            assert_eq!(state(&one), state(&whole), "step {step}");
            let told = events(&mut rx_one);
            assert_eq!(told, events(&mut rx_whole), "step {step}");
            assert_eq!(warnings(&told), expected, "step {step}");
        }
        assert_eq!(one[0].warnings, []);
        assert_eq!(one[1].warnings, []);
    }

    /// Refreshing island 1 leaves island 0's master warnings as they were, even when stale: they
    /// are refreshed when one of island 0's own nodes changes.
    #[tokio::test(start_paused = true)]
    async fn a_change_on_one_island_does_not_walk_the_others() {
        let mut cluster = cluster();
        let (mut log, mut rx) = journal();
        islands::refresh(&mut cluster, &mut log);
        // island 0's master goes down without a refresh of island 0
        cluster[0].nodes[0].winner = None;
        cluster[0].nodes[0].health = Health::Down;
        islands::refresh_island(&mut cluster, 1, &mut log);
        assert!(kinds_of(&cluster[0]).is_empty());
        islands::refresh_island(&mut cluster, 0, &mut log);
        assert_eq!(kinds_of(&cluster[0]), [WarningKind::NoMaster]);
        assert_eq!(
            warnings(&events(&mut rx)),
            [(0, WarningKind::NoMaster, true)]
        );
    }

    fn kinds_of(island: &IslandState) -> Vec<WarningKind> {
        island.warnings.iter().map(|w| w.kind).collect()
    }
}

/// Issue 11, bug 3: a master that answers and rejects every credential is not "no reachable
/// master": the warning says the credentials are rejected; a master that is really down still
/// reads as unreachable.
#[tokio::test(start_paused = true)]
async fn a_master_rejecting_every_credential_is_named_as_such() {
    let (fake, topo) = pair();
    let mut h = Harness::start(&fake, topo, settings());
    h.until("both ok", |s| s.nodes().all(|n| n.health == Health::Ok))
        .await;

    fake.login_fails("m", "app", ErrorKind::AuthFailed);
    let s = h
        .until("no master", |s| kinds(s, 0) == [WarningKind::NoMaster])
        .await;
    assert_eq!(
        s.islands[0].warnings[0].detail,
        "all credentials rejected, no master: m (all credentials rejected), r (replica)"
    );

    fake.password("m", "app", "pw");
    h.until("master back", |s| kinds(s, 0).is_empty()).await;
    fake.down("m", Some(ErrorKind::Refused));
    let s = h
        .until("no master", |s| kinds(s, 0) == [WarningKind::NoMaster])
        .await;
    assert_eq!(
        s.islands[0].warnings[0].detail,
        "no reachable master among: m (down), r (replica)"
    );
    h.stop().await;
}
