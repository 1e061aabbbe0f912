//! libpq's certificate checks on top of rustls.
//!
//! | sslmode     | server certificate                                                      |
//! |-------------|-------------------------------------------------------------------------|
//! | allow, prefer, require | not checked (TLS against sniffing only), unless `require` has an `sslrootcert`: then as `verify-ca` (libpq's compatibility rule) |
//! | verify-ca   | chain against `sslrootcert` (Mozilla roots without one), CRLs when given |
//! | verify-full | as verify-ca, and the certificate names the host                         |
//!
//! Two places where webpki is stricter than libpq (OpenSSL), and where we follow libpq:
//! - **A self-signed server certificate that is its own root** (PostgreSQL's documented recipe,
//!   `openssl req -new -x509 ... -subj "/CN=dbhost"`, which marks it `CA:TRUE`): webpki refuses a
//!   CA certificate as end entity (`CaUsedAsEndEntity`); OpenSSL accepts a certificate found in
//!   the trust store itself. We accept it when it is byte for byte one of the `sslrootcert`
//!   certificates and within its validity period.
//! - **Host names**: webpki reads only the subjectAltName; libpq matches the SAN entries (DNS names
//!   with a leading `*.` wildcard, IP addresses) and, when the certificate has none, its Common
//!   Name. The host checked is `host` from the connection string (else `hostaddr`).
//!
//! A client certificate (`sslcert`/`sslkey`) is offered when the server asks for one; SNI carries
//! `host` when it is a name and `sslsni` is on. Everything here is in memory: the config loader
//! read the files.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::topology::{ConnTarget, Endpoint, SslMode, TlsSettings};

/// Builds the rustls client configuration of each probe. The crypto provider is passed
/// explicitly: a tree with two providers would panic on rustls' process-wide default.
pub struct TlsSetup {
    provider: Arc<CryptoProvider>,
    /// allow / prefer / require without client certificate: one shared config per SNI setting.
    unchecked: [Arc<ClientConfig>; 2],
    /// verify-ca / verify-full against the Mozilla roots, built on first use.
    webpki: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
}

impl TlsSetup {
    /// The setup with rustls' ring provider.
    pub fn new() -> TlsSetup {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = Arc::new(AcceptAnyCert {
            provider: provider.clone(),
        });
        let unchecked = [false, true].map(|sni| {
            let mut config = builder(&provider, verifier.clone()).with_no_client_auth();
            config.enable_sni = sni;
            Arc::new(config)
        });
        TlsSetup {
            provider,
            unchecked,
            webpki: OnceLock::new(),
        }
    }

    /// The client configuration for `target`, or why TLS cannot be set up.
    pub fn client_config(&self, target: &ConnTarget) -> Result<Arc<ClientConfig>, String> {
        let tls = &target.tls;
        let verify = match tls.mode {
            SslMode::VerifyCa | SslMode::VerifyFull => true,
            SslMode::Require => tls.root_cert.is_some(),
            SslMode::Disable | SslMode::Allow | SslMode::Prefer => false,
        };
        if !verify && tls.client_cert.is_none() {
            return Ok(self.unchecked[usize::from(tls.sni)].clone());
        }
        let verifier: Arc<dyn ServerCertVerifier> = if verify {
            Arc::new(LibpqVerifier {
                webpki: self.chain_verifier(tls)?,
                roots: tls
                    .root_cert
                    .as_ref()
                    .map(|f| f.certs.clone())
                    .unwrap_or_default(),
                host: (tls.mode == SslMode::VerifyFull).then(|| checked_host(target)),
            })
        } else {
            Arc::new(AcceptAnyCert {
                provider: self.provider.clone(),
            })
        };
        let builder = builder(&self.provider, verifier);
        let mut config = match &tls.client_cert {
            None => builder.with_no_client_auth(),
            Some(c) => builder
                .with_client_auth_cert(c.chain.clone(), c.key.clone_key())
                .map_err(|e| {
                    format!(
                        "client certificate {} / key {}: {e}",
                        c.cert_path.display(),
                        c.key_path.display()
                    )
                })?,
        };
        config.enable_sni = tls.sni;
        Ok(Arc::new(config))
    }

