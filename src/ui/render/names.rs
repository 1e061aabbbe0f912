//! Node names that tell nodes apart in a narrow column.
//!
//! Real fleets name nodes by connection string or FQDN
//! (`postgres://pg-prod-eu-west-1a-orders-shard-0000-primary.db.internal.example.com:5432/orders`):
//! cut at the end, a primary and its replica, or shard 0000 and 0008, read the same. So first
//! what every node shares goes (the scheme, a common domain suffix, the port and the database or
//! query when equal everywhere), then what is still too long is elided in the middle, keeping the
//! end, where names differ most. The detail pane shows the full name.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

use super::format::width;
use crate::engine::snapshot::Snapshot;
use crate::text::sanitize;

/// What every node name of a snapshot shares, to be left out on screen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shortener {
    /// `:5432` when every connection-string name has this port.
    port: Option<String>,
    /// `/orders` or `/orders?sslmode=require` when every connection-string name ends so.
    tail: Option<String>,
    /// `.db.internal.example.com` when every host ends with these DNS labels.
    suffix: Option<String>,
    /// Words (between `-`, `.`, `_`) every shortened name has, such as `pg`, `prod`, `orders`:
    /// left out too when a name must still be cut.
    words: Vec<String>,
}

fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split(['-', '.', '_']).filter(|w| !w.is_empty())
}

/// A name split into the parts the shortener looks at.
struct Parts<'a> {
    userinfo: &'a str,
    host: &'a str,
    port: &'a str,
    tail: &'a str,
}

/// Splits `scheme://[user@]host[:port][/db][?query]`; `None` for a name that is no URL.
fn parts(name: &str) -> Option<Parts<'_>> {
    let rest = name
        .strip_prefix("postgresql://")
        .or_else(|| name.strip_prefix("postgres://"))?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    // A port is `:digits` after the host; a bracketed IPv6 host keeps its own colons.
    let port_at = hostport
        .rfind(':')
        .filter(|&i| !hostport[i..].contains(']'))
        .filter(|&i| hostport[i + 1..].bytes().all(|b| b.is_ascii_digit()));
    let (host, port) = match port_at {
        Some(i) if !hostport[..i].contains(':') || hostport.starts_with('[') => {
            hostport.split_at(i)
        }
        _ => (hostport, ""),
    };
    Some(Parts {
        userinfo,
        host,
        port,
        tail,
    })
}

/// True for a DNS name (not an IP address): its last label has a letter.
fn is_dns(host: &str) -> bool {
    !host.starts_with('[')
        && host
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// The longest run of whole DNS labels at the end of every host (with its leading dot), leaving
/// at least one label of each.
fn common_suffix<'a>(hosts: &[&'a str]) -> Option<&'a str> {
    let (first, rest) = hosts.split_first()?;
    if !hosts.iter().all(|h| is_dns(h)) {
        return None;
    }
    // The first dot gives the longest suffix: the first one every host shares wins.
    first
        .match_indices('.')
        .map(|(i, _)| &first[i..])
        .filter(|s| s.len() < first.len())
        .find(|suffix| {
            rest.iter()
                .all(|h| h.len() > suffix.len() && h.ends_with(suffix))
        })
}

fn all_equal<'a>(mut values: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let first = values.next()?;
    values.all(|v| v == first).then_some(first)
}

impl Shortener {
    /// What all node names of `snapshot` share.
    pub fn new(snapshot: &Snapshot) -> Shortener {
        Shortener::for_names(snapshot.nodes().map(|n| &*n.key.name))
    }

