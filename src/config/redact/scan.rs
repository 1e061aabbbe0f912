//! The line scan behind [`super::Redactor::harvest_text`]: what looks like a password in one
//! line of text that may not parse — the value after `password` (`password = "..."`,
//! `"password": "..."`, `password=...`) and the password of each `scheme://user:password@`.
//!
//! Linear in the line, however hostile (issue 14 item 4). Two things made it quadratic: each
//! `password` or `://` scanned on to the end of its value or URL, and each could yield a
//! candidate reaching to the end of the line, so k of them harvested O(k × line) bytes. Now every
//! "where is the next ..." is read from a table built in one pass, and candidates that end at
//! the same byte are nested (the same value or URL tail, seen from an earlier or later start):
//! of those only the outermost and the innermost are kept, so the harvest is O(line) bytes too.

use std::collections::BTreeMap;

use crate::conninfo::uri;

/// What one line holds that may be a password, each a slice of the line.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Found<'a> {
    /// Values after `password` and a separator, as written.
    pub values: Vec<&'a str>,
    /// URL passwords, as written (percent-encoded or not).
    pub url_passwords: Vec<&'a str>,
    /// Bytes the scan's searches read (beyond the one pass per occurrence kind): what tests
    /// bound to prove the scan linear.
    pub work: usize,
}

/// Scans `line`; see the module docs.
pub(super) fn scan(line: &str) -> Found<'_> {
    let mut c = Cursors::new(line);
    let mut values = Claims::default();
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("password") {
        let after = from + found + "password".len();
        from = after;
        // `password_env = ...` names a variable, not a secret.
        if lower[after..].starts_with('_') {
            continue;
        }
        if let Some((start, end)) = value_after_separator(line, after, &mut c) {
            values.claim(start, end);
        }
    }
    let mut urls = Claims::default();
    let mut from = 0;
    while let Some(found) = line[from..].find("://") {
        let start = from + found + 3;
        from = start;
        // The URL runs to a quote or the end of the line; a password may hold `/`, `?` or `@`
        // (see `conninfo::uri`), so each `@` that could end the credentials yields a candidate: the
        // parser's, libpq's (the first) and the last one. Never one per `@`: a password of 64
        // KiB of `@` would make that quadratic.
        let end = c.quote.at(start);
        let mut ats = [
            c.credentials_end(start, end),
            Some(c.at.at(start)).filter(|&a| a < end),
            c.last_at_before_end.before(end).filter(|&a| a >= start),
        ];
        ats.sort_unstable();
        let mut last = None;
        for at in ats.into_iter().flatten() {
            if last == Some(at) {
                continue;
            }
            last = Some(at);
            // The password follows the first `:` of the user info.
            let colon = c.colon.at(start);
            if c.plausible_user(start, at) && colon < at {
                urls.claim(colon + 1, at);
            }
        }
    }
    Found {
        values: values.spans().map(|(s, e)| &line[s..e]).collect(),
        url_passwords: urls.spans().map(|(s, e)| &line[s..e]).collect(),
        work: c.work(),
    }
}

/// The value after `password` (at byte `after`): skips a closing quote of a JSON key, blanks,
/// then `=` or `:`; a quoted value runs to its closing quote, a bare one to a blank or quote.
fn value_after_separator(line: &str, after: usize, c: &mut Cursors) -> Option<(usize, usize)> {
    let skip_blanks = |at: usize| line.len() - line[at..].trim_start().len();
    let mut at = after + usize::from(line.as_bytes().get(after) == Some(&b'"'));
    at = skip_blanks(at);
    match line.as_bytes().get(at) {
        Some(b'=' | b':') => at = skip_blanks(at + 1),
        _ => return None,
    }
    match *line.as_bytes().get(at)? {
        b'"' => Some((at + 1, c.dquote.at(at + 1))),
        b'\'' => Some((at + 1, c.squote.at(at + 1))),
        _ => Some((at, c.bare_end.at(at))),
    }
}

