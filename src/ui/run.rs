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

use super::keymap::{Action, Context, Keymap};
use super::render::{self, nodes, timeline};
use super::terminal::TerminalGuard;
use super::theme::{Palette, Theme};
use super::update::{describe, update};
use super::view::{LabClock, NoticeKind, ViewState};
use crate::clock::SharedClock;
use crate::config::{UiSettings, UiTheme};
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Colours or not.
    pub theme: Theme,
    /// The zone wall-clock times are shown in.
    pub tz: FixedOffset,
    /// How often relative times are redrawn when nothing else happens.
    pub tick: Duration,
    /// In `rotascope lab`: its rotation schedule, and the lab keys on.
    pub lab: Option<LabClock>,
    /// Mouse events act (wheel, clicks); off, the terminal keeps its own text selection.
    pub mouse: bool,
    /// The key table: the defaults with the config's `[ui.keys]`.
    pub keys: Keymap,
}

impl Options {
    /// What a person at a terminal expects with these `[ui]` settings: `NO_COLOR` honoured, the
    /// configured theme or the terminal's background (`COLORFGBG`), local time, a 1 s tick.
    pub fn from_env(now: DateTime<Utc>, ui: &UiSettings) -> Options {
        let palette = ui.theme.map(|t| match t {
            UiTheme::Dark => Palette::Dark,
            UiTheme::Light => Palette::Light,
            UiTheme::Mono => Palette::Mono,
        });
        Options {
            theme: Theme::choose(
                palette,
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("COLORFGBG").as_deref(),
            ),
            tz: now.with_timezone(&chrono::Local).offset().fix(),
            tick: Duration::from_secs(1),
            lab: None,
            mouse: ui.mouse,
            keys: ui.keys.clone(),
        }
    }

    /// For tests: the given theme, UTC, a 1 s tick, the default keys.
    pub fn utc(theme: Theme) -> Options {
        Options {
            theme,
            tz: FixedOffset::east_opt(0).expect("zero offset"),
            tick: Duration::from_secs(1),
            lab: None,
            mouse: true,
            keys: Keymap::default(),
        }
    }
}

/// A job-control signal the dashboard acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobSignal {
    /// SIGTSTP: suspend, as Ctrl-Z does.
    Suspend,
    /// SIGCONT: the process was continued; take the terminal again.
    Continued,
}

/// How the loop hands the terminal back and takes it again. On the real terminal
/// ([`TerminalJobs`]) suspending stops the process in between; tests record the calls.
pub trait JobControl {
    /// Gives the terminal back and stops the process; returns once the process is continued,
    /// the terminal taken again.
    fn suspend(&mut self) -> io::Result<()>;
    /// Takes the terminal again after the process was continued by someone else.
    fn resume(&mut self) -> io::Result<()>;
}

/// No job control: Ctrl-Z and job signals only redraw (a `TestBackend` has no process to stop).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoJobControl;

