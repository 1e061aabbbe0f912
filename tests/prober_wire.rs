//! The prober's own client against real PostgreSQL and against impostors: Unix sockets, client
//! certificates, libpq's self-signed recipe, pg_hba classification and sslmode fallbacks, the
//! authentication policy (no credential spraying), and the SCRAM key memo across real password
//! changes.

use std::sync::Arc;
use std::time::Duration;

use rotascope::engine::pg::PgProber;
use rotascope::engine::probe::{
    ErrorKind, ProbeError, ProbeOutcome, ProbeRequest, ProbeSuccess, Prober, TimeoutOrigin,
};
use rotascope::lab::{cert_file, Ask, Impostor, Lab, Server, ServerOptions};
use rotascope::secret::Password;
use rotascope::topology::{AuthMethod, Candidate, ChannelBinding, ConnTarget, SslMode};

const PW_APP: &str = "wire-App-Secret-01";
const PW_NEW: &str = "wire-New-Secret-02";
/// The memo test's own passwords (see there).
const MEMO_OLD: &str = "memo-only-Old-Secret-31";
const MEMO_NEW: &str = "memo-only-New-Secret-32";

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
    for pw in [PW_APP, PW_NEW] {
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

fn failure(outcome: ProbeOutcome, kind: ErrorKind) -> ProbeError {
    let f = match outcome {
        Ok(s) => panic!("expected {kind}, got success {s:?}"),
        Err(f) => f,
    };
    assert_no_password(&format!("{f:?}"));
    assert_eq!(f.error.kind, kind, "{}", f.error.message);
    f.error
}

/// `candidate` with its target changed by `change`.
fn with(candidate: &Candidate, change: impl FnOnce(&mut ConnTarget)) -> Candidate {
    let mut target = (*candidate.target).clone();
    change(&mut target);
    Candidate {
        target: Arc::new(target),
        ..candidate.clone()
    }
}

async fn started(lab: &Lab, options: ServerOptions) -> Server {
    let pg = lab.start_server(options).await.unwrap();
    pg.create_role("app", PW_APP).await.unwrap();
    pg
}

#[tokio::test]
async fn a_probe_over_the_unix_socket_needs_no_tls() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default().tls(true)).await;
    let target = pg.unix_target("postgres").expect("the lab socket dir fits");
    for ssl in [SslMode::Prefer, SslMode::Require] {
        let c = with(&pg.candidate("app", PW_APP, "postgres"), |t| {
            *t = target.clone();
            t.tls.mode = ssl;
        });
        let s = success(probe(c).await);
        assert!(s.latency.connect > Duration::ZERO);
    }
    let wrong = with(&pg.candidate("app", PW_NEW, "postgres"), |t| {
        *t = target.clone()
    });
    let e = failure(probe(wrong).await, ErrorKind::AuthFailed);
    assert_eq!(e.sqlstate.as_deref(), Some("28P01"));
    pg.stop().await.unwrap();
    let gone = with(&pg.candidate("app", PW_APP, "postgres"), |t| {
        *t = target.clone()
    });
    failure(probe(gone).await, ErrorKind::Refused);
}

#[tokio::test]
async fn a_client_certificate_from_the_lab_ca_passes_clientcert_verify_full() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default().tls(true)).await;
    pg.set_hba("hostssl all app 127.0.0.1/32 scram-sha-256 clientcert=verify-full")
        .await
        .unwrap();
    let ca = lab.ca_cert_file().unwrap();
    let base = with(&pg.candidate("app", PW_APP, "postgres"), |t| {
        t.tls.mode = SslMode::VerifyFull;
        t.tls.root_cert = Some(ca.clone());
    });
    // Without a certificate the server turns the login away; with the lab's, it is let in.
    let e = failure(probe(base.clone()).await, ErrorKind::AuthFailed);
    assert!(e.message.contains("certificate"), "{}", e.message);
    let cert = lab.client_cert("app").unwrap();
    let with_cert = with(&base, |t| t.tls.client_cert = Some(cert.clone()));
    success(probe(with_cert.clone()).await);
    // A certificate for another login does not pass verify-full (CN must be the user).
    let other = lab.client_cert("someone_else").unwrap();
    let wrong_cn = with(&base, |t| t.tls.client_cert = Some(other));
    failure(probe(wrong_cn).await, ErrorKind::AuthFailed);
    assert!(!format!("{cert:?}").contains("PRIVATE"));
}

