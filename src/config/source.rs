//! The file and environment layers, merged with figment, and figment's errors turned into
//! [`ConfigError`]s that name the origin and key without quoting values.
//!
//! The file is read once by the loader (so the content hash covers exactly what was parsed) and
//! parsed with the `toml` crate; its table is handed to figment by [`TomlFile`]. The same text is
//! re-parsed with spans when an error needs a line and column.
//!
//! Environment overrides ([`EnvSettings`]): `ROTASCOPE_<TABLE>__<KEY>`, a double underscore
//! between table and key because keys contain single ones (`ROTASCOPE_PROBE__AUDIT_INTERVAL=1m`),
//! case-insensitive after the prefix, only for the tables `probe`, `reload` and `shards`.
//! Variables naming islands or secrets are refused; other `ROTASCOPE_` variables (for example the
//! command line's own) are ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use figment::error::{Actual, Kind};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::error::{did_you_mean, ConfigError, KeyPath, Origin, Segment};
use super::redact::Redactor;
use super::schema::{RawConfig, DURATION_KEYS, SETTINGS_TABLES, TOP_LEVEL_KEYS};

/// The prefix of environment overrides.
pub(crate) const ENV_PREFIX: &str = "ROTASCOPE_";
const ENV_SOURCE: &str = "`ROTASCOPE_` environment variables";
const FILE_SOURCE: &str = "TOML file";

/// The config file's text, kept for locating keys when an error needs a line and column.
pub(crate) struct Document {
    /// The file.
    pub path: PathBuf,
    /// Its content.
    pub text: String,
}

impl Document {
    /// The origin of `key` in this file: its line and column when the key is present.
    pub fn origin(&self, key: &KeyPath) -> Origin {
        Origin::File {
            path: self.path.clone(),
            position: self.position(key),
        }
    }

    /// 1-based line and column of `key` (of the deepest part of it present in the file).
    pub fn position(&self, key: &KeyPath) -> Option<(usize, usize)> {
        self.locate(key).0
    }

    /// True when the file has exactly this key.
    pub fn has(&self, key: &KeyPath) -> bool {
        self.locate(key).1
    }

    /// The position of the deepest part of `key` present, and whether all of it is.
    fn locate(&self, key: &KeyPath) -> (Option<(usize, usize)>, bool) {
        let (root, _) = toml::de::DeTable::parse_recoverable(&self.text);
        let mut offset = None;
        let mut found = 0;
        let mut value: Option<&toml::de::DeValue<'_>> = None;
        for (depth, seg) in key.0.iter().enumerate() {
            match seg {
                Segment::Key(k) => {
                    let table = if depth == 0 {
                        Some(root.get_ref())
                    } else {
                        value.and_then(|v| v.as_table())
                    };
                    let Some((kspan, v)) = table.and_then(|t| t.get_key_value(k.as_str())) else {
                        break;
                    };
                    offset = Some(kspan.span().start);
                    value = Some(v.get_ref());
                }
                Segment::Index(i) => {
                    let Some(item) = value.and_then(|v| v.get(*i)) else {
                        break;
                    };
                    offset = Some(item.span().start);
                    value = Some(item.get_ref());
                }
            }
            found += 1;
        }
        (
            offset.map(|o| line_column(&self.text, o)),
            found == key.0.len(),
        )
    }

