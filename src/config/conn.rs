//! From a connection string in the config to one [`ConnTarget`] per host, reading what it names.
//!
//! The parsing and every libpq rule live in [`crate::conninfo`] (pure); this is the loader's side
//! of it, and the only one that touches files: the service file (`service=`), the password file
//! (`passfile`, `PGPASSFILE`, `~/.pgpass`) and the certificates (`sslrootcert`, `sslcert`,
//! `sslkey`, `sslcrl`, or libpq's defaults in `~/.postgresql/`). All of them are read through
//! [`super::files`] (bounded, under a deadline, regular files only), once per load, watched for
//! hot reload and fed to the content digest.
//!
//! The environment comes from [`super::load::LoadOptions::env`], never from the process: only
//! `HOME`, `PGPASSFILE`, `PGSERVICEFILE` and `PGSYSCONFDIR` are looked at (see
//! [`crate::conninfo`] for why libpq's other variables do not apply).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::conninfo::{self, pgpass, resolve, service, Options, Resolved, RootCert};
use crate::secret::Password;
use crate::topology::{
    AuthMethod, AuthPolicy, CertFile, ClientCert, ConnTarget, CrlFile, Provenance, Source, SslMode,
    TlsSettings,
};

use super::error::{ConfigError, KeyPath};
use super::files::FileMeta;
use super::load::Loader;
use super::tls_files;

pub(crate) use crate::conninfo::embedded_password;
pub(crate) use crate::conninfo::percent::decode_lossy as percent_decode;

/// libpq's default socket directory, as this machine's libpq most likely has it: Debian's and
/// Ubuntu's `/var/run/postgresql` when that directory exists, else upstream's `/tmp`. Looked up
/// once per process.
pub(crate) fn default_socket_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let debian = Path::new("/var/run/postgresql");
        if debian.is_dir() {
            debian.to_path_buf()
        } else {
            PathBuf::from("/tmp")
        }
    })
}

/// The authentication methods an entry allows (`allow_auth`), and which key said so.
#[derive(Clone, Debug)]
pub(crate) struct AllowAuth {
    /// The methods, in the order written.
    pub methods: Vec<AuthMethod>,
    /// `probe.allow_auth`, `island[0].node[1].allow_auth`, or the default.
    pub source: Source,
}

/// One host of a parsed connection string.
pub(crate) struct HostConn {
    /// Where and how to reach it (no credentials).
    pub target: ConnTarget,
    /// The node name: the string without its password for a one-host string, the host's own
    /// `host:port` (or socket path) for a host of a multi-host string.
    pub name: String,
    passfile_host: String,
    passfile_port: String,
}

/// A connection string, parsed and resolved: its hosts, and the credentials it carried.
pub(crate) struct ParsedConn {
    /// One per host, in order.
    pub hosts: Vec<HostConn>,
    /// The user the string named (URL userinfo, `user=`, a service file).
    pub user: Option<String>,
    /// The password the string carried (or its service file); a secret like any other.
    pub password: Option<Password>,
    resolved: Resolved,
}

/// A file's content and metadata, `None` when it does not exist.
type Read = Option<(Arc<[u8]>, FileMeta)>;

/// What one load has read for connection strings: every file once, however many strings name it.
#[derive(Default)]
pub(crate) struct ConnFiles {
    raw: HashMap<PathBuf, Read>,
    roots: HashMap<PathBuf, Arc<CertFile>>,
    crls: HashMap<PathBuf, Arc<CrlFile>>,
    clients: HashMap<(PathBuf, PathBuf), Arc<ClientCert>>,
}

