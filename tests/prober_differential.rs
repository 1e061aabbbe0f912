//! The prober's own client held against tokio-postgres (issue 13's differential test): for every
//! fault the acceptance tests make, and every authentication method in pg_hba.conf, both give the
//! same outcome kind and SQLSTATE. tokio-postgres answers whatever the server asks, so the
//! prober's `allow_auth` is widened where a case needs md5, password or trust. One classifier
//! ([`classify`]) reads tokio-postgres' errors, the same one the prober uses.

use std::sync::Arc;
use std::time::Duration;

use rotascope::engine::classify::classify;
use rotascope::engine::pg::PgProber;
use rotascope::engine::probe::{ErrorKind, ProbeRequest, Prober, TimeoutOrigin};
use rotascope::lab::{HungServer, Lab, Server, ServerOptions};
use rotascope::topology::{AuthMethod, Candidate, ConnTarget, Endpoint, SslMode};
use tokio_postgres::config::SslMode as PgSslMode;

const PW: &str = "diff-App-Secret-01";
const PW_WRONG: &str = "diff-Wrong-Secret-02";
const LIMIT: Duration = Duration::from_millis(1500);

/// `None` for success, else the kind and SQLSTATE.
type Outcome = Option<(ErrorKind, Option<String>)>;

async fn ours(c: &Candidate) -> Outcome {
    let request = ProbeRequest {
        candidate: c.clone(),
        connect_timeout: LIMIT,
        timeout: LIMIT,
        timeout_origin: TimeoutOrigin::Settings,
        shard_pattern: None,
        usage_logins: Vec::new(),
    };
    match PgProber::new().probe(request).await {
        Ok(_) => None,
        Err(f) => Some((f.error.kind, f.error.sqlstate)),
    }
}

/// The same login through tokio-postgres: connect, one query, classified by the same classifier.
async fn oracle(c: &Candidate, roots: &rustls::RootCertStore) -> Outcome {
    let t: &ConnTarget = &c.target;
    let mut pg = tokio_postgres::Config::new();
    match &t.endpoint {
        Endpoint::Tcp { host, port, .. } => pg.host(host.as_deref().unwrap()).port(*port),
        Endpoint::Unix { dir, port } => pg.host_path(dir).port(*port),
    };
    pg.user(&c.login)
        .password(c.password.expose())
        .dbname(&t.dbname)
        .application_name("rotascope-oracle")
        .connect_timeout(LIMIT)
        .ssl_mode(match t.tls.mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        });
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots.clone())
    .with_no_client_auth();
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(config);
    let attempt = async {
        let (client, connection) = pg.connect(tls).await?;
        let driver = tokio::spawn(connection);
        let result = client.simple_query("SELECT pg_is_in_recovery()").await;
        drop(client);
        let _ = driver.await;
        result.map(|_| ())
    };
    match tokio::time::timeout(LIMIT, attempt).await {
        Err(_) => Some((ErrorKind::Timeout, None)),
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            let e = classify(&e, &[&c.password]);
            Some((e.kind, e.sqlstate))
        }
    }
}

/// Both clients must agree, and on `expected`.
async fn agree(what: &str, c: &Candidate, roots: &rustls::RootCertStore, expected: Outcome) {
    let (a, b) = (ours(c).await, oracle(c, roots).await);
    assert_eq!(a, b, "{what}: the prober and tokio-postgres disagree");
    assert_eq!(a, expected, "{what}");
}

fn fails(kind: ErrorKind, sqlstate: Option<&str>) -> Outcome {
    Some((kind, sqlstate.map(str::to_owned)))
}

fn with(c: &Candidate, change: impl FnOnce(&mut ConnTarget)) -> Candidate {
    let mut target = (*c.target).clone();
    change(&mut target);
    Candidate {
        target: Arc::new(target),
        ..c.clone()
    }
}

fn login(pg: &Server, user: &str, password: &str) -> Candidate {
    pg.candidate(user, password, "postgres")
}

