//! A lab certificate authority and server certificates, made with `rcgen`.
//!
//! `rcgen` (ring backend, already in the tree through rustls) rather than the `openssl` command:
//! no dependence on an external binary, its version or its config file, and the SANs are typed
//! data instead of command-line strings.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::LabError;

/// The lab's own CA: its certificate (PEM) and what signs server certificates.
pub struct Ca {
    /// The CA certificate, PEM.
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ca { .. }")
    }
}

/// A certificate and its private key, PEM.
pub struct ServerCert {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

fn tls_err(e: rcgen::Error) -> LabError {
    LabError::Tls(e.to_string())
}

impl Ca {
    /// A fresh CA (ECDSA P-256).
    pub fn generate() -> Result<Ca, LabError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "rotascope lab CA");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let key = KeyPair::generate().map_err(tls_err)?;
        let cert = params.self_signed(&key).map_err(tls_err)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A server certificate for `localhost` and `127.0.0.1`, signed by this CA.
    pub fn server_cert(&self) -> Result<ServerCert, LabError> {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(tls_err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(tls_err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(tls_err)?;
        Ok(ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl Ca {
    /// A client certificate for `login` (Common Name = login, clientAuth), signed by this CA.
    pub fn client_cert(&self, login: &str) -> Result<ServerCert, LabError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
        params.distinguished_name.push(DnType::CommonName, login);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().map_err(tls_err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(tls_err)?;
        Ok(ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A self-signed server certificate as PostgreSQL's documentation makes it
/// (`openssl req -new -x509 -days 365 -nodes -subj "/CN=localhost"`): OpenSSL's default
/// extensions mark it `CA:TRUE`, and it names the host in its Common Name only.
pub fn self_signed(common_name: &str) -> Result<ServerCert, LabError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate().map_err(tls_err)?;
    let cert = params.self_signed(&key).map_err(tls_err)?;
    Ok(ServerCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The certificates of a PEM text read from `path`.
pub fn pem_certs(pem: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, LabError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LabError::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(LabError::Tls(format!("{}: no certificate", path.display())));
    }
    Ok(certs)
}

/// The private key of a PEM text read from `path` (never printed).
pub fn pem_key(pem: &str, path: &Path) -> Result<PrivateKeyDer<'static>, LabError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| LabError::Tls(format!("{}: no usable private key", path.display())))
}
