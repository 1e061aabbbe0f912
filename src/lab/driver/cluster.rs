//! The demo cluster: islands of lab servers (a master and its streaming replicas), optionally a
//! PgBouncer in front of each island's master, the database every node serves, and the
//! operations the driver and its commands run on nodes.

use std::fmt;
use std::str::FromStr;

use futures::future::try_join_all;

use crate::lab::{
    Lab, LabError, PgBouncer, PoolMode, PoolerAuth, PoolerOptions, Server, ServerOptions,
};
use crate::secret::Password;

/// The database every lab node serves (and every candidate logs in to).
pub const DATABASE: &str = "app";

/// How many islands, and replicas per island.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Islands (each a master and its replicas).
    pub islands: usize,
    /// Streaming replicas per island.
    pub replicas: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            islands: 2,
            replicas: 1,
        }
    }
}

/// A PgBouncer in front of every island's master.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolerSettings {
    /// Session or transaction pooling.
    pub mode: PoolMode,
    /// `auth_query` (a new password is live at the pooler at once) or `auth_file` (the lab
    /// copies the verifiers into it and `RELOAD`s `lag` after each password change).
    pub auth: PoolerAuth,
    /// With `auth_file`: how long after a password change the pooler's copy catches up.
    pub lag: std::time::Duration,
}

/// One node as a config lists it: its own connection string (also its name) and, for a master
/// with a pooler in front, the pooler's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddresses {
    /// The server's own connection string, without credentials.
    pub direct: String,
    /// The pooler's connection string, when one is in front of this node.
    pub pooler: Option<String>,
}

/// A node by position: island index and index in that island's list (its order in the config).
/// Written `I.N`, e.g. `0.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeRef {
    /// Island index.
    pub island: usize,
    /// Position within the island.
    pub index: usize,
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.island, self.index)
    }
}

impl FromStr for NodeRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a node: write ISLAND.INDEX, e.g. 0.1");
        let (i, n) = s.split_once('.').ok_or_else(bad)?;
        Ok(NodeRef {
            island: i.parse().map_err(|_| bad())?,
            index: n.parse().map_err(|_| bad())?,
        })
    }
}

/// What a node is doing, as the driver sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Running, not in recovery.
    Master,
    /// Running, in recovery.
    Replica,
    /// Not running.
    Stopped,
    /// Running but not answering the superuser.
    Unreachable,
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeState::Master => "master",
            NodeState::Replica => "replica",
            NodeState::Stopped => "stopped",
            NodeState::Unreachable => "unreachable",
        })
    }
}

/// The lab's servers, island by island, and their poolers. Dropping it stops every one.
#[derive(Debug)]
pub struct DemoCluster {
    lab: Lab,
    shape: Shape,
    islands: Vec<Vec<Server>>,
    /// Per island, the PgBouncer in front of its master, and which node that is.
    poolers: Vec<Option<(PgBouncer, usize)>>,
}

impl Drop for DemoCluster {
    /// Stops every pooler, then every server, each on a thread of its own: a stop waits for its
    /// process to go (seconds for a busy one), so side by side a lab stops in the time of its
    /// slowest server, not the sum of them all.
    fn drop(&mut self) {
        let poolers: Vec<PgBouncer> = std::mem::take(&mut self.poolers)
            .into_iter()
            .flatten()
            .map(|(bouncer, _)| bouncer)
            .collect();
        let servers: Vec<Server> = std::mem::take(&mut self.islands)
            .into_iter()
            .flatten()
            .collect();
        std::thread::scope(|scope| {
            for pooler in poolers {
                scope.spawn(move || drop(pooler));
            }
        });
        std::thread::scope(|scope| {
            for server in servers {
                scope.spawn(move || drop(server));
            }
        });
    }
}

impl DemoCluster {
    /// Starts `shape` in `lab`, islands concurrently: each master gets [`DATABASE`] and `roles`
    /// before its replicas are copied from it.
    pub async fn start(
        lab: Lab,
        shape: Shape,
        roles: &[(&str, &Password)],
    ) -> Result<Self, LabError> {
        Self::start_with(lab, shape, roles, None).await
    }

    /// [`DemoCluster::start`], with a PgBouncer in front of each island's master when `pooler`
    /// says so.
    pub async fn start_with(
        lab: Lab,
        shape: Shape,
        roles: &[(&str, &Password)],
        pooler: Option<PoolerSettings>,
    ) -> Result<Self, LabError> {
        let islands =
            try_join_all((0..shape.islands).map(|_| start_island(&lab, shape, roles))).await?;
        let mut cluster = DemoCluster {
            poolers: (0..islands.len()).map(|_| None).collect(),
            lab,
            shape,
            islands,
        };
        if let Some(settings) = pooler {
            let options = PoolerOptions::default()
                .mode(settings.mode)
                .auth(settings.auth)
                .databases(&[DATABASE]);
            let started = try_join_all(
                cluster
                    .islands
                    .iter()
                    .map(|nodes| cluster.lab.start_pgbouncer(&nodes[0], options.clone())),
            )
            .await?;
            for (slot, bouncer) in cluster.poolers.iter_mut().zip(started) {
                *slot = Some((bouncer, 0));
            }
        }
        Ok(cluster)
    }

