//! Probe cost against real lab servers (release build, loopback, scram-sha-256).
//!
//! Run: `cargo bench --bench probe` (add `-- --quick` for fewer rounds).
//!
//! 1. **overhead**: one `PgProber` probe vs a bare tokio-postgres connect + `SELECT 1` + close on
//!    the same server, interleaved (A, B, A, B, ...) so that load from elsewhere on the machine
//!    hits both alike; the ratio of medians is the figure (goal ≤ 1.1×).
//! 2. **sweep**: 200 nodes served by 4 servers, probed at concurrency 64; probes per second.
//!
//! A hand-rolled harness rather than criterion: the sweep is a throughput figure over a fixed
//! batch, which criterion's per-iteration model does not fit, interleaving is what keeps the
//! ratio honest on a shared 2-core machine, and it spares the build criterion's ~30 crates.
//! Under `cargo test --all-targets` (no `--bench` argument) it runs a tiny smoke pass instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rotascope::engine::pg::PgProber;
use rotascope::engine::probe::{ProbeRequest, Prober, TimeoutOrigin};
use rotascope::lab::{Lab, Server, ServerOptions};
use rotascope::topology::{Candidate, SslMode};
use tokio_postgres::NoTls;

const PASSWORD: &str = "bench-Pa55word";

struct Plan {
    warmup: usize,
    pairs: usize,
    servers: usize,
    nodes: usize,
    concurrency: usize,
    sweeps: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let quick = args.iter().any(|a| a == "--quick");
    let plan = match (bench, quick) {
        (true, false) => Plan {
            warmup: 30,
            pairs: 400,
            servers: 4,
            nodes: 200,
            concurrency: 64,
            sweeps: 7,
        },
        (true, true) => Plan {
            warmup: 10,
            pairs: 100,
            servers: 4,
            nodes: 200,
            concurrency: 64,
            sweeps: 3,
        },
        // Smoke pass under `cargo test`: proves the bench works, measures nothing.
        (false, _) => Plan {
            warmup: 1,
            pairs: 3,
            servers: 1,
            nodes: 8,
            concurrency: 4,
            sweeps: 1,
        },
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if let Err(e) = runtime.block_on(run(plan)) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run(plan: Plan) -> Result<(), Box<dyn std::error::Error>> {
    let lab = Lab::new()?;
    let mut servers = Vec::new();
    for _ in 0..plan.servers {
        let pg = lab
            .start_server(ServerOptions::default().max_connections(100))
            .await?;
        pg.create_role("app", PASSWORD).await?;
        servers.push(pg);
    }
    overhead(&plan, &servers[0]).await?;
    sweep(&plan, &servers).await?;
    Ok(())
}

fn candidate(server: &Server, ssl: SslMode) -> Candidate {
    let mut c = server.candidate("app", PASSWORD, "postgres");
    let mut target = (*c.target).clone();
    target.tls.mode = ssl;
    c.target = Arc::new(target);
    c
}

fn request(candidate: Candidate) -> ProbeRequest {
    ProbeRequest {
        candidate,
        connect_timeout: Duration::from_secs(3),
        timeout: Duration::from_secs(10),
        timeout_origin: TimeoutOrigin::Settings,
        shard_pattern: None,
    }
}

async fn probe_once(prober: &PgProber, candidate: &Candidate) -> Result<Duration, String> {
    let start = Instant::now();
    match prober.probe(request(candidate.clone())).await {
        Ok(_) => Ok(start.elapsed()),
        Err(f) => Err(format!(
            "probe failed: {} {}",
            f.error.kind, f.error.message
        )),
    }
}

/// What an application does at the least: connect, `SELECT 1`, close.
async fn bare_once(server: &Server) -> Result<Duration, tokio_postgres::Error> {
    let start = Instant::now();
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(server.port())
        .user("app")
        .password(PASSWORD)
        .dbname("postgres");
    let (client, connection) = config.connect(NoTls).await?;
    let driver = tokio::spawn(connection);
    client.simple_query("SELECT 1").await?;
    drop(client);
    let _ = driver.await;
    Ok(start.elapsed())
}

async fn overhead(plan: &Plan, server: &Server) -> Result<(), Box<dyn std::error::Error>> {
    let prober = PgProber::new();
    // Same transport for both: no TLS negotiation at all.
    let plain = candidate(server, SslMode::Disable);
    // libpq's default: asks for TLS first, the server says no (one more round trip).
    let prefer = candidate(server, SslMode::Prefer);
    for _ in 0..plan.warmup {
        probe_once(&prober, &plain).await?;
        bare_once(server).await?;
    }
    let (mut probes, mut bares, mut prefers) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.pairs {
        probes.push(probe_once(&prober, &plain).await?);
        bares.push(bare_once(server).await?);
        prefers.push(probe_once(&prober, &prefer).await?);
    }
    let (p, b, f) = (
        Stats::of(&mut probes),
        Stats::of(&mut bares),
        Stats::of(&mut prefers),
    );
    println!("overhead ({} interleaved rounds)", plan.pairs);
    println!("  bare tokio-postgres connect + SELECT 1 + close: {b}");
    println!("  PgProber probe (sslmode=disable):               {p}");
    println!("  PgProber probe (sslmode=prefer, no TLS offered): {f}");
    println!(
        "  ratio probe/bare (medians): {:.3}x  (prefer: {:.3}x)",
        ratio(p.median, b.median),
        ratio(f.median, b.median)
    );
    Ok(())
}

async fn sweep(plan: &Plan, servers: &[Server]) -> Result<(), Box<dyn std::error::Error>> {
    let prober = Arc::new(PgProber::new());
    let nodes: Vec<Candidate> = (0..plan.nodes)
        .map(|i| candidate(&servers[i % servers.len()], SslMode::Disable))
        .collect();
    let mut rates = Vec::new();
    let mut latencies = Vec::new();
    for _ in 0..plan.sweeps {
        let start = Instant::now();
        let results: Vec<Result<Duration, String>> = futures::stream::iter(nodes.iter())
            .map(|c| {
                let prober = prober.clone();
                async move { probe_once(&prober, c).await }
            })
            .buffer_unordered(plan.concurrency)
            .collect()
            .await;
        let elapsed = start.elapsed();
        for r in results {
            latencies.push(r?);
        }
        rates.push(plan.nodes as f64 / elapsed.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let l = Stats::of(&mut latencies);
    println!(
        "sweep ({} nodes on {} servers, concurrency {}, {} sweeps)",
        plan.nodes,
        servers.len(),
        plan.concurrency,
        plan.sweeps
    );
    println!(
        "  probes/s: median {:.0} (min {:.0}, max {:.0})",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1]
    );
    println!("  per-probe latency under load: {l}");
    Ok(())
}

/// Median and spread of a sample.
struct Stats {
    median: Duration,
    p10: Duration,
    p90: Duration,
}

impl Stats {
    fn of(sample: &mut [Duration]) -> Stats {
        sample.sort();
        let at = |q: f64| sample[((sample.len() - 1) as f64 * q).round() as usize];
        Stats {
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
        }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "median {:.2} ms (p10 {:.2}, p90 {:.2})",
            ms(self.median),
            ms(self.p10),
            ms(self.p90)
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
