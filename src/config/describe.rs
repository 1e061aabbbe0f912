//! The normalized topology as text, for `rotascope config check`.
//!
//! Stable and readable: islands by `no`, nodes and candidates in config order, durations in
//! humantime form. It shows logins, labels and fingerprints, never a password; addresses are the
//! connection strings with any password removed. Fingerprints are keyed per process, so they are
//! stable within one run only. Candidates are numbered from 0 (`#0`, `#1`), the `index` that JSON
//! output, events and the screen use.
//!
//! ```text
//! config: /etc/rotascope/config.toml
//! watched files:
//!   /etc/rotascope/config.toml
//!   /etc/rotascope/secrets.json
//!
//! settings:
//!   probe.interval        = 2s
//!   probe.audit_interval  = 30s
//!   probe.connect_timeout = 3s
//!   probe.timeout         = 5s
//!   probe.concurrency     = 64
//!   reload.interval       = 10s
//!   reload.watch          = true
//!   shards.pattern        = (none)
//!
//! topology: 1 island, 2 nodes, 4 candidates
//!
//! island 0: 2 nodes
//!   node postgres://host-a/app
//!     address postgres://host-a/app (sslmode prefer)
//!     #0 login app  fingerprint 3f2a9c01  label current
//!     #1 login app  fingerprint 81be07d4  label previous
//!   node host=host-b port=5433 dbname=app
//!     ...
//! ```

use std::fmt::Write as _;

use crate::text::plural;
use crate::topology::{ConnTarget, Node};

use super::Config;

/// Renders `config` as the `config check` report (ends with a newline).
pub fn describe(config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "config: {}", config.path.display());
    out.push_str("watched files:\n");
    for f in &config.watched_files {
        let _ = writeln!(out, "  {}", f.display());
    }
    out.push('\n');
    settings(&mut out, config);
    out.push('\n');
    let islands = config.topology.islands.len();
    let nodes = config.topology.nodes().count();
    let candidates: usize = config.topology.nodes().map(|n| n.candidates.len()).sum();
    let _ = writeln!(
        out,
        "topology: {}, {}, {}",
        plural(islands, "island"),
        plural(nodes, "node"),
        plural(candidates, "candidate")
    );
    for island in &config.topology.islands {
        let _ = writeln!(
            out,
            "\nisland {}: {}",
            island.no,
            plural(island.nodes.len(), "node")
        );
        for node in &island.nodes {
            describe_node(&mut out, node);
        }
    }
    out
}

fn settings(out: &mut String, config: &Config) {
    let d = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let p = &config.probe;
    let rows = [
        ("probe.interval", d(p.interval)),
        ("probe.audit_interval", d(p.audit_interval)),
        ("probe.connect_timeout", d(p.connect_timeout)),
        ("probe.timeout", d(p.timeout)),
        ("probe.concurrency", p.concurrency.to_string()),
        ("reload.interval", d(config.reload.interval)),
        ("reload.watch", config.reload.watch.to_string()),
        (
            "shards.pattern",
            config
                .shards
                .pattern
                .as_ref()
                .map_or_else(|| "(none)".to_owned(), |p| format!("{p:?}")),
        ),
    ];
    out.push_str("settings:\n");
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:width$} = {v}");
    }
}

fn describe_node(out: &mut String, node: &Node) {
    let _ = writeln!(out, "  node {}", node.key.name);
    if let Some(first) = node.candidates.first() {
        let _ = writeln!(out, "    address {}", target_line(&first.target));
    }
    let login_width = node
        .candidates
        .iter()
        .map(|c| c.login.chars().count())
        .max()
        .unwrap_or(0);
    let first_target = node.candidates.first().map(|c| c.target.clone());
    for (i, c) in node.candidates.iter().enumerate() {
        let mut line = format!(
            "    #{i} login {:login_width$}  fingerprint {}",
            c.login, c.id.fingerprint
        );
        if let Some(label) = &c.label {
            let _ = write!(line, "  label {label}");
        }
        let elsewhere = first_target.as_ref().is_some_and(|t| **t != *c.target);
        match (&c.via, elsewhere) {
            (Some(via), true) => {
                let _ = write!(line, "  {} {}", via_text(via), target_line(&c.target));
            }
            (Some(via), false) => {
                let _ = write!(line, "  {}", via_text(via));
            }
            (None, true) => {
                let _ = write!(line, "  via {}", target_line(&c.target));
            }
            (None, false) => {}
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// A declared `via`: `via pgbouncer`, or `direct`.
fn via_text(via: &str) -> String {
    if via == "direct" {
        via.to_owned()
    } else {
        format!("via {via}")
    }
}

fn target_line(t: &ConnTarget) -> String {
    let mut s = format!("{} (sslmode {}", t.display, t.tls.mode.as_str());
    if let Some(ca) = &t.tls.root_cert {
        let _ = write!(s, ", sslrootcert {}", ca.path.display());
    }
    s.push(')');
    s
}