    fn chain_verifier(&self, tls: &TlsSettings) -> Result<Arc<WebPkiServerVerifier>, String> {
        let Some(file) = &tls.root_cert else {
            if tls.crl.is_none() {
                return self
                    .webpki
                    .get_or_init(|| {
                        let roots = RootCertStore {
                            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                        };
                        build_verifier(roots, None, &self.provider)
                    })
                    .clone();
            }
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            return build_verifier(roots, Some(tls), &self.provider);
        };
        let mut roots = RootCertStore::empty();
        for cert in &file.certs {
            roots.add(cert.clone()).map_err(|e| {
                format!(
                    "bad certificate in sslrootcert {}: {e}",
                    file.path.display()
                )
            })?;
        }
        build_verifier(roots, Some(tls), &self.provider)
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

/// The name rustls is given for the handshake: SNI (when a DNS name) and what webpki checks.
pub fn server_name(target: &ConnTarget) -> ServerName<'static> {
    let host = checked_host(target);
    ServerName::try_from(host)
        // A host string rustls cannot take (odd characters): the handshake still needs a name;
        // libpq sends no SNI for it either. Name checks use `checked_host` anyway.
        .unwrap_or_else(|_| ServerName::IpAddress(IpAddr::from([127, 0, 0, 1]).into()))
}

/// The host a certificate must name under verify-full: `host`, else `hostaddr`.
fn checked_host(target: &ConnTarget) -> String {
    match &target.endpoint {
        Endpoint::Tcp {
            host: Some(host), ..
        } => host.clone(),
        Endpoint::Tcp {
            addr: Some(addr), ..
        } => addr.to_string(),
        Endpoint::Tcp { .. } => String::new(),
        Endpoint::Unix { dir, .. } => dir.display().to_string(),
    }
}

fn builder(
    provider: &Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
}

fn build_verifier(
    roots: RootCertStore,
    tls: Option<&TlsSettings>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut builder =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if let Some(crl) = tls.and_then(|t| t.crl.as_ref()) {
        // Every certificate of the chain is checked and a CA without a CRL is an error: what
        // OpenSSL does for libpq with `sslcrl` (X509_V_FLAG_CRL_CHECK_ALL).
        builder = builder.with_crls(crl.crls.iter().cloned());
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the certificate verifier: {e}"))
}

/// verify-ca / verify-full with libpq's rules (see the module docs).
#[derive(Debug)]
struct LibpqVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// The `sslrootcert` certificates, to recognise a self-signed server certificate.
    roots: Vec<CertificateDer<'static>>,
    /// verify-full: the host the certificate must name.
    host: Option<String>,
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match chain {
            Ok(_) => {}
            // webpki checks the chain first and the name last: the chain is good. The name is
            // checked below with libpq's rules.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {}
            // The certificate is itself one of the trusted roots (webpki says CaUsedAsEndEntity
            // or UnknownIssuer): OpenSSL trusts it directly, and so does libpq.
            Err(_) if self.roots.iter().any(|r| r.as_ref() == end_entity.as_ref()) => {
                within_validity(end_entity, now)?;
            }
            Err(e) => return Err(e),
        }
        if let Some(host) = &self.host {
            names::check(end_entity, host)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A trusted self-signed certificate must still be within its validity period.
fn within_validity(cert: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    use x509_cert::der::Decode;
    let parsed = x509_cert::Certificate::from_der(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let validity = &parsed.tbs_certificate.validity;
    let now = now.as_secs();
    if now < validity.not_before.to_unix_duration().as_secs() {
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet,
        ));
    }
    if now > validity.not_after.to_unix_duration().as_secs() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

mod names {
    //! libpq's host name check (`pq_verify_peer_name_matches_certificate`).

    use std::net::IpAddr;

    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::CertificateError;
    use x509_cert::der::{Decode, Tagged};
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;

    const SAN: &str = "2.5.29.17";
    const COMMON_NAME: &str = "2.5.4.3";

    /// Ok when the certificate names `host`.
    pub fn check(cert: &CertificateDer<'_>, host: &str) -> Result<(), rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
        let parsed = x509_cert::Certificate::from_der(cert.as_ref()).map_err(|_| bad())?;
        let tbs = &parsed.tbs_certificate;
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        for ext in tbs.extensions.iter().flatten() {
            if ext.extn_id.to_string() != SAN {
                continue;
            }
            let san = SubjectAltName::from_der(ext.extn_value.as_bytes()).map_err(|_| bad())?;
            for name in san.0 {
                match name {
                    GeneralName::DnsName(n) => dns.push(n.to_string()),
                    GeneralName::IpAddress(octets) => ips.push(octets.as_bytes().to_vec()),
                    _ => {}
                }
            }
        }
        let host_ip: Option<IpAddr> = host.parse().ok();
        let mut presented: Vec<String> = dns.clone();
        let matched = if !dns.is_empty() || !ips.is_empty() {
            let ip_match = host_ip.is_some_and(|ip| {
                let octets = match ip {
                    IpAddr::V4(v4) => v4.octets().to_vec(),
                    IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                ips.contains(&octets)
            });
            presented.extend(ips.iter().filter_map(|o| ip_text(o)));
            ip_match || dns.iter().any(|n| name_matches(n, host))
        } else {
            // No subjectAltName: libpq falls back to the Common Name.
            let cns = common_names(&parsed);
            presented.extend(cns.iter().cloned());
            cns.iter().any(|cn| name_matches(cn, host))
        };
        if matched {
            return Ok(());
        }
        Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForNameContext {
                expected: ServerName::try_from(host.to_owned())
                    .unwrap_or_else(|_| ServerName::IpAddress(IpAddr::from([0, 0, 0, 0]).into())),
                presented,
            },
        ))
    }

    fn common_names(cert: &x509_cert::Certificate) -> Vec<String> {
        let mut out = Vec::new();
        for rdn in cert.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                if atv.oid.to_string() != COMMON_NAME {
                    continue;
                }
                // UTF8String, PrintableString, IA5String, T61String: the value bytes are the text.
                let tag = atv.value.tag();
                use x509_cert::der::Tag;
                if matches!(
                    tag,
                    Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
                ) {
                    if let Ok(s) = std::str::from_utf8(atv.value.value()) {
                        out.push(s.to_owned());
                    }
                }
            }
        }
        out
    }

