//! `update`: the one place the view state changes. An [`Action`] comes in; the view changes; a
//! [`Command`] for the engine may come out. No I/O and no clock here, so it is tested directly.

use std::time::Duration;

use super::keymap::Action;
use super::render::detail;
use super::view::{Focus, Input, NoticeKind, Overlay, PanelMode, ViewState};
use crate::engine::snapshot::Snapshot;
use crate::engine::{Command, LabRequest};

/// Applies `action` to `view` (with `snapshot` being what is on screen) and returns the work to
/// ask of the engine, if any. [`Action::Quit`] and [`Action::Suspend`] are the loop's business and change nothing here.
pub fn update(view: &mut ViewState, action: Action, snapshot: &Snapshot) -> Option<Command> {
    match action {
        Action::Up => scroll(view, snapshot, Step::By(-1)),
        Action::Down => scroll(view, snapshot, Step::By(1)),
        Action::PageUp => scroll(view, snapshot, Step::Pages(-1)),
        Action::PageDown => scroll(view, snapshot, Step::Pages(1)),
        Action::Home => scroll(view, snapshot, Step::First),
        Action::End => scroll(view, snapshot, Step::Last),
        Action::FocusDetail => view.focus = Focus::Detail,
        Action::NextPane => view.focus = view.focus.next(),
        Action::PrevPane => view.focus = view.focus.prev(),
        Action::Back => {
            if view.overlay != Overlay::None {
                view.overlay = Overlay::None;
            } else if !view.filter.is_empty() {
                pin_selection(view, snapshot);
                view.filter.clear();
            } else {
                view.focus = Focus::Nodes;
            }
        }
        Action::Reload => return Some(Command::Reload),
        Action::ReprobeSelected => return on_selected(view, snapshot, Command::Reprobe),
        Action::ReprobeAll => return Some(Command::ReprobeAll),
        Action::AuditSelected => return on_selected(view, snapshot, Command::Audit),
        Action::AuditAll => return Some(Command::AuditAll),
        Action::StartFilter => {
            view.input = Input::Filter;
            view.focus = Focus::Nodes;
        }
        Action::FilterChar(c) => {
            view.filter.push(c);
            pin_selection(view, snapshot);
        }
        Action::FilterBackspace => {
            view.filter.pop();
            pin_selection(view, snapshot);
        }
        Action::FilterKeep => view.input = Input::Normal,
        Action::FilterClear => {
            pin_selection(view, snapshot);
            view.filter.clear();
            view.input = Input::Normal;
        }
        Action::CycleSort => {
            pin_selection(view, snapshot);
            view.sort = view.sort.next();
        }
        Action::ToggleProblems => {
            pin_selection(view, snapshot);
            view.problems_only = !view.problems_only;
        }
        Action::ToggleZoom => view.zoomed = !view.zoomed,
        Action::SlowerProbes | Action::FasterProbes => {
            let now = snapshot.settings.interval;
            let next = if action == Action::SlowerProbes {
                INTERVALS.iter().find(|&&d| d > now)
            } else {
                INTERVALS.iter().rev().find(|&&d| d < now)
            };
            match next {
                Some(&d) => {
                    view.interval_set = true;
                    return Some(Command::SetInterval(d));
                }
                None => view.notify(
                    format!(
                        "probe interval stays {}: the {} step",
                        humantime::format_duration(now),
                        if action == Action::SlowerProbes {
                            "longest"
                        } else {
                            "shortest"
                        }
                    ),
                    NoticeKind::Warn,
                ),
            }
        }
        Action::TogglePause => {
            view.paused = !view.paused;
            if view.paused {
                view.notify(
                    "display paused: the engine keeps probing (space resumes)",
                    NoticeKind::Info,
                );
            } else {
                view.notify("display resumed", NoticeKind::Info);
            }
        }
        Action::ToggleHelp => {
            view.overlay = match view.overlay {
                Overlay::None => Overlay::Help,
                Overlay::Help => Overlay::None,
            };
            view.help_scroll = 0;
        }
        Action::LabRotate => return lab(view, Some(LabRequest::Rotate)),
        Action::LabFailover => {
            let island = view.selected_node(snapshot).map(|n| n.key.island);
            return lab(view, island.map(LabRequest::Failover));
        }
        Action::LabStopStart => {
            let at = view.selected_node(snapshot).and_then(|n| {
                let island = snapshot.islands.iter().find(|i| i.no == n.key.island)?;
                let index = island.nodes.iter().position(|m| m.key == n.key)?;
                Some(LabRequest::StopStart {
                    island: n.key.island,
                    index,
                })
            });
            return lab(view, at);
        }
        Action::ToggleRotation => {
            // Flip what is on screen, whatever the automatic rule had decided.
            let drawn = match view.rotation {
                PanelMode::Auto => view.rotation_drawn,
                PanelMode::Shown => true,
                PanelMode::Hidden => false,
            };
            view.rotation = if drawn {
                PanelMode::Hidden
            } else {
                PanelMode::Shown
            };
        }
        Action::Quit | Action::Suspend => {}
        Action::Tick => {
            if let Some(n) = &mut view.notice {
                n.ticks_left = n.ticks_left.saturating_sub(1);
                if n.ticks_left == 0 {
                    view.notice = None;
                }
            }
        }
    }
    None
}

