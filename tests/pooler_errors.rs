//! PgBouncer's answers, from the real binary (Debian's 1.18), as the prober classifies them:
//! every kind it can give, the route it shows, and that PostgreSQL's own protocol errors stay
//! what they are. Each test starts its own lab server and pooler.

use std::time::Duration;

use rotascope::engine::classify::route_of;
use rotascope::engine::pg::PgProber;
use rotascope::engine::probe::{
    ErrorKind, ProbeError, ProbeOutcome, ProbeRequest, ProbeSuccess, Prober, Role, Route,
    TimeoutOrigin,
};
use rotascope::lab::{
    Lab, PgBouncer, PoolMode, PoolerAuth, PoolerOptions, Server, ServerOptions, ADMIN_DATABASE,
    AUTH_USER,
};
use rotascope::topology::Candidate;

const PW_APP: &str = "app-Bouncer-0001";
const PW_WRONG: &str = "wrong-Bouncer-0002";
const PW_OTHER: &str = "other-Bouncer-0003";
const ALL_PASSWORDS: [&str; 3] = [PW_APP, PW_WRONG, PW_OTHER];

fn request(candidate: Candidate, timeout: Duration) -> ProbeRequest {
    ProbeRequest {
        candidate,
        connect_timeout: Duration::from_secs(3),
        timeout,
        timeout_origin: TimeoutOrigin::Settings,
        shard_pattern: None,
        usage_logins: Vec::new(),
    }
}

async fn probe(candidate: Candidate) -> ProbeOutcome {
    probe_within(candidate, Duration::from_secs(10)).await
}

async fn probe_within(candidate: Candidate, timeout: Duration) -> ProbeOutcome {
    PgProber::new().probe(request(candidate, timeout)).await
}

fn assert_no_password(text: &str) {
    for pw in ALL_PASSWORDS {
        assert!(!text.contains(pw), "a password leaked into: {text}");
    }
}

fn success(outcome: ProbeOutcome) -> ProbeSuccess {
    match outcome {
        Ok(s) => s,
        Err(f) => panic!(
            "expected success, got {}: {}",
            f.error.kind, f.error.message
        ),
    }
}

/// The outcome must be a failure of `kind` told by PgBouncer (08P01, route `pgbouncer`).
fn pooler_failure(outcome: ProbeOutcome, kind: ErrorKind) -> ProbeError {
    let e = match outcome {
        Ok(s) => panic!("expected {kind}, got success {s:?}"),
        Err(f) => f.error,
    };
    assert_no_password(&format!("{e:?}"));
    assert_eq!(e.kind, kind, "{}", e.message);
    assert_eq!(e.sqlstate.as_deref(), Some("08P01"), "{}", e.message);
    assert_eq!(route_of(&e), Some(Route::Pgbouncer), "{}", e.message);
    e
}

/// A master with role `app` and a database `app`, and a PgBouncer pooling `app` and `postgres`.
async fn bounced(lab: &Lab, options: PoolerOptions) -> (Server, PgBouncer) {
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    pg.create_role("app", PW_APP).await.unwrap();
    pg.create_database("app").await.unwrap();
    let bouncer = lab
        .start_pgbouncer(&pg, options.databases(&["app", "postgres"]))
        .await
        .unwrap();
    (pg, bouncer)
}

#[tokio::test]
async fn a_login_through_pgbouncer_shows_its_route_in_both_pool_modes() {
    let lab = Lab::new().unwrap();
    for mode in [PoolMode::Session, PoolMode::Transaction] {
        let (pg, bouncer) = bounced(&lab, PoolerOptions::default().mode(mode)).await;
        let through = success(probe(bouncer.candidate("app", PW_APP, "app")).await);
        assert_eq!(through.route, Route::Pgbouncer, "{mode:?}");
        assert_eq!(through.role, Role::Master);
        let direct = success(probe(pg.candidate("app", PW_APP, "app")).await);
        assert_eq!(direct.route, Route::Direct);
    }
}

#[tokio::test]
async fn a_wrong_password_or_an_unknown_login_is_auth_failed() {
    let lab = Lab::new().unwrap();
    let (_pg, bouncer) = bounced(&lab, PoolerOptions::default()).await;
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_WRONG, "app")).await,
        ErrorKind::AuthFailed,
    );
    assert_eq!(e.message, "pgbouncer: SASL authentication failed");
    assert!(e.kind.is_candidate_level());
    // auth_query finds no row for a role the backend does not have.
    let e = pooler_failure(
        probe(bouncer.candidate("nobody", PW_OTHER, "app")).await,
        ErrorKind::AuthFailed,
    );
    assert_eq!(e.message, "pgbouncer: no such user");
}

