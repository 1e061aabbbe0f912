//! Certificate files named by connection strings (`sslrootcert`, `sslcert`, `sslkey`, `sslcrl`),
//! or libpq's defaults in `~/.postgresql/`: read when the config is loaded (through the one
//! bounded reader, [`super::files::read_file_meta`]) and parsed into memory, so a probe never
//! opens a file.

use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use super::files::{read_file_meta, FileError, FileMeta, MAX_FILE_BYTES};
use crate::topology::{CertFile, CrlFile};

/// A file's bytes and metadata, or `None` when it does not exist. Any other failure (a FIFO, too
/// large, a hung mount, no permission) is an error naming the file and `what` it is.
pub(crate) async fn read_optional(
    path: &Path,
    what: &str,
) -> Result<Option<(Vec<u8>, FileMeta)>, String> {
    match read_file_meta(path, MAX_FILE_BYTES).await {
        Ok(found) => Ok(Some(found)),
        Err(FileError::Missing) => Ok(None),
        Err(e) => Err(format!("cannot read {what} {}: {e}", path.display())),
    }
}

/// The certificates of a PEM file (at least one).
pub(crate) fn parse_certs(path: &Path, pem: &[u8]) -> Result<CertFile, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(CertFile {
        path: path.to_path_buf(),
        certs,
    })
}

/// The revocation lists of a PEM file (at least one).
pub(crate) fn parse_crls(path: &Path, pem: &[u8]) -> Result<CrlFile, String> {
    let crls = CertificateRevocationListDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad CRL file {}: {e}", path.display()))?;
    if crls.is_empty() {
        return Err(format!(
            "{} holds no certificate revocation list",
            path.display()
        ));
    }
    Ok(CrlFile {
        path: path.to_path_buf(),
        crls,
    })
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1, unencrypted). Messages never quote
/// the file.
pub(crate) fn parse_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    if contains(pem, b"ENCRYPTED") {
        return Err(format!(
            "private key file {} is encrypted; rotascope needs an unencrypted key (sslpassword is not supported)",
            path.display()
        ));
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        let why = match e {
            pem::Error::NoItemsFound => "no private key in it".to_owned(),
            other => other.to_string(),
        };
        format!("bad private key file {}: {why}", path.display())
    })
}

/// libpq's check of a client key's permissions: owned by the current user, no group or other
/// access; owned by root, at most group-readable. Keys owned by anyone else are not checked.
pub(crate) fn check_key_mode(path: &Path, meta: FileMeta) -> Result<(), String> {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let too_open = if meta.uid == euid {
        meta.mode & 0o077 != 0
    } else if meta.uid == 0 {
        meta.mode & 0o037 != 0
    } else {
        false
    };
    if too_open {
        return Err(format!(
            "private key file {} has group or world access; it must have permissions u=rw (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if owned by root (as libpq requires)",
            path.display()
        ));
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_CA: &str = include_str!("../../tests/data/test-ca.pem");

    #[test]
    fn certificates_parse_and_garbage_is_named() {
        let f = parse_certs(Path::new("/ca.pem"), TEST_CA.as_bytes()).unwrap();
        assert_eq!(f.certs.len(), 1);
        let e = parse_certs(Path::new("/x.pem"), b"not pem").unwrap_err();
        assert!(e.contains("/x.pem") && e.contains("no certificate"), "{e}");
        let e = parse_key(Path::new("/k.pem"), TEST_CA.as_bytes()).unwrap_err();
        assert!(e.contains("no private key"), "{e}");
        let e = parse_key(
            Path::new("/k.pem"),
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(e.contains("encrypted"), "{e}");
    }

    #[test]
    fn key_permissions_as_libpq() {
        // SAFETY: see check_key_mode.
        let me = unsafe { libc::geteuid() };
        let meta = |mode, uid| FileMeta { mode, uid };
        assert!(check_key_mode(Path::new("k"), meta(0o600, me)).is_ok());
        assert!(check_key_mode(Path::new("k"), meta(0o640, me)).is_err());
        assert!(check_key_mode(Path::new("k"), meta(0o640, 0)).is_ok() || me == 0);
        assert!(check_key_mode(Path::new("k"), meta(0o644, 0)).is_err());
        assert!(check_key_mode(Path::new("k"), meta(0o644, me.wrapping_add(4242))).is_ok());
    }

    #[tokio::test]
    async fn a_missing_file_is_none_and_a_fifo_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_optional(&dir.path().join("nope"), "x")
            .await
            .unwrap()
            .is_none());
        let e = read_optional(dir.path(), "sslrootcert file")
            .await
            .unwrap_err();
        assert!(
            e.contains("sslrootcert file") && e.contains("directory"),
            "{e}"
        );
    }
}
