//! The `watch` stream: one JSON object per line.
//!
//! - each [`Feed::Event`]: the event as the engine serializes it, flat with a `type` tag
//!   (`{"at", "type": "winner_changed", "island", "node", ...}`);
//! - with `--probes`, each [`Feed::Probe`]: `{"type": "probe", "at", "island", "node", "index",
//!   "login", "mode": "chain"|"audit", "outcome": "ok"|<kind>, "latency_ms"}`;
//! - when the stream fell behind the engine and lines were lost: `{"type": "lagged", "at",
//!   "missed": N}` (`at` is when it was noticed; N probe records and events were dropped);
//! - every `--heartbeat` period (10 s by default): `{"type": "heartbeat", "at", "every_ms",
//!   "nodes", "ok", "degraded", "down", "unknown"}`, so a reader can tell "nothing happened"
//!   from "the monitor was not running" (`rotascope report` shows a silence longer than two
//!   periods as a gap in monitoring).
//!
//! Every line but `config_applied` (which has it already) ends with `"generation": N`: the
//! config generation in force when the line was written (probe records and events name
//! candidates by their index in that generation's config). Probe records carry the candidate's
//! `fingerprint` and `label` besides its login.
//!
//! [`NdjsonWriter`] writes each line to its output and, with `--record FILE`, appends the same
//! bytes to the record file first, flushing both per line, so a recording is an exact copy of
//! what was printed even if the process is killed.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::event::{rfc3339, EventKind, ProbeRecord};
use crate::engine::snapshot::Summary;
use crate::engine::Feed;

/// A probe record as a `watch --probes` line: `type: probe` first, then the record's fields.
#[derive(Debug, Serialize)]
struct ProbeLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    record: &'a ProbeRecord,
}

/// The line printed when the stream lost lines because it fell behind.
#[derive(Debug, Serialize)]
struct LaggedLine {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(serialize_with = "rfc3339")]
    at: DateTime<Utc>,
    missed: u64,
}

/// The periodic line saying the monitor is running.
#[derive(Debug, Serialize)]
struct HeartbeatLine {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(serialize_with = "rfc3339")]
    at: DateTime<Utc>,
    every_ms: u64,
    nodes: usize,
    ok: usize,
    degraded: usize,
    down: usize,
    unknown: usize,
}

/// A line with the config generation in force added at its end.
#[derive(Debug, Serialize)]
struct Stamped<'a, T: Serialize> {
    #[serde(flatten)]
    line: &'a T,
    generation: u64,
}

fn stamped<T: Serialize>(line: &T, generation: Option<u64>) -> String {
    // These types serialize infallibly: no maps with non-string keys, no failing serializers.
    let json = match generation {
        Some(generation) => serde_json::to_string(&Stamped { line, generation }),
        None => serde_json::to_string(line),
    };
    crate::text::json_safe(json.expect("watch lines serialize to JSON"))
}

/// The JSON line (without the newline) for one feed item, stamped with `generation` (except a
/// `config_applied` event, which carries its own).
pub fn feed_line(feed: &Feed, generation: u64) -> String {
    match feed {
        Feed::Event(event) => {
            let own = matches!(event.kind, EventKind::ConfigApplied { .. });
            stamped(event, (!own).then_some(generation))
        }
        Feed::Probe(record) => stamped(
            &ProbeLine {
                kind: "probe",
                record,
            },
            Some(generation),
        ),
    }
}

/// The JSON line (without the newline) saying `missed` items were lost, noticed at `at`.
pub fn lagged_line(missed: u64, at: DateTime<Utc>, generation: u64) -> String {
    stamped(
        &LaggedLine {
            kind: "lagged",
            at,
            missed,
        },
        Some(generation),
    )
}

/// The heartbeat line at `at`, sent every `every`, with the cluster's counts.
pub fn heartbeat_line(
    at: DateTime<Utc>,
    every: std::time::Duration,
    summary: &Summary,
    generation: u64,
) -> String {
    stamped(
        &HeartbeatLine {
            kind: "heartbeat",
            at,
            every_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
            nodes: summary.nodes,
            ok: summary.ok,
            degraded: summary.degraded,
            down: summary.down,
            unknown: summary.unknown,
        },
        Some(generation),
    )
}

/// Writes `watch` lines to an output and, optionally, appends them to a record file.
#[derive(Debug)]
pub struct NdjsonWriter<W: Write = io::Stdout> {
    out: W,
    record: Option<File>,
    probes: bool,
    /// The config generation in force, from the `config_applied` lines written.
    generation: u64,
    /// Lines were lost since the last heartbeat: a `config_applied` may be among them.
    resync: bool,
}