/// A client session through the pooler, held open until dropped.
async fn hold(
    bouncer: &PgBouncer,
    login: &str,
    password: &str,
    db: &str,
) -> tokio_postgres::Client {
    let mut pg = tokio_postgres::Config::new();
    pg.host("127.0.0.1")
        .port(bouncer.port())
        .user(login)
        .password(password)
        .dbname(db)
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    let (client, connection) = pg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

#[tokio::test]
async fn a_database_pgbouncer_does_not_list_is_db_missing() {
    let lab = Lab::new().unwrap();
    let (_pg, bouncer) = bounced(&lab, PoolerOptions::default().auth(PoolerAuth::File)).await;
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, "elsewhere")).await,
        ErrorKind::DbMissing,
    );
    assert_eq!(e.message, "pgbouncer: no such database: elsewhere");
}

#[tokio::test]
async fn a_database_the_backend_lacks_is_db_missing_passed_on() {
    let lab = Lab::new().unwrap();
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    pg.create_role("app", PW_APP).await.unwrap();
    let options = PoolerOptions::default()
        .auth(PoolerAuth::File)
        .databases(&["ghost"]);
    let bouncer = lab.start_pgbouncer(&pg, options).await.unwrap();
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, "ghost")).await,
        ErrorKind::DbMissing,
    );
    assert!(
        e.message
            .starts_with("pgbouncer: database \"ghost\" does not exist"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn the_admin_console_is_classified_not_other() {
    let lab = Lab::new().unwrap();
    let (_pg, bouncer) = bounced(&lab, PoolerOptions::default().auth(PoolerAuth::File)).await;
    // Its admin user gets in, and the console cannot run the probe query.
    let admin = bouncer.candidate(AUTH_USER, lab.pooler_password().expose(), ADMIN_DATABASE);
    let e = pooler_failure(probe(admin).await, ErrorKind::DbMissing);
    assert!(e.message.contains("admin console"), "{}", e.message);
    // Any other login is not allowed in.
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, ADMIN_DATABASE)).await,
        ErrorKind::LoginNotPermitted,
    );
    assert_eq!(e.message, "pgbouncer: not allowed");
}

#[tokio::test]
async fn max_client_conn_is_too_many_connections() {
    let lab = Lab::new().unwrap();
    let (_pg, bouncer) = bounced(&lab, PoolerOptions::default().max_client_conn(2)).await;
    let _a = hold(&bouncer, "app", PW_APP, "app").await;
    let _b = hold(&bouncer, "app", PW_APP, "app").await;
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, "app")).await,
        ErrorKind::TooManyConnections,
    );
    assert_eq!(
        e.message,
        "pgbouncer: no more connections allowed (max_client_conn)"
    );
}

#[tokio::test]
async fn a_pool_with_no_server_connection_to_give_is_backend_unavailable() {
    let lab = Lab::new().unwrap();
    let options = PoolerOptions::default()
        .pool_size(1)
        .setting("query_wait_timeout", "1");
    let (_pg, bouncer) = bounced(&lab, options).await;
    // Session pooling: a connected client keeps the pool's one server connection.
    let held = hold(&bouncer, "app", PW_APP, "app").await;
    held.simple_query("SELECT 1").await.unwrap();
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, "app")).await,
        ErrorKind::BackendUnavailable,
    );
    assert!(
        e.message.starts_with("pgbouncer: query_wait_timeout"),
        "{}",
        e.message
    );
    assert!(e.message.contains("pool is full"), "{}", e.message);
}

