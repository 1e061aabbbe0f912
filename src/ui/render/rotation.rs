//! The credential timeline: every credential across the cluster over the last minutes, and the
//! latest rotation episode in one line. (The events pane is [`super::timeline`].)
//!
//! ```text
//! ─ credentials · last 16 min · 10 s a cell · ━ valid ╍ on some nodes ✗ refused ? untested ──
//! app_a            458607dc ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╍╍✗✗
//! app_b            912f8bd6 ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
//! nodes                     ────────────────────────────────────────────────────────▲▲▲▲
//! ★ 0/127.0.0.1:54320/a…   app_a─────────────────────────────────────────────────app_b
//!                           ╵10:00      ╵10:02      ╵10:04      ╵10:06      ╵10:08   now
//! ⟳ rotation 10:08:41–10:08:53: app_a changed, 2/4 nodes degraded 6 s, 0 outages, 4 failed auths
//! ```
//!
//! A cell is [`CELL`] (10 s); the window is as many whole minutes as the width holds, "now" in
//! the last cell at the right. Each cell of a credential's row folds its state on every node
//! listing it ([`History::credential_cells`]); the `nodes` row says whether some node was
//! degraded (`▲`), had no working credential (`✗`, an outage), could not be reached (`!`) or was
//! not watched (`·`), and in colour those columns are shaded behind the rows. The selected node's
//! row names its winner over time. Every mark is a glyph, so the panel reads the same without
//! colour.
//!
//! The panel is drawn by default when the terminal is at least [`AUTO_MIN_HEIGHT`] rows tall and
//! the history holds a credential; `t` shows or hides it. When the panel is hidden or has no
//! room, the episode summary line is still drawn, alone, above the events pane.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::{self, clock, fit, login_label, short_name, truncate};
use super::pane;
use crate::engine::episodes::{EpisodeSummary, Outcome};
use crate::engine::history::{millis, time, Cell, ClusterCell, CredKey, Grid, History};
use crate::engine::snapshot::{span_text, Health, NodeView, Snapshot};
use crate::ui::theme::{self, Theme};
use crate::ui::view::{PanelMode, ViewState};

/// Time per cell.
pub const CELL: Duration = Duration::from_secs(10);

/// The shortest terminal (rows) the panel is drawn on without asking: below it the nodes,
/// detail and events panes need every line (at 36 rows and four credentials the events pane
/// keeps about ten lines).
pub const AUTO_MIN_HEIGHT: u16 = 36;

/// The fewest lines the panel is drawn in: title, one credential, the axis. Less, and only the
/// summary line is drawn.
const MIN_PANEL: u16 = 3;

/// Columns of the fingerprint.
const FP: usize = 8;

/// The symbol of rotation lines (the events pane uses the same).
const ROTATION: &str = "⟳";

/// A credential cell's glyph.
pub fn cell_glyph(cell: Cell) -> char {
    match cell {
        Cell::ValidEverywhere => '━',
        Cell::ValidSome => '╍',
        Cell::InvalidEverywhere => '✗',
        Cell::Untested => '?',
        Cell::Gap => '·',
        Cell::Absent => ' ',
    }
}

fn cell_style(cell: Cell, t: Theme) -> Style {
    match cell {
        Cell::ValidEverywhere => t.good(),
        Cell::ValidSome => t.health(Health::Degraded),
        Cell::InvalidEverywhere => t.bad(),
        Cell::Untested | Cell::Absent => Style::new(),
        Cell::Gap => t.dim(),
    }
}

/// The `nodes` row's glyph and style: the worst thing some node went through in the cell.
fn cluster_glyph(c: ClusterCell, t: Theme) -> (char, Style) {
    if c.locked_out {
        ('✗', t.bad())
    } else if c.unreachable {
        ('!', t.bad())
    } else if c.degraded {
        ('▲', t.health(Health::Degraded))
    } else if c.gap {
        ('·', t.dim())
    } else {
        ('─', t.dim())
    }
}

/// True when a node was not fine during the cell: the columns shaded behind the rows.
fn troubled(c: ClusterCell) -> bool {
    c.degraded || c.locked_out || c.unreachable
}

/// The shading behind troubled columns (colour only; the `nodes` row says it in glyphs).
fn shade(style: Style, t: Theme) -> Style {
    if t.has_color() {
        style.bg(Color::DarkGray)
    } else {
        style
    }
}

