//! A node listed by a pooler's port and its own in the config (explicit form): one node, a
//! candidate per path even with the same login and password, `via` naming the path, shown by
//! `config check`; a bad `via` is a clear error.

use std::path::Path;

use rotascope::config::describe::{describe, describe_json};
use rotascope::config::load::{load_with, LoadOptions};

const PW: &str = "pooled-Config-0001";

async fn load(text: &str) -> Result<rotascope::config::Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rotascope.toml");
    std::fs::write(&path, text).unwrap();
    let options = LoadOptions::with_env(Vec::<(String, String)>::new());
    load_with(Path::new(&path), &options)
        .await
        .map_err(|e| e.to_string())
}

fn node_entry(url: &str, via: Option<&str>) -> String {
    let mut s = format!(
        "[[island.node]]\nname = \"db1\"\nurl = \"{url}\"\nlogin = \"app\"\npassword = \"{PW}\"\n"
    );
    if let Some(via) = via {
        s.push_str(&format!("via = \"{via}\"\n"));
    }
    s.push('\n');
    s
}

#[tokio::test]
async fn the_same_secret_by_two_paths_is_two_candidates_of_one_node() {
    let text = format!(
        "[[island]]\nno = 0\n\n{}{}{}",
        node_entry("postgres://db1:5432/app", Some("direct")),
        node_entry("postgres://db1:6432/app", Some("pgbouncer")),
        // The same entry again is dropped: same address, login and password.
        node_entry("postgres://db1:6432/app", Some("pgbouncer")),
    );
    let config = load(&text).await.unwrap();
    let nodes: Vec<_> = config.topology.nodes().collect();
    assert_eq!(nodes.len(), 1);
    let c = &nodes[0].candidates;
    assert_eq!(c.len(), 2, "one candidate per path");
    assert_ne!(c[0].id, c[1].id);
    assert_eq!(c[0].id.fingerprint, c[1].id.fingerprint);
    assert_eq!(&*c[0].id.address, "postgres://db1:5432/app");
    assert_eq!(&*c[1].id.address, "postgres://db1:6432/app");
    assert_eq!(c[0].via.as_deref(), Some("direct"));
    assert_eq!(c[1].via.as_deref(), Some("pgbouncer"));

    let shown = describe(&config);
    assert!(!shown.contains(PW), "{shown}");
    let lines: Vec<&str> = shown.lines().filter(|l| l.contains(" login app")).collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(lines[0].ends_with("  direct"), "{shown}");
    assert!(
        lines[1].ends_with("  via pgbouncer postgres://db1:6432/app"),
        "{shown}"
    );
    let json = describe_json(&config);
    let cands = &json["islands"][0]["nodes"][0]["candidates"];
    assert_eq!(cands[0]["via"], "direct");
    assert_eq!(cands[1]["via"], "pgbouncer");
}

#[tokio::test]
async fn a_bad_via_names_its_key_and_what_is_expected() {
    for bad in ["", "pg bouncer", "x".repeat(33).as_str(), "a\"b"] {
        let text = format!(
            "[[island]]\nno = 0\n\n{}",
            node_entry("postgres://db1:6432/app", Some(bad)).replace("\"a\"b\"", "'a\"b'")
        );
        let err = load(&text).await.unwrap_err();
        assert!(err.contains("island[0].node[0].via"), "{bad:?}: {err}");
        assert!(err.contains("pgbouncer"), "{bad:?}: {err}");
        assert!(!err.contains(PW), "{err}");
    }
}
