//! The oracle: for each connection string, where `psql "$STRING"` lands in a real lab must be
//! where rotascope's parse and probe land.
//!
//! The lab: a primary and its streaming replica (databases `alpha`, `beta`, `my db`; logins
//! `app_a`, `app_b`, `app_q` with a password full of quotes and backslashes), a TLS server with the
//! lab CA, each with its own Unix-socket directory. For every string, psql (PostgreSQL's own
//! libpq, clean environment) runs
//! `select inet_server_port(), current_setting('port'), current_database(), current_user,
//! pg_is_in_recovery()`; rotascope loads a config holding the same string, probes every node it
//! made with the current `PgProber`, and picks the host libpq would have picked (the first one
//! reached that satisfies `target_session_attrs`). Both must agree on the port, socket or TCP,
//! database, user and role — or both fail. Strings libpq refuses must be config errors.
//!
//! Strings without `dbname` are left out: connecting to `postgres` rather than to a database named
//! like the login is a documented deviation.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rotascope::config::load::{load_with, LoadOptions};
use rotascope::conninfo::session::{accepts, HostState};
use rotascope::engine::pg::PgProber;
use rotascope::engine::probe::{ProbeRequest, Prober, Role};
use rotascope::lab::{Lab, Server, ServerOptions};
use rotascope::topology::{Endpoint, SessionAttrs};

const PW_A: &str = "oracle-A-pw-1";
const PW_B: &str = "oracle-B-pw-2";
/// Quotes, a backslash, blanks and URL specials: every escape of both syntaxes at once.
const PW_Q: &str = "it's a \\ test @/?:&=";
const PW_T: &str = "oracle-T-pw-3";

/// Where a client landed: `(port, over a socket, database, user, in recovery)`.
type Landing = (u16, bool, String, String, bool);

/// Percent-encodes all but RFC 3986 unreserved characters.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

struct Oracle {
    psql: PathBuf,
    dir: tempfile::TempDir,
    /// The environment both psql and the loader see (file locations only).
    env: Vec<(String, String)>,
}

