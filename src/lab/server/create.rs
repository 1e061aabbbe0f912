//! Making a server: its directory, initdb, configuration, and a first start on a free port.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use super::super::exec::run;
use super::super::{LabError, LabShared, ServerOptions, SUPERUSER};
use super::{tail, Server, PG_CTL_WAIT_SECS};

/// How often a start is retried with another port when the chosen one was taken meanwhile
/// (tests start servers in parallel; a free port can be grabbed between pick and bind).
const PORT_ATTEMPTS: usize = 8;

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
    pub(super) fn allocate(lab: Arc<LabShared>, tls: bool) -> Result<Server, LabError> {
        let (name, dir) = lab.claim_dir("pg")?;
        Ok(Server {
            lab,
            name,
            dir,
            port: AtomicU16::new(0),
            tls,
        })
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
            .write_owned(&data.join("pg_hba.conf"), &hba(DEFAULT_HBA), 0o600)?;
        let mut conf = base_settings(options.max_connections);
        if self.tls {
            let ca = self.lab.ca()?;
            let cert = if options.self_signed {
                super::super::tls::self_signed("localhost")?
            } else {
                ca.server_cert()?
            };
            self.lab
                .write_owned(&data.join("server.crt"), &cert.cert_pem, 0o644)?;
            self.lab
                .write_owned(&data.join("server.key"), &cert.key_pem, 0o600)?;
            // The lab CA also vouches for client certificates (`clientcert=verify-full`).
            self.lab
                .write_owned(&data.join("root.crt"), &ca.cert_pem, 0o644)?;
            conf.push_str(
                "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
                 ssl_ca_file = 'root.crt'\n",
            );
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
        let socket_dir = self
            .socket_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let conf = format!("port = {port}\nunix_socket_directories = '{socket_dir}'\n");
        self.lab
            .write_owned(&self.data_dir().join("lab-port.conf"), &conf, 0o600)?;
        self.port.store(port, Ordering::SeqCst);
        Ok(())
    }

    pub(super) async fn start_on_free_port(&self) -> Result<(), LabError> {
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
    pub(super) async fn pg_ctl_start(&self) -> Result<(), (LabError, bool)> {
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
}

/// Lines every lab pg_hba.conf starts with: the superuser (the lab's own SQL) and replication,
/// scram-sha-256, whatever a test sets for other roles.
const FIXED_HBA: &str = "\
# rotascope lab: the superuser and replication, always scram-sha-256
local all postgres scram-sha-256
host all postgres 127.0.0.1/32 scram-sha-256
host replication all 127.0.0.1/32 scram-sha-256
";

/// The rules for every other role until a test says otherwise: scram-sha-256 everywhere.
pub(in crate::lab) const DEFAULT_HBA: &str = "\
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
";

/// A whole pg_hba.conf: the fixed lines, then `rules`.
pub(in crate::lab) fn hba(rules: &str) -> String {
    format!("{FIXED_HBA}# rules for the other roles\n{rules}\n")
}

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
pub(in crate::lab) fn pick_port() -> Result<u16, LabError> {
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
