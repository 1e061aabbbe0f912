//! From the raw config and the resolved secrets to a validated [`Topology`].
//!
//! - Compact form: island `no` = index in `islands`; each connection string is a node named by the
//!   string with any password removed; its candidates are the secrets in order (or, with no
//!   secrets at all, the string's own user and password, the password possibly from the password
//!   file). A multi-host string (`host=a,b`, `postgres://a:1,b:2/db`) makes one node per host,
//!   named by that host's `host:port` (or socket path).
//! - Explicit form: `[[island]]` tables; `[[island.node]]` entries that share a `name` (default:
//!   the url with any password removed) in one island are one node, its candidates in file order;
//!   `login`/`password` default to the URL's (the password possibly from the password file); a
//!   multi-host url makes one node per host and takes no `name`. A `name` that carries a password (a pasted URL with
//!   `user:password@`, or `password=...`) is refused with an error that does not quote it: names
//!   are shown everywhere, and silently rewriting one would hide the mistake.
//! - Both forms merge by island `no`: the compact nodes first, then the explicit ones; a name seen
//!   in both is one node.
//! - A candidate whose identity (node name, address, login, password fingerprint) repeats one
//!   before it in the same node is dropped: the first one stays. The same login and password
//!   through a pooler's port and the server's own are two candidates.
//! - `via` (explicit form) names what an entry's connection goes through (`pgbouncer`, `direct`):
//!   a short name of letters, digits, `-`, `_` and `.`.
//! - `allow_auth` (`[probe]`, or the entry's own) narrowed by the string's `require_auth` is each
//!   target's authentication policy; nothing left is an error naming both.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::secret::Password;
use crate::topology::{
    AuthMethod, AuthPolicy, Candidate, CandidateId, ConnTarget, Island, IslandNo, Node, NodeKey,
    Source, Topology,
};

