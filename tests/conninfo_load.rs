//! Connection strings through the whole config loader: multi-host strings become nodes, the
//! password file and the service file are secret and setting sources (read, watched, digested),
//! certificates are loaded into the targets, `allow_auth` meets `require_auth`, and `config check`
//! says where everything came from — never showing a password.
//!
//! The environment is passed explicitly (`LoadOptions::with_env`): `HOME`, `PGPASSFILE`,
//! `PGSERVICEFILE` and `PGSYSCONFDIR` point into each test's own directory.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use rotascope::config::describe::{describe, describe_json};
use rotascope::config::load::{load_with, LoadOptions};
use rotascope::config::{Config, ConfigError};
use rotascope::conninfo::session::{self, Check, HostState};
use rotascope::topology::{
    AuthMethod, ChannelBinding, ConnTarget, Endpoint, SessionAttrs, Source, SslMode,
};

/// A temp dir with a config file in it, and an environment pointing into it.
struct Case {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Case {
    fn new(config: &str) -> Case {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rotascope.toml"), config).expect("write config");
        Case {
            dir,
            env: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file (mode `mode`), creating directories.
    fn file(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, content).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    fn env(mut self, var: &str, value: &str) -> Case {
        self.env.push((var.to_owned(), value.to_owned()));
        self
    }

    /// `HOME` is the test's directory.
    fn home(self) -> Case {
        let home = self.dir.path().display().to_string();
        self.env("HOME", &home)
    }

    async fn load(&self) -> Result<Config, ConfigError> {
        load_with(
            &self.path("rotascope.toml"),
            &LoadOptions::with_env(self.env.clone()),
        )
        .await
    }

    async fn ok(&self) -> Config {
        self.load()
            .await
            .unwrap_or_else(|e| panic!("config should load: {e}"))
    }

    async fn err(&self) -> String {
        match self.load().await {
            Ok(_) => panic!("config should fail"),
            Err(e) => e.to_string(),
        }
    }
}

fn names(c: &Config) -> Vec<String> {
    c.topology.nodes().map(|n| n.key.name.to_string()).collect()
}

fn target<'a>(c: &'a Config, node: &str) -> &'a Arc<ConnTarget> {
    &c.topology
        .nodes()
        .find(|n| &*n.key.name == node)
        .unwrap_or_else(|| panic!("no node {node} in {:?}", names(c)))
        .candidates[0]
        .target
}

fn assert_clean(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "leaks {s:?}: {text}");
    }
}

const SECRET: &str = "[[secrets]]\nlogin = \"app\"\npassword = \"load-secret-1\"\n";

#[tokio::test]
async fn the_last_keyword_and_the_query_parameter_win() {
    let c = Case::new(&format!(
        "islands = [[\"host=h port=6001 dbname=app host=h port=6002\", \
         \"postgres://u@h2:6001/app?host=h2&port=6003\", \"postgresql://h3/db?user=u&port=12345\"]]\n{SECRET}"
    ))
    .ok()
    .await;
    let ports: Vec<u16> = c
        .topology
        .nodes()
        .map(|n| n.candidates[0].target.endpoint.port())
        .collect();
    assert_eq!(ports, [6002, 6003, 12345]);
}

