//! Running a parsed command line: load the config, start what the command needs, print, and
//! map the result to an [`Exit`]. Errors are printed here, once, on stderr.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::signals::Signals;
use super::watch::{stream, Beat, StreamEnd};
use super::{CheckArgs, Cli, Command, ConfigCheckArgs, ConfigCommand, Format, WatchArgs};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::engine::persist::StateFile;
use crate::engine::pg::PgProber;
use crate::engine::{check_once, Engine, EngineHandle, EngineOptions};
use crate::report::{write_check_json, write_check_table_fit, Exit, Fit, NdjsonWriter};
use crate::shard::Shard;

/// How long background tasks get to finish after shutdown before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a command could not do its job. Both exit 3: nothing was checked.
#[derive(Debug)]
pub enum Failure {
    /// The config could not be found, read or validated (its message is already redacted).
    Config(anyhow::Error),
    /// Anything else: output, signals, the terminal, an engine that stopped.
    Run(anyhow::Error),
}

impl Failure {
    /// The exit code for this failure.
    pub fn exit(&self) -> Exit {
        Exit::ConfigError
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Config(e) => write!(f, "config error: {e:#}"),
            Failure::Run(e) => write!(f, "error: {e:#}"),
        }
    }
}

/// Resolves the config path (`--config`, ./rotascope.toml, $XDG_CONFIG_HOME/rotascope/config.toml)
/// and loads it. The error is redacted by the config module; the caller exits 3.
pub(super) async fn load_config(cli_path: Option<&Path>) -> anyhow::Result<Config> {
    let path = crate::config::resolve_path(cli_path)?;
    Ok(crate::config::load(&path).await?)
}

pub(super) fn run_err(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Run(e.into())
}

/// Runs the command and returns how the process should exit; failures are printed on stderr.
pub async fn run(cli: Cli) -> Exit {
    let path = cli.config.as_deref();
    let result = match &cli.command {
        None => tui(path).await,
        Some(Command::Config(ConfigCommand::Check(args))) => config_check(path, args).await,
        Some(Command::Check(args)) => check(path, args).await,
        Some(Command::Watch(args)) => watch(path, args).await,
        Some(Command::Serve(args)) => super::serve::serve(path, args).await,
        Some(Command::Report(args)) => super::report::report(path, args).await,
        Some(Command::Lab(args)) => super::lab::lab(path, args).await,
    };
    match result {
        Ok(exit) => exit,
        Err(failure) => {
            // Errors quote foreign text (a command's stderr, paths, server messages).
            eprintln!("rotascope: {}", crate::text::sanitize(&failure.to_string()));
            failure.exit()
        }
    }
}

