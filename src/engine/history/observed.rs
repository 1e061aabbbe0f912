//! [`Observed`]: the cluster as the event stream tells it, and the [`Change`]s each event makes.
//!
//! One reducer for every reader of events: the engine's [`History`](super::History) and episode
//! detector fold what the engine emits, the report folds what a recording holds. A node or a
//! candidate is known from its first mention (the first config's nodes come without
//! `node_added`: their first probe's events name them).
//!
//! Besides what the events say outright (health, winner, candidate states) it derives a node's
//! [`Access`]: whether some candidate works, and if none does, whether every candidate was
//! refused (a credential outage: the only real one) or the node could not be reached at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::CredKey;
use crate::engine::event::{CandidateRef, Event, EventKind};
use crate::engine::snapshot::{CandidateState, Health};
use crate::topology::{IslandNo, NodeKey};

/// Whether a node can be logged in to, as far as the monitor knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Not probed yet.
    #[default]
    Unknown,
    /// Some candidate works (the node has a winner).
    Ok,
    /// No candidate works and every one tried was refused: no working credential (an outage).
    LockedOut,
    /// No candidate works because the node could not be reached (not a credential problem).
    Unreachable,
}

impl Access {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Unknown => "unknown",
            Access::Ok => "ok",
            Access::LockedOut => "locked_out",
            Access::Unreachable => "unreachable",
        }
    }
}

/// Why a node's winner changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The node's first winner.
    First,
    /// A winner again after none worked.
    Recovered,
    /// The previous winner was refused: the chain fell back to another candidate.
    Failover,
    /// The previous winner left the config.
    Removed,
    /// No candidate works any more.
    Lost,
    /// Anything else.
    Other,
}

/// What the events say of one candidate now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandNow {
    /// The credential.
    pub cred: CredKey,
    /// Its label.
    pub label: Option<String>,
    /// Its state.
    pub state: CandidateState,
}

/// What the events say of one node now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeNow {
    /// Health.
    pub health: Health,
    /// The winner's credential.
    pub winner: Option<CredKey>,
    /// Known candidates, in order of first mention.
    pub candidates: Vec<CandNow>,
    /// Derived access.
    pub access: Access,
    /// True once it has had a winner (tells a first winner from a recovery).
    had_winner: bool,
}

impl NodeNow {
    /// A winner, or a health that implies one, is access; `down` is an outage unless some
    /// candidate met a node-level failure. (A chain that loses its winner emits
    /// `winner_changed` just before `health_changed`: access follows the health.)
    fn derive_access(&self) -> Access {
        if self.winner.is_some() {
            return Access::Ok;
        }
        match self.health {
            Health::Ok | Health::Degraded => Access::Ok,
            Health::Unknown => Access::Unknown,
            Health::Down
                if self
                    .candidates
                    .iter()
                    .any(|c| c.state == CandidateState::Unreachable) =>
            {
                Access::Unreachable
            }
            Health::Down => Access::LockedOut,
        }
    }

    fn position(&self, cred: &CredKey) -> Option<usize> {
        self.candidates.iter().position(|c| c.cred == *cred)
    }
}

/// One change an event made, in terms a history or a report records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A node appeared (first mention or `node_added`) or left (`node_removed`, or forgotten at
    /// the end of a run).
    Listed {
        /// The node.
        node: NodeKey,
        /// True when it appeared.
        listed: bool,
    },
    /// A candidate's state changed, or it appeared (`from: None`) or left (`to: None`).
    Candidate {
        /// The node.
        node: NodeKey,
        /// The credential.
        cred: CredKey,
        /// Its label.
        label: Option<String>,
        /// State before (`None`: not known before).
        from: Option<CandidateState>,
        /// State after (`None`: no longer listed).
        to: Option<CandidateState>,
        /// True when a reload added or removed it (the secret set changed).
        by_reload: bool,
    },
    /// A candidate got another label; its state is unchanged.
    Relabeled {
        /// The node.
        node: NodeKey,
        /// The credential.
        cred: CredKey,
        /// Its new label.
        label: Option<String>,
    },
    /// A node's health changed.
    Health {
        /// The node.
        node: NodeKey,
        /// Before.
        from: Health,
        /// After.
        to: Health,
    },
    /// A node's winner changed.
    Winner {
        /// The node.
        node: NodeKey,
        /// The new winner's credential.
        to: Option<CredKey>,
        /// Why.
        why: Why,
    },
    /// A node's derived access changed.
    Access {
        /// The node.
        node: NodeKey,
        /// Before.
        from: Access,
        /// After.
        to: Access,
    },
}

