//! `behind_schedule`: does the engine keep the configured chain interval?
//!
//! Overload is otherwise silent: with more nodes than `probe.concurrency` can serve, chain probes
//! queue for a permit and every node is probed less often than configured. So the engine
//! measures how often chain probes really run, and raises a cluster-level warning when they fall
//! behind.
//!
//! **Running engine** (TUI, `watch`). Each chain probe that ran on schedule — not asked for by a
//! command, a reload or a new node, and not stretched by the refusal backoff — gives one sample,
//! its *real interval*: from the end of the node's previous chain probe to the start of its first
//! probe (its permit held). The engine schedules the next chain when the previous one ends, so
//! when idle the real interval is the configured one plus its 0–20% jitter, whatever the probes'
//! own latency (a hung node does not count as late). Over the samples of the last [`WINDOW`]
//! intervals (at most [`MAX_SAMPLES`]):
//! - raised when the median real interval exceeds [`RAISE`] × `probe.interval` (the jitter alone
//!   stays under 1.2×: half the chains start late), once [`MIN_SAMPLES`] samples back it;
//! - cleared when the median is back at [`CLEAR`] × `probe.interval` or below (within the jitter;
//!   the gap between the two keeps a borderline load from flapping);
//! - the figures shown are the median and the longest real interval of the window.
//!
//! A reload (or `+`/`-`) that changes `probe.interval` starts the measurement over (and clears
//! the warning: figures against the old interval say nothing about the new one), counting only
//! chains whose previous chain ended after the change: one scheduled under a 1 s interval is not
//! late for a new 250 ms one.
//!
//! **One pass** (`check`). There is no previous chain: every node's chain is due when the pass
//! starts. The real interval is the length of the round, from the start of the pass to the start
//! of the last node's chain probe: the shortest interval at which a running monitor could probe
//! every node with this `probe.concurrency`. Raised when it exceeds `probe.interval`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::event::EventKind;
use super::journal::Journal;
use super::snapshot::{BehindSchedule, Pace, WarningKind};

/// The window, in intervals.
pub(crate) const WINDOW: u32 = 5;
/// The most samples kept (a window of a very large cluster is thinned to the latest ones).
pub(crate) const MAX_SAMPLES: usize = 4096;
/// The fewest samples that may raise the warning (one late chain is not a trend).
pub(crate) const MIN_SAMPLES: usize = 3;
/// Raised above this median real interval, in intervals.
pub(crate) const RAISE: f64 = 1.3;
/// Cleared at or below this median real interval, in intervals.
pub(crate) const CLEAR: f64 = 1.2;

/// One scheduled chain probe.
#[derive(Clone, Copy, Debug)]
struct Sample {
    started: Instant,
    real: Duration,
}

/// The measurement and the warning's state.
#[derive(Debug)]
pub(crate) struct PaceWatch {
    interval: Duration,
    samples: VecDeque<Sample>,
    /// How many samples exceed [`RAISE`] and [`CLEAR`] intervals: the median is above a
    /// threshold exactly when more than half the samples are, so the rule costs O(1) a sample.
    over_raise: usize,
    over_clear: usize,
    active: Option<BehindSchedule>,
    /// When the interval last changed: a chain whose previous one ended before then was
    /// scheduled under the old interval, and says nothing of the new one.
    retuned: Option<Instant>,
    /// One pass: when it started, and the latest chain start so far.
    round: (Instant, Option<Instant>),
}

impl PaceWatch {
    /// A fresh measurement against `interval`; a pass (if this is one) starts `now`.
    pub(crate) fn new(interval: Duration, now: Instant) -> Self {
        PaceWatch {
            interval,
            samples: VecDeque::new(),
            over_raise: 0,
            over_clear: 0,
            active: None,
            retuned: None,
            round: (now, None),
        }
    }

