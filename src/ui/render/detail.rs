//! The detail pane of the selected node: address, role and replication, health and cause, every
//! candidate in chain order (remembered best first), and the attempts of the last chain probe.
//! A node reached more ways than one (a pooler's port and the server's own) gets a path column:
//! `direct`, `via pgbouncer`, what the probe found, else what the config's `via` says.

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::{
    ago, bytes, candidate_view, clip, clock, compact, fit, fit_right, latency, login_label,
    truncate, until,
};
use super::pane;
use crate::engine::probe::{Role, Route};
use crate::engine::snapshot::{
    AttemptOutcome, CandidateState, CandidateView, Health, NodeView, Snapshot,
};
use crate::text::sanitize;
use crate::ui::theme::{self, Theme};
use crate::ui::view::{Focus, ViewState};

/// Below this width a candidate's error goes on a line of its own.
const WIDE: usize = 110;

const MARKS: usize = 3;
const INDEX: usize = 3;
const LOGIN: usize = 20;
const PATH: usize = 14;
const FINGERPRINT: usize = 8;
const STATE: usize = 13;
const LATENCY: usize = 7;
const CHECKED: usize = 10;
const AUDIT: usize = 10;

/// Lines of content the pane has for `node` at its narrowest (an upper bound for scrolling).
pub fn line_count(node: &NodeView, counting: bool) -> usize {
    let utc = FixedOffset::east_opt(0).expect("zero offset");
    lines(
        node,
        counting,
        DateTime::<Utc>::UNIX_EPOCH,
        utc,
        Theme::PLAIN,
        0,
    )
    .len()
}

/// Lines the pane would like for the current selection (title included).
pub fn height(snapshot: &Snapshot, selected: Option<&NodeView>, width: u16) -> u16 {
    let content = selected.map_or(1, |n| {
        let utc = FixedOffset::east_opt(0).expect("zero offset");
        lines(
            n,
            snapshot.usage_enabled,
            snapshot.generated_at,
            utc,
            Theme::PLAIN,
            usize::from(width),
        )
        .len()
    });
    1 + content as u16
}

/// Draws the pane.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    view: &ViewState,
    node: Option<&NodeView>,
    counting: bool,
    now: DateTime<Utc>,
) {
    let t = view.theme;
    let title = match node {
        Some(n) => format!(
            "node {} · {} winner {} remembered best",
            sanitize(&n.key.to_string()),
            theme::WINNER,
            theme::BEST
        ),
        None => "node".to_owned(),
    };
    let inner = pane(frame, area, &title, view.focus == Focus::Detail, t);
    let Some(node) = node else {
        frame.render_widget(
            Paragraph::new(Line::styled("  no node selected", t.dim())),
            inner,
        );
        return;
    };
    let lines = lines(node, counting, now, view.tz, t, usize::from(inner.width));
    // Never scroll past the last page.
    let max = lines.len().saturating_sub(usize::from(inner.height));
    let scroll = usize::from(view.detail_scroll).min(max);
    frame.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), inner);
}

fn lines(
    n: &NodeView,
    counting: bool,
    now: DateTime<Utc>,
    tz: FixedOffset,
    t: Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let mut out = vec![where_line(n, t, width), health_line(n, now, tz, t, width)];
    let paths = several_paths(n);
    out.push(Line::styled(candidate_header(width, paths), t.dim()));
    for c in chain_order(n) {
        out.extend(candidate_lines(n, c, now, t, width, paths));
    }
    out.extend(chain_lines(n, now, tz, t, width));
    out.extend(super::usage::lines(n, counting, now, tz, t, width));
    out
}

fn where_line(n: &NodeView, t: Theme, width: usize) -> Line<'static> {
    let mut spans = vec![
        Span::styled("address ", t.dim()),
        Span::raw(sanitize(&n.address).into_owned()),
        Span::styled(" · role ", t.dim()),
        Span::raw(n.role.as_str()),
    ];
    if let Some(r) = &n.replication {
        match n.role {
            Role::Master => {
                if let Some(lsn) = r.wal.current {
                    spans.push(Span::styled(" · wal ", t.dim()));
                    spans.push(Span::raw(lsn.to_string()));
                }
            }
            Role::Replica => {
                spans.push(Span::styled(" · lag ", t.dim()));
                spans.push(Span::raw(r.lag_bytes.map_or("unknown".to_owned(), bytes)));
                if let Some(lsn) = r.wal.replay {
                    spans.push(Span::styled(format!(" (replay {lsn})"), t.dim()));
                }
            }
            Role::Unknown => {}
        }
        if n.health == Health::Down {
            spans.push(Span::styled(" (last known)", t.dim()));
        }
    }
    Line::from(clip(spans, width))
}

fn health_line(
    n: &NodeView,
    now: DateTime<Utc>,
    tz: FixedOffset,
    t: Theme,
    width: usize,
) -> Line<'static> {
    let mut spans = vec![
        Span::styled("health ", t.dim()),
        Span::styled(
            format!("{} {}", theme::health_symbol(n.health), n.health.as_str()),
            t.health(n.health),
        ),
    ];
    if let Some(since) = n.health_since {
        spans.push(Span::styled(
            format!(" since {} ({})", clock(since, tz), compact(now - since)),
            t.dim(),
        ));
    }
    if let Some(cause) = &n.cause {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            sanitize(cause).into_owned(),
            t.health(n.health),
        ));
    }
    if n.probing {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            format!("{} probing", theme::PROBING),
            t.busy(),
        ));
    }
    Line::from(clip(spans, width))
}

