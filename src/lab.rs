//! A real local PostgreSQL lab: servers, replicas, roles and passwords, for tests and demos.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rotascope::lab::LabError> {
//! use rotascope::lab::{Lab, ServerOptions};
//! let lab = Lab::new()?; // a temp dir, removed on drop
//! let primary = lab.start_server(ServerOptions::default()).await?;
//! primary.create_role("app_a", "first-password").await?;
//! let replica = primary.start_replica().await?;
//! primary.set_password("app_a", "second-password").await?;
//! replica.promote().await?;
//! # Ok(()) }
//! ```
//!
//! Servers listen on a free loopback port only (`127.0.0.1`), authenticate with
//! `scram-sha-256` everywhere, keep their unix socket inside the lab directory, and run with
//! `fsync = off` and small buffers: fast and disposable. When we are root they run as the
//! `postgres` user (initdb refuses root), with every file they need handed over to it.
//!
//! A lab can put a real PgBouncer in front of a server ([`Lab::start_pgbouncer`], see
//! [`pooler`](PgBouncer)).
//!
//! Cleanup is unconditional: dropping a [`Server`] stops it (`pg_ctl stop -m immediate`, falling
//! back to SIGKILL) and removes its directory, dropping a [`PgBouncer`] stops it (SIGTERM, then
//! SIGKILL); dropping the last handle of a [`Lab`] removes the lab directory it created.
//! [`Lab::keep`] keeps the files (logs included) for a post-mortem.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rand::Rng;

use crate::secret::Password;
use crate::topology::{CertFile, ClientCert};

mod bins;
pub mod driver;
mod exec;
mod hung;
mod impostor;
mod os;
mod pooler;
mod server;
mod text;
mod tls;

pub use bins::PgBins;
pub use driver::{DemoSettings, Driver};
pub use hung::HungServer;
pub use impostor::{Ask, Impostor, Session};
pub use pooler::{
    PgBouncer, PoolMode, PoolerAuth, PoolerOptions, ADMIN_DATABASE, AUTH_USER, LOOKUP_FUNCTION,
};
pub use server::{candidate_for, Server};

/// The superuser every lab server is created with.
pub const SUPERUSER: &str = "postgres";

/// Everything that can go wrong while running the lab. Messages carry no password.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// No PostgreSQL server binaries were found.
    #[error(
        "PostgreSQL server binaries not found (looked in {looked}); install them with \
         `apt-get install postgresql`, or set PG_BIN to the directory that holds initdb"
    )]
    NoBinaries {
        /// Where we looked.
        looked: String,
    },
    /// No `pgbouncer` binary was found.
    #[error(
        "pgbouncer not found (looked in {looked}); install it with `apt-get install pgbouncer`, \
         or set PGBOUNCER_BIN to the binary"
    )]
    NoPgBouncer {
        /// Where we looked.
        looked: String,
    },
    /// A lab setting it cannot follow.
    #[error("{0}")]
    Invalid(String),
    /// We are root and there is no `postgres` user to run the servers as.
    #[error(
        "running as root, but there is no `postgres` user to run the servers as (initdb refuses \
         root); install the postgresql package or create the user: useradd --system postgres"
    )]
    NoPostgresUser,
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A PostgreSQL program (initdb, pg_ctl, pg_basebackup) failed.
    #[error("{what} failed ({status}): {output}")]
    Command {
        /// What we were doing.
        what: String,
        /// How it exited.
        status: String,
        /// The tail of its output and of the server log.
        output: String,
    },
    /// An SQL command or a connection failed.
    #[error("{what}: {message}")]
    Sql {
        /// What we were doing.
        what: String,
        /// The SQLSTATE, when the server sent one.
        code: Option<String>,
        /// The server's message (redacted).
        message: String,
    },
    /// Making a TLS certificate failed.
    #[error("TLS certificate generation failed: {0}")]
    Tls(String),
    /// The server is not running (no `postmaster.pid`).
    #[error("server {0} is not running")]
    NotRunning(String),
    /// Something did not happen in time.
    #[error("{0}")]
    Timeout(String),
}

