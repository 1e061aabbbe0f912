//! Reading a `watch --record` file line by line, in bounded memory.
//!
//! Each line is one JSON object with a `type` and an `at`. Events the report needs are read
//! back as engine [`Event`]s; `heartbeat`, `probe` and `lagged` lines as [`Input`]s of their
//! own; any other type (a `warning`, a type added by a later version) is skipped and counted.
//! Blank lines are skipped. A line that is not such an object is an error naming its number —
//! except the last line of a file that does not end with a newline: the recorder was stopped
//! mid-write, so that line is dropped and [`Reader::truncated`] says so.

use std::io::{self, BufRead};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use crate::engine::event::{Event, ProbeMode};
use crate::topology::IslandNo;

/// The longest line accepted: a recorded line is a few hundred bytes, a `rotation_finished` of a
/// very large cluster a few hundred KiB. Longer is not a record.
pub const MAX_LINE: usize = 8 << 20;

/// The event types the report reads back.
const EVENT_TYPES: &[&str] = &[
    "config_applied",
    "config_failed",
    "node_added",
    "node_removed",
    "candidate_added",
    "candidate_removed",
    "candidate_relabeled",
    "winner_changed",
    "candidate_changed",
    "role_changed",
    "health_changed",
    "rotation_started",
    "rotation_finished",
];

/// One item of a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// An engine event.
    Event(Event),
    /// The monitor was running at `at`, and says so every `every`.
    Heartbeat {
        /// When.
        at: DateTime<Utc>,
        /// Its period.
        every: Duration,
    },
    /// One probe attempt (`watch --probes`).
    Probe {
        /// When it finished.
        at: DateTime<Utc>,
        /// Island.
        island: IslandNo,
        /// Node name.
        node: String,
        /// Chain probe or audit.
        mode: ProbeMode,
        /// True when it was a failed authentication (`auth_failed`).
        auth_failed: bool,
    },
    /// The recorder fell behind and lost `missed` lines before `at`.
    Lagged {
        /// When it was noticed.
        at: DateTime<Utc>,
        /// How many lines were lost.
        missed: u64,
    },
    /// A line of another type: only its time counts (the monitor was running).
    Other {
        /// When.
        at: DateTime<Utc>,
    },
}

impl Input {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Input::Event(e) => e.at,
            Input::Heartbeat { at, .. }
            | Input::Probe { at, .. }
            | Input::Lagged { at, .. }
            | Input::Other { at } => *at,
        }
    }
}

/// Why a record cannot be read.
#[derive(Debug, Error)]
pub enum RecordError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// A line is not a recorded line.
    #[error("{path}: line {line}: {reason}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct HeartbeatIn {
    every_ms: u64,
}

#[derive(Deserialize)]
struct ProbeIn<'a> {
    island: IslandNo,
    node: String,
    mode: ProbeMode,
    #[serde(borrow)]
    outcome: &'a str,
}

#[derive(Deserialize)]
struct LaggedIn {
    missed: u64,
}

/// Reads a record (see the module docs).
pub struct Reader<R> {
    input: R,
    path: String,
    line: u64,
    buf: Vec<u8>,
    truncated: bool,
}

