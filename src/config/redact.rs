//! Redaction of text that may quote a secret (parser messages, a command's stderr).
//!
//! The loader collects every password it sees — resolved secrets, and anything that looks like a
//! password in the raw text (even text that failed to parse) — into a [`Redactor`], and passes
//! every outside message through it before it lands in a [`super::ConfigError`].

use std::collections::HashSet;

use crate::secret::{redact_all, Fingerprint, Password, SecretMatcher};

use super::conn;

mod scan;

/// The secrets seen so far while loading, for masking outside text.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<Password>,
    /// Fingerprints of `secrets`: adding stays O(1) with tens of thousands of secrets.
    seen: HashSet<Fingerprint>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// Remembers a password.
    pub fn add(&mut self, password: &Password) {
        if self.seen.insert(password.fingerprint()) {
            self.secrets.push(password.clone());
        }
    }

    fn add_str(&mut self, value: &str) {
        if !value.is_empty() {
            self.add(&Password::new(value));
        }
    }

    /// A matcher of every remembered secret: built once, it answers "does this text hold any of
    /// them" in time linear in the text, where [`Redactor::redact`] scans the whole list for
    /// each text.
    pub fn matcher(&self) -> SecretMatcher {
        SecretMatcher::new(&self.secrets)
    }

    /// Masks every remembered secret in `text`.
    pub fn redact(&self, text: &str) -> String {
        redact_all(text, &self.secrets)
    }

    /// Collects what looks like a password in TOML or JSON text, parseable or not.
    ///
    /// Two passes: a recoverable TOML parse (exact values of `password` keys and of passwords
    /// inside connection strings) and a line scan for `password = "..."`, `"password": "..."`,
    /// `password=...` and `scheme://user:password@` — the scan is what catches a broken line.
    pub fn harvest_text(&mut self, text: &str) {
        let (root, _errors) = toml::de::DeTable::parse_recoverable(text);
        self.harvest_toml_table(root.get_ref());
        for line in text.lines() {
            self.scan_line(line);
        }
    }

    /// Collects the password of a connection string (URL userinfo, `?password=`, `password=`).
    pub fn harvest_conn(&mut self, s: &str) {
        if let Some(p) = conn::embedded_password(s) {
            self.add_str(&p);
        }
        self.scan_line(s);
    }

    fn harvest_toml_table(&mut self, table: &toml::de::DeTable<'_>) {
        for (key, value) in table {
            self.harvest_toml_value(Some(key.get_ref()), value.get_ref());
        }
    }

    fn harvest_toml_value(&mut self, key: Option<&str>, value: &toml::de::DeValue<'_>) {
        use toml::de::DeValue;
        match value {
            DeValue::String(s) if key == Some("password") => self.add_str(s),
            DeValue::String(s) => self.harvest_conn(s),
            DeValue::Integer(i) if key == Some("password") => self.add_str(i.as_str()),
            DeValue::Float(x) if key == Some("password") => self.add_str(x.as_str()),
            DeValue::Array(items) => {
                for item in items {
                    self.harvest_toml_value(None, item.get_ref());
                }
            }
            DeValue::Table(t) => self.harvest_toml_table(t),
            _ => {}
        }
    }

    /// Heuristic scan of one line; see [`Redactor::harvest_text`] and [`scan`].
    fn scan_line(&mut self, line: &str) {
        let found = scan::scan(line);
        for value in found.values {
            self.add_str(value);
        }
        for pw in found.url_passwords {
            self.add_str(pw);
            self.add_str(&conn::percent_decode(pw));
        }
    }

    /// True when `text` carries what looks like a password (a URL's, `password=...`).
    pub fn carries_secret(text: &str) -> bool {
        let mut r = Redactor::default();
        r.harvest_conn(text);
        !r.secrets.is_empty()
    }
}

/// Words that name a credential in `key=value` / `"key": value` text.
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "credential",
    "api_key",
    "apikey",
    "private_key",
    "access_key",
];

