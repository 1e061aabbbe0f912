//! The header: verdict with counts, paused indicator, `behind schedule` when chain probes run
//! less often than configured (and how often they really run, next to the interval), config path
//! and reload status, probe intervals, and a banner when the latest reload failed.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::{ago, clock, width, wrap};
use crate::engine::snapshot::{Health, Snapshot};
use crate::text::{plural, sanitize};
use crate::ui::keymap::{Action, Context};
use crate::ui::theme::{self, Theme};
use crate::ui::view::ViewState;

/// Most lines the reload-error banner may take.
const BANNER_LINES: usize = 2;

/// Lines the header needs at this width.
pub fn height(snapshot: &Snapshot, now: DateTime<Utc>, cols: u16) -> u16 {
    2 + banner(snapshot, now, Theme::PLAIN, usize::from(cols)).len() as u16
}

/// Draws the header.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    view: &ViewState,
    now: DateTime<Utc>,
) {
    let t = view.theme;
    let cols = usize::from(area.width);
    let mut lines = vec![
        fit_segments(status_segments(snapshot, view, now, t), cols),
        fit_segments(config_segments(snapshot, now, interval_note(view), t), cols),
    ];
    lines.extend(banner(snapshot, now, t, cols));
    frame.render_widget(Paragraph::new(lines), area);
}

type Segment = Vec<Span<'static>>;

/// Joins segments with ` · ` while they fit; the first is always kept (cut if it must be).
fn fit_segments(segments: Vec<Segment>, cols: usize) -> Line<'static> {
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for (i, seg) in segments.into_iter().enumerate() {
        let sep = if i == 0 { 0 } else { 3 };
        let w: usize = seg.iter().map(|s| width(&s.content)).sum();
        if i > 0 && used + sep + w > cols {
            break;
        }
        if i > 0 {
            out.push(Span::raw(" · "));
        }
        used += sep + w;
        out.extend(seg);
    }
    Line::from(out)
}

fn status_segments(
    snapshot: &Snapshot,
    view: &ViewState,
    now: DateTime<Utc>,
    t: Theme,
) -> Vec<Segment> {
    let mut segs = Vec::new();
    let name = Span::styled("rotascope ", t.strong());
    if snapshot.config.generation == 0 {
        segs.push(vec![name, Span::styled("… LOADING", t.strong())]);
    } else {
        let h = super::verdict::headline(snapshot);
        segs.push(vec![name, Span::styled(h.text, t.verdict(h.verdict))]);
    }
    if view.paused {
        segs.push(vec![Span::styled(
            format!(
                " ‖ PAUSED, showing {} ",
                clock(snapshot.generated_at, view.tz)
            ),
            t.paused(),
        )]);
    }
    if snapshot.config.generation == 0 {
        return segs;
    }
    // Right after the verdict, so a narrow screen keeps it.
    if snapshot.behind_schedule.is_some() {
        segs.push(vec![Span::styled(
            format!("{} behind schedule", theme::WARN),
            t.bad(),
        )]);
    }
    // The lab's schedule comes before the counts: in the lab it is what happens next.
    if let Some(lab) = &view.lab {
        segs.push(vec![Span::styled(next_rotation(lab, now), t.strong())]);
    }
    let s = snapshot.summary();
    let count = |n: usize, h: Health| {
        let style = if n == 0 { t.dim() } else { t.health(h) };
        Span::styled(format!("{n} {}", h.as_str()), style)
    };
    segs.push(vec![
        Span::raw(format!("{}: ", plural(s.nodes, "node"))),
        count(s.ok, Health::Ok),
        Span::raw(", "),
        count(s.degraded, Health::Degraded),
        Span::raw(", "),
        count(s.down, Health::Down),
        Span::raw(", "),
        count(s.unknown, Health::Unknown),
    ]);
    segs.push(vec![Span::raw(format!(
        "{}/{} candidates valid",
        s.valid_candidates, s.candidates
    ))]);
    if s.warnings > 0 {
        segs.push(vec![Span::styled(
            format!("{} {}", theme::WARN, plural(s.warnings, "warning")),
            t.bad(),
        )]);
    }
    segs
}

