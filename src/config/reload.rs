//! The reload task: re-reads every config source and publishes the result on a `watch` channel.
//!
//! Triggers:
//! - **interval**: `reload.interval` of the latest good config, counted from the last re-read;
//! - **file change** (when `reload.watch`): the *parent directories* of
//!   [`Config::watched_files`] are watched, not the files, since editors and Kubernetes replace
//!   files atomically (a watch on the file would die with the old inode). A change to one of the
//!   watched files' names in those directories (a write, or a rename onto it), or to an entry
//!   whose name starts with `..` (Kubernetes' atomic writer: `..data`, `..data_tmp`,
//!   `..2026_01_01_...`; a secret update only swaps the `..data` symlink), starts a short
//!   debounce, then a re-read. Other files in those directories (a `--record` file, a log, an
//!   editor's swap file) are ignored, so writing them never causes re-reads;
//! - **manual**: `()` on [`ConfigFeed::reload`] (the `r` key, SIGHUP).
//!
//! Shutdown is honoured during a re-read too: the load is dropped and a running
//! `secrets_command` is killed (with its process group).
//!
//! A re-read can never wedge the task: every file read has a deadline and a type check
//! ([`super::files`]), the command a time limit, and the whole load a deadline
//! ([`LoadOptions::deadline`]); a load that runs out of time is published as a failure like any
//! other, and the next trigger re-reads as usual.
//!
//! What is published:
//! - a re-read whose content digest equals the current config's publishes nothing (unless the
//!   last attempt failed: then the error is cleared with a new generation);
//! - a changed, valid config is published as the next generation;
//! - a **manual** reload always publishes: a new generation even when nothing changed, so the
//!   person who asked sees it happen (`loaded_at` moves);
//! - a failure keeps the last good config and generation and sets `last_error` (redacted); the
//!   same failure again from the interval or the watcher is not re-published (no event storm
//!   while a file stays broken), a manual reload re-publishes it with the new time.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::Watcher as _;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::secret::redact_all;
use crate::text::sanitize;

use super::load::{load_with, LoadOptions};
use super::{Config, ConfigFeed, ConfigState, ReloadFailure, SourceDigest};

/// Quiet time after the last file event before re-reading.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Longest a burst of file events can delay a re-read.
const MAX_DEBOUNCE: Duration = Duration::from_secs(1);

/// Manual reload requests that may wait (more are coalesced by the sender's `try_send`).
const RELOAD_QUEUE: usize = 4;

