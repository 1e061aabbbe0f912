//! What can go wrong in a probe connection, before classification.
//!
//! The probe client reports facts (an I/O error and what it was doing, the server's
//! ErrorResponse, a refused authentication request, bytes that are not the protocol); turning
//! them into an [`ErrorKind`](crate::engine::probe::ErrorKind) is
//! [`classify_fault`](crate::engine::classify::classify_fault)'s job, shared with the
//! tokio-postgres classifier. No variant carries a password: nothing derived from one is ever
//! put into a fault.

use std::io;
use std::time::Duration;

use crate::topology::AuthMethod;

/// A failure of the probe client.
#[derive(Debug)]
pub enum Fault {
    /// The host name did not resolve.
    Dns {
        /// The name looked up.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The TCP connect (or Unix socket connect) did not complete within `connect_timeout`.
    ConnectTimeout {
        /// The limit.
        limit: Duration,
    },
    /// An I/O error: connecting, reading or writing (a TLS failure inside an I/O error included).
    Io {
        /// What the client was doing ("connecting to 10.0.0.5:5432").
        doing: String,
        /// The cause.
        source: io::Error,
    },
    /// TLS could not be set up or the handshake failed.
    Tls(String),
    /// TLS is required by `sslmode`, and the server answered the SSL request with "no".
    NoTls,
    /// The server sent an ErrorResponse.
    Server(ServerError),
    /// The peer does not speak the protocol as expected.
    Protocol(String),
    /// The server asked for an authentication the policy does not allow; nothing derived from
    /// the password was sent.
    AuthRefused(AuthRefusal),
}

impl Fault {
    /// A protocol violation described by `what`.
    pub fn protocol(what: impl Into<String>) -> Fault {
        Fault::Protocol(what.into())
    }
}

/// An ErrorResponse (or a FATAL during startup), the fields that matter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerError {
    /// `S`: ERROR, FATAL, PANIC.
    pub severity: String,
    /// `C`: the SQLSTATE.
    pub code: String,
    /// `M`: the primary message.
    pub message: String,
}

/// Why an authentication request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRefusal {
    /// What the server asked for, in words ("a cleartext password (password)").
    pub asked: String,
    /// The policy's allowed methods.
    pub allowed: Vec<AuthMethod>,
    /// Why it is refused, when it is not simply "not in the allowed list"
    /// (`channel_binding=require`, a method rotascope cannot perform).
    pub reason: Option<String>,
}

impl AuthRefusal {
    /// The one-line explanation shown on screen: what the server asked, what is allowed, which
    /// setting allows more.
    pub fn message(&self) -> String {
        let why = match &self.reason {
            Some(reason) => reason.clone(),
            None => {
                let allowed: Vec<&str> = self.allowed.iter().map(|m| m.as_str()).collect();
                format!(
                    "allowed: {}; widen with [probe] allow_auth or require_auth",
                    allowed.join(", ")
                )
            }
        };
        format!(
            "server asked for {}; refused before sending anything derived from the password ({why})",
            self.asked
        )
    }
}
