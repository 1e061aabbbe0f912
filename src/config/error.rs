//! Config errors: where (file, line, column or environment variable), which key, and what was
//! expected — never the value of a secret.
//!
//! Every string stored in a [`ConfigError`] is redacted when the error is built (the loader knows
//! the passwords it has seen), and once more when the load ends ([`ConfigError::masked`], with
//! every password the load got to know, the secret sources read after the error's source too), so
//! `Display` is safe by construction: callers may print it, log it and publish it as a
//! [`crate::config::ReloadFailure`] as is. The values of `password_env`, `password_file` and
//! `secrets_command` are repeated only when they look like what they should be (a variable name,
//! a path, a program): one that does not may be a password pasted into the wrong key.
//! Control characters are escaped where the text is shown ([`crate::text::sanitize`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::redact::Redactor;
use crate::topology::IslandNo;

/// Where a bad value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file (the config file or a `secrets_file`), with the position where known (1-based).
    File {
        /// The file.
        path: PathBuf,
        /// Line and column (1-based), when the offending spot could be located.
        position: Option<(usize, usize)>,
    },
    /// A `ROTASCOPE_` environment override.
    Env {
        /// The variable's name, e.g. `ROTASCOPE_PROBE__INTERVAL`.
        var: String,
    },
    /// The standard output of `secrets_command`.
    Command {
        /// The program that was run.
        program: String,
    },
}

impl Origin {
    /// A file origin without a position.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Origin::File {
            path: path.into(),
            position: None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path,
                position: Some((line, column)),
            } => write!(f, "{}:{line}:{column}", path.display()),
            Origin::File {
                path,
                position: None,
            } => write!(f, "{}", path.display()),
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::Command { program } => write!(f, "output of secrets_command `{program}`"),
        }
    }
}

/// One step of a [`KeyPath`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index (0-based, as in the file).
    Index(usize),
}

