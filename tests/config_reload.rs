//! Hot reload: file edits, atomic replaces, Kubernetes-style symlink swaps, the interval, manual
//! reloads, failures that keep the last good config, and shutdown.
//!
//! Every test awaits the published change (`watch::Receiver::changed` under a generous timeout);
//! none sleeps to synchronise.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rotascope::clock::SystemClock;
use rotascope::config::load::{load_with, LoadOptions};
use rotascope::config::reload::spawn_with;
use rotascope::config::{ConfigFeed, ConfigState};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(20);

/// A compact config with one node and one secret, and the given extra settings.
fn config_text(password: &str, settings: &str) -> String {
    format!(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"{password}\"\n{settings}"
    )
}

const WATCH_ONLY: &str = "[reload]\ninterval = \"1h\"\nwatch = true\n";

fn options() -> LoadOptions {
    LoadOptions::with_env(Vec::<(String, String)>::new())
}

/// Loads `path` and starts the reload task; the guard cancels it on drop (panics included).
async fn start(path: &Path) -> (ConfigFeed, Stop) {
    start_with(path, options()).await
}

/// [`start`] with explicit load options.
async fn start_with(path: &Path, options: LoadOptions) -> (ConfigFeed, Stop) {
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
    (feed, Stop(token))
}

/// Polls `cond` until it holds (for an outside process; nothing to await), failing after
/// [`PATIENCE`].
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `secrets_command` source in `dir`: `secrets.sh` (run as `sh secrets.sh`) and the
/// `current.json` it may print (password `cmd-pw-1`).
fn command_source(dir: &Path, script: &str) {
    std::fs::write(dir.join("secrets.sh"), script).expect("script");
    std::fs::write(
        dir.join("current.json"),
        r#"[{"login": "app", "password": "cmd-pw-1"}]"#,
    )
    .expect("secrets");
}

/// Logs every run to `runs.log`, then prints `current.json`.
const LOGGING_SCRIPT: &str = "echo run >> runs.log\ncat current.json\n";

/// Lines in `file` (0 when it does not exist yet).
fn line_count(file: &Path) -> usize {
    std::fs::read_to_string(file)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

struct Stop(CancellationToken);
impl Drop for Stop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Asks for a manual reload.
async fn reload_now(feed: &ConfigFeed) {
    let sender = feed.reload.as_ref().expect("a reload sender");
    sender.send(()).await.expect("send");
}

/// Waits for the next published state.
async fn next(feed: &mut ConfigFeed) -> ConfigState {
    tokio::time::timeout(PATIENCE, feed.state.changed())
        .await
        .expect("a state is published in time")
        .expect("the reload task is alive");
    feed.state.borrow_and_update().clone()
}

/// Waits until a published state satisfies `pred` (file events may come in more than one burst).
async fn until(feed: &mut ConfigFeed, pred: impl Fn(&ConfigState) -> bool) -> ConfigState {
    loop {
        let s = next(feed).await;
        if pred(&s) {
            return s;
        }
    }
}

fn passwords(state: &ConfigState) -> Vec<String> {
    state
        .config
        .topology
        .nodes()
        .flat_map(|n| n.candidates.iter().map(|c| c.password.expose().to_owned()))
        .collect()
}

fn has_password(pw: &'static str) -> impl Fn(&ConfigState) -> bool {
    move |s| passwords(s) == [pw]
}

#[tokio::test]
async fn reloads_on_file_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    std::fs::write(&path, config_text("first-pw-1", WATCH_ONLY)).expect("write");
    let (mut feed, _stop) = start(&path).await;
    assert_eq!(feed.state.borrow().generation, 1);

    std::fs::write(&path, config_text("second-pw-2", WATCH_ONLY)).expect("edit in place");
    let s = until(&mut feed, has_password("second-pw-2")).await;
    assert_eq!(s.generation, 2);
    assert!(s.last_error.is_none());
}

