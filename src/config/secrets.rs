//! Secret sources: inline passwords, `password_env`, `password_file`, `secrets_file` and
//! `secrets_command`.
//!
//! Compact-form secrets are gathered in a fixed order — inline `[[secrets]]`, then
//! `secrets_file`, then `secrets_command` — and that order is the candidate order of every
//! compact-form node. Relative paths (and a relative program path containing `/`) are relative to
//! the config file's directory; the command also runs there.

use super::files::{read_file, MAX_FILE_BYTES};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value as Json;

use crate::secret::Password;

use super::error::{did_you_mean, ConfigError, KeyPath, Origin};
use super::load::Loader;
use super::schema::RawConfig;
use super::source::{line_column, Document};

/// A login/password pair for the compact form.
#[derive(Clone, Debug)]
pub(crate) struct Secret {
    pub login: String,
    pub password: Password,
    pub label: Option<String>,
}

/// The keys a `secrets_file` / `secrets_command` entry may have.
const ENTRY_KEYS: &[&str] = &["login", "password", "label"];

/// How much of a failing command's stderr is shown: its last lines (what finally went wrong)...
const STDERR_LINES: usize = 5;
/// ...and no more than this many bytes of them.
const STDERR_SHOWN: usize = 2000;

impl Loader<'_> {
    /// Every compact-form secret, in order: inline, `secrets_file`, `secrets_command`.
    pub async fn secrets(&mut self, raw: &RawConfig) -> Result<Vec<Secret>, ConfigError> {
        let mut out = Vec::new();
        for (i, s) in raw.secrets.iter().enumerate() {
            let key = KeyPath::root().key("secrets").index(i);
            let password = self
                .password_from(
                    &key,
                    s.password.as_deref(),
                    s.password_env.as_deref(),
                    s.password_file.as_deref(),
                )
                .await?;
            let Some(password) = password else {
                return Err(ConfigError::NoPassword {
                    at: self.at(&key),
                    key,
                    node: "(every node of `islands`)".into(),
                    login: s.login.clone(),
                });
            };
            out.push(Secret {
                login: self.login(&key.key("login"), &s.login)?,
                password,
                label: s.label.clone(),
            });
        }
        if let Some(file) = &raw.secrets_file {
            out.extend(self.secrets_file(file).await?);
        }
        if let Some(argv) = &raw.secrets_command {
            out.extend(self.secrets_command(argv).await?);
        }
        Ok(out)
    }

    /// A login must not be empty.
    pub fn login(&self, key: &KeyPath, login: &str) -> Result<String, ConfigError> {
        if login.trim().is_empty() {
            return Err(ConfigError::InvalidValue {
                at: self.at(key),
                key: key.clone(),
                expected: "a login (PostgreSQL role name)".into(),
                found: "an empty string".into(),
            });
        }
        Ok(login.to_owned())
    }

    /// The password of an entry at `key`, from whichever one of its three sources is given;
    /// `None` when none is (or the inline one is empty).
    pub async fn password_from(
        &mut self,
        key: &KeyPath,
        inline: Option<&str>,
        env: Option<&str>,
        file: Option<&str>,
    ) -> Result<Option<Password>, ConfigError> {
        let given = [inline.is_some(), env.is_some(), file.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(ConfigError::ConflictingPasswords {
                at: self.at(key),
                key: key.clone(),
            });
        }
        if let Some(p) = inline {
            return Ok((!p.is_empty()).then(|| Password::new(p)));
        }
        if let Some(var) = env {
            let key = key.key("password_env");
            let value = self.options.env.get(var).filter(|v| !v.is_empty()).cloned();
            let Some(value) = value else {
                return Err(ConfigError::UnsetEnv {
                    at: self.at(&key),
                    key,
                    var: var.to_owned(),
                });
            };
            self.feed(&format!("password_env {var}"), value.as_bytes());
            let password = Password::new(value);
            self.redactor.add(&password);
            return Ok(Some(password));
        }
        if let Some(rel) = file {
            let key = key.key("password_file");
            let path = self.base_dir.join(rel);
            self.watch(&path);
            let bad = |this: &Self, reason: String| ConfigError::PasswordFile {
                at: this.at(&key),
                key: key.clone(),
                path: path.clone(),
                reason,
            };
            let bytes = match read_file(&path, MAX_FILE_BYTES).await {
                Ok(b) => b,
                Err(e) => return Err(bad(self, e.to_string())),
            };
            let Ok(text) = String::from_utf8(bytes) else {
                return Err(bad(self, "not UTF-8".into()));
            };
            self.feed(
                &format!("password_file {}", path.display()),
                text.as_bytes(),
            );
            // One trailing line end is the file's, not the password's (`echo pw > file`).
            let value = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text);
            if value.is_empty() {
                return Err(bad(self, "the file is empty".into()));
            }
            let password = Password::new(value);
            self.redactor.add(&password);
            return Ok(Some(password));
        }
        Ok(None)
    }

    /// The secrets of `secrets_file`: JSON (`[{...}]`) or TOML (`[[secrets]]`); by extension,
    /// else whichever parses.
    async fn secrets_file(&mut self, rel: &str) -> Result<Vec<Secret>, ConfigError> {
        let key = KeyPath::root().key("secrets_file");
        let path = self.base_dir.join(rel);
        self.watch(&path);
        let text = match read_file(&path, MAX_FILE_BYTES).await {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        let text = text.map_err(|reason| ConfigError::SecretsFileUnreadable {
            at: self.at(&key),
            key: key.clone(),
            path: path.clone(),
            reason,
        })?;
        self.feed(&format!("secrets_file {}", path.display()), text.as_bytes());
        self.redactor.harvest_text(&text);
        let doc = Document {
            path: path.clone(),
            text,
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let (value, as_toml) = match ext.as_deref() {
            Some("json") => (self.parse_json(&doc.text, Origin::file(&path))?, false),
            Some("toml") => (self.parse_toml(&doc)?, true),
            _ => match serde_json::from_str::<Json>(&doc.text) {
                Ok(v) => (v, false),
                Err(_) => {
                    let v = self.parse_toml(&doc).map_err(|e| match e {
                        ConfigError::Syntax { at, message } => ConfigError::BadSecrets {
                            at,
                            key: KeyPath::root(),
                            message: format!(
                                "neither a JSON list nor TOML [[secrets]] (as TOML: {message})"
                            ),
                        },
                        other => other,
                    })?;
                    (v, true)
                }
            },
        };
        // Positions are known for TOML only (serde_json values carry no spans).
        let origin = |k: &KeyPath| {
            if as_toml {
                doc.origin(k)
            } else {
                Origin::file(&doc.path)
            }
        };
        secrets_from_json(value, &origin, self)
    }

    fn parse_json(&self, text: &str, at: Origin) -> Result<Json, ConfigError> {
        serde_json::from_str(text).map_err(|e| {
            let at = match at {
                Origin::File { path, .. } => Origin::File {
                    path,
                    position: Some((e.line(), e.column())),
                },
                other => other,
            };
            // serde_json's syntax messages name no input, but redact anyway.
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            ConfigError::BadSecrets {
                at,
                key: KeyPath::root(),
                message: format!("not valid JSON: {}", self.redactor.redact(message)),
            }
        })
    }

    fn parse_toml(&self, doc: &Document) -> Result<Json, ConfigError> {
        toml::de::DeTable::parse(&doc.text)
            .map(|_| ())
            .and_then(|_| toml::from_str::<Json>(&doc.text))
            .map_err(|e| ConfigError::Syntax {
                at: Origin::File {
                    path: doc.path.clone(),
                    position: e.span().map(|s| line_column(&doc.text, s.start)),
                },
                message: self.redactor.redact(e.message().trim()),
            })
    }

    /// Runs `secrets_command` (killed after the time limit) and reads its stdout as a JSON list.
    async fn secrets_command(&mut self, argv: &[String]) -> Result<Vec<Secret>, ConfigError> {
        let key = KeyPath::root().key("secrets_command");
        let at = self.at(&key);
        let Some((program, args)) = argv.split_first().filter(|(p, _)| !p.is_empty()) else {
            return Err(ConfigError::InvalidValue {
                at,
                key,
                expected: "a program and its arguments, e.g. [\"vault\", \"kv\", \"get\", ...]"
                    .into(),
                found: "an empty list".into(),
            });
        };
        let program_path = resolve_program(program, &self.base_dir);
        let mut cmd = tokio::process::Command::new(&program_path);
        cmd.args(args)
            .current_dir(&self.base_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so a timeout kills the whole pipeline it may have started.
        #[cfg(unix)]
        cmd.process_group(0);
        let child = cmd.spawn().map_err(|e| ConfigError::CommandSpawn {
            at: at.clone(),
            program: program.clone(),
            reason: e.to_string(),
        })?;
        // Kills the whole group if this future is dropped (shutdown during a reload) or times out;
        // `kill_on_drop` alone would reach the direct child only.
        let mut group = GroupKill(child.id());
        let limit = self.options.command_timeout;
        let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => {
                return Err(ConfigError::CommandSpawn {
                    at,
                    program: program.clone(),
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ConfigError::CommandTimeout {
                    at,
                    program: program.clone(),
                    after: limit,
                });
            }
        };
        // It exited and was reaped: once its group is empty the id may be reused, so no kill.
        group.0 = None;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        self.redactor.harvest_text(&stdout);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            // A CLI may echo what it was given or got: mask what looks like a password in the
            // stderr itself too, not only the passwords seen so far.
            self.redactor.harvest_text(&stderr);
            return Err(ConfigError::CommandFailed {
                at,
                program: program.clone(),
                status: output.status.to_string(),
                // Mask first, then cut: a cut through a password would leave a tail no mask matches.
                stderr: shorten(&self.redactor.redact(stderr.trim())),
            });
        }
        self.feed("secrets_command stdout", stdout.as_bytes());
        let origin = Origin::Command {
            program: program.clone(),
        };
        let value = self.parse_json(&stdout, origin.clone())?;
        secrets_from_json(value, &|_| origin.clone(), self)
    }
}

/// A program named with a relative path containing `/` is taken relative to the config's
/// directory; a bare name is looked up in `PATH`.
fn resolve_program(program: &str, base_dir: &Path) -> PathBuf {
    let p = Path::new(program);
    if p.is_relative() && program.contains('/') {
        base_dir.join(p)
    } else {
        p.to_path_buf()
    }
}

/// The process group of a running `secrets_command`, killed on drop unless cleared.
struct GroupKill(Option<u32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        kill_group(self.0.take());
    }
}

