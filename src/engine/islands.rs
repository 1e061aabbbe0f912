//! Island-level conclusions: which node is master (`no_master`, `split_brain`), whether each
//! connection string finds a host its `target_session_attrs` accepts (`session_attrs_unmet`),
//! which shards each island holds (from its master, or a replica while the master is down), and
//! shards found on two islands (`shard_conflict`). Warnings are raised and cleared with `warning`
//! events.

use std::collections::BTreeMap;

use super::event::EventKind;
use super::journal::Journal;
use super::probe::{Lsn, Role};
use super::snapshot::{Health, IslandWarning, WarningKind};
use super::state::{IslandState, NodeState};
use crate::conninfo::session::{self, Check, Group, HostState};
use crate::topology::{Island, IslandNo};

/// How many shard names a `shard_conflict` detail lists per other island.
const DETAIL_SHARDS: usize = 5;

/// Recomputes every island's shards and warnings, emitting events for warnings raised, changed or
/// cleared (after a reload; a probe report needs only [`refresh_island`]).
pub(crate) fn refresh(islands: &mut [IslandState], log: &mut Journal) {
    for island in islands.iter_mut() {
        update_shards(island);
    }
    let conflicts = shard_conflicts(islands);
    for island in islands.iter_mut() {
        let wanted = own_warnings(island);
        settle(island, wanted, &conflicts, log);
    }
}

/// Recomputes island `i` after one of its nodes changed: O(its nodes), not O(every node). Other
/// islands are touched only when `i`'s shard list changed, and then only their `shard_conflict`
/// (their master warnings depend on their own nodes alone).
pub(crate) fn refresh_island(islands: &mut [IslandState], i: usize, log: &mut Journal) {
    let Some(island) = islands.get_mut(i) else {
        return;
    };
    if !update_shards(island) {
        let mut wanted = own_warnings(island);
        wanted.extend(conflict_of(&island.warnings).cloned());
        announce(island.no, &island.warnings, &wanted, log);
        island.warnings = wanted;
        return;
    }
    let conflicts = shard_conflicts(islands);
    for (k, island) in islands.iter_mut().enumerate() {
        let wanted = if k == i {
            own_warnings(island)
        } else {
            let mut kept = island.warnings.clone();
            kept.retain(|w| w.kind != WarningKind::ShardConflict);
            kept
        };
        settle(island, wanted, &conflicts, log);
    }
}

/// What of a node its island's conclusions read, besides its shards (compared apart, only when a
/// chain brings new ones) and its name. Keep in step with `master_warnings`, `session_warning`
/// and `island_shards`: the engine refreshes an island only when one of its nodes' inputs changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeInputs {
    reachable: bool,
    role: Role,
    health: Health,
}

impl NodeInputs {
    /// The node's inputs now.
    pub(crate) fn of(st: &NodeState) -> Self {
        NodeInputs {
            reachable: st.winner.is_some(),
            role: st.role,
            health: st.health,
        }
    }
}

/// Takes the island's shards from its nodes (kept when no reachable node reports any); true when
/// they changed.
fn update_shards(island: &mut IslandState) -> bool {
    let found = island_shards(island).filter(|&shards| island.shards.as_ref() != Some(shards));
    let Some(shards) = found.cloned() else {
        return false;
    };
    island.shards = Some(shards);
    true
}

/// Sets the island's warnings to its master warnings plus its shard conflict, if any, announcing
/// the difference.
fn settle(
    island: &mut IslandState,
    mut wanted: Vec<IslandWarning>,
    conflicts: &BTreeMap<IslandNo, String>,
    log: &mut Journal,
) {
    if let Some(detail) = conflicts.get(&island.no) {
        wanted.push(IslandWarning {
            kind: WarningKind::ShardConflict,
            detail: detail.clone(),
        });
    }
    announce(island.no, &island.warnings, &wanted, log);
    island.warnings = wanted;
}

/// The island's active `shard_conflict` warning.
fn conflict_of(warnings: &[IslandWarning]) -> Option<&IslandWarning> {
    warnings
        .iter()
        .find(|w| w.kind == WarningKind::ShardConflict)
}

