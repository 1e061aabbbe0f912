//! The islands and nodes table: one row per island (shards, warnings), one row per node (role,
//! health, winner, valid/total, latency last and p95, a strip of recent probes, time in health).

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::{clip, compact, fit, fit_right, latency, login_label};
use super::names::Shortener;
use super::pane;
use crate::engine::probe::Role;
use crate::engine::snapshot::{Health, IslandView, LatencyHistory, NodeView, Snapshot};
use crate::text::{plural, sanitize};
use crate::topology::NodeKey;
use crate::ui::keymap::{Action, Context};
use crate::ui::order::{Row, Table};
use crate::ui::table_names::island_prefix;
use crate::ui::theme::{self, Theme};
use crate::ui::view::{Focus, Input, ViewState};

const MARK: usize = 2;
const ROLE: usize = 7;
const HEALTH: usize = 10;
const VALID: usize = 5;
const LAT: usize = 6;
const SINCE: usize = 6;

/// Column widths for a given table width. Below 80 columns the winner and "since" columns go
/// (the detail pane and the zoomed table have them), and the strip takes what is left.
#[derive(Debug, PartialEq, Eq)]
struct Cols {
    name: usize,
    /// 0: not shown.
    winner: usize,
    p95: bool,
    since: bool,
    /// 0: not shown.
    strip: usize,
}

impl Cols {
    fn new(width: usize, longest_name: usize) -> Cols {
        let narrow = width < 78;
        let p95 = width >= 100;
        let winner = match width {
            ..78 => 0,
            78..110 => 14,
            _ => 18,
        };
        let since = !narrow;
        // Separators: one space before every column after the name.
        let seps = 5 + usize::from(winner > 0) + usize::from(p95) + usize::from(since);
        let fixed = MARK
            + ROLE
            + HEALTH
            + winner
            + VALID
            + LAT
            + seps
            + if since { SINCE } else { 0 }
            + if p95 { LAT } else { 0 };
        let rest = width.saturating_sub(fixed);
        let name = longest_name
            .clamp(16, 36)
            .min(rest.saturating_sub(6))
            .max(8);
        let strip = rest.saturating_sub(name).min(30);
        // Whatever is still free widens the name, then the winner.
        let spare = rest.saturating_sub(name + strip);
        let name_extra = spare.min(longest_name.saturating_sub(name));
        let winner_extra = if winner > 0 {
            (spare - name_extra).min(8)
        } else {
            0
        };
        Cols {
            name: name + name_extra,
            winner: winner + winner_extra,
            p95,
            since,
            strip,
        }
    }
}

/// Lines the table would like: title, column header and one per row.
pub fn height(table: &Table) -> u16 {
    2 + table.rows.len().max(1) as u16
}

/// Rows a page key should move in an area of this height.
pub fn page_rows(area_height: u16) -> usize {
    usize::from(area_height.saturating_sub(2)).max(1)
}

