//! PgBouncer in the lab: a real `pgbouncer` in front of a lab server, on a free loopback port,
//! checking passwords with `auth_type = scram-sha-256`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rotascope::lab::LabError> {
//! use rotascope::lab::{Lab, PoolerOptions, PoolMode, ServerOptions};
//! let lab = Lab::new()?;
//! let pg = lab.start_server(ServerOptions::default()).await?;
//! pg.create_role("app", "first-password").await?;
//! let bouncer = lab
//!     .start_pgbouncer(&pg, PoolerOptions::default().mode(PoolMode::Transaction))
//!     .await?;
//! let via_pooler = bouncer.candidate("app", "first-password", "postgres");
//! # Ok(()) }
//! ```
//!
//! Two ways to know the passwords ([`PoolerAuth`]):
//! - **`auth_query`** (the default): PgBouncer logs in to the backend as [`AUTH_USER`] and reads
//!   the role's verifier from `pg_shadow` through a `SECURITY DEFINER` function, at every login.
//!   A password set in the database is live at the pooler at once.
//! - **`auth_file`**: `userlist.txt` holds a copy of every role's SCRAM verifier, made by
//!   [`PgBouncer::sync_auth_file`]. Until the next copy and `RELOAD`, the pooler checks the old
//!   verifier: the new password is refused there while the server takes it (the auth_file trap).
//!   PgBouncer then logs in to the backend with the keys of the password its client proved
//!   (SCRAM pass-through), so an old password it still accepts fails at the backend unless a
//!   server connection made before the rotation is free in the pool.
//!
//! The binary is found through `PGBOUNCER_BIN`, `PATH`, then `/usr/sbin/pgbouncer`. When we are
//! root it runs as the servers' user (PgBouncer refuses root). Dropping a [`PgBouncer`] stops it
//! (SIGTERM, then SIGKILL) and removes its directory unless the lab is kept.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::server::pick_port;
use super::text::{ident, literal};
use super::{candidate_for, LabError, LabShared, Server, SUPERUSER};
use crate::secret::redact_all;
use crate::topology::{Candidate, ConnTarget};

mod bin;
mod config;
mod process;

/// The role PgBouncer logs in to the backend as to run `auth_query`, and its admin user.
pub const AUTH_USER: &str = "pgbouncer_auth";

/// The `SECURITY DEFINER` function `auth_query` calls (in every pooled database): the role's
/// name and verifier from `pg_shadow`, no row for an unknown role.
pub const LOOKUP_FUNCTION: &str = "public.lab_pooler_lookup";

/// PgBouncer's admin console, a database of its own.
pub const ADMIN_DATABASE: &str = "pgbouncer";

/// How long a start waits for the listener.
const START_WITHIN: Duration = Duration::from_secs(30);

/// How often a start is retried on another port when the chosen one was taken meanwhile.
const PORT_ATTEMPTS: usize = 8;

/// PgBouncer's `pool_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolMode {
    /// A server connection per client session.
    #[default]
    Session,
    /// A server connection per transaction: each probe query may run on another backend.
    Transaction,
}

impl PoolMode {
    /// PgBouncer's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

/// How PgBouncer knows the passwords (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolerAuth {
    /// `auth_user` + `auth_query`: the live verifier, read at every login.
    #[default]
    Query,
    /// `auth_file`: a copy of the verifiers, as of the last [`PgBouncer::sync_auth_file`].
    File,
}

/// What a new PgBouncer looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolerOptions {
    /// `pool_mode` (default session).
    pub mode: PoolMode,
    /// `auth_query` (default) or `auth_file`.
    pub auth: PoolerAuth,
    /// The databases it pools (default `postgres`), each to the same name on the backend.
    pub databases: Vec<String>,
    /// `max_client_conn` (default 100).
    pub max_client_conn: u32,
    /// `default_pool_size` (default 5).
    pub default_pool_size: u32,
    /// More `[pgbouncer]` settings (name, value as written in the file).
    pub settings: Vec<(String, String)>,
}

