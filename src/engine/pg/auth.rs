//! Startup and authentication under the target's [`AuthPolicy`].
//!
//! The rule that matters (issue 14): **a request outside the policy is refused before anything
//! derived from the password is sent.** The server (or whatever listens on its port) names the
//! method; the policy (`[probe] allow_auth`, narrowed by `require_auth`) and `channel_binding`
//! decide whether to answer:
//!
//! | server asks for             | answered when                                            |
//! |-----------------------------|----------------------------------------------------------|
//! | cleartext password          | `password` allowed and `channel_binding` is not `require` |
//! | MD5                         | `md5` allowed and `channel_binding` is not `require`      |
//! | SASL: SCRAM-SHA-256(-PLUS)  | `scram-sha-256` allowed; `channel_binding=require` takes only `-PLUS` over TLS |
//! | nothing (AuthenticationOk)  | `none` allowed (trust says nothing about the password) and `channel_binding` is not `require` |
//! | GSSAPI, SSPI, Kerberos, SCM | never (not supported)                                     |
//!
//! An AuthenticationOk after a SCRAM exchange counts only once the server's signature verified;
//! libpq's `channel_binding=prefer` binds when TLS is up and the server offers `-PLUS`.

use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::fault::{AuthRefusal, Fault};
use super::scram::{self, Binding, Scram};
use super::wire::{server_error, Conn};
use super::APPLICATION_NAME;
use crate::secret::Password;
use crate::topology::{AuthMethod, AuthPolicy, ChannelBinding, ConnTarget};

/// Who logs in.
pub struct Login<'a> {
    /// The PostgreSQL role.
    pub user: &'a str,
    /// Its password.
    pub password: &'a Password,
}

/// What the server said about itself between AuthenticationOk and ReadyForQuery: enough to tell
/// a pooler from PostgreSQL (see [`Route`](crate::engine::probe::Route)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Greeting {
    /// The names of the ParameterStatus messages, in the order they came (at most
    /// [`MAX_REPORTED`]).
    pub reported: Vec<String>,
    /// The `server_version` reported.
    pub server_version: Option<String>,
    /// The process id of BackendKeyData: PostgreSQL's backend, or whatever a pooler makes up.
    pub backend_pid: Option<i32>,
}

/// How many ParameterStatus names a [`Greeting`] keeps (PostgreSQL 15 reports 13; a peer
/// sending thousands must not grow the probe's memory).
pub const MAX_REPORTED: usize = 64;

/// Sends the startup packet, authenticates and waits for ReadyForQuery.
pub async fn startup(
    conn: &mut Conn,
    target: &ConnTarget,
    login: &Login<'_>,
) -> Result<Greeting, Fault> {
    let application_name = target
        .application_name
        .as_deref()
        .unwrap_or(APPLICATION_NAME);
    // The probe reads its answer as UTF-8; a client_encoding from the connection string wins.
    let encoding = target.client_encoding.as_deref().unwrap_or("UTF8");
    let mut params = vec![
        ("user", login.user),
        ("database", target.dbname.as_str()),
        ("application_name", application_name),
        ("client_encoding", encoding),
    ];
    if let Some(options) = &target.options {
        params.push(("options", options.as_str()));
    }
    frontend::startup_message(params, &mut conn.out)
        .map_err(|e| Fault::protocol(format!("cannot encode the startup packet: {e}")))?;
    conn.send().await?;
    authenticate(conn, &target.auth, login).await?;
    let mut greeting = Greeting::default();
    loop {
        match conn.recv().await? {
            Message::ReadyForQuery(_) => return Ok(greeting),
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(malformed)?;
                if name == "server_version" {
                    greeting.server_version = Some(body.value().map_err(malformed)?.to_owned());
                }
                if greeting.reported.len() < MAX_REPORTED {
                    greeting.reported.push(name.to_owned());
                }
            }
            Message::BackendKeyData(body) => greeting.backend_pid = Some(body.process_id()),
            Message::NoticeResponse(_) => {}
            Message::ErrorResponse(body) => return Err(Fault::Server(server_error(&body)?)),
            _ => {
                return Err(Fault::protocol(
                    "an unexpected message after authentication",
                ))
            }
        }
    }
}

