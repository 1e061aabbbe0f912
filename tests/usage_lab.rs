//! Sessions per login and revocation readiness (issue 15), against real PostgreSQL: real client
//! sessions with their own `application_name`s, counted by the probe query; closing them drops
//! the count within one probe interval; `check --ready-to-revoke` through the real binary exits
//! 1 while sessions remain or the replacement is invalid, 0 after the quiet period; rotascope's
//! own sessions (its probes, and another rotascope probing the same server) are never counted.

mod support;

use std::time::Duration;

use rotascope::engine::event::ProbeMode;
use rotascope::engine::usage::NodeLoginUsage;
use rotascope::engine::Snapshot;
use rotascope::engine::{EventKind, Feed};
use rotascope::lab::ServerOptions;
use support::{
    assert_no_secret, lab_server, node, secret, ConfigFile, LabServer, Running, Settings,
};
use tokio_postgres::Client;

const PW_A: &str = "usage-app-a-Qe7r2t";
const PW_B: &str = "usage-app-b-Zx4c9v";
const PW_B_NEW: &str = "usage-app-b-new-Mn3b8k";
const ALL: [&str; 3] = [PW_A, PW_B, PW_B_NEW];

/// A compact config for `url`: app_a then app_b, fast probes, `[usage] quiet_for` short.
fn config(url: &str, quiet_for: &str) -> String {
    config_with(url, quiet_for, Settings::default())
}

/// [`config`] with these probe settings.
fn config_with(url: &str, quiet_for: &str, settings: Settings) -> String {
    format!(
        "islands = [[\"{url}\"]]\n\n{}[usage]\nquiet_for = \"{quiet_for}\"\n\n{}{}",
        settings.toml(),
        secret("app_a", PW_A, "old"),
        secret("app_b", PW_B, "new"),
    )
}

/// A lab server with the logins app_a and app_b, and its connection string.
async fn with_both_logins(options: ServerOptions) -> (LabServer, String) {
    let pg = lab_server(options).await;
    pg.create_role("app_a", PW_A).await.expect("app_a");
    pg.create_role("app_b", PW_B).await.expect("app_b");
    let url = pg.conn_string("postgres");
    (pg, url)
}

/// A client session as `login`, calling itself `app` (dropped: closed).
async fn session(pg: &rotascope::lab::Server, login: &str, password: &str, app: &str) -> Client {
    pg.connect_as_app(login, password, "postgres", app)
        .await
        .unwrap_or_else(|e| panic!("session as {login}: {e}"))
}

/// The usage of `login` on the only node.
fn usage<'a>(s: &'a Snapshot, name: &str, login: &str) -> &'a NodeLoginUsage {
    node(s, name)
        .usage
        .iter()
        .find(|u| u.login == login)
        .unwrap_or_else(|| panic!("no usage of {login}"))
}

fn apps(u: &NodeLoginUsage) -> Vec<(String, u32)> {
    u.now
        .iter()
        .flat_map(|m| m.apps.iter())
        .map(|a| (a.name.clone(), a.sessions))
        .collect()
}

/// Runs `rotascope --config FILE check --ready-to-revoke LOGIN`; no password on either stream.
async fn ready(file: &ConfigFile, login: &str) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(["--config", file.path().to_str().expect("utf-8 path")])
        .args(["check", "--ready-to-revoke", login])
        .current_dir(file.dir())
        .env("XDG_CONFIG_HOME", file.dir().join("xdg"))
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run rotascope");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_secret("stdout", &stdout, &ALL);
    assert_no_secret("stderr", &stderr, &ALL);
    (out.status.code(), format!("{stdout}{stderr}"))
}

