//! How the engine scales with cluster size, the prober answering at once (release build), so the
//! figures are the engine's own cost, not PostgreSQL's.
//!
//! Run: `cargo bench --bench engine` (add `-- --quick` for fewer rounds, `-- --fake` to answer
//! with the scripted [`FakeProber`] instead of the bench's lock-free one).
//!
//! Each case runs the real [`Engine::spawn`] on a multi-thread runtime over N nodes of 2 candidates
//! each (both valid; the first node of each island is the master), `probe.concurrency` 64 and a
//! short `probe.interval`, until every node has finished a fixed number of chain probes (or a
//! deadline passes: a saturated engine is a result, not a failure). Measured from outside:
//! - probe results per second and CPU time per result (`getrusage`, whole process);
//! - snapshots seen per second on `snapshots.changed()` (a lower bound of those published: the
//!   watch channel keeps only the latest), and the delay from a snapshot's `generated_at` (stamped
//!   when the engine starts building it) to its arrival: build + publish + one wake-up;
//! - round time: the first round (every chain plus the first audit of every second candidate) and
//!   the mean of the following ones, against the ideal `interval × 1.1` (mean jitter);
//! - peak RSS (`VmHWM`): each case runs in a child process of its own so peaks do not carry over;
//! - the cost of `Snapshot::clone` (close to what building one costs) and of
//!   `report::write_check_json` on the last snapshot.
//!
//! The default prober is local to this bench because `FakeProber` logs every call in a `Vec`
//! behind one mutex: over a run at 5000 nodes that log alone grows by tens of MB and would be read
//! as engine memory. The engine code path is the same with either.
//!
//! A hand-rolled harness like `benches/probe.rs`: these are throughput figures over a bounded run,
//! which criterion's per-iteration model does not fit. Under `cargo test --all-targets` (no
//! `--bench` argument) it runs one tiny case (20 nodes, 3 rounds) to prove the bench works.

use std::collections::HashMap;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rotascope::clock::SystemClock;
use rotascope::config::{ConfigFeed, ProbeSettings};
use rotascope::engine::fake::{self, FakeProber};
use rotascope::engine::probe::{
    PhaseLatency, ProbeOutcome, ProbeRequest, ProbeSuccess, Prober, Role, Route, WalPosition,
};
use rotascope::engine::{Engine, Snapshot};
use rotascope::report::write_check_json;
use rotascope::topology::Node;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// How a child prints its figures, so the parent can find them among other output.
const RESULT_TAG: &str = "ENGINE-BENCH-CASE ";

/// Rounds are counted from each node's latency history, which keeps this many samples.
const MAX_ROUNDS: usize = rotascope::engine::snapshot::LATENCY_HISTORY;

/// One run of the engine.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Case {
    nodes: usize,
    islands: usize,
    interval_ms: u64,
    rounds: usize,
    /// Give up after this long (the figures then cover the rounds done).
    deadline_s: u64,
    /// Repetitions of the clone and JSON measurements.
    reps: usize,
    /// Answer with `FakeProber` instead of [`InstantProber`].
    fake: bool,
}