/// The episode the summary line tells: the open one, else the latest finished one.
fn episode(history: &History) -> Option<(&EpisodeSummary, bool)> {
    history
        .open_episode()
        .map(|e| (e, true))
        .or_else(|| history.latest_episode().map(|e| (e, false)))
}

/// True when the panel (not just the summary line) is drawn in `area`.
pub fn is_panel(area: Rect) -> bool {
    area.height >= MIN_PANEL
}

/// Whether the panel is wanted on a terminal `screen_height` rows tall.
fn wanted(snapshot: &Snapshot, view: &ViewState, screen_height: u16) -> bool {
    match view.rotation {
        PanelMode::Shown => true,
        PanelMode::Hidden => false,
        PanelMode::Auto => {
            screen_height >= AUTO_MIN_HEIGHT && snapshot.history.credentials().next().is_some()
        }
    }
}

/// Lines to give the panel on a `screen` whose events pane would have `rest` lines: the panel's
/// lines when it is wanted and fits, else one for the summary line when there is an episode,
/// else none. The events pane keeps 3 lines, or 1 when the panel was asked for with `t`.
pub fn height(
    snapshot: &Snapshot,
    view: &ViewState,
    screen: Rect,
    rest: u16,
    now: DateTime<Utc>,
) -> u16 {
    height_for(
        snapshot,
        view,
        view.selected_node(snapshot),
        screen,
        rest,
        now,
    )
}

/// [`height`] with the selected node already found (the frame's [`Table`](crate::ui::order::Table) knows it).
pub(crate) fn height_for(
    snapshot: &Snapshot,
    view: &ViewState,
    selected: Option<&NodeView>,
    screen: Rect,
    rest: u16,
    now: DateTime<Utc>,
) -> u16 {
    let summary = u16::from(episode(&snapshot.history).is_some());
    let keep = if view.rotation == PanelMode::Shown {
        1
    } else {
        3
    };
    let room = rest.saturating_sub(keep);
    if wanted(snapshot, view, screen.height) {
        let panel = Panel::new(snapshot, selected, usize::from(screen.width), now);
        let want = panel.lines() + summary;
        let h = want.min(room);
        if h >= MIN_PANEL + summary {
            return h;
        }
    }
    summary.min(room)
}

/// One credential's row.
struct Row {
    name: String,
    fingerprint: String,
    cells: Vec<Cell>,
}

/// The panel's content for one width.
struct Panel {
    minutes: usize,
    from: DateTime<Utc>,
    n: usize,
    name_w: usize,
    rows: Vec<Row>,
    cluster: Vec<ClusterCell>,
    winner: Option<(String, Vec<Option<Option<CredKey>>>)>,
    names: BTreeMap<CredKey, String>,
}

