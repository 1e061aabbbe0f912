//! Finding and loading the config: the TOML file, `ROTASCOPE_` overrides, and every secret source.
//!
//! Order of work: read the file once, parse it, merge the environment overrides with figment and
//! extract the raw shape ([`super::schema`]), validate the settings, resolve the secrets
//! (inline `[[secrets]]` first, then `secrets_file`, then `secrets_command` — that is also the
//! order of the candidates of every compact-form node), then build the topology
//! ([`super::build`]). Everything read along the way feeds a content digest, so the reload task can
//! tell an unchanged re-read from a real change.
//!
//! # Environment overrides
//! `ROTASCOPE_<TABLE>__<KEY>=value` sets `[table] key` for the settings tables `probe`, `reload`
//! and `shards` only: `ROTASCOPE_PROBE__INTERVAL=500ms`, `ROTASCOPE_RELOAD__WATCH=false`,
//! `ROTASCOPE_PROBE__AUDIT_INTERVAL=1m` (double underscore between table and key, since keys have
//! single ones; case-insensitive after the prefix). Islands and secrets never come from the
//! environment this way (figment would parse the values: `007` would become 7); a variable that
//! tries is an error. `password_env` is how a secret comes from the environment.
//!
//! # Bounds
//! `probe.interval`, `probe.audit_interval` and `reload.interval` are 100ms to 1 day;
//! `probe.connect_timeout` and `probe.timeout` 10ms to 1 day; `probe.concurrency` 1 to 10000;
//! `shards.pattern` must be a pattern [`crate::engine::pg::shard_regex`] accepts. Out of bounds
//! is an error naming the key (and the environment variable, for an override).
//!
//! Tests should use [`load_with`] and an explicit [`LoadOptions::env`] map: the process
//! environment is shared by tests running in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::{ConfigError, KeyPath, Origin};
use super::files::{read_file, FileError, MAX_FILE_BYTES};
use super::redact::Redactor;
use super::source::{Document, EnvSettings, Layers};
use super::{Config, ProbeSettings, ReloadSettings, ShardSettings, SourceDigest, StateSettings};

/// How long `secrets_command` may run before it is killed and the load fails.
pub const SECRETS_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a load reads besides the files: the environment, and the command time limit.
///
/// `Debug` shows the variable names only: the values may hold `password_env` secrets.
#[derive(Clone)]
pub struct LoadOptions {
    /// The environment: `ROTASCOPE_` overrides and `password_env` variables are looked up here.
    pub env: BTreeMap<String, String>,
    /// The time limit of `secrets_command` (default [`SECRETS_COMMAND_TIMEOUT`]).
    pub command_timeout: Duration,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

impl LoadOptions {
    /// The process's environment (variables that are not UTF-8 are skipped) and the default
    /// command time limit.
    pub fn from_process() -> Self {
        LoadOptions {
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            command_timeout: SECRETS_COMMAND_TIMEOUT,
        }
    }

    /// An explicit environment (tests) and the default command time limit.
    pub fn with_env<K: Into<String>, V: Into<String>>(
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        LoadOptions {
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            command_timeout: SECRETS_COMMAND_TIMEOUT,
        }
    }
}

/// Where the config file is: `--config PATH` if given; else `./rotascope.toml`; else
/// `$XDG_CONFIG_HOME/rotascope/config.toml` (with `$XDG_CONFIG_HOME` defaulting to
/// `~/.config`). Only an explicit path may name a file that does not exist (the load then says
/// so); otherwise the first existing file wins, and none is [`ConfigError::NoConfigFile`].
pub fn resolve_path(cli: Option<&Path>) -> Result<PathBuf, ConfigError> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    resolve_path_in(cli, Path::new("."), env("XDG_CONFIG_HOME"), env("HOME"))
}

/// [`resolve_path`] with the working directory and environment given (testable).
fn resolve_path_in(
    cli: Option<&Path>,
    cwd: &Path,
    xdg_config_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Result<PathBuf, ConfigError> {
    if let Some(p) = cli {
        return Ok(p.to_path_buf());
    }
    let mut tried = vec![cwd.join("rotascope.toml")];
    let config_home = xdg_config_home.or_else(|| home.map(|h| h.join(".config")));
    if let Some(dir) = config_home {
        tried.push(dir.join("rotascope").join("config.toml"));
    }
    match tried.iter().find(|p| p.is_file()) {
        Some(p) => Ok(p.clone()),
        None => Err(ConfigError::NoConfigFile { tried }),
    }
}

/// Loads and validates the config at `path` with the process environment.
pub async fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &LoadOptions::from_process()).await
}

/// Loads and validates the config at `path`, reading the environment from `options`.
pub async fn load_with(path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let mut loader = Loader::read(path, options).await?;
    loader.run().await
}

