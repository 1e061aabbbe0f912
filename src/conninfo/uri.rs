//! libpq's URI syntax: `postgres[ql]://[user[:password]@][host][:port][,...][/dbname][?k=v&...]`.
//!
//! After the credentials this follows `conninfo_uri_parse_options` exactly: hosts and ports up
//! to the first `/` or `?`, `[...]` around IPv6 literals, several `host:port` separated by
//! commas, the database to the next `?`, then `&`-separated `key=value` query parameters, each
//! overriding whatever the authority part said. Every part is percent-decoded with libpq's
//! errors.
//!
//! # Where the credentials end (a documented deviation)
//! libpq takes `user:password` up to the first `@` before the first `/`. People paste passwords
//! unencoded, and a password may hold `/`, `?`, `:` or `@`, which libpq would read as a path, a
//! port or a host. rotascope reads the credentials up to the **last** `@` before the query
//! string, as long as the user part (before the first `:`) has no `/` or `?` (a user name never
//! has); otherwise it falls back to libpq's rule. The query string starts at the first `?`
//! followed by `name=` (`?sslmode=`, `?user=`): an `@` inside a query value
//! (`?password=Tr0ub4dor@horse`, `?application_name=me@corp`) never ends the credentials.
//! The price: a password holding `?word=` must be percent-encoded.
//!
//! Runs in linear time: every scan moves forward, and a search from the right happens once.

use super::keywords;
use super::percent::decode;
use super::Error;

/// The two schemes libpq recognises.
pub const PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

/// The length of the scheme prefix of `s`, or 0 when `s` is not a URI.
pub fn prefix_len(s: &str) -> usize {
    PREFIXES
        .iter()
        .find(|p| s.starts_with(*p))
        .map_or(0, |p| p.len())
}

