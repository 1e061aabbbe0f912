//! rotascope: watch PostgreSQL credential rotation live, and prove it caused no downtime.
//!
//! Data flow:
//!
//! ```text
//! config sources ──> config::load ──> Topology ──┐            ┌──> ui (render is pure)
//!  (file, env,        (figment,        (islands → │  engine    ├──> report::check (table / JSON)
//!   secret files,      validation,      nodes →   ├─> state ───┼──> report::watch (NDJSON)
//!   secret command)    redaction)       candidates)│ (watch)    └──> --record file
//!        ^                                         │    ^
//!  config::reload: interval, file change,          │    └── engine::pg (tokio-postgres) ── PostgreSQL
//!  key `r`, SIGHUP                 engine::Command (mpsc): reload, reprobe, audit
//! ```
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