impl Oracle {
    /// Where psql lands with `conn`, or its error.
    async fn psql(&self, conn: &str) -> Result<Landing, String> {
        let mut cmd = tokio::process::Command::new(&self.psql);
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(["-X", "-w", "-A", "-t", "-q", "-c"])
            .arg(
                "select coalesce(inet_server_port()::text, ''), current_setting('port'), \
                 current_database(), current_user, pg_is_in_recovery()",
            )
            .arg(conn)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
            .await
            .map_err(|_| "psql timed out".to_owned())?
            .map_err(|e| format!("psql: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.trim().split('|').collect();
        assert_eq!(f.len(), 5, "psql printed {text:?}");
        Ok((
            f[1].parse().expect("port"),
            f[0].is_empty(),
            f[2].to_owned(),
            f[3].to_owned(),
            f[4] == "t",
        ))
    }

    /// Where rotascope lands with `conn`: the config error, or the host libpq would pick among
    /// the nodes the string made (`Err` when none is reached).
    async fn rotascope(&self, conn: &str) -> Result<Result<Landing, String>, String> {
        let path = self.dir.path().join("rotascope.toml");
        let quoted = toml::Value::String(conn.to_owned()).to_string();
        std::fs::write(&path, format!("islands = [[{quoted}]]\n")).expect("write config");
        let config = load_with(&path, &LoadOptions::with_env(self.env.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let prober = PgProber::new();
        let mut reached: Vec<(Landing, HostState)> = Vec::new();
        let mut attrs = SessionAttrs::Any;
        for node in config.topology.nodes() {
            let c = node.candidates[0].clone();
            attrs = c.target.session_attrs;
            let socket = matches!(c.target.endpoint, Endpoint::Unix { .. });
            let landing = |standby| {
                (
                    c.target.endpoint.port(),
                    socket,
                    c.target.dbname.clone(),
                    c.login.clone(),
                    standby,
                )
            };
            let request = ProbeRequest::new(
                c.clone(),
                Duration::from_secs(5),
                Duration::from_secs(10),
                None,
            );
            match prober.probe(request).await {
                Ok(ok) => {
                    let state = match ok.role {
                        Role::Master => HostState::Primary,
                        Role::Replica => HostState::Standby,
                        Role::Unknown => HostState::Down,
                    };
                    reached.push((landing(state == HostState::Standby), state));
                }
                Err(_) => reached.push((landing(false), HostState::Down)),
            }
        }
        // libpq's choice: the first host satisfying the attributes; prefer-standby falls back
        // to any host reached.
        let pick = |want: SessionAttrs| reached.iter().find(|(_, s)| accepts(want, *s));
        let chosen = match attrs {
            SessionAttrs::PreferStandby => {
                pick(SessionAttrs::Standby).or_else(|| pick(SessionAttrs::Any))
            }
            other => pick(other),
        };
        Ok(chosen
            .map(|(l, _)| l.clone())
            .ok_or_else(|| "no host reached".to_owned()))
    }
}

/// A server's socket directory (the lab keeps it in the server's directory).
fn socket_dir(s: &Server) -> String {
    let dir = s.dir().display().to_string();
    assert!(
        Path::new(&dir)
            .join(format!(".s.PGSQL.{}", s.port()))
            .exists(),
        "the lab server has no socket in {dir}"
    );
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotascope_lands_where_psql_lands() {
    let lab = Lab::new().expect("lab");
    let primary = lab
        .start_server(ServerOptions::default())
        .await
        .expect("primary");
    for (login, pw) in [("app_a", PW_A), ("app_b", PW_B), ("app_q", PW_Q)] {
        primary.create_role(login, pw).await.expect("role");
    }
    for db in ["alpha", "beta", "my db"] {
        primary.create_database(db).await.expect("database");
    }
    let replica = primary.start_replica().await.expect("replica");
    replica.wait_ready().await.expect("replica ready");
    let tls = lab
        .start_server(ServerOptions::default().tls(true))
        .await
        .expect("tls server");
    tls.create_role("app_t", PW_T).await.expect("role");

    let (p, r, t, dead) = (primary.port(), replica.port(), tls.port(), dead_port());
    let (sp, sr) = (socket_dir(&primary), socket_dir(&replica));
    let ca = lab.ca_cert_path().display().to_string();

    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let write_private = |path: &Path, text: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    };
    let passfile = dir.path().join("pgpass");
    write_private(
        &passfile,
        &format!(
            "127.0.0.1:{p}:alpha:app_b:{PW_B}\n{}:{p}:alpha:app_a:{PW_A}\n*:*:beta:app_a:{PW_A}\n",
            sp.replace(':', "\\:")
        ),
    );
    let own_passfile = dir.path().join("own-pgpass");
    write_private(&own_passfile, &format!("127.0.0.1:{r}:beta:app_a:{PW_A}\n"));
    let services = dir.path().join("pg_service.conf");
    std::fs::write(
        &services,
        format!(
            "[oracle]\nhost=127.0.0.1\nport={p}\ndbname=alpha\n\n[oracle_multi]\nhost=127.0.0.1,127.0.0.1\nport={r},{p}\ndbname=beta\ntarget_session_attrs=primary\n"
        ),
    )
    .expect("service file");
    let oracle = Oracle {
        psql: lab.bins().bin("psql"),
        env: vec![
            ("HOME".into(), home.display().to_string()),
            ("PGPASSFILE".into(), passfile.display().to_string()),
            ("PGSERVICEFILE".into(), services.display().to_string()),
            ("PGSYSCONFDIR".into(), dir.path().display().to_string()),
        ],
        dir,
    };

    let (a, b) = (PW_A, PW_B);
    let kq = PW_Q.replace('\\', "\\\\").replace('\'', "\\'");
    let eq = enc(PW_Q);
    let esp = enc(&sp);
    let pf = own_passfile.display();
    // Strings both reach a server with (or both fail to reach one with).
    let reach: Vec<String> = vec![
        // plain key=value and URIs
        format!("host=127.0.0.1 port={p} dbname=alpha user=app_a password={a}"),
        format!("postgres://app_a:{a}@127.0.0.1:{p}/alpha"),
        format!("postgresql://app_a:{a}@127.0.0.1:{r}/beta"),
        format!("postgres://127.0.0.1:{p}/beta?user=app_a&password={a}"),
        // the last keyword wins; a query parameter overrides the authority part
        format!("host=127.0.0.1 port={r} dbname=alpha user=app_a password={a} port={p}"),
        format!("dbname=beta host=127.0.0.1 dbname=alpha port={p} user=app_b user=app_a password={a}"),
        format!("postgres://app_a:{a}@127.0.0.1:{r}/alpha?host=127.0.0.1&port={p}"),
        format!("postgresql://127.0.0.1/alpha?user=app_b&password={b}&port={p}"),
        format!("postgres://app_b:{b}@127.0.0.1:{p}/alpha?dbname=beta"),
        // quoting and escapes; percent-encoding
        format!("host='127.0.0.1' port = '{p}' dbname = alpha user=app_q password='{kq}'"),
        format!("postgres://app_q:{eq}@127.0.0.1:{p}/alpha"),
        format!("postgres://app_a:{a}@127.0.0.1:{p}/my%20db"),
        format!("host=127.0.0.1 port={p} dbname='my db' user=app_a password={a}"),
        format!("postgres://%61pp_a:{a}@127.0.0.1:{p}/%61lpha"),
        // Unix sockets
        format!("host={sp} port={p} dbname=alpha user=app_a password={a}"),
        format!("postgresql://{esp}/beta?port={p}&user=app_b&password={b}"),
        format!("postgresql:///alpha?host={sp}&port={p}&user=app_a&password={a}"),
        format!("host={sp} port={p} dbname=alpha user=app_a password={a} sslmode=require"),
        format!("host={sr} port={r} dbname=beta user=app_b password={b}"),
        // hostaddr
        format!("hostaddr=127.0.0.1 port={p} dbname=alpha user=app_a password={a}"),
        format!("host=localhost hostaddr=127.0.0.1 port={r} dbname=beta user=app_b password={b}"),
        format!("host=localhost port={p} dbname=alpha user=app_a password={a}"),
        // several hosts: libpq takes the first that accepts and matches target_session_attrs
        format!("host=127.0.0.1,127.0.0.1 port={r},{p} dbname=alpha user=app_a password={a} target_session_attrs=read-write"),
        format!("postgres://app_a:{a}@127.0.0.1:{r},127.0.0.1:{p}/alpha?target_session_attrs=primary"),
        format!("host=127.0.0.1,127.0.0.1 port={p},{r} dbname=alpha user=app_a password={a} target_session_attrs=standby"),
        format!("host=127.0.0.1,127.0.0.1 port={r},{p} dbname=alpha user=app_a password={a}"),
        format!("host=127.0.0.1,127.0.0.1 port={dead},{p} dbname=alpha user=app_a password={a}"),
        format!("host={sp},127.0.0.1 port={p},{r} dbname=alpha user=app_a password={a} target_session_attrs=prefer-standby"),
        format!("postgres://app_a:{a}@127.0.0.1:{p},127.0.0.1:{r}/alpha?target_session_attrs=read-only"),
        format!("postgresql://app_a:{a}@127.0.0.1:{dead},127.0.0.1/alpha?port={r}"),
        // service file, password file
        format!("service=oracle user=app_a password={a}"),
        format!("service=oracle port={r} user=app_a password={a}"),
        format!("service=oracle_multi user=app_a password={a}"),
        format!("host=127.0.0.1 port={p} dbname=alpha user=app_b"),
        format!("host={sp} port={p} dbname=alpha user=app_a"),
        format!("postgres://app_a@127.0.0.1:{r}/beta"),
        format!("host=127.0.0.1 port={r} dbname=beta user=app_a passfile={pf}"),
        // options that do not change where the connection lands
        format!("host=127.0.0.1 port={p} dbname=alpha user=app_a password={a} sslmode=disable connect_timeout=5 application_name=oracle"),
        format!("postgres://app_a:{a}@127.0.0.1:{p}/alpha?sslmode=prefer&connect_timeout=3&options=-csearch_path%3Dx&keepalives=1"),
        format!("host=127.0.0.1 port={p} dbname=alpha user=app_a password={a} requiressl=0 gssencmode=disable"),
        // TLS with the lab CA
        format!("host=localhost port={t} dbname=postgres user=app_t password={PW_T} sslmode=verify-full sslrootcert={ca}"),
        format!("postgres://app_t:{PW_T}@127.0.0.1:{t}/postgres?sslmode=require"),
        format!("host=127.0.0.1 port={t} dbname=postgres user=app_t password={PW_T} sslmode=verify-ca sslrootcert={ca}"),
        // both fail: no server there, or no TLS on a server that requires it
        format!("postgres://app_a:{a}@[::1]:{dead}/alpha"),
        format!("host=127.0.0.1 port={dead} dbname=alpha user=app_a password={a}"),
        format!("postgres://app_a:{a}@127.0.0.1:{p}/alpha?ssl=true"),
    ];
    // Strings libpq refuses before connecting: rotascope must refuse them too.
    let refuse: Vec<String> = vec![
        format!("postgres://app_a:{a}@127.0.0.1:{p}/%XXalpha"),
        format!("host=127.0.0.1 port={p},{r} dbname=alpha user=app_a password={a}"),
        "postgres://[]/alpha".to_owned(),
        format!("host=127.0.0.1 port={p} dbname=alpha user=app_a password={a} bogus=1"),
        format!("postgres://app_a:{a}@127.0.0.1:{p}/alpha?bogus=1"),
        format!("host=127.0.0.1 port={p} dbname=alpha user=app_a password={a} sslmode=sometimes"),
        format!("host=127.0.0.1 port=0 dbname=alpha user=app_a password={a}"),
        format!("host=127.0.0.1 port={p} dbname=alpha user=app_a password='{a}"),
        format!("postgres://app_a:{a}@127.0.0.1:{p}/alpha?a=b=c"),
        format!("host=127.0.0.1,127.0.0.1 hostaddr=127.0.0.1 port={p} dbname=alpha user=app_a password={a}"),
        format!("service=nosuchservice user=app_a password={a}"),
    ];
    assert!(reach.len() >= 30, "{} strings", reach.len());

    let mut wrong = Vec::new();
    let mut both_reached = 0;
    for s in &reach {
        let psql = oracle.psql(s).await;
        let ours = oracle.rotascope(s).await;
        match (&psql, &ours) {
            (Ok(l), Ok(Ok(o))) if l == o => both_reached += 1,
            (Err(_), Ok(Err(_))) => {}
            _ => wrong.push(format!(
                "{s}\n    psql:      {psql:?}\n    rotascope: {ours:?}"
            )),
        }
    }
    for s in &refuse {
        let psql = oracle.psql(s).await;
        let ours = oracle.rotascope(s).await;
        let libpq_refused = matches!(&psql, Err(e) if !e.contains("connection to server"));
        if !libpq_refused || ours.is_ok() {
            wrong.push(format!(
                "{s}\n    psql:      {psql:?}\n    rotascope: {ours:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} strings land elsewhere:\n{}",
        wrong.len(),
        reach.len() + refuse.len(),
        wrong.join("\n")
    );
    assert!(
        both_reached >= 40,
        "only {both_reached} strings reached a server"
    );
    drop((primary, replica, tls));
}
