//! Loading: every config form, every secret source, settings and overrides, and every error —
//! each error names its file/key and never shows a secret.
//!
//! The environment is passed explicitly (`LoadOptions::with_env`): the process environment is
//! shared by tests running in parallel.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rotascope::config::describe::describe;
use rotascope::config::load::{load_with, LoadOptions};
use rotascope::config::{Config, ConfigError};
use rotascope::topology::{IslandNo, SslMode};

/// A temp dir with a config file in it.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(config: &str) -> Case {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rotascope.toml"), config).expect("write config");
        Case { dir }
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        p
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("rotascope.toml")
    }

    async fn load_env(&self, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        load_with(&self.path(), &LoadOptions::with_env(env.iter().copied())).await
    }

    async fn load(&self) -> Result<Config, ConfigError> {
        self.load_env(&[]).await
    }

    async fn ok(&self) -> Config {
        match self.load().await {
            Ok(c) => c,
            Err(e) => panic!("config should load: {e}"),
        }
    }

    async fn err(&self) -> ConfigError {
        match self.load().await {
            Ok(_) => panic!("config should fail"),
            Err(e) => e,
        }
    }
}

/// The message (and Debug) contains every `must` and none of the `secrets`.
fn check(err: &ConfigError, must: &[&str], secrets: &[&str]) {
    let shown = err.to_string();
    let debug = format!("{err:?}");
    for m in must {
        assert!(shown.contains(m), "message lacks {m:?}: {shown}");
    }
    for s in secrets {
        assert!(!shown.contains(s), "message leaks a secret: {shown}");
        assert!(!debug.contains(s), "Debug leaks a secret: {debug}");
    }
}

/// (login, password, label) of every candidate of node `node` of island `no`.
fn creds(c: &Config, no: u32, node: &str) -> Vec<(String, String, Option<String>)> {
    let island = c
        .topology
        .islands
        .iter()
        .find(|i| i.no == IslandNo(no))
        .expect("island");
    let node = island
        .nodes
        .iter()
        .find(|n| &*n.key.name == node)
        .unwrap_or_else(|| panic!("node {node} in {:?}", node_names(c)));
    node.candidates
        .iter()
        .map(|c| {
            (
                c.login.clone(),
                c.password.expose().to_owned(),
                c.label.clone(),
            )
        })
        .collect()
}

fn node_names(c: &Config) -> Vec<(u32, String)> {
    c.topology
        .nodes()
        .map(|n| (n.key.island.0, n.key.name.to_string()))
        .collect()
}

fn cred(login: &str, pw: &str, label: Option<&str>) -> (String, String, Option<String>) {
    (login.into(), pw.into(), label.map(str::to_owned))
}

// ---------------------------------------------------------------- forms

#[tokio::test]
async fn compact_form_is_every_connection_string_times_every_secret() {
    let c = Case::new(
        r#"
islands = [
  ["postgres://urluser:url-secret-1@host-a/db", "host=b port=5433 dbname=db"],
  ["postgresql://host-c/db?sslmode=require"],
]
[[secrets]]
login = "app"
password = "current-secret-1"
label = "current"
[[secrets]]
login = "app_old"
password = "previous-secret-1"
"#,
    )
    .ok()
    .await;
    assert_eq!(
        node_names(&c),
        vec![
            (0, "postgres://urluser@host-a/db".to_owned()),
            (0, "host=b port=5433 dbname=db".to_owned()),
            (1, "postgresql://host-c/db?sslmode=require".to_owned()),
        ]
    );
    let expected = vec![
        cred("app", "current-secret-1", Some("current")),
        cred("app_old", "previous-secret-1", None),
    ];
    // The secret's login and password override the URL's.
    assert_eq!(creds(&c, 0, "postgres://urluser@host-a/db"), expected);
    assert_eq!(creds(&c, 0, "host=b port=5433 dbname=db"), expected);
    assert_eq!(
        creds(&c, 1, "postgresql://host-c/db?sslmode=require"),
        expected
    );
    let node = c.topology.nodes().next().expect("a node");
    assert_eq!(node.address, "postgres://urluser@host-a/db");
    let target = &node.candidates[0].target;
    assert_eq!(target.dbname, "db");
    let third = c.topology.islands[1].nodes[0].candidates[0].target.clone();
    assert_eq!(third.tls.mode, SslMode::Require);
    assert!(!format!("{c:?}").contains("secret-1"));
}