/// A key path such as `island[0].node[1].password_env` (indices count entries in file order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// The empty path: the top level of a document.
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a table key.
    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_owned()));
        p
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(index));
        p
    }

    /// The first key, if the path starts with one (`probe` in `probe.interval`).
    pub fn first_key(&self) -> Option<&str> {
        match self.0.first() {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// The last key of the path, if it ends with one.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Everything that can be wrong with a config and its secret sources.
///
/// Messages name the origin (`file:line:column`, an environment variable or the secrets command),
/// the key path and what was expected. Offending values are shown only for plain settings; secret
/// values, connection strings and command output are redacted before they get here.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No `--config` was given and none of the default locations holds a file.
    #[error("no config file found (tried {}); pass --config PATH", list_paths(.tried))]
    NoConfigFile {
        /// The locations looked at, in order.
        tried: Vec<PathBuf>,
    },
    /// The config file does not exist.
    #[error("config file {} does not exist", .path.display())]
    FileMissing {
        /// The path given.
        path: PathBuf,
    },
    /// The config file exists but cannot be read (permissions, not UTF-8, a directory, ...).
    #[error("{}: cannot read config file: {reason}", .path.display())]
    FileUnreadable {
        /// The path.
        path: PathBuf,
        /// Why (redacted).
        reason: String,
    },
    /// The TOML does not parse.
    #[error("{at}: TOML syntax error: {message}")]
    Syntax {
        /// File and position.
        at: Origin,
        /// The parser's message (no source lines, redacted).
        message: String,
    },
    /// A key the config does not know; `suggestion` is the closest known key.
    #[error("{at}: unknown key `{key}`{}", hint(.suggestion.as_deref(), .expected))]
    UnknownKey {
        /// Where.
        at: Origin,
        /// The full path of the unknown key.
        key: KeyPath,
        /// The closest known key, if one is close.
        suggestion: Option<String>,
        /// The keys allowed at that place.
        expected: Vec<String>,
    },
    /// A required key is missing.
    #[error("{at}: `{key}` is missing")]
    MissingKey {
        /// Where (the enclosing table).
        at: Origin,
        /// The missing key's path.
        key: KeyPath,
    },
    /// A value of the wrong type or out of range.
    #[error("{at}: `{key}`: expected {expected}, found {found}")]
    InvalidValue {
        /// Where.
        at: Origin,
        /// Which key.
        key: KeyPath,
        /// What was expected.
        expected: String,
        /// What was found (a type name, or the value for plain settings).
        found: String,
    },
    /// A duration that humantime cannot read, or zero.
    #[error("{at}: `{key}`: bad duration \"{value}\": {reason} (expected e.g. \"500ms\", \"2s\", \"1m\")")]
    BadDuration {
        /// Where.
        at: Origin,
        /// Which key.
        key: KeyPath,
        /// The text given (a setting, not a secret).
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A `[ui.keys]` entry that is not a key, takes Ctrl-C or Ctrl-Z, or gives a key a second
    /// action.
    #[error("{at}: `{key}`: {reason}")]
    BadKeyBinding {
        /// Where.
        at: Origin,
        /// The entry, `ui.keys.<action>`.
        key: KeyPath,
        /// What is wrong, naming the other action of a clash.
        reason: String,
    },
    /// An `sslmode` libpq does not know.
    #[error("{at}: `{key}`: bad sslmode \"{value}\" (expected disable, allow, prefer, require, verify-ca or verify-full)")]
    BadSslMode {
        /// Where.
        at: Origin,
        /// The connection string's key.
        key: KeyPath,
        /// The mode given.
        value: String,
    },
    /// `allow_auth` and the connection string's `require_auth` leave no method to authenticate
    /// with.
    #[error("{at}: `{key}`: no authentication method is left: {detail}")]
    NoAuthMethod {
        /// Where the connection string is.
        at: Origin,
        /// The connection string's key.
        key: KeyPath,
        /// Both keys and what each allows (`probe.allow_auth` allows scram-sha-256, the string's
        /// require_auth=md5 allows none of them).
        detail: String,
    },
    /// A connection string that does not parse.
    #[error("{at}: `{key}`: bad connection string: {reason}")]
    BadConnString {
        /// Where.
        at: Origin,
        /// The connection string's key.
        key: KeyPath,
        /// Why (redacted).
        reason: String,
    },
    /// The same node name in two islands.
    #[error("{at}: `{key}`: node `{name}` is already in island {first}; a node belongs to one island (here island {second})")]
    DuplicateNode {
        /// Where the second use is.
        at: Origin,
        /// The second use's key.
        key: KeyPath,
        /// The node name (password removed).
        name: String,
        /// The island that has it first.
        first: IslandNo,
        /// The island that repeats it.
        second: IslandNo,
    },
    /// An island without nodes.
    #[error("{at}: `{key}`: island {no} has no nodes")]
    EmptyIsland {
        /// Where.
        at: Origin,
        /// The island's key.
        key: KeyPath,
        /// The island's number.
        no: IslandNo,
    },
    /// Two `[[island]]` tables with one `no`.
    #[error("{at}: `{key}`: island no {no} is defined twice (`[[island]]` tables must have distinct `no`)")]
    DuplicateIsland {
        /// Where the second definition is.
        at: Origin,
        /// Its key.
        key: KeyPath,
        /// The repeated number.
        no: IslandNo,
    },
    /// The config describes no island at all.
    #[error("{at}: no islands configured (add `islands = [[\"postgres://...\"]]` or an `[[island]]` table)")]
    NoIslands {
        /// The config file.
        at: Origin,
    },
    /// A candidate without a password.
    #[error("{at}: `{key}`: candidate `{login}` of node `{node}` has no password (set `password`, `password_env` or `password_file`, or add [[secrets]])")]
    NoPassword {
        /// Where.
        at: Origin,
        /// The entry's key.
        key: KeyPath,
        /// The node name (password removed).
        node: String,
        /// The login.
        login: String,
    },
    /// A candidate without a login.
    #[error("{at}: `{key}`: node `{node}` has no login (put a user in the connection string, set `login`, or add [[secrets]])")]
    NoLogin {
        /// Where.
        at: Origin,
        /// The entry's key.
        key: KeyPath,
        /// The node name.
        node: String,
    },
    /// More than one of `password`, `password_env`, `password_file`.
    #[error("{at}: `{key}`: give only one of `password`, `password_env`, `password_file`")]
    ConflictingPasswords {
        /// Where.
        at: Origin,
        /// The entry's key.
        key: KeyPath,
    },
    /// A `password_file` that cannot be read.
    #[error("{at}: `{key}`: cannot read password file {file}: {reason}")]
    PasswordFile {
        /// Where.
        at: Origin,
        /// The `password_file` key.
        key: KeyPath,
        /// The resolved path, or a note saying why it is not repeated.
        file: String,
        /// Why.
        reason: String,
    },
    /// A `password_env` naming a variable that is not set (or empty).
    #[error("{at}: `{key}`: environment variable {var} is not set")]
    UnsetEnv {
        /// Where.
        at: Origin,
        /// The `password_env` key.
        key: KeyPath,
        /// The variable's name, or a note saying why it is not repeated.
        var: String,
    },
    /// A value longer than anything real (a login, a label, a password, a name).
    #[error("{at}: `{key}`: {what} of {length} bytes is longer than the limit of {limit} bytes")]
    TooLong {
        /// Where.
        at: Origin,
        /// Which key (or secrets entry).
        key: KeyPath,
        /// What it is, e.g. "a login".
        what: &'static str,
        /// Its length in bytes.
        length: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// Secrets (`[[secrets]]`, `secrets_file`, `secrets_command`) given without compact `islands`.
    #[error("{at}: `{key}`: secrets apply to the compact `islands` form, but `islands` is empty (explicit `[[island.node]]` entries carry their own password)")]
    UnusedSecrets {
        /// Where.
        at: Origin,
        /// The secrets source's key.
        key: KeyPath,
    },
    /// A `secrets_file` that cannot be read.
    #[error("{at}: `{key}`: cannot read secrets file {}: {reason}", .path.display())]
    SecretsFileUnreadable {
        /// Where the `secrets_file` key is.
        at: Origin,
        /// The key.
        key: KeyPath,
        /// The resolved path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A secrets file or command output that is not a list of `{login, password, label?}`.
    #[error("{at}: `{key}`: {message}")]
    BadSecrets {
        /// The secrets file (with position where known) or the command.
        at: Origin,
        /// The entry, e.g. `[2].password` (or the top level).
        key: KeyPath,
        /// What is wrong (redacted).
        message: String,
    },
    /// `secrets_command` could not be started.
    #[error("{at}: `secrets_command`: cannot run {program}: {reason}")]
    CommandSpawn {
        /// Where the key is.
        at: Origin,
        /// The program, quoted, or a note saying why it is not repeated.
        program: String,
        /// Why.
        reason: String,
    },
    /// `secrets_command` printed more than the limit on stdout or stderr (it was killed).
    #[error("{at}: `secrets_command`: `{program}` printed more than {limit} on {stream}; it was stopped (a secrets list is far smaller)")]
    CommandOutputTooLarge {
        /// Where the key is.
        at: Origin,
        /// The program.
        program: String,
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// The limit, e.g. `4 MiB`.
        limit: String,
    },
    /// The whole load (files, command) did not finish in time; what it was waiting on was
    /// abandoned and the last good config stays.
    #[error("{}: loading the config did not finish within {} (a hung file system or secrets_command?); gave up", .path.display(), humantime::format_duration(*.after))]
    LoadTimeout {
        /// The config file.
        path: PathBuf,
        /// The deadline.
        after: Duration,
    },
    /// `secrets_command` exited unsuccessfully.
    #[error("{at}: `secrets_command`: `{program}` failed ({status}); stderr: {}", if .stderr.is_empty() { "(empty)" } else { .stderr.as_str() })]
    CommandFailed {
        /// Where the key is.
        at: Origin,
        /// The program.
        program: String,
        /// The exit status, e.g. `exit status: 2`.
        status: String,
        /// Its standard error (redacted, trimmed, shortened).
        stderr: String,
    },
    /// `secrets_command` did not finish in time (it was killed).
    #[error("{at}: `secrets_command`: `{program}` timed out after {}", humantime::format_duration(*.after))]
    CommandTimeout {
        /// Where the key is.
        at: Origin,
        /// The program.
        program: String,
        /// The limit.
        after: Duration,
    },
    /// A `ROTASCOPE_` variable that tries to set islands or secrets.
    #[error("environment variable {var}: only settings ([probe], [reload], [shards]) can be overridden from the environment, never islands or secrets")]
    EnvNotAllowed {
        /// The variable's name (its value is never shown).
        var: String,
    },
}

impl ConfigError {
    /// This error with every password `redactor` knows masked in all its text: values, reasons,
    /// names, paths and key paths alike (a password may turn up anywhere a mistake puts it).
    pub(crate) fn masked(self, redactor: &Redactor) -> ConfigError {
        let m = |s: String| redactor.redact(&s);
        let p = |path: PathBuf| {
            let shown = path.to_string_lossy();
            let masked = redactor.redact(&shown);
            if masked == shown {
                path
            } else {
                PathBuf::from(masked)
            }
        };
        let at = |o: Origin| match o {
            Origin::File { path, position } => Origin::File {
                path: p(path),
                position,
            },
            Origin::Env { var } => Origin::Env { var: m(var) },
            Origin::Command { program } => Origin::Command {
                program: m(program),
            },
        };
        let k = |key: KeyPath| {
            KeyPath(
                key.0
                    .into_iter()
                    .map(|s| match s {
                        Segment::Key(k) => Segment::Key(m(k)),
                        index => index,
                    })
                    .collect(),
            )
        };
        use ConfigError as E;
        match self {
            E::NoConfigFile { tried } => E::NoConfigFile {
                tried: tried.into_iter().map(p).collect(),
            },
            E::FileMissing { path } => E::FileMissing { path: p(path) },
            E::FileUnreadable { path, reason } => E::FileUnreadable {
                path: p(path),
                reason: m(reason),
            },
            E::Syntax { at: o, message } => E::Syntax {
                at: at(o),
                message: m(message),
            },
            E::UnknownKey {
                at: o,
                key,
                suggestion,
                expected,
            } => E::UnknownKey {
                at: at(o),
                key: k(key),
                suggestion,
                expected,
            },
            E::MissingKey { at: o, key } => E::MissingKey {
                at: at(o),
                key: k(key),
            },
            E::InvalidValue {
                at: o,
                key,
                expected,
                found,
            } => E::InvalidValue {
                at: at(o),
                key: k(key),
                expected: m(expected),
                found: m(found),
            },
            E::BadDuration {
                at: o,
                key,
                value,
                reason,
            } => E::BadDuration {
                at: at(o),
                key: k(key),
                value: m(value),
                reason: m(reason),
            },
            E::BadKeyBinding { at: o, key, reason } => E::BadKeyBinding {
                at: at(o),
                key: k(key),
                reason: m(reason),
            },
            E::BadSslMode { at: o, key, value } => E::BadSslMode {
                at: at(o),
                key: k(key),
                value: m(value),
            },
            E::BadConnString { at: o, key, reason } => E::BadConnString {
                at: at(o),
                key: k(key),
                reason: m(reason),
            },
            E::NoAuthMethod { at: o, key, detail } => E::NoAuthMethod {
                at: at(o),
                key: k(key),
                detail: m(detail),
            },
            E::DuplicateNode {
                at: o,
                key,
                name,
                first,
                second,
            } => E::DuplicateNode {
                at: at(o),
                key: k(key),
                name: m(name),
                first,
                second,
            },
            E::EmptyIsland { at: o, key, no } => E::EmptyIsland {
                at: at(o),
                key: k(key),
                no,
            },
            E::DuplicateIsland { at: o, key, no } => E::DuplicateIsland {
                at: at(o),
                key: k(key),
                no,
            },
            E::NoIslands { at: o } => E::NoIslands { at: at(o) },
            E::NoPassword {
                at: o,
                key,
                node,
                login,
            } => E::NoPassword {
                at: at(o),
                key: k(key),
                node: m(node),
                login: m(login),
            },
            E::NoLogin { at: o, key, node } => E::NoLogin {
                at: at(o),
                key: k(key),
                node: m(node),
            },
            E::ConflictingPasswords { at: o, key } => E::ConflictingPasswords {
                at: at(o),
                key: k(key),
            },
            E::PasswordFile {
                at: o,
                key,
                file,
                reason,
            } => E::PasswordFile {
                at: at(o),
                key: k(key),
                file: m(file),
                reason: m(reason),
            },
            E::UnsetEnv { at: o, key, var } => E::UnsetEnv {
                at: at(o),
                key: k(key),
                var: m(var),
            },
            E::TooLong {
                at: o,
                key,
                what,
                length,
                limit,
            } => E::TooLong {
                at: at(o),
                key: k(key),
                what,
                length,
                limit,
            },
            E::UnusedSecrets { at: o, key } => E::UnusedSecrets {
                at: at(o),
                key: k(key),
            },
            E::SecretsFileUnreadable {
                at: o,
                key,
                path,
                reason,
            } => E::SecretsFileUnreadable {
                at: at(o),
                key: k(key),
                path: p(path),
                reason: m(reason),
            },
            E::BadSecrets {
                at: o,
                key,
                message,
            } => E::BadSecrets {
                at: at(o),
                key: k(key),
                message: m(message),
            },
            E::CommandSpawn {
                at: o,
                program,
                reason,
            } => E::CommandSpawn {
                at: at(o),
                program: m(program),
                reason: m(reason),
            },
            E::CommandOutputTooLarge {
                at: o,
                program,
                stream,
                limit,
            } => E::CommandOutputTooLarge {
                at: at(o),
                program: m(program),
                stream,
                limit,
            },
            E::CommandFailed {
                at: o,
                program,
                status,
                stderr,
            } => E::CommandFailed {
                at: at(o),
                program: m(program),
                status,
                stderr: m(stderr),
            },
            E::CommandTimeout {
                at: o,
                program,
                after,
            } => E::CommandTimeout {
                at: at(o),
                program: m(program),
                after,
            },
            E::LoadTimeout { path, after } => E::LoadTimeout {
                path: p(path),
                after,
            },
            E::EnvNotAllowed { var } => E::EnvNotAllowed { var: m(var) },
        }
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn hint(suggestion: Option<&str>, expected: &[String]) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None if expected.is_empty() => String::new(),
        None => format!("; expected one of: {}", expected.join(", ")),
    }
}

/// The closest of `candidates` to `word`, if close enough to be a plausible typo.
///
/// Close enough: an edit distance of at most 2, or at most a third of the word's length, and a
/// case-insensitive match always counts.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&lower, &c.to_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = 2.max(word.chars().count() / 3);
    (d <= limit).then(|| c.to_owned())
}

/// Levenshtein distance over chars (the lists compared are short: a table's keys).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_read_like_the_file() {
        let p = KeyPath::root()
            .key("island")
            .index(0)
            .key("node")
            .index(1)
            .key("password_env");
        assert_eq!(p.to_string(), "island[0].node[1].password_env");
        assert_eq!(
            KeyPath::root().key("islands").index(0).index(2).to_string(),
            "islands[0][2]"
        );
        assert_eq!(KeyPath::root().to_string(), "(top level)");
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("interval", "interval"), 0);
        assert_eq!(edit_distance("intervl", "interval"), 1);
        assert_eq!(edit_distance("pasword", "password"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn did_you_mean_picks_the_closest_plausible_key() {
        let keys = ["interval", "audit_interval", "connect_timeout", "timeout"];
        assert_eq!(did_you_mean("intervl", keys).as_deref(), Some("interval"));
        assert_eq!(did_you_mean("TIMEOUT", keys).as_deref(), Some("timeout"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
    }

    #[test]
    fn unknown_key_message_has_the_hint() {
        let e = ConfigError::UnknownKey {
            at: Origin::File {
                path: "/etc/r.toml".into(),
                position: Some((3, 1)),
            },
            key: KeyPath::root().key("probe").key("intervl"),
            suggestion: Some("interval".into()),
            expected: vec!["interval".into()],
        };
        assert_eq!(
            e.to_string(),
            "/etc/r.toml:3:1: unknown key `probe.intervl`; did you mean `interval`?"
        );
    }
}