/// After `+`/`-` changed the interval: says so, with the keys in force (`(set with +/-)`).
fn interval_note(view: &ViewState) -> Option<String> {
    if !view.interval_set {
        return None;
    }
    let key = |a| view.keys.first_key(a, Context::Normal);
    Some(
        match (key(Action::SlowerProbes), key(Action::FasterProbes)) {
            (Some(up), Some(down)) => format!(" (set with {up}/{down})"),
            _ => " (set for this session)".to_owned(),
        },
    )
}

/// `next rotation in 12s` (whole seconds, rounded up: it never says 0 s before it happens).
pub fn next_rotation(lab: &crate::ui::view::LabClock, now: DateTime<Utc>) -> String {
    let ms = (lab.next_after(now) - now).num_milliseconds().max(0);
    format!("next rotation in {}s", (ms + 999) / 1000)
}

fn config_segments(
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    interval_note: Option<String>,
    t: Theme,
) -> Vec<Segment> {
    let c = &snapshot.config;
    let mut segs = vec![vec![
        Span::styled("config ", t.dim()),
        Span::raw(c.path.display().to_string()),
    ]];
    match (c.loaded_at, &c.last_error) {
        (Some(at), None) => segs.push(vec![
            Span::raw(format!("gen {} ", c.generation)),
            Span::styled("✓ loaded", t.good()),
            Span::styled(format!(" {}", ago(now, at)), t.dim()),
        ]),
        (Some(at), Some(err)) => {
            segs.push(vec![
                Span::raw(format!("gen {} ", c.generation)),
                Span::styled(format!("loaded {}", ago(now, at)), t.dim()),
            ]);
            segs.push(vec![Span::styled(
                format!("✗ reload failed {}", ago(now, err.at)),
                t.bad(),
            )]);
        }
        (None, Some(_)) => segs.push(vec![Span::styled("✗ not loaded", t.bad())]),
        (None, None) => segs.push(vec![Span::styled("not loaded yet", t.dim())]),
    }
    let every = |d| humantime::format_duration(d).to_string();
    let mut probe = vec![
        Span::styled("probe every ", t.dim()),
        Span::raw(every(snapshot.settings.interval)),
    ];
    if let Some(note) = interval_note {
        probe.push(Span::styled(note, t.dim()));
    }
    if let Some(b) = &snapshot.behind_schedule {
        // Tenths of a second are all a person needs of the real interval.
        let tenths = |d: std::time::Duration| {
            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            every(std::time::Duration::from_millis(
                ms.saturating_add(50) / 100 * 100,
            ))
        };
        probe.push(Span::styled(
            format!(
                ", really {} (max {})",
                tenths(b.pace.real_p50),
                tenths(b.pace.real_max)
            ),
            t.bad(),
        ));
    }
    segs.push(probe);
    segs.push(vec![
        Span::styled("audit every ", t.dim()),
        Span::raw(every(snapshot.settings.audit_interval)),
    ]);
    segs
}

/// The failed-reload banner, word-wrapped to `cols` and at most [`BANNER_LINES`] lines.
fn banner(snapshot: &Snapshot, now: DateTime<Utc>, t: Theme, cols: usize) -> Vec<Line<'static>> {
    let Some(err) = &snapshot.config.last_error else {
        return Vec::new();
    };
    let text = if snapshot.config.loaded_at.is_some() {
        format!(
            "✗ reload failed {}; still running generation {}: {}",
            ago(now, err.at),
            snapshot.config.generation,
            sanitize(&err.message)
        )
    } else {
        format!(
            "✗ config failed to load {}: {}",
            ago(now, err.at),
            sanitize(&err.message)
        )
    };
    wrap(&text, cols.max(1), BANNER_LINES)
        .into_iter()
        .map(|l| {
            let pad = cols.saturating_sub(width(&l));
            Line::styled(format!("{l}{}", " ".repeat(pad)), t.banner())
        })
        .collect()
}