/// Starts the reload task for the config at `path`, whose first load gave `initial`, reading the
/// process environment. It stops when `shutdown` is cancelled or every receiver is dropped.
///
/// Call it inside a tokio runtime. The directory watches are in place when it returns.
pub fn spawn(
    path: PathBuf,
    initial: Config,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> ConfigFeed {
    spawn_with(path, initial, clock, shutdown, LoadOptions::from_process())
}

/// [`spawn`] with an explicit environment and command time limit (tests).
pub fn spawn_with(
    path: PathBuf,
    initial: Config,
    clock: SharedClock,
    shutdown: CancellationToken,
    options: LoadOptions,
) -> ConfigFeed {
    let (state_tx, state_rx) = watch::channel(ConfigState {
        config: Arc::new(initial),
        generation: 1,
        loaded_at: clock.now(),
        last_error: None,
    });
    let (reload_tx, reload_rx) = mpsc::channel(RELOAD_QUEUE);
    let reloader = Reloader {
        path,
        options,
        clock,
    };
    // The watches exist before this returns: a change made right after `spawn` is seen. (A
    // change between the initial load and here is caught by the next interval: its digest differs.)
    let (fs_tx, fs_rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = DirWatcher::new(fs_tx);
    watcher.sync(&state_tx.borrow().config);
    tokio::spawn(run(reloader, state_tx, reload_rx, watcher, fs_rx, shutdown));
    ConfigFeed {
        state: state_rx,
        reload: Some(reload_tx),
    }
}

/// Why a re-read happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Interval,
    Watch,
    Manual,
}

/// What a re-read needs.
struct Reloader {
    path: PathBuf,
    options: LoadOptions,
    clock: SharedClock,
}

async fn run(
    reloader: Reloader,
    state: watch::Sender<ConfigState>,
    mut manual: mpsc::Receiver<()>,
    mut watcher: DirWatcher,
    mut fs_rx: mpsc::UnboundedReceiver<()>,
    shutdown: CancellationToken,
) {
    let mut next_periodic = Instant::now() + state.borrow().config.reload.interval;
    // (first event, re-read deadline) of a burst of file events.
    let mut pending: Option<(Instant, Instant)> = None;
    let mut manual_open = true;
    loop {
        let debounce_at = pending.map(|(_, at)| at);
        let trigger = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = state.closed() => break,
            m = manual.recv(), if manual_open => match m {
                Some(()) => Trigger::Manual,
                None => {
                    manual_open = false;
                    continue;
                }
            },
            _ = tokio::time::sleep_until(next_periodic) => Trigger::Interval,
            Some(()) = fs_rx.recv() => {
                let now = Instant::now();
                let first = pending.map_or(now, |(first, _)| first);
                pending = Some((first, (now + DEBOUNCE).min(first + MAX_DEBOUNCE)));
                continue;
            }
            _ = sleep_until_opt(debounce_at), if debounce_at.is_some() => {
                pending = None;
                Trigger::Watch
            }
        };
        // A re-read can wait on `secrets_command` for up to its time limit: shutdown must not.
        tokio::select! {
            _ = shutdown.cancelled() => break,
            () = reloader.reload(&state, trigger) => {}
        }
        let config = state.borrow().config.clone();
        watcher.sync(&config);
        next_periodic = Instant::now() + config.reload.interval;
    }
    tracing::debug!("config reload task stopped");
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Reloader {
    /// Re-reads all sources and publishes according to the rules in the module docs.
    async fn reload(&self, state: &watch::Sender<ConfigState>, trigger: Trigger) {
        let current = state.borrow().clone();
        match load_with(&self.path, &self.options).await {
            Ok(config) => {
                let unchanged = config.source_digest == current.config.source_digest
                    && config.source_digest != SourceDigest::default();
                if unchanged && current.last_error.is_none() && trigger != Trigger::Manual {
                    return;
                }
                tracing::info!(
                    path = %self.path.display(),
                    generation = current.generation + 1,
                    ?trigger,
                    "config reloaded"
                );
                state.send_replace(ConfigState {
                    config: Arc::new(config),
                    generation: current.generation + 1,
                    loaded_at: self.clock.now(),
                    last_error: None,
                });
            }
            Err(e) => {
                // Errors are redacted when built; the last good passwords are masked as well, in
                // case the broken source quoted one the loader never got to parse.
                let message = redact_all(&e.to_string(), current.config.topology.passwords());
                // Shown on screens and in logs: a command's stderr or a path may hold escapes.
                let message = sanitize(&message).into_owned();
                let repeated = current
                    .last_error
                    .as_ref()
                    .is_some_and(|f| f.message == message);
                if repeated && trigger != Trigger::Manual {
                    return;
                }
                tracing::warn!(?trigger, error = %message, "config reload failed; keeping the last good config");
                state.send_replace(ConfigState {
                    last_error: Some(ReloadFailure {
                        at: self.clock.now(),
                        message,
                    }),
                    ..current
                });
            }
        }
    }
}

/// Watched directory -> the names in it whose change matters.
type Targets = BTreeMap<PathBuf, BTreeSet<OsString>>;

/// Watches the parent directories of the config's files; a change to one of those files (or to a
/// Kubernetes `..` entry next to them) sends `()`.
struct DirWatcher {
    tx: mpsc::UnboundedSender<()>,
    watcher: Option<notify::RecommendedWatcher>,
    dirs: BTreeSet<PathBuf>,
    /// Shared with the notify callback, which runs on notify's thread.
    targets: Arc<Mutex<Targets>>,
}

impl DirWatcher {
    fn new(tx: mpsc::UnboundedSender<()>) -> Self {
        DirWatcher {
            tx,
            watcher: None,
            dirs: BTreeSet::new(),
            targets: Arc::default(),
        }
    }

    /// Makes the watched directories those of `config` (none when `reload.watch` is off).
    fn sync(&mut self, config: &Config) {
        if !config.reload.watch {
            self.watcher = None;
            self.dirs.clear();
            return;
        }
        let mut targets = Targets::new();
        for f in &config.watched_files {
            let names = targets.entry(parent_dir(f)).or_default();
            names.extend(f.file_name().map(OsString::from));
        }
        let wanted: BTreeSet<PathBuf> = targets.keys().cloned().collect();
        match self.targets.lock() {
            Ok(mut t) => *t = targets,
            Err(poisoned) => *poisoned.into_inner() = targets,
        }
        if self.watcher.is_none() {
            let tx = self.tx.clone();
            let targets = self.targets.clone();
            let handler = move |res: notify::Result<notify::Event>| {
                let relevant = match &res {
                    // An error may mean missed events: re-read to be safe.
                    Err(_) => true,
                    Ok(event) => {
                        is_relevant(event)
                            && match targets.lock() {
                                Ok(t) => concerns(event, &t),
                                Err(poisoned) => concerns(event, &poisoned.into_inner()),
                            }
                    }
                };
                if relevant {
                    let _ = tx.send(());
                }
            };
            match notify::recommended_watcher(handler) {
                Ok(w) => self.watcher = Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch config files; relying on the reload interval");
                    return;
                }
            }
            self.dirs.clear();
        }
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        for gone in self.dirs.difference(&wanted) {
            let _ = w.unwatch(gone);
        }
        let mut now = BTreeSet::new();
        for dir in wanted {
            if self.dirs.contains(&dir) {
                now.insert(dir);
                continue;
            }
            match w.watch(&dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => {
                    now.insert(dir);
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory")
                }
            }
        }
        self.dirs = now;
    }
}