#[tokio::test]
async fn a_multi_host_string_is_one_node_per_host() {
    let s = "host=db1,db2,/run/pg port=5433,5434,5435 dbname=app user=u password=multi-pw-1 target_session_attrs=primary";
    let c = Case::new(&format!("islands = [[\"{s}\"]]\n")).ok().await;
    assert_eq!(names(&c), ["db1:5433", "db2:5434", "/run/pg/.s.PGSQL.5435"]);
    let t = target(&c, "db2:5434");
    assert_eq!(
        t.display,
        "host=db2 port=5434 dbname=app user=u target_session_attrs=primary"
    );
    assert_eq!(
        t.from_string.as_deref(),
        Some("host=db1,db2,/run/pg port=5433,5434,5435 dbname=app user=u target_session_attrs=primary")
    );
    assert_eq!(t.session_attrs, SessionAttrs::Primary);
    let node = c.topology.nodes().next().unwrap();
    assert_eq!(node.candidates[0].login, "u");
    assert_eq!(node.candidates[0].password.expose(), "multi-pw-1");
    let sock = target(&c, "/run/pg/.s.PGSQL.5435");
    assert!(matches!(sock.endpoint, Endpoint::Unix { .. }));
    assert_eq!(sock.tls.mode, SslMode::Disable);

    // The engine's check over these nodes: db1 a replica, db2 down, the socket a primary.
    let groups = session::groups(&c.topology.islands[0]);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].nodes.len(), 3);
    let states = [HostState::Standby, HostState::Down, HostState::Primary];
    assert_eq!(session::check(groups[0].attrs, &states), Check::Met);
    assert_eq!(session::check(groups[0].attrs, &states[..2]), Check::Unmet);

    // URLs too; each host keeps the URL's credentials.
    let c = Case::new("islands = [[\"postgres://u:url-pw-2@a:1,[::1]:2/db\"]]\n")
        .ok()
        .await;
    assert_eq!(names(&c), ["a:1", "[::1]:2"]);
    assert_eq!(
        target(&c, "[::1]:2").display,
        "user=u host=::1 port=2 dbname=db"
    );
    assert_clean(&describe(&c), &["url-pw-2"]);
    assert_clean(&format!("{c:?}"), &["url-pw-2"]);

    // An explicit entry with a multi-host url takes no name.
    let e = Case::new(
        "[[island]]\nno = 0\n[[island.node]]\nname = \"n\"\nurl = \"host=a,b\"\nlogin = \"u\"\npassword = \"x-pw-123\"\n",
    )
    .err()
    .await;
    assert!(
        e.contains("`island[0].node[0].name`") && e.contains("multi-host"),
        "{e}"
    );
}

#[tokio::test]
async fn issue_14_a_query_password_is_a_query_parameter() {
    let c = Case::new(
        "islands = [[\"postgres://127.0.0.1:36867/db?user=app_a&password=Tr0ub4dor@horse-battery\"]]\n",
    )
    .ok()
    .await;
    assert_eq!(names(&c), ["postgres://127.0.0.1:36867/db?user=app_a"]);
    let n = c.topology.nodes().next().unwrap();
    assert_eq!(n.candidates[0].login, "app_a");
    assert_eq!(n.candidates[0].password.expose(), "Tr0ub4dor@horse-battery");
    assert_eq!(
        n.candidates[0].target.endpoint.to_string(),
        "127.0.0.1:36867"
    );
    assert_clean(&describe(&c), &["Tr0ub4dor", "horse-battery"]);
}

#[tokio::test]
async fn the_password_file_is_a_secret_source() {
    let c = Case::new(
        "islands = [[\"host=db1 port=5433 dbname=app user=app\", \"host=db2 user=app\"]]\n",
    )
    .home();
    let pgpass = c.file(
        ".pgpass",
        "# comment\ndb1:5433:app:app:from-pgpass-1\n*:*:*:app:fallback-pw-2\n",
        0o600,
    );
    let cfg = c.ok().await;
    let n: Vec<(&str, &str)> = cfg
        .topology
        .nodes()
        .map(|n| {
            (
                n.candidates[0].login.as_str(),
                n.candidates[0].password.expose(),
            )
        })
        .collect();
    assert_eq!(n, [("app", "from-pgpass-1"), ("app", "fallback-pw-2")]);
    assert!(
        cfg.watched_files.contains(&pgpass),
        "{:?}",
        cfg.watched_files
    );
    let t = target(&cfg, "host=db1 port=5433 dbname=app user=app");
    assert_eq!(t.provenance.passfile.as_ref(), Some(&pgpass));
    let text = describe(&cfg);
    assert!(
        text.contains(&format!("password from {}", pgpass.display())),
        "{text}"
    );
    assert_clean(&text, &["from-pgpass-1", "fallback-pw-2"]);
    let json = describe_json(&cfg).to_string();
    assert!(json.contains("\"password_from\":\"passfile:"), "{json}");
    assert_clean(&json, &["from-pgpass-1", "fallback-pw-2"]);

    // A changed password file is a changed config (hot reload compares digests).
    let before = cfg.source_digest;
    c.file(".pgpass", "*:*:*:app:rotated-pw-3\n", 0o600);
    let after = c.ok().await;
    assert_ne!(before, after.source_digest);
    assert_eq!(
        after.topology.nodes().next().unwrap().candidates[0]
            .password
            .expose(),
        "rotated-pw-3"
    );

    // libpq ignores a password file others can read; rotascope says so.
    c.file(".pgpass", "*:*:*:app:open-pw-4\n", 0o644);
    let e = c.err().await;
    assert!(
        e.contains("group or world access") && e.contains(".pgpass"),
        "{e}"
    );
    assert_clean(&e, &["open-pw-4"]);
}