    /// Parses the TOML into figment's value tree; a syntax error names line and column and quotes
    /// no source line.
    pub fn parse(&self, redactor: &Redactor) -> Result<Dict, ConfigError> {
        let syntax = |e: toml::de::Error| ConfigError::Syntax {
            at: Origin::File {
                path: self.path.clone(),
                position: e.span().map(|s| line_column(&self.text, s.start)),
            },
            message: redactor.redact(e.message().trim()),
        };
        toml::de::DeTable::parse(&self.text).map_err(syntax)?;
        toml::from_str::<Dict>(&self.text).map_err(syntax)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The config file as a figment provider.
pub(crate) struct TomlFile {
    pub path: PathBuf,
    pub dict: Dict,
}

impl Provider for TomlFile {
    fn metadata(&self) -> Metadata {
        Metadata::from(FILE_SOURCE, self.path.as_path())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The `ROTASCOPE_` settings overrides found in an environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct EnvSettings {
    /// (variable name, key path, value), sorted by variable name.
    vars: Vec<(String, Vec<String>, String)>,
}

impl EnvSettings {
    /// Picks the overrides out of `env`; refuses variables that name islands or secrets.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in env {
            let Some(rest) = strip_prefix_ignore_case(name, ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest
                .to_ascii_lowercase()
                .split("__")
                .map(str::to_owned)
                .collect();
            let first = path[0].as_str();
            if SETTINGS_TABLES.contains(&first) {
                if path.iter().any(String::is_empty) {
                    continue;
                }
                vars.push((name.clone(), path, value.clone()));
            } else if TOP_LEVEL_KEYS.contains(&first) {
                return Err(ConfigError::EnvNotAllowed { var: name.clone() });
            }
        }
        Ok(EnvSettings { vars })
    }

    /// The variable that set `key`, if one did.
    fn var_for(&self, key: &[String]) -> Option<&str> {
        let exact = self.vars.iter().find(|(_, path, _)| path == key);
        exact
            .or_else(|| {
                self.vars
                    .iter()
                    .find(|(_, path, _)| key.starts_with(path) || path.starts_with(key))
            })
            .map(|(name, _, _)| name.as_str())
    }

    /// What the overrides contribute to the content hash.
    pub fn fingerprint_input(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(n, _, v)| (n.as_str(), v.as_str()))
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

impl Provider for EnvSettings {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_SOURCE)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (_, path, value) in &self.vars {
            // Parsed like figment's own Env provider: `500ms` stays a string, `8` is a number.
            let parsed: Value = value.parse().unwrap_or_else(|_| Value::from(value.clone()));
            let nested = figment::util::nest(&path.join("."), parsed);
            if let Some(d) = nested.into_dict() {
                dict = merge_dicts(dict, d);
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn merge_dicts(mut a: Dict, b: Dict) -> Dict {
    for (k, v) in b {
        let merged = match (a.remove(&k), v) {
            (Some(Value::Dict(_, old)), Value::Dict(_, new)) => Value::from(merge_dicts(old, new)),
            (_, new) => new,
        };
        a.insert(k, merged);
    }
    a
}

/// The merged layers, extracted: the raw config and the figment (for asking where a value came
/// from).
pub(crate) struct Layers {
    pub raw: RawConfig,
    figment: Figment,
}

impl Layers {
    /// Merges the file and the overrides and extracts the raw config.
    pub fn extract(
        doc: &Document,
        dict: Dict,
        env: &EnvSettings,
        redactor: &Redactor,
    ) -> Result<Self, ConfigError> {
        let figment = Figment::new()
            .merge(TomlFile {
                path: doc.path.clone(),
                dict,
            })
            .merge(env.clone());
        match figment.extract::<RawConfig>() {
            Ok(raw) => Ok(Layers { raw, figment }),
            Err(e) => Err(figment_error(e, doc, env, redactor)),
        }
    }

    /// Where the value at `key` came from: an environment variable or the file (with position).
    pub fn origin(&self, doc: &Document, env: &EnvSettings, key: &KeyPath) -> Origin {
        let dotted = key.to_string();
        let from_env = self
            .figment
            .find_metadata(&dotted)
            .is_some_and(|m| m.name == ENV_SOURCE);
        match (from_env, env.var_for(&plain_keys(key))) {
            (true, Some(var)) => Origin::Env {
                var: var.to_owned(),
            },
            _ => doc.origin(key),
        }
    }
}

fn plain_keys(key: &KeyPath) -> Vec<String> {
    key.0
        .iter()
        .map(|s| match s {
            Segment::Key(k) => k.clone(),
            Segment::Index(i) => i.to_string(),
        })
        .collect()
}

/// Turns figment's first error into a [`ConfigError`]; values are shown only for plain settings.
fn figment_error(
    e: figment::Error,
    doc: &Document,
    env: &EnvSettings,
    redactor: &Redactor,
) -> ConfigError {
    let Some(e) = e.into_iter().next() else {
        return ConfigError::Syntax {
            at: Origin::file(&doc.path),
            message: "unreadable configuration".into(),
        };
    };
    let mut key = KeyPath(
        e.path
            .iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Segment::Index(i),
                Err(_) => Segment::Key(s.clone()),
            })
            .collect(),
    );
    let from_env = e.metadata.as_ref().is_some_and(|m| m.name == ENV_SOURCE);
    // Env when figment says so, or when the file lacks the key and a variable sets it.
    let origin_of = |key: &KeyPath| match env.var_for(&plain_keys(key)) {
        Some(var) if from_env || !doc.has(key) => Origin::Env {
            var: var.to_owned(),
        },
        _ => doc.origin(key),
    };
    match e.kind {
        Kind::UnknownField(field, expected) => {
            // figment's path usually ends with the field already.
            if key.last_key() != Some(field.as_str()) {
                key = key.key(&field);
            }
            ConfigError::UnknownKey {
                at: origin_of(&key),
                suggestion: did_you_mean(&field, expected.iter().copied()),
                expected: expected.iter().map(|s| s.to_string()).collect(),
                key,
            }
        }
        Kind::MissingField(field) => {
            let at = doc.origin(&key);
            ConfigError::MissingKey {
                at,
                key: key.key(&field),
            }
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            let expected = expected_for(&key, expected);
            ConfigError::InvalidValue {
                at: origin_of(&key),
                found: describe_actual(&actual, &key, redactor),
                expected,
                key,
            }
        }
        Kind::InvalidLength(len, expected) => ConfigError::InvalidValue {
            at: origin_of(&key),
            found: format!("{len} items"),
            expected: redactor.redact(&expected),
            key,
        },
        Kind::UnknownVariant(_, expected) => ConfigError::InvalidValue {
            at: origin_of(&key),
            found: "an unknown variant".into(),
            expected: format!("one of {}", expected.join(", ")),
            key,
        },
        Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => ConfigError::InvalidValue {
            at: origin_of(&key),
            found: "a number out of range".into(),
            expected: "a smaller number".into(),
            key,
        },
        other => ConfigError::InvalidValue {
            at: origin_of(&key),
            found: "something else".into(),
            expected: redactor.redact(&kind_text(&other)),
            key,
        },
    }
}

fn kind_text(kind: &Kind) -> String {
    match kind {
        // A custom message (from a serde impl) may quote the value: keep only its first clause.
        Kind::Message(m) => m
            .split(':')
            .next()
            .unwrap_or("a valid value")
            .trim()
            .to_owned(),
        other => format!("{other}")
            .split(':')
            .next()
            .unwrap_or("a valid value")
            .to_owned(),
    }
}

/// serde's expectation in the words of a TOML user (`struct RawProbe` means a table).
fn expected_for(key: &KeyPath, expected: String) -> String {
    match key.last_key() {
        Some(k) if DURATION_KEYS.contains(&k) => return "a duration string such as \"2s\"".into(),
        _ => {}
    }
    if expected.starts_with("struct ") || expected.starts_with("a map") {
        "a table".into()
    } else if expected.starts_with("a sequence") {
        "an array".into()
    } else if matches!(expected.as_str(), "u8" | "u16" | "u32" | "u64" | "usize") {
        "a whole number of 0 or more".into()
    } else {
        expected
    }
}

/// What was found: the value for plain settings (`[probe]`, `[reload]`, `[shards]`), only its
/// kind anywhere else (it might be a password or a connection string carrying one).
fn describe_actual(actual: &Actual, key: &KeyPath, redactor: &Redactor) -> String {
    let plain_setting = key
        .first_key()
        .is_some_and(|k| SETTINGS_TABLES.contains(&k));
    let kind = match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a float",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option | Actual::UnitVariant => "nothing",
        Actual::Seq => "an array",
        Actual::Map => "a table",
        _ => "a value of another type",
    };
    let scalar = matches!(
        actual,
        Actual::Bool(_)
            | Actual::Unsigned(_)
            | Actual::Signed(_)
            | Actual::Float(_)
            | Actual::Str(_)
    );
    if plain_setting && scalar {
        redactor.redact(&actual.to_string())
    } else {
        kind.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 6), (2, 1));
        assert_eq!(line_column(t, 8), (2, 3));
    }

    #[test]
    fn positions_of_nested_keys() {
        let doc = Document {
            path: "x.toml".into(),
            text: "[probe]\ninterval = 3\n\n[[island]]\nno = 1\n[[island.node]]\nurl = \"u\"\n\
                   [[island.node]]\nurl = \"v\"\npassword_env = \"X\"\n"
                .into(),
        };
        let k = KeyPath::root().key("probe").key("interval");
        assert_eq!(doc.position(&k), Some((2, 1)));
        let k = KeyPath::root()
            .key("island")
            .index(0)
            .key("node")
            .index(1)
            .key("password_env");
        assert_eq!(doc.position(&k), Some((10, 1)));
        // A missing key points at the deepest part present.
        let k = KeyPath::root().key("probe").key("nope");
        assert_eq!(doc.position(&k), Some((1, 2)));
    }

    #[test]
    fn env_overrides_are_split_on_double_underscore() {
        let env: BTreeMap<String, String> = [
            ("ROTASCOPE_PROBE__AUDIT_INTERVAL", "1m"),
            ("ROTASCOPE_CONFIG", "/x"),
            ("HOME", "/root"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let s = EnvSettings::from_env(&env).expect("ok");
        assert_eq!(s.vars.len(), 1);
        assert_eq!(s.vars[0].1, vec!["probe", "audit_interval"]);
        let bad: BTreeMap<String, String> =
            [("ROTASCOPE_SECRETS_FILE".to_owned(), "/x".to_owned())].into();
        assert!(matches!(
            EnvSettings::from_env(&bad),
            Err(ConfigError::EnvNotAllowed { .. })
        ));
    }
}
