//! The normalized topology, for `rotascope config check`: as text ([`describe`]) and as JSON
//! ([`describe_json`], a documented contract).
//!
//! Stable and readable: islands by `no`, nodes and candidates in config order, durations in
//! humantime form. Every node shows the target its connection string resolved to (host or
//! socket, port, database, TLS, deadlines, authentication, `target_session_attrs`) and where
//! each setting came from (`string`, `service file`, `default`, `env VAR`, or a config key). It
//! shows logins, labels and fingerprints, never a password; addresses are the connection strings
//! with any password removed, and the whole output is masked with every known password besides.
//! Fingerprints are keyed per process, so they are stable within one run only. Candidates are
//! numbered from 0 (`#0`, `#1`), the `index` that JSON output, events and the screen use.
//!
//! ```text
//! config: /etc/rotascope/config.toml
//! watched files:
//!   /etc/rotascope/config.toml
//!
//! settings:
//!   probe.interval        = 2s
//!   ...
//!
//! topology: 1 island, 2 nodes, 3 candidates
//!
//! island 0: 2 nodes
//!   node db1:5432
//!     address     host=db1 port=5432 dbname=app target_session_attrs=primary
//!     from        host=db1,db2 dbname=app target_session_attrs=primary (one node per host)
//!     host        db1 (string)
//!     port        5432 (string)
//!     database    app (string)
//!     sslmode     prefer (default)
//!     deadlines   connect 3s (probe.connect_timeout), probe 5s (probe.timeout)
//!     auth        scram-sha-256 (default), channel_binding prefer (default)
//!     session     target_session_attrs primary (string)
//!     #0 login app  fingerprint 3f2a9c01  label current
//! ```

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::secret::redact_all;
use crate::text::plural;
use crate::topology::{ConnTarget, Endpoint, Node, SessionAttrs, Source, SslMode};

use super::{Config, ProbeSettings};

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
            describe_node(&mut out, node, &config.probe);
        }
    }
    redact_all(&out, config.topology.passwords())
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

