//! The dashboard on a real terminal.
//!
//! `not_a_terminal_*` runs everywhere stdout is not a terminal (CI, pipes). The ignored test is the
//! manual check in tmux: it plays the fixture snapshots through the real terminal entry point
//! (`run_terminal`: raw mode, alternate screen, crossterm's `EventStream`, signals):
//!
//! ```text
//! tmux new -d -s ui -x 120 -y 40 'cargo test --test ui_tty -- --ignored --nocapture; sleep 600'
//! tmux send-keys -t ui j p ; tmux capture-pane -p -t ui
//! ```
//!
//! `ROTASCOPE_UI_DEMO_PANIC_AFTER=<n>` makes the clock panic on its n-th read, to watch the panic
//! hook give the terminal back before the message prints.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use rotascope::clock::{Clock, SharedClock};
use rotascope::engine::{Command, EngineHandle, COMMAND_QUEUE};
use rotascope::ui::{fixtures, run_terminal, UiError};

struct FixtureClock {
    reads: AtomicUsize,
    panic_after: Option<usize>,
}

impl Clock for FixtureClock {
    fn now(&self) -> DateTime<Utc> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        if self.panic_after.is_some_and(|limit| n >= limit) {
            panic!("demo panic on clock read {n}");
        }
        fixtures::now()
    }
}

fn handle() -> (
    EngineHandle,
    watch::Sender<Arc<rotascope::engine::Snapshot>>,
    mpsc::Receiver<Command>,
) {
    let (publish, snapshots) = watch::channel(Arc::new(fixtures::loading()));
    let (commands, received) = mpsc::channel(COMMAND_QUEUE);
    let (feed, feed_from_start) = broadcast::channel(1);
    let engine = EngineHandle {
        snapshots,
        commands,
        feed,
        feed_from_start,
        task: tokio::spawn(async {}),
    };
    (engine, publish, received)
}

#[tokio::test]
async fn not_a_terminal_points_to_check_and_watch() {
    if std::io::stdout().is_terminal() {
        eprintln!("stdout is a terminal here; this test only means something without one");
        return;
    }
    let (engine, _publish, _received) = handle();
    let clock: SharedClock = Arc::new(FixtureClock {
        reads: AtomicUsize::new(0),
        panic_after: None,
    });
    let err = run_terminal(
        &engine,
        clock,
        CancellationToken::new(),
        &Default::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, UiError::NotATerminal), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("rotascope check"), "{message}");
    assert!(message.contains("rotascope watch"), "{message}");
}

#[tokio::test]
#[ignore = "needs a real terminal: run it in tmux (see the module docs)"]
async fn demo_on_a_real_terminal() {
    let (engine, publish, mut received) = handle();
    let panic_after = std::env::var("ROTASCOPE_UI_DEMO_PANIC_AFTER")
        .ok()
        .and_then(|v| v.parse().ok());
    let clock: SharedClock = Arc::new(FixtureClock {
        reads: AtomicUsize::new(0),
        panic_after,
    });
    let shutdown = CancellationToken::new();
    // Plays the fixtures in turn, as an engine would publish them.
    let player = tokio::spawn(async move {
        let scenes = [
            fixtures::all_ok(),
            fixtures::rotation_in_progress(),
            fixtures::node_down(),
            fixtures::failover_no_master(),
            fixtures::reload_error(),
        ];
        for s in scenes.into_iter().cycle() {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if publish.send(Arc::new(s)).is_err() {
                return;
            }
        }
    });
    let result = run_terminal(&engine, clock, shutdown, &Default::default()).await;
    player.abort();
    let mut commands = Vec::new();
    while let Ok(c) = received.try_recv() {
        commands.push(c);
    }
    println!("dashboard ended: {result:?}; commands received: {commands:?}");
    result.unwrap();
}
