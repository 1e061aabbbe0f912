//! A loopback listener that accepts connections and never answers: the worst kind of server.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::topology::{Candidate, ConnTarget};

/// Accepts TCP connections on `127.0.0.1` and holds them open without reading or writing.
///
/// Dropping it closes the listener and every accepted connection.
#[derive(Debug)]
pub struct HungServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl HungServer {
    /// Listens on a free loopback port. Needs a tokio runtime.
    pub async fn start() -> io::Result<HungServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            // The sockets live as long as the task: aborting it drops (closes) them all.
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        Ok(HungServer {
            addr,
            accepted,
            task,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address it listens on (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections it has accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// A connection string for it, like [`crate::lab::Server::conn_string`].
    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "postgres://127.0.0.1:{}/{}",
            self.port(),
            super::text::url_encode(db)
        )
    }

    /// A candidate aimed at it, like [`crate::lab::Server::candidate`] (sslmode `prefer`).
    pub fn candidate(&self, login: &str, password: &str, db: &str) -> Candidate {
        let target = ConnTarget::tcp("127.0.0.1", self.port(), db, self.conn_string(db));
        super::candidate_for(target, login, password)
    }
}

impl Drop for HungServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
