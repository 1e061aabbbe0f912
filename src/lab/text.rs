//! Quoting for SQL and URLs, so that any login, database or password can be used safely.

/// Quotes an SQL identifier: `app"x` → `"app""x"`.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(crate) use crate::engine::pg::query::sql_literal as literal;

/// A file-name-safe form of `name`: ASCII letters, digits, `-` and `_` kept, the rest `_`.
pub fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for URL user info and paths).
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote_characters() {
        assert_eq!(ident("app\"x"), "\"app\"\"x\"");
        assert_eq!(literal("it's a \\ test"), "E'it''s a \\\\ test'");
    }

    #[test]
    fn url_encoding_keeps_unreserved_characters_only() {
        assert_eq!(url_encode("a-b.c_d~9"), "a-b.c_d~9");
        assert_eq!(url_encode("p@ss:w/rd é"), "p%40ss%3Aw%2Frd%20%C3%A9");
    }
}
