//! Acceptance tests 4, 5, 9 and 10 of issue 3, against real PostgreSQL: how node-level and
//! candidate-level failures look, and what they cost the servers.
//!
//! 4. A stopped node is `down` (`refused`) with one connection attempt per chain; restarted, `ok`.
//! 5. A hung server costs one `probe.timeout` per chain, not one per candidate, and does not delay
//!    the probes of a healthy node.
//! 9. A role without LOGIN, a missing database and exhausted `max_connections` get their kinds.
//! 10. TLS with the lab's own CA: `verify-full` with `sslrootcert` works; without it, kind `tls`.
//!
//! Connection attempts are counted through the engine's `Feed::Probe` records (one per probe).

mod support;

use std::time::Duration;

use rotascope::engine::event::{EventKind, ProbeMode, ProbeRecordOutcome};
use rotascope::engine::probe::ErrorKind;
use rotascope::engine::snapshot::{AttemptOutcome, CandidateState};
use rotascope::engine::{Feed, Health};
use rotascope::lab::{HungServer, LabError, ServerOptions};
use support::{island, lab_server, node, secret, ConfigFile, Running, Settings};

const A: &str = "accept-fail-a-Rw5t8p";
const B: &str = "accept-fail-b-Mc2x6h";
const C: &str = "accept-fail-c-Jd9q1s";
const NOLOGIN: &str = "accept-fail-nologin-Fy4k7b";
const LIMITED: &str = "accept-fail-limited-Ua3n8w";
const HOLDER: &str = "accept-fail-holder-Tz6e2g";
const ALL: [&str; 6] = [A, B, C, NOLOGIN, LIMITED, HOLDER];

/// A compact-form config: these connection strings as island 0, with secrets app_a, app_b and
/// app_c (three candidates per node).
fn three_secrets(urls: &[&str], settings: &Settings) -> String {
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        "islands = [[{}]]\n\n{}{}{}{}",
        list.join(", "),
        settings.toml(),
        secret("app_a", A, "a"),
        secret("app_b", B, "b"),
        secret("app_c", C, "c")
    )
}

/// Creates app_a, app_b and app_c, the logins of [`three_secrets`].
async fn create_three_roles(pg: &rotascope::lab::Server) {
    for (login, pw) in [("app_a", A), ("app_b", B), ("app_c", C)] {
        pg.create_role(login, pw).await.expect("role");
    }
}

fn failed(kind: ErrorKind) -> ProbeRecordOutcome {
    ProbeRecordOutcome::Failed(kind)
}

