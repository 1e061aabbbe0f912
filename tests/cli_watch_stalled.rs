//! `rotascope watch` whose reader stopped reading: stdout fills up and every write blocks, yet
//! SIGTERM still ends the process, with status 0, within a bounded time.
//!
//! No server is needed: nodes on closed loopback ports fail fast (`refused`), and `--probes`
//! prints a line for each, so the pipe fills in a second or two.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes waiting in the pipe behind `fd` (FIONREAD).
fn pending(fd: i32) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer we pass.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD failed");
    usize::try_from(n).unwrap_or(0)
}

#[test]
fn sigterm_ends_watch_even_when_nobody_reads_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<String> = (0..60)
        .map(|i| format!("\"postgres://127.0.0.1:{}/app\"", 40_001 + i))
        .collect();
    let config = dir.path().join("rotascope.toml");
    std::fs::write(
        &config,
        format!(
            "islands = [[{}]]\n[[secrets]]\nlogin = \"app\"\npassword = \"stalled-reader-pw-4Tz\"\n\
             [probe]\ninterval = \"100ms\"\naudit_interval = \"100ms\"\n",
            nodes.join(", ")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(["watch", "--probes", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let fd = stdout.as_raw_fd();

    // Wait (on a condition, with a deadline) until the pipe is full: Linux pipes hold 64 KiB,
    // and once less room is left than the next line needs, the level stops moving while the
    // engine keeps probing every 100 ms. Full = above 56 KiB and still for half a second.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut level, mut since) = (0, Instant::now());
    loop {
        let now = pending(fd);
        if now != level {
            (level, since) = (now, Instant::now());
        } else if level > 56 * 1024 && since.elapsed() > Duration::from_millis(500) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pipe never filled ({now} bytes)"
        );
        std::thread::park_timeout(Duration::from_millis(10));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "watch ended on its own"
    );

    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let asked = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if asked.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("watch did not end within 20 s of SIGTERM with a stalled reader");
        }
        std::thread::park_timeout(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    // What it printed before is intact NDJSON (read what is left in the pipe).
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let first = rest.lines().next().unwrap_or_default();
    assert!(first.starts_with('{'), "{first}");
    assert!(!rest.contains("stalled-reader-pw-4Tz"));
}
