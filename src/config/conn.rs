//! Connection strings: libpq URLs (`postgres://user:pw@host:5432/db?sslmode=require`) and
//! `key=value` strings (`host=h port=5433 dbname=db`).
//!
//! The credentials and TLS options are taken out here, before tokio-postgres sees the string:
//! the credentials because a candidate supplies its own (rotascope's secrets override what a URL
//! carries), the TLS options because tokio-postgres knows no `verify-ca`/`verify-full`. What is
//! left is parsed by `tokio_postgres::Config::from_str`, so every other option means what it
//! means to libpq.
//!
//! # Where a URL's credentials end
//! tokio-postgres takes everything up to the first `@` of the whole string as `user:password`,
//! even past a `/` or `?` (libpq stops at the first `/`). People paste passwords unencoded, and a
//! password may contain `/`, `?`, `:` or `@`, so rotascope reads the credentials up to the
//! **last** `@` of the string, as long as the user part (before the first `:`) has no `/` or `?`
//! (which a user name never has); otherwise the `@` belongs to the path or query and the
//! credentials are the usual `user:password@` before the first `/` or `?`. So
//! `postgres://app:2024/Spring!@db/app` is user `app`, password `2024/Spring!`, host `db`. The
//! price: an `@` in the database name or a query value of a URL that also has credentials or a
//! port must be percent-encoded (`%40`), or it is taken as the end of the credentials (the
//! password is then never shown, and the wrong host is easy to spot in `config check`).
//! Whatever is read as a password never reaches the display string, and the string handed to
//! tokio-postgres carries no credentials at all (an `@` left in its path or query is
//! percent-encoded so tokio-postgres cannot mistake it for one); should tokio-postgres still find a
//! user or password in it, the string is refused.
//!
//! # Default database: `postgres`
//! A deliberate deviation from libpq: when the string names no `dbname` (or an empty one),
//! rotascope connects to the database `postgres`, not to a database named like the login. With
//! several logins per node (`app_a`, `app_b` during a rotation) libpq's default would make every
//! login ask for a different database, and a missing one (`3D000`) would look like a node
//! failure.

use std::path::Path;
use std::str::FromStr;

use crate::secret::Password;
use std::sync::Arc;

use crate::topology::{
    AuthPolicy, ConnTarget, Endpoint, SessionAttrs, SslMode, TlsSettings, DEFAULT_PORT,
};

/// A parsed connection string: where to connect, plus the credentials it carried, if any.
#[derive(Debug)]
pub(crate) struct ParsedConn {
    /// Where and how to connect; `pg` has no user or password.
    pub target: ConnTarget,
    /// The user the string named (URL userinfo, `?user=` or `user=`).
    pub user: Option<String>,
    /// The password the string carried; a secret like any other.
    pub password: Option<Password>,
}

/// Why a connection string was refused. Messages never quote the string.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConnError {
    /// `sslmode` is not one libpq knows.
    SslMode(String),
    /// Anything else.
    Invalid(String),
}

/// One `key=value` option, decoded.
struct Opt {
    key: String,
    value: String,
    /// The option as written (URL query form), for rebuilding a URL unchanged.
    raw: String,
}

