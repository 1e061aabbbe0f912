//! `rotascope check` against real PostgreSQL, through the real binary: each exit code, the JSON
//! contract of issue 3 with its types, and no password on stdout or stderr, ever (also for
//! `config check`).

mod support;

use std::path::Path;
use std::process::Output;

use rotascope::lab::ServerOptions;
use serde_json::Value;
use support::{assert_no_secret, lab_server, secret, ConfigFile, Settings};

const GOOD: &str = "accept-cli-good-Xc4v7b";
const STALE: &str = "accept-cli-stale-Pn2m9k";
const BROKEN: &str = "accept-cli-broken-Lq5w3t";
const ALL: [&str; 3] = [GOOD, STALE, BROKEN];

/// Runs the binary with `args` in `cwd`, away from any config of the machine running the tests.
async fn rotascope(args: &[&str], cwd: &Path) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(args)
        .current_dir(cwd)
        .env("XDG_CONFIG_HOME", cwd.join("xdg"))
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run rotascope")
}

/// `rotascope --config FILE ARGS...`, with both streams scanned for every test password.
async fn run(file: &ConfigFile, args: &[&str]) -> (Option<i32>, String, String) {
    let mut full = vec!["--config", file.path().to_str().expect("utf-8 path")];
    full.extend_from_slice(args);
    let out = rotascope(&full, file.dir()).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_secret(&format!("stdout of {args:?}"), &stdout, &ALL);
    assert_no_secret(&format!("stderr of {args:?}"), &stderr, &ALL);
    (out.status.code(), stdout, stderr)
}

/// A compact config for `url` with these secrets.
fn config(url: &str, secrets: &[(&str, &str, &str)]) -> String {
    let mut text = format!(
        "islands = [[\"{url}\"]]\n\n{}",
        Settings {
            shard_pattern: Some("sh%04d"),
            ..Settings::default()
        }
        .toml()
    );
    for (login, password, label) in secrets {
        text.push_str(&secret(login, password, label));
    }
    text
}

fn parse(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Fails unless `v[key]` exists and satisfies `ok` (the JSON type check), naming the path.
fn field<'a>(v: &'a Value, path: &str, key: &str, ok: fn(&Value) -> bool) -> &'a Value {
    let f = v
        .get(key)
        .unwrap_or_else(|| panic!("{path}.{key} is missing in {v}"));
    assert!(ok(f), "{path}.{key} has the wrong type: {f}");
    f
}

fn string(v: &Value) -> bool {
    v.is_string()
}
fn string_or_null(v: &Value) -> bool {
    v.is_string() || v.is_null()
}
fn number_or_null(v: &Value) -> bool {
    v.is_number() || v.is_null()
}
fn index(v: &Value) -> bool {
    v.is_u64()
}
fn one_of(v: &Value, names: &[&str]) -> bool {
    v.as_str().is_some_and(|s| names.contains(&s))
}