impl LabError {
    fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Io { what, source }
    }
}

/// What a new server looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// `max_connections` (default 50).
    pub max_connections: u32,
    /// Serve TLS with a certificate from the lab CA, for `localhost` and `127.0.0.1`.
    pub tls: bool,
    /// Serve TLS with a self-signed certificate made by PostgreSQL's documented recipe instead
    /// (`openssl req -new -x509 -subj "/CN=localhost"`: `CA:TRUE`, Common Name only, no
    /// subjectAltName); it is its own `sslrootcert` ([`Server::server_cert_path`]).
    pub self_signed: bool,
    /// Extra `postgresql.conf` settings (name, value as written in the file).
    pub settings: Vec<(String, String)>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_connections: 50,
            tls: false,
            self_signed: false,
            settings: Vec::new(),
        }
    }
}

impl ServerOptions {
    /// Sets `max_connections`.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Serves TLS (see [`Lab::ca_cert_path`]).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Serves TLS with a self-signed certificate (see [`ServerOptions::self_signed`]).
    pub fn self_signed_tls(mut self) -> Self {
        self.tls = true;
        self.self_signed = true;
        self
    }

    /// Adds a `postgresql.conf` setting, e.g. `("log_connections", "on")`.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A lab: a directory holding any number of servers. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Lab {
    shared: Arc<LabShared>,
}

/// What a lab and its servers share; the directory goes when the last of them is dropped.
#[derive(Debug)]
pub(crate) struct LabShared {
    pub(crate) dir: PathBuf,
    /// Created by us, so ours to remove.
    created: bool,
    pub(crate) keep: AtomicBool,
    pub(crate) bins: PgBins,
    pub(crate) run_as: Option<os::RunAs>,
    pub(crate) superuser_password: Password,
    /// The password of the poolers' [`AUTH_USER`] on every server of this lab.
    pub(crate) pooler_password: Password,
    ca: Mutex<Option<Arc<tls::Ca>>>,
}

