//! The engine on real PostgreSQL behind a real PgBouncer (Debian's 1.18): a node listed by its
//! own port and its pooler's, as an SRE lists one. The acceptance scenarios: a stale
//! first candidate through the pooler, a backend stopped behind a running pooler, the auth_file
//! lag window; and the pooler down while the server is up, role and shards through transaction
//! pooling, application_name reaching the server.

mod support;

use rotascope::engine::probe::{ErrorKind, Role, Route};
use rotascope::engine::snapshot::{AttemptOutcome, CandidateState, Health, NodeView, Snapshot};
use rotascope::lab::{Lab, PgBouncer, PoolMode, PoolerAuth, PoolerOptions, Server, ServerOptions};
use support::{describe, node, ConfigFile, Running, Settings};

const PW_OLD: &str = "old-Pooled-0001";
const PW_NEW: &str = "new-Pooled-0002";
const PW_B: &str = "b-Pooled-0003";
const SECRETS: [&str; 3] = [PW_OLD, PW_NEW, PW_B];

/// The node's name in every config here.
const NODE: &str = "db";

/// One `[[island.node]]` entry of node [`NODE`].
fn entry(url: &str, via: &str, login: &str, password: &str, label: &str) -> String {
    format!(
        "[[island.node]]\nname = \"{NODE}\"\nurl = \"{url}\"\nlogin = \"{login}\"\n\
         password = \"{password}\"\nlabel = \"{label}\"\nvia = \"{via}\"\n\n"
    )
}

/// A config: the settings, then island 0 with `entries`.
fn config(settings: &Settings, entries: &[String]) -> String {
    format!(
        "{}[[island]]\nno = 0\n\n{}",
        settings.toml(),
        entries.concat()
    )
}

fn direct(pg: &Server, login: &str, password: &str, label: &str) -> String {
    entry(&pg.conn_string("app"), "direct", login, password, label)
}

fn pooled(bouncer: &PgBouncer, login: &str, password: &str, label: &str) -> String {
    entry(
        &bouncer.conn_string("app"),
        "pgbouncer",
        login,
        password,
        label,
    )
}

/// A master with role `app` (and `app_b`) and database `app`, and a PgBouncer pooling `app`.
async fn bounced(lab: &Lab, options: PoolerOptions) -> (Server, PgBouncer) {
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    pg.create_role("app", PW_OLD).await.unwrap();
    pg.create_role("app_b", PW_B).await.unwrap();
    pg.create_database("app").await.unwrap();
    let bouncer = lab
        .start_pgbouncer(&pg, options.databases(&["app"]))
        .await
        .unwrap();
    (pg, bouncer)
}

fn states(n: &NodeView) -> Vec<CandidateState> {
    n.candidates.iter().map(|c| c.state).collect()
}

fn the_node(s: &Snapshot) -> &NodeView {
    node(s, NODE)
}

#[tokio::test]
async fn a_stale_first_candidate_through_pgbouncer_is_auth_failed_and_the_second_wins() {
    let lab = Lab::new().unwrap();
    for mode in [PoolMode::Session, PoolMode::Transaction] {
        let (pg, bouncer) = bounced(&lab, PoolerOptions::default().mode(mode)).await;
        pg.set_password("app", PW_NEW).await.unwrap();
        // Through the pooler only: the stale password first, as a secrets file lists
        // `previous` before `current` during a rotation.
        let file = ConfigFile::new(&config(
            &Settings::default(),
            &[
                pooled(&bouncer, "app", PW_OLD, "previous"),
                pooled(&bouncer, "app", PW_NEW, "current"),
            ],
        ));
        let mut run = Running::start(&file).await;
        let s = run
            .wait("a winner through the pooler", |s| {
                the_node(s).winner.is_some() && the_node(s).last_chain.is_some()
            })
            .await;
        let n = the_node(&s);
        assert_eq!(n.winner, Some(1), "{mode:?}\n{}", describe(&s));
        assert_eq!(n.health, Health::Degraded, "degraded, not down: {mode:?}");
        assert_eq!(n.role, Role::Master);
        let stale = &n.candidates[0];
        assert_eq!(stale.state, CandidateState::Invalid);
        let e = stale.error.as_ref().unwrap();
        assert_eq!(e.kind, ErrorKind::AuthFailed);
        assert_eq!(e.sqlstate.as_deref(), Some("08P01"));
        assert_eq!(stale.route, Some(Route::Pgbouncer));
        assert_eq!(n.candidates[1].route, Some(Route::Pgbouncer));
        let attempts: Vec<(usize, AttemptOutcome)> = n
            .last_chain
            .as_ref()
            .unwrap()
            .attempts
            .iter()
            .map(|a| (n.candidate(&a.candidate).expect("listed").index, a.outcome))
            .collect();
        assert_eq!(
            attempts,
            [
                (0, AttemptOutcome::Failed(ErrorKind::AuthFailed)),
                (1, AttemptOutcome::Ok)
            ]
        );
        run.assert_no_leak(&SECRETS);
    }
}

