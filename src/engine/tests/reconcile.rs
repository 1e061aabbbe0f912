//! Hot reload by keys: what kept nodes keep, what new ones start with, what removed ones say.

use super::*;
use crate::config::ReloadFailure;
use crate::engine::snapshot::CandidateState;
use AttemptOutcome::{Failed, Ok as Won};

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_the_winner_history_and_remembered_best_of_kept_nodes() {
    // Given alternating users where app_a's password was rotated in the database
    let fake = fake_with("db-a", &[("app_a", "a-new"), ("app_b", "b-1")]);
    fake.server("db-b", Role::Master)
        .password("db-b", "app", "p");
    fake.server("db-c", Role::Master)
        .password("db-c", "app", "p");
    let before = fake::topology(vec![
        fake::node(0, "db-a", &[("app_a", "a-old"), ("app_b", "b-1")]),
        fake::node(0, "db-b", &[("app", "p")]),
    ]);
    let mut h = Harness::start(&fake, before, settings());
    let s = h
        .until("history", |s| node(s, "db-a").latency.samples.len() >= 3)
        .await;
    assert_eq!(node(&s, "db-a").winner, Some(1));
    assert_eq!(node(&s, "db-a").health, Health::Degraded);
    let samples = node(&s, "db-a").latency.samples.len();
    h.drain();

    // When the config gets app_a's new password, drops db-b and adds db-c on island 1
    h.reload(fake::config(
        fake::topology(vec![
            fake::node(0, "db-a", &[("app_a", "a-new"), ("app_b", "b-1")]),
            fake::node(1, "db-c", &[("app", "p")]),
        ]),
        settings(),
    ));
    let s = h.until("generation 2", |s| s.config.generation == 2).await;

    // Then db-a is ok at once (the stale candidate left), and keeps winner, best and history
    let a = node(&s, "db-a");
    assert_eq!((a.winner, a.remembered_best), (Some(1), Some(1)));
    assert_eq!(a.health, Health::Ok);
    assert!(a.latency.samples.len() >= samples);
    assert_eq!(a.candidates[0].state, CandidateState::Untested);
    assert_eq!(a.candidates[1].state, CandidateState::Valid);
    let c = node(&s, "db-c");
    assert_eq!(c.health, Health::Unknown);
    // (A changed secret set starts a rotation episode: not what this test is about.)
    let events: Vec<EventKind> = h
        .events()
        .into_iter()
        .filter(|k| !matches!(k, EventKind::RotationStarted { .. }))
        .collect();
    let app_a = |password: &str| crate::engine::event::CandidateRef {
        index: 0,
        login: "app_a".into(),
        label: None,
        fingerprint: crate::secret::Password::new(password).fingerprint(),
    };
    assert_eq!(
        events[..5],
        [
            EventKind::ConfigApplied {
                path: "fake.toml".into(),
                generation: 2,
                islands: 2,
                nodes: 2,
                candidates: 3
            },
            EventKind::NodeRemoved {
                island: IslandNo(0),
                node: "db-b".into()
            },
            EventKind::NodeAdded {
                island: IslandNo(1),
                node: "db-c".into()
            },
            // a kept node says which of its candidates left and came
            EventKind::CandidateRemoved {
                island: IslandNo(0),
                node: "db-a".into(),
                candidate: app_a("a-old"),
            },
            EventKind::CandidateAdded {
                island: IslandNo(0),
                node: "db-a".into(),
                candidate: app_a("a-new"),
            },
        ]
    );

    // the new identity is audited soon, and later chains still start at app_b
    let s = h
        .until("app_a audited", |s| node(s, "db-a").valid_count() == 2)
        .await;
    assert_eq!(chain_of(node(&s, "db-a")), [(1, Won)]);
    assert_eq!(node(&s, "db-c").health, Health::Ok);
    let winner_events = h
        .events()
        .into_iter()
        .filter(|e| matches!(e, EventKind::WinnerChanged { node, .. } if node == "db-a"))
        .count();
    assert_eq!(winner_events, 0, "the winner stays app_b");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_winner_that_leaves_the_config_is_replaced_by_a_chain_from_the_first_listed() {
    let fake = fake_with("db", &[("b", "pb"), ("c", "pc")]);
    let topo = fake::topology(vec![fake::node(0, "db", &[("a", "x"), ("b", "pb")])]);
    let mut h = Harness::start(&fake, topo, settings());
    h.until("winner b", |s| node(s, "db").winner == Some(1))
        .await;
    h.drain();

    h.reload(fake::config(
        fake::topology(vec![fake::node(0, "db", &[("a", "x"), ("c", "pc")])]),
        settings(),
    ));
    let s = h
        .until("winner c", |s| {
            s.config.generation == 2 && node(s, "db").winner == Some(1)
        })
        .await;
    assert_eq!(
        chain_of(node(&s, "db")),
        [(0, Failed(ErrorKind::AuthFailed)), (1, Won)]
    );
    let switches: Vec<_> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            EventKind::WinnerChanged { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect();
    // one switch, naming the candidate that left
    assert_eq!(switches.len(), 1, "{switches:?}");
    let (from, to) = &switches[0];
    assert_eq!(from.as_ref().map(|c| c.login.as_str()), Some("b"));
    assert_eq!(to.as_ref().map(|c| c.login.as_str()), Some("c"));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_reload_is_reported_redacted_and_the_last_good_config_keeps_running() {
    let fake = fake_with("db", &[("app", "hunter2-secret")]);
    let topo = fake::topology(vec![fake::node(0, "db", &[("app", "hunter2-secret")])]);
    let mut h = Harness::start(&fake, topo, settings());
    h.until("ok", |s| node(s, "db").health == Health::Ok).await;

    let failure = ReloadFailure {
        at: t0(),
        message: "fake.toml: line 3: bad value \"hunter2-secret\"".into(),
    };
    h.states
        .send_modify(|s| s.last_error = Some(failure.clone()));
    let s = h
        .until("the failure", |s| s.config.last_error.is_some())
        .await;
    assert_eq!(s.config.generation, 1);
    let failed: Vec<_> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            EventKind::ConfigFailed { path, error } => Some((path, error)),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        [(
            "fake.toml".to_owned(),
            "fake.toml: line 3: bad value \"[redacted]\"".to_owned()
        )]
    );

    // the same failure again (a retry on the reload interval) updates the status, not the events
    let later = t0() + chrono::Duration::seconds(10);
    h.states.send_modify(|s| {
        s.last_error = Some(ReloadFailure {
            at: later,
            ..failure.clone()
        })
    });
    h.until("the retry", |s| {
        s.config.last_error.as_ref().map(|f| f.at) == Some(later)
    })
    .await;
    assert!(h.events().is_empty());

    // probing goes on
    let calls = fake.calls().len();
    let watched = fake.clone();
    h.until("more probes", |_| watched.calls().len() > calls + 2)
        .await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_shorter_interval_takes_effect_at_once() {
    let fake = fake_with("db", &[("app", "pw")]);
    let slow = ProbeSettings {
        interval: Duration::from_secs(600),
        ..settings()
    };
    let topo = || fake::topology(vec![fake::node(0, "db", &[("app", "pw")])]);
    let mut h = Harness::start(&fake, topo(), slow);
    h.until_calls("db", "app", 1).await;
    let reloaded = Instant::now();
    h.reload(fake::config(topo(), settings()));
    h.until_calls("db", "app", 2).await;
    assert!(h.secs(fake.calls()[1].at) - h.secs(reloaded) <= 1.2 + 0.01);
    h.stop().await;
}

/// A hostile server quotes every refused password. Given a node of 2,000 candidates (one valid),
/// every failure message is masked by the node's one matcher; when a reload brings a new
/// password, the matcher follows: the new one is masked too.
#[tokio::test(start_paused = true)]
async fn failure_messages_are_masked_against_the_nodes_current_passwords() {
    let fake = fake_with("db", &[("app", "the-valid-one")]);
    fake.update("db", |s| s.echo = true);
    let stale: Vec<String> = (0..2000)
        .map(|i| format!("stale-password-{i:04}"))
        .collect();
    let topology = |extra: &str| {
        let mut creds: Vec<(&str, &str)> = vec![("app", "the-valid-one")];
        creds.extend(stale.iter().map(|p| ("app", p.as_str())));
        if !extra.is_empty() {
            creds.push(("app", extra));
        }
        fake::topology(vec![fake::node(0, "db", &creds)])
    };
    let mut h = Harness::start(&fake, topology(""), settings());
    let checked = |s: &Snapshot, n: usize| {
        node(s, "db")
            .candidates
            .iter()
            .filter(|c| c.last_checked.is_some())
            .count()
            >= n
    };
    h.send(Command::Audit(key(0, "db"))).await;
    let s = h
        .until("every candidate audited", |s| checked(s, 2001))
        .await;
    let messages: Vec<&str> = node(&s, "db")
        .candidates
        .iter()
        .filter_map(|c| c.error.as_ref().map(|e| e.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 2000);
    assert!(
        messages
            .iter()
            .all(|m| *m == "password [redacted] is wrong for user \"app\""),
        "{:?}",
        messages.iter().find(|m| m.contains("stale"))
    );

    h.reload(fake::config(topology("brand-new-stale-pw"), settings()));
    h.until("generation 2", |s| s.config.generation == 2).await;
    h.send(Command::Audit(key(0, "db"))).await;
    let s = h
        .until("the new candidate refused", |s| {
            node(s, "db").candidates[2001].error.is_some()
        })
        .await;
    let message = &node(&s, "db").candidates[2001]
        .error
        .as_ref()
        .unwrap()
        .message;
    assert_eq!(message, "password [redacted] is wrong for user \"app\"");
    h.stop().await;
}

/// Issue 11, bug 1: the last chain probe names its candidates by identity, so a reload that
/// reorders them does not make it claim a success for another password.
#[tokio::test(start_paused = true)]
async fn the_last_chain_keeps_naming_its_candidates_after_a_reload_reorders_them() {
    // Given app_a stale and app_b working: the chain tried app_a, then won with app_b
    let fake = fake_with("db", &[("app_b", "b-1")]);
    let listed = |order: &[(&'static str, &'static str)]| {
        fake::config(fake::topology(vec![fake::node(0, "db", order)]), settings())
    };
    let mut h = Harness::start_config(&fake, listed(&[("app_a", "a-old"), ("app_b", "b-1")]));
    let s = h
        .until("winner app_b", |s| node(s, "db").winner == Some(1))
        .await;
    assert_eq!(
        chain_of(node(&s, "db")),
        [(0, Failed(ErrorKind::AuthFailed)), (1, Won)]
    );

    // When a reload lists app_b first
    h.reload(listed(&[("app_b", "b-1"), ("app_a", "a-old")]));
    let s = h.until("generation 2", |s| s.config.generation == 2).await;

    // Then the chain record still says app_a failed and app_b won, at their new places
    let n = node(&s, "db");
    let tried: Vec<(&str, AttemptOutcome)> = n
        .last_chain
        .iter()
        .flat_map(|c| c.attempts.iter())
        .map(|a| {
            (
                n.candidate(&a.candidate).expect("listed").login.as_str(),
                a.outcome,
            )
        })
        .collect();
    assert_eq!(
        tried,
        [("app_a", Failed(ErrorKind::AuthFailed)), ("app_b", Won)]
    );
    assert_eq!(chain_of(n), [(1, Failed(ErrorKind::AuthFailed)), (0, Won)]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_that_only_relabels_says_so_and_the_history_takes_the_new_label() {
    // Given app_a labelled current and app_b previous, both working
    let fake = fake_with("db-a", &[("app_a", "a-1"), ("app_b", "b-1")]);
    let labelled = |labels: [&str; 2]| {
        let mut n = fake::node(0, "db-a", &[("app_a", "a-1"), ("app_b", "b-1")]);
        for (c, l) in n.candidates.iter_mut().zip(labels) {
            c.label = Some(l.to_owned());
        }
        fake::topology(vec![n])
    };
    let mut h = Harness::start(&fake, labelled(["current", "previous"]), settings());
    let label_of = |s: &Snapshot, login: &str| {
        s.history
            .credentials()
            .find(|(k, _)| &*k.login == login)
            .and_then(|(_, l)| l.map(str::to_owned))
    };
    h.until("app_a known to the history", |s| {
        label_of(s, "app_a").is_some()
    })
    .await;
    h.drain();

    // When a reload swaps the labels and nothing else
    h.reload(fake::config(labelled(["previous", "current"]), settings()));
    let s = h
        .until("the history's new label", |s| {
            label_of(s, "app_a").as_deref() == Some("previous")
        })
        .await;

    // Then each candidate says it was relabeled (nothing left or came), and the history agrees
    assert_eq!(label_of(&s, "app_b").as_deref(), Some("current"));
    let secret_events: Vec<EventKind> = h
        .events()
        .into_iter()
        .filter(|k| {
            matches!(
                k,
                EventKind::CandidateAdded { .. }
                    | EventKind::CandidateRemoved { .. }
                    | EventKind::CandidateRelabeled { .. }
            )
        })
        .collect();
    let relabeled =
        |login: &str, password: &str, index, from: &str, to: &str| EventKind::CandidateRelabeled {
            island: IslandNo(0),
            node: "db-a".into(),
            candidate: crate::engine::event::CandidateRef {
                index,
                login: login.into(),
                label: Some(to.into()),
                fingerprint: crate::secret::Password::new(password).fingerprint(),
            },
            from_label: Some(from.into()),
        };
    assert_eq!(
        secret_events,
        [
            relabeled("app_a", "a-1", 0, "current", "previous"),
            relabeled("app_b", "b-1", 1, "previous", "current"),
        ]
    );
    h.stop().await;
}
