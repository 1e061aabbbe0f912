//! The PostgreSQL prober against real servers from the lab: what a probe learns, and how each
//! failure is classified. Every message is scanned for the passwords in play.

use std::sync::Arc;
use std::time::Duration;

use rotascope::engine::pg::PgProber;
use rotascope::engine::probe::{
    ErrorKind, ProbeError, ProbeOutcome, ProbeRequest, ProbeSuccess, Prober, Role, TimeoutOrigin,
};
use rotascope::lab::{candidate_for, HungServer, Lab, LabError, Server, ServerOptions};
use rotascope::topology::{Candidate, CertFile, ConnTarget, Endpoint, SslMode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

const PW_APP: &str = "app-Secret-0001";
const PW_WRONG: &str = "wrong-Secret-0002";
const PW_OTHER: &str = "other-Secret-0003";
const ALL_PASSWORDS: [&str; 3] = [PW_APP, PW_WRONG, PW_OTHER];

fn request(candidate: Candidate) -> ProbeRequest {
    ProbeRequest {
        candidate,
        connect_timeout: Duration::from_secs(3),
        timeout: Duration::from_secs(10),
        timeout_origin: TimeoutOrigin::Settings,
        shard_pattern: None,
        usage_logins: Vec::new(),
    }
}

async fn probe(candidate: Candidate) -> ProbeOutcome {
    PgProber::new().probe(request(candidate)).await
}

fn assert_no_password(text: &str) {
    for pw in ALL_PASSWORDS {
        assert!(!text.contains(pw), "a password leaked into: {text}");
    }
}

/// The outcome must be a success; returns it.
fn success(outcome: ProbeOutcome) -> ProbeSuccess {
    match outcome {
        Ok(s) => s,
        Err(f) => {
            assert_no_password(&format!("{f:?}"));
            panic!(
                "expected success, got {:?}: {}",
                f.error.kind, f.error.message
            )
        }
    }
}

/// The outcome must be a failure of `kind`; returns the error, checked for passwords.
fn failure(outcome: ProbeOutcome, kind: ErrorKind) -> ProbeError {
    let f = match outcome {
        Ok(s) => panic!("expected {kind}, got success {s:?}"),
        Err(f) => f,
    };
    assert_no_password(&format!("{f:?}"));
    assert_eq!(
        f.error.kind, kind,
        "expected {kind}, got {} ({})",
        f.error.kind, f.error.message
    );
    assert!(!f.error.message.is_empty());
    assert!(!f.error.message.contains('\n'));
    f.error
}

/// A candidate for `target` with another TLS mode / root certificate.
fn with_ssl(c: &Candidate, ssl: SslMode, rootcert: Option<std::path::PathBuf>) -> Candidate {
    let mut target: ConnTarget = (*c.target).clone();
    target.tls.mode = ssl;
    target.tls.root_cert = rootcert.map(|path| {
        let pem = std::fs::read(&path).expect("CA file");
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM");
        Arc::new(CertFile { path, certs })
    });
    Candidate {
        target: Arc::new(target),
        ..c.clone()
    }
}

/// Lines of the server log that record an authorised probe connection.
fn authorized_lines(server: &Server) -> Vec<String> {
    std::fs::read_to_string(server.log_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("connection authorized") && l.contains("user=app"))
        .map(str::to_owned)
        .collect()
}

async fn started(lab: &Lab, options: ServerOptions) -> Server {
    let pg = lab.start_server(options).await.unwrap();
    pg.create_role("app", PW_APP).await.unwrap();
    pg
}

#[tokio::test]
async fn a_master_and_its_replica_report_role_and_wal_positions_until_promotion() {
    let lab = Lab::new().unwrap();
    let primary = started(
        &lab,
        ServerOptions::default().setting("log_connections", "on"),
    )
    .await;
    let replica = primary.start_replica().await.unwrap();

    let m = success(probe(primary.candidate("app", PW_APP, "postgres")).await);
    assert_eq!(m.role, Role::Master);
    assert!(m.wal.current.is_some());
    assert_eq!((m.wal.receive, m.wal.replay), (None, None));
    assert_eq!(m.shards, None);
    assert!(m.latency.connect > Duration::ZERO);
    assert!(m.latency.total >= m.latency.connect + m.latency.query);
    let lines = authorized_lines(&primary);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("application_name=rotascope")),
        "{lines:?}"
    );

    let r = success(probe(replica.candidate("app", PW_APP, "postgres")).await);
    assert_eq!(r.role, Role::Replica);
    assert_eq!(r.wal.current, None);
    assert!(r.wal.receive.is_some() && r.wal.replay.is_some());

    primary.stop().await.unwrap();
    replica.promote().await.unwrap();
    let p = success(probe(replica.candidate("app", PW_APP, "postgres")).await);
    assert_eq!(p.role, Role::Master);
    assert!(p.wal.current.is_some());
}