/// A URI taken apart.
pub struct Uri {
    /// The options, in the order written (later ones win).
    pub settings: Vec<(&'static str, String)>,
    /// The URI as written without its password(s).
    pub display: String,
    /// Every password the URI carries (userinfo and `password=` parameters), decoded.
    pub passwords: Vec<String>,
}

/// Parses a URI (`prefix_len(s) > 0`).
pub fn parse(s: &str) -> Result<Uri, Error> {
    let prefix = prefix_len(s);
    let rest = &s[prefix..];
    let mut settings: Vec<(&'static str, String)> = Vec::new();
    let mut passwords = Vec::new();

    let (userinfo, after) = match credentials_end(rest) {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let mut shown_user = "";
    if let Some(info) = userinfo {
        let (user, password) = match info.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (info, None),
        };
        if !user.is_empty() {
            settings.push(("user", decode(user, "user name")?));
            shown_user = user;
        }
        if let Some(p) = password.filter(|p| !p.is_empty()) {
            let p = decode(p, "password")?;
            passwords.push(p.clone());
            settings.push(("password", p));
        }
    }

    // Hosts and ports, exactly as libpq splits them.
    let b = after.as_bytes();
    let mut i = 0;
    let mut hosts = String::new();
    let mut ports = String::new();
    let mut terminator: Option<u8>;
    loop {
        let host;
        if b.get(i) == Some(&b'[') {
            let start = i + 1;
            let Some(close) = after[start..].find(']').map(|c| start + c) else {
                return Err(Error::Syntax(
                    "end of string reached when looking for the \"]\" of an IPv6 host address in the URL"
                        .into(),
                ));
            };
            if close == start {
                return Err(Error::Syntax(
                    "an IPv6 host address may not be empty in the URL".into(),
                ));
            }
            host = &after[start..close];
            i = close + 1;
            if let Some(c) = b.get(i) {
                if !matches!(c, b':' | b'/' | b'?' | b',') {
                    return Err(Error::Syntax(format!(
                        "unexpected character at position {} of the URL (expected \":\" or \"/\" after an IPv6 address)",
                        prefix + userinfo.map_or(0, |u| u.len() + 1) + after[..i].chars().count() + 1
                    )));
                }
            }
        } else {
            let start = i;
            while i < b.len() && !matches!(b[i], b':' | b'/' | b'?' | b',') {
                i += 1;
            }
            host = &after[start..i];
        }
        hosts.push_str(host);
        terminator = b.get(i).copied();
        if terminator == Some(b':') {
            i += 1;
            let start = i;
            while i < b.len() && !matches!(b[i], b'/' | b'?' | b',') {
                i += 1;
            }
            ports.push_str(&after[start..i]);
            terminator = b.get(i).copied();
        }
        if terminator != Some(b',') {
            break;
        }
        i += 1;
        hosts.push(',');
        ports.push(',');
    }
    if !hosts.is_empty() {
        settings.push(("host", decode(&hosts, "host")?));
    }
    if !ports.is_empty() {
        settings.push(("port", decode(&ports, "port")?));
    }
    let authority_end = i;
    if terminator == Some(b'/') {
        i += 1;
        let start = i;
        while i < b.len() && b[i] != b'?' {
            i += 1;
        }
        let dbname = &after[start..i];
        if !dbname.is_empty() {
            settings.push(("dbname", decode(dbname, "database name")?));
        }
        terminator = b.get(i).copied();
    }
    let path_end = i;
    let mut shown_params: Vec<&str> = Vec::new();
    if terminator == Some(b'?') {
        let query = &after[i + 1..];
        for param in split_params(query)? {
            let (key, value) = param.split_once('=').ok_or_else(|| {
                Error::Syntax(format!(
                    "missing key/value separator \"=\" in URL query parameter {}",
                    shown_name(param)
                ))
            })?;
            if value.contains('=') {
                return Err(Error::Syntax(format!(
                    "extra key/value separator \"=\" in URL query parameter {}",
                    shown_name(key)
                )));
            }
            let key = decode(key, "query parameter name")?;
            let value = decode(value, "query parameter value")?;
            let (keyword, value) = query_setting(&key, value)?;
            if keyword == "password" {
                passwords.push(value.clone());
            } else {
                shown_params.push(param);
            }
            settings.push((keyword, value));
        }
    }

    let mut display = String::with_capacity(s.len());
    display.push_str(&s[..prefix]);
    if !shown_user.is_empty() {
        display.push_str(shown_user);
        display.push('@');
    }
    display.push_str(&after[..path_end.max(authority_end)]);
    if !shown_params.is_empty() {
        display.push('?');
        display.push_str(&shown_params.join("&"));
    }
    Ok(Uri {
        settings,
        display,
        passwords,
    })
}

/// Splits a query string at `&`; an empty parameter between two `&` is libpq's "missing `=`"
/// error, a trailing `&` is allowed.
fn split_params(query: &str) -> Result<Vec<&str>, Error> {
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<&str> = query.split('&').collect();
    if out.last() == Some(&"") {
        out.pop();
    }
    if out.iter().any(|p| p.is_empty()) {
        return Err(Error::Syntax(
            "missing key/value separator \"=\" in an empty URL query parameter".into(),
        ));
    }
    Ok(out)
}

/// A query parameter as a keyword and value: `ssl=true` is `sslmode=require` (JDBC), and
/// `requiressl` is `sslmode` (libpq's legacy spelling).
fn query_setting(key: &str, value: String) -> Result<(&'static str, String), Error> {
    if key == "ssl" && value == "true" {
        return Ok(("sslmode", "require".into()));
    }
    match keywords::lookup(key) {
        Some(k) if k.name != "ssl" => Ok(super::legacy(k.name, value)),
        _ => Err(Error::UnknownKeyword(format!(
            "invalid URL query parameter {}",
            shown_name(key)
        ))),
    }
}

/// A query parameter's name for a message: quoted when it looks like a keyword, else not shown
/// (it may be part of a misplaced password).
fn shown_name(name: &str) -> String {
    if keywords::looks_like_keyword(name) {
        format!("`{name}`")
    } else {
        "(a name that is not a keyword)".into()
    }
}

/// Where the credentials of `rest` (the URI after `scheme://`) end: the byte offset of their
/// `@`. See the module docs for the rule.
pub fn credentials_end(rest: &str) -> Option<usize> {
    let head = &rest[..query_start(rest)];
    if let Some(last) = head.rfind('@') {
        if plausible_user(&head[..last]) {
            return Some(last);
        }
    }
    // libpq's rule: the first `@` before the first `/`.
    let first = head.find(['@', '/'])?;
    (head.as_bytes()[first] == b'@').then_some(first)
}

/// True when the user part of `userinfo` (before its first `:`) could be a user name.
pub fn plausible_user(userinfo: &str) -> bool {
    let user = userinfo.split(':').next().unwrap_or("");
    !user.contains(['/', '?'])
}

/// The byte offset of the `?` that starts the query string: the first `?` followed by a name
/// and `=`; the length of `rest` when there is none.
pub fn query_start(rest: &str) -> usize {
    let b = rest.as_bytes();
    let mut from = 0;
    while let Some(q) = rest[from..].find('?').map(|q| from + q) {
        let mut j = q + 1;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'%') {
            j += 1;
        }
        if j > q + 1 && b.get(j) == Some(&b'=') {
            return q;
        }
        // The next `?` is at or after `j`: every byte is looked at a bounded number of times.
        from = j.max(q + 1);
    }
    rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_starts_at_a_name_and_equals_sign() {
        assert_eq!(query_start("h/db?sslmode=x"), 4);
        assert_eq!(query_start("u:p?ss@h/db"), 11);
        assert_eq!(query_start("u:p?@h/db?a=1"), 9);
        assert_eq!(query_start("???"), 3);
    }

    #[test]
    fn credentials_end_at_the_last_at_before_the_query() {
        fn end(s: &str) -> Option<&str> {
            credentials_end(s).map(|i| &s[..i])
        }
        assert_eq!(end("app:2024/Spring!@db/app"), Some("app:2024/Spring!"));
        assert_eq!(end("app:x@y@db/app"), Some("app:x@y"));
        assert_eq!(end("app@srv:pw@srv.example.com/db"), Some("app@srv:pw"));
        assert_eq!(end("h/d@b?application_name=me@corp"), None);
        assert_eq!(end("u@h/d@b"), Some("u"));
        assert_eq!(
            end("127.0.0.1:36867/db?user=app_a&password=Tr0ub4dor@horse-battery"),
            None
        );
        assert_eq!(end("h?password=x@y"), None);
        assert_eq!(end("h/db"), None);
    }
}
