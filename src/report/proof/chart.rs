//! The report's chart data: every credential as a row of time cells over the whole input, in
//! bounded memory. Cells start one second wide; when the input outgrows [`COLUMNS`] cells, each
//! cell covers twice the time (neighbours merged), so a week-long record still fits.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::event::rfc3339;
use crate::engine::history::{time, Cell, CredKey, Grid, Millis, Seen};

/// The most cells per row.
pub const COLUMNS: usize = 480;

/// The most credential rows (more are counted, not drawn).
pub const MAX_ROWS: usize = 200;

/// The most credentials beyond [`MAX_ROWS`] that are told apart when counting them.
const MAX_COUNTED: usize = 100_000;

/// The chart's time axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Axis {
    /// Start of the first cell.
    #[serde(serialize_with = "rfc3339")]
    pub from: DateTime<Utc>,
    /// End of the last cell used.
    #[serde(serialize_with = "rfc3339")]
    pub to: DateTime<Utc>,
    /// Cells used.
    pub columns: usize,
    /// Time per cell.
    pub cell_ms: u64,
}

/// Rows of cells (see the module docs).
#[derive(Debug, Default)]
pub struct Chart {
    origin: Millis,
    width: Millis,
    rows: BTreeMap<CredKey, Vec<Seen>>,
    /// When each row's credential was first seen, for the rows' order.
    first_seen: BTreeMap<CredKey, Millis>,
    /// The latest time painted.
    latest: Millis,
    gap: Vec<Seen>,
    overflow: BTreeSet<CredKey>,
    overflow_more: u64,
}

impl Chart {
    /// Starts the axis at `at` (rounded down to a second).
    pub fn start(&mut self, at: Millis) {
        self.origin = at - at.rem_euclid(1000);
        self.width = 1000;
        self.gap = vec![Seen::default(); COLUMNS];
    }

    fn grid(&self) -> Grid {
        Grid {
            from: self.origin,
            to: self.origin + self.width * COLUMNS as Millis,
            n: COLUMNS,
        }
    }

    /// Makes the cells wide enough for time up to `to`.
    fn fit(&mut self, to: Millis) {
        if self.width == 0 {
            self.start(to);
        }
        while to > self.origin + self.width * COLUMNS as Millis {
            self.width *= 2;
            for row in self.rows.values_mut().chain(std::iter::once(&mut self.gap)) {
                for i in 0..COLUMNS / 2 {
                    let mut merged = row[2 * i];
                    merged.add(row[2 * i + 1]);
                    row[i] = merged;
                }
                row[COLUMNS / 2..].fill(Seen::default());
            }
        }
    }

    /// Makes sure `cred` has a row when there is room for it; true when it has one.
    pub fn row(&mut self, cred: &CredKey) -> bool {
        if self.rows.contains_key(cred) {
            return true;
        }
        if self.overflow.contains(cred) {
            return false;
        }
        if self.rows.len() < MAX_ROWS {
            self.rows
                .insert(cred.clone(), vec![Seen::default(); COLUMNS]);
            self.first_seen.insert(cred.clone(), self.latest);
            return true;
        }
        if self.overflow.len() < MAX_COUNTED {
            self.overflow.insert(cred.clone());
        } else {
            self.overflow_more += 1;
        }
        false
    }

    /// Marks `seen` on `cred`'s row over `[from, to)`.
    pub fn paint(&mut self, cred: &CredKey, from: Millis, to: Millis, seen: Seen) {
        self.fit(to);
        self.latest = self.latest.max(to);
        let grid = self.grid();
        if let Some(row) = self.rows.get_mut(cred) {
            grid.paint(row, from, to, seen);
        }
    }

    /// Marks a gap in monitoring over `[from, to)`.
    pub fn paint_gap(&mut self, from: Millis, to: Millis) {
        self.fit(to);
        let grid = self.grid();
        grid.paint(&mut self.gap, from, to, Seen::GAP);
    }

    /// The axis, for input ending at `end`.
    pub fn axis(&mut self, end: Millis) -> Axis {
        self.fit(end);
        let width = self.width.max(1);
        let columns = usize::try_from((end - self.origin + width - 1) / width)
            .unwrap_or(0)
            .clamp(1, COLUMNS);
        Axis {
            from: time(self.origin),
            to: time(self.origin + width * columns as Millis),
            columns,
            cell_ms: u64::try_from(width).unwrap_or(0),
        }
    }

    /// Notes the time the input has reached (rows made now are ordered after earlier ones).
    pub fn reached(&mut self, at: Millis) {
        self.latest = self.latest.max(at);
    }

    /// Each row's first `columns` cells, by login and then by when the credential was first
    /// seen; gaps show where no state was seen.
    pub fn rows(&self, columns: usize) -> impl Iterator<Item = (&CredKey, Vec<Cell>)> {
        let gap = &self.gap;
        let mut order: Vec<(&CredKey, &Vec<Seen>)> = self.rows.iter().collect();
        order.sort_by_key(|(k, _)| (&k.login, self.first_seen.get(*k).copied().unwrap_or(0)));
        order.into_iter().map(move |(k, row)| {
            let cells = row
                .iter()
                .zip(gap)
                .take(columns)
                .map(|(seen, g)| {
                    let mut s = *seen;
                    s.add(*g);
                    s.cell()
                })
                .collect();
            (k, cells)
        })
    }

    /// Which of the first `columns` cells had a gap.
    pub fn gap_columns(&self, columns: usize) -> Vec<bool> {
        self.gap
            .iter()
            .take(columns)
            .map(|g| g.has(Seen::GAP))
            .collect()
    }

    /// Credentials that got no row.
    pub fn more_rows(&self) -> u64 {
        self.overflow.len() as u64 + self.overflow_more
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Fingerprint;

    fn cred(login: &str) -> CredKey {
        CredKey {
            login: login.into(),
            fingerprint: Fingerprint::with_key(b"k", login),
        }
    }

    #[test]
    fn cells_widen_as_the_input_grows_and_keep_what_they_saw() {
        let mut c = Chart::default();
        c.start(0);
        let a = cred("a");
        c.row(&a);
        c.paint(&a, 0, 10_000, Seen::VALID);
        c.paint(&a, 10_000, 20_000, Seen::INVALID);
        assert_eq!(c.axis(20_000).columns, 20);
        // An hour later: cells are 8 s wide, and the first one saw both states.
        c.paint(&a, 20_000, 3_600_000, Seen::VALID);
        let axis = c.axis(3_600_000);
        assert_eq!(axis.cell_ms, 8000);
        assert_eq!(axis.columns, 450);
        let (_, cells) = c.rows(axis.columns).next().unwrap();
        assert_eq!(cells[0], Cell::ValidEverywhere);
        assert_eq!(cells[1], Cell::ValidSome);
        assert_eq!(cells[2], Cell::ValidSome);
        assert_eq!(cells[3], Cell::ValidEverywhere);
        assert_eq!(cells[100], Cell::ValidEverywhere);
    }

    #[test]
    fn rows_are_bounded() {
        let mut c = Chart::default();
        c.start(0);
        for i in 0..(MAX_ROWS + 5) {
            c.row(&cred(&format!("login{i}")));
        }
        c.row(&cred("login0"));
        assert_eq!(c.rows(1).count(), MAX_ROWS);
        assert_eq!(c.more_rows(), 5);
    }
}
