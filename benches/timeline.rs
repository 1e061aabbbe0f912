//! What the dashboard's credential timeline panel costs a frame on a big cluster.
//!
//! Run: `cargo bench --bench timeline`.
//!
//! The history: 1,000 nodes, two logins alternating (`app_a`, `app_b`), one of them rotated every
//! 20 minutes for 24 hours (72 rotations, so 74 credentials seen, about three in any 17-minute
//! window): on every node the old password refused, the winner switched, the node degraded, and
//! 5 s later the old password left the config, the new one arrived and was valid, the node ok
//! (432,000 events through `History::from_events`, as the engine records them; built by
//! `fixtures::history`, which `benches/render` uses too). Measured: the
//! panel's layout height and drawing (what a frame pays for it) at 120 and 200 columns, median
//! and p95 of many, and the first of each (the first height makes the history's folds, which the
//! next frames reuse while the history is unchanged).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it runs a tiny case to prove the
//! bench works; it measures nothing then.

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use rotascope::config::ProbeSettings;
use rotascope::engine::history::History;
use rotascope::engine::snapshot::Snapshot;
use rotascope::topology::{IslandNo, NodeKey};
use rotascope::ui::fixtures;
use rotascope::ui::render::rotation;
use rotascope::ui::view::{PanelMode, ViewState};
use rotascope::ui::Theme;

fn history(nodes: usize, rotations: usize, start: DateTime<Utc>) -> History {
    let keys: Vec<NodeKey> = (0..nodes)
        .map(|i| NodeKey {
            island: IslandNo(0),
            name: format!("postgres://db-{i:04}.prod.example.internal:5432/app").into(),
        })
        .collect();
    fixtures::history::rotations(&keys, rotations, start)
}

fn quantiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 95 / 100])
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (nodes, rotations, runs) = if bench { (1000, 72, 200) } else { (3, 2, 2) };
    let start = Utc
        .with_ymd_and_hms(2026, 11, 28, 0, 0, 0)
        .single()
        .expect("a valid time");
    let now = start + chrono::Duration::minutes(20 * rotations as i64 + 7);
    let built = Instant::now();
    let mut snapshot = Snapshot::empty("bench.toml".into(), ProbeSettings::default(), now);
    snapshot.history = history(nodes, rotations, start);
    let creds = snapshot.history.credentials().count();
    println!(
        "history: {nodes} nodes, {rotations} rotations, {creds} credentials, built in {:.1?}",
        built.elapsed()
    );
    let mut view = ViewState::new(Theme::COLOR, FixedOffset::east_opt(0).expect("UTC"));
    view.rotation = PanelMode::Shown;
    for width in [120u16, 200] {
        let screen = Rect::new(0, 0, width, 60);
        let mut layout = Vec::with_capacity(runs);
        let mut draw = Vec::with_capacity(runs);
        let mut terminal = Terminal::new(TestBackend::new(width, 20)).expect("a test terminal");
        for _ in 0..runs {
            let t = Instant::now();
            let h = rotation::height(&snapshot, &view, screen, 40, now);
            layout.push(t.elapsed());
            let t = Instant::now();
            terminal
                .draw(|f| {
                    let area = Rect::new(0, 0, width, h.min(20));
                    rotation::render(f, area, &snapshot, &view, now)
                })
                .expect("a frame");
            draw.push(t.elapsed());
        }
        let (l0, d0) = (layout[0], draw[0]);
        let (l50, l95) = quantiles(layout);
        let (d50, d95) = quantiles(draw);
        println!(
            "{width} columns: layout height p50 {l50:.2?} p95 {l95:.2?} (first {l0:.2?}); \
             draw p50 {d50:.2?} p95 {d95:.2?} (first {d0:.2?})"
        );
    }
}
