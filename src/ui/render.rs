//! Drawing: a pure function of (snapshot, view state, now). No clock reads, no I/O, no mutation;
//! every relative time comes from `now` and every colour from the view's theme.

use chrono::{DateTime, Utc};
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use ratatui::Frame;

use super::order::Table;
use super::theme::Theme;
use super::view::{Focus, Overlay, ViewState};
use crate::engine::snapshot::Snapshot;

pub mod detail;
pub mod footer;
pub mod format;
pub mod header;
pub mod help;
pub mod names;
pub mod nodes;
pub mod rotation;
pub mod timeline;
pub mod usage;
pub mod verdict;

/// The smallest terminal the full layout (header, nodes, detail, events, footer) fits in.
pub const MIN_WIDTH: u16 = 80;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 24;
/// Below this height the reduced layout drops the header and footer: nodes only.
pub const NODES_ONLY_HEIGHT: u16 = 10;
/// The smallest terminal anything is drawn in; smaller gets a "terminal too small" notice.
pub const TINY_WIDTH: u16 = 40;
/// See [`TINY_WIDTH`].
pub const TINY_HEIGHT: u16 = 4;

/// Where each part of the screen goes; a part not drawn has a zero-height area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    /// Verdict, config and reload status, banner.
    pub header: Rect,
    /// Islands and nodes table.
    pub nodes: Rect,
    /// Selected node's detail.
    pub detail: Rect,
    /// Credential timeline panel, or the episode summary line alone (may be empty).
    pub rotation: Rect,
    /// Event timeline.
    pub timeline: Rect,
    /// Key hints and confirmations.
    pub footer: Rect,
}

/// Splits `area` for this snapshot and view; `None` when the terminal is too small for anything.
///
/// At 80×24 and more every pane is drawn: the table and the detail pane get the lines they need up
/// to a share of the body that depends on the focused pane (the focused one grows), the timeline
/// takes the rest. Zoomed (`z`), the focused pane takes the whole body. Below 80×24 a reduced
/// layout: header, one pane (the nodes, or the zoomed pane) and footer; below
/// [`NODES_ONLY_HEIGHT`] lines that pane alone.
pub fn layout(
    area: Rect,
    snapshot: &Snapshot,
    view: &ViewState,
    now: DateTime<Utc>,
) -> Option<Areas> {
    layout_with(area, snapshot, view, &view.table(snapshot), now)
}

/// [`layout`] with the frame's table already made ([`ViewState::table`]).
pub fn layout_with(
    area: Rect,
    snapshot: &Snapshot,
    view: &ViewState,
    table: &Table,
    now: DateTime<Utc>,
) -> Option<Areas> {
    if area.width < TINY_WIDTH || area.height < TINY_HEIGHT {
        return None;
    }
    let full = area.width >= MIN_WIDTH && area.height >= MIN_HEIGHT;
    if !full || view.zoomed {
        return Some(one_pane(area, snapshot, view, now));
    }
    let header_h = header::height(snapshot, now, area.width);
    let body = area.height - header_h - 1;
    let nodes_need = nodes::height(table);
    let detail_need = detail::height(snapshot, table.selected_node(), area.width);
    let (nodes_cap, detail_cap) = match view.focus {
        Focus::Nodes => (body * 45 / 100, body * 35 / 100),
        Focus::Detail => ((body / 4).max(5), body * 55 / 100),
        Focus::Timeline => (body / 3, body / 4),
    };
    let nodes_h = nodes_need.min(nodes_cap).max(3);
    let detail_h = detail_need.min(detail_cap).max(3);
    // The credential timeline takes what it needs from the events pane's share.
    let rest = body.saturating_sub(nodes_h + detail_h);
    let rotation_h = rotation::height_for(snapshot, view, table.selected_node(), area, rest, now);
    let [header, nodes, detail, rotation, timeline, footer] = Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Length(nodes_h),
        Constraint::Length(detail_h),
        Constraint::Length(rotation_h),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    Some(Areas {
        header,
        nodes,
        detail,
        rotation,
        timeline,
        footer,
    })
}

/// One pane (the zoomed one, else the nodes) with the header and footer when there is room.
fn one_pane(area: Rect, snapshot: &Snapshot, view: &ViewState, now: DateTime<Utc>) -> Areas {
    let (header_h, footer_h) = if area.height < NODES_ONLY_HEIGHT {
        (0, 0)
    } else {
        // The banner of a failed reload is left out when it would crowd the pane.
        let h = header::height(snapshot, now, area.width);
        (if area.height - 1 - h >= 6 { h } else { 2 }, 1)
    };
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Min(1),
        Constraint::Length(footer_h),
    ])
    .areas(area);
    let none = Rect::new(area.x, body.y, area.width, 0);
    let pane = if view.zoomed {
        view.focus
    } else {
        Focus::Nodes
    };
    let pick = |f: Focus| if pane == f { body } else { none };
    Areas {
        header,
        nodes: pick(Focus::Nodes),
        detail: pick(Focus::Detail),
        rotation: none,
        timeline: pick(Focus::Timeline),
        footer,
    }
}

