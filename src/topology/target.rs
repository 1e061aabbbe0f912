//! Where and how one node is reached: everything a connection string says except the credentials.
//!
//! This is the contract between the config loader (which parses connection strings, reads the
//! certificate files and applies rotascope's own settings) and the prober (which dials, speaks
//! TLS and authenticates). A [`ConnTarget`] is one endpoint: a multi-host string becomes one node
//! per host. Everything here is already read and checked; the prober opens no file.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use serde::Serialize;

/// The port libpq uses when a connection string names none.
pub const DEFAULT_PORT: u16 = 5432;

/// Where one node listens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP. `host` is the name a certificate must carry (`verify-full`) and the TLS SNI; `addr`
    /// (libpq's `hostaddr`), when set, is dialled instead of resolving `host`. At least one of the
    /// two is set.
    Tcp {
        /// The host name (or IP literal) as written.
        host: Option<String>,
        /// The numeric address to dial, skipping DNS.
        addr: Option<IpAddr>,
        /// The TCP port.
        port: u16,
    },
    /// A Unix-domain socket: `<dir>/.s.PGSQL.<port>`.
    Unix {
        /// The socket directory.
        dir: PathBuf,
        /// The port number in the socket file's name.
        port: u16,
    },
}

impl Endpoint {
    /// The port (TCP) or socket number (Unix).
    pub fn port(&self) -> u16 {
        match self {
            Endpoint::Tcp { port, .. } | Endpoint::Unix { port, .. } => *port,
        }
    }

    /// The socket file of a Unix endpoint.
    pub fn socket_path(&self) -> Option<PathBuf> {
        match self {
            Endpoint::Unix { dir, port } => Some(dir.join(format!(".s.PGSQL.{port}"))),
            Endpoint::Tcp { .. } => None,
        }
    }
}

impl fmt::Display for Endpoint {
    /// `host:port`, `[::1]:5432`, `host (10.0.0.5):5432`, or the socket file's path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, addr, port } => {
                let bracket = |s: &str| {
                    if s.contains(':') {
                        format!("[{s}]")
                    } else {
                        s.to_owned()
                    }
                };
                match (host, addr) {
                    (Some(h), Some(a)) => write!(f, "{} ({a}):{port}", bracket(h)),
                    (Some(h), None) => write!(f, "{}:{port}", bracket(h)),
                    (None, Some(a)) => write!(f, "{}:{port}", bracket(&a.to_string())),
                    (None, None) => write!(f, "?:{port}"),
                }
            }
            Endpoint::Unix { dir, port } => {
                write!(f, "{}", dir.join(format!(".s.PGSQL.{port}")).display())
            }
        }
    }
}

/// How the prober should use TLS, with libpq's names and meanings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS only when the server refuses plain connections (libpq's `allow`).
    Allow,
    /// TLS when the server offers it (no certificate check), plain otherwise. libpq's default.
    #[default]
    Prefer,
    /// TLS required, certificate not checked.
    Require,
    /// TLS required, certificate chain checked against `sslrootcert`.
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling (`disable`, `allow`, `prefer`, `require`, `verify-ca`,
    /// `verify-full`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// True for the modes that check the server's certificate chain.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// A PEM file of certificates, read when the config was loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct CertFile {
    /// Where it was read from (shown in messages).
    pub path: PathBuf,
    /// Its certificates, in file order (at least one).
    pub certs: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for CertFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CertFile({}, {} certs)",
            self.path.display(),
            self.certs.len()
        )
    }
}

/// A PEM file of certificate revocation lists (`sslcrl`), read when the config was loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct CrlFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its CRLs (at least one).
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

impl fmt::Debug for CrlFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CrlFile({}, {} CRLs)",
            self.path.display(),
            self.crls.len()
        )
    }
}

