//! Rendered frames of the dashboard: fixture snapshots, a fixed `now`, UTC, `TestBackend`.
//!
//! Every `.snap` file under `tests/snapshots/` was read by eye. Where colour carries meaning the
//! snapshot is a style map: each screen row, then the foreground colour of every cell under it.

use chrono::FixedOffset;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use rotascope::engine::event::{Event, EventKind};
use rotascope::engine::snapshot::{BehindSchedule, Pace, Snapshot, WarningKind};
use rotascope::topology::NodeKey;
use rotascope::ui::fixtures::{self, PASSWORDS};
use rotascope::ui::view::{Focus, Input, Overlay, ViewState};
use rotascope::ui::{render, Theme};

fn view(theme: Theme) -> ViewState {
    ViewState::new(theme, FixedOffset::east_opt(0).unwrap())
}

fn draw(snapshot: &Snapshot, view: &ViewState, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| render(f, snapshot, view, fixtures::now()))
        .unwrap();
    terminal
}

fn key(snapshot: &Snapshot, name: &str) -> NodeKey {
    snapshot
        .nodes()
        .find(|n| &*n.key.name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
        .key
        .clone()
}

fn text(buffer: &Buffer) -> String {
    fixtures::screen_text(buffer)
}

fn letter(c: Color) -> char {
    match c {
        Color::Reset => '.',
        Color::Black => 'k',
        Color::Red => 'r',
        Color::Green => 'g',
        Color::Yellow => 'y',
        Color::Blue => 'b',
        Color::Magenta => 'm',
        Color::Cyan => 'c',
        Color::DarkGray => 'd',
        Color::White => 'w',
        _ => '?',
    }
}

/// Each row as text, then a `fg` row of colour letters (`.` none, `r` red, `g` green, `y` yellow,
/// `c` cyan, `m` magenta, `b` blue, `d` dark grey, `w` white, `k` black) and, where a cell has one,
/// a `bg` row.
fn colour_map(buffer: &Buffer) -> String {
    let w = buffer.area.width as usize;
    let mut out = String::new();
    for row in buffer.content.chunks(w) {
        out += "   |";
        out.extend(row.iter().map(|c| c.symbol().to_owned()));
        out += "\nfg |";
        out.extend(row.iter().map(|c| letter(c.fg)));
        if row.iter().any(|c| c.bg != Color::Reset) {
            out += "\nbg |";
            out.extend(row.iter().map(|c| letter(c.bg)));
        }
        out += "\n";
    }
    out
}

/// Each row as text, then a row of modifiers where any: `R` reversed, `B` bold, `+` both.
fn modifier_map(buffer: &Buffer) -> String {
    let w = buffer.area.width as usize;
    let mut out = String::new();
    for row in buffer.content.chunks(w) {
        out += "   |";
        out.extend(row.iter().map(|c| c.symbol().to_owned()));
        out += "\n";
        if row.iter().any(|c| !c.modifier.is_empty()) {
            out += "mod|";
            out.extend(row.iter().map(|c| {
                let r = c.modifier.contains(Modifier::REVERSED);
                let b = c.modifier.contains(Modifier::BOLD);
                match (r, b) {
                    (true, true) => '+',
                    (true, false) => 'R',
                    (false, true) => 'B',
                    (false, false) => '.',
                }
            }));
            out += "\n";
        }
    }
    out
}

#[test]
fn loading() {
    let t = draw(&fixtures::loading(), &view(Theme::COLOR), 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn first_probes_in_flight() {
    let t = draw(&fixtures::first_probes(), &view(Theme::COLOR), 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn all_ok() {
    let t = draw(&fixtures::all_ok(), &view(Theme::COLOR), 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn rotation_in_progress() {
    let t = draw(
        &fixtures::rotation_in_progress(),
        &view(Theme::COLOR),
        120,
        40,
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn node_down() {
    let s = fixtures::node_down();
    let mut v = view(Theme::COLOR);
    v.selected = Some(key(&s, "db-b2"));
    let t = draw(&s, &v, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn failover_no_master() {
    let s = fixtures::failover_no_master();
    let t = draw(&s, &view(Theme::COLOR), 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn reload_error_banner() {
    let t = draw(&fixtures::reload_error(), &view(Theme::COLOR), 120, 40);
    insta::assert_snapshot!(t.backend());
}

/// `all_ok` with the engine behind schedule: 1 s configured, 1.7 s real (3.25 s at worst),
/// raised a second ago.
fn behind_schedule() -> Snapshot {
    let mut s = fixtures::all_ok();
    let pace = Pace {
        interval: std::time::Duration::from_secs(1),
        real_p50: std::time::Duration::from_millis(1700),
        real_max: std::time::Duration::from_millis(3250),
        samples: 812,
    };
    let since = s.generated_at;
    s.settings.interval = pace.interval;
    s.behind_schedule = Some(BehindSchedule { pace, since });
    s.events.push_back(Event {
        at: since,
        kind: EventKind::ClusterWarning {
            warning: WarningKind::BehindSchedule,
            active: true,
            detail: pace.detail(),
            pace,
        },
    });
    s
}

#[test]
fn behind_schedule_in_the_header() {
    let t = draw(&behind_schedule(), &view(Theme::COLOR), 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn behind_schedule_stays_on_a_narrow_screen() {
    let t = draw(&behind_schedule(), &view(Theme::COLOR), 80, 24);
    let first = text(t.backend().buffer());
    let first = first.lines().next().unwrap();
    assert!(first.contains("⚠ behind schedule"), "{first}");
}

#[test]
fn help_overlay() {
    let mut v = view(Theme::COLOR);
    v.overlay = Overlay::Help;
    let t = draw(&fixtures::rotation_in_progress(), &v, 120, 40);
    insta::assert_snapshot!(t.backend());
}

/// `[ui.keys]` moved reload, quit, help and a lab key, and took reprobe_all's key away: the
/// overlay, its title and the footer show the keys in force.
#[test]
fn help_overlay_with_key_overrides() {
    let overrides = [
        ("reload", &["x", "F5", "ctrl-r"][..]),
        ("quit", &["ctrl-q"][..]),
        ("help", &["F1"][..]),
        ("reprobe_all", &[][..]),
        ("lab_rotate", &["alt-r"][..]),
    ]
    .map(|(a, ks)| (a.to_owned(), ks.iter().map(|k| (*k).to_owned()).collect()));
    let mut v = view(Theme::COLOR);
    v.keys = rotascope::ui::keymap::Keymap::with_overrides(&overrides).unwrap();
    v.lab = Some(rotascope::ui::view::LabClock {
        first: fixtures::now(),
        every: std::time::Duration::from_secs(20),
    });
    v.overlay = Overlay::Help;
    let t = draw(&fixtures::rotation_in_progress(), &v, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn help_overlay_80x24() {
    let mut v = view(Theme::COLOR);
    v.overlay = Overlay::Help;
    let t = draw(&fixtures::rotation_in_progress(), &v, 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn filter_being_typed() {
    let mut v = view(Theme::COLOR);
    v.input = Input::Filter;
    v.filter = "db-b".into();
    let t = draw(&fixtures::rotation_in_progress(), &v, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn filter_kept_with_no_match() {
    let mut v = view(Theme::COLOR);
    v.filter = "nothing-like-this".into();
    let t = draw(&fixtures::rotation_in_progress(), &v, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn detail_focus() {
    let s = fixtures::rotation_in_progress();
    let mut v = view(Theme::COLOR);
    v.focus = Focus::Detail;
    v.selected = Some(s.islands[0].nodes[1].key.clone());
    let t = draw(&s, &v, 120, 40);
    insta::assert_snapshot!(t.backend());
}

/// `[usage] enabled = false`: the detail pane says sessions are not counted (one line, where
/// the sessions per login would be).
#[test]
fn detail_with_session_counting_off() {
    let mut s = fixtures::rotation_in_progress();
    s.usage_enabled = false;
    let mut v = view(Theme::COLOR);
    v.focus = Focus::Detail;
    v.selected = Some(s.islands[0].nodes[1].key.clone());
    let t = draw(&s, &v, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn paused_with_a_notice() {
    let mut v = view(Theme::COLOR);
    v.paused = true;
    v.notify(
        "reprobe requested: 0/postgres://127.0.0.1:54320/app",
        rotascope::ui::view::NoticeKind::Info,
    );
    let t = draw(&fixtures::rotation_in_progress(), &v, 100, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn rotation_in_progress_80x24() {
    let t = draw(
        &fixtures::rotation_in_progress(),
        &view(Theme::COLOR),
        80,
        24,
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn reload_error_80x24() {
    let t = draw(&fixtures::reload_error(), &view(Theme::COLOR), 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn too_small() {
    let t = draw(&fixtures::all_ok(), &view(Theme::COLOR), 39, 12);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn colours_carry_health_and_failures() {
    let s = fixtures::node_down();
    let mut v = view(Theme::COLOR);
    v.selected = Some(key(&s, "db-b2"));
    let t = draw(&s, &v, 100, 30);
    insta::assert_snapshot!(colour_map(t.backend().buffer()));
}

#[test]
fn no_color_keeps_every_symbol_and_drops_every_colour() {
    let s = fixtures::node_down();
    let mut coloured = view(Theme::COLOR);
    coloured.selected = Some(key(&s, "db-b2"));
    let mut plain = coloured.clone();
    plain.theme = Theme::PLAIN;
    let c = draw(&s, &coloured, 100, 30);
    let p = draw(&s, &plain, 100, 30);
    let (cb, pb) = (c.backend().buffer(), p.backend().buffer());
    assert_eq!(
        text(cb),
        text(pb),
        "the same words and symbols with and without colour"
    );
    for cell in &pb.content {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
    }
    insta::assert_snapshot!(modifier_map(pb));
}

#[test]
fn no_password_ever_reaches_the_screen() {
    let fixtures: [(&str, Snapshot); 7] = [
        ("loading", fixtures::loading()),
        ("first_probes", fixtures::first_probes()),
        ("all_ok", fixtures::all_ok()),
        ("rotation", fixtures::rotation_in_progress()),
        ("down", fixtures::node_down()),
        ("failover", fixtures::failover_no_master()),
        ("reload_error", fixtures::reload_error()),
    ];
    let mut frames = 0;
    for (name, s) in &fixtures {
        let keys: Vec<Option<NodeKey>> = std::iter::once(None)
            .chain(s.nodes().map(|n| Some(n.key.clone())))
            .collect();
        for selected in keys {
            for focus in [Focus::Nodes, Focus::Detail, Focus::Timeline] {
                for (w, h) in [(80, 24), (120, 40), (200, 60)] {
                    let mut v = view(Theme::COLOR);
                    v.selected = selected.clone();
                    v.focus = focus;
                    let screen = text(draw(s, &v, w, h).backend().buffer());
                    frames += 1;
                    for p in PASSWORDS {
                        assert!(!screen.contains(p), "{name}: password on screen");
                    }
                    let compact: String = screen.split_whitespace().collect();
                    for p in PASSWORDS {
                        assert!(!compact.contains(p), "{name}: password split across cells");
                    }
                }
            }
        }
    }
    assert!(frames > 100);
}

#[test]
fn every_key_in_the_table_is_in_the_help_overlay() {
    use rotascope::ui::keymap::{Context, BINDINGS};
    let mut v = view(Theme::COLOR);
    v.overlay = Overlay::Help;
    // Outside the lab its keys are not offered.
    let plain = text(draw(&fixtures::all_ok(), &v, 120, 40).backend().buffer());
    assert!(!plain.contains("lab: rotate"), "{plain}");
    // In the lab every key is there, the lab's too.
    v.lab = Some(rotascope::ui::view::LabClock {
        first: fixtures::now(),
        every: std::time::Duration::from_secs(20),
    });
    for (w, h) in [(80, 24), (120, 40)] {
        let t = draw(&fixtures::all_ok(), &v, w, h);
        let screen = text(t.backend().buffer());
        let rows: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
        // The popup's inside: between the double-line corners, rows joined, spaces collapsed.
        let top = rows.iter().position(|r| r.contains(&'╔')).unwrap();
        let bottom = rows.iter().position(|r| r.contains(&'╝')).unwrap();
        let left = rows[top].iter().position(|c| *c == '╔').unwrap();
        let right = rows[bottom].iter().position(|c| *c == '╝').unwrap();
        assert!(screen.lines().nth(top).unwrap().contains("? or Esc closes"));
        let inside: String = rows[top + 1..bottom]
            .iter()
            .map(|r| r[left + 1..right].iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ");
        let inside = inside.split_whitespace().collect::<Vec<_>>().join(" ");
        for b in BINDINGS.iter().filter(|b| b.context != Context::Help) {
            let help = b.help.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(inside.contains(b.label), "{w}x{h}: key {} missing", b.label);
            assert!(inside.contains(&help), "{w}x{h}: {help:?} missing");
        }
    }
}

/// The hints inside panes name the keys in force: with `[ui.keys]` moving `back`, `problems` and
/// `quit`, the empty table and the "too small" notice say the new keys.
#[test]
fn pane_hints_name_the_keys_from_ui_keys() {
    // P is `reprobe_all`'s by default: it moves too.
    let overrides = [
        ("back", "ctrl-x"),
        ("problems", "P"),
        ("quit", "ctrl-q"),
        ("reprobe_all", "ctrl-p"),
    ]
    .map(|(a, k)| (a.to_owned(), vec![k.to_owned()]));
    let mut v = view(Theme::COLOR);
    v.keys = rotascope::ui::keymap::Keymap::with_overrides(&overrides).unwrap();
    v.filter = "nothing-like-this".into();
    let s = fixtures::all_ok();
    let text = fixtures::screen_text(draw(&s, &v, 120, 40).backend().buffer());
    assert!(text.contains("(C-x clears)"), "{text}");
    v.filter.clear();
    v.problems_only = true;
    let text = fixtures::screen_text(draw(&s, &v, 120, 40).backend().buffer());
    assert!(text.contains("(P shows all)"), "{text}");
    let text = fixtures::screen_text(draw(&s, &v, 39, 5).backend().buffer());
    assert!(text.contains("C-q quits"), "{text}");
}
