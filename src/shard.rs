//! Splitting one config among a fleet of instances: `--shard K/N`.
//!
//! N instances given the same config and `--shard 0/N` … `--shard N-1/N` probe disjoint sets of
//! islands that together cover the config, with no coordination: each island belongs to the shard
//! its **stable hash** falls to. The hash is a pure function of the island's number (`no`), the
//! same on every machine, in every run and every version of rotascope (it is a contract: changing
//! it would move islands between instances of a running fleet):
//!
//! - the island number, mixed by the SplitMix64 finalizer, is the key;
//! - the key is placed by Lamping and Veach's *jump consistent hash*, so going from N to N+1
//!   instances moves only about 1/(N+1) of the islands (to the new instance), instead of almost
//!   all of them as `no % N` would.
//!
//! The filter is applied where a config is handed to the engine ([`Shard::feed`] for the
//! long-running commands, every reloaded config included; [`Shard::apply`] for `check`), so the
//! engine, every view and every metric see only this shard's islands. Islands are never split:
//! an island's warnings (`no_master`, `split_brain`) need all its nodes. A `shard_conflict`
//! between islands of different shards is not seen by either instance.

use std::fmt;
use std::str::FromStr;

use tokio::sync::watch;

use crate::config::{Config, ConfigFeed, ConfigState};
use crate::topology::{IslandNo, Topology};

/// Shard K of N (0 ≤ K < N).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Most shards a config may be split into.
pub const MAX_SHARDS: u32 = 4096;

impl Shard {
    /// The whole config: shard 0 of 1.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; `None` unless `index < count ≤ MAX_SHARDS`.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index < count && count <= MAX_SHARDS).then_some(Shard { index, count })
    }

    /// K.
    pub fn index(self) -> u32 {
        self.index
    }

    /// N.
    pub fn count(self) -> u32 {
        self.count
    }

    /// The shard (of `count`) that island `no` belongs to.
    pub fn owner(no: IslandNo, count: u32) -> u32 {
        jump_consistent_hash(splitmix64(u64::from(no.0)), count)
    }

    /// True when this shard probes island `no`.
    pub fn keeps(self, no: IslandNo) -> bool {
        Self::owner(no, self.count) == self.index
    }

    /// The islands of `topology` that fall to this shard, in their order.
    pub fn filter(self, topology: &Topology) -> Topology {
        Topology {
            islands: topology
                .islands
                .iter()
                .filter(|i| self.keeps(i.no))
                .cloned()
                .collect(),
        }
    }

    /// `config` with only this shard's islands.
    pub fn apply(self, mut config: Config) -> Config {
        if self != Shard::ALL {
            let kept = self.filter(&config.topology);
            if kept.islands.is_empty() && !config.topology.islands.is_empty() {
                tracing::warn!(
                    "shard {self} holds none of the config's {} islands: nothing to probe",
                    config.topology.islands.len()
                );
            }
            config.topology = kept;
        }
        config
    }

    /// A config feed that publishes every state of `feed` with only this shard's islands (the
    /// whole feed, unchanged, for [`Shard::ALL`]). The mapping task ends when either side is
    /// gone. Needs a tokio runtime.
    pub fn feed(self, feed: ConfigFeed) -> ConfigFeed {
        if self == Shard::ALL {
            return feed;
        }
        let ConfigFeed {
            state: mut source,
            reload,
        } = feed;
        let map = move |s: &ConfigState| ConfigState {
            config: std::sync::Arc::new(self.apply((*s.config).clone())),
            generation: s.generation,
            loaded_at: s.loaded_at,
            last_error: s.last_error.clone(),
        };
        let (tx, state) = watch::channel(map(&source.borrow_and_update()));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => break,
                    changed = source.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        let mapped = map(&source.borrow_and_update());
                        if tx.send(mapped).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        ConfigFeed { state, reload }
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why `K/N` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected K/N with 0 <= K < N <= {MAX_SHARDS} (e.g. 0/3): {0}")]
pub struct ShardParseError(&'static str);

impl FromStr for Shard {
    type Err = ShardParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, n) = s
            .split_once('/')
            .ok_or(ShardParseError("no `/` between K and N"))?;
        let number = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| ShardParseError("not a number"))
        };
        let (k, n) = (number(k)?, number(n)?);
        if n == 0 {
            return Err(ShardParseError("N must be at least 1"));
        }
        if n > MAX_SHARDS {
            return Err(ShardParseError("N is too large"));
        }
        Shard::new(k, n).ok_or(ShardParseError("K must be less than N (K counts from 0)"))
    }
}

