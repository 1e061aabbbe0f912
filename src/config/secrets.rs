//! Secret sources: inline passwords, `password_env`, `password_file`, `secrets_file` and
//! `secrets_command`.
//!
//! Compact-form secrets are gathered in a fixed order — inline `[[secrets]]`, then
//! `secrets_file`, then `secrets_command` — and that order is the candidate order of every
//! compact-form node. Relative paths (and a relative program path containing `/`) are relative to
//! the config file's directory; the command also runs there.
//!
//! `secrets_command` is run as an untrusted helper: with a minimal environment ([`command_env`]:
//! never the variables `password_env` names), in its own process group (killed whole on timeout
//! or shutdown), its stdout and stderr each read up to [`MAX_COMMAND_OUTPUT`] (more is an error,
//! never a huge allocation). A failing command's stderr is shown only when nothing in it is shaped
//! like a credential ([`super::redact::looks_like_credentials`]), then masked and cut to its last
//! lines.

use super::files::{human_bytes, read_file, MAX_FILE_BYTES};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value as Json;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::secret::Password;

use super::error::{did_you_mean, ConfigError, KeyPath, Origin};
use super::load::Loader;
use super::redact::{
    looks_like_credentials, looks_like_env_name, looks_like_path, looks_like_program,
};
use super::schema::RawConfig;
use super::source::{line_column, Document};

/// A login/password pair for the compact form.
#[derive(Clone, Debug)]
pub(crate) struct Secret {
    pub login: String,
    pub password: Password,
    pub label: Option<String>,
}

/// The longest login: PostgreSQL cuts role names to 63 bytes (`NAMEDATALEN` - 1), so a longer
/// one cannot name the role meant.
pub const MAX_LOGIN_BYTES: usize = 63;

/// The longest label: a word or two for people.
pub const MAX_LABEL_BYTES: usize = 256;

/// The longest password: the most PostgreSQL accepts in a password message
/// (`PG_MAX_AUTH_TOKEN_LENGTH`).
pub const MAX_PASSWORD_BYTES: usize = 65_535;

/// The keys a `secrets_file` / `secrets_command` entry may have.
const ENTRY_KEYS: &[&str] = &["login", "password", "label"];

/// How much of a failing command's stderr is shown: its last lines (what finally went wrong)...
const STDERR_LINES: usize = 5;
/// ...and no more than this many bytes of them.
const STDERR_SHOWN: usize = 2000;

/// The most `secrets_command` may print on stdout, and on stderr: the same bound as a
/// `secrets_file` (its stdout is the same document). More is an error and the command is killed.
pub const MAX_COMMAND_OUTPUT: u64 = MAX_FILE_BYTES;

/// Variables `secrets_command` inherits by exact name: what a shell, a locale, TLS and a proxy
/// need. Everything else is dropped unless [`COMMAND_ENV_PREFIXES`] keeps it.
const COMMAND_ENV_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    // CA bundles of CLIs written in Python, with curl, in Node (behind a TLS-inspecting proxy).
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    // In-cluster Kubernetes auth (Vault's kubernetes method, kubectl).
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    // Azure managed identity.
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
];

/// Prefixes of variables `secrets_command` inherits: locales, and the settings and credentials
/// of the secret stores' CLIs (Vault and OpenBao, AWS, 1Password, Google Cloud, Azure, Doppler).
const COMMAND_ENV_PREFIXES: &[&str] = &[
    "LC_",
    "VAULT_",
    "BAO_",
    "AWS_",
    "OP_",
    "GOOGLE_",
    "CLOUDSDK_",
    "AZURE_",
    "DOPPLER_",
];