#[tokio::test]
async fn a_backend_stopped_behind_a_running_pooler_is_down_with_the_backend_kind() {
    let lab = Lab::new().unwrap();
    let (pg, bouncer) = bounced(&lab, PoolerOptions::default()).await;
    // Audits often, so the pooler's candidates are tried again once the backend is back (the
    // chain stops at the direct path's first candidate).
    let settings = Settings {
        audit_interval: "500ms",
        ..Settings::default()
    };
    let file = ConfigFile::new(&config(
        &settings,
        &[
            direct(&pg, "app", PW_OLD, "current"),
            direct(&pg, "app_b", PW_B, "previous"),
            pooled(&bouncer, "app", PW_OLD, "current"),
            pooled(&bouncer, "app_b", PW_B, "previous"),
        ],
    ));
    let mut run = Running::start(&file).await;
    run.wait("every path valid", |s| {
        states(the_node(s)) == [CandidateState::Valid; 4]
    })
    .await;

    pg.stop().await.unwrap();
    // The first login after the backend went away may wait past the probe deadline inside
    // PgBouncer (a timeout); then PgBouncer answers at once that its server logins fail.
    let s = run
        .wait("down, for the backend's reason", |s| {
            let n = the_node(s);
            n.health == Health::Down
                && n.cause
                    .as_deref()
                    .is_some_and(|c| c.starts_with("backend_unavailable: pgbouncer: "))
        })
        .await;
    let n = the_node(&s);
    // The server's own port: refused. Through the pooler: unreachable, never invalid.
    assert_eq!(n.candidates[0].state, CandidateState::Unreachable);
    assert_eq!(
        n.candidates[0].error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Refused)
    );
    let through = &n.candidates[2];
    assert_eq!(
        through.state,
        CandidateState::Unreachable,
        "{}",
        describe(&s)
    );
    assert_eq!(
        through.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::BackendUnavailable)
    );
    assert!(
        n.candidates
            .iter()
            .all(|c| c.state != CandidateState::Invalid),
        "a stopped backend invalidates no credential:\n{}",
        describe(&s)
    );

    // The backend back: every path works again (PgBouncer retries its server logins).
    pg.start().await.unwrap();
    run.wait("every path valid again", |s| {
        let n = the_node(s);
        n.health == Health::Ok && states(n) == [CandidateState::Valid; 4]
    })
    .await;
    run.assert_no_leak(&SECRETS);
}

#[tokio::test]
async fn the_auth_file_lag_window_shows_direct_valid_and_pooler_invalid_until_the_reload() {
    let lab = Lab::new().unwrap();
    let (pg, bouncer) = bounced(&lab, PoolerOptions::default().auth(PoolerAuth::File)).await;
    let listing = |password: &str| {
        config(
            &Settings::default(),
            &[
                direct(&pg, "app", password, "current"),
                pooled(&bouncer, "app", password, "current"),
            ],
        )
    };
    let file = ConfigFile::new(&listing(PW_OLD));
    let mut run = Running::start(&file).await;
    run.wait("both paths valid", |s| {
        states(the_node(s)) == [CandidateState::Valid; 2]
    })
    .await;

    // A rotation: the database and the secrets take the new password; PgBouncer's auth_file
    // still holds the old verifier.
    pg.set_password("app", PW_NEW).await.unwrap();
    file.replace(&listing(PW_NEW));
    let s = run
        .wait("direct valid, pooler invalid", |s| {
            let n = the_node(s);
            n.candidates.len() == 2 && states(n) == [CandidateState::Valid, CandidateState::Invalid]
        })
        .await;
    let n = the_node(&s);
    assert_eq!(n.health, Health::Degraded);
    assert_eq!(n.winner, Some(0), "the direct path wins meanwhile");
    let pooler = &n.candidates[1];
    assert_eq!(pooler.route, Some(Route::Pgbouncer));
    assert_eq!(pooler.via.as_deref(), Some("pgbouncer"));
    assert_eq!(n.candidates[0].route, Some(Route::Direct));
    let e = pooler.error.as_ref().unwrap();
    assert_eq!(e.kind, ErrorKind::AuthFailed);
    assert_eq!(e.message, "pgbouncer: SASL authentication failed");
    // The check JSON shows both paths as such.
    let mut json = Vec::new();
    rotascope::report::write_check_json(&mut json, &s).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let cands = &v["islands"][0]["nodes"][0]["candidates"];
    assert_eq!(cands[0]["route"], "direct");
    assert_eq!(cands[1]["route"], "pgbouncer");
    assert_eq!(cands[1]["via"], "pgbouncer");
    assert_eq!(cands[1]["address"], bouncer.conn_string("app"));

    // PgBouncer's copy catches up; the next audit of the pooler's candidate finds it valid.
    bouncer.sync_auth_file(&pg).await.unwrap();
    run.command(rotascope::engine::Command::Audit(the_node(&s).key.clone()))
        .await;
    run.wait("both paths valid after the reload", |s| {
        let n = the_node(s);
        states(n) == [CandidateState::Valid; 2] && n.health == Health::Ok
    })
    .await;
    run.assert_no_leak(&SECRETS);
}

