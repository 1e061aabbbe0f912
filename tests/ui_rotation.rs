//! The credential timeline panel (`src/ui/render/rotation.rs`): fixture histories built with
//! `History::from_events`, a fixed `now`, UTC, `TestBackend`. Every `.snap` was read by eye.

use chrono::FixedOffset;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use rotascope::engine::snapshot::Snapshot;
use rotascope::topology::NodeKey;
use rotascope::ui::fixtures::{self, rotation as story, PASSWORDS};
use rotascope::ui::keymap::Action;
use rotascope::ui::render::rotation;
use rotascope::ui::view::{PanelMode, ViewState};
use rotascope::ui::{render, update, Theme};

fn view(theme: Theme) -> ViewState {
    ViewState::new(theme, FixedOffset::east_opt(0).unwrap())
}

fn key(snapshot: &Snapshot, name: &str) -> NodeKey {
    snapshot
        .nodes()
        .find(|n| n.key.name.contains(name))
        .unwrap_or_else(|| panic!("no node {name}"))
        .key
        .clone()
}

/// The panel alone, as tall as it asks to be on a 60-row screen of `width` columns.
fn panel(snapshot: &Snapshot, view: &ViewState, width: u16) -> Buffer {
    let mut v = view.clone();
    v.rotation = PanelMode::Shown;
    let screen = Rect::new(0, 0, width, 60);
    let h = rotation::height(snapshot, &v, screen, 60, fixtures::now());
    let mut t = Terminal::new(TestBackend::new(width, h)).unwrap();
    t.draw(|f| rotation::render(f, f.area(), snapshot, &v, fixtures::now()))
        .unwrap();
    t.backend().buffer().clone()
}

fn screen(snapshot: &Snapshot, view: &ViewState, width: u16, height: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| render(f, snapshot, view, fixtures::now()))
        .unwrap();
    fixtures::screen_text(t.backend().buffer())
}

fn text(b: &Buffer) -> String {
    fixtures::screen_text(b)
}

/// Each row, then the background of every cell where any is set (`s` shaded, `.` none).
fn shading(b: &Buffer) -> String {
    let w = b.area.width as usize;
    let mut out = String::new();
    for row in b.content.chunks(w) {
        out += "   |";
        out.extend(row.iter().map(|c| c.symbol().to_owned()));
        out += "\n";
        if row.iter().any(|c| c.bg != Color::Reset) {
            out += "bg |";
            out.extend(
                row.iter()
                    .map(|c| if c.bg == Color::Reset { '.' } else { 's' }),
            );
            out += "\n";
        }
    }
    out
}

#[test]
fn before_a_rotation_every_credential_is_valid_since_the_first_probes() {
    let s = story::before();
    insta::assert_snapshot!(text(&panel(&s, &view(Theme::COLOR), 120)));
}

#[test]
fn during_a_rotation_the_refused_credential_turns_and_the_window_is_shaded() {
    let s = story::during();
    let b = panel(&s, &view(Theme::COLOR), 120);
    insta::assert_snapshot!(shading(&b));
}

#[test]
fn after_a_rotation_the_old_password_ends_the_new_one_starts_and_the_summary_stays() {
    let s = story::after();
    let b = panel(&s, &view(Theme::COLOR), 120);
    let t = text(&b);
    assert!(
        t.contains("rotation 10:08:41–10:08:48: app_a changed, 2/4 nodes degraded 7 s, 0 outages, 4 failed auths"),
        "{t}"
    );
    insta::assert_snapshot!(t);
}

#[test]
fn an_outage_window_is_marked_on_the_nodes_row_and_the_winner_row() {
    let s = story::outage();
    let mut v = view(Theme::COLOR);
    v.selected = Some(key(&s, "db-b2"));
    insta::assert_snapshot!(text(&panel(&s, &v, 120)));
}

#[test]
fn untested_and_stale_credentials_have_their_own_cells() {
    let s = story::untested();
    insta::assert_snapshot!(text(&panel(&s, &view(Theme::COLOR), 120)));
}