/// Parses `s`; a relative `sslrootcert` is taken relative to `base_dir` (the config's directory).
pub(crate) fn parse(s: &str, base_dir: &Path) -> Result<ParsedConn, ConnError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(ConnError::Invalid("empty connection string".into()));
    }
    let split = if is_url(s) {
        split_url(s)?
    } else {
        split_kv(s)?
    };
    let mut ssl = SslMode::default();
    let mut sslrootcert = None;
    for (key, value) in &split.tls {
        match key.as_str() {
            "sslmode" => {
                ssl = SslMode::parse(value).ok_or_else(|| ConnError::SslMode(value.clone()))?
            }
            _ => sslrootcert = Some(base_dir.join(value)),
        }
    }
    let pg = tokio_postgres::Config::from_str(&split.for_pg).map_err(|e| {
        // tokio-postgres says "invalid connection string"; the cause says what is invalid.
        let reason = match std::error::Error::source(&e) {
            Some(cause) => cause.to_string(),
            None => e.to_string(),
        };
        ConnError::Invalid(reason)
    })?;
    if pg.get_hosts().is_empty() {
        return Err(ConnError::Invalid("no host given".into()));
    }
    check_no_credentials(&pg)?;
    let target = to_target(&pg, ssl, sslrootcert, split.display)?;
    Ok(ParsedConn {
        target,
        user: split.user.filter(|u| !u.is_empty()),
        password: split.password.filter(|p| !p.is_empty()).map(Password::new),
    })
}

/// The rotascope target of a one-host tokio-postgres config.
// Interim: the libpq-exact conninfo parser replaces this whole module (issue 8).
fn to_target(
    pg: &tokio_postgres::Config,
    ssl: SslMode,
    sslrootcert: Option<std::path::PathBuf>,
    display: String,
) -> Result<ConnTarget, ConnError> {
    use tokio_postgres::config::Host;
    if pg.get_hosts().len() > 1 {
        return Err(ConnError::Invalid(
            "several hosts in one connection string: list each host as its own node".into(),
        ));
    }
    let port = pg.get_ports().first().copied().unwrap_or(DEFAULT_PORT);
    let endpoint = match &pg.get_hosts()[0] {
        Host::Tcp(h) => Endpoint::Tcp {
            host: Some(h.clone()),
            addr: pg.get_hostaddrs().first().copied(),
            port,
        },
        Host::Unix(dir) => Endpoint::Unix {
            dir: dir.clone(),
            port,
        },
    };
    let root_cert = match sslrootcert {
        Some(path) => Some(Arc::new(
            super::tls_files::read_certs(&path).map_err(ConnError::Invalid)?,
        )),
        None => None,
    };
    Ok(ConnTarget {
        endpoint,
        dbname: pg
            .get_dbname()
            .filter(|d| !d.is_empty())
            .unwrap_or(DEFAULT_DBNAME)
            .to_owned(),
        application_name: pg.get_application_name().map(str::to_owned),
        options: pg.get_options().map(str::to_owned),
        client_encoding: None,
        tls: TlsSettings {
            mode: ssl,
            root_cert,
            client_cert: None,
            crl: None,
            sni: true,
        },
        auth: AuthPolicy::default(),
        connect_timeout: pg.get_connect_timeout().copied(),
        session_attrs: SessionAttrs::Any,
        display,
        from_string: None,
    })
}

/// The database connected to when a connection string names none (see the module docs).
pub(crate) const DEFAULT_DBNAME: &str = "postgres";

/// Refuses a tokio-postgres config that still carries credentials: they were meant to be taken
/// out, and one found here would be in the display string too. The message quotes nothing.
fn check_no_credentials(pg: &tokio_postgres::Config) -> Result<(), ConnError> {
    if pg.get_password().is_some() || pg.get_user().is_some() {
        return Err(ConnError::Invalid(
            "credentials in a form rotascope cannot separate from the rest of the string \
             (percent-encode `@`, `/`, `?` and `:` in the user and password)"
                .into(),
        ));
    }
    Ok(())
}

/// The password a connection string carries, if any (for redaction; never fails).
pub(crate) fn embedded_password(s: &str) -> Option<String> {
    let s = s.trim();
    let split = if is_url(s) { split_url(s) } else { split_kv(s) };
    split.ok()?.password
}

fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// A connection string taken apart.
struct Split {
    /// What tokio-postgres parses: no credentials, no TLS options.
    for_pg: String,
    /// What people see: everything but the password.
    display: String,
    user: Option<String>,
    password: Option<String>,
    /// `sslmode` / `sslrootcert`, in order.
    tls: Vec<(String, String)>,
}

