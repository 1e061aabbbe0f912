//! The footer: the filter being typed, or the latest confirmation, or key hints.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::width;
use crate::ui::view::{Input, NoticeKind, ViewState};

/// Draws the footer.
pub fn render(frame: &mut Frame, area: Rect, view: &ViewState) {
    let t = view.theme;
    let line = if view.input == Input::Filter {
        Line::from(vec![
            Span::styled("filter: ", t.strong()),
            Span::raw(view.filter.clone()),
            // A reversed blank is the cursor, visible without colour.
            Span::styled(
                " ",
                ratatui::style::Style::new().add_modifier(Modifier::REVERSED),
            ),
            Span::styled("   Enter keeps · Esc clears · ↑↓ move", t.dim()),
        ])
    } else if let Some(n) = &view.notice {
        let (symbol, style) = match n.kind {
            NoticeKind::Info => ("→", t.busy()),
            NoticeKind::Warn => ("!", t.bad()),
        };
        Line::from(Span::styled(format!("{symbol} {}", n.text), style))
    } else {
        hints(usize::from(area.width), view)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// As many key hints as fit, in table order, with the keys in force.
fn hints(cols: usize, view: &ViewState) -> Line<'static> {
    let t = view.theme;
    let mut spans = Vec::new();
    let mut used = 0;
    for (i, (keys, what)) in view.keys.hints().enumerate() {
        let w = width(keys) + 1 + width(what) + if i == 0 { 0 } else { 2 };
        if used + w > cols {
            break;
        }
        used += w;
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(keys.to_owned(), t.strong()));
        spans.push(Span::styled(format!(" {what}"), t.dim()));
    }
    Line::from(spans)
}