impl Lab {
    /// A lab in a fresh temporary directory, removed when the lab and its servers are dropped.
    pub fn new() -> Result<Lab, LabError> {
        let (bins, run_as) = prerequisites()?;
        let base = std::env::temp_dir();
        for _ in 0..100 {
            let dir = base.join(format!("rotascope-lab-{}", random_token(8)));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Lab::setup(dir, true, bins, run_as),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(LabError::io(format!("creating {}", dir.display()))(e)),
            }
        }
        Err(LabError::Timeout(
            "could not find a free temporary directory name".into(),
        ))
    }

    /// A lab in `path` (created if missing). Servers still remove their own directories on drop;
    /// `path` itself is removed only if this call created it.
    pub fn in_dir(path: impl AsRef<Path>) -> Result<Lab, LabError> {
        let (bins, run_as) = prerequisites()?;
        let dir = path.as_ref().to_path_buf();
        let created = !dir.exists();
        std::fs::create_dir_all(&dir)
            .map_err(LabError::io(format!("creating {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(LabError::io(format!("resolving {}", dir.display())))?;
        if let Some(who) = run_as {
            enterable(&dir, who)?;
        }
        Lab::setup(dir, created, bins, run_as)
    }

    fn setup(
        dir: PathBuf,
        created: bool,
        bins: PgBins,
        run_as: Option<os::RunAs>,
    ) -> Result<Lab, LabError> {
        // Owned by a LabShared from here on, so Drop cleans up whatever fails next.
        let lab = Lab {
            shared: Arc::new(LabShared {
                dir,
                created,
                keep: AtomicBool::new(false),
                bins,
                run_as,
                superuser_password: Password::new(random_token(24)),
                pooler_password: Password::new(random_token(24)),
                ca: Mutex::new(None),
            }),
        };
        if created {
            // The servers' user must be able to enter it; tests read ca.crt from it.
            let dir = &lab.shared.dir;
            os::chmod(dir, 0o755).map_err(LabError::io(format!("chmod {}", dir.display())))?;
            os::chown(dir, run_as).map_err(LabError::io(format!("chown {}", dir.display())))?;
        }
        Ok(lab)
    }

    /// The lab directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The PostgreSQL binaries in use.
    pub fn bins(&self) -> &PgBins {
        &self.shared.bins
    }

    /// Keeps (`true`) or removes (`false`, the default) the files when dropped.
    pub fn keep(&self, keep: bool) {
        self.shared.keep.store(keep, Ordering::SeqCst);
    }

    /// The password of [`SUPERUSER`] on every server of this lab (random per lab).
    pub fn superuser_password(&self) -> &Password {
        &self.shared.superuser_password
    }

    /// The password of the poolers' [`AUTH_USER`] (their admin console login) on every server
    /// of this lab (random per lab).
    pub fn pooler_password(&self) -> &Password {
        &self.shared.pooler_password
    }

    /// Where the lab CA certificate is written (`<dir>/ca.crt`) once a TLS server starts: the
    /// `sslrootcert` for `verify-ca` / `verify-full`.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.shared.ca_cert_path()
    }

    /// A client certificate for `login` (Common Name = login) signed by the lab CA, with its key,
    /// written to `<dir>/client-<login>.crt` / `.key` (mode 0600) and returned loaded: what
    /// `sslcert` / `sslkey` give the prober. Lab TLS servers trust the lab CA for client
    /// certificates, so a pg_hba line with `clientcert=verify-full` (or the `cert` method)
    /// accepts it.
    pub fn client_cert(&self, login: &str) -> Result<Arc<ClientCert>, LabError> {
        let made = self.shared.ca()?.client_cert(login)?;
        let name = text::file_name(login);
        let cert_path = self.dir().join(format!("client-{name}.crt"));
        let key_path = self.dir().join(format!("client-{name}.key"));
        std::fs::write(&cert_path, &made.cert_pem)
            .map_err(LabError::io(format!("writing {}", cert_path.display())))?;
        std::fs::write(&key_path, &made.key_pem)
            .map_err(LabError::io(format!("writing {}", key_path.display())))?;
        os::chmod(&key_path, 0o600)
            .map_err(LabError::io(format!("chmod {}", key_path.display())))?;
        Ok(Arc::new(ClientCert {
            chain: tls::pem_certs(&made.cert_pem, &cert_path)?,
            key: tls::pem_key(&made.key_pem, &key_path)?,
            cert_path,
            key_path,
        }))
    }

    /// The lab CA certificate, loaded: the `sslrootcert` of verify-ca / verify-full targets.
    pub fn ca_cert_file(&self) -> Result<Arc<CertFile>, LabError> {
        self.shared.ca()?;
        cert_file(&self.ca_cert_path())
    }

    /// Creates (initdb) and starts a new server on a free loopback port.
    pub async fn start_server(&self, options: ServerOptions) -> Result<Server, LabError> {
        Server::create(self.shared.clone(), options).await
    }

    /// Starts a PgBouncer in front of `backend` on a free loopback port. On a master, the
    /// pooler's auth user and lookup function are created; a replica has them from its master
    /// once a pooler was started in front of that (or the replica was copied after).
    pub async fn start_pgbouncer(
        &self,
        backend: &Server,
        options: PoolerOptions,
    ) -> Result<PgBouncer, LabError> {
        PgBouncer::create(self.shared.clone(), backend, options).await
    }
}

impl LabShared {
    pub(crate) fn ca_cert_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The lab CA, made (and written to `ca.crt`) on first use.
    pub(crate) fn ca(&self) -> Result<Arc<tls::Ca>, LabError> {
        let mut slot = self.ca.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ca) = &*slot {
            return Ok(ca.clone());
        }
        let ca = Arc::new(tls::Ca::generate()?);
        let path = self.ca_cert_path();
        std::fs::write(&path, &ca.cert_pem)
            .map_err(LabError::io(format!("writing {}", path.display())))?;
        *slot = Some(ca.clone());
        Ok(ca)
    }

    /// Claims the next free `<prefix>N` directory (`pg1`, `bouncer2`, ...): created, owned by the
    /// server user, mode 0700. Returns its name and path.
    pub(crate) fn claim_dir(&self, prefix: &str) -> Result<(String, PathBuf), LabError> {
        for n in 1.. {
            let name = format!("{prefix}{n}");
            let dir = self.dir.join(&name);
            if dir.exists() {
                continue;
            }
            match self.make_private_dir(&dir) {
                Ok(()) => return Ok((name, dir)),
                // Another server of this lab took it between the check and the create.
                Err(LabError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop only ends by returning")
    }

    /// Creates `<dir>/<name>`, owned by the server user, mode 0700.
    pub(crate) fn make_private_dir(&self, path: &Path) -> Result<(), LabError> {
        std::fs::create_dir(path).map_err(LabError::io(format!("creating {}", path.display())))?;
        os::chmod(path, 0o700).map_err(LabError::io(format!("chmod {}", path.display())))?;
        os::chown(path, self.run_as).map_err(LabError::io(format!("chown {}", path.display())))
    }

    /// Replaces a file the server user must own with a temp file renamed over it: a reader
    /// never sees half of it, and it is a new file (PgBouncer notices a changed auth file by
    /// its inode, size and mtime).
    pub(crate) fn write_owned_atomic(
        &self,
        path: &Path,
        contents: &str,
        mode: u32,
    ) -> Result<(), LabError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        self.write_owned(&tmp, contents, mode)?;
        std::fs::rename(&tmp, path).map_err(LabError::io(format!("replacing {}", path.display())))
    }

    /// Writes a file the server user must own (config, keys).
    pub(crate) fn write_owned(
        &self,
        path: &Path,
        contents: &str,
        mode: u32,
    ) -> Result<(), LabError> {
        std::fs::write(path, contents)
            .map_err(LabError::io(format!("writing {}", path.display())))?;
        os::chmod(path, mode).map_err(LabError::io(format!("chmod {}", path.display())))?;
        os::chown(path, self.run_as).map_err(LabError::io(format!("chown {}", path.display())))
    }
}

/// Refuses a lab directory the servers' user cannot enter, naming the directory that shuts it
/// out and what to do, before initdb fails on it with a bare "Permission denied".
fn enterable(dir: &Path, who: os::RunAs) -> Result<(), LabError> {
    let closed = os::first_closed(dir, who).map_err(LabError::io(format!(
        "checking access to {}",
        dir.display()
    )))?;
    let Some(closed) = closed else {
        return Ok(());
    };
    let mode = std::fs::metadata(&closed)
        .map(|m| {
            format!(
                " (mode {:o})",
                std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777
            )
        })
        .unwrap_or_default();
    Err(LabError::Invalid(format!(
        "the servers run as the `postgres` user (initdb refuses root), and it cannot enter {}{mode}, \
         so it cannot use {}; pick a directory it can reach (e.g. --dir /tmp/rotascope-lab), or \
         let it through with `chmod o+x {}`",
        closed.display(),
        dir.display(),
        closed.display(),
    )))
}

impl Drop for LabShared {
    fn drop(&mut self) {
        if self.created && !self.keep.load(Ordering::SeqCst) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Reads a PEM file of certificates (a CA, a server certificate) as the config loader would.
pub fn cert_file(path: &Path) -> Result<Arc<CertFile>, LabError> {
    let pem = std::fs::read_to_string(path)
        .map_err(LabError::io(format!("reading {}", path.display())))?;
    Ok(Arc::new(CertFile {
        certs: tls::pem_certs(&pem, path)?,
        path: path.to_path_buf(),
    }))
}

/// The binaries and the user to run them as, or why the lab cannot run here.
fn prerequisites() -> Result<(PgBins, Option<os::RunAs>), LabError> {
    let bins = PgBins::find()?;
    let run_as = os::run_as().map_err(|()| LabError::NoPostgresUser)?;
    Ok((bins, run_as))
}

/// A random lowercase alphanumeric token (directory names, lab passwords).
pub(crate) fn random_token(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            let i = rng.random_range(0..36u8);
            char::from(if i < 10 { b'0' + i } else { b'a' + i - 10 })
        })
        .collect()
}
