//! Timing: jittered intervals from a seedable RNG, the auth-failure backoff, and the conversion of
//! tokio deadlines into wall-clock times for the snapshot.
//!
//! Scheduling runs on `tokio::time::Instant` so tests can pause and advance time; the RNG is seeded
//! so a test run is repeatable.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

/// Intervals are stretched by a random 0–20% so many monitors do not probe in step.
pub(crate) const JITTER: f64 = 0.2;

/// The backoff never waits more than this many intervals.
pub(crate) const BACKOFF_CAP: u32 = 10;

/// The source of jitter: a small, seedable RNG owned by the engine task.
#[derive(Debug)]
pub(crate) struct Jitter(SmallRng);

impl Jitter {
    /// A jitter source with this seed.
    pub(crate) fn new(seed: u64) -> Self {
        Jitter(SmallRng::seed_from_u64(seed))
    }

    /// One draw: a stretch of 0–20%.
    pub(crate) fn draw(&mut self) -> Stretch {
        Stretch(1.0 + self.0.random_range(0.0..JITTER))
    }

    /// `base` stretched by a random 0–20%.
    pub(crate) fn stretch(&mut self, base: Duration) -> Duration {
        self.draw().of(base)
    }

    /// The backoff after `failures` refusals in a row, with a fresh draw of jitter
    /// ([`Stretch::backoff`]).
    pub(crate) fn backoff(&mut self, base: Duration, failures: u32) -> Duration {
        self.draw().backoff(base, failures)
    }
}

/// One draw of jitter: the factor (1.0 up to 1.2) an interval is stretched by. An audit draws
/// one for all its candidates, so they stay in step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stretch(f64);

impl Stretch {
    /// No stretch at all.
    pub(crate) const NONE: Stretch = Stretch(1.0);

    /// The largest stretch there is, for tests of the cap.
    #[cfg(test)]
    pub(crate) const MAX: Stretch = Stretch(1.0 + JITTER);

    /// `base` stretched.
    pub(crate) fn of(self, base: Duration) -> Duration {
        base.mul_f64(self.0)
    }

    /// The one backoff of the engine (chains and audits alike): `base × backoff_factor(failures)`,
    /// stretched, and never more than [`BACKOFF_CAP`] × `base`: the cap is a promise ("up to 10×
    /// the interval"), jitter included.
    pub(crate) fn backoff(self, base: Duration, failures: u32) -> Duration {
        let cap = base.saturating_mul(BACKOFF_CAP);
        self.of(base.saturating_mul(backoff_factor(failures)))
            .min(cap)
    }
}

/// How many intervals to wait after `failures` refusals in a row: 1 with none, then 2, 4, 8, and
/// 10 from the fourth on (2ⁿ capped at [`BACKOFF_CAP`]).
fn backoff_factor(failures: u32) -> u32 {
    if failures >= 4 {
        BACKOFF_CAP
    } else {
        (1u32 << failures).min(BACKOFF_CAP)
    }
}

/// The wall-clock time of a tokio `deadline`, seen from `now` (tokio) and `wall_now` (clock).
/// Deadlines already past read as `wall_now`.
pub(crate) fn wall_time(wall_now: DateTime<Utc>, now: Instant, deadline: Instant) -> DateTime<Utc> {
    let ahead = deadline.saturating_duration_since(now);
    chrono::Duration::from_std(ahead)
        .ok()
        .and_then(|d| wall_now.checked_add_signed(d))
        .unwrap_or(wall_now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps_at_ten() {
        let factors: Vec<u32> = (0..7).map(backoff_factor).collect();
        assert_eq!(factors, [1, 2, 4, 8, 10, 10, 10]);
        assert_eq!(backoff_factor(u32::MAX), BACKOFF_CAP);
    }

    #[test]
    fn backoff_with_jitter_never_exceeds_ten_intervals() {
        let base = Duration::from_secs(30);
        let mut j = Jitter::new(3);
        let waits: Vec<Duration> = (0..1000).map(|_| j.backoff(base, 9)).collect();
        assert!(waits.iter().all(|d| *d <= base * BACKOFF_CAP), "{waits:?}");
        // below the cap the jitter still spreads monitors apart
        let early: Vec<Duration> = (0..100).map(|_| j.backoff(base, 1)).collect();
        assert!(early.iter().any(|d| *d > base * 2), "{early:?}");
    }

    #[test]
    fn the_longest_backoff_is_exactly_ten_intervals() {
        let base = Duration::from_secs(30);
        // the largest jitter on the largest factor: 12 intervals before the cap, 10 after it
        for failures in [4, 5, 100, u32::MAX] {
            assert_eq!(Stretch::MAX.backoff(base, failures), base * 10);
        }
        // below the cap the stretch applies in full: 8 × 1.2 = 9.6 intervals
        assert_eq!(
            Stretch::MAX.backoff(base, 3),
            base.mul_f64(8.0 * (1.0 + JITTER))
        );
    }

    #[test]
    fn jitter_stretches_by_at_most_a_fifth_and_is_seedable() {
        let base = Duration::from_secs(10);
        let mut a = Jitter::new(7);
        let mut b = Jitter::new(7);
        for _ in 0..1000 {
            let d = a.stretch(base);
            assert!(d >= base && d < base.mul_f64(1.0 + JITTER), "{d:?}");
            assert_eq!(d, b.stretch(base));
        }
    }

    #[test]
    fn past_deadlines_read_as_now() {
        let now = Instant::now();
        let wall = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(wall_time(wall, now + Duration::from_secs(5), now), wall);
        assert_eq!(
            wall_time(wall, now, now + Duration::from_secs(5)),
            wall + chrono::Duration::seconds(5)
        );
    }
}
