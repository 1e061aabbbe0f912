//! Rendered frames of a real fleet (issue 11): 480 nodes named by FQDN connection strings
//! (`fixtures::fqdn_fleet`), a fixed `now`, UTC, `TestBackend`. Every `.snap` was read by eye.

use chrono::FixedOffset;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use rotascope::engine::snapshot::Snapshot;
use rotascope::ui::fixtures;
use rotascope::ui::order::Sort;
use rotascope::ui::view::{Focus, ViewState};
use rotascope::ui::{render, Theme};

fn view() -> ViewState {
    ViewState::new(Theme::COLOR, FixedOffset::east_opt(0).unwrap())
}

fn draw(snapshot: &Snapshot, view: &ViewState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| render(f, snapshot, view, fixtures::now()))
        .unwrap();
    fixtures::screen_text(terminal.backend().buffer())
}

fn select(snapshot: &Snapshot, view: &mut ViewState, contains: &str) {
    view.selected = Some(
        snapshot
            .nodes()
            .find(|n| n.key.name.contains(contains))
            .unwrap_or_else(|| panic!("no node {contains}"))
            .key
            .clone(),
    );
}

#[test]
fn fleet_names_are_shortened_200x60() {
    let s = fixtures::fqdn_fleet();
    let mut v = view();
    select(&s, &mut v, "shard-0000-replica-01.");
    insta::assert_snapshot!(draw(&s, &v, 200, 60));
}

#[test]
fn fleet_names_keep_what_differs_80x24() {
    let s = fixtures::fqdn_fleet();
    let mut v = view();
    select(&s, &mut v, "shard-0000-replica-01.");
    let screen = draw(&s, &v, 80, 24);
    insta::assert_snapshot!(screen);
}

#[test]
fn primary_and_replica_and_shards_read_differently() {
    let s = fixtures::fqdn_fleet();
    let v = view();
    for (w, h) in [(80, 40), (120, 40), (200, 60)] {
        let screen = draw(&s, &v, w, h);
        let rows: Vec<&str> = screen
            .lines()
            .filter(|l| {
                !l.starts_with("address") && (l.contains("master ") || l.contains("replica "))
            })
            .map(|l| {
                l.split(" master ")
                    .next()
                    .unwrap()
                    .split(" replica ")
                    .next()
                    .unwrap()
            })
            .collect();
        assert!(rows.len() > 5, "{w}x{h}: {screen}");
        let mut unique = rows.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), rows.len(), "{w}x{h}: names repeat: {rows:?}");
        for r in &rows {
            assert!(
                !r.contains("example.com") && !r.contains(":5432"),
                "{w}x{h}: {r}"
            );
        }
    }
}

#[test]
fn the_detail_pane_shows_the_full_name() {
    let s = fixtures::fqdn_fleet();
    let mut v = view();
    select(&s, &mut v, "shard-0000-replica-01.");
    let screen = draw(&s, &v, 200, 60);
    assert!(screen.contains(
        "postgres://pg-prod-eu-west-1b-orders-shard-0000-replica-01.db.internal.example.com:5432/orders"
    ));
}

fn sorted(sort: Sort, problems_only: bool) -> String {
    let s = fixtures::fqdn_fleet();
    let mut v = view();
    v.sort = sort;
    v.problems_only = problems_only;
    draw(&s, &v, 120, 40)
}

#[test]
fn sort_by_health_puts_problems_first() {
    insta::assert_snapshot!(sorted(Sort::Health, false));
}

#[test]
fn sort_by_name() {
    insta::assert_snapshot!(sorted(Sort::Name, false));
}

#[test]
fn sort_by_latency() {
    insta::assert_snapshot!(sorted(Sort::Latency, false));
}

#[test]
fn sort_by_island() {
    insta::assert_snapshot!(sorted(Sort::Island, false));
}

#[test]
fn problems_only() {
    insta::assert_snapshot!(sorted(Sort::Health, true));
}