#[tokio::test]
async fn a_url_with_credentials_and_no_secrets_is_one_candidate() {
    let c = Case::new(r#"islands = [["postgres://app:only-url-secret@h/db"]]"#)
        .ok()
        .await;
    assert_eq!(
        creds(&c, 0, "postgres://app@h/db"),
        vec![cred("app", "only-url-secret", None)]
    );
}

#[tokio::test]
async fn explicit_form_groups_entries_by_name_in_file_order() {
    let c = Case::new(
        r#"
[[island]]
no = 3
[[island.node]]
name = "a1"
url = "postgres://h-a1/db"
login = "app"
password = "a1-current-pw"
label = "current"
[[island.node]]
url = "postgres://h-a2/db"
login = "app"
password = "a2-pw"
[[island.node]]
name = "a1"
url = "postgres://app:a1-previous-pw@pooler-a1:6432/db"
label = "previous"

[[island]]
no = 1
[[island.node]]
url = "postgres://bob:b-pw@h-b/db"
"#,
    )
    .ok()
    .await;
    // Islands sorted by no; name defaults to the url without its password.
    assert_eq!(
        node_names(&c),
        vec![
            (1, "postgres://bob@h-b/db".to_owned()),
            (3, "a1".to_owned()),
            (3, "postgres://h-a2/db".to_owned()),
        ]
    );
    assert_eq!(
        creds(&c, 3, "a1"),
        vec![
            cred("app", "a1-current-pw", Some("current")),
            cred("app", "a1-previous-pw", Some("previous")),
        ]
    );
    assert_eq!(
        creds(&c, 1, "postgres://bob@h-b/db"),
        vec![cred("bob", "b-pw", None)]
    );
    let a1 = &c.topology.islands[1].nodes[0];
    assert_eq!(a1.address, "postgres://h-a1/db");
    assert_eq!(
        a1.candidates[1].target.display,
        "postgres://app@pooler-a1:6432/db"
    );
    assert_eq!(a1.candidates[1].target.endpoint.port(), 6432);
}

#[tokio::test]
async fn both_forms_merge_by_island_no_and_duplicates_collapse() {
    let c = Case::new(
        r#"
islands = [["postgres://h0/db"], ["postgres://h1/db"]]
[[secrets]]
login = "app"
password = "shared-pw-1"
[[secrets]]
login = "app"
password = "shared-pw-1"
label = "a repeat: dropped"

[[island]]
no = 1
[[island.node]]
url = "postgres://h1b/db"
login = "app"
password = "h1b-pw"
[[island.node]]
name = "postgres://h1/db"
url = "postgres://h1/db"
login = "app"
password = "h1-extra-pw"
"#,
    )
    .ok()
    .await;
    assert_eq!(
        node_names(&c),
        vec![
            (0, "postgres://h0/db".to_owned()),
            (1, "postgres://h1/db".to_owned()),
            (1, "postgres://h1b/db".to_owned()),
        ]
    );
    assert_eq!(
        creds(&c, 1, "postgres://h1/db"),
        vec![
            cred("app", "shared-pw-1", None),
            cred("app", "h1-extra-pw", None)
        ]
    );
}

#[tokio::test]
async fn fingerprints_differ_per_password_and_never_equal_it() {
    let c = Case::new(
        r#"
islands = [["postgres://h/db"]]
[[secrets]]
login = "app"
password = "aaaaaaaa"
[[secrets]]
login = "app"
password = "aaaaaaab"
"#,
    )
    .ok()
    .await;
    let node = c.topology.nodes().next().expect("node");
    let [a, b] = [&node.candidates[0], &node.candidates[1]];
    assert_ne!(a.id.fingerprint, b.id.fingerprint);
    assert_ne!(a.id, b.id);
    for cand in [a, b] {
        let shown = cand.id.fingerprint.to_string();
        assert_ne!(shown, cand.password.expose());
        assert!(!shown.contains("aaaa"));
    }
}

// ---------------------------------------------------------------- secret sources

#[tokio::test]
async fn password_env_and_password_file() {
    let c = Case::new(
        r#"
islands = [["postgres://h/db"]]
[[secrets]]
login = "from_env"
password_env = "CFG_TEST_PW_ENV_1"
[[secrets]]
login = "from_file"
password_file = "pw/app.txt"
"#,
    );
    c.file("pw/app.txt", "file-secret-1\n");
    let cfg = c
        .load_env(&[("CFG_TEST_PW_ENV_1", "env-secret-1")])
        .await
        .expect("loads");
    assert_eq!(
        creds(&cfg, 0, "postgres://h/db"),
        vec![
            cred("from_env", "env-secret-1", None),
            cred("from_file", "file-secret-1", None)
        ]
    );
    assert_eq!(
        cfg.watched_files,
        vec![c.path(), c.dir.path().join("pw/app.txt")]
    );
}

#[tokio::test]
async fn secrets_file_json_and_toml_and_command_in_order() {
    let c = Case::new(
        r#"
islands = [["postgres://h/db"]]
secrets_file = "secrets.json"
secrets_command = ["sh", "secrets.sh", "an-arg"]
[[secrets]]
login = "inline"
password = "inline-secret"
"#,
    );
    c.file(
        "secrets.json",
        r#"[{"login": "jfile", "password": "json-file-secret", "label": "next"}]"#,
    );
    c.file(
        "secrets.sh",
        "printf '[{\"login\": \"cmd\", \"password\": \"cmd-secret-%s\"}]' \"$1\"\n",
    );
    let cfg = c.ok().await;
    assert_eq!(
        creds(&cfg, 0, "postgres://h/db"),
        vec![
            cred("inline", "inline-secret", None),
            cred("jfile", "json-file-secret", Some("next")),
            cred("cmd", "cmd-secret-an-arg", None),
        ]
    );
    assert!(cfg
        .watched_files
        .contains(&c.dir.path().join("secrets.json")));

    // TOML [[secrets]] in a file whose extension does not tell: detected by content.
    c.file(
        "rotascope.toml",
        "islands = [[\"postgres://h/db\"]]\nsecrets_file = \"secrets.list\"\n\
         [[secrets]]\nlogin = \"inline\"\npassword = \"inline-secret\"\n",
    );
    c.file(
        "secrets.list",
        "[[secrets]]\nlogin = \"tfile\"\npassword = \"toml-file-secret\"\n",
    );
    let cfg = c.ok().await;
    assert_eq!(
        creds(&cfg, 0, "postgres://h/db")[1],
        cred("tfile", "toml-file-secret", None)
    );
}

// ---------------------------------------------------------------- settings

#[tokio::test]
async fn settings_default_when_absent() {
    let cfg = Case::new(r#"islands = [["postgres://u:pw-123@h/db"]]"#)
        .ok()
        .await;
    assert_eq!(cfg.probe.interval, Duration::from_secs(2));
    assert_eq!(cfg.probe.audit_interval, Duration::from_secs(30));
    assert_eq!(cfg.probe.connect_timeout, Duration::from_secs(3));
    assert_eq!(cfg.probe.timeout, Duration::from_secs(5));
    assert_eq!(cfg.probe.concurrency, 64);
    assert_eq!(cfg.reload.interval, Duration::from_secs(10));
    assert!(cfg.reload.watch);
    assert_eq!(cfg.shards.pattern, None);
}

#[tokio::test]
async fn ui_settings_theme_and_mouse() {
    let base = "islands = [[\"postgres://u:pw-123@h/db\"]]\n";
    let cfg = Case::new(base).ok().await;
    assert_eq!(cfg.ui, rotascope::config::UiSettings::default());
    assert!(cfg.ui.mouse);
    assert_eq!(cfg.ui.theme, None, "unset: the terminal decides");
    let cfg = Case::new(&format!("{base}[ui]\ntheme = \"light\"\nmouse = false\n"))
        .ok()
        .await;
    assert_eq!(cfg.ui.theme, Some(rotascope::config::UiTheme::Light));
    assert!(!cfg.ui.mouse);
    let c = Case::new(&format!("{base}[ui]\ntheme = \"purple\"\n"));
    check(
        &c.err().await,
        &[
            "rotascope.toml",
            "`ui.theme`",
            "\"dark\", \"light\" or \"mono\"",
            "purple",
        ],
        &["pw-123"],
    );
    let c = Case::new(&format!("{base}[ui]\nmose = false\n"));
    check(&c.err().await, &["`ui.mose`", "did you mean `mouse`?"], &[]);
}

#[tokio::test]
async fn ui_keys_override_the_key_table() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use rotascope::ui::keymap::{Action, Context, Keymap};
    let base = "islands = [[\"postgres://u:pw-123@h/db\"]]\n";
    let cfg = Case::new(base).ok().await;
    assert_eq!(cfg.ui.keys, Keymap::default());
    let cfg = Case::new(&format!(
        "{base}[ui.keys]\nreload = [\"x\", \"F5\"]\nquit = \"ctrl-q\"\nreprobe_all = []\n"
    ))
    .ok()
    .await;
    let press = |code, mods| {
        cfg.ui
            .keys
            .action_for(&KeyEvent::new(code, mods), Context::Normal)
    };
    let none = KeyModifiers::NONE;
    assert_eq!(press(KeyCode::Char('x'), none), Some(Action::Reload));
    assert_eq!(press(KeyCode::F(5), none), Some(Action::Reload));
    assert_eq!(press(KeyCode::Char('r'), none), None);
    assert_eq!(
        press(KeyCode::Char('q'), KeyModifiers::CONTROL),
        Some(Action::Quit)
    );
    assert_eq!(
        press(KeyCode::Char('c'), KeyModifiers::CONTROL),
        Some(Action::Quit)
    );
    assert_eq!(press(KeyCode::Char('q'), none), None);
    assert_eq!(press(KeyCode::Char('P'), KeyModifiers::SHIFT), None);
}

#[tokio::test]
async fn ui_keys_errors_name_the_entry_and_say_what_is_wrong() {
    let base = "islands = [[\"postgres://u:pw-123@h/db\"]]\n[ui.keys]\n";
    let err = |body: &str| {
        let c = Case::new(&format!("{base}{body}"));
        async move { c.err().await }
    };
    // An unknown action, with the closest name.
    check(
        &err("relaod = \"x\"\n").await,
        &[
            "rotascope.toml:3:1",
            "unknown key `ui.keys.relaod`",
            "did you mean `reload`?",
        ],
        &[],
    );
    // A name nothing is close to lists them all.
    check(
        &err("frobnicate = \"x\"\n").await,
        &[
            "`ui.keys.frobnicate`",
            "expected one of: up, down,",
            "lab_stop_start",
        ],
        &[],
    );
    // A key that does not parse.
    check(
        &err("reload = [\"x\", \"ctrl+x\"]\n").await,
        &[
            "rotascope.toml:3:1",
            "`ui.keys.reload`",
            "\"ctrl+x\" is not a key",
            "ctrl-",
        ],
        &[],
    );
    // Not a string.
    check(
        &err("reload = 5\n").await,
        &[
            "`ui.keys.reload`",
            "expected a key such as",
            "found a number",
        ],
        &[],
    );
    // Two actions for one key: both named.
    check(
        &err("reload = \"p\"\n").await,
        &[
            "`ui.keys.reload`",
            "\"p\" is also the key of `reprobe`",
            "give `reprobe` other keys",
        ],
        &[],
    );
    check(
        &err("reload = \"x\"\nzoom = \"x\"\n").await,
        &[
            "rotascope.toml:4:1",
            "`ui.keys.zoom`",
            "\"x\" is also the key of `reload`",
        ],
        &[],
    );
    // The lab keys count.
    check(
        &err("reload = \"R\"\n").await,
        &["`ui.keys.reload`", "\"R\" is also the key of `lab_rotate`"],
        &[],
    );
    // Ctrl-C stays with quit.
    check(
        &err("pause = \"ctrl-c\"\n").await,
        &[
            "`ui.keys.pause`",
            "\"C-c\" always quits; it cannot be given to another action",
        ],
        &[],
    );
    // A password pasted as a key is not repeated.
    check(
        &err("reload = \"pw-123\"\n").await,
        &["`ui.keys.reload`"],
        &["pw-123"],
    );
}

#[tokio::test]
async fn settings_from_file_and_environment_overrides() {
    let c = Case::new(
        r#"
islands = [["postgres://u:pw-123@h/db"]]
[probe]
interval = "1s"
audit_interval = "1m"
concurrency = 4
[reload]
watch = true
[shards]
pattern = "sh%04d"
"#,
    );
    let cfg = c
        .load_env(&[
            ("ROTASCOPE_PROBE__INTERVAL", "500ms"),
            ("rotascope_probe__connect_timeout", "750ms"),
            ("ROTASCOPE_RELOAD__WATCH", "false"),
            ("ROTASCOPE_PROBE__CONCURRENCY", "8"),
            ("ROTASCOPE_CONFIG", "/ignored/by/the/loader"),
        ])
        .await
        .expect("loads");
    assert_eq!(cfg.probe.interval, Duration::from_millis(500));
    assert_eq!(cfg.probe.connect_timeout, Duration::from_millis(750));
    assert_eq!(cfg.probe.audit_interval, Duration::from_secs(60));
    assert_eq!(cfg.probe.concurrency, 8);
    assert!(!cfg.reload.watch);
    assert_eq!(cfg.shards.pattern.as_deref(), Some("sh%04d"));
}

#[tokio::test]
async fn environment_override_errors_name_the_variable() {
    let c = Case::new(r#"islands = [["postgres://u:pw-123@h/db"]]"#);
    let e = c
        .load_env(&[("ROTASCOPE_PROBE__TIMEOUT", "soon")])
        .await
        .expect_err("bad duration");
    check(
        &e,
        &["ROTASCOPE_PROBE__TIMEOUT", "probe.timeout", "soon"],
        &[],
    );
    let e = c
        .load_env(&[("ROTASCOPE_PROBE__INTERVL", "1s")])
        .await
        .expect_err("unknown key");
    check(
        &e,
        &["ROTASCOPE_PROBE__INTERVL", "did you mean `interval`?"],
        &[],
    );
    let e = c
        .load_env(&[("ROTASCOPE_SECRETS", "env-secret-xyz")])
        .await
        .expect_err("secrets from env");
    check(
        &e,
        &["ROTASCOPE_SECRETS", "never islands or secrets"],
        &["env-secret-xyz"],
    );
}

// ---------------------------------------------------------------- the example and describe

#[tokio::test]
async fn the_example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let cfg = load_with(
        &path,
        &LoadOptions::with_env(Vec::<(String, String)>::new()),
    )
    .await
    .unwrap_or_else(|e| panic!("config.example.toml: {e}"));
    assert_eq!(cfg.topology.islands.len(), 3);
    assert_eq!(cfg.topology.nodes().count(), 4);
    let b1 = &cfg.topology.islands[1].nodes[0].candidates[0].target;
    assert_eq!(b1.tls.mode, SslMode::VerifyFull);
    let c1 = &cfg.topology.islands[2].nodes[0];
    assert_eq!(&*c1.key.name, "c1");
    assert_eq!(c1.candidates.len(), 2);
    assert_eq!(cfg.probe, rotascope::config::ProbeSettings::default());
    assert_eq!(cfg.reload, rotascope::config::ReloadSettings::default());
    assert_eq!(cfg.usage.quiet_for, Duration::from_secs(600));
    assert!(cfg.usage.enabled, "session counting is on by default");
}

/// Every key the loader knows is documented in the example (set or commented out), and the
/// example mentions no key the loader does not know.
#[test]
fn the_example_config_documents_every_key() {
    let known = [
        "interval",
        "audit_interval",
        "connect_timeout",
        "timeout",
        "concurrency",
        "allow_auth",
        "watch",
        "pattern",
        "file",
        "enabled",
        "quiet_for",
        "islands",
        "secrets_file",
        "secrets_command",
        "login",
        "password",
        "password_env",
        "password_file",
        "label",
        "no",
        "name",
        "url",
        "via",
        "theme",
        "mouse",
    ];
    let tables_text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))
            .expect("read example");
    let tables = [
        "[probe]",
        "[reload]",
        "[shards]",
        "[state]",
        "[ui]",
        "[ui.keys]",
        "[usage]",
        "[[secrets]]",
        "[[island]]",
        "[[island.node]]",
    ];
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(path).expect("read example");
    let mut seen = std::collections::BTreeSet::new();
    // `[ui.keys]` is keyed by action names: its own list.
    let (text, keys_table) = text.split_once("[ui.keys]").expect("[ui.keys]");
    let (keys_table, rest) = keys_table
        .split_once("\n[")
        .expect("a table after [ui.keys]");
    let text = format!("{text}\n[{rest}");
    for (name, _) in rotascope::ui::keymap::overrides::NAMES {
        let word =
            |w: &str| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_') == *name;
        assert!(
            keys_table.split_whitespace().any(word),
            "the example's [ui.keys] does not name the action `{name}`"
        );
    }
    for line in keys_table.lines() {
        let Some((name, _)) = line.trim_start_matches(['#', ' ']).split_once(" = ") else {
            continue;
        };
        if name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            assert!(
                rotascope::ui::keymap::Action::from_name(name).is_some(),
                "the example's [ui.keys] sets unknown action `{name}`"
            );
        }
    }
    for line in text.lines() {
        let line = line.trim_start_matches(['#', ' ']);
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            assert!(
                known.contains(&key),
                "the example mentions unknown key `{key}`"
            );
            seen.insert(key.to_owned());
        }
    }
    for key in known {
        assert!(seen.contains(key), "the example does not document `{key}`");
    }
    for table in tables {
        assert!(
            tables_text.contains(table),
            "the example does not show {table}"
        );
    }
}