/// The state of one load: the document, what was read so far, and what it all hashes to.
pub(crate) struct Loader<'a> {
    pub doc: Document,
    /// The config file's directory: relative paths in the config are relative to it.
    pub base_dir: PathBuf,
    pub options: &'a LoadOptions,
    pub env_settings: EnvSettings,
    /// Every password seen, for masking outside text in errors.
    pub redactor: Redactor,
    /// Files a change of which should trigger a re-read, in order, without repeats.
    pub watched: Vec<PathBuf>,
    digest: Sha256,
}

impl<'a> Loader<'a> {
    /// Reads the config file (once) and the environment overrides.
    async fn read(path: &Path, options: &'a LoadOptions) -> Result<Loader<'a>, ConfigError> {
        let bytes = match read_file(path, MAX_FILE_BYTES).await {
            Ok(bytes) => bytes,
            Err(FileError::Missing) => {
                return Err(ConfigError::FileMissing {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => {
                return Err(ConfigError::FileUnreadable {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        };
        let text = String::from_utf8(bytes).map_err(|e| ConfigError::FileUnreadable {
            path: path.to_path_buf(),
            reason: format!("not UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        })?;
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut loader = Loader {
            doc: Document {
                path: path.to_path_buf(),
                text,
            },
            base_dir,
            options,
            env_settings: EnvSettings::from_env(&options.env)?,
            redactor: Redactor::default(),
            watched: vec![path.to_path_buf()],
            digest: digest_start(),
        };
        loader.redactor.harvest_text(&loader.doc.text);
        let text = loader.doc.text.clone();
        loader.feed("config", text.as_bytes());
        let overrides: Vec<(String, String)> = loader
            .env_settings
            .fingerprint_input()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (k, v) in overrides {
            loader.feed(&format!("env {k}"), v.as_bytes());
        }
        Ok(loader)
    }

    /// Parses, validates, reads the secret sources and builds the config.
    async fn run(&mut self) -> Result<Config, ConfigError> {
        let dict = self.doc.parse(&self.redactor)?;
        let layers = Layers::extract(&self.doc, dict, &self.env_settings, &self.redactor)?;
        let (probe, reload, shards) = self.settings(&layers)?;
        let raw = &layers.raw;
        let secrets = self.secrets(raw).await?;
        let topology = self.topology(raw, &secrets).await?;
        Ok(Config {
            path: self.doc.path.clone(),
            probe,
            reload,
            shards,
            state: StateSettings {
                file: raw
                    .state
                    .file
                    .as_deref()
                    .filter(|f| !f.is_empty())
                    .map(|f| self.base_dir.join(f)),
            },
            topology,
            watched_files: self.watched.clone(),
            source_digest: SourceDigest(self.digest.clone().finalize().into()),
        })
    }

    /// Adds a labelled chunk of input to the content digest.
    pub fn feed(&mut self, label: &str, bytes: &[u8]) {
        for part in [label.as_bytes(), bytes] {
            self.digest.update((part.len() as u64).to_le_bytes());
            self.digest.update(part);
        }
    }

    /// Remembers a file to watch.
    pub fn watch(&mut self, path: &Path) {
        if !self.watched.iter().any(|p| p == path) {
            self.watched.push(path.to_path_buf());
        }
    }

    /// The origin of a key of the config file.
    pub fn at(&self, key: &KeyPath) -> Origin {
        self.doc.origin(key)
    }

    fn settings(
        &self,
        layers: &Layers,
    ) -> Result<(ProbeSettings, ReloadSettings, ShardSettings), ConfigError> {
        let raw = &layers.raw;
        let defaults = ProbeSettings::default();
        let probe_key = KeyPath::root().key("probe");
        let dur = |name: &str, value: &Option<String>, default: Duration, bounds: Bounds| {
            self.duration(
                layers,
                &probe_key.key(name),
                value.as_deref(),
                default,
                bounds,
            )
        };
        let concurrency = match raw.probe.concurrency {
            None => defaults.concurrency,
            Some(n) if CONCURRENCY.contains(&n) => usize::try_from(n).unwrap_or(usize::MAX),
            Some(n) => {
                let key = probe_key.key("concurrency");
                return Err(ConfigError::InvalidValue {
                    at: layers.origin(&self.doc, &self.env_settings, &key),
                    key,
                    expected: format!(
                        "a number from {} to {}",
                        CONCURRENCY.start(),
                        CONCURRENCY.end()
                    ),
                    found: n.to_string(),
                });
            }
        };
        let probe = ProbeSettings {
            interval: dur("interval", &raw.probe.interval, defaults.interval, PERIOD)?,
            audit_interval: dur(
                "audit_interval",
                &raw.probe.audit_interval,
                defaults.audit_interval,
                PERIOD,
            )?,
            connect_timeout: dur(
                "connect_timeout",
                &raw.probe.connect_timeout,
                defaults.connect_timeout,
                TIMEOUT,
            )?,
            timeout: dur("timeout", &raw.probe.timeout, defaults.timeout, TIMEOUT)?,
            concurrency,
        };
        let reload_defaults = ReloadSettings::default();
        let reload = ReloadSettings {
            interval: self.duration(
                layers,
                &KeyPath::root().key("reload").key("interval"),
                raw.reload.interval.as_deref(),
                reload_defaults.interval,
                PERIOD,
            )?,
            watch: raw.reload.watch.unwrap_or(reload_defaults.watch),
        };
        let pattern = raw.shards.pattern.clone().filter(|p| !p.is_empty());
        if let Some(p) = &pattern {
            // Checked here, not at the first probe: a bad pattern is a config error (exit 3).
            if let Err(reason) = crate::engine::pg::shard_regex(p) {
                let key = KeyPath::root().key("shards").key("pattern");
                return Err(ConfigError::InvalidValue {
                    at: layers.origin(&self.doc, &self.env_settings, &key),
                    key,
                    expected: "a printf-style schema pattern such as \"sh%04d\"".into(),
                    found: self.redactor.redact(&reason),
                });
            }
        }
        let shards = ShardSettings { pattern };
        Ok((probe, reload, shards))
    }

    /// A humantime duration within `bounds`.
    fn duration(
        &self,
        layers: &Layers,
        key: &KeyPath,
        value: Option<&str>,
        default: Duration,
        bounds: Bounds,
    ) -> Result<Duration, ConfigError> {
        let Some(text) = value else {
            return Ok(default);
        };
        let bad = |reason: String| ConfigError::BadDuration {
            at: layers.origin(&self.doc, &self.env_settings, key),
            key: key.clone(),
            // A setting, but a password pasted into the wrong key is still a password.
            value: self.redactor.redact(text),
            reason,
        };
        let shown = |d: Duration| humantime::format_duration(d).to_string();
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d.is_zero() => Err(bad("must be more than zero".into())),
            Ok(d) if d < bounds.min => Err(bad(format!("must be at least {}", shown(bounds.min)))),
            Ok(d) if d > bounds.max => Err(bad(format!("must be at most {}", shown(bounds.max)))),
            Ok(d) => Ok(d),
            Err(e) => Err(bad(e.to_string())),
        }
    }
}

/// The range a duration setting must be in.
#[derive(Clone, Copy)]
struct Bounds {
    min: Duration,
    max: Duration,
}

/// The longest any duration setting may be: longer is a typo, not a plan.
const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Periods (`probe.interval`, `probe.audit_interval`, `reload.interval`): shorter than 100ms
/// would hammer the servers (or the secret sources) for nothing.
const PERIOD: Bounds = Bounds {
    min: Duration::from_millis(100),
    max: MAX_DURATION,
};

/// Time limits (`probe.connect_timeout`, `probe.timeout`): under 10ms nothing can succeed.
const TIMEOUT: Bounds = Bounds {
    min: Duration::from_millis(10),
    max: MAX_DURATION,
};

/// `probe.concurrency`: at least one probe, and few enough for a semaphore (and for sanity).
const CONCURRENCY: std::ops::RangeInclusive<u64> = 1..=10_000;

/// A digest keyed by a per-process random salt: comparable within a run, useless offline.
fn digest_start() -> Sha256 {
    static SALT: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let mut d = Sha256::new();
    d.update(SALT.get_or_init(rand::random));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_prefers_cli_then_cwd_then_xdg_then_home() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cwd = tmp.path().join("cwd");
        let xdg = tmp.path().join("xdg");
        let home = tmp.path().join("home");
        for d in [
            &cwd,
            &xdg.join("rotascope"),
            &home.join(".config/rotascope"),
        ] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let explicit = Path::new("/nowhere/x.toml");
        assert_eq!(
            resolve_path_in(Some(explicit), &cwd, None, None).expect("cli"),
            explicit
        );
        let err = resolve_path_in(None, &cwd, Some(xdg.clone()), Some(home.clone()))
            .expect_err("nothing there yet");
        let msg = err.to_string();
        assert!(
            msg.contains("rotascope.toml") && msg.contains("xdg"),
            "{msg}"
        );

        std::fs::write(home.join(".config/rotascope/config.toml"), "").expect("write");
        assert_eq!(
            resolve_path_in(None, &cwd, None, Some(home.clone())).expect("home"),
            home.join(".config/rotascope/config.toml")
        );
        std::fs::write(xdg.join("rotascope/config.toml"), "").expect("write");
        assert_eq!(
            resolve_path_in(None, &cwd, Some(xdg.clone()), Some(home.clone())).expect("xdg"),
            xdg.join("rotascope/config.toml")
        );
        std::fs::write(cwd.join("rotascope.toml"), "").expect("write");
        assert_eq!(
            resolve_path_in(None, &cwd, Some(xdg), Some(home)).expect("cwd"),
            cwd.join("rotascope.toml")
        );
    }
}
