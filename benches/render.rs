//! What drawing the dashboard costs (issue 11), on fleets far larger than the lab.
//!
//! Run: `cargo bench --bench render` (add `-- --quick` for fewer rounds).
//!
//! 1. **Frame**: one full frame (`ui::render` into a ratatui `TestBackend` through
//!    `Terminal::draw`, so the buffer diff is paid too) at 200×60, for 1,000 and 10,000 nodes
//!    (`fixtures::fleet`: FQDN connection-string names, a full latency history per node, some
//!    nodes degraded, down and unknown, an island warning), with the default view (sorted by
//!    health) and sorted by name; each without history and with a day of rotations on every
//!    node (`fixtures::history`: 72 rotations, one every 20 minutes, so the credential timeline
//!    panel, drawn by default from 36 rows, has 74 credentials to fold; 12 at 10,000 nodes). Median and p95 of many
//!    frames, and the first frame alone: it makes what the next frames of an unchanged node list
//!    and history reuse (the shortened names, each credential's fold across the nodes), which a
//!    live engine's snapshots keep until a node's state changes. Also the default view with the
//!    event ring full of one reload that gave every node a new password (folded by the events
//!    pane every frame). Goals: ≤ 2 ms (1,000 nodes), ≤ 10 ms (10,000).
//! 2. **Idle CPU**: the real UI loop (`ui::run`) on 1,000 nodes with the day of rotations and a
//!    snapshot that does not change, a 1 s tick, no input, for a few seconds of real time on a current-thread runtime;
//!    the process's CPU time (getrusage) over wall time. Between engine updates the loop only
//!    redraws once a tick, so this is the frame cost over a second, plus the loop's own. Goal:
//!    ≤ 2% of a core.
//!
//! Written with `std::time::Instant` like the other benches of this crate (no criterion
//! dependency). Under `cargo test --all-targets` (no `--bench` argument) it runs a tiny case of
//! each part to prove the bench works; it measures nothing then.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::FixedOffset;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use rotascope::clock::{SharedClock, SystemClock};
use rotascope::engine::snapshot::Snapshot;
use rotascope::ui::fixtures;
use rotascope::ui::order::Sort;
use rotascope::ui::view::ViewState;
use rotascope::ui::{render, run, Options, Theme};

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// The first frame (which makes what later frames reuse: the history's folds, the shortened
/// names), then the median and p95 of `rounds` more.
fn frames(snapshot: &Snapshot, sort: Sort, rounds: usize) -> (Duration, Duration, Duration) {
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
    let mut view = ViewState::new(Theme::COLOR, FixedOffset::east_opt(0).expect("utc"));
    view.sort = sort;
    let now = fixtures::now();
    let mut times = Vec::with_capacity(rounds);
    let mut first = Duration::ZERO;
    for round in 0..rounds + 3 {
        // Move the selection so that each frame differs, as a person scrolling would.
        let visible = view.visible_nodes(snapshot);
        view.selected = Some(visible[round * 7 % visible.len()].key.clone());
        let started = Instant::now();
        terminal
            .draw(|f| render(f, snapshot, &view, now))
            .expect("draw");
        if round == 0 {
            first = started.elapsed();
        } else if round >= 3 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    (first, quantile(&times, 0.5), quantile(&times, 0.95))
}

/// Rotations in the deep history: a day (72) up to 1,000 nodes; 4 hours (12) at 10,000, whose
/// day would be 4.3 million events to build (the panel shows the last half hour either way).
fn rotations(nodes: u32) -> usize {
    if nodes <= 1_000 {
        72
    } else {
        12
    }
}

/// The fleet, and the same fleet with rotations in its history (the credential panel is drawn
/// by default from 36 rows, and reads that history).
fn fleets(nodes: u32) -> (Snapshot, Snapshot) {
    let per_island = 20;
    let plain = fixtures::fleet(nodes / per_island, per_island);
    let mut deep = plain.clone();
    fixtures::history::with_rotations(&mut deep, rotations(nodes), fixtures::now());
    (plain, deep)
}

/// `snapshot` with its event ring full of one reload that gave every node a new password: the
/// events pane folds it, every frame.
fn with_a_reload(snapshot: &Snapshot) -> Snapshot {
    use rotascope::engine::event::{CandidateRef, Event, EventKind};
    let mut s = snapshot.clone();
    let cand = |password: &str| CandidateRef {
        index: 0,
        login: "app".into(),
        label: Some("current".into()),
        fingerprint: rotascope::secret::Password::new(password).fingerprint(),
    };
    let mut at = fixtures::now();
    let keys: Vec<_> = s.nodes().map(|n| n.key.clone()).collect();
    s.events.clear();
    for key in keys {
        for kind in [
            EventKind::CandidateRemoved {
                island: key.island,
                node: key.name.to_string(),
                candidate: cand(&format!("old-{key}")),
            },
            EventKind::CandidateAdded {
                island: key.island,
                node: key.name.to_string(),
                candidate: cand(&format!("new-{key}")),
            },
        ] {
            if s.events.len() < rotascope::engine::EVENT_RING {
                s.events.push_back(Event { at, kind });
                at += chrono::Duration::microseconds(3);
            }
        }
    }
    s
}

fn frame_cost(nodes: u32, rounds: usize) {
    let (plain, deep) = fleets(nodes);
    let reload = with_a_reload(&plain);
    let deep_label = format!("{} rotations", rotations(nodes));
    let cases = [
        (&plain, Sort::Health, "no history"),
        (&plain, Sort::Name, "no history"),
        (&deep, Sort::Health, deep_label.as_str()),
        (&deep, Sort::Name, deep_label.as_str()),
        (
            &reload,
            Sort::Health,
            "a reload of every password in the events",
        ),
    ];
    for (snapshot, sort, history) in cases {
        let (first, median, p95) = frames(snapshot, sort, rounds);
        println!(
            "frame 200x60, {nodes} nodes, {history}, by {}: median {}, p95 {} ({rounds} frames; \
             first {})",
            sort.as_str(),
            ms(median),
            ms(p95),
            ms(first)
        );
    }
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn idle_cpu(nodes: u32, wall: Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let snapshot = Arc::new(fleets(nodes).1);
    let (_publish, snapshots) = watch::channel(snapshot);
    let (commands, _sent) = mpsc::channel(8);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
    let clock: SharedClock = Arc::new(SystemClock);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let keys = futures::stream::pending::<std::io::Result<crossterm::event::Event>>();
    let (cpu, elapsed) = runtime.block_on(async {
        // The first frame is drawn at once; measure the steady state after it.
        let ui = run(
            &mut terminal,
            snapshots,
            commands,
            clock,
            keys,
            shutdown,
            Options::utc(Theme::COLOR),
        );
        let measure = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (cpu0, wall0) = (cpu_time(), Instant::now());
            tokio::time::sleep(wall).await;
            let out = (cpu_time() - cpu0, wall0.elapsed());
            stop.cancel();
            out
        };
        let (result, out) = tokio::join!(ui, measure);
        result.expect("the loop ran");
        out
    });
    println!(
        "idle UI loop, {nodes} nodes, 72 rotations, 200x60, 1 s tick: {} CPU in {:.1} s = {:.2}% of a core",
        ms(cpu),
        elapsed.as_secs_f64(),
        cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let (bench, quick) = (flag("--bench"), flag("--quick"));
    if bench {
        let rounds = if quick { 30 } else { 200 };
        frame_cost(1_000, rounds);
        frame_cost(10_000, rounds / 4);
        idle_cpu(1_000, Duration::from_secs(if quick { 5 } else { 20 }));
    } else {
        // Smoke pass under `cargo test`: proves the bench runs, measures nothing.
        frame_cost(40, 2);
        idle_cpu(40, Duration::from_millis(200));
    }
}
