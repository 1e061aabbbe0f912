//! Accepting and driving HTTP/1.1 connections, every client treated as hostile: the number of
//! connections, the size and time of a request head, and a connection's age are bounded, and
//! shutdown waits for no one longer than [`CLOSE_GRACE`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Connections served at once; more wait in the listen backlog. Prometheus uses one per target.
pub const MAX_CONNECTIONS: usize = 64;

/// Longest a request head (request line and headers) may be. A scrape's is a few hundred bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A client must send a whole request head within this, or the connection is closed.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// After this a connection is closed once its response in flight is sent (a keep-alive
/// scraper simply opens a new one); a client that never reads its response loses it then.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(300);

/// How long a connection asked to close (age, shutdown) may take to finish its response.
pub const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// After a failed `accept` (out of file descriptors), wait this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` is cancelled, then closes every connection
/// (gracefully for [`CLOSE_GRACE`], then by dropping it) and returns.
pub async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES);
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("serve: accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(MAX_CONNECTION_AGE) => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, connection).await;
        });
        // Reap finished connections so the set does not grow with every scrape.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let all_closed = async { while connections.join_next().await.is_some() {} };
    // Each connection gives itself CLOSE_GRACE; a little more for all of them to be reaped.
    let _ = tokio::time::timeout(CLOSE_GRACE + Duration::from_secs(1), all_closed).await;
    connections.abort_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start() -> (
        std::net::SocketAddr,
        CancellationToken,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "hello\n" }));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(listener, app, shutdown.clone()));
        (addr, shutdown, task)
    }

    async fn get_once(addr: std::net::SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn an_oversized_head_is_refused_and_service_goes_on() {
        let (addr, shutdown, task) = start().await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
        // The server may close before it read everything: a failed write is fine too.
        let _ = s.write_all(huge.as_bytes()).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let head = String::from_utf8_lossy(&out);
        assert!(
            head.is_empty() || head.starts_with("HTTP/1.1 431"),
            "{head}"
        );
        assert!(get_once(addr).await.ends_with("hello\n"));
        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_dropped_after_the_head_timeout() {
        let (addr, shutdown, task) = start().await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        silent.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut buf = [0u8; 256];
        // Paused time: the read resolves when the server's head timer fires and it closes.
        let n = tokio::time::timeout(HEAD_TIMEOUT * 2, silent.read(&mut buf))
            .await
            .expect("closed within the head timeout")
            .unwrap_or(0);
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
        shutdown.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_does_not_wait_for_an_idle_client() {
        let (addr, shutdown, task) = start().await;
        let _idle = TcpStream::connect(addr).await.unwrap();
        assert!(get_once(addr).await.ends_with("hello\n"));
        shutdown.cancel();
        tokio::time::timeout(CLOSE_GRACE + Duration::from_secs(5), task)
            .await
            .expect("serve returned")
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "still listening");
    }
}
