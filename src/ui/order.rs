//! Which nodes the table shows and in what order: the filter, "problems only" and the sort.
//!
//! One function ([`rows`]) decides, and everything that walks the table (the selection, page
//! keys, the title's position, the mouse) asks it, so the order on screen and the order the
//! arrows move in cannot differ.

use std::cmp::Reverse;

use std::rc::Rc;

use super::table_names::Names;
use crate::engine::snapshot::{Health, IslandView, NodeView, Snapshot};

/// The order of the nodes table; `s` cycles through them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Problems first: islands with a down node or a warning, then degraded, then not probed
    /// yet, then the rest; inside an island the same order. Grouped by island.
    #[default]
    Health,
    /// By name as shown, every island together (each name carries its island: `3/…`).
    Name,
    /// Slowest last chain probe first, every island together; nodes never probed last.
    Latency,
    /// Config order, grouped by island.
    Island,
}

impl Sort {
    /// The sort after this one.
    pub fn next(self) -> Sort {
        match self {
            Sort::Health => Sort::Name,
            Sort::Name => Sort::Latency,
            Sort::Latency => Sort::Island,
            Sort::Island => Sort::Health,
        }
    }

    /// The word shown in the nodes pane title.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Health => "health",
            Sort::Name => "name",
            Sort::Latency => "latency",
            Sort::Island => "island",
        }
    }

    /// True when the table has island rows; false when nodes of every island are mixed.
    pub fn grouped(self) -> bool {
        matches!(self, Sort::Health | Sort::Island)
    }
}

/// One row of the nodes table.
#[derive(Clone, Copy, Debug)]
pub enum Row<'a> {
    /// An island heading, with how many of its nodes are shown.
    Island(&'a IslandView, usize),
    /// A node.
    Node(&'a NodeView),
}

/// The nodes table of one frame: its rows, the nodes among them and the effective selection.
/// Made once a frame ([`ViewState::table`](super::view::ViewState::table)) and read by every pane
/// and the layout, so the filter and the sort run once.
#[derive(Clone, Debug)]
pub struct Table<'a> {
    /// The rows, in order ([`rows`]).
    pub rows: Vec<Row<'a>>,
    /// The node rows alone, in order.
    pub nodes: Vec<&'a NodeView>,
    /// Position in `nodes` of the effective selection.
    pub selected: Option<usize>,
    /// The names as the table shows them.
    pub names: Rc<Names>,
}

impl<'a> Table<'a> {
    /// The effective selection: the selected node if shown, else the first shown.
    pub fn selected_node(&self) -> Option<&'a NodeView> {
        self.selected.map(|i| self.nodes[i])
    }
}

/// How urgent a node's health is: lower first.
fn rank(health: Health) -> u8 {
    match health {
        Health::Down => 0,
        Health::Degraded => 1,
        Health::Unknown => 2,
        Health::Ok => 3,
    }
}

/// True for what "problems only" keeps: a node not ok, or any node of an island with a warning.
pub fn is_problem(island: &IslandView, node: &NodeView) -> bool {
    node.health != Health::Ok || !island.warnings.is_empty()
}

