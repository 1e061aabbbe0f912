//! Unix signals for long-running commands: SIGINT, SIGTERM and SIGQUIT stop cleanly (the
//! shutdown token is cancelled, tasks finish, the dashboard gives the terminal back, exit 0);
//! SIGHUP asks the engine to reload the config. SIGQUIT's default action (a core dump) would leave
//! the terminal raw, on the alternate screen, with the cursor hidden; a quit is a quit. Job
//! control (SIGTSTP, SIGCONT) is the dashboard's own business (`ui/run.rs`).

use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::Command;

/// Registered signal streams, not yet acted on.
///
/// Register as early as possible: from then on the signals no longer kill the process with their
/// default action, they wait here until [`Signals::spawn`] handles them.
#[derive(Debug)]
pub struct Signals {
    hangup: Signal,
    interrupt: Signal,
    terminate: Signal,
    quit: Signal,
}

impl Signals {
    /// Registers SIGHUP, SIGINT, SIGTERM and SIGQUIT. Needs a tokio runtime.
    pub fn register() -> io::Result<Self> {
        Ok(Signals {
            hangup: signal(SignalKind::hangup())?,
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// Handles signals until `shutdown` is cancelled: SIGINT/SIGTERM/SIGQUIT cancel it; SIGHUP sends
    /// [`Command::Reload`] to `reload`, or — without one (the TUI, whose terminal just hung up) —
    /// cancels it too.
    pub fn spawn(
        mut self,
        reload: Option<mpsc::Sender<Command>>,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    Some(()) = self.interrupt.recv() => {
                        tracing::info!("SIGINT: shutting down");
                        shutdown.cancel();
                        break;
                    }
                    Some(()) = self.terminate.recv() => {
                        tracing::info!("SIGTERM: shutting down");
                        shutdown.cancel();
                        break;
                    }
                    Some(()) = self.quit.recv() => {
                        tracing::info!("SIGQUIT: shutting down");
                        shutdown.cancel();
                        break;
                    }
                    Some(()) = self.hangup.recv() => match &reload {
                        Some(commands) => match commands.try_send(Command::Reload) {
                            Ok(()) => tracing::info!("SIGHUP: reloading the config"),
                            // The queue is full of work the engine has not taken yet; this
                            // SIGHUP is dropped, but the periodic reload reads the files anyway.
                            Err(TrySendError::Full(_)) => {
                                tracing::warn!("SIGHUP: the engine is busy; this reload was dropped")
                            }
                            Err(TrySendError::Closed(_)) => break,
                        },
                        None => {
                            tracing::info!("SIGHUP: shutting down");
                            shutdown.cancel();
                            break;
                        }
                    },
                }
            }
        })
    }
}
