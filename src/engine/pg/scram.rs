//! The client side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, RFC 5929's
//! `tls-server-end-point`), with SaltedPassword remembered per password (issue 13).
//!
//! PBKDF2 (4,096 HMAC-SHA-256 rounds by PostgreSQL's default) is almost all of a login's client
//! CPU. SaltedPassword depends only on (password, salt, iteration count), and a role's salt
//! changes only when its password is set again, so the key is derived once and remembered with
//! the password ([`Password::salted_key`]): a remembered key is bit for bit what PBKDF2 would
//! give again, so it can change the cost of a login, never its outcome. A changed password on the
//! server comes with a new salt, which misses the memo and derives afresh.
//!
//! The server's signature is always verified: a server (or an impostor) that cannot prove it
//! knows the verifier never gets an `AuthenticationOk` accepted after SCRAM.

use std::num::NonZeroU32;

use ::hmac::{Hmac, Mac};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use ring::{digest, hmac, pbkdf2};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::fault::Fault;
use crate::secret::Password;

/// The mechanism names PostgreSQL offers.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// With channel binding.
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// The largest iteration count accepted: a server (or an impostor) must not be able to make the
/// monitor spin. 100,000 is ~24× PostgreSQL's default (the bound pgjdbc and postgres-protocol
/// chose).
pub const MAX_ITERATIONS: u32 = 100_000;

/// How the exchange binds to the TLS channel (the GS2 header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// `n`: the client does not support channel binding (or there is no TLS).
    NotSupported,
    /// `y`: the client supports it but believes the server does not (TLS, no PLUS offered).
    ServerLacks,
    /// `p=tls-server-end-point`: bound to this hash of the server's certificate.
    TlsServerEndPoint(Vec<u8>),
}

impl Binding {
    fn gs2_header(&self) -> &'static str {
        match self {
            Binding::NotSupported => "n,,",
            Binding::ServerLacks => "y,,",
            Binding::TlsServerEndPoint(_) => "p=tls-server-end-point,,",
        }
    }
}

/// A SCRAM exchange in progress.
pub struct Scram {
    binding: Binding,
    nonce: String,
    /// Set by [`Scram::client_final`]: ServerKey and AuthMessage, to check the server's signature.
    server_proof: Option<(Zeroizing<Vec<u8>>, String)>,
}

impl Scram {
    /// A new exchange: the mechanism to name and the client-first message to send.
    pub fn start(binding: Binding) -> Scram {
        let mut raw = [0u8; 18];
        rand::rng().fill_bytes(&mut raw);
        Scram::with_nonce(binding, STANDARD.encode(raw))
    }

    fn with_nonce(binding: Binding, nonce: String) -> Scram {
        Scram {
            binding,
            nonce,
            server_proof: None,
        }
    }

