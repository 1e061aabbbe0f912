//! `rotascope serve`: the engine headless, seen over HTTP by Prometheus, load balancers and
//! scripts.
//!
//! | path | answer |
//! | --- | --- |
//! | `/metrics` | [`crate::report::metrics`]: Prometheus text, or OpenMetrics when the `Accept` header prefers it |
//! | `/healthz` | 200 while the engine runs, 503 once it stopped |
//! | `/readyz` | 200 once a config is applied and every node was probed at least once, 503 before |
//! | `/snapshot` | the `check --format json` document of the latest snapshot |
//!
//! Every endpoint only reads: `GET` (and `HEAD`) and nothing else (`405` otherwise); no request
//! changes what the engine does. Reloads come from SIGHUP, the file watcher and the interval, as
//! in `watch`.
//!
//! Scrapes never hold up probing: a handler takes the latest `Arc<Snapshot>` (no lock held while
//! it works) and a copy of the [`Tally`](crate::report::metrics::Tally), and renders on the blocking pool, off the runtime's
//! worker threads that the engine and its probes run on.
//!
//! The HTTP server is hyper's HTTP/1.1 connection driver with axum's router on top. Every
//! client is treated as hostile ([`conn`]): at most [`conn::MAX_CONNECTIONS`] at once, request
//! heads within [`conn::MAX_HEAD_BYTES`] and [`conn::HEAD_TIMEOUT`], a connection closed after
//! [`conn::MAX_CONNECTION_AGE`] (after its response in flight), and shutdown bounded by
//! [`conn::CLOSE_GRACE`] however slowly a client reads.

use std::sync::Arc;

use tokio::sync::watch;

use crate::engine::Snapshot;
use crate::shard::Shard;

// Test support (integration tests and benches use it), not part of the product.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod client;
pub mod conn;
mod http;
pub mod listen;
pub mod tally;

pub use conn::serve;
pub use http::router;
pub use listen::{bind, ListenError};
pub use tally::SharedTally;

/// What the endpoints read.
#[derive(Clone, Debug)]
pub struct Sources {
    /// The engine's latest snapshot.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Counters folded from the engine's feed.
    pub tally: SharedTally,
    /// The instance's shard, a label on every series.
    pub shard: Shard,
}