/// Waits until the server itself shows no session of `login` but rotascope's.
async fn server_shows_none(pg: &rotascope::lab::Server, login: &str) {
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = '{login}' \
         AND application_name <> 'rotascope'"
    );
    let gone = async {
        loop {
            let n: i64 = pg.query_one(&sql).await.expect("count").get(0);
            if n == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(support::PATIENCE, gone)
        .await
        .expect("sessions closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_per_login_and_readiness_to_revoke() {
    let (pg, url) = with_both_logins(ServerOptions::default()).await;
    let file = ConfigFile::new(&config(&url, "2s"));
    let name = url.as_str();

    // Three sessions as app_a, one as app_b, each application its own name.
    let a1 = session(&pg, "app_a", PW_A, "billing").await;
    let a2 = session(&pg, "app_a", PW_A, "billing").await;
    let a3 = session(&pg, "app_a", PW_A, "cron").await;
    let b1 = session(&pg, "app_b", PW_B, "reports").await;
    // What another rotascope's probe looks like to the server, held for the whole test: never
    // counted (the probe's own backend is left out by its process id too).
    let _other_rotascope = session(&pg, "app_a", PW_A, "rotascope").await;

    let mut running = Running::start(&file).await;
    let s = running
        .wait("3 sessions of app_a and 1 of app_b", |s| {
            let (a, b) = (usage(s, name, "app_a"), usage(s, name, "app_b"));
            a.sessions() == Some(3) && b.sessions() == Some(1)
        })
        .await;
    let a = usage(&s, name, "app_a");
    assert_eq!(
        apps(a),
        [("billing".to_owned(), 2), ("cron".to_owned(), 1)],
        "grouped by application_name, biggest first"
    );
    assert_eq!(apps(usage(&s, name, "app_b")), [("reports".to_owned(), 1)]);
    assert!(a.zero_since.is_none() && !a.via_pooler);
    // The chain probes log in as app_a: its own rows are visible in full.
    let detail = a.now.as_ref().and_then(|m| m.detail.as_ref());
    let detail = detail.expect("app_a sees its own sessions");
    assert_eq!(detail.client_addrs, ["127.0.0.1"]);
    assert!(detail.oldest_start.is_some());
    let cluster = s.usage.iter().find(|l| l.login == "app_a").expect("app_a");
    assert_eq!(cluster.summary(), "in use on 1 node (3 sessions)");
    assert!(!cluster.safe_to_revoke);

    // rotascope's own sessions never count: not the engine's probes (every snapshot above and
    // below), not another rotascope probing the same server as the same logins.
    let (code, out) = ready(&file, "app_a").await;
    assert_eq!(code, Some(1), "sessions remain: {out}");
    assert!(
        out.contains("not safe to revoke") && out.contains("3 sessions"),
        "{out}"
    );
    // In use now is a no at once, not after the watch's slack (here two 10-minute intervals).
    let slow = ConfigFile::new(&config_with(
        &url,
        "1h",
        Settings {
            interval: "10m",
            ..Settings::default()
        },
    ));
    let answered = tokio::time::timeout(Duration::from_secs(120), ready(&slow, "app_b")).await;
    let (code, out) = answered.expect("answered without waiting out the watch");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("1 session"), "{out}");
    for _ in 0..5 {
        let s = running.wait("a later snapshot", |_| true).await;
        assert_eq!(
            usage(&s, name, "app_a").sessions(),
            Some(3),
            "own probes counted"
        );
        let mark = running.feed.mark();
        running.feed.chains(mark, 1, name).await;
    }

    // Close them: the count drops within one probe interval of the server seeing them gone.
    drop((a1, a2, a3, b1));
    server_shows_none(&pg, "app_a").await;
    server_shows_none(&pg, "app_b").await;
    let mark = running.feed.mark();
    let s = running
        .wait("no session of app_a", |s| {
            usage(s, name, "app_a").sessions() == Some(0)
        })
        .await;
    // A chain in flight at the close may still count them; the next one does not; one more
    // may land before the coalesced snapshot is published.
    running.feed.drain();
    let chains = running
        .feed
        .probes(mark..running.feed.len(), Some(name), Some(ProbeMode::Chain))
        .len();
    assert!(
        chains <= 3,
        "{chains} chain probes before the count dropped"
    );
    assert!(usage(&s, name, "app_a").zero_since.is_some());

    // The replacement broken: not safe, however quiet app_a is.
    pg.set_password("app_b", PW_B_NEW)
        .await
        .expect("rotate app_b");
    let (code, out) = ready(&file, "app_a").await;
    assert_eq!(code, Some(1), "app_b invalid: {out}");
    assert!(out.contains("no valid replacement"), "{out}");

    // The replacement fixed in the config, no session: safe after the quiet period.
    file.replace(&config(&url, "2s").replace(PW_B, PW_B_NEW));
    let (code, out) = ready(&file, "app_a").await;
    assert_eq!(code, Some(0), "quiet and replaced: {out}");
    assert!(out.contains("safe to revoke"), "{out}");

    // The running engine says so too, with an event.
    running
        .wait("app_a safe to revoke", |s| {
            s.usage
                .iter()
                .any(|l| l.login == "app_a" && l.safe_to_revoke)
        })
        .await;
    // ... and `watch` streams it: a `safe_to_revoke` event naming the login.
    let at = running
        .feed
        .find_event(
            0,
            "safe_to_revoke of app_a",
            |e| matches!(e, EventKind::SafeToRevoke { login, .. } if login == "app_a"),
        )
        .await;
    let Feed::Event(e) = &running.feed.items()[at] else {
        unreachable!("find_event finds events")
    };
    let line = serde_json::to_value(e).expect("event JSON");
    assert_eq!(
        (&line["type"], &line["login"]),
        (&"safe_to_revoke".into(), &"app_a".into())
    );
    assert!(line["idle_since"].is_string(), "{line}");
    running.assert_no_leak(&ALL);
}

/// A `[state]` file kept by a running rotascope already holds an hour of quiet for app_a: the
/// one-shot check answers after its first probes instead of watching `quiet_for` (10 min).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_state_file_carries_the_quiet_time_on() {
    use rotascope::engine::persist::StateFile;
    use rotascope::engine::usage::SavedQuiet;
    let (_pg, url) = with_both_logins(ServerOptions::default()).await;
    let file = ConfigFile::new(&format!(
        "{}[state]\nfile = \"state.json\"\n",
        config(&url, "10m")
    ));
    let state = StateFile::open(&file.dir().join("state.json")).expect("state file");
    let now = chrono::Utc::now();
    let quiet = SavedQuiet {
        island: rotascope::topology::IslandNo(0),
        node: url.clone(),
        login: "app_a".into(),
        zero_since: now - chrono::Duration::hours(1),
    };
    state
        .write(now, Vec::new(), None, vec![quiet])
        .expect("write state");
    let (code, out) = tokio::time::timeout(support::PATIENCE, ready(&file, "app_a"))
        .await
        .expect("answered without watching quiet_for");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("safe to revoke"), "{out}");
}