impl Loader<'_> {
    /// Parses the connection string at `key` into one target per host; its passwords join the
    /// redaction list first.
    pub(crate) async fn conn(
        &mut self,
        key: &KeyPath,
        s: &str,
        allow: &AllowAuth,
        files: &mut ConnFiles,
    ) -> Result<ParsedConn, ConfigError> {
        self.redactor.harvest_conn(s);
        let parsed = conninfo::parse(s).map_err(|e| self.conn_error(key, e))?;
        for p in &parsed.passwords {
            self.redactor.add(p);
        }
        let mut options = parsed.options;
        let service_file = match options.non_empty("service").map(str::to_owned) {
            Some(name) => Some(self.service(key, &name, &mut options, files).await?),
            None => None,
        };
        let env = &self.options.env;
        let home = env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let pgpassfile = env.get("PGPASSFILE").filter(|v| !v.is_empty()).cloned();
        let ctx = conninfo::Context {
            default_socket_dir: default_socket_dir(),
            base_dir: &self.base_dir,
            home: home.as_deref(),
            pgpassfile_env: pgpassfile.as_deref(),
        };
        let resolved = conninfo::resolve(&options, &ctx).map_err(|e| self.conn_error(key, e))?;
        if let Some(p) = &resolved.password {
            self.redactor.add(p);
        }
        let allowed = conninfo::auth::combine(&allow.methods, resolved.require_auth.as_ref());
        if allowed.is_empty() {
            let allow_key = match &allow.source {
                Source::Config(k) => k.clone(),
                _ => "probe.allow_auth (default)".to_owned(),
            };
            return Err(ConfigError::NoAuthMethod {
                at: self.at(key),
                key: key.clone(),
                detail: format!(
                    "`{allow_key}` allows {}, and the connection string's require_auth=\"{}\" allows none of them",
                    names(&allow.methods),
                    resolved.require_auth_text.as_deref().unwrap_or_default()
                ),
            });
        }
        let needs_tls = resolved
            .hosts
            .iter()
            .any(|h| matches!(h.endpoint, crate::topology::Endpoint::Tcp { .. }));
        let (tls, tls_sources) = if needs_tls {
            self.tls(key, &resolved, files).await?
        } else {
            (TlsSettings::default(), Vec::new())
        };
        let mut tls_notes = Vec::new();
        if resolved.tls.mode == SslMode::Require && tls.mode == SslMode::VerifyCa {
            tls_notes.push(
                "sslmode require checks the certificate chain, as libpq does when a root certificate file is present"
                    .to_owned(),
            );
        }
        let multi = resolved.hosts.len() > 1;
        let mut hosts = Vec::with_capacity(resolved.hosts.len());
        for (i, h) in resolved.hosts.iter().enumerate() {
            let unix = h.endpoint.socket_path().is_some();
            let mut settings = vec![
                ("host", h.host_source.clone()),
                ("port", h.port_source.clone()),
            ];
            settings.extend(resolved.sources.iter().cloned());
            if !unix {
                settings.extend(tls_sources.iter().cloned());
            }
            settings.push(("allow_auth", allow.source.clone()));
            let target = ConnTarget {
                endpoint: h.endpoint.clone(),
                dbname: resolved.dbname.clone(),
                application_name: resolved.application_name.clone(),
                options: resolved.options.clone(),
                client_encoding: resolved.client_encoding.clone(),
                // libpq never uses TLS on a Unix socket, whatever sslmode says.
                tls: if unix {
                    TlsSettings {
                        mode: SslMode::Disable,
                        ..TlsSettings::default()
                    }
                } else {
                    tls.clone()
                },
                auth: AuthPolicy {
                    allowed: allowed.clone(),
                    channel_binding: resolved.channel_binding,
                },
                connect_timeout: resolved.connect_timeout,
                session_attrs: resolved.session_attrs,
                display: if multi {
                    conninfo::display::host_string(&options, i)
                } else {
                    parsed.display.clone()
                },
                from_string: multi.then(|| parsed.display.clone()),
                provenance: Provenance {
                    settings,
                    service_file: service_file.clone(),
                    passfile: None,
                    notes: if unix {
                        unix_notes(&resolved)
                    } else {
                        tls_notes.clone()
                    },
                },
            };
            hosts.push(HostConn {
                name: if multi {
                    h.endpoint.to_string()
                } else {
                    parsed.display.clone()
                },
                target,
                passfile_host: h.passfile_host.clone(),
                passfile_port: h.passfile_port.clone(),
            });
        }
        Ok(ParsedConn {
            hosts,
            user: resolved.user.clone(),
            password: resolved.password.clone(),
            resolved,
        })
    }

    /// The password for `login` at `host` from the password file, as libpq would find it (only
    /// asked for when the entry carries no password). Marks the target as getting its password
    /// there.
    pub(crate) async fn passfile_password(
        &mut self,
        key: &KeyPath,
        parsed: &ParsedConn,
        host: &mut HostConn,
        login: &str,
        files: &mut ConnFiles,
    ) -> Result<Option<Password>, ConfigError> {
        let Some(spec) = parsed.resolved.passfile.clone() else {
            return Ok(None);
        };
        let raw = self
            .read_conn_file(files, &spec.path, "password file", true)
            .await
            .map_err(|reason| self.bad_conn(key, reason))?;
        let Some((bytes, meta)) = raw else {
            return Ok(None);
        };
        if !pgpass::is_private(meta.mode) {
            return Err(self.bad_conn(
                key,
                format!(
                    "password file {} has group or world access; libpq ignores such a file (chmod 0600 it)",
                    spec.path.display()
                ),
            ));
        }
        let text = String::from_utf8_lossy(&bytes);
        let found = pgpass::lookup(
            &text,
            &pgpass::Key {
                host: &host.passfile_host,
                port: &host.passfile_port,
                dbname: &host.target.dbname,
                user: login,
            },
        );
        let Some(found) = found.filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let password = Password::new(found);
        self.redactor.add(&password);
        host.target.provenance.passfile = Some(spec.path.clone());
        host.target
            .provenance
            .settings
            .push(("password", spec.source));
        Ok(Some(password))
    }

    /// Looks `name` up in the service files, in libpq's order, and fills in what the string
    /// left unset. Returns the file the section was found in.
    async fn service(
        &mut self,
        key: &KeyPath,
        name: &str,
        options: &mut Options,
        files: &mut ConnFiles,
    ) -> Result<PathBuf, ConfigError> {
        let env = &self.options.env;
        let non_empty = |v: &str| env.get(v).filter(|x| !x.is_empty()).cloned();
        let first = match non_empty("PGSERVICEFILE") {
            Some(f) => Some((PathBuf::from(f), true)),
            None => non_empty("HOME").map(|h| (Path::new(&h).join(".pg_service.conf"), false)),
        };
        let system_dir =
            non_empty("PGSYSCONFDIR").unwrap_or_else(|| service::SYSTEM_SERVICE_DIR.to_owned());
        let second = (Path::new(&system_dir).join("pg_service.conf"), false);
        let mut looked = Vec::new();
        for (path, required) in first.into_iter().chain([second]) {
            looked.push(path.display().to_string());
            let raw = self
                .read_conn_file(files, &path, "service file", false)
                .await
                .map_err(|reason| self.bad_conn(key, reason))?;
            let Some((bytes, _)) = raw else {
                if required {
                    return Err(self.bad_conn(
                        key,
                        format!("service file {} not found (PGSERVICEFILE)", path.display()),
                    ));
                }
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            let shown = path.display().to_string();
            let section =
                service::section(&text, name, &shown).map_err(|e| self.conn_error(key, e))?;
            if let Some(settings) = section {
                for (k, v) in settings {
                    if k == "password" && !v.is_empty() {
                        self.redactor.add(&Password::new(v.clone()));
                    }
                    options.set_default(k, v, Source::ServiceFile);
                }
                return Ok(path);
            }
        }
        Err(self.bad_conn(
            key,
            format!(
                "definition of service \"{name}\" not found (looked in {})",
                looked.join(", ")
            ),
        ))
    }

    /// The TLS settings of a string's TCP hosts: certificate files read and parsed, libpq's
    /// defaults applied; and where the files came from.
    async fn tls(
        &mut self,
        key: &KeyPath,
        resolved: &Resolved,
        files: &mut ConnFiles,
    ) -> Result<(TlsSettings, Vec<(&'static str, Source)>), ConfigError> {
        let spec = &resolved.tls;
        let mut sources = Vec::new();
        let mut mode = spec.mode;
        let root_cert = match &spec.root {
            RootCert::None => None,
            RootCert::Unavailable => {
                return Err(self.bad_conn(
                    key,
                    format!(
                        "sslmode {} needs root certificates, and without a home directory (HOME) there is no ~/.postgresql/root.crt: name a file with sslrootcert, use the public roots with sslrootcert=system, or choose an sslmode that does not verify",
                        spec.mode.as_str()
                    ),
                ))
            }
            RootCert::System(source) => {
                sources.push(("sslrootcert", source.clone()));
                None
            }
            RootCert::File {
                path,
                required,
                source,
            } => match self.root_file(key, path, files).await? {
                Some(f) => {
                    sources.push(("sslrootcert", source.clone()));
                    // libpq checks the chain whenever it has root certificates.
                    if mode == SslMode::Require {
                        mode = SslMode::VerifyCa;
                    }
                    Some(f)
                }
                None if *required => {
                    let reason = if *source == Source::Default {
                        format!(
                            "root certificate file {} does not exist: sslmode {} needs one (name a file with sslrootcert, use the public roots with sslrootcert=system, or choose an sslmode that does not verify)",
                            path.display(),
                            spec.mode.as_str()
                        )
                    } else {
                        format!("sslrootcert file {} does not exist", path.display())
                    };
                    return Err(self.bad_conn(key, reason));
                }
                None => None,
            },
        };
        let crl = match &spec.crl {
            Some(c) if root_cert.is_some() => {
                let found = self.crl_file(key, &c.path, files).await?;
                match found {
                    None if c.required => {
                        return Err(self.bad_conn(
                            key,
                            format!("sslcrl file {} does not exist", c.path.display()),
                        ))
                    }
                    None => None,
                    Some(f) => {
                        sources.push(("sslcrl", c.source.clone()));
                        Some(f)
                    }
                }
            }
            _ => None,
        };
        let client_cert = match &spec.client_cert {
            Some(cert) => {
                let found = self
                    .client_files(key, cert, spec.client_key.as_ref(), files)
                    .await?;
                if found.is_some() {
                    sources.push(("sslcert", cert.source.clone()));
                    if let Some(k) = &spec.client_key {
                        sources.push(("sslkey", k.source.clone()));
                    }
                }
                found
            }
            None => None,
        };
        Ok((
            TlsSettings {
                mode,
                root_cert,
                client_cert,
                crl,
                sni: spec.sni,
            },
            sources,
        ))
    }

    async fn root_file(
        &mut self,
        key: &KeyPath,
        path: &Path,
        files: &mut ConnFiles,
    ) -> Result<Option<Arc<CertFile>>, ConfigError> {
        if let Some(f) = files.roots.get(path) {
            return Ok(Some(f.clone()));
        }
        let raw = self
            .read_conn_file(files, path, "root certificate file", false)
            .await
            .map_err(|r| self.bad_conn(key, r))?;
        let Some((bytes, _)) = raw else {
            return Ok(None);
        };
        let f = Arc::new(tls_files::parse_certs(path, &bytes).map_err(|r| self.bad_conn(key, r))?);
        files.roots.insert(path.to_path_buf(), f.clone());
        Ok(Some(f))
    }

    async fn crl_file(
        &mut self,
        key: &KeyPath,
        path: &Path,
        files: &mut ConnFiles,
    ) -> Result<Option<Arc<CrlFile>>, ConfigError> {
        if let Some(f) = files.crls.get(path) {
            return Ok(Some(f.clone()));
        }
        let raw = self
            .read_conn_file(files, path, "CRL file", false)
            .await
            .map_err(|r| self.bad_conn(key, r))?;
        let Some((bytes, _)) = raw else {
            return Ok(None);
        };
        let f = Arc::new(tls_files::parse_crls(path, &bytes).map_err(|r| self.bad_conn(key, r))?);
        files.crls.insert(path.to_path_buf(), f.clone());
        Ok(Some(f))
    }

    /// The client certificate and key, as libpq loads them: a default certificate that does not
    /// exist means none; a certificate without its key is an error, and so is a key others can
    /// read.
    async fn client_files(
        &mut self,
        key: &KeyPath,
        cert: &resolve::FileSpec,
        key_spec: Option<&resolve::FileSpec>,
        files: &mut ConnFiles,
    ) -> Result<Option<Arc<ClientCert>>, ConfigError> {
        if let Some(c) =
            key_spec.and_then(|k| files.clients.get(&(cert.path.clone(), k.path.clone())))
        {
            return Ok(Some(c.clone()));
        }
        let raw = self
            .read_conn_file(files, &cert.path, "client certificate file", false)
            .await
            .map_err(|r| self.bad_conn(key, r))?;
        let Some((cert_bytes, _)) = raw else {
            if cert.required {
                return Err(self.bad_conn(
                    key,
                    format!("sslcert file {} does not exist", cert.path.display()),
                ));
            }
            return Ok(None);
        };
        let chain = tls_files::parse_certs(&cert.path, &cert_bytes)
            .map_err(|r| self.bad_conn(key, r))?
            .certs;
        let Some(key_spec) = key_spec else {
            return Err(self.bad_conn(
                key,
                format!(
                    "certificate {} present, but no private key: name it with sslkey (there is no home directory for ~/.postgresql/postgresql.key)",
                    cert.path.display()
                ),
            ));
        };
        let pair = (cert.path.clone(), key_spec.path.clone());
        let raw = self
            .read_conn_file(files, &key_spec.path, "private key file", false)
            .await
            .map_err(|r| self.bad_conn(key, r))?;
        let Some((key_bytes, meta)) = raw else {
            return Err(self.bad_conn(
                key,
                format!(
                    "certificate present, but not private key file {}",
                    key_spec.path.display()
                ),
            ));
        };
        tls_files::check_key_mode(&key_spec.path, meta).map_err(|r| self.bad_conn(key, r))?;
        let private =
            tls_files::parse_key(&key_spec.path, &key_bytes).map_err(|r| self.bad_conn(key, r))?;
        let c = Arc::new(ClientCert {
            cert_path: cert.path.clone(),
            key_path: key_spec.path.clone(),
            chain,
            key: private,
        });
        files.clients.insert(pair, c.clone());
        Ok(Some(c))
    }

    /// Reads a file a connection string depends on (once per load): watched for hot reload and
    /// fed to the content digest. A missing file is watched only when `watch_missing` (the password
    /// file: creating `~/.pgpass` should be noticed at once); a missing default certificate is picked
    /// up by the periodic reload instead, so no warning about an absent `~/.postgresql` directory
    /// repeats at every reload.
    async fn read_conn_file(
        &mut self,
        files: &mut ConnFiles,
        path: &Path,
        what: &str,
        watch_missing: bool,
    ) -> Result<Read, String> {
        if let Some(found) = files.raw.get(path) {
            return Ok(found.clone());
        }
        let found = tls_files::read_optional(path, what)
            .await?
            .map(|(bytes, meta)| (Arc::<[u8]>::from(bytes), meta));
        match &found {
            Some((bytes, _)) => {
                self.watch(path);
                self.feed(&format!("{what} {}", path.display()), bytes)
            }
            None => {
                if watch_missing {
                    self.watch(path);
                }
                self.feed(&format!("{what} {} (missing)", path.display()), b"")
            }
        }
        files.raw.insert(path.to_path_buf(), found.clone());
        Ok(found)
    }

    fn bad_conn(&self, key: &KeyPath, reason: String) -> ConfigError {
        ConfigError::BadConnString {
            at: self.at(key),
            key: key.clone(),
            reason: self.redactor.redact(&reason),
        }
    }

    fn conn_error(&self, key: &KeyPath, e: conninfo::Error) -> ConfigError {
        match e {
            conninfo::Error::BadValue {
                keyword: "sslmode",
                shown: Some(value),
                ..
            } => ConfigError::BadSslMode {
                at: self.at(key),
                key: key.clone(),
                value: self.redactor.redact(&value),
            },
            other => self.bad_conn(key, other.to_string()),
        }
    }
}

/// What `config check` says about a Unix-socket host.
fn unix_notes(resolved: &Resolved) -> Vec<String> {
    if resolved.tls.mode == SslMode::Disable {
        Vec::new()
    } else {
        vec![format!(
            "sslmode {} does not apply: libpq never uses TLS on a Unix socket",
            resolved.tls.mode.as_str()
        )]
    }
}

/// `scram-sha-256, md5`.
fn names(methods: &[AuthMethod]) -> String {
    if methods.is_empty() {
        return "nothing".into();
    }
    methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
