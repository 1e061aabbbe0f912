//! `rotascope lab --pooler pgbouncer --no-tui` as a newcomer runs it: it starts the servers and a
//! real PgBouncer, writes a config listing each master by both paths, `check` and `config check`
//! show the paths, and SIGINT leaves no process of the lab behind.

mod cli_lab_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cli_lab_support::{assert_no_secret, Rotascope};
use rotascope::lab::driver::process_alive as alive;

/// Starting servers and a pooler on a shared machine can take a while.
const START_WITHIN: Duration = Duration::from_secs(120);
const WITHIN: Duration = Duration::from_secs(30);

/// Every live process but `except` whose command line names `dir` (postmasters
/// `-D dir/pgN/data`, PgBouncer `dir/bouncerN/pgbouncer.ini`).
fn lab_processes(dir: &Path, except: u32) -> Vec<(u32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if pid != except && cmdline.contains(&needle) && alive(pid) {
            found.push((pid, cmdline));
        }
    }
    found
}

fn rotascope(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// The passwords the lab's config lists.
fn passwords(config: &Path) -> Vec<String> {
    std::fs::read_to_string(config)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("password = \""))
        .map(|l| l.trim_end_matches('"').to_owned())
        .collect()
}

#[test]
fn a_headless_lab_with_pgbouncer_shows_both_paths_and_leaves_no_process_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let mut lab = Rotascope::spawn_interactive(
        &[
            "lab",
            "--no-tui",
            "--dir",
            dir.to_str().unwrap(),
            "--islands",
            "1",
            "--pooler",
            "pgbouncer",
            "--pool-mode",
            "transaction",
            "--rotate-every",
            "1h",
        ],
        tmp.path(),
    );
    let line = lab.expect("the config path", START_WITHIN, |l| {
        l.starts_with("config: ")
    });
    let config = PathBuf::from(line.trim_start_matches("config: "));
    lab.expect("the pooler in the intro", WITHIN, |l| {
        l.starts_with("pgbouncer in front of each master (transaction pooling")
    });
    lab.expect("the pooler's status", WITHIN, |l| {
        l.starts_with("0 pgbouncer 127.0.0.1:") && l.ends_with("running, in front of 0.0")
    });
    let dir = dir.canonicalize().unwrap();
    let running = lab_processes(&dir, lab.pid());
    let poolers = running
        .iter()
        .filter(|(_, c)| c.contains("pgbouncer.ini"))
        .count();
    assert_eq!(poolers, 1, "{running:?}");
    assert!(
        running.len() >= 3,
        "2 postmasters and a pooler: {running:?}"
    );
    // The passwords are in the config (the owner's only), and nowhere else.
    let secrets = passwords(&config);
    assert_eq!(secrets.len(), 6, "master: 2 secrets × 2 paths; replica: 2");
    assert!(!dir.join("secrets.json").exists());

    // `check`: the master by both paths, each candidate's route seen.
    let out = rotascope(
        &[
            "check",
            "--format",
            "json",
            "--config",
            config.to_str().unwrap(),
        ],
        tmp.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_no_secret("check", &text, &secrets);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let master = &v["islands"][0]["nodes"][0];
    let routes: Vec<(&str, &str)> = master["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["via"].as_str().unwrap(), c["route"].as_str().unwrap()))
        .collect();
    assert_eq!(
        routes,
        [
            ("direct", "direct"),
            ("direct", "direct"),
            ("pgbouncer", "pgbouncer"),
            ("pgbouncer", "pgbouncer")
        ]
    );
    // `config check`: the paths as the config says them.
    let out = rotascope(
        &["config", "check", "--config", config.to_str().unwrap()],
        tmp.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_no_secret("config check", &text, &secrets);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("  direct"), "{text}");
    assert!(
        text.contains("  via pgbouncer postgres://127.0.0.1:"),
        "{text}"
    );

    // Ctrl-C: everything the lab started goes.
    lab.signal(libc::SIGINT);
    let status = lab.wait(WITHIN);
    assert_eq!(status.code(), Some(0), "{}", lab.stderr());
    let left = lab_processes(&dir, lab.pid());
    assert!(left.is_empty(), "left running: {left:?}");
    for (pid, _) in &running {
        assert!(!alive(*pid), "{pid} survived the lab");
    }
    assert!(
        !dir.join("bouncer1").exists(),
        "the pooler's directory goes"
    );
    assert_no_secret("stdout", &lab.seen.join("\n"), &secrets);
    assert_no_secret("stderr", &lab.stderr(), &secrets);
}

/// Even a SIGKILL of rotascope, which runs no cleanup at all, takes the pooler along (Linux's
/// parent-death signal). The servers, started by pg_ctl as daemons, are the test's to clean up.
#[test]
fn a_killed_lab_takes_its_pooler_along() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let mut lab = Rotascope::spawn(
        &[
            "lab",
            "--no-tui",
            "--dir",
            dir.to_str().unwrap(),
            "--islands",
            "1",
            "--replicas",
            "0",
            "--pooler",
            "pgbouncer",
        ],
        tmp.path(),
    );
    lab.expect("the config path", START_WITHIN, |l| {
        l.starts_with("config: ")
    });
    let dir = dir.canonicalize().unwrap();
    let before = lab_processes(&dir, lab.pid());
    let pooler: Vec<u32> = before
        .iter()
        .filter(|(_, c)| c.contains("pgbouncer.ini"))
        .map(|(pid, _)| *pid)
        .collect();
    assert_eq!(pooler.len(), 1, "{before:?}");

    lab.signal(libc::SIGKILL);
    lab.wait(WITHIN);
    let deadline = std::time::Instant::now() + WITHIN;
    while alive(pooler[0]) {
        assert!(
            std::time::Instant::now() < deadline,
            "the pooler outlived a killed lab"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for (pid, _) in lab_processes(&dir, lab.pid()) {
        // SAFETY: kill only signals the postmasters this test's lab started.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
}