/// Candidate spans by their end: of the spans ending at one byte (nested), the outermost and the
/// innermost.
#[derive(Default)]
struct Claims(BTreeMap<usize, (usize, usize)>);

impl Claims {
    fn claim(&mut self, start: usize, end: usize) {
        self.0
            .entry(end)
            .and_modify(|(outer, inner)| {
                *outer = (*outer).min(start);
                *inner = (*inner).max(start);
            })
            .or_insert((start, start));
    }

    fn spans(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.0.iter().flat_map(|(&end, &(outer, inner))| {
            let inner = (inner != outer).then_some((inner, end));
            std::iter::once((outer, end)).chain(inner)
        })
    }
}

/// Where the next thing of one kind is, at or after a position, for positions that grow (the
/// scan's occurrences come in order): an answer is reused until the position passes it, so the
/// line is searched once per kind in all. (A smaller position is still answered right, by a
/// search of its own.)
struct Next<'a> {
    line: &'a str,
    find: fn(&str) -> Option<usize>,
    /// The last search: from where, and what it found (a match, or the line's length). No
    /// match lies between the two.
    known: Option<(usize, usize)>,
    /// Bytes searched so far.
    work: usize,
}

impl<'a> Next<'a> {
    fn new(line: &'a str, find: fn(&str) -> Option<usize>) -> Self {
        Next {
            line,
            find,
            known: None,
            work: 0,
        }
    }

    /// The first match at or after `p` (a character boundary), or the line's length.
    fn at(&mut self, p: usize) -> usize {
        if let Some((from, found)) = self.known {
            if (from..=found).contains(&p) {
                return found;
            }
        }
        let found = (self.find)(&self.line[p..]).map_or(self.line.len(), |i| p + i);
        self.known = Some((p, found));
        // A search stops at its match, or reads to the end.
        self.work += found - p + 1;
        found
    }
}

/// The last `@` before a position, for positions that grow.
struct LastAt<'a> {
    line: &'a str,
    scanned: usize,
    last: Option<usize>,
    work: usize,
}

impl LastAt<'_> {
    fn before(&mut self, x: usize) -> Option<usize> {
        if x < self.scanned {
            self.work += x;
            return self.line[..x].rfind('@');
        }
        if let Some(i) = self.line[self.scanned..x].rfind('@') {
            self.last = Some(self.scanned + i);
        }
        self.work += x - self.scanned;
        self.scanned = x;
        self.last
    }
}

/// The searches of one line's scan.
struct Cursors<'a> {
    /// `"`, `'` or `` ` ``: where a URL ends.
    quote: Next<'a>,
    dquote: Next<'a>,
    squote: Next<'a>,
    /// A blank, quote, `,`, `}` or `&`: where a bare value ends.
    bare_end: Next<'a>,
    colon: Next<'a>,
    at: Next<'a>,
    /// `/` or `?`: what a user name may not hold.
    slash_or_question: Next<'a>,
    /// `@` or `/`: libpq's end of the credentials.
    at_or_slash: Next<'a>,
    /// A `?` that starts a query string (`?name=`).
    query: Next<'a>,
    last_at_before_head: LastAt<'a>,
    last_at_before_end: LastAt<'a>,
}