#[tokio::test]
async fn describe_shows_the_topology_without_secrets() {
    let cfg = Case::new(
        r#"
islands = [["postgres://u:url-secret-9@host-a/db"]]
[shards]
pattern = "sh%04d"
[[secrets]]
login = "app"
password = "describe-secret-1"
label = "current"
[[island]]
no = 4
[[island.node]]
name = "n4"
url = "postgres://h4/db"
login = "other"
password = "describe-secret-2"
[[island.node]]
name = "n4"
url = "postgres://h4:6432/db?sslmode=disable"
login = "other"
password = "describe-secret-3"
"#,
    )
    .ok()
    .await;
    let text = describe(&cfg);
    for s in [
        "url-secret-9",
        "describe-secret-1",
        "describe-secret-2",
        "describe-secret-3",
    ] {
        assert!(!text.contains(s), "leak: {text}");
    }
    let fp = |i: usize, n: usize, c: usize| {
        cfg.topology.islands[i].nodes[n].candidates[c]
            .id
            .fingerprint
            .to_string()
    };
    let expected = format!(
        "\
config: {path}
watched files:
  {path}

settings:
  probe.interval        = 2s
  probe.audit_interval  = 30s
  probe.connect_timeout = 3s
  probe.timeout         = 5s
  probe.concurrency     = 64
  reload.interval       = 10s
  reload.watch          = true
  shards.pattern        = \"sh%04d\"

topology: 2 islands, 2 nodes, 3 candidates

island 0: 1 node
  node postgres://u@host-a/db
    address   postgres://u@host-a/db
    host      host-a (string)
    port      5432 (default)
    database  db (string)
    sslmode   prefer (default)
    deadlines connect 3s (probe.connect_timeout), probe 5s (probe.timeout)
    auth      scram-sha-256 (default), channel_binding prefer (default)
    #0 login app  fingerprint {a}  label current

island 4: 1 node
  node n4
    address   postgres://h4/db
    host      h4 (string)
    port      5432 (default)
    database  db (string)
    sslmode   prefer (default)
    deadlines connect 3s (probe.connect_timeout), probe 5s (probe.timeout)
    auth      scram-sha-256 (default), channel_binding prefer (default)
    #0 login other  fingerprint {b}
    #1 login other  fingerprint {c}  via postgres://h4:6432/db?sslmode=disable
        host      h4 (string)
        port      6432 (string)
        database  db (string)
        sslmode   disable (string)
        deadlines connect 3s (probe.connect_timeout), probe 5s (probe.timeout)
        auth      scram-sha-256 (default), channel_binding prefer (default)
",
        path = cfg.path.display(),
        a = fp(0, 0, 0),
        b = fp(1, 0, 0),
        c = fp(1, 0, 1),
    );
    assert_eq!(text, expected);
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn missing_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.toml");
    let e = load_with(
        &path,
        &LoadOptions::with_env(Vec::<(String, String)>::new()),
    )
    .await
    .expect_err("missing");
    check(&e, &["nope.toml", "does not exist"], &[]);
}