#[tokio::test]
async fn passfile_keyword_and_pgpassfile_and_explicit_entries() {
    // PGPASSFILE, and an explicit entry whose password comes from it.
    let c = Case::new(
        "[[island]]\nno = 0\n[[island.node]]\nurl = \"postgres://db/app\"\nlogin = \"alice\"\n\
         [[island.node]]\nurl = \"host=db dbname=app passfile=pw/own\"\nlogin = \"bob\"\n",
    );
    let envfile = c.file("env.pgpass", "db:5432:app:alice:env-pw-5\n", 0o600);
    c.file("pw/own", "db:5432:app:bob:own-pw-6\n", 0o600);
    let c = c.env("PGPASSFILE", &envfile.display().to_string());
    let cfg = c.ok().await;
    let got: Vec<&str> = cfg
        .topology
        .nodes()
        .map(|n| n.candidates[0].password.expose())
        .collect();
    assert_eq!(got, ["env-pw-5", "own-pw-6"]);
    let t = target(&cfg, "postgres://db/app");
    assert_eq!(
        t.provenance.of("password"),
        Some(&Source::Env("PGPASSFILE".into()))
    );

    // No matching line: the usual "no password" error.
    let c = Case::new("islands = [[\"host=db user=carol\"]]\n").home();
    c.file(".pgpass", "db:5432:postgres:alice:x\n", 0o600);
    let e = c.err().await;
    assert!(e.contains("no password") && e.contains("carol"), "{e}");
}

#[tokio::test]
async fn the_service_file_fills_in_what_the_string_leaves_unset() {
    let c = Case::new(
        "islands = [[\"service=prod port=7000\", \"service=standby\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"svc-secret-1\"\n",
    );
    let user_file = c.file(
        "svc/user.conf",
        "[prod]\nhost=db-prod\nport=5433\ndbname=app\nsslmode=disable\npassword=svc-file-pw-2\n",
        0o600,
    );
    c.file(
        "sys/pg_service.conf",
        "[standby]\nhost=db-a,db-b\ntarget_session_attrs=standby\n",
        0o644,
    );
    let sys = c.path("sys").display().to_string();
    let c = c
        .env("PGSERVICEFILE", &user_file.display().to_string())
        .env("PGSYSCONFDIR", &sys);
    let cfg = c.ok().await;
    assert_eq!(
        names(&cfg),
        ["service=prod port=7000", "db-a:5432", "db-b:5432"]
    );
    let t = target(&cfg, "service=prod port=7000");
    assert_eq!(t.endpoint.to_string(), "db-prod:7000");
    assert_eq!(t.dbname, "app");
    assert_eq!(t.tls.mode, SslMode::Disable);
    assert_eq!(t.provenance.of("port"), Some(&Source::String));
    assert_eq!(t.provenance.of("dbname"), Some(&Source::ServiceFile));
    assert_eq!(t.provenance.service_file.as_ref(), Some(&user_file));
    let standby = target(&cfg, "db-b:5432");
    assert_eq!(standby.session_attrs, SessionAttrs::Standby);
    assert_eq!(standby.from_string.as_deref(), Some("service=standby"));
    assert!(cfg.watched_files.contains(&user_file));
    let text = describe(&cfg);
    assert!(text.contains(" app (service file)"), "{text}");
    assert_clean(&text, &["svc-file-pw-2", "svc-secret-1"]);

    let c = Case::new(&format!("islands = [[\"service=nope\"]]\n{SECRET}"))
        .env("PGSERVICEFILE", &user_file.display().to_string())
        .env("PGSYSCONFDIR", &sys);
    let e = c.err().await;
    assert!(
        e.contains("definition of service \"nope\" not found"),
        "{e}"
    );
    let c = Case::new(&format!("islands = [[\"service=prod\"]]\n{SECRET}"))
        .env("PGSERVICEFILE", "/nonexistent/pg_service.conf");
    let e = c.err().await;
    assert!(
        e.contains("service file /nonexistent/pg_service.conf not found"),
        "{e}"
    );
}