/// Given a node with three working candidates, when its server stops, the node is `down` with
/// kind `refused`, and each chain probe makes one connection attempt (the others are skipped);
/// scheduled audits hold back meanwhile. Restarted, the node is `ok` again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_is_down_with_one_attempt_per_chain() {
    let pg = lab_server(ServerOptions::default()).await;
    create_three_roles(&pg).await;
    let name = pg.conn_string("postgres");
    // Audits every second: were they not held back while the node is unreachable, they would
    // show up below as extra connection attempts.
    let settings = Settings {
        audit_interval: "1s",
        ..Settings::default()
    };
    let file = ConfigFile::new(&three_secrets(&[&name], &settings));
    let mut run = Running::start(&file).await;
    run.wait("ok with every candidate valid", |s| {
        let n = node(s, &name);
        n.health == Health::Ok
            && n.candidates
                .iter()
                .all(|c| c.state == CandidateState::Valid)
    })
    .await;

    pg.stop().await.expect("stop");
    let s = run
        .wait("down, refused", |s| {
            let n = node(s, &name);
            n.health == Health::Down
                && n.candidates[0].error.as_ref().map(|e| e.kind) == Some(ErrorKind::Refused)
        })
        .await;
    let down = run.feed.mark();
    let n = node(&s, &name);
    assert!(
        n.cause.as_deref().is_some_and(|c| c.starts_with("refused")),
        "{:?}",
        n.cause
    );
    assert_eq!(n.winner, None);
    assert_eq!(n.candidates[0].state, CandidateState::Unreachable);
    assert_eq!(n.candidates[0].error.as_ref().unwrap().sqlstate, None);

    let end = run
        .feed
        .count_probes(down, 4, "four chain probes while down", |p| {
            p.node == *name && p.mode == ProbeMode::Chain
        })
        .await;
    let probes = run.feed.probes(down..end + 1, Some(&name), None);
    assert_eq!(probes.len(), 4, "audits must wait while down: {probes:?}");
    assert!(
        probes
            .iter()
            .all(|p| p.index == 0 && p.outcome == failed(ErrorKind::Refused)),
        "one attempt per chain, the first candidate only: {probes:?}"
    );
    let s = run.snapshot();
    let n = node(&s, &name);
    let chain = n.last_chain.as_ref().expect("chain record");
    let outcomes: Vec<(usize, AttemptOutcome)> = chain
        .attempts
        .iter()
        .map(|a| (n.candidate(&a.candidate).expect("listed").index, a.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (0, AttemptOutcome::Failed(ErrorKind::Refused)),
            (1, AttemptOutcome::Skipped),
            (2, AttemptOutcome::Skipped)
        ]
    );
    // Skipped candidates keep their last known validity.
    assert_eq!(n.candidates[1].state, CandidateState::Valid);
    assert_eq!(n.health, Health::Down);

    // Marked before the restart: under load, `pg_ctl start -w` can return after the engine has
    // already reached the server and said so.
    let restarted = run.feed.mark();
    pg.start().await.expect("restart");
    run.wait("ok again", |s| node(s, &name).health == Health::Ok)
        .await;
    run.feed
        .find_event(restarted, "health ok", |e| {
            matches!(
                e,
                EventKind::HealthChanged {
                    from: Health::Down,
                    to: Health::Ok,
                    ..
                }
            )
        })
        .await;
    run.assert_no_leak(&ALL);
}

/// Given a server that accepts connections and never answers, with three candidates, a chain
/// probe costs one `probe.timeout` (the first candidate times out, the others are skipped and
/// never connect), and a healthy node in the same config keeps getting fresh chain probes while
/// the hung probe is in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_costs_one_timeout_and_delays_nobody() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let pg = lab_server(ServerOptions::default()).await;
    create_three_roles(&pg).await;
    let hung = HungServer::start().await.expect("hung server");
    let hung_name = hung.conn_string("postgres");
    let healthy = pg.conn_string("postgres");
    let settings = Settings {
        timeout: "2s",
        ..Settings::default()
    };
    let file = ConfigFile::new(&three_secrets(&[&hung_name, &healthy], &settings));
    let mut run = Running::start(&file).await;

    let is_hung = |p: &rotascope::engine::event::ProbeRecord| p.node == *hung_name;
    let first = run
        .feed
        .count_probes(0, 1, "the first hung probe", is_hung)
        .await;
    let second = run
        .feed
        .count_probes(first + 1, 1, "the second hung probe", is_hung)
        .await;
    let accepted = hung.accepted();

    let hung_probes = run.feed.probes(0..second + 1, Some(&hung_name), None);
    assert_eq!(hung_probes.len(), 2, "{hung_probes:?}");
    for p in &hung_probes {
        assert_eq!((p.index, p.mode), (0, ProbeMode::Chain), "{p:?}");
        assert_eq!(p.outcome, failed(ErrorKind::Timeout), "{p:?}");
        assert!(
            p.latency >= TIMEOUT && p.latency < 2 * TIMEOUT,
            "one probe costs one timeout: {p:?}"
        );
    }
    // Two probes ended, a third may have connected already; the other candidates never did.
    assert!((2..=3).contains(&accepted), "{accepted} connections");

    // The second hung probe ran between the two records: the healthy node kept going.
    let meanwhile = run
        .feed
        .probes(first..second, Some(&healthy), Some(ProbeMode::Chain));
    assert!(
        meanwhile.len() >= 3
            && meanwhile
                .iter()
                .all(|p| p.outcome == ProbeRecordOutcome::Ok),
        "the healthy node's chain probes during a hung probe: {meanwhile:?}"
    );

    let s = run.snapshot();
    let h = node(&s, &hung_name);
    assert_eq!(h.health, Health::Down);
    assert!(
        h.cause.as_deref().is_some_and(|c| c.starts_with("timeout")),
        "{:?}",
        h.cause
    );
    let chain = h.last_chain.as_ref().expect("chain record");
    let outcomes: Vec<AttemptOutcome> = chain.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Failed(ErrorKind::Timeout),
            AttemptOutcome::Skipped,
            AttemptOutcome::Skipped
        ]
    );
    let total: Duration = chain.attempts.iter().map(|a| a.latency).sum();
    assert!(total < 2 * TIMEOUT, "the chain cost {total:?}");
    // Never tried at all: skipped, not untested.
    assert_eq!(h.candidates[1].state, CandidateState::Skipped);
    assert_eq!(h.candidates[2].state, CandidateState::Skipped);
    assert_eq!(node(&s, &healthy).health, Health::Ok);
    run.assert_no_leak(&ALL);
}

