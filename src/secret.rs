//! Passwords and their fingerprints.
//!
//! A [`Password`] never prints itself: `Debug` and `Display` show `[redacted]`, and the only way to
//! read it is [`Password::expose`], which the prober calls when it logs in. Everything a person or a
//! script sees identifies a password by its [`Fingerprint`] instead: a keyed hash (HMAC-SHA256)
//! under a key drawn at random once per process, so a fingerprint is stable within a run, differs
//! between passwords, and is useless for guessing the password offline.
//!
//! A password is shared, not copied: clones point at one value, and [`Password::new`] hands out
//! the value already alive when the same password is read again (interning). That makes the
//! password's *identity* outlive config reloads, which re-read every secret: the keys derived
//! from it and remembered with it ([`Password::salted_key`], SCRAM's SaltedPassword) stay warm as
//! long as some config still lists the password, and are zeroized with it when the last
//! candidate using it leaves the config.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

mod derived;
mod matcher;

pub use derived::SaltedKey;
pub use matcher::SecretMatcher;

/// A password from the config. Cloning is cheap (shared); printing shows nothing.
#[derive(Clone)]
pub struct Password(Arc<Inner>);

/// The one shared copy of a password value, and what is derived from it.
struct Inner {
    value: SecretString,
    fingerprint: Fingerprint,
    /// Keys derived from the value (SCRAM), zeroized when the last clone goes.
    derived: Mutex<derived::Memo>,
}

impl Password {
    /// Wraps a password read from a config source; the same value alive elsewhere in the process
    /// is shared rather than duplicated (see the module docs).
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        let fingerprint = Fingerprint::of(&value);
        let mut table = interned().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(live) = table.get(&fingerprint).and_then(Weak::upgrade) {
            // 128-bit fingerprints do not collide in practice; compare anyway, it is cheap.
            if live.value.expose_secret() == value {
                return Password(live);
            }
        }
        let inner = Arc::new(Inner {
            value: SecretString::from(value),
            fingerprint,
            derived: Mutex::new(derived::Memo::default()),
        });
        table.insert(fingerprint, Arc::downgrade(&inner));
        table.prune_if_grown();
        Password(inner)
    }

    /// The clear text, for the one place that needs it: logging in to PostgreSQL.
    pub fn expose(&self) -> &str {
        self.0.value.expose_secret()
    }

    /// The keyed fingerprint of this password.
    pub fn fingerprint(&self) -> Fingerprint {
        self.0.fingerprint
    }

    /// True when the password is the empty string (a config error: a candidate needs a password).
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// The key derived from this password with `salt` and `iterations` (SCRAM's SaltedPassword):
    /// remembered from an earlier call, or computed now by `derive` and remembered (bounded, see
    /// [`SaltedKey`]). The derivation is a pure function of (password, salt, iterations), so a
    /// remembered key is exactly what `derive` would compute again: the memo changes costs, never
    /// outcomes. `derive` runs without any lock held.
    pub fn salted_key(
        &self,
        salt: &[u8],
        iterations: u32,
        derive: impl FnOnce(&str) -> [u8; 32],
    ) -> SaltedKey {
        if let Some(hit) = self.memo().get(salt, iterations) {
            return hit;
        }
        let key = SaltedKey::computed(derive(self.expose()));
        self.memo().put(salt, iterations, &key);
        key
    }

    /// How many derived keys this password remembers (for tests and benchmarks).
    pub fn salted_keys(&self) -> usize {
        self.memo().len()
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, derived::Memo> {
        self.0.derived.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.expose() == other.expose()
    }
}
impl Eq for Password {}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The passwords alive in this process, by fingerprint. Holds no value: a `Weak` lets the value
/// (and what was derived from it) go with its last [`Password`].
#[derive(Default)]
struct Interned {
    table: HashMap<Fingerprint, Weak<Inner>>,
    /// Table size after the last prune; the next prune runs when it has doubled.
    pruned_at: usize,
}

impl Interned {
    fn get(&self, fingerprint: &Fingerprint) -> Option<&Weak<Inner>> {
        self.table.get(fingerprint)
    }

    fn insert(&mut self, fingerprint: Fingerprint, inner: Weak<Inner>) {
        self.table.insert(fingerprint, inner);
    }

    /// Drops the entries of dead passwords, amortised: linear work once per doubling.
    fn prune_if_grown(&mut self) {
        if self.table.len() >= 2 * self.pruned_at.max(64) {
            self.table.retain(|_, w| w.strong_count() > 0);
            self.pruned_at = self.table.len();
        }
    }
}

fn interned() -> &'static Mutex<Interned> {
    static TABLE: OnceLock<Mutex<Interned>> = OnceLock::new();
    TABLE.get_or_init(Mutex::default)
}

/// A keyed hash of a password. Identity uses 128 bits, so two passwords never collide in
/// practice; people and scripts see the first 8 hex digits, which is plenty to tell candidates
/// apart on a screen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u128);

impl Fingerprint {
    /// Fingerprints `password` under this process's random key.
    pub fn of(password: &str) -> Self {
        Self::with_key(&process_key(), password)
    }

    /// Fingerprints `password` under an explicit key instead of the process key.
    ///
    /// For fixtures and snapshot tests only, whose output must not change between runs: under a
    /// known key a fingerprint no longer hides a weak password from an offline guess.
    pub fn with_key(key: &[u8], password: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
        mac.update(password.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut head = [0u8; 16];
        head.copy_from_slice(&digest[..16]);
        Fingerprint(u128::from_be_bytes(head))
    }
}

impl Fingerprint {
    /// All 128 bits as 32 hex digits, for the `[state]` file (whose key is kept beside them);
    /// never shown to people.
    pub fn full_hex(&self) -> String {
        format!("{:032x}", self.0)
    }

