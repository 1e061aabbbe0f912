//! A real Prometheus scraping `rotascope serve` on a lab: through Prometheus's own HTTP API, a
//! rotation shows as a rise of the failed-authentication counter, the node's health series going
//! degraded then ok again, and a test alert rule firing then resolving. The shipped alert rules
//! load into it, and every query of the shipped Grafana dashboard runs on it.
//!
//! Short intervals keep it quick: scrape and rule evaluation every second, probes every 200 ms.

mod cli_lab_support;
mod serve_support;

use std::time::Duration;

use cli_lab_support::TwoLogins;
use serde_json::Value;
use serve_support::{start_serve, until, Prometheus};

const WITHIN: Duration = Duration::from_secs(45);

const PW_A: &str = "prom-test-A-first-6Hv";
const PW_A_NEW: &str = "prom-test-A-second-1Qs";
const PW_B: &str = "prom-test-B-only-5Jc";

fn write_config(path: &std::path::Path, node: &str, pw_a: &str) {
    let text = format!(
        "islands = [[\"{node}\"]]\n\
         [[secrets]]\nlogin = \"app_a\"\npassword = \"{pw_a}\"\nlabel = \"current\"\n\
         [[secrets]]\nlogin = \"app_b\"\npassword = \"{PW_B}\"\nlabel = \"previous\"\n\
         [probe]\ninterval = \"200ms\"\naudit_interval = \"1s\"\n\
         [reload]\ninterval = \"1h\"\nwatch = true\n"
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The first sample's value of a result vector.
fn value(result: &[Value]) -> Option<f64> {
    result.first()?["value"][1].as_str()?.parse().ok()
}

/// The alerts Prometheus holds now, as (name, state).
fn alerts(p: &Prometheus) -> Vec<(String, String)> {
    let v = p.api("alerts", &[]);
    v["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let name = a["labels"]["alertname"].as_str().unwrap().to_owned();
            (name, a["state"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn prometheus_sees_a_rotation_degrade_a_node_and_an_alert_fire_and_resolve() {
    let cluster = TwoLogins::start(PW_A, PW_B, false);
    let master = &cluster.master;
    let node = master.conn_string("app");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rotascope.toml");
    write_config(&config, &node, PW_A);
    let (mut serve, addr) = start_serve(&config, dir.path(), &[], WITHIN);

    let rules = dir.path().join("test.rules.yml");
    std::fs::write(
        &rules,
        "groups:\n\
         - name: rotascope-test\n\
         \x20 rules:\n\
         \x20 - alert: RotascopeTestDegraded\n\
         \x20   expr: max without (instance) (rotascope_node_health{health=\"degraded\"}) == 1\n",
    )
    .unwrap();
    let shipped = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/prometheus/rotascope.rules.yml"
    );
    let prometheus = Prometheus::start(
        dir.path(),
        &format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}\n\
             rule_files: [\"{}\", \"{shipped}\"]\n\
             scrape_configs:\n\
             - job_name: rotascope\n\
             \x20 static_configs: [{{targets: [\"{addr}\"]}}]\n",
            rules.display()
        ),
        WITHIN,
    );
    let p = &prometheus;
    let health = |h: &str| {
        value(&p.query(&format!(
            "rotascope_node_health{{job=\"rotascope\",node=\"{node}\",health=\"{h}\"}}"
        )))
    };
    let chain_auth_failures = || {
        value(&p.query(
            "sum(rotascope_auth_failures_total{job=\"rotascope\",mode=\"chain\",login=\"app_a\"})",
        ))
    };

    // Given the node ok as Prometheus sees it, with no failed authentication.
    until("the node ok in Prometheus", WITHIN, || {
        (health("ok") == Some(1.0)).then_some(())
    });
    assert_eq!(chain_auth_failures(), Some(0.0));
    assert!(value(&p.query("up{job=\"rotascope\"}")) == Some(1.0));
    let groups = p.api("rules", &[]);
    let names: Vec<&str> = groups["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"rotascope") && names.contains(&"rotascope-test"),
        "{names:?}"
    );

    // When app_a's password rotates in the database (app_a is the winner) ...
    cluster
        .runtime
        .block_on(master.set_password("app_a", PW_A_NEW))
        .unwrap();
    // ... then the failed-auth counter rises, the node is degraded, the test alert fires.
    until("failed authentications in Prometheus", WITHIN, || {
        chain_auth_failures().filter(|n| *n >= 1.0)
    });
    until("the node degraded in Prometheus", WITHIN, || {
        (health("degraded") == Some(1.0) && health("ok") == Some(0.0)).then_some(())
    });
    until("the test alert firing", WITHIN, || {
        alerts(p)
            .contains(&("RotascopeTestDegraded".into(), "firing".into()))
            .then_some(())
    });

    // When the config catches up: ok again, and the alert resolves.
    write_config(&config, &node, PW_A_NEW);
    until("the node ok again in Prometheus", WITHIN, || {
        (health("ok") == Some(1.0) && health("degraded") == Some(0.0)).then_some(())
    });
    until("the test alert resolved", WITHIN, || {
        (!alerts(p)
            .iter()
            .any(|(name, _)| name == "RotascopeTestDegraded"))
        .then_some(())
    });
    // The series' own history: ok, then degraded, then ok.
    let series = p.api(
        "query",
        &[(
            "query",
            &format!("rotascope_node_health{{node=\"{node}\",health=\"degraded\"}}[5m]"),
        )],
    );
    let values: Vec<&str> = series["data"]["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[1].as_str().unwrap())
        .collect();
    let first_one = values
        .iter()
        .position(|v| *v == "1")
        .expect("a degraded sample");
    assert!(values[..first_one].contains(&"0"), "{values:?}");
    assert_eq!(values.last(), Some(&"0"), "{values:?}");
    let fired = p.query(
        "count_over_time(ALERTS{alertname=\"RotascopeTestDegraded\",alertstate=\"firing\"}[5m])",
    );
    assert!(value(&fired).is_some_and(|n| n >= 1.0), "{fired:?}");

    // Every query of the shipped dashboard runs on a real Prometheus.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/grafana/rotascope.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$shard", ".*")
                .replace("$__rate_interval", "10s");
            p.api("query", &[("query", &expr)]);
        }
    }

    serve.signal(libc::SIGTERM);
    assert_eq!(serve.wait(WITHIN).code(), Some(0), "{}", serve.stderr());
}
