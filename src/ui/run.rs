//! The event loop: draws the latest snapshot, turns keys into actions, actions into view changes
//! and engine commands. Generic over the ratatui backend and the input stream, so tests drive it
//! with `TestBackend` and scripted keys (crossterm's `EventStream` panics without a terminal).

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Offset, Utc};
use crossterm::event::{Event as TermEvent, EventStream};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::time::{interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::keymap::{action_for, Action};
use super::render::{self, nodes};
use super::terminal::TerminalGuard;
use super::theme::Theme;
use super::update::{describe, update};
use super::view::{NoticeKind, ViewState};
use crate::clock::SharedClock;
use crate::engine::snapshot::Snapshot;
use crate::engine::{Command, EngineHandle};

/// Why the dashboard stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Standard output is not a terminal (a pipe, a file, cron).
    #[error(
        "stdout is not a terminal, and the dashboard needs one; for scripts, pipes and cron use \
         `rotascope check` (one pass, table or JSON, exit code) or `rotascope watch` (events as \
         NDJSON)"
    )]
    NotATerminal,
    /// Setting up or restoring the terminal failed.
    #[error("terminal setup failed: {0}")]
    Terminal(#[source] io::Error),
    /// Reading keys failed.
    #[error("reading the keyboard failed: {0}")]
    Input(#[source] io::Error),
    /// Drawing failed.
    #[error("drawing failed: {0}")]
    Draw(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A panic elsewhere (the engine) took the terminal back; the message was printed above.
    #[error("the engine crashed (see the panic message above); the dashboard stopped")]
    Crashed,
}

/// Display settings and pacing of the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Colours or not.
    pub theme: Theme,
    /// The zone wall-clock times are shown in.
    pub tz: FixedOffset,
    /// How often relative times are redrawn when nothing else happens.
    pub tick: Duration,
}

impl Options {
    /// What a person at a terminal expects: `NO_COLOR` honoured, local time, a 1 s tick.
    pub fn from_env(now: DateTime<Utc>) -> Options {
        Options {
            theme: Theme::from_env(),
            tz: now.with_timezone(&chrono::Local).offset().fix(),
            tick: Duration::from_secs(1),
        }
    }

    /// For tests: the given theme, UTC, a 1 s tick.
    pub fn utc(theme: Theme) -> Options {
        Options {
            theme,
            tz: FixedOffset::east_opt(0).expect("zero offset"),
            tick: Duration::from_secs(1),
        }
    }
}

/// Runs the dashboard until `q`/`Ctrl-C`, the end of `input`, or `shutdown`.
///
/// Redraws when a snapshot arrives, on input, and once per `options.tick` (relative times age);
/// otherwise it sleeps. Commands go to the engine with `try_send`, so a busy engine never freezes
/// the screen (the footer says the command was not queued). When the engine stops, the last
/// snapshot stays on screen.
pub async fn run<B, S>(
    terminal: &mut Terminal<B>,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<Command>,
    clock: SharedClock,
    mut input: S,
    shutdown: CancellationToken,
    options: Options,
) -> Result<(), UiError>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let mut view = ViewState::new(options.theme, options.tz);
    // The snapshot frozen by `space`; the engine's newer ones are read and dropped meanwhile.
    let mut frozen: Option<Arc<Snapshot>> = None;
    let mut ticker = interval(options.tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is immediate; a tick should mean "time passed".
    ticker.tick().await;
    let mut engine_alive = true;
    loop {
        let latest = snapshots.borrow_and_update().clone();
        if !view.paused {
            frozen = None;
        }
        let shown = frozen.clone().unwrap_or(latest);
        draw(terminal, &shown, &mut view, clock.now())?;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            event = input.next() => match event {
                None => return Ok(()),
                Some(Err(e)) => return Err(UiError::Input(e)),
                Some(Ok(TermEvent::Key(key))) => {
                    let Some(action) = action_for(&key, view.context()) else { continue };
                    if action == Action::Quit {
                        return Ok(());
                    }
                    if let Some(command) = update(&mut view, action, &shown) {
                        send(&commands, command, &mut view);
                    }
                    if view.paused && frozen.is_none() {
                        frozen = Some(shown);
                    }
                }
                // Resize, focus, paste: the redraw at the top of the loop is all they need.
                Some(Ok(_)) => {}
            },
            changed = snapshots.changed(), if engine_alive => {
                if changed.is_err() {
                    if crate::ui::terminal::panicked() {
                        return Err(UiError::Crashed);
                    }
                    engine_alive = false;
                    view.notify("the engine stopped; showing its last snapshot", NoticeKind::Warn);
                }
            }
            _ = ticker.tick() => {
                update(&mut view, Action::Tick, &shown);
            }
        }
    }
}

fn draw<B>(
    terminal: &mut Terminal<B>,
    snapshot: &Snapshot,
    view: &mut ViewState,
    now: DateTime<Utc>,
) -> Result<(), UiError>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let boxed = |e: B::Error| UiError::Draw(Box::new(e));
    let size = terminal.size().map_err(boxed)?;
    let area = Rect::new(0, 0, size.width, size.height);
    if let Some(areas) = render::layout(area, snapshot, view, now) {
        view.page = nodes::page_rows(areas.nodes.height);
    }
    terminal
        .draw(|frame| render::render(frame, snapshot, view, now))
        .map_err(boxed)?;
    Ok(())
}

fn send(commands: &mpsc::Sender<Command>, command: Command, view: &mut ViewState) {
    let what = describe(&command);
    match commands.try_send(command) {
        Ok(()) => view.notify(what, NoticeKind::Info),
        Err(TrySendError::Full(_)) => {
            view.notify(format!("engine busy, not queued: {what}"), NoticeKind::Warn)
        }
        Err(TrySendError::Closed(_)) => {
            view.notify("the engine stopped; nothing was sent", NoticeKind::Warn)
        }
    }
}

/// Fails with [`UiError::NotATerminal`] when stdout is not a terminal, so that a command can
/// refuse before it starts probing anything.
pub fn ensure_terminal() -> Result<(), UiError> {
    if io::stdout().is_terminal() {
        Ok(())
    } else {
        Err(UiError::NotATerminal)
    }
}

/// Runs the dashboard on the real terminal for a running engine.
///
/// Refuses when stdout is not a terminal ([`UiError::NotATerminal`] points to `check` and
/// `watch`; callers should ask [`ensure_terminal`] before starting the engine). Cancelling
/// `shutdown` (the CLI does on SIGTERM, SIGINT and SIGHUP) ends the loop; the terminal is restored
/// on every way out, a panic included.
pub async fn run_terminal(
    engine: &EngineHandle,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> Result<(), UiError> {
    ensure_terminal()?;
    let options = Options::from_env(clock.now());
    let result = match TerminalGuard::enter() {
        Ok(mut guard) => {
            let result = run(
                guard.terminal(),
                engine.snapshots.clone(),
                engine.commands.clone(),
                clock,
                EventStream::new(),
                shutdown,
                options,
            )
            .await;
            drop(guard);
            result
        }
        Err(e) => Err(UiError::Terminal(e)),
    };
    result
}
