//! The `[state] file`: what survives a restart — each node's remembered best and the history.
//!
//! - **No secret inside.** Candidates are named by login and fingerprint. The fingerprint key is
//!   kept in the file itself (so fingerprints are the same after a restart, and the file is
//!   useless without it for matching anything else); the file is written with mode 0600, since
//!   with the key a fingerprint could be checked against guessed passwords offline.
//! - **Written atomically**: a temporary file in the same directory (mode 0600), flushed to disk,
//!   renamed over the old one, the directory flushed. A crash leaves the old file or the new one.
//! - **When**: created with a fresh key at the first start; written every [`SAVE_EVERY`] while
//!   the engine runs, and when it stops. The write happens off the engine task.
//! - **Reading**: a file that cannot be read or parsed is a clear error at start (nothing is
//!   overwritten: move it away to start afresh).
//! - One running rotascope per state file: two would overwrite each other's history.

use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::event::rfc3339;
use super::history::saved::SavedHistory;
use super::history::{History, HORIZON, MAX_POINTS};
use super::usage::SavedQuiet;
use crate::topology::IslandNo;

/// How often the running engine writes its state.
pub const SAVE_EVERY: Duration = Duration::from_secs(60);

/// The largest state file read (the history's own bound keeps real ones far smaller).
pub const MAX_STATE_BYTES: u64 = 512 << 20;

/// The format version written.
const VERSION: u32 = 1;

/// Why the state file cannot be used.
#[derive(Debug, Error)]
pub enum StateError {
    /// Reading or creating it failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Its content is not a state file.
    #[error("state file {path}: {reason} (move it away to start afresh)")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A node's remembered best, saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedBest {
    /// Island.
    pub island: IslandNo,
    /// Node name.
    pub node: String,
    /// Login.
    pub login: String,
    /// Full fingerprint.
    pub fingerprint: String,
}

/// The file's content.
#[derive(Debug, Serialize, Deserialize)]
struct Content {
    version: u32,
    /// The fingerprint key, base64.
    key: String,
    #[serde(serialize_with = "rfc3339")]
    saved_at: DateTime<Utc>,
    remembered: Vec<SavedBest>,
    history: Option<SavedHistory>,
    /// Quiet times of logins per node (`engine/usage.rs`); absent in files written before.
    #[serde(default)]
    usage: Vec<SavedQuiet>,
}

/// What a state file held at start.
#[derive(Debug, Default)]
pub struct Restored {
    /// Remembered best per node.
    pub remembered: Vec<SavedBest>,
    /// The history (with its runs).
    pub history: Option<History>,
    /// Since when each login had no session on each node, when the file is fresh enough to
    /// carry it on (written within [`QUIET_FRESH`] of opening: by a running rotascope, or one
    /// that just stopped); empty otherwise, since sessions may have come and gone unseen.
    pub usage: Vec<SavedQuiet>,
}

/// How recent a state file's write must be for its quiet times to be carried on.
pub const QUIET_FRESH: Duration = Duration::from_secs(2 * 60);

/// An open state file: its path and fingerprint key, and what it held.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    key: [u8; 32],
    restored: std::sync::Mutex<Option<Restored>>,
}

