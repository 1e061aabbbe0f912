//! Redaction of text that may quote a secret (parser messages, a command's stderr).
//!
//! The loader collects every password it sees — resolved secrets, and anything that looks like a
//! password in the raw text (even text that failed to parse) — into a [`Redactor`], and passes
//! every outside message through it before it lands in a [`super::ConfigError`].

use crate::secret::{redact_all, Password};

use super::conn;

/// The secrets seen so far while loading, for masking outside text.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<Password>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// Remembers a password.
    pub fn add(&mut self, password: &Password) {
        if !self.secrets.contains(password) {
            self.secrets.push(password.clone());
        }
    }

    fn add_str(&mut self, value: &str) {
        if !value.is_empty() {
            self.add(&Password::new(value));
        }
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

    /// Heuristic scan of one line; see [`Redactor::harvest_text`].
    fn scan_line(&mut self, line: &str) {
        let lower = line.to_ascii_lowercase();
        let mut from = 0;
        while let Some(found) = lower[from..].find("password") {
            let after = from + found + "password".len();
            from = after;
            // `password_env = ...` names a variable, not a secret.
            if lower[after..].starts_with('_') {
                continue;
            }
            if let Some(value) = value_after_separator(&line[after..]) {
                self.add_str(value);
            }
        }
        let mut from = 0;
        while let Some(found) = line[from..].find("://") {
            let start = from + found + 3;
            from = start;
            // The URL runs to a quote or the end of the line; a password may hold `/`, `?` or
            // `@` (see `conn`), so each `@` that could end the credentials yields a candidate:
            // the parser's, libpq's (the first) and the last one. Never one per `@`: a password
            // of 64 KiB of `@` would make that quadratic (issue 14 item 4).
            let end = line[start..]
                .find(['"', '\'', '`'])
                .map_or(line.len(), |e| start + e);
            let url = &line[start..end];
            let mut ats = [conn::credentials_end(url), url.find('@'), url.rfind('@')];
            ats.sort_unstable();
            let mut last = None;
            for at in ats.into_iter().flatten() {
                if last == Some(at) {
                    continue;
                }
                last = Some(at);
                let userinfo = &url[..at];
                if !conn::plausible_user(userinfo) {
                    continue;
                }
                if let Some((_, pw)) = userinfo.split_once(':') {
                    self.add_str(pw);
                    self.add_str(&conn::percent_decode(pw));
                }
            }
        }
    }

    /// True when `text` carries what looks like a password (a URL's, `password=...`).
    pub fn carries_secret(text: &str) -> bool {
        let mut r = Redactor::default();
        r.harvest_conn(text);
        !r.secrets.is_empty()
    }
}

/// The value after `password`: skips a closing quote of a JSON key, blanks, then `=` or `:`;
/// reads a quoted value to its closing quote, or a bare one to a blank or quote.
fn value_after_separator(rest: &str) -> Option<&str> {
    let rest = rest.strip_prefix('"').unwrap_or(rest).trim_start();
    let rest = rest
        .strip_prefix('=')
        .or_else(|| rest.strip_prefix(':'))?
        .trim_start();
    let mut chars = rest.chars();
    match chars.next()? {
        q @ ('"' | '\'') => {
            let body = &rest[1..];
            let end = body.find(q).unwrap_or(body.len());
            Some(&body[..end])
        }
        _ => {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | '&'))
                .unwrap_or(rest.len());
            Some(&rest[..end])
        }
    }
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
    fn harvests_json_passwords() {
        let mut r = Redactor::default();
        r.harvest_text(r#"[{"login": "a", "password": "json-secret"}, {"password":"x2y"}"#);
        assert_eq!(r.redact("json-secret x2y"), "[redacted] [redacted]");
    }
}
