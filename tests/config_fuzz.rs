//! A fuzz-style property suite over the config loader (seeded, so every failure replays), run by
//! `cargo test` like any other test and kept to a few seconds.
//!
//! Each case is a config written the way people write them — compact and explicit forms, inline
//! secrets, `password_env`, `password_file`, `secrets_file` (JSON and TOML), `secrets_command`,
//! settings — with *marker passwords* in every password position and, now and then, pasted into
//! the wrong key (a setting, `shards.pattern`, `password_env`, `password_file`, the command) or
//! printed by a failing command; absurd lengths; and random damage to the text (cut, spliced,
//! doubled lines, stray bytes and control characters). For every case:
//! - nothing panics;
//! - the loader gives a config or a config error, and the binary exits 0 or 3;
//! - no marker password appears in any output: the error's `Display` and `Debug`, the
//!   `config check` report, `Debug` of the config, and the binary's stdout and stderr.
//!
//! Targets are a table: a new parser is one more line in [`TARGETS`]. Markers inside the
//! loader's connection strings use URL-safe characters; conninfo's own shapes belong to its
//! target, [`conninfo`]: both forms with markers of any character in every password position
//! (raw, percent-encoded, quoted with escapes, in the URL's user info and in `?password=`, in a
//! service file's section), query parameters, multi-host lists, `service`, `passfile`,
//! `target_session_attrs` and the rest, and the same random damage; [`conninfo::parse`], the
//! service section, [`conninfo::resolve`] and every host's display string must give a value or
//! an error and show no marker in any name, display string, error message or `Debug` output.
//!
//! Replay one case: `FUZZ_SEED=<seed> cargo test --test config_fuzz` (the failure prints it).
//! Explore further: `FUZZ_BASE=<n>` starts the seeds elsewhere (CI runs the fixed default).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rotascope::config::describe::describe;
use rotascope::config::load::{load_with, LoadOptions};
use rotascope::conninfo::{self, display, service};
use rotascope::topology::Source;

/// What one case showed: every text a person or a script could see, and the passwords that
/// must not be in any of it.
struct Run {
    outputs: Vec<String>,
    markers: Vec<String>,
    /// The config loaded (false: a config error).
    loaded: bool,
}

/// A fuzz target: generates one case from the generator and runs it.
struct Target {
    name: &'static str,
    cases: u64,
    run: fn(&mut Gen) -> Run,
}

const TARGETS: &[Target] = &[
    Target {
        name: "config loader",
        cases: 3000,
        run: config_loader,
    },
    Target {
        name: "rotascope config check",
        cases: 100,
        run: config_check_binary,
    },
    Target {
        name: "conninfo parse and resolve",
        cases: 2000,
        run: conninfo,
    },
];

#[test]
fn no_panic_no_other_outcome_no_marker_in_any_output() {
    let only: Option<u64> = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok());
    let base: u64 = std::env::var("FUZZ_BASE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0000);
    for target in TARGETS {
        let seeds: Vec<u64> = match only {
            Some(seed) => vec![seed],
            None => (0..target.cases).map(|i| base + i).collect(),
        };
        let (mut loaded, mut failed) = (0u64, 0u64);
        for seed in seeds {
            let mut g = Gen::new(seed);
            let run = match catch_unwind(AssertUnwindSafe(|| (target.run)(&mut g))) {
                Ok(run) => run,
                Err(_) => panic!(
                    "{}: case panicked; replay with FUZZ_SEED={seed}\n{}",
                    target.name, g.config
                ),
            };
            for out in &run.outputs {
                for m in &run.markers {
                    assert!(
                        !out.contains(m.as_str()),
                        "{}: marker password {m:?} shown; replay with FUZZ_SEED={seed}\n\
                         --- output:\n{out}\n--- config:\n{}\n{}",
                        target.name,
                        g.config,
                        g.files()
                    );
                }
            }
            if run.loaded {
                loaded += 1;
            } else {
                failed += 1;
            }
        }
        eprintln!("{}: {loaded} loaded, {failed} config errors", target.name);
        // A generator that only makes broken configs would prove little about the good path.
        if only.is_none() {
            assert!(
                loaded * 10 >= target.cases && failed * 10 >= target.cases,
                "{}: {loaded} loaded, {failed} errors: the generator is lopsided",
                target.name
            );
        }
    }
}