#[tokio::test]
async fn a_dead_pooler_leaves_the_direct_path_winning_and_the_node_degraded() {
    let lab = Lab::new().unwrap();
    let (pg, bouncer) = bounced(&lab, PoolerOptions::default()).await;
    // The pooler first, as applications that go through it would list it.
    let file = ConfigFile::new(&config(
        &Settings::default(),
        &[
            pooled(&bouncer, "app", PW_OLD, "current"),
            direct(&pg, "app", PW_OLD, "current"),
        ],
    ));
    let mut run = Running::start(&file).await;
    run.wait("both paths valid", |s| {
        states(the_node(s)) == [CandidateState::Valid; 2]
    })
    .await;
    bouncer.stop().await.unwrap();
    let s = run
        .wait("the direct path winning", |s| {
            let n = the_node(s);
            n.winner == Some(1) && n.candidates[0].state == CandidateState::Unreachable
        })
        .await;
    let n = the_node(&s);
    assert_eq!(
        n.candidates[0].error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Refused)
    );
    assert_eq!(n.health, Health::Degraded, "{}", describe(&s));
    assert!(
        n.cause.as_deref().is_some_and(|c| c.contains("refused")),
        "{:?}",
        n.cause
    );
    bouncer.start().await.unwrap();
    run.command(rotascope::engine::Command::Audit(n.key.clone()))
        .await;
    run.wait("both paths valid again", |s| {
        states(the_node(s)) == [CandidateState::Valid; 2] && the_node(s).health == Health::Ok
    })
    .await;
}

#[tokio::test]
async fn roles_and_shards_are_found_through_transaction_pooling_with_our_application_name() {
    let lab = Lab::new().unwrap();
    // Every statement in the master's log, with the application name that sent it.
    let logged = ServerOptions::default()
        .setting("log_statement", "'all'")
        .setting("log_line_prefix", "'app=%a '");
    let master = lab.start_server(logged).await.unwrap();
    master.create_role("app", PW_OLD).await.unwrap();
    master.create_database("app").await.unwrap();
    for shard in ["sh0001", "sh0002"] {
        master.create_schema("app", shard).await.unwrap();
    }
    let options = PoolerOptions::default()
        .mode(PoolMode::Transaction)
        .databases(&["app"]);
    let master_pool = lab.start_pgbouncer(&master, options.clone()).await.unwrap();
    let replica = master.start_replica().await.unwrap();
    let replica_pool = lab.start_pgbouncer(&replica, options).await.unwrap();

    let settings = Settings {
        shard_pattern: Some("sh%04d"),
        ..Settings::default()
    };
    let listed = |name: &str, bouncer: &PgBouncer| {
        format!(
            "[[island.node]]\nname = \"{name}\"\nurl = \"{}\"\nlogin = \"app\"\n\
             password = \"{PW_OLD}\"\nvia = \"pgbouncer\"\n\n",
            bouncer.conn_string("app")
        )
    };
    let file = ConfigFile::new(&format!(
        "{}[[island]]\nno = 0\n\n{}{}",
        settings.toml(),
        listed("master", &master_pool),
        listed("replica", &replica_pool)
    ));
    let mut run = Running::start(&file).await;
    let s = run
        .wait("roles and shards through the poolers", |s| {
            node_role(s, "master") == Some(Role::Master)
                && node_role(s, "replica") == Some(Role::Replica)
                && s.islands[0].shards.is_some()
        })
        .await;
    assert_eq!(
        s.islands[0].shards.as_deref(),
        Some(&["sh0001".to_owned(), "sh0002".to_owned()][..])
    );
    for name in ["master", "replica"] {
        let n = node(&s, name);
        assert_eq!(n.health, Health::Ok);
        assert_eq!(n.candidates[0].route, Some(Route::Pgbouncer), "{name}");
    }
    // The probe query reached the master under rotascope's name, through the pool.
    let log = std::fs::read_to_string(master.log_path()).unwrap();
    assert!(
        log.lines()
            .any(|l| l.starts_with("app=rotascope ") && l.contains("pg_is_in_recovery()")),
        "no probe query logged with application_name rotascope"
    );
}

fn node_role(s: &Snapshot, name: &str) -> Option<Role> {
    support::find_node(s, name).map(|n| n.role)
}
