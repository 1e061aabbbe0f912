//! Finding the `pgbouncer` binary: `PGBOUNCER_BIN`, then `PATH`, then `/usr/sbin/pgbouncer`
//! (where Debian's package puts it, outside a normal user's `PATH`).

use std::path::{Path, PathBuf};

use super::super::bins::is_executable;
use super::super::LabError;

/// Where Debian and Ubuntu install it.
const SYSTEM: &str = "/usr/sbin/pgbouncer";

/// The `pgbouncer` binary to run.
pub fn find() -> Result<PathBuf, LabError> {
    find_in(
        std::env::var_os("PGBOUNCER_BIN").map(PathBuf::from),
        std::env::var_os("PATH"),
        Path::new(SYSTEM),
    )
}

fn find_in(
    explicit: Option<PathBuf>,
    path: Option<std::ffi::OsString>,
    system: &Path,
) -> Result<PathBuf, LabError> {
    if let Some(bin) = explicit {
        // An explicit choice that does not work is an error, not a reason to look elsewhere.
        return if is_executable(&bin) {
            Ok(bin)
        } else {
            Err(LabError::NoPgBouncer {
                looked: format!("PGBOUNCER_BIN={}", bin.display()),
            })
        };
    }
    let mut looked = Vec::new();
    if let Some(path) = path {
        for dir in std::env::split_paths(&path) {
            let bin = dir.join("pgbouncer");
            if is_executable(&bin) {
                return Ok(bin);
            }
        }
        looked.push("PATH".to_owned());
    }
    if is_executable(system) {
        return Ok(system.to_path_buf());
    }
    looked.push(system.display().to_string());
    Err(LabError::NoPgBouncer {
        looked: looked.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn the_explicit_binary_wins_then_path_then_the_system_one() {
        let dir = tempfile::tempdir().unwrap();
        let in_path = dir.path().join("bin");
        std::fs::create_dir(&in_path).unwrap();
        let on_path = executable(&in_path, "pgbouncer");
        let system = executable(dir.path(), "system-pgbouncer");
        let explicit = executable(dir.path(), "mine");
        let path = Some(in_path.clone().into_os_string());

        assert_eq!(
            find_in(Some(explicit.clone()), path.clone(), &system).unwrap(),
            explicit
        );
        assert_eq!(find_in(None, path, &system).unwrap(), on_path);
        assert_eq!(find_in(None, None, &system).unwrap(), system);
    }

    #[test]
    fn nothing_found_says_how_to_install_it() {
        let err = find_in(None, None, Path::new("/nonexistent/pgbouncer")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("apt-get install pgbouncer"), "{text}");
        assert!(text.contains("/nonexistent/pgbouncer"), "{text}");
        let err = find_in(Some("/nonexistent/mine".into()), None, Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("PGBOUNCER_BIN"), "{err}");
    }
}
