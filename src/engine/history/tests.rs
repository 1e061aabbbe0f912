//! History from events: what a reader gets back.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::engine::event::{Event, EventKind};
use crate::engine::snapshot::Health;
use crate::topology::IslandNo;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_800_000_000 + s)
}

fn cand(login: &str, pw: &str) -> CandidateRef {
    CandidateRef {
        index: 0,
        login: login.into(),
        label: Some("current".into()),
        fingerprint: Fingerprint::with_key(b"k", pw),
    }
}

fn ev(s: i64, kind: EventKind) -> Event {
    Event { at: at(s), kind }
}

fn state(s: i64, node: &str, c: &CandidateRef, from: CandidateState, to: CandidateState) -> Event {
    ev(
        s,
        EventKind::CandidateChanged {
            island: IslandNo(0),
            node: node.into(),
            candidate: c.clone(),
            from,
            to,
            error: None,
        },
    )
}

fn health(s: i64, node: &str, from: Health, to: Health) -> Event {
    ev(
        s,
        EventKind::HealthChanged {
            island: IslandNo(0),
            node: node.into(),
            from,
            to,
            cause: None,
        },
    )
}

#[test]
fn cells_fold_every_node_of_a_credential_and_show_gaps_and_degraded_shading() {
    use CandidateState::*;
    let a = cand("app", "one");
    let events = [
        state(0, "db-1", &a, Untested, Valid),
        health(0, "db-1", Health::Unknown, Health::Ok),
        state(0, "db-2", &a, Untested, Valid),
        health(0, "db-2", Health::Unknown, Health::Ok),
        // db-2 refuses it from 10 s to 20 s
        state(10, "db-2", &a, Valid, Invalid),
        health(10, "db-2", Health::Ok, Health::Degraded),
        state(20, "db-2", &a, Invalid, Valid),
        health(20, "db-2", Health::Degraded, Health::Ok),
    ];
    let mut h = History::from_events(at(0), &events);
    h.end_run(at(30));
    let key = CredKey::of(&a);
    assert_eq!(h.credentials().count(), 1);
    let cells = h.credential_cells(&key, at(0), at(40), 4);
    assert_eq!(
        cells,
        [
            Cell::ValidEverywhere,
            Cell::ValidSome,
            Cell::ValidEverywhere,
            Cell::Gap
        ]
    );
    let shading = h.cluster_cells(at(0), at(40), 4);
    let degraded: Vec<bool> = shading.iter().map(|c| c.degraded).collect();
    assert_eq!(degraded, [false, true, false, false]);
    assert!(shading[3].gap && !shading[0].gap);
    // Saved and restored, it reads the same.
    let back = History::restore(h.save(), HORIZON, MAX_POINTS).unwrap();
    assert_eq!(back.credential_cells(&key, at(0), at(40), 4), cells);
    assert_eq!(back.runs(), h.runs());
}

#[test]
fn the_horizon_and_the_point_budget_bound_a_track() {
    use CandidateState::*;
    let a = cand("app", "one");
    let mut h = History::new(std::time::Duration::from_secs(100), 10);
    h.start_run(at(0));
    let mut o = Observed::default();
    let mut changes = Vec::new();
    for s in 0..10_000 {
        let (from, to) = if s % 2 == 0 {
            (Valid, Invalid)
        } else {
            (Invalid, Valid)
        };
        changes.clear();
        o.apply(&state(s, "db", &a, from, to), &mut changes);
        for c in &changes {
            h.record(at(s), c);
        }
    }
    let (_, node) = h.nodes().next().unwrap();
    let track = &node.candidates[&CredKey::of(&a)];
    assert!(
        track.len() <= MIN_TRACK_POINTS + track::CHUNK,
        "{}",
        track.len()
    );
    assert!(h.kept_from().unwrap() > at(9_000), "{:?}", h.kept_from());
}

/// What every node's spans paint, node by node: the folds must paint the same cells.
fn naive_cells(h: &History, cred: &CredKey, grid: Grid) -> Vec<Cell> {
    let mut seen = vec![Seen::default(); grid.n];
    for node in h.nodes.values() {
        if let Some(track) = node.candidates.get(cred) {
            for s in track.spans(grid.from, grid.to) {
                if let Some(state) = s.value {
                    grid.paint(&mut seen, s.from, s.to, Seen::of(state));
                }
            }
        }
    }
    h.paint_gaps(&grid, &mut seen);
    seen.into_iter().map(Seen::cell).collect()
}

fn naive_cluster(h: &History, grid: Grid) -> Vec<(bool, bool, bool)> {
    let mut cells = vec![(false, false, false); grid.n];
    for node in h.nodes.values() {
        for s in node.health.spans(grid.from, grid.to) {
            if matches!(s.value, Some(Health::Degraded | Health::Down)) {
                cells[grid.cells(s.from, s.to)]
                    .iter_mut()
                    .for_each(|c| c.0 = true);
            }
        }
        for s in node.access.spans(grid.from, grid.to) {
            for c in &mut cells[grid.cells(s.from, s.to)] {
                c.1 |= s.value == Some(Access::LockedOut);
                c.2 |= s.value == Some(Access::Unreachable);
            }
        }
    }
    cells
}

#[test]
fn folded_cells_equal_every_node_painted_one_by_one_in_any_window_and_version() {
    let keys: Vec<NodeKey> = (0..5)
        .map(|i| NodeKey {
            island: IslandNo(i % 2),
            name: format!("db-{i}").into(),
        })
        .collect();
    let start = at(0);
    let mut h = crate::ui::fixtures::history::rotations(&keys, 12, start);
    // An older window first, then later ones (the folds start over for an earlier time), across
    // a new version of the history (a change after the folds were made) and a clone made before.
    let before = h.clone();
    for round in 0..2 {
        for (from_s, len_s, n) in [(3_600, 1_200, 37), (0, 14_400, 90), (7_000, 900, 90)] {
            let grid = Grid {
                from: millis(at(from_s)),
                to: millis(at(from_s + len_s)),
                n,
            };
            for (cred, _) in h.credentials() {
                let got = h.credential_cells(cred, time(grid.from), time(grid.to), n);
                assert_eq!(
                    got,
                    naive_cells(&h, cred, grid),
                    "{cred:?} {from_s}+{len_s}"
                );
            }
            let got: Vec<_> = h
                .cluster_cells(time(grid.from), time(grid.to), n)
                .iter()
                .map(|c| (c.degraded, c.locked_out, c.unreachable))
                .collect();
            assert_eq!(got, naive_cluster(&h, grid), "{from_s}+{len_s}");
        }
        if round == 0 {
            h.end_run(at(3_000));
            h.start_run(at(3_100));
        }
    }
    let (cred, _) = before.credentials().next().expect("a credential");
    let grid = Grid {
        from: millis(at(2_900)),
        to: millis(at(3_300)),
        n: 40,
    };
    let got = before.credential_cells(cred, time(grid.from), time(grid.to), 40);
    assert_eq!(got, naive_cells(&before, cred, grid));
}
