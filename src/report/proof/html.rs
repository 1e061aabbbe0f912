//! `report --format html`: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched) that an SRE attaches to a change ticket. The markup is well-formed XML as well as
//! HTML, so tools (and tests) can parse it.
//!
//! The chart, drawn as SVG:
//!
//! ```text
//!            10:00:00        10:01:00        10:02:00   (UTC)
//! monitoring ▒▒                                         gaps hatched
//! app_a 84…  ████████████▓▓▓▓████████████████████████  one row per credential:
//! app_b 6e…  ████████████████████▓▓▓▓████████████████  valid everywhere / on some nodes /
//! ...                                                   invalid everywhere / untested
//! 0/db-a     ░░░░░░░░░░░░░░░░░░░░░░░░░░███░░░░░░░░░░░  a node's outages (red), unreachable
//!            └ rotation bands shaded behind the rows ┘
//! ```

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{DateTime, Utc};

use super::text::{changes, clock, stamp, verdict_text, window};
use super::{Episode, Listed, NodeWindow, Proof, Verdict};
use crate::engine::history::Cell;
use crate::engine::snapshot::span_text;

/// Escapes text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1d2329;max-width:1200px}\
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:24px 0 8px}\
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;color:#fff}\
.v-ok{background:#2e9d57}.v-degraded{background:#c98a12}.v-outage{background:#d64545}\
table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #d5d9de;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f2f4f6}.muted{color:#66707a}svg{display:block;margin:8px 0}\
svg text{font:11px system-ui,sans-serif;fill:#1d2329}";

/// Chart geometry.
const LABEL_W: f64 = 230.0;
const PLOT_W: f64 = 900.0;
const ROW_H: f64 = 16.0;
const ROW_GAP: f64 = 4.0;
const AXIS_H: f64 = 22.0;

fn fill(cell: Cell) -> Option<(&'static str, &'static str)> {
    match cell {
        Cell::ValidEverywhere => Some(("#2e9d57", "valid everywhere")),
        Cell::ValidSome => Some(("#e0b43a", "valid on some nodes")),
        Cell::InvalidEverywhere => Some(("#d64545", "invalid everywhere")),
        Cell::Untested => Some(("#b4bac0", "untested")),
        Cell::Gap => Some(("url(#gap)", "not monitored")),
        Cell::Absent => None,
    }
}

/// The chart's x of a time.
struct Scale {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Scale {
    fn x(&self, at: DateTime<Utc>) -> f64 {
        let span = (self.to - self.from).num_milliseconds().max(1) as f64;
        let t = (at - self.from).num_milliseconds() as f64;
        LABEL_W + (t / span).clamp(0.0, 1.0) * PLOT_W
    }
}

/// The SVG chart alone.
pub fn chart_svg(p: &Proof) -> String {
    let scale = Scale {
        from: p.chart.from,
        to: p.chart.to,
    };
    let cols = p.chart.columns.max(1);
    let cell_w = PLOT_W / cols as f64;
    // Lanes: monitoring, credentials, then nodes with outages or unreachable windows.
    let mut lanes: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for w in p.outages.items.iter().chain(&p.unreachable.items) {
        if seen.insert((w.island, w.node.clone())) && seen.len() <= 50 {
            lanes.push(format!("{}/{}", w.island, w.node));
        }
    }
    let rows = 1 + p.credentials.len() + lanes.len();
    let height = AXIS_H + rows as f64 * (ROW_H + ROW_GAP) + 40.0;
    let width = LABEL_W + PLOT_W + 10.0;
    let y_of = |row: usize| AXIS_H + row as f64 * (ROW_H + ROW_GAP);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="credential timeline">"#
    );
    s.push_str(
        r##"<defs><pattern id="gap" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef0f2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#9aa3ab" stroke-width="2"/></pattern></defs>"##,
    );
    // Rotation bands behind everything.
    for e in &p.episodes.items {
        let (x0, x1) = (scale.x(e.started()), scale.x(e.ended()));
        let _ = write!(
            s,
            r##"<rect class="episode" x="{x0:.2}" y="{}" width="{:.2}" height="{:.2}" fill="#6c8ebf" fill-opacity="0.15"><title>rotation {}–{}</title></rect>"##,
            AXIS_H - 4.0,
            (x1 - x0).max(1.0),
            rows as f64 * (ROW_H + ROW_GAP) + 4.0,
            esc(&clock(e.started())),
            esc(&clock(e.ended()))
        );
    }
    // Time axis: about six ticks.
    let ticks = 6;
    for k in 0..=ticks {
        let at = scale.from + (scale.to - scale.from) * k / ticks;
        let x = scale.x(at);
        // The last label ends at its tick, so it stays inside the picture.
        let anchor = if k == ticks { "end" } else { "middle" };
        let _ = write!(
            s,
            r##"<line x1="{x:.2}" y1="{}" x2="{x:.2}" y2="{:.2}" stroke="#d5d9de"/><text x="{x:.2}" y="12" text-anchor="{anchor}">{}</text>"##,
            AXIS_H - 4.0,
            y_of(rows),
            at.format("%H:%M:%S")
        );
    }
    // Monitoring lane.
    let y = y_of(0);
    let _ = write!(
        s,
        r#"<g class="monitoring"><text x="4" y="{:.1}">monitoring (UTC)</text>"#,
        y + ROW_H - 4.0
    );
    for g in &p.gaps.items {
        let (x0, x1) = (scale.x(g.from), scale.x(g.to));
        let _ = write!(
            s,
            r#"<rect class="gap" x="{x0:.2}" y="{y:.1}" width="{:.2}" height="{ROW_H}" fill="url(#gap)"><title>not monitored {}</title></rect>"#,
            (x1 - x0).max(1.0),
            esc(&window(g))
        );
    }
    s.push_str("</g>");
    // One row per credential.
    for (i, c) in p.credentials.iter().enumerate() {
        let y = y_of(1 + i);
        let name = match &c.label {
            Some(l) => format!("{} ({l}) {}", c.login, c.fingerprint),
            None => format!("{} {}", c.login, c.fingerprint),
        };
        let _ = write!(
            s,
            r#"<g class="credential" data-login="{}" data-fingerprint="{}"><text x="4" y="{:.1}">{}</text>"#,
            esc(&c.login),
            c.fingerprint,
            y + ROW_H - 4.0,
            esc(&name)
        );
        let mut k = 0;
        while k < c.cells.len() {
            let cell = c.cells[k];
            let mut end = k + 1;
            while end < c.cells.len() && c.cells[end] == cell {
                end += 1;
            }
            if let Some((color, what)) = fill(cell) {
                let _ = write!(
                    s,
                    r#"<rect class="cell {}" x="{:.2}" y="{y:.1}" width="{:.2}" height="{ROW_H}" fill="{color}"><title>{what}</title></rect>"#,
                    cell.as_str(),
                    LABEL_W + k as f64 * cell_w,
                    (end - k) as f64 * cell_w
                );
            }
            k = end;
        }
        s.push_str("</g>");
    }
    // Node lanes: outages and unreachable windows at their exact times.
    for (j, lane) in lanes.iter().enumerate() {
        let y = y_of(1 + p.credentials.len() + j);
        let _ = write!(
            s,
            r#"<g class="node" data-node="{}"><text x="4" y="{:.1}">{}</text>"#,
            esc(lane),
            y + ROW_H - 4.0,
            esc(lane)
        );
        let draw = |s: &mut String, list: &Listed<NodeWindow>, class: &str, color: &str| {
            for w in list
                .items
                .iter()
                .filter(|w| format!("{}/{}", w.island, w.node) == *lane)
            {
                let (x0, x1) = (scale.x(w.window.from), scale.x(w.window.to));
                let _ = write!(
                    s,
                    r#"<rect class="{class}" data-from="{}" data-to="{}" x="{x0:.2}" y="{y:.1}" width="{:.2}" height="{ROW_H}" fill="{color}"><title>{class} {}</title></rect>"#,
                    w.window
                        .from
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    w.window
                        .to
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    (x1 - x0).max(1.0),
                    esc(&window(&w.window))
                );
            }
        };
        draw(&mut s, &p.outages, "outage", "#d64545");
        draw(&mut s, &p.unreachable, "unreachable", "#8a6d3b");
        s.push_str("</g>");
    }
    // Legend.
    let y = y_of(rows) + 14.0;
    let mut x = LABEL_W;
    for (color, what) in [
        ("#2e9d57", "valid everywhere"),
        ("#e0b43a", "valid on some nodes"),
        ("#d64545", "invalid everywhere / outage"),
        ("#b4bac0", "untested"),
        ("url(#gap)", "not monitored"),
        ("#6c8ebf", "rotation"),
    ] {
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{color}"/><text x="{:.1}" y="{:.1}">{what}</text>"#,
            y - 9.0,
            x + 14.0,
            y
        );
        x += 14.0 + what.len() as f64 * 6.2 + 16.0;
    }
    s.push_str("</svg>");
    s
}

fn windows_table(out: &mut String, title: &str, list: &Listed<NodeWindow>) {
    let _ = write!(out, "<h2>{}</h2>", esc(title));
    if list.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>");
        return;
    }
    out.push_str("<table><tr><th>node</th><th>window (UTC)</th></tr>");
    for w in &list.items {
        let _ = write!(
            out,
            "<tr><td>{}/{}</td><td>{}</td></tr>",
            w.island,
            esc(&w.node),
            esc(&window(&w.window))
        );
    }
    out.push_str("</table>");
    if list.more > 0 {
        let _ = write!(out, "<p>…and {} more.</p>", list.more);
    }
}

