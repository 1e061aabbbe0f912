//! The `rotascope` binary as a child process that a test reads line by line, each expected line
//! with its own deadline, and signals.

#![allow(dead_code)] // each test crate uses its own part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A named line predicate for [`Rotascope::expect_all`].
pub type Want<'a> = (&'a str, Box<dyn Fn(&str) -> bool>);

/// A running `rotascope`, its stdout split into lines as they come.
pub struct Rotascope {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every stdout line read so far, in order.
    pub seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stdout_done: bool,
}

impl Rotascope {
    /// Starts `rotascope ARGS` in `cwd` with stdin closed, no `RUST_LOG`, and the default config
    /// locations pointing into `cwd`.
    pub fn spawn(args: &[&str], cwd: &Path) -> Self {
        Self::spawn_with(args, cwd, &[])
    }

    /// [`Rotascope::spawn`] with extra environment variables.
    pub fn spawn_with(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Self {
        Self::start(args, cwd, env, false)
    }

    /// [`Rotascope::spawn`] with stdin open for [`Rotascope::send`].
    pub fn spawn_interactive(args: &[&str], cwd: &Path) -> Self {
        Self::start(args, cwd, &[], true)
    }

    fn start(args: &[&str], cwd: &Path, env: &[(&str, &str)], interactive: bool) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rotascope"));
        cmd.args(args)
            .current_dir(cwd)
            .env("XDG_CONFIG_HOME", cwd.join("xdg"))
            .env_remove("RUST_LOG")
            .stdin(if interactive {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start rotascope");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Rotascope {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr,
            stdout_done: false,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Reads lines until one satisfies `want`, and returns it; panics (showing what was read)
    /// when `within` passes first or stdout ends.
    pub fn expect(&mut self, what: &str, within: Duration, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(e) => {
                    let why = match e {
                        RecvTimeoutError::Timeout => format!("not within {within:?}"),
                        RecvTimeoutError::Disconnected => "stdout ended".to_owned(),
                    };
                    panic!(
                        "expected {what}: {why}\n--- stdout:\n{}\n--- stderr:\n{}",
                        self.seen.join("\n"),
                        self.stderr()
                    );
                }
            }
        }
    }

    /// Reads lines until each of `wanted` (a name and a predicate) was satisfied by some line,
    /// in any order; panics after `within` naming those still missing.
    pub fn expect_all(&mut self, within: Duration, wanted: Vec<Want<'_>>) {
        let deadline = Instant::now() + within;
        let mut missing = wanted;
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let names: Vec<&str> = missing.iter().map(|(name, _)| *name).collect();
            let line = self.expect(&names.join(", "), left, |_| true);
            missing.retain(|(_, want)| !want(&line));
        }
    }

    /// Writes `line` and a newline to stdin (see [`Rotascope::spawn_interactive`]).
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("spawned interactive");
        writeln!(stdin, "{line}").expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits");
        // SAFETY: kill only sends a signal to our own child.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal})");
    }

    /// Waits for the exit (panics after `within`), then reads the rest of stdout.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "rotascope did not exit within {within:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                self.seen.join("\n"),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        self.drain();
        status
    }

    /// Reads what is left of stdout after the exit (the pipe closes with the process).
    fn drain(&mut self) {
        if self.stdout_done {
            return;
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        self.stdout_done = true;
    }
}

impl Drop for Rotascope {
    fn drop(&mut self) {
        // A failed test must not leave the process (and a lab's servers) behind: SIGTERM lets
        // a lab clean up; SIGKILL if it does not go.
        if let Ok(None) = self.child.try_wait() {
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: as in `signal`.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Panics if `text` holds any of `secrets`, naming which (not showing the text around it).
pub fn assert_no_secret<'a>(what: &str, text: &str, secrets: impl IntoIterator<Item = &'a String>) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} shows a password ({} characters long)",
            secret.len()
        );
    }
}

/// A lab master (with database `app`, logins `app_a` and `app_b`) and, when asked, its streaming
/// replica, in a runtime kept alive with them (the lab's calls are async; tests read the child
/// process synchronously).
pub struct TwoLogins {
    /// Runs the lab's calls (`runtime.block_on(master.set_password(..))`).
    pub runtime: tokio::runtime::Runtime,
    /// The master.
    pub master: rotascope::lab::Server,
    /// The replica, when started.
    pub replica: Option<rotascope::lab::Server>,
    /// The lab (its servers go with it).
    pub lab: rotascope::lab::Lab,
}

impl TwoLogins {
    /// Starts the master with `app_a`/`pw_a` and `app_b`/`pw_b`, and a replica if `replica`.
    pub fn start(pw_a: &str, pw_b: &str, replica: bool) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (lab, master, replica) = runtime.block_on(async {
            let lab = rotascope::lab::Lab::new().unwrap();
            let master = lab.start_server(Default::default()).await.unwrap();
            master.create_database("app").await.unwrap();
            master.create_role("app_a", pw_a).await.unwrap();
            master.create_role("app_b", pw_b).await.unwrap();
            let replica = match replica {
                true => Some(master.start_replica().await.unwrap()),
                false => None,
            };
            (lab, master, replica)
        });
        TwoLogins {
            runtime,
            master,
            replica,
            lab,
        }
    }

    /// The replica (panics when none was started).
    pub fn replica(&self) -> &rotascope::lab::Server {
        self.replica.as_ref().expect("started with a replica")
    }

    /// `passwords` and the lab superuser's: what no output may show.
    pub fn secrets(&self, passwords: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = passwords.iter().map(|p| p.to_string()).collect();
        all.push(self.lab.superuser_password().expose().to_owned());
        all
    }
}