/// The probe intervals `+` and `-` step through.
pub const INTERVALS: [Duration; 9] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(300),
];

/// What the footer says when a command was handed to the engine.
pub fn describe(command: &Command) -> String {
    match command {
        Command::Reload => "config reload requested".to_owned(),
        Command::Reprobe(key) => format!("reprobe requested: {key}"),
        Command::ReprobeAll => "reprobe of every node requested".to_owned(),
        Command::Audit(key) => format!("audit requested: {key}"),
        Command::AuditAll => "audit of every node requested".to_owned(),
        Command::Note(text) => format!("note: {text}"),
        Command::Lab(LabRequest::Rotate) => "lab: rotation requested".to_owned(),
        Command::Lab(LabRequest::Failover(island)) => {
            format!("lab: failover of island {island} requested")
        }
        Command::Lab(LabRequest::StopStart { island, index }) => {
            format!("lab: stop/start of node {island}.{index} requested")
        }
        Command::SetInterval(d) => format!(
            "probe interval {} for this session (the config file is unchanged)",
            humantime::format_duration(*d)
        ),
    }
}

enum Step {
    By(isize),
    /// Whole pages of the focused pane.
    Pages(isize),
    First,
    Last,
}

/// Where `step` leads from `current` among `len` positions, `page` rows to a page.
fn target(current: usize, len: usize, page: usize, step: Step) -> usize {
    let last = len.saturating_sub(1);
    match step {
        Step::By(d) => current.saturating_add_signed(d).min(last),
        Step::Pages(n) => current
            .saturating_add_signed(n.saturating_mul(page.max(1) as isize))
            .min(last),
        Step::First => 0,
        Step::Last => last,
    }
}

fn scroll(view: &mut ViewState, snapshot: &Snapshot, step: Step) {
    if view.overlay == Overlay::Help {
        let at = target(
            usize::from(view.help_scroll),
            usize::from(view.help_hidden) + 1,
            view.page,
            step,
        );
        view.help_scroll = u16::try_from(at).unwrap_or(u16::MAX);
        return;
    }
    match view.focus {
        Focus::Nodes => {
            let visible = view.visible_nodes(snapshot);
            if let Some(at) = view.selected_index(&visible) {
                let key = &visible[target(at, visible.len(), view.page, step)].key;
                if view.selected.as_ref() != Some(key) {
                    view.selected = Some(key.clone());
                    view.detail_scroll = 0;
                }
            }
        }
        Focus::Detail => {
            let lines = view
                .selected_node(snapshot)
                .map_or(0, |n| detail::line_count(n, snapshot.usage_enabled));
            let at = target(view.detail_scroll as usize, lines, view.page, step);
            view.detail_scroll = u16::try_from(at).unwrap_or(u16::MAX);
        }
        Focus::Timeline => {
            // A page is the pane's own height, and scrolling stops at a full last page: the
            // oldest event at the bottom, never alone at the top.
            let page = view.timeline_page.max(1);
            let positions = snapshot.events.len().saturating_sub(page) + 1;
            view.timeline_scroll = target(view.timeline_scroll, positions, page, step);
        }
    }
}

/// Makes the effective selection the selection, so the node a filter led to stays selected when
/// the filter changes or goes.
fn pin_selection(view: &mut ViewState, snapshot: &Snapshot) {
    if let Some(node) = view.selected_node(snapshot) {
        view.selected = Some(node.key.clone());
    }
}

/// A lab request, only in lab mode (the keys exist only then), and only with a node selected
/// when it needs one.
fn lab(view: &mut ViewState, request: Option<LabRequest>) -> Option<Command> {
    view.lab?;
    if request.is_none() {
        view.notify("no node selected", NoticeKind::Warn);
    }
    request.map(Command::Lab)
}