#[tokio::test]
async fn allow_auth_meets_require_auth() {
    let base = "islands = [[\"host=h require_auth=!md5 channel_binding=require\"]]\n";
    let cfg = Case::new(&format!(
        "{base}[probe]\nallow_auth = [\"md5\", \"scram-sha-256\"]\n{SECRET}"
    ))
    .ok()
    .await;
    let t = target(&cfg, "host=h require_auth=!md5 channel_binding=require");
    assert_eq!(t.auth.allowed, [AuthMethod::ScramSha256]);
    assert_eq!(t.auth.channel_binding, ChannelBinding::Require);
    assert_eq!(
        t.provenance.of("allow_auth"),
        Some(&Source::Config("probe.allow_auth".into()))
    );

    // Default: SCRAM only.
    let cfg = Case::new(&format!("islands = [[\"host=h\"]]\n{SECRET}"))
        .ok()
        .await;
    assert_eq!(
        target(&cfg, "host=h").auth.allowed,
        [AuthMethod::ScramSha256]
    );

    // Nothing left: an error naming both keys.
    let e = Case::new(&format!(
        "islands = [[\"host=h require_auth=md5\"]]\n{SECRET}"
    ))
    .err()
    .await;
    assert!(
        e.contains("`islands[0][0]`")
            && e.contains("probe.allow_auth")
            && e.contains("require_auth=\"md5\""),
        "{e}"
    );
    // A node's own allow_auth wins over [probe].
    let cfg = Case::new(
        "[probe]\nallow_auth = [\"scram-sha-256\"]\n[[island]]\nno = 0\n[[island.node]]\nurl = \"host=h require_auth=md5\"\n\
         login = \"a\"\npassword = \"aa-pw-1\"\nallow_auth = [\"md5\"]\n",
    )
    .ok()
    .await;
    let t = target(&cfg, "host=h require_auth=md5");
    assert_eq!(t.auth.allowed, [AuthMethod::Md5]);
    assert_eq!(
        t.provenance.of("allow_auth"),
        Some(&Source::Config("island[0].node[0].allow_auth".into()))
    );
    // Bad values name the key.
    for (bad, says) in [
        ("[\"kerberos\"]", "`probe.allow_auth[0]`"),
        ("[]", "an empty list"),
    ] {
        let e = Case::new(&format!(
            "islands = [[\"host=h\"]]\n[probe]\nallow_auth = {bad}\n{SECRET}"
        ))
        .err()
        .await;
        assert!(e.contains(says), "{e}");
    }
}

/// A self-signed certificate and its key (PEM).
fn cert_and_key() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["client".to_owned()]).expect("params");
    let cert = params.self_signed(&key).expect("cert");
    (cert.pem(), key.serialize_pem())
}

const TEST_CA: &str = include_str!("data/test-ca.pem");

#[tokio::test]
async fn certificates_are_loaded_into_the_targets() {
    let (cert, key) = cert_and_key();
    let c = Case::new(&format!(
        "islands = [[\"host=h sslmode=verify-full sslrootcert=ca.pem sslcert=c.crt sslkey=c.key\", \
         \"host=h2 sslmode=require\", \"host=h3 sslmode=verify-ca\"]]\n{SECRET}"
    ))
    .home();
    let ca = c.file("ca.pem", TEST_CA, 0o644);
    let crt = c.file("c.crt", &cert, 0o644);
    let keyfile = c.file("c.key", &key, 0o600);
    // libpq's defaults in ~/.postgresql: root.crt makes `require` check the chain.
    c.file(".postgresql/root.crt", TEST_CA, 0o644);
    let cfg = c.ok().await;
    let t = target(
        &cfg,
        "host=h sslmode=verify-full sslrootcert=ca.pem sslcert=c.crt sslkey=c.key",
    );
    assert_eq!(t.tls.mode, SslMode::VerifyFull);
    assert_eq!(
        t.tls.root_cert.as_ref().map(|f| f.path.clone()),
        Some(ca.clone())
    );
    let client = t
        .tls
        .client_cert
        .as_ref()
        .expect("client certificate loaded");
    assert_eq!((&client.cert_path, &client.key_path), (&crt, &keyfile));
    assert_eq!(client.chain.len(), 1);
    assert!(cfg.watched_files.contains(&keyfile));
    let t2 = target(&cfg, "host=h2 sslmode=require");
    assert_eq!(t2.tls.mode, SslMode::VerifyCa);
    assert!(t2
        .provenance
        .notes
        .iter()
        .any(|n| n.contains("checks the certificate chain")));
    let t3 = target(&cfg, "host=h3 sslmode=verify-ca");
    assert_eq!(
        t3.tls.root_cert.as_ref().map(|f| f.path.clone()),
        Some(c.path(".postgresql/root.crt"))
    );
    assert_eq!(t3.provenance.of("sslrootcert"), Some(&Source::Default));
    let text = describe(&cfg);
    assert!(
        text.contains(&format!("sslkey      {} (string)", keyfile.display())),
        "{text}"
    );
    assert_clean(&text, &["PRIVATE KEY"]);
    assert_clean(&format!("{cfg:?}"), &["PRIVATE KEY"]);

    // A key others may read is refused, as libpq refuses it.
    c.file("c.key", &key, 0o644);
    let e = c.err().await;
    assert!(
        e.contains("group or world access") && e.contains("c.key"),
        "{e}"
    );
    assert_clean(&e, &["PRIVATE KEY"]);
}