impl Panel {
    fn new(
        snapshot: &Snapshot,
        selected: Option<&NodeView>,
        width: usize,
        now: DateTime<Utc>,
    ) -> Panel {
        let h = &snapshot.history;
        let creds: Vec<(&CredKey, Option<&str>)> = h.credentials().collect();
        let longest = creds
            .iter()
            .map(|(k, l)| format::width(&login_label(&k.login, *l)))
            .max()
            .unwrap_or(0);
        let name_w = longest.clamp(8, 24);
        let label_w = name_w + 1 + FP;
        let per_minute = (60 / CELL.as_secs()) as usize;
        let minutes = width.saturating_sub(label_w + 1) / per_minute;
        let n = minutes * per_minute;
        // Cells end on a multiple of the cell time, so they do not shift from frame to frame.
        let cell_ms = CELL.as_millis() as i64;
        let now_ms = millis(now);
        let to_ms = now_ms + (cell_ms - now_ms.rem_euclid(cell_ms)) % cell_ms;
        let to = time(to_ms);
        let from = time(to_ms - n as i64 * cell_ms);

        // Rows by login, then by when each credential was first seen (a new password below the
        // one it replaces); credentials not listed anywhere in the window are left out.
        let mut rows: Vec<(i64, Row, &CredKey)> = Vec::new();
        let mut names = BTreeMap::new();
        for (cred, label) in &creds {
            let cells = if n == 0 {
                Vec::new()
            } else {
                h.credential_cells(cred, from, to, n)
            };
            if !cells.iter().any(|c| !matches!(c, Cell::Absent | Cell::Gap)) {
                continue;
            }
            let first = h.credential_first_at(cred).map_or(0, millis);
            let name = login_label(&cred.login, *label);
            names.insert((*cred).clone(), name.clone());
            rows.push((
                first,
                Row {
                    name,
                    fingerprint: cred.fingerprint.to_string(),
                    cells,
                },
                cred,
            ));
        }
        rows.sort_by(|a, b| (&a.2.login, a.0).cmp(&(&b.2.login, b.0)));
        // Two rows of one name (a rotated password under the same login and label): the winner
        // row tells them apart by fingerprint.
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for name in names.values() {
            *seen.entry(name.clone()).or_default() += 1;
        }
        for (cred, name) in names.iter_mut() {
            if seen[name.as_str()] > 1 {
                *name = format!("{name} {}", cred.fingerprint);
            }
        }
        let cluster = if n == 0 {
            Vec::new()
        } else {
            h.cluster_cells(from, to, n)
        };
        let winner = selected.filter(|_| n > 0).map(|node| {
            let grid = Grid {
                from: millis(from),
                to: to_ms,
                n,
            };
            let mut cells = vec![None; n];
            // Later spans overwrite earlier ones: a cell shows the winner it ended with.
            for s in h.winner_spans(&node.key, from, to) {
                for c in &mut cells[grid.cells(s.from, s.to)] {
                    *c = s.value.as_ref().map(|m| m.cred.clone());
                }
            }
            (
                format!(
                    "{} {}/{}",
                    theme::WINNER,
                    node.key.island,
                    short_name(&node.key.name)
                ),
                cells,
            )
        });
        Panel {
            minutes,
            from,
            n,
            name_w,
            rows: rows.into_iter().map(|(_, r, _)| r).collect(),
            cluster,
            winner,
            names,
        }
    }

    /// Lines the whole panel needs: title, rows, `nodes`, winner, axis.
    fn lines(&self) -> u16 {
        let rows = self.rows.len().max(1) + 1 + usize::from(self.winner.is_some()) + 1;
        1 + u16::try_from(rows).unwrap_or(u16::MAX)
    }

    fn label_w(&self) -> usize {
        self.name_w + 1 + FP
    }

    /// Blank columns between the labels and the cells, so "now" is at the right edge.
    fn pad(&self, width: usize) -> usize {
        width.saturating_sub(self.label_w() + 1 + self.n)
    }

