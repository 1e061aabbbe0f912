//! The mouse: the wheel scrolls the pane under the pointer (whatever has focus), a left click
//! focuses the pane under it and, in the nodes table, selects the node clicked. Turned off with
//! `[ui] mouse = false`, so the terminal's own text selection works.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::keymap::Action;
use super::render::{nodes, Areas};
use super::update::update;
use super::view::{Focus, Overlay, ViewState};
use crate::engine::snapshot::Snapshot;

/// Lines one wheel notch scrolls.
pub const WHEEL_LINES: usize = 3;

fn pane_at(areas: &Areas, at: Position) -> Option<(Focus, Rect)> {
    [
        (Focus::Nodes, areas.nodes),
        (Focus::Detail, areas.detail),
        (Focus::Timeline, areas.timeline),
    ]
    .into_iter()
    .find(|(_, r)| r.height > 0 && r.contains(at))
}

/// Applies a mouse event to the view, the screen laid out as `areas`. Returns true when the view
/// changed (the loop redraws).
pub fn on_mouse(
    view: &mut ViewState,
    event: &MouseEvent,
    areas: &Areas,
    snapshot: &Snapshot,
) -> bool {
    if view.overlay != Overlay::None {
        return false;
    }
    let at = Position::new(event.column, event.row);
    let Some((pane, area)) = pane_at(areas, at) else {
        return false;
    };
    match event.kind {
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let action = if event.kind == MouseEventKind::ScrollUp {
                Action::Up
            } else {
                Action::Down
            };
            // Scroll the pane under the pointer, leaving the focus where it was.
            let focus = std::mem::replace(&mut view.focus, pane);
            for _ in 0..WHEEL_LINES {
                update(view, action, snapshot);
            }
            view.focus = focus;
            true
        }
        MouseEventKind::Down(MouseButton::Left) => {
            view.focus = pane;
            if pane == Focus::Nodes {
                if let Some(key) = nodes::node_at(area, snapshot, view, event.row) {
                    if view.selected.as_ref() != Some(&key) {
                        view.detail_scroll = 0;
                    }
                    view.selected = Some(key);
                }
            }
            true
        }
        _ => false,
    }
}
