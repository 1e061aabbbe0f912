//! `rotascope serve`: the engine headless, with the HTTP endpoints of [`crate::serve`], until
//! SIGINT or SIGTERM (exit 0); SIGHUP reloads the config, as in `watch`.
//!
//! Start-up order: refuse a remote `--listen` without `--allow-remote` (before anything is read),
//! load the config (a broken one exits 3), bind the port (a taken one exits 3), and only then
//! start probing, so a misconfigured instance never logs in anywhere. Once it listens it prints
//! one line on stdout, `serving http://ADDR/metrics ...`, with the port really bound (useful with
//! `--listen 127.0.0.1:0`). If the engine ever stops on its own the process exits 3, so a
//! supervisor restarts it rather than leaving a server that answers with a frozen snapshot.

use std::path::Path;

use anyhow::anyhow;
use tokio_util::sync::CancellationToken;

use super::run::{load_config, print, run_err, stop, Failure, Hangup, Running};
use super::ServeArgs;
use crate::engine::EngineHandle;
use crate::report::Exit;
use crate::serve::{listen, router, SharedTally, Sources};

/// Runs `serve` (see the module docs).
pub(super) async fn serve(path: Option<&Path>, args: &ServeArgs) -> Result<Exit, Failure> {
    listen::permitted(args.listen, args.allow_remote).map_err(run_err)?;
    let config = load_config(path).await.map_err(Failure::Config)?;
    let listener = listen::bind(args.listen, args.allow_remote)
        .await
        .map_err(run_err)?;
    let addr = listener.local_addr().map_err(run_err)?;
    let shard = args.shard.unwrap_or_default();

    let Running {
        clock: _,
        shutdown,
        engine,
        signal_task,
    } = Running::start(config, Hangup::Reload, CancellationToken::new(), shard).await?;
    let EngineHandle {
        snapshots,
        commands: _commands,
        feed: _,
        feed_from_start,
        task: engine_task,
    } = engine;

    let tally = SharedTally::default();
    // Subscribed before the first config was applied: every probe is counted.
    let tally_task = tally.spawn(feed_from_start, snapshots.clone(), shutdown.clone());
    let app = router(Sources {
        snapshots: snapshots.clone(),
        tally,
        shard,
    });
    let server = tokio::spawn(crate::serve::serve(listener, app, shutdown.clone()));
    tracing::info!("serving on {addr}, shard {shard}");
    print(
        format!(
            "serving http://{addr}/metrics (also /healthz, /readyz, /snapshot), shard {shard}\n"
        )
        .as_bytes(),
    )?;

    let engine_gone = {
        let mut snapshots = snapshots.clone();
        async move { while snapshots.changed().await.is_ok() {} }
    };
    let engine_stopped = tokio::select! {
        biased;
        _ = shutdown.cancelled() => false,
        _ = engine_gone => !shutdown.is_cancelled(),
    };
    shutdown.cancel();
    // Both bound their own shutdown (the server by its close grace).
    let _ = server.await;
    let _ = tally_task.await;
    drop(snapshots);
    let stopped = stop(shutdown, engine_task, signal_task).await;
    if engine_stopped {
        stopped?;
        return Err(run_err(anyhow!("the engine stopped unexpectedly")));
    }
    stopped.map(|()| Exit::Ok)
}