/// `rotascope config check`: the normalized topology, exit 0.
async fn config_check(path: Option<&Path>, args: &ConfigCheckArgs) -> Result<Exit, Failure> {
    let config = load_config(path).await.map_err(Failure::Config)?;
    let mut text = String::new();
    match args.format {
        // Names, logins and labels may come from a secrets source: escape, line by line.
        Format::Table => {
            for line in crate::config::describe::describe(&config).lines() {
                text.push_str(&crate::text::sanitize(line));
                text.push('\n');
            }
        }
        Format::Json => {
            text =
                crate::text::json_safe(crate::config::describe::describe_json(&config).to_string())
        }
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    print(text.as_bytes())?;
    Ok(Exit::Ok)
}

/// `rotascope check`: one pass, printed, exit by verdict.
async fn check(path: Option<&Path>, args: &CheckArgs) -> Result<Exit, Failure> {
    if let Some(login) = &args.ready_to_revoke {
        return super::revoke::ready_to_revoke(path, args, login).await;
    }
    let config = load_config(path).await.map_err(Failure::Config)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let config = args.shard.unwrap_or_default().apply(config);
    let snapshot = check_once(config, clock, PgProber::new()).await;
    let mut out = Vec::new();
    match args.format {
        Format::Table => {
            let fit = Fit::for_output(std::io::stdout().is_terminal(), args.wide);
            write_check_table_fit(&mut out, &snapshot, fit)
        }
        Format::Json => write_check_json(&mut out, &snapshot),
    }
    .map_err(run_err)?;
    print(&out)?;
    Ok(Exit::from_verdict(snapshot.verdict()))
}

/// `rotascope watch`: the engine headless, NDJSON until SIGINT/SIGTERM or the reader leaves.
async fn watch(path: Option<&Path>, args: &WatchArgs) -> Result<Exit, Failure> {
    let config = load_config(path).await.map_err(Failure::Config)?;
    // Open the record file before starting anything: a bad path fails fast.
    let mut writer = NdjsonWriter::stdout(args.probes, args.record.as_deref()).map_err(run_err)?;
    let shard = args.shard.unwrap_or_default();
    let running = Running::start(config, Hangup::Reload, CancellationToken::new(), shard).await?;
    // A reader that stops reading (a full pipe) blocks our writes to stdout, and no await point
    // can interrupt a blocked write. So once a signal asks us to stop, the stream gets
    // SHUTDOWN_GRACE to drain, then the process leaves with the status a signal promises.
    let watchdog = tokio::spawn({
        let shutdown = running.shutdown.clone();
        async move {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
            tracing::warn!("stdout is not being read; exiting without draining it");
            std::process::exit(i32::from(Exit::Ok.code()));
        }
    });
    // Subscribed before the first config was applied: every item from its `config_applied` on.
    let mut items = running.engine.feed_from_start;
    let beat = Beat {
        every: args.heartbeat,
        snapshots: running.engine.snapshots.clone(),
    };
    let end = stream(
        &mut items,
        &mut writer,
        &*running.clock,
        &running.shutdown,
        Some(beat),
    )
    .await;
    drop(items);
    let stopped = stop(running.shutdown, running.engine.task, running.signal_task).await;
    watchdog.abort();

    match end.map_err(|e| run_err(anyhow!(e).context("writing the stream")))? {
        StreamEnd::Shutdown | StreamEnd::OutputClosed => stopped.map(|()| Exit::Ok),
        StreamEnd::FeedClosed => {
            stopped?;
            Err(run_err(anyhow!("the engine stopped unexpectedly")))
        }
    }
}

/// No subcommand: the live TUI on the engine.
async fn tui(path: Option<&Path>) -> Result<Exit, Failure> {
    // Refuse before probing anything: a dashboard nobody can see would only log in for nothing.
    crate::ui::ensure_terminal().map_err(|e| Failure::Run(e.into()))?;
    let config = load_config(path).await.map_err(Failure::Config)?;
    dashboard(config, CancellationToken::new()).await
}

/// The live TUI on `config` until the user quits, a signal, or `shutdown` is cancelled; on the
/// way out `shutdown` is cancelled (so whatever else shares it stops too).
pub(super) async fn dashboard(
    config: Config,
    shutdown: CancellationToken,
) -> Result<Exit, Failure> {
    let ui_settings = config.ui.clone();
    // SIGHUP to a TUI means its terminal is gone: stop, do not reload.
    let running = Running::start(config, Hangup::Stop, shutdown, Shard::ALL).await?;
    let ui = crate::ui::run_terminal(
        &running.engine,
        running.clock.clone(),
        running.shutdown.clone(),
        &ui_settings,
    )
    .await;
    let stopped = running.stop().await;
    ui.map_err(|e| Failure::Run(e.into()))?;
    stopped.map(|()| Exit::Ok)
}

/// What SIGHUP means to a long-running command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hangup {
    /// Reload the config (`watch`, like a daemon).
    Reload,
    /// Stop (the TUI: its terminal hung up).
    Stop,
}

/// The engine, its config reload task and the signal handler, running on one shutdown token.
pub(super) struct Running {
    pub(super) clock: SharedClock,
    pub(super) shutdown: CancellationToken,
    pub(super) engine: EngineHandle,
    pub(super) signal_task: JoinHandle<()>,
}

