//! `rotascope lab`: a demo cluster rotating its passwords, shown in the TUI through the same code
//! as `rotascope --config <lab>/rotascope.toml`, or headless (`--no-tui`) with lab commands read
//! on stdin.
//!
//! Choices:
//! - Failover is made visible with `--failover-every` (both modes), with stdin commands
//!   (`--no-tui`: `stop 0.0`, `promote 0.1`, `failover 0`, ...) and with the dashboard's lab
//!   keys (`R`, `F`, `S`). The dashboard is the plain one with the lab standing between it and
//!   the engine: lab requests go to the driver, the driver's notes come back as `lab_action`
//!   events, and the header shows the rotation schedule. The engine knows nothing of the lab.
//! - Every server the lab started is stopped on every way out (`q`, Ctrl-C, SIGINT, SIGTERM,
//!   SIGHUP, an error): the driver owns them and is dropped before this command returns. Without
//!   `--dir` the temp directory goes too; with `--dir` the directory stays with its
//!   `rotascope.toml` and `secrets.json` (what the lab last wrote), the servers' data goes.
//! - `--pooler pgbouncer` puts a PgBouncer in front of each master (stopped like the servers);
//!   the config then takes the explicit form with the passwords inline and no `secrets.json`.
//! - A lab that cannot start (no PostgreSQL server binaries, ...) exits 3 like every "nothing was
//!   checked" failure, with the lab's message saying how to install them.

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use anyhow::{anyhow, Context as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::run::{run_err, Failure, Hangup, Running};
use super::signals::Signals;
use super::LabArgs;
use crate::engine::{Command, LabRequest};
use crate::lab::driver::NodeRef;
use crate::lab::driver::{
    DemoSettings, Driver, LabCommand, Notes, PoolerSettings, Scheme, Shape, HELP,
};
use crate::lab::{Lab, LabError, PoolerAuth};
use crate::report::Exit;
use crate::shard::Shard;
use crate::ui::view::LabClock;

/// Runs `rotascope lab` until the TUI quits or a signal arrives.
pub(super) async fn lab(config: Option<&Path>, args: &LabArgs) -> Result<Exit, Failure> {
    if config.is_some() {
        return Err(Failure::Config(anyhow!(
            "`rotascope lab` writes its own config (rotascope.toml in the lab directory); \
             --config does not apply to it"
        )));
    }
    if args.failover_every.is_some() && args.replicas == 0 {
        return Err(Failure::Config(anyhow!(
            "--failover-every needs a replica to promote: drop --replicas 0"
        )));
    }
    if !args.no_tui && !io::stdout().is_terminal() {
        // Fail before minutes of nobody watching: the dashboard needs a terminal.
        return Err(run_err(anyhow!(
            "stdout is not a terminal, and the dashboard needs one; run `rotascope lab --no-tui` \
             and point `rotascope check` or `rotascope watch` at the config it prints"
        )));
    }
    let shutdown = CancellationToken::new();
    // Before any server exists: from here on a signal stops the lab cleanly instead of killing
    // the process with servers left behind.
    let signal_task = Signals::register()
        .context("signal handlers")
        .map_err(run_err)?
        .spawn(None, shutdown.clone());
    let result = run_lab(args, shutdown.clone()).await;
    shutdown.cancel();
    let _ = signal_task.await;
    result
}

async fn run_lab(args: &LabArgs, shutdown: CancellationToken) -> Result<Exit, Failure> {
    let settings = settings(args);
    let lab = open_lab(args.dir.as_deref()).map_err(cannot_start)?;
    let dir = lab.dir().to_path_buf();
    let kept = args.dir.is_some();
    eprintln!(
        "rotascope lab: starting {} in {} ...",
        shape_text(settings.shape),
        dir.display()
    );
    // Once the dashboard's engine runs, the lab's notes become its `lab_action` events: queued
    // without a bound (a lab makes a few a minute) so none is lost to a busy engine, in order.
    // Notes made before the engine starts are shown when it does, stamped then.
    let (note_tx, note_rx) = mpsc::unbounded_channel::<String>();
    let notes: Notes = if args.no_tui {
        Box::new(print_note)
    } else {
        // The TUI owns the terminal: notes go to the log too (`-v --log-file FILE` keeps them).
        Box::new(move |line| {
            tracing::info!(target: "rotascope::lab", "{line}");
            let _ = note_tx.send(line.to_owned());
        })
    };
    let driver = tokio::select! {
        started = Driver::start(lab, settings, notes) => started.map_err(cannot_start)?,
        // Dropping the half-made lab (when this returns) stops what it started.
        () = shutdown.cancelled() => {
            eprintln!("rotascope lab: interrupted while starting; nothing is left running");
            return Ok(Exit::Ok);
        }
    };
    let config_path = driver.config_path();
    let (commands, receiver) = mpsc::channel(16);
    if args.no_tui {
        let mut intro = intro(&driver, &config_path);
        intro.extend(driver.cluster().status().await);
        intro.push(HELP.to_owned());
        intro.push("Ctrl-C stops the lab and removes its servers".to_owned());
        print_lines(&intro);
        read_commands(commands.clone());
    }
    // The driver's ticker starts with `run`, below: its first rotation is one period away.
    let schedule = LabClock {
        first: chrono::Utc::now()
            + chrono::Duration::from_std(settings.rotate_every).unwrap_or(chrono::Duration::MAX),
        every: settings.rotate_every,
    };

    let front = async {
        let result = if args.no_tui {
            shutdown.cancelled().await;
            Ok(Exit::Ok)
        } else {
            match super::run::load_config(Some(&config_path)).await {
                Ok(config) => {
                    let lab = LabFront {
                        schedule,
                        requests: commands,
                        notes: note_rx,
                    };
                    lab_dashboard(config, shutdown.clone(), lab).await
                }
                Err(e) => Err(Failure::Config(e)),
            }
        };
        // However the front ends, the driver follows.
        shutdown.cancel();
        result
    };
    let (result, driver) = tokio::join!(front, driver.run(receiver, shutdown.clone()));
    // Said at once: stopping takes seconds, and the dashboard is already gone.
    let running = driver.cluster().pids().len();
    eprintln!(
        "rotascope lab: stopping {}…",
        crate::text::plural(running, "server")
    );
    // Dropping the driver stops every server (side by side) and waits for them: off the
    // runtime's threads.
    let _ = tokio::task::spawn_blocking(move || drop(driver)).await;
    if kept {
        let secrets = if settings.pooler.is_some() {
            "(its passwords inline) is kept"
        } else {
            "and its secrets file are kept"
        };
        eprintln!(
            "rotascope lab: servers stopped and removed; {} {secrets}",
            config_path.display()
        );
    } else {
        eprintln!("rotascope lab: servers stopped; {} removed", dir.display());
    }
    result
}

/// What the dashboard needs of the lab: its schedule for the header, where the lab keys'
/// requests go, and the driver's notes on their way to the engine.
struct LabFront {
    schedule: LabClock,
    requests: mpsc::Sender<LabCommand>,
    notes: mpsc::UnboundedReceiver<String>,
}

/// The dashboard of `rotascope lab`: the plain one, with the lab between it and the engine. Its
/// lab keys' requests go to the driver, everything else to the engine; the driver's notes go
/// to the engine as events.
async fn lab_dashboard(
    config: crate::config::Config,
    shutdown: CancellationToken,
    lab: LabFront,
) -> Result<Exit, Failure> {
    let ui_settings = config.ui.clone();
    let running = Running::start(config, Hangup::Stop, shutdown, Shard::ALL).await?;
    let engine = running.engine.commands.clone();
    let mut notes = lab.notes;
    let to_engine = engine.clone();
    let relay = tokio::spawn(async move {
        while let Some(line) = notes.recv().await {
            if to_engine.send(Command::Note(line)).await.is_err() {
                break;
            }
        }
    });
    let (ui, mut from_ui) = mpsc::channel(crate::engine::COMMAND_QUEUE);
    let requests = lab.requests;
    let forward = tokio::spawn(async move {
        while let Some(command) = from_ui.recv().await {
            match command {
                Command::Lab(request) => {
                    let _ = requests.try_send(lab_command(request));
                }
                other => {
                    if engine.send(other).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let shown = crate::ui::run::run_terminal_with(
        running.engine.snapshots.clone(),
        ui,
        running.clock.clone(),
        running.shutdown.clone(),
        &ui_settings,
        Some(lab.schedule),
    )
    .await;
    forward.abort();
    relay.abort();
    let stopped = running.stop().await;
    shown.map_err(|e| Failure::Run(e.into()))?;
    stopped.map(|()| Exit::Ok)
}

/// The driver's command for a lab key's request.
fn lab_command(request: LabRequest) -> LabCommand {
    match request {
        LabRequest::Rotate => LabCommand::Rotate,
        LabRequest::Failover(island) => LabCommand::Failover(island.0 as usize),
        LabRequest::StopStart { island, index } => LabCommand::Toggle(NodeRef {
            island: island.0 as usize,
            index,
        }),
    }
}

/// A lab error as the one line it is: its message already carries its cause, which an error
/// chain would print a second time ("Permission denied (os error 13)" twice).
fn cannot_start(e: LabError) -> Failure {
    run_err(anyhow!(e.to_string()).context("cannot start the lab"))
}

fn settings(args: &LabArgs) -> DemoSettings {
    DemoSettings {
        shape: Shape {
            islands: args.islands.into(),
            replicas: args.replicas.into(),
        },
        scheme: args.scheme,
        rotate_every: args.rotate_every,
        config_lag: args.config_lag,
        failover_every: args.failover_every,
        // Twice the secrets file's lag: the auth_file's copy catches up after the file did, so
        // the window where direct works and the pooler refuses is there to see.
        pooler: args.pooler.map(|_| PoolerSettings {
            mode: args.pool_mode,
            auth: args.pooler_auth,
            lag: args.config_lag * 2,
        }),
    }
}

/// A lab in a new temp dir, or in `dir`. A `dir` we create here (not the lab) is not the lab's
/// to remove, so it outlives the lab with the config files in it.
fn open_lab(dir: Option<&Path>) -> Result<Lab, LabError> {
    let Some(dir) = dir else {
        return Lab::new();
    };
    if !dir.exists() {
        use std::os::unix::fs::PermissionsExt;
        let io = |what: &str| {
            let what = format!("{what} {}", dir.display());
            move |source| LabError::Io { what, source }
        };
        std::fs::create_dir_all(dir).map_err(io("creating"))?;
        // The servers' user must be able to enter it whatever our umask.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .map_err(io("chmod"))?;
    }
    Lab::in_dir(dir)
}

fn shape_text(shape: Shape) -> String {
    let replicas = match shape.replicas {
        0 => "no replica".to_owned(),
        1 => "1 replica".to_owned(),
        n => format!("{n} replicas"),
    };
    let islands = if shape.islands == 1 {
        "island"
    } else {
        "islands"
    };
    format!("{} {islands} × (master + {replicas})", shape.islands)
}

/// What `--no-tui` prints first: where the config is and what the lab does.
fn intro(driver: &Driver, config_path: &Path) -> Vec<String> {
    let s = driver.settings();
    let every = humantime::format_duration(s.rotate_every);
    let lag = humantime::format_duration(s.config_lag);
    let scheme = match s.scheme {
        Scheme::Alternating => {
            format!("alternating users (app_a, app_b), secrets file {lag} after the database")
        }
        Scheme::Single => format!(
            "one login (app): next password published, the database {lag} later, the old \
             password dropped {lag} after that"
        ),
    };
    let mut lines = vec![
        format!(
            "rotascope lab: {} in {}",
            shape_text(s.shape),
            driver.cluster().lab().dir().display()
        ),
        format!("config: {}", config_path.display()),
        // The running binary's own path: after `cargo run` there is no `rotascope` on PATH.
        format!(
            "watch it: {} --config {}   (in another terminal)",
            own_path(),
            config_path.display()
        ),
        format!("rotating every {every}: {scheme}"),
    ];
    if let Some(f) = s.failover_every {
        lines.push(format!(
            "failing island 0 over every {}",
            humantime::format_duration(f)
        ));
    }
    if let Some(p) = s.pooler {
        let auth = match p.auth {
            PoolerAuth::Query => {
                "auth_query: a new password is live at the pooler at once".to_owned()
            }
            PoolerAuth::File => format!(
                "auth_file: copied from the database {} after each password change",
                humantime::format_duration(p.lag)
            ),
        };
        lines.push(format!(
            "pgbouncer in front of each master ({} pooling, {auth}); the config lists each \
             master by its own port and the pooler's",
            p.mode.as_str()
        ));
    }
    lines
}

/// This binary's path, to paste into another terminal (`rotascope` if the system cannot say).
fn own_path() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "rotascope".to_owned())
}

/// Reads lab commands from stdin on a thread of its own (a blocked read must not hold up the
/// runtime's shutdown); a bad line is answered, the end of input just ends the commands.
fn read_commands(commands: mpsc::Sender<LabCommand>) {
    let spawned = std::thread::Builder::new()
        .name("lab-stdin".into())
        .spawn(move || {
            for line in io::stdin().lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                match line.parse::<LabCommand>() {
                    Ok(command) => {
                        if commands.blocking_send(command).is_err() {
                            break;
                        }
                    }
                    Err(e) => print_note(&e),
                }
            }
        });
    if let Err(e) = spawned {
        print_note(&format!("cannot read commands from stdin: {e}"));
    }
}

/// A note with the local time, on stdout; a closed stdout is ignored (the lab goes on).
fn print_note(line: &str) {
    let at = chrono::Local::now().format("%H:%M:%S");
    print_lines(&[format!("{at} {line}")]);
}

fn print_lines(lines: &[String]) {
    let mut out = io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab_args(args: &[&str]) -> Result<LabArgs, clap::Error> {
        use clap::Parser;
        let cli = super::super::Cli::try_parse_from(
            ["rotascope", "lab"].into_iter().chain(args.iter().copied()),
        )?;
        match cli.command {
            Some(super::super::Command::Lab(args)) => Ok(args),
            other => panic!("not lab: {other:?}"),
        }
    }

    #[test]
    fn the_pooler_flags_make_pooler_settings() {
        assert_eq!(settings(&lab_args(&[]).unwrap()).pooler, None);
        let args = lab_args(&[
            "--pooler",
            "pgbouncer",
            "--pooler-auth",
            "file",
            "--pool-mode",
            "transaction",
            "--config-lag",
            "2s",
        ])
        .unwrap();
        let pooler = settings(&args).pooler.unwrap();
        assert_eq!(pooler.auth, PoolerAuth::File);
        assert_eq!(pooler.mode, crate::lab::PoolMode::Transaction);
        assert_eq!(pooler.lag, std::time::Duration::from_secs(4));
        let defaults = settings(&lab_args(&["--pooler", "pgbouncer"]).unwrap())
            .pooler
            .unwrap();
        assert_eq!(defaults.auth, PoolerAuth::Query);
        assert_eq!(defaults.mode, crate::lab::PoolMode::Session);
        // The pooler's settings without a pooler are a mistake, said at once.
        assert!(lab_args(&["--pool-mode", "transaction"]).is_err());
        assert!(lab_args(&["--pooler", "pgpool"]).is_err());
    }

    #[test]
    fn shapes_read_naturally() {
        let s = |islands, replicas| shape_text(Shape { islands, replicas });
        assert_eq!(s(2, 1), "2 islands × (master + 1 replica)");
        assert_eq!(s(1, 0), "1 island × (master + no replica)");
        assert_eq!(s(3, 2), "3 islands × (master + 2 replicas)");
    }
}