/// True when `text` holds anything shaped like a credential: a key naming one followed by `=` or
/// `:` (`password=…`, `"password": …`, `AWS_SECRET_ACCESS_KEY=…`, `token: …`), a URL with a
/// password in it, or a secrets document (JSON with a `"login"` key, or text that parses as a
/// JSON object or array). Used to withhold a failing `secrets_command`'s stderr: on a first load
/// no password is known yet, so masking alone cannot protect it.
pub(crate) fn looks_like_credentials(text: &str) -> bool {
    if Redactor::carries_secret(text) {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    let keyed = |word: &str| {
        lower.match_indices(word).any(|(at, _)| {
            // The rest of the key (`password_hash`, `SECRET_ACCESS_KEY`), a closing quote,
            // blanks, then the separator.
            let rest = lower[at + word.len()..]
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let rest = rest.trim_start_matches(['"', '\'']).trim_start();
            rest.starts_with('=') || rest.starts_with(':')
        })
    };
    if CREDENTIAL_WORDS.iter().any(|w| keyed(w)) || keyed("\"login\"") {
        return true;
    }
    let trimmed = text.trim();
    (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(trimmed).is_ok()
}

/// True when `value` looks like an environment variable's name as people write them: capitals,
/// digits and `_`. A `password_env` value that does not is not repeated in errors: it may be a
/// password pasted into the wrong key.
pub(crate) fn looks_like_env_name(value: &str) -> bool {
    value.len() <= 128
        && value.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// True when `value` looks like a path: a `/` or a `.` in it, and nothing but letters, digits and
/// `/ . _ - ~ +`. A `password_file` (or program path) that does not is not repeated in errors.
pub(crate) fn looks_like_path(value: &str) -> bool {
    value.len() <= 4096
        && value.contains(['/', '.'])
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-~+".contains(c))
}

/// True when `value` looks like a program: a path ([`looks_like_path`]) or a lower-case command
/// name (`vault`, `aws`, `op`, `get-secrets`).
pub(crate) fn looks_like_program(value: &str) -> bool {
    looks_like_path(value)
        || (value.len() <= 64
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-+".contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harvests_passwords_from_broken_toml() {
        let mut r = Redactor::default();
        r.harvest_text(
            "[[secrets]]\nlogin = \"app\"\npassword = \"hunter2-x\n\
             islands = [[\"postgres://u:url-pass@h/db\", \"host=h password='kv pass'\"]]\n\
             password_env = \"NOT_A_SECRET\"\n",
        );
        let out = r.redact("hunter2-x url-pass kv pass NOT_A_SECRET");
        assert_eq!(out, "[redacted] [redacted] [redacted] NOT_A_SECRET");
    }

    #[test]
    fn harvests_url_passwords_with_unencoded_specials() {
        let mut r = Redactor::default();
        r.harvest_text(
            "islands = [[\"postgres://app:2024/Spring!@db/app\", \"postgres://u:p?ss@h/db\"\n\
             x = 'postgres://u:a/b@c@h/db'\n\
             connecting to postgres://v:x@y@h2/db failed: timeout\n",
        );
        let out = r.redact("2024/Spring! p?ss a/b@c x@y");
        assert_eq!(out, "[redacted] [redacted] [redacted] [redacted]");
        assert!(Redactor::carries_secret("postgres://u:a/b@h/db"));
        assert!(Redactor::carries_secret("host=h password=x1y"));
        assert!(!Redactor::carries_secret("db-c1 (password rotation)"));
        assert!(!Redactor::carries_secret("postgres://u@h/db"));
    }

    #[test]
    fn credential_shaped_text_is_recognised() {
        for yes in [
            "vault: login with password=abc refused",
            "{\"errors\": [{\"password\": \"x\"}]}",
            "AWS_SECRET_ACCESS_KEY=abcd",
            "token: s.8f7a6",
            "[{\"login\": \"app\", \"pw\": \"x\"}]",
            "{\"data\": 1}",
            "connecting to postgres://u:p4ss@db/app",
            "'Secret' : xyz",
        ] {
            assert!(looks_like_credentials(yes), "{yes}");
        }
        for no in [
            "permission denied",
            "Error: secret not found at secret/data/app",
            "vault: connection refused (dial tcp 10.0.0.1:8200)",
            "password authentication is required",
            "",
        ] {
            assert!(!looks_like_credentials(no), "{no}");
        }
    }

    #[test]
    fn names_paths_and_programs_are_told_from_pasted_passwords() {
        assert!(looks_like_env_name("APP_A_PASSWORD"));
        assert!(!looks_like_env_name("Tr0ub4dor&3"));
        assert!(!looks_like_env_name("correct-horse"));
        assert!(looks_like_path("/run/secrets/app_b"));
        assert!(looks_like_path("pw/app.txt"));
        assert!(looks_like_path("app.pw"));
        assert!(!looks_like_path("Tr0ub4dor&3"));
        assert!(!looks_like_path("correcthorse"));
        assert!(looks_like_program("vault"));
        assert!(looks_like_program("./get-secrets.sh"));
        assert!(!looks_like_program("Tr0ub4dor&3"));
        assert!(!looks_like_program("Hunter2"));
    }

    #[test]
    fn adding_is_idempotent() {
        let mut r = Redactor::default();
        for _ in 0..3 {
            r.add(&Password::new("same-secret"));
        }
        assert_eq!(r.secrets.len(), 1);
        assert_eq!(r.redact("x same-secret y"), "x [redacted] y");
    }

    #[test]
    fn harvests_json_passwords() {
        let mut r = Redactor::default();
        r.harvest_text(r#"[{"login": "a", "password": "json-secret"}, {"password":"x2y"}"#);
        assert_eq!(r.redact("json-secret x2y"), "[redacted] [redacted]");
    }
}
