//! Acceptance tests 1–3 of issue 3, against real PostgreSQL: credential rotation as the engine
//! sees it, with the real config file, the real reload task (file watch) and the PostgreSQL
//! prober.
//!
//! 1. Alternating users: app_a rotates, app_b takes over and stays the winner after the config
//!    learns app_a's new password (remembered best).
//! 2. One login with two passwords: the same story told by password instead of by user.
//! 3. A wrong password listed first costs one failed login, in the first chain only.
//!
//! Chain probes run every 200 ms; audits are set to an hour so that every probe of a candidate
//! already tried is a chain probe (a new candidate identity is still audited at once). Each
//! probe is seen as a `Feed::Probe` record, which is how the tests count connection attempts.

mod support;

use rotascope::engine::event::{EventKind, ProbeMode, ProbeRecord, ProbeRecordOutcome};
use rotascope::engine::probe::ErrorKind;
use rotascope::engine::snapshot::{AttemptOutcome, CandidateState};
use rotascope::engine::Health;
use rotascope::lab::ServerOptions;
use rotascope::secret::Password;
use support::{lab_server, node, secret, ConfigFile, Running, Settings};

const A1: &str = "accept-rot-a1-Qx7v2m";
const A2: &str = "accept-rot-a2-Lp4w8n";
const B1: &str = "accept-rot-b1-Zt9k3r";
const P1: &str = "accept-rot-p1-Hs6d1c";
const P2: &str = "accept-rot-p2-Vg2y5e";
const WRONG: &str = "accept-rot-wrong-Ke8u4f";
const RIGHT: &str = "accept-rot-right-Nb3j7q";
const ALL: [&str; 7] = [A1, A2, B1, P1, P2, WRONG, RIGHT];

/// A compact-form config for `url` with these secrets (login, password, label), in order.
fn compact(url: &str, secrets: &[(&str, &str, &str)]) -> String {
    let mut text = format!("islands = [[\"{url}\"]]\n\n{}", Settings::default().toml());
    for (login, password, label) in secrets {
        text.push_str(&secret(login, password, label));
    }
    text
}

fn is_ok(p: &ProbeRecord) -> bool {
    p.outcome == ProbeRecordOutcome::Ok
}

fn is_auth_failed(p: &ProbeRecord) -> bool {
    p.outcome == ProbeRecordOutcome::Failed(ErrorKind::AuthFailed)
}

/// (candidate index, ok?) of chain records, for readable comparisons.
fn attempts<'a>(records: impl IntoIterator<Item = &'a ProbeRecord>) -> Vec<(usize, bool)> {
    records.into_iter().map(|p| (p.index, is_ok(p))).collect()
}

/// How many `winner_changed` events `feed` holds from `from` on.
fn winner_changes(feed: &support::Recorder, from: usize) -> usize {
    feed.events(from..feed.len())
        .into_iter()
        .filter(|e| matches!(e, EventKind::WinnerChanged { .. }))
        .count()
}

/// Checks the chain probes of `name` in `from..switched` (the rotation up to the
/// `winner_changed`): chains that started before the rotation took effect may still have reached
/// candidate 0; the chain that switched tried candidate 0, was refused (`auth_failed`), and went
/// on to candidate 1.
fn assert_switching_chain(feed: &support::Recorder, from: usize, switched: usize, name: &str) {
    let chains = feed.probes(from..switched, Some(name), Some(ProbeMode::Chain));
    let (earlier, last_two) = chains.split_at(chains.len().saturating_sub(2));
    assert_eq!(
        attempts(last_two.iter().copied()),
        [(0, false), (1, true)],
        "{chains:?}"
    );
    assert!(is_auth_failed(last_two[0]), "{:?}", last_two[0]);
    assert!(
        earlier.iter().all(|p| p.index == 0 && is_ok(p)),
        "{earlier:?}"
    );
}

