//! Both rotation schemes through PgBouncer, driven by the lab's own rotation driver (as
//! `rotascope lab --pooler pgbouncer` runs them) and watched by the engine on the config the lab
//! writes: each master listed by its own port and its pooler's. Rotations are asked for with the
//! `rotate` command and awaited through the driver's notes, never by sleeping.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rotascope::clock::{SharedClock, SystemClock};
use rotascope::engine::event::{EventKind, Feed};
use rotascope::engine::pg::PgProber;
use rotascope::engine::probe::{ErrorKind, Route};
use rotascope::engine::snapshot::{CandidateState, Health, NodeView, Snapshot};
use rotascope::engine::{Engine, EngineHandle};
use rotascope::lab::driver::{DemoSettings, Driver, LabCommand, PoolerSettings, Scheme, Shape};
use rotascope::lab::{Lab, PoolMode, PoolerAuth};
use support::{describe, Recorder, PATIENCE};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The lab running its driver, the engine on its config, and the driver's notes.
struct Demo {
    commands: mpsc::Sender<LabCommand>,
    notes: mpsc::UnboundedReceiver<String>,
    engine: EngineHandle,
    feed: Recorder,
    shutdown: CancellationToken,
    driver: tokio::task::JoinHandle<Driver>,
    /// Every password the lab used so far is in its config at some point: scanned for leaks.
    config: std::path::PathBuf,
}

impl Demo {
    async fn start(scheme: Scheme, pooler: PoolerSettings) -> Demo {
        Demo::start_with(DemoSettings {
            shape: Shape {
                islands: 1,
                replicas: 0,
            },
            scheme,
            // Rotations only when asked.
            rotate_every: Duration::from_secs(3600),
            config_lag: Duration::from_secs(1),
            failover_every: None,
            pooler: Some(pooler),
        })
        .await
    }

    async fn start_with(settings: DemoSettings) -> Demo {
        let (tx, notes) = mpsc::unbounded_channel();
        let notes_fn = Box::new(move |line: &str| {
            let _ = tx.send(line.to_owned());
        });
        let driver = Driver::start(Lab::new().unwrap(), settings, notes_fn)
            .await
            .unwrap();
        let config = driver.config_path();
        let (commands, receiver) = mpsc::channel(4);
        let shutdown = CancellationToken::new();
        let (engine, feed) = engine_on(&config, shutdown.clone()).await;
        let driver = tokio::spawn(driver.run(receiver, shutdown.clone()));
        Demo {
            commands,
            notes,
            engine,
            feed,
            shutdown,
            driver,
            config,
        }
    }

    /// Reads the driver's notes until one contains `text`.
    async fn note(&mut self, text: &str) -> String {
        let found = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = self.notes.recv().await {
                if line.contains(text) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("the lab never said {text:?}"),
        }
    }

    async fn wait(&mut self, what: &str, mut pred: impl FnMut(&NodeView) -> bool) -> Arc<Snapshot> {
        let found = tokio::time::timeout(
            PATIENCE,
            self.engine
                .snapshots
                .wait_for(|s| s.islands[0].nodes.first().is_some_and(&mut pred)),
        )
        .await;
        let found = found.ok().and_then(Result::ok).map(|s| s.clone());
        match found {
            Some(s) => s,
            None => {
                let last = self.engine.snapshots.borrow().clone();
                panic!("timed out waiting for {what}:\n{}", describe(&last))
            }
        }
    }

    /// Fails if the master node was ever down so far.
    fn assert_never_down(&mut self) {
        self.feed.drain();
        for item in self.feed.items() {
            if let Feed::Event(e) = item {
                if let EventKind::HealthChanged {
                    to: Health::Down,
                    cause,
                    ..
                } = &e.kind
                {
                    panic!(
                        "a node went down during the rotation: {cause:?}\n{}",
                        self.feed.tail(40)
                    );
                }
            }
        }
    }

    async fn stop(self) {
        let config = std::fs::read_to_string(&self.config).unwrap_or_default();
        let snapshot = self.engine.snapshots.borrow().clone();
        // Every password in the config the lab wrote last; none may show in what rotascope shows.
        let secrets: Vec<&str> = config
            .lines()
            .filter_map(|l| l.strip_prefix("password = \""))
            .map(|l| l.trim_end_matches('"'))
            .collect();
        assert!(!secrets.is_empty());
        support::assert_no_secret("snapshot", &format!("{snapshot:?}"), &secrets);
        self.shutdown.cancel();
        let _ = self.driver.await;
    }
}

/// The engine on `path`, started as `rotascope watch` starts it.
async fn engine_on(path: &Path, shutdown: CancellationToken) -> (EngineHandle, Recorder) {
    let config = rotascope::config::load(path).await.unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let feed = rotascope::config::reload::spawn(
        path.to_path_buf(),
        config,
        clock.clone(),
        shutdown.clone(),
    );
    let mut engine = Engine::spawn(feed, clock, PgProber::new(), shutdown);
    let from_start = std::mem::replace(&mut engine.feed_from_start, engine.feed.subscribe());
    (engine, Recorder::new(from_start))
}

/// (login, via, state) of every candidate.
fn listed(n: &NodeView) -> Vec<(String, String, CandidateState)> {
    n.candidates
        .iter()
        .map(|c| (c.login.clone(), c.via.clone().unwrap_or_default(), c.state))
        .collect()
}

fn all_valid(n: &NodeView) -> bool {
    n.health == Health::Ok
        && n.candidates
            .iter()
            .all(|c| c.state == CandidateState::Valid)
}

/// Every candidate of the master went where its entry says: the pooler's through PgBouncer.
fn assert_routes(n: &NodeView) {
    for c in &n.candidates {
        let want = match c.via.as_deref() {
            Some("pgbouncer") => Route::Pgbouncer,
            _ => Route::Direct,
        };
        assert_eq!(c.route, Some(want), "#{} {}", c.index, c.login);
    }
}

