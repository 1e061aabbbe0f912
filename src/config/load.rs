//! Finding and loading the config: the TOML file, `ROTASCOPE_` overrides, and every secret source.
//!
//! Order of work: read the file once, parse it, merge the environment overrides with figment and
//! extract the raw shape ([`super::schema`]), resolve the secrets (inline `[[secrets]]` first,
//! then `secrets_file`, then `secrets_command` — that is also the order of the candidates of every
//! compact-form node), validate the settings, then build the topology ([`super::build`]). Secrets
//! come before settings so that every password the sources hold is known when an error is
//! masked ([`ConfigError::masked`]). Everything read along the way feeds a content digest, so the
//! reload task can tell an unchanged re-read from a real change.
//!
//! A whole load has a deadline ([`LoadOptions::deadline`], default [`LOAD_TIMEOUT`]) on top of the
//! per-file and command limits: a load can fail, but never hang, so a reload can never wedge.
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
//! `shards.pattern` must be a pattern [`super::shard_regex`] accepts, and must not hold a password
//! of the config (a paste in the wrong place; it would be shown and sent to every server). Out of
//! bounds is an error naming the key (and the environment variable, for an override).
//!
//! Tests should use [`load_with`] and an explicit [`LoadOptions::env`] map: the process
//! environment is shared by tests running in parallel.

