//! What the nodes table needs of every node's name, made once per list of nodes and remembered.
//!
//! Shortening names (what they all share) and sorting by the shortened name walk every node; at
//! 10,000 nodes that is most of a frame. A snapshot changes with every probe, but the list of
//! nodes only on a reload, so [`Names::of`] remembers the last list it was asked about (on this
//! thread) and answers again while the list is equal. The key is the whole list (island and name
//! of every node, in order), so the answer is the one a fresh computation would give: the memo
//! is invisible.

use std::cell::RefCell;
use std::rc::Rc;

use super::render::format::width;
use super::render::names::Shortener;
use crate::engine::snapshot::Snapshot;
use crate::topology::NodeKey;

/// The shortened names of a list of nodes: the [`Shortener`], the widest name, and the order by
/// name.
#[derive(Debug)]
pub struct Names {
    /// Shortens every name of the list.
    pub shortener: Shortener,
    /// Columns of the widest shortened name, and of the widest with its island (`3/…`) before it.
    longest: [usize; 2],
    /// Per node (in snapshot order): its place in the order by shortened name, then island;
    /// equal names share a place.
    rank: Vec<u32>,
}

thread_local! {
    static LAST: RefCell<Option<(Vec<NodeKey>, Rc<Names>)>> = const { RefCell::new(None) };
}

impl Names {
    /// The names of `snapshot`'s nodes; the same answer as last time while its nodes are the same.
    pub fn of(snapshot: &Snapshot) -> Rc<Names> {
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            if let Some((keys, names)) = last.as_ref() {
                // Names are shared `Arc<str>`s, so this is mostly pointer comparisons.
                if keys.len() == snapshot.nodes().count()
                    && keys.iter().zip(snapshot.nodes()).all(|(k, n)| *k == n.key)
                {
                    return Rc::clone(names);
                }
            }
            let keys: Vec<NodeKey> = snapshot.nodes().map(|n| n.key.clone()).collect();
            let names = Rc::new(Names::new(&keys));
            *last = Some((keys, Rc::clone(&names)));
            names
        })
    }

    fn new(keys: &[NodeKey]) -> Names {
        let shortener = Shortener::for_names(keys.iter().map(|k| &*k.name));
        let short: Vec<(String, &NodeKey)> = keys
            .iter()
            .map(|k| (shortener.short(&k.name).into_owned(), k))
            .collect();
        let longest = |flat: bool| {
            short
                .iter()
                .map(|(s, k)| {
                    let island = if flat { island_prefix(k).len() } else { 0 };
                    island + width(s)
                })
                .max()
                .unwrap_or(0)
        };
        let longest = [longest(false), longest(true)];
        let mut order: Vec<usize> = (0..short.len()).collect();
        let key = |i: usize| (&short[i].0, short[i].1.island);
        order.sort_by(|a, b| key(*a).cmp(&key(*b)));
        let mut rank = vec![0u32; short.len()];
        for (place, pair) in order.iter().enumerate() {
            let tie = place > 0 && key(order[place - 1]) == key(*pair);
            rank[*pair] = if tie {
                rank[order[place - 1]]
            } else {
                place as u32
            };
        }
        Names {
            shortener,
            longest,
            rank,
        }
    }

    /// Columns of the widest shortened name, with its island before it when `flat`.
    pub fn longest(&self, flat: bool) -> usize {
        self.longest[usize::from(flat)]
    }

    /// The place of the node at `index` (in snapshot order) in the order by name.
    pub fn rank(&self, index: usize) -> u32 {
        self.rank.get(index).copied().unwrap_or(u32::MAX)
    }
}

/// `3/`: the island a node belongs to, shown before its name when islands are mixed.
pub fn island_prefix(key: &NodeKey) -> String {
    format!("{}/", key.island)
}