    fn cells_line(
        &self,
        label: String,
        cells: impl Iterator<Item = (char, Style)>,
        width: usize,
        t: Theme,
    ) -> Line<'static> {
        let mut spans = vec![Span::raw(label), Span::raw(" ".repeat(1 + self.pad(width)))];
        let mut run = String::new();
        let mut run_style = Style::new();
        for (i, (glyph, style)) in cells.enumerate() {
            let style = match self.cluster.get(i) {
                Some(c) if troubled(*c) => shade(style, t),
                _ => style,
            };
            if style != run_style && !run.is_empty() {
                spans.push(Span::styled(std::mem::take(&mut run), run_style));
            }
            run_style = style;
            run.push(glyph);
        }
        if !run.is_empty() {
            spans.push(Span::styled(run, run_style));
        }
        Line::from(spans)
    }

    fn row_line(&self, row: &Row, width: usize, t: Theme) -> Line<'static> {
        let label = format!(
            "{} {}",
            fit(&row.name, self.name_w),
            fit(&row.fingerprint, FP)
        );
        let cells = row
            .cells
            .iter()
            .map(|c| (cell_glyph(*c), cell_style(*c, t)));
        self.cells_line(label, cells, width, t)
    }

    fn cluster_line(&self, width: usize, t: Theme) -> Line<'static> {
        let label = fit("nodes", self.label_w());
        let cells = self.cluster.iter().map(|c| cluster_glyph(*c, t));
        let mut line = self.cells_line(label, cells, width, t);
        line.spans[0].style = t.dim();
        line
    }

    /// The selected node's winner: each stretch starts with the winner's name and runs on as
    /// `─`; `✗` where no candidate worked; blank where the node was not watched.
    fn winner_line(
        &self,
        label: &str,
        cells: &[Option<Option<CredKey>>],
        width: usize,
        t: Theme,
    ) -> Line<'static> {
        let mut glyphs: Vec<(char, Style)> = Vec::with_capacity(cells.len());
        let mut i = 0;
        while i < cells.len() {
            let run = cells[i..].iter().take_while(|c| **c == cells[i]).count();
            match &cells[i] {
                None => glyphs.extend(std::iter::repeat_n((' ', Style::new()), run)),
                Some(None) => glyphs.extend(std::iter::repeat_n(('✗', t.bad()), run)),
                Some(Some(cred)) => {
                    let full = self.names.get(cred).cloned().unwrap_or_else(|| {
                        format!("{} {}", login_label(&cred.login, None), cred.fingerprint)
                    });
                    let login = login_label(&cred.login, None);
                    // The full name, else the login, else as much of it as fits; a later
                    // stretch too short for any of it is a switch mark (the rows say which).
                    let name = if format::width(&full) <= run {
                        full
                    } else if format::width(&login) <= run {
                        login
                    } else if run >= 3 || i == 0 {
                        truncate(&login, run)
                    } else {
                        theme::STRIP_FALLBACK.to_owned()
                    };
                    glyphs.extend(name.chars().map(|ch| (ch, t.strong())));
                    let fill = run.saturating_sub(format::width(&name));
                    glyphs.extend(std::iter::repeat_n(('─', t.dim()), fill));
                }
            }
            i += run;
        }
        let label = format!("{} ", fit(label, self.label_w().saturating_sub(1)));
        self.cells_line(label, glyphs.into_iter(), width, t)
    }

    /// Ticks every few minutes (`╵HH:MM`, in the view's zone) and "now" at the right.
    fn axis_line(&self, view: &ViewState, width: usize, t: Theme) -> Line<'static> {
        let per_minute = (60 / CELL.as_secs()) as usize;
        // The fewest minutes between ticks that leave room for a label and a gap.
        let every = [1usize, 2, 5, 10, 15, 30, 60]
            .into_iter()
            .find(|m| m * per_minute >= 10)
            .unwrap_or(60);
        let mut axis: Vec<char> = vec![' '; self.n];
        let now_at = self.n.saturating_sub(3);
        let mut free_from = 0;
        for i in 0..self.n {
            let at = (self.from + chrono::Duration::seconds((i as u64 * CELL.as_secs()) as i64))
                .with_timezone(&view.tz);
            let on_tick = at.second() == 0 && (at.minute() as usize).is_multiple_of(every);
            if !on_tick || i < free_from || i + 7 > now_at {
                continue;
            }
            let label = format!("╵{}", at.format("%H:%M"));
            for (k, ch) in label.chars().enumerate() {
                axis[i + k] = ch;
            }
            free_from = i + 7;
        }
        if self.n >= 3 {
            for (k, ch) in "now".chars().enumerate() {
                axis[now_at + k] = ch;
            }
        }
        let text: String = axis.into_iter().collect();
        Line::from(vec![
            Span::raw(" ".repeat(self.label_w() + 1 + self.pad(width))),
            Span::styled(text, t.dim()),
        ])
    }

    fn title(&self, dropped: usize, width: usize) -> String {
        if self.n == 0 {
            return "credentials".to_owned();
        }
        let mut title = format!(
            "credentials · last {} min · {} s a cell",
            self.minutes,
            CELL.as_secs()
        );
        if dropped > 0 {
            title += &format!(" · {dropped} more not shown");
        }
        let legend = " · ━ valid ╍ on some nodes ✗ refused ? untested";
        if format::width(&title) + format::width(legend) + 4 <= width {
            title += legend;
        }
        title
    }
}

/// The summary line of an episode: `⟳ rotation 14:02:11–14:02:17: app_a changed, 4/4 nodes
/// degraded 6 s, 0 outages, 4 failed auths`, and how long ago it ended; an open one says it is
/// still going.
pub fn summary_line(
    e: &EpisodeSummary,
    open: bool,
    view: &ViewState,
    now: DateTime<Utc>,
) -> Line<'static> {
    let t = view.theme;
    let (text, style) = if open {
        // An open episode has no outcome yet (the engine's placeholder is not one to print).
        let so_far = EpisodeSummary {
            outcome: Outcome::Completed,
            ..e.clone()
        };
        (
            format!(
                "{ROTATION} rotation {} in progress since {} ({}): {}",
                e.episode,
                clock(e.started, view.tz),
                span_text(e.duration()),
                so_far.outcome_text()
            ),
            t.health(Health::Degraded),
        )
    } else {
        (
            format!(
                "{ROTATION} rotation {}–{}: {}",
                clock(e.started, view.tz),
                clock(e.ended, view.tz),
                e.outcome_text()
            ),
            if e.outages > 0 { t.bad() } else { t.good() },
        )
    };
    let mut spans = vec![Span::styled(text, style)];
    if !open {
        spans.push(Span::styled(
            format!(" · {}", format::ago(now, e.ended)),
            t.dim(),
        ));
    }
    Line::from(spans)
}

