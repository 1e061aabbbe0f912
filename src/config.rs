//! The validated configuration, where it comes from, and how it is reloaded.
//!
//! Sources (TOML file, `ROTASCOPE_` environment overrides for settings, inline secrets,
//! `password_env`, `password_file`, `secrets_file`, `secrets_command`) are read by [`load`] into
//! one [`Config`]; [`reload`] re-reads them on an interval, on file change and on demand, and
//! publishes each result as a [`ConfigState`] on a `tokio::sync::watch` channel.
//!
//! Connection strings are read as libpq reads them by [`crate::conninfo`] (its documented
//! deviations: a URL's credentials run to its last `@` before the query string, no `dbname` means
//! `postgres`, libpq's environment variables other than the file locations do not apply); the
//! files they name are read by `conn`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::topology::Topology;

mod build;
mod conn;
pub mod describe;
pub mod error;
pub mod files;
pub mod load;
mod redact;
pub mod reload;
mod schema;
mod secrets;
mod shards;
mod source;
mod tls_files;

pub use error::ConfigError;
pub use load::{load, resolve_path};
pub use secrets::{MAX_COMMAND_OUTPUT, MAX_LABEL_BYTES, MAX_LOGIN_BYTES, MAX_PASSWORD_BYTES};
pub use shards::shard_regex;

/// A loaded and validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The config file it was read from.
    pub path: PathBuf,
    /// `[probe]` settings.
    pub probe: ProbeSettings,
    /// `[reload]` settings.
    pub reload: ReloadSettings,
    /// `[shards]` settings.
    pub shards: ShardSettings,
    /// `[state]` settings.
    pub state: StateSettings,
    /// `[ui]` settings of the dashboard.
    pub ui: UiSettings,
    /// `[usage]` settings.
    pub usage: UsageSettings,
    /// Islands, nodes and candidates.
    pub topology: Topology,
    /// Files whose change should trigger a re-read: the config file, `secrets_file` and every
    /// `password_file`, in the order first read (the reload task watches their directories).
    pub watched_files: Vec<PathBuf>,
    /// A digest of everything the load read (files, overrides, `password_env` values, command
    /// output); equal digests mean an unchanged re-read. [`SourceDigest::default`] (all zero)
    /// for a config not made by the loader: the first re-read of such a config always counts as
    /// a change.
    pub source_digest: SourceDigest,
}

/// A digest of all config sources, keyed by a per-process random salt (comparable within one run,
/// useless for guessing a password offline). Prints nothing of itself.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceDigest(pub(crate) [u8; 32]);

impl std::fmt::Debug for SourceDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceDigest(..)")
    }
}

/// `[probe]`: how often and how patiently nodes are probed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Chain probe period of every node (`interval`, default 2s), plus 0–20% jitter.
    pub interval: Duration,
    /// Audit period of every candidate (`audit_interval`, default 30s).
    pub audit_interval: Duration,
    /// Bound on the TCP connect (`connect_timeout`, default 3s).
    pub connect_timeout: Duration,
    /// Bound on a whole probe: connect, TLS, startup, auth, query, close (`timeout`, default 5s).
    pub timeout: Duration,
    /// Most probes in flight at once (`concurrency`, default 64).
    pub concurrency: usize,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            interval: Duration::from_secs(2),
            audit_interval: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(5),
            concurrency: 64,
        }
    }
}

/// `[reload]`: when the sources are re-read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadSettings {
    /// Periodic re-read (`interval`, default 10s).
    pub interval: Duration,
    /// Re-read when a watched file changes (`watch`, default true).
    pub watch: bool,
}

impl Default for ReloadSettings {
    fn default() -> Self {
        ReloadSettings {
            interval: Duration::from_secs(10),
            watch: true,
        }
    }
}

/// `[shards]`: optional microshard discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardSettings {
    /// A schema name pattern such as `sh%04d`; discovery is off when unset.
    pub pattern: Option<String>,
}

/// `[state]`: where the remembered best and the history survive a restart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StateSettings {
    /// The state file (`file`, relative to the config file's directory); nothing is written
    /// when unset. Read when rotascope starts: a reload that changes it takes effect at the next
    /// start.
    pub file: Option<PathBuf>,
}

/// `[ui] theme`: the dashboard's colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UiTheme {
    /// Colours for a dark background.
    Dark,
    /// Colours for a light background.
    Light,
    /// No colours.
    Mono,
}

/// `[ui]`: how the dashboard looks and listens. Read at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiSettings {
    /// `theme`; unset, the terminal's background decides (`COLORFGBG`), and `NO_COLOR` always
    /// means mono.
    pub theme: Option<UiTheme>,
    /// `mouse` (default true): wheel and clicks act; false leaves the mouse to the terminal's own
    /// text selection.
    pub mouse: bool,
    /// `[ui.keys]`: the dashboard's key table, the defaults with the config's overrides applied
    /// (validated at load: unknown actions, bad keys and clashes are config errors).
    pub keys: crate::ui::keymap::Keymap,
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            theme: None,
            mouse: true,
            keys: crate::ui::keymap::Keymap::default(),
        }
    }
}

/// `[usage]`: when a credential nobody uses any more is safe to revoke.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsageSettings {
    /// Count sessions per login at all (`enabled`, default true). Off: the probe query does not
    /// read the server's activity, views say counting is off, `--ready-to-revoke` refuses.
    pub enabled: bool,
    /// How long a login must have had no session on any node, its replacement valid everywhere,
    /// before it is called safe to revoke (`quiet_for`, default 10 min).
    pub quiet_for: Duration,
}

impl Default for UsageSettings {
    fn default() -> Self {
        UsageSettings {
            enabled: true,
            quiet_for: Duration::from_secs(600),
        }
    }
}

/// A reload that failed: when, and what went wrong (redacted: never a secret value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReloadFailure {
    /// When the failed attempt happened.
    pub at: DateTime<Utc>,
    /// The redacted error, naming file, key and reason.
    pub message: String,
}

/// What the reload task publishes: the last good config and the latest failure, if any.
#[derive(Clone, Debug)]
pub struct ConfigState {
    /// The last good config.
    pub config: Arc<Config>,
    /// Bumped on every applied config (the first is 1).
    pub generation: u64,
    /// When the last good config was loaded.
    pub loaded_at: DateTime<Utc>,
    /// The most recent failed reload since the last good one; `None` after a success.
    pub last_error: Option<ReloadFailure>,
}

/// The engine's view of the config: the published state and a way to ask for a reload now.
#[derive(Debug)]
pub struct ConfigFeed {
    /// Each new config or failure.
    pub state: watch::Receiver<ConfigState>,
    /// Asks the reload task to re-read the sources now; `None` for a fixed config.
    pub reload: Option<mpsc::Sender<()>>,
}

impl ConfigFeed {
    /// A feed driven by hand: the returned sender publishes new states (tests, one-shot `check`).
    ///
    /// When the sender is dropped the feed simply stops changing.
    pub fn manual(config: Config, loaded_at: DateTime<Utc>) -> (Self, watch::Sender<ConfigState>) {
        let (tx, rx) = watch::channel(ConfigState {
            config: Arc::new(config),
            generation: 1,
            loaded_at,
            last_error: None,
        });
        (
            ConfigFeed {
                state: rx,
                reload: None,
            },
            tx,
        )
    }
}
