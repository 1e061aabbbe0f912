//! The UI loop driven like a person would: scripted keys in, frames and engine commands out.
//!
//! No terminal: `TestBackend` (wrapped so each flushed frame is sent to the test), an input stream
//! the test feeds, a `watch` of fixture snapshots standing in for the engine, and the receiving end
//! of the command channel. Time is tokio's paused clock, so ticks cost nothing and nothing sleeps
//! for real; the test waits for frames, never for time.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::Stream;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use rotascope::clock::{Clock, ManualClock, SharedClock};
use rotascope::engine::snapshot::Snapshot;
use rotascope::engine::Command;
use rotascope::ui::fixtures;
use rotascope::ui::keymap::Keymap;
use rotascope::ui::{run, run_with, Console, JobControl, JobSignal, Options, Theme, UiError};

use rotascope::ui::fixtures::FrameTap as Tap;

/// A wall clock that moves with tokio's (paused) clock, so relative times age as ticks pass.
struct TokioClock {
    start: tokio::time::Instant,
    at: DateTime<Utc>,
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.at + chrono::Duration::from_std(self.start.elapsed()).unwrap()
    }
}

type Keys = Pin<Box<dyn Stream<Item = io::Result<Event>> + Send>>;

fn key(code: KeyCode) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(c: char) -> io::Result<Event> {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    Ok(Event::Key(KeyEvent::new(KeyCode::Char(c), mods)))
}

fn ctrl_c() -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )))
}

fn typed(text: &str) -> Vec<io::Result<Event>> {
    text.chars().map(ch).collect()
}

fn clock() -> SharedClock {
    Arc::new(ManualClock::new(fixtures::now()))
}

/// Runs the loop over a fixed list of keys to the end; returns the commands it sent and the last
/// frame.
async fn script(
    snapshot: Snapshot,
    keys: Vec<io::Result<Event>>,
    queue: usize,
) -> (Result<(), UiError>, Vec<Command>, String) {
    script_sized(snapshot, keys, queue, (120, 40)).await
}

/// [`script`] on a terminal of `(width, height)`.
async fn script_sized(
    snapshot: Snapshot,
    keys: Vec<io::Result<Event>>,
    queue: usize,
    size: (u16, u16),
) -> (Result<(), UiError>, Vec<Command>, String) {
    script_with(snapshot, keys, queue, size, Options::utc(Theme::COLOR)).await
}

/// [`script_sized`] with these options (a key table from `[ui.keys]`).
async fn script_with(
    snapshot: Snapshot,
    keys: Vec<io::Result<Event>>,
    queue: usize,
    (width, height): (u16, u16),
    options: Options,
) -> (Result<(), UiError>, Vec<Command>, String) {
    let (_publish, snapshots) = watch::channel(Arc::new(snapshot));
    let (commands, mut sent) = mpsc::channel(queue);
    let (frames, _seen) = mpsc::unbounded_channel();
    let mut terminal = Terminal::new(Tap {
        inner: TestBackend::new(width, height),
        frames,
    })
    .unwrap();
    let result = run(
        &mut terminal,
        snapshots,
        commands,
        clock(),
        futures::stream::iter(keys),
        CancellationToken::new(),
        options,
    )
    .await;
    let mut out = Vec::new();
    while let Ok(c) = sent.try_recv() {
        out.push(c);
    }
    (result, out, terminal.backend().text())
}

/// A loop running in its own task, fed and watched by the test.
struct Live {
    keys: mpsc::UnboundedSender<io::Result<Event>>,
    publish: watch::Sender<Arc<Snapshot>>,
    commands: mpsc::Receiver<Command>,
    frames: mpsc::UnboundedReceiver<String>,
    shutdown: CancellationToken,
    task: JoinHandle<(Result<(), UiError>, Terminal<Tap>)>,
}

