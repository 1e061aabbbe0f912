//! `rotascope check --ready-to-revoke LOGIN`: is LOGIN safe to revoke? Exit 0 only when it is,
//! 1 when it is not, with the reasons.
//!
//! Safe means (`engine/usage.rs`): a replacement valid on every node that lists LOGIN, and no
//! session of LOGIN on any of them for `[usage] quiet_for`. One pass cannot tell that, so the
//! command runs the engine and watches up to `quiet_for` (plus two probe intervals and a probe
//! timeout, for the last probe to land). It answers as soon as the answer is known:
//! - 0 the moment the login is safe — at once when the `[state]` file (fresh: written by a
//!   running rotascope within the last two minutes) already holds that much quiet time and the
//!   first probes confirm it;
//! - 1 at once when a session of LOGIN is seen on any node (it is in use now), as soon as it can
//!   no longer become safe within the watch, or when the watch ends.
//!
//! The `[state]` file is read, never written: a `serve` or `watch` beside it owns it.
//!
//! While it watches, one line on stderr says so (scripts and people see why it has not answered
//! yet). Signal handlers are registered before anything starts, so a Ctrl-C (or SIGTERM) at any
//! moment ends the watch with what was seen so far and a note that it was interrupted.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::run::{load_config, print, run_err, with_state, Failure};
use super::signals::Signals;
use super::{CheckArgs, Format};
use crate::clock::{SharedClock, SystemClock};
use crate::engine::pg::PgProber;
use crate::engine::usage::LoginUsage;
use crate::engine::{Engine, EngineOptions};
use crate::report::Exit;
use crate::text::sanitize;

/// Runs the readiness check for `login`.
pub(super) async fn ready_to_revoke(
    path: Option<&Path>,
    args: &CheckArgs,
    login: &str,
) -> Result<Exit, Failure> {
    let config = load_config(path).await.map_err(Failure::Config)?;
    if !config.usage.enabled {
        // Readiness is made of session counts: without them any answer would be a guess.
        return Err(Failure::Config(anyhow!(
            "{}: `usage.enabled` is false: `check --ready-to-revoke` needs session counts; \
             set `[usage] enabled = true` (or leave it out)",
            sanitize(&config.path.display().to_string())
        )));
    }
    let config = args.shard.unwrap_or_default().apply(config);
    if !config
        .topology
        .islands
        .iter()
        .flat_map(|i| i.nodes.iter())
        .flat_map(|n| n.candidates.iter())
        .any(|c| c.login == login)
    {
        return Err(Failure::Config(anyhow!(
            "no candidate of the config logs in as {:?}",
            sanitize(login)
        )));
    }
    // From here on a signal ends the watch (cancels `interrupt`) instead of killing the process.
    let interrupt = CancellationToken::new();
    let signal_task = Signals::register()
        .map_err(|e| run_err(anyhow!(e).context("signal handlers")))?
        .spawn(None, interrupt.clone());
    let (config, state) = with_state(config).await?;
    let quiet_for = config.usage.quiet_for;
    let watch_for = quiet_for + 2 * config.probe.interval + config.probe.timeout;
    let clock: SharedClock = Arc::new(SystemClock);
    let (feed, _keep) = crate::config::ConfigFeed::manual(config, clock.now());
    let shutdown = CancellationToken::new();
    let engine = Engine::spawn_with(
        feed,
        clock.clone(),
        PgProber::new(),
        shutdown.clone(),
        EngineOptions {
            state,
            state_read_only: true,
            ..EngineOptions::default()
        },
    );
    let mut snapshots = engine.snapshots.clone();
    let end = Utc::now() + chrono::Duration::from_std(watch_for).unwrap_or(chrono::TimeDelta::MAX);
    let deadline = tokio::time::Instant::now() + watch_for;
    let mut last: Option<LoginUsage> = None;
    let started = tokio::time::Instant::now();
    let mut interrupted = None;
    let mut said_watching = false;
    let answer = loop {
        let s = snapshots.borrow_and_update().clone();
        let current = s.usage.iter().find(|l| l.login == login).cloned();
        if let Some(l) = &current {
            if l.safe_to_revoke {
                break l.clone();
            }
            if hopeless(l, quiet_for, end) {
                break l.clone();
            }
        }
        last = current.or(last);
        if last.is_some() && !said_watching {
            said_watching = true;
            eprintln!("{}", watching_text(login, watch_for));
        }
        let wait = tokio::time::timeout_at(deadline, snapshots.changed());
        tokio::select! {
            r = wait => match r {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err(run_err(anyhow!("the engine stopped unexpectedly"))),
                Err(_) => match last.take() {
                    Some(l) => break l,
                    None => return Err(run_err(anyhow!("no snapshot names {login:?}"))),
                },
            },
            _ = interrupt.cancelled() => match last.take() {
                Some(l) => {
                    interrupted = Some(started.elapsed());
                    break l;
                }
                None => return Err(run_err(anyhow!("interrupted before any probe"))),
            },
        }
    };
    shutdown.cancel();
    interrupt.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), engine.task).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), signal_task).await;
    let mut out = Vec::new();
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&answer).map_err(run_err)?;
            out.extend_from_slice(crate::text::json_safe(json).as_bytes());
            out.push(b'\n');
            // The document stays the login's entry; the note goes where people look.
            if let Some(after) = interrupted {
                eprint!("{}", interrupted_text(after, watch_for));
            }
        }
        Format::Table => {
            out.extend_from_slice(verdict_text(&answer, quiet_for).as_bytes());
            if let Some(after) = interrupted {
                out.extend_from_slice(interrupted_text(after, watch_for).as_bytes());
            }
        }
    }
    print(&out)?;
    Ok(if answer.safe_to_revoke {
        Exit::Ok
    } else {
        Exit::Degraded
    })
}