#[tokio::test]
async fn reloads_on_atomic_replace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    std::fs::write(&path, config_text("first-pw-1", WATCH_ONLY)).expect("write");
    let (mut feed, _stop) = start(&path).await;

    for (i, pw) in ["second-pw-2", "third-pw-3"].into_iter().enumerate() {
        // An editor's save: write a temp file, rename it over the original (a new inode).
        let tmp = dir.path().join(format!(".rotascope.toml.swp{i}"));
        std::fs::write(&tmp, config_text(pw, WATCH_ONLY)).expect("write temp");
        std::fs::rename(&tmp, &path).expect("rename over");
        let s = until(&mut feed, move |s| passwords(s) == [pw]).await;
        assert_eq!(s.generation, i as u64 + 2, "each replace is seen once");
    }
}

/// Builds a Kubernetes-style volume: `..<version>/<file>`, `..data -> ..<version>`,
/// `<file> -> ..data/<file>`; returns the path of `<file>`.
fn k8s_volume(dir: &Path, file: &str, version: &str, content: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join(version)).expect("mkdir");
    std::fs::write(dir.join(version).join(file), content).expect("write");
    std::os::unix::fs::symlink(version, dir.join("..data")).expect("symlink ..data");
    std::os::unix::fs::symlink(format!("..data/{file}"), dir.join(file)).expect("symlink file");
    dir.join(file)
}

/// What the kubelet does on update: a new version dir, a new `..data_tmp` link renamed over
/// `..data` (atomic), then the old version removed.
fn k8s_swap(dir: &Path, file: &str, old: &str, new: &str, content: &str) {
    std::fs::create_dir_all(dir.join(new)).expect("mkdir");
    std::fs::write(dir.join(new).join(file), content).expect("write");
    std::os::unix::fs::symlink(new, dir.join("..data_tmp")).expect("symlink tmp");
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).expect("swap ..data");
    std::fs::remove_dir_all(dir.join(old)).expect("remove old version");
}

#[tokio::test]
async fn reloads_on_kubernetes_symlink_swap_of_the_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = k8s_volume(
        dir.path(),
        "config.toml",
        "..2026_01_01",
        &config_text("k8s-first-pw", WATCH_ONLY),
    );
    let (mut feed, _stop) = start(&path).await;
    k8s_swap(
        dir.path(),
        "config.toml",
        "..2026_01_01",
        "..2026_01_02",
        &config_text("k8s-second-pw", WATCH_ONLY),
    );
    let s = until(&mut feed, has_password("k8s-second-pw")).await;
    assert_eq!(s.generation, 2);
}

#[tokio::test]
async fn reloads_on_kubernetes_symlink_swap_of_a_secrets_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = dir.path().join("secrets");
    std::fs::create_dir(&mount).expect("mkdir");
    k8s_volume(
        &mount,
        "creds.json",
        "..v1",
        r#"[{"login": "app", "password": "mounted-pw-1"}]"#,
    );
    let path = dir.path().join("rotascope.toml");
    std::fs::write(
        &path,
        format!("islands = [[\"postgres://h/db\"]]\nsecrets_file = \"secrets/creds.json\"\n{WATCH_ONLY}"),
    )
    .expect("write");
    let (mut feed, _stop) = start(&path).await;
    assert_eq!(passwords(&feed.state.borrow()), ["mounted-pw-1"]);
    k8s_swap(
        &mount,
        "creds.json",
        "..v1",
        "..v2",
        r#"[{"login": "app", "password": "mounted-pw-2"}]"#,
    );
    let s = until(&mut feed, has_password("mounted-pw-2")).await;
    assert_eq!(s.generation, 2);
}

#[tokio::test]
async fn reloads_when_a_password_file_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    std::fs::create_dir(dir.path().join("pw")).expect("mkdir");
    std::fs::write(dir.path().join("pw/app"), "pwfile-one\n").expect("write");
    std::fs::write(
        &path,
        format!("islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword_file = \"pw/app\"\n{WATCH_ONLY}"),
    )
    .expect("write");
    let (mut feed, _stop) = start(&path).await;
    std::fs::write(dir.path().join("pw/app"), "pwfile-two\n").expect("rewrite");
    let s = until(&mut feed, has_password("pwfile-two")).await;
    assert_eq!(s.generation, 2);
}