impl Default for PoolerOptions {
    fn default() -> Self {
        PoolerOptions {
            mode: PoolMode::Session,
            auth: PoolerAuth::Query,
            databases: vec!["postgres".to_owned()],
            max_client_conn: 100,
            default_pool_size: 5,
            settings: Vec::new(),
        }
    }
}

impl PoolerOptions {
    /// Sets `pool_mode`.
    pub fn mode(mut self, mode: PoolMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets how passwords are known.
    pub fn auth(mut self, auth: PoolerAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Pools these databases (instead of `postgres` alone).
    pub fn databases(mut self, dbs: &[&str]) -> Self {
        self.databases = dbs.iter().map(|d| (*d).to_owned()).collect();
        self
    }

    /// Sets `max_client_conn`.
    pub fn max_client_conn(mut self, n: u32) -> Self {
        self.max_client_conn = n;
        self
    }

    /// Sets `default_pool_size`.
    pub fn pool_size(mut self, n: u32) -> Self {
        self.default_pool_size = n;
        self
    }

    /// Adds a `[pgbouncer]` setting, e.g. `("query_wait_timeout", "1")`.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A running (or stopped) PgBouncer of a lab. Dropping it stops it and removes its directory.
#[derive(Debug)]
pub struct PgBouncer {
    lab: Arc<LabShared>,
    name: String,
    dir: PathBuf,
    bin: PathBuf,
    options: PoolerOptions,
    port: AtomicU16,
    backend_port: AtomicU16,
    child: Mutex<Option<Child>>,
}

impl PgBouncer {
    /// Prepares `backend` (the auth user, the lookup function; on a master), writes the files and
    /// starts PgBouncer on a free port.
    pub(crate) async fn create(
        lab: Arc<LabShared>,
        backend: &Server,
        options: PoolerOptions,
    ) -> Result<PgBouncer, LabError> {
        let bin = bin::find()?;
        if let Some(bad) = options.databases.iter().find(|d| !config::plain_name(d)) {
            return Err(LabError::Invalid(format!(
                "the lab pools plainly named databases only (letters, digits, _), not {bad:?}"
            )));
        }
        let (name, dir) = lab.claim_dir("bouncer")?;
        let bouncer = PgBouncer {
            lab,
            name,
            dir,
            bin,
            options,
            port: AtomicU16::new(0),
            backend_port: AtomicU16::new(backend.port()),
            child: Mutex::new(None),
        };
        bouncer.prepare_backend(backend).await?;
        bouncer.write_auth_file(backend).await?;
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            bouncer.port.store(pick_port()?, Ordering::SeqCst);
            bouncer.write_ini()?;
            match bouncer.launch().await {
                Ok(()) => return Ok(bouncer),
                Err((e, true)) => last = Some(e),
                Err((e, false)) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| LabError::Timeout("no free port for pgbouncer".into())))
    }

    /// Its name within the lab (`bouncer1`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its loopback port.
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    /// The port of the server behind it.
    pub fn backend_port(&self) -> u16 {
        self.backend_port.load(Ordering::SeqCst)
    }

    /// Its options.
    pub fn options(&self) -> &PoolerOptions {
        &self.options
    }

    /// Its directory (`pgbouncer.ini`, `userlist.txt`, the log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("pgbouncer.log")
    }

    /// Its `auth_file`.
    pub fn auth_file_path(&self) -> PathBuf {
        self.dir.join("userlist.txt")
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let running = child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
        running.then(|| child.as_ref().map(Child::id)).flatten()
    }

    /// True while it runs.
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// A connection string without credentials: `postgres://127.0.0.1:PORT/db`.
    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "postgres://127.0.0.1:{}/{}",
            self.port(),
            super::text::url_encode(db)
        )
    }

    /// A [`ConnTarget`] through the pooler to database `db`.
    pub fn target(&self, db: &str) -> ConnTarget {
        ConnTarget::tcp("127.0.0.1", self.port(), db, self.conn_string(db))
    }

    /// A [`Candidate`] through the pooler (its node name is [`PgBouncer::conn_string`]; its
    /// `via` is `pgbouncer`).
    pub fn candidate(&self, login: &str, password: &str, db: &str) -> Candidate {
        let mut c = candidate_for(self.target(db), login, password);
        c.via = Some("pgbouncer".to_owned());
        c
    }

    /// `RELOAD` on the admin console: the ini and the auth file are read again before it
    /// answers, so new logins follow them from then on.
    pub async fn reload(&self) -> Result<(), LabError> {
        self.admin("RELOAD").await.map(|_| ())
    }

    /// Runs one admin console command (`SHOW POOLS`, `DISABLE app`, `RELOAD`, ...) as
    /// [`AUTH_USER`] and returns its rows, NULLs as empty strings.
    pub async fn admin(&self, command: &str) -> Result<Vec<Vec<String>>, LabError> {
        let what = || format!("{command} on {}", self.name);
        let mut pg = tokio_postgres::Config::new();
        pg.host("127.0.0.1")
            .port(self.port())
            .user(AUTH_USER)
            .password(self.lab.pooler_password.expose())
            .dbname(ADMIN_DATABASE)
            .connect_timeout(Duration::from_secs(10))
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        let (client, connection) = pg.connect(NoTls).await.map_err(|e| self.err(what(), &e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let messages = client
            .simple_query(command)
            .await
            .map_err(|e| self.err(what(), &e))?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or_default().to_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// The `auth_file` variant's catch-up: copies every role's verifier from `backend` into
    /// `userlist.txt` (replaced atomically) and `RELOAD`s. Before this, a password changed in
    /// the database is refused by the pooler.
    pub async fn sync_auth_file(&self, backend: &Server) -> Result<(), LabError> {
        self.write_auth_file(backend).await?;
        self.reload().await
    }

    /// Points the pooler at another server (after a failover) and `RELOAD`s; server connections
    /// to the old one are closed as they come free.
    pub async fn repoint(&self, backend: &Server) -> Result<(), LabError> {
        self.backend_port.store(backend.port(), Ordering::SeqCst);
        self.write_ini()?;
        self.reload().await
    }

    /// Stops it (SIGTERM, SIGKILL after a few seconds): its port refuses connections until
    /// [`PgBouncer::start`].
    pub async fn stop(&self) -> Result<(), LabError> {
        let child = self.take_child();
        match child {
            Some(child) => {
                let _ = tokio::task::spawn_blocking(move || process::stop(child)).await;
                Ok(())
            }
            None => Err(LabError::NotRunning(self.name.clone())),
        }
    }

    /// SIGKILLs it: a crash.
    pub async fn kill(&self) -> Result<(), LabError> {
        match self.take_child() {
            Some(child) => {
                let _ = tokio::task::spawn_blocking(move || process::kill(child)).await;
                Ok(())
            }
            None => Err(LabError::NotRunning(self.name.clone())),
        }
    }

    /// Starts it again on its port.
    pub async fn start(&self) -> Result<(), LabError> {
        if self.is_running() {
            return Err(LabError::Invalid(format!(
                "{} is running already",
                self.name
            )));
        }
        self.launch().await.map_err(|(e, _)| e)
    }

    /// Spawns the process and waits for its listener; on failure, whether the port was taken.
    async fn launch(&self) -> Result<(), (LabError, bool)> {
        let ini = self.dir.join("pgbouncer.ini");
        let mut child = process::spawn(&self.lab, &self.bin, &ini).map_err(|e| (e, false))?;
        let log = self.log_path();
        let waited = process::wait_listening(&mut child, self.port(), &log, START_WITHIN).await;
        match waited {
            Ok(()) => {
                *self.child.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
                Ok(())
            }
            Err(process::NotListening::Exited { error, port_taken }) => {
                process::kill(child);
                Err((error, port_taken))
            }
            Err(process::NotListening::Timeout(error)) => {
                process::stop(child);
                Err((error, false))
            }
        }
    }

    fn take_child(&self) -> Option<Child> {
        self.child.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn write_ini(&self) -> Result<(), LabError> {
        let text = config::Ini {
            port: self.port(),
            backend_port: self.backend_port(),
            databases: &self.options.databases,
            mode: self.options.mode,
            auth: self.options.auth,
            dir: &self.dir,
            max_client_conn: self.options.max_client_conn,
            default_pool_size: self.options.default_pool_size,
            extra: &self.options.settings,
        }
        .text();
        self.lab
            .write_owned_atomic(&self.dir.join("pgbouncer.ini"), &text, 0o600)
    }

    /// The auth user with its password (the pooler logs in to the backend with it), and, in the
    /// `auth_file` variant, every other role's verifier as `backend` has it now.
    async fn write_auth_file(&self, backend: &Server) -> Result<(), LabError> {
        let mut entries = vec![(
            AUTH_USER.to_owned(),
            self.lab.pooler_password.expose().to_owned(),
        )];
        if self.options.auth == PoolerAuth::File {
            let rows = backend
                .query(&format!(
                    "SELECT usename::text, passwd FROM pg_shadow WHERE passwd IS NOT NULL \
                     AND usename NOT IN ({}, {}) ORDER BY usename",
                    literal(SUPERUSER),
                    literal(AUTH_USER)
                ))
                .await?;
            entries.extend(rows.iter().map(|r| (r.get(0), r.get(1))));
        }
        self.lab
            .write_owned_atomic(&self.auth_file_path(), &config::userlist(&entries), 0o600)
    }

    /// The auth user (created, or its password set) and the lookup function in every pooled
    /// database of `backend`. A replica has them from its master (start a pooler in front of the
    /// master first), and nothing is written there.
    async fn prepare_backend(&self, backend: &Server) -> Result<(), LabError> {
        let recovery = backend.query_one("SELECT pg_is_in_recovery()").await?;
        if recovery.get::<_, bool>(0) {
            return Ok(());
        }
        let password = self.lab.pooler_password.expose();
        let exists = backend
            .query(&format!(
                "SELECT 1 FROM pg_roles WHERE rolname = {}",
                literal(AUTH_USER)
            ))
            .await?;
        if exists.is_empty() {
            backend.create_role(AUTH_USER, password).await?;
        } else {
            backend.set_password(AUTH_USER, password).await?;
        }
        let sql = format!(
            "CREATE OR REPLACE FUNCTION {LOOKUP_FUNCTION}(p_user text) \
             RETURNS TABLE (usename text, passwd text) \
             LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS \
             $$ SELECT s.usename::text, s.passwd::text FROM pg_catalog.pg_shadow s \
             WHERE s.usename = p_user $$; \
             REVOKE ALL ON FUNCTION {LOOKUP_FUNCTION}(text) FROM PUBLIC; \
             GRANT EXECUTE ON FUNCTION {LOOKUP_FUNCTION}(text) TO {};",
            ident(AUTH_USER)
        );
        // auth_file logins need no lookup (and a pooled database may then be missing on the
        // backend, on purpose).
        if self.options.auth == PoolerAuth::Query {
            for db in &self.options.databases {
                backend.execute_in(db, &sql).await?;
            }
        }
        Ok(())
    }

    fn err(&self, what: String, e: &tokio_postgres::Error) -> LabError {
        let (code, message) = match e.as_db_error() {
            Some(db) => (Some(db.code().code().to_owned()), db.message().to_owned()),
            None => (None, crate::engine::classify::chain_text(e)),
        };
        LabError::Sql {
            what,
            code,
            message: redact_all(&message, [&self.lab.pooler_password]),
        }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Some(child) = self.take_child() {
            process::stop(child);
        }
        if !self.lab.keep.load(Ordering::SeqCst) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
