//! What `/metrics` counts from the engine's feed: the figures a snapshot does not keep (probe
//! counts and durations, failed authentications, failed reloads). The serve task folds every feed
//! item into one [`Tally`]; a scrape renders a copy of it with the snapshot.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::episodes::Outcome;
use crate::engine::event::{EventKind, ProbeMode, ProbeRecordOutcome};
use crate::engine::{ErrorKind, Feed};

/// Upper bounds (seconds) of the probe duration histogram's buckets; `+Inf` follows. From a fast
/// loopback login (~1 ms) to the default probe timeout (5 s) and beyond.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Probe modes in label order.
pub const MODES: [ProbeMode; 2] = [ProbeMode::Chain, ProbeMode::Audit];

/// How many outcomes a probe can have: `ok` and every error kind.
pub const OUTCOMES: usize = 1 + ErrorKind::ALL.len();

/// A mode's label value.
pub fn mode_name(mode: ProbeMode) -> &'static str {
    match mode {
        ProbeMode::Chain => "chain",
        ProbeMode::Audit => "audit",
    }
}

/// Outcome `i`'s label value: `ok`, then the error kinds in [`ErrorKind::ALL`] order.
pub fn outcome_name(i: usize) -> &'static str {
    match i.checked_sub(1) {
        None => "ok",
        Some(k) => ErrorKind::ALL[k].as_str(),
    }
}

fn outcome_index(outcome: ProbeRecordOutcome) -> usize {
    match outcome {
        ProbeRecordOutcome::Ok => 0,
        ProbeRecordOutcome::Failed(kind) => {
            1 + ErrorKind::ALL
                .iter()
                .position(|k| *k == kind)
                .unwrap_or(ErrorKind::ALL.len() - 1)
        }
    }
}

fn mode_index(mode: ProbeMode) -> usize {
    match mode {
        ProbeMode::Chain => 0,
        ProbeMode::Audit => 1,
    }
}

/// Probes of one (mode, outcome): a histogram of their durations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Durations {
    /// Probes seen.
    pub count: u64,
    /// Their durations added up, in seconds.
    pub sum: f64,
    /// Probes per bucket (not cumulative): one per [`DURATION_BUCKETS`] bound, then `+Inf`.
    pub buckets: [u64; DURATION_BUCKETS.len() + 1],
}

impl Durations {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        self.count += 1;
        self.sum += s;
        let i = DURATION_BUCKETS
            .iter()
            .position(|&bound| s <= bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[i] += 1;
    }
}

/// Counters folded from the feed since the process started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Probe durations by mode (chain, audit) and outcome (see [`outcome_name`]).
    pub probes: [[Durations; OUTCOMES]; 2],
    /// Probes refused at authentication (`auth_failed`), by (mode, login).
    pub auth_failures: BTreeMap<(&'static str, String), u64>,
    /// Reloads that failed (`config_failed` events; the reload task publishes one failure once,
    /// until it changes or a reload is asked for by hand).
    pub reload_failures: u64,
    /// Feed items this tally missed because it fell behind the engine.
    pub lagged: u64,
    /// Rotation episodes that ended, by outcome: completed, timed out (`rotation_finished`).
    pub rotations: [u64; 2],
    /// Nodes that were, at some moment of a finished episode, without any working candidate,
    /// summed over episodes (an episode's `outages`).
    pub rotation_outages: u64,
}

/// Episode outcomes in label order.
pub const EPISODE_OUTCOMES: [Outcome; 2] = [Outcome::Completed, Outcome::TimedOut];

/// An episode outcome's label value.
pub fn episode_outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Completed => "completed",
        Outcome::TimedOut => "timed_out",
    }
}

impl Tally {
    /// Folds one feed item in.
    pub fn record(&mut self, item: &Feed) {
        match item {
            Feed::Probe(p) => {
                let outcome = outcome_index(p.outcome);
                self.probes[mode_index(p.mode)][outcome].observe(p.latency);
                if p.outcome == ProbeRecordOutcome::Failed(ErrorKind::AuthFailed) {
                    *self
                        .auth_failures
                        .entry((mode_name(p.mode), p.login.clone()))
                        .or_default() += 1;
                }
            }
            Feed::Event(e) => match &e.kind {
                EventKind::ConfigFailed { .. } => self.reload_failures += 1,
                EventKind::RotationFinished(s) => {
                    let i = EPISODE_OUTCOMES.iter().position(|o| *o == s.outcome);
                    self.rotations[i.unwrap_or(0)] += 1;
                    self.rotation_outages += s.outages as u64;
                }
                _ => {}
            },
        }
    }

