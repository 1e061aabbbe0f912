//! From the raw config and the resolved secrets to a validated [`Topology`].
//!
//! - Compact form: island `no` = index in `islands`; each connection string is a node named by the
//!   string with any password removed; its candidates are the secrets in order (or, with no
//!   secrets at all, the URL's own user and password).
//! - Explicit form: `[[island]]` tables; `[[island.node]]` entries that share a `name` (default:
//!   the url with any password removed) in one island are one node, its candidates in file order;
//!   `login`/`password` default to the URL's. A `name` that carries a password (a pasted URL with
//!   `user:password@`, or `password=...`) is refused with an error that does not quote it: names
//!   are shown everywhere, and silently rewriting one would hide the mistake.
//! - Both forms merge by island `no`: the compact nodes first, then the explicit ones; a name seen
//!   in both is one node.
//! - A candidate whose identity (node name, login, password fingerprint) repeats one before it in
//!   the same node is dropped: the first one stays.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::secret::Password;
use crate::topology::{
    Candidate, CandidateId, ConnTarget, Island, IslandNo, Node, NodeKey, Topology,
};

use super::conn::{self, ConnError, ParsedConn};
use super::error::{ConfigError, KeyPath, Origin};
use super::load::Loader;
use super::redact::Redactor;
use super::schema::RawConfig;
use super::secrets::Secret;

/// An island being assembled.
struct IslandDraft {
    no: IslandNo,
    nodes: Vec<NodeDraft>,
    /// Node name -> index in `nodes` (lookups stay O(1) with many nodes and secrets).
    by_name: HashMap<Arc<str>, usize>,
}

/// A node being assembled, with the key of its first entry (for error messages).
struct NodeDraft {
    name: Arc<str>,
    key: KeyPath,
    address: String,
    candidates: Vec<Candidate>,
    /// Identities in `candidates`, for the O(1) de-duplication.
    ids: HashSet<CandidateId>,
}

impl IslandDraft {
    fn new(no: IslandNo) -> Self {
        IslandDraft {
            no,
            nodes: Vec::new(),
            by_name: HashMap::new(),
        }
    }

    /// Adds a candidate to the node called `name`, creating the node on first sight.
    fn add(&mut self, name: &str, key: &KeyPath, target: &Arc<ConnTarget>, cred: Cred) {
        let pos = match self.by_name.get(name) {
            Some(p) => *p,
            None => {
                let name: Arc<str> = name.into();
                self.by_name.insert(name.clone(), self.nodes.len());
                self.nodes.push(NodeDraft {
                    name,
                    key: key.clone(),
                    address: target.display.clone(),
                    candidates: Vec::new(),
                    ids: HashSet::new(),
                });
                self.nodes.len() - 1
            }
        };
        let node = &mut self.nodes[pos];
        let candidate = Candidate::new(
            node.name.clone(),
            target.clone(),
            cred.login,
            cred.password,
            cred.label,
        );
        if node.ids.insert(candidate.id.clone()) {
            node.candidates.push(candidate);
        }
    }
}

/// One login/password/label to try.
struct Cred {
    login: String,
    password: Password,
    label: Option<String>,
}