use crate::config::{UiSettings, UiTheme};
use crate::ui::keymap::overrides::NAMES;
use crate::ui::keymap::{Keymap, KeymapError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::{did_you_mean, ConfigError, KeyPath, Origin};
use super::files::{read_file, FileError, MAX_FILE_BYTES};
use super::redact::Redactor;
use super::source::{Document, EnvSettings, Layers};
use super::{
    Config, ProbeSettings, ReloadSettings, ShardSettings, SourceDigest, StateSettings,
    UsageSettings,
};

/// How long `secrets_command` may run before it is killed and the load fails.
pub const SECRETS_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a whole load may take: room for the command's limit and a few slow file reads,
/// well under what would look like a hang.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What a load reads besides the files: the environment, and the command time limit.
///
/// `Debug` shows the variable names only: the values may hold `password_env` secrets.
#[derive(Clone)]
pub struct LoadOptions {
    /// The environment: `ROTASCOPE_` overrides and `password_env` variables are looked up here.
    pub env: BTreeMap<String, String>,
    /// The time limit of `secrets_command` (default [`SECRETS_COMMAND_TIMEOUT`]).
    pub command_timeout: Duration,
    /// The time limit of a whole load (default [`LOAD_TIMEOUT`]).
    pub deadline: Duration,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("command_timeout", &self.command_timeout)
            .field("deadline", &self.deadline)
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
            deadline: LOAD_TIMEOUT,
        }
    }

    /// An explicit environment (tests) and the default command time limit.
    pub fn with_env<K: Into<String>, V: Into<String>>(
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        LoadOptions {
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            command_timeout: SECRETS_COMMAND_TIMEOUT,
            deadline: LOAD_TIMEOUT,
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

/// Loads and validates the config at `path`, reading the environment from `options`, within
/// [`LoadOptions::deadline`]. On a timeout whatever the load waited on is dropped: a running
/// `secrets_command` is killed, a stuck file read keeps only its bounded thread
/// ([`super::files`]).
pub async fn load_with(path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let load = async {
        let mut loader = Loader::read(path, options).await?;
        let result = loader.run().await;
        // Every password the load got to know masks the error, wherever in it one may hide.
        result.map_err(|e| e.masked(&loader.redactor))
    };
    match tokio::time::timeout(options.deadline, load).await {
        Ok(result) => result,
        Err(_) => Err(ConfigError::LoadTimeout {
            path: path.to_path_buf(),
            after: options.deadline,
        }),
    }
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
        let built = self.build(&layers).await;
        if built.is_err() {
            // The error may quote a password the load had not got to yet: learn them all.
            self.harvest_passwords(&layers.raw).await;
        }
        let (probe, reload, shards, topology) = built?;
        Ok(Config {
            path: self.doc.path.clone(),
            probe,
            reload,
            shards,
            state: StateSettings {
                file: layers
                    .raw
                    .state
                    .file
                    .as_deref()
                    .filter(|f| !f.is_empty())
                    .map(|f| self.base_dir.join(f)),
            },
            ui: self.ui(&layers)?,
            usage: UsageSettings {
                enabled: layers
                    .raw
                    .usage
                    .enabled
                    .unwrap_or(UsageSettings::default().enabled),
                quiet_for: self.duration(
                    &layers,
                    &KeyPath::root().key("usage").key("quiet_for"),
                    layers.raw.usage.quiet_for.as_deref(),
                    UsageSettings::default().quiet_for,
                    TIMEOUT,
                )?,
            },
            topology,
            watched_files: self.watched.clone(),
            source_digest: SourceDigest(self.digest.clone().finalize().into()),
        })
    }

    /// Secrets, settings, topology, then the checks for passwords pasted into shown fields. (A
    /// settings error is masked with the topology's passwords too: [`Loader::harvest_passwords`].)
    async fn build(
        &mut self,
        layers: &Layers,
    ) -> Result<
        (
            ProbeSettings,
            ReloadSettings,
            ShardSettings,
            crate::topology::Topology,
        ),
        ConfigError,
    > {
        let raw = &layers.raw;
        let secrets = self.secrets(raw).await?;
        let (probe, reload, shards) = self.settings(layers)?;
        let topology = self.topology(raw, &secrets).await?;
        self.pattern_holds_no_password(layers, &shards)?;
        self.shown_fields_hold_no_password(layers, &topology)?;
        Ok((probe, reload, shards, topology))
    }

    /// After a failed build: every inline, `password_env` and `password_file` password of the
    /// config joins the redactor, best effort (sources that fail are skipped), so the error is
    /// masked with passwords of entries after the one that failed too.
    async fn harvest_passwords(&mut self, raw: &super::schema::RawConfig) {
        let secrets = raw.secrets.iter().map(|s| {
            (
                s.password.as_deref(),
                s.password_env.as_deref(),
                s.password_file.as_deref(),
            )
        });
        let nodes = raw.island.iter().flat_map(|i| &i.node).map(|n| {
            (
                n.password.as_deref(),
                n.password_env.as_deref(),
                n.password_file.as_deref(),
            )
        });
        let sources: Vec<_> = secrets.chain(nodes).collect();
        for (inline, env, file) in sources {
            if let Some(p) = inline {
                self.redactor.add(&crate::secret::Password::new(p));
            }
            if let Some(p) = env.and_then(|var| self.options.env.get(var)) {
                self.redactor.add(&crate::secret::Password::new(p.as_str()));
            }
            if let Some(rel) = file {
                let path = self.base_dir.join(rel);
                if let Ok(bytes) = read_file(&path, MAX_FILE_BYTES).await {
                    let text = String::from_utf8_lossy(&bytes);
                    let value = text.strip_suffix('\n').unwrap_or(&text);
                    let value = value.strip_suffix('\r').unwrap_or(value);
                    self.redactor.add(&crate::secret::Password::new(value));
                }
            }
        }
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

    /// `[ui]`: `theme` one of `dark`, `light`, `mono`; `[ui.keys]` applied to the key table.
    fn ui(&self, layers: &Layers) -> Result<UiSettings, ConfigError> {
        let raw = &layers.raw.ui;
        let theme = match raw.theme.as_deref() {
            None => None,
            Some("dark") => Some(UiTheme::Dark),
            Some("light") => Some(UiTheme::Light),
            Some("mono") => Some(UiTheme::Mono),
            Some(other) => {
                let key = KeyPath::root().key("ui").key("theme");
                return Err(ConfigError::InvalidValue {
                    at: layers.origin(&self.doc, &self.env_settings, &key),
                    key,
                    expected: "\"dark\", \"light\" or \"mono\"".to_owned(),
                    found: format!("{other:?}"),
                });
            }
        };
        Ok(UiSettings {
            theme,
            mouse: raw.mouse.unwrap_or(true),
            keys: self.keys(layers)?,
        })
    }

    /// `[ui.keys]`: each entry an action's name and a key or a list of keys.
    fn keys(&self, layers: &Layers) -> Result<Keymap, ConfigError> {
        use figment::value::Value;
        let at_key = |name: &str| KeyPath::root().key("ui").key("keys").key(name);
        let origin = |key: &KeyPath| layers.origin(&self.doc, &self.env_settings, key);
        let mut overrides = Vec::new();
        for (name, value) in layers.raw.ui.keys.iter().flatten() {
            let strings = match value {
                Value::String(_, s) => Some(vec![s.clone()]),
                Value::Array(_, items) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(_, s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => None,
            };
            let Some(strings) = strings else {
                let key = at_key(name);
                return Err(ConfigError::InvalidValue {
                    at: origin(&key),
                    key,
                    expected: "a key such as \"x\", \"ctrl-r\" or \"F5\", or a list of keys"
                        .to_owned(),
                    found: value_kind(value).to_owned(),
                });
            };
            overrides.push((name.clone(), strings));
        }
        Keymap::with_overrides(&overrides).map_err(|e| {
            let key = at_key(e.action());
            let at = origin(&key);
            match e {
                KeymapError::UnknownAction { name } => ConfigError::UnknownKey {
                    at,
                    key,
                    suggestion: did_you_mean(&name, NAMES.iter().map(|(n, _)| *n)),
                    expected: NAMES.iter().map(|(n, _)| (*n).to_owned()).collect(),
                },
                other => ConfigError::BadKeyBinding {
                    at,
                    key,
                    reason: other.to_string(),
                },
            }
        })
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
            if let Err(reason) = super::shard_regex(p) {
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

    /// A known password as `shards.pattern` is a paste in the wrong place: it would be shown on
    /// every screen and sent to every server as part of the probe query.
    /// (Every password the config holds counts, one a URL carries but an entry overrides too.)
    fn pattern_holds_no_password(
        &self,
        layers: &Layers,
        shards: &ShardSettings,
    ) -> Result<(), ConfigError> {
        let Some(pattern) = &shards.pattern else {
            return Ok(());
        };
        if self.redactor.redact(pattern) == *pattern {
            return Ok(());
        }
        let key = KeyPath::root().key("shards").key("pattern");
        Err(ConfigError::InvalidValue {
            at: layers.origin(&self.doc, &self.env_settings, &key),
            key,
            expected: "a schema pattern such as \"sh%04d\"".into(),
            found: "a value that holds a password of this config (not shown)".into(),
        })
    }

    /// Node names, logins and labels are shown everywhere: one that holds a password of the
    /// config is a paste in the wrong place, refused without repeating it. The config's own
    /// fields are named by their key; what came from elsewhere (a secrets file or command, a
    /// connection string's user) by its island and node.
    fn shown_fields_hold_no_password(
        &self,
        layers: &Layers,
        topology: &crate::topology::Topology,
    ) -> Result<(), ConfigError> {
        // One automaton over every password: a check per field stays linear with 10⁵ secrets.
        let matcher = self.redactor.matcher();
        let holds = |text: &str| matcher.holds(text);
        let refused = |key: KeyPath, expected: String| ConfigError::InvalidValue {
            at: layers.origin(&self.doc, &self.env_settings, &key),
            key,
            expected,
            found: "a value that holds a password of this config (not shown)".into(),
        };
        let raw = &layers.raw;
        for (i, secret) in raw.secrets.iter().enumerate() {
            let key = KeyPath::root().key("secrets").index(i);
            if holds(&secret.login) {
                return Err(refused(
                    key.key("login"),
                    "a login without a password".into(),
                ));
            }
            if secret.label.as_deref().is_some_and(holds) {
                return Err(refused(
                    key.key("label"),
                    "a label without a password".into(),
                ));
            }
        }
        for (i, island) in raw.island.iter().enumerate() {
            for (j, node) in island.node.iter().enumerate() {
                let key = KeyPath::root().key("island").index(i).key("node").index(j);
                for (field, value) in [
                    ("name", &node.name),
                    ("login", &node.login),
                    ("label", &node.label),
                ] {
                    if value.as_deref().is_some_and(holds) {
                        return Err(refused(
                            key.key(field),
                            format!("a {field} without a password"),
                        ));
                    }
                }
            }
        }
        for node in topology.nodes() {
            let what = if holds(&node.key.name) {
                Some("the name of a node")
            } else {
                node.candidates.iter().find_map(|c| {
                    if holds(&c.login) {
                        Some("a login")
                    } else if c.label.as_deref().is_some_and(holds) {
                        Some("a label")
                    } else {
                        None
                    }
                })
            };
            if let Some(what) = what {
                return Err(ConfigError::InvalidValue {
                    at: Origin::file(&self.doc.path),
                    key: KeyPath::root(),
                    expected: format!(
                        "{what} without a password (island {}, node #{} of it; from the secrets \
                         file or command, or a connection string)",
                        node.key.island,
                        topology
                            .islands
                            .iter()
                            .find(|i| i.no == node.key.island)
                            .and_then(|i| i.nodes.iter().position(|n| n.key == node.key))
                            .unwrap_or(0)
                    ),
                    found: "a value that holds a password of this config (not shown)".into(),
                });
            }
        }
        Ok(())
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

/// The type of a config value, as an error names it.
fn value_kind(value: &figment::value::Value) -> &'static str {
    use figment::value::Value;
    match value {
        Value::String(..) | Value::Char(..) => "a string",
        Value::Bool(..) => "a boolean",
        Value::Num(..) => "a number",
        Value::Empty(..) => "nothing",
        Value::Dict(..) => "a table",
        Value::Array(..) => "a list with a value that is not a string",
    }
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