    /// The mechanism this exchange uses.
    pub fn mechanism(&self) -> &'static str {
        match self.binding {
            Binding::TlsServerEndPoint(_) => SCRAM_SHA_256_PLUS,
            _ => SCRAM_SHA_256,
        }
    }

    /// client-first-message. PostgreSQL takes the user from the startup packet: `n=` is empty.
    pub fn client_first(&self) -> String {
        format!("{}{}", self.binding.gs2_header(), self.client_first_bare())
    }

    fn client_first_bare(&self) -> String {
        format!("n=,r={}", self.nonce)
    }

    /// client-final-message for the server-first-message `server_first`.
    pub fn client_final(
        &mut self,
        server_first: &[u8],
        password: &Password,
    ) -> Result<String, Fault> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| Fault::protocol("SCRAM server-first-message is not UTF-8"))?;
        let first = ServerFirst::parse(server_first)?;
        if !first.nonce.starts_with(&self.nonce) || first.nonce.len() == self.nonce.len() {
            return Err(Fault::protocol(
                "SCRAM: the server's nonce does not extend ours",
            ));
        }
        if first.iterations > MAX_ITERATIONS {
            return Err(Fault::protocol(format!(
                "SCRAM: the server asks for {} iterations (at most {MAX_ITERATIONS} are accepted)",
                first.iterations
            )));
        }
        let iterations = NonZeroU32::new(first.iterations)
            .ok_or_else(|| Fault::protocol("SCRAM: an iteration count of 0"))?;
        let salt = STANDARD
            .decode(first.salt)
            .map_err(|_| Fault::protocol("SCRAM: the salt is not base64"))?;

        let salted = password.salted_key(&salt, iterations.get(), |pw| {
            salted_password(pw, &salt, iterations)
        });
        let salted = hmac::Key::new(hmac::HMAC_SHA256, salted.bytes());
        let client_key = Zeroizing::new(hmac::sign(&salted, b"Client Key").as_ref().to_vec());
        let server_key = Zeroizing::new(hmac::sign(&salted, b"Server Key").as_ref().to_vec());
        let stored_key = digest::digest(&digest::SHA256, &client_key);

        let mut cbind = self.binding.gs2_header().as_bytes().to_vec();
        if let Binding::TlsServerEndPoint(hash) = &self.binding {
            cbind.extend_from_slice(hash);
        }
        let without_proof = format!("c={},r={}", STANDARD.encode(&cbind), first.nonce);
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare(),
            server_first,
            without_proof
        );
        let signature = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature.as_ref())
            .map(|(k, s)| k ^ s)
            .collect();
        self.server_proof = Some((server_key, auth_message));
        Ok(format!("{without_proof},p={}", STANDARD.encode(proof)))
    }

    /// Checks the server-final-message: the server must prove it knows the verifier.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), Fault> {
        let (server_key, auth_message) = self
            .server_proof
            .as_ref()
            .ok_or_else(|| Fault::protocol("SCRAM: a final message before the challenge"))?;
        let text = std::str::from_utf8(server_final)
            .map_err(|_| Fault::protocol("SCRAM server-final-message is not UTF-8"))?;
        if let Some(error) = text.strip_prefix("e=") {
            return Err(Fault::protocol(format!(
                "SCRAM: the server reports {error:?}"
            )));
        }
        let verifier = text
            .strip_prefix("v=")
            .map(|v| v.split(',').next().unwrap_or(v))
            .and_then(|v| STANDARD.decode(v).ok())
            .ok_or_else(|| Fault::protocol("SCRAM: a malformed server-final-message"))?;
        // Constant time (`verify_slice`): the comparison must not tell an impostor how close it came.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(server_key).expect("HMAC accepts any key length");
        mac.update(auth_message.as_bytes());
        if mac.verify_slice(&verifier).is_err() {
            return Err(Fault::protocol(
                "SCRAM: the server's signature is wrong (it does not know this password's \
                 verifier: an impostor, or a proxy in the way)",
            ));
        }
        Ok(())
    }
}

/// `Hi(Normalize(password), salt, i)`: PBKDF2-HMAC-SHA-256 with one 32-byte block.
fn salted_password(password: &str, salt: &[u8], iterations: NonZeroU32) -> [u8; 32] {
    let normalized = normalize(password);
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        normalized.as_bytes(),
        &mut out,
    );
    out
}

/// SASLprep, as PostgreSQL's client and server apply it; a password it rejects is used as is
/// (PostgreSQL does the same, so such passwords still work).
fn normalize(password: &str) -> Zeroizing<String> {
    Zeroizing::new(match stringprep::saslprep(password) {
        Ok(p) => p.into_owned(),
        Err(_) => password.to_owned(),
    })
}

/// The parts of a server-first-message.
struct ServerFirst<'a> {
    nonce: &'a str,
    salt: &'a str,
    iterations: u32,
}