/// The SplitMix64 finalizer: spreads consecutive island numbers over the whole key space.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014): the bucket in
/// `0..buckets` for `key`; growing `buckets` by one moves a key only to the new bucket.
fn jump_consistent_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    // 0 <= b < buckets <= u32::MAX.
    b as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake;

    #[test]
    fn k_of_n_parses_and_prints_back() {
        let s: Shard = "2/3".parse().unwrap();
        assert_eq!((s.index(), s.count()), (2, 3));
        assert_eq!(s.to_string(), "2/3");
        assert_eq!(" 0 / 1 ".parse::<Shard>().unwrap(), Shard::ALL);
        for bad in ["3/3", "1/0", "0", "a/2", "-1/2", "1/2/3", "0/4097", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert!("3/3"
            .parse::<Shard>()
            .unwrap_err()
            .to_string()
            .contains("K counts from 0"));
    }

    #[test]
    fn jump_hash_matches_the_published_reference() {
        // Vectors of the paper's reference implementation, as other ports test it.
        for (key, buckets, bucket) in [
            (1u64, 1u32, 0u32),
            (42, 57, 43),
            (0xDEAD_10CC, 1, 0),
            (0xDEAD_10CC, 666, 361),
            (256, 1024, 520),
        ] {
            assert_eq!(
                jump_consistent_hash(key, buckets),
                bucket,
                "{key} {buckets}"
            );
        }
    }

    #[test]
    fn the_hash_is_a_contract() {
        // Fixed values: an instance of another build must split the same config the same way.
        let owners: Vec<u32> = (0..12).map(|no| Shard::owner(IslandNo(no), 3)).collect();
        assert_eq!(owners, [2, 0, 0, 1, 2, 2, 0, 1, 0, 2, 2, 0]);
        assert_eq!(Shard::owner(IslandNo(7), 1), 0);
    }

    #[test]
    fn shards_partition_the_islands_evenly_enough() {
        for n in [1u32, 2, 3, 7, 16] {
            let mut counts = vec![0usize; n as usize];
            for no in 0..10_000u32 {
                let owners: Vec<u32> = (0..n)
                    .filter(|&k| Shard::new(k, n).unwrap().keeps(IslandNo(no)))
                    .collect();
                assert_eq!(owners.len(), 1, "island {no} of {n} shards: {owners:?}");
                counts[owners[0] as usize] += 1;
            }
            let ideal = 10_000 / n as usize;
            for c in counts {
                assert!(c.abs_diff(ideal) < ideal / 10 + 50, "n={n}: {c} vs {ideal}");
            }
        }
    }

    #[test]
    fn growing_the_fleet_moves_islands_only_to_the_new_instance() {
        let mut moved = 0;
        for no in 0..10_000u32 {
            let (before, after) = (Shard::owner(IslandNo(no), 4), Shard::owner(IslandNo(no), 5));
            if before != after {
                assert_eq!(after, 4, "island {no} moved from {before} to {after}");
                moved += 1;
            }
        }
        assert!((1500..2500).contains(&moved), "{moved} of 10000 moved");
    }

    #[test]
    fn the_filter_keeps_whole_islands_in_order() {
        let nodes = (0..12)
            .flat_map(|i| {
                [
                    fake::node(i, &format!("m{i}"), &[("app", "pw")]),
                    fake::node(i, &format!("r{i}"), &[("app", "pw")]),
                ]
            })
            .collect();
        let topology = fake::topology(nodes);
        let shard: Shard = "0/3".parse().unwrap();
        let kept = shard.filter(&topology);
        let numbers: Vec<u32> = kept.islands.iter().map(|i| i.no.0).collect();
        assert_eq!(numbers, [1, 2, 6, 8, 11]);
        assert!(kept.islands.iter().all(|i| i.nodes.len() == 2));
        assert_eq!(Shard::ALL.filter(&topology).islands.len(), 12);
    }

    #[tokio::test]
    async fn the_feed_filters_every_config_it_passes_on() {
        let nodes = (0..6)
            .map(|i| fake::node(i, &format!("n{i}"), &[("app", "pw")]))
            .collect();
        let config = fake::config(fake::topology(nodes), fake::settings());
        let (feed, tx) = ConfigFeed::manual(config.clone(), chrono::Utc::now());
        let shard: Shard = "1/2".parse().unwrap();
        let mut mapped = shard.feed(feed);
        let islands = |s: &ConfigState| -> Vec<u32> {
            s.config.topology.islands.iter().map(|i| i.no.0).collect()
        };
        let first = islands(&mapped.state.borrow_and_update());
        assert!(first.iter().all(|&no| Shard::owner(IslandNo(no), 2) == 1));
        assert!(!first.is_empty());

        // A reload with more islands: the new ones are filtered too.
        let more = (0..10)
            .map(|i| fake::node(i, &format!("n{i}"), &[("app", "pw")]))
            .collect();
        let mut next = config;
        next.topology = fake::topology(more);
        tx.send(ConfigState {
            config: std::sync::Arc::new(next),
            generation: 2,
            loaded_at: chrono::Utc::now(),
            last_error: None,
        })
        .unwrap();
        mapped.state.changed().await.unwrap();
        let state = mapped.state.borrow_and_update().clone();
        assert_eq!(state.generation, 2);
        let expected: Vec<u32> = (0..10)
            .filter(|&no| Shard::owner(IslandNo(no), 2) == 1)
            .collect();
        assert_eq!(islands(&state), expected);
    }
}