#[tokio::test]
async fn certificate_errors_name_the_file() {
    let cases = [
        (
            "host=h sslrootcert=missing.pem",
            "sslrootcert file",
            "missing.pem",
        ),
        ("host=h sslmode=verify-full", "sslrootcert=system", ""),
        ("host=h sslcert=nope.crt", "sslcert file", "nope.crt"),
        (
            "host=h sslcert=c.crt",
            "present, but no private key",
            "c.crt",
        ),
        (
            "host=h sslcert=c.crt sslkey=nokey.key",
            "certificate present, but not private key file",
            "nokey.key",
        ),
        (
            "host=h sslrootcert=bad.pem sslmode=verify-ca",
            "bad certificate file",
            "bad.pem",
        ),
        (
            "host=h sslrootcert=ca.pem sslcrl=nocrl.pem",
            "sslcrl file",
            "nocrl.pem",
        ),
    ];
    for (s, says, file) in cases {
        let c = Case::new(&format!("islands = [[\"{s}\"]]\n{SECRET}"));
        c.file("c.crt", &cert_and_key().0, 0o644);
        c.file(
            "bad.pem",
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
            0o644,
        );
        c.file("ca.pem", TEST_CA, 0o644);
        let Err(e) = c.load().await.map_err(|e| e.to_string()) else {
            panic!("{s} should fail");
        };
        assert!(
            e.contains(says) && e.contains(file) && e.contains("`islands[0][0]`"),
            "{s}: {e}"
        );
    }
    // A root certificate that is a FIFO is refused at once, never waited on.
    let c = Case::new(&format!(
        "islands = [[\"host=h sslrootcert=fifo.pem\"]]\n{SECRET}"
    ));
    let fifo = c.path("fifo.pem");
    let cpath = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
    let e = c.err().await;
    assert!(e.contains("FIFO"), "{e}");
    // A Unix socket never uses TLS, so no certificate is needed for one.
    let cfg = Case::new(&format!(
        "islands = [[\"host=/run/pg sslmode=verify-full\"]]\n{SECRET}"
    ))
    .ok()
    .await;
    let t = target(&cfg, "host=/run/pg sslmode=verify-full");
    assert_eq!(t.tls.mode, SslMode::Disable);
    assert!(describe(&cfg).contains("libpq never uses TLS on a Unix socket"));
}

#[tokio::test]
async fn refused_and_unknown_keywords_are_config_errors_naming_them() {
    for (s, says) in [
        (
            "host=h frobnicate=1 password=kw-secret-1",
            "invalid connection option `frobnicate`",
        ),
        (
            "host=h sslcrldir=/etc/crl password=kw-secret-1",
            "`sslcrldir` is not supported",
        ),
        (
            "host=h gssencmode=require password=kw-secret-1",
            "`gssencmode` is not supported",
        ),
        (
            "postgres://u:kw-secret-1@h/db?bogus=1",
            "invalid URL query parameter `bogus`",
        ),
        (
            "postgres://u:kw-secret-1@h/%XXfoo",
            "invalid percent-encoded token",
        ),
        ("postgres://u:kw-secret-1@[]/db", "may not be empty"),
        (
            "host=a port=1,2 password=kw-secret-1",
            "could not match 2 port numbers to 1 hosts",
        ),
    ] {
        let e = Case::new(&format!("islands = [[\"{s}\"]]\n")).err().await;
        assert!(
            e.contains("`islands[0][0]`")
                && e.contains("bad connection string")
                && e.contains(says),
            "{s}: {e}"
        );
        assert_clean(&e, &["kw-secret-1"]);
    }
    let e = Case::new("islands = [[\"host=h sslmode=sometimes password=kw-secret-1\"]]\n")
        .err()
        .await;
    assert!(e.contains("bad sslmode \"sometimes\""), "{e}");
}