fn describe_node(out: &mut String, node: &Node, probe: &ProbeSettings) {
    let _ = writeln!(out, "  node {}", node.key.name);
    let first = node.candidates.first().map(|c| c.target.clone());
    if let Some(t) = &first {
        for line in target_lines(t, probe) {
            let _ = writeln!(out, "    {line}");
        }
    }
    let login_width = node
        .candidates
        .iter()
        .map(|c| c.login.chars().count())
        .max()
        .unwrap_or(0);
    for (i, c) in node.candidates.iter().enumerate() {
        let mut line = format!(
            "    #{i} login {:login_width$}  fingerprint {}",
            c.login, c.id.fingerprint
        );
        if let Some(label) = &c.label {
            let _ = write!(line, "  label {label}");
        }
        if let Some(pf) = &c.target.provenance.passfile {
            let _ = write!(line, "  password from {}", pf.display());
        }
        let differs = first.as_ref().is_some_and(|t| **t != *c.target);
        match (&c.via, differs) {
            (Some(via), true) => {
                let _ = write!(line, "  {} {}", via_text(via), c.target.display);
            }
            (Some(via), false) => {
                let _ = write!(line, "  {}", via_text(via));
            }
            (None, true) => {
                let _ = write!(line, "  via {}", c.target.display);
            }
            (None, false) => {}
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if differs && first.as_ref().is_some_and(|t| !same_place(t, &c.target)) {
            for l in target_lines(&c.target, probe).into_iter().skip(1) {
                let _ = writeln!(out, "        {l}");
            }
        }
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

/// True when two targets differ only in where their password came from (nothing to repeat).
fn same_place(a: &ConnTarget, b: &ConnTarget) -> bool {
    let mut b = b.clone();
    b.provenance.passfile = a.provenance.passfile.clone();
    b.provenance.settings = a.provenance.settings.clone();
    *a == b
}

/// `value (source)`.
fn sourced(value: impl std::fmt::Display, t: &ConnTarget, setting: &str) -> String {
    match t.provenance.of(setting) {
        Some(s) => format!("{value} ({s})"),
        None => value.to_string(),
    }
}

/// The lines describing a target, `key value (source)`, the first being its address.
fn target_lines(t: &ConnTarget, probe: &ProbeSettings) -> Vec<String> {
    let mut rows: Vec<(&str, String)> = vec![("address", t.display.clone())];
    if let Some(from) = &t.from_string {
        rows.push(("from", format!("{from} (one node per host)")));
    }
    if let Some(f) = &t.provenance.service_file {
        rows.push(("service", f.display().to_string()));
    }
    match &t.endpoint {
        Endpoint::Tcp { host, addr, port } => {
            if let Some(h) = host {
                rows.push(("host", sourced(h, t, "host")));
            }
            if let Some(a) = addr {
                rows.push(("hostaddr", sourced(a, t, "host")));
            }
            rows.push(("port", sourced(port, t, "port")));
        }
        Endpoint::Unix { .. } => {
            let path = t.endpoint.to_string();
            let host = t.provenance.of("host").cloned().unwrap_or(Source::Default);
            let port = t.provenance.of("port").cloned().unwrap_or(Source::Default);
            rows.push((
                "socket",
                format!("{path} (directory: {host}, port: {port})"),
            ));
        }
    }
    rows.push(("database", sourced(&t.dbname, t, "dbname")));
    if t.endpoint.socket_path().is_some() {
        rows.push(("tls", "none (Unix socket)".into()));
    } else {
        rows.push(("sslmode", sourced(t.tls.mode.as_str(), t, "sslmode")));
        match &t.tls.root_cert {
            Some(f) => rows.push(("sslrootcert", sourced(f.path.display(), t, "sslrootcert"))),
            None if t.tls.mode.verifies() => rows.push((
                "sslrootcert",
                sourced("system (public roots)", t, "sslrootcert"),
            )),
            None => {}
        }
        if let Some(c) = &t.tls.client_cert {
            rows.push(("sslcert", sourced(c.cert_path.display(), t, "sslcert")));
            rows.push(("sslkey", sourced(c.key_path.display(), t, "sslkey")));
        }
        if let Some(c) = &t.tls.crl {
            rows.push(("sslcrl", sourced(c.path.display(), t, "sslcrl")));
        }
        if !t.tls.sni {
            rows.push(("sslsni", "0".into()));
        }
    }
    let dl = t.deadlines(probe.connect_timeout, probe.timeout);
    let d = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let connect_from = if dl.connect_from_string {
        "connect_timeout"
    } else {
        "probe.connect_timeout"
    };
    let probe_from = if dl.from_string {
        "connect_timeout"
    } else {
        "probe.timeout"
    };
    let mut deadlines = format!(
        "connect {} ({connect_from}), probe {} ({probe_from})",
        d(dl.connect),
        d(dl.probe)
    );
    if let Some(own) = t.connect_timeout {
        let _ = write!(
            deadlines,
            "; connect_timeout {}",
            sourced(d(own), t, "connect_timeout")
        );
    }
    rows.push(("deadlines", deadlines));
    let methods: Vec<&str> = t.auth.allowed.iter().map(|m| m.as_str()).collect();
    let mut auth = sourced(methods.join(", "), t, "allow_auth");
    if t.provenance.of("require_auth").is_some() {
        auth.push_str(" after require_auth");
    }
    let _ = write!(
        auth,
        ", channel_binding {}",
        sourced(t.auth.channel_binding.as_str(), t, "channel_binding")
    );
    rows.push(("auth", auth));
    if t.session_attrs != SessionAttrs::Any {
        rows.push((
            "session",
            format!(
                "target_session_attrs {}",
                sourced(t.session_attrs.as_str(), t, "target_session_attrs")
            ),
        ));
    }
    let mut startup = Vec::new();
    if let Some(a) = &t.application_name {
        startup.push(format!("application_name={a}"));
    }
    if let Some(o) = &t.options {
        startup.push(format!("options={o}"));
    }
    if let Some(e) = &t.client_encoding {
        startup.push(format!("client_encoding={e}"));
    }
    if !startup.is_empty() {
        rows.push(("startup", startup.join(", ")));
    }
    for n in &t.provenance.notes {
        rows.push(("note", n.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.into_iter()
        .map(|(k, v)| format!("{k:width$} {v}"))
        .collect()
}

/// `config check --format json`: the same as [`describe`], as one JSON document.
///
/// ```json
/// {
///   "config": "/etc/rotascope/config.toml",
///   "watched_files": ["/etc/rotascope/config.toml"],
///   "settings": { "probe": { "interval": "2s", ... }, "reload": { ... }, "shards": { "pattern": null } },
///   "islands": [ { "no": 0, "nodes": [ {
///     "name": "db1:5432", "address": "host=db1 port=5432 ...",
///     "candidates": [ { "index": 0, "login": "app", "fingerprint": "3f2a9c01", "label": "current",
///                       "password_from": null, "via": "pgbouncer" | null, "target": { ... } } ] } ] } ]
/// }
/// ```
/// The README documents every field of `target`.
pub fn describe_json(config: &Config) -> Value {
    let islands: Vec<Value> = config
        .topology
        .islands
        .iter()
        .map(|island| {
            let nodes: Vec<Value> = island
                .nodes
                .iter()
                .map(|node| {
                    let candidates: Vec<Value> = node
                        .candidates
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            json!({
                                "index": i,
                                "login": c.login,
                                "fingerprint": c.id.fingerprint.to_string(),
                                "label": c.label,
                                "password_from": c.target.provenance.passfile.as_ref().map(|p| format!("passfile:{}", p.display())),
                                "via": c.via,
                                "target": target_json(&c.target, &config.probe),
                            })
                        })
                        .collect();
                    json!({
                        "name": &*node.key.name,
                        "address": node.address,
                        "candidates": candidates,
                    })
                })
                .collect();
            json!({ "no": island.no, "nodes": nodes })
        })
        .collect();
    let doc = json!({
        "config": config.path.display().to_string(),
        "watched_files": config.watched_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "settings": settings_json(config),
        "islands": islands,
    });
    // Defence in depth: every string in the document is masked with every known password.
    let mut doc = doc;
    mask(&mut doc, config);
    doc
}

/// The settings as the config file writes them (durations as humantime strings).
fn settings_json(config: &Config) -> Value {
    let d = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let p = &config.probe;
    json!({
        "probe": {
            "interval": d(p.interval),
            "audit_interval": d(p.audit_interval),
            "connect_timeout": d(p.connect_timeout),
            "timeout": d(p.timeout),
            "concurrency": p.concurrency,
        },
        "reload": {
            "interval": d(config.reload.interval),
            "watch": config.reload.watch,
        },
        "shards": { "pattern": config.shards.pattern },
    })
}

fn mask(v: &mut Value, config: &Config) {
    match v {
        Value::String(s) => *s = redact_all(s, config.topology.passwords()),
        Value::Array(items) => items.iter_mut().for_each(|i| mask(i, config)),
        Value::Object(map) => map.values_mut().for_each(|i| mask(i, config)),
        _ => {}
    }
}

fn target_json(t: &ConnTarget, probe: &ProbeSettings) -> Value {
    let (transport, host, hostaddr, socket) = match &t.endpoint {
        Endpoint::Tcp { host, addr, .. } => {
            ("tcp", host.clone(), addr.map(|a| a.to_string()), None)
        }
        Endpoint::Unix { .. } => (
            "unix",
            None,
            None,
            t.endpoint.socket_path().map(|p| p.display().to_string()),
        ),
    };
    let unix = socket.is_some();
    let rootcert = match &t.tls.root_cert {
        Some(f) => Some(f.path.display().to_string()),
        None if t.tls.mode.verifies() => Some("system".to_owned()),
        None => None,
    };
    let dl = t.deadlines(probe.connect_timeout, probe.timeout);
    let d = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let sources: serde_json::Map<String, Value> = t
        .provenance
        .settings
        .iter()
        .map(|(k, s)| {
            (
                (*k).to_owned(),
                serde_json::to_value(s).unwrap_or(Value::Null),
            )
        })
        .collect();
    json!({
        "transport": transport,
        "host": host,
        "hostaddr": hostaddr,
        "socket": socket,
        "port": t.endpoint.port(),
        "database": t.dbname,
        "sslmode": if unix { SslMode::Disable.as_str() } else { t.tls.mode.as_str() },
        "sslrootcert": rootcert,
        "sslcert": t.tls.client_cert.as_ref().map(|c| c.cert_path.display().to_string()),
        "sslkey": t.tls.client_cert.as_ref().map(|c| c.key_path.display().to_string()),
        "sslcrl": t.tls.crl.as_ref().map(|c| c.path.display().to_string()),
        "sslsni": t.tls.sni,
        "connect_timeout": t.connect_timeout.map(d),
        "deadlines": {
            "connect": d(dl.connect),
            "probe": d(dl.probe),
            "probe_from": if dl.from_string { "connect_timeout" } else { "probe.timeout" },
        },
        "allow_auth": t.auth.allowed,
        "channel_binding": t.auth.channel_binding,
        "target_session_attrs": t.session_attrs,
        "application_name": t.application_name,
        "options": t.options,
        "client_encoding": t.client_encoding,
        "display": t.display,
        "from_string": t.from_string,
        "service_file": t.provenance.service_file.as_ref().map(|p| p.display().to_string()),
        "sources": sources,
        "notes": t.provenance.notes,
    })
}
