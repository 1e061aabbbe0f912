//! The `?` overlay: the key table in force (the same data the keys are looked up in, `[ui.keys]`
//! applied) and a legend of the symbols.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};
use ratatui::Frame;

use super::format::{fit, width, wrap};
use crate::engine::snapshot::{CandidateState, Health};
use crate::ui::keymap::{Bound, Context, KeyPattern};
use crate::ui::theme::{self, Theme};
use crate::ui::view::ViewState;

/// The keys column: this wide at least, wider for long `[ui.keys]` labels up to the most.
const KEY_COLS: usize = 8;
const KEY_COLS_MOST: usize = 16;
const LEGEND_COLS: usize = 12;

/// Where the overlay goes in `area`: at most 100 columns wide, as tall as its content allows.
fn popup(area: Rect, content_h: usize) -> Rect {
    let w = area.width.saturating_sub(4).min(100);
    let h = area
        .height
        .saturating_sub(2)
        .min(u16::try_from(content_h + 2).unwrap_or(u16::MAX));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Columns inside the overlay's border for a terminal of `area`.
fn inner_width(area: Rect) -> usize {
    usize::from(area.width.saturating_sub(4).min(100).saturating_sub(2))
}

/// Lines of the overlay the terminal `area` cannot show at once: how far `↓` scrolls it.
pub fn hidden_rows(area: Rect, view: &ViewState) -> u16 {
    hidden(area, content(view, inner_width(area)).len())
}

/// Of `content` lines, how many the overlay in `area` cannot show.
fn hidden(area: Rect, content: usize) -> u16 {
    let shown = usize::from(popup(area, content).height.saturating_sub(2));
    u16::try_from(content.saturating_sub(shown)).unwrap_or(u16::MAX)
}

/// Draws the overlay in the middle of `area`, scrolled by `view.help_scroll` when it does not fit
/// (an 80×24 terminal: the title then says so).
pub fn render(frame: &mut Frame, area: Rect, view: &ViewState) {
    let t = view.theme;
    let lines = content(view, inner_width(area));
    let popup = popup(area, lines.len());
    let hidden = hidden(area, lines.len());
    let scroll = view.help_scroll.min(hidden);
    let more = match (scroll, hidden) {
        (_, 0) => "",
        (0, _) => " · ↓ more",
        (s, h) if s == h => " · ↑ more",
        _ => " · ↑↓ more",
    };
    let title = format!(" keys · {} closes{more} ", closing_keys(view));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .title(Line::styled(title, t.strong()));
    frame.render_widget(
        Paragraph::new(lines).block(block).scroll((scroll, 0)),
        popup,
    );
}

/// Everything the overlay says, `cols` wide: the dashboard's keys in two columns, the filter's
/// keys as a sentence, the legend of the symbols.
fn content(view: &ViewState, cols: usize) -> Vec<Line<'static>> {
    let t = view.theme;
    let normal: Vec<&Bound> = view
        .keys
        .rows()
        .iter()
        .filter(|b| {
            b.context == Context::Normal || (view.lab.is_some() && b.context == Context::Lab)
        })
        .collect();
    let half = normal.len().div_ceil(2);
    let column = cols / 2;
    let key_cols = normal
        .iter()
        .map(|b| width(&b.label) + 1)
        .max()
        .unwrap_or(0)
        .clamp(KEY_COLS, KEY_COLS_MOST);
    let cell = |b: &Bound, w: usize| {
        [
            // Always a blank after the keys, even when a long label is cut.
            Span::styled(fit(&b.label, key_cols - 1) + " ", t.strong()),
            Span::raw(fit(b.help, w.saturating_sub(key_cols))),
        ]
    };
    let mut lines: Vec<Line> = (0..half)
        .map(|row| {
            let mut spans = cell(normal[row], column).to_vec();
            if let Some(b) = normal.get(half + row) {
                spans.extend(cell(b, cols - column));
            }
            Line::from(spans)
        })
        .collect();
    lines.push(Line::raw(""));
    lines.extend(wrap(&filter_text(view), cols, 3).into_iter().map(Line::raw));
    lines.push(Line::raw(""));
    lines.extend(legend(t));
    lines
}

/// The filter-mode bindings as one sentence.
fn filter_text(view: &ViewState) -> String {
    let parts: Vec<String> = view
        .keys
        .rows_in(Context::Filter)
        .map(|b| format!("{} {}", b.label, b.help))
        .collect();
    format!("While typing a filter: {}.", parts.join(" · "))
}

/// The keys that close the overlay, as the title says them: `? or Esc`.
fn closing_keys(view: &ViewState) -> String {
    let keys: Vec<String> = view
        .keys
        .rows_in(Context::Help)
        .filter(|b| b.action == crate::ui::keymap::Action::ToggleHelp)
        .flat_map(|b| &b.keys)
        .filter_map(|k| match k {
            KeyPattern::Key(key) => Some(key.label()),
            KeyPattern::AnyChar => None,
        })
        .collect();
    keys.join(" or ")
}

fn legend(t: Theme) -> Vec<Line<'static>> {
    let head = |s: &str| Span::styled(fit(s, LEGEND_COLS), t.strong());
    let mut health = vec![head("nodes")];
    for h in [Health::Ok, Health::Degraded, Health::Down, Health::Unknown] {
        health.push(Span::styled(
            format!("{} {}", theme::health_symbol(h), h.as_str()),
            t.health(h),
        ));
        health.push(Span::raw("  "));
    }
    let mut states = vec![head("candidates")];
    for s in [
        CandidateState::Valid,
        CandidateState::Invalid,
        CandidateState::Unreachable,
        CandidateState::Untested,
        CandidateState::Skipped,
    ] {
        states.push(Span::styled(
            format!("{} {}", theme::candidate_symbol(s), s.as_str()),
            t.candidate(s),
        ));
        states.push(Span::raw("  "));
    }
    let levels: String = theme::STRIP_LEVELS.iter().collect();
    vec![
        Line::from(health),
        Line::from(states),
        Line::from(vec![
            head("marks"),
            Span::styled(theme::WINNER, t.mark()),
            Span::raw(" winner  "),
            Span::styled(theme::BEST, t.mark()),
            Span::raw(" remembered best: the next chain probe starts there"),
        ]),
        Line::from(vec![
            head("probes"),
            Span::raw(format!("{levels} <1 ms…≥64 ms  ")),
            Span::styled(theme::STRIP_FALLBACK, t.health(Health::Degraded)),
            Span::raw(" fell back  "),
            Span::styled(theme::STRIP_FAIL, t.bad()),
            Span::raw(" failed  "),
            Span::styled(theme::PROBING, t.busy()),
            Span::raw(" probing"),
        ]),
        Line::from(vec![
            head("timeline"),
            Span::raw("━ valid  ╍ on some nodes  ✗ refused  ? untested  · not watched"),
        ]),
        Line::from(vec![
            head("  nodes row"),
            Span::raw("▲ degraded  ✗ no working credential  ! unreachable"),
        ]),
    ]
}
