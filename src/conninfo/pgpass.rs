//! The password file (`~/.pgpass`, `PGPASSFILE`, `passfile`), matched as libpq's
//! `passwordFromFile` matches it.
//!
//! Each line is `hostname:port:database:username:password`; `#` starts a comment line; `\`
//! escapes `:` and `\`; a field of exactly `*` matches anything. The first matching line wins.
//! The host is the connection's `host` (or `hostaddr`), with `localhost` standing for the default
//! socket directory; the port is the port as written (`5432` when none). libpq ignores a file
//! that other users may read: [`is_private`] says whether it is.

/// What a password file entry is matched against.
#[derive(Clone, Copy, Debug)]
pub struct Key<'a> {
    /// The host (see the module docs).
    pub host: &'a str,
    /// The port as written.
    pub port: &'a str,
    /// The database.
    pub dbname: &'a str,
    /// The login.
    pub user: &'a str,
}

/// The password of the first line of `text` matching `key`.
pub fn lookup(text: &str, key: &Key<'_>) -> Option<String> {
    if key.dbname.is_empty() || key.user.is_empty() {
        return None;
    }
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let rest = field(line, key.host)
            .and_then(|r| field(r, key.port))
            .and_then(|r| field(r, key.dbname))
            .and_then(|r| field(r, key.user));
        if let Some(rest) = rest {
            return Some(unescape_password(rest));
        }
    }
    None
}

/// Matches one `:`-terminated field at the start of `line` against `token`; returns the rest.
fn field<'a>(line: &'a str, token: &str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix("*:") {
        return Some(rest);
    }
    let b = line.as_bytes();
    let t = token.as_bytes();
    let (mut i, mut j) = (0, 0);
    while i < b.len() {
        let mut escaped = false;
        if b[i] == b'\\' {
            i += 1;
            escaped = true;
            if i == b.len() {
                return None;
            }
        }
        if b[i] == b':' && !escaped && j == t.len() {
            return Some(&line[i + 1..]);
        }
        if j == t.len() || b[i] != t[j] {
            return None;
        }
        i += 1;
        j += 1;
    }
    None
}

/// The password field: up to an unescaped `:`, with `\x` meaning `x`.
fn unescape_password(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ':' => break,
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// True when a file with permission bits `mode` is private enough for libpq (no group or other
/// access at all).
pub fn is_private(mode: u32) -> bool {
    mode & 0o077 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(host: &'a str, port: &'a str, db: &'a str, user: &'a str) -> Key<'a> {
        Key {
            host,
            port,
            dbname: db,
            user,
        }
    }

    const FILE: &str = "\
# a comment
db1:5432:app:alice:first
*:5433:*:alice:any\\:host
db\\:x:5432:app:bob:escaped\\\\back
localhost:5432:*:carol:socket:trailing
";

    #[test]
    fn first_match_wins_with_wildcards_and_escapes() {
        assert_eq!(
            lookup(FILE, &key("db1", "5432", "app", "alice")).as_deref(),
            Some("first")
        );
        assert_eq!(
            lookup(FILE, &key("db9", "5433", "x", "alice")).as_deref(),
            Some("any:host")
        );
        assert_eq!(
            lookup(FILE, &key("db:x", "5432", "app", "bob")).as_deref(),
            Some("escaped\\back")
        );
        assert_eq!(
            lookup(FILE, &key("localhost", "5432", "postgres", "carol")).as_deref(),
            Some("socket")
        );
        assert_eq!(lookup(FILE, &key("db1", "05432", "app", "alice")), None);
        assert_eq!(lookup(FILE, &key("db1", "5432", "app", "")), None);
    }

    #[test]
    fn private_means_no_group_or_other_bits() {
        assert!(is_private(0o600));
        assert!(is_private(0o400));
        assert!(!is_private(0o640));
        assert!(!is_private(0o604));
    }
}