/// True when the answer is no, known now: a session seen on any node (whatever the nodes not
/// measured yet say: the login is in use now, and a full `quiet_for` from its end is needed;
/// within the watch's slack (two probe intervals and a probe timeout) it might just make it, but
/// "in use now" is the answer a pipeline asking "can I revoke now?" needs at once), or every
/// node measured (so what is missing is time, not a probe) and its quiet time cannot reach
/// `quiet_for` before `end`.
fn hopeless(l: &LoginUsage, quiet_for: Duration, end: chrono::DateTime<Utc>) -> bool {
    if l.nodes_in_use > 0 {
        return true;
    }
    if l.nodes_unknown > 0 {
        return false;
    }
    let quiet = chrono::Duration::from_std(quiet_for).unwrap_or(chrono::TimeDelta::MAX);
    l.idle_since.is_some_and(|t| t + quiet > end)
}

/// Said on stderr once the first snapshot is in and the answer is not known yet.
fn watching_text(login: &str, watch_for: Duration) -> String {
    format!(
        "rotascope: {}: watching up to {} for the answer (Ctrl-C ends the watch early)",
        sanitize(login),
        crate::engine::snapshot::span_text(watch_for)
    )
}

/// Said after the verdict when Ctrl-C ended the watch: the answer is what was seen so far.
fn interrupted_text(after: Duration, watch_for: Duration) -> String {
    use crate::engine::snapshot::span_text;
    format!(
        "  note: interrupted after {}: this is what was seen so far (the watch takes up to {} \
         to answer)\n",
        span_text(after),
        span_text(watch_for)
    )
}

/// The answer for people: one line, then the reasons.
fn verdict_text(l: &LoginUsage, quiet_for: Duration) -> String {
    let login = sanitize(&l.login);
    let mut text = if l.safe_to_revoke {
        format!(
            "{login}: safe to revoke: {}, replacement valid on {}, quiet for at least {}\n",
            l.summary(),
            crate::text::plural(l.nodes, "node"),
            crate::engine::snapshot::span_text(quiet_for)
        )
    } else {
        format!("{login}: not safe to revoke ({})\n", l.summary())
    };
    for r in &l.reasons {
        text.push_str(&format!("  - {}\n", sanitize(r)));
    }
    if l.shared_by_passwords {
        text.push_str(
            "  note: one login with several passwords: the sessions cannot be told apart by \
             password; the count belongs to the login\n",
        );
    }
    if l.via_pooler {
        text.push_str(
            "  note: via pooler: the sessions counted are the pooler's server connections\n",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hopeless_is_a_session_anywhere_or_time_running_out() {
        let t = |s: i64| chrono::DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let quiet = Duration::from_secs(600);
        let end = t(604);
        let login = |in_use, unknown, idle: Option<i64>| LoginUsage {
            login: "app".into(),
            nodes: 3,
            nodes_in_use: in_use,
            sessions: u32::try_from(in_use).unwrap(),
            nodes_unknown: unknown,
            idle_since: idle.map(t),
            shared_by_passwords: false,
            via_pooler: false,
            safe_to_revoke: false,
            reasons: Vec::new(),
        };
        // In use on one node, the others not measured yet: no, at once.
        assert!(hopeless(&login(1, 2, None), quiet, end));
        // Nothing seen yet: wait for the probes.
        assert!(!hopeless(&login(0, 3, None), quiet, end));
        // Idle since the start: it can still make it by the end.
        assert!(!hopeless(&login(0, 0, Some(0)), quiet, end));
        // Idle only since 10 s in: 10 min from then is past the end.
        assert!(hopeless(&login(0, 0, Some(10)), quiet, end));
    }
}
