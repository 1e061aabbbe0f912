//! The cluster as the config describes it: islands → nodes → candidates, in config order.
//!
//! A node is identified by its island and its name; a candidate by its node name, address, login
//! and password fingerprint, so a changed password is a new candidate, and one login with one
//! password tried through a pooler and directly (two entries of one node) is two candidates. [`Topology::diff`] compares two
//! topologies by these keys, which is how the engine reconciles a hot reload without losing the
//! history, winner and remembered best of what did not change.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::secret::{Fingerprint, Password};

mod target;

pub use target::{
    AuthMethod, AuthPolicy, CertFile, ChannelBinding, ClientCert, ConnTarget, CrlFile, Deadlines,
    Endpoint, Provenance, SessionAttrs, Source, SslMode, TlsSettings, DEFAULT_PORT,
};

/// An island's number (`no` in the config): the index in the compact form, explicit otherwise.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct IslandNo(pub u32);

impl fmt::Display for IslandNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A node's identity: its island and its name (unique within the whole cluster).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    /// The island the node belongs to.
    pub island: IslandNo,
    /// The node's name: the redacted connection string unless the config names it.
    pub name: Arc<str>,
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.island, self.name)
    }
}

/// A candidate's identity: (node name, address, login, password fingerprint).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CandidateId {
    /// The node's name.
    pub node: Arc<str>,
    /// Where it connects: its target's connection string without password
    /// ([`ConnTarget::display`]). The node's name in the compact form; entries of one node
    /// may differ (a pooler's port and the server's own).
    pub address: Arc<str>,
    /// The login (PostgreSQL role) used.
    pub login: String,
    /// The fingerprint of the password used.
    pub fingerprint: Fingerprint,
}

/// One way to log in to a node.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Identity (node name, login, fingerprint).
    pub id: CandidateId,
    /// Where to connect (entries of one node may differ, e.g. a pooler and a direct port).
    pub target: Arc<ConnTarget>,
    /// The login to present.
    pub login: String,
    /// The password to present; never printed.
    pub password: Password,
    /// A human label from the config (`previous`, `current`, a secret's name), if any.
    pub label: Option<String>,
    /// What the config says this candidate's connection goes through (`via` of an
    /// `[[island.node]]` entry: `pgbouncer`, `direct`, a pooler's name), if it says. The probe
    /// finds the real route on its own ([`Route`](crate::engine::probe::Route)).
    pub via: Option<String>,
}

impl Candidate {
    /// A candidate of node `node`; its identity follows from the node, login and password.
    pub fn new(
        node: Arc<str>,
        target: Arc<ConnTarget>,
        login: impl Into<String>,
        password: Password,
        label: Option<String>,
    ) -> Candidate {
        let login = login.into();
        Candidate {
            id: CandidateId {
                node,
                address: target.display.as_str().into(),
                login: login.clone(),
                fingerprint: password.fingerprint(),
            },
            target,
            login,
            password,
            label,
            via: None,
        }
    }
}

/// One PostgreSQL server of an island, with its candidates in config order.
#[derive(Clone, Debug)]
pub struct Node {
    /// Identity.
    pub key: NodeKey,
    /// The redacted connection string of the first candidate, for display.
    pub address: String,
    /// Candidates in config order (at least one, no two with the same identity).
    pub candidates: Vec<Candidate>,
}

/// One shard group: a master and its replicas, in config order (roles are probed, not configured).
#[derive(Clone, Debug)]
pub struct Island {
    /// The island's number.
    pub no: IslandNo,
    /// Its nodes, in config order (at least one).
    pub nodes: Vec<Node>,
}

/// Everything one config describes, islands sorted by `no`.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// The islands, sorted by `no`.
    pub islands: Vec<Island>,
}

/// What changed between two topologies, by keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopologyDiff {
    /// Nodes only in the new topology.
    pub added_nodes: Vec<NodeKey>,
    /// Nodes only in the old topology.
    pub removed_nodes: Vec<NodeKey>,
    /// Nodes in both.
    pub kept_nodes: Vec<NodeKey>,
    /// Candidates only in the new topology (including those of added nodes).
    pub added_candidates: Vec<CandidateId>,
    /// Candidates only in the old topology (including those of removed nodes).
    pub removed_candidates: Vec<CandidateId>,
}