impl Loader<'_> {
    /// Builds and validates the topology of both forms.
    pub async fn topology(
        &mut self,
        raw: &RawConfig,
        secrets: &[Secret],
    ) -> Result<Topology, ConfigError> {
        self.check_secrets_are_used(raw)?;
        let mut drafts: Vec<IslandDraft> = Vec::new();
        self.compact_islands(raw, secrets, &mut drafts)?;
        self.explicit_islands(raw, &mut drafts).await?;
        drafts.sort_by_key(|d| d.no);
        if drafts.is_empty() {
            return Err(ConfigError::NoIslands {
                at: Origin::file(&self.doc.path),
            });
        }
        let mut seen: HashMap<Arc<str>, IslandNo> = HashMap::new();
        for d in &drafts {
            for n in &d.nodes {
                if let Some(first) = seen.insert(n.name.clone(), d.no) {
                    return Err(ConfigError::DuplicateNode {
                        at: self.at(&n.key),
                        key: n.key.clone(),
                        name: n.name.to_string(),
                        first,
                        second: d.no,
                    });
                }
            }
        }
        let islands = drafts
            .into_iter()
            .map(|d| Island {
                no: d.no,
                nodes: d
                    .nodes
                    .into_iter()
                    .map(|n| Node {
                        key: NodeKey {
                            island: d.no,
                            name: n.name,
                        },
                        address: n.address,
                        candidates: n.candidates,
                    })
                    .collect(),
            })
            .collect();
        Ok(Topology { islands })
    }

    /// Secrets feed the compact form only; given without it they would silently do nothing.
    fn check_secrets_are_used(&self, raw: &RawConfig) -> Result<(), ConfigError> {
        if !raw.islands.is_empty() {
            return Ok(());
        }
        let source = if !raw.secrets.is_empty() {
            Some("secrets")
        } else if raw.secrets_file.is_some() {
            Some("secrets_file")
        } else if raw.secrets_command.is_some() {
            Some("secrets_command")
        } else {
            None
        };
        match source {
            Some(k) => {
                let key = KeyPath::root().key(k);
                Err(ConfigError::UnusedSecrets {
                    at: self.at(&key),
                    key,
                })
            }
            None => Ok(()),
        }
    }

    fn compact_islands(
        &mut self,
        raw: &RawConfig,
        secrets: &[Secret],
        drafts: &mut Vec<IslandDraft>,
    ) -> Result<(), ConfigError> {
        for (i, conns) in raw.islands.iter().enumerate() {
            let ikey = KeyPath::root().key("islands").index(i);
            let no = IslandNo(u32::try_from(i).unwrap_or(u32::MAX));
            if conns.is_empty() {
                return Err(ConfigError::EmptyIsland {
                    at: self.at(&ikey),
                    key: ikey,
                    no,
                });
            }
            let mut draft = IslandDraft::new(no);
            for (j, s) in conns.iter().enumerate() {
                let key = ikey.index(j);
                let parsed = self.conn(&key, s)?;
                let target = Arc::new(parsed.target);
                let name = target.display.clone();
                if secrets.is_empty() {
                    let login = parsed.user.ok_or_else(|| self.no_login(&key, &name))?;
                    let login = self.login(&key, &login)?;
                    let password = parsed
                        .password
                        .ok_or_else(|| self.no_password(&key, &name, &login))?;
                    let cred = Cred {
                        login,
                        password,
                        label: None,
                    };
                    draft.add(&name, &key, &target, cred);
                }
                for s in secrets {
                    let cred = Cred {
                        login: s.login.clone(),
                        password: s.password.clone(),
                        label: s.label.clone(),
                    };
                    draft.add(&name, &key, &target, cred);
                }
            }
            drafts.push(draft);
        }
        Ok(())
    }

    async fn explicit_islands(
        &mut self,
        raw: &RawConfig,
        drafts: &mut Vec<IslandDraft>,
    ) -> Result<(), ConfigError> {
        let mut explicit_nos: Vec<IslandNo> = Vec::new();
        for (k, island) in raw.island.iter().enumerate() {
            let ikey = KeyPath::root().key("island").index(k);
            let no = IslandNo(island.no);
            if explicit_nos.contains(&no) {
                let key = ikey.key("no");
                return Err(ConfigError::DuplicateIsland {
                    at: self.at(&key),
                    key,
                    no,
                });
            }
            explicit_nos.push(no);
            if island.node.is_empty() {
                return Err(ConfigError::EmptyIsland {
                    at: self.at(&ikey),
                    key: ikey,
                    no,
                });
            }
            let pos = match drafts.iter().position(|d| d.no == no) {
                Some(p) => p,
                None => {
                    drafts.push(IslandDraft::new(no));
                    drafts.len() - 1
                }
            };
            for (m, n) in island.node.iter().enumerate() {
                let key = ikey.key("node").index(m);
                let parsed = self.conn(&key.key("url"), &n.url)?;
                let target = Arc::new(parsed.target);
                let name = match &n.name {
                    Some(name) if name.trim().is_empty() => {
                        let key = key.key("name");
                        return Err(ConfigError::InvalidValue {
                            at: self.at(&key),
                            key,
                            expected: "a node name".into(),
                            found: "an empty string".into(),
                        });
                    }
                    // Names are shown everywhere (screen, events, JSON): a pasted URL with its
                    // password is refused rather than quietly rewritten.
                    Some(name) if Redactor::carries_secret(name) => {
                        let key = key.key("name");
                        return Err(ConfigError::InvalidValue {
                            at: self.at(&key),
                            key,
                            expected: "a node name without a password (leave `name` out to name \
                                       the node by its url without the password)"
                                .into(),
                            found: "a name that carries a password".into(),
                        });
                    }
                    Some(name) => name.clone(),
                    None => target.display.clone(),
                };
                let login = match &n.login {
                    Some(l) => self.login(&key.key("login"), l)?,
                    None => self.login(
                        &key.key("url"),
                        &parsed
                            .user
                            .clone()
                            .ok_or_else(|| self.no_login(&key, &name))?,
                    )?,
                };
                let password = self
                    .password_from(
                        &key,
                        n.password.as_deref(),
                        n.password_env.as_deref(),
                        n.password_file.as_deref(),
                    )
                    .await?
                    .or(parsed.password);
                let password = password.ok_or_else(|| self.no_password(&key, &name, &login))?;
                let cred = Cred {
                    login,
                    password,
                    label: n.label.clone(),
                };
                drafts[pos].add(&name, &key, &target, cred);
            }
        }
        Ok(())
    }

    fn no_login(&self, key: &KeyPath, node: &str) -> ConfigError {
        ConfigError::NoLogin {
            at: self.at(key),
            key: key.clone(),
            node: node.to_owned(),
        }
    }

    fn no_password(&self, key: &KeyPath, node: &str, login: &str) -> ConfigError {
        ConfigError::NoPassword {
            at: self.at(key),
            key: key.clone(),
            node: node.to_owned(),
            login: login.to_owned(),
        }
    }

    /// Parses a connection string at `key`; its password joins the redaction list first.
    fn conn(&mut self, key: &KeyPath, s: &str) -> Result<ParsedConn, ConfigError> {
        self.redactor.harvest_conn(s);
        conn::parse(s, &self.base_dir).map_err(|e| match e {
            ConnError::SslMode(v) => ConfigError::BadSslMode {
                at: self.at(key),
                key: key.clone(),
                value: self.redactor.redact(&v),
            },
            ConnError::Invalid(r) => ConfigError::BadConnString {
                at: self.at(key),
                key: key.clone(),
                reason: self.redactor.redact(&r),
            },
        })
    }
}