#[tokio::test]
async fn alternating_users_rotate_through_pgbouncer_in_transaction_mode() {
    let mut demo = Demo::start(
        Scheme::Alternating,
        PoolerSettings {
            mode: PoolMode::Transaction,
            auth: PoolerAuth::Query,
            lag: Duration::from_secs(2),
        },
    )
    .await;
    let s = demo.wait("both logins by both paths", all_valid).await;
    let n = &s.islands[0].nodes[0];
    assert_eq!(
        n.candidates.len(),
        4,
        "2 logins × 2 paths:\n{}",
        describe(&s)
    );
    assert_routes(n);

    for round in 1..=2 {
        demo.commands.send(LabCommand::Rotate).await.unwrap();
        demo.note(&format!("rotation {round}: new password")).await;
        demo.note(&format!("rotation {round}: rotascope.toml now lists"))
            .await;
        // auth_query reads the live verifier: once the engine has the new file (its first
        // candidate the rotated login), every path works.
        let current = ["app_b", "app_a"][round - 1];
        let s = demo
            .wait(&format!("every path valid after rotation {round}"), |n| {
                all_valid(n) && n.candidates.len() == 4 && n.candidates[0].login == current
            })
            .await;
        assert_routes(&s.islands[0].nodes[0]);
    }
    demo.assert_never_down();
    demo.stop().await;
}

#[tokio::test]
async fn one_login_with_two_passwords_rotates_through_pgbouncer_in_session_mode() {
    let mut demo = Demo::start(
        Scheme::Single,
        PoolerSettings {
            mode: PoolMode::Session,
            auth: PoolerAuth::Query,
            lag: Duration::from_secs(2),
        },
    )
    .await;
    let s = demo.wait("one password by both paths", all_valid).await;
    assert_eq!(s.islands[0].nodes[0].candidates.len(), 2);

    demo.commands.send(LabCommand::Rotate).await.unwrap();
    demo.note("rotation 1: rotascope.toml now lists app (current), app (next)")
        .await;
    demo.note("rotation 1: new password for app").await;
    // The database took the next password: the current one fails by both paths, the pooler's
    // included (auth_failed, not a dead node).
    let s = demo
        .wait("the old password refused by both paths", |n| {
            n.candidates.len() == 4
                && n.candidates
                    .iter()
                    .filter(|c| c.state == CandidateState::Invalid)
                    .count()
                    == 2
                && n.winner.is_some()
        })
        .await;
    for c in &s.islands[0].nodes[0].candidates {
        if c.state == CandidateState::Invalid {
            assert_eq!(
                c.error.as_ref().map(|e| e.kind),
                Some(ErrorKind::AuthFailed)
            );
        }
    }
    demo.note("rotation 1: rotascope.toml now lists app (current)")
        .await;
    demo.wait("the next password by both paths", |n| {
        all_valid(n) && n.candidates.len() == 2
    })
    .await;
    demo.assert_never_down();
    demo.stop().await;
}

#[tokio::test]
async fn the_lab_reloads_an_auth_file_pooler_late_and_the_window_shows() {
    let mut demo = Demo::start(
        Scheme::Alternating,
        PoolerSettings {
            mode: PoolMode::Session,
            auth: PoolerAuth::File,
            lag: Duration::from_secs(3),
        },
    )
    .await;
    demo.wait("both logins by both paths", all_valid).await;
    demo.commands.send(LabCommand::Rotate).await.unwrap();
    demo.note("rotation 1: rotascope.toml now lists app_b (current)")
        .await;
    // app_b's new password: the server takes it, PgBouncer's copy does not yet.
    let s = demo
        .wait(
            "app_b direct valid, app_b through the pooler invalid",
            |n| {
                let l = listed(n);
                l.contains(&("app_b".into(), "direct".into(), CandidateState::Valid))
                    && l.contains(&("app_b".into(), "pgbouncer".into(), CandidateState::Invalid))
            },
        )
        .await;
    assert_eq!(s.islands[0].nodes[0].health, Health::Degraded);
    demo.note("rotation 1: pgbouncer of island 0 copied the verifiers")
        .await;
    demo.wait("every path valid after the reload", all_valid)
        .await;
    demo.assert_never_down();
    demo.stop().await;
}

#[tokio::test]
async fn a_failover_moves_the_pooler_to_the_new_master() {
    let settings = DemoSettings {
        shape: Shape {
            islands: 1,
            replicas: 1,
        },
        scheme: Scheme::Single,
        rotate_every: Duration::from_secs(3600),
        config_lag: Duration::from_secs(1),
        failover_every: None,
        pooler: Some(PoolerSettings {
            mode: PoolMode::Transaction,
            auth: PoolerAuth::Query,
            lag: Duration::from_secs(2),
        }),
    };
    let mut demo = Demo::start_with(settings).await;
    let s = demo.wait("the master by both paths", all_valid).await;
    let old_master = s.islands[0].nodes[0].key.name.clone();
    demo.commands.send(LabCommand::Failover(0)).await.unwrap();
    demo.note("failover of island 0: 0.1 promoted to master")
        .await;
    demo.note("failover of island 0: removed").await;
    // The config lists the pooler under the new master (first in its island), which it now
    // fronts: both paths valid, the role master through the pooler too.
    let s = demo
        .wait("the new master by both paths", |n| {
            n.key.name != old_master && all_valid(n) && n.candidates.len() == 2
        })
        .await;
    let n = &s.islands[0].nodes[0];
    assert_eq!(n.role, rotascope::engine::Role::Master);
    assert_routes(n);
    demo.stop().await;
}
