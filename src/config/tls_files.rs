//! Certificate files named by connection strings (`sslrootcert`, `sslcert`, `sslkey`, `sslcrl`),
//! read and parsed when the config is loaded, so a probe never opens a file.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::files::{read_blocking, MAX_FILE_BYTES};
use crate::topology::CertFile;

/// Reads a PEM file of certificates; an unreadable file, a bad PEM block or no certificate at all
/// is an error naming the file.
pub(crate) fn read_certs(path: &Path) -> Result<CertFile, String> {
    // Interim: read on the loader's thread; the conninfo rewrite reads through `read_file`.
    let pem = read_blocking(path, MAX_FILE_BYTES)
        .map_err(|e| format!("cannot read certificate file {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
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
