//! Cluster-wide folds of the per-node tracks, computed once per version of the history and
//! shared by every clone of it (the engine's copy and each snapshot's), so a frame of the
//! dashboard paints a credential's row from one short list instead of walking every node.
//!
//! A fold is a list of change points: from `at` on, the union of what the nodes' tracks said.
//! Painting a fold's stretches onto a [`Grid`](super::Grid) marks the same cells as painting every
//! node's spans one by one (a cell is marked with a state when some node was in it during the
//! cell, and the fold's stretches cover exactly the times some node was), so what is drawn does
//! not change; only the work does.

use std::sync::{Arc, Mutex, PoisonError};

use super::track::{Millis, Track};

/// Union of bits over time: `(at, bits)` change points, sorted, consecutive bits differing.
pub(crate) type Points = Vec<(Millis, u8)>;

/// Folds start on a whole hour at or before the time asked for, so a window sliding forward
/// reuses one fold for an hour and a fold never walks more than an hour and a window of points.
const SINCE_STEP: Millis = 60 * 60 * 1000;

/// A fold from some time on, made when first read and shared between clones; replaced (never
/// changed in place) when what it folds changes, so a clone published earlier keeps the fold of
/// its own version. Asked for an earlier time than it holds, it is made again from then.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lazy<T>(Arc<Mutex<Option<Held<T>>>>);

/// A fold and the time it is exact from.
type Held<T> = (Millis, Arc<T>);

impl<T> Lazy<T> {
    /// The fold covering `from` on: the one held, or `make(since)` for a `since` at or before
    /// `from`.
    pub(crate) fn get(&self, from: Millis, make: impl FnOnce(Millis) -> T) -> Arc<T> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*held {
            Some((since, fold)) if *since <= from => Arc::clone(fold),
            _ => {
                let since = from - from.rem_euclid(SINCE_STEP);
                let fold = Arc::new(make(since));
                *held = Some((since, Arc::clone(&fold)));
                fold
            }
        }
    }
}

/// One credential across the cluster: its fold, and the first time any node's track of it starts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Credential {
    pub(crate) points: Points,
    pub(crate) first_at: Option<Millis>,
}

/// Folds tracks into the union of `bits(value)` over time, exact from `since` on; `bits` of 0
/// means "nothing".
pub(crate) fn fold<'a, T: Clone + PartialEq + 'a>(
    tracks: impl Iterator<Item = &'a Track<T>>,
    since: Millis,
    bits: impl Fn(&T) -> u8,
) -> Points {
    // Sweep: for every stretch of a node's value, +1 on each of its bits at its start and -1 at
    // its end; the union at a time is the bits whose count is above zero.
    let mut edges: Vec<(Millis, u8, i32)> = Vec::new();
    for track in tracks {
        let mut current: Option<(Millis, u8)> = None;
        for p in track.iter_from(since) {
            if let Some((at, b)) = current.take() {
                if b != 0 && p.at > at {
                    edges.push((at, b, 1));
                    edges.push((p.at, b, -1));
                }
            }
            current = Some((p.at, bits(&p.value)));
        }
        if let Some((at, b)) = current {
            if b != 0 {
                edges.push((at, b, 1));
            }
        }
    }
    edges.sort_unstable_by_key(|e| e.0);
    let mut counts = [0i32; 8];
    let mut out: Points = Vec::new();
    let mut i = 0;
    while i < edges.len() {
        let at = edges[i].0;
        while i < edges.len() && edges[i].0 == at {
            let (_, b, d) = edges[i];
            for (bit, count) in counts.iter_mut().enumerate() {
                if b & (1 << bit) != 0 {
                    *count += d;
                }
            }
            i += 1;
        }
        let union = counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .fold(0u8, |u, (bit, _)| u | (1 << bit));
        if out.last().map_or(union != 0, |l| l.1 != union) {
            out.push((at, union));
        }
    }
    out
}

/// The stretches of `points` inside `[from, to)`, clipped, with their bits (0 included).
pub(crate) fn stretches(
    points: &[(Millis, u8)],
    from: Millis,
    to: Millis,
) -> impl Iterator<Item = (Millis, Millis, u8)> + '_ {
    // The point in effect at `from`, then every later one before `to`.
    let start = points.partition_point(|p| p.0 <= from).saturating_sub(1);
    points[start..]
        .iter()
        .enumerate()
        .take_while(move |(_, p)| p.0 < to)
        .map(move |(k, p)| {
            let end = points.get(start + k + 1).map_or(to, |n| n.0.min(to));
            (p.0.max(from), end, p.1)
        })
        .filter(|(a, b, _)| b > a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fold_is_the_union_of_every_track_over_time() {
        let mut a = Track::default();
        a.push(10, 1u8);
        a.push(20, 0);
        let mut b = Track::default();
        b.push(15, 2u8);
        b.push(30, 1);
        let f = fold([&a, &b].into_iter(), 0, |v| *v);
        assert_eq!(f, [(10, 1), (15, 3), (20, 2), (30, 1)]);
        let s: Vec<_> = stretches(&f, 12, 25).collect();
        assert_eq!(s, [(12, 15, 1), (15, 20, 3), (20, 25, 2)]);
        let s: Vec<_> = stretches(&f, 0, 12).collect();
        assert_eq!(s, [(10, 12, 1)]);
        let s: Vec<_> = stretches(&f, 40, 50).collect();
        assert_eq!(s, [(40, 50, 1)]);
    }
}
