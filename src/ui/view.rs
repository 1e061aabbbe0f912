//! The view state: everything the screen shows that is not in the snapshot.
//!
//! Small and explicit: the selection is a node key (so it survives reloads and re-ordering), and
//! focus, overlay and input mode are enums. Display settings (theme, time zone) live here too, so
//! render needs nothing but (snapshot, view, now).

use chrono::{DateTime, FixedOffset, Utc};

use super::keymap::{Context, Keymap};
use super::order::{self, Row, Sort, Table};
use super::table_names::Names;
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
    /// The order of the nodes table (`s`).
    pub sort: Sort,
    /// Only nodes with a problem (`!`): not ok, or in an island with a warning.
    pub problems_only: bool,
    /// The focused pane fills the screen (`z`).
    pub zoomed: bool,
    /// The probe interval was changed with `+`/`-` (the header says so).
    pub interval_set: bool,
    /// The display is frozen on the snapshot shown when it was paused.
    pub paused: bool,
    /// Lines scrolled in the detail pane.
    pub detail_scroll: u16,
    /// Events scrolled past in the timeline (0 = newest at the top).
    pub timeline_scroll: usize,
    /// Lines of the `?` overlay scrolled past (a small terminal cannot show all of it).
    pub help_scroll: u16,
    /// Lines of the `?` overlay the terminal cannot show at once (the loop sets it).
    pub help_hidden: u16,
    /// The transient footer message.
    pub notice: Option<Notice>,
    /// Rows a page key moves; the loop sets it from the terminal size.
    pub page: usize,
    /// In `rotascope lab`: its rotation schedule; the lab keys exist only then.
    pub lab: Option<LabClock>,
    /// Events the timeline pane shows at once: its page (the loop sets it from its height).
    pub timeline_page: usize,
    /// Colours or not.
    pub theme: Theme,
    /// The zone times are shown in (the local zone in the terminal, UTC in tests).
    pub tz: FixedOffset,
    /// Whether the credential timeline panel is drawn.
    pub rotation: PanelMode,
    /// Whether the last frame drew that panel; the loop sets it from the layout, so `t` can
    /// flip what the screen shows while the mode is [`PanelMode::Auto`].
    pub rotation_drawn: bool,
    /// The key table in force (the defaults with `[ui.keys]`): keys are looked up in it, and
    /// help and the footer show it.
    pub keys: Keymap,
}

impl ViewState {
    /// A fresh view: nothing selected yet, nodes focused, nothing filtered, the default keys.
    pub fn new(theme: Theme, tz: FixedOffset) -> Self {
        ViewState {
            selected: None,
            focus: Focus::Nodes,
            overlay: Overlay::None,
            input: Input::Normal,
            filter: String::new(),
            sort: Sort::default(),
            problems_only: false,
            zoomed: false,
            interval_set: false,
            paused: false,
            detail_scroll: 0,
            timeline_scroll: 0,
            help_scroll: 0,
            help_hidden: 0,
            notice: None,
            page: 10,
            lab: None,
            timeline_page: 10,
            theme,
            tz,
            rotation: PanelMode::Auto,
            rotation_drawn: false,
            keys: Keymap::default(),
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

    /// The rows of the nodes table: filtered, "problems only" applied, sorted.
    pub fn rows<'a>(&self, snapshot: &'a Snapshot) -> Vec<Row<'a>> {
        self.rows_named(snapshot, &Names::of(snapshot))
    }

    fn rows_named<'a>(&self, snapshot: &'a Snapshot, names: &Names) -> Vec<Row<'a>> {
        order::rows(
            snapshot,
            names,
            self.sort,
            self.problems_only,
            |n| self.matches(n),
            !self.filter.trim().is_empty(),
        )
    }

    /// The table of a frame: rows, shown nodes and the effective selection, computed once.
    pub fn table<'a>(&self, snapshot: &'a Snapshot) -> Table<'a> {
        let names = Names::of(snapshot);
        let rows = self.rows_named(snapshot, &names);
        let nodes: Vec<&NodeView> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Node(n) => Some(*n),
                Row::Island(..) => None,
            })
            .collect();
        let selected = self.selected_index(&nodes);
        Table {
            rows,
            nodes,
            selected,
            names,
        }
    }

    /// The nodes the table shows, in its order.
    pub fn visible_nodes<'a>(&self, snapshot: &'a Snapshot) -> Vec<&'a NodeView> {
        self.rows(snapshot)
            .into_iter()
            .filter_map(|r| match r {
                Row::Node(n) => Some(n),
                Row::Island(..) => None,
            })
            .collect()
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

/// The lab's rotation schedule as the header shows it: rotations at `first`, then every
/// `every` (a rotation asked for with `R` does not move it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabClock {
    /// When the first scheduled rotation is due.
    pub first: DateTime<Utc>,
    /// The period.
    pub every: std::time::Duration,
}

impl LabClock {
    /// The next scheduled rotation at or after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if now <= self.first {
            return self.first;
        }
        let every_ms = i64::try_from(self.every.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let since = (now - self.first).num_milliseconds();
        let periods = since.saturating_add(every_ms - 1) / every_ms;
        self.first + chrono::Duration::milliseconds(periods.saturating_mul(every_ms))
    }
}

#[cfg(test)]
mod lab_clock_tests {
    use super::*;
    use crate::ui::fixtures;

    #[test]
    fn the_next_rotation_is_the_next_period_boundary() {
        let first = fixtures::now();
        let lab = LabClock {
            first,
            every: std::time::Duration::from_secs(20),
        };
        let at = |s: i64| first + chrono::Duration::seconds(s);
        assert_eq!(lab.next_after(at(-5)), first);
        assert_eq!(lab.next_after(first), first);
        assert_eq!(lab.next_after(at(1)), at(20));
        assert_eq!(lab.next_after(at(20)), at(20));
        assert_eq!(lab.next_after(at(45)), at(60));
        assert_eq!(
            crate::ui::render::header::next_rotation(&lab, at(-12)),
            "next rotation in 12s"
        );
    }
}