/// Where the credentials of a URL end: the byte offset of the `@` after them in `rest` (the URL
/// after `scheme://`), if it has any. See the module docs for the rule.
pub(crate) fn userinfo_end(rest: &str) -> Option<usize> {
    let last = rest.rfind('@')?;
    if plausible_user(&rest[..last]) {
        return Some(last);
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    rest[..authority_end].rfind('@')
}

/// True when the user part of `userinfo` (before its first `:`) could be a user name.
pub(crate) fn plausible_user(userinfo: &str) -> bool {
    let user = userinfo.split(':').next().unwrap_or("");
    !user.contains(['/', '?'])
}

fn split_url(s: &str) -> Result<Split, ConnError> {
    let scheme_end = s.find("://").map(|i| i + 3).unwrap_or(0);
    let (scheme, rest) = s.split_at(scheme_end);
    let (userinfo, after) = match userinfo_end(rest) {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let hosts_end = after.find(['/', '?']).unwrap_or(after.len());
    let (hosts, tail) = after.split_at(hosts_end);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut user = None;
    let mut password = None;
    let mut shown_userinfo = None;
    if let Some(ui) = userinfo {
        let (u, p) = match ui.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (ui, None),
        };
        user = Some(percent_decode(u));
        password = p.map(percent_decode);
        shown_userinfo = Some(u);
    }
    let opts: Vec<Opt> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Opt {
                key: percent_decode(k),
                value: percent_decode(v),
                raw: p.to_owned(),
            }
        })
        .collect();
    let mut tls = Vec::new();
    let mut pg_params = Vec::new();
    let mut shown_params = Vec::new();
    for o in opts {
        match o.key.as_str() {
            "user" => {
                user = Some(o.value);
                shown_params.push(o.raw);
            }
            "password" => password = Some(o.value),
            "sslmode" | "sslrootcert" => {
                shown_params.push(o.raw);
                tls.push((o.key, o.value));
            }
            _ => {
                shown_params.push(o.raw.clone());
                pg_params.push(encode_at(&o.raw));
            }
        }
    }
    let with_query = |base: String, params: &[String]| {
        if params.is_empty() {
            base
        } else {
            format!("{base}?{}", params.join("&"))
        }
    };
    // An `@` left in the path or query would be read as the end of credentials by tokio-postgres.
    let for_pg = with_query(format!("{scheme}{hosts}{}", encode_at(path)), &pg_params);
    let shown_user = shown_userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    let display = with_query(format!("{scheme}{shown_user}{hosts}{path}"), &shown_params);
    Ok(Split {
        for_pg,
        display,
        user,
        password,
        tls,
    })
}

/// `s` with every `@` percent-encoded (tokio-postgres decodes it back in a value).
fn encode_at(s: &str) -> String {
    s.replace('@', "%40")
}

fn split_kv(s: &str) -> Result<Split, ConnError> {
    let opts = tokenize_kv(s)?;
    let mut tls = Vec::new();
    let mut user = None;
    let mut password = None;
    let mut pg_parts = Vec::new();
    let mut shown_parts = Vec::new();
    for o in opts {
        let shown = format!("{}={}", o.key, quote_if_needed(&o.value));
        match o.key.as_str() {
            "user" => {
                user = Some(o.value);
                shown_parts.push(shown);
            }
            "password" => password = Some(o.value),
            "sslmode" | "sslrootcert" => {
                shown_parts.push(shown);
                tls.push((o.key, o.value));
            }
            _ => {
                pg_parts.push(format!("{}='{}'", o.key, escape_quoted(&o.value)));
                shown_parts.push(shown);
            }
        }
    }
    Ok(Split {
        for_pg: pg_parts.join(" "),
        display: shown_parts.join(" "),
        user,
        password,
        tls,
    })
}