/// Draws the table.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    view: &ViewState,
    table: &Table,
    now: DateTime<Utc>,
) {
    let t = view.theme;
    let (rows, visible) = (&table.rows, &table.nodes);
    let total = snapshot.nodes().count();
    let selected = table.selected_node().map(|n| &n.key);
    let (skip, body) = window(rows, selected, area);
    let window = &rows[skip.min(rows.len())..(skip + body).min(rows.len())];
    let before = rows[..skip.min(rows.len())]
        .iter()
        .filter(|r| matches!(r, Row::Node(_)))
        .count();
    let shown = window.iter().filter(|r| matches!(r, Row::Node(_))).count();
    let title = title(view, before, shown, visible.len(), total);
    let inner = pane(frame, area, &title, view.focus == Focus::Nodes, t);

    let width = usize::from(inner.width);
    let mut lines: Vec<Line> = Vec::new();
    if snapshot.config.generation == 0 && snapshot.islands.is_empty() {
        lines.push(Line::styled(
            format!(
                "  loading: waiting for the first config from {}",
                snapshot.config.path.display()
            ),
            t.dim(),
        ));
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let names = &table.names.shortener;
    let flat = !view.sort.grouped();
    let longest = table.names.longest(flat);
    let cols = Cols::new(width, longest);
    lines.push(header_line(&cols, t));
    if visible.is_empty() {
        // The keys in force ([ui.keys] may move them).
        let key = |a| view.keys.first_key(a, Context::Normal);
        let how = |a, what: &str| key(a).map_or(String::new(), |k| format!(" ({k} {what})"));
        let why = match (view.filter.is_empty(), view.problems_only) {
            (true, true) => format!(
                "  no problems: every node is ok{}",
                how(Action::ToggleProblems, "shows all")
            ),
            (false, _) => format!(
                "  no node matches “{}”{}",
                view.filter,
                how(Action::Back, "clears")
            ),
            (true, false) => "  no nodes".to_owned(),
        };
        lines.push(Line::styled(why, t.dim()));
    }
    for row in window {
        lines.push(match row {
            Row::Island(island, shown) => island_line(island, *shown, width, t),
            Row::Node(node) => {
                let is_selected = Some(&node.key) == selected;
                node_line(node, names, flat, &cols, is_selected, now, t)
            }
        });
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The first row shown and how many fit: the table's own lines are a rule and the column header,
/// then rows. Stateless scrolling: the window moves only as far as needed to show the selection.
fn window(rows: &[Row], selected: Option<&NodeKey>, area: Rect) -> (usize, usize) {
    let body = usize::from(area.height.saturating_sub(2));
    let selected_row = rows
        .iter()
        .position(|r| matches!(r, Row::Node(n) if Some(&n.key) == selected))
        .unwrap_or(0);
    ((selected_row + 1).saturating_sub(body), body)
}

/// The node drawn on screen line `y` of a table drawn in `area`, if a node is there (for clicks).
pub fn node_at(area: Rect, snapshot: &Snapshot, view: &ViewState, y: u16) -> Option<NodeKey> {
    let line = usize::from(y.checked_sub(area.y + 2)?);
    let table = view.table(snapshot);
    let rows = &table.rows;
    let selected = table.selected_node().map(|n| &n.key);
    let (skip, body) = window(rows, selected, area);
    if line >= body {
        return None;
    }
    match rows.get(skip + line)? {
        Row::Node(n) => Some(n.key.clone()),
        Row::Island(..) => None,
    }
}

/// `islands & nodes · by health · problems only · filter “x” · 12–31 of 480`.
fn title(view: &ViewState, before: usize, shown: usize, visible: usize, total: usize) -> String {
    let mut title = format!("islands & nodes · by {}", view.sort.as_str());
    if view.problems_only {
        title += " · problems only";
    }
    let narrowed = view.problems_only || !view.filter.is_empty() || view.input == Input::Filter;
    if !view.filter.is_empty() || view.input == Input::Filter {
        title += &format!(" · filter “{}”", view.filter);
    }
    let position = if shown == 0 {
        format!("0 of {visible}")
    } else {
        format!("{}–{} of {visible}", before + 1, before + shown)
    };
    title += " · ";
    title += &position;
    if narrowed {
        title += &format!(" ({total} in all)");
    }
    title
}

fn header_line(cols: &Cols, t: Theme) -> Line<'static> {
    let mut s = " ".repeat(MARK);
    s += &fit("node", cols.name);
    s += " ";
    s += &fit("role", ROLE);
    s += " ";
    s += &fit("health", HEALTH);
    s += " ";
    if cols.winner > 0 {
        s += &fit("winner", cols.winner);
        s += " ";
    }
    s += &fit_right("valid", VALID);
    s += " ";
    s += &fit_right("last", LAT);
    if cols.p95 {
        s += " ";
        s += &fit_right("p95", LAT);
    }
    s += " ";
    s += &fit(
        if cols.strip >= 13 {
            "recent probes"
        } else {
            "probes"
        },
        cols.strip,
    );
    if cols.since {
        s += " ";
        s += &fit_right("since", SINCE);
    }
    Line::styled(s, t.dim())
}

fn island_line(island: &IslandView, shown: usize, width: usize, t: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("island {}", island.no), t.strong())];
    let count = if shown == island.nodes.len() {
        format!(" · {}", plural(shown, "node"))
    } else {
        format!(" · {shown} of {} nodes", island.nodes.len())
    };
    spans.push(Span::styled(count, t.dim()));
    if let Some(shards) = &island.shards {
        let text = match shards.as_slice() {
            [] => " · no shards found".to_owned(),
            [one] => format!(" · shard {one}"),
            list if list.len() <= 4 => format!(" · {} shards {}", list.len(), list.join(" ")),
            list => format!(
                " · {} shards {}…{}",
                list.len(),
                list[0],
                list[list.len() - 1]
            ),
        };
        spans.push(Span::styled(text, t.dim()));
    }
    for w in &island.warnings {
        spans.push(Span::raw(" · "));
        let word = w.kind.as_str().replace('_', " ");
        let text = if w.detail.is_empty() {
            format!("{} {word}", theme::WARN)
        } else {
            format!("{} {word}: {}", theme::WARN, sanitize(&w.detail))
        };
        spans.push(Span::styled(text, t.bad()));
    }
    // Keep the whole line inside the table: long warning details are cut, not wrapped.
    Line::from(clip(spans, width))
}