/// The rows of the nodes table for this view: filtered (text, problems only), sorted, with island
/// headings when the sort groups by island.
pub fn rows<'a>(
    snapshot: &'a Snapshot,
    names: &Names,
    sort: Sort,
    problems_only: bool,
    keep: impl Fn(&NodeView) -> bool,
    narrowed: bool,
) -> Vec<Row<'a>> {
    let shown = |island: &'a IslandView| -> Vec<&'a NodeView> {
        island
            .nodes
            .iter()
            .filter(|n| keep(n) && (!problems_only || is_problem(island, n)))
            .collect()
    };
    let narrowed = narrowed || problems_only;
    if sort.grouped() {
        let mut groups: Vec<(&IslandView, Vec<&NodeView>)> = snapshot
            .islands
            .iter()
            .map(|i| (i, shown(i)))
            .filter(|(_, nodes)| !(nodes.is_empty() && narrowed))
            .collect();
        if sort == Sort::Health {
            for (_, nodes) in &mut groups {
                nodes.sort_by_key(|n| rank(n.health));
            }
            // An island warning (no master, split brain) comes before a down node elsewhere.
            groups.sort_by_key(|(island, nodes)| {
                let worst = nodes.first().map_or(3, |n| rank(n.health));
                if island.warnings.is_empty() {
                    (worst, 1)
                } else {
                    (0, 0)
                }
            });
        }
        let mut rows = Vec::new();
        for (island, nodes) in groups {
            rows.push(Row::Island(island, nodes.len()));
            rows.extend(nodes.into_iter().map(Row::Node));
        }
        return rows;
    }
    // Each node with its place in snapshot order, which `names` ranks.
    let mut nodes: Vec<(usize, &NodeView)> = snapshot
        .islands
        .iter()
        .flat_map(|island| island.nodes.iter().map(move |n| (island, n)))
        .enumerate()
        .filter(|(_, (island, n))| keep(n) && (!problems_only || is_problem(island, n)))
        .map(|(i, (_, n))| (i, n))
        .collect();
    match sort {
        // By the name as shown, so the order reads alphabetically on screen.
        Sort::Name => nodes.sort_by_key(|(i, _)| names.rank(*i)),
        Sort::Latency => nodes.sort_by_key(|(_, n)| Reverse(n.latency.last().map(|s| s.latency))),
        Sort::Health | Sort::Island => {}
    }
    nodes.into_iter().map(|(_, n)| Row::Node(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixtures;

    fn names(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| match r {
                Row::Island(i, n) => format!("island {} ({n})", i.no),
                Row::Node(n) => n.key.to_string(),
            })
            .collect()
    }

    #[test]
    fn health_puts_the_island_with_the_down_node_first_and_the_node_first_in_it() {
        let s = fixtures::node_down();
        let got = names(&rows(
            &s,
            &Names::of(&s),
            Sort::Health,
            false,
            |_| true,
            false,
        ));
        assert_eq!(got[0], "island 1 (2)");
        assert_eq!(got[1], "1/db-b2");
        assert_eq!(got[2], "1/db-b1");
        assert_eq!(got[3], "island 0 (2)");
        let island = names(&rows(
            &s,
            &Names::of(&s),
            Sort::Island,
            false,
            |_| true,
            false,
        ));
        assert_eq!(island[0], "island 0 (2)");
    }

    #[test]
    fn problems_only_keeps_unhealthy_nodes_and_islands_with_warnings() {
        let s = fixtures::failover_no_master();
        let got = names(&rows(
            &s,
            &Names::of(&s),
            Sort::Health,
            true,
            |_| true,
            false,
        ));
        assert_eq!(
            got,
            [
                "island 0 (2)",
                "0/postgres://127.0.0.1:54320/app",
                "0/postgres://127.0.0.1:54321/app"
            ],
            "the replica is ok, but its island has no master"
        );
        assert!(rows(
            &fixtures::all_ok(),
            &Names::of(&fixtures::all_ok()),
            Sort::Health,
            true,
            |_| true,
            false
        )
        .is_empty());
    }

    #[test]
    fn flat_sorts_have_no_island_rows() {
        let s = fixtures::rotation_in_progress();
        let by_name = names(&rows(
            &s,
            &Names::of(&s),
            Sort::Name,
            false,
            |_| true,
            false,
        ));
        assert_eq!(by_name.len(), 4);
        assert_eq!(by_name[0], "0/postgres://127.0.0.1:54320/app");
        assert_eq!(by_name[3], "1/db-b2");
        let by_latency = rows(&s, &Names::of(&s), Sort::Latency, false, |_| true, false);
        let lat: Vec<_> = by_latency
            .iter()
            .map(|r| match r {
                Row::Node(n) => n.latency.last().unwrap().latency,
                Row::Island(..) => unreachable!(),
            })
            .collect();
        assert!(lat.windows(2).all(|w| w[0] >= w[1]), "{lat:?}");
    }

    #[test]
    fn sorts_cycle_through_all_four() {
        let mut s = Sort::default();
        let mut seen = vec![s];
        for _ in 0..3 {
            s = s.next();
            seen.push(s);
        }
        assert_eq!(
            seen,
            [Sort::Health, Sort::Name, Sort::Latency, Sort::Island]
        );
        assert_eq!(s.next(), Sort::Health);
    }
}
