//! A loopback listener that pretends to be PostgreSQL and asks for credentials: the credential
//! sprayer's trap (issue 14). It declines TLS, reads the startup packet, sends one
//! authentication request (or garbage), and records every byte the client sends afterwards.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::topology::{Candidate, ConnTarget};

/// What the impostor sends after the startup packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// AuthenticationCleartextPassword: whatever answers sends the password itself.
    Cleartext,
    /// AuthenticationMD5Password with a fixed salt.
    Md5,
    /// AuthenticationSASL offering SCRAM-SHA-256 only (no channel binding).
    Scram,
    /// These bytes, as soon as the client connects: not PostgreSQL at all.
    Garbage(Vec<u8>),
}

/// One client connection as the impostor saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    /// The startup packet's parameters (user, database, ...), when one came.
    pub startup: Vec<(String, String)>,
    /// Every byte received after the authentication request (or the garbage).
    pub after_ask: Vec<u8>,
}

/// The listener; dropping it closes it and every connection.
#[derive(Debug)]
pub struct Impostor {
    addr: SocketAddr,
    sessions: tokio::sync::Mutex<mpsc::UnboundedReceiver<Session>>,
    task: JoinHandle<()>,
}

/// How long one connection is given to finish (a client that never closes is cut off).
const SESSION_LIMIT: Duration = Duration::from_secs(10);

impl Impostor {
    /// Listens on a free loopback port. Needs a tokio runtime.
    pub async fn start(ask: Ask) -> io::Result<Impostor> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                let (ask, tx) = (ask.clone(), tx.clone());
                sessions.spawn(async move {
                    let session = tokio::time::timeout(SESSION_LIMIT, serve(socket, &ask))
                        .await
                        .unwrap_or_default();
                    let _ = tx.send(session);
                });
            }
        });
        Ok(Impostor {
            addr,
            sessions: tokio::sync::Mutex::new(rx),
            task,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next finished connection (the client closed it).
    pub async fn next_session(&self) -> Option<Session> {
        self.sessions.lock().await.recv().await
    }

    /// A candidate aimed at it (sslmode `prefer`, the default policy).
    pub fn candidate(&self, login: &str, password: &str) -> Candidate {
        let target = ConnTarget::tcp(
            "127.0.0.1",
            self.port(),
            "postgres",
            format!("postgres://127.0.0.1:{}/postgres", self.port()),
        );
        super::candidate_for(target, login, password)
    }
}

impl Drop for Impostor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut socket: TcpStream, ask: &Ask) -> Session {
    let mut session = Session::default();
    if let Ask::Garbage(bytes) = ask {
        let _ = socket.write_all(bytes).await;
        session.after_ask = read_to_end(&mut socket).await;
        return session;
    }
    let Some(mut packet) = read_packet(&mut socket).await else {
        return session;
    };
    if packet.get(..4) == Some(&[0x04, 0xd2, 0x16, 0x2f][..]) {
        // SSLRequest: decline, then the real startup packet follows.
        if socket.write_all(b"N").await.is_err() {
            return session;
        }
        match read_packet(&mut socket).await {
            Some(p) => packet = p,
            None => return session,
        }
    }
    // protocol version (4 bytes), then NUL-terminated key/value pairs.
    let fields: Vec<String> = packet
        .get(4..)
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    session.startup = fields
        .chunks(2)
        .filter(|kv| kv.len() == 2 && !kv[0].is_empty())
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect();
    let request: Vec<u8> = match ask {
        Ask::Cleartext => auth_message(3, &[]),
        Ask::Md5 => auth_message(5, &[1, 2, 3, 4]),
        Ask::Scram => auth_message(10, b"SCRAM-SHA-256\0\0"),
        Ask::Garbage(_) => unreachable!("handled above"),
    };
    if socket.write_all(&request).await.is_err() {
        return session;
    }
    session.after_ask = read_to_end(&mut socket).await;
    session
}

/// An Authentication message: 'R', length, code, body.
fn auth_message(code: i32, body: &[u8]) -> Vec<u8> {
    let mut m = vec![b'R'];
    m.extend_from_slice(&(8 + body.len() as i32).to_be_bytes());
    m.extend_from_slice(&code.to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// A length-prefixed startup-phase packet's body (at most 10,000 bytes).
async fn read_packet(socket: &mut TcpStream) -> Option<Vec<u8>> {
    let len = socket.read_i32().await.ok()?;
    let len = usize::try_from(len).ok()?.checked_sub(4)?;
    if len > 10_000 {
        return None;
    }
    let mut body = vec![0; len];
    socket.read_exact(&mut body).await.ok()?;
    Some(body)
}

async fn read_to_end(socket: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.read(&mut buf).await {
        if n == 0 || all.len() > 1 << 20 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    all
}