/// Splits libpq's `key = value` syntax: values bare or single-quoted, `\` escapes either way.
fn tokenize_kv(s: &str) -> Result<Vec<Opt>, ConnError> {
    let mut out = Vec::new();
    // Errors give a character position, never text: a misplaced quote could make part of a
    // password look like an option name.
    let mut it = s.chars().enumerate().peekable();
    loop {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(key_at, _)) = it.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = it.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if it.next().map(|(_, c)| c) != Some('=') {
            return Err(ConnError::Invalid(format!(
                "expected `=` after the option name at character {} (use a postgres:// URL or key=value pairs)",
                key_at + 1
            )));
        }
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if let Some((quote_at, _)) = it.next_if(|(_, c)| *c == '\'') {
            loop {
                match it.next().map(|(_, c)| c) {
                    Some('\'') => break,
                    Some('\\') => value.extend(it.next().map(|(_, c)| c)),
                    Some(c) => value.push(c),
                    None => {
                        return Err(ConnError::Invalid(format!(
                            "unterminated quoted value (the quote at character {})",
                            quote_at + 1
                        )))
                    }
                }
            }
        } else {
            while let Some((_, c)) = it.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(it.next().map(|(_, c)| c));
                } else {
                    value.push(c);
                }
            }
        }
        out.push(Opt {
            key,
            raw: String::new(),
            value,
        });
    }
    Ok(out)
}

fn escape_quoted(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

fn quote_if_needed(v: &str) -> String {
    if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        format!("'{}'", escape_quoted(v))
    } else {
        v.to_owned()
    }
}

