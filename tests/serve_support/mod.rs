//! For the `serve` tests: `rotascope serve` and `prometheus` as child processes, polling with a
//! deadline (HTTP goes through `rotascope::serve::client`).

#![allow(dead_code)] // each test crate uses its own part of it

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli_lab_support::Rotascope;
use rotascope::serve::client::{encode, get};

/// Polls `probe` every 100 ms until it returns `Some`, panicking with `what` after `within`.
pub fn until<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A loopback port free right now (for a server that cannot be told to pick one itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `rotascope serve --config CONFIG --listen 127.0.0.1:0 EXTRA...` and returns it with
/// the address it printed.
pub fn start_serve(
    config: &Path,
    cwd: &Path,
    extra: &[&str],
    within: Duration,
) -> (Rotascope, SocketAddr) {
    let mut args = vec![
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let mut serve = Rotascope::spawn(&args, cwd);
    let line = serve.expect("the listening line", within, |l| {
        l.starts_with("serving http://")
    });
    let addr = line
        .strip_prefix("serving http://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (serve, addr)
}

/// The value of the first sample line of `metrics` starting with `series` (name and labels as
/// written, e.g. `rotascope_config_generation{shard="0/1"}`).
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

/// A `prometheus` server on a free loopback port, killed (and its data dir removed with `dir`)
/// on drop.
pub struct Prometheus {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Prometheus {
    /// Writes `config` into `dir/prometheus.yml` and starts the server on it; waits for
    /// `/-/ready`. Panics, with its log, when the binary is missing or not ready in `within`.
    pub fn start(dir: &Path, config: &str, within: Duration) -> Prometheus {
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = dir.join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `prometheus` ({e}): install it (scripts/test does: apt-get install prometheus)")
            });
        let mut p = Prometheus { child, addr, log };
        until("prometheus ready", within, || {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("prometheus exited ({status}): {}", p.log());
            }
            let ready = TcpStream::connect(p.addr).is_ok() && get(p.addr, "/-/ready").status == 200;
            ready.then_some(())
        });
        p
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/v1/PATH?QUERY` as JSON; panics unless `"status": "success"`.
    pub fn api(&self, path: &str, query: &[(&str, &str)]) -> serde_json::Value {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let target = format!("/api/v1/{path}?{}", q.join("&"));
        let res = get(self.addr, &target);
        let v: serde_json::Value = serde_json::from_str(&res.body)
            .unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {}", res.body));
        assert_eq!(v["status"], "success", "{target}: {v}");
        v
    }

    /// An instant query's result vector.
    pub fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let v = self.api("query", &[("query", expr)]);
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