    /// What all of `names` share (at least two names, or nothing is left out but the scheme).
    pub fn for_names<'a>(names: impl Iterator<Item = &'a str>) -> Shortener {
        let names: Vec<&str> = names.collect();
        if names.len() < 2 {
            return Shortener::default();
        }
        let split: Vec<Option<Parts>> = names.iter().map(|n| parts(n)).collect();
        let urls: Vec<&Parts> = split.iter().flatten().collect();
        // Port and database go only when every name is a connection string sharing them.
        let every_url = urls.len() == names.len();
        let port = all_equal(urls.iter().map(|p| p.port))
            .filter(|p| every_url && !p.is_empty())
            .map(str::to_owned);
        let tail = all_equal(urls.iter().map(|p| p.tail))
            .filter(|t| every_url && !t.is_empty())
            .map(str::to_owned);
        let hosts: Vec<&str> = split
            .iter()
            .zip(&names)
            .map(|(p, n)| p.as_ref().map_or(*n, |p| p.host))
            .collect();
        let suffix = common_suffix(&hosts).map(str::to_owned);
        let mut shortener = Shortener {
            port,
            tail,
            suffix,
            words: Vec::new(),
        };
        let short: Vec<Cow<str>> = names.iter().map(|n| shortener.short(n)).collect();
        let (first, rest) = short.split_first().expect("two names at least");
        let mut common: Vec<String> = Vec::new();
        for w in words(first) {
            if !common.iter().any(|c| c == w) && rest.iter().all(|n| words(n).any(|x| x == w)) {
                common.push(w.to_owned());
            }
        }
        shortener.words = common;
        shortener
    }

    /// `name` shortened to fit `cols` columns: [`Shortener::short`]; if that is too long, without
    /// the words every name has (`1b-0000-replica-01`); if still too long, [`elide`]d.
    pub fn fit(&self, name: &str, cols: usize) -> String {
        let short = self.short(name);
        if width(&short) <= cols {
            return short.into_owned();
        }
        // An address's octets are no words: `127.0.0.1:5433` less `127`, `0` and `0` would read
        // `1:5433`, as if island 1.
        let kept = if starts_with_ipv4(&short) {
            String::new()
        } else {
            self.without_common_words(&short)
        };
        if kept.is_empty() {
            return elide(&short, cols);
        }
        elide(&kept, cols)
    }

    /// `name` without the words every name has, each remaining word with the separator that
    /// followed it (`127.0.0.1:5432` stays as it is when no word goes).
    fn without_common_words(&self, name: &str) -> String {
        let mut out = String::new();
        for piece in name.split_inclusive(['-', '.', '_']) {
            let word = piece.trim_end_matches(['-', '.', '_']);
            if !word.is_empty() && !self.words.iter().any(|c| c == word) {
                out.push_str(piece);
            }
        }
        out.trim_end_matches(['-', '.', '_']).to_owned()
    }

    /// `name` without what every name shares (the scheme always), control characters escaped.
    pub fn short<'a>(&self, name: &'a str) -> Cow<'a, str> {
        let Some(p) = parts(name) else {
            let host = match &self.suffix {
                Some(s) => name.strip_suffix(s.as_str()).unwrap_or(name),
                None => name,
            };
            return sanitize(host);
        };
        let host = match &self.suffix {
            Some(s) => p.host.strip_suffix(s.as_str()).unwrap_or(p.host),
            None => p.host,
        };
        let port = if self.port.as_deref() == Some(p.port) {
            ""
        } else {
            p.port
        };
        let tail = if self.tail.as_deref() == Some(p.tail) {
            ""
        } else {
            p.tail
        };
        Cow::Owned(sanitize(&format!("{}{host}{port}{tail}", p.userinfo)).into_owned())
    }
}

/// True when `s` starts with a dotted IPv4 address (`10.0.3.7`, `127.0.0.1:5432`).
fn starts_with_ipv4(s: &str) -> bool {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s[..end].parse::<std::net::Ipv4Addr>().is_ok()
}