fn node_line(
    n: &NodeView,
    names: &Shortener,
    flat: bool,
    cols: &Cols,
    selected: bool,
    now: DateTime<Utc>,
    t: Theme,
) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let sep = || Span::raw(" ");
    spans.push(Span::raw(if selected {
        format!("{} ", theme::SELECTED)
    } else {
        " ".repeat(MARK)
    }));
    let name = if flat {
        let island = island_prefix(&n.key);
        let room = cols.name.saturating_sub(island.len());
        fit(&(island + &names.fit(&n.key.name, room)), cols.name)
    } else {
        fit(&names.fit(&n.key.name, cols.name), cols.name)
    };
    spans.push(if selected {
        Span::styled(name, t.selected())
    } else {
        Span::raw(name)
    });
    spans.push(sep());
    let role_style = if n.role == Role::Unknown {
        t.dim()
    } else {
        Default::default()
    };
    spans.push(Span::styled(fit(n.role.as_str(), ROLE), role_style));
    spans.push(sep());
    spans.push(Span::styled(
        fit(
            &format!("{} {}", theme::health_symbol(n.health), n.health.as_str()),
            HEALTH,
        ),
        t.health(n.health),
    ));
    spans.push(sep());
    if cols.winner > 0 {
        spans.push(winner_span(n, cols.winner, t));
        spans.push(sep());
    }
    let (valid, total) = (n.valid_count(), n.candidates.len());
    let valid_style = if n.health == Health::Unknown {
        t.dim()
    } else if total == 0 || valid == total {
        Default::default()
    } else if valid == 0 {
        t.bad()
    } else {
        t.health(Health::Degraded)
    };
    spans.push(Span::styled(
        fit_right(&format!("{valid}/{total}"), VALID),
        valid_style,
    ));
    spans.push(sep());
    let (last_text, last_style) = match n.latency.last() {
        Some(s) if s.ok => (latency(s.latency), Default::default()),
        Some(s) => (latency(s.latency), t.bad()),
        None => ("—".to_owned(), t.dim()),
    };
    spans.push(Span::styled(fit_right(&last_text, LAT), last_style));
    if cols.p95 {
        spans.push(sep());
        let p95 = n.latency.p95().map_or("—".to_owned(), latency);
        spans.push(Span::raw(fit_right(&p95, LAT)));
    }
    spans.push(sep());
    spans.extend(strip(&n.latency, cols.strip, n.probing, t));
    if cols.since {
        spans.push(sep());
        let since = n
            .health_since
            .map_or("—".to_owned(), |at| compact(now - at));
        spans.push(Span::styled(fit_right(&since, SINCE), t.dim()));
    }
    let line = Line::from(spans);
    if selected {
        line.patch_style(t.strong())
    } else {
        line
    }
}

fn winner_span(n: &NodeView, width: usize, t: Theme) -> Span<'static> {
    match n.winner.and_then(|i| n.candidates.get(i)) {
        Some(c) => Span::raw(fit(&login_label(&c.login, c.label.as_deref()), width)),
        None if n.health == Health::Down => Span::styled(fit("none", width), t.bad()),
        None => Span::styled(fit("—", width), t.dim()),
    }
}

/// The latency strip level of one probe: log scale, `▁` under 1 ms, one step per doubling.
fn level(d: std::time::Duration) -> char {
    let ms = d.as_secs_f64() * 1000.0;
    let step = if ms < 1.0 {
        0
    } else {
        (ms.log2().floor() as usize + 1).min(theme::STRIP_LEVELS.len() - 1)
    };
    theme::STRIP_LEVELS[step]
}

/// The newest probes that fit in `width` columns, newest at the right: a latency level for a
/// chain that won at its first try, `⇄` for one that fell back to another candidate, `×` for a
/// failed chain; a probe in flight adds `↻` at the end.
fn strip(history: &LatencyHistory, width: usize, probing: bool, t: Theme) -> Vec<Span<'static>> {
    let room = if probing {
        width.saturating_sub(1)
    } else {
        width
    };
    let take = history.samples.len().min(room);
    let mut spans = vec![Span::raw(" ".repeat(room - take))];
    let mut ok = String::new();
    for s in history.samples.iter().skip(history.samples.len() - take) {
        let mark = match (s.ok, s.fell_back) {
            (true, false) => {
                ok.push(level(s.latency));
                continue;
            }
            (true, true) => Span::styled(theme::STRIP_FALLBACK, t.health(Health::Degraded)),
            (false, _) => Span::styled(theme::STRIP_FAIL, t.bad()),
        };
        if !ok.is_empty() {
            spans.push(Span::raw(std::mem::take(&mut ok)));
        }
        spans.push(mark);
    }
    if !ok.is_empty() {
        spans.push(Span::raw(ok));
    }
    if probing && width > 0 {
        spans.push(Span::styled(theme::PROBING, t.busy()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn strip_levels_double_per_step() {
        let l = |us| level(Duration::from_micros(us));
        assert_eq!(l(500), '▁');
        assert_eq!(l(1_500), '▂');
        assert_eq!(l(3_900), '▃');
        assert_eq!(l(4_100), '▄');
        assert_eq!(l(40_000), '▇');
        assert_eq!(l(5_000_000), '█');
    }

    #[test]
    fn columns_fit_the_width() {
        for width in [40usize, 60, 79, 80, 100, 120, 200] {
            let c = Cols::new(width, 30);
            let seps = 5 + usize::from(c.winner > 0) + usize::from(c.p95) + usize::from(c.since);
            let used = MARK
                + c.name
                + ROLE
                + HEALTH
                + c.winner
                + VALID
                + LAT
                + if c.since { SINCE } else { 0 }
                + if c.p95 { LAT } else { 0 }
                + c.strip
                + seps;
            assert!(used <= width || width < 50, "{width}: {c:?} uses {used}");
            if width >= 60 {
                assert!(c.strip >= 6, "{width}: {c:?}");
            }
        }
    }
}
