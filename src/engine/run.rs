//! The two ways to drive the core: the long-running engine task, and the one-shot `check` pass.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::core::Core;
use super::job::Report;
use super::persist::{StateFile, SAVE_EVERY};
use super::probe::Prober;
use super::snapshot::Snapshot;
use super::Command;
use crate::config::ConfigFeed;

/// The engine task's channels.
pub(crate) struct Wiring {
    /// Job reports.
    pub reports: mpsc::UnboundedReceiver<Report>,
    /// Config states and the reload trigger.
    pub feed: ConfigFeed,
    /// Commands.
    pub commands: mpsc::Receiver<Command>,
    /// Where snapshots go.
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    /// The `[state]` file, if any.
    pub state: Option<Arc<StateFile>>,
}

/// The least time between two snapshots published for probe reports. Building one clones every
/// node and the event ring, and a busy engine folds in hundreds of reports a second while no
/// screen shows more than a few frames: reports within the gap are coalesced into one snapshot,
/// published when the gap is over (the feed's events still go out as they happen). A config
/// change or a command is published at once: those are rare, and someone may be waiting on them.
const PUBLISH_GAP: Duration = Duration::from_millis(50);

/// The engine task: starts due jobs, folds in reports, config changes and commands, publishes a
/// snapshot after each change (changes by reports coalesced to one per [`PUBLISH_GAP`], the
/// latest state always published in the end), until `shutdown`.
pub(crate) async fn engine<P: Prober>(
    mut core: Core<P>,
    mut wiring: Wiring,
    shutdown: CancellationToken,
) {
    // The engine outlives both: a dropped reload task leaves the last config running, and a
    // dropped command sender just means nobody asks for extra work.
    let mut feed_open = true;
    let mut commands_open = true;
    // `spawn` published the first snapshot just now.
    let mut published = Instant::now();
    // A config change or a command since the last turn: publish without waiting out the gap.
    let mut urgent = false;
    let mut save = tokio::time::interval_at(Instant::now() + SAVE_EVERY, SAVE_EVERY);
    save.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        core.log.tick();
        core.dispatch_ready();
        core.reap();
        // A change not yet published: now if the gap is over, else when it is.
        let mut publish_at = None;
        if core.dirty {
            let due = published + PUBLISH_GAP;
            let now = Instant::now();
            if urgent || now >= due {
                wiring.snapshots.send_replace(Arc::new(core.snapshot()));
                published = now;
            } else {
                publish_at = Some(due);
            }
        }
        // The next job due, or the open rotation episode's timeout.
        let wake = match (core.next_wake(), core.log.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = tokio::time::sleep_until(wake.unwrap_or_else(far_future));
        let publish = tokio::time::sleep_until(publish_at.unwrap_or_else(far_future));
        urgent = false;
        // Rare inputs first (they cannot starve the reports); reports before timers. Reports
        // cannot starve the publish timer either: each turn publishes once the gap is over.
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            changed = wiring.feed.state.changed(), if feed_open => match changed {
                Ok(()) => {
                    let state = wiring.feed.state.borrow_and_update().clone();
                    core.on_config(&state);
                    urgent = true;
                }
                Err(_) => feed_open = false,
            },
            command = wiring.commands.recv(), if commands_open => match command {
                Some(command) => {
                    core.on_command(command, wiring.feed.reload.as_ref());
                    urgent = true;
                }
                None => commands_open = false,
            },
            Some(report) = wiring.reports.recv() => {
                core.on_report(report);
                // Fold in everything already waiting before the next turn.
                while let Ok(report) = wiring.reports.try_recv() {
                    core.on_report(report);
                }
            }
            _ = publish, if publish_at.is_some() => {}
            _ = sleep, if wake.is_some() => {}
            _ = save.tick(), if wiring.state.is_some() => {
                if let Some(state) = &wiring.state {
                    // Off the engine task: a slow disk must not hold up probes.
                    drop(save_state(&mut core, state.clone()));
                }
            }
        }
    }
    // The last state seen is the last one published, even when the gap was not over; its
    // history says the run ended.
    core.log.end_run();
    wiring.snapshots.send_replace(Arc::new(core.snapshot()));
    if let Some(state) = &wiring.state {
        if let Ok(Err(e)) = save_state(&mut core, state.clone()).await {
            tracing::warn!("{}: {e}", state.path().display());
        }
    }
    core.stop_jobs().await;
}

/// Writes the remembered best and the history to the state file, on a blocking thread.
fn save_state<P: Prober>(
    core: &mut Core<P>,
    state: Arc<StateFile>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let at = core.log.now();
    let bests = core.saved_bests();
    let history = core.log.history();
    let quiet = core.saved_quiet();
    tokio::task::spawn_blocking(move || {
        let written = state.write(at, bests, Some(history.save()), quiet);
        if let Err(e) = &written {
            tracing::warn!("{}: {e}", state.path().display());
        }
        written
    })
}

/// One pass: the chain probes asked for at start, then the audits due, until nothing is left to
/// do; returns the final snapshot.
pub(crate) async fn once<P: Prober>(
    mut core: Core<P>,
    mut reports: mpsc::UnboundedReceiver<Report>,
) -> Arc<Snapshot> {
    loop {
        core.dispatch_ready();
        if core.idle() {
            break;
        }
        match reports.recv().await {
            Some(report) => core.on_report(report),
            None => break,
        }
    }
    core.pace.finish_round(&mut core.log);
    core.stop_jobs().await;
    Arc::new(core.snapshot())
}

/// A deadline that never comes, for a disabled timer branch.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}
