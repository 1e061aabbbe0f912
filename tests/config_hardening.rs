//! The config loader and the reload task under hostile or broken input: files that never answer,
//! commands that never stop printing, passwords pasted into the wrong key, absurd lengths, a
//! command's stderr that carries credentials, and the environment a `secrets_command` gets.
//!
//! Environments are passed explicitly (`LoadOptions::with_env`); nothing sleeps to synchronise:
//! reload results are awaited on the config feed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotascope::clock::SystemClock;
use rotascope::config::load::{load_with, LoadOptions};
use rotascope::config::reload::spawn_with;
use rotascope::config::{Config, ConfigError, ConfigFeed, ConfigState};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(20);

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write");
    p
}

/// Replaces `dir/name` atomically (write beside, rename over), as editors and tools do.
fn replace(dir: &Path, name: &str, content: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, content).expect("write");
    std::fs::rename(&tmp, dir.join(name)).expect("rename");
}

/// Replaces `dir/name` by a FIFO nobody writes to (the path of a hung reader).
fn replace_with_fifo(dir: &Path, name: &str) {
    let tmp = dir.join(format!(".{name}.fifo"));
    let c = std::ffi::CString::new(tmp.to_str().expect("utf-8 path")).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    std::fs::rename(&tmp, dir.join(name)).expect("rename");
}

fn env_with_path(extra: &[(&str, &str)]) -> LoadOptions {
    let mut env: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push(("PATH".into(), std::env::var("PATH").unwrap_or_default()));
    LoadOptions::with_env(env)
}

async fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &env_with_path(&[])).await
}

/// The error of loading `config` (written to a fresh dir, with `files` beside it).
async fn error_of(config: &str, files: &[(&str, &str)], options: LoadOptions) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, content) in files {
        write(dir.path(), name, content);
    }
    let path = write(dir.path(), "rotascope.toml", config);
    match load_with(&path, &options).await {
        Ok(_) => panic!("the config should fail:\n{config}"),
        Err(e) => {
            // Debug shows no more than Display does.
            let debug = format!("{e:?}");
            format!("{e}\n{debug}")
        }
    }
}

fn assert_hidden(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{s:?} shown in:\n{text}");
    }
}

/// The reload task over the config at `path`; cancelled on drop.
struct Reloading {
    feed: ConfigFeed,
    token: CancellationToken,
}

impl Drop for Reloading {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

impl Reloading {
    async fn start(path: &Path, options: LoadOptions) -> Reloading {
        let initial = load_with(path, &options)
            .await
            .unwrap_or_else(|e| panic!("initial load: {e}"));
        let token = CancellationToken::new();
        let feed = spawn_with(
            path.to_path_buf(),
            initial,
            Arc::new(SystemClock),
            token.clone(),
            options,
        );
        Reloading { feed, token }
    }

    async fn reload_now(&self) {
        if let Some(tx) = &self.feed.reload {
            tx.send(()).await.expect("reload task alive");
        }
    }

    /// The next published state that satisfies `pred`.
    async fn until(&mut self, what: &str, pred: impl Fn(&ConfigState) -> bool) -> ConfigState {
        let wait = async {
            loop {
                {
                    let s = self.feed.state.borrow_and_update();
                    if pred(&s) {
                        return s.clone();
                    }
                }
                self.feed.state.changed().await.expect("reload task alive");
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }
}

fn password_of_first(config: &Config) -> String {
    let node = config.topology.nodes().next().expect("a node");
    node.candidates
        .iter()
        .map(|c| c.password.expose().to_owned())
        .collect::<Vec<_>>()
        .join(",")
}

const COMPACT_WITH_FILE: &str = "islands = [[\"postgres://h/db\"]]\nsecrets_file = \"s.json\"\n\
                                 [reload]\ninterval = \"1h\"\nwatch = true\n";

#[tokio::test]
async fn a_fifo_secrets_file_fails_the_reload_and_a_good_file_after_it_is_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "s.json",
        r#"[{"login": "app", "password": "fifo-pw-1"}]"#,
    );
    let path = write(dir.path(), "rotascope.toml", COMPACT_WITH_FILE);
    let mut r = Reloading::start(&path, env_with_path(&[])).await;