/// Holds every non-superuser connection slot of `pg` (`max_connections` minus the lab's three
/// reserved ones) as `holder`. A slot a probe holds for a moment is waited for.
async fn hold_all_slots(pg: &rotascope::lab::Server, slots: usize) -> Vec<tokio_postgres::Client> {
    let mut held = Vec::new();
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    while held.len() < slots {
        match pg.connect("holder", HOLDER, "postgres").await {
            Ok(client) => held.push(client),
            Err(LabError::Sql {
                code: Some(code), ..
            }) if code == "53300" && tokio::time::Instant::now() < deadline => {
                // A probe holds a slot for a few milliseconds: poll the server until it is free.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("holding slot {}: {e}", held.len() + 1),
        }
    }
    held
}

/// A role without LOGIN and a role over its own connection limit are candidate-level failures
/// (`login_not_permitted`, `role_conn_limit`: the next candidate wins); a missing database is
/// node-level (`db_missing`: the other candidate is skipped); a server out of connection slots
/// is `too_many_connections`, and recovers when they are free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_get_their_kinds() {
    const MAX_CONNECTIONS: u32 = 8;
    const RESERVED: usize = 3; // the lab's superuser_reserved_connections
    let pg = lab_server(ServerOptions::default().max_connections(MAX_CONNECTIONS)).await;
    pg.create_role("app_a", A).await.expect("app_a");
    pg.create_role("holder", HOLDER).await.expect("holder");
    pg.execute(&format!(
        "CREATE ROLE no_login NOLOGIN PASSWORD '{NOLOGIN}'; \
         CREATE ROLE limited LOGIN CONNECTION LIMIT 0 PASSWORD '{LIMITED}'"
    ))
    .await
    .expect("roles");
    let port = pg.port();
    let url = |db: &str| format!("postgres://127.0.0.1:{port}/{db}");
    // One island per node: each reachable node is a master.
    let text = format!(
        "{}{}{}{}",
        Settings::default().toml(),
        island(
            0,
            "roles",
            &url("postgres"),
            &[("no_login", NOLOGIN), ("limited", LIMITED), ("app_a", A)]
        ),
        island(1, "nodb", &url("no_such_db"), &[("app_a", A), ("app_b", B)]),
        island(2, "full", &url("postgres"), &[("app_a", A)]),
    );
    let file = ConfigFile::new(&text);
    let mut run = Running::start(&file).await;

    let s = run
        .wait("every node probed, full ok", |s| {
            s.nodes().all(|n| n.health != Health::Unknown)
                && node(s, "full").health == Health::Ok
                && node(s, "roles").candidates[1].state == CandidateState::Invalid
        })
        .await;
    let roles = node(&s, "roles");
    let kinds: Vec<(Option<ErrorKind>, Option<&str>)> = roles
        .candidates
        .iter()
        .map(|c| {
            let e = c.error.as_ref();
            (e.map(|e| e.kind), e.and_then(|e| e.sqlstate.as_deref()))
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (Some(ErrorKind::LoginNotPermitted), Some("28000")),
            (Some(ErrorKind::RoleConnLimit), Some("53300")),
            (None, None)
        ]
    );
    assert_eq!((roles.winner, roles.health), (Some(2), Health::Degraded));

    let nodb = node(&s, "nodb");
    assert_eq!(nodb.health, Health::Down);
    let e = nodb.candidates[0].error.as_ref().expect("db error");
    assert_eq!(
        (e.kind, e.sqlstate.as_deref()),
        (ErrorKind::DbMissing, Some("3D000"))
    );
    assert_eq!(nodb.candidates[1].state, CandidateState::Skipped);
    assert!(
        nodb.cause
            .as_deref()
            .is_some_and(|c| c.starts_with("db_missing")),
        "{:?}",
        nodb.cause
    );

    // Every ordinary connection slot taken.
    let held = hold_all_slots(&pg, MAX_CONNECTIONS as usize - RESERVED).await;
    let s = run
        .wait("full: too_many_connections", |s| {
            let n = node(s, "full");
            n.health == Health::Down
                && n.candidates[0].error.as_ref().map(|e| e.kind)
                    == Some(ErrorKind::TooManyConnections)
        })
        .await;
    let e = node(&s, "full").candidates[0].error.clone().expect("error");
    assert_eq!(e.sqlstate.as_deref(), Some("53300"));
    assert_eq!(
        node(&s, "full").candidates[0].state,
        CandidateState::Unreachable
    );

    drop(held);
    run.wait("full: ok once the slots are free", |s| {
        node(s, "full").health == Health::Ok
    })
    .await;
    run.assert_no_leak(&ALL);
}

