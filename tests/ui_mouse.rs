//! The mouse, through the UI loop: scripted mouse and key events in, commands and frames out
//! (`TestBackend`, fixture snapshots, no terminal).

use std::io;
use std::sync::Arc;

use chrono::FixedOffset;
use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use rotascope::clock::ManualClock;
use rotascope::engine::snapshot::Snapshot;
use rotascope::engine::Command;
use rotascope::ui::fixtures::{self, FrameTap};
use rotascope::ui::view::ViewState;
use rotascope::ui::{render, run, Options, Theme};

const W: u16 = 120;
const H: u16 = 32;

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> io::Result<Event> {
    Ok(Event::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }))
}

fn ch(c: char) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

/// The screen row a text is on in the first frame.
fn row_of(snapshot: &Snapshot, text: &str) -> u16 {
    let mut t = Terminal::new(TestBackend::new(W, H)).unwrap();
    let view = ViewState::new(Theme::COLOR, FixedOffset::east_opt(0).unwrap());
    t.draw(|f| render(f, snapshot, &view, fixtures::now()))
        .unwrap();
    let screen = fixtures::screen_text(t.backend().buffer());
    screen
        .lines()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("{text} not on screen:\n{screen}")) as u16
}

async fn script(
    snapshot: Snapshot,
    events: Vec<io::Result<Event>>,
    options: Options,
) -> (Vec<Command>, String) {
    let (_publish, snapshots) = watch::channel(Arc::new(snapshot));
    let (commands, mut sent) = mpsc::channel(8);
    let (frames, _seen) = mpsc::unbounded_channel();
    let mut terminal = Terminal::new(FrameTap {
        inner: TestBackend::new(W, H),
        frames,
    })
    .unwrap();
    run(
        &mut terminal,
        snapshots,
        commands,
        Arc::new(ManualClock::new(fixtures::now())),
        futures::stream::iter(events),
        CancellationToken::new(),
        options,
    )
    .await
    .expect("the loop ends with the input");
    let mut out = Vec::new();
    while let Ok(c) = sent.try_recv() {
        out.push(c);
    }
    (out, terminal.backend().text())
}

fn key_of(snapshot: &Snapshot, name: &str) -> rotascope::topology::NodeKey {
    snapshot
        .nodes()
        .find(|n| &*n.key.name == name)
        .unwrap()
        .key
        .clone()
}

#[tokio::test(start_paused = true)]
async fn a_click_selects_the_node_and_the_wheel_scrolls_the_pane_under_the_pointer() {
    let s = fixtures::rotation_in_progress();
    let db_b1 = row_of(&s, "  db-b1 ");
    let events_row = row_of(&s, " events ") + 3;
    let (commands, screen) = script(
        s.clone(),
        vec![
            mouse(MouseEventKind::Down(MouseButton::Left), 10, db_b1),
            ch('p'),
            mouse(MouseEventKind::ScrollDown, 20, events_row),
            mouse(MouseEventKind::ScrollDown, 20, events_row),
            // Still the nodes pane's keys: the wheel did not move the focus.
            ch('a'),
        ],
        Options::utc(Theme::COLOR),
    )
    .await;
    assert_eq!(
        commands,
        [
            Command::Reprobe(key_of(&s, "db-b1")),
            Command::Audit(key_of(&s, "db-b1")),
        ]
    );
    assert!(screen.contains("▶ db-b1 "), "{screen}");
    assert!(
        screen.contains("events · newest first · 6 newer above"),
        "{screen}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_click_on_a_pane_focuses_it() {
    let s = fixtures::rotation_in_progress();
    let events_row = row_of(&s, " events ") + 2;
    let (_, screen) = script(
        s,
        vec![mouse(
            MouseEventKind::Down(MouseButton::Left),
            5,
            events_row,
        )],
        Options::utc(Theme::COLOR),
    )
    .await;
    let title = screen.lines().find(|l| l.contains(" events ")).unwrap();
    assert!(
        title.contains('━'),
        "the events rule is thick: focused\n{screen}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_the_mouse_off_clicks_do_nothing() {
    let s = fixtures::rotation_in_progress();
    let db_b1 = row_of(&s, "  db-b1 ");
    let options = Options {
        mouse: false,
        ..Options::utc(Theme::COLOR)
    };
    let (commands, _) = script(
        s.clone(),
        vec![
            mouse(MouseEventKind::Down(MouseButton::Left), 10, db_b1),
            ch('p'),
        ],
        options,
    )
    .await;
    assert_eq!(
        commands,
        [Command::Reprobe(s.islands[0].nodes[0].key.clone())]
    );
}
