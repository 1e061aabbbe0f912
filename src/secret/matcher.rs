//! One automaton over many passwords: finds or masks all of them in one pass over a text.
//!
//! Masking text against a list of passwords one by one costs O(passwords × text); a matcher built
//! once (Aho-Corasick) costs O(text + matches) per text, whatever the number of passwords. The
//! config loader builds one per load (refusing names that hold a password), the engine one per
//! node (masking probe failure messages), and [`redact_all`](super::redact_all) one over the
//! passwords a text was found to hold, so all masking follows the same rules.

use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use super::Password;

/// Passwords shorter than this are not masked: masking them would shred ordinary words, and they
/// are no real secret anyway.
pub const MIN_MASKED: usize = 3;

/// What a masked password becomes.
pub const MASK: &str = "[redacted]";

/// Finds and masks a set of passwords (those of 3 characters or more). `Debug`
/// shows only how many it holds.
pub struct SecretMatcher {
    /// `None` when the automaton could not be built (absurd sizes): every text is then suspect.
    automaton: Option<AhoCorasick>,
    patterns: usize,
}

impl SecretMatcher {
    /// A matcher of `passwords`. A contiguous NFA: compact (a node's matcher lives as long as
    /// its candidates) and still linear to search.
    pub fn new<'a>(passwords: impl IntoIterator<Item = &'a Password>) -> Self {
        let patterns: Vec<&str> = passwords
            .into_iter()
            .map(Password::expose)
            .filter(|s| s.len() >= MIN_MASKED)
            .collect();
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&patterns)
            .ok();
        SecretMatcher {
            automaton,
            patterns: patterns.len(),
        }
    }

    /// How many passwords it looks for.
    pub fn len(&self) -> usize {
        self.patterns
    }

    /// True when it looks for none.
    pub fn is_empty(&self) -> bool {
        self.patterns == 0
    }

    /// True when `text` holds one of the passwords. (Should the automaton be impossible to build,
    /// every text is suspect: refusing beats showing a password.)
    pub fn holds(&self, text: &str) -> bool {
        match &self.automaton {
            _ if self.patterns == 0 => false,
            Some(ac) => ac.is_match(text),
            None => true,
        }
    }

    /// `text` with every occurrence of every password replaced by `[redacted]`. Overlapping
    /// occurrences (one password inside another, or two that overlap) are masked as one span, so
    /// no fragment of either shows. Linear in the text plus the occurrences found.
    pub fn redact(&self, text: &str) -> String {
        let ac = match &self.automaton {
            _ if self.patterns == 0 => return text.to_owned(),
            Some(ac) => ac,
            None => return MASK.to_owned(),
        };
        // Occurrences come in the order of their ends; a new one swallows the spans it overlaps,
        // which are the last ones kept (spans stay sorted and disjoint).
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for m in ac.find_overlapping_iter(text) {
            let (mut start, end) = (m.start(), m.end());
            while let Some(&(s, e)) = spans.last() {
                if e <= start {
                    break;
                }
                start = start.min(s);
                spans.pop();
            }
            spans.push((start, end));
        }
        if spans.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in spans {
            // Matches of UTF-8 patterns in UTF-8 text start and end on character boundaries.
            out.push_str(&text[at..start]);
            out.push_str(MASK);
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }
}

impl fmt::Debug for SecretMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretMatcher({} passwords)", self.patterns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(passwords: &[&str]) -> SecretMatcher {
        let owned: Vec<Password> = passwords.iter().map(|p| Password::new(*p)).collect();
        SecretMatcher::new(&owned)
    }

    #[test]
    fn masks_every_occurrence_and_leaves_short_ones() {
        let m = matcher(&["secret-long", "secret", "ab"]);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.redact("auth failed for secret-long and secret; ab ok"),
            "auth failed for [redacted] and [redacted]; ab ok"
        );
        assert!(m.holds("x secret y"));
        assert!(!m.holds("nothing here"));
        assert_eq!(m.redact("nothing here"), "nothing here");
    }

    #[test]
    fn overlapping_passwords_leave_no_fragment() {
        // Longest-first replacement would leave `x`; leftmost-first would leave `def`.
        let m = matcher(&["xabc", "abcdef"]);
        assert_eq!(m.redact("[xabcdef]"), "[[redacted]]");
        let m = matcher(&["aaa"]);
        assert_eq!(m.redact("aaaaa b aaa"), "[redacted] b [redacted]");
        // Adjacent occurrences stay two masks.
        assert_eq!(matcher(&["abc"]).redact("abcabc"), "[redacted][redacted]");
        assert_eq!(
            matcher(&["pässwörd"]).redact("é pässwörd é"),
            "é [redacted] é"
        );
    }

    #[test]
    fn empty_matchers_hold_nothing_and_debug_shows_no_password() {
        let m = matcher(&[]);
        assert!(m.is_empty() && !m.holds("anything"));
        assert_eq!(m.redact("anything"), "anything");
        let m = matcher(&["debug-secret-9"]);
        assert_eq!(format!("{m:?}"), "SecretMatcher(1 passwords)");
    }
}