#[tokio::test]
async fn a_stopped_backend_is_backend_unavailable_and_a_stopped_pooler_refused() {
    let lab = Lab::new().unwrap();
    let (pg, bouncer) = bounced(&lab, PoolerOptions::default()).await;
    success(probe(bouncer.candidate("app", PW_APP, "app")).await);
    pg.stop().await.unwrap();
    // The first login after the backend went away waits for a server connection PgBouncer
    // cannot make (a probe timeout); from then on it fails fast.
    let mut kinds = Vec::new();
    for _ in 0..10 {
        match probe_within(
            bouncer.candidate("app", PW_APP, "app"),
            Duration::from_secs(2),
        )
        .await
        {
            Err(f) if f.error.kind == ErrorKind::BackendUnavailable => {
                assert!(
                    f.error.message.contains("server login has been failing"),
                    "{}",
                    f.error.message
                );
                assert_eq!(route_of(&f.error), Some(Route::Pgbouncer));
                kinds.push(f.error.kind);
                break;
            }
            Err(f) => kinds.push(f.error.kind),
            Ok(s) => panic!("a stopped backend let a probe through: {s:?}"),
        }
    }
    assert_eq!(
        kinds.last(),
        Some(&ErrorKind::BackendUnavailable),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .all(|k| matches!(k, ErrorKind::BackendUnavailable | ErrorKind::Timeout)),
        "{kinds:?}"
    );
    // The pooler itself down: refused, a different story.
    bouncer.stop().await.unwrap();
    let e = match probe(bouncer.candidate("app", PW_APP, "app")).await {
        Err(f) => f.error,
        Ok(s) => panic!("{s:?}"),
    };
    assert_eq!(e.kind, ErrorKind::Refused);
    assert_eq!(route_of(&e), None);
}

#[tokio::test]
async fn a_disabled_database_is_backend_unavailable() {
    let lab = Lab::new().unwrap();
    let (_pg, bouncer) = bounced(&lab, PoolerOptions::default()).await;
    bouncer.admin("DISABLE app").await.unwrap();
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, "app")).await,
        ErrorKind::BackendUnavailable,
    );
    assert_eq!(e.message, "pgbouncer: database \"app\" is disabled");
    bouncer.admin("ENABLE app").await.unwrap();
    success(probe(bouncer.candidate("app", PW_APP, "app")).await);
}

#[tokio::test]
async fn a_failing_auth_query_is_backend_unavailable() {
    let lab = Lab::new().unwrap();
    let (pg, bouncer) = bounced(&lab, PoolerOptions::default()).await;
    pg.execute_in("app", "DROP FUNCTION public.lab_pooler_lookup(text)")
        .await
        .unwrap();
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, "app")).await,
        ErrorKind::BackendUnavailable,
    );
    assert!(
        e.message.starts_with("pgbouncer: bouncer config error"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_backend_shutting_down_is_backend_unavailable_passed_on() {
    let lab = Lab::new().unwrap();
    let (pg, bouncer) = bounced(&lab, PoolerOptions::default().auth(PoolerAuth::File)).await;
    // A smart shutdown waits for this session; new logins are refused meanwhile.
    let _session = pg.admin("postgres").await.unwrap();
    pg.begin_smart_shutdown().await.unwrap();
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, "app")).await,
        ErrorKind::BackendUnavailable,
    );
    assert!(
        e.message
            .starts_with("pgbouncer: the database system is shutting down"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn the_auth_file_trap_both_passwords_fail_through_the_pooler() {
    let lab = Lab::new().unwrap();
    let (pg, bouncer) = bounced(&lab, PoolerOptions::default().auth(PoolerAuth::File)).await;
    pg.set_password("app", PW_OTHER).await.unwrap();
    // The database has the new password; PgBouncer's copy still the old one.
    success(probe(pg.candidate("app", PW_OTHER, "app")).await);
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_OTHER, "app")).await,
        ErrorKind::AuthFailed,
    );
    assert_eq!(e.message, "pgbouncer: SASL authentication failed");
    // The old one passes PgBouncer, and the backend refuses the login made with it.
    let e = pooler_failure(
        probe(bouncer.candidate("app", PW_APP, "app")).await,
        ErrorKind::AuthFailed,
    );
    assert!(
        e.message
            .starts_with("pgbouncer: password authentication failed for user \"app\""),
        "{}",
        e.message
    );
    // The copy catches up.
    bouncer.sync_auth_file(&pg).await.unwrap();
    let through = success(probe(bouncer.candidate("app", PW_OTHER, "app")).await);
    assert_eq!(through.route, Route::Pgbouncer);
}

/// Probes until one fails with `kind` (PgBouncer's first answer to a login after its backend
/// went away may be a wait that outlasts the probe); every failure before must be a timeout.
async fn eventually_fails(candidate: &Candidate, kind: ErrorKind) -> ProbeError {
    let mut seen = Vec::new();
    for _ in 0..10 {
        match probe_within(candidate.clone(), Duration::from_secs(3)).await {
            Err(f) if f.error.kind == kind => return f.error,
            Err(f) if f.error.kind == ErrorKind::Timeout => seen.push(f.error.kind),
            Err(f) => panic!("expected {kind} (or a timeout first), got {:?}", f.error),
            Ok(s) => panic!("expected {kind}, got success {s:?}"),
        }
    }
    panic!("never {kind}: {seen:?}");
}

