//! Every libpq connection keyword (PostgreSQL 16 and 17) and what rotascope does with it.
//!
//! The README's keyword table lists exactly these rows (a test keeps the two in step). A keyword
//! that is not here is an error, as in libpq ("invalid connection option").

/// What rotascope does with a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Means what it means to libpq.
    Honoured,
    /// Accepted (and checked as libpq checks it) but changes nothing about a probe; says why.
    NoEffect(&'static str),
    /// Some values honoured or accepted, the others refused; says which.
    Partly(&'static str),
    /// Refused with a config error naming the keyword; says why.
    Refused(&'static str),
}

/// One keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keyword {
    /// The keyword as written.
    pub name: &'static str,
    /// What rotascope does with it.
    pub fate: Fate,
}

const fn kw(name: &'static str, fate: Fate) -> Keyword {
    Keyword { name, fate }
}

use Fate::{Honoured, NoEffect, Partly, Refused};

/// libpq's keywords in libpq's order, then its two legacy spellings.
pub const KEYWORDS: &[Keyword] = &[
    kw("service", Honoured),
    kw("user", Honoured),
    kw("password", Honoured),
    kw("passfile", Honoured),
    kw("channel_binding", Honoured),
    kw("connect_timeout", Honoured),
    kw("dbname", Honoured),
    kw("host", Honoured),
    kw("hostaddr", Honoured),
    kw("port", Honoured),
    kw(
        "client_encoding",
        NoEffect("recorded and shown; the probe connection itself speaks UTF8 (which server, database and role are reached does not depend on it)"),
    ),
    kw("options", Honoured),
    kw("application_name", Honoured),
    kw(
        "fallback_application_name",
        NoEffect("as with psql, the program's own fallback (`rotascope`) takes its place; `application_name` wins over both"),
    ),
    kw("keepalives", NoEffect("a probe is one short connection")),
    kw("keepalives_idle", NoEffect("a probe is one short connection")),
    kw("keepalives_interval", NoEffect("a probe is one short connection")),
    kw("keepalives_count", NoEffect("a probe is one short connection")),
    kw("tcp_user_timeout", NoEffect("a probe is bounded by its own deadline")),
    kw("sslmode", Honoured),
    kw(
        "sslnegotiation",
        Partly("`postgres` (the default) honoured; `direct` refused"),
    ),
    kw(
        "sslcompression",
        NoEffect("TLS compression is unsupported by rustls, as by current OpenSSL builds"),
    ),
    kw("sslcert", Honoured),
    kw("sslkey", Honoured),
    kw(
        "sslcertmode",
        Partly("`allow` (the default) and `disable` honoured; `require` refused"),
    ),
    kw(
        "sslpassword",
        Refused("encrypted client keys are not supported: give sslkey an unencrypted key file (mode 0600)"),
    ),
    kw("sslrootcert", Honoured),
    kw("sslcrl", Honoured),
    kw(
        "sslcrldir",
        Refused("a directory of hashed CRLs is not supported: put the CRLs in one PEM file and name it with sslcrl"),
    ),
    kw("sslsni", Honoured),
    kw(
        "requirepeer",
        Refused("checking the server process's operating-system user is not supported"),
    ),
    kw("require_auth", Honoured),
    kw(
        "ssl_min_protocol_version",
        Partly("values that allow TLS 1.2 (the default TLSv1.2, or lower) accepted: rustls speaks TLS 1.2 and 1.3; TLSv1.3 refused"),
    ),
    kw(
        "ssl_max_protocol_version",
        Partly("empty or TLSv1.3 accepted; a lower maximum refused"),
    ),
    kw(
        "gssencmode",
        Partly("`disable` and `prefer` accepted (no GSSAPI: plain or TLS); `require` refused"),
    ),
    kw("krbsrvname", NoEffect("rotascope does not authenticate with GSSAPI")),
    kw("gsslib", NoEffect("rotascope does not authenticate with GSSAPI")),
    kw("gssdelegation", NoEffect("rotascope does not authenticate with GSSAPI")),
    kw(
        "replication",
        Partly("false values (`false`, `off`, `no`, `0`) accepted; replication connections refused: they cannot run the probe query"),
    ),
    kw("target_session_attrs", Honoured),
    kw(
        "load_balance_hosts",
        NoEffect("checked (`disable`, `random`); rotascope probes every host anyway"),
    ),
    kw("requiressl", Honoured),
    kw("ssl", Honoured),
];

/// The keyword called `name`; `None` for a keyword libpq does not know either.
///
/// `ssl` is a URL query parameter only (`ssl=true`, for JDBC compatibility); the caller checks
/// the form.
pub fn lookup(name: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.name == name)
}

/// The position of `name` in [`KEYWORDS`] (a stable index for option tables).
pub fn index(name: &str) -> Option<usize> {
    KEYWORDS.iter().position(|k| k.name == name)
}

/// The keyword at a position from [`index`].
pub fn name_at(index: usize) -> &'static str {
    KEYWORDS[index].name
}

/// True when `text` could be shown as a keyword in a message: short, lowercase letters, digits
/// and `_`. Anything else may be part of a misplaced password and is not quoted.
pub fn looks_like_keyword(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_once() {
        let mut names: Vec<&str> = KEYWORDS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        assert!(lookup("sslmode").is_some());
        assert!(lookup("tty").is_none());
        assert_eq!(name_at(index("port").unwrap()), "port");
    }

    /// The README's keyword table has one row for every keyword, with its fate.
    #[test]
    fn the_readme_lists_every_keyword_with_its_fate() {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("Every libpq keyword and what rotascope does with it:")
            .nth(1)
            .expect("the README's keyword table");
        let mut rows: Vec<(String, String)> = Vec::new();
        for line in table.lines().skip_while(|l| l.trim().is_empty()) {
            let Some(row) = line.strip_prefix("| ") else {
                break;
            };
            let mut cells = row.split(" | ");
            let (names, fate) = (cells.next().unwrap_or(""), cells.next().unwrap_or(""));
            for name in names.split(", ") {
                rows.push((name.trim_matches('`').to_owned(), fate.to_owned()));
            }
        }
        for k in KEYWORDS {
            let (_, fate) = rows
                .iter()
                .find(|(n, _)| n == k.name)
                .unwrap_or_else(|| panic!("the README's keyword table lacks `{}`", k.name));
            let word = match k.fate {
                Fate::Honoured => "honoured",
                Fate::NoEffect(_) => "accepted, no effect",
                Fate::Partly(_) => "partly",
                Fate::Refused(_) => "refused",
            };
            assert!(fate.starts_with(word), "`{}`: README says {fate:?}", k.name);
        }
        for (name, _) in &rows {
            assert!(
                name == "keyword" || name == "---" || lookup(name).is_some(),
                "the README lists `{name}`, which libpq does not know"
            );
        }
    }

    #[test]
    fn only_plain_names_are_quoted() {
        assert!(looks_like_keyword("sslmode"));
        assert!(!looks_like_keyword("p@ss"));
        assert!(!looks_like_keyword("'s"));
        assert!(!looks_like_keyword(""));
        assert!(!looks_like_keyword(&"a".repeat(65)));
    }
}
