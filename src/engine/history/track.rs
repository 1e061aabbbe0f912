//! [`Track`]: one value over time, as an append-only list of change points.
//!
//! A point says "from this time on, the value is this"; the value holds until the next point.
//! Points are kept in chunks: full chunks are sealed and shared by `Arc` between every clone (the
//! engine's own copy and each snapshot's), only the short open chunk is copied. Cloning a track
//! is therefore O(chunks) reference-count bumps, and appending never copies history.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Points per sealed chunk.
pub(crate) const CHUNK: usize = 64;

/// Milliseconds since the Unix epoch: the one time unit inside the history.
pub type Millis = i64;

/// A wall-clock time as [`Millis`].
pub fn millis(at: DateTime<Utc>) -> Millis {
    at.timestamp_millis()
}

/// [`Millis`] back to a wall-clock time.
pub fn time(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// From `at` on, the value is `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point<T> {
    /// When the value started.
    pub at: Millis,
    /// The value.
    pub value: T,
}

/// A stretch of time with one value: `[from, to)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span<T> {
    /// Start (inclusive).
    pub from: Millis,
    /// End (exclusive).
    pub to: Millis,
    /// The value throughout.
    pub value: T,
}

/// One value over time (see the module docs).
#[derive(Clone, Debug)]
pub struct Track<T> {
    sealed: Vec<Arc<[Point<T>]>>,
    open: Vec<Point<T>>,
}

impl<T> Default for Track<T> {
    fn default() -> Self {
        Track {
            sealed: Vec::new(),
            open: Vec::new(),
        }
    }
}

impl<T: Clone + PartialEq> Track<T> {
    /// Records that the value is `value` from `at` on. A value equal to the current one adds
    /// nothing; a point at the same time as the last one (or earlier: clocks step back) replaces
    /// its value, so the track stays ordered.
    pub fn push(&mut self, at: Millis, value: T) {
        if self.last().is_some_and(|p| p.value == value) {
            return;
        }
        if let Some(last) = self.open.last_mut() {
            if at <= last.at {
                last.value = value;
                return;
            }
        } else if self.last().is_some_and(|p| at <= p.at) {
            // The last point is sealed: append at its time instead (never reorder).
            let at = self.last().map_or(at, |p| p.at);
            self.open.push(Point { at, value });
            return;
        }
        self.open.push(Point { at, value });
        if self.open.len() == CHUNK {
            self.sealed.push(Arc::from(std::mem::take(&mut self.open)));
        }
    }

    /// The latest point.
    pub fn last(&self) -> Option<&Point<T>> {
        self.open
            .last()
            .or_else(|| self.sealed.last().and_then(|c| c.last()))
    }

    /// The value in effect at `at` (the last point at or before it).
    pub fn at(&self, at: Millis) -> Option<&T> {
        let mut found = None;
        for p in self.iter() {
            if p.at > at {
                break;
            }
            found = Some(&p.value);
        }
        found
    }