/// Given app_a winning, when the database rotates app_a's password, the next chain probe fails
/// app_a with 28P01 and app_b wins (degraded); when the config then learns app_a's new password,
/// the node is ok, app_b stays the winner, and no chain probe tries app_a again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternating_users_switch_once_and_the_remembered_best_stays() {
    let pg = lab_server(ServerOptions::default()).await;
    pg.create_role("app_a", A1).await.expect("app_a");
    pg.create_role("app_b", B1).await.expect("app_b");
    // The compact form names the node by its connection string.
    let name = pg.conn_string("postgres");
    let config = |a: &str| compact(&name, &[("app_a", a, "a"), ("app_b", B1, "b")]);
    let file = ConfigFile::new(&config(A1));
    let mut run = Running::start(&file).await;

    run.wait("app_a winning with both candidates valid", |s| {
        let n = node(s, &name);
        n.health == Health::Ok
            && n.winner == Some(0)
            && n.candidates
                .iter()
                .all(|c| c.state == CandidateState::Valid)
    })
    .await;

    // The database rotates app_a's password.
    let rotated = run.feed.mark();
    pg.set_password("app_a", A2).await.expect("rotate app_a");
    let switched = run
        .feed
        .find_event(
            rotated,
            "winner_changed to app_b",
            |e| matches!(e, EventKind::WinnerChanged { to: Some(to), .. } if to.login == "app_b"),
        )
        .await;
    if let EventKind::WinnerChanged { from, .. } = run.feed.events(switched..switched + 1)[0] {
        assert_eq!(from.as_ref().map(|f| f.login.as_str()), Some("app_a"));
    }
    assert_switching_chain(&run.feed, rotated, switched, &name);

    let s = run
        .wait("app_b winning, node degraded", |s| {
            let n = node(s, &name);
            n.winner == Some(1) && n.health == Health::Degraded
        })
        .await;
    let a = &node(&s, &name).candidates[0];
    assert_eq!(a.state, CandidateState::Invalid);
    let error = a.error.as_ref().expect("app_a's error");
    assert_eq!(
        (error.kind, error.sqlstate.as_deref()),
        (ErrorKind::AuthFailed, Some("28P01"))
    );

    // The config learns app_a's new password (hot reload through the file watcher).
    let edited = run.feed.mark();
    file.replace(&config(A2));
    let applied = run.feed.applied(edited, 2).await;
    let s = run
        .wait(
            "generation 2: node ok, app_b still winning, new app_a valid",
            |s| {
                let n = node(s, &name);
                s.config.generation == 2
                    && n.health == Health::Ok
                    && n.candidates
                        .iter()
                        .all(|c| c.state == CandidateState::Valid)
            },
        )
        .await;
    let n = node(&s, &name);
    assert_eq!(n.winner, Some(1), "the winner stays app_b");
    assert_eq!(n.remembered_best, Some(1));
    assert_eq!(n.candidates[0].fingerprint, Password::new(A2).fingerprint());
    run.feed
        .find_event(applied, "health ok", |e| {
            matches!(e, EventKind::HealthChanged { to: Health::Ok, .. })
        })
        .await;
    // The new app_a was proven by an audit, not by a chain probe.
    run.feed
        .find(applied, "an audit of the new app_a", |item| {
            matches!(item, rotascope::engine::Feed::Probe(p)
                if p.mode == ProbeMode::Audit && p.index == 0 && is_ok(p))
        })
        .await;

    // Later chain probes start from app_b and need nothing else.
    let (after, _) = run.feed.chains(applied, 5, &name).await;
    assert!(
        after.iter().all(|p| p.login == "app_b" && is_ok(p)),
        "a chain probe tried app_a after the reload: {after:?}"
    );
    assert_eq!(
        winner_changes(&run.feed, applied),
        0,
        "the winner must not move back to app_a"
    );
    run.assert_no_leak(&ALL);
}

