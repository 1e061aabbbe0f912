//! The `?` overlay: the key table (the same data the keys are looked up in) and a legend of the
//! symbols.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};
use ratatui::Frame;

use super::format::{fit, wrap};
use crate::engine::snapshot::{CandidateState, Health};
use crate::ui::keymap::{Binding, Context, BINDINGS};
use crate::ui::theme::{self, Theme};
use crate::ui::view::ViewState;

const KEY_COLS: usize = 8;
const LEGEND_COLS: usize = 12;

/// Draws the overlay in the middle of `area`.
pub fn render(frame: &mut Frame, area: Rect, view: &ViewState) {
    let t = view.theme;
    let normal: Vec<&Binding> = BINDINGS
        .iter()
        .filter(|b| b.context == Context::Normal)
        .collect();
    let half = normal.len().div_ceil(2);
    let w = area.width.saturating_sub(4).min(100);
    let inner_w = usize::from(w.saturating_sub(2));
    let filter = wrap(&filter_text(), inner_w, 3);
    let legend = legend(t);
    let want_h = (half + 1 + filter.len() + 1 + legend.len() + 2) as u16;
    let h = area.height.saturating_sub(2).min(want_h);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .title(Line::styled(" keys · ? or Esc closes ", t.strong()));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);

    let [keys_area, _, filter_area, _, legend_area] = Layout::vertical([
        Constraint::Length(half as u16),
        Constraint::Length(1),
        Constraint::Length(filter.len() as u16),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(keys_area);
    let column = |items: &[&Binding]| -> Vec<Line<'static>> {
        items
            .iter()
            .map(|b| {
                Line::from(vec![
                    Span::styled(fit(b.label, KEY_COLS), t.strong()),
                    Span::raw(b.help),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(column(&normal[..half])), left);
    frame.render_widget(Paragraph::new(column(&normal[half..])), right);
    let filter: Vec<Line> = filter.into_iter().map(Line::raw).collect();
    frame.render_widget(Paragraph::new(filter), filter_area);
    frame.render_widget(Paragraph::new(legend), legend_area);
}

/// The filter-mode bindings as one sentence.
fn filter_text() -> String {
    let parts: Vec<String> = BINDINGS
        .iter()
        .filter(|b| b.context == Context::Filter)
        .map(|b| format!("{} {}", b.label, b.help))
        .collect();
    format!("While typing a filter: {}.", parts.join(" · "))
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
