//! `report --format markdown`: the proof for a change ticket or a pull request. Times are UTC.

use std::io::{self, Write};

use super::text::{changes, clock, stamp, verdict_text, window};
use super::{Episode, Listed, NodeWindow, Proof};
use crate::engine::snapshot::span_text;

/// Escapes what Markdown tables and emphasis would read.
fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('`', "\\`")
        .replace('\n', " ")
}

fn windows<W: Write>(out: &mut W, title: &str, list: &Listed<NodeWindow>) -> io::Result<()> {
    writeln!(out, "\n## {title}\n")?;
    if list.is_empty() {
        return writeln!(out, "None.");
    }
    writeln!(out, "| node | window |\n| --- | --- |")?;
    for w in &list.items {
        writeln!(
            out,
            "| {}/{} | {} |",
            w.island,
            md(&w.node),
            window(&w.window)
        )?;
    }
    if list.more > 0 {
        writeln!(out, "\n…and {} more.", list.more)?;
    }
    Ok(())
}

/// Writes the proof as Markdown.
pub fn write_markdown<W: Write>(out: &mut W, p: &Proof) -> io::Result<()> {
    writeln!(out, "# Rotation report: {}\n", md(&p.source))?;
    writeln!(
        out,
        "**Verdict: {}** (exit {}): {}.\n",
        p.verdict.as_str(),
        p.exit,
        verdict_text(p)
    )?;
    if let (Some(from), Some(to)) = (p.from, p.to) {
        writeln!(
            out,
            "Span {} → {} ({}), monitored {}; {} lines read{}.",
            stamp(from),
            stamp(to),
            span_text((to - from).to_std().unwrap_or_default()),
            span_text(std::time::Duration::from_millis(p.monitored_ms)),
            p.input.lines,
            if p.input.truncated_last_line {
                "; the last line was cut short and ignored"
            } else {
                ""
            }
        )?;
    }
    writeln!(out, "\n## Rotations\n")?;
    if p.episodes.is_empty() {
        writeln!(out, "None.")?;
    } else {
        writeln!(
            out,
            "| # | window | outcome | changed | nodes degraded | outages | failed auths |\n\
             | --- | --- | --- | --- | --- | --- | --- |"
        )?;
        for e in &p.episodes.items {
            match e {
                Episode::Finished(s) => writeln!(
                    out,
                    "| {} | {}–{} ({}) | {} | {} | {}/{} (longest {}) | {} | {} |",
                    s.episode,
                    clock(s.started),
                    clock(s.ended),
                    span_text(s.duration()),
                    serde_json::to_value(s.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    md(&changes(&s.changed)),
                    s.nodes_degraded,
                    s.nodes_total,
                    span_text(s.longest_degraded()),
                    s.outages,
                    s.failed_auths.total()
                )?,
                Episode::Unfinished {
                    episode,
                    started,
                    until,
                    ..
                } => writeln!(
                    out,
                    "| {episode} | {}– | **unfinished**: monitoring ended at {} | | | | |",
                    clock(*started),
                    clock(*until)
                )?,
            }
        }
        if p.episodes.more > 0 {
            writeln!(out, "\n…and {} more.", p.episodes.more)?;
        }
    }
    windows(out, "Outages (no working credential)", &p.outages)?;
    windows(out, "Unreachable", &p.unreachable)?;
    windows(out, "Degraded", &p.degraded)?;
    writeln!(out, "\n## Gaps in monitoring\n")?;
    if p.gaps.is_empty() {
        writeln!(out, "None.")?;
    } else {
        for g in &p.gaps.items {
            writeln!(out, "- {}", window(g))?;
        }
    }
    Ok(())
}
