//! Island-level conclusions: which node is master (`no_master`, `split_brain`), which shards each
//! island holds (from its master, or a replica while the master is down), and shards found on two
//! islands (`shard_conflict`). Warnings are raised and cleared with `warning` events.

use std::collections::BTreeMap;

use super::event::EventKind;
use super::journal::Journal;
use super::probe::{Lsn, Role};
use super::snapshot::{Health, IslandWarning, WarningKind};
use super::state::{IslandState, NodeState};
use crate::topology::IslandNo;

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
        let wanted = master_warnings(island);
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
        let mut wanted = master_warnings(island);
        wanted.extend(conflict_of(&island.warnings).cloned());
        announce(island.no, &island.warnings, &wanted, log);
        island.warnings = wanted;
        return;
    }
    let conflicts = shard_conflicts(islands);
    for (k, island) in islands.iter_mut().enumerate() {
        let wanted = if k == i {
            master_warnings(island)
        } else {
            let mut kept = island.warnings.clone();
            kept.retain(|w| w.kind != WarningKind::ShardConflict);
            kept
        };
        settle(island, wanted, &conflicts, log);
    }
}

/// What of a node its island's conclusions read, besides its shards (compared apart, only when a
/// chain brings new ones) and its name. Keep in step with `master_warnings` and `island_shards`:
/// the engine refreshes an island only when one of its nodes' inputs changed.
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
    let seen: Vec<String> = island
        .nodes
        .iter()
        .map(|st| {
            let state = match st.health {
                Health::Down => "down",
                _ => st.role.as_str(),
            };
            format!("{} ({state})", st.node.key.name)
        })
        .collect();
    vec![IslandWarning {
        kind: WarningKind::NoMaster,
        detail: format!("no reachable master among: {}", seen.join(", ")),
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
