//! The terminal guard: raw mode and the alternate screen while the dashboard runs, and the
//! terminal given back on every way out — normal return, error, panic (a hook restores it before
//! the panic message prints, so the message is readable) and signals (the loop ends on shutdown and
//! the guard drops).
//!
//! Job control too: on Ctrl-Z (a key in raw mode) or SIGTSTP the dashboard gives the terminal
//! back and stops ([`suspend`]); once continued (`fg`, SIGCONT) it takes the terminal again
//! ([`retake`]) and redraws everything.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// True while a guard holds the terminal; the panic hook restores only then.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Set by the panic hook: some thread panicked while the terminal was held.
static PANICKED: AtomicBool = AtomicBool::new(false);
/// Whether the terminal is asked for mouse events (set before [`TerminalGuard::enter`]).
static MOUSE: AtomicBool = AtomicBool::new(false);

/// Asks for mouse events (wheel, clicks) from the next [`TerminalGuard::enter`] on; the terminal
/// gives them back on restore, so its own text selection works again after the dashboard.
pub fn capture_mouse(on: bool) {
    MOUSE.store(on, Ordering::SeqCst);
}

fn mouse_on() -> io::Result<()> {
    if MOUSE.load(Ordering::SeqCst) {
        execute!(io::stdout(), crossterm::event::EnableMouseCapture)?;
    }
    Ok(())
}
static HOOK: Once = Once::new();

/// Holds the terminal in raw mode on the alternate screen; restores it when dropped.
pub struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, hides the cursor, and makes sure a panic from now
    /// on restores the terminal first. On failure the terminal is left as it was.
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = execute!(io::stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| mouse_on())
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match setup {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                let _ = restore();
                Err(e)
            }
        }
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut Terminal<CrosstermBackend<Stdout>> {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// Leaves the alternate screen, shows the cursor and turns raw mode off. Harmless when the
/// terminal is already restored, so the panic hook and the guard may both call it.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(io::stdout(), crossterm::event::DisableMouseCapture);
    }
    let screen = execute!(io::stdout(), LeaveAlternateScreen, Show);
    let raw = disable_raw_mode();
    screen.and(raw)
}

/// Gives the terminal back, stops the process as the shell expects of Ctrl-Z, and once the
/// process is continued (`fg`, `bg`, SIGCONT) takes the terminal again. The caller redraws the
/// whole screen afterwards (the shell drew over it).
///
/// The process stops itself with SIGSTOP, which cannot be caught: SIGTSTP has the engine's
/// handler, and a handler cannot be set back to the default one under tokio.
pub fn suspend() -> io::Result<()> {
    restore()?;
    // SAFETY: raise only sends a signal to this process; it returns once we are continued.
    if unsafe { libc::raise(libc::SIGSTOP) } != 0 {
        return Err(io::Error::last_os_error());
    }
    retake()
}

/// Takes the terminal again after the process was continued: raw mode, alternate screen, hidden
/// cursor. The shell may have put the terminal back in cooked mode while we were stopped (keys
/// would then wait for Enter) while crossterm still believes raw mode is on, so when the terminal
/// is found cooked, raw mode is turned off and on again to apply it for certain. Harmless when
/// nothing was lost (a SIGCONT after our own suspension finds the terminal raw already).
pub fn retake() -> io::Result<()> {
    if !input_is_raw() {
        let _ = disable_raw_mode();
    }
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(io::stdout(), EnterAlternateScreen, Hide)?;
    mouse_on()
}

/// True when the terminal crossterm reads keys from (stdin) is in raw mode: no line editing, no
/// echo. Unknown (stdin not a terminal: crossterm then uses /dev/tty) counts as not raw.
fn input_is_raw() -> bool {
    // SAFETY: an all-zero termios is a valid value of this plain C struct.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr only fills the struct it is given, for this fd.
    if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut t) } != 0 {
        return false;
    }
    t.c_lflag & (libc::ICANON | libc::ECHO) == 0
}

/// Chains a hook in front of the current one (once per process): restore, then report as usual.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) {
                PANICKED.store(true, Ordering::SeqCst);
            }
            let _ = restore();
            previous(info);
        }));
    });
}

/// True once a panic (on any thread: the engine's too) took the terminal back from a guard. The
/// dashboard must then stop drawing: the screen is no longer ours.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}
