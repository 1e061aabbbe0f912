//! `rotascope lab` with its dashboard, in a real terminal (tmux): the lab's own actions appear
//! as events with their own glyph, the header counts down to the next rotation, and the lab
//! keys (`R` rotate, `S` stop/start the selected node, `F` fail its island over) drive a real
//! cluster. Quitting says what it stops. Skipped when tmux is not installed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Starting 2 islands × (master + replica) on a shared machine can take a while.
const START_WITHIN: Duration = Duration::from_secs(120);
const WITHIN: Duration = Duration::from_secs(40);

struct Tmux {
    session: String,
    /// The lab's log (its notes and the engine's messages), shown when a wait fails.
    log: std::path::PathBuf,
}

impl Tmux {
    fn run(args: &[&str]) -> String {
        let out = Command::new("tmux").args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        Tmux::run(&["capture-pane", "-p", "-t", &self.session])
    }

    fn keys(&self, keys: &str) {
        Tmux::run(&["send-keys", "-t", &self.session, keys]);
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &self.session])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits until the screen shows `text`; returns that screen.
    fn wait_for(&self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on screen:\n{screen}\nthe lab's log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        if self.alive() {
            Tmux::run(&["kill-session", "-t", &self.session]);
        }
    }
}

fn postmasters(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join("data").join("postmaster.pid").exists())
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn the_lab_dashboard_shows_its_own_actions_and_takes_lab_keys() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let err = tmp.path().join("stderr");
    let log = tmp.path().join("log");
    let session = format!("rotascope-lab-tui-{}", std::process::id());
    // A long period: the only rotation in this test is the one `R` asks for.
    let command = format!(
        "{} -v --log-file {} lab --dir {} --rotate-every 600s --config-lag 1s 2>{}",
        env!("CARGO_BIN_EXE_rotascope"),
        log.display(),
        dir.display(),
        err.display()
    );
    Tmux::run(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "160",
        "-y",
        // Tall: the lab's notes stay in the events pane while a rotation's events pile on top.
        "90",
        &command,
    ]);
    let tmux = Tmux { session, log };

    // The header counts down to the scheduled rotation.
    let screen = tmux.wait_for("next rotation in", START_WITHIN);
    assert!(screen.contains("islands & nodes"), "{screen}");

    // `?` lists the lab keys, in the lab only.
    tmux.keys("?");
    let help = tmux.wait_for("lab: rotate a password now", WITHIN);
    assert!(help.contains("lab: stop / start the node"), "{help}");
    // `?` again, not Escape: an Escape followed at once by `R` reads as Alt-R.
    tmux.keys("?");
    let deadline = Instant::now() + WITHIN;
    while tmux.screen().contains("? or Esc closes") {
        assert!(Instant::now() < deadline, "help stays open");
        std::thread::sleep(Duration::from_millis(100));
    }

    // `R`: the lab rotates now, and says so as an event with its own glyph.
    tmux.keys("R");
    let screen = tmux.wait_for("» lab: rotation 1: new password for", WITHIN);
    assert!(screen.contains("follows in 1s"), "{screen}");
    tmux.wait_for("» lab: rotation 1: secrets.json now lists", WITHIN);

    // Config order, so the first row (the selection, not moved) is island 0's master whatever
    // the nodes' health: sorted by health the rows move as the rotation goes on.
    for _ in 0..3 {
        tmux.keys("s");
    }
    tmux.wait_for("by island", WITHIN);

    // `S` on the selected node stops it, `S` again starts it.
    tmux.keys("S");
    tmux.wait_for("» lab: stopping 0.0", WITHIN);
    tmux.wait_for("» lab: 0.0 stopped", WITHIN);
    tmux.wait_for("✗ down", WITHIN);
    tmux.keys("S");
    tmux.wait_for("» lab: starting 0.0", WITHIN);
    tmux.wait_for("» lab: 0.0 started", WITHIN);

    // `F` fails the selected node's island over.
    tmux.keys("F");
    tmux.wait_for("» lab: failover of island 0: master 0.0 stopped", WITHIN);

    // `q`: the lab says at once what it stops, and leaves nothing running.
    tmux.keys("q");
    let deadline = Instant::now() + WITHIN;
    while tmux.alive() {
        assert!(
            Instant::now() < deadline,
            "the lab did not end:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(said.contains("rotascope lab: stopping "), "{said}");
    assert!(said.contains("servers stopped and removed"), "{said}");
    assert_eq!(postmasters(&dir), 0);
}