    // The watcher sees the rename; the reload must fail at once, not hang on the FIFO.
    let started = Instant::now();
    replace_with_fifo(dir.path(), "s.json");
    let failed = r
        .until("the FIFO to fail the reload", |s| s.last_error.is_some())
        .await;
    let message = &failed.last_error.as_ref().expect("an error").message;
    assert!(message.contains("not a regular file (a FIFO)"), "{message}");
    assert!(message.contains("s.json"), "{message}");
    assert_eq!(failed.generation, 1, "the last good config stays");
    assert!(started.elapsed() < PATIENCE);

    // Both a manual reload (SIGHUP's path) and a later good file are still applied.
    r.reload_now().await;
    replace(
        dir.path(),
        "s.json",
        r#"[{"login": "app", "password": "fifo-pw-2"}]"#,
    );
    let applied = r
        .until("the good file to be applied", |s| {
            s.last_error.is_none() && password_of_first(&s.config) == "fifo-pw-2"
        })
        .await;
    assert!(applied.generation >= 2);
}

#[tokio::test]
async fn a_stuck_load_is_reported_and_the_next_reload_still_runs() {
    // The command hangs while `stall` exists: a stand-in for a hung mount or a stuck helper
    // that the command's own time limit (1 h here) would not end soon enough.
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "secrets.sh",
        "while [ -e stall ]; do sleep 0.05; done\n\
         echo '[{\"login\": \"app\", \"password\": \"stuck-pw-1\"}]'\n",
    );
    let path = write(
        dir.path(),
        "rotascope.toml",
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"secrets.sh\"]\n\
         [reload]\ninterval = \"1h\"\nwatch = false\n",
    );
    let mut options = env_with_path(&[]);
    options.command_timeout = Duration::from_secs(3600);
    options.deadline = Duration::from_millis(500);
    let mut r = Reloading::start(&path, options).await;

    write(dir.path(), "stall", "");
    r.reload_now().await;
    let failed = r
        .until("the stuck load to be reported", |s| s.last_error.is_some())
        .await;
    let message = &failed.last_error.as_ref().expect("an error").message;
    assert!(message.contains("did not finish within 500ms"), "{message}");
    assert_eq!(failed.generation, 1);

    std::fs::remove_file(dir.path().join("stall")).expect("unstall");
    r.reload_now().await;
    let applied = r
        .until("the next reload to apply", |s| s.last_error.is_none())
        .await;
    assert_eq!(applied.generation, 2);
}

#[tokio::test]
async fn files_that_are_not_regular_or_too_large_fail_at_once_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "rotascope.toml", "");
    replace_with_fifo(dir.path(), "rotascope.toml");
    let started = Instant::now();
    let e = load(&path).await.expect_err("a FIFO config").to_string();
    assert!(e.contains("not a regular file (a FIFO)"), "{e}");
    assert!(
        started.elapsed() < PATIENCE,
        "a FIFO is refused, not waited on"
    );

    for (key, value) in [("secrets_file", "/dev/zero"), ("secrets_file", "big.json")] {
        let big = format!("[{}]", " ".repeat(5 * 1024 * 1024));
        let e = error_of(
            &format!("islands = [[\"postgres://h/db\"]]\n{key} = \"{value}\"\n"),
            &[("big.json", &big)],
            env_with_path(&[]),
        )
        .await;
        let want = if value == "/dev/zero" {
            "not a regular file (a character device)"
        } else {
            "larger than the limit of 4 MiB"
        };
        assert!(e.contains(want), "{e}");
    }
    let e = error_of(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword_file = \"/dev/zero\"\n",
        &[],
        env_with_path(&[]),
    )
    .await;
    assert!(e.contains("not a regular file (a character device)"), "{e}");
}