#[tokio::test]
async fn config_check_json_is_the_documented_contract() {
    let cfg = Case::new(&format!(
        "islands = [[\"host=db1,/run/pg port=5433 dbname=app connect_timeout=2 target_session_attrs=read-write\"]]\n{SECRET}"
    ))
    .ok()
    .await;
    let doc = describe_json(&cfg);
    let node = &doc["islands"][0]["nodes"][0];
    assert_eq!(node["name"], "db1:5433");
    let t = &node["candidates"][0]["target"];
    let expect = [
        ("transport", "\"tcp\""),
        ("host", "\"db1\""),
        ("hostaddr", "null"),
        ("socket", "null"),
        ("port", "5433"),
        ("database", "\"app\""),
        ("sslmode", "\"prefer\""),
        ("sslrootcert", "null"),
        ("connect_timeout", "\"2s\""),
        ("allow_auth", "[\"scram-sha-256\"]"),
        ("channel_binding", "\"prefer\""),
        ("target_session_attrs", "\"read-write\""),
        ("display", "\"host=db1 port=5433 dbname=app connect_timeout=2 target_session_attrs=read-write\""),
        ("from_string", "\"host=db1,/run/pg port=5433 dbname=app connect_timeout=2 target_session_attrs=read-write\""),
    ];
    for (field, value) in expect {
        assert_eq!(t[field].to_string(), value, "{field}");
    }
    assert_eq!(t["deadlines"]["connect"], "2s");
    assert_eq!(t["deadlines"]["probe"], "2s");
    assert_eq!(t["deadlines"]["probe_from"], "connect_timeout");
    assert_eq!(t["sources"]["host"], "string");
    assert_eq!(t["sources"]["dbname"], "string");
    assert_eq!(t["sources"]["sslmode"], "default");
    let sock = &doc["islands"][0]["nodes"][1]["candidates"][0]["target"];
    assert_eq!(sock["transport"], "unix");
    assert_eq!(sock["socket"], "/run/pg/.s.PGSQL.5433");
    assert_eq!(sock["sslmode"], "disable");
    assert_eq!(doc["settings"]["probe"]["timeout"], "5s");
    assert_clean(&doc.to_string(), &["load-secret-1"]);
}

/// The binary: `config check --format json` prints the contract on stdout (exit 0); a refused
/// string is exit 3 with the reason on stderr. Neither shows the password.
#[tokio::test]
async fn config_check_format_json_from_the_command_line() {
    let c = Case::new(
        "islands = [[\"host=db1,db2 port=5433 dbname=app user=app password=cli-pw-77\"]]\n",
    );
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rotascope"))
            .args(args)
            .arg("--config")
            .arg(c.path("rotascope.toml"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", c.dir.path())
            .output()
            .expect("run rotascope")
    };
    let out = run(&["config", "check", "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let nodes = &doc["islands"][0]["nodes"];
    assert_eq!(nodes[0]["name"], "db1:5433");
    assert_eq!(nodes[1]["name"], "db2:5433");
    assert_eq!(nodes[1]["candidates"][0]["login"], "app");
    assert_clean(&stdout, &["cli-pw-77"]);
    let text = run(&["config", "check"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("node db2:5433") && text.contains("(one node per host)"),
        "{text}"
    );
    assert_clean(&text, &["cli-pw-77"]);

    std::fs::write(
        c.path("rotascope.toml"),
        "islands = [[\"host=db1 user=app password=cli-pw-77 sslcrldir=/etc/crl\"]]\n",
    )
    .expect("write");
    let out = run(&["config", "check", "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("`sslcrldir` is not supported"), "{stderr}");
    assert_clean(&stderr, &["cli-pw-77"]);
}