/// The current master's WAL position, for replica lag (the first reachable master).
pub(crate) fn master_lsn(island: &IslandState) -> Option<Lsn> {
    island
        .nodes
        .iter()
        .find(|st| is_master(st))
        .and_then(|st| st.wal?.current)
}

/// The strings of an island that ask for a kind of host (`target_session_attrs` other than
/// `any`), each with its nodes as indices into the island's nodes. Built from the topology when a
/// config is applied: the groups change only on reload, so a probe report never rebuilds them.
#[derive(Debug, Default)]
pub(crate) struct SessionGroups(Vec<(Group, Vec<usize>)>);

impl SessionGroups {
    /// The groups of `island` (its nodes in config order, as the engine keeps them).
    pub(crate) fn of(island: &Island) -> Self {
        let at = |key: &crate::topology::NodeKey| island.nodes.iter().position(|n| n.key == *key);
        let groups = session::groups(island)
            .into_iter()
            .map(|g| {
                let nodes = g.nodes.iter().filter_map(at).collect();
                (g, nodes)
            })
            .collect();
        SessionGroups(groups)
    }
}

/// The island's own warnings: its master warnings and `session_attrs_unmet`.
fn own_warnings(island: &IslandState) -> Vec<IslandWarning> {
    let mut wanted = master_warnings(island);
    wanted.extend(session_warning(island));
    wanted
}

/// What `target_session_attrs` sees of a node: master → primary, replica → standby, probed but
/// without a winner → down, never probed → not probed (the check waits for it).
fn host_state(st: &NodeState) -> HostState {
    match (st.health, st.winner.is_some(), st.role) {
        (Health::Unknown, ..) => HostState::NotProbed,
        (_, false, _) => HostState::Down,
        (_, true, Role::Master) => HostState::Primary,
        (_, true, Role::Replica) => HostState::Standby,
        (_, true, Role::Unknown) => HostState::NotProbed,
    }
}

/// `session_attrs_unmet` when some string of the island finds no host it accepts, every host of
/// it probed; the detail names each such string (password removed), its `target_session_attrs`
/// and what each host was. Strings still waiting for a probe raise nothing yet.
fn session_warning(island: &IslandState) -> Option<IslandWarning> {
    let unmet: Vec<String> = island
        .session_groups
        .0
        .iter()
        .filter_map(|(group, nodes)| {
            let states: Vec<HostState> = nodes
                .iter()
                .map(|&n| host_state(&island.nodes[n]))
                .collect();
            if session::check(group.attrs, &states) != Check::Unmet {
                return None;
            }
            let hosts: Vec<String> = nodes
                .iter()
                .zip(&states)
                .map(|(&n, state)| {
                    let seen = match state {
                        HostState::Primary => "master",
                        HostState::Standby => "replica",
                        HostState::Down => "down",
                        HostState::NotProbed => "unknown",
                    };
                    format!("{} ({seen})", island.nodes[n].node.key.name)
                })
                .collect();
            Some(format!(
                "no host of {} satisfies target_session_attrs={}: {}",
                group.string,
                group.attrs.as_str(),
                hosts.join(", ")
            ))
        })
        .collect();
    (!unmet.is_empty()).then(|| IslandWarning {
        kind: WarningKind::SessionAttrsUnmet,
        detail: unmet.join("; "),
    })
}

/// A node reached by its last chain probe that reports itself master.
fn is_master(st: &NodeState) -> bool {
    st.winner.is_some() && st.role == Role::Master
}