/// The authentication exchange, up to and including AuthenticationOk.
async fn authenticate(
    conn: &mut Conn,
    policy: &AuthPolicy,
    login: &Login<'_>,
) -> Result<(), Fault> {
    let mut scram: Option<Scram> = None;
    let mut verified = false;
    // A cleartext or MD5 password was sent: the server's AuthenticationOk is its verdict.
    let mut answered = false;
    loop {
        match conn.recv().await? {
            Message::AuthenticationOk => {
                return match &scram {
                    None if answered => Ok(()),
                    None => allow(policy, AuthMethod::None, "no authentication (none: trust)"),
                    Some(_) if verified => Ok(()),
                    Some(_) => Err(Fault::protocol(
                        "the server accepted the login without proving it knows the password's \
                         SCRAM verifier (no server signature)",
                    )),
                };
            }
            Message::AuthenticationCleartextPassword => {
                allow(
                    policy,
                    AuthMethod::Password,
                    "a cleartext password (password)",
                )?;
                let password = login.password.expose().as_bytes();
                frontend::password_message(password, &mut conn.out).map_err(encode)?;
                conn.send().await?;
                answered = true;
            }
            Message::AuthenticationMd5Password(body) => {
                allow(policy, AuthMethod::Md5, "an MD5 password hash (md5)")?;
                let hash = md5_hash(
                    login.user.as_bytes(),
                    login.password.expose().as_bytes(),
                    body.salt(),
                );
                frontend::password_message(hash.as_bytes(), &mut conn.out).map_err(encode)?;
                conn.send().await?;
                answered = true;
            }
            Message::AuthenticationSasl(body) => {
                let mechanisms: Vec<String> = body
                    .mechanisms()
                    .map(|m| Ok(m.to_owned()))
                    .collect()
                    .map_err(|e| Fault::protocol(format!("a malformed SASL request: {e}")))?;
                let exchange = choose_scram(conn, policy, &mechanisms)?;
                frontend::sasl_initial_response(
                    exchange.mechanism(),
                    exchange.client_first().as_bytes(),
                    &mut conn.out,
                )
                .map_err(encode)?;
                conn.send().await?;
                scram = Some(exchange);
            }
            Message::AuthenticationSaslContinue(body) => {
                let exchange = scram
                    .as_mut()
                    .ok_or_else(|| Fault::protocol("a SASL challenge without a SASL exchange"))?;
                let response = exchange.client_final(body.data(), login.password)?;
                frontend::sasl_response(response.as_bytes(), &mut conn.out).map_err(encode)?;
                conn.send().await?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let exchange = scram
                    .as_ref()
                    .ok_or_else(|| Fault::protocol("a SASL outcome without a SASL exchange"))?;
                exchange.verify_server_final(body.data())?;
                verified = true;
            }
            Message::AuthenticationGss
            | Message::AuthenticationGssContinue(_)
            | Message::AuthenticationSspi
            | Message::AuthenticationKerberosV5
            | Message::AuthenticationScmCredential => {
                return Err(refusal(
                    policy,
                    "GSSAPI, SSPI, Kerberos or SCM credentials",
                    Some("rotascope supports scram-sha-256, md5, password and trust only".into()),
                ));
            }
            Message::ErrorResponse(body) => return Err(Fault::Server(server_error(&body)?)),
            Message::NoticeResponse(_) => {}
            _ => {
                return Err(Fault::protocol(
                    "an unexpected message during authentication",
                ))
            }
        }
    }
}

/// The SCRAM exchange to answer a SASL request with, or the refusal.
fn choose_scram(conn: &Conn, policy: &AuthPolicy, mechanisms: &[String]) -> Result<Scram, Fault> {
    let asked = format!("SASL ({})", mechanisms.join(", "));
    if !policy.allows(AuthMethod::ScramSha256) {
        return Err(refusal(policy, &asked, None));
    }
    let offers = |m: &str| mechanisms.iter().any(|x| x == m);
    let tls = conn.stream().is_tls();
    let end_point = conn
        .stream()
        .peer_certificate()
        .and_then(scram::server_end_point);
    let binding = match (policy.channel_binding, tls, end_point) {
        (ChannelBinding::Disable, _, _) | (_, false, _) => Binding::NotSupported,
        (_, true, Some(hash)) if offers(scram::SCRAM_SHA_256_PLUS) => {
            Binding::TlsServerEndPoint(hash)
        }
        (_, true, None) => Binding::NotSupported,
        (_, true, Some(_)) => Binding::ServerLacks,
    };
    if policy.channel_binding == ChannelBinding::Require
        && !matches!(binding, Binding::TlsServerEndPoint(_))
    {
        let why = if tls {
            "channel_binding=require, and the server does not offer SCRAM-SHA-256-PLUS for this \
             certificate"
        } else {
            "channel_binding=require needs TLS, and this connection has none"
        };
        return Err(refusal(policy, &asked, Some(why.into())));
    }
    if !matches!(binding, Binding::TlsServerEndPoint(_)) && !offers(scram::SCRAM_SHA_256) {
        return Err(Fault::protocol(format!(
            "the server offers no SASL mechanism rotascope supports: {}",
            mechanisms.join(", ")
        )));
    }
    Ok(Scram::start(binding))
}

/// Ok when the policy lets the server use `method`.
fn allow(policy: &AuthPolicy, method: AuthMethod, asked: &str) -> Result<(), Fault> {
    if !policy.allows(method) {
        return Err(refusal(policy, asked, None));
    }
    if policy.channel_binding == ChannelBinding::Require {
        return Err(refusal(
            policy,
            asked,
            Some("channel_binding=require accepts SCRAM-SHA-256-PLUS only".into()),
        ));
    }
    Ok(())
}

fn refusal(policy: &AuthPolicy, asked: &str, reason: Option<String>) -> Fault {
    Fault::AuthRefused(AuthRefusal {
        asked: asked.to_owned(),
        allowed: policy.allowed.clone(),
        reason,
    })
}

fn malformed(e: std::io::Error) -> Fault {
    Fault::protocol(format!("a malformed parameter report: {e}"))
}

fn encode(e: std::io::Error) -> Fault {
    Fault::protocol(format!("cannot encode a message: {e}"))
}