use super::conn::{AllowAuth, ConnFiles};
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
        let mut candidate = Candidate::new(
            node.name.clone(),
            target.clone(),
            cred.login,
            cred.password,
            cred.label,
        );
        candidate.via = cred.via;
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
    via: Option<String>,
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
        let mut files = ConnFiles::default();
        self.compact_islands(raw, secrets, &mut files, &mut drafts)
            .await?;
        self.explicit_islands(raw, &mut files, &mut drafts).await?;
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

    async fn compact_islands(
        &mut self,
        raw: &RawConfig,
        secrets: &[Secret],
        files: &mut ConnFiles,
        drafts: &mut Vec<IslandDraft>,
    ) -> Result<(), ConfigError> {
        let allow = self.allow_auth(raw.probe.allow_auth.as_deref(), None)?;
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
                let mut parsed = self.conn(&key, s, &allow, files).await?;
                let mut hosts = std::mem::take(&mut parsed.hosts);
                for host in &mut hosts {
                    if secrets.is_empty() {
                        let login = parsed
                            .user
                            .clone()
                            .ok_or_else(|| self.no_login(&key, &host.name))?;
                        let login = self.login(&key, &login)?;
                        let password = match &parsed.password {
                            Some(p) => Some(p.clone()),
                            None => {
                                self.passfile_password(&key, &parsed, host, &login, files)
                                    .await?
                            }
                        };
                        let password =
                            password.ok_or_else(|| self.no_password(&key, &host.name, &login))?;
                        let target = Arc::new(host.target.clone());
                        let cred = Cred {
                            login,
                            password,
                            label: None,
                            via: None,
                        };
                        draft.add(&host.name, &key, &target, cred);
                    } else {
                        let target = Arc::new(host.target.clone());
                        for s in secrets {
                            let cred = Cred {
                                login: s.login.clone(),
                                password: s.password.clone(),
                                label: s.label.clone(),
                                via: None,
                            };
                            draft.add(&host.name, &key, &target, cred);
                        }
                    }
                }
            }
            drafts.push(draft);
        }
        Ok(())
    }

    async fn explicit_islands(
        &mut self,
        raw: &RawConfig,
        files: &mut ConnFiles,
        drafts: &mut Vec<IslandDraft>,
    ) -> Result<(), ConfigError> {
        let probe_allow = self.allow_auth(raw.probe.allow_auth.as_deref(), None)?;
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
                let allow = match &n.allow_auth {
                    Some(list) => self.allow_auth(Some(list), Some(&key.key("allow_auth")))?,
                    None => probe_allow.clone(),
                };
                let mut parsed = self.conn(&key.key("url"), &n.url, &allow, files).await?;
                let multi = parsed.hosts.len() > 1;
                let mut hosts = std::mem::take(&mut parsed.hosts);
                for host in &mut hosts {
                    let name = match &n.name {
                        Some(_) if multi => {
                            let key = key.key("name");
                            return Err(ConfigError::InvalidValue {
                                at: self.at(&key),
                                key,
                                expected: "no `name` with a multi-host url (each host becomes its \
                                           own node, named by its host:port)"
                                    .into(),
                                found: "a name".into(),
                            });
                        }
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
                                expected:
                                    "a node name without a password (leave `name` out to name \
                                           the node by its url without the password)"
                                        .into(),
                                found: "a name that carries a password".into(),
                            });
                        }
                        Some(name) => name.clone(),
                        None => host.name.clone(),
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
                    let mut password = self
                        .password_from(
                            &key,
                            n.password.as_deref(),
                            n.password_env.as_deref(),
                            n.password_file.as_deref(),
                        )
                        .await?
                        .or_else(|| parsed.password.clone());
                    if password.is_none() {
                        password = self
                            .passfile_password(&key.key("url"), &parsed, host, &login, files)
                            .await?;
                    }
                    let password = password.ok_or_else(|| self.no_password(&key, &name, &login))?;
                    let via = match &n.via {
                        Some(via) if !valid_via(via) => {
                            let key = key.key("via");
                            return Err(ConfigError::InvalidValue {
                                at: self.at(&key),
                                key,
                                expected: "a short name for the path, e.g. \"pgbouncer\" or \
                                           \"direct\" (1 to 32 letters, digits, `-`, `_`, `.`)"
                                    .into(),
                                found: format!("{:?}", via.chars().take(40).collect::<String>()),
                            });
                        }
                        via => via.clone(),
                    };
                    let cred = Cred {
                        login,
                        password,
                        label: n.label.clone(),
                        via,
                    };
                    let target = Arc::new(host.target.clone());
                    drafts[pos].add(&name, &key, &target, cred);
                }
            }
        }
        Ok(())
    }

    /// `allow_auth` at `key` (`None`: `[probe] allow_auth`): the methods, validated; the default
    /// is SCRAM only.
    fn allow_auth(
        &self,
        list: Option<&[String]>,
        key: Option<&KeyPath>,
    ) -> Result<AllowAuth, ConfigError> {
        let probe_key = KeyPath::root().key("probe").key("allow_auth");
        let key = key.unwrap_or(&probe_key);
        let Some(list) = list else {
            return Ok(AllowAuth {
                methods: AuthPolicy::default().allowed,
                source: Source::Default,
            });
        };
        let expected = "a list of scram-sha-256, md5, password, none (at least one)";
        let mut methods = Vec::with_capacity(list.len());
        for (i, name) in list.iter().enumerate() {
            let Some(m) = AuthMethod::parse(name) else {
                let key = key.index(i);
                return Err(ConfigError::InvalidValue {
                    at: self.at(&key),
                    key,
                    expected: expected.into(),
                    found: format!("\"{}\"", self.redactor.redact(name)),
                });
            };
            if !methods.contains(&m) {
                methods.push(m);
            }
        }
        if methods.is_empty() {
            return Err(ConfigError::InvalidValue {
                at: self.at(key),
                key: key.clone(),
                expected: expected.into(),
                found: "an empty list".into(),
            });
        }
        Ok(AllowAuth {
            methods,
            source: Source::Config(key.to_string()),
        })
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
}

/// A `via` value: 1 to 32 ASCII letters, digits, `-`, `_` or `.` (it is shown everywhere).
fn valid_via(via: &str) -> bool {
    (1..=32).contains(&via.len())
        && via
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
