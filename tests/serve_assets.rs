//! The Grafana dashboard and the Prometheus alert rules shipped in `assets/` ask only for what
//! `rotascope serve` exports, and the README documents every metric.
//!
//! PromQL is read by a small scanner, enough for these files: string literals, label matchers
//! `{...}`, grouping clauses `by (...)` and friends, and range selectors `[...]` are skipped; every
//! identifier left that is not a function or keyword is a metric name. (The Prometheus test runs
//! every dashboard query through a real Prometheus as well.)

use std::collections::BTreeSet;

use rotascope::report::metrics::{metric_names, Kind, FAMILIES};

const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "rate",
    "increase",
    "histogram_quantile",
    "vector",
    "absent",
    "label_values",
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
];

/// The metric names a PromQL expression selects.
fn metrics_in(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut last_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    i += 1;
                }
                i += 1;
            }
            '(' if [
                "by",
                "without",
                "on",
                "ignoring",
                "group_left",
                "group_right",
            ]
            .contains(&last_word.as_str()) =>
            {
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
                last_word.clear();
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // `$__rate_interval` and `$shard` are Grafana variables, not metrics.
                let variable = start > 0 && chars[start - 1] == '$';
                if !variable && !KEYWORDS.contains(&word.as_str()) && word != "Inf" {
                    out.insert(word.clone());
                }
                last_word = word;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                last_word.clear();
                i += 1;
            }
        }
    }
    out
}

/// What queries may select: every exported name, histograms with their series suffixes.
fn selectable() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = metric_names().into_iter().collect();
    for f in FAMILIES.iter().filter(|f| f.kind == Kind::Histogram) {
        for suffix in ["_bucket", "_sum", "_count"] {
            names.insert(format!("{}{suffix}", f.name()));
        }
    }
    names
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_scanner_finds_metrics_and_nothing_else() {
    let expr = r#"histogram_quantile(0.95, sum by (le, mode) (rate(a_bucket{x="b c", y=~"$s"}[$__rate_interval]))) + on(node) group_left max without (instance) (b_total) or vector(0)"#;
    let found: Vec<String> = metrics_in(expr).into_iter().collect();
    assert_eq!(found, ["a_bucket", "b_total"]);
}

/// Every PromQL expression of the dashboard: panel targets and templating queries.
fn dashboard_queries() -> Vec<String> {
    let text = read("assets/grafana/rotascope.json");
    let dash: serde_json::Value =
        serde_json::from_str(&text).expect("assets/grafana/rotascope.json is valid JSON");
    assert_eq!(dash["uid"], "rotascope");
    let panels = dash["panels"].as_array().expect("panels");
    let mut exprs = Vec::new();
    for p in panels {
        let title = p["title"].as_str().expect("every panel has a title");
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("{title}: no targets"));
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{title}: no expr"));
            exprs.push(expr.to_owned());
        }
    }
    for v in dash["templating"]["list"].as_array().expect("templating") {
        if let Some(q) = v["query"]["query"].as_str() {
            // Grafana's `label_values(METRIC, LABEL)`: the metric is the query.
            let inner = q
                .strip_prefix("label_values(")
                .expect("a label_values query");
            exprs.push(inner.split(',').next().unwrap().to_owned());
        }
    }
    exprs
}

#[test]
fn the_dashboard_is_json_whose_queries_use_exported_metrics_only() {
    let exported = selectable();
    let mut used = BTreeSet::new();
    for expr in dashboard_queries() {
        let metrics = metrics_in(&expr);
        assert!(!metrics.is_empty(), "selects no metric: {expr}");
        for m in metrics {
            assert!(
                exported.contains(&m),
                "`{m}` is not exported by rotascope: {expr}"
            );
            used.insert(m);
        }
    }
    // The issue's panels: verdict, per-credential validity, degraded windows, failed auths,
    // probe latency.
    for m in [
        "rotascope_verdict",
        "rotascope_candidate_valid",
        "rotascope_node_health",
        "rotascope_auth_failures_total",
        "rotascope_probe_duration_seconds_bucket",
    ] {
        assert!(used.contains(m), "the dashboard does not show {m}");
    }
}

#[test]
fn the_alert_rules_use_exported_metrics_and_up_only() {
    let mut exported = selectable();
    exported.insert("up".into());
    let rules = read("assets/prometheus/rotascope.rules.yml");
    let exprs: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .collect();
    assert!(exprs.len() >= 8, "{exprs:?}");
    for expr in exprs {
        for m in metrics_in(expr) {
            assert!(
                exported.contains(&m),
                "`{m}` is not exported by rotascope: {expr}"
            );
        }
    }
}

#[test]
fn the_readme_documents_every_metric() {
    let readme = read("README.md");
    for name in metric_names() {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README does not document {name}"
        );
    }
}