#[tokio::test]
async fn verify_modes_accept_postgresqls_self_signed_recipe_as_libpq_does() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default().self_signed_tls()).await;
    let own = cert_file(&pg.server_cert_path()).unwrap();
    let lab_ca = lab.ca_cert_file().unwrap();
    // The certificate names `localhost` in its Common Name only.
    let at_localhost = with(&pg.candidate("app", PW_APP, "postgres"), |t| {
        t.endpoint = rotascope::topology::Endpoint::Tcp {
            host: Some("localhost".into()),
            addr: None,
            port: pg.port(),
        };
        t.tls.root_cert = Some(own.clone());
    });
    for ssl in [SslMode::VerifyCa, SslMode::VerifyFull, SslMode::Require] {
        success(probe(with(&at_localhost, |t| t.tls.mode = ssl)).await);
    }
    // verify-full still checks the name: 127.0.0.1 is not in the certificate.
    let by_ip = with(&at_localhost, |t| {
        t.endpoint = rotascope::topology::Endpoint::Tcp {
            host: Some("127.0.0.1".into()),
            addr: None,
            port: pg.port(),
        };
        t.tls.mode = SslMode::VerifyFull;
    });
    let e = failure(probe(by_ip.clone()).await, ErrorKind::Tls);
    assert!(e.message.contains("not valid for name"), "{}", e.message);
    success(probe(with(&by_ip, |t| t.tls.mode = SslMode::VerifyCa)).await);
    // Another root does not vouch for it.
    let e = failure(
        probe(with(&at_localhost, |t| {
            t.tls.mode = SslMode::VerifyCa;
            t.tls.root_cert = Some(lab_ca.clone());
        }))
        .await,
        ErrorKind::Tls,
    );
    assert!(e.message.contains("certificate"), "{}", e.message);
}

#[tokio::test]
async fn pg_hba_refusals_are_node_level_and_sslmode_falls_back_as_libpq() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default().tls(true)).await;
    let c = pg.candidate("app", PW_APP, "postgres");

    pg.set_hba("host all app 127.0.0.1/32 reject")
        .await
        .unwrap();
    let e = failure(probe(c.clone()).await, ErrorKind::HbaRejected);
    assert_eq!(e.sqlstate.as_deref(), Some("28000"));
    assert!(!e.kind.is_candidate_level());

    pg.set_hba("host all nobody 127.0.0.1/32 scram-sha-256")
        .await
        .unwrap();
    let e = failure(probe(c.clone()).await, ErrorKind::HbaRejected);
    assert!(e.message.contains("no pg_hba.conf entry"), "{}", e.message);

    // TLS only: sslmode=disable cannot get in, and says why; allow retries with TLS; prefer and
    // require use TLS from the start.
    pg.set_hba("hostssl all app 127.0.0.1/32 scram-sha-256")
        .await
        .unwrap();
    let e = failure(
        probe(with(&c, |t| t.tls.mode = SslMode::Disable)).await,
        ErrorKind::HbaRejected,
    );
    assert!(e.message.contains("requires TLS"), "{}", e.message);
    for ssl in [SslMode::Allow, SslMode::Prefer, SslMode::Require] {
        success(probe(with(&c, |t| t.tls.mode = ssl)).await);
    }

    // Plain only: prefer is refused over TLS, then retries in plain text (libpq's fallback).
    pg.set_hba("hostnossl all app 127.0.0.1/32 scram-sha-256")
        .await
        .unwrap();
    for ssl in [SslMode::Prefer, SslMode::Allow, SslMode::Disable] {
        success(probe(with(&c, |t| t.tls.mode = ssl)).await);
    }
    failure(
        probe(with(&c, |t| t.tls.mode = SslMode::Require)).await,
        ErrorKind::HbaRejected,
    );
}

#[tokio::test]
async fn a_smart_shutdown_is_shutting_down_not_starting_up() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default()).await;
    let held = pg.connect("app", PW_APP, "postgres").await.unwrap();
    pg.begin_smart_shutdown().await.unwrap();
    let e = failure(
        probe(pg.candidate("app", PW_APP, "postgres")).await,
        ErrorKind::ShuttingDown,
    );
    assert_eq!(e.sqlstate.as_deref(), Some("57P03"));
    drop(held);
}

