//! `rotascope lab --no-tui` as a newcomer runs it: it starts a real cluster, prints the config
//! path, `check` works against it, passwords rotate, and SIGINT leaves no server running and no
//! password printed.

mod cli_lab_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cli_lab_support::{assert_no_secret, Rotascope};
use rotascope::lab::driver::process_alive as alive;

/// Starting 2 islands × (master + replica) on a shared machine can take a while.
const START_WITHIN: Duration = Duration::from_secs(120);
const WITHIN: Duration = Duration::from_secs(30);

/// Every `postmaster.pid` under `dir` (the lab's servers are `dir/pgN/data`).
fn postmaster_pids(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return pids;
    };
    for server in entries.flatten() {
        let pid_file = server.path().join("data").join("postmaster.pid");
        if let Ok(text) = std::fs::read_to_string(pid_file) {
            if let Some(pid) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// The passwords a secrets file lists now.
fn passwords(secrets: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(secrets).unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["password"].as_str().unwrap().to_owned())
        .collect()
}

/// A `status` line for `node` (`[HH:MM:SS ]0.1 127.0.0.1:PORT state`): its address and state.
fn status(line: &str, node: &str) -> Option<(String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words[..] {
        [.., n, address, state] if n == node && address.starts_with("127.0.0.1:") => {
            Some((address.to_owned(), state.to_owned()))
        }
        _ => None,
    }
}

fn check(config: &Path, cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(["check", "--config", config.to_str().unwrap()])
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// A lab being started: its temp dir, `--dir`, and the process.
struct Started {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    lab: Rotascope,
}

/// Starts `rotascope lab --no-tui --dir <tmp>/lab ARGS` (stdin open for commands).
fn start_lab(args: &[&str]) -> Started {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let mut all = vec!["lab", "--no-tui", "--dir", dir.to_str().unwrap()];
    all.extend(args);
    let lab = Rotascope::spawn_interactive(&all, tmp.path());
    Started { tmp, dir, lab }
}

/// Waits for the `config: PATH` line; every server is up by then.
fn config_path(lab: &mut Rotascope) -> PathBuf {
    let line = lab.expect("the config path", START_WITHIN, |l| {
        l.starts_with("config: ")
    });
    PathBuf::from(line.trim_start_matches("config: "))
}

#[test]
fn a_headless_lab_rotates_and_leaves_no_server_behind() {
    let Started { tmp, dir, mut lab } = start_lab(&["--rotate-every", "2s", "--config-lag", "1s"]);

    // It says where the config is, and every server is up by then.
    let config = config_path(&mut lab);
    assert_eq!(config, dir.canonicalize().unwrap().join("rotascope.toml"));
    // The way to watch it names this very binary (issue 11, bug 5: no `rotascope` on PATH).
    let exe = Path::new(env!("CARGO_BIN_EXE_rotascope"))
        .canonicalize()
        .unwrap();
    lab.expect("how to watch it", WITHIN, |l| {
        l == format!(
            "watch it: {} --config {}   (in another terminal)",
            exe.display(),
            config.display()
        )
    });
    let secrets = dir.join("secrets.json");
    let pids = postmaster_pids(&dir);
    assert_eq!(pids.len(), 4, "2 islands × (master + replica): {pids:?}");
    assert!(pids.iter().all(|p| alive(*p)), "{pids:?}");
    let initial = std::fs::read_to_string(&secrets).unwrap();
    let mut seen_passwords = passwords(&secrets);

    // `check` against it: ok, or degraded inside a rotation window; never down or a config
    // error.
    let out = check(&config, tmp.path());
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "check exited {code:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("app_a"));

    // A rotation happens: the lab says so and the secrets file changes.
    lab.expect("a rotation in the database", WITHIN, |l| {
        l.contains("rotation 1: new password for app_b in the database")
    });
    let deadline = Instant::now() + WITHIN;
    while std::fs::read_to_string(&secrets).unwrap() == initial {
        assert!(Instant::now() < deadline, "secrets.json never changed");
        std::thread::sleep(Duration::from_millis(50));
    }
    seen_passwords.extend(passwords(&secrets));
    lab.expect("the secrets file follows", WITHIN, |l| {
        l.contains("rotation 1: secrets.json now lists app_b (current), app_a (previous)")
    });

    lab.signal(libc::SIGINT);
    let status = lab.wait(WITHIN);
    assert_eq!(status.code(), Some(0), "stderr: {}", lab.stderr());
    // It says what it stops before it stops them (issue 11, bug 4).
    let err = lab.stderr();
    let stopping = err.find("rotascope lab: stopping 4 servers…");
    let stopped = err.find("servers stopped and removed");
    assert!(stopping.is_some() && stopping < stopped, "{err}");

    // Every postmaster is gone, the servers' directories with them; the files stay (--dir).
    let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(postmaster_pids(&dir).is_empty());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["rotascope.toml", "secrets.json"]);

    seen_passwords.extend(passwords(&secrets));
    let stdout = lab.seen.join("\n");
    assert_no_secret("lab stdout", &stdout, &seen_passwords);
    assert_no_secret("lab stderr", &lab.stderr(), &seen_passwords);
    assert_no_secret(
        "check stdout",
        &String::from_utf8_lossy(&out.stdout),
        &seen_passwords,
    );
    assert_no_secret(
        "check stderr",
        &String::from_utf8_lossy(&out.stderr),
        &seen_passwords,
    );
}

#[test]
fn without_postgresql_binaries_it_says_how_to_install_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lab = Rotascope::spawn_with(
        &["lab", "--no-tui"],
        tmp.path(),
        &[("PG_BIN", "/nonexistent/rotascope-test/bin")],
    );
    let status = lab.wait(WITHIN);
    assert_eq!(status.code(), Some(3));
    let err = lab.stderr();
    assert!(err.contains("cannot start the lab"), "{err}");
    assert!(err.contains("apt-get install postgresql"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(lab.seen.is_empty(), "{:?}", lab.seen);
}

#[test]
fn options_that_cannot_work_are_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, says) in [
        (&["--config", "x.toml"][..], "writes its own config"),
        (
            &["--failover-every", "30s", "--replicas", "0"],
            "needs a replica",
        ),
    ] {
        let mut all = vec!["lab", "--no-tui", "--dir", "never-made"];
        all.extend(args);
        let mut lab = Rotascope::spawn(&all, tmp.path());
        assert_eq!(lab.wait(WITHIN).code(), Some(3), "{args:?}");
        assert!(lab.stderr().contains(says), "{args:?}: {}", lab.stderr());
        assert!(!tmp.path().join("never-made").exists());
    }
}

