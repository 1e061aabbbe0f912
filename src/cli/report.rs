//! `rotascope report`: read a `watch --record` file (or watch the cluster live for a while),
//! print the proof, exit by its verdict.
//!
//! Choices:
//! - `--live` folds the engine's feed with the same code as a recording (events, probe records,
//!   a heartbeat every second), so `report --live --for 10m` says what `watch --record` for ten
//!   minutes and `report` of that file would. SIGINT or SIGTERM end the watch early; what was
//!   seen until then is reported (and says how long that was).
//! - An input that cannot be read (a missing file, a bad line) exits 3 with the path and the
//!   line number; an empty one too (it proves nothing).

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::run::{load_config, print, run_err, stop, Failure, Hangup, Running};
use super::{ReportArgs, ReportFormat};
use crate::engine::Feed;
use crate::report::proof::{self, Builder, Input, Proof};
use crate::report::Exit;
use crate::shard::Shard;

/// The heartbeat of a live report: the feed is in memory, nothing is lost between beats, so a
/// short period costs nothing and keeps gap detection tight.
const LIVE_BEAT: Duration = Duration::from_secs(1);

/// Runs `rotascope report`.
pub(super) async fn report(config: Option<&Path>, args: &ReportArgs) -> Result<Exit, Failure> {
    let proof = match &args.file {
        Some(file) => read(file)?,
        None => live(config, args.duration.unwrap_or(Duration::from_secs(600))).await?,
    };
    let mut out = Vec::new();
    match args.format {
        ReportFormat::Text => proof::write_text(&mut out, &proof),
        ReportFormat::Markdown => proof::write_markdown(&mut out, &proof),
        ReportFormat::Json => proof::write_json(&mut out, &proof),
        ReportFormat::Html => proof::write_html(&mut out, &proof),
    }
    .map_err(run_err)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &out).map_err(|e| run_err(anyhow!("{}: {e}", path.display())))?
        }
        None => print(&out)?,
    }
    if proof.input.truncated_last_line {
        eprintln!(
            "rotascope: note: the last line of {} was cut short (the recorder stopped mid-write) \
             and was ignored",
            proof.source
        );
    }
    Ok(proof.verdict.exit())
}

/// The proof of a record file (`-`: standard input), read line by line.
fn read(file: &Path) -> Result<Proof, Failure> {
    let name = file.display().to_string();
    let proof = if name == "-" {
        proof::from_record(io::stdin().lock(), "standard input")
    } else {
        let f = File::open(file).map_err(|e| run_err(anyhow!("{name}: {e}")))?;
        proof::from_record(BufReader::with_capacity(1 << 16, f), &name)
    };
    match proof {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(run_err(anyhow!(
            "{name}: no recorded line: nothing to report"
        ))),
        Err(e) => Err(run_err(e)),
    }
}

/// Watches the cluster for `duration` (or until a signal) and folds what it saw.
async fn live(config: Option<&Path>, duration: Duration) -> Result<Proof, Failure> {
    let config = load_config(config).await.map_err(Failure::Config)?;
    let running =
        Running::start(config, Hangup::Reload, CancellationToken::new(), Shard::ALL).await?;
    let mut builder = Builder::new("live");
    let clock = running.clock.clone();
    let shutdown = running.shutdown.clone();
    let deadline = tokio::time::sleep(duration);
    tokio::pin!(deadline);
    // The first beat one period in: the first line must be the engine's first `config_applied`
    // (a beat before it would read as an earlier run).
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + LIVE_BEAT, LIVE_BEAT);
    // Subscribed before the first config was applied: every item from its `config_applied` on.
    let mut items = running.engine.feed_from_start;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = &mut deadline => break,
            item = items.recv() => match item {
                Ok(Feed::Event(e)) => builder.add(Input::Event(e)),
                Ok(Feed::Probe(p)) => builder.add(Input::Probe {
                    at: p.at,
                    island: p.island,
                    auth_failed: p.outcome
                        == crate::engine::event::ProbeRecordOutcome::Failed(
                            crate::engine::ErrorKind::AuthFailed,
                        ),
                    node: p.node,
                    mode: p.mode,
                }),
                Err(RecvError::Lagged(missed)) => builder.add(Input::Lagged {
                    at: clock.now(),
                    missed,
                }),
                Err(RecvError::Closed) => break,
            },
            _ = beat.tick() => builder.add(Input::Heartbeat {
                at: clock.now(),
                every: LIVE_BEAT,
            }),
        }
    }
    drop(items);
    stop(running.shutdown, running.engine.task, running.signal_task).await?;
    builder
        .finish()
        .ok_or_else(|| run_err(anyhow!("the engine reported nothing")))
}
