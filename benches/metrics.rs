//! What `/metrics` costs, and whether scraping it disturbs probing.
//!
//! Run: `cargo bench --bench metrics` (add `-- --quick` for shorter phases).
//!
//! 1. **Render**: `report::metrics::render` of a 1,000-node × 2-candidate snapshot (500 islands
//!    of a master and a replica), built by the real engine (`check_once`) over the scripted
//!    fake prober, so every node has a health, a role, a winner and its candidates' validity,
//!    and replicas a lag; the tally holds a histogram for every (mode, outcome), the worst case.
//!    Both formats, and two naming styles: named nodes (`db-0042-a`) and nodes named by their
//!    connection string (`postgres://db-0042-a.prod.example.internal:5432/app`, the compact
//!    config's default). Time per render (what a scrape pays, the snapshot and tally copies
//!    included; median and p95 of many) and bytes.
//! 2. **Cadence under scrapes**: the engine runs 1,000 nodes × 2 candidates (fake prober, 2 ms
//!    per probe, `probe.interval` 1 s) with `serve`'s HTTP server on loopback, on a 2-worker
//!    runtime like the binary's on this machine, through three phases: no scrapes, a scrape
//!    every second (what Prometheus does, far more often than usual), and scrapes back to back
//!    (a stress far beyond any scraper). For each phase: every node's real interval between
//!    chain probes (from the feed's probe records; median, p99, max), and the scrapes' own
//!    latency. Unchanged intervals mean scraping does not hold up probing.
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it runs a tiny case of each part to
//! prove the bench works; it measures nothing then.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rotascope::clock::{SharedClock, SystemClock};
use rotascope::config::ConfigFeed;
use rotascope::engine::event::{ProbeMode, ProbeRecord, ProbeRecordOutcome};
use rotascope::engine::fake::{self, FakeProber};
use rotascope::engine::probe::{Lsn, Role, WalPosition};
use rotascope::engine::{check_once, Engine, ErrorKind, Feed, Snapshot};
use rotascope::report::metrics::{render, tally, Exposition, Tally};
use rotascope::serve::{client, router, SharedTally, Sources};
use rotascope::shard::Shard;
use rotascope::topology::IslandNo;
use tokio_util::sync::CancellationToken;

/// How a node is named.
#[derive(Clone, Copy, Debug)]
enum Naming {
    Short,
    ConnString,
}

fn name(naming: Naming, island: usize, replica: bool) -> String {
    let which = if replica { 'b' } else { 'a' };
    match naming {
        Naming::Short => format!("db-{island:04}-{which}"),
        Naming::ConnString => {
            format!("postgres://db-{island:04}-{which}.prod.example.internal:5432/app")
        }
    }
}

/// A fake cluster of `islands` × (master + replica), each node with `app_a` and `app_b`.
fn cluster(islands: usize, naming: Naming) -> (FakeProber, rotascope::topology::Topology) {
    let prober = FakeProber::new();
    let mut nodes = Vec::new();
    for i in 0..islands {
        for replica in [false, true] {
            let n = name(naming, i, replica);
            prober.server(&n, if replica { Role::Replica } else { Role::Master });
            prober
                .password(&n, "app_a", "bench-a")
                .password(&n, "app_b", "bench-b");
            prober.update(&n, |s| {
                s.latency = Duration::from_millis(2);
                s.wal = if replica {
                    WalPosition {
                        current: None,
                        receive: Some(Lsn(0x0300_0000)),
                        replay: Some(Lsn(0x0300_0000)),
                    }
                } else {
                    WalPosition {
                        current: Some(Lsn(0x0300_1000)),
                        receive: None,
                        replay: None,
                    }
                };
            });
            nodes.push(fake::node(
                i as u32,
                &n,
                &[("app_a", "bench-a"), ("app_b", "bench-b")],
            ));
        }
    }
    (prober, fake::topology(nodes))
}