/// Writes the page.
pub fn write_html<W: Write>(out: &mut W, p: &Proof) -> io::Result<()> {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>");
    let _ = write!(
        h,
        "<title>rotascope report: {}</title><style>{STYLE}</style></head><body>",
        esc(&p.source)
    );
    let _ = write!(h, "<h1>Rotation report: {}</h1>", esc(&p.source));
    let class = match p.verdict {
        Verdict::Ok => "v-ok",
        Verdict::Degraded => "v-degraded",
        Verdict::Outage => "v-outage",
    };
    let _ = write!(
        h,
        "<p><span class=\"verdict {class}\">{} (exit {})</span> {}.</p>",
        p.verdict.as_str(),
        p.exit,
        esc(&verdict_text(p))
    );
    if let (Some(from), Some(to)) = (p.from, p.to) {
        let _ = write!(
            h,
            "<p class=\"muted\">{} → {} ({}), monitored {}; {} lines read{}.</p>",
            esc(&stamp(from)),
            esc(&stamp(to)),
            span_text((to - from).to_std().unwrap_or_default()),
            span_text(std::time::Duration::from_millis(p.monitored_ms)),
            p.input.lines,
            if p.input.truncated_last_line {
                "; the last line was cut short and ignored"
            } else {
                ""
            }
        );
    }
    h.push_str("<h2>Credentials over time</h2>");
    h.push_str(&chart_svg(p));
    if p.credentials_more > 0 {
        let _ = write!(
            h,
            "<p class=\"muted\">{} more credentials are not drawn.</p>",
            p.credentials_more
        );
    }
    h.push_str("<h2>Rotations</h2>");
    if p.episodes.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
    } else {
        h.push_str("<table><tr><th>#</th><th>window (UTC)</th><th>outcome</th><th>changed</th><th>nodes degraded</th><th>outages</th><th>failed auths</th></tr>");
        for e in &p.episodes.items {
            match e {
                Episode::Finished(s) => {
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td>{}–{} ({})</td><td>{}</td><td>{}</td><td>{}/{} (longest {})</td><td>{}</td><td>{} (chain {}, audit {})</td></tr>",
                        s.episode,
                        esc(&clock(s.started)),
                        esc(&clock(s.ended)),
                        span_text(s.duration()),
                        match s.outcome {
                            crate::engine::episodes::Outcome::Completed => "completed",
                            crate::engine::episodes::Outcome::TimedOut => "timed out",
                        },
                        esc(&changes(&s.changed)),
                        s.nodes_degraded,
                        s.nodes_total,
                        span_text(s.longest_degraded()),
                        s.outages,
                        s.failed_auths.total(),
                        s.failed_auths.chain,
                        s.failed_auths.audit
                    );
                }
                Episode::Unfinished {
                    episode,
                    started,
                    until,
                    ..
                } => {
                    let _ = write!(
                        h,
                        "<tr><td>{episode}</td><td>{}–</td><td><b>unfinished</b>: monitoring ended at {}</td><td></td><td></td><td></td><td></td></tr>",
                        esc(&clock(*started)),
                        esc(&clock(*until))
                    );
                }
            }
        }
        h.push_str("</table>");
    }
    windows_table(&mut h, "Outages (no working credential)", &p.outages);
    windows_table(&mut h, "Unreachable", &p.unreachable);
    windows_table(&mut h, "Degraded", &p.degraded);
    h.push_str("<h2>Gaps in monitoring</h2>");
    if p.gaps.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
    } else {
        h.push_str("<ul>");
        for g in &p.gaps.items {
            let _ = write!(h, "<li>{}</li>", esc(&window(g)));
        }
        h.push_str("</ul>");
    }
    h.push_str("<p class=\"muted\">Made by rotascope report. Times are UTC.</p></body></html>\n");
    out.write_all(h.as_bytes())
}
