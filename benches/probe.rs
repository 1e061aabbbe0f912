//! Probe cost against real lab servers (release build, loopback, scram-sha-256, sslmode=disable).
//!
//! Run: `cargo bench --bench probe` (add `-- --quick` for fewer rounds).
//!
//! Profile the warm probe alone: `cargo bench --bench probe -- --warm-only 2000` runs one
//! server and that many warm probes on one thread, nothing else, e.g. under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*PgProber*run*'
//! target/release/deps/probe-* --bench --warm-only 500` (instructions are repeatable where the
//! machine's load makes times noisy; the kernel's share is not counted).
//!
//! 1. **login cost**, interleaved round by round on one server (a, b, c, a, b, c, ...) so that load
//!    from elsewhere on the machine hits all three alike:
//!    (a) bare tokio-postgres: connect + the probe query + close (PBKDF2 on every login),
//!    (b) the prober, cold: a role and password it has never seen (PBKDF2 once),
//!    (c) the prober, warm: the same candidate again (SaltedPassword remembered).
//!    CPU per probe is this process's own (getrusage of the probing thread: a current-thread
//!    runtime, so the server's work is not counted), wall is the latency of one probe. Goals
//!    (issue 13): warm CPU ≤ 0.25× bare, warm wall ≤ 1.0× bare.
//! 2. **sweep**: 200 nodes served by 4 servers, probed at concurrency 64 on a multi-thread
//!    runtime, warm; probes per second and CPU per probe (getrusage of the process).
//!
//! A hand-rolled harness rather than criterion: the sweep is a throughput figure over a fixed
//! batch, which criterion's per-iteration model does not fit, interleaving is what keeps the
//! ratios honest on a shared 2-core machine, and it spares the build criterion's ~30 crates.
//! Under `cargo test --all-targets` (no `--bench` argument) it runs a tiny smoke pass instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rotascope::engine::pg::{probe_sql, PgProber};
use rotascope::engine::probe::{ProbeRequest, Prober, TimeoutOrigin};
use rotascope::lab::{Lab, Server, ServerOptions};
use rotascope::topology::{Candidate, SslMode};
use tokio_postgres::NoTls;

const PASSWORD: &str = "bench-Pa55word";

