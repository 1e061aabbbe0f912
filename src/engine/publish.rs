//! Building the immutable [`Snapshot`] from the engine state.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::core::Core;
use super::islands::master_lsn;
use super::probe::{Lsn, Prober, Role};
use super::schedule::wall_time;
use super::snapshot::{CandidateView, IslandView, NodeView, Replication, Snapshot};
use super::state::NodeState;
use super::usage::{self, LoginUsage};
use super::EventKind;

impl<P: Prober> Core<P> {
    /// The picture of everything now; clears the dirty flag.
    pub(crate) fn snapshot(&mut self) -> Snapshot {
        self.dirty = false;
        let now = Instant::now();
        let at = self.log.now();
        let counting = self.config.usage.enabled;
        let islands = self
            .islands
            .iter()
            .map(|island| {
                let master = master_lsn(island);
                IslandView {
                    no: island.no,
                    nodes: island
                        .nodes
                        .iter()
                        .map(|st| node_view(st, master, now, at, counting))
                        .collect(),
                    shards: island.shards.clone(),
                    warnings: island.warnings.clone(),
                }
            })
            .collect::<Vec<_>>();
        let mut islands = islands;
        let usage = usage::cluster(&islands, self.config.usage.quiet_for, at);
        for u in islands
            .iter_mut()
            .flat_map(|i| i.nodes.iter_mut())
            .flat_map(|n| n.usage.iter_mut())
        {
            u.safe_to_revoke = usage.iter().any(|l| l.login == u.login && l.safe_to_revoke);
        }
        self.note_readiness(&usage, counting);
        Snapshot {
            generated_at: at,
            config: self.status.clone(),
            settings: self.config.probe.clone(),
            islands,
            events: self.log.events.clone(),
            behind_schedule: self.pace.current(),
            history: self.log.history(),
            usage,
            usage_enabled: counting,
        }
    }

    /// Emits `safe_to_revoke` / `no_longer_safe_to_revoke` when a login's readiness changed
    /// since the last snapshot. Counting turned off ends every "safe" with a reason that says so.
    fn note_readiness(&mut self, usage: &[LoginUsage], counting: bool) {
        if !counting {
            let mut was_safe: Vec<String> =
                std::mem::take(&mut self.safe_logins).into_iter().collect();
            was_safe.sort();
            for login in was_safe {
                self.log.emit(EventKind::NoLongerSafeToRevoke {
                    login,
                    reasons: vec![COUNTING_OFF.into()],
                });
            }
            return;
        }
        for l in usage {
            let was = self.safe_logins.contains(&l.login);
            if l.safe_to_revoke && !was {
                self.safe_logins.insert(l.login.clone());
                self.log.emit(EventKind::SafeToRevoke {
                    login: l.login.clone(),
                    idle_since: l.idle_since,
                    nodes: l.nodes,
                });
            } else if !l.safe_to_revoke && was {
                self.safe_logins.remove(&l.login);
                self.log.emit(EventKind::NoLongerSafeToRevoke {
                    login: l.login.clone(),
                    reasons: l.reasons.clone(),
                });
            }
        }
        // A login that left the config leaves quietly.
        self.safe_logins
            .retain(|login| usage.iter().any(|l| l.login == *login));
    }
}

/// Why no login is safe to revoke while sessions are not counted.
pub const COUNTING_OFF: &str = "sessions are not counted ([usage] enabled = false)";

/// One node's view; `master` is its island master's current WAL position, for replica lag;
/// without `counting`, no usage at all (not even logins "unknown").
fn node_view(
    st: &NodeState,
    master: Option<Lsn>,
    now: Instant,
    at: DateTime<Utc>,
    counting: bool,
) -> NodeView {
    let replication = st.wal.map(|wal| Replication {
        wal,
        lag_bytes: match (st.role, master, wal.replay) {
            (Role::Replica, Some(master), Some(replay)) => Some(master.0.saturating_sub(replay.0)),
            _ => None,
        },
    });
    NodeView {
        key: st.node.key.clone(),
        address: st.node.address.clone(),
        role: st.role,
        health: st.health,
        health_since: Some(st.health_since),
        cause: st.cause.clone(),
        winner: st.winner.as_ref().and_then(|w| st.position(&w.id)),
        remembered_best: st.remembered.as_ref().and_then(|id| st.position(id)),
        probing: st.in_flight.is_some(),
        last_chain: st.last_chain.clone(),
        latency: st.latency.clone(),
        replication,
        shards: st.shards.clone(),
        candidates: st
            .node
            .candidates
            .iter()
            .zip(&st.cands)
            .enumerate()
            .map(|(index, (c, s))| CandidateView {
                index,
                id: c.id.clone(),
                login: c.login.clone(),
                label: c.label.clone(),
                fingerprint: c.id.fingerprint,
                state: s.state,
                error: s.error.clone(),
                latency: s.latency,
                last_checked: s.last_checked,
                last_valid: s.last_valid,
                consecutive_failures: s.consecutive_failures,
                next_audit: Some(wall_time(at, now, s.audit_due)),
                via: c.via.clone(),
                route: s.route,
            })
            .collect(),
        usage: if counting {
            st.usage.view(
                st.node
                    .candidates
                    .iter()
                    .map(|c| (c.login.as_str(), c.id.fingerprint)),
            )
        } else {
            Vec::new()
        },
    }
}
