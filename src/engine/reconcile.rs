//! Applying a config by keys: kept nodes and candidates keep their history, winner and remembered
//! best; new ones start `unknown`/`untested`; removed ones leave with an event.
//!
//! A reload never cuts a probe short. A job whose node left, or whose node's candidates changed,
//! is called off between probes (`job.rs`): its probe in progress ends normally, a result about
//! a candidate still listed is kept, one about a removed candidate is dropped, and no other probe
//! of its plan starts. A kept node then runs the job asked for again, with the new candidates, as
//! soon as the old one has ended (never two jobs of one node at once).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::core::Core;
use super::event::{CandidateRef, EventKind, ProbeMode};
use super::probe::Prober;
use super::snapshot::IslandWarning;
use super::state::{CandState, IslandState, NodeState};
use super::{health, islands};
use crate::config::ConfigState;
use crate::topology::{CandidateId, IslandNo, Node, NodeKey, Topology};

impl<P: Prober> Core<P> {
    /// Applies a new config generation.
    pub(crate) fn apply_config(&mut self, state: &ConfigState) {
        let now = Instant::now();
        let at = self.log.now();
        let first = self.status.generation == 0;
        let mut new = state.config.clone();
        if let Some(interval) = self.interval_override {
            // Set for this session (`+`/`-`): the file's interval does not take it back.
            let mut config = (*new).clone();
            config.probe.interval = interval;
            new = std::sync::Arc::new(config);
        }
        let empty = Topology::default();
        let old_topology = if first { &empty } else { &self.config.topology };
        let diff = old_topology.diff(&new.topology);
        let candidate_events = candidate_changes(old_topology, &new.topology);
        let old_settings = (!first).then(|| self.config.probe.clone());
        let shards_changed = self.config.shards != new.shards;

        // Islands that stay keep their shards and warnings, so a warning clears with an event.
        let mut old_islands: HashMap<IslandNo, (Option<Vec<String>>, Vec<IslandWarning>)> =
            HashMap::new();
        let mut old: HashMap<NodeKey, NodeState> = HashMap::new();
        for island in self.islands.drain(..) {
            old_islands.insert(island.no, (island.shards, island.warnings));
            old.extend(island.nodes.into_iter().map(|st| (st.node.key.clone(), st)));
        }
        self.islands = new
            .topology
            .islands
            .iter()
            .map(|island| IslandState {
                no: island.no,
                nodes: island
                    .nodes
                    .iter()
                    .map(|node| match old.remove(&node.key) {
                        Some(st) => carry_over(st, node.clone(), now),
                        None => NodeState::new(node.clone(), now, at),
                    })
                    .collect(),
                shards: None,
                warnings: Vec::new(),
                session_groups: islands::SessionGroups::of(island),
            })
            .collect();
        for island in &mut self.islands {
            if let Some((shards, warnings)) = old_islands.remove(&island.no) {
                island.shards = shards;
                island.warnings = warnings;
            }
        }
        for gone in old.into_values() {
            if let Some(flight) = gone.in_flight {
                flight.cancel.cancel();
            }
        }
        self.index = self
            .islands
            .iter()
            .enumerate()
            .flat_map(|(i, island)| {
                island
                    .nodes
                    .iter()
                    .enumerate()
                    .map(move |(n, st)| (st.node.key.clone(), (i, n)))
            })
            .collect();

        self.config = new;
        self.log
            .set_probe_intervals(self.config.probe.interval, self.config.probe.audit_interval);
        self.status.path = self.config.path.clone();
        self.status.generation = state.generation;
        self.status.loaded_at = Some(state.loaded_at);
        let topology = &self.config.topology;
        self.log.emit(EventKind::ConfigApplied {
            path: self.config.path.display().to_string(),
            generation: state.generation,
            islands: topology.islands.len(),
            nodes: topology.nodes().count(),
            candidates: topology.nodes().map(|n| n.candidates.len()).sum(),
        });
        if !first {
            for key in diff.removed_nodes {
                self.log.emit(EventKind::NodeRemoved {
                    island: key.island,
                    node: key.name.to_string(),
                });
            }
            for key in diff.added_nodes {
                self.log.emit(EventKind::NodeAdded {
                    island: key.island,
                    node: key.name.to_string(),
                });
            }
            for event in candidate_events {
                self.log.emit(event);
            }
        }
        // An island that left takes its warnings with it: say they are over.
        for (no, (_, warnings)) in old_islands {
            for w in warnings {
                self.log.emit(EventKind::Warning {
                    island: no,
                    warning: w.kind,
                    active: false,
                    detail: w.detail,
                });
            }
        }
        if let Some(old) = old_settings {
            self.adopt_settings(&old, now);
        }
        if shards_changed {
            for island in &mut self.islands {
                island.shards = None;
                island.nodes.iter_mut().for_each(|st| st.shards = None);
            }
        }
        self.refresh_all(now);
    }

