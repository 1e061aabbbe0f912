//! Checks every value as libpq checks it and decides what a probe of each host uses.
//!
//! What needs a file (certificates, the password file) is described here by path; the config
//! loader reads it. Defaults that live in the home directory (`~/.postgresql/root.crt`,
//! `~/.postgresql/postgresql.crt` and `.key`, `~/.postgresql/root.crl`, `~/.pgpass`) are
//! "used when present", exactly where libpq uses them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::auth::{parse_require_auth, RequireAuth};
use super::hosts;
pub use super::hosts::HostSpec;
use super::keywords::{Fate, KEYWORDS};
use super::{Error, Options};
use crate::secret::Password;
use crate::topology::{ChannelBinding, Endpoint, SessionAttrs, Source, SslMode};

/// The database a string without `dbname` connects to (a documented deviation from libpq, which
/// would use the login's name).
pub const DEFAULT_DBNAME: &str = "postgres";

/// What resolving needs besides the options; no I/O happens here.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// Where an empty host points (libpq's compiled-in socket directory).
    pub default_socket_dir: &'a Path,
    /// Relative paths are taken relative to this directory (the config file's).
    pub base_dir: &'a Path,
    /// The home directory (`$HOME`), when known.
    pub home: Option<&'a Path>,
    /// `$PGPASSFILE`, when set and not empty.
    pub pgpassfile_env: Option<&'a str>,
}

/// Where a probe finds the root certificates (`sslrootcert`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    /// None: the mode checks no certificate and no default file applies.
    None,
    /// A verify mode, no `sslrootcert`, and no home directory for libpq's
    /// `~/.postgresql/root.crt`: an error for a TCP host (a Unix socket never uses TLS).
    Unavailable,
    /// `sslrootcert=system`: the public roots (rotascope: the Mozilla roots of webpki-roots).
    System(Source),
    /// A PEM file; `required` when its absence is an error (given explicitly, or needed by a
    /// verify mode); otherwise it is used only if present (libpq's `~/.postgresql/root.crt`).
    File {
        /// The path.
        path: PathBuf,
        /// Whether a missing file is an error.
        required: bool,
        /// Where the path came from.
        source: Source,
    },
}

/// A file that may be named or defaulted: `required` when named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// The path.
    pub path: PathBuf,
    /// Whether a missing file is an error (named explicitly) or just means "none" (a default).
    pub required: bool,
    /// Where the path came from.
    pub source: Source,
}

/// The TLS side, before any file is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSpec {
    /// `sslmode` (after `requiressl`, `ssl=true` and `sslrootcert=system` defaults).
    pub mode: SslMode,
    /// Where the mode came from.
    pub mode_source: Source,
    /// Root certificates.
    pub root: RootCert,
    /// The client certificate (`sslcert`, default `~/.postgresql/postgresql.crt`), unless
    /// `sslcertmode=disable`.
    pub client_cert: Option<FileSpec>,
    /// Its key (`sslkey`, default `~/.postgresql/postgresql.key`).
    pub client_key: Option<FileSpec>,
    /// `sslcrl` (default `~/.postgresql/root.crl` when a root file is used).
    pub crl: Option<FileSpec>,
    /// `sslsni`.
    pub sni: bool,
}

/// A connection string resolved: every value checked, one [`HostSpec`] per host.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The hosts, in order (at least one).
    pub hosts: Vec<HostSpec>,
    /// The database.
    pub dbname: String,
    /// The user the string names.
    pub user: Option<String>,
    /// The password the string carries.
    pub password: Option<Password>,
    /// TLS.
    pub tls: TlsSpec,
    /// `require_auth`, when set.
    pub require_auth: Option<RequireAuth>,
    /// `require_auth` as written (for messages; it is a list of method names).
    pub require_auth_text: Option<String>,
    /// `channel_binding`.
    pub channel_binding: ChannelBinding,
    /// `connect_timeout` (libpq: at least 2 s when set; 0 or negative means none).
    pub connect_timeout: Option<Duration>,
    /// `target_session_attrs`.
    pub session_attrs: SessionAttrs,
    /// `application_name`.
    pub application_name: Option<String>,
    /// `options`.
    pub options: Option<String>,
    /// `client_encoding`.
    pub client_encoding: Option<String>,
    /// The password file to consult for a candidate without a password: `passfile`, else
    /// `$PGPASSFILE`, else `~/.pgpass`.
    pub passfile: Option<FileSpec>,
    /// Where each shown setting came from.
    pub sources: Vec<(&'static str, Source)>,
}

