//! Time cells of a credential across the cluster: what its candidates on every node were during
//! a stretch of time, folded into one of a few kinds a timeline can draw. Used by the TUI's
//! timeline (through [`History::credential_cells`](super::History::credential_cells)) and by the
//! report's chart, so both say the same.

use serde::Serialize;

use super::track::Millis;
use crate::engine::snapshot::CandidateState;

/// The states seen during a cell, as bits (OR-ed over nodes and over time within the cell).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Seen(pub u8);

impl Seen {
    /// Logged in.
    pub const VALID: Seen = Seen(1);
    /// Refused (candidate level).
    pub const INVALID: Seen = Seen(2);
    /// Its node could not be reached.
    pub const UNREACHABLE: Seen = Seen(4);
    /// Listed, not tried yet (or skipped).
    pub const UNTESTED: Seen = Seen(8);
    /// Monitoring was not running.
    pub const GAP: Seen = Seen(16);

    /// The bit of a candidate state.
    pub fn of(state: CandidateState) -> Seen {
        match state {
            CandidateState::Valid => Seen::VALID,
            CandidateState::Invalid => Seen::INVALID,
            CandidateState::Unreachable => Seen::UNREACHABLE,
            CandidateState::Untested | CandidateState::Skipped => Seen::UNTESTED,
        }
    }

    /// Adds what `other` saw.
    pub fn add(&mut self, other: Seen) {
        self.0 |= other.0;
    }

    /// True when every bit of `bits` was seen.
    pub fn has(self, bits: Seen) -> bool {
        self.0 & bits.0 == bits.0
    }

    /// The kind of cell this makes.
    pub fn cell(self) -> Cell {
        let valid = self.has(Seen::VALID);
        let invalid = self.has(Seen::INVALID);
        let unreachable = self.has(Seen::UNREACHABLE);
        let untested = self.has(Seen::UNTESTED);
        match (valid, invalid || unreachable || untested) {
            (true, false) => Cell::ValidEverywhere,
            (true, true) => Cell::ValidSome,
            (false, _) if invalid => Cell::InvalidEverywhere,
            (false, _) if untested || unreachable => Cell::Untested,
            _ if self.has(Seen::GAP) => Cell::Gap,
            _ => Cell::Absent,
        }
    }
}

/// What a credential was during one cell of a timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    /// Valid on every node that lists it, throughout.
    ValidEverywhere,
    /// Valid on some nodes (or for part of the cell), refused, unreachable or untested on others.
    ValidSome,
    /// Never valid anywhere during the cell, refused somewhere.
    InvalidEverywhere,
    /// Listed but not known to work or fail (not tried yet, or its node unreachable).
    Untested,
    /// Monitoring was not running.
    Gap,
    /// Not listed by the config then.
    Absent,
}

impl Cell {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cell::ValidEverywhere => "valid_everywhere",
            Cell::ValidSome => "valid_some",
            Cell::InvalidEverywhere => "invalid_everywhere",
            Cell::Untested => "untested",
            Cell::Gap => "gap",
            Cell::Absent => "absent",
        }
    }
}

/// A timeline's cells: `n` equal cells over `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Start of the first cell.
    pub from: Millis,
    /// End of the last cell.
    pub to: Millis,
    /// How many cells.
    pub n: usize,
}

impl Grid {
    /// The cells `[from, to)` touches, as an index range (empty when outside the grid).
    pub fn cells(&self, from: Millis, to: Millis) -> std::ops::Range<usize> {
        if self.n == 0 || self.to <= self.from || to <= self.from || from >= self.to || to <= from {
            return 0..0;
        }
        let span = (self.to - self.from) as i128;
        let index = |t: Millis| ((t - self.from) as i128 * self.n as i128 / span) as usize;
        let first = index(from.max(self.from));
        // `to` is exclusive: the cell holding `to - 1` is the last one touched.
        let last = index((to - 1).min(self.to - 1));
        first..(last + 1).min(self.n)
    }

    /// Marks `seen` in every cell `[from, to)` touches.
    pub fn paint(&self, cells: &mut [Seen], from: Millis, to: Millis, seen: Seen) {
        for cell in &mut cells[self.cells(from, to)] {
            cell.add(seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_fold_states_as_people_read_them() {
        let of = |bits: &[Seen]| {
            let mut s = Seen::default();
            bits.iter().for_each(|b| s.add(*b));
            s.cell()
        };
        assert_eq!(of(&[Seen::VALID]), Cell::ValidEverywhere);
        assert_eq!(of(&[Seen::VALID, Seen::INVALID]), Cell::ValidSome);
        assert_eq!(of(&[Seen::VALID, Seen::UNTESTED]), Cell::ValidSome);
        assert_eq!(
            of(&[Seen::INVALID, Seen::UNTESTED]),
            Cell::InvalidEverywhere
        );
        assert_eq!(of(&[Seen::UNTESTED]), Cell::Untested);
        assert_eq!(of(&[Seen::UNREACHABLE]), Cell::Untested);
        assert_eq!(of(&[Seen::GAP]), Cell::Gap);
        assert_eq!(of(&[]), Cell::Absent);
    }

    #[test]
    fn a_grid_paints_the_cells_a_stretch_touches() {
        let g = Grid {
            from: 0,
            to: 100,
            n: 10,
        };
        assert_eq!(g.cells(0, 10), 0..1);
        assert_eq!(g.cells(5, 25), 0..3);
        assert_eq!(g.cells(-50, 5), 0..1);
        assert_eq!(g.cells(95, 500), 9..10);
        assert_eq!(g.cells(100, 200), 0..0);
        let mut cells = vec![Seen::default(); 10];
        g.paint(&mut cells, 30, 50, Seen::INVALID);
        assert_eq!(
            cells.iter().map(|c| c.cell()).collect::<Vec<_>>()[2..6],
            [
                Cell::Absent,
                Cell::InvalidEverywhere,
                Cell::InvalidEverywhere,
                Cell::Absent
            ]
        );
    }
}