/// `s` in at most `max` columns: cut in the middle with `…`, the end kept (a bit more of the end
/// than of the start, since names differ most at the end: `-primary`, `-replica`, shard numbers).
pub fn elide(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    if max <= 1 {
        return "…".repeat(max);
    }
    let room = max - 1;
    let head_cols = room * 2 / 5;
    let tail_cols = room - head_cols;
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_cols {
            break;
        }
        used += w;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > tail_cols {
            break;
        }
        used += w;
        tail.push(c);
    }
    head.push('…');
    head.extend(tail.into_iter().rev());
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short_all(names: &[&str]) -> Vec<String> {
        let s = Shortener::for_names(names.iter().copied());
        names.iter().map(|n| s.short(n).into_owned()).collect()
    }

    #[test]
    fn what_every_fqdn_url_shares_goes() {
        let got = short_all(&[
            "postgres://pg-prod-eu-west-1a-orders-shard-0000-primary.db.internal.example.com:5432/orders",
            "postgres://pg-prod-eu-west-1a-orders-shard-0000-replica.db.internal.example.com:5432/orders",
            "postgresql://pg-prod-eu-west-1b-orders-shard-0008-primary.db.internal.example.com:5432/orders",
        ]);
        assert_eq!(
            got,
            [
                "pg-prod-eu-west-1a-orders-shard-0000-primary",
                "pg-prod-eu-west-1a-orders-shard-0000-replica",
                "pg-prod-eu-west-1b-orders-shard-0008-primary",
            ]
        );
    }

    #[test]
    fn what_differs_stays() {
        assert_eq!(
            short_all(&[
                "postgres://h1.a.example:5432/app",
                "postgres://h2.b.example:5433/app"
            ]),
            ["h1.a:5432", "h2.b:5433"]
        );
        assert_eq!(
            short_all(&[
                "postgres://127.0.0.1:54320/app",
                "postgres://127.0.0.1:54321/app"
            ]),
            ["127.0.0.1:54320", "127.0.0.1:54321"],
            "IP addresses keep every octet"
        );
        assert_eq!(
            short_all(&[
                "postgres://10.0.0.1:5432/app",
                "postgres://10.1.0.1:5432/app"
            ]),
            ["10.0.0.1", "10.1.0.1"]
        );
        assert_eq!(
            short_all(&["postgres://h1:5432/a", "postgres://h2:5432/b"]),
            ["h1/a", "h2/b"]
        );
    }

    #[test]
    fn mixed_forms_keep_port_and_database() {
        assert_eq!(
            short_all(&["postgres://127.0.0.1:54320/app", "db-b1"]),
            ["127.0.0.1:54320/app", "db-b1"]
        );
        assert_eq!(
            short_all(&["a.db.example.com", "postgres://b.db.example.com:5432/x"]),
            ["a", "b:5432/x"]
        );
        assert_eq!(
            short_all(&["postgres://[::1]:5432/app", "postgres://[::2]:5432/app"]),
            ["[::1]", "[::2]"]
        );
    }

    #[test]
    fn one_node_loses_only_the_scheme() {
        assert_eq!(
            short_all(&["postgres://h.example.com:5432/app"]),
            ["h.example.com:5432/app"]
        );
    }

    #[test]
    fn a_host_is_never_emptied() {
        assert_eq!(
            short_all(&["a.example.com", "example.com"]),
            ["a.example", "example"]
        );
        assert_eq!(short_all(&["a.x.com", "b.x.com"]), ["a", "b"]);
    }

    #[test]
    fn a_name_cut_to_fit_keeps_its_own_separators() {
        // Found at 80×24: nothing shared, so no word goes, and the dots must stay dots.
        let names = ["127.0.0.1:54320/app", "127.0.0.1:54321/app", "db-b1"];
        let s = Shortener::for_names(names.iter().copied());
        assert_eq!(s.fit(names[0], 17), "127.0.…:54320/app");
        let fleet = ["pg.a.x_1.internal", "pg.b.x_2.internal"];
        let s = Shortener::for_names(fleet.iter().copied());
        assert_eq!(s.fit(fleet[0], 5), "a.1");
    }

    #[test]
    fn a_name_too_long_loses_the_words_all_share_first() {
        let names = [
            "postgres://pg-prod-eu-west-1a-orders-shard-0000-primary.db.internal.example.com:5432/orders",
            "postgres://pg-prod-eu-west-1b-orders-shard-0008-replica-01.db.internal.example.com:5432/orders",
        ];
        let s = Shortener::for_names(names.iter().copied());
        assert_eq!(
            s.fit(names[0], 60),
            "pg-prod-eu-west-1a-orders-shard-0000-primary"
        );
        assert_eq!(s.fit(names[0], 20), "1a-0000-primary");
        assert_eq!(s.fit(names[1], 20), "1b-0008-replica-01");
        assert_eq!(s.fit(names[1], 12), "1b-0…lica-01");
    }

    #[test]
    fn an_ip_address_loses_no_octet_as_a_word() {
        let names = ["127.0.0.1:37613", "127.0.0.1:40507", "10.0.3.7:5432"];
        let s = Shortener::for_names(names[..2].iter().copied());
        assert_eq!(s.fit(names[0], 12), "127.…1:37613");
        assert!(starts_with_ipv4(names[2]));
        assert!(!starts_with_ipv4("10.0-db.example.com"));
        // A host name still loses the words every name has.
        let hosts = ["pg-prod-a1.example.com", "pg-prod-b1.example.com"];
        let s = Shortener::for_names(hosts.iter().copied());
        assert_eq!(s.fit(hosts[0], 5), "a1");
    }

    #[test]
    fn elision_is_in_the_middle_and_keeps_the_end() {
        let name = "pg-prod-eu-west-1a-orders-shard-0000-primary";
        let got = elide(name, 24);
        assert_eq!(width(&got), 24);
        assert_eq!(got, "pg-prod-e…d-0000-primary");
        assert!(got.ends_with("0000-primary"));
        assert_eq!(elide("short", 24), "short");
        assert_eq!(elide("abc", 1), "…");
        assert_eq!(elide("abc", 0), "");
    }
}
