//! The `pgbouncer` process: started in the foreground as a child of ours (as the server user
//! when we are root: PgBouncer refuses to run as root), in its own process group so a terminal's
//! Ctrl-C reaches us and not it, and stopped by us on every way out.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::super::exec::prepare_std;
use super::super::{os, LabError, LabShared};

/// How long a stop waits after SIGTERM before SIGKILL.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// Starts `bin ini` (not yet listening: see [`wait_listening`]).
///
/// The child also gets SIGTERM should this process die without stopping it (a SIGKILL): Linux's
/// parent-death signal, which follows the *thread* that spawned it, so it is only ever spawned
/// from a runtime thread, never from a blocking pool thread that may end when idle.
pub fn spawn(lab: &LabShared, bin: &Path, ini: &Path) -> Result<Child, LabError> {
    let mut cmd = Command::new(bin);
    cmd.arg(ini);
    prepare_std(lab, &mut cmd);
    // Its log goes to its logfile; nothing reads these pipes.
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of ours; it runs in the child
    // after the user switch (which would otherwise clear the setting again).
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|source| LabError::Io {
        what: format!("starting {}", bin.display()),
        source,
    })
}

/// Why a start did not end with a listener.
pub enum NotListening {
    /// The process exited; `port_taken` when its log says the port was in use.
    Exited {
        /// The error to report.
        error: LabError,
        /// True when another start on another port may work.
        port_taken: bool,
    },
    /// Still running, still not listening.
    Timeout(LabError),
}

/// Waits until `port` accepts a TCP connection while `child` runs.
pub async fn wait_listening(
    child: &mut Child,
    port: u16,
    log: &Path,
    within: Duration,
) -> Result<(), NotListening> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let port_taken = text.contains("Address already in use");
            return Err(NotListening::Exited {
                error: LabError::Command {
                    what: "starting pgbouncer".into(),
                    status: status.to_string(),
                    output: super::super::server::tail(text.trim(), 15),
                },
                port_taken,
            });
        }
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), connect).await {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(NotListening::Timeout(LabError::Timeout(format!(
                "pgbouncer not listening on port {port} after {within:?}"
            ))));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM (PgBouncer's immediate shutdown), SIGKILL if it is still there after
/// [`STOP_WITHIN`]; then reaps it. Blocking, for `Drop`.
pub fn stop(mut child: Child) {
    if let Ok(None) = child.try_wait() {
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let gone = os::wait_gone(&[child.id()], STOP_WITHIN);
        if !gone {
            let _ = child.kill();
        }
    }
    let _ = child.wait();
}

/// SIGKILL and reap: a crash.
pub fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}
