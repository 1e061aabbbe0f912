//! `report --format text`: the proof for people, in a terminal or a log. Times are UTC.

use std::io::{self, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Episode, Listed, NodeWindow, Proof, Verdict};
use crate::engine::episodes::{ChangeKind, CredentialChange, EpisodeSummary, Window};
use crate::engine::snapshot::span_text;
use crate::text::plural;

/// `10:00:11.204`.
pub(super) fn clock(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S%.3f").to_string()
}

/// `2026-11-28 10:00:11Z`.
pub(super) fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `10:00:11.204–10:00:14.880 (3.7 s)`, with `, ongoing` when it had not ended.
pub(super) fn window(w: &Window) -> String {
    format!(
        "{}–{} ({}{})",
        clock(w.from),
        clock(w.to),
        span_text(w.duration()),
        if w.ongoing {
            ", still so at the end"
        } else {
            ""
        }
    )
}

/// `0/db-a 10:00:11.204–10:00:14.880 (3.7 s)`.
pub(super) fn node_window(w: &NodeWindow) -> String {
    format!("{}/{} {}", w.island, w.node, window(&w.window))
}

/// The verdict in one sentence.
pub(super) fn verdict_text(p: &Proof) -> String {
    match p.verdict {
        Verdict::Outage => format!(
            "some node had no working credential: {}",
            plural(p.outages.total() as usize, "outage window")
        ),
        Verdict::Degraded => {
            let mut why = Vec::new();
            if !p.degraded.is_empty() {
                why.push(plural(p.degraded.total() as usize, "degraded window"));
            }
            if !p.unreachable.is_empty() {
                why.push(plural(p.unreachable.total() as usize, "unreachable window"));
            }
            if !p.gaps.is_empty() {
                why.push(plural(p.gaps.total() as usize, "gap") + " in monitoring");
            }
            format!(
                "no node was ever without a working credential; {}",
                why.join(", ")
            )
        }
        Verdict::Ok => "every node kept a working credential and was never degraded".to_owned(),
    }
}

