//! The one way the config loader reads a file: regular files only, bounded in size, under a
//! deadline, on a bounded set of threads.
//!
//! Every file a config names (the config itself, `password_file`, `secrets_file`, certificates,
//! `.pgpass`, `pg_service.conf`) may be hostile or stuck: a FIFO that never gets a writer,
//! `/dev/zero`, a hung NFS mount. So:
//! - the file is opened with `O_NONBLOCK` (opening a FIFO cannot block) and refused unless it is
//!   a regular file (symbolic links are followed: Kubernetes mounts are links);
//! - at most `limit` bytes are read; a larger file is an error, never a huge allocation;
//! - the read runs on a blocking thread and the caller waits at most [`READ_TIMEOUT`]. A read
//!   stuck in the kernel cannot be cancelled, so it keeps its thread; at most [`MAX_STUCK`] such
//!   threads exist at once, after which reads fail at once instead of piling up threads until the
//!   runtime's pool is gone (the reload task, and with it every later reload, stays alive).

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

/// The default size limit of a file read for the config: far above any real config, secrets
/// file or certificate bundle, far below what could hurt.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How long one file read may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How many file reads may be in flight (or stuck) at once.
pub const MAX_STUCK: usize = 8;

/// Why a file could not be read. Messages name no content, only the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileError {
    /// No such file.
    Missing,
    /// Not a regular file: a FIFO, a device, a directory, a socket.
    NotRegular(&'static str),
    /// Larger than the limit.
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The read did not finish in time.
    TimedOut(Duration),
    /// Earlier reads are still stuck; none is started.
    Stuck,
    /// Any other I/O error (permission denied, ...).
    Io(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Missing => f.write_str("no such file"),
            FileError::NotRegular(kind) => write!(f, "not a regular file (a {kind})"),
            FileError::TooLarge { limit } => {
                write!(f, "larger than the limit of {}", human_bytes(*limit))
            }
            FileError::TimedOut(d) => write!(
                f,
                "no answer from the file system within {} (a hung mount?)",
                humantime::format_duration(*d)
            ),
            FileError::Stuck => write!(
                f,
                "{MAX_STUCK} earlier file reads are still stuck in the file system; not trying"
            ),
            FileError::Io(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for FileError {}

/// Reads the regular file at `path`, at most `limit` bytes, within [`READ_TIMEOUT`].
pub async fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_file_within(path, limit, READ_TIMEOUT).await
}

/// Who owns a file and who may read it (for files libpq refuses when others can read them: the
/// password file, a client key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// The permission bits (`0o600`).
    pub mode: u32,
    /// The owner's user id.
    pub uid: u32,
}

/// [`read_file`], with the file's owner and permissions (of the file read, not of a link to it).
pub async fn read_file_meta(path: &Path, limit: u64) -> Result<(Vec<u8>, FileMeta), FileError> {
    let permit = slots()
        .clone()
        .try_acquire_owned()
        .map_err(|_| FileError::Stuck)?;
    let owned = path.to_path_buf();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        read_blocking_meta(&owned, limit)
    });
    match tokio::time::timeout(READ_TIMEOUT, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(FileError::Io(format!("the read failed: {join}"))),
        Err(_) => Err(FileError::TimedOut(READ_TIMEOUT)),
    }
}

/// [`read_file`] with an explicit deadline (tests).
pub async fn read_file_within(
    path: &Path,
    limit: u64,
    deadline: Duration,
) -> Result<Vec<u8>, FileError> {
    let permit = slots()
        .clone()
        .try_acquire_owned()
        .map_err(|_| FileError::Stuck)?;
    let owned = path.to_path_buf();
    let task = tokio::task::spawn_blocking(move || {
        // The permit lives as long as the thread is busy, stuck or not.
        let _permit = permit;
        read_blocking(&owned, limit)
    });
    match tokio::time::timeout(deadline, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(FileError::Io(format!("the read failed: {join}"))),
        Err(_) => Err(FileError::TimedOut(deadline)),
    }
}

/// Reads a regular file, at most `limit` bytes, on the calling thread. Never blocks on opening
/// a FIFO; may block on a hung file system, so async code calls [`read_file`] instead.
pub fn read_blocking(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_blocking_meta(path, limit).map(|(bytes, _)| bytes)
}

/// [`read_blocking`], with the file's owner and permissions.
fn read_blocking_meta(path: &Path, limit: u64) -> Result<(Vec<u8>, FileMeta), FileError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "FIFO"
        } else if kind.is_dir() {
            "directory"
        } else if kind.is_char_device() {
            "character device"
        } else if kind.is_block_device() {
            "block device"
        } else if kind.is_socket() {
            "socket"
        } else {
            "special file"
        };
        return Err(FileError::NotRegular(what));
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The size may change between stat and read (a file being rewritten): read one byte more
    // than allowed to notice, never more.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { limit });
    }
    let meta = FileMeta {
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
    };
    Ok((bytes, meta))
}

fn io_error(e: std::io::Error) -> FileError {
    match e.kind() {
        std::io::ErrorKind::NotFound => FileError::Missing,
        _ => FileError::Io(e.to_string()),
    }
}

fn slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(Semaphore::new(MAX_STUCK)))
}

/// `4 MiB`, `512 KiB`, `100 bytes`.
pub fn human_bytes(n: u64) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn regular_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read_file(&p, 100).await.unwrap(), b"hello");
        assert_eq!(read_file(&p, 5).await.unwrap(), b"hello");
        assert_eq!(
            read_file(&p, 4).await,
            Err(FileError::TooLarge { limit: 4 })
        );
        assert_eq!(
            read_file(&dir.path().join("nope"), 4).await,
            Err(FileError::Missing)
        );
    }

    #[tokio::test]
    async fn a_fifo_a_device_and_a_directory_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(
            read_file(&fifo, 100).await,
            Err(FileError::NotRegular("FIFO"))
        );
        assert_eq!(
            read_file(Path::new("/dev/zero"), 100).await,
            Err(FileError::NotRegular("character device"))
        );
        assert_eq!(
            read_file(dir.path(), 100).await,
            Err(FileError::NotRegular("directory"))
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(4 * 1024 * 1024), "4 MiB");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(100), "100 bytes");
        assert!(FileError::TooLarge { limit: 1024 }
            .to_string()
            .contains("1 KiB"));
    }
}