/// Checks every contract field of issue 3 and its type:
/// `{"status", "generated_at", "config": {"path"}, "islands": [{"no", "warnings": [...],
/// "shards": [...] | null, "nodes": [{"name", "address", "role", "health",
/// "winner": {"index", "login"} | null, "latency_ms", "candidates": [{"index", "login", "label",
/// "fingerprint", "state", "error": {"kind", "sqlstate", "message"} | null, "latency_ms"}]}]}],
/// "summary": {...}}`.
fn assert_contract(doc: &Value) {
    field(doc, "", "status", |v| {
        one_of(v, &["ok", "degraded", "down"])
    });
    let at = field(doc, "", "generated_at", string);
    chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("generated_at {at}: {e}"));
    let config = field(doc, "", "config", Value::is_object);
    field(config, "config", "path", string);
    field(doc, "", "summary", Value::is_object);
    let islands = field(doc, "", "islands", Value::is_array);
    for island in islands.as_array().into_iter().flatten() {
        field(island, "island", "no", index);
        let warnings = field(island, "island", "warnings", Value::is_array);
        assert!(warnings.as_array().into_iter().flatten().all(|w| one_of(
            w,
            &[
                "no_master",
                "split_brain",
                "session_attrs_unmet",
                "shard_conflict"
            ]
        )));
        let shards = field(island, "island", "shards", |v| v.is_array() || v.is_null());
        assert!(shards
            .as_array()
            .into_iter()
            .flatten()
            .all(Value::is_string));
        let nodes = field(island, "island", "nodes", Value::is_array);
        for node in nodes.as_array().into_iter().flatten() {
            field(node, "node", "name", string);
            field(node, "node", "address", string);
            field(node, "node", "role", |v| {
                one_of(v, &["master", "replica", "unknown"])
            });
            field(node, "node", "health", |v| {
                one_of(v, &["ok", "degraded", "down", "unknown"])
            });
            let winner = field(node, "node", "winner", |v| v.is_object() || v.is_null());
            if winner.is_object() {
                field(winner, "winner", "index", index);
                field(winner, "winner", "login", string);
            }
            field(node, "node", "latency_ms", number_or_null);
            let candidates = field(node, "node", "candidates", Value::is_array);
            for c in candidates.as_array().into_iter().flatten() {
                field(c, "candidate", "index", index);
                field(c, "candidate", "login", string);
                field(c, "candidate", "label", string_or_null);
                field(c, "candidate", "fingerprint", string);
                field(c, "candidate", "state", |v| {
                    one_of(
                        v,
                        &["valid", "invalid", "unreachable", "untested", "skipped"],
                    )
                });
                let error = field(c, "candidate", "error", |v| v.is_object() || v.is_null());
                if error.is_object() {
                    field(error, "error", "kind", string);
                    field(error, "error", "sqlstate", string_or_null);
                    field(error, "error", "message", string);
                }
                field(c, "candidate", "latency_ms", number_or_null);
            }
        }
    }
}

/// Runs `check` (table, then JSON) on `file`: both must exit `code`; returns the JSON document,
/// its contract checked.
async fn check(file: &ConfigFile, code: i32) -> Value {
    let (got, table, stderr) = run(file, &["check"]).await;
    assert_eq!(got, Some(code), "{table}\n{stderr}");
    let (got, json, stderr) = run(file, &["check", "--format", "json"]).await;
    assert_eq!(got, Some(code), "{json}\n{stderr}");
    let doc = parse(&json);
    assert_contract(&doc);
    doc
}

/// The first node of the first island.
fn first_node(doc: &Value) -> &Value {
    &doc["islands"][0]["nodes"][0]
}