struct Plan {
    warmup: usize,
    rounds: usize,
    servers: usize,
    nodes: usize,
    concurrency: usize,
    sweeps: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    if let Some(n) = args
        .iter()
        .position(|a| a == "--warm-only")
        .and_then(|i| args.get(i + 1)?.parse().ok())
    {
        if let Err(e) = warm_only(n) {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let plan = match (bench, quick) {
        (true, false) => Plan {
            warmup: 30,
            rounds: 400,
            servers: 4,
            nodes: 200,
            concurrency: 64,
            sweeps: 7,
        },
        (true, true) => Plan {
            warmup: 10,
            rounds: 100,
            servers: 4,
            nodes: 200,
            concurrency: 64,
            sweeps: 3,
        },
        // Smoke pass under `cargo test`: proves the bench works, measures nothing.
        (false, _) => Plan {
            warmup: 1,
            rounds: 3,
            servers: 1,
            nodes: 8,
            concurrency: 4,
            sweeps: 1,
        },
    };
    if let Err(e) = run(plan) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

type Error = Box<dyn std::error::Error>;

fn run(plan: Plan) -> Result<(), Error> {
    let multi = tokio::runtime::Runtime::new()?;
    let lab = Lab::new()?;
    let servers = multi.block_on(async {
        let mut servers = Vec::new();
        for _ in 0..plan.servers {
            let pg = lab
                .start_server(ServerOptions::default().max_connections(100))
                .await?;
            pg.create_role("app", PASSWORD).await?;
            servers.push(pg);
        }
        // One fresh role per cold round: a password the prober has never derived a key for.
        let mut sql = String::new();
        for i in 0..plan.rounds {
            sql.push_str(&format!(
                "CREATE ROLE cold_{i} LOGIN PASSWORD '{}';",
                cold_password(i)
            ));
        }
        servers[0].execute(&sql).await?;
        Ok::<_, Error>(servers)
    })?;
    // The login-cost rounds run on one thread, so that its CPU time is the probes' alone.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(login_cost(&plan, &servers[0]))?;
    multi.block_on(sweep(&plan, &servers))
}

/// `n` warm probes of one server on one thread, and their CPU per probe: for profilers.
fn warm_only(n: usize) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let lab = Lab::new()?;
    rt.block_on(async {
        let pg = lab.start_server(ServerOptions::default()).await?;
        pg.create_role("app", PASSWORD).await?;
        let prober = PgProber::new();
        let warm = candidate(&pg, "app", PASSWORD);
        probe_once(&prober, &warm).await?;
        let c0 = cpu(libc::RUSAGE_THREAD);
        for _ in 0..n {
            probe_once(&prober, &warm).await?;
        }
        let spent = cpu(libc::RUSAGE_THREAD).saturating_sub(c0);
        println!(
            "{n} warm probes: CPU {:.3} ms/probe (this thread)",
            ms(spent) / n as f64
        );
        Ok::<_, Error>(())
    })
}

fn cold_password(i: usize) -> String {
    format!("bench-cold-{i}-Pa55word")
}

fn candidate(server: &Server, login: &str, password: &str) -> Candidate {
    let mut c = server.candidate(login, password, "postgres");
    let mut target = (*c.target).clone();
    // The same transport for all three: no TLS negotiation at all.
    target.tls.mode = SslMode::Disable;
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
        usage_logins: Vec::new(),
    }
}

async fn probe_once(prober: &PgProber, candidate: &Candidate) -> Result<(), Error> {
    match prober.probe(request(candidate.clone())).await {
        Ok(_) => Ok(()),
        Err(f) => Err(format!("probe failed: {} {}", f.error.kind, f.error.message).into()),
    }
}

/// What an application does at the least: connect, the same query, close.
async fn bare_once(server: &Server, sql: &str) -> Result<(), Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(server.port())
        .user("app")
        .password(PASSWORD)
        .dbname("postgres")
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    let (client, connection) = config.connect(NoTls).await?;
    let driver = tokio::spawn(connection);
    client.simple_query(sql).await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// CPU time (user + system) of the calling thread, or of the process.
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Wall and CPU of one run of `f`.
async fn measured<F: std::future::Future<Output = Result<(), Error>>>(
    f: F,
    wall: &mut Vec<Duration>,
    cpus: &mut Vec<Duration>,
) -> Result<(), Error> {
    let (c0, t0) = (cpu(libc::RUSAGE_THREAD), Instant::now());
    f.await?;
    wall.push(t0.elapsed());
    cpus.push(cpu(libc::RUSAGE_THREAD).saturating_sub(c0));
    Ok(())
}

async fn login_cost(plan: &Plan, server: &Server) -> Result<(), Error> {
    let prober = PgProber::new();
    let sql = probe_sql(None, &[])?;
    let warm = candidate(server, "app", PASSWORD);
    for _ in 0..plan.warmup {
        probe_once(&prober, &warm).await?;
        bare_once(server, &sql).await?;
    }
    let (mut bare_wall, mut bare_cpu) = (Vec::new(), Vec::new());
    let (mut cold_wall, mut cold_cpu) = (Vec::new(), Vec::new());
    let (mut warm_wall, mut warm_cpu) = (Vec::new(), Vec::new());
    for i in 0..plan.rounds {
        measured(bare_once(server, &sql), &mut bare_wall, &mut bare_cpu).await?;
        let cold = candidate(server, &format!("cold_{i}"), &cold_password(i));
        measured(probe_once(&prober, &cold), &mut cold_wall, &mut cold_cpu).await?;
        measured(probe_once(&prober, &warm), &mut warm_wall, &mut warm_cpu).await?;
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
    let (b, c, w) = (
        Stats::of(&mut bare_wall),
        Stats::of(&mut cold_wall),
        Stats::of(&mut warm_wall),
    );
    let (bc, cc, wc) = (mean(&bare_cpu), mean(&cold_cpu), mean(&warm_cpu));
    println!(
        "login cost ({} interleaved rounds, sslmode=disable)",
        plan.rounds
    );
    println!(
        "  (a) bare tokio-postgres: CPU {:.3} ms/probe, wall {b}",
        ms(bc)
    );
    println!(
        "  (b) prober, cold:        CPU {:.3} ms/probe, wall {c}",
        ms(cc)
    );
    println!(
        "  (c) prober, warm:        CPU {:.3} ms/probe, wall {w}",
        ms(wc)
    );
    println!(
        "  ratios to bare: CPU warm {:.3}x (goal <= 0.25), cold {:.3}x; wall (medians) warm {:.3}x (goal <= 1.0), cold {:.3}x",
        ratio(wc, bc),
        ratio(cc, bc),
        ratio(w.median, b.median),
        ratio(c.median, b.median)
    );
    Ok(())
}

async fn sweep(plan: &Plan, servers: &[Server]) -> Result<(), Error> {
    let prober = Arc::new(PgProber::new());
    let nodes: Vec<Candidate> = (0..plan.nodes)
        .map(|i| candidate(&servers[i % servers.len()], "app", PASSWORD))
        .collect();
    let batch = || {
        futures::stream::iter(nodes.iter())
            .map(|c| {
                let prober = prober.clone();
                async move { probe_once(&prober, c).await.map_err(|e| e.to_string()) }
            })
            .buffer_unordered(plan.concurrency)
            .collect::<Vec<Result<(), String>>>()
    };
    // One untimed sweep: every server's salt is remembered from here on, as in a running monitor.
    for r in batch().await {
        r?;
    }
    let mut rates = Vec::new();
    let mut cpu_per_probe = Vec::new();
    for _ in 0..plan.sweeps {
        let (c0, start) = (cpu(libc::RUSAGE_SELF), Instant::now());
        let results = batch().await;
        let elapsed = start.elapsed();
        let spent = cpu(libc::RUSAGE_SELF).saturating_sub(c0);
        for r in results {
            r?;
        }
        rates.push(plan.nodes as f64 / elapsed.as_secs_f64());
        cpu_per_probe.push(spent.as_secs_f64() * 1000.0 / plan.nodes as f64);
    }
    rates.sort_by(f64::total_cmp);
    cpu_per_probe.sort_by(f64::total_cmp);
    println!(
        "sweep ({} nodes on {} servers, concurrency {}, {} sweeps, warm)",
        plan.nodes,
        servers.len(),
        plan.concurrency,
        plan.sweeps
    );
    println!(
        "  probes/s: median {:.0} (min {:.0}, max {:.0}); CPU per probe (whole process): median {:.3} ms",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1],
        cpu_per_probe[cpu_per_probe.len() / 2]
    );
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