/// A server with a certificate from the lab's own CA: `verify-full` with `sslrootcert` pointing
/// at that CA logs in; the same with `sslrootcert=system` (the public roots) is refused, kind
/// `tls`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verify_full_needs_the_lab_ca() {
    let pg = lab_server(ServerOptions::default().tls(true)).await;
    pg.create_role("app_a", A).await.expect("app_a");
    let ca = pg.lab.ca_cert_path();
    // A server of the same lab that serves no TLS at all.
    let plain = pg
        .lab
        .start_server(ServerOptions::default())
        .await
        .expect("plain server");
    assert!(
        ca.is_file(),
        "the lab CA is written when a TLS server starts"
    );
    let base = format!(
        "postgres://127.0.0.1:{}/postgres?sslmode=verify-full",
        pg.port()
    );
    let text = format!(
        "{}{}{}{}",
        Settings::default().toml(),
        island(
            0,
            "verified",
            &format!("{base}&sslrootcert={}", ca.display()),
            &[("app_a", A)]
        ),
        island(
            1,
            "public-roots",
            &format!("{base}&sslrootcert=system"),
            &[("app_a", A)]
        ),
        island(
            2,
            "plain-server",
            &format!(
                "postgres://127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
                plain.port(),
                ca.display()
            ),
            &[("app_a", A)]
        ),
    );
    let file = ConfigFile::new(&text);
    let mut run = Running::start(&file).await;

    let s = run
        .wait("both nodes probed", |s| {
            s.nodes().all(|n| n.health != Health::Unknown)
        })
        .await;
    let verified = node(&s, "verified");
    assert_eq!(verified.health, Health::Ok, "{:?}", verified.cause);
    assert_eq!(verified.candidates[0].state, CandidateState::Valid);

    let public = node(&s, "public-roots");
    assert_eq!(public.health, Health::Down);
    let e = public.candidates[0].error.as_ref().expect("tls error");
    assert_eq!((e.kind, e.sqlstate.as_deref()), (ErrorKind::Tls, None));
    assert!(
        e.message.to_lowercase().contains("certificate"),
        "{}",
        e.message
    );
    let plain = node(&s, "plain-server");
    let e = plain.candidates[0].error.as_ref().expect("tls error");
    assert_eq!(
        (e.kind, e.sqlstate.as_deref()),
        (ErrorKind::Tls, None),
        "{e:?}"
    );
    // The feed says the same.
    run.feed
        .find(0, "a tls probe record", |item| {
            matches!(item, Feed::Probe(p)
                if p.node == "public-roots" && p.outcome == failed(ErrorKind::Tls))
        })
        .await;
    run.assert_no_leak(&ALL);
}