    /// The lab the servers live in.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// Each island's connection strings (no credentials), in order: the config's `islands`.
    pub fn conn_strings(&self) -> Vec<Vec<String>> {
        self.islands
            .iter()
            .map(|nodes| nodes.iter().map(|s| s.conn_string(DATABASE)).collect())
            .collect()
    }

    /// Each island's nodes with their pooler's connection string where one is in front.
    pub fn addresses(&self) -> Vec<Vec<NodeAddresses>> {
        self.islands
            .iter()
            .zip(&self.poolers)
            .map(|(nodes, pooler)| {
                nodes
                    .iter()
                    .enumerate()
                    .map(|(index, s)| NodeAddresses {
                        direct: s.conn_string(DATABASE),
                        pooler: pooler
                            .as_ref()
                            .filter(|(_, fronted)| *fronted == index)
                            .map(|(b, _)| b.conn_string(DATABASE)),
                    })
                    .collect()
            })
            .collect()
    }

    /// True when PgBouncers are in front of the masters.
    pub fn has_poolers(&self) -> bool {
        self.poolers.iter().any(Option::is_some)
    }

    /// The PgBouncer in front of `island`'s master, if any.
    pub fn pooler(&self, island: usize) -> Option<&PgBouncer> {
        self.poolers.get(island)?.as_ref().map(|(b, _)| b)
    }

    /// With `auth_file` poolers: copies every role's verifier from each island's master into its
    /// pooler and `RELOAD`s it. Returns the islands done (an island without a master waits).
    pub async fn sync_poolers(&self) -> Result<Vec<usize>, LabError> {
        let mut done = Vec::new();
        for (island, pooler) in self.poolers.iter().enumerate() {
            let Some((bouncer, _)) = pooler else { continue };
            if let Some((_, master)) = self.in_state(island, NodeState::Master).await.first() {
                bouncer.sync_auth_file(master).await?;
                done.push(island);
            }
        }
        Ok(done)
    }

    /// How many islands there are.
    pub fn island_count(&self) -> usize {
        self.islands.len()
    }

    /// The server at `node`.
    pub fn server(&self, node: NodeRef) -> Result<&Server, String> {
        self.islands
            .get(node.island)
            .ok_or_else(|| format!("there is no island {}", node.island))?
            .get(node.index)
            .ok_or_else(|| format!("island {} has no node {node}", node.island))
    }

    /// Every postmaster and pooler pid running now (tests check none survives the lab).
    pub fn pids(&self) -> Vec<u32> {
        let servers = self.islands.iter().flatten().filter_map(Server::pid);
        let poolers = self.poolers.iter().flatten().filter_map(|(b, _)| b.pid());
        servers.chain(poolers).collect()
    }

    /// What `node` is doing now.
    pub async fn state(&self, node: NodeRef) -> Result<NodeState, String> {
        Ok(state_of(self.server(node)?).await)
    }

    /// The nodes of `island` in `state` now, in order.
    async fn in_state(&self, island: usize, state: NodeState) -> Vec<(NodeRef, &Server)> {
        let mut found = Vec::new();
        for (index, server) in self.islands.get(island).into_iter().flatten().enumerate() {
            if state_of(server).await == state {
                found.push((NodeRef { island, index }, server));
            }
        }
        found
    }

    /// The nodes of `island` that are masters now (several in a split brain).
    pub async fn masters(&self, island: usize) -> Vec<NodeRef> {
        let masters = self.in_state(island, NodeState::Master).await;
        masters.into_iter().map(|(node, _)| node).collect()
    }

    /// The first running replica of `island`.
    pub async fn first_replica(&self, island: usize) -> Option<NodeRef> {
        let replicas = self.in_state(island, NodeState::Replica).await;
        replicas.first().map(|(node, _)| *node)
    }

    /// Sets `login`'s password on every master of `island`; returns how many took it (0: the
    /// island has no master right now).
    pub async fn set_password(
        &self,
        island: usize,
        login: &str,
        password: &Password,
    ) -> Result<usize, LabError> {
        let masters = self.in_state(island, NodeState::Master).await;
        for (_, server) in &masters {
            server.set_password(login, password.expose()).await?;
        }
        Ok(masters.len())
    }

    /// Stops a node (`pg_ctl stop -m fast`).
    pub async fn stop(&self, node: NodeRef) -> Result<(), String> {
        let server = self.server(node)?;
        if !server.is_running() {
            return Err(format!("{node} is not running"));
        }
        server.stop().await.map_err(|e| e.to_string())
    }