impl Live {
    fn start(snapshot: Snapshot, clock: SharedClock) -> Live {
        let (publish, snapshots) = watch::channel(Arc::new(snapshot));
        let (commands_tx, commands) = mpsc::channel(8);
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let (keys, keys_rx) = mpsc::unbounded_channel();
        let input: Keys = Box::pin(futures::stream::unfold(keys_rx, |mut rx| async move {
            rx.recv().await.map(|k| (k, rx))
        }));
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            let mut terminal = Terminal::new(Tap {
                inner: TestBackend::new(120, 40),
                frames: frames_tx,
            })
            .unwrap();
            let result = run(
                &mut terminal,
                snapshots,
                commands_tx,
                clock,
                input,
                token,
                Options::utc(Theme::COLOR),
            )
            .await;
            (result, terminal)
        });
        Live {
            keys,
            publish,
            commands,
            frames,
            shutdown,
            task,
        }
    }

    fn press(&self, event: io::Result<Event>) {
        self.keys.send(event).unwrap();
    }

    /// Frames drawn so far and not yet looked at are stale: drop them.
    fn forget_frames(&mut self) {
        while self.frames.try_recv().is_ok() {}
    }

    /// Waits for a frame that passes `ok` (a minute of paused time at most: the loop redraws every
    /// second, so a frame that never comes fails the test instead of hanging it).
    async fn frame_where(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let wait = async {
            while let Some(f) = self.frames.recv().await {
                if ok(&f) {
                    return Some(f);
                }
                last = f;
            }
            None
        };
        let got = tokio::time::timeout(Duration::from_secs(60), wait).await;
        match got {
            Ok(Some(f)) => f,
            _ => panic!("no frame {what}; last frame:\n{last}"),
        }
    }

    async fn next_frame(&mut self) -> String {
        self.frame_where("at all", |_| true).await
    }

    async fn finish(self) -> (Result<(), UiError>, Terminal<Tap>) {
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the loop ended")
            .expect("the loop did not panic")
    }
}

fn node(snapshot: &Snapshot, i: usize) -> rotascope::topology::NodeKey {
    snapshot.nodes().nth(i).unwrap().key.clone()
}

#[tokio::test]
async fn keys_ask_the_engine_for_work() {
    let s = fixtures::all_ok();
    let keys = vec![
        ch('p'),
        ch('j'),
        ch('p'),
        ch('P'),
        key(KeyCode::Down),
        ch('a'),
        ch('A'),
        ch('r'),
        key(KeyCode::End),
        ch('p'),
        ch('k'),
        key(KeyCode::Up),
        key(KeyCode::Home),
        ch('a'),
        ch('q'),
    ];
    let (result, commands, last) = script(s.clone(), keys, 16).await;
    result.unwrap();
    assert_eq!(
        commands,
        [
            Command::Reprobe(node(&s, 0)),
            Command::Reprobe(node(&s, 1)),
            Command::ReprobeAll,
            Command::Audit(node(&s, 2)),
            Command::AuditAll,
            Command::Reload,
            Command::Reprobe(node(&s, 3)),
            Command::Audit(node(&s, 0)),
        ]
    );
    assert!(
        last.contains(&format!("→ audit requested: {}", node(&s, 0))),
        "the footer confirms the last request:\n{last}"
    );
}