/// A tally with every (mode, outcome) seen: the most histogram series there can be.
fn full_tally() -> Tally {
    let mut t = Tally::default();
    let outcomes = std::iter::once(ProbeRecordOutcome::Ok)
        .chain(ErrorKind::ALL.into_iter().map(ProbeRecordOutcome::Failed));
    for outcome in outcomes {
        for mode in tally::MODES {
            for ms in [1, 4, 30] {
                t.record(&Feed::Probe(ProbeRecord {
                    at: DateTime::<Utc>::UNIX_EPOCH,
                    island: IslandNo(0),
                    node: "db-0000-a".into(),
                    index: 0,
                    login: "app_a".into(),
                    fingerprint: rotascope::secret::Fingerprint::with_key(b"bench", "app_a"),
                    label: None,
                    mode,
                    outcome,
                    latency: Duration::from_millis(ms),
                }));
            }
        }
    }
    t
}

/// Bytes per metric family (histogram series under their base name), largest first.
fn print_breakdown(body: &str) {
    let mut by_family: HashMap<&str, (usize, usize)> = HashMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        let entry = by_family.entry(family).or_default();
        entry.0 += line.len() + 1;
        entry.1 += 1;
    }
    let mut rows: Vec<_> = by_family.into_iter().collect();
    rows.sort_by_key(|(_, (bytes, _))| std::cmp::Reverse(*bytes));
    for (family, (bytes, lines)) in rows.iter().take(8) {
        println!("          {family:<40} {lines:>6} series {bytes:>9} bytes");
    }
}

/// CPU time of the calling thread (rendering is synchronous: this is its cost, whatever else
/// the machine runs).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct it is handed.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Part 1 for one naming: a table row per format.
async fn render_cost(islands: usize, naming: Naming, reps: usize) {
    let (prober, topology) = cluster(islands, naming);
    let config = fake::config(topology, fake::settings());
    let clock: SharedClock = Arc::new(SystemClock);
    let snapshot: Arc<Snapshot> = check_once(config, clock, prober).await;
    let s = snapshot.summary();
    let tally = full_tally();
    // A fleet member: the shard label costs the same bytes as "0/1".
    let shard = Shard::new(3, 8).expect("a shard");
    for format in [Exposition::Prometheus, Exposition::OpenMetrics] {
        let mut wall = Vec::with_capacity(reps);
        let mut cpu = Vec::with_capacity(reps);
        let mut body = String::new();
        for _ in 0..reps {
            let (started, cpu_started) = (Instant::now(), thread_cpu());
            body = render(snapshot.clone(), tally.clone(), shard, format);
            cpu.push(thread_cpu() - cpu_started);
            wall.push(started.elapsed());
            std::hint::black_box(&body);
        }
        wall.sort_unstable();
        cpu.sort_unstable();
        println!(
            "render  {:>5} nodes ({} ok) x 2  {:<11} {:<11}  cpu median {:>6.2} ms  p95 {:>6.2} ms  wall median {:>6.2} ms  {:>9} bytes ({:.2} MB), {} lines",
            s.nodes,
            s.ok,
            format!("{naming:?}"),
            format!("{format:?}"),
            ms(percentile(&cpu, 0.5)),
            ms(percentile(&cpu, 0.95)),
            ms(percentile(&wall, 0.5)),
            body.len(),
            body.len() as f64 / 1_000_000.0,
            body.lines().filter(|l| !l.starts_with('#')).count(),
        );
        if format == Exposition::Prometheus {
            print_breakdown(&body);
        }
    }
}

/// How scrapes are sent in a phase.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scrapes {
    None,
    EverySecond,
    BackToBack,
}

