//! Connection strings: libpq URLs (`postgres://user:pw@host:5432/db?sslmode=require`) and
//! `key=value` strings (`host=h port=5433 dbname=db`).
//!
//! The credentials and TLS options are taken out here, before tokio-postgres sees the string:
//! the credentials because a candidate supplies its own (rotascope's secrets override what a URL
//! carries), the TLS options because tokio-postgres knows no `verify-ca`/`verify-full`. What is
//! left is parsed by `tokio_postgres::Config::from_str`, so every other option means what it
//! means to libpq.

use std::path::Path;
use std::str::FromStr;

use crate::secret::Password;
use crate::topology::{ConnTarget, SslMode};

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
    Ok(ParsedConn {
        target: ConnTarget {
            pg,
            ssl,
            sslrootcert,
            display: split.display,
        },
        user: split.user.filter(|u| !u.is_empty()),
        password: split.password.filter(|p| !p.is_empty()).map(Password::new),
    })
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

fn split_url(s: &str) -> Result<Split, ConnError> {
    let scheme_end = s.find("://").map(|i| i + 3).unwrap_or(0);
    let (scheme, rest) = s.split_at(scheme_end);
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
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
                pg_params.push(o.raw);
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
    let for_pg = with_query(format!("{scheme}{hosts}{path}"), &pg_params);
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
        let c = p("postgres://app:s%40cret@db1:5433,db2/main?sslmode=verify-full&sslrootcert=ca.pem&connect_timeout=4");
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("s@cret"));
        assert_eq!(c.target.ssl, SslMode::VerifyFull);
        assert_eq!(
            c.target.sslrootcert.as_deref(),
            Some(Path::new("/etc/rotascope/ca.pem"))
        );
        assert_eq!(
            c.target.display,
            "postgres://app@db1:5433,db2/main?sslmode=verify-full&sslrootcert=ca.pem&connect_timeout=4"
        );
        assert_eq!(c.target.pg.get_user(), None);
        assert_eq!(c.target.pg.get_password(), None);
        assert_eq!(c.target.pg.get_dbname(), Some("main"));
        assert_eq!(c.target.pg.get_hosts().len(), 2);
        assert_eq!(c.target.pg.get_ports(), &[5433, 5432]);
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
        assert_eq!(c.target.ssl, SslMode::Require);
        assert_eq!(
            c.target.display,
            "host=b port=5433 dbname=db user=app sslmode=require"
        );
        assert_eq!(c.target.pg.get_ports(), &[5433]);
        assert_eq!(c.target.pg.get_user(), None);
        let q = p("host=b password='a b\\'c'");
        assert_eq!(q.password.as_ref().map(|p| p.expose()), Some("a b'c"));
    }

    #[test]
    fn defaults_and_errors() {
        let c = p("postgres://h/db");
        assert_eq!(c.target.ssl, SslMode::Prefer);
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
