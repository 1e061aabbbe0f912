//! The dashboard on a real pseudo-terminal: the `rotascope` binary runs with a pty as its
//! controlling terminal, and the test plays the shell and the person at the keyboard (issue 14
//! item 11).
//!
//! - SIGQUIT quits like SIGTERM: the terminal is given back (raw mode off, alternate screen left,
//!   cursor shown) and the process exits 0, instead of dumping core with the terminal still raw.
//! - SIGTSTP, and Ctrl-Z (a key in raw mode), give the terminal back and stop the process; on
//!   SIGCONT it takes the terminal again (raw mode, alternate screen), redraws, and the very next
//!   key works (no Enter needed).
//!
//! What is checked is what a terminal sees: the pty's line discipline (raw means ICANON and ECHO
//! off) and the escape sequences written to it. The node is a closed port: no server is needed,
//! only a running dashboard. Nothing sleeps: the test waits for output, or for the process to
//! stop or end (`waitpid`), each under [`PATIENCE`].

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);
const ENTER_ALT: &str = "\x1b[?1049h";
const LEAVE_ALT: &str = "\x1b[?1049l";
const SHOW_CURSOR: &str = "\x1b[?25h";
/// On every full frame: the title of the nodes pane (re-sent only when the screen is redrawn
/// whole, since ratatui otherwise sends only the cells that changed).
const FRAME: &str = "islands & nodes";
/// The help overlay's title.
const HELP: &str = "keys · ? or Esc closes";

/// Everything the dashboard wrote, and a signal for each new chunk.
type Output = Arc<(Mutex<Vec<u8>>, Condvar)>;

/// How `waitpid` saw the process.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Exited(i32),
    Signalled(i32),
    Stopped(i32),
}

/// A `rotascope` dashboard on a pty of its own; killed and reaped on drop.
struct Dashboard {
    pid: libc::pid_t,
    master: File,
    /// Our own handle on the terminal's slave side, to read its modes.
    slave: File,
    output: Output,
    ended: bool,
    _dir: tempfile::TempDir,
}