/// Ctrl-C while `check --ready-to-revoke` watches for `quiet_for` (an hour: it must wait): it
/// ends at once with exit 1, what was seen so far and a note that it was interrupted — never a
/// "safe" verdict, never a password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_the_readiness_watch_with_a_note() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

    let (_pg, url) = with_both_logins(ServerOptions::default()).await;
    let file = ConfigFile::new(&config(&url, "1h"));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(["--config", file.path().to_str().expect("utf-8 path")])
        .args(["check", "--ready-to-revoke", "app_a"])
        .current_dir(file.dir())
        .env("XDG_CONFIG_HOME", file.dir().join("xdg"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run rotascope");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));

    // Watching: it says so on stderr once the engine runs and the answer is not known.
    let mut seen = String::new();
    let watching = async {
        loop {
            let mut line = String::new();
            let n = stderr.read_line(&mut line).await.expect("read stderr");
            assert!(n > 0, "stderr closed before it said it watches: {seen}");
            seen.push_str(&line);
            if line.contains("app_a: watching up to") {
                return;
            }
        }
    };
    tokio::time::timeout(support::PATIENCE, watching)
        .await
        .expect("it says it watches");
    assert!(seen.contains("Ctrl-C ends the watch early"), "{seen}");

    let pid = libc::pid_t::try_from(child.id().expect("running")).expect("pid");
    // SAFETY: kill only sends a signal, to the child we started and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = tokio::time::timeout(support::PATIENCE, child.wait())
        .await
        .expect("it exits promptly after Ctrl-C")
        .expect("wait");
    let mut out = String::new();
    stdout.read_to_string(&mut out).await.expect("read stdout");
    stderr.read_to_string(&mut seen).await.expect("read stderr");
    assert_no_secret("stdout", &out, &ALL);
    assert_no_secret("stderr", &seen, &ALL);

    assert_eq!(status.code(), Some(1), "stdout: {out}\nstderr: {seen}");
    assert!(out.starts_with("app_a: not safe to revoke"), "{out}");
    assert!(!out.contains("app_a: safe to revoke"), "{out}");
    assert!(out.contains("note: interrupted after"), "{out}");
    assert!(out.contains("what was seen so far"), "{out}");
}

/// `config` with `[usage] enabled` set.
fn config_counting(url: &str, quiet_for: &str, enabled: bool) -> String {
    config(url, quiet_for).replace("[usage]\n", &format!("[usage]\nenabled = {enabled}\n"))
}

/// The server log from byte `from` on.
fn server_log(pg: &rotascope::lab::Server, from: usize) -> String {
    let log = std::fs::read(pg.log_path()).expect("server log");
    String::from_utf8_lossy(log.get(from..).unwrap_or_default()).into_owned()
}

/// `[usage] enabled = false`: the chain probes still work, but their query never reads the
/// server's activity (the server logs every statement: no `pg_stat_get_activity`), no session
/// count is reported anywhere, and `--ready-to-revoke` refuses with exit 3. A hot reload turns
/// counting on (the counts come back, and the statement with them: the log check can fail) and
/// off again (a login that was safe is said to be no longer, because nothing is counted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_off_reads_no_activity_and_reload_switches_it() {
    const ACTIVITY: &str = "pg_stat_get_activity";
    const PROBE: &str = "pg_is_in_recovery()";
    let (pg, url) =
        with_both_logins(ServerOptions::default().setting("log_statement", "'all'")).await;
    let name = url.as_str();
    let a1 = session(&pg, "app_a", PW_A, "billing").await;
    let file = ConfigFile::new(&config_counting(&url, "1s", false));

    // Off: probes work, nothing is counted, and the views say so.
    let mut running = Running::start(&file).await;
    let mark = running.feed.mark();
    running.feed.chains(mark, 3, name).await;
    let s = running.snapshot();
    assert!(!s.usage_enabled);
    assert_eq!(node(&s, name).health, rotascope::engine::Health::Ok);
    assert!(
        node(&s, name).usage.is_empty(),
        "no login listed as unknown"
    );
    assert!(s.usage.is_empty());
    let log = server_log(&pg, 0);
    assert!(log.contains(PROBE), "the server logs the probes: {log}");
    assert!(
        !log.contains(ACTIVITY),
        "the probe read the activity: {log}"
    );
    let json = serde_json::to_value(rotascope::report::check_report(&s)).expect("json");
    assert_eq!(json["usage_enabled"], false);

    // Readiness needs the counts: refused, nothing checked.
    let (code, out) = ready(&file, "app_a").await;
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("config error") && out.contains("`usage.enabled`"),
        "{out}"
    );
    assert!(!out.contains("safe to revoke:"), "{out}");

    // On by a reload: counted again, by the query that reads the activity.
    file.replace(&config_counting(&url, "1s", true));
    let s = running
        .wait("app_a counted", |s| {
            s.usage_enabled && usage(s, name, "app_a").sessions() == Some(1)
        })
        .await;
    assert_eq!(apps(usage(&s, name, "app_a")), [("billing".to_owned(), 1)]);
    assert!(server_log(&pg, 0).contains(ACTIVITY));

    // Quiet, then safe; then off again: no longer safe, since nothing is counted.
    drop(a1);
    server_shows_none(&pg, "app_a").await;
    running
        .wait("app_a safe to revoke", |s| {
            s.usage
                .iter()
                .any(|l| l.login == "app_a" && l.safe_to_revoke)
        })
        .await;
    let mark = running.feed.mark();
    file.replace(&config_counting(&url, "1s", false));
    let at = running
        .feed
        .find_event(
            mark,
            "no_longer_safe_to_revoke of app_a",
            |e| matches!(e, EventKind::NoLongerSafeToRevoke { login, .. } if login == "app_a"),
        )
        .await;
    let Feed::Event(e) = &running.feed.items()[at] else {
        unreachable!("find_event finds events")
    };
    let line = serde_json::to_value(e).expect("event JSON");
    assert!(
        line["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("enabled = false")),
        "{line}"
    );
    let s = running.wait("counting off", |s| !s.usage_enabled).await;
    assert!(s.usage.is_empty() && node(&s, name).usage.is_empty());
    // A chain in flight at the reload may still have asked; the ones after it do not.
    let (_, after) = running.feed.chains(at, 2, name).await;
    let from = std::fs::metadata(pg.log_path()).expect("log").len() as usize;
    running.feed.chains(after, 3, name).await;
    let log = server_log(&pg, from);
    assert!(log.contains(PROBE), "{log}");
    assert!(!log.contains(ACTIVITY), "{log}");
    running.assert_no_leak(&ALL);
}
