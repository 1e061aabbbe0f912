//! End to end: the real dashboard loop on the real engine, against a real PostgreSQL master and
//! its streaming replica, driven by scripted keys. A password rotation appears on screen.
//!
//! Everything is what `rotascope` runs — the config loader, the reload task watching the file,
//! the engine with the PostgreSQL prober, `ui::run` — except the terminal: a `TestBackend`
//! (120×40) wrapped so every flushed frame is sent to the test as text, and an input stream the
//! test feeds. The test waits for frames (or for the engine's feed), never for time; every frame
//! drawn is scanned for the test passwords.

mod support;

use std::io;
use std::pin::Pin;
use std::sync::Arc;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::Stream;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use rotascope::clock::{SharedClock, SystemClock};
use rotascope::engine::event::{ProbeMode, ProbeRecordOutcome};
use rotascope::engine::probe::ErrorKind;
use rotascope::engine::snapshot::CandidateState;
use rotascope::lab::ServerOptions;
use rotascope::ui::{run, Options, Theme, UiError};
use support::{
    assert_no_secret, lab_server, node, secret, ConfigFile, Running, Settings, PATIENCE,
};

const A1: &str = "e2e-ui-a1-Rm5t8w";
const A2: &str = "e2e-ui-a2-Jd3q6z";
const B1: &str = "e2e-ui-b1-Cv9n2k";
const B2: &str = "e2e-ui-b2-Uf4h7p";

use rotascope::ui::fixtures::FrameTap as Tap;

type Keys = Pin<Box<dyn Stream<Item = io::Result<Event>> + Send>>;

/// The dashboard running in its own task on a live engine: keys in, frames out.
struct Dashboard {
    keys: mpsc::UnboundedSender<io::Result<Event>>,
    frames: mpsc::UnboundedReceiver<String>,
    task: JoinHandle<Result<(), UiError>>,
    /// Cancelled on drop, so a failing test does not leave the loop running.
    shutdown: CancellationToken,
    secrets: Vec<String>,
    /// Frames drawn and scanned so far.
    drawn: usize,
    last: String,
}

impl Dashboard {
    /// Starts `ui::run` on the engine's snapshots and command channel, with the wall clock.
    fn start(engine: &Running, secrets: &[&str]) -> Dashboard {
        let snapshots = engine.engine.snapshots.clone();
        let commands = engine.engine.commands.clone();
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let (keys, keys_rx) = mpsc::unbounded_channel();
        let input: Keys = Box::pin(futures::stream::unfold(keys_rx, |mut rx| async move {
            rx.recv().await.map(|k| (k, rx))
        }));
        let clock: SharedClock = Arc::new(SystemClock);
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            let mut terminal = Terminal::new(Tap {
                inner: TestBackend::new(120, 40),
                frames: frames_tx,
            })
            .expect("a test terminal");
            run(
                &mut terminal,
                snapshots,
                commands,
                clock,
                input,
                token,
                Options::utc(Theme::COLOR),
            )
            .await
        });
        Dashboard {
            keys,
            frames,
            task,
            shutdown,
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            drawn: 0,
            last: String::new(),
        }
    }

    fn press(&self, c: char) {
        self.keys
            .send(Ok(Event::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            ))))
            .expect("the loop reads keys");
    }

    /// Every frame the test receives goes through here: no password may be on screen.
    fn scan(&mut self, frame: String) -> &str {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        assert_no_secret("screen", &frame, &secrets);
        self.drawn += 1;
        self.last = frame;
        &self.last
    }

    /// Takes in (and scans) the frames already drawn: what the test waits for next is newer.
    fn forget(&mut self) {
        while let Ok(f) = self.frames.try_recv() {
            self.scan(f);
        }
    }

    /// Waits for a frame that passes `ok`; fails after [`PATIENCE`] showing the last frame.
    async fn until(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.frames.recv()).await {
                Ok(Some(f)) => {
                    if ok(self.scan(f)) {
                        return self.last.clone();
                    }
                }
                Ok(None) => panic!("the loop stopped drawing before {what}:\n{}", self.last),
                Err(_) => panic!(
                    "no frame {what} in {PATIENCE:?}; last frame:\n{}",
                    self.last
                ),
            }
        }
    }

    /// Presses `q` and returns how the loop ended and how many frames it drew, after scanning
    /// the last ones.
    async fn quit(mut self) -> (Result<(), UiError>, usize) {
        self.press('q');
        let task = &mut self.task;
        let result = tokio::time::timeout(PATIENCE, task)
            .await
            .expect("q ends the loop")
            .expect("the loop did not panic");
        self.forget();
        (result, self.drawn)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The nodes-table row of the node listening on `port` (the name column shows the address
/// without `postgres://`).
fn row(frame: &str, port: u16) -> &str {
    // Every node's name ends in `/postgres`, which the table leaves out.
    let name = format!("127.0.0.1:{port} ");
    frame
        .lines()
        .find(|l| l.trim_start_matches(['▶', ' ']).starts_with(&name))
        .unwrap_or("")
}

/// The lines from the first one starting with `from` up to (not including) the first one after
/// it starting with `to`.
fn section<'a>(frame: &'a str, from: &str, to: &str) -> Vec<&'a str> {
    frame
        .lines()
        .skip_while(|l| !l.starts_with(from))
        .take_while(|l| !l.starts_with(to))
        .collect()
}

