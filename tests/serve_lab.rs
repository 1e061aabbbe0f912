//! `rotascope serve` against a real lab: every endpoint, readiness, reloads by SIGHUP and by
//! file, SIGTERM and SIGINT exit 0, `--shard` for serve, check and watch, and no password in
//! anything any endpoint (or the process) prints, during a rotation included.

mod cli_lab_support;
mod serve_support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use cli_lab_support::{assert_no_secret, Rotascope, TwoLogins};
use rotascope::lab::Server;
use rotascope::serve::client::{get, request};
use rotascope::shard::Shard;
use rotascope::topology::IslandNo;
use serve_support::{sample, start_serve, until};

/// Generous: the machine is shared, and a first probe includes SCRAM in a debug build.
const WITHIN: Duration = Duration::from_secs(30);

const PW_A: &str = "serve-test-A-first-4Tz";
const PW_A_NEW: &str = "serve-test-A-second-8Wq";
const PW_B: &str = "serve-test-B-only-2Pm";

/// The lab cluster, seen as many islands.
struct Cluster(TwoLogins);

impl Cluster {
    fn start() -> Self {
        Cluster(TwoLogins::start(PW_A, PW_B, true))
    }

    fn secrets(&self) -> Vec<String> {
        self.0.secrets(&[PW_A, PW_A_NEW, PW_B])
    }

    /// `islands` islands, each the master and the replica under names of their own (a query
    /// parameter tells them apart), so one real cluster stands for many.
    fn islands(&self, islands: u32) -> String {
        let node = |s: &Server, i: u32| {
            format!(
                "\"{}?application_name=rotascope-{i}\"",
                s.conn_string("app")
            )
        };
        (0..islands)
            .map(|i| {
                format!(
                    "[{}, {}]",
                    node(&self.0.master, i),
                    node(self.0.replica(), i)
                )
            })
            .collect::<Vec<_>>()
            .join(",\n  ")
    }
}