    /// A chain probe that ran on schedule started at `started`, `real` after its node's previous
    /// chain ended; raises or clears the warning as the window now says.
    pub(crate) fn chain_started(&mut self, started: Instant, real: Duration, log: &mut Journal) {
        let previous_end = started.checked_sub(real);
        if self
            .retuned
            .is_some_and(|t| previous_end.is_none_or(|end| end < t))
        {
            return;
        }
        let (raise, clear) = self.thresholds();
        self.over_raise += usize::from(real > raise);
        self.over_clear += usize::from(real > clear);
        self.samples.push_back(Sample { started, real });
        let window = self.interval.saturating_mul(WINDOW);
        while let Some(old) = self.samples.front().copied() {
            let stale = started.saturating_duration_since(old.started) > window;
            if !stale && self.samples.len() <= MAX_SAMPLES {
                break;
            }
            self.samples.pop_front();
            self.over_raise -= usize::from(old.real > raise);
            self.over_clear -= usize::from(old.real > clear);
        }
        let n = self.samples.len();
        if self.active.is_none() && n >= MIN_SAMPLES && 2 * self.over_raise > n {
            self.raise(log);
        } else if self.active.is_some() && 2 * self.over_clear <= n {
            self.clear(log);
        }
    }

    /// One pass: a chain probe started at `started`.
    pub(crate) fn round_started(&mut self, started: Instant) {
        let latest = self.round.1.get_or_insert(started);
        *latest = (*latest).max(started);
    }

    /// One pass: every chain has started; raises the warning when the round took longer than
    /// the interval.
    pub(crate) fn finish_round(&mut self, log: &mut Journal) {
        let (begun, Some(last)) = self.round else {
            return;
        };
        let round = last.saturating_duration_since(begun);
        if round > self.interval {
            self.samples.clear();
            self.samples.push_back(Sample {
                started: last,
                real: round,
            });
            self.raise(log);
        }
    }

    /// A reload (or `+`/`-`) set `interval`: a new one starts the measurement over, with the
    /// chains scheduled under the new interval.
    pub(crate) fn retune(&mut self, interval: Duration, now: Instant, log: &mut Journal) {
        if interval == self.interval {
            return;
        }
        if self.active.is_some() {
            self.clear(log);
        }
        self.retuned = Some(now);
        self.interval = interval;
        self.samples.clear();
        self.over_raise = 0;
        self.over_clear = 0;
    }

    /// The active warning with the window's latest figures.
    pub(crate) fn current(&self) -> Option<BehindSchedule> {
        self.active.map(|w| BehindSchedule {
            pace: self.pace().unwrap_or(w.pace),
            ..w
        })
    }

    /// The real intervals above which the median raises and clears the warning.
    fn thresholds(&self) -> (Duration, Duration) {
        (self.interval.mul_f64(RAISE), self.interval.mul_f64(CLEAR))
    }

    /// The window's figures (none without samples).
    fn pace(&self) -> Option<Pace> {
        let mut real: Vec<Duration> = self.samples.iter().map(|s| s.real).collect();
        real.sort_unstable();
        // Nearest rank, as the latency figures: the ⌈n/2⌉-th smallest.
        let median = *real.get(real.len().div_ceil(2).checked_sub(1)?)?;
        Some(Pace {
            interval: self.interval,
            real_p50: median,
            real_max: *real.last()?,
            samples: real.len(),
        })
    }

    fn raise(&mut self, log: &mut Journal) {
        let Some(pace) = self.pace() else {
            return;
        };
        self.active = Some(BehindSchedule {
            pace,
            since: log.now(),
        });
        emit(log, true, pace);
    }

    fn clear(&mut self, log: &mut Journal) {
        if let Some(was) = self.active.take() {
            emit(log, false, self.pace().unwrap_or(was.pace));
        }
    }
}

/// A `warning` event: raised with the detail (figures and advice), cleared with the figures.
fn emit(log: &mut Journal, active: bool, pace: Pace) {
    log.emit(EventKind::ClusterWarning {
        warning: WarningKind::BehindSchedule,
        active,
        detail: if active {
            pace.detail()
        } else {
            pace.figures()
        },
        pace,
    });
}
