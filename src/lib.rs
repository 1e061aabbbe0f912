//! rotascope: watch PostgreSQL credential rotation live, and prove it caused no downtime.
//!
//! Data flow:
//!
//! ```text
//! config sources ──> config::load ──> Topology ──┐            ┌──> ui (render is pure)
//!  (file, env,        (figment,        (islands → │  engine    ├──> check: report::{table,json}
//!   secret files,      conninfo,        nodes →   ├─> state ───┼──> watch: report::ndjson
//!   secret command,    validation,      candidates)│ (watch)    └──> --record file
//!   pgpass, service)   redaction)                  │    ^
//!        ^                                         │    │
//!  config::reload: interval, file change,          │    └── engine::pg (own client) ── PostgreSQL
//!  key `r`, SIGHUP                 engine::Command (mpsc): reload, reprobe, audit
//! ```
//!
//! The prober, [`engine::pg`], is rotascope's own small PostgreSQL client (postgres-protocol's
//! message codecs, rustls, SCRAM with a remembered SaltedPassword), not tokio-postgres, which
//! only the lab and tests use (issue 13).
//!
//! The engine owns all mutable state and publishes an immutable [`engine::Snapshot`] after each
//! change; every output reads only snapshots and the event feed.
//! [`serve`] puts those outputs on HTTP for Prometheus ([`report::metrics`]), and [`shard`]
//! splits one config among a fleet of instances.

pub mod cli;
pub mod clock;
pub mod config;
pub mod conninfo;
pub mod engine;
pub mod lab;
pub mod private_file;
pub mod report;
pub mod secret;
pub mod serve;
pub mod shard;
pub mod text;
pub mod topology;
pub mod ui;