#[tokio::test]
async fn keys_from_ui_keys_act_and_the_keys_they_replace_do_not() {
    let overrides = [("reload", &["x", "F5"][..]), ("quit", &["ctrl-q"][..])]
        .map(|(a, ks)| (a.to_owned(), ks.iter().map(|k| (*k).to_owned()).collect()));
    let options = Options {
        keys: Keymap::with_overrides(&overrides).unwrap(),
        ..Options::utc(Theme::COLOR)
    };
    let keys = vec![
        ch('r'),
        ch('x'),
        ch('q'),
        key(KeyCode::F(5)),
        Ok(Event::Key(KeyEvent::new(
            KeyCode::Char('q'),
            KeyModifiers::CONTROL,
        ))),
        // After the quit: never read.
        ch('x'),
    ];
    let (result, commands, last) =
        script_with(fixtures::all_ok(), keys, 16, (120, 40), options).await;
    result.unwrap();
    assert_eq!(
        commands,
        [Command::Reload, Command::Reload],
        "r asks nothing, x and F5 reload, q does not quit, Ctrl-Q does"
    );
    let footer = last.lines().last().unwrap();
    assert!(footer.contains("→ config reload requested"), "{footer}");
    // Once the confirmation fades, the hints show the keys in force.
    let (_, _, hints) = script_with(
        fixtures::all_ok(),
        vec![],
        16,
        (120, 40),
        Options {
            keys: Keymap::with_overrides(&overrides).unwrap(),
            ..Options::utc(Theme::COLOR)
        },
    )
    .await;
    let footer = hints.lines().last().unwrap();
    assert!(footer.contains("? help  C-q quit"), "{footer}");
    assert!(footer.contains("x reload"), "{footer}");
}

#[tokio::test]
async fn the_filter_takes_letters_as_text_until_enter() {
    let s = fixtures::all_ok();
    let mut keys = vec![ch('/')];
    keys.extend(typed("par"));
    keys.push(key(KeyCode::Esc));
    keys.push(ch('/'));
    keys.extend(typed("db-b2"));
    keys.push(key(KeyCode::Enter));
    keys.push(ch('p'));
    keys.push(key(KeyCode::Esc));
    keys.push(ch('p'));
    keys.push(ch('q'));
    let (result, commands, _) = script(s.clone(), keys, 16).await;
    result.unwrap();
    assert_eq!(
        commands,
        [
            Command::Reprobe(node(&s, 3)),
            // Esc cleared the filter; the node it led to stays selected.
            Command::Reprobe(node(&s, 3)),
        ],
        "typing `p` and `a` into the filter asked nothing of the engine"
    );
}

#[tokio::test]
async fn help_swallows_command_keys_until_closed() {
    let s = fixtures::all_ok();
    let keys = vec![
        ch('?'),
        ch('p'),
        ch('r'),
        key(KeyCode::Esc),
        ch('r'),
        ch('q'),
    ];
    let (result, commands, _) = script(s, keys, 16).await;
    result.unwrap();
    assert_eq!(commands, [Command::Reload]);
}

#[tokio::test]
async fn ctrl_c_quits_even_while_typing_a_filter() {
    let keys = vec![ch('/'), ch('x'), ctrl_c(), ch('P')];
    let (result, commands, last) = script(fixtures::all_ok(), keys, 16).await;
    result.unwrap();
    assert!(commands.is_empty(), "{commands:?}");
    assert!(last.contains("filter: x"), "{last}");
}

#[tokio::test]
async fn a_busy_engine_is_reported_and_never_blocks_the_screen() {
    let keys = vec![ch('p'), ch('P'), ch('q')];
    let (result, commands, last) = script(fixtures::all_ok(), keys, 1).await;
    result.unwrap();
    assert_eq!(commands.len(), 1);
    assert!(
        last.contains("! engine busy, not queued: reprobe of every node requested"),
        "{last}"
    );
}