#[tokio::test]
async fn a_command_that_never_stops_printing_is_a_clear_error_not_an_abort() {
    for (argv, stream) in [
        (r#"["yes"]"#, "stdout"),
        (r#"["sh", "-c", "yes >&2"]"#, "stderr"),
    ] {
        let started = Instant::now();
        let e = error_of(
            &format!("islands = [[\"postgres://h/db\"]]\nsecrets_command = {argv}\n"),
            &[],
            env_with_path(&[]),
        )
        .await;
        assert!(
            e.contains(&format!("printed more than 4 MiB on {stream}")),
            "{e}"
        );
        assert!(e.contains("it was stopped"), "{e}");
        assert!(started.elapsed() < PATIENCE, "{argv}");
    }
}

#[tokio::test]
async fn the_command_gets_a_minimal_environment_without_password_env_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Prints what it sees as the password of a secret.
    write(
        dir.path(),
        "secrets.sh",
        "printf '[{\"login\": \"app_b\", \"password\": \"%s|%s|%s|%s\"}]' \
         \"${APP_A_PASSWORD:-unset}\" \"${VAULT_ADDR:-unset}\" \"${UNRELATED:-unset}\" \
         \"${VAULT_DB_PASSWORD:-unset}\"\n",
    );
    let path = write(
        dir.path(),
        "rotascope.toml",
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"secrets.sh\"]\n\
         [[secrets]]\nlogin = \"app_a\"\npassword_env = \"APP_A_PASSWORD\"\n\
         [[secrets]]\nlogin = \"app_c\"\npassword_env = \"VAULT_DB_PASSWORD\"\n",
    );
    let options = env_with_path(&[
        ("APP_A_PASSWORD", "env-secret-a1"),
        ("VAULT_DB_PASSWORD", "env-secret-v1"),
        ("VAULT_ADDR", "https://vault:8200"),
        ("UNRELATED", "something"),
    ]);
    let config = load_with(&path, &options).await.expect("loads");
    let seen = password_of_first(&config);
    // Inline secrets first, then the command's.
    assert_eq!(
        seen,
        "env-secret-a1,env-secret-v1,unset|https://vault:8200|unset|unset"
    );
}

#[tokio::test]
async fn a_failing_command_never_shows_stderr_shaped_like_a_credential() {
    // A first load: no password is known yet, so masking alone could not help.
    for stderr in [
        r#"{"data": [{"login": "app", "password": "first-load-pw-1"}]}"#,
        "vault: login with password=first-load-pw-2 refused",
        "export PGPASSWORD=first-load-pw-3",
        "using token: first-load-pw-4",
    ] {
        let e = error_of(
            "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"fail.sh\"]\n",
            &[("fail.sh", &format!("echo '{stderr}' >&2\nexit 2\n"))],
            env_with_path(&[]),
        )
        .await;
        assert!(e.contains("exit status: 2"), "{e}");
        assert!(e.contains("withheld: 1 line"), "{e}");
        assert_hidden(&e, &["first-load-pw"]);
    }
    // Plain stderr is shown (masked), its last lines joined into one line.
    let e = error_of(
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"fail.sh\"]\n",
        &[(
            "fail.sh",
            "echo 'vault: permission denied' >&2\necho 'giving up' >&2\nexit 1\n",
        )],
        env_with_path(&[]),
    )
    .await;
    assert!(
        e.contains("stderr: vault: permission denied | giving up"),
        "{e}"
    );
}

#[tokio::test]
async fn a_password_pasted_into_a_pointer_key_is_not_echoed() {
    const PASTED: &str = "Tr0ub4dor&3-pasted";
    for (entry, must) in [
        (
            format!("password_env = \"{PASTED}\""),
            "environment variable (name not repeated",
        ),
        (
            format!("password_file = \"{PASTED}\""),
            "cannot read password file (name not repeated",
        ),
    ] {
        let e = error_of(
            &format!("islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\n{entry}\n"),
            &[],
            env_with_path(&[]),
        )
        .await;
        assert!(e.contains(must), "{e}");
        assert!(
            e.contains("rotascope.toml:4:1"),
            "the position still says where: {e}"
        );
        assert_hidden(&e, &[PASTED, "Tr0ub4dor"]);
    }
    let e = error_of(
        &format!("islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"{PASTED}\"]\n"),
        &[],
        env_with_path(&[]),
    )
    .await;
    assert!(e.contains("cannot run the program it names"), "{e}");
    assert_hidden(&e, &[PASTED, "Tr0ub4dor"]);
    // Names that look like names are still shown: they are what a person needs to fix it.
    let e = error_of(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword_env = \"APP_PW\"\n",
        &[],
        env_with_path(&[]),
    )
    .await;
    assert!(e.contains("environment variable APP_PW is not set"), "{e}");
}

#[tokio::test]
async fn known_passwords_are_masked_in_every_error_even_those_found_before_them() {
    const KNOWN: &str = "known-file-secret-77";
    let secrets = format!(r#"[{{"login": "app", "password": "{KNOWN}"}}]"#);
    // A password from the secrets file, pasted into a setting checked before the file is read
    // in the file's order, and into the shard pattern (which would be shown and sent to servers).
    for settings in [
        format!("[probe]\ninterval = \"{KNOWN}\"\n"),
        format!("[shards]\npattern = \"{KNOWN}\"\n"),
        format!("[shards]\npattern = \"sh_{KNOWN}_%04d\"\n"),
    ] {
        let e = error_of(
            &format!("islands = [[\"postgres://h/db\"]]\nsecrets_file = \"s.json\"\n{settings}"),
            &[("s.json", &secrets)],
            env_with_path(&[]),
        )
        .await;
        assert!(
            e.contains("probe.interval") || e.contains("shards.pattern"),
            "{e}"
        );
        assert_hidden(&e, &[KNOWN]);
    }
    // Pasted as a node name, a login or a label (shown everywhere, sent to servers): refused.
    for entry in [
        format!("name = \"{KNOWN}\"\nlogin = \"app\""),
        format!("login = \"{KNOWN}\""),
        format!("login = \"app\"\nlabel = \"was {KNOWN}\""),
    ] {
        let e = error_of(
            &format!(
                "islands = [[\"postgres://h/db\"]]\nsecrets_file = \"s.json\"\n\
                 [[island]]\nno = 1\n[[island.node]]\nurl = \"postgres://h2/db\"\n\
                 password = \"node-pw-1\"\n{entry}\n"
            ),
            &[("s.json", &secrets)],
            env_with_path(&[]),
        )
        .await;
        assert!(
            e.contains("holds a password of this config (not shown)"),
            "{e}"
        );
        assert_hidden(&e, &[KNOWN]);
    }
}

#[tokio::test]
async fn absurd_lengths_are_refused_with_a_clear_error() {
    let long = "x".repeat(65_536);
    let cases = [
        (
            format!("islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"{long}\"\npassword = \"pw-123\"\n"),
            "a login of 65536 bytes is longer than the limit of 63 bytes",
        ),
        (
            format!("islands = [[\"postgres://{long}:pw-123@h/db\"]]\n"),
            "a login of 65536 bytes",
        ),
        (
            format!("[[island]]\nno = 0\n[[island.node]]\nurl = \"postgres://{long}@h/db\"\npassword = \"pw-123\"\n"),
            "a login of 65536 bytes",
        ),
        (
            format!("islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"pw\"\nlabel = \"{long}\"\n"),
            "a label of 65536 bytes",
        ),
        (
            format!("islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"{long}{long}\"\n"),
            "a password of 131072 bytes is longer than the limit of 65535 bytes",
        ),
    ];
    for (config, must) in &cases {
        let e = error_of(config, &[], env_with_path(&[])).await;
        assert!(e.contains(must), "{must}: {}", &e[..e.len().min(300)]);
        assert!(e.len() < 2000, "the value is not quoted: {} bytes", e.len());
    }
    let e = error_of(
        "islands = [[\"postgres://h/db\"]]\nsecrets_file = \"s.json\"\n",
        &[(
            "s.json",
            &format!(r#"[{{"login": "{long}", "password": "pw-123"}}]"#),
        )],
        env_with_path(&[]),
    )
    .await;
    assert!(
        e.contains("`[0].login`: a login of 65536 bytes"),
        "{}",
        &e[..300]
    );
}