#[tokio::test]
async fn candidate_level_failures_are_told_apart() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default()).await;
    pg.execute(&format!(
        "CREATE ROLE locked NOLOGIN PASSWORD '{PW_OTHER}';
         CREATE ROLE limited LOGIN CONNECTION LIMIT 1 PASSWORD '{PW_OTHER}';"
    ))
    .await
    .unwrap();

    let e = failure(
        probe(pg.candidate("app", PW_WRONG, "postgres")).await,
        ErrorKind::AuthFailed,
    );
    assert_eq!(e.sqlstate.as_deref(), Some("28P01"));
    assert!(
        e.message.contains("password authentication failed"),
        "{}",
        e.message
    );

    // An unknown role looks the same from outside: the server hides which it was.
    let e = failure(
        probe(pg.candidate("nobody", PW_WRONG, "postgres")).await,
        ErrorKind::AuthFailed,
    );
    assert_eq!(e.sqlstate.as_deref(), Some("28P01"));

    let e = failure(
        probe(pg.candidate("locked", PW_OTHER, "postgres")).await,
        ErrorKind::LoginNotPermitted,
    );
    assert_eq!(e.sqlstate.as_deref(), Some("28000"));

    let held = pg.connect("limited", PW_OTHER, "postgres").await.unwrap();
    let e = failure(
        probe(pg.candidate("limited", PW_OTHER, "postgres")).await,
        ErrorKind::RoleConnLimit,
    );
    assert_eq!(e.sqlstate.as_deref(), Some("53300"));
    drop(held);

    for kind in [
        ErrorKind::AuthFailed,
        ErrorKind::LoginNotPermitted,
        ErrorKind::RoleConnLimit,
    ] {
        assert!(kind.is_candidate_level());
    }
}

#[tokio::test]
async fn a_missing_database_and_a_full_server_are_node_level() {
    let lab = Lab::new().unwrap();
    // superuser_reserved_connections is 3: three slots for ordinary roles.
    let pg = started(&lab, ServerOptions::default().max_connections(6)).await;

    let e = failure(
        probe(pg.candidate("app", PW_APP, "no_such_db")).await,
        ErrorKind::DbMissing,
    );
    assert_eq!(e.sqlstate.as_deref(), Some("3D000"));

    // Fill every ordinary slot, then one more attempt must be refused for lack of slots.
    let mut held = Vec::new();
    loop {
        match pg.connect("app", PW_APP, "postgres").await {
            Ok(client) => held.push(client),
            Err(LabError::Sql { code, .. }) if code.as_deref() == Some("53300") => break,
            Err(e) => panic!("unexpected: {e}"),
        }
        assert!(held.len() <= 6, "max_connections is not in force");
    }
    let e = failure(
        probe(pg.candidate("app", PW_APP, "postgres")).await,
        ErrorKind::TooManyConnections,
    );
    assert_eq!(e.sqlstate.as_deref(), Some("53300"));
    assert!(!e.kind.is_candidate_level());

    held.clear();
    // Backends leave asynchronously after their client goes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while probe(pg.candidate("app", PW_APP, "postgres"))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "slots never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stopped_server_is_refused_and_comes_back() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default()).await;
    pg.stop().await.unwrap();
    let e = failure(
        probe(pg.candidate("app", PW_APP, "postgres")).await,
        ErrorKind::Refused,
    );
    assert_eq!(e.sqlstate, None);
    pg.start().await.unwrap();
    success(probe(pg.candidate("app", PW_APP, "postgres")).await);
}

#[tokio::test]
async fn a_hung_server_costs_one_probe_timeout() {
    let hung = HungServer::start().await.unwrap();
    for ssl in [SslMode::Prefer, SslMode::Disable] {
        let candidate = with_ssl(&hung.candidate("app", PW_APP, "postgres"), ssl, None);
        let limit = Duration::from_millis(700);
        let started = tokio::time::Instant::now();
        let outcome = PgProber::new()
            .probe(ProbeRequest {
                timeout: limit,
                timeout_origin: TimeoutOrigin::Settings,
                ..request(candidate)
            })
            .await;
        let elapsed = started.elapsed();
        let e = failure(outcome, ErrorKind::Timeout);
        assert!(e.message.contains("700ms"), "{}", e.message);
        assert!(elapsed >= limit, "gave up early: {elapsed:?}");
        // Generous: the point is that it does not hang, not how fast it is.
        assert!(
            elapsed < limit + Duration::from_secs(5),
            "hung: {elapsed:?}"
        );
    }
    assert_eq!(hung.accepted(), 2);
}