    fn ip_text(octets: &[u8]) -> Option<String> {
        match octets.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(octets).ok()?).to_string()),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(octets).ok()?).to_string()),
            _ => None,
        }
    }

    /// Case-insensitive; a leading `*.` matches exactly one label (libpq's wildcard rule).
    pub fn name_matches(pattern: &str, host: &str) -> bool {
        if pattern.contains('\0') {
            return false;
        }
        if let Some(suffix) = pattern.strip_prefix('*') {
            if !suffix.starts_with('.') || host.len() <= suffix.len() {
                return false;
            }
            let (label, rest) = host.split_at(host.len() - suffix.len());
            return rest.eq_ignore_ascii_case(suffix) && !label.contains('.');
        }
        pattern.eq_ignore_ascii_case(host)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn wildcards_match_one_label_case_insensitively() {
            assert!(name_matches("db.example.com", "DB.example.COM"));
            assert!(name_matches("*.example.com", "db.example.com"));
            assert!(!name_matches("*.example.com", "a.db.example.com"));
            assert!(!name_matches("*.example.com", "example.com"));
            assert!(!name_matches("*example.com", "dbexample.com"));
            assert!(!name_matches("db.example.com", "db.example.org"));
        }
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
        let mut t = ConnTarget::tcp("localhost", 5432, "postgres", "t");
        t.tls.mode = ssl;
        t
    }

    #[test]
    fn unverified_modes_share_one_config_per_sni_setting() {
        let setup = TlsSetup::new();
        let a = setup.client_config(&target(SslMode::Prefer)).unwrap();
        let b = setup.client_config(&target(SslMode::Require)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.enable_sni);
        let mut no_sni = target(SslMode::Prefer);
        no_sni.tls.sni = false;
        assert!(!setup.client_config(&no_sni).unwrap().enable_sni);
        // verify modes build their own (Mozilla roots without sslrootcert).
        let v = setup.client_config(&target(SslMode::VerifyFull)).unwrap();
        assert!(!Arc::ptr_eq(&a, &v));
    }

    #[test]
    fn the_checked_host_is_host_else_hostaddr() {
        let mut t = target(SslMode::VerifyFull);
        assert_eq!(checked_host(&t), "localhost");
        t.endpoint = Endpoint::Tcp {
            host: None,
            addr: Some("10.1.2.3".parse().unwrap()),
            port: 5432,
        };
        assert_eq!(checked_host(&t), "10.1.2.3");
        assert!(matches!(server_name(&t), ServerName::IpAddress(_)));
    }
}
