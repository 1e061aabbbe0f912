//! Passwords and their fingerprints.
//!
//! A [`Password`] never prints itself: `Debug` and `Display` show `[redacted]`, and the only way to
//! read it is [`Password::expose`], which the prober calls when it logs in. Everything a person or a
//! script sees identifies a password by its [`Fingerprint`] instead: a keyed hash (HMAC-SHA256)
//! under a key drawn at random once per process, so a fingerprint is stable within a run, differs
//! between passwords, and is useless for guessing the password offline.

use std::fmt;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// A password from the config. Cloning is cheap enough (it is small); printing shows nothing.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Wraps a password read from a config source.
    pub fn new(value: impl Into<String>) -> Self {
        Password(SecretString::from(value.into()))
    }

    /// The clear text, for the one place that needs it: logging in to PostgreSQL.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The keyed fingerprint of this password.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.expose())
    }

    /// True when the password is the empty string (a config error: a candidate needs a password).
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
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

/// A keyed hash of a password. Identity uses 128 bits, so two passwords never collide in
/// practice; people and scripts see the first 8 hex digits, which is plenty to tell candidates
/// apart on a screen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u128);

impl Fingerprint {
    /// Fingerprints `password` under this process's random key.
    pub fn of(password: &str) -> Self {
        Self::with_key(process_key(), password)
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

/// The per-process fingerprint key: random, never stored, never printed.
fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(rand::random)
}

/// Replaces every occurrence of each secret in `text` with `[redacted]`.
///
/// The last line of defence for text that came from outside (a server's error message, a secrets
/// command's stderr, a parser's error that quotes its input): secrets shorter than 3 characters are
/// left alone, since masking them would shred ordinary words and they are no real secret anyway.
///
/// One pass over the secrets (each a length check and a substring search of `text`); only those
/// found are sorted, so tens of thousands of secrets cost no more than they must.
pub fn redact_all<'a>(text: &str, secrets: impl IntoIterator<Item = &'a Password>) -> String {
    let mut found: Vec<&str> = secrets
        .into_iter()
        .map(Password::expose)
        .filter(|s| s.len() >= 3 && s.len() <= text.len() && text.contains(s))
        .collect();
    if found.is_empty() {
        return text.to_owned();
    }
    // Longest first, so a password that contains another is masked whole.
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for v in found {
        if out.contains(v) {
            out = out.replace(v, "[redacted]");
        }
    }
    out
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
