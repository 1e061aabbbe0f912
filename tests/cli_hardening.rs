//! The `rotascope` binary under hostile input and the hygiene an operator expects: stuck and
//! endless sources are errors (exit 3), never a hang, an abort or a panic; SIGHUP still reloads
//! after a stuck source; foreign text reaches stderr escaped; output files are owner-only; core
//! dumps are off unless asked for.
//!
//! No PostgreSQL needed: nodes point at a closed port. Each expected line has its own deadline.

mod cli_lab_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cli_lab_support::Rotascope;
use serde_json::Value;

const WITHIN: Duration = Duration::from_secs(30);

fn rotascope(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rotascope"));
    cmd.args(args)
        .current_dir(cwd)
        .env("XDG_CONFIG_HOME", cwd.join("xdg"))
        .env_remove("RUST_LOG")
        .env_remove("ROTASCOPE_ALLOW_CORE_DUMPS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rotascope")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().expect("utf-8 path")).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// `config check` in `dir` (config `rotascope.toml`): exit 3 quickly, the error on stderr.
fn config_check_fails(dir: &Path) -> String {
    let started = Instant::now();
    let out = rotascope(&["config", "check", "--config", "rotascope.toml"], dir, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(started.elapsed() < WITHIN);
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn config_check_on_a_fifo_returns_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("rotascope.toml"));
    let e = config_check_fails(dir.path());
    assert!(e.contains("not a regular file (a FIFO)"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rotascope.toml",
        "islands = [[\"postgres://127.0.0.1:1/db\"]]\nsecrets_file = \"s.json\"\n",
    );
    mkfifo(&dir.path().join("s.json"));
    let e = config_check_fails(dir.path());
    assert!(e.contains("cannot read secrets file"), "{e}");
    assert!(e.contains("not a regular file (a FIFO)"), "{e}");
}

#[test]
fn endless_output_absurd_lengths_and_escapes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rotascope.toml",
        "islands = [[\"postgres://127.0.0.1:1/db\"]]\nsecrets_command = [\"yes\"]\n",
    );
    let e = config_check_fails(dir.path());
    assert!(e.contains("printed more than 4 MiB on stdout"), "{e}");

    let long = "x".repeat(65_536);
    write(
        dir.path(),
        "rotascope.toml",
        &format!(
            "islands = [[\"postgres://127.0.0.1:1/db\"]]\n[[secrets]]\nlogin = \"{long}\"\npassword = \"pw-1234\"\n"
        ),
    );
    let e = config_check_fails(dir.path());
    assert!(e.contains("a login of 65536 bytes"), "{e}");

    // A command's stderr that tries to retitle the terminal and clear the screen.
    write(
        dir.path(),
        "rotascope.toml",
        "islands = [[\"postgres://127.0.0.1:1/db\"]]\nsecrets_command = [\"sh\", \"fail.sh\"]\n",
    );
    write(
        dir.path(),
        "fail.sh",
        "printf 'denied \\033]0;pwned\\007\\033[2J end\\n' >&2\nexit 1\n",
    );
    let e = config_check_fails(dir.path());
    assert!(!e.contains('\u{1b}') && !e.contains('\u{7}'), "{e:?}");
    assert!(e.contains("denied \\x1b]0;pwned\\x07\\x1b[2J end"), "{e}");
}

#[test]
fn config_check_escapes_foreign_names_and_logins() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rotascope.toml",
        "islands = [[\"postgres://127.0.0.1:1/db\"]]\nsecrets_file = \"s.json\"\n",
    );
    write(
        dir.path(),
        "s.json",
        r#"[{"login": "app\u001b[2J", "password": "pw-escape-1", "label": "l\u202eabel"}]"#,
    );
    let out = rotascope(
        &["config", "check", "--config", "rotascope.toml"],
        dir.path(),
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{202e}'));
    assert!(stdout.contains("login app\\x1b[2J"), "{stdout}");
    assert!(stdout.contains("label l\\u{202e}abel"), "{stdout}");
}