#[tokio::test]
async fn the_prober_and_tokio_postgres_agree_on_every_fault() {
    let lab = Lab::new().unwrap();
    let pg = lab
        .start_server(ServerOptions::default().tls(true))
        .await
        .unwrap();
    pg.execute(&format!(
        "CREATE ROLE app LOGIN PASSWORD '{PW}';
         CREATE ROLE locked NOLOGIN PASSWORD '{PW}';
         CREATE ROLE limited LOGIN CONNECTION LIMIT 1 PASSWORD '{PW}';
         CREATE ROLE old_md5 LOGIN;"
    ))
    .await
    .unwrap();
    pg.set_password_encrypted("old_md5", PW, "md5")
        .await
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in &lab.ca_cert_file().unwrap().certs {
        roots.add(cert.clone()).unwrap();
    }
    let ca = lab.ca_cert_file().unwrap();
    let app = login(&pg, "app", PW);

    agree("scram", &app, &roots, None).await;
    agree(
        "wrong password",
        &login(&pg, "app", PW_WRONG),
        &roots,
        fails(ErrorKind::AuthFailed, Some("28P01")),
    )
    .await;
    agree(
        "unknown role",
        &login(&pg, "nobody", PW),
        &roots,
        fails(ErrorKind::AuthFailed, Some("28P01")),
    )
    .await;
    agree(
        "NOLOGIN",
        &login(&pg, "locked", PW),
        &roots,
        fails(ErrorKind::LoginNotPermitted, Some("28000")),
    )
    .await;
    let held = pg.connect("limited", PW, "postgres").await.unwrap();
    agree(
        "CONNECTION LIMIT",
        &login(&pg, "limited", PW),
        &roots,
        fails(ErrorKind::RoleConnLimit, Some("53300")),
    )
    .await;
    drop(held);
    agree(
        "missing database",
        &pg.candidate("app", PW, "no_such_db"),
        &roots,
        fails(ErrorKind::DbMissing, Some("3D000")),
    )
    .await;

    for ssl in [SslMode::Disable, SslMode::Prefer, SslMode::Require] {
        agree(
            ssl.as_str(),
            &with(&app, |t| t.tls.mode = ssl),
            &roots,
            None,
        )
        .await;
    }
    let verify = with(&app, |t| {
        t.tls.mode = SslMode::VerifyFull;
        t.tls.root_cert = Some(ca.clone());
    });
    agree("verify-full", &verify, &roots, None).await;
    let no_ca = with(&app, |t| t.tls.mode = SslMode::VerifyFull);
    let mozilla = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    agree(
        "verify-full without the lab CA",
        &no_ca,
        &mozilla,
        fails(ErrorKind::Tls, None),
    )
    .await;

    // Every authentication method of pg_hba.conf, allowed where tokio-postgres would answer.
    let allowing = |c: &Candidate, m: AuthMethod| with(c, |t| t.auth.allowed.push(m));
    pg.set_hba("host all all 127.0.0.1/32 md5").await.unwrap();
    agree(
        "md5",
        &allowing(&login(&pg, "old_md5", PW), AuthMethod::Md5),
        &roots,
        None,
    )
    .await;
    agree(
        "md5, wrong password",
        &allowing(&login(&pg, "old_md5", PW_WRONG), AuthMethod::Md5),
        &roots,
        fails(ErrorKind::AuthFailed, Some("28P01")),
    )
    .await;
    // An md5 line with a SCRAM-stored password: the server asks for SCRAM.
    agree("md5 line, SCRAM verifier", &app, &roots, None).await;
    pg.set_hba("host all all 127.0.0.1/32 password")
        .await
        .unwrap();
    let cleartext = allowing(&app, AuthMethod::Password);
    agree("password", &cleartext, &roots, None).await;
    agree(
        "password, wrong password",
        &Candidate {
            password: rotascope::secret::Password::new(PW_WRONG),
            ..cleartext.clone()
        },
        &roots,
        fails(ErrorKind::AuthFailed, Some("28P01")),
    )
    .await;
    pg.set_hba("host all all 127.0.0.1/32 trust").await.unwrap();
    agree("trust", &allowing(&app, AuthMethod::None), &roots, None).await;
    pg.set_hba("host all all 127.0.0.1/32 scram-sha-256")
        .await
        .unwrap();
    agree("scram again", &app, &roots, None).await;

    pg.set_hba("host all app 127.0.0.1/32 reject")
        .await
        .unwrap();
    agree(
        "pg_hba reject",
        &app,
        &roots,
        fails(ErrorKind::HbaRejected, Some("28000")),
    )
    .await;
    pg.set_hba("host all other 127.0.0.1/32 scram-sha-256")
        .await
        .unwrap();
    agree(
        "no pg_hba entry",
        &app,
        &roots,
        fails(ErrorKind::HbaRejected, Some("28000")),
    )
    .await;
    pg.set_hba("hostssl all app 127.0.0.1/32 scram-sha-256")
        .await
        .unwrap();
    agree(
        "hostssl only, sslmode=disable",
        &with(&app, |t| t.tls.mode = SslMode::Disable),
        &roots,
        fails(ErrorKind::HbaRejected, Some("28000")),
    )
    .await;
    agree(
        "hostssl only, sslmode=require",
        &with(&app, |t| t.tls.mode = SslMode::Require),
        &roots,
        None,
    )
    .await;

    // A server without TLS, with few connection slots: require, max_connections, a smart
    // shutdown, a stopped server.
    let small = lab
        .start_server(ServerOptions::default().max_connections(6))
        .await
        .unwrap();
    small
        .execute(&format!("CREATE ROLE app LOGIN PASSWORD '{PW}'"))
        .await
        .unwrap();
    let on_small = login(&small, "app", PW);
    agree(
        "require without TLS",
        &with(&on_small, |t| t.tls.mode = SslMode::Require),
        &roots,
        fails(ErrorKind::Tls, None),
    )
    .await;
    let mut slots = Vec::new();
    while let Ok(client) = small.connect("app", PW, "postgres").await {
        slots.push(client);
        assert!(slots.len() <= 6, "max_connections is not in force");
    }
    agree(
        "max_connections",
        &on_small,
        &roots,
        fails(ErrorKind::TooManyConnections, Some("53300")),
    )
    .await;
    let keep_one = slots.pop().unwrap();
    drop(slots);
    small.begin_smart_shutdown().await.unwrap();
    agree(
        "shutting down",
        &on_small,
        &roots,
        fails(ErrorKind::ShuttingDown, Some("57P03")),
    )
    .await;
    drop(keep_one);
    pg.stop().await.unwrap();
    agree("stopped", &app, &roots, fails(ErrorKind::Refused, None)).await;

    let hung = HungServer::start().await.unwrap();
    agree(
        "hung server",
        &hung.candidate("app", PW, "postgres"),
        &roots,
        fails(ErrorKind::Timeout, None),
    )
    .await;
}