/// Exit 0 when all is well, 1 with one stale secret, 2 with the server stopped, 3 for a config
/// that does not load; the JSON of each checked case honours the contract.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_by_verdict_with_the_json_contract() {
    let pg = lab_server(ServerOptions::default()).await;
    pg.create_role("app", GOOD).await.expect("app");
    pg.create_schema("postgres", "sh0001")
        .await
        .expect("schema");
    let url = pg.conn_string("postgres");

    // All ok: exit 0, table and JSON.
    let ok = ConfigFile::new(&config(&url, &[("app", GOOD, "current")]));
    let doc = check(&ok, 0).await;
    assert_eq!(doc["status"], "ok");
    assert_eq!(doc["config"]["path"], ok.path().display().to_string());
    assert_eq!(doc["islands"][0]["shards"], serde_json::json!(["sh0001"]));
    let n = first_node(&doc);
    assert_eq!((&n["role"], &n["health"]), (&"master".into(), &"ok".into()));
    assert_eq!(n["winner"]["index"], 0);
    assert_eq!(n["winner"]["login"], "app");
    assert!(n["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{n}");
    assert_eq!(n["candidates"][0]["state"], "valid");
    assert!(n["candidates"][0]["error"].is_null());

    // One stale secret: degraded, exit 1; its error is in the JSON.
    let degraded = ConfigFile::new(&config(
        &url,
        &[("app", GOOD, "current"), ("app", STALE, "previous")],
    ));
    let doc = check(&degraded, 1).await;
    assert_eq!(doc["status"], "degraded");
    let n = first_node(&doc);
    assert_eq!(n["health"], "degraded");
    assert_eq!(n["winner"]["index"], 0);
    let stale = &n["candidates"][1];
    assert_eq!(stale["state"], "invalid");
    assert_eq!(stale["label"], "previous");
    assert_eq!(stale["error"]["kind"], "auth_failed");
    assert_eq!(stale["error"]["sqlstate"], "28P01");
    assert_ne!(stale["fingerprint"], n["candidates"][0]["fingerprint"]);

    // A config that does not load (a TOML error on a line holding a password): exit 3.
    let broken = ConfigFile::new(&format!(
        "islands = [[\"{url}\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"{BROKEN}\n"
    ));
    for args in [
        &["check"][..],
        &["check", "--format", "json"],
        &["config", "check"],
    ] {
        let (code, stdout, stderr) = run(&broken, args).await;
        assert_eq!(code, Some(3), "{args:?}: {stdout}\n{stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains("rotascope.toml"), "{args:?}: {stderr}");
    }
    let unknown_key = ConfigFile::new(&format!(
        "islands = [[\"{url}\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"{BROKEN}\"\nlable = \"x\"\n"
    ));
    let (code, _, stderr) = run(&unknown_key, &["check"]).await;
    assert_eq!(code, Some(3), "{stderr}");

    // The server stops: down, exit 2.
    pg.stop().await.expect("stop");
    let doc = check(&ok, 2).await;
    assert_eq!(doc["status"], "down");
    let n = first_node(&doc);
    assert_eq!(n["health"], "down");
    assert!(n["winner"].is_null() && n["latency_ms"].is_null(), "{n}");
    let error = &n["candidates"][0]["error"];
    assert_eq!(error["kind"], "refused");
    assert!(error["sqlstate"].is_null());
}

/// `config check` on a lab config prints the topology (logins, labels, fingerprints) and no
/// password, inline or embedded in a URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_on_a_lab_config_prints_no_password() {
    let pg = lab_server(ServerOptions::default()).await;
    pg.create_role("app", GOOD).await.expect("app");
    let with_password = pg.url("app", STALE, "postgres");
    let text = format!(
        "islands = [[\"{}\"], [\"{with_password}\"]]\n\n{}{}{}",
        pg.conn_string("postgres"),
        Settings::default().toml(),
        secret("app", GOOD, "current"),
        secret("app", BROKEN, "next"),
    );
    let file = ConfigFile::new(&text);
    let (code, stdout, stderr) = run(&file, &["config", "check"]).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    for word in ["app", "current", "next", &pg.port().to_string()] {
        assert!(stdout.contains(word), "{word} missing from: {stdout}");
    }
    // And the check of that config says the same without a password: two islands of one
    // server, each node degraded by the `next` secret the database does not have yet.
    check(&file, 1).await;
}

/// A server that accepts connections and never answers: `check` still ends, within about one
/// `probe.timeout` per node (not per candidate), with exit 2 and kind `timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_a_hung_server_ends_with_exit_2() {
    let hung = rotascope::lab::HungServer::start()
        .await
        .expect("hung server");
    let file = ConfigFile::new(&config(
        &hung.conn_string("postgres"),
        &[("app", GOOD, "current"), ("app", STALE, "previous")],
    ));
    let doc = tokio::time::timeout(support::PATIENCE, check(&file, 2))
        .await
        .expect("check must not hang on a hung server");
    let n = first_node(&doc);
    assert_eq!(n["candidates"][0]["error"]["kind"], "timeout");
    assert_eq!(n["candidates"][1]["state"], "skipped");
    // Two runs (table and JSON), one connection each: never one per candidate.
    assert_eq!(hung.accepted(), 2, "connections to the hung server");
}
