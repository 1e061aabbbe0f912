//! The seams to modules written in parallel: config loading, the reload task, the one-shot
//! engine pass, the PostgreSQL prober and the TUI. Each function names the exact call it stands
//! for after `// WIRE:`; until the merge their bodies are `todo!()` so the crate compiles.
//! Everything around them in [`super::run`] is real.

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::{Config, ConfigFeed};
use crate::engine::Snapshot;

/// Resolves the config path (`--config`, ./rotascope.toml, $XDG_CONFIG_HOME/rotascope/config.toml)
/// and loads it. The error is redacted by the config module and printed as is; exit 3.
pub(crate) async fn load_config(cli_path: Option<&Path>) -> anyhow::Result<Config> {
    let path = crate::config::resolve_path(cli_path)?;
    Ok(crate::config::load(&path).await?)
}

/// The normalized topology `config check` prints.
pub(crate) fn describe(config: &Config) -> String {
    crate::config::describe::describe(config)
}

/// Starts the reload task (interval, file watch, on-demand) for a loaded config; it stops when
/// `shutdown` is cancelled.
pub(crate) fn spawn_reload(
    config: Config,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> ConfigFeed {
    crate::config::reload::spawn(config.path.clone(), config, clock, shutdown)
}

/// The prober `check`, `watch` and the TUI use.
pub(crate) type PgProber = crate::engine::pg::PgProber;

/// Builds the PostgreSQL prober.
pub(crate) fn pg_prober() -> PgProber {
    crate::engine::pg::PgProber::new()
}

/// One pass over the cluster (chain probe + audit of every node) and its snapshot.
pub(crate) async fn check_once(
    config: Config,
    clock: SharedClock,
    prober: PgProber,
) -> Arc<Snapshot> {
    crate::engine::check_once(config, clock, prober).await
}