/// The same story told by password. PostgreSQL gives a role one password at a time, so "one
/// login with two passwords" lives on the config side, as a secret store publishes it: the
/// config lists login `app` with the password in force and the one staged next (a rotation
/// tool writes the new value to the store before it changes the database). Rotation sets the new
/// one in the database; the chain moves from the old password to the new one (`winner_changed`,
/// same login, other fingerprint). The store then relabels them previous/current, listing the
/// stale previous one first, and the chain keeps starting from the new one (remembered best).
/// Finally the store drops previous: the node is ok with the same winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_login_two_passwords_moves_from_previous_to_current() {
    let pg = lab_server(ServerOptions::default()).await;
    pg.create_role("app", P1).await.expect("app");
    let name = pg.conn_string("postgres");
    let fp1 = Password::new(P1).fingerprint();
    let fp2 = Password::new(P2).fingerprint();
    let file = ConfigFile::new(&compact(&name, &[("app", P1, "current")]));
    let mut run = Running::start(&file).await;
    run.wait("P1 winning, node ok", |s| {
        let n = node(s, &name);
        n.health == Health::Ok && n.winner == Some(0)
    })
    .await;

    // The store stages the next password: it is not in the database yet (rotation in progress).
    file.replace(&compact(
        &name,
        &[("app", P1, "current"), ("app", P2, "next")],
    ));
    let s = run
        .wait(
            "generation 2: the staged password invalid, P1 still winning",
            |s| {
                let n = node(s, &name);
                s.config.generation == 2
                    && n.candidates[1].state == CandidateState::Invalid
                    && n.health == Health::Degraded
            },
        )
        .await;
    let n = node(&s, &name);
    assert_eq!(n.winner, Some(0));
    let staged = n.candidates[1].error.as_ref().expect("staged error");
    assert_eq!(staged.sqlstate.as_deref(), Some("28P01"));

    // The database switches to the new password: the next chain moves to it.
    let rotated = run.feed.mark();
    pg.set_password("app", P2).await.expect("rotate");
    let switched = run
        .feed
        .find_event(
            rotated,
            "winner_changed to P2",
            |e| matches!(e, EventKind::WinnerChanged { to: Some(to), .. } if to.fingerprint == fp2),
        )
        .await;
    match run.feed.events(switched..switched + 1)[0] {
        EventKind::WinnerChanged {
            from: Some(from),
            to: Some(to),
            ..
        } => {
            assert_eq!((from.login.as_str(), from.fingerprint), ("app", fp1));
            assert_eq!((to.login.as_str(), to.index), ("app", 1));
        }
        other => panic!("{other:?}"),
    }
    assert_switching_chain(&run.feed, rotated, switched, &name);
    run.wait("P2 winning, P1 invalid", |s| {
        let n = node(s, &name);
        n.winner == Some(1)
            && n.health == Health::Degraded
            && n.candidates[0].state == CandidateState::Invalid
    })
    .await;

    // The store finishes the rotation: previous (stale) listed first, current second.
    let edited = run.feed.mark();
    file.replace(&compact(
        &name,
        &[("app", P1, "previous"), ("app", P2, "current")],
    ));
    let applied = run.feed.applied(edited, 3).await;
    let (after, _) = run.feed.chains(applied, 5, &name).await;
    assert!(
        after.iter().all(|p| p.index == 1 && is_ok(p)),
        "a chain probe started from the stale previous password: {after:?}"
    );
    let s = run.snapshot();
    let n = node(&s, &name);
    assert_eq!(n.winner, Some(1));
    assert_eq!(n.candidates[1].label.as_deref(), Some("current"));
    assert_eq!(n.health, Health::Degraded, "previous no longer works");

    // The store drops previous: ok, same winner identity (now first in the list), no switch.
    let edited = run.feed.mark();
    file.replace(&compact(&name, &[("app", P2, "current")]));
    let applied = run.feed.applied(edited, 4).await;
    let s = run
        .wait("generation 4: ok with P2", |s| {
            let n = node(s, &name);
            s.config.generation == 4 && n.health == Health::Ok
        })
        .await;
    let n = node(&s, &name);
    assert_eq!(n.winner, Some(0));
    assert_eq!(n.candidates[0].fingerprint, fp2);
    let (after, _) = run.feed.chains(applied, 3, &name).await;
    assert!(after.iter().all(is_ok), "{after:?}");
    assert_eq!(
        winner_changes(&run.feed, applied),
        0,
        "dropping the stale password must not move the winner"
    );
    run.assert_no_leak(&ALL);
}

/// Given a stale password listed before the right one, the first chain probe tries it, fails,
/// and the second wins; later chain probes start with the winner: one failed login in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_listed_first_costs_one_failed_login() {
    let pg = lab_server(ServerOptions::default()).await;
    pg.create_role("app", RIGHT).await.expect("app");
    let name = pg.conn_string("postgres");
    let file = ConfigFile::new(&compact(
        &name,
        &[("app", WRONG, "stale"), ("app", RIGHT, "current")],
    ));
    let mut run = Running::start(&file).await;

    let (chains, end) = run.feed.chains(0, 7, &name).await;
    let expected: Vec<(usize, bool)> = [(0, false)]
        .into_iter()
        .chain(std::iter::repeat_n((1, true), 6))
        .collect();
    assert_eq!(attempts(&chains), expected, "{chains:?}");
    assert!(is_auth_failed(&chains[0]), "{:?}", chains[0]);
    let failed_logins = run
        .feed
        .probes(0..end, Some(&name), None)
        .into_iter()
        .filter(|p| is_auth_failed(p))
        .count();
    assert_eq!(failed_logins, 1);

    let s = run.snapshot();
    let n = node(&s, &name);
    assert_eq!((n.winner, n.remembered_best), (Some(1), Some(1)));
    assert_eq!(n.health, Health::Degraded);
    let chain = n.last_chain.as_ref().expect("a chain record");
    assert_eq!(chain.attempts.len(), 1, "{chain:?}");
    assert_eq!(
        (
            n.candidate(&chain.attempts[0].candidate).map(|c| c.index),
            chain.attempts[0].outcome
        ),
        (Some(1), AttemptOutcome::Ok)
    );
    let stale = &n.candidates[0];
    assert_eq!(stale.state, CandidateState::Invalid);
    assert_eq!(
        stale.error.as_ref().and_then(|e| e.sqlstate.as_deref()),
        Some("28P01")
    );
    run.assert_no_leak(&ALL);
}