#[tokio::test(start_paused = true)]
async fn q_ends_the_loop_while_input_stays_open() {
    let mut live = Live::start(fixtures::all_ok(), clock());
    live.next_frame().await;
    live.press(ch('q'));
    live.press(ch('P'));
    let keys = live.keys.clone();
    let mut commands = std::mem::replace(&mut live.commands, mpsc::channel(1).1);
    // The input is still open (the test holds its sender): `q` alone ended the loop.
    let (result, _) = live.finish().await;
    result.unwrap();
    assert!(commands.try_recv().is_err(), "nothing after q was acted on");
    drop(keys);
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_the_loop() {
    let mut live = Live::start(fixtures::all_ok(), clock());
    live.next_frame().await;
    live.shutdown.cancel();
    let (result, _) = live.finish().await;
    result.unwrap();
}

#[tokio::test(start_paused = true)]
async fn new_snapshots_are_drawn_as_they_arrive() {
    let mut live = Live::start(fixtures::all_ok(), clock());
    let first = live.next_frame().await;
    assert!(first.contains("✓ OK"), "{first}");
    live.forget_frames();
    live.publish.send(Arc::new(fixtures::node_down())).unwrap();
    let next = live.next_frame().await;
    assert!(
        next.contains("✗ DOWN"),
        "the very next frame shows it:\n{next}"
    );
    live.press(ch('q'));
    live.finish().await.0.unwrap();
}

#[tokio::test(start_paused = true)]
async fn space_freezes_the_display_while_the_engine_goes_on() {
    let mut live = Live::start(fixtures::all_ok(), clock());
    live.next_frame().await;
    live.press(ch(' '));
    live.frame_where("paused", |f| f.contains("PAUSED")).await;
    live.forget_frames();
    live.publish
        .send(Arc::new(fixtures::rotation_in_progress()))
        .unwrap();
    let frozen = live.next_frame().await;
    assert!(frozen.contains("PAUSED"), "{frozen}");
    assert!(frozen.contains("✓ OK"), "still the old snapshot:\n{frozen}");
    assert!(!frozen.contains("DEGRADED"), "{frozen}");

    // Keys still reach the engine while the display is frozen.
    live.press(ch('r'));
    live.frame_where("confirming the reload", |f| {
        f.contains("config reload requested")
    })
    .await;
    assert_eq!(live.commands.try_recv().unwrap(), Command::Reload);

    live.press(ch(' '));
    let resumed = live.frame_where("resumed", |f| !f.contains("PAUSED")).await;
    assert!(
        resumed.contains("▲ DEGRADED"),
        "the newest snapshot:\n{resumed}"
    );
    live.press(ch('q'));
    live.finish().await.0.unwrap();
}

#[tokio::test(start_paused = true)]
async fn relative_times_age_on_the_tick_without_a_busy_loop() {
    let clock: SharedClock = Arc::new(TokioClock {
        start: tokio::time::Instant::now(),
        at: fixtures::now(),
    });
    let mut live = Live::start(fixtures::all_ok(), clock);
    let first = live.next_frame().await;
    assert!(first.contains("loaded 12m49s ago"), "{first}");
    // Nothing happens for ten seconds but the clock (and half a second more, so the tenth tick
    // is not racing the end of the test).
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    live.shutdown.cancel();
    let mut seen = std::mem::replace(&mut live.frames, mpsc::unbounded_channel().1);
    let (result, mut terminal) = live.finish().await;
    result.unwrap();
    let mut frames = vec![first];
    while let Ok(f) = seen.try_recv() {
        frames.push(f);
    }
    // One frame to start, then one per second: a busy loop would draw thousands.
    let drawn = terminal.get_frame().count();
    assert_eq!(drawn, 11, "frames in 10.5 s");
    let last = frames.last().unwrap();
    assert!(last.contains("loaded 12m59s ago"), "{last}");
}

#[tokio::test(start_paused = true)]
async fn a_stopped_engine_leaves_its_last_snapshot_on_screen() {
    let mut live = Live::start(fixtures::rotation_in_progress(), clock());
    live.next_frame().await;
    let Live {
        keys,
        publish,
        commands,
        mut frames,
        shutdown: _shutdown,
        task,
    } = live;
    drop(publish);
    drop(commands);
    let f = wait_for(&mut frames, "the engine stopped; showing its last snapshot").await;
    assert!(f.contains("▲ DEGRADED"), "{f}");
    keys.send(ch('p')).unwrap();
    wait_for(&mut frames, "the engine stopped; nothing was sent").await;
    keys.send(ch('q')).unwrap();
    task.await.unwrap().0.unwrap();
}

async fn wait_for(frames: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    let wait = async {
        loop {
            let f = frames.recv().await.expect("the loop is still drawing");
            if f.contains(what) {
                return f;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("no frame with {what:?}"))
}

/// Records the loop's job-control calls.
#[derive(Clone, Default)]
struct Jobs(Arc<std::sync::Mutex<Vec<&'static str>>>);

impl JobControl for Jobs {
    fn suspend(&mut self) -> io::Result<()> {
        self.0.lock().unwrap().push("suspend");
        Ok(())
    }

    fn resume(&mut self) -> io::Result<()> {
        self.0.lock().unwrap().push("resume");
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn ctrl_z_and_job_signals_hand_the_terminal_over_and_redraw_it_whole() {
    let (_publish, snapshots) = watch::channel(Arc::new(fixtures::rotation_in_progress()));
    let (commands, mut sent) = mpsc::channel(8);
    let (frames_tx, mut frames) = mpsc::unbounded_channel();
    let (keys, keys_rx) = mpsc::unbounded_channel();
    let (signals, signals_rx) = mpsc::unbounded_channel();
    let jobs = Jobs::default();
    let console = Console {
        keys: Box::pin(futures::stream::unfold(keys_rx, |mut rx| async move {
            rx.recv().await.map(|k| (k, rx))
        })) as Keys,
        signals: Box::pin(futures::stream::unfold(signals_rx, |mut rx| async move {
            rx.recv().await.map(|s| (s, rx))
        })),
        jobs: jobs.clone(),
    };
    let task = tokio::spawn(async move {
        let mut terminal = Terminal::new(Tap {
            inner: TestBackend::new(120, 40),
            frames: frames_tx,
        })
        .unwrap();
        let options = Options::utc(Theme::COLOR);
        run_with(
            &mut terminal,
            snapshots,
            commands,
            clock(),
            console,
            CancellationToken::new(),
            options,
        )
        .await
    });
    let first = wait_for(&mut frames, "rotascope").await;

    // Each way in hands over through the job control, then the screen is drawn whole again:
    // the backend was cleared, so a frame drawn as a diff would be mostly blank.
    let ctrl_z = Event::Key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL));
    let steps: [(&dyn Fn(), &[&str]); 3] = [
        (&|| keys.send(Ok(ctrl_z.clone())).unwrap(), &["suspend"]),
        (
            &|| signals.send(JobSignal::Continued).unwrap(),
            &["suspend", "resume"],
        ),
        (
            &|| signals.send(JobSignal::Suspend).unwrap(),
            &["suspend", "resume", "suspend"],
        ),
    ];
    for (act, want) in steps {
        act();
        let frame = loop {
            let frame = wait_for(&mut frames, "rotascope").await;
            if jobs.0.lock().unwrap().len() == want.len() {
                break frame;
            }
        };
        assert_eq!(*jobs.0.lock().unwrap(), want);
        assert_eq!(frame, first, "the whole screen is drawn again");
    }
    keys.send(ch('q')).unwrap();
    task.await.unwrap().unwrap();
    assert!(
        sent.try_recv().is_err(),
        "Ctrl-Z asks nothing of the engine"
    );
}

/// The event lines (`+ 0/ev-NNN added`) of a frame's events pane, top to bottom, as numbers.
fn events_shown(frame: &str) -> Vec<usize> {
    frame
        .lines()
        .filter_map(|l| {
            let at = l.find("/ev-")?;
            l[at + 4..at + 7].parse().ok()
        })
        .collect()
}

/// Issue 11, bug 2: in the events pane a page is the pane's height and `End` shows a full last
/// page (the oldest event at the bottom), not the oldest alone.
#[tokio::test]
async fn event_pages_are_the_pane_height_and_end_shows_a_full_last_page() {
    use rotascope::engine::event::{Event as EngineEvent, EventKind};
    use rotascope::topology::IslandNo;
    let mut s = fixtures::all_ok();
    s.events.clear();
    for i in 0..200 {
        s.events.push_back(EngineEvent {
            at: fixtures::now(),
            kind: EventKind::NodeAdded {
                island: IslandNo(0),
                node: format!("ev-{i:03}"),
            },
        });
    }
    let mut live = Live::start(s, clock());
    live.press(key(KeyCode::Tab));
    live.press(key(KeyCode::Tab));
    let top = live
        .frame_where("events focused", |f| f.contains("in all ━"))
        .await;
    let page = events_shown(&top).len();
    assert!(page >= 5, "a pane of some height:\n{top}");
    assert_eq!(events_shown(&top)[0], 199, "newest first");

    live.press(key(KeyCode::End));
    let end = live
        .frame_where("the last page", |f| events_shown(f).contains(&0))
        .await;
    let shown = events_shown(&end);
    assert_eq!(shown.len(), page, "a full last page:\n{end}");
    assert_eq!(shown.last(), Some(&0), "the oldest at the bottom");

    live.press(key(KeyCode::PageUp));
    let up = live
        .frame_where("a page up", |f| !events_shown(f).contains(&0))
        .await;
    assert_eq!(events_shown(&up)[0], shown[0] + page, "exactly a page");
    live.press(key(KeyCode::PageDown));
    let down = live
        .frame_where("a page down", |f| events_shown(f).contains(&0))
        .await;
    assert_eq!(events_shown(&down), shown);
    live.press(key(KeyCode::Home));
    live.press(key(KeyCode::PageDown));
    let second = live
        .frame_where("the second page", |f| {
            events_shown(f).first() == Some(&(199 - page))
        })
        .await;
    assert_eq!(events_shown(&second).len(), page);
    live.press(ch('q'));
    live.finish().await.0.unwrap();
}

#[tokio::test]
async fn t_hides_the_credential_timeline_and_brings_it_back() {
    let s = fixtures::rotation::during();
    let title = "credentials · last 16 min";
    let summary = "rotation 1 in progress since 10:14:57";
    let (result, _, shown) = script(s.clone(), vec![ch('q')], 4).await;
    result.unwrap();
    assert!(
        shown.contains(title),
        "shown by default at 120×40:\n{shown}"
    );
    let (result, _, hidden) = script(s.clone(), vec![ch('t'), ch('q')], 4).await;
    result.unwrap();
    assert!(!hidden.contains(title), "t hides it:\n{hidden}");
    assert!(
        hidden.contains(summary),
        "the summary line stays:\n{hidden}"
    );
    let (result, _, back) = script(s, vec![ch('t'), ch('t'), ch('q')], 4).await;
    result.unwrap();
    assert!(back.contains(title), "t again shows it:\n{back}");
}

/// At 80×24 the `?` overlay cannot show everything: it says so and scrolls to the legend's end.
#[tokio::test]
async fn help_scrolls_when_the_terminal_is_small() {
    let last_legend = "nodes row";
    let (result, _, top) =
        script_sized(fixtures::all_ok(), vec![ch('?'), ch('q')], 4, (80, 24)).await;
    result.unwrap();
    assert!(top.contains("↓ more"), "{top}");
    assert!(!top.contains(last_legend), "{top}");
    let (result, _, bottom) = script_sized(
        fixtures::all_ok(),
        vec![ch('?'), key(KeyCode::End), ch('q')],
        4,
        (80, 24),
    )
    .await;
    result.unwrap();
    assert!(bottom.contains(last_legend), "{bottom}");
    assert!(bottom.contains("↑ more"), "{bottom}");
    // Closing and opening again starts at the top; j scrolls one line.
    let (result, _, again) = script_sized(
        fixtures::all_ok(),
        vec![
            ch('?'),
            key(KeyCode::End),
            ch('?'),
            ch('?'),
            ch('j'),
            ch('q'),
        ],
        4,
        (80, 24),
    )
    .await;
    result.unwrap();
    assert!(again.contains("↑↓ more"), "{again}");
}