#[tokio::test]
async fn syntax_error_names_the_line_and_quotes_no_secret() {
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"hunter2-unterminated\n",
    );
    let e = c.err().await;
    check(
        &e,
        &["rotascope.toml:4:", "TOML syntax error"],
        &["hunter2-unterminated", "hunter2"],
    );
}

#[tokio::test]
async fn unknown_keys_get_a_did_you_mean_hint() {
    let c = Case::new("islands = [[\"postgres://u:p-123456@h/db\"]]\n[probe]\nintervl = \"1s\"\n");
    check(
        &c.err().await,
        &[
            "rotascope.toml:3:1",
            "`probe.intervl`",
            "did you mean `interval`?",
        ],
        &[],
    );
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npasword = \"typo-secret-77\"\n",
    );
    check(
        &c.err().await,
        &[
            "rotascope.toml:4:1",
            "`secrets[0].pasword`",
            "did you mean `password`?",
        ],
        &["typo-secret-77"],
    );
    let c = Case::new(
        "[[island]]\nno = 0\n[[island.node]]\nurl = \"postgres://app:node-secret-3@h/db\"\n\
         [[island.node]]\nurl = \"postgres://app@h2/db\"\npasword_env = \"PW\"\n",
    );
    check(
        &c.err().await,
        &[
            "rotascope.toml:7:1",
            "`island[0].node[1].pasword_env`",
            "did you mean `password_env`?",
        ],
        &["node-secret-3"],
    );
    let c = Case::new("islnds = [[\"postgres://h/db\"]]\n");
    check(
        &c.err().await,
        &["`islnds`", "did you mean `islands`?"],
        &[],
    );
}