/// Trust and weak methods are opt-in: a real server with `trust`, `password` or `md5` lines is
/// refused under the default policy, and let in once `allow_auth` says so.
#[tokio::test]
async fn weak_methods_of_a_real_server_are_refused_until_allowed() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default()).await;
    pg.set_password_encrypted("app", PW_APP, "md5")
        .await
        .unwrap();
    let c = with(&pg.candidate("app", PW_APP, "postgres"), |t| {
        t.tls.mode = SslMode::Disable
    });
    for (method, allow) in [
        ("trust", AuthMethod::None),
        ("password", AuthMethod::Password),
        ("md5", AuthMethod::Md5),
    ] {
        pg.set_hba(&format!("host all app 127.0.0.1/32 {method}"))
            .await
            .unwrap();
        let e = failure(probe(c.clone()).await, ErrorKind::AuthMethodRefused);
        assert!(
            e.message.contains(allow.as_str()),
            "{method}: {}",
            e.message
        );
        assert!(e.message.contains("allow_auth"), "{}", e.message);
        let widened = with(&c, |t| t.auth.allowed.push(allow));
        success(probe(widened.clone()).await);
        // Allowed, the method still checks the password (trust excepted: it checks nothing).
        if method != "trust" {
            let wrong = Candidate {
                password: Password::new(PW_NEW),
                ..widened
            };
            failure(probe(wrong).await, ErrorKind::AuthFailed);
        }
    }
}

/// A listener that asks for a cleartext password, an MD5 hash, or SCRAM without channel binding
/// when `channel_binding=require`, gets nothing derived from the password: the probe refuses
/// before answering.
#[tokio::test]
async fn an_impostor_asking_for_weak_authentication_gets_nothing() {
    for (ask, channel_binding) in [
        (Ask::Cleartext, ChannelBinding::Prefer),
        (Ask::Md5, ChannelBinding::Prefer),
        (Ask::Scram, ChannelBinding::Require),
        (Ask::Cleartext, ChannelBinding::Require),
    ] {
        let impostor = Impostor::start(ask.clone()).await.unwrap();
        let c = with(&impostor.candidate("app", PW_APP), |t| {
            t.auth.channel_binding = channel_binding;
            if channel_binding == ChannelBinding::Require {
                // Even a policy that allows everything yields to channel_binding=require.
                t.auth.allowed = AuthMethod::ALL.to_vec();
            }
        });
        let e = failure(probe(c).await, ErrorKind::AuthMethodRefused);
        let session = impostor.next_session().await.unwrap();
        assert!(
            session.startup.contains(&("user".into(), "app".into())),
            "{session:?}"
        );
        // Nothing at all follows the request: no password message, no SASL response.
        assert!(
            session.after_ask.is_empty(),
            "{ask:?}: the client answered: {:?}",
            String::from_utf8_lossy(&session.after_ask)
        );
        assert_no_password(&String::from_utf8_lossy(&session.after_ask));
        if channel_binding == ChannelBinding::Require {
            assert!(
                e.message.contains("channel_binding=require"),
                "{}",
                e.message
            );
        } else {
            assert!(e.message.contains("scram-sha-256"), "{}", e.message);
        }
    }
}

#[tokio::test]
async fn random_bytes_on_the_port_are_a_protocol_error() {
    for (garbage, ssl) in [
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
            SslMode::Prefer,
        ),
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
            SslMode::Disable,
        ),
        (vec![0xff; 64], SslMode::Disable),
        (b"R\xff\xff\xff\xff".to_vec(), SslMode::Disable),
    ] {
        let impostor = Impostor::start(Ask::Garbage(garbage)).await.unwrap();
        let c = with(&impostor.candidate("app", PW_APP), |t| t.tls.mode = ssl);
        failure(probe(c).await, ErrorKind::Protocol);
    }
}

/// The salt of `login`'s SCRAM verifier on `pg`.
async fn salt_of(pg: &Server, login: &str) -> String {
    let row = pg
        .query_one(&format!(
            "SELECT rolpassword FROM pg_authid WHERE rolname = '{login}'"
        ))
        .await
        .unwrap();
    let verifier: String = row.get(0);
    // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
    verifier
        .split('$')
        .nth(1)
        .and_then(|s| s.split(':').nth(1))
        .expect("a SCRAM verifier")
        .to_owned()
}

/// What PostgreSQL itself says about a login: tokio-postgres, which derives every key afresh.
async fn postgres_says(pg: &Server, password: &str) -> Option<String> {
    match pg.connect("app", password, "postgres").await {
        Ok(_) => None,
        Err(rotascope::lab::LabError::Sql { code, .. }) => code,
        Err(e) => panic!("{e}"),
    }
}