#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals a process group we created; no memory is
        // touched. The group may be gone already, which only makes the call fail harmlessly.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}

/// The last [`STDERR_LINES`] lines of `text`, and of those at most the last [`STDERR_SHOWN`]
/// bytes (the end of stderr says what finally went wrong).
fn shorten(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skipped = lines.len().saturating_sub(STDERR_LINES);
    let tail = lines[skipped..].join("\n");
    let mut out = if tail.len() <= STDERR_SHOWN {
        tail
    } else {
        let mut start = tail.len() - STDERR_SHOWN;
        while !tail.is_char_boundary(start) {
            start += 1;
        }
        format!("...{}", &tail[start..])
    };
    if skipped > 0 {
        out = format!("({skipped} earlier lines left out) {out}");
    }
    out
}

/// Validates a list of `{login, password, label?}` (a JSON array, or a table whose one key
/// `secrets` holds it — what TOML `[[secrets]]` gives).
fn secrets_from_json(
    value: Json,
    origin: &dyn Fn(&KeyPath) -> Origin,
    loader: &mut Loader<'_>,
) -> Result<Vec<Secret>, ConfigError> {
    let shape_error = |key: KeyPath| {
        ConfigError::BadSecrets {
        at: origin(&key),
        key,
        message: "expected a list of {login, password, label?} (a JSON array, or [[secrets]] tables in TOML)".into(),
    }
    };
    let (list, base) = match value {
        Json::Array(list) => (list, KeyPath::root()),
        Json::Object(mut map) if map.len() == 1 && map.contains_key("secrets") => {
            match map.remove("secrets") {
                Some(Json::Array(list)) => (list, KeyPath::root().key("secrets")),
                _ => return Err(shape_error(KeyPath::root().key("secrets"))),
            }
        }
        _ => return Err(shape_error(KeyPath::root())),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.into_iter().enumerate() {
        let key = base.index(i);
        let Json::Object(map) = entry else {
            return Err(shape_error(key));
        };
        if let Some(unknown) = map.keys().find(|k| !ENTRY_KEYS.contains(&k.as_str())) {
            let k = key.key(unknown);
            return Err(ConfigError::UnknownKey {
                at: origin(&k),
                suggestion: did_you_mean(unknown, ENTRY_KEYS.iter().copied()),
                expected: ENTRY_KEYS.iter().map(|s| s.to_string()).collect(),
                key: k,
            });
        }
        let string = |name: &str, required: bool| -> Result<Option<String>, ConfigError> {
            let k = key.key(name);
            match map.get(name) {
                None if required => Err(ConfigError::MissingKey {
                    at: origin(&k),
                    key: k,
                }),
                None | Some(Json::Null) if !required => Ok(None),
                Some(Json::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(other) => Err(ConfigError::InvalidValue {
                    at: origin(&k),
                    key: k,
                    expected: "a non-empty string".into(),
                    found: json_kind(other).into(),
                }),
                None => Ok(None),
            }
        };
        let login = string("login", true)?.unwrap_or_default();
        let password = Password::new(string("password", true)?.unwrap_or_default());
        let label = string("label", false)?;
        loader.redactor.add(&password);
        out.push(Secret {
            login,
            password,
            label,
        });
    }
    Ok(out)
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(s) if s.is_empty() => "an empty string",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_keeps_the_last_lines() {
        let text: Vec<String> = (1..=8).map(|i| format!("line {i}")).collect();
        let out = shorten(&text.join("\n"));
        assert_eq!(
            out,
            "(3 earlier lines left out) line 4\nline 5\nline 6\nline 7\nline 8"
        );
        assert_eq!(shorten("one\ntwo"), "one\ntwo");
        let long = "é".repeat(STDERR_SHOWN);
        let out = shorten(&long);
        assert!(
            out.starts_with("...") && out.len() <= STDERR_SHOWN + 3,
            "{}",
            out.len()
        );
    }
}