#[test]
fn the_title_tells_the_position_in_the_list() {
    let s = fixtures::fqdn_fleet();
    let mut v = view();
    v.sort = Sort::Island;
    let visible = v.visible_nodes(&s);
    v.selected = Some(visible[30].key.clone());
    let screen = draw(&s, &v, 120, 40);
    let title = screen
        .lines()
        .find(|l| l.contains("islands & nodes"))
        .unwrap();
    // Node 31 is the pane's last row (13 node rows and one island row fit at 120×40).
    assert!(title.contains("by island · 19–31 of 480"), "{title}");
    let rows = screen
        .lines()
        .filter(|l| l.contains("-orders-") || l.contains("replica-"))
        .count();
    assert!(rows >= 13, "{screen}");
}

#[test]
fn a_120x20_split_shows_header_nodes_and_footer() {
    let s = fixtures::fqdn_fleet();
    insta::assert_snapshot!(draw(&s, &view(), 120, 20));
}

#[test]
fn a_60x15_terminal_shows_the_nodes_in_fewer_columns() {
    let s = fixtures::fqdn_fleet();
    insta::assert_snapshot!(draw(&s, &view(), 60, 15));
}

#[test]
fn a_60x8_terminal_shows_the_nodes_only() {
    let s = fixtures::fqdn_fleet();
    insta::assert_snapshot!(draw(&s, &view(), 60, 8));
}

#[test]
fn zoom_gives_the_focused_pane_the_screen() {
    let s = fixtures::fqdn_fleet();
    let mut v = view();
    v.zoomed = true;
    let nodes = draw(&s, &v, 120, 30);
    v.focus = Focus::Detail;
    let detail = draw(&s, &v, 120, 30);
    insta::assert_snapshot!(format!("{nodes}\n\n{detail}"));
}

#[test]
fn zoom_in_a_small_terminal_shows_the_zoomed_pane() {
    let s = fixtures::fqdn_fleet();
    let mut v = view();
    v.zoomed = true;
    v.focus = Focus::Timeline;
    let screen = draw(&s, &v, 60, 15);
    assert!(screen.contains(" events"), "{screen}");
    assert!(!screen.contains("islands & nodes"), "{screen}");
}

/// Each row, then the foreground of every cell: `.` none, a letter for a named colour (`r` red,
/// `g` green, `y` yellow, `c` cyan, `b` blue, `m` magenta, `d` dark grey), the light palette's
/// deeper tones as `O` (orange, 130), `G` (green, 28), `B` (blue, 25), `D` (grey, 242).
fn colours(snapshot: &Snapshot, view: &ViewState, width: u16, height: u16) -> String {
    use ratatui::style::Color;
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| render(f, snapshot, view, fixtures::now()))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for row in buffer.content.chunks(usize::from(width)) {
        out += "   |";
        out.extend(row.iter().map(|c| c.symbol().to_owned()));
        out += "\nfg |";
        out.extend(row.iter().map(|c| match c.fg {
            Color::Reset => '.',
            Color::Red => 'r',
            Color::Green => 'g',
            Color::Yellow => 'y',
            Color::Cyan => 'c',
            Color::Blue => 'b',
            Color::Magenta => 'm',
            Color::DarkGray => 'd',
            Color::White => 'w',
            Color::Black => 'k',
            Color::Indexed(130) => 'O',
            Color::Indexed(28) => 'G',
            Color::Indexed(25) => 'B',
            Color::Indexed(242) => 'D',
            _ => '?',
        }));
        out += "\n";
    }
    out
}

#[test]
fn light_theme() {
    let s = fixtures::rotation_in_progress();
    let v = ViewState::new(Theme::LIGHT, FixedOffset::east_opt(0).unwrap());
    insta::assert_snapshot!(colours(&s, &v, 100, 26));
}

#[test]
fn mono_theme() {
    let s = fixtures::rotation_in_progress();
    let v = ViewState::new(Theme::PLAIN, FixedOffset::east_opt(0).unwrap());
    let screen = colours(&s, &v, 100, 26);
    for line in screen.lines().filter(|l| l.starts_with("fg |")) {
        assert!(line[4..].chars().all(|c| c == '.'), "{line}");
    }
    insta::assert_snapshot!(screen);
}
