//! How config loading scales with the number of secrets (release build): the cost every reload
//! pays, since a reload re-reads and rebuilds everything.
//!
//! Run: `cargo bench --bench config` (add `-- --quick` for the small sizes only, or
//! `-- --sizes 10000,40000` for chosen ones).
//!
//! Each case writes a config with one island of two nodes (compact form) and a `secrets_file`
//! of N secrets (distinct logins and passwords), then times `config::load::load_with` over it:
//! the whole path a reload takes (file reads, JSON, redaction list, candidates, de-duplication).
//! Every node gets one candidate per secret, so N secrets are 2·N candidates. A further case
//! times the same N secrets from `secrets_command` (`cat` of the file), which adds the bounded
//! pipe reading. The figure to watch is µs per secret: flat means linear. (60,000 secrets of this
//! shape are 3.7 MB, near the 4 MiB limit of a secrets file or a command's output.)
//!
//! A hand-rolled harness like `benches/engine.rs`. Under `cargo test --all-targets` (no `--bench`
//! argument) it runs one tiny case to prove the bench works.

use std::path::Path;
use std::time::{Duration, Instant};

use rotascope::config::load::{load_with, LoadOptions};

fn write_case(dir: &Path, secrets: usize, via_command: bool) -> std::path::PathBuf {
    let mut json = String::with_capacity(secrets * 64);
    json.push('[');
    for i in 0..secrets {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            "{{\"login\":\"app_{i}\",\"password\":\"pw-{i:08}-x9Qz\",\"label\":\"l{}\"}}\n",
            i % 7
        ));
    }
    json.push(']');
    std::fs::write(dir.join("secrets.json"), json).expect("write secrets");
    let source = if via_command {
        "secrets_command = [\"cat\", \"secrets.json\"]"
    } else {
        "secrets_file = \"secrets.json\""
    };
    let config = format!(
        "islands = [[\"postgres://db-a:5432/app\", \"postgres://db-b:5432/app\"]]\n{source}\n"
    );
    let path = dir.join("rotascope.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

/// The median of `rounds` loads of the config at `path`.
fn time_load(rt: &tokio::runtime::Runtime, path: &Path, rounds: usize) -> Duration {
    let options = LoadOptions::with_env([("PATH", std::env::var("PATH").unwrap_or_default())]);
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let config = rt
            .block_on(load_with(path, &options))
            .expect("the config loads");
        times.push(started.elapsed());
        assert!(config.topology.nodes().count() == 2);
    }
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let benching = args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "--quick");
    let chosen: Option<Vec<usize>> = args
        .iter()
        .position(|a| a == "--sizes")
        .and_then(|i| args.get(i + 1))
        .map(|list| {
            list.split(',')
                .map(|n| n.trim().parse().expect("--sizes takes numbers"))
                .collect()
        });
    let sizes: &[usize] = if let Some(chosen) = &chosen {
        chosen
    } else if !benching {
        &[200]
    } else if quick {
        &[1_000, 5_000]
    } else {
        &[1_000, 5_000, 10_000, 20_000, 40_000, 60_000]
    };
    let rounds = if benching { 3 } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("config load, 1 island × 2 nodes, N secrets (median of {rounds})");
    println!(
        "{:>8}  {:>8}  {:>12}  {:>10}",
        "secrets", "source", "load", "µs/secret"
    );
    for &n in sizes {
        for via_command in [false, true] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = write_case(dir.path(), n, via_command);
            let t = time_load(&rt, &path, rounds);
            println!(
                "{n:>8}  {:>8}  {:>10.1}ms  {:>10.2}",
                if via_command { "command" } else { "file" },
                t.as_secs_f64() * 1e3,
                t.as_secs_f64() * 1e6 / n as f64
            );
        }
    }
}