impl JobControl for NoJobControl {
    fn suspend(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn resume(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Job control of the real terminal ([`super::terminal::suspend`], [`super::terminal::retake`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminalJobs;

impl JobControl for TerminalJobs {
    fn suspend(&mut self) -> io::Result<()> {
        super::terminal::suspend()
    }

    fn resume(&mut self) -> io::Result<()> {
        super::terminal::retake()
    }
}

/// What the loop reads besides the engine: keys, job-control signals, and how to act on them.
pub struct Console<S, J, C> {
    /// Terminal events (keys, resizes).
    pub keys: S,
    /// SIGTSTP and SIGCONT as they arrive.
    pub signals: J,
    /// How to suspend and resume.
    pub jobs: C,
}

/// Runs the dashboard until `q`/`Ctrl-C`, the end of `input`, or `shutdown`, without job control
/// (see [`run_with`]).
pub async fn run<B, S>(
    terminal: &mut Terminal<B>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<Command>,
    clock: SharedClock,
    input: S,
    shutdown: CancellationToken,
    options: Options,
) -> Result<(), UiError>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let console = Console {
        keys: input,
        signals: futures::stream::pending(),
        jobs: NoJobControl,
    };
    run_with(
        terminal, snapshots, commands, clock, console, shutdown, options,
    )
    .await
}

/// Runs the dashboard until `q`/`Ctrl-C`, the end of the keys, or `shutdown`.
///
/// Redraws when a snapshot arrives, on input, and once per `options.tick` (relative times age);
/// otherwise it sleeps. Commands go to the engine with `try_send`, so a busy engine never freezes
/// the screen (the footer says the command was not queued). When the engine stops, the last
/// snapshot stays on screen. Ctrl-Z and SIGTSTP suspend through `console.jobs`; after that, and
/// after SIGCONT, the whole screen is redrawn.
pub async fn run_with<B, S, J, C>(
    terminal: &mut Terminal<B>,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<Command>,
    clock: SharedClock,
    console: Console<S, J, C>,
    shutdown: CancellationToken,
    options: Options,
) -> Result<(), UiError>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
    J: Stream<Item = JobSignal> + Unpin,
    C: JobControl,
{
    let Console {
        keys: mut input,
        mut signals,
        mut jobs,
    } = console;
    let mut view = ViewState::new(options.theme, options.tz);
    view.lab = options.lab;
    view.keys = options.keys;
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
        // Set when the terminal was given back and taken again: the screen must be redrawn whole.
        let mut job = None;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            event = input.next() => match event {
                None => return Ok(()),
                Some(Err(e)) => return Err(UiError::Input(e)),
                Some(Ok(TermEvent::Key(key))) => {
                    let lab_keys = view.lab.is_some() && view.context() == Context::Normal;
                    let Some(action) = view.keys.action_for(&key, view.context()).or_else(|| {
                        lab_keys
                            .then(|| view.keys.action_for(&key, Context::Lab))
                            .flatten()
                    })
                    else {
                        continue;
                    };
                    match action {
                        Action::Quit => return Ok(()),
                        Action::Suspend => job = Some(JobSignal::Suspend),
                        _ => {}
                    }
                    if let Some(command) = update(&mut view, action, &shown) {
                        send(&commands, command, &mut view);
                    }
                    if view.paused && frozen.is_none() {
                        frozen = Some(shown);
                    }
                }
                Some(Ok(TermEvent::Mouse(mouse))) if options.mouse => {
                    let size = terminal.size().map_err(|e| UiError::Draw(Box::new(e)))?;
                    let area = Rect::new(0, 0, size.width, size.height);
                    if let Some(areas) = render::layout(area, &shown, &view, clock.now()) {
                        super::mouse::on_mouse(&mut view, &mouse, &areas, &shown);
                    }
                }
                // Resize, focus, paste: the redraw at the top of the loop is all they need.
                Some(Ok(_)) => {}
            },
            Some(signal) = signals.next() => job = Some(signal),
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
        if let Some(signal) = job {
            match signal {
                JobSignal::Suspend => jobs.suspend(),
                JobSignal::Continued => jobs.resume(),
            }
            .map_err(UiError::Terminal)?;
            redraw_whole(terminal)?;
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
    // One table and one layout a frame: the page sizes below depend on neither, so the layout
    // made before setting them is the one drawn.
    let table = view.table(snapshot);
    let areas = render::layout_with(area, snapshot, view, &table, now);
    if let Some(areas) = areas {
        view.page = nodes::page_rows(areas.nodes.height);
        view.timeline_page = timeline::page_rows(areas.timeline.height);
        view.rotation_drawn = render::rotation::is_panel(areas.rotation);
    }
    // Only an open overlay is measured: its lines are built for nothing otherwise.
    view.help_hidden = if view.overlay == super::view::Overlay::Help {
        render::help::hidden_rows(area, view)
    } else {
        0
    };
    let view = &*view;
    terminal
        .draw(|frame| {
            // The terminal's size was read above; a resize in between is drawn by the next frame
            // (ratatui resizes its buffer to the same size it reported).
            let areas = if frame.area() == area {
                areas
            } else {
                render::layout_with(frame.area(), snapshot, view, &table, now)
            };
            render::render_with(frame, areas, snapshot, view, &table, now)
        })
        .map_err(boxed)?;
    Ok(())
}

/// Makes the next draw paint every cell: the screen is cleared and ratatui forgets what it showed.
/// (Not `Terminal::clear`: that asks the terminal where its cursor is, a round trip a terminal
/// just taken back may never answer.)
fn redraw_whole<B>(terminal: &mut Terminal<B>) -> Result<(), UiError>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let boxed = |e: B::Error| UiError::Draw(Box::new(e));
    let size = terminal.size().map_err(boxed)?;
    terminal
        .resize(Rect::new(0, 0, size.width, size.height))
        .map_err(boxed)
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

/// SIGTSTP and SIGCONT as a stream of [`JobSignal`]s.
fn job_signals() -> io::Result<impl Stream<Item = JobSignal> + Unpin> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    let stop = signal(SignalKind::from_raw(libc::SIGTSTP))?;
    let cont = signal(SignalKind::from_raw(libc::SIGCONT))?;
    let next = |(mut stop, mut cont): (Signal, Signal)| async move {
        let signal = tokio::select! {
            Some(()) = stop.recv() => JobSignal::Suspend,
            Some(()) = cont.recv() => JobSignal::Continued,
            else => return None,
        };
        Some((signal, (stop, cont)))
    };
    Ok(Box::pin(futures::stream::unfold((stop, cont), next)))
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
    ui: &UiSettings,
) -> Result<(), UiError> {
    let (snapshots, commands) = (engine.snapshots.clone(), engine.commands.clone());
    run_terminal_with(snapshots, commands, clock, shutdown, ui, None).await
}

/// [`run_terminal`] with the commands going to `commands` (the lab stands between the dashboard
/// and the engine to take its own) and, in the lab, its rotation schedule and keys.
pub async fn run_terminal_with(
    snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<Command>,
    clock: SharedClock,
    shutdown: CancellationToken,
    ui: &UiSettings,
    lab: Option<LabClock>,
) -> Result<(), UiError> {
    ensure_terminal()?;
    let options = Options {
        lab,
        ..Options::from_env(clock.now(), ui)
    };
    super::terminal::capture_mouse(options.mouse);
    // Registered before raw mode: from now on SIGTSTP suspends through the loop (the terminal
    // given back first) instead of stopping the process with the terminal still raw.
    let signals = job_signals().map_err(UiError::Terminal)?;
    let result = match TerminalGuard::enter() {
        Ok(mut guard) => {
            let console = Console {
                keys: EventStream::new(),
                signals,
                jobs: TerminalJobs,
            };
            let result = run_with(
                guard.terminal(),
                snapshots,
                commands,
                clock,
                console,
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