/// A client certificate and its private key (`sslcert` + `sslkey`), read when the config was
/// loaded. The key is a secret: `Debug` shows the paths only.
pub struct ClientCert {
    /// The certificate file.
    pub cert_path: PathBuf,
    /// The key file.
    pub key_path: PathBuf,
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

impl PartialEq for ClientCert {
    fn eq(&self, other: &Self) -> bool {
        self.cert_path == other.cert_path
            && self.key_path == other.key_path
            && self.chain == other.chain
            && self.key.secret_der() == other.key.secret_der()
    }
}
impl Eq for ClientCert {}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClientCert({}, key {})",
            self.cert_path.display(),
            self.key_path.display()
        )
    }
}

/// TLS settings of one target, certificate material included.
///
/// As the loader fills them in (libpq's rules, see `conninfo`):
/// - a Unix-socket target has `mode` [`SslMode::Disable`]: libpq never uses TLS on a socket,
///   whatever `sslmode` says;
/// - `require` with a root certificate file (named, or libpq's `~/.postgresql/root.crt` when
///   present) becomes [`SslMode::VerifyCa`]: libpq then checks the chain;
/// - `prefer` or `allow` with `root_cert` set: libpq checks the chain too, and `prefer` falls
///   back to a plain connection when the handshake fails. (The prober decides how far it follows.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode` (after the rules above).
    pub mode: SslMode,
    /// Root certificates read from `sslrootcert` (or `~/.postgresql/root.crt`); `None` in a
    /// verify mode means the public roots (`sslrootcert=system`: the Mozilla roots of
    /// webpki-roots).
    pub root_cert: Option<Arc<CertFile>>,
    /// `sslcert` + `sslkey`: presented when the server asks for a client certificate.
    pub client_cert: Option<Arc<ClientCert>>,
    /// `sslcrl`: certificates revoked by the CA (verify modes only).
    pub crl: Option<Arc<CrlFile>>,
    /// `sslsni` (libpq default on): send the host name in the handshake.
    pub sni: bool,
}

/// Authentication methods a server may ask for (libpq's `require_auth` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// SCRAM-SHA-256 (with or without channel binding).
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    /// MD5: the password hashed with the login, replayable by whoever reads it.
    Md5,
    /// Cleartext password: the server (or an impostor) receives the password itself.
    Password,
    /// No authentication at all (`trust`): says nothing about whether the password is right.
    None,
}

impl AuthMethod {
    /// Every method rotascope can perform, in libpq's order.
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::Password,
        AuthMethod::Md5,
        AuthMethod::ScramSha256,
        AuthMethod::None,
    ];

    /// libpq's name (`scram-sha-256`, `md5`, `password`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Md5 => "md5",
            AuthMethod::Password => "password",
            AuthMethod::None => "none",
        }
    }

    /// Parses libpq's name.
    pub fn parse(s: &str) -> Option<Self> {
        AuthMethod::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// libpq's `channel_binding`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelBinding {
    /// Never bind (plain SCRAM-SHA-256 even over TLS).
    Disable,
    /// Bind when the connection is TLS and the server offers SCRAM-SHA-256-PLUS.
    #[default]
    Prefer,
    /// Bind or fail: refuse any authentication that is not SCRAM-SHA-256-PLUS, before sending
    /// anything derived from the password.
    Require,
}

impl ChannelBinding {
    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelBinding::Disable => "disable",
            ChannelBinding::Prefer => "prefer",
            ChannelBinding::Require => "require",
        }
    }
}

/// What the prober may do when the server asks for authentication. A request outside the policy
/// is refused before anything derived from the password is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthPolicy {
    /// Methods allowed: `[probe] allow_auth` (or the node's own), narrowed by the connection
    /// string's `require_auth`. Never empty.
    pub allowed: Vec<AuthMethod>,
    /// `channel_binding`.
    pub channel_binding: ChannelBinding,
}

impl Default for AuthPolicy {
    /// SCRAM only, channel binding when offered.
    fn default() -> Self {
        AuthPolicy {
            allowed: vec![AuthMethod::ScramSha256],
            channel_binding: ChannelBinding::Prefer,
        }
    }
}

impl AuthPolicy {
    /// True when the server may use `method`.
    pub fn allows(&self, method: AuthMethod) -> bool {
        self.allowed.contains(&method)
    }
}