/// libpq's `pqParseIntParam`: an optionally signed decimal `int`, blanks allowed around it.
pub fn parse_int(text: &str) -> Option<i32> {
    let t = text.trim_matches(|c: char| c.is_ascii() && super::kv::is_blank(c as u8));
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i32>().ok()
}

/// PostgreSQL's `parse_bool` for false: `false`, `off`, `no`, `0` and their unique prefixes,
/// case-insensitively.
fn is_false(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase();
    !t.is_empty()
        && (t == "0"
            || "false".starts_with(&t)
            || "no".starts_with(&t)
            || (t.len() >= 2 && "off".starts_with(&t)))
}

fn source(options: &Options, keyword: &str) -> Source {
    options
        .get(keyword)
        .map_or(Source::Default, |v| v.source.clone())
}

fn path_in(ctx: &Context<'_>, written: &str) -> PathBuf {
    ctx.base_dir.join(written)
}

/// Checks every option and splits the hosts.
pub fn resolve(options: &Options, ctx: &Context<'_>) -> Result<Resolved, Error> {
    refuse_unsupported(options)?;
    let hosts = hosts::split(options, ctx.default_socket_dir)?;
    let mut sources: Vec<(&'static str, Source)> = Vec::new();

    let dbname = options
        .non_empty("dbname")
        .unwrap_or(DEFAULT_DBNAME)
        .to_owned();
    sources.push(("dbname", source(options, "dbname")));
    sources.push(("user", source(options, "user")));

    let tls = tls(options, ctx)?;
    sources.push(("sslmode", tls.mode_source.clone()));
    // libpq: "host name must be specified for a verified SSL connection".
    let nameless = |h: &HostSpec| matches!(h.endpoint, Endpoint::Tcp { host: None, .. });
    if tls.mode == SslMode::VerifyFull && hosts.iter().any(nameless) {
        return Err(Error::bad_value(
            "hostaddr",
            "sslmode verify-full checks the certificate against the host name, and a hostaddr without host has none (add host=)",
        ));
    }

    let require_auth_text = options.non_empty("require_auth").map(str::to_owned);
    let require_auth = parse_require_auth(require_auth_text.as_deref().unwrap_or(""))?;
    if require_auth.is_some() {
        sources.push(("require_auth", source(options, "require_auth")));
    }
    let channel_binding = match options.text("channel_binding") {
        None => ChannelBinding::Prefer,
        Some("disable") => ChannelBinding::Disable,
        Some("prefer") => ChannelBinding::Prefer,
        Some("require") => ChannelBinding::Require,
        Some(other) => {
            return Err(Error::bad_enum(
                "channel_binding",
                other,
                "disable, prefer or require",
            ))
        }
    };
    sources.push(("channel_binding", source(options, "channel_binding")));

    let connect_timeout = match options.text("connect_timeout") {
        None => None,
        Some(t) => {
            let secs = parse_int(t).ok_or_else(|| {
                Error::bad_value("connect_timeout", "connect_timeout is not an integer")
            })?;
            // libpq: 0 or negative waits forever; less than 2 s is raised to 2 s.
            (secs > 0).then(|| Duration::from_secs(u64::from(secs.max(2).unsigned_abs())))
        }
    };
    sources.push(("connect_timeout", source(options, "connect_timeout")));

    let session_attrs = match options.text("target_session_attrs") {
        None => SessionAttrs::Any,
        Some(t) => SessionAttrs::parse(t).ok_or_else(|| {
            Error::bad_enum(
                "target_session_attrs",
                t,
                "any, read-write, read-only, primary, standby or prefer-standby",
            )
        })?,
    };
    sources.push((
        "target_session_attrs",
        source(options, "target_session_attrs"),
    ));

    check_accepted(options)?;

    let passfile = match (options.non_empty("passfile"), ctx.pgpassfile_env, ctx.home) {
        (Some(p), _, _) => Some(FileSpec {
            path: path_in(ctx, p),
            required: false,
            source: source(options, "passfile"),
        }),
        (None, Some(env), _) => Some(FileSpec {
            path: PathBuf::from(env),
            required: false,
            source: Source::Env("PGPASSFILE".into()),
        }),
        (None, None, Some(home)) => Some(FileSpec {
            path: home.join(".pgpass"),
            required: false,
            source: Source::Default,
        }),
        (None, None, None) => None,
    };

    for k in ["application_name", "options", "client_encoding"] {
        if options.get(k).is_some() {
            sources.push((k, source(options, k)));
        }
    }
    Ok(Resolved {
        hosts,
        dbname,
        user: options.non_empty("user").map(str::to_owned),
        password: options.non_empty("password").map(Password::new),
        tls,
        require_auth,
        require_auth_text,
        channel_binding,
        connect_timeout,
        session_attrs,
        application_name: options.non_empty("application_name").map(str::to_owned),
        options: options.non_empty("options").map(str::to_owned),
        client_encoding: options.non_empty("client_encoding").map(str::to_owned),
        passfile,
        sources,
    })
}

/// Keywords refused outright (when set to a non-empty value: libpq ignores empty ones too).
fn refuse_unsupported(options: &Options) -> Result<(), Error> {
    for k in KEYWORDS {
        if let Fate::Refused(why) = k.fate {
            if options.non_empty(k.name).is_some() {
                return Err(Error::Unsupported {
                    keyword: k.name,
                    reason: why.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// The keywords that change nothing or part of whose values are refused: checked as libpq
/// checks them.
fn check_accepted(options: &Options) -> Result<(), Error> {
    let unsupported = |keyword: &'static str, reason: &str| Error::Unsupported {
        keyword,
        reason: reason.to_owned(),
    };
    if let Some(v) = options.text("keepalives") {
        // libpq: strtol must consume everything (an empty value is 0).
        let t = v.trim_start_matches(|c: char| c.is_ascii() && super::kv::is_blank(c as u8));
        let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
        if !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.is_empty() && !t.is_empty()) {
            return Err(Error::bad_value(
                "keepalives",
                "keepalives parameter must be an integer",
            ));
        }
    }
    for k in [
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
    ] {
        if let Some(v) = options.text(k) {
            if parse_int(v).is_none() {
                return Err(Error::bad_value(k, format!("{k} is not an integer")));
            }
        }
    }
    if let Some(v) = options.text("gssencmode") {
        match v {
            "disable" | "prefer" => {}
            "require" => {
                return Err(unsupported(
                    "gssencmode",
                    "`require` needs GSSAPI encryption, which rotascope does not do (use disable or prefer)",
                ))
            }
            other => return Err(Error::bad_enum("gssencmode", other, "disable, prefer or require")),
        }
    }
    if let Some(v) = options.text("sslcertmode") {
        match v {
            "disable" | "allow" => {}
            "require" => {
                return Err(unsupported(
                    "sslcertmode",
                    "`require` (fail unless the server asks for the client certificate) is not supported; use allow",
                ))
            }
            other => return Err(Error::bad_enum("sslcertmode", other, "disable, allow or require")),
        }
    }
    if let Some(v) = options.text("sslnegotiation") {
        match v {
            "postgres" => {}
            "direct" => {
                return Err(unsupported(
                    "sslnegotiation",
                    "`direct` TLS negotiation is not supported; use postgres (the default)",
                ))
            }
            other => {
                return Err(Error::bad_enum(
                    "sslnegotiation",
                    other,
                    "postgres or direct",
                ))
            }
        }
    }
    if let Some(v) = options.text("load_balance_hosts") {
        if !matches!(v, "disable" | "random") {
            return Err(Error::bad_enum(
                "load_balance_hosts",
                v,
                "disable or random",
            ));
        }
    }
    if let Some(v) = options.non_empty("replication") {
        if !is_false(v) {
            return Err(unsupported(
                "replication",
                "replication connections cannot run the probe query (leave replication out, or false)",
            ));
        }
    }
    check_tls_versions(options)
}

/// `ssl_min_protocol_version` / `ssl_max_protocol_version`: libpq's checks, then what rustls
/// (TLS 1.2 and 1.3) can honour without a setting of its own.
fn check_tls_versions(options: &Options) -> Result<(), Error> {
    const VERSIONS: [&str; 4] = ["tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"];
    let get = |k: &'static str| -> Result<Option<usize>, Error> {
        match options.non_empty(k) {
            None => Ok(None),
            Some(v) => VERSIONS
                .iter()
                .position(|x| x.eq_ignore_ascii_case(v))
                .map(Some)
                .ok_or_else(|| Error::bad_enum(k, v, "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3")),
        }
    };
    let min = get("ssl_min_protocol_version")?;
    let max = get("ssl_max_protocol_version")?;
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(Error::bad_value(
                "ssl_min_protocol_version",
                "invalid SSL protocol version range (ssl_min_protocol_version above ssl_max_protocol_version)",
            ));
        }
    }
    if min == Some(3) {
        return Err(Error::Unsupported {
            keyword: "ssl_min_protocol_version",
            reason: "a TLS 1.3-only minimum cannot be enforced; rustls negotiates TLS 1.2 or 1.3 (leave it out or use TLSv1.2)".into(),
        });
    }
    if max.is_some_and(|m| m < 3) {
        return Err(Error::Unsupported {
            keyword: "ssl_max_protocol_version",
            reason: "a maximum below TLSv1.3 cannot be enforced; rustls negotiates TLS 1.2 or 1.3 (leave it out or use TLSv1.3)".into(),
        });
    }
    Ok(())
}

/// `sslmode`, the root certificates, the client certificate and the CRL, as libpq picks them.
fn tls(options: &Options, ctx: &Context<'_>) -> Result<TlsSpec, Error> {
    let rootcert = options.non_empty("sslrootcert");
    let system = rootcert == Some("system");
    let (mode, mode_source) = match options.text("sslmode") {
        Some(m) => (
            SslMode::parse(m).ok_or_else(|| {
                Error::bad_enum(
                    "sslmode",
                    m,
                    "disable, allow, prefer, require, verify-ca or verify-full",
                )
            })?,
            source(options, "sslmode"),
        ),
        // libpq 16: sslrootcert=system strengthens the default to verify-full.
        None if system => (SslMode::VerifyFull, Source::Default),
        None => (SslMode::Prefer, Source::Default),
    };
    if system && mode != SslMode::VerifyFull {
        return Err(Error::BadValue {
            keyword: "sslmode",
            shown: None,
            reason: format!(
                "weak sslmode \"{}\" may not be used with sslrootcert=system (use \"verify-full\")",
                mode.as_str()
            ),
        });
    }
    let dot_postgresql = ctx.home.map(|h| h.join(".postgresql"));
    let named = |k: &'static str| {
        options.non_empty(k).map(|p| FileSpec {
            path: path_in(ctx, p),
            required: true,
            source: source(options, k),
        })
    };
    let default_file = |name: &str| {
        dot_postgresql.as_ref().map(|d| FileSpec {
            path: d.join(name),
            required: false,
            source: Source::Default,
        })
    };
    let root = if mode == SslMode::Disable {
        RootCert::None
    } else if system {
        RootCert::System(source(options, "sslrootcert"))
    } else if let Some(f) = named("sslrootcert") {
        RootCert::File {
            path: f.path,
            required: true,
            source: f.source,
        }
    } else {
        match default_file("root.crt") {
            Some(f) => RootCert::File {
                path: f.path,
                required: mode.verifies(),
                source: Source::Default,
            },
            None if mode.verifies() => RootCert::Unavailable,
            None => RootCert::None,
        }
    };
    let certs_off = mode == SslMode::Disable || options.text("sslcertmode") == Some("disable");
    let (client_cert, client_key) = if certs_off {
        (None, None)
    } else {
        (
            named("sslcert").or_else(|| default_file("postgresql.crt")),
            named("sslkey").or_else(|| default_file("postgresql.key")),
        )
    };
    let crl = match &root {
        RootCert::File { .. } => named("sslcrl").or_else(|| default_file("root.crl")),
        _ => None,
    };
    if matches!(root, RootCert::System(_)) && options.non_empty("sslcrl").is_some() {
        return Err(Error::bad_value(
            "sslcrl",
            "sslcrl applies to a root certificate file; it cannot be combined with sslrootcert=system",
        ));
    }
    let sni = options.text("sslsni").is_none_or(|v| v.starts_with('1'));
    Ok(TlsSpec {
        mode,
        mode_source,
        root,
        client_cert,
        client_key,
        crl,
        sni,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_libpq_reads_them() {
        assert_eq!(parse_int(" 42 "), Some(42));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("-1"), Some(-1));
        for bad in ["", "4x", "0x10", "99999999999", " ", "1.5"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn false_values() {
        for f in ["0", "false", "f", "NO", "n", "off", "of"] {
            assert!(is_false(f), "{f}");
        }
        for t in ["1", "true", "on", "o", "database", "yes", ""] {
            assert!(!is_false(t), "{t}");
        }
    }
}
