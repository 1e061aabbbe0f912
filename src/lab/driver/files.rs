//! The files a lab hands to rotascope: `rotascope.toml` (compact form) and `secrets.json`, each
//! replaced atomically (a temp file in the same directory, then a rename), as rotation tools and
//! Kubernetes secret mounts do, so a reader never sees half a file.
//!
//! With PgBouncer in front of the masters the config takes the explicit form instead, passwords
//! inline (the file is the owner's only): a master is listed once per secret through its own
//! port and once through the pooler's, every entry under the master's name (one node, candidates
//! by both paths, `via = "direct"` / `"pgbouncer"`). It is rewritten whenever the secrets change;
//! there is no `secrets.json` then.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cluster::NodeAddresses;
use super::rotation::SecretEntry;

/// The config file's name in the lab directory.
pub const CONFIG_FILE: &str = "rotascope.toml";

/// The secrets file's name in the lab directory.
pub const SECRETS_FILE: &str = "secrets.json";

/// The `[probe]` and `[reload]` settings of a lab config: short, for a demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intervals {
    /// `probe.interval`.
    pub probe: Duration,
    /// `probe.audit_interval`.
    pub audit: Duration,
    /// `probe.connect_timeout`.
    pub connect_timeout: Duration,
    /// `probe.timeout`.
    pub timeout: Duration,
    /// `reload.interval` (the file watch reacts sooner).
    pub reload: Duration,
}

impl Intervals {
    /// Chain probes every second; audits twice per `config_lag` (1–10 s), so a rotated candidate
    /// that no chain probe tries (not the winner) is still seen invalid within the window.
    pub fn for_lag(config_lag: Duration) -> Self {
        Intervals {
            probe: Duration::from_secs(1),
            audit: (config_lag / 2).clamp(Duration::from_secs(1), Duration::from_secs(10)),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            reload: Duration::from_secs(5),
        }
    }
}

/// Where a lab's files are, and how they are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabFiles {
    dir: PathBuf,
}

impl LabFiles {
    /// The files of the lab directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LabFiles { dir: dir.into() }
    }

    /// `<dir>/rotascope.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// `<dir>/secrets.json`.
    pub fn secrets_path(&self) -> PathBuf {
        self.dir.join(SECRETS_FILE)
    }

    /// Replaces the config: `islands` are each island's connection strings, in order.
    pub fn write_config(&self, islands: &[Vec<String>], intervals: &Intervals) -> io::Result<()> {
        write_atomic(&self.config_path(), &config_text(islands, intervals), 0o644)
    }

    /// Replaces the config with the explicit form (see the module docs): every node's entries
    /// for every secret, readable by its owner only.
    pub fn write_explicit_config(
        &self,
        islands: &[Vec<NodeAddresses>],
        secrets: &[SecretEntry],
        intervals: &Intervals,
    ) -> io::Result<()> {
        let text = explicit_config_text(islands, secrets, intervals);
        write_atomic(&self.config_path(), &text, 0o600)
    }

    /// Replaces the secrets file (readable by its owner only).
    pub fn write_secrets(&self, entries: &[SecretEntry]) -> io::Result<()> {
        write_atomic(&self.secrets_path(), &secrets_text(entries), 0o600)
    }
}

/// The config text (compact form; passwords stay in the secrets file).
pub fn config_text(islands: &[Vec<String>], intervals: &Intervals) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut text = String::from(
        "# Written by `rotascope lab` for its demo cluster, and rewritten when the lab changes it\n\
         # (failover). Passwords are in secrets.json, which the lab's rotation driver replaces.\n\
         islands = [\n",
    );
    for nodes in islands {
        let list: Vec<String> = nodes.iter().map(|n| quote(n)).collect();
        text.push_str(&format!("  [{}],\n", list.join(", ")));
    }
    text.push_str(&format!("]\nsecrets_file = {}\n\n", quote(SECRETS_FILE)));
    text.push_str(&settings_text(intervals));
    text
}

/// The config text in the explicit form, passwords inline (see the module docs).
pub fn explicit_config_text(
    islands: &[Vec<NodeAddresses>],
    secrets: &[SecretEntry],
    intervals: &Intervals,
) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut text = String::from(
        "# Written by `rotascope lab` for its demo cluster with PgBouncer in front of each master,\n\
         # and rewritten whenever the lab rotates a password or fails a master over. A master is\n\
         # listed once per secret by its own port and once by its pooler's, under one name.\n\
         # PASSWORDS ARE INLINE: this file is readable by its owner only.\n\n",
    );
    text.push_str(&settings_text(intervals));
    for (no, nodes) in islands.iter().enumerate() {
        text.push_str(&format!("\n[[island]]\nno = {no}\n"));
        for node in nodes {
            let mut paths = vec![(&node.direct, node.pooler.as_ref().map(|_| "direct"))];
            if let Some(pooler) = &node.pooler {
                paths.push((pooler, Some("pgbouncer")));
            }
            for (url, via) in paths {
                for s in secrets {
                    text.push_str(&format!(
                        "\n[[island.node]]\nname = {}\nurl = {}\nlogin = {}\npassword = {}\n\
                         label = {}\n",
                        quote(&node.direct),
                        quote(url),
                        quote(&s.login),
                        quote(s.password.expose()),
                        quote(s.label),
                    ));
                    if let Some(via) = via {
                        text.push_str(&format!("via = {}\n", quote(via)));
                    }
                }
            }
        }
    }
    text
}

