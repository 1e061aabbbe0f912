//! `rotascope report` against real rotations: the lab rotates passwords (both schemes) while
//! `watch --record` runs; the report's episodes must match the lab's own log of when it changed
//! the database and the secrets file. And a node whose every password changed while its secrets
//! never caught up must give exit 2 with that window. A `[state]` file keeps fingerprints (and
//! the remembered best) across a restart of `watch`.
//!
//! "Within one probe interval": the lab probes every second (audits too), and an interval
//! carries up to 20% jitter, so an episode may begin up to 1.2 s after the change it follows;
//! [`SLACK`] adds the probe itself and the file watch's debounce on a loaded machine.

mod cli_lab_support;

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cli_lab_support::{assert_no_secret, Rotascope};
use rotascope::lab::driver::{DemoSettings, Driver, Scheme, Shape};
use rotascope::lab::Lab;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Generous: the machine is shared, and a first probe includes SCRAM in a debug build.
const WITHIN: Duration = Duration::from_secs(60);

/// The lab's probe interval (`Intervals::for_lag`) with its jitter.
const INTERVAL: Duration = Duration::from_millis(1200);

/// Time for the probe itself and the file watch's debounce (200 ms).
const SLACK: Duration = Duration::from_millis(600);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// Runs `rotascope report ARGS`; returns its exit code, stdout and stderr.
fn report(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .arg("report")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

fn three_rotations(scheme: Scheme) {
    let rt = runtime();
    // The lab's log: each note with the time it was written, right after the change it tells.
    let (log_tx, log) = mpsc::channel::<(DateTime<Utc>, String)>();
    let settings = DemoSettings {
        shape: Shape {
            islands: 1,
            replicas: 1,
        },
        scheme,
        rotate_every: Duration::from_secs(6),
        config_lag: Duration::from_secs(2),
        failover_every: None,
        pooler: None,
    };
    let driver = rt
        .block_on(Driver::start(
            Lab::new().unwrap(),
            settings,
            Box::new(move |line| {
                let _ = log_tx.send((Utc::now(), line.to_owned()));
            }),
        ))
        .unwrap();
    let config = driver.config_path();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("trail.ndjson");
    let mut watch = Rotascope::spawn(
        &[
            "watch",
            "--config",
            config.to_str().unwrap(),
            "--record",
            record.to_str().unwrap(),
            "--heartbeat",
            "1s",
        ],
        dir.path(),
    );
    // Given both nodes healthy
    for _ in 0..2 {
        watch.expect("a node ok", WITHIN, |l| {
            let v = json(l);
            v["type"] == "health_changed" && v["to"] == "ok"
        });
    }
    // When the lab rotates three times
    let shutdown = CancellationToken::new();
    let (_commands, receiver) = tokio::sync::mpsc::channel(1);
    let running = rt.spawn(driver.run(receiver, shutdown.clone()));
    let mut notes: Vec<(DateTime<Utc>, String)> = Vec::new();
    let last_step = match scheme {
        Scheme::Alternating => "rotation 3: secrets.json now lists",
        Scheme::Single => "rotation 3: secrets.json now lists app (current)\u{0}",
    };
    loop {
        let (at, line) = log
            .recv_timeout(WITHIN)
            .unwrap_or_else(|_| panic!("the lab's third rotation; log so far: {notes:?}"));
        let done = format!("{line}\u{0}").starts_with(last_step);
        notes.push((at, line));
        if done {
            break;
        }
    }
    for n in 1..=3 {
        watch.expect(&format!("rotation {n} finished"), WITHIN, |l| {
            let v = json(l);
            v["type"] == "rotation_finished" && v["episode"] == n
        });
    }
    watch.signal(libc::SIGTERM);
    assert_eq!(watch.wait(WITHIN).code(), Some(0), "{}", watch.stderr());
    shutdown.cancel();
    rt.block_on(running).unwrap();

    // Then the report has three episodes whose windows match the lab's log, no outage: exit 1
    let (code, out, err) = report(&[record.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let p = json(&out);
    assert_eq!(p["verdict"], "degraded");
    assert_eq!(p["outages"]["items"].as_array().unwrap().len(), 0, "{out}");
    assert_eq!(p["gaps"]["items"].as_array().unwrap().len(), 0, "{out}");
    let episodes = p["episodes"]["items"].as_array().unwrap();
    assert_eq!(episodes.len(), 3, "{out}");
    for (i, e) in episodes.iter().enumerate() {
        let no = i + 1;
        let steps: Vec<DateTime<Utc>> = notes
            .iter()
            .filter(|(_, l)| l.starts_with(&format!("rotation {no}: ")))
            .map(|(at, _)| *at)
            .collect();
        let (first, last) = (steps[0], *steps.last().unwrap());
        assert_eq!(e["status"], "finished", "{e}");
        assert_eq!(e["outcome"], "completed", "{e}");
        assert_eq!(e["outages"], 0, "{e}");
        let (started, ended) = (time(&e["started"]), time(&e["ended"]));
        let within = (INTERVAL + SLACK).as_secs_f64();
        // The note is written once every master took the change: a probe may see it a moment
        // before the note.
        let early = secs(started - first);
        assert!(
            (-SLACK.as_secs_f64()..=within).contains(&early),
            "rotation {no} began {early} s after the lab's first change ({notes:?}): {e}"
        );
        let late = secs(ended - last);
        assert!(
            (-SLACK.as_secs_f64()..=within).contains(&late),
            "rotation {no} ended {late} s after the lab's last change ({notes:?}): {e}"
        );
        assert_eq!(e["nodes_degraded"], 2, "{e}");
        eprintln!(
            "{scheme:?} rotation {no}: began {early:+.3} s, ended {late:+.3} s from the lab's log"
        );
    }

    // The text and HTML forms say the same, with the exit code.
    let (code, text, _) = report(&[record.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(text.contains("verdict: DEGRADED (exit 1)"), "{text}");
    assert!(text.contains("rotation 3 "), "{text}");
    let html = dir.path().join("report.html");
    let (code, _, _) = report(&[
        record.to_str().unwrap(),
        "--format",
        "html",
        "--output",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let html = std::fs::read_to_string(html).unwrap();
    roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("well-formed");
}

#[test]
fn three_alternating_rotations_are_three_episodes_matching_the_lab_log() {
    three_rotations(Scheme::Alternating);
}

#[test]
fn three_single_login_rotations_are_three_episodes_matching_the_lab_log() {
    three_rotations(Scheme::Single);
}

const PW_A: &str = "report-test-A-first-4Fq";
const PW_B: &str = "report-test-B-first-8Wz";

fn write_config(path: &Path, nodes: &[String]) {
    let islands: Vec<String> = nodes.iter().map(|n| format!("[\"{n}\"]")).collect();
    let text = format!(
        "islands = [{}]\n\
         [[secrets]]\nlogin = \"app_a\"\npassword = \"{PW_A}\"\n\
         [[secrets]]\nlogin = \"app_b\"\npassword = \"{PW_B}\"\n\
         [probe]\ninterval = \"500ms\"\naudit_interval = \"1s\"\nconnect_timeout = \"2s\"\n\
         timeout = \"5s\"\n\
         [reload]\ninterval = \"1h\"\n\
         [state]\nfile = \"state.json\"\n",
        islands.join(", ")
    );
    std::fs::write(path, text).unwrap();
}

/// The fingerprints the `candidate_changed` lines of a run name, by login.
fn fingerprints(lines: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = lines
        .iter()
        .map(|l| json(l))
        .filter(|v| v["type"] == "candidate_changed")
        .map(|v| {
            (
                v["candidate"]["login"].as_str().unwrap().to_owned(),
                v["candidate"]["fingerprint"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn a_node_locked_out_is_exit_2_with_its_window_and_state_survives_a_restart() {
    let rt = runtime();
    // Given two islands, each one master with app_a and app_b, and a config with a state file
    let (lab, a, b) = rt.block_on(async {
        let lab = Lab::new().unwrap();
        let a = lab.start_server(Default::default()).await.unwrap();
        let b = lab.start_server(Default::default()).await.unwrap();
        for s in [&a, &b] {
            s.create_database("app").await.unwrap();
            s.create_role("app_a", PW_A).await.unwrap();
            s.create_role("app_b", PW_B).await.unwrap();
        }
        (lab, a, b)
    });
    let nodes = [a.conn_string("app"), b.conn_string("app")];
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rotascope.toml");
    write_config(&config, &nodes);
    let ok = |l: &str| {
        let v = json(l);
        v["type"] == "health_changed" && v["to"] == "ok"
    };

    // A first run, stopped: the state file exists, 0600, without a password
    let mut first = Rotascope::spawn(&["watch", "--config", config.to_str().unwrap()], dir.path());
    first.expect("a node ok", WITHIN, ok);
    first.expect("a node ok", WITHIN, ok);
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait(WITHIN).code(), Some(0), "{}", first.stderr());
    let state = dir.path().join("state.json");
    let meta = std::fs::metadata(&state).expect("the state file");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&state).unwrap();
    let mut secrets = vec![PW_A.to_owned(), PW_B.to_owned()];
    secrets.push(lab.superuser_password().expose().to_owned());
    assert_no_secret("the state file", &text, &secrets);
    assert!(text.contains("\"remembered\":[{"), "{text}");

    // A live report of a few seconds of a healthy cluster: exit 0
    let (code, out, err) = report(&[
        "--live",
        "--for",
        "3s",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let p = json(&out);
    assert_eq!(p["verdict"], "ok", "{out}");
    assert_eq!(p["source"], "live");
    assert_eq!(p["nodes"].as_array().unwrap().len(), 2, "{out}");
    assert!(p["input"]["heartbeats"].as_u64().unwrap() >= 2, "{out}");

    // A second run, recorded: the same fingerprints as the first
    let record = dir.path().join("trail.ndjson");
    let mut watch = Rotascope::spawn(
        &[
            "watch",
            "--config",
            config.to_str().unwrap(),
            "--record",
            record.to_str().unwrap(),
            "--heartbeat",
            "1s",
        ],
        dir.path(),
    );
    watch.expect("a node ok", WITHIN, ok);
    watch.expect("a node ok", WITHIN, ok);
    let (before, after) = (fingerprints(&first.seen), fingerprints(&watch.seen));
    let common: Vec<_> = after
        .iter()
        .filter(|(login, _)| before.iter().any(|(l, _)| l == login))
        .collect();
    assert!(!common.is_empty(), "{before:?} {after:?}");
    assert!(
        common.iter().all(|c| before.contains(c)),
        "{before:?} {after:?}"
    );

    // When every password of island 1's master changes and the secrets never catch up
    rt.block_on(async {
        b.set_password("app_a", "report-test-A-rotated-1")
            .await
            .unwrap();
        b.set_password("app_b", "report-test-B-rotated-1")
            .await
            .unwrap();
    });
    let changed = Utc::now();
    watch.expect("island 1 down", WITHIN, |l| {
        let v = json(l);
        v["type"] == "health_changed" && v["island"] == 1 && v["to"] == "down"
    });
    // A few heartbeats with the node down.
    for _ in 0..3 {
        watch.expect("a heartbeat", WITHIN, |l| json(l)["type"] == "heartbeat");
    }
    watch.signal(libc::SIGTERM);
    assert_eq!(watch.wait(WITHIN).code(), Some(0), "{}", watch.stderr());

    // Then the report exits 2 and names that node's window, still open when the record ends
    let (code, out, err) = report(&[record.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 2, "{out}\n{err}");
    let p = json(&out);
    assert_eq!(p["verdict"], "outage");
    let outages = p["outages"]["items"].as_array().unwrap();
    assert_eq!(outages.len(), 1, "{out}");
    let o = &outages[0];
    assert_eq!(o["island"], 1);
    assert_eq!(o["node"], nodes[1].as_str());
    assert_eq!(o["ongoing"], true);
    let from = secs(time(&o["from"]) - changed);
    assert!(
        (-0.2..=(INTERVAL + SLACK).as_secs_f64()).contains(&from),
        "the outage began {from} s after the change: {o}"
    );
    assert_eq!(time(&o["to"]), time(&p["to"]));
    let (code, text, _) = report(&[record.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(code, 2);
    assert!(text.contains("**Verdict: outage** (exit 2)"), "{text}");
    assert_no_secret("the report", &text, &secrets);
    drop((a, b, lab));
}
