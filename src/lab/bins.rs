//! Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`, `pg_basebackup`).

use std::path::{Path, PathBuf};

use super::LabError;

/// Where the PostgreSQL server binaries live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgBins {
    dir: PathBuf,
}

/// The binaries the lab runs; a directory lacking any of them is not used.
const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "pg_basebackup"];

impl PgBins {
    /// Finds the binaries: `PG_BIN`, then `pg_config --bindir`, then the newest
    /// `/usr/lib/postgresql/<version>/bin`.
    ///
    /// Without them the error says how to install them.
    pub fn find() -> Result<PgBins, LabError> {
        let mut looked = Vec::new();
        if let Some(dir) = std::env::var_os("PG_BIN") {
            // An explicit choice that does not work is an error, not a reason to look elsewhere.
            return PgBins::at(dir);
        }
        if let Some(dir) = pg_config_bindir() {
            if let Ok(bins) = PgBins::at(&dir) {
                return Ok(bins);
            }
            looked.push(dir.display().to_string());
        }
        for dir in debian_bindirs(Path::new("/usr/lib/postgresql")) {
            if let Ok(bins) = PgBins::at(&dir) {
                return Ok(bins);
            }
            looked.push(dir.display().to_string());
        }
        looked.push("/usr/lib/postgresql/*/bin".to_owned());
        Err(LabError::NoBinaries {
            looked: looked.join(", "),
        })
    }

    /// Uses the binaries in `dir`, which must hold `initdb`, `pg_ctl` and `pg_basebackup`.
    pub fn at(dir: impl Into<PathBuf>) -> Result<PgBins, LabError> {
        let dir = dir.into();
        if REQUIRED.iter().all(|b| is_executable(&dir.join(b))) {
            Ok(PgBins { dir })
        } else {
            Err(LabError::NoBinaries {
                looked: dir.display().to_string(),
            })
        }
    }

    /// The directory holding the binaries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of one binary (`initdb`, `pg_ctl`, ...).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = std::process::Command::new("pg_config")
        .arg("--bindir")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| PathBuf::from(text))
}

/// `<root>/<version>/bin` directories, newest version first (numeric order: 9.6 < 10 < 15).
fn debian_bindirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let key = name
                .split('.')
                .map(|p| p.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((key, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// True for an executable regular file.
pub(super) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically_newest_first() {
        let root = std::env::temp_dir().join(format!("rotascope-bins-{}", std::process::id()));
        for v in ["9.6", "10", "15", "notaversion"] {
            std::fs::create_dir_all(root.join(v).join("bin")).unwrap();
        }
        let dirs = debian_bindirs(&root);
        let names: Vec<String> = dirs
            .iter()
            .map(|d| {
                d.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(names, ["15", "10", "9.6"]);
    }

    #[test]
    fn a_directory_without_initdb_is_a_clear_error() {
        let err = PgBins::at("/nonexistent/rotascope/bin").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("apt-get install postgresql"), "{text}");
        assert!(text.contains("/nonexistent/rotascope/bin"), "{text}");
    }
}