/// Writes the config atomically, with `app_a`'s password.
fn write_config(path: &Path, islands: &str, pw_a: &str) {
    let text = format!(
        "islands = [\n  {islands}\n]\n\
         [[secrets]]\nlogin = \"app_a\"\npassword = \"{pw_a}\"\nlabel = \"current\"\n\
         [[secrets]]\nlogin = \"app_b\"\npassword = \"{PW_B}\"\nlabel = \"previous\"\n\
         [probe]\ninterval = \"200ms\"\naudit_interval = \"1s\"\nconnect_timeout = \"2s\"\n\
         timeout = \"5s\"\n\
         [reload]\ninterval = \"1h\"\nwatch = true\n"
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn metrics(addr: SocketAddr) -> String {
    let res = get(addr, "/metrics");
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

fn snapshot(addr: SocketAddr) -> serde_json::Value {
    let res = get(addr, "/snapshot");
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/json"));
    serde_json::from_str(&res.body).expect("/snapshot is JSON")
}

/// Every endpoint's output (both metric formats), and every method on each, holds no password.
fn assert_endpoints_keep_secrets(addr: SocketAddr, secrets: &[String]) {
    let om = [("Accept", "application/openmetrics-text;version=1.0.0")];
    for path in ["/metrics", "/healthz", "/readyz", "/snapshot", "/nowhere"] {
        for (method, headers) in [("GET", &[][..]), ("GET", &om[..]), ("POST", &[][..])] {
            let res = request(addr, method, path, headers);
            assert_no_secret(&format!("{method} {path}"), &res.body, secrets);
            if method == "POST" {
                assert!(
                    res.status == 405 || res.status == 404,
                    "POST {path}: {}",
                    res.status
                );
            }
        }
    }
}

/// `promtool check metrics` (Prometheus's own linter of the text format) finds nothing.
fn promtool_lints_clean(text: &str) {
    use std::io::Write as _;
    let mut lint = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (scripts/test installs it: apt-get install prometheus)");
    lint.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn endpoints_follow_a_rotation_reloads_and_signals_without_a_password() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rotascope.toml");
    let islands = cluster.islands(1);
    write_config(&config, &islands, PW_A);
    let (mut serve, addr) = start_serve(&config, dir.path(), &[], WITHIN);
    let secrets = cluster.secrets();

    // Liveness at once; readiness once both nodes were probed.
    assert_eq!(get(addr, "/healthz").body, "ok\n");
    until("ready", WITHIN, || {
        (get(addr, "/readyz").status == 200).then_some(())
    });
    let text = metrics(addr);
    assert_eq!(
        sample(&text, "rotascope_config_generation{shard=\"0/1\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "rotascope_verdict{shard=\"0/1\",verdict=\"ok\"}"),
        Some(1.0)
    );
    promtool_lints_clean(&text);
    let v = snapshot(addr);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["summary"]["nodes"], 2);

    // A rotation: app_a's password changes in the database. The master's chain fails with it
    // (a failed authentication), wins with app_b: degraded; its error is in /snapshot.
    let lab = &cluster.0;
    lab.runtime
        .block_on(lab.master.set_password("app_a", PW_A_NEW))
        .unwrap();
    let degraded = until("a degraded node in /snapshot", WITHIN, || {
        let v = snapshot(addr);
        (v["status"] == "degraded").then_some(v)
    });
    assert!(degraded.to_string().contains("auth_failed"), "{degraded}");
    let text = metrics(addr);
    let failed = sample(
        &text,
        "rotascope_probes_total{shard=\"0/1\",mode=\"chain\",outcome=\"auth_failed\"}",
    );
    assert!(failed.is_some_and(|n| n >= 1.0), "{text}");
    assert_endpoints_keep_secrets(addr, &secrets);

    // The config catches up (the file watcher), then SIGHUP: generations 2 and 3, ok again.
    write_config(&config, &islands, PW_A_NEW);
    until("generation 2 and ok", WITHIN, || {
        let text = metrics(addr);
        let generation = sample(&text, "rotascope_config_generation{shard=\"0/1\"}");
        let ok = sample(&text, "rotascope_verdict{shard=\"0/1\",verdict=\"ok\"}");
        (generation == Some(2.0) && ok == Some(1.0)).then_some(())
    });
    serve.signal(libc::SIGHUP);
    until("generation 3", WITHIN, || {
        let text = metrics(addr);
        (sample(&text, "rotascope_config_reloads_total{shard=\"0/1\"}") == Some(2.0)).then_some(())
    });
    assert_endpoints_keep_secrets(addr, &secrets);

    serve.signal(libc::SIGTERM);
    let status = serve.wait(WITHIN);
    assert_eq!(status.code(), Some(0), "stderr: {}", serve.stderr());
    assert_no_secret("stdout", &serve.seen.join("\n"), &secrets);
    assert_no_secret("stderr", &serve.stderr(), &secrets);

    // SIGINT stops as cleanly.
    let (mut serve, addr) = start_serve(&config, dir.path(), &[], WITHIN);
    assert_eq!(get(addr, "/healthz").status, 200);
    serve.signal(libc::SIGINT);
    assert_eq!(
        serve.wait(WITHIN).code(),
        Some(0),
        "stderr: {}",
        serve.stderr()
    );
}

#[test]
fn a_shard_probes_its_islands_only_in_serve_check_and_watch() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rotascope.toml");
    write_config(&config, &cluster.islands(6), PW_A);
    let shard: Shard = "1/2".parse().unwrap();
    let mine: BTreeSet<u64> = (0..6u32)
        .filter(|&no| shard.keeps(IslandNo(no)))
        .map(u64::from)
        .collect();
    assert!(!mine.is_empty() && mine.len() < 6, "{mine:?}");

    let (mut serve, addr) = start_serve(&config, dir.path(), &["--shard", "1/2"], WITHIN);
    until("ready", WITHIN, || {
        (get(addr, "/readyz").status == 200).then_some(())
    });
    let v = snapshot(addr);
    let islands = |v: &serde_json::Value| -> BTreeSet<u64> {
        v["islands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["no"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(islands(&v), mine);
    let text = metrics(addr);
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.contains("shard=\"1/2\""), "{line}");
    }
    assert_eq!(
        sample(&text, "rotascope_islands{shard=\"1/2\"}"),
        Some(mine.len() as f64)
    );
    serve.signal(libc::SIGTERM);
    assert_eq!(serve.wait(WITHIN).code(), Some(0));

    // check: the same islands, and its verdict's exit code.
    let config_arg = config.to_str().unwrap();
    let mut check = Rotascope::spawn(
        &[
            "check", "--config", config_arg, "--format", "json", "--shard", "1/2",
        ],
        dir.path(),
    );
    assert_eq!(check.wait(WITHIN).code(), Some(0), "{}", check.stderr());
    let v: serde_json::Value = serde_json::from_str(&check.seen.join("\n")).unwrap();
    assert_eq!(islands(&v), mine);

    // watch: its first line counts this shard's nodes only.
    let mut watch = Rotascope::spawn(
        &["watch", "--config", config_arg, "--shard", "1/2"],
        dir.path(),
    );
    let first = watch.expect("config_applied", WITHIN, |_| true);
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["type"], "config_applied");
    assert_eq!(v["islands"], mine.len());
    assert_eq!(v["nodes"], 2 * mine.len());
    watch.signal(libc::SIGTERM);
    assert_eq!(watch.wait(WITHIN).code(), Some(0));
}