#[tokio::test]
async fn a_broken_file_keeps_the_last_good_config_and_publishes_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    std::fs::write(&path, config_text("good-pw-1", WATCH_ONLY)).expect("write");
    let (mut feed, _stop) = start(&path).await;

    // A syntax error on the very line that holds a new password.
    std::fs::write(
        &path,
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"broken-new-pw\n",
    )
    .expect("break");
    let s = until(&mut feed, |s| s.last_error.is_some()).await;
    assert_eq!(s.generation, 1, "the last good config stays");
    assert_eq!(passwords(&s), ["good-pw-1"]);
    let failure = s.last_error.expect("error");
    assert!(
        failure.message.contains("rotascope.toml:4:"),
        "{}",
        failure.message
    );
    assert!(
        !failure.message.contains("broken-new-pw"),
        "{}",
        failure.message
    );
    assert!(
        !failure.message.contains("good-pw-1"),
        "{}",
        failure.message
    );

    std::fs::write(&path, config_text("fixed-pw-2", WATCH_ONLY)).expect("fix");
    let s = until(&mut feed, has_password("fixed-pw-2")).await;
    assert_eq!(s.generation, 2);
    assert!(s.last_error.is_none(), "success clears the error");
}

#[tokio::test]
async fn the_interval_rereads_and_an_unchanged_reread_publishes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    // The command logs every run, so the test can see re-reads that publish nothing.
    command_source(dir.path(), LOGGING_SCRIPT);
    let settings = "secrets_command = [\"sh\", \"secrets.sh\"]\n[reload]\ninterval = \"100ms\"\nwatch = false\n";
    std::fs::write(
        &path,
        format!("islands = [[\"postgres://h/db\"]]\n{settings}"),
    )
    .expect("write");
    let (mut feed, _stop) = start(&path).await;

    let runs = dir.path().join("runs.log");
    eventually("the interval re-reads", || line_count(&runs) >= 4).await;
    assert!(
        !feed.state.has_changed().expect("task alive"),
        "unchanged re-reads publish nothing"
    );
    assert_eq!(feed.state.borrow().generation, 1);

    // A change seen by the interval alone (watching is off).
    std::fs::write(
        dir.path().join("current.json"),
        r#"[{"login": "app", "password": "cmd-pw-2"}]"#,
    )
    .expect("rotate");
    let s = until(&mut feed, has_password("cmd-pw-2")).await;
    assert_eq!(s.generation, 2);
}

#[tokio::test]
async fn a_manual_reload_always_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    std::fs::write(
        &path,
        config_text("same-pw-1", "[reload]\ninterval = \"1h\"\nwatch = false\n"),
    )
    .expect("write");
    let (mut feed, _stop) = start(&path).await;
    let first_loaded = feed.state.borrow().loaded_at;
    let reload = feed.reload.clone().expect("a reload sender");

    reload.send(()).await.expect("send");
    let s = next(&mut feed).await;
    assert_eq!(s.generation, 2, "unchanged, but a manual reload is visible");
    assert!(s.loaded_at >= first_loaded);
    assert_eq!(passwords(&s), ["same-pw-1"]);

    // A manual reload of a broken config publishes the error each time it is asked.
    std::fs::write(
        &path,
        "islands = [[\"postgres://h/db\"]]\n[probe]\ninterval = \"x\"\n",
    )
    .expect("break");
    for _ in 0..2 {
        reload.send(()).await.expect("send");
        let s = next(&mut feed).await;
        assert_eq!(s.generation, 2);
        let msg = s.last_error.expect("error").message;
        assert!(msg.contains("probe.interval"), "{msg}");
    }
}