/// A `watch` on a closed port with a `secrets_file`, no file watcher (SIGHUP reloads), and
/// `--record` / `--log-file` in `dir`.
fn start_watch(dir: &Path) -> Rotascope {
    write(
        dir,
        "rotascope.toml",
        "islands = [[\"postgres://127.0.0.1:1/db\"]]\nsecrets_file = \"s.json\"\n\
         [probe]\ninterval = \"1h\"\naudit_interval = \"1h\"\n\
         [reload]\ninterval = \"1h\"\nwatch = false\n",
    );
    write(
        dir,
        "s.json",
        r#"[{"login": "app", "password": "watch-pw-1"}]"#,
    );
    Rotascope::spawn(
        &[
            "watch",
            "--config",
            "rotascope.toml",
            "--record",
            "trail.ndjson",
            "--log-file",
            "watch.log",
        ],
        dir,
    )
}

fn of_type(kind: &'static str) -> impl Fn(&str) -> bool {
    move |line| serde_json::from_str::<Value>(line).is_ok_and(|v| v["type"] == kind)
}

#[test]
fn sighup_still_reloads_after_a_fifo_secrets_file_and_output_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut watch = start_watch(dir.path());
    watch.expect("config_applied", WITHIN, of_type("config_applied"));

    // The secrets file turns into a FIFO: the reload fails at once, with a clear message.
    let fifo = dir.path().join(".s.json.fifo");
    mkfifo(&fifo);
    std::fs::rename(&fifo, dir.path().join("s.json")).unwrap();
    watch.signal(libc::SIGHUP);
    let failed = watch.expect("config_failed", WITHIN, of_type("config_failed"));
    assert!(failed.contains("not a regular file (a FIFO)"), "{failed}");

    // A good file again, and the next SIGHUP applies it.
    let good = dir.path().join(".s.json.tmp");
    std::fs::write(&good, r#"[{"login": "app", "password": "watch-pw-2"}]"#).unwrap();
    std::fs::rename(&good, dir.path().join("s.json")).unwrap();
    watch.signal(libc::SIGHUP);
    let applied = watch.expect("config_applied", WITHIN, of_type("config_applied"));
    assert_eq!(
        serde_json::from_str::<Value>(&applied).unwrap()["generation"],
        2
    );

    watch.signal(libc::SIGTERM);
    assert!(watch.wait(WITHIN).success());
    for file in ["trail.ndjson", "watch.log"] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

/// What `ulimit -c` says inside a `secrets_command` of `rotascope config check` (children inherit
/// the limit), started from a shell that first raised the soft limit as far as the hard one goes.
fn core_limit_seen_by_a_child(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rotascope.toml",
        "islands = [[\"postgres://127.0.0.1:1/db\"]]\nsecrets_command = [\"sh\", \"s.sh\"]\n",
    );
    write(
        dir.path(),
        "s.sh",
        "printf '[{\"login\": \"core-%s\", \"password\": \"pw-core-1\"}]' \"$(ulimit -c)\"\n",
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -S -c \"$(ulimit -H -c)\"; exec \"$0\" config check --config rotascope.toml")
        .arg(env!("CARGO_BIN_EXE_rotascope"))
        .current_dir(dir.path())
        .env_remove("ROTASCOPE_ALLOW_CORE_DUMPS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let login = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("#0 login "))
        .unwrap_or_else(|| panic!("no candidate line in {stdout}"));
    login.split_whitespace().next().unwrap_or("").to_owned()
}

#[test]
fn core_dumps_are_off_unless_asked_for() {
    assert_eq!(core_limit_seen_by_a_child(&[]), "core-0");
    let hard = Command::new("sh")
        .args(["-c", "ulimit -H -c"])
        .output()
        .expect("sh");
    let hard = text(&hard.stdout).trim().to_owned();
    // Asked for: the limit is left as it was (as high as the hard limit allows here).
    assert_eq!(
        core_limit_seen_by_a_child(&[("ROTASCOPE_ALLOW_CORE_DUMPS", "1")]),
        format!("core-{hard}")
    );
}
