//! The two ways to drive the core: the long-running engine task, and the one-shot `check` pass.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::core::Core;
use super::job::Report;
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
}

/// The engine task: starts due jobs, folds in reports, config changes and commands, publishes a
/// snapshot after each change, until `shutdown`.
pub(crate) async fn engine<P: Prober>(
    mut core: Core<P>,
    mut wiring: Wiring,
    shutdown: CancellationToken,
) {
    // The engine outlives both: a dropped reload task leaves the last config running, and a
    // dropped command sender just means nobody asks for extra work.
    let mut feed_open = true;
    let mut commands_open = true;
    loop {
        core.dispatch_ready();
        core.reap();
        if core.dirty {
            wiring.snapshots.send_replace(Arc::new(core.snapshot()));
        }
        let wake = core.next_wake();
        let sleep = tokio::time::sleep_until(wake.unwrap_or_else(far_future));
        // Rare inputs first (they cannot starve the reports); reports before timers.
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            changed = wiring.feed.state.changed(), if feed_open => match changed {
                Ok(()) => {
                    let state = wiring.feed.state.borrow_and_update().clone();
                    core.on_config(&state);
                }
                Err(_) => feed_open = false,
            },
            command = wiring.commands.recv(), if commands_open => match command {
                Some(command) => core.on_command(command, wiring.feed.reload.as_ref()),
                None => commands_open = false,
            },
            Some(report) = wiring.reports.recv() => {
                core.on_report(report);
                // Fold in everything already waiting, then publish once.
                while let Ok(report) = wiring.reports.try_recv() {
                    core.on_report(report);
                }
            }
            _ = sleep, if wake.is_some() => {}
        }
    }
    core.stop_jobs().await;
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
    core.stop_jobs().await;
    Arc::new(core.snapshot())
}

/// A deadline that never comes, for a disabled timer branch.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}