/// Draws the whole screen for `snapshot` as `view` says, with relative times measured from `now`.
///
/// ```text
/// rotascope ▲ DEGRADED · 4 nodes: 2 ok, 2 degraded, … · 6/8 valid     header: verdict, counts,
/// config /etc/… · gen 1 ✓ loaded 12m ago · probe every 2s · …                 PAUSED, reload
/// ✗ reload failed 7s ago; still running generation 1: …     banner, only after a failed reload
/// ━ islands & nodes ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━  thick rule: focused pane
///   node        role    health     winner  valid  last  p95  recent probes  since
/// island 0 · 2 nodes · 3 shards … · ⚠ no master: …
/// ▶ 127.0.0.1:… master  ▲ degraded app_b     1/2 7.4ms 4.4ms ▃▄▃▃▄▃▄▃▃×▄     3s
/// ─ node 0/… ─────────────────────────────────────────────────────────  detail of the selection
/// address … · role master · wal 0/3000148
/// health ▲ degraded since 10:14:57 (3s) · cause
/// ★◆ #  login (label)  password  state  latency  checked  next audit  error
/// last chain probe 10:14:57 (3s ago), 2 attempts in order: #0 ✗ → #1 ✓
/// ─ credentials · last 16 min · 10 s a cell ──────────────────────────  credential timeline (t)
/// app_a     458607dc ━━━━━━━━━━━━━━━━━━━━━━━━╍╍✗✗╍━━━━━━━━━━━━━━━━━━━━  rows, nodes, winner, axis
/// ⟳ rotation 10:04:11–10:04:17: app_a changed, 4/4 nodes degraded 6 s, …  summary, stays after
/// ─ events · newest first ────────────────────────────────────────────
/// 10:14:57 ⇄ 0/127.0.0.1:54320/app winner #0 app_a → #1 app_b
/// ↑↓ select  Enter detail  Tab pane  p/P reprobe …             footer: hints or confirmation
/// ```
///
/// `z` gives the focused pane the whole body. Below 80×24 the header, the nodes (or the zoomed
/// pane) and the footer; below 10 lines the nodes alone; below 40×4 a "terminal too small" notice.
/// The `?` overlay draws over the middle.
pub fn render(frame: &mut Frame, snapshot: &Snapshot, view: &ViewState, now: DateTime<Utc>) {
    let table = view.table(snapshot);
    let areas = layout_with(frame.area(), snapshot, view, &table, now);
    render_with(frame, areas, snapshot, view, &table, now);
}

/// [`render`] with the frame's table and layout already made ([`ViewState::table`],
/// [`layout_with`] for this frame's area), so the loop that needs the layout too does not make
/// them twice.
pub fn render_with(
    frame: &mut Frame,
    areas: Option<Areas>,
    snapshot: &Snapshot,
    view: &ViewState,
    table: &Table,
    now: DateTime<Utc>,
) {
    let area = frame.area();
    let Some(areas) = areas else {
        too_small(frame, area, view);
        return;
    };
    if areas.header.height > 0 {
        header::render(frame, areas.header, snapshot, view, now);
    }
    if areas.nodes.height > 0 {
        nodes::render(frame, areas.nodes, snapshot, view, table, now);
    }
    if areas.detail.height > 0 {
        detail::render(
            frame,
            areas.detail,
            view,
            table.selected_node(),
            snapshot.usage_enabled,
            now,
        );
    }
    if areas.rotation.height > 0 {
        let selected = table.selected_node();
        rotation::draw(frame, areas.rotation, snapshot, view, selected, now);
    }
    if areas.timeline.height > 0 {
        timeline::render(frame, areas.timeline, snapshot, view);
    }
    if areas.footer.height > 0 {
        footer::render(frame, areas.footer, view);
    }
    if view.overlay == Overlay::Help {
        help::render(frame, area, view);
    }
}

/// Draws a pane's frame, a rule with its title on top, thick when the pane has focus (visible
/// without colour), and returns the area inside it.
pub(crate) fn pane(frame: &mut Frame, area: Rect, title: &str, focused: bool, t: Theme) -> Rect {
    let (kind, style) = if focused {
        (BorderType::Thick, t.focused_border())
    } else {
        (BorderType::Plain, t.dim())
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .border_type(kind)
        .border_style(style)
        .title(Line::styled(format!(" {title} "), t.strong()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

fn too_small(frame: &mut Frame, area: Rect, view: &ViewState) {
    let t = view.theme;
    // Ctrl-C always quits, whatever [ui.keys] says of `q`.
    let quit = view
        .keys
        .first_key(super::keymap::Action::Quit, super::keymap::Context::Normal)
        .unwrap_or_else(|| "C-c".to_owned());
    let lines = vec![
        Line::styled("terminal too small", t.strong()),
        Line::raw(format!(
            "{}×{}, rotascope needs at least {TINY_WIDTH}×{TINY_HEIGHT}",
            area.width, area.height
        )),
        Line::styled(format!("enlarge the window, or {quit} quits"), t.dim()),
    ];
    let top = area.height.saturating_sub(lines.len() as u16) / 2;
    let [_, middle] = Layout::vertical([Constraint::Length(top), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(ratatui::widgets::Wrap { trim: true }),
        middle,
    );
}
