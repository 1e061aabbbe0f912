//! The view state: everything the screen shows that is not in the snapshot.
//!
//! Small and explicit: the selection is a node key (so it survives reloads and re-ordering), and
//! focus, overlay and input mode are enums. Display settings (theme, time zone) live here too, so
//! render needs nothing but (snapshot, view, now).

use chrono::FixedOffset;

use super::keymap::Context;
use super::theme::Theme;
use crate::engine::snapshot::{NodeView, Snapshot};
use crate::topology::NodeKey;

/// The pane that arrow keys act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Focus {
    /// The islands and nodes table: arrows move the selection.
    #[default]
    Nodes,
    /// The selected node's candidates: arrows scroll.
    Detail,
    /// The event timeline: arrows scroll.
    Timeline,
}

impl Focus {
    /// The pane after this one (`Tab`).
    pub fn next(self) -> Focus {
        match self {
            Focus::Nodes => Focus::Detail,
            Focus::Detail => Focus::Timeline,
            Focus::Timeline => Focus::Nodes,
        }
    }

    /// The pane before this one (`Shift-Tab`).
    pub fn prev(self) -> Focus {
        match self {
            Focus::Nodes => Focus::Timeline,
            Focus::Detail => Focus::Nodes,
            Focus::Timeline => Focus::Detail,
        }
    }
}

/// What is drawn over the dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overlay {
    /// Nothing.
    #[default]
    None,
    /// The key table and the legend.
    Help,
}

/// Whether the credential timeline panel is drawn (`t` toggles it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PanelMode {
    /// Drawn when the terminal has room for it and there is history to show (see
    /// [`crate::ui::render::rotation::AUTO_MIN_HEIGHT`]).
    #[default]
    Auto,
    /// Drawn whenever it fits at all.
    Shown,
    /// Not drawn (the episode summary line stays).
    Hidden,
}

/// Where typed characters go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Input {
    /// Keys are commands.
    #[default]
    Normal,
    /// Keys edit the node filter.
    Filter,
}

/// How a footer message should look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// Something was asked of the engine.
    Info,
    /// Something could not be done.
    Warn,
}

/// A transient footer message, e.g. "reprobe requested: 0/db-a".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// How it looks.
    pub kind: NoticeKind,
    /// Loop ticks (seconds) left before it goes away.
    pub ticks_left: u8,
}

/// How many ticks a footer message stays.
pub const NOTICE_TICKS: u8 = 4;

/// The view state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewState {
    /// The selected node; when it is not visible, the first visible node counts as selected.
    pub selected: Option<NodeKey>,
    /// The pane arrow keys act on.
    pub focus: Focus,
    /// The overlay drawn on top.
    pub overlay: Overlay,
    /// Whether keys are typing the filter.
    pub input: Input,
    /// Node filter: space-separated words that must all occur (case-insensitive).
    pub filter: String,
    /// The display is frozen on the snapshot shown when it was paused.
    pub paused: bool,
    /// Lines scrolled in the detail pane.
    pub detail_scroll: u16,
    /// Events scrolled past in the timeline (0 = newest at the top).
    pub timeline_scroll: usize,
    /// The transient footer message.
    pub notice: Option<Notice>,
    /// Rows a page key moves; the loop sets it from the terminal size.
    pub page: usize,
    /// Colours or not.
    pub theme: Theme,
    /// The zone times are shown in (the local zone in the terminal, UTC in tests).
    pub tz: FixedOffset,
    /// Whether the credential timeline panel is drawn.
    pub rotation: PanelMode,
    /// Whether the last frame drew that panel; the loop sets it from the layout, so `t` can
    /// flip what the screen shows while the mode is [`PanelMode::Auto`].
    pub rotation_drawn: bool,
}

impl ViewState {
    /// A fresh view: nothing selected yet, nodes focused, nothing filtered.
    pub fn new(theme: Theme, tz: FixedOffset) -> Self {
        ViewState {
            selected: None,
            focus: Focus::Nodes,
            overlay: Overlay::None,
            input: Input::Normal,
            filter: String::new(),
            paused: false,
            detail_scroll: 0,
            timeline_scroll: 0,
            notice: None,
            page: 10,
            theme,
            tz,
            rotation: PanelMode::Auto,
            rotation_drawn: false,
        }
    }

    /// Which key table applies now.
    pub fn context(&self) -> Context {
        match (self.overlay, self.input) {
            (Overlay::Help, _) => Context::Help,
            (Overlay::None, Input::Filter) => Context::Filter,
            (Overlay::None, Input::Normal) => Context::Normal,
        }
    }

    /// True when `node` passes the filter.
    pub fn matches(&self, node: &NodeView) -> bool {
        let words: Vec<String> = self
            .filter
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return true;
        }
        let mut hay = format!(
            "{} {} {} {}",
            node.key,
            node.address,
            node.role.as_str(),
            node.health.as_str()
        );
        for c in &node.candidates {
            hay.push(' ');
            hay.push_str(&c.login);
            if let Some(label) = &c.label {
                hay.push(' ');
                hay.push_str(label);
            }
        }
        let hay = hay.to_lowercase();
        words.iter().all(|w| hay.contains(w.as_str()))
    }

    /// The nodes that pass the filter, island by island.
    pub fn visible_nodes<'a>(&self, snapshot: &'a Snapshot) -> Vec<&'a NodeView> {
        snapshot.nodes().filter(|n| self.matches(n)).collect()
    }

    /// Position of the effective selection among the visible nodes.
    pub fn selected_index(&self, visible: &[&NodeView]) -> Option<usize> {
        if visible.is_empty() {
            return None;
        }
        let at = self
            .selected
            .as_ref()
            .and_then(|key| visible.iter().position(|n| n.key == *key));
        Some(at.unwrap_or(0))
    }

    /// The effective selection: the selected node if visible, else the first visible node.
    pub fn selected_node<'a>(&self, snapshot: &'a Snapshot) -> Option<&'a NodeView> {
        let visible = self.visible_nodes(snapshot);
        self.selected_index(&visible).map(|i| visible[i])
    }

    /// Shows a footer message for a few seconds.
    pub fn notify(&mut self, text: impl Into<String>, kind: NoticeKind) {
        self.notice = Some(Notice {
            text: text.into(),
            kind,
            ticks_left: NOTICE_TICKS,
        });
    }
}