/// The `[probe]` and `[reload]` tables.
fn settings_text(intervals: &Intervals) -> String {
    let duration =
        |d: Duration| toml::Value::String(humantime::format_duration(d).to_string()).to_string();
    format!(
        "[probe]\ninterval = {}\naudit_interval = {}\nconnect_timeout = {}\ntimeout = {}\n\n\
         [reload]\ninterval = {}\nwatch = true\n",
        duration(intervals.probe),
        duration(intervals.audit),
        duration(intervals.connect_timeout),
        duration(intervals.timeout),
        duration(intervals.reload),
    )
}

/// The secrets file's JSON: `[{"login", "password", "label"}, ...]`.
fn secrets_text(entries: &[SecretEntry]) -> String {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "login": e.login,
                "password": e.password.expose(),
                "label": e.label,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&list).expect("strings serialize to JSON");
    text.push('\n');
    text
}

/// Writes `contents` to a temp file beside `path`, then renames it over `path`.
fn write_atomic(path: &Path, contents: &str, mode: u32) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let context =
        |e: io::Error| io::Error::new(e.kind(), format!("writing {}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(context)?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(context)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Password;

    fn entries() -> Vec<SecretEntry> {
        vec![
            SecretEntry {
                login: "app_a".into(),
                password: Password::new("first \"quoted\" pw"),
                label: "current",
            },
            SecretEntry {
                login: "app_b".into(),
                password: Password::new("second-pw"),
                label: "previous",
            },
        ]
    }

    #[tokio::test]
    async fn the_written_files_load_as_a_config_with_every_candidate() {
        let dir = tempfile::tempdir().unwrap();
        let files = LabFiles::new(dir.path());
        let islands = vec![
            vec![
                "postgres://127.0.0.1:5501/app".to_owned(),
                "postgres://127.0.0.1:5502/app".to_owned(),
            ],
            vec!["postgres://127.0.0.1:5503/app".to_owned()],
        ];
        let intervals = Intervals::for_lag(Duration::from_secs(3));
        files.write_config(&islands, &intervals).unwrap();
        files.write_secrets(&entries()).unwrap();

        let options = crate::config::load::LoadOptions::with_env(Vec::<(String, String)>::new());
        let config = crate::config::load::load_with(&files.config_path(), &options)
            .await
            .unwrap();
        assert_eq!(config.topology.islands.len(), 2);
        let nodes: usize = config.topology.islands.iter().map(|i| i.nodes.len()).sum();
        assert_eq!(nodes, 3);
        let candidates = &config.topology.islands[0].nodes[0].candidates;
        assert_eq!(candidates.len(), 2);
        assert_eq!(candidates[0].login, "app_a");
        assert_eq!(candidates[0].password.expose(), "first \"quoted\" pw");
        assert_eq!(candidates[1].label.as_deref(), Some("previous"));
        assert_eq!(config.probe.interval, Duration::from_secs(1));
        assert_eq!(config.probe.audit_interval, Duration::from_millis(1500));
        assert!(config.reload.watch);
        assert!(config.watched_files.contains(&files.secrets_path()));
    }

    #[tokio::test]
    async fn the_explicit_config_lists_each_master_by_both_paths_under_one_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let files = LabFiles::new(dir.path());
        let islands = vec![vec![
            NodeAddresses {
                direct: "postgres://127.0.0.1:5501/app".into(),
                pooler: Some("postgres://127.0.0.1:6501/app".into()),
            },
            NodeAddresses {
                direct: "postgres://127.0.0.1:5502/app".into(),
                pooler: None,
            },
        ]];
        let intervals = Intervals::for_lag(Duration::from_secs(3));
        files
            .write_explicit_config(&islands, &entries(), &intervals)
            .unwrap();
        let mode = std::fs::metadata(files.config_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "passwords inline: the owner's only");

        let options = crate::config::load::LoadOptions::with_env(Vec::<(String, String)>::new());
        let config = crate::config::load::load_with(&files.config_path(), &options)
            .await
            .unwrap();
        let nodes = &config.topology.islands[0].nodes;
        assert_eq!(nodes.len(), 2);
        let master = &nodes[0];
        assert_eq!(&*master.key.name, "postgres://127.0.0.1:5501/app");
        let listed: Vec<(&str, u16, Option<&str>, Option<&str>)> = master
            .candidates
            .iter()
            .map(|c| {
                (
                    c.login.as_str(),
                    c.target.endpoint.port(),
                    c.via.as_deref(),
                    c.label.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("app_a", 5501, Some("direct"), Some("current")),
                ("app_b", 5501, Some("direct"), Some("previous")),
                ("app_a", 6501, Some("pgbouncer"), Some("current")),
                ("app_b", 6501, Some("pgbouncer"), Some("previous")),
            ]
        );
        assert_eq!(
            master.candidates[2].password.expose(),
            "first \"quoted\" pw"
        );
        // A replica: its own port only, no path named.
        assert_eq!(nodes[1].candidates.len(), 2);
        assert!(nodes[1].candidates.iter().all(|c| c.via.is_none()));
        assert_eq!(config.probe.interval, Duration::from_secs(1));
    }

    #[test]
    fn a_rewrite_replaces_the_file_and_leaves_no_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let files = LabFiles::new(dir.path());
        files.write_secrets(&entries()).unwrap();
        files.write_secrets(&entries()[1..]).unwrap();
        let text = std::fs::read_to_string(files.secrets_path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert_eq!(v[0]["login"], "app_b");
        let mode = std::fs::metadata(files.secrets_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SECRETS_FILE]);
    }

    #[test]
    fn audits_keep_up_with_the_config_lag_within_bounds() {
        let audit = |lag| Intervals::for_lag(Duration::from_millis(lag)).audit;
        assert_eq!(audit(3000), Duration::from_millis(1500));
        assert_eq!(audit(500), Duration::from_secs(1));
        assert_eq!(audit(60_000), Duration::from_secs(10));
    }
}