/// Draws the panel, or only the summary line when `area` is one line.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    view: &ViewState,
    now: DateTime<Utc>,
) {
    draw(
        frame,
        area,
        snapshot,
        view,
        view.selected_node(snapshot),
        now,
    );
}

/// [`render`] with the selected node already found (the frame's [`Table`](crate::ui::order::Table) knows it).
pub(crate) fn draw(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    view: &ViewState,
    selected: Option<&NodeView>,
    now: DateTime<Utc>,
) {
    if area.height == 0 {
        return;
    }
    let t = view.theme;
    let summary = episode(&snapshot.history);
    let w = usize::from(area.width);
    let summary_line = summary.map(|(e, open)| {
        let line = summary_line(e, open, view, now);
        Line::from(format::clip(line.spans, w))
    });
    if !is_panel(area) {
        if let Some(line) = summary_line {
            frame.render_widget(Paragraph::new(line), area);
        }
        return;
    }
    let panel = Panel::new(snapshot, selected, w, now);
    // Lines inside the title rule: the summary first, then one credential and the axis, then
    // `nodes`, then the winner, then more credentials (the rest counted in the title).
    let summary_h = usize::from(summary_line.is_some());
    let avail = usize::from(area.height - 1).saturating_sub(summary_h);
    let with_nodes = avail >= 3;
    let with_winner = avail >= 4 && panel.winner.is_some();
    let row_room = avail
        .saturating_sub(1 + usize::from(with_nodes) + usize::from(with_winner))
        .max(1);
    let dropped = panel.rows.len().saturating_sub(row_room);
    let inner = pane(frame, area, &panel.title(dropped, w), false, t);
    let mut lines: Vec<Line> = Vec::new();
    if panel.n == 0 {
        lines.push(Line::styled("  too narrow for a timeline", t.dim()));
    } else {
        if panel.rows.is_empty() {
            lines.push(Line::styled(
                "  no credential seen in this window yet",
                t.dim(),
            ));
        }
        for row in panel.rows.iter().take(row_room) {
            lines.push(panel.row_line(row, w, t));
        }
        if with_nodes {
            lines.push(panel.cluster_line(w, t));
        }
        if let Some((label, cells)) = panel.winner.as_ref().filter(|_| with_winner) {
            lines.push(panel.winner_line(label, cells, w, t));
        }
        lines.push(panel.axis_line(view, w, t));
    }
    lines.truncate(usize::from(inner.height).saturating_sub(summary_h));
    if let Some(line) = summary_line {
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;

    use super::*;
    use crate::ui::fixtures::{self, rotation as story};

    #[test]
    fn the_axis_keeps_a_space_before_now_and_ticks_on_whole_minutes_at_every_width() {
        let s = story::after();
        let view = ViewState::new(Theme::PLAIN, FixedOffset::east_opt(0).unwrap());
        for width in 40..=220 {
            let panel = Panel::new(&s, None, width, fixtures::now());
            let axis: String = panel
                .axis_line(&view, width, Theme::PLAIN)
                .spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect();
            assert_eq!(format::width(&axis), width, "{width}: {axis:?}");
            assert!(axis.ends_with(" now"), "{width}: {axis:?}");
            for tick in axis.split('╵').skip(1) {
                let minute: u32 = tick[3..5].parse().expect("HH:MM");
                assert_eq!(minute % 2, 0, "{width}: {axis:?}");
            }
        }
    }

    #[test]
    fn an_open_episode_never_says_timed_out() {
        let s = story::during();
        let view = ViewState::new(Theme::PLAIN, FixedOffset::east_opt(0).unwrap());
        let (e, open) = episode(&s.history).expect("an open episode");
        assert!(open);
        let line: String = summary_line(e, open, &view, fixtures::now())
            .spans
            .iter()
            .map(|s| s.content.as_ref())
            .collect();
        assert!(line.contains("in progress"), "{line}");
        assert!(!line.contains("timed out"), "{line}");
    }
}