#[tokio::test]
async fn a_failing_secrets_command_on_reload_keeps_the_last_good_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    std::fs::write(
        dir.path().join("secrets.sh"),
        "echo '[{\"login\": \"app\", \"password\": \"cmd-good-pw\"}]'\n",
    )
    .expect("script");
    std::fs::write(
        &path,
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"secrets.sh\"]\n[reload]\ninterval = \"1h\"\nwatch = false\n",
    )
    .expect("write");
    let (mut feed, _stop) = start(&path).await;
    std::fs::write(
        dir.path().join("secrets.sh"),
        "echo 'token expired; last password was cmd-good-pw' >&2\nexit 1\n",
    )
    .expect("break script");
    reload_now(&feed).await;
    let s = next(&mut feed).await;
    assert_eq!(passwords(&s), ["cmd-good-pw"]);
    let msg = s.last_error.expect("error").message;
    assert!(msg.contains("token expired"), "{msg}");
    assert!(!msg.contains("cmd-good-pw"), "{msg}");
}

#[tokio::test]
async fn cancelling_shutdown_stops_the_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    std::fs::write(&path, config_text("pw-stop-1", WATCH_ONLY)).expect("write");
    let (mut feed, stop) = start(&path).await;
    drop(stop);
    let ended = tokio::time::timeout(PATIENCE, feed.state.changed())
        .await
        .expect("the task ends in time");
    assert!(ended.is_err(), "the sender is gone once the task stops");
}

#[tokio::test]
async fn writing_other_files_next_to_the_config_rereads_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    // The command logs every run (into the watched directory itself, like a log file would).
    command_source(dir.path(), LOGGING_SCRIPT);
    let text = |extra: &str| {
        format!("islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"secrets.sh\"]\n{WATCH_ONLY}{extra}")
    };
    std::fs::write(&path, text("")).expect("write");
    let (mut feed, _stop) = start(&path).await;
    let runs = dir.path().join("runs.log");
    assert_eq!(line_count(&runs), 1, "the initial load");

    // A `--record` file appended to next to the config for longer than the debounce cap (1s):
    // the writer's pace is the scenario, not a synchronisation.
    let record = dir.path().join("record.jsonl");
    for i in 0..15 {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&record)
            .expect("open record");
        writeln!(f, "{{\"event\": {i}}}").expect("append");
        drop(f);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Then a real change (an atomic replace, one event): its re-read is the only one.
    let tmp = dir.path().join(".rotascope.toml.new");
    std::fs::write(&tmp, text("# edited\n")).expect("write temp");
    std::fs::rename(&tmp, &path).expect("rename over");
    let s = next(&mut feed).await;
    assert_eq!(s.generation, 2);
    assert_eq!(
        line_count(&runs),
        2,
        "only the config change re-read the sources (and re-ran the command)"
    );
}

#[tokio::test]
async fn shutdown_during_a_stuck_secrets_command_stops_the_task_and_kills_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotascope.toml");
    // Hangs (after saying who it is) once `hang` exists.
    command_source(
        dir.path(),
        "if [ -f hang ]; then echo $$ > pid.tmp && mv pid.tmp pid; exec sleep 120; fi\ncat current.json\n",
    );
    std::fs::write(
        &path,
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"secrets.sh\"]\n[reload]\ninterval = \"1h\"\nwatch = false\n",
    )
    .expect("write");
    let mut slow = options();
    slow.command_timeout = Duration::from_secs(300);
    let (mut feed, stop) = start_with(&path, slow).await;

    std::fs::write(dir.path().join("hang"), "").expect("make it hang");
    reload_now(&feed).await;
    let pid_file = dir.path().join("pid");
    eventually("the command runs", || pid_file.exists()).await;
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("a pid");

    drop(stop);
    // Far below the command's 300s limit: the task does not wait for the command.
    let ended = tokio::time::timeout(Duration::from_secs(10), feed.state.changed())
        .await
        .expect("the task ends without waiting for the command");
    assert!(ended.is_err(), "the sender is gone once the task stops");
    // Gone, or a zombie waiting to be reaped: either way no longer running.
    eventually("the command is killed", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
    })
    .await;
}