/// A seeded source of config pieces; remembers the config text and the marker passwords it
/// handed out.
struct Gen {
    rng: StdRng,
    dir: tempfile::TempDir,
    /// The config text of the case (for the failure message).
    config: String,
    markers: Vec<String>,
    /// The markers the config really holds as passwords (a paste elsewhere can be masked).
    known: Vec<String>,
    env: Vec<(String, String)>,
    serial: usize,
    /// This case gets faults (bad values, pasted passwords, missing sources, damage).
    faulty: bool,
    /// A known password was pasted somewhere in this case.
    pasted_known: bool,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: StdRng::seed_from_u64(seed),
            dir: tempfile::tempdir().expect("tempdir"),
            config: String::new(),
            markers: Vec::new(),
            known: Vec::new(),
            env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
            serial: 0,
            faulty: false,
            pasted_known: false,
        }
    }

    /// The other files of the case, for a failure message.
    fn files(&self) -> String {
        let mut out = String::new();
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else {
            return out;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name != "rotascope.toml" {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                out += &format!("--- {name}:\n{text}\n");
            }
        }
        out
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    /// A new marker password; `url_safe` keeps it to characters a URL carries unencoded.
    fn marker(&mut self, url_safe: bool) -> String {
        let specials: &[char] = if url_safe {
            &['-', '_', '~', '.']
        } else {
            &[
                '&', '!', '#', '$', '%', '*', '(', ')', '=', '+', ';', ':', ',', '@', '/', '?', ' ',
            ]
        };
        self.marker_of(specials)
    }

    /// A marker pasted into a key that names something (`password_env`, `password_file`, the
    /// command): with a character no variable, path or program name has, as most generated
    /// passwords do. (One that looks like a name is repeated in errors: a documented limit.)
    fn pasted_marker(&mut self) -> String {
        self.marker_of(&[
            '&', '!', '#', '$', '%', '*', '(', ')', '=', ';', ':', ',', '@', '?', ' ',
        ])
    }

    /// A password this config really holds (to paste somewhere else), if any. A case with such
    /// a paste gets no random damage: damage could cut the password where it is held, and an
    /// unknown value pasted into a setting cannot be told from a setting.
    fn paste_known(&mut self, percent: u32) -> Option<String> {
        if self.known.is_empty() || !self.fault(percent) {
            return None;
        }
        self.pasted_known = true;
        let i = self.rng.random_range(0..self.known.len());
        Some(self.known[i].clone())
    }

    /// A marker that the config will hold as a password.
    fn password(&mut self, url_safe: bool) -> String {
        let m = self.marker(url_safe);
        self.known.push(m.clone());
        m
    }

    fn marker_of(&mut self, specials: &[char]) -> String {
        self.serial += 1;
        let a = specials[self.rng.random_range(0..specials.len())];
        let b = specials[self.rng.random_range(0..specials.len())];
        let m = format!(
            "Mk{}q{a}Z{}x{b}Wp",
            self.serial,
            self.rng.random_range(100..999)
        );
        self.markers.push(m.clone());
        m
    }

    /// True now and then, in a faulty case only: where a fault goes in.
    fn fault(&mut self, percent: u32) -> bool {
        self.faulty && self.chance(percent)
    }

    fn login(&mut self) -> String {
        if self.fault(4) {
            return "L".repeat(self.rng.random_range(60..70_000));
        }
        self.pick(&["app", "app_a", "app_b", "Ünïcode", "o'neil", "a b"])
            .to_owned()
    }

    fn label(&mut self) -> Option<String> {
        if self.fault(5) {
            return Some("x".repeat(self.rng.random_range(200..300)));
        }
        match self.rng.random_range(0..10) {
            0..=5 => None,
            _ => Some(
                self.pick(&["current", "previous", "next", "é\u{202e}", "\u{1b}[2J"])
                    .to_owned(),
            ),
        }
    }

    /// A connection string to a host of its own, with a marker password in it when asked.
    fn conn_string(&mut self, with_password: bool) -> String {
        self.serial += 1;
        let host = if self.fault(10) {
            self.pick(&["db,b", "", "[::1", "h h"]).to_owned()
        } else {
            format!(
                "{}{}",
                self.pick(&["db-", "10.0.0.", "h.example.n"]),
                self.serial
            )
        };
        let port = if self.fault(10) {
            self.pick(&[":0", ":99999", ":x"])
        } else {
            self.pick(&["", ":5432", ":6432"])
        };
        let db = self.pick(&["/app", "", "/", "/a%20b"]);
        if self.chance(30) {
            let mut s = format!("host={host} dbname=app");
            if let Some(p) = port.strip_prefix(':') {
                s += &format!(" port={p}");
            }
            if with_password {
                let user = self.pick(&["app", "u", "app_a"]);
                let pw = self.password(true);
                s += &format!(" user={user} password={pw}");
            }
            if self.fault(20) {
                s += self.pick(&[" sslmode=bogus", " port=abc", " =x", " password="]);
            }
            return s;
        }
        let scheme = if self.fault(5) {
            "pg://"
        } else {
            self.pick(&["postgres://", "postgresql://"])
        };
        let mut s = String::from(scheme);
        if with_password {
            let user = self.pick(&["app", "u", "app_a"]).to_owned();
            let pw = self.password(true);
            s += &format!("{user}:{pw}@");
        }
        s += &format!("{host}{port}{db}");
        if self.chance(15) {
            s += self.pick(&[
                "?sslmode=disable",
                "?sslmode=require",
                "?application_name=x",
            ]);
        }
        s
    }

    /// A TOML string literal (basic string, escaped).
    fn quoted(s: &str) -> String {
        toml::Value::String(s.to_owned()).to_string()
    }

    /// One password source of a `[[secrets]]` or `[[island.node]]` entry, as TOML lines.
    fn password_lines(&mut self) -> String {
        if self.fault(25) {
            // A password pasted into the wrong key, or a source that is not there.
            return match self.rng.random_range(0..4) {
                0 => format!("password_env = {}\n", Self::quoted(&self.pasted_marker())),
                1 => format!("password_file = {}\n", Self::quoted(&self.pasted_marker())),
                2 => "password_env = \"FUZZ_UNSET\"\n".to_owned(),
                _ => "password_file = \"missing.txt\"\n".to_owned(),
            };
        }
        match self.rng.random_range(0..4) {
            0..=1 => format!("password = {}\n", Self::quoted(&self.password(false))),
            2 => {
                self.serial += 1;
                let var = format!("FUZZ_PW_{}", self.serial);
                let value = self.password(false);
                self.env.push((var.clone(), value));
                format!("password_env = {}\n", Self::quoted(&var))
            }
            _ => {
                self.serial += 1;
                let name = format!("pw{}.txt", self.serial);
                let value = self.password(false);
                std::fs::write(self.dir.path().join(&name), format!("{value}\n")).expect("write");
                format!("password_file = {}\n", Self::quoted(&name))
            }
        }
    }

    fn secrets_json(&mut self) -> String {
        let n = self.rng.random_range(1..4);
        let entries: Vec<String> = (0..n)
            .map(|_| {
                let login = self.login();
                let pw = self.password(false);
                let label = self.label();
                serde_json::json!({"login": login, "password": pw, "label": label}).to_string()
            })
            .collect();
        format!("[{}]", entries.join(","))
    }

    /// A whole config (and the files it names) in the case's directory: half the cases clean
    /// (they should load), half with faults and damage.
    fn config(&mut self) -> String {
        self.faulty = self.chance(50);
        let mut t = String::new();
        // Compact islands need secrets, or passwords in their URLs.
        let with_secrets = self.chance(70);
        let islands = if self.fault(10) {
            0
        } else {
            self.rng.random_range(1..3)
        };
        let mut compact = Vec::new();
        for _ in 0..islands {
            let nodes = if self.fault(10) {
                0
            } else {
                self.rng.random_range(1..3)
            };
            let conns: Vec<String> = (0..nodes)
                .map(|_| Self::quoted(&self.conn_string(!with_secrets)))
                .collect();
            compact.push(format!("[{}]", conns.join(", ")));
        }
        if !compact.is_empty() {
            t += &format!("islands = [{}]\n", compact.join(", "));
        }
        if with_secrets && self.chance(40) {
            let (name, text) = if self.chance(70) {
                ("s.json", self.secrets_json())
            } else {
                let mut toml = String::new();
                for _ in 0..self.rng.random_range(1..3) {
                    let login = self.login();
                    let pw = self.password(false);
                    toml += &format!(
                        "[[secrets]]\nlogin = {}\npassword = {}\n",
                        Self::quoted(&login),
                        Self::quoted(&pw)
                    );
                }
                ("s.toml", toml)
            };
            std::fs::write(self.dir.path().join(name), text).expect("write");
            t += &format!("secrets_file = {}\n", Self::quoted(name));
        }
        if with_secrets && self.chance(10) {
            // Printed on stdout (known) or on stderr by a failing command (never known).
            let known_before = self.known.len();
            let json = self.secrets_json();
            std::fs::write(self.dir.path().join("cmd.json"), &json).expect("write");
            let how = if self.faulty {
                self.rng.random_range(0..5)
            } else {
                0
            };
            if how != 0 {
                self.known.truncate(known_before);
            }
            let argv = match how {
                0 => "[\"cat\", \"cmd.json\"]".to_owned(),
                1 => "[\"sh\", \"-c\", \"cat cmd.json >&2; exit 1\"]".to_owned(),
                2 => {
                    let pw = self.marker(true);
                    format!("[\"sh\", \"-c\", \"echo password={pw} >&2; exit 2\"]")
                }
                3 => {
                    // A shape the password harvester does not know: only withholding helps.
                    let pw = self.marker(true);
                    format!("[\"sh\", \"-c\", \"echo vault token: {pw} >&2; exit 2\"]")
                }
                _ => format!("[{}]", Self::quoted(&self.pasted_marker())),
            };
            t += &format!("secrets_command = {argv}\n");
        }
        if with_secrets {
            for _ in 0..self.rng.random_range(1..3) {
                t += "\n[[secrets]]\n";
                t += &format!("login = {}\n", Self::quoted(&self.login()));
                t += &self.password_lines();
                if let Some(label) = self.label() {
                    t += &format!("label = {}\n", Self::quoted(&label));
                }
            }
        }
        if self.chance(35) {
            t += &format!("\n[[island]]\nno = {}\n", self.rng.random_range(3..6));
            for _ in 0..self.rng.random_range(1..3) {
                let url_password = self.chance(30);
                let url = self.conn_string(url_password);
                t += &format!("[[island.node]]\nurl = {}\n", Self::quoted(&url));
                if !url_password || self.chance(50) {
                    t += &format!("login = {}\n", Self::quoted(&self.login()));
                }
                if !url_password || self.chance(30) {
                    t += &self.password_lines();
                }
                if self.chance(20) {
                    let name = match self.paste_known(30) {
                        Some(known) => known,
                        _ if self.fault(50) => format!("postgres://u:{}@h/db", self.marker(true)),
                        _ => format!("node-{}", self.serial),
                    };
                    t += &format!("name = {}\n", Self::quoted(&name));
                }
            }
        }
        if self.chance(30) {
            // Now and then a password of this config, pasted into a setting.
            let value = match self.paste_known(30) {
                Some(known) => known,
                _ if self.fault(30) => self.pick(&["0s", "soon", "1y", "-1s"]).to_owned(),
                _ => self.pick(&["2s", "500ms", "1m"]).to_owned(),
            };
            t += &format!("\n[probe]\ninterval = {}\n", Self::quoted(&value));
            if self.fault(30) {
                t += "concurrency = 0\n";
            }
        }
        if self.chance(15) {
            // A password of this config, pasted as the pattern.
            let pattern = match self.paste_known(70) {
                Some(known) => known,
                _ if self.fault(30) => "sh%s".to_owned(),
                _ => self.pick(&["sh%04d", "s%d"]).to_owned(),
            };
            t += &format!("\n[shards]\npattern = {}\n", Self::quoted(&pattern));
        }
        if self.chance(15) {
            t += &self.ui_keys();
        }
        if !self.pasted_known && self.fault(50) {
            t = self.damage(&t);
            // Damage can strip a password of what marks it as one (`user=app password=X` cut to
            // `=X`): such a value is no longer a password anybody could know. Markers that are
            // still in the text count only where the text still says they are passwords.
            let text = t.clone();
            self.markers
                .retain(|m| !text.contains(m.as_str()) || still_labelled(&text, m));
        }
        t
    }

    /// A `[ui.keys]` table: real and misspelt actions, keys good and bad, clashes, Ctrl-C taken,
    /// and now and then a password of this config pasted as a key or an action.
    fn ui_keys(&mut self) -> String {
        let mut t = "\n[ui.keys]\n".to_owned();
        let mut used = Vec::new();
        for _ in 0..self.rng.random_range(1..4) {
            let action = match self.paste_known(10) {
                Some(known) => known,
                None if self.fault(20) => self.pick(&["relaod", "Quit", "suspend", ""]).to_owned(),
                None => self
                    .pick(&[
                        "reload",
                        "quit",
                        "zoom",
                        "help",
                        "up",
                        "lab_rotate",
                        "pause",
                    ])
                    .to_owned(),
            };
            if used.contains(&action) {
                continue;
            }
            used.push(action.clone());
            let mut keys = Vec::new();
            for _ in 0..self.rng.random_range(0..3) {
                let key = match self.paste_known(20) {
                    Some(known) => known,
                    None if self.fault(30) => self
                        .pick(&[
                            "ctrl-c", "ctrl-z", "p", "R", "esc", "ctrl-", "F13", "shift-1", "\t",
                        ])
                        .to_owned(),
                    None => self
                        .pick(&["x", "F5", "ctrl-r", "alt-x", "pgdn", "space", "S-Tab", "-"])
                        .to_owned(),
                };
                keys.push(Self::quoted(&key));
            }
            let value = if keys.len() == 1 && self.chance(50) {
                keys.remove(0)
            } else {
                format!("[{}]", keys.join(", "))
            };
            t += &format!("{} = {value}\n", Self::quoted(&action));
        }
        t
    }

    /// Random damage: a cut, a splice, a doubled line, stray bytes or control characters.
    fn damage(&mut self, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..self.rng.random_range(1..4) {
            if chars.is_empty() {
                break;
            }
            let at = self.rng.random_range(0..chars.len());
            match self.rng.random_range(0..5) {
                0 => chars.truncate(at),
                1 => {
                    let end = (at + self.rng.random_range(1..20)).min(chars.len());
                    chars.drain(at..end);
                }
                2 => {
                    let stray = self.pick(&["\"", "[", "]]", "=", "\n", "\u{1b}[2J", "\0", "\\"]);
                    for (i, c) in stray.chars().enumerate() {
                        chars.insert(at + i, c);
                    }
                }
                3 => {
                    let line: String = chars[at..].iter().take_while(|c| **c != '\n').collect();
                    for (i, c) in format!("\n{line}").chars().enumerate() {
                        chars.insert(at + i, c);
                    }
                }
                _ => chars.insert(at, char::from(self.rng.random_range(0u8..32))),
            }
        }
        chars.into_iter().collect()
    }
}

