//! Connection-string parsing must be linear in the string's length (issue 14 item 4: a 64 KiB
//! URL password of `@` characters once took over 25 s and 2.2 GiB to load).
//!
//! Run: `cargo bench --bench conninfo`. For growing sizes, it times
//! - `conninfo::parse` of `postgres://app:<N x @>@db/app` (and a `key=value` string with an
//!   N-byte quoted password),
//! - a whole config load (`config::load::load_with`) of a file holding that URL: the loader
//!   also masks passwords in the file's text, so this covers every pass over the string.
//!
//! Linear means the time per KiB stays flat as N doubles. A hand-rolled harness like the other
//! benches; under `cargo test --all-targets` it runs the smallest size once to prove it works.

use std::time::{Duration, Instant};

use rotascope::config::load::{load_with, LoadOptions};
use rotascope::conninfo;

fn time<T>(rounds: u32, mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(f());
    }
    start.elapsed() / rounds
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if bench {
        &[4 * 1024, 16 * 1024, 64 * 1024, 256 * 1024 - 64]
    } else {
        &[1024]
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "{:>8}  {:>12} {:>10}  {:>12} {:>10}  {:>12} {:>10}",
        "bytes", "parse URL", "per KiB", "parse k=v", "per KiB", "load config", "per KiB"
    );
    for &n in sizes {
        let url = format!("postgres://app:{}@db/app", "@".repeat(n));
        let kv = format!("host=db user=app password='{}'", "@".repeat(n));
        let rounds = if bench { 20 } else { 1 };
        let parse_url = time(rounds, || conninfo::parse(&url).expect("parses"));
        let parse_kv = time(rounds, || conninfo::parse(&kv).expect("parses"));
        let path = dir.path().join("rotascope.toml");
        std::fs::write(&path, format!("islands = [[\"{url}\"]]\n")).expect("write");
        let options = LoadOptions::with_env(Vec::<(String, String)>::new());
        let load = time(if bench { 5 } else { 1 }, || {
            runtime.block_on(load_with(&path, &options)).expect("loads")
        });
        let per_kib = |d: Duration| d / u32::try_from(n / 1024).unwrap_or(1).max(1);
        println!(
            "{n:>8}  {:>12.3?} {:>10.3?}  {:>12.3?} {:>10.3?}  {:>12.3?} {:>10.3?}",
            parse_url,
            per_kib(parse_url),
            parse_kv,
            per_kib(parse_kv),
            load,
            per_kib(load)
        );
    }
}