/// True when the node is reached more ways than one, or through a pooler: worth a path column.
fn several_paths(n: &NodeView) -> bool {
    let first = n.candidates.first().map(|c| &c.id.address);
    n.candidates.iter().any(|c| {
        Some(&c.id.address) != first
            || c.via.is_some()
            || c.route.is_some_and(|r| r != Route::Direct)
    })
}

/// The path of a candidate: the route its last telling probe showed, else what the config says
/// (`via`), else unknown.
fn path_text(c: &CandidateView) -> String {
    match (c.route, c.via.as_deref()) {
        (Some(route), _) => route.describe().to_owned(),
        (None, Some("direct")) => "direct".to_owned(),
        (None, Some(via)) => format!("via {via}"),
        (None, None) => "—".to_owned(),
    }
}

fn candidate_header(width: usize, paths: bool) -> String {
    let mut s = " ".repeat(MARKS);
    s += &fit("#", INDEX);
    s += &fit("login (label)", LOGIN);
    s += " ";
    if paths {
        s += &fit("path", PATH);
        s += " ";
    }
    s += &fit("password", FINGERPRINT);
    s += " ";
    s += &fit("state", STATE);
    s += " ";
    s += &fit_right("latency", LATENCY);
    s += " ";
    s += &fit("checked", CHECKED);
    s += " ";
    s += &fit("next audit", AUDIT);
    if width >= WIDE {
        s += " error";
    }
    s
}

/// Remembered best first, then the others in config order: the order the next chain probe tries.
fn chain_order(n: &NodeView) -> Vec<&CandidateView> {
    let best = n.remembered_best;
    let mut out: Vec<&CandidateView> = n
        .candidates
        .iter()
        .filter(|c| Some(c.index) == best)
        .collect();
    out.extend(n.candidates.iter().filter(|c| Some(c.index) != best));
    out
}

fn candidate_lines(
    n: &NodeView,
    c: &CandidateView,
    now: DateTime<Utc>,
    t: Theme,
    width: usize,
    paths: bool,
) -> Vec<Line<'static>> {
    let winner = if n.winner == Some(c.index) {
        theme::WINNER
    } else {
        " "
    };
    let best = if n.remembered_best == Some(c.index) {
        theme::BEST
    } else {
        " "
    };
    let mut spans = vec![
        Span::styled(fit(&format!("{winner}{best}"), MARKS), t.mark()),
        Span::raw(fit(&format!("#{}", c.index), INDEX)),
        Span::raw(fit(&login_label(&c.login, c.label.as_deref()), LOGIN)),
        Span::raw(" "),
    ];
    if paths {
        spans.push(Span::raw(fit(&path_text(c), PATH)));
        spans.push(Span::raw(" "));
    }
    spans.extend([
        Span::raw(fit(&c.fingerprint.to_string(), FINGERPRINT)),
        Span::raw(" "),
        Span::styled(
            fit(
                &format!("{} {}", theme::candidate_symbol(c.state), c.state.as_str()),
                STATE,
            ),
            t.candidate(c.state),
        ),
        Span::raw(" "),
        Span::raw(fit_right(
            &c.latency.map_or("—".to_owned(), latency),
            LATENCY,
        )),
        Span::raw(" "),
        Span::styled(
            fit(
                &c.last_checked.map_or("never".to_owned(), |at| ago(now, at)),
                CHECKED,
            ),
            t.dim(),
        ),
        Span::raw(" "),
        Span::styled(
            fit(
                &c.next_audit.map_or("—".to_owned(), |at| until(now, at)),
                AUDIT,
            ),
            t.dim(),
        ),
    ]);
    let error = error_text(c, now);
    let used: usize = spans.iter().map(|s| super::format::width(&s.content)).sum();
    if width >= WIDE {
        if !error.is_empty() {
            let room = width.saturating_sub(used + 1);
            spans.push(Span::raw(" "));
            spans.push(Span::styled(truncate(&error, room), t.candidate(c.state)));
        }
        return vec![Line::from(spans)];
    }
    let mut out = vec![Line::from(spans)];
    if !error.is_empty() {
        let indent = MARKS + INDEX;
        // At width 0 (the line count for scrolling) nothing is cut.
        let room = if width == 0 {
            usize::MAX
        } else {
            width.saturating_sub(indent)
        };
        out.push(Line::from(vec![
            Span::raw(" ".repeat(indent)),
            Span::styled(truncate(&error, room), t.candidate(c.state)),
        ]));
    }
    out
}

