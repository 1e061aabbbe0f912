//! What counting sessions per login adds to a probe (issue 15), on a real lab server holding
//! many idle sessions (release build, loopback, scram-sha-256, sslmode=disable).
//!
//! Run: `cargo bench --bench sessions` (2,000 idle sessions; `-- --sessions N` for another
//! count).
//!
//! For 0 and N idle client sessions (half as `app_a`, half as `app_b`, seven application names),
//! probes alternate round by round between the plain probe query and the same query counting the
//! sessions of `app_a` and `app_b` (so load from elsewhere on the shared machine hits both
//! alike); the figure is the query phase of the probe (one round trip: the probe query's
//! latency as the prober measures it), median and p95, and the difference.
//!
//! Hand-rolled like `benches/probe.rs`. Under `cargo test --all-targets` (no `--bench`
//! argument) it runs a tiny smoke pass instead.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rotascope::engine::pg::PgProber;
use rotascope::engine::probe::{ProbeRequest, Prober, TimeoutOrigin};
use rotascope::lab::{Lab, Server, ServerOptions};
use rotascope::topology::{Candidate, SslMode};
use tokio_postgres::Client;

const PW_A: &str = "bench-app-a-Pa55word";
const PW_B: &str = "bench-app-b-Pa55word";

type Error = Box<dyn std::error::Error>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let sessions = args
        .iter()
        .position(|a| a == "--sessions")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(2000);
    // The smoke pass proves the bench works and measures nothing.
    let (sessions, rounds) = if bench { (sessions, 300) } else { (10, 3) };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    if let Err(e) = rt.block_on(run(sessions, rounds)) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run(sessions: usize, rounds: usize) -> Result<(), Error> {
    let lab = Lab::new()?;
    let pg = lab
        .start_server(ServerOptions::default().max_connections(sessions as u32 + 50))
        .await?;
    pg.create_role("app_a", PW_A).await?;
    pg.create_role("app_b", PW_B).await?;
    let prober = PgProber::new();
    let probing = candidate(&pg, "app_a", PW_A);
    let logins = vec!["app_a".to_owned(), "app_b".to_owned()];
    println!("query phase of a probe, {rounds} rounds each, alternating:");
    measure(&prober, &probing, &logins, rounds, 0).await?;
    let held = open(&pg, sessions).await?;
    measure(&prober, &probing, &logins, rounds, held.len()).await?;
    drop(held);
    Ok(())
}

/// Opens `n` idle sessions (32 logins at a time), alternately as app_a and app_b.
async fn open(pg: &Server, n: usize) -> Result<Vec<Client>, Error> {
    let clients: Vec<Result<Client, _>> = futures::stream::iter(0..n)
        .map(|i| async move {
            let (login, password) = if i % 2 == 0 {
                ("app_a", PW_A)
            } else {
                ("app_b", PW_B)
            };
            pg.connect_as_app(login, password, "postgres", &format!("app-{}", i % 7))
                .await
        })
        .buffer_unordered(32)
        .collect()
        .await;
    Ok(clients.into_iter().collect::<Result<_, _>>()?)
}

async fn measure(
    prober: &PgProber,
    probing: &Candidate,
    logins: &[String],
    rounds: usize,
    sessions: usize,
) -> Result<(), Error> {
    let (mut plain, mut counted) = (Vec::new(), Vec::new());
    let mut seen = 0;
    for _ in 0..rounds.max(1) + 5 {
        plain.push(query_phase(prober, probing, &[]).await?.0);
        let (d, n) = query_phase(prober, probing, logins).await?;
        counted.push(d);
        seen = n;
    }
    // The first five of each warm the caches.
    plain.drain(..5);
    counted.drain(..5);
    let (p50, p95) = (quantile(&mut plain, 0.50), quantile(&mut plain, 0.95));
    let (c50, c95) = (quantile(&mut counted, 0.50), quantile(&mut counted, 0.95));
    println!(
        "{sessions:>5} idle sessions ({seen} counted): plain p50 {:.3} ms p95 {:.3} ms · \
         counting p50 {:.3} ms p95 {:.3} ms · added p50 {:+.3} ms",
        ms(p50),
        ms(p95),
        ms(c50),
        ms(c95),
        ms(c50) - ms(p50)
    );
    Ok(())
}

/// One probe's query phase, and the sessions it counted.
async fn query_phase(
    prober: &PgProber,
    candidate: &Candidate,
    logins: &[String],
) -> Result<(Duration, u32), Error> {
    let request = ProbeRequest {
        candidate: candidate.clone(),
        connect_timeout: Duration::from_secs(3),
        timeout: Duration::from_secs(10),
        timeout_origin: TimeoutOrigin::Settings,
        shard_pattern: None,
        usage_logins: logins.to_vec(),
    };
    match prober.probe(request).await {
        Ok(s) => {
            let counted = s.usage.iter().flatten().map(|u| u.sessions).sum();
            Ok((s.latency.query, counted))
        }
        Err(f) => Err(format!("probe failed: {} {}", f.error.kind, f.error.message).into()),
    }
}

fn candidate(server: &Server, login: &str, password: &str) -> Candidate {
    let mut c = server.candidate(login, password, "postgres");
    let mut target = (*c.target).clone();
    target.tls.mode = SslMode::Disable;
    c.target = Arc::new(target);
    c
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
