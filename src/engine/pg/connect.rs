//! Reaching the server: dialling (TCP or Unix socket) and the SSL request.
//!
//! TCP dials `hostaddr` without any DNS when it is set, else every address `host` resolves to
//! (IPv6 included), one after another until one accepts, each bounded by `connect_timeout`, as
//! libpq does. A Unix-domain socket never carries TLS (libpq sends no SSL request there either,
//! whatever `sslmode` says).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::fault::Fault;
use super::wire::{io_fault, Stream, Transport};
use crate::topology::{ConnTarget, Endpoint};

/// Opens the transport to `target`.
pub async fn dial(target: &ConnTarget, connect_timeout: Duration) -> Result<Transport, Fault> {
    match &target.endpoint {
        Endpoint::Unix { .. } => {
            let path = target.endpoint.socket_path().expect("a unix endpoint");
            let doing = format!("connecting to {}", path.display());
            match tokio::time::timeout(connect_timeout, UnixStream::connect(&path)).await {
                Err(_) => Err(Fault::ConnectTimeout {
                    limit: connect_timeout,
                }),
                Ok(Err(source)) => Err(io_fault(&doing, source)),
                Ok(Ok(stream)) => Ok(Transport::Unix(stream)),
            }
        }
        Endpoint::Tcp { host, addr, port } => {
            let addrs: Vec<SocketAddr> = match (addr, host) {
                (Some(ip), _) => vec![SocketAddr::new(*ip, *port)],
                (None, Some(host)) => resolve(host, *port, connect_timeout).await?,
                (None, None) => return Err(Fault::protocol("no host and no hostaddr to dial")),
            };
            let mut last = None;
            for sa in addrs {
                match tokio::time::timeout(connect_timeout, TcpStream::connect(sa)).await {
                    Err(_) => {
                        last = Some(Fault::ConnectTimeout {
                            limit: connect_timeout,
                        })
                    }
                    Ok(Err(source)) => {
                        last = Some(io_fault(&format!("connecting to {sa}"), source))
                    }
                    Ok(Ok(stream)) => {
                        // Every probe message is one small write followed by a read: Nagle would
                        // only add latency.
                        let _ = stream.set_nodelay(true);
                        return Ok(Transport::Tcp(stream));
                    }
                }
            }
            Err(last.unwrap_or_else(|| Fault::Dns {
                host: host.clone().unwrap_or_default(),
                source: std::io::Error::other("could not resolve any addresses"),
            }))
        }
    }
}

async fn resolve(host: &str, port: u16, limit: Duration) -> Result<Vec<SocketAddr>, Fault> {
    let dns = |source| Fault::Dns {
        host: host.to_owned(),
        source,
    };
    match tokio::time::timeout(limit, tokio::net::lookup_host((host, port))).await {
        Err(_) => Err(dns(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the lookup did not finish within connect_timeout",
        ))),
        Ok(Err(source)) => Err(dns(source)),
        Ok(Ok(addrs)) => Ok(addrs.collect()),
    }
}

/// What the server said to the SSL request.
pub enum Negotiated {
    /// TLS is up.
    Tls(Stream),
    /// The server said no ("N"): the same connection goes on in plain text.
    Declined(Transport),
    /// The server answered with an ErrorResponse (its first byte already read): the caller
    /// reads the error from this connection.
    Error(Transport),
}

/// Sends the SSL request and, if the server agrees, performs the TLS handshake.
///
/// Exactly one byte is read before the handshake, so nothing a man in the middle slips in after
/// the server's "S" can be taken for part of the encrypted session (CVE-2021-23222).
pub async fn start_tls(
    mut transport: Transport,
    config: Arc<ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
) -> Result<Negotiated, Fault> {
    let mut request = BytesMut::with_capacity(8);
    postgres_protocol::message::frontend::ssl_request(&mut request);
    transport
        .write_all(&request)
        .await
        .map_err(|e| io_fault("sending the SSL request", e))?;
    let answer = match transport.read_u8().await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(Fault::protocol(
                "the server closed the connection in answer to the SSL request",
            ))
        }
        Err(e) => return Err(io_fault("reading the answer to the SSL request", e)),
    };
    match answer {
        b'S' => {
            let connector = tokio_rustls::TlsConnector::from(config);
            match connector.connect(name, transport).await {
                Ok(tls) => Ok(Negotiated::Tls(Stream::Tls(Box::new(tls)))),
                Err(e) => Err(Fault::Tls(format!(
                    "TLS handshake failed: {}",
                    tls_text(&e)
                ))),
            }
        }
        b'N' => Ok(Negotiated::Declined(transport)),
        b'E' => Ok(Negotiated::Error(transport)),
        other => Err(Fault::protocol(format!(
            "the server answered the SSL request with byte {other:#04x} (not S or N): \
             not a PostgreSQL server?"
        ))),
    }
}

/// A TLS error's text: the rustls error inside the `io::Error`, when there is one.
fn tls_text(e: &std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}
