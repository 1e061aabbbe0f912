//! Foreign text on the human-facing paths: a hostile server's error message (built directly here;
//! the `check` table's own test is in `report::table`) carrying terminal escapes and a
//! right-to-left override, shown escaped on the dashboard and kept exact, but inert, in NDJSON.

use chrono::FixedOffset;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use rotascope::config::ReloadFailure;
use rotascope::engine::event::{Event, EventKind};
use rotascope::engine::Feed;
use rotascope::report::ndjson::feed_line;
use rotascope::ui::fixtures;
use rotascope::ui::view::{Focus, ViewState};
use rotascope::ui::{render, Theme};

/// Set the window title, clear the screen, a C1 CSI, a right-to-left override.
const HOSTILE: &str = "boom\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}x";
const SHOWN: &str = "boom\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}31m\\u{202e}x";

#[test]
fn the_dashboard_shows_escapes_instead_of_obeying_them() {
    let mut s = fixtures::rotation_in_progress();
    for n in &mut s.islands[0].nodes {
        if let Some(e) = &mut n.candidates[0].error {
            e.message = format!("{HOSTILE} auth");
        }
        n.cause = Some(format!("cause {HOSTILE}"));
    }
    s.config.last_error = Some(ReloadFailure {
        at: fixtures::now(),
        message: format!("stderr {HOSTILE}"),
    });
    s.events.push_back(Event {
        at: fixtures::now(),
        kind: EventKind::ConfigFailed {
            path: fixtures::CONFIG_PATH.into(),
            error: format!("event {HOSTILE}"),
        },
    });
    let mut view = ViewState::new(Theme::PLAIN, FixedOffset::east_opt(0).unwrap());
    view.focus = Focus::Detail;
    let mut terminal = Terminal::new(TestBackend::new(220, 60)).unwrap();
    terminal
        .draw(|f| render(f, &s, &view, fixtures::now()))
        .unwrap();
    let screen = fixtures::screen_text(terminal.backend().buffer());
    for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!screen.contains(raw), "{raw:?} on screen");
    }
    for shown in [
        format!("stderr {SHOWN}"),
        format!("event {SHOWN}"),
        format!("cause {SHOWN}"),
        format!("{SHOWN} auth"),
    ] {
        assert!(screen.contains(&shown), "{shown} not on screen:\n{screen}");
    }
}

#[test]
fn ndjson_lines_are_valid_exact_and_inert() {
    let line = feed_line(
        &Feed::Event(Event {
            at: fixtures::now(),
            kind: EventKind::ConfigFailed {
                path: "c.toml".into(),
                error: format!("stderr {HOSTILE}"),
            },
        }),
        1,
    );
    for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!line.contains(raw), "{raw:?} in {line}");
    }
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["type"], "config_failed");
    assert_eq!(v["error"], format!("stderr {HOSTILE}"));
}
