//! One PostgreSQL server of a lab: creation, lifecycle, replicas, and superuser SQL.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{Client, NoTls, Row};

use super::exec::{prepare_std, run};
use super::{os, text, LabError, LabShared, ServerOptions, SUPERUSER};
use crate::secret::{redact_all, Password};
use crate::topology::{Candidate, CandidateId, ConnTarget, SslMode};

/// How often a start is retried with another port when the chosen one was taken meanwhile
/// (tests start servers in parallel; a free port can be grabbed between pick and bind).
const PORT_ATTEMPTS: usize = 8;

/// Bound on pg_ctl's own waits (start, stop, promote).
const PG_CTL_WAIT_SECS: &str = "60";

/// How long [`Server::wait_ready`] waits.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running (or stopped) lab server. Dropping it stops it and removes its directory.
#[derive(Debug)]
pub struct Server {
    lab: Arc<LabShared>,
    name: String,
    dir: PathBuf,
    port: AtomicU16,
    tls: bool,
}

impl Server {
    /// initdb + config + start on a free port.
    pub(crate) async fn create(
        lab: Arc<LabShared>,
        options: ServerOptions,
    ) -> Result<Server, LabError> {
        let server = Server::allocate(lab, options.tls)?;
        server.initdb().await?;
        server.write_config(&options)?;
        server.start_on_free_port().await?;
        Ok(server)
    }

    /// Claims the next free `pgN` directory of the lab.
    fn allocate(lab: Arc<LabShared>, tls: bool) -> Result<Server, LabError> {
        for n in 1.. {
            let name = format!("pg{n}");
            let dir = lab.dir.join(&name);
            if dir.exists() {
                continue;
            }
            match lab.make_private_dir(&dir) {
                Ok(()) => {
                    return Ok(Server {
                        lab,
                        name,
                        dir,
                        port: AtomicU16::new(0),
                        tls,
                    })
                }
                // Another server of this lab took it between the check and the create.
                Err(LabError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop only ends by returning")
    }

    async fn initdb(&self) -> Result<(), LabError> {
        let pwfile = self.dir.join("superuser.pw");
        self.lab
            .write_owned(&pwfile, self.lab.superuser_password.expose(), 0o600)?;
        let result = run(
            &self.lab,
            "initdb",
            "initdb",
            vec![
                "-D".into(),
                self.data_dir().into(),
                "-U".into(),
                SUPERUSER.into(),
                format!("--pwfile={}", pwfile.display()).into(),
                "--auth=scram-sha-256".into(),
                "-E".into(),
                "UTF8".into(),
                "--locale=C".into(),
                "--no-sync".into(),
            ],
            Vec::new(),
        )
        .await;
        let _ = std::fs::remove_file(&pwfile);
        match result {
            Err(LabError::Command {
                what,
                status,
                mut output,
            }) if self.lab.run_as.is_some() && output.contains("Permission denied") => {
                output.push_str(
                    "\n(the servers run as the postgres user, which must be able to enter every \
                     directory above the lab directory: choose one under /tmp, for example)",
                );
                Err(LabError::Command {
                    what,
                    status,
                    output,
                })
            }
            other => other.map(|_| ()),
        }
    }

    fn write_config(&self, options: &ServerOptions) -> Result<(), LabError> {
        let data = self.data_dir();
        self.lab
            .write_owned(&data.join("pg_hba.conf"), PG_HBA, 0o600)?;
        let mut conf = base_settings(options.max_connections);
        if self.tls {
            let cert = self.lab.ca()?.server_cert()?;
            self.lab
                .write_owned(&data.join("server.crt"), &cert.cert_pem, 0o644)?;
            self.lab
                .write_owned(&data.join("server.key"), &cert.key_pem, 0o600)?;
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        for (name, value) in &options.settings {
            conf.push_str(&format!("{name} = {value}\n"));
        }
        self.lab.write_owned(&data.join("lab.conf"), &conf, 0o600)?;
        let main = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&main)
            .map_err(LabError::io(format!("reading {}", main.display())))?;
        // lab-port.conf is per server (a replica copies lab.conf but needs its own port).
        text.push_str("\ninclude 'lab.conf'\ninclude 'lab-port.conf'\n");
        self.lab.write_owned(&main, &text, 0o600)
    }

    fn write_port(&self, port: u16) -> Result<(), LabError> {
        let socket_dir = self.dir.display().to_string();
        // A unix socket path is limited to ~107 bytes; without room, TCP only.
        let socket_dir = if socket_dir.len() + 20 < 100 && !socket_dir.contains('\'') {
            socket_dir
        } else {
            String::new()
        };
        let conf = format!("port = {port}\nunix_socket_directories = '{socket_dir}'\n");
        self.lab
            .write_owned(&self.data_dir().join("lab-port.conf"), &conf, 0o600)?;
        self.port.store(port, Ordering::SeqCst);
        Ok(())
    }

    async fn start_on_free_port(&self) -> Result<(), LabError> {
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            self.write_port(pick_port()?)?;
            match self.pg_ctl_start().await {
                Ok(()) => return Ok(()),
                Err((e, true)) => last = Some(e),
                Err((e, false)) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| LabError::Timeout("no free port found".into())))
    }

    /// `pg_ctl start -w`; on failure, the error and whether the port was taken.
    async fn pg_ctl_start(&self) -> Result<(), (LabError, bool)> {
        let log = self.log_path();
        let before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let result = run(
            &self.lab,
            &format!("starting {}", self.name),
            "pg_ctl",
            vec![
                "start".into(),
                "-D".into(),
                self.data_dir().into(),
                "-l".into(),
                log.into(),
                "-w".into(),
                "-t".into(),
                PG_CTL_WAIT_SECS.into(),
                "-s".into(),
            ],
            Vec::new(),
        )
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(LabError::Command {
                what,
                status,
                output,
            }) => {
                let new_log = self.log_since(before);
                let port_taken = new_log.contains("could not bind")
                    || new_log.contains("Address already in use");
                let output = format!("{output}\nserver log:\n{}", tail(&new_log, 15));
                Err((
                    LabError::Command {
                        what,
                        status,
                        output,
                    },
                    port_taken,
                ))
            }
            Err(e) => Err((e, false)),
        }
    }

    fn log_since(&self, offset: u64) -> String {
        let text = std::fs::read(self.log_path()).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(0).min(text.len());
        String::from_utf8_lossy(&text[start..]).into_owned()
    }

    /// The server's name within the lab (`pg1`, `pg2`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its loopback port.
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    /// True when it serves TLS with a lab certificate.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Its directory (holds `data/`, the log and the unix socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Its log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The lab CA certificate (`sslrootcert`), written when a TLS server started.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.lab.ca_cert_path()
    }

