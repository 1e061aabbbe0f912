//! One PostgreSQL server of a lab: the handle, its addresses, lifecycle and replicas (creation
//! lives in `create`, connections and SQL in `sql`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::exec::{prepare_std, run};
use super::{os, text, LabError, LabShared, SUPERUSER};
use crate::secret::Password;
use crate::topology::{Candidate, ConnTarget, Endpoint};

mod create;
mod sql;

pub(in crate::lab) use create::pick_port;

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

    /// The server's own certificate (`data/server.crt`): the `sslrootcert` of a self-signed
    /// server ([`crate::lab::ServerOptions::self_signed`]).
    pub fn server_cert_path(&self) -> PathBuf {
        self.data_dir().join("server.crt")
    }

    /// The directory of its Unix-domain socket (`.s.PGSQL.<port>`), when the path is short
    /// enough for one (a socket path is limited to ~107 bytes; without room, TCP only).
    pub fn socket_dir(&self) -> Option<PathBuf> {
        let dir = self.dir.display().to_string();
        (dir.len() + 20 < 100 && !dir.contains('\'')).then(|| self.dir.clone())
    }

    /// A [`ConnTarget`] over the Unix socket (no TLS there, as libpq), when there is one.
    pub fn unix_target(&self, db: &str) -> Option<ConnTarget> {
        let dir = self.socket_dir()?;
        let mut target = self.target(db);
        target.endpoint = Endpoint::Unix {
            dir,
            port: self.port(),
        };
        target.display = format!("{}", target.endpoint);
        Some(target)
    }

    /// Replaces the pg_hba.conf rules for every role but the superuser (whose lines, and the
    /// replication line, stay first) with `rules`, in pg_hba.conf's own language, e.g.
    /// `"host all app 127.0.0.1/32 md5"`; reloads the server and returns once new connections
    /// are governed by the new rules.
    pub async fn set_hba(&self, rules: &str) -> Result<(), LabError> {
        let path = self.data_dir().join("pg_hba.conf");
        self.lab.write_owned(&path, &create::hba(rules), 0o600)?;
        self.reload().await
    }

    /// `pg_reload_conf()`, then waits until a new backend sees the reload (its
    /// `pg_conf_load_time()` moves past the one before): from then on, new connections follow
    /// the new pg_hba.conf.
    pub async fn reload(&self) -> Result<(), LabError> {
        let load_time = "SELECT pg_conf_load_time()::text";
        let before: String = self.query_one(load_time).await?.get(0);
        self.execute("SELECT pg_reload_conf()").await?;
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        loop {
            let now: String = self.query_one(load_time).await?.get(0);
            if now != before {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LabError::Timeout(format!(
                    "{}: the configuration reload was not applied",
                    self.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
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
        ConnTarget::tcp("127.0.0.1", self.port(), db, self.conn_string(db))
    }

    /// A [`Candidate`] logging in to database `db` as `login` with `password`; its node name is
    /// [`Server::conn_string`].
    pub fn candidate(&self, login: &str, password: &str, db: &str) -> Candidate {
        candidate_for(self.target(db), login, password)
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

    /// Starts a smart shutdown (`pg_ctl stop -m smart`, without waiting): the server refuses
    /// new connections with 57P03 "the database system is shutting down" and stops when its
    /// last client leaves. Hold a connection open to keep it in that state. Returns once a new
    /// connection is refused that way.
    pub async fn begin_smart_shutdown(&self) -> Result<(), LabError> {
        self.pg_ctl("stop", vec!["-m".into(), "smart".into(), "-W".into()])
            .await?;
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        loop {
            match self.admin("postgres").await {
                Err(LabError::Sql { code, .. }) if code.as_deref() == Some("57P03") => {
                    return Ok(())
                }
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(LabError::Timeout(format!(
                        "{}: still accepting connections after a smart shutdown",
                        self.name
                    )))
                }
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
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
    let node = target.display.as_str().into();
    Candidate::new(node, Arc::new(target), login, Password::new(password), None)
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