impl Running {
    /// Registers signal handlers first (so SIGTERM can no longer kill us mid-start), opens the
    /// `[state]` file if the config names one, then starts the reload task and the engine on
    /// the PostgreSQL prober. Everything stops when `shutdown` is cancelled: by a signal, by
    /// [`Running::stop`], or by the caller. The engine sees only `shard`'s islands of every
    /// config.
    pub(super) async fn start(
        config: Config,
        hangup: Hangup,
        shutdown: CancellationToken,
        shard: Shard,
    ) -> Result<Self, Failure> {
        let signals = Signals::register()
            .context("signal handlers")
            .map_err(run_err)?;
        let (config, state) = with_state(config).await?;
        let clock: SharedClock = Arc::new(SystemClock);
        let feed = crate::config::reload::spawn(
            config.path.clone(),
            config,
            clock.clone(),
            shutdown.clone(),
        );
        let feed = shard.feed(feed);
        let options = EngineOptions {
            state,
            ..EngineOptions::default()
        };
        let engine = Engine::spawn_with(
            feed,
            clock.clone(),
            PgProber::new(),
            shutdown.clone(),
            options,
        );
        let reload = (hangup == Hangup::Reload).then(|| engine.commands.clone());
        let signal_task = signals.spawn(reload, shutdown.clone());
        Ok(Running {
            clock,
            shutdown,
            engine,
            signal_task,
        })
    }

    /// Cancels the token and awaits the tasks (see [`stop`]).
    pub(super) async fn stop(self) -> Result<(), Failure> {
        stop(self.shutdown, self.engine.task, self.signal_task).await
    }
}

/// Opens the config's `[state]` file, if it names one, and takes its fingerprint key; the config
/// is then read again, so its candidates carry fingerprints under that key (the same as before
/// the restart: that is how the remembered best and the history find their candidates again).
pub(super) async fn with_state(
    config: Config,
) -> Result<(Config, Option<Arc<StateFile>>), Failure> {
    let Some(path) = config.state.file.clone() else {
        return Ok((config, None));
    };
    let state = tokio::task::spawn_blocking(move || StateFile::open(&path))
        .await
        .map_err(run_err)?
        .map_err(|e| Failure::Config(e.into()))?;
    crate::secret::use_fingerprint_key(state.key());
    let config = load_config(Some(&config.path))
        .await
        .map_err(Failure::Config)?;
    Ok((config, Some(Arc::new(state))))
}

/// Cancels `shutdown` and awaits the engine and signal tasks, at most [`SHUTDOWN_GRACE`]. A
/// panicked engine is a failure; a task that will not stop is logged and left to the runtime's
/// shutdown. (A function of the parts, for `watch`, which moves the feed out of the handle.)
pub(super) async fn stop(
    shutdown: CancellationToken,
    engine: JoinHandle<()>,
    signals: JoinHandle<()>,
) -> Result<(), Failure> {
    shutdown.cancel();
    let all = async { (engine.await, signals.await) };
    match tokio::time::timeout(SHUTDOWN_GRACE, all).await {
        Ok((engine, signals)) => {
            if let Err(e) = signals {
                tracing::warn!("signal task: {e}");
            }
            engine.map_err(|e| run_err(anyhow!("the engine task failed: {e}")))
        }
        Err(_) => {
            tracing::warn!("background tasks did not stop within {SHUTDOWN_GRACE:?}");
            Ok(())
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
pub(super) fn print(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(run_err(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_exits_3_and_says_what_kind() {
        let c = Failure::Config(anyhow!("rotascope.toml: line 2: unknown key `intervl`"));
        assert_eq!(c.exit().code(), 3);
        assert_eq!(
            c.to_string(),
            "config error: rotascope.toml: line 2: unknown key `intervl`"
        );
        let r = Failure::Run(anyhow!(io::Error::other("disk full")).context("writing"));
        assert_eq!(r.exit().code(), 3);
        assert_eq!(r.to_string(), "error: writing: disk full");
    }
}