/// Decodes `%XX` escapes (invalid ones are kept as written).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ParsedConn {
        parse(s, Path::new("/etc/rotascope")).expect("parses")
    }

    #[test]
    fn url_credentials_are_taken_out_of_pg_and_display() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), TEST_CA).unwrap();
        let c = parse(
            "postgres://app:s%40cret@db1:5433/main?sslmode=verify-full&sslrootcert=ca.pem&connect_timeout=4",
            dir.path(),
        )
        .unwrap();
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("s@cret"));
        assert_eq!(c.target.tls.mode, SslMode::VerifyFull);
        assert_eq!(
            c.target.tls.root_cert.as_ref().map(|f| f.path.clone()),
            Some(dir.path().join("ca.pem"))
        );
        assert_eq!(
            c.target.display,
            "postgres://app@db1:5433/main?sslmode=verify-full&sslrootcert=ca.pem&connect_timeout=4"
        );
        assert_eq!(c.target.dbname, "main");
        assert_eq!(c.target.endpoint.to_string(), "db1:5433");
        assert_eq!(
            c.target.connect_timeout,
            Some(std::time::Duration::from_secs(4))
        );
    }

    #[test]
    fn url_password_query_parameter_is_a_secret_too() {
        let c = p("postgresql://h/db?user=u&password=qpass");
        assert_eq!(c.user.as_deref(), Some("u"));
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("qpass"));
        assert_eq!(c.target.display, "postgresql://h/db?user=u");
    }

    #[test]
    fn key_value_strings() {
        let c = p("host=b port=5433 dbname=db user=app password='it\\'s x' sslmode=require");
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.target.tls.mode, SslMode::Require);
        assert_eq!(
            c.target.display,
            "host=b port=5433 dbname=db user=app sslmode=require"
        );
        assert_eq!(c.target.endpoint.port(), 5433);
        let q = p("host=b password='a b\\'c'");
        assert_eq!(q.password.as_ref().map(|p| p.expose()), Some("a b'c"));
    }

    #[test]
    fn unencoded_special_characters_stay_in_the_password() {
        for (written, password) in [
            ("2024/Spring!", "2024/Spring!"),
            ("a/b@c", "a/b@c"),
            ("p?ss", "p?ss"),
            ("x@y", "x@y"),
            ("a:b:c", "a:b:c"),
            ("a%2Fb%3Fc", "a/b?c"),
        ] {
            let s = format!("postgres://app:{written}@db:5433/app?connect_timeout=4");
            let c = p(&s);
            assert_eq!(c.user.as_deref(), Some("app"), "{s}");
            assert_eq!(c.password.as_ref().map(|p| p.expose()), Some(password));
            assert_eq!(
                c.target.display,
                "postgres://app@db:5433/app?connect_timeout=4"
            );
            assert_eq!(c.target.endpoint.to_string(), "db:5433", "{s}");
            assert_eq!(c.target.dbname, "app");
            assert_eq!(embedded_password(&s).as_deref(), Some(password));
        }
    }

    #[test]
    fn an_at_in_the_path_or_query_is_no_credential() {
        let c = p("postgres://h/d@b?application_name=me@corp&password=q@p");
        assert!(c.user.is_none());
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("q@p"));
        assert_eq!(c.target.dbname, "d@b");
        assert_eq!(c.target.application_name.as_deref(), Some("me@corp"));
        assert_eq!(
            c.target.display,
            "postgres://h/d@b?application_name=me@corp"
        );
        // An Azure-style user name with an unencoded `@`.
        let c = p("postgres://app@srv:pw@srv.example.com/db");
        assert_eq!(c.user.as_deref(), Some("app@srv"));
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("pw"));
        assert_eq!(c.target.display, "postgres://app@srv@srv.example.com/db");
    }

    #[test]
    fn the_database_defaults_to_postgres() {
        for s in [
            "postgres://h",
            "postgres://h/",
            "postgres://h/?connect_timeout=3",
            "host=h",
            "host=h dbname=''",
        ] {
            assert_eq!(p(s).target.dbname, DEFAULT_DBNAME, "{s}");
        }
        assert_eq!(p("host=h dbname=app").target.dbname, "app");
        // Shown as written: the default is not part of the node name.
        assert_eq!(p("postgres://h/").target.display, "postgres://h/");
    }

    #[test]
    fn a_config_still_carrying_credentials_is_refused_without_quoting_them() {
        let mut pg = tokio_postgres::Config::new();
        pg.host("h");
        assert_eq!(check_no_credentials(&pg), Ok(()));
        pg.password("leftover-secret");
        let Err(ConnError::Invalid(m)) = check_no_credentials(&pg) else {
            panic!("refused");
        };
        assert!(!m.contains("leftover-secret"), "{m}");
        let mut pg = tokio_postgres::Config::new();
        pg.user("someone");
        assert!(check_no_credentials(&pg).is_err());
    }

    /// A self-signed CA certificate (PEM), for parsing only.
    const TEST_CA: &str = include_str!("../../tests/data/test-ca.pem");

    #[test]
    fn several_hosts_are_refused_for_now() {
        assert!(matches!(
            parse("postgres://db1:5433,db2/main", Path::new("/")),
            Err(ConnError::Invalid(m)) if m.contains("several hosts")
        ));
    }

    #[test]
    fn defaults_and_errors() {
        let c = p("postgres://h/db");
        assert_eq!(c.target.tls.mode, SslMode::Prefer);
        assert!(c.user.is_none() && c.password.is_none());
        assert_eq!(
            parse("postgres://h/db?sslmode=sometimes", Path::new("/")).unwrap_err(),
            ConnError::SslMode("sometimes".into())
        );
        assert!(matches!(
            parse("host=h bogus=1", Path::new("/")),
            Err(ConnError::Invalid(m)) if m.contains("bogus")
        ));
        assert!(matches!(
            parse("dbname=x", Path::new("/")),
            Err(ConnError::Invalid(m)) if m.contains("no host")
        ));
        assert!(matches!(
            parse("host=h password='unterminated", Path::new("/")),
            Err(ConnError::Invalid(m)) if m.contains("unterminated") && m.contains("character 17")
        ));
    }
}