impl<'a> Cursors<'a> {
    fn new(line: &'a str) -> Self {
        let last_at = || LastAt {
            line,
            scanned: 0,
            last: None,
            work: 0,
        };
        Cursors {
            quote: Next::new(line, |s| s.find(['"', '\'', '`'])),
            dquote: Next::new(line, |s| s.find('"')),
            squote: Next::new(line, |s| s.find('\'')),
            bare_end: Next::new(line, |s| {
                s.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | '&'))
            }),
            colon: Next::new(line, |s| s.find(':')),
            at: Next::new(line, |s| s.find('@')),
            slash_or_question: Next::new(line, |s| s.find(['/', '?'])),
            at_or_slash: Next::new(line, |s| s.find(['@', '/'])),
            query: Next::new(line, |s| {
                let q = uri::query_start(s);
                (q < s.len()).then_some(q)
            }),
            last_at_before_head: last_at(),
            last_at_before_end: last_at(),
        }
    }

    /// [`uri::plausible_user`] of `line[start..at]`: no `/` or `?` before its first `:`.
    fn plausible_user(&mut self, start: usize, at: usize) -> bool {
        self.slash_or_question.at(start) >= self.colon.at(start).min(at)
    }

    /// [`uri::credentials_end`] of the URL `line[start..end]`, as a line offset.
    fn credentials_end(&mut self, start: usize, end: usize) -> Option<usize> {
        let head = self.query.at(start).min(end);
        if let Some(last) = self
            .last_at_before_head
            .before(head)
            .filter(|&a| a >= start)
        {
            if self.plausible_user(start, last) {
                return Some(last);
            }
        }
        let first = self.at_or_slash.at(start);
        (first < head && self.at.at(start) == first).then_some(first)
    }

    /// Bytes searched by all of them.
    fn work(&self) -> usize {
        [
            &self.quote,
            &self.dquote,
            &self.squote,
            &self.bare_end,
            &self.colon,
            &self.at,
            &self.slash_or_question,
            &self.at_or_slash,
            &self.query,
        ]
        .iter()
        .map(|n| n.work)
        .sum::<usize>()
            + self.last_at_before_head.work
            + self.last_at_before_end.work
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cursors answer what `conn`'s functions answer on the URL itself.
    #[test]
    fn cursors_agree_with_the_parsers_rules() {
        for url in [
            "app:2024/Spring!@db/app",
            "app:x@y@db/app",
            "app@srv:pw@srv.example.com/db",
            "h/d@b?application_name=me@corp",
            "u@h/d@b",
            "127.0.0.1:36867/db?user=app_a&password=Tr0ub4dor@horse-battery",
            "h?password=x@y",
            "h/db",
            "u:p?@h/db?a=1",
            "u:p?ss@h/db",
        ] {
            let line = format!("x://{url}");
            let got = Cursors::new(&line)
                .credentials_end(4, line.len())
                .map(|a| a - 4);
            assert_eq!(got, uri::credentials_end(url), "{url}");
        }
    }

    #[test]
    fn finds_values_and_url_passwords() {
        let found = scan(r#"a = "postgres://u:p%40ss@h/db", password = "q w", "password":x1"#);
        assert_eq!(found.url_passwords, ["p%40ss"]);
        let mut values = found.values;
        values.sort_unstable();
        assert_eq!(values, ["q w", "x1"]);
    }

    /// Lines made of thousands of `://` or `password=` are scanned in work linear in their
    /// length and harvest at most a few times their length (each candidate is hashed and
    /// stored), where every occurrence used to search, and yield a candidate, to the end of the
    /// line.
    #[test]
    fn hostile_lines_harvest_linear_bytes() {
        let shapes = [
            "a://a:".repeat(20_000) + "@h",
            "x://u:p@".repeat(20_000),
            "password=".repeat(20_000),
            "password=\"".repeat(20_000),
            "x://u:p".repeat(10_000) + &"@".repeat(10_000),
            "s://".repeat(30_000) + "u:p@h?a=1",
        ];
        for line in shapes {
            let found = scan(&line);
            let bytes: usize = found
                .values
                .iter()
                .chain(&found.url_passwords)
                .map(|s| s.len())
                .sum();
            assert!(
                bytes <= 4 * line.len(),
                "{} bytes harvested from a line of {}",
                bytes,
                line.len()
            );
            // Each of the 11 searches reads the line about once, plus a byte per question.
            assert!(
                found.work <= 30 * line.len(),
                "{} bytes searched in a line of {}",
                found.work,
                line.len()
            );
        }
        // The innermost candidate is still found: a URL after a long run of others.
        let line = "a://b:".repeat(1000) + " postgres://app:the-secret@h/db";
        assert!(scan(&line).url_passwords.contains(&"the-secret"));
    }
}
