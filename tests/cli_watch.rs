//! `rotascope watch` as a script sees it, against a real lab: one NDJSON line per event (and per
//! probe with `--probes`), the same lines in the `--record` file, SIGHUP reloads, SIGTERM and
//! SIGINT exit 0, and no password anywhere in what it prints.
//!
//! Each expected line has its own deadline; nothing sleeps to wait for the process.

mod cli_lab_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cli_lab_support::{assert_no_secret, Rotascope, Want};
use rotascope::lab::{Lab, Server};
use serde_json::Value;

/// Generous: the machine is shared, and a first probe includes SCRAM in a debug build.
const WITHIN: Duration = Duration::from_secs(30);

const PW_A: &str = "watch-test-A-first-7Yq";
const PW_A_NEW: &str = "watch-test-A-second-9Kd";
const PW_B: &str = "watch-test-B-only-3Rx";

/// A master and its streaming replica, with `app_a` and `app_b`, in a runtime kept alive with
/// them (the lab's calls are async; the test itself reads the child synchronously).
struct Cluster {
    runtime: tokio::runtime::Runtime,
    master: Server,
    replica: Server,
    lab: Lab,
}

impl Cluster {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (lab, master, replica) = runtime.block_on(async {
            let lab = Lab::new().unwrap();
            let master = lab.start_server(Default::default()).await.unwrap();
            master.create_database("app").await.unwrap();
            master.create_role("app_a", PW_A).await.unwrap();
            master.create_role("app_b", PW_B).await.unwrap();
            let replica = master.start_replica().await.unwrap();
            (lab, master, replica)
        });
        Cluster {
            runtime,
            master,
            replica,
            lab,
        }
    }

    fn nodes(&self) -> [String; 2] {
        [
            self.master.conn_string("app"),
            self.replica.conn_string("app"),
        ]
    }

    fn secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = [PW_A, PW_A_NEW, PW_B].map(str::to_owned).to_vec();
        all.push(self.lab.superuser_password().expose().to_owned());
        all
    }
}

