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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert`; `None` means the Mozilla roots (webpki-roots) for the verify modes.
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
}

impl ConnTarget {
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