    /// Parses [`Fingerprint::full_hex`]'s form.
    pub fn from_full_hex(text: &str) -> Option<Self> {
        (text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u128::from_str_radix(text, 16).ok().map(Fingerprint))
            .flatten()
    }

    /// Reads back the shown form (8 hex digits), as a recording holds it. Such a fingerprint
    /// keeps only the shown 32 bits: two read back compare equal when their shown forms do, and
    /// never equal a fingerprint computed from a password.
    pub fn from_shown(text: &str) -> Option<Self> {
        (text.len() == 8 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(text, 16).ok())
            .flatten()
            .map(|head| Fingerprint(u128::from(head) << 96))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0 >> 96)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Reads the shown form (8 hex digits, see [`Fingerprint::from_shown`]) or the full one.
impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Fingerprint::from_shown(&text)
            .or_else(|| Fingerprint::from_full_hex(&text))
            .ok_or_else(|| serde::de::Error::custom("a fingerprint is 8 or 32 hex digits"))
    }
}

/// The fingerprint key: drawn at random once per process, unless [`use_fingerprint_key`] set
/// one. Never printed.
static KEY: RwLock<Option<[u8; 32]>> = RwLock::new(None);

fn process_key() -> [u8; 32] {
    if let Some(key) = *KEY.read().unwrap_or_else(|p| p.into_inner()) {
        return key;
    }
    *KEY.write()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(rand::random)
}

/// Fingerprints from now on use `key` instead of the random process key: the key a `[state]`
/// file keeps, so fingerprints stay the same across restarts. Passwords read before keep their
/// old fingerprints: read the config again after this call.
pub fn use_fingerprint_key(key: [u8; 32]) {
    *KEY.write().unwrap_or_else(|p| p.into_inner()) = Some(key);
}

/// Replaces every occurrence of each secret in `text` with `[redacted]`, as a
/// [`SecretMatcher`] does.
///
/// The last line of defence for text that came from outside (a server's error message, a secrets
/// command's stderr, a parser's error that quotes its input): secrets shorter than 3 characters are
/// left alone, since masking them would shred ordinary words and they are no real secret anyway.
///
/// For one text and a list of secrets used once: a substring search of `text` per secret picks
/// the few it holds, and a matcher of those masks them. Masking many texts against the same
/// secrets (a node's failure messages) keeps a [`SecretMatcher`] instead.
pub fn redact_all<'a>(text: &str, secrets: impl IntoIterator<Item = &'a Password>) -> String {
    let found: Vec<&Password> = secrets
        .into_iter()
        .filter(|s| {
            let s = s.expose();
            s.len() >= matcher::MIN_MASKED && s.len() <= text.len() && text.contains(s)
        })
        .collect();
    if found.is_empty() {
        return text.to_owned();
    }
    SecretMatcher::new(found).redact(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_password() {
        let p = Password::new("hunter2-secret");
        assert_eq!(format!("{p:?}"), "[redacted]");
        assert_eq!(format!("{p}"), "[redacted]");
        assert_eq!(p.expose(), "hunter2-secret");
    }

    #[test]
    fn the_same_value_is_one_shared_password_until_it_is_dropped() {
        let a = Password::new("interned-value-1");
        let b = Password::new(String::from("interned-value-1"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert!(!Arc::ptr_eq(&a.0, &Password::new("interned-value-2").0));
        let weak = Arc::downgrade(&a.0);
        drop((a, b));
        assert!(
            weak.upgrade().is_none(),
            "the value must go with its last holder"
        );
    }

    #[test]
    fn salted_keys_are_derived_once_per_salt_and_iterations() {
        let p = Password::new("salted-key-test-password");
        let mut calls = 0;
        let mut derive = |pw: &str| {
            calls += 1;
            let mut k = [0u8; 32];
            k[..pw.len().min(32)].copy_from_slice(&pw.as_bytes()[..pw.len().min(32)]);
            k
        };
        let first = p.salted_key(b"salt-1", 4096, &mut derive);
        assert!(!first.was_remembered());
        let again =
            Password::new("salted-key-test-password").salted_key(b"salt-1", 4096, &mut derive);
        assert!(again.was_remembered());
        assert_eq!(first.bytes(), again.bytes());
        // Another salt or iteration count is another key.
        assert!(!p.salted_key(b"salt-2", 4096, &mut derive).was_remembered());
        assert!(!p.salted_key(b"salt-1", 8192, &mut derive).was_remembered());
        assert_eq!(calls, 3);
        assert_eq!(p.salted_keys(), 3);
    }

    #[test]
    fn fingerprints_are_stable_distinct_and_not_the_password() {
        let a = Password::new("alpha-password");
        let b = Password::new("bravo-password");
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        let shown = a.fingerprint().to_string();
        assert_eq!(shown.len(), 8);
        assert!(!shown.contains("alpha"));
    }

    #[test]
    fn redact_all_masks_longest_first() {
        let long = Password::new("secret-long");
        let short = Password::new("secret");
        let text = "auth failed for secret-long and secret; ok";
        assert_eq!(
            redact_all(text, [&short, &long]),
            "auth failed for [redacted] and [redacted]; ok"
        );
    }
}