#[tokio::test]
async fn wrong_types_never_show_a_secret_value() {
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = 98765432\n",
    );
    check(
        &c.err().await,
        &["`secrets[0].password`", "expected", "found an integer"],
        &["98765432"],
    );
    let c = Case::new("island = \"postgres://u:typed-secret@h/db\"\n");
    check(
        &c.err().await,
        &["`island`", "found a string"],
        &["typed-secret"],
    );
    let c =
        Case::new("islands = [[\"postgres://u:pw-1234@h/db\"]]\n[probe]\nconcurrency = \"lots\"\n");
    check(&c.err().await, &["`probe.concurrency`", "lots"], &[]);
}

#[tokio::test]
async fn a_node_name_in_two_islands() {
    let c = Case::new(
        r#"islands = [["postgres://u:dup-secret-1@h/db"], ["postgres://u:dup-secret-1@h/db"]]"#,
    );
    check(
        &c.err().await,
        &[
            "`islands[1][0]`",
            "postgres://u@h/db",
            "island 0",
            "island 1",
        ],
        &["dup-secret-1"],
    );
}

#[tokio::test]
async fn empty_islands() {
    let c = Case::new(r#"islands = [["postgres://u:pw-1234@h/db"], []]"#);
    check(
        &c.err().await,
        &["rotascope.toml:1:", "`islands[1]`", "island 1 has no nodes"],
        &[],
    );
    let c = Case::new("[[island]]\nno = 7\n");
    check(
        &c.err().await,
        &["`island[0]`", "island 7 has no nodes"],
        &[],
    );
    let c = Case::new("[probe]\ninterval = \"1s\"\n");
    check(&c.err().await, &["no islands configured"], &[]);
}

#[tokio::test]
async fn duplicate_island_no() {
    let c = Case::new(
        "[[island]]\nno = 1\n[[island.node]]\nurl = \"postgres://u:pw-1234@a/db\"\n\
         [[island]]\nno = 1\n[[island.node]]\nurl = \"postgres://u:pw-1234@b/db\"\n",
    );
    check(
        &c.err().await,
        &[
            "rotascope.toml:6:1",
            "`island[1].no`",
            "island no 1 is defined twice",
        ],
        &["pw-1234"],
    );
}

#[tokio::test]
async fn candidates_without_password_or_login() {
    let c = Case::new("[[island]]\nno = 0\n[[island.node]]\nurl = \"postgres://app@h/db\"\n");
    check(
        &c.err().await,
        &[
            "rotascope.toml:3:",
            "`island[0].node[0]`",
            "candidate `app`",
            "no password",
        ],
        &[],
    );
    let c = Case::new(r#"islands = [["postgres://app@h/db"]]"#);
    check(&c.err().await, &["`islands[0][0]`", "no password"], &[]);
    let c = Case::new("islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\n");
    check(&c.err().await, &["`secrets[0]`", "no password"], &[]);
    let c = Case::new(r#"islands = [["postgres://h/db"]]"#);
    check(&c.err().await, &["`islands[0][0]`", "no login"], &[]);
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"both-secret-1\"\npassword_env = \"X\"\n",
    );
    check(
        &c.err().await,
        &["`secrets[0]`", "only one of"],
        &["both-secret-1"],
    );
}

#[tokio::test]
async fn unreadable_password_file_and_unset_password_env() {
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword_file = \"missing/pw.txt\"\n",
    );
    check(
        &c.err().await,
        &[
            "rotascope.toml:4:1",
            "`secrets[0].password_file`",
            "missing/pw.txt",
        ],
        &[],
    );
    let c = Case::new(
        "[[island]]\nno = 0\n[[island.node]]\nurl = \"postgres://h/db\"\nlogin = \"app\"\npassword_env = \"CFG_TEST_SURELY_UNSET_VAR\"\n",
    );
    check(
        &c.err().await,
        &[
            "rotascope.toml:6:1",
            "`island[0].node[0].password_env`",
            "CFG_TEST_SURELY_UNSET_VAR",
            "not set",
        ],
        &[],
    );
}

#[tokio::test]
async fn bad_durations() {
    let c = Case::new(
        "islands = [[\"postgres://u:pw-1234@h/db\"]]\n[reload]\ninterval = \"10 parsecs\"\n",
    );
    check(
        &c.err().await,
        &[
            "rotascope.toml:3:1",
            "`reload.interval`",
            "bad duration",
            "10 parsecs",
        ],
        &[],
    );
    let c = Case::new("islands = [[\"postgres://u:pw-1234@h/db\"]]\n[probe]\ntimeout = \"0s\"\n");
    check(&c.err().await, &["`probe.timeout`", "more than zero"], &[]);
    let c = Case::new("islands = [[\"postgres://u:pw-1234@h/db\"]]\n[probe]\ntimeout = 5\n");
    check(
        &c.err().await,
        &["`probe.timeout`", "a duration string"],
        &[],
    );
}

#[tokio::test]
async fn bad_sslmode_and_connection_strings() {
    let c = Case::new(r#"islands = [["postgres://u:ssl-secret-1@h/db?sslmode=always"]]"#);
    check(
        &c.err().await,
        &[
            "rotascope.toml:1:",
            "`islands[0][0]`",
            "bad sslmode \"always\"",
        ],
        &["ssl-secret-1"],
    );
    let c = Case::new(
        "[[island]]\nno = 0\n[[island.node]]\nurl = \"host=h password=kv-secret-1 frobnicate=yes\"\nlogin = \"a\"\n",
    );
    check(
        &c.err().await,
        &["`island[0].node[0].url`", "frobnicate"],
        &["kv-secret-1"],
    );
    let c = Case::new(r#"islands = [["host=h password='kv pass word sslmode=require"]]"#);
    check(
        &c.err().await,
        &["`islands[0][0]`", "unterminated"],
        &["kv pass word", "pass word"],
    );
}

#[tokio::test]
async fn secrets_command_failure_shows_redacted_stderr() {
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"fail.sh\"]\n[[secrets]]\nlogin = \"app\"\npassword = \"inline-known-secret\"\n",
    );
    c.file(
        "fail.sh",
        "echo '[{\"login\":\"x\",\"password\":\"stdout-secret-42\"}]'\n\
         echo \"vault: denied for inline-known-secret and stdout-secret-42\" >&2\nexit 3\n",
    );
    check(
        &c.err().await,
        &[
            "`secrets_command`",
            "`sh`",
            "exit status: 3",
            "vault: denied for [redacted]",
        ],
        &["inline-known-secret", "stdout-secret-42"],
    );
}

#[tokio::test]
async fn secrets_command_that_hangs_is_killed() {
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"-c\", \"sleep 30\"]\n",
    );
    let mut options = LoadOptions::with_env(Vec::<(String, String)>::new());
    options.command_timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let e = load_with(&c.path(), &options).await.expect_err("times out");
    check(&e, &["`secrets_command`", "timed out after 300ms"], &[]);
    assert!(started.elapsed() < Duration::from_secs(20));
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"/no/such/program-xyz\"]\n",
    );
    check(&c.err().await, &["`secrets_command`", "program-xyz"], &[]);
}