impl TopologyDiff {
    /// True when nothing was added or removed.
    pub fn is_empty(&self) -> bool {
        self.added_nodes.is_empty()
            && self.removed_nodes.is_empty()
            && self.added_candidates.is_empty()
            && self.removed_candidates.is_empty()
    }
}

impl Topology {
    /// Every node, island by island, in config order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.islands.iter().flat_map(|i| i.nodes.iter())
    }

    /// The node with this key.
    pub fn node(&self, key: &NodeKey) -> Option<&Node> {
        self.islands
            .iter()
            .find(|i| i.no == key.island)?
            .nodes
            .iter()
            .find(|n| n.key == *key)
    }

    /// Every password in the topology, for [`crate::secret::redact_all`].
    pub fn passwords(&self) -> impl Iterator<Item = &Password> {
        self.nodes()
            .flat_map(|n| n.candidates.iter().map(|c| &c.password))
    }

    /// What `new` adds to, removes from and keeps of `self`, by node and candidate keys.
    pub fn diff(&self, new: &Topology) -> TopologyDiff {
        let old_nodes: HashSet<&NodeKey> = self.nodes().map(|n| &n.key).collect();
        let new_nodes: HashSet<&NodeKey> = new.nodes().map(|n| &n.key).collect();
        let old_cands: HashSet<(&IslandNo, &CandidateId)> = self
            .nodes()
            .flat_map(|n| n.candidates.iter().map(move |c| (&n.key.island, &c.id)))
            .collect();
        let new_cands: HashSet<(&IslandNo, &CandidateId)> = new
            .nodes()
            .flat_map(|n| n.candidates.iter().map(move |c| (&n.key.island, &c.id)))
            .collect();
        let mut diff = TopologyDiff::default();
        for n in new.nodes() {
            if old_nodes.contains(&n.key) {
                diff.kept_nodes.push(n.key.clone());
            } else {
                diff.added_nodes.push(n.key.clone());
            }
            for c in &n.candidates {
                if !old_cands.contains(&(&n.key.island, &c.id)) {
                    diff.added_candidates.push(c.id.clone());
                }
            }
        }
        for n in self.nodes() {
            if !new_nodes.contains(&n.key) {
                diff.removed_nodes.push(n.key.clone());
            }
            for c in &n.candidates {
                if !new_cands.contains(&(&n.key.island, &c.id)) {
                    diff.removed_candidates.push(c.id.clone());
                }
            }
        }
        diff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(island: u32, name: &str, creds: &[(&str, &str)]) -> Node {
        let target = Arc::new(ConnTarget::tcp("h", 5432, "postgres", name));
        let name: Arc<str> = name.into();
        Node {
            key: NodeKey {
                island: IslandNo(island),
                name: name.clone(),
            },
            address: name.to_string(),
            candidates: creds
                .iter()
                .map(|(login, pw)| {
                    Candidate::new(
                        name.clone(),
                        target.clone(),
                        *login,
                        Password::new(*pw),
                        None,
                    )
                })
                .collect(),
        }
    }

    fn topo(nodes: Vec<Node>) -> Topology {
        let mut islands: Vec<Island> = Vec::new();
        for n in nodes {
            match islands.iter_mut().find(|i| i.no == n.key.island) {
                Some(i) => i.nodes.push(n),
                None => islands.push(Island {
                    no: n.key.island,
                    nodes: vec![n],
                }),
            }
        }
        Topology { islands }
    }

    #[test]
    fn a_changed_password_is_a_new_candidate_and_the_node_is_kept() {
        let old = topo(vec![
            node(0, "a", &[("app", "pw1")]),
            node(0, "b", &[("app", "pw1")]),
        ]);
        let new = topo(vec![
            node(0, "a", &[("app", "pw2")]),
            node(1, "c", &[("app", "pw1")]),
        ]);
        let d = old.diff(&new);
        assert_eq!(d.kept_nodes.len(), 1);
        assert_eq!(&*d.kept_nodes[0].name, "a");
        assert_eq!(&*d.added_nodes[0].name, "c");
        assert_eq!(&*d.removed_nodes[0].name, "b");
        assert_eq!(d.added_candidates.len(), 2);
        assert_eq!(d.removed_candidates.len(), 2);
        assert!(old.diff(&old).is_empty());
    }

    #[test]
    fn debug_output_carries_no_password() {
        let t = topo(vec![node(0, "a", &[("app", "sekrit-value")])]);
        assert!(!format!("{t:?}").contains("sekrit-value"));
    }
}