    /// Every point, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Point<T>> {
        self.sealed
            .iter()
            .flat_map(|c| c.iter())
            .chain(self.open.iter())
    }

    /// The points from the one in effect at `at` on (and a few before it): the chunks that end
    /// before it are skipped without being read.
    pub fn iter_from(&self, at: Millis) -> impl Iterator<Item = &Point<T>> {
        let ended = self
            .sealed
            .partition_point(|c| c.last().is_some_and(|p| p.at <= at));
        self.sealed[ended.saturating_sub(1)..]
            .iter()
            .flat_map(|c| c.iter())
            .chain(self.open.iter())
    }

    /// How many points it holds.
    pub fn len(&self) -> usize {
        self.sealed.len() * CHUNK + self.open.len()
    }

    /// True when it holds no point.
    pub fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.open.is_empty()
    }

    /// The time of the oldest point kept.
    pub fn first_at(&self) -> Option<Millis> {
        self.iter().next().map(|p| p.at)
    }

    /// The stretches of `[from, to)`, each with its value, clipped to the window; time before
    /// the first point has no stretch.
    pub fn spans(&self, from: Millis, to: Millis) -> Vec<Span<T>> {
        let mut out: Vec<Span<T>> = Vec::new();
        let mut current: Option<&Point<T>> = None;
        for p in self.iter() {
            if p.at >= to {
                break;
            }
            if let Some(c) = current {
                let start = c.at.max(from);
                if p.at > start {
                    out.push(Span {
                        from: start,
                        to: p.at,
                        value: c.value.clone(),
                    });
                }
            }
            current = Some(p);
        }
        if let Some(c) = current {
            let start = c.at.max(from);
            if to > start {
                out.push(Span {
                    from: start,
                    to,
                    value: c.value.clone(),
                });
            }
        }
        out
    }

    /// Drops what is no longer needed: sealed chunks wholly before `keep_from` (the point in
    /// effect at `keep_from` stays), and the oldest sealed chunks beyond `max_points`. Returns
    /// how many points went.
    pub fn trim(&mut self, keep_from: Millis, max_points: usize) -> usize {
        let mut dropped = 0;
        while self.sealed.len() >= 2 || (self.sealed.len() == 1 && !self.open.is_empty()) {
            let next_first = match self.sealed.get(1) {
                Some(c) => c[0].at,
                None => self.open[0].at,
            };
            if next_first <= keep_from || self.len() > max_points.max(CHUNK) {
                self.sealed.remove(0);
                dropped += CHUNK;
            } else {
                break;
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_add_nothing_and_same_time_replaces() {
        let mut t = Track::default();
        t.push(10, 'a');
        t.push(20, 'a');
        t.push(30, 'b');
        t.push(30, 'c');
        let points: Vec<_> = t.iter().map(|p| (p.at, p.value)).collect();
        assert_eq!(points, [(10, 'a'), (30, 'c')]);
        assert_eq!(t.at(5), None);
        assert_eq!(t.at(29), Some(&'a'));
        assert_eq!(t.at(1000), Some(&'c'));
    }

    #[test]
    fn spans_are_clipped_to_the_window() {
        let mut t = Track::default();
        t.push(10, 1);
        t.push(20, 2);
        t.push(40, 3);
        let s = t.spans(15, 45);
        let got: Vec<_> = s.iter().map(|s| (s.from, s.to, s.value)).collect();
        assert_eq!(got, [(15, 20, 1), (20, 40, 2), (40, 45, 3)]);
        assert!(t.spans(0, 10).is_empty());
    }

    #[test]
    fn clones_share_sealed_chunks_and_diverge_after() {
        let mut t = Track::default();
        for i in 0..(CHUNK as i64 * 3 + 5) {
            t.push(i, i % 2);
        }
        let copy = t.clone();
        assert!(Arc::ptr_eq(&t.sealed[0], &copy.sealed[0]));
        t.push(10_000, 7);
        assert_eq!(copy.last().unwrap().at, CHUNK as i64 * 3 + 4);
        assert_eq!(t.last().unwrap().value, 7);
        assert_eq!(t.len(), copy.len() + 1);
    }

    #[test]
    fn trimming_keeps_the_value_in_effect_and_bounds_the_points() {
        let mut t = Track::default();
        for i in 0..(CHUNK as i64 * 4) {
            t.push(i * 10, i % 2);
        }
        // Keep from the middle of the third chunk: the first two chunks go.
        let keep = (CHUNK as i64 * 2 + 3) * 10;
        t.trim(keep, usize::MAX);
        assert_eq!(t.first_at(), Some(CHUNK as i64 * 2 * 10));
        assert!(t.at(keep).is_some());
        t.trim(0, CHUNK);
        assert!(t.len() <= CHUNK * 2, "{}", t.len());
        assert_eq!(t.last().unwrap().at, (CHUNK as i64 * 4 - 1) * 10);
    }

    #[test]
    fn a_clock_stepping_back_never_reorders() {
        let mut t = Track::default();
        for i in 0..CHUNK as i64 {
            t.push(i, i);
        }
        t.push(5, -1);
        let ats: Vec<_> = t.iter().map(|p| p.at).collect();
        assert!(ats.windows(2).all(|w| w[0] <= w[1]), "{ats:?}");
        assert_eq!(t.last().unwrap().value, -1);
    }
}