impl NdjsonWriter<io::Stdout> {
    /// A writer to stdout; with `record`, the file is opened (created if missing) for appending.
    pub fn stdout(probes: bool, record: Option<&Path>) -> io::Result<Self> {
        let record = record.map(Self::open_record).transpose()?;
        Ok(NdjsonWriter::new(io::stdout(), probes, record))
    }
}

impl<W: Write> NdjsonWriter<W> {
    /// A writer to `out`; probe records are printed only when `probes` is set.
    pub fn new(out: W, probes: bool, record: Option<File>) -> Self {
        NdjsonWriter {
            out,
            record,
            probes,
            generation: 0,
            resync: false,
        }
    }

    /// Opens a record file for appending, creating it (owner-only, [`crate::private_file`]) if
    /// needed.
    pub fn open_record(path: &Path) -> io::Result<File> {
        crate::private_file::open_append(path)
            .map_err(|e| io::Error::new(e.kind(), format!("record file {}: {e}", path.display())))
    }

    /// Writes one feed item (probe records only with `probes`). Returns whether a line was
    /// written.
    pub fn write_feed(&mut self, feed: &Feed) -> io::Result<bool> {
        if let Feed::Event(e) = feed {
            if let EventKind::ConfigApplied { generation, .. } = e.kind {
                self.generation = generation;
            }
        }
        if matches!(feed, Feed::Probe(_)) && !self.probes {
            return Ok(false);
        }
        self.write_line(&feed_line(feed, self.generation))?;
        Ok(true)
    }

    /// Writes the line saying `missed` items were lost.
    pub fn write_lagged(&mut self, missed: u64, at: DateTime<Utc>) -> io::Result<()> {
        self.resync = true;
        self.write_line(&lagged_line(missed, at, self.generation))
    }

    /// Writes a heartbeat. `generation` is the snapshot's, taken only when lines were lost
    /// (their `config_applied` may be among them): otherwise the stream's own order is exact.
    pub fn write_heartbeat(
        &mut self,
        at: DateTime<Utc>,
        every: std::time::Duration,
        summary: &Summary,
        generation: u64,
    ) -> io::Result<()> {
        if std::mem::take(&mut self.resync) {
            self.generation = self.generation.max(generation);
        }
        self.write_line(&heartbeat_line(at, every, summary, self.generation))
    }

    /// The output, e.g. to inspect what a test wrote.
    pub fn output(&self) -> &W {
        &self.out
    }

