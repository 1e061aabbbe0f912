//! `rotascope report` on a large recording: time and peak memory (release build).
//!
//! Run: `cargo bench --bench report` (1 GiB; `-- --size-mb 256` for another size).
//!
//! It writes a synthetic `watch --probes --record` file of the given size — 40 nodes on 4
//! islands, a probe line per node per second, a heartbeat per second, and an alternating-users
//! rotation every 20 s (refusal, failover, degraded, secrets change, ok, `rotation_started` /
//! `rotation_finished`), so about 22 hours per GiB — then runs the release binary's
//! `report --format json` on it, and on a file an eighth of the size, and prints the wall time,
//! the throughput and the child's peak resident memory (`wait4`'s `ru_maxrss`). Bounded memory
//! means the two peaks are about the same.
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it runs a 2 MiB smoke pass.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

const NODES: usize = 40;
const ISLANDS: usize = 4;
const CYCLE_S: i64 = 20;
const LAG_S: i64 = 3;

fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn node(n: usize) -> (usize, String) {
    (
        n % ISLANDS,
        format!("postgresql://db-{n:02}.example.internal:5432/app"),
    )
}

fn cand(login: &str, fp: u32, label: &str) -> String {
    format!(r#"{{"index":0,"login":"{login}","label":"{label}","fingerprint":"{fp:08x}"}}"#)
}

/// A record being written, and how much.
struct Out {
    w: BufWriter<File>,
    written: u64,
    lines: u64,
}

fn emit(out: &mut Out, line: String) -> std::io::Result<()> {
    out.written += line.len() as u64 + 1;
    out.lines += 1;
    out.w.write_all(line.as_bytes())?;
    out.w.write_all(b"\n")
}

/// Writes about `bytes` of recording to `path`; returns the lines written.
fn generate(path: &Path, bytes: u64) -> std::io::Result<u64> {
    let mut out = Out {
        w: BufWriter::with_capacity(1 << 20, File::create(path)?),
        written: 0,
        lines: 0,
    };
    let t0: DateTime<Utc> = "2026-11-28T00:00:00Z".parse().unwrap();
    emit(
        &mut out,
        format!(
            r#"{{"at":"{}","type":"config_applied","path":"rotascope.toml","generation":1,"islands":{ISLANDS},"nodes":{NODES},"candidates":{}}}"#,
            ts(t0),
            NODES * 2
        ),
    )?;
    // fingerprints of app_a and app_b
    let mut fp = [0x1000_0000u32, 0x2000_0000u32];
    let mut generation = 1u64;
    let mut cycle = 0i64;
    while out.written < bytes {
        let start = t0 + Duration::seconds(cycle * CYCLE_S);
        let rotated = (cycle % 2) as usize; // the login rotated this cycle
        let login = ["app_a", "app_b"][rotated];
        for s in 0..CYCLE_S {
            let at = start + Duration::seconds(s);
            for n in 0..NODES {
                let (island, name) = node(n);
                let at = at + Duration::milliseconds(n as i64 * 20);
                let refused = (1..LAG_S).contains(&s) && n % 2 == 0;
                emit(
                    &mut out,
                    format!(
                        r#"{{"type":"probe","at":"{}","island":{island},"node":"{name}","index":0,"login":"{login}","fingerprint":"{:08x}","label":"current","mode":"{}","outcome":"{}","latency_ms":3.25,"generation":{generation}}}"#,
                        ts(at),
                        fp[rotated],
                        if n % 2 == 0 { "chain" } else { "audit" },
                        if refused { "auth_failed" } else { "ok" }
                    ),
                )?;
            }
            emit(
                &mut out,
                format!(
                    r#"{{"type":"heartbeat","at":"{}","every_ms":1000,"nodes":{NODES},"ok":{NODES},"degraded":0,"down":0,"unknown":0,"generation":{generation}}}"#,
                    ts(at + Duration::milliseconds(900))
                ),
            )?;
            if s == 1 {
                let at = at + Duration::milliseconds(950);
                emit(
                    &mut out,
                    format!(
                        r#"{{"at":"{}","type":"rotation_started","episode":{},"trigger":"candidate_refused","island":0,"node":"{}","candidate":{},"generation":{generation}}}"#,
                        ts(at),
                        cycle + 1,
                        node(0).1,
                        cand(login, fp[rotated], "current")
                    ),
                )?;
                for n in 0..NODES {
                    let (island, name) = node(n);
                    let c = cand(login, fp[rotated], "current");
                    emit(
                        &mut out,
                        format!(
                            r#"{{"at":"{}","type":"candidate_changed","island":{island},"node":"{name}","candidate":{c},"from":"valid","to":"invalid","error":{{"kind":"auth_failed","sqlstate":"28P01","message":"password authentication failed"}},"generation":{generation}}}"#,
                            ts(at)
                        ),
                    )?;
                    emit(
                        &mut out,
                        format!(
                            r#"{{"at":"{}","type":"health_changed","island":{island},"node":"{name}","from":"ok","to":"degraded","cause":"{login} #0: auth_failed","generation":{generation}}}"#,
                            ts(at)
                        ),
                    )?;
                }
            }
            if s == LAG_S {
                generation += 1;
                let old = fp[rotated];
                fp[rotated] = fp[rotated].wrapping_add(1);
                emit(
                    &mut out,
                    format!(
                        r#"{{"at":"{}","type":"config_applied","path":"rotascope.toml","generation":{generation},"islands":{ISLANDS},"nodes":{NODES},"candidates":{}}}"#,
                        ts(at),
                        NODES * 2
                    ),
                )?;
                for n in 0..NODES {
                    let (island, name) = node(n);
                    emit(
                        &mut out,
                        format!(
                            r#"{{"at":"{}","type":"candidate_removed","island":{island},"node":"{name}","candidate":{},"generation":{generation}}}"#,
                            ts(at),
                            cand(login, old, "current")
                        ),
                    )?;
                    emit(
                        &mut out,
                        format!(
                            r#"{{"at":"{}","type":"candidate_added","island":{island},"node":"{name}","candidate":{},"generation":{generation}}}"#,
                            ts(at),
                            cand(login, fp[rotated], "current")
                        ),
                    )?;
                    emit(
                        &mut out,
                        format!(
                            r#"{{"at":"{}","type":"health_changed","island":{island},"node":"{name}","from":"degraded","to":"ok","cause":null,"generation":{generation}}}"#,
                            ts(at)
                        ),
                    )?;
                    emit(
                        &mut out,
                        format!(
                            r#"{{"at":"{}","type":"candidate_changed","island":{island},"node":"{name}","candidate":{},"from":"untested","to":"valid","error":null,"generation":{generation}}}"#,
                            ts(at + Duration::milliseconds(300)),
                            cand(login, fp[rotated], "current")
                        ),
                    )?;
                }
                emit(
                    &mut out,
                    format!(
                        r#"{{"at":"{}","type":"rotation_finished","episode":{},"trigger":"candidate_refused","started":"{}","ended":"{}","outcome":"completed","changed":[],"nodes_total":{NODES},"nodes_degraded":{NODES},"outages":0,"failed_auths":{{"chain":20,"audit":0}},"nodes":[],"generation":{generation}}}"#,
                        ts(at + Duration::milliseconds(1500)),
                        cycle + 1,
                        ts(start + Duration::milliseconds(1950)),
                        ts(at + Duration::milliseconds(300))
                    ),
                )?;
            }
        }
        cycle += 1;
    }
    out.w.flush()?;
    Ok(out.lines)
}

/// Runs the report on `path`; returns (wall seconds, peak RSS in KiB, exit code).
// The child is reaped by `wait4`, which also hands back its resource usage.
#[allow(clippy::zombie_processes)]
fn run_report(path: &Path) -> (f64, i64, i32) {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(["report", "--format", "json", "--output", "/dev/null"])
        .arg(path)
        .stdout(Stdio::null())
        .spawn()
        .expect("start rotascope");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel fills the structs given; `pid` is our own child, reaped here once.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4");
    let wall = started.elapsed().as_secs_f64();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (wall, usage.ru_maxrss, code)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let size_mb: u64 = args
        .iter()
        .position(|a| a == "--size-mb")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(if bench { 1024 } else { 2 });
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sizes = vec![size_mb];
    if bench && size_mb >= 64 {
        sizes.insert(0, size_mb / 8);
    }
    for mb in sizes {
        let path = dir.path().join(format!("record-{mb}.ndjson"));
        let started = Instant::now();
        let lines = generate(&path, mb << 20).expect("write the record");
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "wrote {:.0} MiB, {lines} lines, in {:.1} s",
            size as f64 / 1048576.0,
            started.elapsed().as_secs_f64()
        );
        let (wall, rss_kib, code) = run_report(&path);
        println!(
            "report of {:>5.0} MiB ({lines} lines): {wall:.1} s, {:.0} MiB/s, peak RSS {:.1} MiB, exit {code}",
            size as f64 / 1048576.0,
            size as f64 / 1048576.0 / wall,
            rss_kib as f64 / 1024.0
        );
        if code != 1 {
            eprintln!("expected exit 1 (degraded windows only), got {code}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