/// The cluster as the events tell it (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Observed {
    nodes: BTreeMap<NodeKey, NodeNow>,
}

fn key(island: IslandNo, node: &str) -> NodeKey {
    NodeKey {
        island,
        name: Arc::from(node),
    }
}

impl Observed {
    /// Every known node.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeKey, &NodeNow)> {
        self.nodes.iter()
    }

    /// One node.
    pub fn node(&self, key: &NodeKey) -> Option<&NodeNow> {
        self.nodes.get(key)
    }

    /// Folds in one event, appending the changes it made to `out`. Events of kinds that change
    /// no node (config, warnings, rotations) make none.
    pub fn apply(&mut self, event: &Event, out: &mut Vec<Change>) {
        match &event.kind {
            EventKind::NodeAdded { island, node } => {
                self.touch(&key(*island, node), out);
            }
            EventKind::NodeRemoved { island, node } => {
                self.forget(&key(*island, node), out);
            }
            EventKind::CandidateAdded {
                island,
                node,
                candidate,
            } => {
                let k = key(*island, node);
                self.set_candidate(&k, candidate, Some(CandidateState::Untested), true, out);
            }
            EventKind::CandidateRemoved {
                island,
                node,
                candidate,
            } => {
                let k = key(*island, node);
                self.set_candidate(&k, candidate, None, true, out);
            }
            EventKind::CandidateRelabeled {
                island,
                node,
                candidate,
                ..
            } => {
                let k = key(*island, node);
                let n = self.touch(&k, out);
                let cred = CredKey::of(candidate);
                if let Some(i) = n.position(&cred) {
                    n.candidates[i].label.clone_from(&candidate.label);
                    out.push(Change::Relabeled {
                        node: k,
                        cred,
                        label: candidate.label.clone(),
                    });
                }
            }
            EventKind::CandidateChanged {
                island,
                node,
                candidate,
                to,
                ..
            } => {
                let k = key(*island, node);
                self.set_candidate(&k, candidate, Some(*to), false, out);
            }
            EventKind::WinnerChanged {
                island, node, to, ..
            } => {
                let k = key(*island, node);
                let n = self.touch(&k, out);
                let before = n.access;
                let why = match (&n.winner, to) {
                    (None, Some(_)) if n.had_winner => Why::Recovered,
                    (None, Some(_)) => Why::First,
                    (Some(_), None) => Why::Lost,
                    (Some(from), Some(_)) => match n.position(from) {
                        None => Why::Removed,
                        Some(i) if n.candidates[i].state == CandidateState::Invalid => {
                            Why::Failover
                        }
                        Some(_) => Why::Other,
                    },
                    (None, None) => Why::Other,
                };
                n.winner = to.as_ref().map(CredKey::of);
                n.had_winner |= n.winner.is_some();
                out.push(Change::Winner {
                    node: k.clone(),
                    to: n.winner.clone(),
                    why,
                });
                Self::access(&k, n, before, out);
            }
            EventKind::HealthChanged {
                island, node, to, ..
            } => {
                let k = key(*island, node);
                let n = self.touch(&k, out);
                let before = n.access;
                let from = n.health;
                n.health = *to;
                if from != *to {
                    out.push(Change::Health {
                        node: k.clone(),
                        from,
                        to: *to,
                    });
                }
                Self::access(&k, n, before, out);
            }
            _ => {}
        }
    }

    /// Forgets every node (the monitor stopped: nothing is known until it runs again).
    pub fn reset(&mut self, out: &mut Vec<Change>) {
        let keys: Vec<NodeKey> = self.nodes.keys().cloned().collect();
        for k in keys {
            self.forget(&k, out);
        }
    }

    fn touch(&mut self, k: &NodeKey, out: &mut Vec<Change>) -> &mut NodeNow {
        if !self.nodes.contains_key(k) {
            out.push(Change::Listed {
                node: k.clone(),
                listed: true,
            });
        }
        self.nodes.entry(k.clone()).or_default()
    }

    fn forget(&mut self, k: &NodeKey, out: &mut Vec<Change>) {
        let Some(n) = self.nodes.remove(k) else {
            return;
        };
        for c in n.candidates {
            out.push(Change::Candidate {
                node: k.clone(),
                cred: c.cred,
                label: c.label,
                from: Some(c.state),
                to: None,
                by_reload: false,
            });
        }
        out.push(Change::Listed {
            node: k.clone(),
            listed: false,
        });
    }

    fn set_candidate(
        &mut self,
        k: &NodeKey,
        candidate: &CandidateRef,
        to: Option<CandidateState>,
        by_reload: bool,
        out: &mut Vec<Change>,
    ) {
        let cred = CredKey::of(candidate);
        let n = self.touch(k, out);
        let before = n.access;
        let index = n.position(&cred);
        let from = index.map(|i| n.candidates[i].state);
        match (index, to) {
            (Some(i), Some(state)) => {
                n.candidates[i].state = state;
                n.candidates[i].label.clone_from(&candidate.label);
            }
            (Some(i), None) => {
                n.candidates.remove(i);
            }
            (None, Some(state)) => n.candidates.push(CandNow {
                cred: cred.clone(),
                label: candidate.label.clone(),
                state,
            }),
            (None, None) => return,
        }
        if from != to {
            out.push(Change::Candidate {
                node: k.clone(),
                cred,
                label: candidate.label.clone(),
                from,
                to,
                by_reload,
            });
        }
        Self::access(k, n, before, out);
    }

    fn access(k: &NodeKey, n: &mut NodeNow, before: Access, out: &mut Vec<Change>) {
        let after = n.derive_access();
        n.access = after;
        if after != before {
            out.push(Change::Access {
                node: k.clone(),
                from: before,
                to: after,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::probe::{ErrorKind, ProbeError};
    use crate::secret::Fingerprint;

    fn cand(login: &str, pw: &str) -> CandidateRef {
        CandidateRef {
            index: 0,
            login: login.into(),
            label: None,
            fingerprint: Fingerprint::with_key(b"k", pw),
        }
    }

    fn ev(kind: EventKind) -> Event {
        Event {
            at: DateTime::<chrono::Utc>::UNIX_EPOCH,
            kind,
        }
    }

    use chrono::DateTime;

    fn changed(c: CandidateRef, from: CandidateState, to: CandidateState) -> Event {
        ev(EventKind::CandidateChanged {
            island: IslandNo(0),
            node: "db".into(),
            candidate: c,
            from,
            to,
            error: (to != CandidateState::Valid).then(|| ProbeError {
                kind: ErrorKind::AuthFailed,
                sqlstate: None,
                message: String::new(),
            }),
        })
    }

    fn winner(from: Option<CandidateRef>, to: Option<CandidateRef>) -> Event {
        ev(EventKind::WinnerChanged {
            island: IslandNo(0),
            node: "db".into(),
            from,
            to,
        })
    }

    fn health(from: Health, to: Health) -> Event {
        ev(EventKind::HealthChanged {
            island: IslandNo(0),
            node: "db".into(),
            from,
            to,
            cause: None,
        })
    }

    fn accesses(changes: &[Change]) -> Vec<Access> {
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Access { to, .. } => Some(*to),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_candidate_refused_is_a_lockout_and_a_refused_winner_is_a_failover() {
        use CandidateState::*;
        let (a, b) = (cand("app_a", "1"), cand("app_b", "2"));
        let mut o = Observed::default();
        let mut out = Vec::new();
        o.apply(&changed(a.clone(), Untested, Valid), &mut out);
        o.apply(&winner(None, Some(a.clone())), &mut out);
        o.apply(&health(Health::Unknown, Health::Ok), &mut out);
        assert!(matches!(out[0], Change::Listed { listed: true, .. }));
        assert!(out.contains(&Change::Winner {
            node: key(IslandNo(0), "db"),
            to: Some(CredKey::of(&a)),
            why: Why::First
        }));
        assert_eq!(accesses(&out), [Access::Ok]);

        out.clear();
        o.apply(&changed(a.clone(), Valid, Invalid), &mut out);
        o.apply(&changed(b.clone(), Untested, Valid), &mut out);
        o.apply(&winner(Some(a.clone()), Some(b.clone())), &mut out);
        assert!(out.iter().any(|c| matches!(
            c,
            Change::Winner {
                why: Why::Failover,
                ..
            }
        )));

        out.clear();
        o.apply(&changed(b.clone(), Valid, Invalid), &mut out);
        o.apply(&winner(Some(b.clone()), None), &mut out);
        assert_eq!(
            accesses(&out),
            [],
            "access follows the health, which comes next"
        );
        o.apply(&health(Health::Degraded, Health::Down), &mut out);
        assert_eq!(accesses(&out), [Access::LockedOut]);

        out.clear();
        o.apply(&changed(a.clone(), Invalid, Unreachable), &mut out);
        assert_eq!(accesses(&out), [Access::Unreachable]);

        out.clear();
        o.reset(&mut out);
        let left: Vec<_> = out
            .iter()
            .filter(|c| matches!(c, Change::Candidate { to: None, .. }))
            .collect();
        assert_eq!(left.len(), 2);
        assert!(o.nodes().next().is_none());
    }
}