fn on_selected(
    view: &mut ViewState,
    snapshot: &Snapshot,
    command: fn(crate::topology::NodeKey) -> Command,
) -> Option<Command> {
    match view.selected_node(snapshot) {
        Some(node) => Some(command(node.key.clone())),
        None => {
            view.notify("no node selected", NoticeKind::Warn);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;

    use super::*;
    use crate::ui::fixtures;
    use crate::ui::theme::Theme;

    fn view() -> ViewState {
        ViewState::new(Theme::COLOR, FixedOffset::east_opt(0).unwrap())
    }

    fn names(snapshot: &Snapshot) -> Vec<String> {
        snapshot.nodes().map(|n| n.key.to_string()).collect()
    }

    #[test]
    fn selection_moves_within_bounds_and_commands_follow_it() {
        let s = fixtures::all_ok();
        let all = names(&s);
        let mut v = view();
        assert_eq!(
            update(&mut v, Action::ReprobeSelected, &s),
            Some(Command::Reprobe(s.islands[0].nodes[0].key.clone())),
            "the first node counts as selected before any move"
        );
        update(&mut v, Action::Up, &s);
        assert_eq!(
            v.selected.as_ref().map(|k| k.to_string()),
            Some(all[0].clone())
        );
        update(&mut v, Action::Down, &s);
        update(&mut v, Action::Down, &s);
        assert_eq!(
            v.selected.as_ref().map(|k| k.to_string()),
            Some(all[2].clone())
        );
        update(&mut v, Action::End, &s);
        update(&mut v, Action::Down, &s);
        assert_eq!(
            v.selected.as_ref().map(|k| k.to_string()),
            all.last().cloned()
        );
        let last = s.nodes().last().unwrap().key.clone();
        assert_eq!(
            update(&mut v, Action::AuditSelected, &s),
            Some(Command::Audit(last))
        );
        update(&mut v, Action::Home, &s);
        assert_eq!(
            v.selected.as_ref().map(|k| k.to_string()),
            Some(all[0].clone())
        );
    }

    #[test]
    fn the_filter_narrows_selection_and_esc_clears_it() {
        let s = fixtures::all_ok();
        let mut v = view();
        update(&mut v, Action::StartFilter, &s);
        for c in "db-b2".chars() {
            update(&mut v, Action::FilterChar(c), &s);
        }
        update(&mut v, Action::FilterKeep, &s);
        let visible = v.visible_nodes(&s);
        assert_eq!(visible.len(), 1);
        assert_eq!(&*visible[0].key.name, "db-b2");
        assert_eq!(
            update(&mut v, Action::ReprobeSelected, &s),
            Some(Command::Reprobe(visible[0].key.clone()))
        );
        update(&mut v, Action::Back, &s);
        assert!(v.filter.is_empty());
        assert_eq!(v.visible_nodes(&s).len(), s.nodes().count());
        assert_eq!(
            update(&mut v, Action::ReprobeSelected, &s),
            Some(Command::Reprobe(visible[0].key.clone())),
            "the node the filter led to stays selected"
        );
    }

    #[test]
    fn a_filter_that_hides_everything_selects_nothing() {
        let s = fixtures::all_ok();
        let mut v = view();
        v.filter = "no-such-node".into();
        assert_eq!(update(&mut v, Action::ReprobeSelected, &s), None);
        assert_eq!(v.notice.as_ref().map(|n| n.kind), Some(NoticeKind::Warn));
        assert_eq!(
            update(&mut v, Action::ReprobeAll, &s),
            Some(Command::ReprobeAll)
        );
    }

    #[test]
    fn sort_and_problems_only_keep_the_selected_node_and_arrows_follow_the_screen_order() {
        let s = fixtures::node_down();
        let mut v = view();
        assert_eq!(&*v.visible_nodes(&s)[0].key.name, "db-b2", "problems first");
        update(&mut v, Action::Down, &s);
        let picked = v.selected.clone().unwrap();
        assert_eq!(&*picked.name, "db-b1");
        for _ in 0..4 {
            update(&mut v, Action::CycleSort, &s);
            assert_eq!(v.selected_node(&s).map(|n| &n.key), Some(&picked));
        }
        update(&mut v, Action::ToggleProblems, &s);
        let visible = v.visible_nodes(&s);
        assert_eq!(visible.len(), 1);
        assert_eq!(&*visible[0].key.name, "db-b2");
        assert_eq!(
            update(&mut v, Action::ReprobeSelected, &s),
            Some(Command::Reprobe(visible[0].key.clone())),
            "a hidden selection falls to the first problem"
        );
        update(&mut v, Action::ToggleProblems, &s);
        assert_eq!(v.visible_nodes(&s).len(), 4);
    }

    #[test]
    fn plus_and_minus_step_the_interval_from_what_the_engine_runs() {
        let mut s = fixtures::all_ok();
        let mut v = view();
        assert_eq!(s.settings.interval, Duration::from_secs(2));
        assert_eq!(
            update(&mut v, Action::SlowerProbes, &s),
            Some(Command::SetInterval(Duration::from_secs(5)))
        );
        assert!(v.interval_set);
        assert_eq!(
            update(&mut v, Action::FasterProbes, &s),
            Some(Command::SetInterval(Duration::from_secs(1)))
        );
        // A configured value off the ladder steps to its neighbours.
        s.settings.interval = Duration::from_millis(1500);
        assert_eq!(
            update(&mut v, Action::SlowerProbes, &s),
            Some(Command::SetInterval(Duration::from_secs(2)))
        );
        s.settings.interval = Duration::from_millis(250);
        assert_eq!(update(&mut v, Action::FasterProbes, &s), None);
        assert_eq!(v.notice.as_ref().map(|n| n.kind), Some(NoticeKind::Warn));
    }

    #[test]
    fn notices_fade_after_a_few_ticks() {
        let s = fixtures::all_ok();
        let mut v = view();
        update(&mut v, Action::TogglePause, &s);
        assert!(v.paused);
        for _ in 1..crate::ui::view::NOTICE_TICKS {
            update(&mut v, Action::Tick, &s);
            assert!(v.notice.is_some());
        }
        update(&mut v, Action::Tick, &s);
        assert_eq!(v.notice, None);
    }

    #[test]
    fn panes_cycle_and_scroll_independently() {
        let s = fixtures::rotation_in_progress();
        let mut v = view();
        update(&mut v, Action::NextPane, &s);
        assert_eq!(v.focus, Focus::Detail);
        update(&mut v, Action::Down, &s);
        assert_eq!(v.detail_scroll, 1);
        update(&mut v, Action::NextPane, &s);
        assert_eq!(v.focus, Focus::Timeline);
        v.timeline_page = 2;
        update(&mut v, Action::End, &s);
        assert_eq!(v.timeline_scroll, s.events.len() - 2);
        update(&mut v, Action::Down, &s);
        assert_eq!(
            v.timeline_scroll,
            s.events.len() - 2,
            "stops at a full last page"
        );
        update(&mut v, Action::PrevPane, &s);
        update(&mut v, Action::Back, &s);
        assert_eq!(v.focus, Focus::Nodes);
        assert_eq!(
            v.selected, None,
            "scrolling panes did not move the selection"
        );
    }

    #[test]
    fn describe_names_the_node() {
        let s = fixtures::all_ok();
        let key = s.islands[1].nodes[0].key.clone();
        assert_eq!(
            describe(&Command::Reprobe(key)),
            "reprobe requested: 1/db-b1"
        );
    }
}

#[cfg(test)]
mod lab_keys {
    use chrono::FixedOffset;

    use super::*;
    use crate::ui::fixtures;
    use crate::ui::theme::Theme;
    use crate::ui::view::LabClock;

    #[test]
    fn lab_actions_ask_the_lab_only_in_the_lab() {
        let s = fixtures::all_ok();
        let mut v = ViewState::new(Theme::PLAIN, FixedOffset::east_opt(0).unwrap());
        assert_eq!(
            update(&mut v, Action::LabRotate, &s),
            None,
            "not in the lab"
        );
        v.lab = Some(LabClock {
            first: fixtures::now(),
            every: std::time::Duration::from_secs(20),
        });
        assert_eq!(
            update(&mut v, Action::LabRotate, &s),
            Some(Command::Lab(LabRequest::Rotate))
        );
        update(&mut v, Action::Down, &s);
        update(&mut v, Action::Down, &s);
        let third = &s.islands[1].nodes[0].key;
        assert_eq!(v.selected.as_ref(), Some(third));
        assert_eq!(
            update(&mut v, Action::LabStopStart, &s),
            Some(Command::Lab(LabRequest::StopStart {
                island: third.island,
                index: 0
            }))
        );
        assert_eq!(
            update(&mut v, Action::LabFailover, &s),
            Some(Command::Lab(LabRequest::Failover(third.island)))
        );
    }
}