#[test]
fn the_dashboard_mode_refuses_a_pipe_before_starting_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let mut lab = Rotascope::spawn(&["lab", "--dir", dir.to_str().unwrap()], tmp.path());
    let status = lab.wait(WITHIN);
    assert_eq!(status.code(), Some(3));
    let err = lab.stderr();
    assert!(err.contains("--no-tui"), "{err}");
    assert!(!dir.exists(), "nothing is created");
}

#[test]
fn stdin_commands_fail_a_master_over_and_rotate_on_demand() {
    let Started { tmp, dir, mut lab } = start_lab(&["--islands", "1", "--rotate-every", "1h"]);
    let config = config_path(&mut lab);
    let first = lab.expect("the master's status", WITHIN, |l| {
        status(l, "0.0").is_some()
    });
    let (old_master, state) = status(&first, "0.0").unwrap();
    assert_eq!(state, "master");
    let replica = lab.expect("the replica's status", WITHIN, |l| {
        status(l, "0.1").is_some()
    });
    let (promoted, state) = status(&replica, "0.1").unwrap();
    assert_eq!(state, "replica");

    lab.send("reboot 0.0");
    lab.expect("an answer to a bad command", WITHIN, |l| {
        l.contains("unknown command `reboot 0.0`")
    });

    lab.send("failover 0");
    lab.expect("the master stopped", WITHIN, |l| {
        l.contains("failover of island 0: master 0.0 stopped")
    });
    lab.expect("the replica promoted", WITHIN, |l| {
        l.contains("failover of island 0: 0.1 promoted to master")
    });
    lab.expect("the stopped node replaced", WITHIN, |l| {
        l.contains("rotascope.toml rewritten")
    });
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains(&old_master), "{text}");
    assert!(text.contains(&promoted), "{text}");

    lab.send("status");
    let line = lab.expect("the new master", WITHIN, |l| status(l, "0.0").is_some());
    assert_eq!(status(&line, "0.0"), Some((promoted, "master".to_owned())));
    let line = lab.expect("the new replica", WITHIN, |l| status(l, "0.1").is_some());
    let (new_replica, state) = status(&line, "0.1").unwrap();
    assert_eq!(state, "replica");
    assert!(text.contains(&new_replica), "{text}");

    lab.send("rotate");
    lab.expect("a rotation on the new master", WITHIN, |l| {
        l.contains("rotation 1: new password for app_b in the database (island 0)")
    });
    // The rotated password works on the new replica too: it streams from the new master.
    let out = check(&config, tmp.path());
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let pids = postmaster_pids(&dir);
    assert_eq!(pids.len(), 2, "{pids:?}");

    // A rotation while the island has no master is owed, and paid when a master is back.
    lab.send("stop 0.0");
    lab.expect("0.0 stopped", WITHIN, |l| l.ends_with(" 0.0 stopped"));
    lab.send("rotate");
    lab.expect("the password owed", WITHIN, |l| {
        l.contains("rotation 2: island 0 has no master; app_a's new password is set there")
    });
    // Another one before it is paid: the lab does what a careless rotation tool does, and says
    // what that risks.
    lab.send("rotate");
    lab.expect("the warning", WITHIN, |l| {
        l.contains("rotation 3: island 0 still waits for an earlier new password")
    });
    lab.send("promote 0.1");
    lab.expect("0.1 promoted", WITHIN, |l| l.ends_with(" 0.1 promoted"));
    lab.expect("the password paid", WITHIN, |l| {
        l.contains("island 0 has a master again: app_a's new password is set")
    });

    lab.signal(libc::SIGTERM);
    assert_eq!(lab.wait(WITHIN).code(), Some(0), "{}", lab.stderr());
    assert!(pids.iter().all(|p| !alive(*p)), "{pids:?}");
    let secrets = passwords(&dir.join("secrets.json"));
    assert_no_secret("lab stdout", &lab.seen.join("\n"), &secrets);
    assert_no_secret("lab stderr", &lab.stderr(), &secrets);
}

/// Issue 11, bug 4: as root, a `--dir` the `postgres` user cannot enter (under a 0700
/// directory, like `~/lab` in root's home) is refused before anything starts, in one message
/// that names the directory and what to do: no doubled "Permission denied (os error 13)".
#[test]
fn a_dir_the_postgres_user_cannot_enter_is_refused_with_what_to_do() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root hands the servers to the postgres user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = home.join("lab");
    let mut lab = Rotascope::spawn(
        &["lab", "--no-tui", "--dir", dir.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(lab.wait(START_WITHIN).code(), Some(3));
    let err = lab.stderr();
    assert!(
        err.contains("`postgres` user") && err.contains("cannot enter"),
        "{err}"
    );
    assert!(
        err.contains(&format!("chmod o+x {}", home.display())),
        "{err}"
    );
    assert!(err.contains("--dir /tmp/rotascope-lab"), "{err}");
    assert!(!err.contains("Permission denied"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one message: {err}");
    assert!(postmaster_pids(&dir).is_empty());
}
