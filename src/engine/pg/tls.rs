//! libpq's `sslmode` on top of rustls.
//!
//! tokio-postgres knows only disable / prefer / require; the certificate checks of `verify-ca`
//! and `verify-full` are ours, chosen through the rustls verifier:
//!
//! | sslmode     | tokio-postgres | verifier                                   |
//! |-------------|----------------|--------------------------------------------|
//! | disable     | disable        | (unused)                                   |
//! | prefer      | prefer         | none: any certificate (TLS against sniffing only) |
//! | require     | require        | none                                       |
//! | verify-ca   | require        | chain against `sslrootcert`, any host name |
//! | verify-full | require        | chain against `sslrootcert` + host name    |
//!
//! Without `sslrootcert`, the verify modes use the Mozilla roots (webpki-roots). The root file is
//! read on each probe, so a rotated CA bundle is picked up without a restart; it is small.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::topology::{CertFile, ConnTarget, SslMode};

/// Builds the TLS connector of each probe. The crypto provider is passed explicitly: a tree
/// with two providers would panic on rustls' process-wide default.
pub struct TlsSetup {
    provider: Arc<CryptoProvider>,
    /// prefer / require: encrypt, check nothing (libpq's meaning of these modes).
    unchecked: MakeRustlsConnect,
    /// verify-ca / verify-full against the Mozilla roots, built on first use.
    webpki: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
}

impl TlsSetup {
    /// The setup with rustls' ring provider.
    pub fn new() -> TlsSetup {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AcceptAnyCert {
            provider: provider.clone(),
        });
        let unchecked = MakeRustlsConnect::new(client_config(&provider, verifier));
        TlsSetup {
            provider,
            unchecked,
            webpki: OnceLock::new(),
        }
    }

    /// tokio-postgres' own mode and the connector for `target`, or why TLS cannot be set up
    /// (an unreadable `sslrootcert`, for one). The CA file is read asynchronously, so the caller's
    /// deadline covers a stuck file system too.
    pub async fn connector(
        &self,
        target: &ConnTarget,
    ) -> Result<(PgSslMode, MakeRustlsConnect), String> {
        let checked = |verifier: Arc<dyn ServerCertVerifier>| {
            MakeRustlsConnect::new(client_config(&self.provider, verifier))
        };
        let root = target.tls.root_cert.as_deref();
        Ok(match target.tls.mode {
            SslMode::Disable => (PgSslMode::Disable, self.unchecked.clone()),
            SslMode::Allow | SslMode::Prefer => (PgSslMode::Prefer, self.unchecked.clone()),
            SslMode::Require => (PgSslMode::Require, self.unchecked.clone()),
            SslMode::VerifyCa => {
                let chain = self.chain_verifier(root)?;
                (PgSslMode::Require, checked(Arc::new(IgnoreHostName(chain))))
            }
            SslMode::VerifyFull => {
                let chain = self.chain_verifier(root)?;
                (PgSslMode::Require, checked(chain))
            }
        })
    }

    fn chain_verifier(
        &self,
        rootcert: Option<&CertFile>,
    ) -> Result<Arc<WebPkiServerVerifier>, String> {
        match rootcert {
            Some(file) => {
                let roots = load_roots(file)?;
                verifier(roots, &self.provider)
            }
            None => self
                .webpki
                .get_or_init(|| {
                    let roots = RootCertStore {
                        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                    };
                    verifier(roots, &self.provider)
                })
                .clone(),
        }
    }
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSetup { provider: ring, .. }")
    }
}

impl Default for TlsSetup {
    fn default() -> Self {
        TlsSetup::new()
    }
}

fn client_config(
    provider: &Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> ClientConfig {
    ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

fn verifier(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot build the certificate verifier: {e}"))
}

/// The CA certificates of a file read at config load.
fn load_roots(file: &CertFile) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in &file.certs {
        roots.add(cert.clone()).map_err(|e| {
            format!(
                "bad certificate in sslrootcert {}: {e}",
                file.path.display()
            )
        })?;
    }
    Ok(roots)
}

/// `verify-ca`: the full webpki check, minus the host name.
///
/// webpki checks the chain first and the name last, so a name mismatch can only be reported
/// for a certificate whose chain is already good.
#[derive(Debug)]
struct IgnoreHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` / `require`: any certificate is accepted, but the handshake signatures are still
/// checked (the session is encrypted with the key the certificate names).
#[derive(Debug)]
struct AcceptAnyCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ssl: SslMode) -> ConnTarget {
        let mut t = ConnTarget::tcp("h", 5432, "postgres", "t");
        t.tls.mode = ssl;
        t
    }

    #[tokio::test]
    async fn modes_map_to_tokio_postgres_modes() {
        let setup = TlsSetup::new();
        for (ssl, expected) in [
            (SslMode::Disable, PgSslMode::Disable),
            (SslMode::Allow, PgSslMode::Prefer),
            (SslMode::Prefer, PgSslMode::Prefer),
            (SslMode::Require, PgSslMode::Require),
            (SslMode::VerifyCa, PgSslMode::Require),
            (SslMode::VerifyFull, PgSslMode::Require),
        ] {
            let mode = setup.connector(&target(ssl)).await.unwrap().0;
            assert_eq!(mode, expected, "{ssl:?}");
        }
    }
}