/// Part 2: the engine with the HTTP server, phase by phase.
async fn cadence(islands: usize, interval: Duration, phase: Duration) {
    let (prober, topology) = cluster(islands, Naming::Short);
    let mut settings = fake::settings();
    settings.interval = interval;
    settings.audit_interval = interval * 30;
    settings.concurrency = 64;
    settings.timeout = Duration::from_secs(5);
    let config = fake::config(topology, settings);
    let clock: SharedClock = Arc::new(SystemClock);
    let shutdown = CancellationToken::new();
    let (feed, _keep) = ConfigFeed::manual(config, clock.now());
    let engine = Engine::spawn(feed, clock, prober, shutdown.clone());
    let tally = SharedTally::default();
    let mut probes = engine.feed.subscribe();
    let tally_task = tally.spawn(
        engine.feed_from_start,
        engine.snapshots.clone(),
        shutdown.clone(),
    );
    let app = router(Sources {
        snapshots: engine.snapshots.clone(),
        tally,
        shard: Shard::ALL,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(rotascope::serve::serve(listener, app, shutdown.clone()));

    // Chain probe times per node, collected off the feed for the whole run.
    let collector = tokio::spawn(async move {
        let mut seen: Vec<(Instant, String)> = Vec::new();
        loop {
            match probes.recv().await {
                Ok(Feed::Probe(p)) if p.mode == ProbeMode::Chain => {
                    seen.push((Instant::now(), p.node))
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("cadence: the collector missed {n} feed items");
                }
                Err(_) => break,
            }
        }
        seen
    });

    // Warm up: every node probed a few times.
    tokio::time::sleep(interval * 3).await;
    let mut phases = Vec::new();
    for scrapes in [Scrapes::None, Scrapes::EverySecond, Scrapes::BackToBack] {
        let start = Instant::now();
        let latencies = tokio::task::spawn_blocking(move || scrape(addr, scrapes, phase))
            .await
            .unwrap();
        phases.push((scrapes, start, Instant::now(), latencies));
    }
    shutdown.cancel();
    let _ = server.await;
    let _ = tally_task.await;
    let _ = engine.task.await;
    // The last sender of the feed: the collector ends when it goes.
    drop(engine.feed);
    let seen = collector.await.unwrap();

    for (scrapes, start, end, mut latencies) in phases {
        let mut last: HashMap<&str, Instant> = HashMap::new();
        let mut intervals = Vec::new();
        for (at, node) in seen.iter().filter(|(at, _)| *at >= start && *at < end) {
            if let Some(prev) = last.insert(node, *at) {
                intervals.push(*at - prev);
            }
        }
        intervals.sort_unstable();
        latencies.sort_unstable();
        println!(
            "cadence {:>5} nodes, interval {:>5} ms, scrapes {:<12} chain interval median {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms ({} intervals)  scrape median {:>6.2} ms  p95 {:>6.2} ms  max {:>6.2} ms ({} scrapes)",
            islands * 2,
            interval.as_millis(),
            format!("{scrapes:?}"),
            ms(percentile(&intervals, 0.5)),
            ms(percentile(&intervals, 0.99)),
            ms(intervals.last().copied().unwrap_or_default()),
            intervals.len(),
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.95)),
            ms(latencies.last().copied().unwrap_or_default()),
            latencies.len(),
        );
    }
}

/// Scrapes `addr`'s `/metrics` for `phase` as `scrapes` says; returns each scrape's latency.
fn scrape(addr: SocketAddr, scrapes: Scrapes, phase: Duration) -> Vec<Duration> {
    let end = Instant::now() + phase;
    let mut latencies = Vec::new();
    if scrapes == Scrapes::None {
        std::thread::sleep(phase);
        return latencies;
    }
    while Instant::now() < end {
        let started = Instant::now();
        let res = client::get(addr, "/metrics");
        latencies.push(started.elapsed());
        assert_eq!(res.status, 200, "scrape: {}", res.body);
        if scrapes == Scrapes::EverySecond {
            let next = (started + Duration::from_secs(1)).min(end);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
    latencies
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let (bench, quick) = (flag("--bench"), flag("--quick"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        if bench {
            for naming in [Naming::Short, Naming::ConnString] {
                render_cost(500, naming, if quick { 50 } else { 300 }).await;
            }
            let phase = Duration::from_secs(if quick { 8 } else { 20 });
            cadence(500, Duration::from_secs(1), phase).await;
        } else {
            // Smoke pass under `cargo test`: proves the bench runs, measures nothing.
            render_cost(5, Naming::ConnString, 2).await;
            cadence(5, Duration::from_millis(200), Duration::from_millis(600)).await;
        }
    });
}