    /// The postmaster's pid, when it is running.
    pub fn pid(&self) -> Option<u32> {
        os::postmaster_pid(&self.data_dir()).filter(|pid| os::alive(*pid))
    }

    /// True when the postmaster is running.
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// A URL with credentials: `postgres://login:password@127.0.0.1:PORT/db` (percent-encoded).
    pub fn url(&self, login: &str, password: &str, db: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            text::url_encode(login),
            text::url_encode(password),
            self.port(),
            text::url_encode(db)
        )
    }

    /// A connection string without credentials, as config files carry it:
    /// `postgres://127.0.0.1:PORT/db`.
    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "postgres://127.0.0.1:{}/{}",
            self.port(),
            text::url_encode(db)
        )
    }

    /// A [`ConnTarget`] for database `db` (sslmode `prefer`, no `sslrootcert`; the fields are
    /// public to adjust).
    pub fn target(&self, db: &str) -> ConnTarget {
        let mut pg = tokio_postgres::Config::new();
        pg.host("127.0.0.1").port(self.port()).dbname(db);
        ConnTarget {
            pg,
            ssl: SslMode::Prefer,
            sslrootcert: None,
            display: self.conn_string(db),
        }
    }

    /// A [`Candidate`] logging in to database `db` as `login` with `password`; its node name is
    /// [`Server::conn_string`].
    pub fn candidate(&self, login: &str, password: &str, db: &str) -> Candidate {
        candidate_for(self.target(db), login, password)
    }

    fn config(&self, login: &str, password: &str, db: &str) -> tokio_postgres::Config {
        let mut pg = tokio_postgres::Config::new();
        pg.host("127.0.0.1")
            .port(self.port())
            .user(login)
            .password(password)
            .dbname(db)
            .application_name("rotascope-lab")
            .connect_timeout(Duration::from_secs(10))
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        pg
    }

    /// Opens a connection as `login` (no TLS); its driver task runs on the current runtime and
    /// ends when the client is dropped. Useful to hold connection slots.
    pub async fn connect(&self, login: &str, password: &str, db: &str) -> Result<Client, LabError> {
        let secret = Password::new(password);
        let (client, connection) = self
            .config(login, password, db)
            .connect(NoTls)
            .await
            .map_err(|e| {
                self.sql_err(
                    format!("connecting to {} as {login}", self.name),
                    &e,
                    &[&secret],
                )
            })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Opens a superuser connection to database `db`.
    pub async fn admin(&self, db: &str) -> Result<Client, LabError> {
        let pw = self.lab.superuser_password.expose().to_owned();
        self.connect(SUPERUSER, &pw, db).await
    }

    /// Runs SQL (one or more statements) as superuser in database `postgres`.
    pub async fn execute(&self, sql: &str) -> Result<(), LabError> {
        self.execute_in("postgres", sql).await
    }

    /// Runs SQL (one or more statements) as superuser in database `db`.
    pub async fn execute_in(&self, db: &str, sql: &str) -> Result<(), LabError> {
        self.execute_redacted(db, sql, &[]).await
    }

    async fn execute_redacted(
        &self,
        db: &str,
        sql: &str,
        secrets: &[&Password],
    ) -> Result<(), LabError> {
        let client = self.admin(db).await?;
        client
            .batch_execute(sql)
            .await
            .map_err(|e| self.sql_err(format!("running SQL on {}", self.name), &e, secrets))
    }

    /// Runs one query as superuser in database `postgres` and returns its rows.
    pub async fn query(&self, sql: &str) -> Result<Vec<Row>, LabError> {
        let client = self.admin("postgres").await?;
        client
            .query(sql, &[])
            .await
            .map_err(|e| self.sql_err(format!("querying {}", self.name), &e, &[]))
    }

    /// Runs one query that returns exactly one row, as superuser in database `postgres`.
    pub async fn query_one(&self, sql: &str) -> Result<Row, LabError> {
        let client = self.admin("postgres").await?;
        client
            .query_one(sql, &[])
            .await
            .map_err(|e| self.sql_err(format!("querying {}", self.name), &e, &[]))
    }

    /// `CREATE ROLE login LOGIN PASSWORD password`.
    pub async fn create_role(&self, login: &str, password: &str) -> Result<(), LabError> {
        let sql = format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            text::ident(login),
            text::literal(password)
        );
        self.execute_redacted("postgres", &sql, &[&Password::new(password)])
            .await
    }

    /// `ALTER ROLE login PASSWORD password`: a real rotation, as a rotation tool does it.
    pub async fn set_password(&self, login: &str, password: &str) -> Result<(), LabError> {
        let sql = format!(
            "ALTER ROLE {} PASSWORD {}",
            text::ident(login),
            text::literal(password)
        );
        self.execute_redacted("postgres", &sql, &[&Password::new(password)])
            .await
    }

    /// `CREATE DATABASE name`.
    pub async fn create_database(&self, name: &str) -> Result<(), LabError> {
        self.execute(&format!("CREATE DATABASE {}", text::ident(name)))
            .await
    }

    /// `CREATE SCHEMA name` in database `db`.
    pub async fn create_schema(&self, db: &str, name: &str) -> Result<(), LabError> {
        self.execute_in(db, &format!("CREATE SCHEMA {}", text::ident(name)))
            .await
    }

    /// Builds a streaming replica of this (running) server with `pg_basebackup -R` and starts it
    /// on its own free port.
    ///
    /// `-R` writes the superuser password into the replica's `postgresql.auto.conf`; it stays
    /// inside the lab directory and goes with it.
    pub async fn start_replica(&self) -> Result<Server, LabError> {
        let replica = Server::allocate(self.lab.clone(), self.tls)?;
        run(
            &self.lab,
            &format!("pg_basebackup of {}", self.name),
            "pg_basebackup",
            vec![
                "-D".into(),
                replica.data_dir().into(),
                "-R".into(),
                "-X".into(),
                "stream".into(),
                "-c".into(),
                "fast".into(),
                "--no-sync".into(),
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                self.port().to_string().into(),
                "-U".into(),
                SUPERUSER.into(),
                "-w".into(),
            ],
            vec![
                (
                    "PGPASSWORD",
                    self.lab.superuser_password.expose().to_owned(),
                ),
                ("PGSSLMODE", "disable".to_owned()),
            ],
        )
        .await?;
        replica.start_on_free_port().await?;
        Ok(replica)
    }

    /// `pg_ctl promote -w`: the replica becomes a master.
    pub async fn promote(&self) -> Result<(), LabError> {
        self.pg_ctl(
            "promote",
            vec!["-w".into(), "-t".into(), PG_CTL_WAIT_SECS.into()],
        )
        .await
    }

    /// Stops the server (`pg_ctl stop -m fast -w`).
    pub async fn stop(&self) -> Result<(), LabError> {
        self.pg_ctl(
            "stop",
            vec![
                "-m".into(),
                "fast".into(),
                "-w".into(),
                "-t".into(),
                PG_CTL_WAIT_SECS.into(),
            ],
        )
        .await
    }

    /// Starts the stopped (or killed) server again, on the same port.
    pub async fn start(&self) -> Result<(), LabError> {
        self.pg_ctl_start().await.map_err(|(e, _)| e)
    }

    /// Stops the server if it runs, then starts it.
    pub async fn restart(&self) -> Result<(), LabError> {
        if self.is_running() {
            self.stop().await?;
        }
        self.start().await
    }

    /// SIGKILLs the postmaster (and its process group: a crash, no shutdown at all), and waits
    /// until every process is gone.
    pub async fn kill(&self) -> Result<(), LabError> {
        let pid = self
            .pid()
            .ok_or_else(|| LabError::NotRunning(self.name.clone()))?;
        let gone =
            tokio::task::spawn_blocking(move || os::kill_postmaster(pid, Duration::from_secs(10)))
                .await
                .unwrap_or(false);
        if gone {
            // The dead postmaster may linger as a zombie until something reaps it, and a new
            // postmaster refuses to start while the pid in a lock file still "exists". It is
            // dead (checked above), so both lock files are stale.
            let _ = std::fs::remove_file(self.data_dir().join("postmaster.pid"));
            let lock = format!(".s.PGSQL.{}.lock", self.port());
            let _ = std::fs::remove_file(self.dir.join(lock));
            Ok(())
        } else {
            Err(LabError::Timeout(format!(
                "{}: postmaster {pid} still alive after SIGKILL",
                self.name
            )))
        }
    }

    /// Waits until the superuser can connect (at most 30 s).
    pub async fn wait_ready(&self) -> Result<(), LabError> {
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        loop {
            match self.admin("postgres").await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(LabError::Timeout(format!(
                        "{} not ready after {READY_WITHIN:?}: {e}",
                        self.name
                    )))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn pg_ctl(&self, action: &str, extra: Vec<OsString>) -> Result<(), LabError> {
        let mut args: Vec<OsString> = vec![
            action.into(),
            "-D".into(),
            self.data_dir().into(),
            "-s".into(),
        ];
        args.extend(extra);
        run(
            &self.lab,
            &format!("pg_ctl {action} of {}", self.name),
            "pg_ctl",
            args,
            Vec::new(),
        )
        .await
        .map(|_| ())
    }

    fn sql_err(&self, what: String, e: &tokio_postgres::Error, secrets: &[&Password]) -> LabError {
        let (code, message) = match e.as_db_error() {
            Some(db) => (Some(db.code().code().to_owned()), db.message().to_owned()),
            None => (None, error_chain(e)),
        };
        let all = secrets
            .iter()
            .copied()
            .chain(std::iter::once(&self.lab.superuser_password));
        LabError::Sql {
            what,
            code,
            message: redact_all(&message, all),
        }
    }

    /// Stops the server right now, synchronously: `pg_ctl stop -m immediate`, then SIGKILL.
    fn shutdown_now(&self) {
        let Some(pid) = self.pid() else { return };
        let mut cmd = std::process::Command::new(self.lab.bins.bin("pg_ctl"));
        cmd.args(["stop", "-m", "immediate", "-w", "-t", "10", "-s", "-D"])
            .arg(self.data_dir());
        prepare_std(&self.lab, &mut cmd);
        let _ = cmd.output();
        // The pid file goes a moment before the process itself.
        if !os::wait_gone(&[pid], Duration::from_secs(5)) {
            os::kill_postmaster(pid, Duration::from_secs(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown_now();
        if !self.lab.keep.load(Ordering::SeqCst) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A candidate for `target` logging in as `login` with `password`; its node name is the
/// target's display string.
pub fn candidate_for(target: ConnTarget, login: &str, password: &str) -> Candidate {
    let password = Password::new(password);
    Candidate {
        id: CandidateId {
            node: target.display.as_str().into(),
            login: login.to_owned(),
            fingerprint: password.fingerprint(),
        },
        target: Arc::new(target),
        login: login.to_owned(),
        password,
        label: None,
    }
}

/// Scram everywhere: on the unix socket, on loopback TCP, and for replication.
const PG_HBA: &str = "\
# rotascope lab: scram-sha-256 everywhere, loopback only
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host replication all 127.0.0.1/32 scram-sha-256
";

/// Settings for a fast, small, disposable server.
fn base_settings(max_connections: u32) -> String {
    format!(
        "\
# rotascope lab settings
listen_addresses = '127.0.0.1'
password_encryption = 'scram-sha-256'
max_connections = {max_connections}
superuser_reserved_connections = 3
shared_buffers = '16MB'
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 5
hot_standby = on
autovacuum = off
jit = off
logging_collector = off
lc_messages = 'C'
"
    )
}

/// A loopback port nobody listens on, never handed out twice by this process.
fn pick_port() -> Result<u16, LabError> {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..100 {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(LabError::io("binding a loopback port"))?;
        let port = listener
            .local_addr()
            .map_err(LabError::io("reading a loopback port"))?
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    Err(LabError::Timeout("no free loopback port".into()))
}

/// An error and its causes on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
