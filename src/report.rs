//! What `check` and `watch` print: pure functions of a [`Snapshot`](crate::engine::Snapshot) or a
//! [`Feed`](crate::engine::Feed), writing to a writer handed in.
//!
//! - [`json`]: the `check --format json` document (a contract: fields are added, never renamed).
//! - [`table`]: the `check` table for people (fits 100 columns).
//! - [`exit`]: the one mapping from verdict to exit code (0 ok, 1 degraded, 2 down, 3 config error).
//! - [`ndjson`]: the `watch` stream, one JSON object per line, optionally recorded to a file.
//! - [`metrics`]: `serve`'s `/metrics`, Prometheus text or OpenMetrics, with the feed's counters.
//! - [`proof`]: `rotascope report`, the evidence of a rotation read from a recording (or live):
//!   episodes, outages, gaps, a verdict; as text, Markdown, JSON or a self-contained HTML page.
//!
//! Nothing here can print a password: the snapshot holds only logins and fingerprints.

pub mod exit;
pub mod json;
pub mod metrics;
pub mod ndjson;
pub mod proof;
pub mod table;

#[cfg(test)]
pub(crate) mod fixtures;

pub use exit::{exit_code, Exit};
pub use json::{check_report, write_check_json, CheckReport};
pub use ndjson::NdjsonWriter;
pub use table::{write_check_table, write_check_table_fit, Fit};