    /// Starts a stopped node on its old port.
    pub async fn start_node(&self, node: NodeRef) -> Result<(), String> {
        let server = self.server(node)?;
        if server.is_running() {
            return Err(format!("{node} is running already"));
        }
        server.start().await.map_err(|e| e.to_string())
    }

    /// Promotes a replica to master.
    pub async fn promote(&self, node: NodeRef) -> Result<(), String> {
        match self.state(node).await? {
            NodeState::Replica => self
                .server(node)?
                .promote()
                .await
                .map_err(|e| e.to_string()),
            other => Err(format!("{node} is {other}, not a replica")),
        }
    }

    /// After a failover: removes the island's stopped nodes (their servers and directories go)
    /// and copies new replicas from its master until it has the shape's replica count again.
    /// Returns the connection strings removed and added.
    pub async fn rebuild(&mut self, island: usize) -> Result<(Vec<String>, Vec<String>), String> {
        let masters = self.masters(island).await;
        let [master] = masters[..] else {
            return Err(format!(
                "island {island} needs exactly one master to rebuild, it has {}",
                masters.len()
            ));
        };
        let nodes = self
            .islands
            .get_mut(island)
            .ok_or_else(|| format!("there is no island {island}"))?;
        // The master goes first: the config lists an island's master first.
        let master_server = nodes.remove(master.index);
        let (kept, gone): (Vec<Server>, Vec<Server>) =
            nodes.drain(..).partition(Server::is_running);
        let removed = gone.iter().map(|s| s.conn_string(DATABASE)).collect();
        drop(gone);
        nodes.push(master_server);
        nodes.extend(kept);
        // The pooler follows the master (its config names the new backend; RELOAD).
        if let Some((bouncer, fronted)) = self.poolers.get_mut(island).and_then(Option::as_mut) {
            bouncer
                .repoint(&nodes[0])
                .await
                .map_err(|e| e.to_string())?;
            *fronted = 0;
        }
        let mut added = Vec::new();
        while nodes.len() < 1 + self.shape.replicas {
            let replica = nodes[0].start_replica().await.map_err(|e| e.to_string())?;
            added.push(replica.conn_string(DATABASE));
            nodes.push(replica);
        }
        Ok((removed, added))
    }

    /// One line per node: `0.1 127.0.0.1:5433 replica`.
    pub async fn status(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (island, nodes) in self.islands.iter().enumerate() {
            for (index, server) in nodes.iter().enumerate() {
                let node = NodeRef { island, index };
                let state = state_of(server).await;
                lines.push(format!("{node} 127.0.0.1:{} {state}", server.port()));
            }
            if let Some((bouncer, fronted)) = &self.poolers[island] {
                let state = if bouncer.is_running() {
                    "running"
                } else {
                    "stopped"
                };
                lines.push(format!(
                    "{island} pgbouncer 127.0.0.1:{} {state}, in front of {island}.{fronted}",
                    bouncer.port()
                ));
            }
        }
        lines
    }
}

/// Creates one island: its master with the database and roles, then its replicas.
async fn start_island(
    lab: &Lab,
    shape: Shape,
    roles: &[(&str, &Password)],
) -> Result<Vec<Server>, LabError> {
    // WAL kept for a while, so a replica stopped by hand can catch up when started again.
    let options = ServerOptions::default().setting("wal_keep_size", "'64MB'");
    let master = lab.start_server(options).await?;
    master.create_database(DATABASE).await?;
    for (login, password) in roles {
        master.create_role(login, password.expose()).await?;
    }
    let mut nodes = vec![master];
    for _ in 0..shape.replicas {
        let replica = nodes[0].start_replica().await?;
        nodes.push(replica);
    }
    Ok(nodes)
}

async fn state_of(server: &Server) -> NodeState {
    if !server.is_running() {
        return NodeState::Stopped;
    }
    match server.query_one("SELECT pg_is_in_recovery()").await {
        Ok(row) => match row.try_get::<_, bool>(0) {
            Ok(true) => NodeState::Replica,
            Ok(false) => NodeState::Master,
            Err(_) => NodeState::Unreachable,
        },
        Err(_) => NodeState::Unreachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_refs_parse_and_print_as_island_dot_index() {
        let n: NodeRef = "1.0".parse().unwrap();
        assert_eq!(
            n,
            NodeRef {
                island: 1,
                index: 0
            }
        );
        assert_eq!(n.to_string(), "1.0");
        for bad in ["1", "a.0", "0.", "0.1.2", ""] {
            let err = bad.parse::<NodeRef>().unwrap_err();
            assert!(err.contains("ISLAND.INDEX"), "{bad}: {err}");
        }
    }
}