impl Dashboard {
    fn start() -> Dashboard {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("rotascope.toml");
        // Port 1 on loopback refuses at once: the node is simply down.
        std::fs::write(
            &config,
            "[[island]]\nno = 0\n\n[[island.node]]\nname = \"db\"\n\
             url = \"postgres://127.0.0.1:1/app\"\nlogin = \"app\"\npassword = \"pty-Zq4k\"\n",
        )
        .expect("config");
        let (master, slave) = open_pty(100, 30);
        let tty = |f: &File| Stdio::from(f.try_clone().expect("dup pty"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_rotascope"));
        command
            .arg("--config")
            .arg(&config)
            .env("TERM", "xterm-256color")
            .stdin(tty(&slave))
            .stdout(tty(&slave))
            .stderr(tty(&slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // A session of its own with the pty as controlling terminal, as a shell gives.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Reaped with waitpid (`status`, or `drop`): std cannot report a stopped child.
        #[allow(clippy::zombie_processes)]
        let child = command.spawn().expect("start rotascope");
        let pid = libc::pid_t::try_from(child.id()).expect("pid");
        let output: Output = Arc::default();
        let mut reader = master.try_clone().expect("dup master");
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                let (lock, more) = &*sink;
                lock.lock().unwrap().extend_from_slice(&buf[..n]);
                more.notify_all();
            }
        });
        Dashboard {
            pid,
            master,
            slave,
            output,
            ended: false,
            _dir: dir,
        }
    }

    /// How much output there is so far (a mark to look for what comes after).
    fn mark(&self) -> usize {
        self.output.0.lock().unwrap().len()
    }

    /// Waits until `text` appears at or after byte `from`; returns the position after it.
    fn wait_for(&self, text: &str, from: usize) -> usize {
        let (lock, more) = &*self.output;
        let deadline = Instant::now() + PATIENCE;
        let mut out = lock.lock().unwrap();
        loop {
            let tail = out.get(from..).unwrap_or_default();
            if let Some(i) = find(tail, text.as_bytes()) {
                return from + i + text.len();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {text:?} in the output after byte {from}: {:?}",
                String::from_utf8_lossy(&out[from.min(out.len())..])
            );
            out = more.wait_timeout(out, left).unwrap().0;
        }
    }

    /// True when the terminal is in raw mode (no line editing, no echo).
    fn raw(&self) -> bool {
        // SAFETY: an all-zero termios is a valid value of this plain C struct.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr fills the struct it is given, for an open terminal fd.
        let rc = unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) };
        assert_eq!(rc, 0);
        t.c_lflag & (libc::ICANON | libc::ECHO) == 0
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: sends a signal to our own child.
        assert_eq!(unsafe { libc::kill(self.pid, sig) }, 0);
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.master.write_all(keys).expect("type");
    }

    /// Waits until the process stops or ends.
    fn status(&mut self) -> Status {
        let pid = self.pid;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut status = 0;
            // SAFETY: waits for our own child; WUNTRACED reports a stop without reaping.
            let got = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
            let _ = tx.send((got, status));
        });
        let (got, status) = rx
            .recv_timeout(PATIENCE)
            .expect("the dashboard neither stopped nor ended");
        assert_eq!(got, pid);
        if libc::WIFSTOPPED(status) {
            Status::Stopped(libc::WSTOPSIG(status))
        } else {
            self.ended = true;
            if libc::WIFSIGNALED(status) {
                Status::Signalled(libc::WTERMSIG(status))
            } else {
                Status::Exited(libc::WEXITSTATUS(status))
            }
        }
    }

    /// Waits for the first frame: the alternate screen entered, the header drawn.
    fn ready(&self) -> usize {
        let at = self.wait_for(ENTER_ALT, 0);
        self.wait_for(FRAME, at)
    }

    /// Asserts that the terminal was given back after `from`.
    fn assert_given_back(&self, from: usize) {
        self.wait_for(LEAVE_ALT, from);
        self.wait_for(SHOW_CURSOR, from);
        assert!(!self.raw(), "the terminal was left in raw mode");
    }

    /// After SIGCONT: the terminal taken again and the screen redrawn after `from`.
    fn assert_taken_back(&self, from: usize) -> usize {
        let at = self.wait_for(ENTER_ALT, from);
        let at = self.wait_for(FRAME, at);
        assert!(
            self.raw(),
            "raw mode was not restored: {:?}",
            String::from_utf8_lossy(&self.output.0.lock().unwrap()[from..])
        );
        at
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        if !self.ended {
            // SAFETY: our own child; SIGKILL ends it even when stopped.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// A new pty of `cols` × `rows`: (master, slave).
fn open_pty(cols: u16, rows: u16) -> (File, File) {
    // SAFETY: plain POSIX pty calls on fds we own; every result is checked.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        let master = File::from_raw_fd(master);
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "open the pty slave");
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert_eq!(libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size), 0);
        (master, File::from_raw_fd(slave))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn sigquit_gives_the_terminal_back_and_exits_cleanly() {
    let mut d = Dashboard::start();
    let drawn = d.ready();
    assert!(d.raw());

    d.signal(libc::SIGQUIT);
    assert_eq!(d.status(), Status::Exited(0));
    d.assert_given_back(drawn);
}

#[test]
fn sigtstp_suspends_and_sigcont_resumes_with_keys_working_at_once() {
    let mut d = Dashboard::start();
    let drawn = d.ready();

    // The shell's job control (or `kill -TSTP`) stops it: the terminal comes back first
    d.signal(libc::SIGTSTP);
    assert_eq!(d.status(), Status::Stopped(libc::SIGSTOP));
    d.assert_given_back(drawn);

    // `fg`: the dashboard takes the terminal again and redraws
    let stopped = d.mark();
    d.signal(libc::SIGCONT);
    let redrawn = d.assert_taken_back(stopped);

    // the next key works without Enter: `?` opens the help, `q` quits
    d.type_keys(b"?");
    d.wait_for(HELP, redrawn);
    let helped = d.mark();
    d.type_keys(b"q");
    assert_eq!(d.status(), Status::Exited(0));
    d.assert_given_back(helped);
}

#[test]
fn ctrl_z_in_the_dashboard_suspends_like_a_shell_job() {
    let mut d = Dashboard::start();
    let drawn = d.ready();

    // In raw mode the terminal sends no SIGTSTP: Ctrl-Z arrives as a key
    d.type_keys(b"\x1a");
    assert_eq!(d.status(), Status::Stopped(libc::SIGSTOP));
    d.assert_given_back(drawn);

    let stopped = d.mark();
    d.signal(libc::SIGCONT);
    d.assert_taken_back(stopped);
    d.type_keys(b"q");
    assert_eq!(d.status(), Status::Exited(0));
}
