//! libpq's `key = value` syntax, byte for byte as `conninfo_parse` reads it.
//!
//! - Blanks (C `isspace`) separate pairs and may surround the `=`.
//! - A keyword runs to `=` or a blank; it must be followed by `=`.
//! - A value is bare (to the next blank) or single-quoted (to the closing quote); in both, a
//!   backslash takes the next character literally (`\'`, `\\`, `\ `). A backslash at the very end
//!   is dropped. Nothing needs to follow a closing quote before the next keyword.
//! - SQL-style quote doubling (`''`) is no escape: `'it''s'` is the value `it` followed by a
//!   keyword `s'...`.
//!
//! Errors give a character position, never text: a misplaced quote can make part of a password
//! look like a keyword.

use super::Error;

/// One `keyword=value` pair as written.
pub struct Pair {
    /// The keyword (not yet checked).
    pub keyword: String,
    /// The value, quotes and escapes removed.
    pub value: String,
    /// The 1-based character position of the keyword (for messages).
    pub at: usize,
}

/// C's `isspace` in the "C" locale.
pub fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Splits `s` into pairs, in order.
pub fn split(s: &str) -> Result<Vec<Pair>, Error> {
    let b = s.as_bytes();
    let char_pos = |byte: usize| s[..byte].chars().count() + 1;
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_blank(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !is_blank(b[i]) {
            i += 1;
        }
        let keyword = s[start..i].to_owned();
        while i < b.len() && is_blank(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return Err(Error::Syntax(format!(
                "missing \"=\" after the option name at character {} (use a postgres:// URL or key=value pairs)",
                char_pos(start)
            )));
        }
        i += 1;
        while i < b.len() && is_blank(b[i]) {
            i += 1;
        }
        let mut value: Vec<u8> = Vec::new();
        if b.get(i) == Some(&b'\'') {
            let quote = i;
            i += 1;
            loop {
                match b.get(i) {
                    None => {
                        return Err(Error::Syntax(format!(
                            "unterminated quoted value (the quote at character {})",
                            char_pos(quote)
                        )))
                    }
                    Some(b'\\') => {
                        if let Some(c) = b.get(i + 1) {
                            value.push(*c);
                            i += 2;
                        } else {
                            i += 1;
                        }
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !is_blank(b[i]) {
                if b[i] == b'\\' {
                    if let Some(c) = b.get(i + 1) {
                        value.push(*c);
                    }
                    i = (i + 2).min(b.len());
                } else {
                    value.push(b[i]);
                    i += 1;
                }
            }
            // The blank that ended the value is consumed with it, as libpq does.
        }
        // Escapes only ever drop ASCII backslashes, so the bytes stay UTF-8.
        let value = String::from_utf8(value)
            .map_err(|_| Error::Syntax("a value is not UTF-8 text".into()))?;
        out.push(Pair {
            keyword,
            value,
            at: char_pos(start),
        });
    }
}

/// `value` written so that [`split`] reads it back: bare when it can be, else quoted with `\`
/// before every `'` and `\`.
pub fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && !value.starts_with('\'')
        && !value.bytes().any(|b| is_blank(b) || b == b'\\');
    if bare {
        value.to_owned()
    } else {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('\'');
        for c in value.chars() {
            if c == '\'' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('\'');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        split(s)
            .unwrap()
            .into_iter()
            .map(|p| (p.keyword, p.value))
            .collect()
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn libpq_syntax() {
        assert_eq!(
            pairs(" host = h\tport=5433\n"),
            [p("host", "h"), p("port", "5433")]
        );
        assert_eq!(
            pairs(r"password='a b\'c\\' user=x"),
            [p("password", r"a b'c\"), p("user", "x")]
        );
        assert_eq!(pairs(r"password=a\ b\\c"), [p("password", r"a b\c")]);
        assert_eq!(pairs(r"a=x\"), [p("a", "x")]);
        assert_eq!(pairs("a='' b="), [p("a", ""), p("b", "")]);
        // Nothing needs to follow a closing quote.
        assert_eq!(pairs("a='x'b=y"), [p("a", "x"), p("b", "y")]);
        // A quote inside a bare value is literal.
        assert_eq!(pairs("a=it's"), [p("a", "it's")]);
    }

    #[test]
    fn errors_give_positions_not_text() {
        let e = split("host=h password='it''s secret'")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("missing \"=\"") && e.contains("character 21"),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
        let e = split("host=h password='open").err().unwrap().to_string();
        assert!(
            e.contains("unterminated") && e.contains("character 17"),
            "{e}"
        );
        assert!(split("justaword").is_err());
    }

    #[test]
    fn quoting_round_trips() {
        for v in ["plain", "", "a b", "it's", r"back\slash", "'lead", "x'"] {
            let s = format!("k={}", quote(v));
            assert_eq!(pairs(&s), [p("k", v)], "{s}");
        }
        assert_eq!(quote("x'"), "x'");
    }
}
