//! Keys derived from one password (SCRAM's SaltedPassword), remembered with it.
//!
//! Held like the password itself: never printed, zeroized when forgotten or dropped. Bounded: a
//! password remembers at most [`MAX_KEYS`] (salt, iterations) pairs, the least recently used
//! going first. A role's salt is one per server (and per password set on it), so the bound is
//! reached only by a password used for more than that many server roles, or by servers that
//! hand out a new salt on every login (what an impostor might do): both cost a fresh derivation,
//! never a wrong answer.

use std::collections::HashMap;
use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// The most keys one password remembers.
pub const MAX_KEYS: usize = 16_384;

/// Salts longer than this are derived every time, never remembered (PostgreSQL's are 16 bytes).
const MAX_SALT: usize = 256;

/// A key derived from a password, and whether it was remembered or computed just now.
/// Zeroized on drop; `Debug` shows nothing of it.
pub struct SaltedKey {
    key: Zeroizing<[u8; 32]>,
    remembered: bool,
}

impl SaltedKey {
    pub(super) fn computed(key: [u8; 32]) -> SaltedKey {
        SaltedKey {
            key: Zeroizing::new(key),
            remembered: false,
        }
    }

    /// The key.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// True when it came from the memo rather than a fresh derivation.
    pub fn was_remembered(&self) -> bool {
        self.remembered
    }
}

impl fmt::Debug for SaltedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaltedKey([redacted], remembered: {})", self.remembered)
    }
}

/// The memo of one password.
#[derive(Default)]
pub(super) struct Memo {
    keys: HashMap<(Box<[u8]>, u32), Entry>,
    /// A logical clock for least-recently-used eviction.
    tick: u64,
}

struct Entry {
    key: [u8; 32],
    used: u64,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl Memo {
    pub(super) fn get(&mut self, salt: &[u8], iterations: u32) -> Option<SaltedKey> {
        self.tick += 1;
        let tick = self.tick;
        // The map is keyed by an owned salt; a borrowed lookup needs the same tuple shape.
        let entry = self.keys.get_mut(&(Box::<[u8]>::from(salt), iterations))?;
        entry.used = tick;
        Some(SaltedKey {
            key: Zeroizing::new(entry.key),
            remembered: true,
        })
    }

    pub(super) fn put(&mut self, salt: &[u8], iterations: u32, key: &SaltedKey) {
        if salt.len() > MAX_SALT {
            return;
        }
        if self.keys.len() >= MAX_KEYS {
            let oldest = self
                .keys
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.keys.remove(&k);
            }
        }
        self.tick += 1;
        self.keys.insert(
            (salt.into(), iterations),
            Entry {
                key: *key.bytes(),
                used: self.tick,
            },
        );
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_key_goes_first_when_full() {
        let mut memo = Memo::default();
        for i in 0..MAX_KEYS as u32 {
            memo.put(b"s", i, &SaltedKey::computed([1; 32]));
        }
        assert!(memo.get(b"s", 0).is_some()); // 0 is now the most recent
        memo.put(b"s", u32::MAX, &SaltedKey::computed([2; 32]));
        assert_eq!(memo.len(), MAX_KEYS);
        assert!(memo.get(b"s", 0).is_some());
        assert!(memo.get(b"s", 1).is_none(), "the least recently used went");
        assert_eq!(memo.get(b"s", u32::MAX).unwrap().bytes(), &[2; 32]);
    }

    #[test]
    fn huge_salts_are_not_remembered_and_keys_never_print() {
        let mut memo = Memo::default();
        memo.put(&[0; MAX_SALT + 1], 1, &SaltedKey::computed([3; 32]));
        assert_eq!(memo.len(), 0);
        let shown = format!("{:?}", SaltedKey::computed([0x41; 32]));
        assert!(!shown.contains("65") && !shown.contains("41"), "{shown}");
    }
}
