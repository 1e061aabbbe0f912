//! The `[state]` file's form of a [`History`]: compact arrays of change points, credentials
//! named once (by login, label and full fingerprint, never a password) and referred to by index.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Access, CredKey, History, NodeHistory, Run, Track, Why, WinnerMark};
use crate::engine::episodes::{EpisodeSummary, FailedAuths};
use crate::engine::snapshot::{CandidateState, Health};
use crate::secret::Fingerprint;
use crate::topology::{IslandNo, NodeKey};

/// A credential, named once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCred {
    /// Login.
    pub login: String,
    /// Label.
    pub label: Option<String>,
    /// The full fingerprint ([`Fingerprint::full_hex`]).
    pub fingerprint: String,
}

/// A track as saved: `[ms, value]` pairs, oldest first.
pub type Points<T> = Vec<(i64, T)>;

/// A winner as saved: the credential's index (`None`: no candidate worked) and why.
pub type SavedWinner = (Option<usize>, Why);

/// One node's tracks: `[ms, value]` pairs, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedNode {
    /// Island.
    pub island: IslandNo,
    /// Node name.
    pub node: String,
    /// Health.
    pub health: Points<Option<Health>>,
    /// Access.
    pub access: Points<Option<Access>>,
    /// Winner, `null` while unknown.
    pub winner: Points<Option<SavedWinner>>,
    /// Per credential index, its state.
    pub candidates: Vec<(usize, Points<Option<CandidateState>>)>,
    /// Failed authentications.
    pub failed_auths: FailedAuths,
}

/// A history as saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedHistory {
    /// Runs of the monitor.
    pub runs: Vec<Run>,
    /// Credentials referred to by index.
    pub credentials: Vec<SavedCred>,
    /// Nodes.
    pub nodes: Vec<SavedNode>,
    /// Finished episodes, oldest first.
    pub episodes: Vec<EpisodeSummary>,
}

fn points<T: Clone + PartialEq>(t: &Track<T>) -> Points<T> {
    t.iter().map(|p| (p.at, p.value.clone())).collect()
}

fn track<T: Clone + PartialEq>(points: Points<T>) -> Track<T> {
    let mut t = Track::default();
    for (at, value) in points {
        t.push(at, value);
    }
    t
}

impl History {
    /// The saved form.
    pub fn save(&self) -> SavedHistory {
        let mut index: BTreeMap<CredKey, usize> = BTreeMap::new();
        let mut credentials = Vec::new();
        let mut cred_index = |k: &CredKey, label: Option<&str>| -> usize {
            if let Some(&i) = index.get(k) {
                return i;
            }
            credentials.push(SavedCred {
                login: k.login.to_string(),
                label: label.map(str::to_owned),
                fingerprint: k.fingerprint.full_hex(),
            });
            index.insert(k.clone(), credentials.len() - 1);
            credentials.len() - 1
        };
        for (k, label) in self.credentials.iter() {
            cred_index(k, label.as_deref());
        }
        let nodes = self
            .nodes
            .iter()
            .map(|(key, n)| SavedNode {
                island: key.island,
                node: key.name.to_string(),
                health: points(&n.health),
                access: points(&n.access),
                winner: n
                    .winner
                    .iter()
                    .map(|p| {
                        let value = p
                            .value
                            .as_ref()
                            .map(|w| (w.cred.as_ref().map(|c| cred_index(c, None)), w.why));
                        (p.at, value)
                    })
                    .collect(),
                candidates: n
                    .candidates
                    .iter()
                    .map(|(k, t)| (cred_index(k, None), points(t)))
                    .collect(),
                failed_auths: n.failed_auths,
            })
            .collect();
        SavedHistory {
            runs: self.runs.to_vec(),
            credentials,
            nodes,
            episodes: self.episodes.iter().map(|e| (**e).clone()).collect(),
        }
    }

    /// A history from its saved form, keeping `horizon` and `max_points` like
    /// [`History::new`]. A credential index out of range is an error.
    pub fn restore(
        saved: SavedHistory,
        horizon: std::time::Duration,
        max_points: usize,
    ) -> Result<History, String> {
        let creds: Vec<CredKey> = saved
            .credentials
            .iter()
            .map(|c| {
                Ok(CredKey {
                    login: Arc::from(c.login.as_str()),
                    fingerprint: Fingerprint::from_full_hex(&c.fingerprint)
                        .ok_or_else(|| format!("bad fingerprint for {}", c.login))?,
                })
            })
            .collect::<Result<_, String>>()?;
        let cred = |i: usize| {
            creds
                .get(i)
                .cloned()
                .ok_or_else(|| format!("credential {i} is not listed"))
        };
        let mut h = History::new(horizon, max_points);
        h.runs = Arc::new(saved.runs);
        h.credentials = Arc::new(
            saved
                .credentials
                .iter()
                .zip(&creds)
                .map(|(c, k)| (k.clone(), c.label.clone()))
                .collect(),
        );
        let mut nodes = BTreeMap::new();
        for n in saved.nodes {
            let mut candidates = BTreeMap::new();
            for (i, points) in n.candidates {
                candidates.insert(cred(i)?, track(points));
            }
            let mut winner = Track::default();
            for (at, value) in n.winner {
                let mark = match value {
                    Some((c, why)) => Some(WinnerMark {
                        cred: c.map(cred).transpose()?,
                        why,
                    }),
                    None => None,
                };
                winner.push(at, mark);
            }
            let key = NodeKey {
                island: n.island,
                name: Arc::from(n.node.as_str()),
            };
            nodes.insert(
                key,
                Arc::new(NodeHistory {
                    health: track(n.health),
                    access: track(n.access),
                    winner,
                    candidates,
                    failed_auths: n.failed_auths,
                }),
            );
        }
        h.nodes = Arc::new(nodes);
        h.tracks = h.nodes.values().map(|n| n.tracks()).sum();
        h.refold_all();
        h.episodes = Arc::new(saved.episodes.into_iter().map(Arc::new).collect());
        Ok(h)
    }
}