/// The kind first (it survives truncation), then SQLSTATE and message; for a candidate that was not
/// tried, when it last worked.
fn error_text(c: &CandidateView, now: DateTime<Utc>) -> String {
    let mut parts = Vec::new();
    if c.state != CandidateState::Valid {
        if let Some(e) = &c.error {
            let mut s = e.kind.as_str().to_owned();
            if let Some(code) = &e.sqlstate {
                s += &format!(" {code}");
            }
            s += &format!(": {}", sanitize(&e.message));
            parts.push(s);
        }
        if c.consecutive_failures > 1 {
            parts.push(format!("{}× in a row", c.consecutive_failures));
        }
        if matches!(
            c.state,
            CandidateState::Skipped | CandidateState::Unreachable
        ) {
            if let Some(at) = c.last_valid {
                parts.push(format!("last valid {}", ago(now, at)));
            }
        }
    }
    parts.join(" · ")
}

fn chain_lines(
    n: &NodeView,
    now: DateTime<Utc>,
    tz: FixedOffset,
    t: Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let Some(chain) = &n.last_chain else {
        return vec![Line::styled("no chain probe yet", t.dim())];
    };
    let head = Line::from(vec![
        Span::styled("last chain probe ", t.dim()),
        Span::raw(format!("{} ({})", clock(chain.at, tz), ago(now, chain.at))),
        Span::styled(
            format!(
                ", {} attempt{} in order:",
                chain.attempts.len(),
                if chain.attempts.len() == 1 { "" } else { "s" }
            ),
            t.dim(),
        ),
    ]);
    let mut spans = vec![Span::raw("  ")];
    for (i, a) in chain.attempts.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" → ", t.dim()));
        }
        // By identity: a reload since the chain ran may have reordered the candidates.
        let who = n.candidate(&a.candidate).map_or_else(
            || format!("{} (no longer listed)", sanitize(&a.candidate.login)),
            candidate_view,
        );
        let (what, style) = match a.outcome {
            AttemptOutcome::Ok => (
                format!(
                    "{} ok {}",
                    theme::candidate_symbol(CandidateState::Valid),
                    latency(a.latency)
                ),
                t.candidate(CandidateState::Valid),
            ),
            AttemptOutcome::Failed(kind) => (
                format!(
                    "{} {kind} {}",
                    theme::candidate_symbol(CandidateState::Invalid),
                    latency(a.latency)
                ),
                t.bad(),
            ),
            AttemptOutcome::Skipped => (
                format!(
                    "{} skipped",
                    theme::candidate_symbol(CandidateState::Skipped)
                ),
                t.dim(),
            ),
        };
        spans.push(Span::raw(format!("{who} ")));
        spans.push(Span::styled(what, style));
    }
    vec![head, Line::from(clip(spans, width))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixtures;

    #[test]
    fn chain_order_starts_at_the_remembered_best() {
        let s = fixtures::rotation_in_progress();
        let n = &s.islands[0].nodes[0];
        let order: Vec<usize> = chain_order(n).iter().map(|c| c.index).collect();
        assert_eq!(order, [1, 0]);
    }

    #[test]
    fn narrow_panes_put_errors_on_their_own_line() {
        let s = fixtures::rotation_in_progress();
        let n = &s.islands[0].nodes[0];
        let utc = FixedOffset::east_opt(0).unwrap();
        let wide = lines(n, true, fixtures::now(), utc, Theme::PLAIN, 120).len();
        let narrow = lines(n, true, fixtures::now(), utc, Theme::PLAIN, 80).len();
        assert_eq!(narrow, wide + 1, "one failing candidate, one extra line");
        assert_eq!(line_count(n, true), narrow);
    }
}

#[cfg(test)]
mod chain_after_reload {
    use super::*;
    use crate::ui::fixtures;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    /// Issue 11, bug 1: a reload reordered the candidates after the chain ran; the chain line
    /// must still name the ones it tried, not whichever now sits at their old positions.
    #[test]
    fn the_last_chain_names_its_candidates_after_a_reload_reorders_them() {
        let mut s = fixtures::rotation_in_progress();
        let n = &mut s.islands[0].nodes[0];
        // The chain tried #0 app_a (refused), then #1 app_b (won). The reload lists app_b first.
        n.candidates.reverse();
        for (i, c) in n.candidates.iter_mut().enumerate() {
            c.index = i;
        }
        n.winner = Some(0);
        n.remembered_best = Some(0);
        let utc = FixedOffset::east_opt(0).unwrap();
        let chain = chain_lines(n, fixtures::now(), utc, Theme::PLAIN, 200);
        let line = text(&chain[1]);
        assert!(
            line.contains("#1 app_a ✗ auth_failed") && line.contains("#0 app_b ✓ ok"),
            "{line}"
        );
    }

    #[test]
    fn a_candidate_that_left_the_config_is_named_by_its_login() {
        let mut s = fixtures::rotation_in_progress();
        let n = &mut s.islands[0].nodes[0];
        n.candidates.remove(0);
        n.candidates[0].index = 0;
        let utc = FixedOffset::east_opt(0).unwrap();
        let chain = chain_lines(n, fixtures::now(), utc, Theme::PLAIN, 200);
        let line = text(&chain[1]);
        assert!(line.contains("app_a (no longer listed) ✗"), "{line}");
        assert!(line.contains("#0 app_b ✓ ok"), "{line}");
    }
}