impl<'a> ServerFirst<'a> {
    fn parse(text: &'a str) -> Result<ServerFirst<'a>, Fault> {
        let bad = || Fault::protocol("SCRAM: a malformed server-first-message");
        let mut parts = text.split(',');
        let mut take = |prefix: &str| parts.next().and_then(|p| p.strip_prefix(prefix));
        let nonce = take("r=").ok_or_else(bad)?;
        let salt = take("s=").ok_or_else(bad)?;
        let iterations = take("i=").and_then(|i| i.parse().ok()).ok_or_else(bad)?;
        if nonce.is_empty()
            || nonce
                .bytes()
                .any(|b| !(0x21..=0x7e).contains(&b) || b == b',')
        {
            return Err(bad());
        }
        Ok(ServerFirst {
            nonce,
            salt,
            iterations,
        })
    }
}

/// The `tls-server-end-point` hash of the server's certificate (RFC 5929 §4.1): the
/// certificate's own signature hash, with MD5 and SHA-1 upgraded to SHA-256. `None` for
/// algorithms without one (Ed25519), where channel binding is impossible.
pub fn server_end_point(cert_der: &[u8]) -> Option<Vec<u8>> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(cert_der).ok()?;
    let oid = cert.signature_algorithm.oid.to_string();
    let algorithm = match oid.as_str() {
        // md5WithRSA, sha1WithRSA, sha256WithRSA, ecdsa-with-SHA1, ecdsa-with-SHA256
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.2" => &digest::SHA256,
        // sha384WithRSA, ecdsa-with-SHA384
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => &digest::SHA384,
        // sha512WithRSA, ecdsa-with-SHA512
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(algorithm, cert_der).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded exchange (psql against PostgreSQL, password "foobar"): our messages must be
    /// byte for byte what libpq sent, and the server's signature must verify.
    #[test]
    fn a_recorded_exchange_replays_exactly() {
        let password = Password::new("foobar");
        let mut scram =
            Scram::with_nonce(Binding::NotSupported, "9IZ2O01zb9IgiIZ1WJ/zgpJB".to_owned());
        assert_eq!(scram.client_first(), "n,,n=,r=9IZ2O01zb9IgiIZ1WJ/zgpJB");
        let server_first =
            "r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,s=fs3IXBy7U7+IvVjZ,i=4096";
        let client_final = scram
            .client_final(server_first.as_bytes(), &password)
            .unwrap();
        assert_eq!(
            client_final,
            "c=biws,r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,\
             p=AmNKosjJzS31NTlQYNs5BTeQjdHdk7lOflDo5re2an8="
        );
        scram
            .verify_server_final(b"v=U+ppxD5XUKtradnv8e2MkeupiA8FU87Sg8CXzXHDAzw=")
            .unwrap();

        // The second login with the same salt uses the remembered key and sends the same proof.
        let mut again =
            Scram::with_nonce(Binding::NotSupported, "9IZ2O01zb9IgiIZ1WJ/zgpJB".to_owned());
        assert_eq!(
            again
                .client_final(server_first.as_bytes(), &password)
                .unwrap(),
            client_final
        );
        assert_eq!(
            password.salted_keys(),
            1,
            "one key for one (salt, iterations)"
        );
    }

    #[test]
    fn a_wrong_server_signature_and_hostile_parameters_are_refused() {
        let password = Password::new("scram-test-password");
        let mut scram = Scram::with_nonce(Binding::NotSupported, "abc".to_owned());
        let final_msg = scram
            .client_final(b"r=abcdef,s=c2FsdA==,i=4096", &password)
            .unwrap();
        assert!(!final_msg.contains("scram-test-password"));
        let forged = format!("v={}", STANDARD.encode([0u8; 32]));
        assert!(matches!(
            scram.verify_server_final(forged.as_bytes()),
            Err(Fault::Protocol(m)) if m.contains("signature is wrong")
        ));
        for hostile in [
            "r=xyz,s=c2FsdA==,i=4096",       // not our nonce
            "r=abc,s=c2FsdA==,i=4096",       // nothing added to our nonce
            "r=abcdef,s=c2FsdA==,i=1000000", // too many iterations
            "r=abcdef,s=c2FsdA==,i=0",
            "r=abcdef,s=!!,i=4096",
            "garbage",
        ] {
            let mut s = Scram::with_nonce(Binding::NotSupported, "abc".to_owned());
            assert!(
                matches!(
                    s.client_final(hostile.as_bytes(), &password),
                    Err(Fault::Protocol(_))
                ),
                "{hostile}"
            );
        }
    }

    #[test]
    fn channel_binding_goes_into_the_header_and_the_final_message() {
        let scram = Scram::with_nonce(Binding::TlsServerEndPoint(vec![1, 2, 3]), "n".into());
        assert_eq!(scram.mechanism(), SCRAM_SHA_256_PLUS);
        assert!(scram
            .client_first()
            .starts_with("p=tls-server-end-point,,n=,r="));
        let mut scram = scram;
        let msg = scram
            .client_final(b"r=nX,s=c2FsdA==,i=1", &Password::new("cb-test-pw"))
            .unwrap();
        let expected = STANDARD.encode(b"p=tls-server-end-point,,\x01\x02\x03");
        assert!(msg.starts_with(&format!("c={expected},")), "{msg}");
        let y = Scram::with_nonce(Binding::ServerLacks, "n".into());
        assert_eq!(
            (y.mechanism(), &y.client_first()[..3]),
            (SCRAM_SHA_256, "y,,")
        );
    }
}