#[test]
fn a_wide_screen_shows_more_minutes_and_the_time_before_the_monitor_ran() {
    let s = story::after();
    insta::assert_snapshot!(text(&panel(&s, &view(Theme::COLOR), 200)));
}

#[test]
fn narrow_widths_keep_whole_minutes_and_now_at_the_right() {
    let s = story::during();
    let v = view(Theme::COLOR);
    let mut all = String::new();
    for w in [80u16, 60, 40, 24] {
        all += &format!("── {w} columns\n{}\n", text(&panel(&s, &v, w)));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn mono_keeps_every_glyph_and_drops_every_colour() {
    for (name, s) in story::all() {
        let c = panel(&s, &view(Theme::COLOR), 120);
        let p = panel(&s, &view(Theme::PLAIN), 120);
        assert_eq!(
            text(&c),
            text(&p),
            "{name}: the same glyphs with and without colour"
        );
        for cell in &p.content {
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "{name}: {cell:?}"
            );
        }
    }
    let p = panel(&story::outage(), &view(Theme::PLAIN), 100);
    let bold: Vec<usize> = p
        .content
        .iter()
        .enumerate()
        .filter(|(_, c)| c.modifier.contains(Modifier::BOLD))
        .map(|(i, _)| i)
        .collect();
    assert!(
        !bold.is_empty(),
        "the title and the winner's names stay bold"
    );
    insta::assert_snapshot!(text(&p));
}

#[test]
fn no_password_reaches_the_panel() {
    for (name, s) in story::all() {
        for w in [80u16, 120, 200] {
            let t = text(&panel(&s, &view(Theme::COLOR), w));
            let compact: String = t.split_whitespace().collect();
            for p in PASSWORDS {
                assert!(!t.contains(p) && !compact.contains(p), "{name}");
            }
        }
    }
}

#[test]
fn the_panel_is_shown_by_default_when_there_is_room_and_t_toggles_it() {
    let s = story::during();
    let mut v = view(Theme::COLOR);
    let title = "credentials · last";
    let summary = "rotation 1 in progress since 10:14:57";

    // 120×40: room, so it is drawn at first
    let big = screen(&s, &v, 120, 40);
    assert!(big.contains(title), "{big}");
    assert!(big.contains(summary), "{big}");
    v.rotation_drawn = true; // what the loop records after that frame

    // `t` hides it; the summary line stays
    update(&mut v, Action::ToggleRotation, &s);
    assert_eq!(v.rotation, PanelMode::Hidden);
    let hidden = screen(&s, &v, 120, 40);
    assert!(!hidden.contains(title), "{hidden}");
    assert!(hidden.contains(summary), "{hidden}");

    // `t` again brings it back
    update(&mut v, Action::ToggleRotation, &s);
    assert_eq!(v.rotation, PanelMode::Shown);
    assert!(screen(&s, &v, 120, 40).contains(title));

    // 80×24: no room by default, the summary line only; `t` asks for it anyway
    let mut small = view(Theme::COLOR);
    let text = screen(&s, &small, 80, 24);
    assert!(!text.contains(title), "{text}");
    assert!(text.contains("rotation 1 in progress"), "{text}");
    small.rotation_drawn = false;
    update(&mut small, Action::ToggleRotation, &s);
    assert_eq!(small.rotation, PanelMode::Shown);
    let shown = screen(&s, &small, 80, 24);
    assert!(shown.contains("credentials · last"), "{shown}");

    // No history yet (the first probes): nothing to draw, nothing drawn
    let fresh = screen(&fixtures::first_probes(), &view(Theme::COLOR), 120, 40);
    assert!(!fresh.contains(title), "{fresh}");
}

#[test]
fn the_whole_screen_during_a_rotation() {
    let s = story::during();
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    t.draw(|f| render(f, &s, &view(Theme::COLOR), fixtures::now()))
        .unwrap();
    insta::assert_snapshot!(t.backend());
}