/// True when some occurrence of `marker` in `text` still reads as a password: after
/// `password = "`, `password=`, or in a URL's `user:` part.
fn still_labelled(text: &str, marker: &str) -> bool {
    text.match_indices(marker).any(|(at, _)| {
        let before = &text[..at];
        if before.ends_with("password = \"") || before.ends_with("password=") {
            return true;
        }
        // `scheme://user:` right before it.
        let Some(user_start) = before.rfind("://") else {
            return false;
        };
        let userinfo = &before[user_start + 3..];
        userinfo.strip_suffix(':').is_some_and(|user| {
            !user.is_empty() && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

/// The loader on a generated config: a config or an error, and everything either shows.
fn config_loader(g: &mut Gen) -> Run {
    let text = g.config();
    g.config = text.clone();
    let path = g.dir.path().join("rotascope.toml");
    std::fs::write(&path, &text).expect("write");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let options = LoadOptions::with_env(g.env.clone());
    let result = rt.block_on(load_with(&path, &options));
    let loaded = result.is_ok();
    let outputs = match result {
        Ok(config) => vec![describe(&config), format!("{config:?}")],
        Err(e) => vec![e.to_string(), format!("{e:?}")],
    };
    Run {
        outputs,
        markers: g.markers.clone(),
        loaded,
    }
}

/// The binary's `config check` on a generated config: exit 0 or 3, never a crash.
fn config_check_binary(g: &mut Gen) -> Run {
    let text = g.config();
    g.config = text.clone();
    std::fs::write(g.dir.path().join("rotascope.toml"), &text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rotascope"))
        .args(["config", "check", "--config", "rotascope.toml"])
        .current_dir(g.dir.path())
        .env_clear()
        .envs(g.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("run rotascope");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code();
    assert!(
        matches!(code, Some(0) | Some(3)),
        "exit {code:?} (a signal or a panic)\n--- stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !Path::new(&g.dir.path().join("core")).exists(),
        "a core file was written"
    );
    Run {
        outputs: vec![stdout, stderr],
        markers: g.markers.clone(),
        loaded: code == Some(0),
    }
}

impl Gen {
    /// A password for a connection string: any character, now and then a long one.
    fn conn_password(&mut self) -> String {
        let url_safe = self.chance(30);
        let m = self.password(url_safe);
        if self.chance(3) {
            // Long, still one marker: the marker repeated would be found inside it anyway.
            let long = format!("{m}{}", "@/?&=".repeat(self.rng.random_range(100..2000)));
            self.markers.push(long.clone());
            return long;
        }
        m
    }

    /// `text` percent-encoded: every byte, or only what a URL cannot carry.
    fn percent(&mut self, text: &str) -> String {
        let all = self.chance(30);
        text.bytes()
            .map(|b| {
                if !all && (b.is_ascii_alphanumeric() || b"-_.~".contains(&b)) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    /// A `key=value` value: bare when it can be, else quoted with libpq's escapes.
    fn kv_value(&mut self, text: &str) -> String {
        let bare =
            !text.is_empty() && !text.contains([' ', '\'', '\\', '\t', '\n']) && !self.chance(20);
        if bare {
            return text.to_owned();
        }
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '\'' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("'{escaped}'")
    }

    fn hosts(&mut self) -> Vec<(String, String)> {
        let n = match self.rng.random_range(0..10) {
            0..=5 => 1,
            6..=8 => 2,
            _ => self.rng.random_range(3..6),
        };
        (0..n)
            .map(|i| {
                let host = self
                    .pick(&[
                        "db",
                        "10.0.0.7",
                        "[::1]",
                        "h.example.net",
                        "",
                        "/var/run/pg",
                    ])
                    .to_owned();
                let port = self.pick(&["", "5432", "6432", "99999", "x"]).to_owned();
                (
                    format!(
                        "{host}{}",
                        if host == "db" {
                            i.to_string()
                        } else {
                            String::new()
                        }
                    ),
                    port,
                )
            })
            .collect()
    }

    /// Settings besides host, port and password, as (keyword, value).
    fn conn_settings(&mut self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let choices: &[(&'static str, &[&str])] = &[
            ("dbname", &["app", "my db", "a%20b", ""]),
            ("user", &["app", "o'neil", "Ünïcode", ""]),
            (
                "sslmode",
                &["disable", "prefer", "require", "verify-full", "always"],
            ),
            (
                "target_session_attrs",
                &[
                    "primary",
                    "standby",
                    "read-write",
                    "prefer-standby",
                    "any",
                    "bogus",
                ],
            ),
            (
                "connect_timeout",
                &["5", "0", "-1", "1", "x", "99999999999"],
            ),
            ("application_name", &["me", "a b", ""]),
            ("service", &["svc", "missing", ""]),
            ("passfile", &["pgpass", "/nonexistent/pgpass", ""]),
            (
                "channel_binding",
                &["require", "prefer", "disable", "sometimes"],
            ),
            (
                "require_auth",
                &[
                    "scram-sha-256",
                    "!password",
                    "md5,password",
                    "none",
                    "bogus",
                ],
            ),
            ("options", &["-c search_path=x", ""]),
            ("hostaddr", &["127.0.0.1", "::1", "not-an-ip"]),
            ("sslrootcert", &["system", "ca.pem"]),
            ("gssencmode", &["disable", "require"]),
            ("requiressl", &["1", "0"]),
            ("nokeyword", &["x"]),
        ];
        for _ in 0..self.rng.random_range(0..5) {
            let (k, values) = choices[self.rng.random_range(0..choices.len())];
            let v = self.pick(values).to_owned();
            out.push((k, v));
        }
        out
    }

    /// One connection string of conninfo's shapes; the service file text (with a marker
    /// password in its section, now and then) goes to `self.config` too.
    fn conninfo_string(&mut self) -> (String, Option<String>) {
        let hosts = self.hosts();
        let settings = self.conn_settings();
        let service_file = settings.iter().any(|(k, _)| *k == "service").then(|| {
            let mut text = String::from("# services\n[svc]\nhost=db9\n");
            if self.chance(60) {
                let pw = self.conn_password();
                text += &format!("password={pw}\n");
            }
            if self.chance(10) {
                text += "bogus line\n";
            }
            text
        });
        let s = if self.chance(50) {
            let scheme = self.pick(&["postgres://", "postgresql://"]);
            let mut s = String::from(scheme);
            if self.chance(70) {
                let user = self.pick(&["app", "u", "", "a%40b"]);
                s += user;
                if self.chance(80) {
                    let pw = self.conn_password();
                    let pw = if self.chance(50) {
                        self.percent(&pw)
                    } else {
                        pw
                    };
                    s += &format!(":{pw}");
                }
                s += "@";
            }
            let list: Vec<String> = hosts
                .iter()
                .map(|(h, p)| {
                    let h = if h.starts_with('/') {
                        self.percent(h)
                    } else {
                        h.clone()
                    };
                    if p.is_empty() {
                        h
                    } else {
                        format!("{h}:{p}")
                    }
                })
                .collect();
            s += &list.join(",");
            if self.chance(70) {
                s += self.pick(&["/app", "/", "/a%20b", "/%XX"]);
            }
            let mut query: Vec<String> = settings
                .iter()
                .map(|(k, v)| format!("{k}={}", self.percent(v)))
                .collect();
            if self.chance(40) {
                let pw = self.conn_password();
                query.push(format!("password={}", self.percent(&pw)));
            }
            if self.chance(15) {
                query.push("host=db8&port=5433".into());
            }
            if !query.is_empty() {
                s += "?";
                s += &query.join("&");
            }
            s
        } else {
            let mut parts = Vec::new();
            let join = |f: fn(&(String, String)) -> &String| {
                hosts.iter().map(f).cloned().collect::<Vec<_>>().join(",")
            };
            let host_list = join(|h| &h.0);
            parts.push(format!("host={}", self.kv_value(&host_list)));
            let port_list = join(|h| &h.1);
            if !port_list.replace(',', "").is_empty() {
                parts.push(format!("port={}", self.kv_value(&port_list)));
            }
            for (k, v) in &settings {
                parts.push(format!("{k}={}", self.kv_value(v)));
            }
            for _ in 0..self.rng.random_range(0..3) {
                let pw = self.conn_password();
                let at = self.rng.random_range(0..=parts.len());
                parts.insert(at, format!("password={}", self.kv_value(&pw)));
            }
            let sep = self.pick(&[" ", "  ", "\t", " \n "]);
            parts.join(sep)
        };
        (s, service_file)
    }
}

/// True when some occurrence of `marker` in a connection string still reads as a password:
/// the value of a `password` keyword (quoted or not; the keyword at the start, after a blank, or
/// a query parameter) or in a URL's user info.
fn conn_labelled(text: &str, marker: &str) -> bool {
    text.match_indices(marker).any(|(at, _)| {
        let before = &text[..at];
        let keyword = before
            .strip_suffix("password='")
            .or_else(|| before.strip_suffix("password="));
        match keyword {
            // In a URL, only a query parameter (after a `?`) is a password.
            Some(rest) => {
                rest.is_empty()
                    || rest.ends_with(char::is_whitespace)
                    || (rest.ends_with(['?', '&']) && rest.contains('?'))
            }
            None => still_labelled(text, marker),
        }
    })
}

/// conninfo's parser, service section and resolver on one generated string.
fn conninfo(g: &mut Gen) -> Run {
    let (mut text, service_file) = g.conninfo_string();
    g.faulty = g.chance(40);
    if g.fault(100) {
        text = g.damage(&text);
        // A damaged string may hold a marker outside any password position (a cut turned
        // `dbname=x password=M` into `dbname=x=M`): only markers still written as passwords,
        // literally, count. (Encoded or escaped ones cannot be told apart after damage.)
        let t = text.clone();
        g.markers
            .retain(|m| t.contains(m.as_str()) && conn_labelled(&t, m));
    }
    g.config = format!(
        "{text}\n--- service file:\n{}",
        service_file.as_deref().unwrap_or("")
    );
    let mut outputs = Vec::new();
    let mut loaded = false;
    match conninfo::parse(&text) {
        Err(e) => outputs.extend([e.to_string(), format!("{e:?}")]),
        Ok(mut parsed) => {
            outputs.extend([parsed.display.clone(), format!("{parsed:?}")]);
            let mut ok = true;
            let service = parsed.options.non_empty("service").map(str::to_owned);
            if let (Some(name), Some(file)) = (service, &service_file) {
                match service::section(file, &name, "pg_service.conf") {
                    Ok(Some(settings)) => {
                        for (k, v) in settings {
                            parsed.options.set_default(k, v, Source::ServiceFile);
                        }
                    }
                    Ok(None) => ok = false,
                    Err(e) => {
                        outputs.extend([e.to_string(), format!("{e:?}")]);
                        ok = false;
                    }
                }
            }
            let dir = g.dir.path();
            let ctx = conninfo::Context {
                default_socket_dir: Path::new("/var/run/postgresql"),
                base_dir: dir,
                home: Some(dir),
                pgpassfile_env: None,
            };
            match conninfo::resolve(&parsed.options, &ctx) {
                Ok(resolved) => {
                    outputs.push(format!("{resolved:?}"));
                    for (i, host) in resolved.hosts.iter().enumerate() {
                        outputs.push(host.endpoint.to_string());
                        outputs.push(display::host_string(&parsed.options, i));
                    }
                    loaded = ok;
                }
                Err(e) => outputs.extend([e.to_string(), format!("{e:?}")]),
            }
        }
    }
    Run {
        outputs,
        markers: g.markers.clone(),
        loaded,
    }
}