#[tokio::test]
async fn bad_secrets_content() {
    let c = Case::new("islands = [[\"postgres://h/db\"]]\nsecrets_file = \"s.json\"\n");
    c.file(
        "s.json",
        r#"[{"login": "a", "password": "file-secret-5", "lable": "x"}]"#,
    );
    check(
        &c.err().await,
        &["s.json", "`[0].lable`", "did you mean `label`?"],
        &["file-secret-5"],
    );
    c.file("s.json", r#"[{"login": "a", "password": 12345678}]"#);
    check(
        &c.err().await,
        &["s.json", "`[0].password`", "a number"],
        &["12345678"],
    );
    c.file("s.json", r#"[{"login": "a", "password": "file-secret-6"},"#);
    check(
        &c.err().await,
        &["s.json:1:", "not valid JSON"],
        &["file-secret-6"],
    );
    c.file("s.json", r#"{"login": "a", "password": "file-secret-7"}"#);
    check(
        &c.err().await,
        &["s.json", "expected a list"],
        &["file-secret-7"],
    );
    c.file(
        "s.toml",
        "[[secrets]]\nlogin = \"a\"\npassword = \"toml-secret-8\nlabel = 1\n",
    );
    c.file(
        "rotascope.toml",
        "islands = [[\"postgres://h/db\"]]\nsecrets_file = \"s.toml\"\n",
    );
    check(&c.err().await, &["s.toml:3:", "syntax"], &["toml-secret-8"]);
    std::fs::remove_file(c.dir.path().join("s.toml")).expect("rm");
    check(
        &c.err().await,
        &["`secrets_file`", "s.toml", "cannot read"],
        &[],
    );

    let c = Case::new("islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"-c\", \"echo not-json-cmd-secret\"]\n");
    check(
        &c.err().await,
        &["secrets_command `sh`", "not valid JSON"],
        &["not-json-cmd-secret"],
    );
}

#[tokio::test]
async fn secrets_without_compact_islands_are_an_error() {
    let c = Case::new(
        "[[secrets]]\nlogin = \"a\"\npassword = \"lonely-secret\"\n[[island]]\nno = 0\n[[island.node]]\nurl = \"postgres://u:pw-1234@h/db\"\n",
    );
    check(
        &c.err().await,
        &["`secrets`", "compact `islands` form"],
        &["lonely-secret"],
    );
}

// ---------------------------------------------------------------- review fixes

/// Passwords with characters that end a URL's host part (`/`, `?`), an extra `@` or `:`, or
/// percent-encoded: (as written in the URL, the password it means).
const NASTY_URL_PASSWORDS: &[(&str, &str)] = &[
    ("a/b@c-secret1", "a/b@c-secret1"),
    ("p?ss-secret2", "p?ss-secret2"),
    ("x@y-secret3", "x@y-secret3"),
    ("a%2Fb%3Fc-secret4", "a/b?c-secret4"),
    ("a:b-secret5", "a:b-secret5"),
    ("2024/Spring!", "2024/Spring!"),
];

/// The same for key=value strings: (as written inside `password='...'` in TOML, the password).
const NASTY_KV_PASSWORDS: &[(&str, &str)] = &[
    ("a/b@c-secret1", "a/b@c-secret1"),
    ("p?ss-secret2", "p?ss-secret2"),
    ("x@y-secret3", "x@y-secret3"),
    ("a:b-secret5", "a:b-secret5"),
    ("it\\\\'s secret", "it's secret"),
];

/// Neither form of the password is anywhere in `text`.
fn no_leak(text: &str, written: &str, password: &str) {
    assert!(!text.contains(written), "leaks {written:?}: {text}");
    assert!(!text.contains(password), "leaks {password:?}: {text}");
}

/// Loads `config`; every error it gives must be free of the password.
async fn load_err_without(config: &str, written: &str, password: &str, must: &[&str]) {
    let e = Case::new(config).err().await;
    check(&e, must, &[written, password]);
}

#[tokio::test]
async fn nasty_url_passwords_never_show_in_names_describe_debug_or_errors() {
    for &(written, password) in NASTY_URL_PASSWORDS {
        let url = format!("postgres://app:{written}@db/app");
        // The URL's own credentials are the one candidate: proves the split is right.
        let cfg = Case::new(&format!("islands = [[\"{url}\"]]\n")).ok().await;
        assert_eq!(
            node_names(&cfg),
            vec![(0, "postgres://app@db/app".to_owned())],
            "{url}"
        );
        assert_eq!(
            creds(&cfg, 0, "postgres://app@db/app"),
            vec![cred("app", password, None)]
        );
        let target = &cfg.topology.nodes().next().expect("node").candidates[0].target;
        assert_eq!(target.dbname, "app");
        no_leak(&target.display, written, password);
        no_leak(&describe(&cfg), written, password);
        no_leak(&format!("{cfg:?}"), written, password);

        // Explicit form, default name.
        let cfg = Case::new(&format!(
            "[[island]]\nno = 0\n[[island.node]]\nurl = \"{url}\"\n"
        ))
        .ok()
        .await;
        assert_eq!(
            node_names(&cfg),
            vec![(0, "postgres://app@db/app".to_owned())]
        );
        no_leak(&describe(&cfg), written, password);

        // Errors that show the node name or parse the string.
        load_err_without(
            &format!("islands = [[\"{url}\"], [\"{url}\"]]\n"),
            written,
            password,
            &["`islands[1][0]`", "postgres://app@db/app"],
        )
        .await;
        load_err_without(
            &format!("islands = [[\"postgres://:{written}@db/app\"]]\n"),
            written,
            password,
            &["`islands[0][0]`", "no login"],
        )
        .await;
        load_err_without(
            &format!("islands = [[\"{url}?sslmode=bogus\"]]\n"),
            written,
            password,
            &["bad sslmode"],
        )
        .await;
        load_err_without(
            &format!("islands = [[\"{url}?bogus=1\"]]\n"),
            written,
            password,
            &["bad connection string", "bogus"],
        )
        .await;
        load_err_without(
            &format!("islands = [[\"{url}\"]\n"),
            written,
            password,
            &["TOML syntax error"],
        )
        .await;
    }
}

#[tokio::test]
async fn nasty_key_value_passwords_never_show_in_names_describe_debug_or_errors() {
    for &(written, password) in NASTY_KV_PASSWORDS {
        let kv = format!("host=db dbname=app user=app password='{written}'");
        let cfg = Case::new(&format!("islands = [[\"{kv}\"]]\n")).ok().await;
        let name = "host=db dbname=app user=app";
        assert_eq!(node_names(&cfg), vec![(0, name.to_owned())]);
        assert_eq!(creds(&cfg, 0, name), vec![cred("app", password, None)]);
        no_leak(&describe(&cfg), written, password);
        no_leak(&format!("{cfg:?}"), written, password);

        load_err_without(
            &format!("islands = [[\"{kv}\"], [\"{kv}\"]]\n"),
            written,
            password,
            &["`islands[1][0]`", name],
        )
        .await;
        load_err_without(
            &format!("islands = [[\"host=db password='{written}'\"]]\n"),
            written,
            password,
            &["no login"],
        )
        .await;
        load_err_without(
            &format!("islands = [[\"{kv} sslmode=bogus\"]]\n"),
            written,
            password,
            &["bad sslmode"],
        )
        .await;
        load_err_without(
            &format!("islands = [[\"{kv} bogus=1\"]]\n"),
            written,
            password,
            &["bad connection string", "bogus"],
        )
        .await;
        load_err_without(
            &format!("islands = [[\"{kv}\"]\n"),
            written,
            password,
            &["TOML syntax error"],
        )
        .await;
    }
    // SQL-style quote doubling is no escape in libpq's syntax: an error that quotes nothing.
    let e = Case::new(r#"islands = [["host=db user=app password='it''s secret'"]]"#)
        .err()
        .await;
    check(
        &e,
        &["`islands[0][0]`", "bad connection string"],
        &["it''s secret", "it's secret", "secret"],
    );
}

#[tokio::test]
async fn a_bad_duration_never_shows_a_secret() {
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"dur-secret-77\"\n\
         [probe]\ninterval = \"dur-secret-77\"\n",
    );
    check(
        &c.err().await,
        &["`probe.interval`", "bad duration"],
        &["dur-secret-77"],
    );
    // From the environment as well: the value is redacted the same way.
    let c = Case::new(
        "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"dur-secret-77\"\n",
    );
    let e = c
        .load_env(&[("ROTASCOPE_RELOAD__INTERVAL", "dur-secret-77")])
        .await
        .expect_err("bad duration");
    check(
        &e,
        &["ROTASCOPE_RELOAD__INTERVAL", "`reload.interval`"],
        &["dur-secret-77"],
    );
}

#[tokio::test]
async fn secrets_command_stderr_with_credentials_is_withheld_and_plain_stderr_cut_to_its_last_lines(
) {
    let c =
        Case::new("islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"fail.sh\"]\n");
    c.file(
        "fail.sh",
        "for i in 1 2 3 4 5 6 7 8; do echo \"early line $i\" >&2; done\n\
         echo 'vault: login with password=stderr-only-secret-9 refused' >&2\n\
         echo '{\"errors\": [{\"password\": \"json-stderr-secret-8\"}]}' >&2\n\
         echo 'postgres://app:url/stderr@secret-7@db/app unreachable' >&2\n\
         echo 'giving up' >&2\n\
         exit 2\n",
    );
    let e = c.err().await;
    check(
        &e,
        &["exit status: 2", "withheld: 12 lines"],
        &[
            "stderr-only-secret-9",
            "json-stderr-secret-8",
            "url/stderr@secret-7",
            "early line",
            "giving up",
        ],
    );
    c.file(
        "fail.sh",
        "for i in 1 2 3 4 5 6 7 8; do echo \"early line $i\" >&2; done\n\
         echo 'giving up' >&2\n\
         exit 2\n",
    );
    check(
        &c.err().await,
        &["(4 earlier lines left out) early line 5 | early line 6 | early line 7 | early line 8 | giving up"],
        &["early line 4"],
    );
}

#[tokio::test]
async fn a_password_cut_by_the_stderr_limit_is_still_masked() {
    // The cut keeps the last 2000 bytes; this line puts the cut inside the password, 6 bytes
    // before its end, so masking after cutting would show "Q9z7Wk".
    let pw = "straddle-secret-Q9z7Wk";
    let line = format!("{}{pw}{}", "a".repeat(100), "b".repeat(1994));
    let c = Case::new(&format!(
        "islands = [[\"postgres://h/db\"]]\nsecrets_command = [\"sh\", \"fail.sh\"]\n\
         [[secrets]]\nlogin = \"app\"\npassword = \"{pw}\"\n"
    ));
    c.file("fail.sh", &format!("echo '{line}' >&2\nexit 1\n"));
    check(&c.err().await, &["bbbb"], &[pw, "Q9z7Wk", "z7Wk"]);
}

#[tokio::test]
async fn a_node_name_carrying_a_password_is_refused() {
    for name in [
        "postgres://app:name-secret-1@db/app",
        "postgres://app:name/secret-1@db/app",
        "db1 password=name-secret-1",
    ] {
        let c = Case::new(&format!(
            "[[island]]\nno = 0\n[[island.node]]\nname = \"{name}\"\nurl = \"postgres://db/app\"\n\
             login = \"app\"\npassword = \"node-pw-123\"\n"
        ));
        check(
            &c.err().await,
            &[
                "rotascope.toml:4:1",
                "`island[0].node[0].name`",
                "without a password",
            ],
            &["name-secret-1", "name/secret-1", "node-pw-123"],
        );
    }
    let cfg = Case::new(
        "[[island]]\nno = 0\n[[island.node]]\nname = \"db1 (password rotation)\"\n\
         url = \"postgres://db/app\"\nlogin = \"app\"\npassword = \"node-pw-123\"\n",
    )
    .ok()
    .await;
    assert_eq!(
        node_names(&cfg),
        vec![(0, "db1 (password rotation)".to_owned())]
    );
}

#[tokio::test]
async fn a_password_pasted_into_a_login_label_or_name_names_that_key_and_line() {
    let cases = [
        (
            "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"pasted-pw-77\"\n\
             [[secrets]]\nlogin = \"pasted-pw-77\"\npassword = \"other-pw-88\"\n",
            "rotascope.toml:6:",
            "`secrets[1].login`",
        ),
        (
            "islands = [[\"postgres://h/db\"]]\n[[secrets]]\nlogin = \"app\"\npassword = \"pasted-pw-77\"\n\
             label = \"x pasted-pw-77\"\n",
            "rotascope.toml:5:",
            "`secrets[0].label`",
        ),
        (
            "[[island]]\nno = 0\n[[island.node]]\nname = \"pasted-pw-77\"\nurl = \"postgres://db/app\"\n\
             login = \"app\"\npassword = \"pasted-pw-77\"\n",
            "rotascope.toml:4:",
            "`island[0].node[0].name`",
        ),
    ];
    for (text, line, key) in cases {
        let err = Case::new(text).err().await;
        check(
            &err,
            &[line, key, "without a password", "(not shown)"],
            &["pasted-pw-77", "other-pw-88", "island 0, node #0"],
        );
    }
}

#[tokio::test]
async fn settings_out_of_bounds_name_the_key() {
    let base = "islands = [[\"postgres://u:pw-1234@h/db\"]]\n";
    let file_cases = [
        (
            "[probe]\nconcurrency = 0\n",
            "`probe.concurrency`",
            "1 to 10000",
        ),
        (
            "[probe]\nconcurrency = 10001\n",
            "`probe.concurrency`",
            "1 to 10000",
        ),
        (
            "[probe]\nconcurrency = 18446744073709551615\n",
            "`probe.concurrency`",
            "",
        ),
        (
            "[probe]\ninterval = \"99ms\"\n",
            "`probe.interval`",
            "at least 100ms",
        ),
        (
            "[probe]\naudit_interval = \"25h\"\n",
            "`probe.audit_interval`",
            "at most 1day",
        ),
        (
            "[probe]\nconnect_timeout = \"9ms\"\n",
            "`probe.connect_timeout`",
            "at least 10ms",
        ),
        (
            "[probe]\ntimeout = \"2days\"\n",
            "`probe.timeout`",
            "at most 1day",
        ),
        (
            "[reload]\ninterval = \"10ms\"\n",
            "`reload.interval`",
            "at least 100ms",
        ),
        ("[usage]\nquiet_for = \"soon\"\n", "`usage.quiet_for`", ""),
    ];
    for (settings, key, reason) in file_cases {
        let e = Case::new(&format!("{base}{settings}")).err().await;
        check(&e, &["rotascope.toml:", key, reason], &["pw-1234"]);
    }
    let c = Case::new(base);
    for (var, value, key, reason) in [
        (
            "ROTASCOPE_PROBE__CONCURRENCY",
            "20000",
            "`probe.concurrency`",
            "1 to 10000",
        ),
        (
            "ROTASCOPE_RELOAD__INTERVAL",
            "50ms",
            "`reload.interval`",
            "at least 100ms",
        ),
        (
            "ROTASCOPE_PROBE__TIMEOUT",
            "1ms",
            "`probe.timeout`",
            "at least 10ms",
        ),
    ] {
        let e = c
            .load_env(&[(var, value)])
            .await
            .expect_err("out of bounds");
        check(&e, &[var, key, reason], &[]);
    }
    // The bounds themselves are allowed.
    let cfg = Case::new(&format!(
        "{base}[probe]\ninterval = \"100ms\"\naudit_interval = \"1day\"\nconnect_timeout = \"10ms\"\n\
         timeout = \"24h\"\nconcurrency = 10000\n[reload]\ninterval = \"100ms\"\n"
    ))
    .ok()
    .await;
    assert_eq!(cfg.probe.concurrency, 10_000);
    assert_eq!(cfg.probe.connect_timeout, Duration::from_millis(10));
    assert_eq!(cfg.probe.timeout, Duration::from_secs(86_400));
    let cfg = Case::new(&format!("{base}[usage]\nquiet_for = \"2s\"\n"))
        .ok()
        .await;
    assert_eq!(cfg.usage.quiet_for, Duration::from_secs(2));
}

/// `[usage] enabled`: on by default, off when false (in the file or the environment), and
/// anything but a boolean is an error naming the file and the key.
#[tokio::test]
async fn usage_enabled_switches_session_counting() {
    let base = "islands = [[\"postgres://u:pw-1234@h/db\"]]\n";
    assert!(Case::new(base).ok().await.usage.enabled);
    for (text, on) in [("true", true), ("false", false)] {
        let cfg = Case::new(&format!("{base}[usage]\nenabled = {text}\n"))
            .ok()
            .await;
        assert_eq!(cfg.usage.enabled, on, "enabled = {text}");
    }
    let c = Case::new(base);
    let cfg = c
        .load_env(&[("ROTASCOPE_USAGE__ENABLED", "false")])
        .await
        .expect("env override");
    assert!(!cfg.usage.enabled);
    for wrong in ["\"no\"", "0", "\"pw-1234\""] {
        let e = Case::new(&format!("{base}[usage]\nenabled = {wrong}\n"))
            .err()
            .await;
        check(
            &e,
            &["rotascope.toml:3:1", "`usage.enabled`", "boolean"],
            &["pw-1234"],
        );
    }
    let e = Case::new(&format!("{base}[usage]\nenable = false\n"))
        .err()
        .await;
    check(
        &e,
        &["rotascope.toml:3:1", "enable", "enabled"],
        &["pw-1234"],
    );
}

#[tokio::test]
async fn a_bad_shard_pattern_is_a_config_error() {
    let c =
        Case::new("islands = [[\"postgres://u:pw-1234@h/db\"]]\n[shards]\npattern = \"sh%s\"\n");
    check(
        &c.err().await,
        &["rotascope.toml:3:1", "`shards.pattern`", "%0Nd"],
        &["pw-1234"],
    );
    let c = Case::new("islands = [[\"postgres://u:pw-1234@h/db\"]]\n");
    let e = c
        .load_env(&[("ROTASCOPE_SHARDS__PATTERN", "sh%0d")])
        .await
        .expect_err("bad pattern");
    check(&e, &["ROTASCOPE_SHARDS__PATTERN", "`shards.pattern`"], &[]);
}

#[tokio::test]
async fn without_dbname_the_database_is_postgres() {
    let cfg = Case::new(
        "islands = [[\"postgres://h1/\", \"host=h2\", \"postgres://h3/app\", \"postgres://h4\"]]\n\
         [[secrets]]\nlogin = \"app_a\"\npassword = \"pw-a-123\"\n\
         [[secrets]]\nlogin = \"app_b\"\npassword = \"pw-b-123\"\n",
    )
    .ok()
    .await;
    let dbnames: Vec<&str> = cfg
        .topology
        .nodes()
        .map(|n| n.candidates[0].target.dbname.as_str())
        .collect();
    assert_eq!(dbnames, ["postgres", "postgres", "app", "postgres"]);
    // The node is still named as written.
    assert_eq!(node_names(&cfg)[0], (0, "postgres://h1/".to_owned()));
}
