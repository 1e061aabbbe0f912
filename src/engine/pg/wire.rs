//! The byte stream of a probe (TCP or Unix, plain or TLS) and message framing on top of it.
//!
//! Frontend messages are encoded and backend messages decoded by `postgres-protocol`; what is
//! ours is the bound: a backend message longer than [`MAX_MESSAGE`] is a protocol error before a
//! byte of it is buffered, so a hostile peer cannot make the monitor allocate at will.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use postgres_protocol::message::backend::{Header, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;

use super::fault::{Fault, ServerError};

/// The longest backend message accepted (a probe's answers are a few hundred bytes; the shard
/// list of a large island a few hundred kilobytes).
pub const MAX_MESSAGE: usize = 8 << 20;

/// A connected socket before TLS.
#[derive(Debug)]
pub enum Transport {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix-domain socket.
    Unix(UnixStream),
}

/// The stream a probe talks over.
#[derive(Debug)]
pub enum Stream {
    /// Unencrypted.
    Plain(Transport),
    /// TLS over the transport.
    Tls(Box<TlsStream<Transport>>),
}

impl Stream {
    /// The server's certificate (end entity) on a TLS stream, for channel binding.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref()),
        }
    }

    /// True on TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Plain(Transport::Tcp($s)) => $e,
            Stream::Plain(Transport::Unix($s)) => $e,
            Stream::Tls($s) => {
                let $s = &mut **$s;
                $e
            }
        }
    };
}

macro_rules! delegate_transport {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Transport::Tcp($s) => $e,
            Transport::Unix($s) => $e,
        }
    };
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate_transport!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate_transport!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate_transport!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate_transport!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// A framed protocol connection: an output buffer filled by `postgres-protocol`'s encoders, an
/// input buffer cut into messages.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    input: BytesMut,
    /// Frontend messages waiting for [`Conn::send`].
    pub out: BytesMut,
}

impl Conn {
    /// A connection over `stream`.
    pub fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            input: BytesMut::with_capacity(8192),
            out: BytesMut::with_capacity(512),
        }
    }

    /// A connection whose first input byte was already read (the `E` that answered an SSL
    /// request).
    pub fn resume(stream: Stream, first: u8) -> Conn {
        let mut conn = Conn::new(stream);
        conn.input.extend_from_slice(&[first]);
        conn
    }

    /// The stream (TLS state, peer certificate).
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Writes out every buffered frontend message.
    pub async fn send(&mut self) -> Result<(), Fault> {
        let result = async {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await
        }
        .await;
        self.out.clear();
        result.map_err(|source| io_fault("sending to the server", source))
    }

    /// The next backend message. The server closing the connection mid-exchange is a protocol
    /// fault (PostgreSQL always says why with an ErrorResponse first).
    pub async fn recv(&mut self) -> Result<Message, Fault> {
        loop {
            if let Some(header) = Header::parse(&self.input).map_err(bad_bytes)? {
                if header.len() as usize + 1 > MAX_MESSAGE {
                    return Err(Fault::protocol(format!(
                        "the server sent a {} byte message (the limit is {MAX_MESSAGE})",
                        header.len()
                    )));
                }
            }
            if let Some(message) = Message::parse(&mut self.input).map_err(bad_bytes)? {
                return Ok(message);
            }
            self.input.reserve(4096);
            let read = self
                .stream
                .read_buf(&mut self.input)
                .await
                .map_err(|source| io_fault("reading from the server", source))?;
            if read == 0 {
                return Err(Fault::protocol(
                    "the server closed the connection unexpectedly",
                ));
            }
        }
    }

    /// Sends Terminate and closes the connection (TLS: with a close_notify first). The server ends its session on Terminate; waiting for it to close
    /// its side too would only add its process exit to the probe's latency (tokio-postgres does
    /// not wait either).
    pub async fn close(mut self) {
        postgres_protocol::message::frontend::terminate(&mut self.out);
        if self.send().await.is_err() {
            return;
        }
        if self.stream.is_tls() {
            let _ = self.stream.shutdown().await;
        }
    }
}

/// The fields of an ErrorResponse that matter, or a protocol fault when it is malformed.
pub fn server_error(
    body: &postgres_protocol::message::backend::ErrorResponseBody,
) -> Result<ServerError, Fault> {
    use fallible_iterator::FallibleIterator;
    let mut error = ServerError::default();
    let mut fields = body.fields();
    while let Some(field) = fields.next().map_err(bad_bytes)? {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'S' => error.severity = value,
            b'C' => error.code = value,
            b'M' => error.message = value,
            _ => {}
        }
    }
    if error.code.is_empty() {
        return Err(Fault::protocol("an error response without an SQLSTATE"));
    }
    Ok(error)
}

fn bad_bytes(e: io::Error) -> Fault {
    Fault::protocol(format!("malformed message from the server: {e}"))
}

/// An I/O fault while `doing` something.
pub fn io_fault(doing: &str, source: io::Error) -> Fault {
    Fault::Io {
        doing: doing.to_owned(),
        source,
    }
}
