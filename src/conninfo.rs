//! Connection strings read exactly as libpq reads them, so rotascope probes the server an
//! application with the same string would reach.
//!
//! Pure: no file, no environment, no clock. Reading the files a string names (service file,
//! password file, certificates) is the config loader's job (`config::conn`); it hands their text
//! back to [`service`] and [`pgpass`] here.
//!
//! The stages:
//! 1. [`parse`]: both forms, URIs ([`uri`]) and `key=value` (`kv`). Every keyword must be one
//!    libpq knows ([`keywords::KEYWORDS`]), the last one written wins (a URI's query parameters
//!    therefore override its authority part), percent-decoding and quoting follow libpq, errors
//!    never quote a value.
//! 2. [`service::section`]: `service=name` fills in what the string left unset.
//! 3. [`resolve()`](resolve::resolve): every value checked as libpq checks it, refused keywords
//!    refused, and the hosts split into one [`resolve::HostSpec`] per host (`host=a,b port=1,2`).
//!
//! Documented deviations from libpq, each because a monitor is not an application:
//! - a URL's credentials run to its last `@` before the query string ([`uri`] explains);
//! - no `dbname` means the database `postgres`, not one named like the login (with several
//!   logins per node, libpq's default would make each ask for a different database);
//! - libpq's environment variables (`PGHOST`, `PGPORT`, `PGSSLMODE`, ...) do not apply: the
//!   config says where each node is. Only the variables that locate files apply:
//!   `PGPASSFILE`, `PGSERVICEFILE`, `PGSYSCONFDIR`, and `HOME` (for `~/.pgpass`,
//!   `~/.pg_service.conf`, `~/.postgresql/`);
//! - relative file paths (`sslrootcert=ca.pem`, `passfile=...`) are relative to the config
//!   file's directory, not to the working directory.

use crate::topology::Source;

pub mod auth;
pub mod display;
mod hosts;
pub mod keywords;
mod kv;
mod options;
pub mod percent;
pub mod pgpass;
pub mod resolve;
pub mod service;
pub mod session;
pub mod uri;

pub use options::{Options, Value};
pub use resolve::{resolve, Context, HostSpec, Resolved, RootCert};

/// Why a connection string was refused. Messages name keywords and positions, never a value
/// that could be (part of) a password; enumerated values (`sslmode=always`) are quoted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The string does not parse.
    #[error("{0}")]
    Syntax(String),
    /// A keyword libpq does not know (the message names it when it looks like one).
    #[error("{0}")]
    UnknownKeyword(String),
    /// A value libpq would refuse.
    #[error("{reason}")]
    BadValue {
        /// The keyword.
        keyword: &'static str,
        /// The value when it is an enumerated setting (safe to show), for `BadSslMode`.
        shown: Option<String>,
        /// What is wrong, naming the keyword.
        reason: String,
    },
    /// A keyword (or value) libpq accepts and rotascope cannot honour.
    #[error("`{keyword}` is not supported: {reason}")]
    Unsupported {
        /// The keyword.
        keyword: &'static str,
        /// Why, and what to do instead.
        reason: String,
    },
}

impl Error {
    /// A refused value of an enumerated setting, quoting it (it is one of a few words).
    pub(crate) fn bad_enum(keyword: &'static str, value: &str, expected: &str) -> Error {
        let shown: String = value.chars().take(40).collect();
        Error::BadValue {
            keyword,
            shown: Some(shown.clone()),
            reason: format!("invalid {keyword} value \"{shown}\" (expected {expected})"),
        }
    }

    /// A refused value that is not shown.
    pub(crate) fn bad_value(keyword: &'static str, reason: impl Into<String>) -> Error {
        Error::BadValue {
            keyword,
            shown: None,
            reason: reason.into(),
        }
    }
}

/// Which syntax a string uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `postgres://...` or `postgresql://...`.
    Uri,
    /// `key=value ...`.
    KeyValue,
}

/// A parsed connection string. `Debug` shows no value.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// Which syntax it used.
    pub form: Form,
    /// The options it sets (source: the string).
    pub options: Options,
    /// The string as written without its password: what screens show for a one-host string.
    pub display: String,
    /// Every password the string carries, the overridden ones too (for masking).
    pub passwords: Vec<crate::secret::Password>,
}

/// The longest connection string accepted: far above any real one (a 64 KiB password fits).
pub const MAX_LEN: usize = 256 * 1024;

/// Parses a connection string (either form).
pub fn parse(s: &str) -> Result<Parsed, Error> {
    if s.len() > MAX_LEN {
        return Err(Error::Syntax(format!("longer than {} KiB", MAX_LEN / 1024)));
    }
    let s = s.trim_matches(|c: char| c.is_ascii() && kv::is_blank(c as u8));
    if s.is_empty() {
        return Err(Error::Syntax("empty connection string".into()));
    }
    let mut options = Options::new();
    let (form, display, passwords) = if uri::prefix_len(s) > 0 {
        let u = uri::parse(s)?;
        for (k, v) in u.settings {
            options.set(k, v, Source::String);
        }
        (Form::Uri, u.display, u.passwords)
    } else {
        let mut shown = Vec::new();
        let mut passwords = Vec::new();
        for pair in kv::split(s)? {
            let keyword = match keywords::lookup(&pair.keyword) {
                Some(k) if k.name != "ssl" => k.name,
                _ if keywords::looks_like_keyword(&pair.keyword) => {
                    return Err(Error::UnknownKeyword(format!(
                        "invalid connection option `{}`",
                        pair.keyword
                    )))
                }
                _ => {
                    return Err(Error::UnknownKeyword(format!(
                        "invalid connection option name at character {}",
                        pair.at
                    )))
                }
            };
            if keyword == "password" {
                passwords.push(pair.value.clone());
            } else {
                shown.push(format!("{}={}", pair.keyword, kv::quote(&pair.value)));
            }
            let (keyword, value) = legacy(keyword, pair.value);
            options.set(keyword, value, Source::String);
        }
        (Form::KeyValue, shown.join(" "), passwords)
    };
    Ok(Parsed {
        form,
        options,
        display,
        passwords: passwords
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(crate::secret::Password::new)
            .collect(),
    })
}

/// libpq's legacy spelling `requiressl=1` (→ `sslmode=require`, any other value → `prefer`).
fn legacy(keyword: &'static str, value: String) -> (&'static str, String) {
    if keyword == "requiressl" {
        let mode = if value.starts_with('1') {
            "require"
        } else {
            "prefer"
        };
        ("sslmode", mode.to_owned())
    } else {
        (keyword, value)
    }
}

/// The password a connection string carries, if any; never fails (for masking text that may
/// not parse): the last `password` of a `key=value` string, or a URL's query `password` or
/// credentials, found by the same rules as [`parse`].
pub fn embedded_password(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(p) = parse(s) {
        return p.passwords.last().map(|p| p.expose().to_owned());
    }
    // Unparseable: look for the pieces that would hold one.
    let prefix = uri::prefix_len(s);
    if prefix > 0 {
        let rest = &s[prefix..];
        let q = uri::query_start(rest);
        let from_query = rest[q..]
            .trim_start_matches('?')
            .split('&')
            .rev()
            .find_map(|p| p.strip_prefix("password="))
            .map(percent::decode_lossy);
        let from_userinfo = uri::credentials_end(rest)
            .and_then(|at| rest[..at].split_once(':').map(|(_, p)| p))
            .map(percent::decode_lossy);
        return from_query.or(from_userinfo).filter(|p| !p.is_empty());
    }
    None
}

#[cfg(test)]
mod tests;