    /// Writes `line` and a newline to the record file (first: the audit trail matters most)
    /// and to the output, flushing each.
    fn write_line(&mut self, line: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        if let Some(file) = &mut self.record {
            // One write per line, so concurrent appenders never interleave within a line.
            file.write_all(&bytes)?;
            file.flush()?;
        }
        self.out.write_all(&bytes)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use serde_json::{json, Value};

    fn lines(bytes: &[u8]) -> Vec<Value> {
        std::str::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn probe_lines_have_the_contract_fields_in_order() {
        let record = fixtures::probe_record();
        let line = feed_line(&Feed::Probe(record.clone()), 3);
        assert_eq!(
            line,
            format!(
                r#"{{"type":"probe","at":"2026-11-28T09:59:59.000Z","island":0,"node":"db-b","index":0,"login":"app_a","fingerprint":"{}","label":"current","mode":"chain","outcome":"auth_failed","latency_ms":3.01,"generation":3}}"#,
                record.fingerprint
            )
        );
    }

    #[test]
    fn event_lines_are_the_engine_events_flat() {
        let e = fixtures::events();
        let v: Value = serde_json::from_str(&feed_line(&Feed::Event(e[2].clone()), 2)).unwrap();
        assert_eq!(v["type"], "winner_changed");
        assert_eq!(v["generation"], 2);
        assert_eq!(v["at"], "2026-11-28T09:59:59.000Z");
        assert_eq!(v["node"], "db-b");
        assert_eq!(v["from"]["login"], "app_a");
        assert_eq!(v["to"]["login"], "app_b");
        assert_eq!(v["to"]["index"], 1);
        let v: Value = serde_json::from_str(&feed_line(&Feed::Event(e[3].clone()), 2)).unwrap();
        assert_eq!(v["type"], "warning");
        assert_eq!(v["warning"], "no_master");
        assert_eq!(v["active"], true);
    }

    #[test]
    fn lagged_line_shape() {
        let v: Value = serde_json::from_str(&lagged_line(7, fixtures::at(0), 4)).unwrap();
        assert_eq!(
            v,
            json!({"type": "lagged", "at": "2026-11-28T10:00:00.000Z", "missed": 7,
                "generation": 4})
        );
    }

    #[test]
    fn heartbeats_say_the_period_and_the_counts() {
        let s = fixtures::rotation();
        let line = heartbeat_line(
            fixtures::at(0),
            std::time::Duration::from_secs(10),
            &s.summary(),
            5,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "heartbeat");
        assert_eq!(v["every_ms"], 10000);
        assert_eq!(v["generation"], 5);
        let counts = ["ok", "degraded", "down", "unknown"].map(|k| v[k].as_u64().unwrap());
        assert_eq!(counts.iter().sum::<u64>(), v["nodes"].as_u64().unwrap());
    }

    #[test]
    fn lines_carry_the_generation_of_the_last_config_applied_written() {
        let mut w = NdjsonWriter::new(Vec::new(), true, None);
        for f in fixtures::feed() {
            w.write_feed(&f).unwrap();
        }
        let lines = lines(w.output());
        assert_eq!(lines[0]["type"], "config_applied");
        let generation = lines[0]["generation"].clone();
        assert!(lines[1..].iter().all(|v| v["generation"] == generation));
        // config_applied keeps its own field, once.
        let first = std::str::from_utf8(w.output())
            .unwrap()
            .lines()
            .next()
            .unwrap();
        assert_eq!(first.matches("\"generation\"").count(), 1, "{first}");
    }

    #[test]
    fn probes_are_printed_only_when_asked() {
        let mut quiet = NdjsonWriter::new(Vec::new(), false, None);
        let mut chatty = NdjsonWriter::new(Vec::new(), true, None);
        for f in fixtures::feed() {
            let is_probe = matches!(f, Feed::Probe(_));
            assert_eq!(quiet.write_feed(&f).unwrap(), !is_probe);
            assert!(chatty.write_feed(&f).unwrap());
        }
        let q = lines(quiet.output());
        assert_eq!(q.len(), 4);
        assert!(q.iter().all(|v| v["type"] != "probe"));
        let c = lines(chatty.output());
        assert_eq!(c.len(), 6);
        assert_eq!(fixtures::line_types(chatty.output()), fixtures::FEED_TYPES);
        assert_eq!(c[3]["outcome"], "ok");
        assert_eq!(c[3]["latency_ms"], 5.5);
    }

    #[test]
    fn the_record_file_is_appended_and_identical_to_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.ndjson");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();

        let file = NdjsonWriter::<Vec<u8>>::open_record(&path).unwrap();
        let mut w = NdjsonWriter::new(Vec::new(), true, Some(file));
        for f in fixtures::feed() {
            w.write_feed(&f).unwrap();
        }
        w.write_lagged(3, fixtures::at(1)).unwrap();
        // Flushed per line: the file is complete before the writer is dropped.
        let recorded = std::fs::read_to_string(&path).unwrap();
        let printed = std::str::from_utf8(w.output()).unwrap();
        assert_eq!(recorded, format!("{{\"earlier\":true}}\n{printed}"));
        assert_eq!(printed.lines().count(), 7);
        assert!(
            printed.ends_with("\"missed\":3,\"generation\":1}\n"),
            "{printed}"
        );

        // A second run appends after the first.
        let file = NdjsonWriter::<Vec<u8>>::open_record(&path).unwrap();
        let mut again = NdjsonWriter::new(Vec::new(), false, Some(file));
        again.write_lagged(1, fixtures::at(2)).unwrap();
        let recorded = std::fs::read_to_string(&path).unwrap();
        assert_eq!(recorded.lines().count(), 9);
        assert!(recorded.ends_with(std::str::from_utf8(again.output()).unwrap()));
    }

    #[test]
    fn an_unopenable_record_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("trail.ndjson");
        let err = NdjsonWriter::<Vec<u8>>::open_record(&path).unwrap_err();
        assert!(err.to_string().contains("trail.ndjson"), "{err}");
    }

    #[test]
    fn no_password_in_the_stream() {
        let mut w = NdjsonWriter::new(Vec::new(), true, None);
        for f in fixtures::feed() {
            w.write_feed(&f).unwrap();
        }
        fixtures::assert_no_password(std::str::from_utf8(w.output()).unwrap());
    }
}