#[tokio::test]
async fn a_pooler_that_cannot_log_in_to_its_backend_is_backend_unavailable() {
    let lab = Lab::new().unwrap();
    let (pg, bouncer) = bounced(&lab, PoolerOptions::default()).await;
    // PgBouncer's own login (auth_user) no longer works: every candidate is refused for a
    // reason that is not theirs.
    pg.set_password(AUTH_USER, "not-the-pooler-password")
        .await
        .unwrap();
    let e = eventually_fails(
        &bouncer.candidate("app", PW_APP, "app"),
        ErrorKind::BackendUnavailable,
    )
    .await;
    assert!(!e.kind.is_candidate_level());
    assert_eq!(route_of(&e), Some(Route::Pgbouncer));
}

#[tokio::test]
async fn a_client_login_timeout_is_backend_unavailable() {
    let lab = Lab::new().unwrap();
    let options = PoolerOptions::default()
        .auth(PoolerAuth::File)
        .setting("client_login_timeout", "1");
    let (pg, bouncer) = bounced(&lab, options).await;
    pg.stop().await.unwrap();
    let e = pooler_failure(
        probe_within(
            bouncer.candidate("app", PW_APP, "app"),
            Duration::from_secs(5),
        )
        .await,
        ErrorKind::BackendUnavailable,
    );
    assert!(
        e.message
            .starts_with("pgbouncer: client_login_timeout (server down)"),
        "{}",
        e.message
    );
}

/// The backend's refusals of a login PgBouncer makes for its client, passed on with 08P01, read
/// as PostgreSQL means them. Each case gets a fresh pooler (after a failed server login a pool
/// answers "server login has been failing" for a while).
#[tokio::test]
async fn the_backends_own_refusals_are_passed_on_and_read_as_postgres_means_them() {
    let lab = Lab::new().unwrap();
    let pg = lab
        .start_server(ServerOptions::default().max_connections(5))
        .await
        .unwrap();
    pg.create_role("app", PW_APP).await.unwrap();
    let through = |bouncer: &PgBouncer| bouncer.candidate("app", PW_APP, "postgres");
    let fresh = || lab.start_pgbouncer(&pg, PoolerOptions::default().auth(PoolerAuth::File));

    // (The pooler's copy of the verifiers is made first: pg_shadow lists LOGIN roles only.)
    let bouncer = fresh().await.unwrap();
    pg.execute("ALTER ROLE app NOLOGIN").await.unwrap();
    let e = pooler_failure(probe(through(&bouncer)).await, ErrorKind::LoginNotPermitted);
    assert!(
        e.message.contains("is not permitted to log in"),
        "{}",
        e.message
    );
    pg.execute("ALTER ROLE app LOGIN").await.unwrap();
    let bouncer = fresh().await.unwrap();
    pg.execute("ALTER ROLE app CONNECTION LIMIT 0")
        .await
        .unwrap();
    let e = pooler_failure(probe(through(&bouncer)).await, ErrorKind::RoleConnLimit);
    assert!(
        e.message.contains("too many connections for role"),
        "{}",
        e.message
    );
    pg.execute("ALTER ROLE app CONNECTION LIMIT -1")
        .await
        .unwrap();

    pg.set_hba("host all app 127.0.0.1/32 reject")
        .await
        .unwrap();
    let bouncer = fresh().await.unwrap();
    let e = pooler_failure(
        probe(through(&bouncer)).await,
        ErrorKind::BackendUnavailable,
    );
    assert!(
        e.message.contains("pg_hba.conf rejects connection"),
        "{}",
        e.message
    );
    pg.set_hba("host all all 127.0.0.1/32 scram-sha-256")
        .await
        .unwrap();

    // 5 slots, 3 reserved for superusers: two sessions of app take the rest.
    let _one = pg.connect("app", PW_APP, "postgres").await.unwrap();
    let _two = pg.connect("app", PW_APP, "postgres").await.unwrap();
    let bouncer = fresh().await.unwrap();
    let e = pooler_failure(
        probe(through(&bouncer)).await,
        ErrorKind::BackendUnavailable,
    );
    assert!(
        e.message
            .contains("remaining connection slots are reserved"),
        "{}",
        e.message
    );
}