/// `split_brain` with two masters or more; `no_master` with none, once every node has an answer
/// (until then the previous verdict stands, so a starting engine does not cry wolf).
fn master_warnings(island: &IslandState) -> Vec<IslandWarning> {
    let masters: Vec<&str> = island
        .nodes
        .iter()
        .filter(|st| is_master(st))
        .map(|st| &*st.node.key.name)
        .collect();
    if masters.len() >= 2 {
        return vec![IslandWarning {
            kind: WarningKind::SplitBrain,
            detail: format!("masters: {}", masters.join(", ")),
        }];
    }
    if !masters.is_empty() {
        return Vec::new();
    }
    if island.nodes.iter().any(|st| st.health == Health::Unknown) {
        return island
            .warnings
            .iter()
            .filter(|w| w.kind == WarningKind::NoMaster)
            .cloned()
            .collect();
    }
    // A node that answers but refuses every credential is reachable: say so, or a master that
    // only lacks a working password reads as a network outage.
    let rejecting = |st: &NodeState| st.health == Health::Down && st.refused_chains > 0;
    let seen: Vec<String> = island
        .nodes
        .iter()
        .map(|st| {
            let state = match st.health {
                _ if rejecting(st) => "all credentials rejected",
                Health::Down => "down",
                _ => st.role.as_str(),
            };
            format!("{} ({state})", st.node.key.name)
        })
        .collect();
    let detail = if island.nodes.iter().any(rejecting) {
        format!("all credentials rejected, no master: {}", seen.join(", "))
    } else {
        format!("no reachable master among: {}", seen.join(", "))
    };
    vec![IslandWarning {
        kind: WarningKind::NoMaster,
        detail,
    }]
}

/// Shards read from the island's master, else from a reachable replica; `None` when no reachable
/// node reported any (the caller then keeps the last known list).
fn island_shards(island: &IslandState) -> Option<&Vec<String>> {
    let reachable = || island.nodes.iter().filter(|st| st.winner.is_some());
    reachable()
        .find(|st| st.role == Role::Master && st.shards.is_some())
        .or_else(|| reachable().find(|st| st.shards.is_some()))
        .and_then(|st| st.shards.as_ref())
}

/// For each island holding a shard that another island holds too, the warning detail.
fn shard_conflicts(islands: &[IslandState]) -> BTreeMap<IslandNo, String> {
    let mut holders: BTreeMap<&str, Vec<IslandNo>> = BTreeMap::new();
    for island in islands {
        for shard in island.shards.iter().flatten() {
            holders.entry(shard).or_default().push(island.no);
        }
    }
    // island → other island → shards both hold
    let mut shared: BTreeMap<IslandNo, BTreeMap<IslandNo, Vec<&str>>> = BTreeMap::new();
    for (shard, owners) in &holders {
        for &a in owners {
            for &b in owners.iter().filter(|&&b| b != a) {
                shared
                    .entry(a)
                    .or_default()
                    .entry(b)
                    .or_default()
                    .push(shard);
            }
        }
    }
    shared
        .into_iter()
        .map(|(island, others)| {
            let parts: Vec<String> = others
                .into_iter()
                .map(|(other, shards)| {
                    let mut names = shards
                        .iter()
                        .take(DETAIL_SHARDS)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ");
                    if shards.len() > DETAIL_SHARDS {
                        names.push_str(&format!(" (+{} more)", shards.len() - DETAIL_SHARDS));
                    }
                    format!("{names} also on island {other}")
                })
                .collect();
            (island, parts.join("; "))
        })
        .collect()
}

/// Emits a `warning` event for each warning raised, changed (raised again with the new detail) or
/// cleared.
fn announce(no: IslandNo, old: &[IslandWarning], new: &[IslandWarning], log: &mut Journal) {
    let kinds = [
        WarningKind::NoMaster,
        WarningKind::SplitBrain,
        WarningKind::SessionAttrsUnmet,
        WarningKind::ShardConflict,
    ];
    for kind in kinds {
        let before = old.iter().find(|w| w.kind == kind);
        let after = new.iter().find(|w| w.kind == kind);
        let (active, detail) = match (before, after) {
            (None, Some(w)) => (true, &w.detail),
            (Some(b), Some(a)) if b.detail != a.detail => (true, &a.detail),
            (Some(w), None) => (false, &w.detail),
            _ => continue,
        };
        log.emit(EventKind::Warning {
            island: no,
            warning: kind,
            active,
            detail: detail.clone(),
        });
    }
}