impl<R: BufRead> Reader<R> {
    /// A reader of `input`, named `path` in errors.
    pub fn new(input: R, path: impl Into<String>) -> Self {
        Reader {
            input,
            path: path.into(),
            line: 0,
            buf: Vec::new(),
            truncated: false,
        }
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    /// True when the last line was cut short and dropped.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The next item, `None` at the end.
    pub fn next_input(&mut self) -> Result<Option<Input>, RecordError> {
        loop {
            self.buf.clear();
            let n = io::Read::take(&mut self.input, MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| RecordError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let complete = self.buf.last() == Some(&b'\n');
            if !complete && self.buf.len() > MAX_LINE {
                return Err(self.bad(format!("longer than {} MiB", MAX_LINE >> 20)));
            }
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.trim(),
                Err(e) if !complete => {
                    let _ = e;
                    self.truncated = true;
                    return Ok(None);
                }
                Err(e) => return Err(self.bad(format!("not UTF-8 (at byte {})", e.valid_up_to()))),
            };
            if text.is_empty() {
                continue;
            }
            match parse(text) {
                Ok(input) => return Ok(Some(input)),
                // A last line without its newline: the recorder stopped mid-write.
                Err(_) if !complete => {
                    self.truncated = true;
                    return Ok(None);
                }
                Err(reason) => return Err(self.bad(reason)),
            }
        }
    }

    fn bad(&self, reason: String) -> RecordError {
        RecordError::Line {
            path: self.path.clone(),
            line: self.line,
            reason,
        }
    }
}

/// One non-blank line.
fn parse(text: &str) -> Result<Input, String> {
    let what = |e: serde_json::Error| {
        let mut s = e.to_string();
        // serde_json says "at line 1 column N": the line is ours to name.
        if let Some(i) = s.find(" at line ") {
            s.truncate(i);
        }
        s
    };
    let head: Head = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a recorded line (a JSON object with `type` and `at`): {}",
            what(e)
        )
    })?;
    let at = head.at;
    let input = match head.kind {
        "heartbeat" => {
            let h: HeartbeatIn = serde_json::from_str(text).map_err(what)?;
            Input::Heartbeat {
                at,
                every: Duration::from_millis(h.every_ms),
            }
        }
        "probe" => {
            let p: ProbeIn = serde_json::from_str(text).map_err(what)?;
            Input::Probe {
                at,
                island: p.island,
                node: p.node,
                mode: p.mode,
                auth_failed: p.outcome == "auth_failed",
            }
        }
        "lagged" => {
            let l: LaggedIn = serde_json::from_str(text).map_err(what)?;
            Input::Lagged {
                at,
                missed: l.missed,
            }
        }
        kind if EVENT_TYPES.contains(&kind) => {
            let event: Event = serde_json::from_str(text)
                .map_err(|e| format!("a `{kind}` line that does not read back: {}", what(e)))?;
            Input::Event(event)
        }
        _ => Input::Other { at },
    };
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> (Result<Vec<Input>, RecordError>, bool) {
        let mut r = Reader::new(text.as_bytes(), "t.ndjson");
        let mut out = Vec::new();
        loop {
            match r.next_input() {
                Ok(Some(i)) => out.push(i),
                Ok(None) => return (Ok(out), r.truncated()),
                Err(e) => return (Err(e), r.truncated()),
            }
        }
    }

    const APPLIED: &str = r#"{"at":"2026-11-28T10:00:00.000Z","type":"config_applied","path":"c.toml","generation":1,"islands":1,"nodes":1,"candidates":2}"#;

    #[test]
    fn known_lines_read_back_and_others_are_kept_as_times() {
        let text = format!(
            "{APPLIED}\n\n{}\n{}\n{}\n{}\n",
            r#"{"type":"heartbeat","at":"2026-11-28T10:00:10.000Z","every_ms":10000,"nodes":1,"ok":1,"degraded":0,"down":0,"unknown":0,"generation":1}"#,
            r#"{"type":"probe","at":"2026-11-28T10:00:11.000Z","island":0,"node":"db","index":0,"login":"a","fingerprint":"0011aabb","label":null,"mode":"audit","outcome":"auth_failed","latency_ms":2.5,"generation":1}"#,
            r#"{"at":"2026-11-28T10:00:12.000Z","type":"warning","island":0,"warning":"no_master","active":true,"detail":"d","generation":1}"#,
            r#"{"type":"lagged","at":"2026-11-28T10:00:13.000Z","missed":4,"generation":1}"#,
        );
        let (items, truncated) = read_all(&text);
        let items = items.unwrap();
        assert!(!truncated);
        assert_eq!(items.len(), 5);
        assert!(matches!(&items[0], Input::Event(e) if e.at.timestamp() > 0));
        assert!(
            matches!(items[1], Input::Heartbeat { every, .. } if every == Duration::from_secs(10))
        );
        assert!(matches!(
            &items[2],
            Input::Probe {
                auth_failed: true,
                mode: ProbeMode::Audit,
                ..
            }
        ));
        assert!(matches!(items[3], Input::Other { .. }));
        assert!(matches!(items[4], Input::Lagged { missed: 4, .. }));
    }

    #[test]
    fn a_cut_last_line_is_dropped_and_said() {
        let cut = &APPLIED[..40];
        let (items, truncated) = read_all(&format!("{APPLIED}\n{cut}"));
        assert_eq!(items.unwrap().len(), 1);
        assert!(truncated);
        // A complete last line without its newline is fine.
        let (items, truncated) = read_all(APPLIED);
        assert_eq!(items.unwrap().len(), 1);
        assert!(!truncated);
    }

    #[test]
    fn a_bad_line_in_the_middle_names_its_number() {
        let cut = &APPLIED[..40];
        let (items, _) = read_all(&format!("{APPLIED}\n{cut}\n{APPLIED}\n"));
        let err = items.unwrap_err().to_string();
        assert!(
            err.starts_with("t.ndjson: line 2: not a recorded line"),
            "{err}"
        );
        let (items, _) = read_all(&format!(
            "{APPLIED}\n{}\n",
            r#"{"type":"health_changed","at":"2026-11-28T10:00:00Z","node":"x"}"#
        ));
        let err = items.unwrap_err().to_string();
        assert!(
            err.contains("line 2: a `health_changed` line that does not read back"),
            "{err}"
        );
        let (items, _) = read_all("{\"type\":\"probe\"}\n");
        assert!(items.unwrap_err().to_string().contains("line 1"));
    }
}