    /// Notes `missed` feed items lost to lag.
    pub fn missed(&mut self, missed: u64) {
        self.lagged += missed;
    }

    /// Forgets the failed-auth counts of logins `keep` rejects (logins that left the config), so
    /// the map stays as small as the config.
    pub fn retain_logins(&mut self, keep: impl Fn(&str) -> bool) {
        self.auth_failures.retain(|(_, login), _| keep(login));
    }

    /// The failed authentications of `login` in `mode`.
    pub fn auth_failures(&self, mode: ProbeMode, login: &str) -> u64 {
        // BTreeMap<(&str, String)> cannot be looked up by (&str, &str): a short scan of the few
        // entries of one mode instead of an allocation per lookup.
        self.auth_failures
            .iter()
            .find(|((m, l), _)| *m == mode_name(mode) && l == login)
            .map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::{Event, ProbeRecord};
    use crate::topology::IslandNo;
    use chrono::{DateTime, Utc};

    fn probe(mode: ProbeMode, outcome: ProbeRecordOutcome, ms: u64, login: &str) -> Feed {
        Feed::Probe(ProbeRecord {
            at: DateTime::<Utc>::UNIX_EPOCH,
            island: IslandNo(0),
            node: "a".into(),
            index: 0,
            login: login.into(),
            fingerprint: crate::secret::Fingerprint::with_key(b"tally", login),
            label: None,
            mode,
            outcome,
            latency: Duration::from_millis(ms),
        })
    }

    #[test]
    fn probes_land_in_their_mode_outcome_and_bucket() {
        let mut t = Tally::default();
        t.record(&probe(ProbeMode::Chain, ProbeRecordOutcome::Ok, 3, "app"));
        t.record(&probe(ProbeMode::Chain, ProbeRecordOutcome::Ok, 5, "app"));
        t.record(&probe(
            ProbeMode::Audit,
            ProbeRecordOutcome::Ok,
            20_000,
            "app",
        ));
        let failed = ProbeRecordOutcome::Failed(ErrorKind::AuthFailed);
        t.record(&probe(ProbeMode::Audit, failed, 2, "old"));
        t.record(&probe(ProbeMode::Audit, failed, 2, "old"));
        t.record(&probe(ProbeMode::Chain, failed, 2, "app"));
        let timeout = ProbeRecordOutcome::Failed(ErrorKind::Timeout);
        t.record(&probe(ProbeMode::Chain, timeout, 5000, "app"));

        let chain_ok = &t.probes[0][0];
        assert_eq!(chain_ok.count, 2);
        assert!((chain_ok.sum - 0.008).abs() < 1e-9);
        // 3 ms is in (2.5 ms, 5 ms], and so is 5 ms (bounds are inclusive).
        assert_eq!(chain_ok.buckets[2], 2);
        assert_eq!(t.probes[1][0].buckets[DURATION_BUCKETS.len()], 1, "+Inf");
        let timeout_at = 1 + ErrorKind::ALL
            .iter()
            .position(|k| *k == ErrorKind::Timeout)
            .unwrap();
        assert_eq!(outcome_name(timeout_at), "timeout");
        assert_eq!(t.probes[0][timeout_at].count, 1);

        assert_eq!(t.auth_failures(ProbeMode::Audit, "old"), 2);
        assert_eq!(t.auth_failures(ProbeMode::Chain, "app"), 1);
        assert_eq!(t.auth_failures(ProbeMode::Chain, "old"), 0);
        t.retain_logins(|l| l == "app");
        assert_eq!(t.auth_failures(ProbeMode::Audit, "old"), 0);
        assert_eq!(t.auth_failures(ProbeMode::Chain, "app"), 1);
    }

    #[test]
    fn failed_reloads_are_counted_and_lag_is_noted() {
        let mut t = Tally::default();
        let failed = Feed::Event(Event {
            at: DateTime::<Utc>::UNIX_EPOCH,
            kind: EventKind::ConfigFailed {
                path: "c.toml".into(),
                error: "line 1: nope".into(),
            },
        });
        t.record(&failed);
        t.record(&failed);
        t.missed(7);
        assert_eq!(t.reload_failures, 2);
        assert_eq!(t.lagged, 7);
    }

    #[test]
    fn every_outcome_has_a_distinct_name() {
        let names: std::collections::BTreeSet<&str> = (0..OUTCOMES).map(outcome_name).collect();
        assert_eq!(names.len(), OUTCOMES);
        assert_eq!(outcome_name(0), "ok");
    }
}
