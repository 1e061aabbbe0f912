//! The options a connection string sets: one value per keyword, the last one written winning, each
//! with where it came from.

use std::fmt;

use super::keywords::{self, KEYWORDS};
use crate::topology::Source;

/// One option's value and origin.
#[derive(Clone, PartialEq, Eq)]
pub struct Value {
    /// The decoded value.
    pub text: String,
    /// Where it came from.
    pub source: Source,
}

/// Every option set, by keyword. `Debug` shows the keywords set, never a value (a password, an
/// `sslpassword`, `options` may all carry secrets).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Options {
    values: Vec<Option<Value>>,
    /// Keyword indexes in the order first set (for rebuilding a string).
    order: Vec<usize>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.order.iter().map(|i| keywords::name_at(*i)))
            .finish()
    }
}

impl Options {
    /// No option set.
    pub fn new() -> Options {
        Options {
            values: vec![None; KEYWORDS.len()],
            order: Vec::new(),
        }
    }

    /// Sets `keyword` (which must be in the keyword table), replacing any earlier value: libpq's
    /// "last one wins".
    pub(super) fn set(&mut self, keyword: &'static str, text: String, source: Source) {
        let Some(i) = keywords::index(keyword) else {
            debug_assert!(false, "unknown keyword {keyword}");
            return;
        };
        if self.values[i].is_none() {
            self.order.push(i);
        }
        self.values[i] = Some(Value { text, source });
    }

    /// Sets `keyword` only when nothing set it yet (a service file's values never override the
    /// string's).
    pub fn set_default(&mut self, keyword: &'static str, text: String, source: Source) {
        if self.get(keyword).is_none() {
            self.set(keyword, text, source);
        }
    }

    /// The value of `keyword`, if set.
    pub fn get(&self, keyword: &str) -> Option<&Value> {
        self.values[keywords::index(keyword)?].as_ref()
    }

    /// The text of `keyword`, if set.
    pub fn text(&self, keyword: &str) -> Option<&str> {
        self.get(keyword).map(|v| v.text.as_str())
    }

    /// The text of `keyword` when set to something other than the empty string (libpq treats an
    /// empty value of most keywords as unset).
    pub fn non_empty(&self, keyword: &str) -> Option<&str> {
        self.text(keyword).filter(|t| !t.is_empty())
    }

    /// Every option set, in the order first set.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.order
            .iter()
            .filter_map(|i| self.values[*i].as_ref().map(|v| (keywords::name_at(*i), v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_one_wins_and_defaults_never_override() {
        let mut o = Options::new();
        o.set("port", "1".into(), Source::String);
        o.set("host", "h".into(), Source::String);
        o.set("port", "2".into(), Source::String);
        o.set_default("port", "3".into(), Source::ServiceFile);
        o.set_default("dbname", "d".into(), Source::ServiceFile);
        assert_eq!(o.text("port"), Some("2"));
        assert_eq!(o.get("dbname").unwrap().source, Source::ServiceFile);
        let order: Vec<&str> = o.iter().map(|(k, _)| k).collect();
        assert_eq!(order, ["port", "host", "dbname"]);
        o.set("password", "sekrit".into(), Source::String);
        assert!(!format!("{o:?}").contains("sekrit"));
    }
}