impl StateFile {
    /// Opens `path`: reads it when it exists, or creates it with a fresh key.
    pub fn open(path: &Path) -> Result<StateFile, StateError> {
        let io_err = |source| StateError::Io {
            path: path.to_path_buf(),
            source,
        };
        let invalid = |reason: String| StateError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        match std::fs::metadata(path) {
            Ok(meta) => {
                if !meta.is_file() {
                    return Err(invalid("not a regular file".into()));
                }
                if meta.len() > MAX_STATE_BYTES {
                    return Err(invalid(format!(
                        "larger than {} MiB",
                        MAX_STATE_BYTES >> 20
                    )));
                }
                let bytes = std::fs::read(path).map_err(io_err)?;
                let content: Content = serde_json::from_slice(&bytes)
                    .map_err(|e| invalid(format!("not a rotascope state file: {e}")))?;
                if content.version != VERSION {
                    return Err(invalid(format!("version {} is not known", content.version)));
                }
                let key = base64::engine::general_purpose::STANDARD
                    .decode(&content.key)
                    .ok()
                    .and_then(|k| <[u8; 32]>::try_from(k).ok())
                    .ok_or_else(|| invalid("its key is not 32 bytes of base64".into()))?;
                let history = content
                    .history
                    .map(|h| History::restore(h, HORIZON, MAX_POINTS))
                    .transpose()
                    .map_err(invalid)?;
                // Tighten a file someone loosened.
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
                Ok(StateFile {
                    path: path.to_path_buf(),
                    key,
                    restored: std::sync::Mutex::new(Some(Restored {
                        remembered: content.remembered,
                        history,
                        usage: fresh_quiet(content.usage, content.saved_at, Utc::now()),
                    })),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let file = StateFile {
                    path: path.to_path_buf(),
                    key: rand::random(),
                    restored: std::sync::Mutex::new(None),
                };
                // Written now, so the key is kept even if rotascope stops before its first save.
                file.write(Utc::now(), Vec::new(), None, Vec::new())
                    .map_err(io_err)?;
                Ok(file)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// The fingerprint key it keeps.
    pub fn key(&self) -> [u8; 32] {
        self.key
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it held at start (once; later calls get nothing).
    pub fn take_restored(&self) -> Restored {
        self.restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default()
    }

    /// Writes the state atomically (see the module docs).
    pub fn write(
        &self,
        at: DateTime<Utc>,
        remembered: Vec<SavedBest>,
        history: Option<SavedHistory>,
        usage: Vec<SavedQuiet>,
    ) -> io::Result<()> {
        let content = Content {
            version: VERSION,
            key: base64::engine::general_purpose::STANDARD.encode(self.key),
            saved_at: at,
            remembered,
            history,
            usage,
        };
        let bytes = serde_json::to_vec(&content).map_err(io::Error::other)?;
        write_atomic(&self.path, &bytes)
    }
}

/// The saved quiet times, if the file was written recently enough (see [`Restored::usage`]).
fn fresh_quiet(
    saved: Vec<SavedQuiet>,
    saved_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<SavedQuiet> {
    let age = (now - saved_at).to_std().unwrap_or_default();
    if age <= QUIET_FRESH {
        saved
    } else {
        Vec::new()
    }
}

/// Replaces `path` with `bytes`: a 0600 temporary file beside it, synced, renamed over it, and
/// the directory synced.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // A temporary file left by a crash may have kept looser bits: set them again.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_new_file_is_made_with_a_key_mode_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let a = StateFile::open(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let best = SavedBest {
            island: IslandNo(0),
            node: "db".into(),
            login: "app_b".into(),
            fingerprint: "00".repeat(16),
        };
        a.write(
            Utc::now(),
            vec![best.clone()],
            Some(History::default().save()),
            Vec::new(),
        )
        .unwrap();
        let b = StateFile::open(&path).unwrap();
        assert_eq!(a.key(), b.key());
        let restored = b.take_restored();
        assert_eq!(restored.remembered, [best]);
        assert!(restored.history.is_some());
        assert!(b.take_restored().history.is_none(), "taken once");
        // Only the state file is left in the directory: no temporary file.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_broken_file_is_a_clear_error_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = StateFile::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("state.json") && err.contains("move it away"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }

    #[test]
    fn quiet_times_carry_on_only_from_a_fresh_file() {
        let quiet = SavedQuiet {
            island: IslandNo(0),
            node: "db".into(),
            login: "app_a".into(),
            zero_since: Utc::now() - chrono::Duration::hours(1),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let a = StateFile::open(&path).unwrap();
        a.write(Utc::now(), Vec::new(), None, vec![quiet.clone()])
            .unwrap();
        assert_eq!(
            StateFile::open(&path).unwrap().take_restored().usage,
            std::slice::from_ref(&quiet)
        );
        // Written long ago: sessions may have come and gone unseen since.
        let old = Utc::now() - chrono::Duration::minutes(10);
        a.write(old, Vec::new(), None, vec![quiet]).unwrap();
        assert!(StateFile::open(&path)
            .unwrap()
            .take_restored()
            .usage
            .is_empty());
    }
}