/// libpq's `target_session_attrs`: which host of a multi-host string the application accepts.
/// rotascope probes every host; this only says which of them would satisfy the application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionAttrs {
    /// Any host.
    #[default]
    Any,
    /// A host that accepts writes.
    ReadWrite,
    /// A host in read-only mode.
    ReadOnly,
    /// A primary (not in recovery).
    Primary,
    /// A standby (in recovery).
    Standby,
    /// A standby if any, else any host.
    PreferStandby,
}

impl SessionAttrs {
    /// Parses libpq's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "any" => SessionAttrs::Any,
            "read-write" => SessionAttrs::ReadWrite,
            "read-only" => SessionAttrs::ReadOnly,
            "primary" => SessionAttrs::Primary,
            "standby" => SessionAttrs::Standby,
            "prefer-standby" => SessionAttrs::PreferStandby,
            _ => return None,
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionAttrs::Any => "any",
            SessionAttrs::ReadWrite => "read-write",
            SessionAttrs::ReadOnly => "read-only",
            SessionAttrs::Primary => "primary",
            SessionAttrs::Standby => "standby",
            SessionAttrs::PreferStandby => "prefer-standby",
        }
    }
}

/// Where and how to connect to one node, without credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnTarget {
    /// The host (or socket) dialled.
    pub endpoint: Endpoint,
    /// The database (`dbname`; `postgres` when the string names none).
    pub dbname: String,
    /// `application_name` from the string: sent instead of `rotascope` when set.
    pub application_name: Option<String>,
    /// `options` (command-line options sent to the server at startup).
    pub options: Option<String>,
    /// `client_encoding`.
    pub client_encoding: Option<String>,
    /// TLS mode and material.
    pub tls: TlsSettings,
    /// Which authentication requests may be answered.
    pub auth: AuthPolicy,
    /// `connect_timeout` from the string (libpq: per host, whole connection set-up). The probe
    /// deadline is the smaller of it and `probe.timeout`.
    pub connect_timeout: Option<Duration>,
    /// `target_session_attrs` from the string.
    pub session_attrs: SessionAttrs,
    /// This endpoint's connection string with any password removed: what screens show.
    pub display: String,
    /// For a host of a multi-host string: that whole string, password removed.
    pub from_string: Option<String>,
    /// Where each setting came from, for `config check` (empty for targets not made by the
    /// config loader).
    pub provenance: Provenance,
}

/// Where a setting of a target came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Written in the connection string.
    String,
    /// From the section of the service file that `service=` named.
    ServiceFile,
    /// libpq's default (or rotascope's documented one, such as the database `postgres`).
    Default,
    /// An environment variable (only the ones that locate files: `PGPASSFILE`, ...).
    Env(String),
    /// A key of rotascope's config (`probe.connect_timeout`, `island[0].node[1].allow_auth`).
    Config(String),
}

impl fmt::Display for Source {
    /// `string`, `service file`, `default`, `env PGPASSFILE`, `probe.allow_auth`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::String => f.write_str("string"),
            Source::ServiceFile => f.write_str("service file"),
            Source::Default => f.write_str("default"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Config(key) => f.write_str(key),
        }
    }
}

impl Serialize for Source {
    /// JSON: `"string"`, `"service_file"`, `"default"`, `"env:PGPASSFILE"`, `"config:probe.allow_auth"`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Source::String => s.serialize_str("string"),
            Source::ServiceFile => s.serialize_str("service_file"),
            Source::Default => s.serialize_str("default"),
            Source::Env(var) => s.serialize_str(&format!("env:{var}")),
            Source::Config(key) => s.serialize_str(&format!("config:{key}")),
        }
    }
}

/// Where the settings of a target came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// `(setting, source)`: `host`, `port`, `dbname`, `user`, `sslmode`, `sslrootcert`, ...
    pub settings: Vec<(&'static str, Source)>,
    /// The service file whose section filled in settings, when `service=` was used.
    pub service_file: Option<PathBuf>,
    /// The password file the candidate's password came from, when it did.
    pub passfile: Option<PathBuf>,
    /// What a reader should know about how libpq's rules applied (`sslmode require checks the
    /// chain: a root certificate is present`).
    pub notes: Vec<String>,
}