/// True when `event` touches a watched file, a Kubernetes `..` entry in a watched directory, or
/// a watched directory itself (or says events were lost).
fn concerns(event: &notify::Event, targets: &Targets) -> bool {
    if event.paths.is_empty() || event.need_rescan() {
        return true;
    }
    event.paths.iter().any(|p| {
        if targets.contains_key(p) {
            return true;
        }
        let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
            return false;
        };
        let Some(names) = targets.get(dir) else {
            return false;
        };
        names.contains(name) || name.to_string_lossy().starts_with("..")
    })
}

/// The directory a file lives in, absolute (a watch on "" would fail).
fn parent_dir(file: &Path) -> PathBuf {
    let abs = if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(file))
            .unwrap_or_else(|_| file.to_path_buf())
    };
    abs.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Opening or reading a file is no change (and the loader's own reads would loop otherwise).
fn is_relevant(event: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, EventKind, ModifyKind, RenameMode};

    fn event(kind: EventKind, paths: &[&str]) -> notify::Event {
        let mut e = notify::Event::new(kind);
        e.paths = paths.iter().map(PathBuf::from).collect();
        e
    }

    #[test]
    fn only_watched_names_and_kubernetes_entries_concern_the_watcher() {
        let mut targets = Targets::new();
        targets
            .entry(PathBuf::from("/etc/r"))
            .or_default()
            .insert("config.toml".into());
        let write = EventKind::Modify(ModifyKind::Any);
        let create = EventKind::Create(CreateKind::Any);
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        let yes = [
            event(write, &["/etc/r/config.toml"]),
            event(rename, &["/etc/r/.config.toml.swp", "/etc/r/config.toml"]),
            event(rename, &["/etc/r/..data_tmp", "/etc/r/..data"]),
            event(create, &["/etc/r/..2026_01_01_00_00_00.1"]),
            event(
                EventKind::Remove(notify::event::RemoveKind::Any),
                &["/etc/r"],
            ),
            event(EventKind::Other, &[]),
        ];
        for e in &yes {
            assert!(concerns(e, &targets), "{e:?}");
        }
        let no = [
            event(write, &["/etc/r/record.jsonl"]),
            event(create, &["/etc/r/.config.toml.swp"]),
            event(write, &["/etc/other/config.toml"]),
            event(write, &["/etc/r/sub/config.toml"]),
        ];
        for e in &no {
            assert!(!concerns(e, &targets), "{e:?}");
        }
    }
}