/// What one case measured.
#[derive(Debug, Serialize, Deserialize)]
struct Figures {
    case: Case,
    rounds_done: usize,
    elapsed_s: f64,
    results: u64,
    cpu_s: f64,
    snapshots_seen: u64,
    publish_lag_mean_ms: f64,
    publish_lag_p95_ms: f64,
    first_round_ms: f64,
    /// Mean of rounds 2.. (0 when fewer than two rounds finished).
    steady_round_ms: f64,
    /// `VmHWM` before the topology was built, and after the run (before the JSON part).
    base_rss_kb: u64,
    peak_rss_kb: u64,
    clone_mean_ms: f64,
    clone_p95_ms: f64,
    json_mean_ms: f64,
    json_p95_ms: f64,
    json_bytes: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    if let Some(at) = args.iter().position(|a| a == "--case") {
        return child(args.get(at + 1).map(String::as_str));
    }
    let (bench, quick, fake) = (flag("--bench"), flag("--quick"), flag("--fake"));
    let case = |nodes, islands, interval_ms, rounds| Case {
        nodes,
        islands,
        interval_ms,
        rounds,
        deadline_s: 180,
        reps: 20,
        fake,
    };
    let cases = match (bench, quick) {
        // Enough rounds to fill every node's latency history: the steady state, where a
        // snapshot costs the most.
        (true, false) => vec![
            case(100, 2, 100, MAX_ROUNDS),
            case(1000, 4, 100, MAX_ROUNDS),
            case(5000, 10, 100, MAX_ROUNDS),
            // The default interval: does 5000 keep up with it?
            case(5000, 10, 2000, 5),
        ],
        (true, true) => vec![
            case(100, 2, 100, 5),
            case(1000, 4, 100, 5),
            case(5000, 10, 100, 5),
            case(5000, 10, 2000, 3),
        ],
        // Smoke pass under `cargo test`: proves the bench works, measures nothing.
        (false, _) => vec![Case {
            deadline_s: 30,
            reps: 2,
            ..case(20, 2, 100, 3)
        }],
    };
    let mut all = Vec::new();
    for case in cases {
        match spawn_child(&case) {
            Ok(figures) => all.push(figures),
            Err(e) => {
                eprintln!("bench case {case:?} failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    print_table(&all);
    if !bench && all.iter().any(|f| f.rounds_done < f.case.rounds) {
        eprintln!("smoke pass: the engine did not finish its rounds in time");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Runs `case` in a child process of this binary, for a peak RSS of its own.
fn spawn_child(case: &Case) -> Result<Figures, Box<dyn std::error::Error>> {
    let output = Command::new(std::env::current_exe()?)
        .arg("--case")
        .arg(serde_json::to_string(case)?)
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("child exited with {}", output.status).into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_TAG))
        .ok_or("child printed no figures")?;
    Ok(serde_json::from_str(line)?)
}

/// The child's side: runs one case and prints its figures as one tagged JSON line.
fn child(spec: Option<&str>) -> ExitCode {
    let case: Case = match spec.map(serde_json::from_str) {
        Some(Ok(case)) => case,
        _ => {
            eprintln!("--case wants a JSON case description");
            return ExitCode::FAILURE;
        }
    };
    if case.rounds == 0 || case.rounds > MAX_ROUNDS || case.islands == 0 || case.nodes == 0 {
        eprintln!("case out of range: {case:?}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let figures = runtime.block_on(run_case(case));
    match serde_json::to_string(&figures) {
        Ok(json) => {
            println!("{RESULT_TAG}{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("figures not serialisable: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Answers every probe at once with success and the node's role; no lock, no log, no timer.
struct InstantProber {
    roles: HashMap<Arc<str>, Role>,
}

impl Prober for InstantProber {
    async fn probe(&self, request: ProbeRequest) -> ProbeOutcome {
        let role = self
            .roles
            .get(&request.candidate.id.node)
            .copied()
            .unwrap_or(Role::Replica);
        Ok(ProbeSuccess {
            role,
            wal: WalPosition::default(),
            shards: None,
            latency: PhaseLatency::default(),
            route: Route::Direct,
            usage: None,
        })
    }
}

/// Counts the answers of the prober it wraps.
struct Counted<P> {
    inner: P,
    answered: Arc<AtomicU64>,
}

impl<P: Prober> Prober for Counted<P> {
    async fn probe(&self, request: ProbeRequest) -> ProbeOutcome {
        let outcome = self.inner.probe(request).await;
        self.answered.fetch_add(1, Ordering::Relaxed);
        outcome
    }
}

const LOGINS: [(&str, &str); 2] = [("app", "bench-pw-a"), ("app_next", "bench-pw-b")];

/// `nodes` nodes spread evenly over `islands` islands (numbered from 1), the first of each master.
fn cluster(nodes: usize, islands: usize) -> Vec<(Node, Role)> {
    (0..nodes)
        .map(|i| {
            let island = i % islands;
            let role = if i < islands {
                Role::Master
            } else {
                Role::Replica
            };
            let name = format!("i{}-n{i:05}", island + 1);
            (fake::node(island as u32 + 1, &name, &LOGINS), role)
        })
        .collect()
}

async fn run_case(case: Case) -> Figures {
    let base_rss_kb = peak_rss_kb();
    let nodes = cluster(case.nodes, case.islands);
    let answered = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_millis(case.interval_ms);
    let settings = ProbeSettings {
        interval,
        // The default ratio (2s / 30s).
        audit_interval: interval * 15,
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        concurrency: 64,
    };
    if case.fake {
        let prober = FakeProber::new();
        for (node, role) in &nodes {
            let name = &node.key.name;
            prober.server(name, *role);
            prober.update(name, |s| s.latency = Duration::ZERO);
            for (login, password) in LOGINS {
                prober.password(name, login, password);
            }
        }
        let counted = Counted {
            inner: prober,
            answered: answered.clone(),
        };
        drive(case, nodes, settings, counted, answered, base_rss_kb).await
    } else {
        let roles = nodes
            .iter()
            .map(|(n, role)| (n.key.name.clone(), *role))
            .collect();
        let counted = Counted {
            inner: InstantProber { roles },
            answered: answered.clone(),
        };
        drive(case, nodes, settings, counted, answered, base_rss_kb).await
    }
}

/// Runs the engine over `nodes` until every node finished `case.rounds` chain probes (or the
/// deadline), then measures the last snapshot's clone and JSON costs.
async fn drive<P: Prober>(
    case: Case,
    nodes: Vec<(Node, Role)>,
    settings: ProbeSettings,
    prober: P,
    answered: Arc<AtomicU64>,
    base_rss_kb: u64,
) -> Figures {
    let topology = fake::topology(nodes.into_iter().map(|(n, _)| n).collect());
    let (feed, _config_tx) = ConfigFeed::manual(fake::config(topology, settings), Utc::now());
    let shutdown = CancellationToken::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(case.deadline_s);

    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let handle = Engine::spawn(feed, Arc::new(SystemClock), prober, shutdown.clone());
    // Nobody streams the feed here: the engine's sends then cost next to nothing.
    drop(handle.feed_from_start);
    let mut snapshots = handle.snapshots;
    let mut rounds = Rounds::default();
    let mut lags = Vec::new();
    let mut seen = 0u64;
    let mut last: Arc<Snapshot> = snapshots.borrow().clone();
    while rounds.done < case.rounds {
        match tokio::time::timeout_at(deadline, snapshots.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break, // the engine ended: nothing more will come
            Err(_) => {
                eprintln!(
                    "{} nodes: deadline after {} of {} rounds",
                    case.nodes, rounds.done, case.rounds
                );
                break;
            }
        }
        last = snapshots.borrow_and_update().clone();
        seen += 1;
        let lag = Utc::now() - last.generated_at;
        lags.push(lag.to_std().unwrap_or_default());
        rounds.advance(&last, start);
    }
    let elapsed = start.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let results = answered.load(Ordering::Relaxed);
    shutdown.cancel();
    if let Err(e) = handle.task.await {
        eprintln!("engine task ended badly: {e}");
    }
    let peak_rss_kb = peak_rss_kb();

    let clone = timed(case.reps, || {
        std::hint::black_box(Snapshot::clone(&last));
    });
    let mut json_bytes = 0;
    let json = timed(case.reps, || {
        let mut out = Vec::new();
        if let Err(e) = write_check_json(&mut out, &last) {
            eprintln!("check json failed: {e}");
        }
        json_bytes = out.len();
    });
    let lag = Stats::of(&mut lags);
    Figures {
        case,
        rounds_done: rounds.done,
        elapsed_s: elapsed.as_secs_f64(),
        results,
        cpu_s: cpu,
        snapshots_seen: seen,
        publish_lag_mean_ms: ms(lag.mean),
        publish_lag_p95_ms: ms(lag.p95),
        first_round_ms: rounds.at.first().map_or(0.0, |d| ms(*d)),
        steady_round_ms: match rounds.at.as_slice() {
            [first, .., last] => ms(*last - *first) / (rounds.at.len() - 1) as f64,
            _ => 0.0,
        },
        base_rss_kb,
        peak_rss_kb,
        clone_mean_ms: ms(clone.mean),
        clone_p95_ms: ms(clone.p95),
        json_mean_ms: ms(json.mean),
        json_p95_ms: ms(json.p95),
        json_bytes,
    }
}

/// Tracks when every node has finished r chain probes, reading each node's latency history (one
/// sample per finished chain). Nodes already past the round are not read again, so following the
/// rounds costs O(N) per round, not per snapshot.
#[derive(Default)]
struct Rounds {
    /// Rounds every node has finished.
    done: usize,
    /// When each finished, from the start.
    at: Vec<Duration>,
    /// The first node (island, node) not known to have finished round `done + 1`.
    cursor: (usize, usize),
}

impl Rounds {
    fn advance(&mut self, snapshot: &Snapshot, start: Instant) {
        loop {
            let (mut i, mut n) = self.cursor;
            while let Some(island) = snapshot.islands.get(i) {
                match island.nodes.get(n) {
                    Some(node) if node.latency.samples.len() > self.done => n += 1,
                    Some(_) => break,
                    None => (i, n) = (i + 1, 0),
                }
            }
            if i < snapshot.islands.len() {
                self.cursor = (i, n);
                return;
            }
            self.done += 1;
            self.at.push(start.elapsed());
            self.cursor = (0, 0);
        }
    }
}

/// Mean and p95 of `f`'s wall time over `reps` calls, after one untimed call (cold caches would
/// otherwise put the first call above the p95).
fn timed(reps: usize, mut f: impl FnMut()) -> Stats {
    if reps > 0 {
        f();
    }
    let mut sample: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    Stats::of(&mut sample)
}

/// Mean and 95th percentile of a sample (zero when empty).
struct Stats {
    mean: Duration,
    p95: Duration,
}

impl Stats {
    fn of(sample: &mut [Duration]) -> Stats {
        if sample.is_empty() {
            return Stats {
                mean: Duration::ZERO,
                p95: Duration::ZERO,
            };
        }
        sample.sort();
        let total: Duration = sample.iter().sum();
        Stats {
            mean: total / sample.len() as u32,
            p95: sample[((sample.len() - 1) as f64 * 0.95).round() as usize],
        }
    }
}

/// The process's peak resident set (`VmHWM`), in kB; 0 when unreadable.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of the whole process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is handed, which is plain old data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return 0.0;
        }
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn print_table(all: &[Figures]) {
    let prober = match all.first() {
        Some(f) if f.case.fake => "FakeProber, latency 0",
        _ => "instant prober",
    };
    println!(
        "engine scaling ({prober}; 2 candidates/node, concurrency 64, audit = 15 × interval; \
         times in ms)"
    );
    println!(
        "{:>5} {:>3} {:>5} {:>6} {:>7} {:>9} {:>8} {:>7} {:>8} {:>13} {:>8} {:>14} {:>8}",
        "nodes",
        "isl",
        "intvl",
        "rounds",
        "wall s",
        "results/s",
        "cpu µs/r",
        "snaps/s",
        "r/snap",
        "lag mean/p95",
        "round 1",
        "round n (ideal)",
        "RSS MB"
    );
    for f in all {
        let c = &f.case;
        let secs = f.elapsed_s.max(f64::EPSILON);
        println!(
            "{:>5} {:>3} {:>5} {:>6} {:>7.2} {:>9.0} {:>8.1} {:>7.1} {:>8.1} {:>13} {:>8.0} {:>14} {:>8}",
            c.nodes,
            c.islands,
            c.interval_ms,
            format!("{}/{}", f.rounds_done, c.rounds),
            f.elapsed_s,
            f.results as f64 / secs,
            f.cpu_s * 1e6 / (f.results.max(1) as f64),
            f.snapshots_seen as f64 / secs,
            f.results as f64 / (f.snapshots_seen.max(1) as f64),
            format!("{:.2}/{:.2}", f.publish_lag_mean_ms, f.publish_lag_p95_ms),
            f.first_round_ms,
            format!("{:.0} ({:.0})", f.steady_round_ms, c.interval_ms as f64 * 1.1),
            format!(
                "{:.1} ({:.1})",
                f.peak_rss_kb as f64 / 1024.0,
                f.base_rss_kb as f64 / 1024.0
            ),
        );
    }
    println!("last snapshot: Snapshot::clone and report::write_check_json (mean/p95 ms)");
    for f in all {
        println!(
            "{:>5} nodes: clone {:.3}/{:.3}   check json {:.2}/{:.2} ({:.0} kB)",
            f.case.nodes,
            f.clone_mean_ms,
            f.clone_p95_ms,
            f.json_mean_ms,
            f.json_p95_ms,
            f.json_bytes as f64 / 1024.0
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