/// The environment of `secrets_command`: the variables of `env` that [`COMMAND_ENV_NAMES`] or
/// [`COMMAND_ENV_PREFIXES`] keep, except every variable in `excluded` (those `password_env`
/// names: a password never reaches the helper through its environment).
pub(crate) fn command_env<'a>(
    env: &'a BTreeMap<String, String>,
    excluded: &BTreeSet<&str>,
) -> Vec<(&'a str, &'a str)> {
    env.iter()
        .filter(|(k, _)| {
            COMMAND_ENV_NAMES.contains(&k.as_str())
                || COMMAND_ENV_PREFIXES.iter().any(|p| k.starts_with(p))
        })
        .filter(|(k, _)| !excluded.contains(k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Every variable a `password_env` of the config names.
fn password_env_names(raw: &RawConfig) -> BTreeSet<&str> {
    let secrets = raw.secrets.iter().filter_map(|s| s.password_env.as_deref());
    let nodes = raw
        .island
        .iter()
        .flat_map(|i| &i.node)
        .filter_map(|n| n.password_env.as_deref());
    secrets.chain(nodes).collect()
}

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
            if let Some(label) = &s.label {
                check_length(&key.key("label"), "a label", label, MAX_LABEL_BYTES, |k| {
                    self.at(k)
                })?;
            }
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
            out.extend(self.secrets_command(argv, &password_env_names(raw)).await?);
        }
        Ok(out)
    }

    /// A login must not be empty, nor longer than [`MAX_LOGIN_BYTES`].
    pub fn login(&self, key: &KeyPath, login: &str) -> Result<String, ConfigError> {
        if login.trim().is_empty() {
            return Err(ConfigError::InvalidValue {
                at: self.at(key),
                key: key.clone(),
                expected: "a login (PostgreSQL role name)".into(),
                found: "an empty string".into(),
            });
        }
        check_length(key, "a login", login, MAX_LOGIN_BYTES, |k| self.at(k))?;
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
        let too_long = |this: &Self, k: &KeyPath, value: &str| {
            check_length(k, "a password", value, MAX_PASSWORD_BYTES, |k| this.at(k))
        };
        if let Some(p) = inline {
            too_long(self, &key.key("password"), p)?;
            return Ok((!p.is_empty()).then(|| Password::new(p)));
        }
        if let Some(var) = env {
            let key = key.key("password_env");
            let value = self.options.env.get(var).filter(|v| !v.is_empty()).cloned();
            let Some(value) = value else {
                return Err(ConfigError::UnsetEnv {
                    at: self.at(&key),
                    key,
                    var: if looks_like_env_name(var) {
                        var.to_owned()
                    } else {
                        "(name not repeated: it does not look like a variable name, and may be \
                         a password)"
                            .into()
                    },
                });
            };
            too_long(self, &key, &value)?;
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
                file: if looks_like_path(rel) {
                    path.display().to_string()
                } else {
                    "(name not repeated: it does not look like a path, and may be a password)"
                        .into()
                },
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
            too_long(self, &key, value)?;
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
    async fn secrets_command(
        &mut self,
        argv: &[String],
        excluded_env: &BTreeSet<&str>,
    ) -> Result<Vec<Secret>, ConfigError> {
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
            .env_clear()
            .envs(command_env(&self.options.env, excluded_env))
            .current_dir(&self.base_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so a timeout kills the whole pipeline it may have started.
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|e| ConfigError::CommandSpawn {
            at: at.clone(),
            program: if looks_like_program(program) {
                format!("`{program}`")
            } else {
                "the program it names (not repeated: it does not look like a program, and may \
                 be a password)"
                    .into()
            },
            reason: e.to_string(),
        })?;
        // Kills the whole group if this future is dropped (shutdown during a reload), times out
        // or prints too much; `kill_on_drop` alone would reach the direct child only.
        let mut group = GroupKill(child.id());
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(ConfigError::CommandSpawn {
                at,
                program: format!("`{program}`"),
                reason: "its output could not be captured".into(),
            });
        };
        let run = async {
            // Both pipes at once (a full stderr pipe would stall a child writing stdout), and the
            // first one over the limit ends the run.
            let (stdout, stderr) = tokio::try_join!(
                read_capped(stdout, "stdout", MAX_COMMAND_OUTPUT),
                read_capped(stderr, "stderr", MAX_COMMAND_OUTPUT),
            )?;
            let status = child.wait().await.map_err(Capture::Io)?;
            Ok::<_, Capture>((status, stdout, stderr))
        };
        let limit = self.options.command_timeout;
        let (status, stdout, stderr) = match tokio::time::timeout(limit, run).await {
            Ok(Ok(out)) => out,
            Ok(Err(Capture::Io(e))) => {
                return Err(ConfigError::CommandSpawn {
                    at,
                    program: format!("`{program}`"),
                    reason: e.to_string(),
                })
            }
            Ok(Err(Capture::TooLarge(stream))) => {
                return Err(ConfigError::CommandOutputTooLarge {
                    at,
                    program: program.clone(),
                    stream,
                    limit: human_bytes(MAX_COMMAND_OUTPUT),
                });
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
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        self.redactor.harvest_text(&stdout);
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            return Err(ConfigError::CommandFailed {
                at,
                program: program.clone(),
                status: status.to_string(),
                stderr: self.shown_stderr(stderr.trim()),
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

impl Loader<'_> {
    /// What a failing command's stderr may show. A CLI may echo what it was given or got, and on
    /// a first load no password is known yet to mask: stderr with anything shaped like a
    /// credential is withheld whole. Otherwise it is masked (known passwords, and what looks like
    /// one in the text itself), then cut to its last lines — mask first, then cut: a cut through a
    /// password would leave a tail no mask matches.
    fn shown_stderr(&mut self, stderr: &str) -> String {
        if looks_like_credentials(stderr) {
            let lines = stderr.lines().count();
            return format!(
                "(withheld: {} that {} like {} a credential; run the command by hand \
                 to read {})",
                crate::text::plural(lines, "line"),
                if lines == 1 { "looks" } else { "look" },
                if lines == 1 {
                    "it carries"
                } else {
                    "they carry"
                },
                if lines == 1 { "it" } else { "them" },
            );
        }
        self.redactor.harvest_text(stderr);
        shorten(&self.redactor.redact(stderr))
    }
}

/// [`ConfigError::TooLong`] when `value` is longer than `limit` bytes.
fn check_length(
    key: &KeyPath,
    what: &'static str,
    value: &str,
    limit: usize,
    at: impl Fn(&KeyPath) -> Origin,
) -> Result<(), ConfigError> {
    if value.len() <= limit {
        return Ok(());
    }
    Err(ConfigError::TooLong {
        at: at(key),
        key: key.clone(),
        what,
        length: value.len(),
        limit,
    })
}

/// Why reading a command's output stopped early.
enum Capture {
    /// The stream printed more than the limit.
    TooLarge(&'static str),
    /// A read or wait failed.
    Io(std::io::Error),
}

/// Reads `pipe` to its end, at most `limit` bytes; one byte more is [`Capture::TooLarge`].
async fn read_capped(
    pipe: impl AsyncRead + Unpin,
    stream: &'static str,
    limit: u64,
) -> Result<Vec<u8>, Capture> {
    let mut bytes = Vec::new();
    pipe.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(Capture::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Capture::TooLarge(stream));
    }
    Ok(bytes)
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

/// The last [`STDERR_LINES`] lines of `text`, joined by ` | ` into one line, and of those at
/// most the last [`STDERR_SHOWN`] bytes (the end of stderr says what finally went wrong).
fn shorten(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skipped = lines.len().saturating_sub(STDERR_LINES);
    let tail = lines[skipped..].join(" | ");
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
        let password = string("password", true)?.unwrap_or_default();
        let label = string("label", false)?;
        check_length(
            &key.key("login"),
            "a login",
            &login,
            MAX_LOGIN_BYTES,
            origin,
        )?;
        check_length(
            &key.key("password"),
            "a password",
            &password,
            MAX_PASSWORD_BYTES,
            origin,
        )?;
        if let Some(label) = &label {
            check_length(&key.key("label"), "a label", label, MAX_LABEL_BYTES, origin)?;
        }
        let password = Password::new(password);
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
            "(3 earlier lines left out) line 4 | line 5 | line 6 | line 7 | line 8"
        );
        assert_eq!(shorten("one\ntwo"), "one | two");
        let long = "é".repeat(STDERR_SHOWN);
        let out = shorten(&long);
        assert!(
            out.starts_with("...") && out.len() <= STDERR_SHOWN + 3,
            "{}",
            out.len()
        );
    }
}
