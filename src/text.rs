//! Small wording helpers shared by every output (screen, tables, `config check`), and the one
//! sanitizer for foreign text.
//!
//! Foreign text is anything rotascope did not write itself: a server's error message, a
//! `secrets_command`'s stderr, logins and labels from a secrets file or command, node names and
//! paths from a config, a parser's message. Any of it may carry terminal escape sequences (change
//! the window title, clear the screen, hide text) or bidirectional-override characters (make a
//! line read differently from what it holds). [`sanitize`] shows such characters as visible
//! escapes; every human-facing output (the `check` table, the TUI, config errors, `config check`)
//! passes foreign text through it. JSON output keeps the exact text: serde escapes C0 controls
//! itself, and [`json_safe`] escapes the rest (DEL, C1, bidirectional and invisible characters)
//! as `\uXXXX`, so a JSON line printed to a terminal is as harmless as the table, and still
//! decodes to the same string.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `1 node`, `2 nodes`: a count with its noun, plural by adding `s` (every noun we count does).
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Foreign text made safe to print: every control character (C0, DEL, C1), and every invisible
/// formatting character that reorders or hides text (bidirectional controls, zero-width
/// characters, line and paragraph separators, BOM), is shown as an escape: `\n`, `\r`, `\t`,
/// `\x1b`, `\u{202e}`. Everything else, other scripts and emoji included, passes unchanged, and
/// so does text that needs nothing (no copy is made).
///
/// The result is for people: it is not meant to be unescaped (a `\` in the input stays as is).
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// Serialized JSON with every character [`sanitize`] would escape written as a JSON `\uXXXX`
/// escape: the same document (those characters can only occur inside strings, and all are in the
/// Basic Multilingual Plane), safe to print on a terminal. serde_json already escapes C0 controls
/// inside strings; a raw one is the document's own whitespace (pretty printing) and stays.
pub fn json_safe(json: String) -> String {
    let escaped = |c: char| u32::from(c) >= 0x7f && needs_escape(c);
    if !json.contains(escaped) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// True for the characters [`sanitize`] escapes.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'                  // Arabic letter mark
                | '\u{200b}'..='\u{200f}' // zero-width space/joiners, LRM, RLM
                | '\u{2028}'..='\u{202e}' // line/paragraph separators, LRE..RLO
                | '\u{2060}'..='\u{206f}' // word joiner, invisible operators, LRI..PDI, ...
                | '\u{feff}'              // BOM / zero-width no-break space
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(plural(0, "node"), "0 nodes");
        assert_eq!(plural(1, "node"), "1 node");
        assert_eq!(plural(2, "island"), "2 islands");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in [
            "",
            "password authentication failed for user \"app\"",
            "Zürich 東京 ✓ ▲",
        ] {
            assert!(matches!(sanitize(s), Cow::Borrowed(b) if b == s), "{s}");
        }
    }

    #[test]
    fn terminal_escapes_are_shown_not_sent() {
        // Set the window title, clear the screen, home the cursor: what a hostile server tried.
        let hostile = "FATAL \u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[H tail";
        let shown = sanitize(hostile);
        assert_eq!(shown, "FATAL \\x1b]0;pwned\\x07\\x1b[2J\\x1b[H tail");
        assert!(!shown.chars().any(char::is_control));
        // C1 CSI (a one-character escape some terminals honour), DEL, line breaks, tabs.
        assert_eq!(
            sanitize("a\u{9b}31mb\u{7f}c\r\n\td"),
            "a\\u{9b}31mb\\x7fc\\r\\n\\td"
        );
    }

    #[test]
    fn json_stays_the_same_document_without_raw_escapes() {
        let value = serde_json::json!({"m": "a\u{1b}[2J\u{9b}31m\u{202e}b\u{7f}", "n": "Zürich"});
        let json = json_safe(serde_json::to_string_pretty(&value).unwrap());
        assert!(json.contains('\n'), "pretty printing stays");
        assert!(!json.contains(|c| c != '\n' && needs_escape(c)), "{json}");
        assert!(
            json.contains("\\u009b") && json.contains("\\u202e"),
            "{json}"
        );
        assert!(json.contains("Zürich"));
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn bidi_overrides_and_invisible_characters_are_shown() {
        assert_eq!(
            sanitize("user \u{202e}nimda\u{202c} ok"),
            "user \\u{202e}nimda\\u{202c} ok"
        );
        assert_eq!(sanitize("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
        assert_eq!(sanitize("x\u{2066}y\u{2069}"), "x\\u{2066}y\\u{2069}");
    }
}