#[tokio::test]
async fn connect_timeout_bounds_a_tcp_connect_that_never_completes() {
    // A listener with a backlog of 0 that never accepts: the first connection fills the queue,
    // and the kernel drops the SYNs of the next, whose connect then hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(300), connect).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    let candidate = candidate_at("127.0.0.1", addr.port());
    let started = tokio::time::Instant::now();
    let outcome = PgProber::new()
        .probe(ProbeRequest {
            connect_timeout: Duration::from_millis(400),
            timeout: Duration::from_secs(20),
            timeout_origin: TimeoutOrigin::Settings,
            ..request(candidate)
        })
        .await;
    let elapsed = started.elapsed();
    let e = failure(outcome, ErrorKind::Timeout);
    assert!(e.message.contains("connection timed out"), "{}", e.message);
    assert!(
        elapsed < Duration::from_secs(10),
        "not bounded by connect_timeout: {elapsed:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn an_unknown_host_name_is_a_dns_failure() {
    let candidate = candidate_at("no-such-host.rotascope.invalid", 5432);
    let e = failure(probe(candidate).await, ErrorKind::Dns);
    assert!(e.message.contains("lookup"), "{}", e.message);
}

#[tokio::test]
async fn shard_schemas_matching_the_pattern_are_listed_sorted() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default()).await;
    pg.create_database("app").await.unwrap();
    for schema in [
        "sh0003", "sh0001", "sh10000", "sh0002", "sh12", "sh00001", "shx", "public2",
    ] {
        pg.create_schema("app", schema).await.unwrap();
    }
    let candidate = pg.candidate("app", PW_APP, "app");
    let with_pattern = ProbeRequest {
        shard_pattern: Some("sh%04d".into()),
        usage_logins: Vec::new(),
        ..request(candidate.clone())
    };
    let s = success(PgProber::new().probe(with_pattern).await);
    assert_eq!(
        s.shards.as_deref(),
        Some(&["sh0001", "sh0002", "sh0003", "sh10000"].map(String::from)[..])
    );

    let none = ProbeRequest {
        shard_pattern: Some("zz%02d".into()),
        usage_logins: Vec::new(),
        ..request(candidate.clone())
    };
    let s = success(PgProber::new().probe(none).await);
    assert_eq!(s.shards, Some(Vec::new()));

    let bad = ProbeRequest {
        shard_pattern: Some("sh%s".into()),
        usage_logins: Vec::new(),
        ..request(candidate)
    };
    let e = failure(PgProber::new().probe(bad).await, ErrorKind::Other);
    assert!(e.message.contains("shard pattern"), "{}", e.message);
}

#[tokio::test]
async fn tls_modes_check_what_libpq_checks() {
    let lab = Lab::new().unwrap();
    let pg = started(
        &lab,
        ServerOptions::default()
            .tls(true)
            .setting("log_connections", "on"),
    )
    .await;
    let plain = pg.candidate("app", PW_APP, "postgres");
    let ca = Some(lab.ca_cert_path());

    success(probe(with_ssl(&plain, SslMode::VerifyFull, ca.clone())).await);
    success(probe(with_ssl(&plain, SslMode::VerifyCa, ca.clone())).await);
    let e = failure(
        probe(with_ssl(&plain, SslMode::VerifyFull, None)).await,
        ErrorKind::Tls,
    );
    assert!(
        e.message.to_lowercase().contains("certificate"),
        "{}",
        e.message
    );
    success(probe(with_ssl(&plain, SslMode::Require, None)).await);
    success(probe(with_ssl(&plain, SslMode::Prefer, None)).await);
    let tls_logins = authorized_lines(&pg)
        .iter()
        .filter(|l| l.contains("SSL enabled"))
        .count();
    success(probe(with_ssl(&plain, SslMode::Disable, None)).await);
    let lines = authorized_lines(&pg);
    assert_eq!(
        tls_logins, 4,
        "verify-full, verify-ca, require, prefer: {lines:?}"
    );
    assert!(
        !lines.last().unwrap().contains("SSL enabled"),
        "disable: {lines:?}"
    );

    // A host name the certificate does not carry: verify-ca accepts, verify-full refuses.
    let mut wrong_name = (*plain.target).clone();
    wrong_name.endpoint = Endpoint::Tcp {
        host: Some("db.example.invalid".into()),
        addr: Some("127.0.0.1".parse().unwrap()),
        port: pg.port(),
    };
    let wrong_name = Candidate {
        target: Arc::new(wrong_name),
        ..plain.clone()
    };
    success(probe(with_ssl(&wrong_name, SslMode::VerifyCa, ca.clone())).await);
    let e = failure(
        probe(with_ssl(&wrong_name, SslMode::VerifyFull, ca)).await,
        ErrorKind::Tls,
    );
    assert!(e.message.contains("not valid for name"), "{}", e.message);
}

#[tokio::test]
async fn require_against_a_server_without_tls_is_a_tls_failure() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default()).await;
    let plain = pg.candidate("app", PW_APP, "postgres");
    let e = failure(
        probe(with_ssl(&plain, SslMode::Require, None)).await,
        ErrorKind::Tls,
    );
    assert!(e.message.contains("does not support TLS"), "{}", e.message);
    success(probe(with_ssl(&plain, SslMode::Prefer, None)).await);
}

/// A candidate for `app` at `host:port` (database `postgres`, no TLS).
fn candidate_at(host: &str, port: u16) -> Candidate {
    let mut target = ConnTarget::tcp(
        host,
        port,
        "postgres",
        format!("postgres://{host}:{port}/postgres"),
    );
    target.tls.mode = SslMode::Disable;
    candidate_for(target, "app", PW_APP)
}