/// Writes the config (atomically, as an editor or a deploy does) with `app_a`'s password.
fn write_config(path: &Path, nodes: &[String; 2], pw_a: &str) {
    let text = format!(
        "islands = [[\"{}\", \"{}\"]]\n\
         [[secrets]]\nlogin = \"app_a\"\npassword = \"{pw_a}\"\nlabel = \"current\"\n\
         [[secrets]]\nlogin = \"app_b\"\npassword = \"{PW_B}\"\nlabel = \"previous\"\n\
         [probe]\ninterval = \"200ms\"\naudit_interval = \"1s\"\nconnect_timeout = \"2s\"\n\
         timeout = \"5s\"\n\
         [reload]\ninterval = \"1h\"\nwatch = true\n",
        nodes[0], nodes[1]
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// A predicate on a line's JSON.
fn is(check: impl Fn(&Value) -> bool) -> impl Fn(&str) -> bool {
    move |line| check(&json(line))
}

fn want(name: &str, check: impl Fn(&Value) -> bool + 'static) -> Want<'_> {
    (name, Box::new(is(check)))
}

fn health(node: &str, to: &'static str) -> impl Fn(&Value) -> bool + 'static {
    let node = node.to_owned();
    move |v| v["type"] == "health_changed" && v["node"] == node.as_str() && v["to"] == to
}

/// What every run must satisfy: lines are JSON with an RFC 3339 `at`, the record file is exactly
/// the printed lines, and no password shows in stdout or stderr.
fn check_output(watch: &Rotascope, record: &Path, secrets: &[String]) {
    for line in &watch.seen {
        let v = json(line);
        let at = v["at"]
            .as_str()
            .unwrap_or_else(|| panic!("no `at`: {line}"));
        chrono::DateTime::parse_from_rfc3339(at)
            .unwrap_or_else(|e| panic!("`at` is not RFC 3339 ({e}): {line}"));
        assert!(v["type"].is_string(), "{line}");
    }
    let printed: String = watch.seen.iter().map(|l| format!("{l}\n")).collect();
    let recorded = std::fs::read_to_string(record).unwrap();
    assert_eq!(recorded, printed, "the record file differs from stdout");
    assert_no_secret("stdout", &printed, secrets);
    assert_no_secret("stderr", &watch.stderr(), secrets);
}

/// A config for `cluster` in a temp dir, and `watch --probes --record` started on it.
fn start_watch(cluster: &Cluster) -> (tempfile::TempDir, PathBuf, PathBuf, Rotascope) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rotascope.toml");
    write_config(&config, &cluster.nodes(), PW_A);
    let record = dir.path().join("trail.ndjson");
    let watch = Rotascope::spawn(
        &[
            "watch",
            "--config",
            config.to_str().unwrap(),
            "--probes",
            "--record",
            record.to_str().unwrap(),
        ],
        dir.path(),
    );
    (dir, config, record, watch)
}

#[test]
fn a_rotation_a_config_edit_and_sighup_are_streamed_until_sigterm() {
    let cluster = Cluster::start();
    let (_dir, config, record, mut watch) = start_watch(&cluster);
    let [master, replica] = cluster.nodes();

    // Given a healthy cluster: the first line is the first config, then both nodes come up ok.
    let first = watch.expect("a first line", WITHIN, |_| true);
    let v = json(&first);
    assert_eq!(v["type"], "config_applied", "{first}");
    assert_eq!(v["generation"], 1);
    assert_eq!(v["nodes"], 2);
    assert_eq!(v["candidates"], 4);
    watch.expect_all(
        WITHIN,
        vec![
            want("the master ok", health(&master, "ok")),
            want("the replica ok", health(&replica, "ok")),
        ],
    );
    let probe = watch.expect("a probe line", WITHIN, is(|v| v["type"] == "probe"));
    let v = json(&probe);
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "type",
            "at",
            "island",
            "node",
            "index",
            "login",
            "fingerprint",
            "label",
            "mode",
            "outcome",
            "latency_ms",
            "generation"
        ]),
        "{probe}"
    );
    assert_eq!(v["island"], 0);
    assert!(v["mode"] == "chain" || v["mode"] == "audit", "{probe}");
    assert!(
        v["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{probe}"
    );

    // When app_a's password rotates in the database (the winner's login) ...
    cluster
        .runtime
        .block_on(cluster.master.set_password("app_a", PW_A_NEW))
        .unwrap();
    // ... then the master's chain probe fails with it and wins with app_b: degraded.
    let (m1, m2, m3, m4) = (
        master.clone(),
        master.clone(),
        master.clone(),
        master.clone(),
    );
    watch.expect_all(
        WITHIN,
        vec![
            want("app_a refused", move |v| {
                v["type"] == "probe"
                    && v["node"] == m1.as_str()
                    && v["login"] == "app_a"
                    && v["outcome"] == "auth_failed"
            }),
            want("app_a invalid", move |v| {
                v["type"] == "candidate_changed"
                    && v["node"] == m2.as_str()
                    && v["candidate"]["login"] == "app_a"
                    && v["to"] == "invalid"
            }),
            want("the winner moves to app_b", move |v| {
                v["type"] == "winner_changed"
                    && v["node"] == m3.as_str()
                    && v["from"]["login"] == "app_a"
                    && v["to"]["login"] == "app_b"
            }),
            want("the master degraded", health(&m4, "degraded")),
        ],
    );

    // When the config catches up (an edit the file watch picks up): generation 2, ok again.
    write_config(&config, &cluster.nodes(), PW_A_NEW);
    watch.expect(
        "generation 2",
        WITHIN,
        is(|v| v["type"] == "config_applied" && v["generation"] == 2),
    );
    watch.expect("the master ok again", WITHIN, is(health(&master, "ok")));

    // SIGHUP reloads: a manual reload always publishes a new generation.
    watch.signal(libc::SIGHUP);
    watch.expect(
        "generation 3",
        WITHIN,
        is(|v| v["type"] == "config_applied" && v["generation"] == 3),
    );

    watch.signal(libc::SIGTERM);
    let status = watch.wait(WITHIN);
    assert_eq!(status.code(), Some(0), "stderr: {}", watch.stderr());
    check_output(&watch, &record, &cluster.secrets());
}

#[test]
fn sigint_exits_0_with_the_record_complete() {
    let cluster = Cluster::start();
    let (_dir, _config, record, mut watch) = start_watch(&cluster);
    let [master, _] = cluster.nodes();
    watch.expect("the master ok", WITHIN, is(health(&master, "ok")));
    watch.signal(libc::SIGINT);
    let status = watch.wait(WITHIN);
    assert_eq!(status.code(), Some(0), "stderr: {}", watch.stderr());
    assert_eq!(json(&watch.seen[0])["type"], "config_applied");
    check_output(&watch, &record, &cluster.secrets());
}
