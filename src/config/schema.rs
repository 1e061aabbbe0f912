//! The config file as written: serde shapes that figment extracts, before validation.
//!
//! Durations stay strings here so that a bad one is reported by the validator with its key and
//! origin. None of these types derives `Debug`: several hold passwords in clear text.

use serde::Deserialize;

/// The whole file (after `ROTASCOPE_` overrides of the settings tables).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub probe: RawProbe,
    #[serde(default)]
    pub reload: RawReload,
    #[serde(default)]
    pub shards: RawShards,
    #[serde(default)]
    pub state: RawState,
    #[serde(default)]
    pub ui: RawUi,
    #[serde(default)]
    pub usage: RawUsage,
    /// Compact form: one list of connection strings per island, island `no` = index.
    #[serde(default)]
    pub islands: Vec<Vec<String>>,
    /// Compact form: the secrets every connection string is tried with.
    #[serde(default)]
    pub secrets: Vec<RawSecret>,
    /// A JSON or TOML file with more secrets (relative to the config file's directory).
    pub secrets_file: Option<String>,
    /// A command whose standard output is a JSON list of more secrets.
    pub secrets_command: Option<Vec<String>>,
    /// Explicit form: `[[island]]` tables.
    #[serde(default)]
    pub island: Vec<RawIsland>,
}

/// The top-level keys a file may have; `ROTASCOPE_` overrides may touch only [`SETTINGS_TABLES`].
pub(crate) const TOP_LEVEL_KEYS: &[&str] = &[
    "probe",
    "reload",
    "shards",
    "state",
    "ui",
    "usage",
    "islands",
    "secrets",
    "secrets_file",
    "secrets_command",
    "island",
];

/// The tables environment overrides may set.
pub(crate) const SETTINGS_TABLES: &[&str] = &["probe", "reload", "shards", "state", "usage"];

/// Keys whose values are durations (humantime strings).
pub(crate) const DURATION_KEYS: &[&str] = &[
    "interval",
    "audit_interval",
    "connect_timeout",
    "timeout",
    "quiet_for",
];

/// `[probe]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProbe {
    pub interval: Option<String>,
    pub audit_interval: Option<String>,
    pub connect_timeout: Option<String>,
    pub timeout: Option<String>,
    pub concurrency: Option<u64>,
    /// Authentication methods a server may ask for (`scram-sha-256`, `md5`, `password`, `none`).
    pub allow_auth: Option<Vec<String>>,
}

/// `[reload]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReload {
    pub interval: Option<String>,
    pub watch: Option<bool>,
}

/// `[shards]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawShards {
    pub pattern: Option<String>,
}

/// `[state]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub file: Option<String>,
}

/// `[ui]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUi {
    pub theme: Option<String>,
    pub mouse: Option<bool>,
    /// `[ui.keys]`: action name → a key or a list of keys; checked by the loader, which says
    /// which entry is wrong and why.
    pub keys: Option<std::collections::BTreeMap<String, figment::value::Value>>,
}

/// `[usage]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUsage {
    pub enabled: Option<bool>,
    pub quiet_for: Option<String>,
}

/// A `[[secrets]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecret {
    pub login: String,
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub label: Option<String>,
}

/// An `[[island]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIsland {
    pub no: u32,
    #[serde(default)]
    pub node: Vec<RawNode>,
}

/// An `[[island.node]]` entry: one candidate of the node called `name`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNode {
    /// Defaults to the connection string with any password removed.
    pub name: Option<String>,
    pub url: String,
    pub login: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub label: Option<String>,
    /// This node's own `allow_auth` (instead of `[probe] allow_auth`).
    pub allow_auth: Option<Vec<String>>,
    /// What this entry's connection goes through: `pgbouncer`, `direct`, a pooler's name.
    pub via: Option<String>,
}