/// The detail pane (of the selected node).
fn detail(frame: &str) -> Vec<&str> {
    section(frame, " node ", " events")
}

/// The event timeline, newest first.
fn timeline(frame: &str) -> Vec<&str> {
    let lines: Vec<&str> = frame
        .lines()
        .skip_while(|l| !l.starts_with(" events"))
        .collect();
    // The footer is the last line.
    lines[..lines.len().saturating_sub(1)].to_vec()
}

fn footer(frame: &str) -> &str {
    frame.lines().last().unwrap_or("")
}

fn has(lines: &[&str], what: &[&str]) -> bool {
    lines.iter().any(|l| what.iter().all(|w| l.contains(w)))
}

/// Given a master and its replica watched by the dashboard with app_a winning: the database
/// rotates app_a's password and the screen shows the nodes degraded, app_b winning, the switch in
/// the timeline and app_a refused in the detail pane; the config file learns the new password
/// and the screen is ok again, app_b still winning, with generation 2 in the timeline. `r` reloads
/// (generation 3 on screen, nothing changed in the file) and `p` reprobes the selected node only:
/// the new config slows the schedule to one chain probe an hour, so when app_b is rotated next,
/// only the node `p` asked for notices. `q` ends the loop cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_plays_out_on_screen_and_keys_reach_the_engine() {
    let primary = lab_server(ServerOptions::default()).await;
    primary.create_role("app_a", A1).await.expect("app_a");
    primary.create_role("app_b", B1).await.expect("app_b");
    let replica = primary.start_replica().await.expect("replica");
    let (pp, rp) = (primary.port(), replica.port());
    let p = primary.conn_string("postgres");
    let r = replica.conn_string("postgres");
    let superuser = primary.lab.superuser_password().expose().to_owned();
    let secrets = [A1, A2, B1, B2, superuser.as_str()];
    let config = |a: &str, interval: &'static str| {
        let settings = Settings {
            interval,
            ..Settings::default()
        };
        format!(
            "islands = [[\"{p}\", \"{r}\"]]\n\n{}{}{}",
            settings.toml(),
            secret("app_a", a, "alpha"),
            secret("app_b", B1, "beta")
        )
    };
    let file = ConfigFile::new(&config(A1, "200ms"));
    let mut engine = Running::start(&file).await;
    let mut ui = Dashboard::start(&engine, &secrets);

    // Both nodes ok, app_a winning; the master is selected.
    let f = ui
        .until("with both nodes ok and app_a winning", |f| {
            f.starts_with("rotascope ✓ OK")
                && [pp, rp].iter().all(|&port| {
                    let row = row(f, port);
                    row.contains("✓ ok") && row.contains(" app_a (alpha) ")
                })
        })
        .await;
    assert!(row(&f, pp).contains(" master "), "{f}");
    assert!(row(&f, rp).contains(" replica "), "{f}");
    assert!(row(&f, pp).starts_with('▶'), "the master is selected:\n{f}");
    assert!(detail(&f)[0].starts_with(&format!(" node 0/{p} ")), "{f}");

    // The database rotates app_a's password (the replica follows through WAL).
    primary
        .set_password("app_a", A2)
        .await
        .expect("rotate app_a");
    // Both nodes: the config must not learn the new password before the replica has seen the
    // rotation, or the replica would simply move from the old app_a to the new one.
    let degraded = ui
        .until("with both nodes degraded and app_b winning", |f| {
            [pp, rp].iter().all(|&port| {
                let row = row(f, port);
                row.contains("▲ degraded") && row.contains(" app_b (beta) ")
            })
        })
        .await;
    assert!(
        degraded.starts_with("rotascope ▲ DEGRADED · 2 nodes: 0 ok, 2 degraded"),
        "{degraded}"
    );
    let pane = detail(&degraded);
    assert!(
        has(
            &pane,
            &["#0 app_a (alpha)", "✗ invalid", "auth_failed 28P01"]
        ),
        "app_a refused in the detail pane:\n{degraded}"
    );
    assert!(
        has(&pane, &["★", "#1 app_b (beta)", "✓ valid"]),
        "{degraded}"
    );
    let winner_line =
        format!("0/127.0.0.1:{pp}/postgres winner #0 app_a (alpha) → #1 app_b (beta)");
    assert!(
        has(&timeline(&degraded), &["⇄", &winner_line]),
        "the switch in the timeline:\n{degraded}"
    );

    // The config learns app_a's new password; the file is replaced atomically and the reload
    // task's watcher picks it up. The new config also slows chain probes to one an hour (see `p`).
    let edited = engine.feed.mark();
    file.replace(&config(A2, "1h"));
    // (The node is ok as soon as no candidate is known to fail; the new app_a is audited at once
    // and shows valid a moment later.)
    let f = ui
        .until(
            "ok again at generation 2, app_b winning, the new app_a valid",
            |f| {
                f.starts_with("rotascope ✓ OK")
                    && has(&timeline(f), &["✓ config applied: generation 2 "])
                    && has(&detail(f), &["#0 app_a (alpha)", "✓ valid"])
                    && [pp, rp].iter().all(|&port| {
                        let row = row(f, port);
                        row.contains("✓ ok") && row.contains(" app_b (beta) ")
                    })
            },
        )
        .await;
    assert!(has(&detail(&f), &["★", "#1 app_b (beta)"]), "{f}");
    let applied = engine.feed.applied(edited, 2).await;

    // `r`: a manual reload publishes a new generation even though the file did not change.
    ui.forget();
    ui.press('r');
    ui.until("confirming the reload", |f| {
        footer(f).contains("→ config reload requested")
    })
    .await;
    let f = ui
        .until("at generation 3", |f| {
            has(&timeline(f), &["✓ config applied: generation 3 "])
        })
        .await;
    assert!(
        f.lines().nth(1).is_some_and(|l| l.contains("gen 3 ✓")),
        "{f}"
    );
    assert_eq!(engine.snapshot().config.generation, 3);

    // `p`: since generation 2 each node's next scheduled chain probe is an hour away once it has
    // finished one chain probe under the new config; wait for that on both nodes.
    for name in [&p, &r] {
        engine.feed.chains(applied, 1, name).await;
    }
    // The screen showed the master's new app_a valid; the replica's audit of it may still be
    // on its way (a loaded machine), and would then count as a probe of the replica below.
    engine
        .wait("the new app_a audited on both nodes", |s| {
            [&p, &r]
                .iter()
                .all(|n| node(s, n).candidates[0].state == CandidateState::Valid)
        })
        .await;
    let rotated = engine.feed.mark();
    primary
        .set_password("app_b", B2)
        .await
        .expect("rotate app_b");
    ui.forget();
    ui.press('p');
    ui.until("confirming the reprobe", |f| {
        footer(f).contains(&format!("→ reprobe requested: 0/{p}"))
    })
    .await;
    let f = ui
        .until("with the master back on app_a", |f| {
            let row = row(f, pp);
            row.contains("▲ degraded") && row.contains(" app_a (alpha) ")
        })
        .await;
    assert!(
        row(&f, rp).contains("✓ ok") && row(&f, rp).contains(" app_b (beta) "),
        "the replica, not selected, was not probed:\n{f}"
    );
    let winner_back =
        format!("0/127.0.0.1:{pp}/postgres winner #1 app_b (beta) → #0 app_a (alpha)");
    assert!(has(&timeline(&f), &["⇄", &winner_back]), "{f}");
    // The engine's own record: one chain probe of the master (the remembered best refused, then
    // the other candidate), and no probe of the replica at all.
    let end = engine.feed.mark();
    let master: Vec<(&str, ProbeMode, ProbeRecordOutcome)> = engine
        .feed
        .probes(rotated..end, Some(&p), None)
        .into_iter()
        .map(|r| (r.login.as_str(), r.mode, r.outcome))
        .collect();
    assert_eq!(
        master,
        [
            (
                "app_b",
                ProbeMode::Chain,
                ProbeRecordOutcome::Failed(ErrorKind::AuthFailed)
            ),
            ("app_a", ProbeMode::Chain, ProbeRecordOutcome::Ok),
        ]
    );
    let replica_probes = engine.feed.probes(rotated..end, Some(&r), None);
    assert!(replica_probes.is_empty(), "{replica_probes:?}");

    let (result, drawn) = ui.quit().await;
    result.expect("q ends the loop cleanly");
    engine.assert_no_leak(&secrets);
    eprintln!("{drawn} frames drawn; the degraded moment:\n{degraded}");
}