impl Provenance {
    /// Where `setting` came from, if recorded.
    pub fn of(&self, setting: &str) -> Option<&Source> {
        self.settings
            .iter()
            .find(|(k, _)| *k == setting)
            .map(|(_, s)| s)
    }
}

/// The deadlines of a probe of one target: libpq's `connect_timeout` of the string, when smaller,
/// bounds both the connect and the whole probe (it covers the whole connection set-up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    /// Bound on the connect.
    pub connect: Duration,
    /// Bound on the whole probe.
    pub probe: Duration,
    /// True when the string's `connect_timeout` set `probe` (it is below `[probe] timeout`).
    pub from_string: bool,
    /// True when the string's `connect_timeout` set `connect` (it is below `[probe]
    /// connect_timeout`).
    pub connect_from_string: bool,
}

impl ConnTarget {
    /// The deadlines of a probe of this target under `[probe] connect_timeout` and `timeout`:
    /// the one place they are computed (the prober's request and `config check` read them).
    pub fn deadlines(&self, connect_timeout: Duration, timeout: Duration) -> Deadlines {
        let smaller = |limit: Duration| match self.connect_timeout {
            Some(own) if own < limit => (own, true),
            _ => (limit, false),
        };
        let (probe, from_string) = smaller(timeout);
        let (connect, connect_from_string) = smaller(connect_timeout);
        Deadlines {
            connect,
            probe,
            from_string,
            connect_from_string,
        }
    }

    /// A plain TCP target (sslmode `prefer`, SCRAM only), named by `display`: for tests, the lab
    /// and benches. Adjust the public fields as needed.
    pub fn tcp(host: &str, port: u16, dbname: &str, display: impl Into<String>) -> ConnTarget {
        ConnTarget {
            endpoint: Endpoint::Tcp {
                host: Some(host.to_owned()),
                addr: None,
                port,
            },
            dbname: dbname.to_owned(),
            application_name: None,
            options: None,
            client_encoding: None,
            tls: TlsSettings {
                sni: true,
                ..TlsSettings::default()
            },
            auth: AuthPolicy::default(),
            connect_timeout: None,
            session_attrs: SessionAttrs::Any,
            display: display.into(),
            from_string: None,
            provenance: Provenance::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_display_like_libpq_addresses() {
        let tcp = |host: Option<&str>, addr: Option<&str>| Endpoint::Tcp {
            host: host.map(Into::into),
            addr: addr.map(|a| a.parse().unwrap()),
            port: 5433,
        };
        assert_eq!(tcp(Some("db"), None).to_string(), "db:5433");
        assert_eq!(tcp(Some("::1"), None).to_string(), "[::1]:5433");
        assert_eq!(tcp(None, Some("10.0.0.5")).to_string(), "10.0.0.5:5433");
        assert_eq!(
            tcp(Some("db"), Some("10.0.0.5")).to_string(),
            "db (10.0.0.5):5433"
        );
        let unix = Endpoint::Unix {
            dir: "/run/postgresql".into(),
            port: 5432,
        };
        assert_eq!(unix.to_string(), "/run/postgresql/.s.PGSQL.5432");
    }

    #[test]
    fn client_key_never_prints() {
        let c = ClientCert {
            cert_path: "/etc/c.crt".into(),
            key_path: "/etc/c.key".into(),
            chain: vec![],
            key: PrivateKeyDer::Pkcs8(b"secret-key-bytes".to_vec().into()),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("/etc/c.key"));
    }

    #[test]
    fn default_policy_is_scram_only() {
        let p = AuthPolicy::default();
        assert!(p.allows(AuthMethod::ScramSha256));
        assert!(!p.allows(AuthMethod::Password));
        assert!(!p.allows(AuthMethod::Md5));
        assert!(!p.allows(AuthMethod::None));
    }
}