    /// Re-assesses every node and island (after a reload removed candidates or nodes).
    fn refresh_all(&mut self, now: Instant) {
        let (islands, mut cx) = self.split(now);
        for st in islands.iter_mut().flat_map(|i| i.nodes.iter_mut()) {
            health::refresh(st, &mut cx);
        }
        islands::refresh(islands, cx.log);
        self.dirty = true;
    }

    /// New settings take effect at once: the semaphore is resized, and deadlines further away than
    /// a new, shorter interval are brought in.
    pub(super) fn adopt_settings(&mut self, old: &crate::config::ProbeSettings, now: Instant) {
        let new = self.config.probe.clone();
        if new.concurrency != old.concurrency {
            // Jobs in flight finish under the old permits; new jobs use the new ones.
            self.permits = Arc::new(Semaphore::new(new.concurrency.max(1)));
        }
        self.pace.retune(new.interval, now, &mut self.log);
        let nodes = self.islands.iter_mut().flat_map(|i| i.nodes.iter_mut());
        for st in nodes {
            if new.interval < old.interval {
                let latest = now + self.jitter.backoff(new.interval, st.refused_chains);
                st.next_chain = st.next_chain.min(latest);
            }
            if new.audit_interval < old.audit_interval {
                for c in &mut st.cands {
                    let latest = now + self.jitter.backoff(new.audit_interval, c.refusals);
                    c.audit_due = c.audit_due.min(latest);
                }
            }
        }
    }
}

/// `candidate_removed`, `candidate_added` and `candidate_relabeled` events for the nodes both
/// topologies share, each candidate named by its position in the topology it belongs to.
fn candidate_changes(old: &Topology, new: &Topology) -> Vec<EventKind> {
    let named = |node: &Node, index: usize| {
        let c = &node.candidates[index];
        CandidateRef {
            index,
            login: c.login.clone(),
            label: c.label.clone(),
            fingerprint: c.id.fingerprint,
        }
    };
    let mut events = Vec::new();
    for node in new.nodes() {
        let Some(before) = old.node(&node.key) else {
            continue;
        };
        let listed = |n: &Node, id: &CandidateId| n.candidates.iter().any(|c| c.id == *id);
        for (index, c) in before.candidates.iter().enumerate() {
            if !listed(node, &c.id) {
                events.push(EventKind::CandidateRemoved {
                    island: node.key.island,
                    node: node.key.name.to_string(),
                    candidate: named(before, index),
                });
            }
        }
        for (index, c) in node.candidates.iter().enumerate() {
            match before.candidates.iter().find(|b| b.id == c.id) {
                None => events.push(EventKind::CandidateAdded {
                    island: node.key.island,
                    node: node.key.name.to_string(),
                    candidate: named(node, index),
                }),
                Some(b) if b.label != c.label => events.push(EventKind::CandidateRelabeled {
                    island: node.key.island,
                    node: node.key.name.to_string(),
                    candidate: named(node, index),
                    from_label: b.label.clone(),
                }),
                Some(_) => {}
            }
        }
    }
    events
}

/// A kept node under its new config: candidate states follow their identities; a job in flight
/// over a changed candidate list is called off (it ends after its probe in progress) and asked
/// for again; the winner and remembered best stay while still listed.
fn carry_over(mut st: NodeState, node: Node, now: Instant) -> NodeState {
    let mut old: HashMap<CandidateId, CandState> = st
        .node
        .candidates
        .iter()
        .map(|c| c.id.clone())
        .zip(st.cands.drain(..))
        .collect();
    let added = node.candidates.iter().any(|c| !old.contains_key(&c.id));
    st.cands = node
        .candidates
        .iter()
        .map(|c| old.remove(&c.id).unwrap_or_else(|| CandState::new(now)))
        .collect();
    let removed = !old.is_empty();
    st.node = node;
    if added || removed {
        // Other passwords: the next failure builds the matcher again.
        st.matcher = None;
    }

    if added || removed {
        // The node stays in flight until the job has ended: its next job waits for it.
        let called_off = st
            .in_flight
            .as_ref()
            .filter(|f| !f.cancel.is_cancelled())
            .map(|f| {
                f.cancel.cancel();
                (f.mode, f.forced)
            });
        match called_off {
            Some((ProbeMode::Chain, _)) => st.pending_chain = true,
            Some((ProbeMode::Audit, forced)) => st.pending_audit |= forced,
            None => {}
        }
    }
    match st.winner.as_ref().map(|w| st.position(&w.id)) {
        // Still listed: its index may have moved.
        Some(Some(index)) => {
            let named = st.named(index);
            if let Some(w) = st.winner.as_mut() {
                w.named = named;
            }
        }
        // Gone: the node keeps its health until a chain probe, run now, finds the new winner.
        Some(None) => st.pending_chain = true,
        None => {}
    }
    if st
        .remembered
        .as_ref()
        .is_some_and(|id| st.position(id).is_none())
    {
        st.remembered = None;
    }
    // A new identity may be the fix for a node whose candidates were all refused.
    if added && st.refused_chains > 0 {
        st.refused_chains = 0;
        st.pending_chain = true;
    }
    st
}