/// Issue 13: the memo can never turn a wrong password into a success. Every ALTER ROLE brings a
/// new salt (back to an old password included), which misses the memo; each outcome is what
/// PostgreSQL says.
#[tokio::test]
async fn remembered_scram_keys_follow_real_password_changes() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default()).await;
    // Passwords no other test uses: equal passwords share one memo in the process, and tests
    // run in parallel.
    pg.set_password("app", MEMO_OLD).await.unwrap();
    let old = Password::new(MEMO_OLD);
    let new = Password::new(MEMO_NEW);
    let c_old = pg.candidate("app", MEMO_OLD, "postgres");
    let c_new = pg.candidate("app", MEMO_NEW, "postgres");
    let outcome = |o: ProbeOutcome| o.err().and_then(|f| f.error.sqlstate);

    let salt1 = salt_of(&pg, "app").await;
    assert_eq!(outcome(probe(c_old.clone()).await), None);
    assert_eq!(old.salted_keys(), 1, "first login derives");
    assert_eq!(outcome(probe(c_old.clone()).await), None);
    assert_eq!(old.salted_keys(), 1, "the second reuses");

    pg.set_password("app", MEMO_NEW).await.unwrap();
    let salt2 = salt_of(&pg, "app").await;
    assert_ne!(salt1, salt2);
    for (c, pw) in [(&c_old, MEMO_OLD), (&c_new, MEMO_NEW)] {
        assert_eq!(
            outcome(probe(c.clone()).await),
            postgres_says(&pg, pw).await
        );
    }
    assert_eq!(
        outcome(probe(c_old.clone()).await).as_deref(),
        Some("28P01")
    );
    assert_eq!(new.salted_keys(), 1);

    pg.set_password("app", MEMO_OLD).await.unwrap();
    let salt3 = salt_of(&pg, "app").await;
    assert!(salt3 != salt1 && salt3 != salt2);
    for (c, pw) in [(&c_old, MEMO_OLD), (&c_new, MEMO_NEW)] {
        assert_eq!(
            outcome(probe(c.clone()).await),
            postgres_says(&pg, pw).await
        );
    }
    assert_eq!(outcome(probe(c_old.clone()).await), None);
    assert_eq!(
        outcome(probe(c_new.clone()).await).as_deref(),
        Some("28P01")
    );
    assert_eq!(
        old.salted_keys(),
        3,
        "one key per salt it met: derived afresh each time"
    );
    assert_eq!(new.salted_keys(), 2);
}

/// SCRAM-SHA-256-PLUS against a real TLS server: with `channel_binding=require` the probe logs in
/// (so the server offered `-PLUS` and checked our `tls-server-end-point` binding of its own
/// certificate), a wrong password is still refused by the server, and without TLS the probe
/// refuses before sending anything.
#[tokio::test]
async fn channel_binding_require_logs_in_with_scram_plus_over_real_tls() {
    let lab = Lab::new().unwrap();
    let pg = started(&lab, ServerOptions::default().tls(true)).await;
    let ca = lab.ca_cert_file().unwrap();
    let bound = with(&pg.candidate("app", PW_APP, "postgres"), |t| {
        t.auth.channel_binding = ChannelBinding::Require;
    });
    for (mode, root) in [
        (SslMode::Require, None),
        (SslMode::Prefer, None),
        (SslMode::VerifyFull, Some(ca.clone())),
    ] {
        let c = with(&bound, |t| {
            t.tls.mode = mode;
            t.tls.root_cert = root;
        });
        success(probe(c).await);
    }
    let wrong = Candidate {
        password: Password::new(PW_NEW),
        ..with(&bound, |t| t.tls.mode = SslMode::Require)
    };
    let e = failure(probe(wrong).await, ErrorKind::AuthFailed);
    assert_eq!(e.sqlstate.as_deref(), Some("28P01"));
    let plain = with(&bound, |t| t.tls.mode = SslMode::Disable);
    let e = failure(probe(plain).await, ErrorKind::AuthMethodRefused);
    assert!(e.message.contains("needs TLS"), "{}", e.message);
}

/// A standby with `hot_standby = off` answers every login with 57P03: PostgreSQL 15 says "the
/// database system is not accepting connections" (detail: "Hot standby mode is disabled."). It
/// is `starting_up` (the server is up, not shutting down, and will not let anyone in), node-level.
#[tokio::test]
async fn a_standby_without_hot_standby_is_starting_up() {
    let lab = Lab::new().unwrap();
    let primary = started(&lab, ServerOptions::default()).await;
    // pg_basebackup copies postgresql.auto.conf: the replica starts with hot_standby off (the
    // primary ignores it, it is not in recovery).
    primary
        .execute("ALTER SYSTEM SET hot_standby = off")
        .await
        .unwrap();
    let standby = primary.start_replica().await.unwrap();
    let e = failure(
        probe(standby.candidate("app", PW_APP, "postgres")).await,
        ErrorKind::StartingUp,
    );
    assert_eq!(e.sqlstate.as_deref(), Some("57P03"));
    assert!(
        e.message.contains("not accepting connections"),
        "{}",
        e.message
    );
    assert!(!ErrorKind::StartingUp.is_candidate_level());
    success(probe(primary.candidate("app", PW_APP, "postgres")).await);
}