/// `app_b 840b4720 refused, removed; app_b 6ec50bea added`.
pub(super) fn changes(list: &[CredentialChange]) -> String {
    let mut groups: Vec<(String, Vec<&'static str>)> = Vec::new();
    for c in list {
        let name = match &c.label {
            Some(l) => format!("{} ({l}) {}", c.login, c.fingerprint),
            None => format!("{} {}", c.login, c.fingerprint),
        };
        let what = match c.change {
            ChangeKind::Refused => "refused",
            ChangeKind::Removed => "removed",
            ChangeKind::Added => "added",
        };
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, whats)) => whats.push(what),
            None => groups.push((name, vec![what])),
        }
    }
    if groups.is_empty() {
        return "none".to_owned();
    }
    groups
        .into_iter()
        .map(|(n, w)| format!("{n} {}", w.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn ms(ms: u64) -> String {
    span_text(Duration::from_millis(ms))
}

fn write_summary<W: Write>(out: &mut W, s: &EpisodeSummary) -> io::Result<()> {
    writeln!(
        out,
        "  rotation {} {}–{} ({}) {}, {}",
        s.episode,
        clock(s.started),
        clock(s.ended),
        span_text(s.duration()),
        match s.outcome {
            crate::engine::episodes::Outcome::Completed => "completed",
            crate::engine::episodes::Outcome::TimedOut => "timed out",
        },
        match s.trigger {
            crate::engine::episodes::Trigger::CandidateRefused => "began with a refused candidate",
            crate::engine::episodes::Trigger::SecretsChanged => "began with a secrets change",
        }
    )?;
    writeln!(out, "    changed: {}", changes(&s.changed))?;
    writeln!(out, "    {}", s.outcome_text())?;
    for n in &s.nodes {
        let mut parts = Vec::new();
        if let Some(d) = &n.degraded {
            parts.push(format!(
                "degraded {} in all, {}",
                ms(n.degraded_ms),
                window(d)
            ));
        }
        for o in &n.outages {
            parts.push(format!("NO WORKING CREDENTIAL {}", window(o)));
        }
        for u in &n.unreachable {
            parts.push(format!("unreachable {}", window(u)));
        }
        if n.failed_auths.total() > 0 {
            parts.push(format!(
                "{} (chain {}, audit {})",
                plural(n.failed_auths.total() as usize, "failed auth"),
                n.failed_auths.chain,
                n.failed_auths.audit
            ));
        }
        writeln!(out, "    {}/{}: {}", n.island, n.node, parts.join("; "))?;
    }
    Ok(())
}

fn write_windows<W: Write>(out: &mut W, title: &str, list: &Listed<NodeWindow>) -> io::Result<()> {
    if list.is_empty() {
        return writeln!(out, "{title}: none");
    }
    writeln!(out, "{title} ({}):", list.total())?;
    for w in &list.items {
        writeln!(out, "  {}", node_window(w))?;
    }
    if list.more > 0 {
        writeln!(out, "  ... and {} more", list.more)?;
    }
    Ok(())
}

/// Writes the proof as text.
pub fn write_text<W: Write>(out: &mut W, p: &Proof) -> io::Result<()> {
    writeln!(out, "rotascope report · {}", p.source)?;
    writeln!(
        out,
        "verdict: {} (exit {}): {}",
        p.verdict.as_str().to_uppercase(),
        p.exit,
        verdict_text(p)
    )?;
    if let (Some(from), Some(to)) = (p.from, p.to) {
        let span = (to - from).to_std().unwrap_or_default();
        let gaps = if p.gaps.is_empty() {
            "no gaps".to_owned()
        } else {
            plural(p.gaps.total() as usize, "gap")
        };
        writeln!(
            out,
            "span: {} → {} ({}), monitored {}, {gaps}",
            stamp(from),
            stamp(to),
            span_text(span),
            ms(p.monitored_ms)
        )?;
    }
    let i = &p.input;
    writeln!(
        out,
        "input: {} ({}, {}, {}), {}{}{}",
        plural(i.lines as usize, "line"),
        plural(i.events as usize, "event"),
        plural(i.heartbeats as usize, "heartbeat"),
        plural(i.probes as usize, "probe"),
        plural(i.runs as usize, "run"),
        if i.missed > 0 {
            format!(", {} lines lost by the recorder", i.missed)
        } else {
            String::new()
        },
        if i.truncated_last_line {
            "; the last line was cut short (the recorder stopped mid-write) and was ignored"
        } else {
            ""
        }
    )?;
    writeln!(out)?;
    if p.episodes.is_empty() {
        writeln!(out, "rotations: none")?;
    } else {
        writeln!(out, "rotations ({}):", p.episodes.total())?;
        for e in &p.episodes.items {
            match e {
                Episode::Finished(s) => write_summary(out, s)?,
                Episode::Unfinished {
                    episode,
                    started,
                    until,
                    island,
                    node,
                    candidate,
                    ..
                } => writeln!(
                    out,
                    "  rotation {episode} {}– UNFINISHED: monitoring ended at {} ({} in); began \
                     on {island}/{node} with {} {}",
                    clock(*started),
                    clock(*until),
                    span_text((*until - *started).to_std().unwrap_or_default()),
                    candidate.login,
                    candidate.fingerprint
                )?,
            }
        }
        if p.episodes.more > 0 {
            writeln!(out, "  ... and {} more", p.episodes.more)?;
        }
    }
    writeln!(out)?;
    write_windows(out, "outages (no working credential)", &p.outages)?;
    write_windows(out, "unreachable", &p.unreachable)?;
    write_windows(out, "degraded", &p.degraded)?;
    if p.gaps.is_empty() {
        writeln!(out, "gaps in monitoring: none")?;
    } else {
        writeln!(out, "gaps in monitoring ({}):", p.gaps.total())?;
        for g in &p.gaps.items {
            writeln!(out, "  {}", window(g))?;
        }
        if p.gaps.more > 0 {
            writeln!(out, "  ... and {} more", p.gaps.more)?;
        }
    }
    Ok(())
}
