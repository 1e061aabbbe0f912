//! Files rotascope writes for its own output (`watch --record`, `--log-file`): created readable
//! and writable by the owner only (0600), whatever the umask. They hold no password, but they
//! name hosts, logins and fingerprints, and an audit trail is nobody else's business. An existing
//! file keeps the mode it has: it is the owner's choice.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode a new output file gets.
pub const MODE: u32 = 0o600;

/// Opens `path` for appending, creating it with mode [`MODE`] if it does not exist.
pub fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, MODE);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn new_files_are_owner_only_and_existing_ones_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.log");
        open_append(&new).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&new), 0o600);

        let old = dir.path().join("old.log");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o640)).unwrap();
        open_append(&old).unwrap();
        assert_eq!(mode(&old), 0o640);
    }
}
