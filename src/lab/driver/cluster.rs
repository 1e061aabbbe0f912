//! The demo cluster: islands of lab servers (a master and its streaming replicas), the database
//! every node serves, and the operations the driver and its commands run on nodes.

use std::fmt;
use std::str::FromStr;

use futures::future::try_join_all;

use crate::lab::{Lab, LabError, Server, ServerOptions};
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

/// The lab's servers, island by island. Dropping it stops every server.
#[derive(Debug)]
pub struct DemoCluster {
    lab: Lab,
    shape: Shape,
    islands: Vec<Vec<Server>>,
}

impl DemoCluster {
    /// Starts `shape` in `lab`, islands concurrently: each master gets [`DATABASE`] and `roles`
    /// before its replicas are copied from it.
    pub async fn start(
        lab: Lab,
        shape: Shape,
        roles: &[(&str, &Password)],
    ) -> Result<Self, LabError> {
        let islands =
            try_join_all((0..shape.islands).map(|_| start_island(&lab, shape, roles))).await?;
        Ok(DemoCluster {
            lab,
            shape,
            islands,
        })
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

    /// Every postmaster pid running now (tests check none survives the lab).
    pub fn pids(&self) -> Vec<u32> {
        self.islands
            .iter()
            .flatten()
            .filter_map(Server::pid)
            .collect()
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
