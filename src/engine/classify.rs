//! Turning a failed probe into a [`ProbeError`]: a stable kind, the SQLSTATE, a short message.
//!
//! One classifier for both clients: the prober's own ([`classify_fault`], over
//! [`Fault`]) and tokio-postgres ([`classify`], kept for the lab and for the differential test
//! that holds the two against each other). Both read a server error through [`from_server`] and an
//! I/O error through [`classify_io`], so the same failure gets the same kind whichever client saw it.
//!
//! PgBouncer answers with SQLSTATE 08P01 for everything it says itself (a wrong password, a pool
//! that cannot reach its backend, a missing database), which alone would read as a protocol
//! violation; [`pgbouncer`] tells its texts apart (see there).
//!
//! tokio-postgres errors print only "db error" or a vague phrase; the facts sit in the SQLSTATE
//! ([`tokio_postgres::Error::as_db_error`]) or in an `io::Error` somewhere down the cause chain,
//! and a rustls failure hides *inside* that `io::Error` (reach it with `get_ref()`: `source()`
//! skips it). Messages are cut to one short line and every password of the candidate is masked,
//! since a server may echo what it was sent.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use super::pg::fault::Fault;
use super::probe::{ErrorKind, ProbeError, Route, TimeoutOrigin};
use crate::secret::{redact_all, Password};

/// The longest message kept, in characters.
const MAX_MESSAGE: usize = 200;

/// Classifies a failure of the prober's own client; `secrets` are masked out of the message.
pub fn classify_fault(fault: &Fault, secrets: &[&Password]) -> ProbeError {
    let plain = |kind: ErrorKind, message: &str| ProbeError {
        kind,
        sqlstate: None,
        message: one_line(message, secrets),
    };
    match fault {
        Fault::Server(e) => from_server(&e.code, &e.message, secrets),
        Fault::Dns { host, source } => plain(
            ErrorKind::Dns,
            &format!("could not resolve {host:?}: {source}"),
        ),
        Fault::ConnectTimeout { limit } => plain(
            ErrorKind::Timeout,
            &format!(
                "connection timed out after {} (connect_timeout)",
                humantime::format_duration(*limit)
            ),
        ),
        Fault::Io { doing, source } => plain(
            classify_io(source).unwrap_or(ErrorKind::Other),
            &format!("{doing}: {}", io_text(source)),
        ),
        Fault::Tls(message) => plain(ErrorKind::Tls, message),
        Fault::NoTls => plain(
            ErrorKind::Tls,
            "the server does not support TLS, and sslmode requires it",
        ),
        Fault::Protocol(message) => plain(ErrorKind::Protocol, message),
        Fault::AuthRefused(refusal) => plain(ErrorKind::AuthMethodRefused, &refusal.message()),
    }
}

/// Classifies a tokio-postgres error; `secrets` are masked out of the message.
pub fn classify(err: &tokio_postgres::Error, secrets: &[&Password]) -> ProbeError {
    if let Some(db) = err.as_db_error() {
        return from_server(db.code().code(), db.message(), secrets);
    }
    let top = err.to_string();
    let io = io_cause(err);
    let kind = io
        .and_then(classify_io)
        .unwrap_or_else(|| classify_client(&top));
    ProbeError {
        kind,
        sqlstate: None,
        message: one_line(&chain_text(err), secrets),
    }
}

/// The error for a server's ErrorResponse: SQLSTATE `code` with its `message`. A pg_hba refusal
/// of a connection without TLS says that the server may require TLS; an answer of PgBouncer's
/// starts with [`PGBOUNCER`] (and says more where its own words are terse).
pub fn from_server(code: &str, message: &str, secrets: &[&Password]) -> ProbeError {
    if code == PROTOCOL_VIOLATION {
        if let Some((kind, said)) = pgbouncer(message) {
            return ProbeError {
                kind,
                sqlstate: Some(code.to_owned()),
                message: one_line(&format!("{PGBOUNCER}{said}"), secrets),
            };
        }
    }
    let kind = classify_db(code, message);
    // PostgreSQL ends the message with ", no encryption" (14+) or ", SSL off" (older) when the
    // refused connection was plain.
    let plain = message.ends_with("no encryption") || message.ends_with("SSL off");
    let message = if kind == ErrorKind::HbaRejected && plain {
        format!(
            "{message} (a connection without TLS: a server that requires TLS, e.g. hostssl only, \
             needs sslmode=prefer or stronger)"
        )
    } else {
        message.to_owned()
    };
    ProbeError {
        kind,
        sqlstate: Some(code.to_owned()),
        message: one_line(&message, secrets),
    }
}

/// The kind for a server error: SQLSTATE `code` with its `message`.
///
/// Some SQLSTATEs cover several facts that only the message tells apart (PostgreSQL's messages
/// are English here: the lab and the probe do not set `lc_messages`, and a server's own setting
/// only changes the message, in which case the SQLSTATE's main meaning is taken):
/// - 28000: "role ... is not permitted to log in" (the candidate), "no pg_hba.conf entry" and
///   "pg_hba.conf rejects connection" (the path: node-level), anything else (auth_failed);
/// - 53300: "too many connections for role ..." (per role, worth the next candidate) or the
///   server's own limit;
/// - 57P03: "the database system is shutting down" versus "... is starting up" / "not yet
///   accepting connections".
pub fn classify_db(code: &str, message: &str) -> ErrorKind {
    match code {
        "28000" if message.contains("not permitted to log in") => ErrorKind::LoginNotPermitted,
        "28000"
            if message.starts_with("no pg_hba.conf entry")
                || message.starts_with("pg_hba.conf rejects connection") =>
        {
            ErrorKind::HbaRejected
        }
        c if c.starts_with("28") => ErrorKind::AuthFailed,
        "53300" if message.contains("for role") => ErrorKind::RoleConnLimit,
        "53300" => ErrorKind::TooManyConnections,
        "3D000" => ErrorKind::DbMissing,
        "57P01" | "57P02" => ErrorKind::ShuttingDown,
        "57P03" if message.contains("shutting down") => ErrorKind::ShuttingDown,
        "57P03" => ErrorKind::StartingUp,
        "08P01" => ErrorKind::Protocol,
        _ => ErrorKind::Other,
    }
}

/// SQLSTATE 08P01: a protocol violation for PostgreSQL, everything for PgBouncer 1.x.
const PROTOCOL_VIOLATION: &str = "08P01";

/// How the message of an error from PgBouncer starts, so that screens say who answered and
/// [`route_of`] can tell later.
pub const PGBOUNCER: &str = "pgbouncer: ";

/// The kind of a PgBouncer answer (SQLSTATE 08P01) and what to show of it (its message, with a
/// note where its words are terse), or `None` for a genuine protocol violation.
///
/// PgBouncer 1.x sends every error of its own with 08P01 and a fixed text (read in its source,
/// `src/client.c`, `objects.c`, `janitor.c`, `admin.c`, and each tried against the real binary in
/// `tests/pooler_errors.rs`). When its own login to the backend fails, it passes the backend's
/// message on, still with 08P01; PostgreSQL never sends those texts with 08P01, so they are read
/// as PostgreSQL would mean them, with the backend's state turned into `backend_unavailable`.
pub fn pgbouncer(message: &str) -> Option<(ErrorKind, String)> {
    const NO_SERVER: &str =
        " (PgBouncer had no server connection to give in time: its backend is down, refusing it, \
         or its pool is full)";
    let kind = match message {
        // A wrong password (SCRAM), or a login auth_query did not find.
        "SASL authentication failed" | "no such user" => ErrorKind::AuthFailed,
        m if m.starts_with("no such database: ") => ErrorKind::DbMissing,
        "no more connections allowed (max_client_conn)" => ErrorKind::TooManyConnections,
        // A login to the admin console by a role not in admin_users or stats_users.
        "not allowed" => ErrorKind::LoginNotPermitted,
        // The admin console runs SHOW, RELOAD and friends, never the probe query.
        // (Its message quotes the whole probe query: replaced, not repeated.)
        m if m.starts_with("invalid command '") && m.ends_with("use SHOW HELP;") => {
            return Some((
                ErrorKind::DbMissing,
                "invalid command: the database `pgbouncer` is PgBouncer's admin console, which \
                 cannot run the probe query; point the node at a database PgBouncer pools"
                    .to_owned(),
            ));
        }
        m if m.starts_with("server login has been failing") => ErrorKind::BackendUnavailable,
        "query_wait_timeout" => {
            return Some((
                ErrorKind::BackendUnavailable,
                format!("{message}{NO_SERVER}"),
            ))
        }
        m if m.starts_with("client_login_timeout") => {
            return Some((
                ErrorKind::BackendUnavailable,
                format!("{message}{NO_SERVER}"),
            ))
        }
        // auth_query failed in the backend (an error, no such function, a NULL user name).
        "bouncer config error" => {
            return Some((
                ErrorKind::BackendUnavailable,
                format!("{message} (its auth_query failed in the backend: see PgBouncer's log)"),
            ))
        }
        m if m.starts_with("database \"") && m.ends_with("\" is disabled") => {
            ErrorKind::BackendUnavailable
        }
        m => {
            return backend_passed_on(m)
                .map(|kind| (kind, format!("{message} (passed on from its backend)")))
        }
    };
    Some((kind, message.to_owned()))
}

/// The kind of a backend's login failure that PgBouncer passed on (with 08P01), by PostgreSQL's
/// own texts.
fn backend_passed_on(message: &str) -> Option<ErrorKind> {
    let starts = |p: &str| message.starts_with(p);
    Some(if starts("password authentication failed for user ") {
        // The backend refused the password PgBouncer logged in with: this candidate's.
        ErrorKind::AuthFailed
    } else if starts("role \"") && message.ends_with("\" is not permitted to log in") {
        ErrorKind::LoginNotPermitted
    } else if starts("too many connections for role ") {
        ErrorKind::RoleConnLimit
    } else if starts("database \"") && message.ends_with("\" does not exist") {
        ErrorKind::DbMissing
    } else if starts("the database system is ")
        || starts("sorry, too many clients already")
        || starts("remaining connection slots are reserved")
        || starts("no pg_hba.conf entry for ")
        || starts("pg_hba.conf rejects connection ")
    {
        ErrorKind::BackendUnavailable
    } else {
        return None;
    })
}

/// The route an error shows: PgBouncer when it answered (its messages start with
/// [`PGBOUNCER`]), otherwise unknown (a refused or timed-out connection says nothing about
/// what listens).
pub fn route_of(error: &ProbeError) -> Option<Route> {
    (error.sqlstate.as_deref() == Some(PROTOCOL_VIOLATION) && error.message.starts_with(PGBOUNCER))
        .then_some(Route::Pgbouncer)
}

/// The kind for an I/O failure, when it says something definite.
pub fn classify_io(err: &io::Error) -> Option<ErrorKind> {
    if err
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
    {
        return Some(ErrorKind::Tls);
    }
    let text = err.to_string();
    // getaddrinfo failures come out as an uncategorised kind; only the text is stable.
    if text.contains("failed to lookup address") || text.contains("could not resolve any addresses")
    {
        return Some(ErrorKind::Dns);
    }
    match err.kind() {
        // A unix socket that is not there: nothing listens, like a refused TCP connect.
        io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => Some(ErrorKind::Refused),
        io::ErrorKind::TimedOut => Some(ErrorKind::Timeout),
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::InvalidData => Some(ErrorKind::Protocol),
        _ => None,
    }
}

/// The kind for a client-side error without a telling cause, from tokio-postgres' own phrase
/// (its error kinds are private; the phrases are what it exposes).
pub fn classify_client(top: &str) -> ErrorKind {
    match top {
        "error performing TLS handshake" => ErrorKind::Tls,
        "unexpected message from server" | "error parsing response from server" => {
            ErrorKind::Protocol
        }
        // The server hung up without a word (no ErrorResponse): not how PostgreSQL behaves.
        "connection closed" => ErrorKind::Protocol,
        // Asked for a password it cannot use, or a SCRAM exchange that does not verify.
        "authentication error" => ErrorKind::AuthFailed,
        "timeout waiting for server" => ErrorKind::Timeout,
        _ => ErrorKind::Other,
    }
}

/// The error for a probe that ran out of time; the message names the setting that set the limit.
pub fn timeout_error(limit: Duration, origin: TimeoutOrigin) -> ProbeError {
    ProbeError {
        kind: ErrorKind::Timeout,
        sqlstate: None,
        message: format!(
            "no complete answer within {} ({})",
            humantime::format_duration(limit),
            origin.describe()
        ),
    }
}

/// A short single line of `text` with every secret masked.
pub fn one_line(text: &str, secrets: &[&Password]) -> String {
    let masked = redact_all(text, secrets.iter().copied());
    let flat: String = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_MESSAGE {
        return flat;
    }
    let mut cut: String = flat.chars().take(MAX_MESSAGE - 1).collect();
    cut.push('…');
    cut
}

/// The first `io::Error` in the cause chain.
fn io_cause(err: &tokio_postgres::Error) -> Option<&io::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cur = e.source();
    }
    None
}

/// An I/O error's text, with the rustls error it may carry inside (which `Display` leaves out
/// for some wrappers).
fn io_text(err: &io::Error) -> String {
    match err.get_ref() {
        Some(inner) if inner.to_string() != err.to_string() => format!("{err}: {inner}"),
        _ => err.to_string(),
    }
}

/// "top: cause: cause", without repeating a part that equals the previous one.
pub(crate) fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_map_by_sqlstate_and_message() {
        let cases = [
            (
                "28P01",
                "password authentication failed for user \"app\"",
                ErrorKind::AuthFailed,
            ),
            (
                "28000",
                "role \"app\" is not permitted to log in",
                ErrorKind::LoginNotPermitted,
            ),
            (
                "28000",
                "no pg_hba.conf entry for host \"127.0.0.1\"",
                ErrorKind::HbaRejected,
            ),
            (
                "28000",
                "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"app\"",
                ErrorKind::HbaRejected,
            ),
            (
                "28000",
                "certificate authentication failed for user \"app\"",
                ErrorKind::AuthFailed,
            ),
            (
                "53300",
                "too many connections for role \"app\"",
                ErrorKind::RoleConnLimit,
            ),
            (
                "53300",
                "sorry, too many clients already",
                ErrorKind::TooManyConnections,
            ),
            (
                "53300",
                "remaining connection slots are reserved for non-replication superuser connections",
                ErrorKind::TooManyConnections,
            ),
            (
                "3D000",
                "database \"nope\" does not exist",
                ErrorKind::DbMissing,
            ),
            (
                "57P01",
                "terminating connection due to administrator command",
                ErrorKind::ShuttingDown,
            ),
            ("57P02", "crash shutdown", ErrorKind::ShuttingDown),
            (
                "57P03",
                "the database system is starting up",
                ErrorKind::StartingUp,
            ),
            (
                "57P03",
                "the database system is not yet accepting connections",
                ErrorKind::StartingUp,
            ),
            (
                "57P03",
                "the database system is shutting down",
                ErrorKind::ShuttingDown,
            ),
            ("08P01", "invalid startup packet", ErrorKind::Protocol),
            ("XX000", "internal error", ErrorKind::Other),
        ];
        for (code, message, kind) in cases {
            assert_eq!(classify_db(code, message), kind, "{code} {message}");
        }
    }

    #[test]
    fn pgbouncer_answers_map_by_their_texts_and_say_who_answered() {
        let cases = [
            ("SASL authentication failed", ErrorKind::AuthFailed),
            ("no such user", ErrorKind::AuthFailed),
            ("no such database: nope", ErrorKind::DbMissing),
            (
                "no more connections allowed (max_client_conn)",
                ErrorKind::TooManyConnections,
            ),
            ("not allowed", ErrorKind::LoginNotPermitted),
            (
                "invalid command 'SELECT 1', use SHOW HELP;",
                ErrorKind::DbMissing,
            ),
            (
                "server login has been failing, try again later (server_login_retry)",
                ErrorKind::BackendUnavailable,
            ),
            ("query_wait_timeout", ErrorKind::BackendUnavailable),
            (
                "client_login_timeout (server down)",
                ErrorKind::BackendUnavailable,
            ),
            ("bouncer config error", ErrorKind::BackendUnavailable),
            (
                "database \"app\" is disabled",
                ErrorKind::BackendUnavailable,
            ),
            // The backend's own refusals, passed on.
            (
                "password authentication failed for user \"app\"",
                ErrorKind::AuthFailed,
            ),
            ("database \"ghost\" does not exist", ErrorKind::DbMissing),
            (
                "the database system is shutting down",
                ErrorKind::BackendUnavailable,
            ),
            (
                "sorry, too many clients already",
                ErrorKind::BackendUnavailable,
            ),
            (
                "role \"app\" is not permitted to log in",
                ErrorKind::LoginNotPermitted,
            ),
        ];
        for (message, kind) in cases {
            let e = from_server("08P01", message, &[]);
            assert_eq!(e.kind, kind, "{message}");
            assert!(e.message.starts_with(PGBOUNCER), "{}", e.message);
            assert_eq!(route_of(&e), Some(Route::Pgbouncer), "{message}");
        }
        let long = format!(
            "invalid command '{}', use SHOW HELP;",
            "SELECT x, ".repeat(40)
        );
        let admin = from_server("08P01", &long, &[]);
        assert!(
            admin.message.ends_with("a database PgBouncer pools"),
            "{}",
            admin.message
        );
    }

    #[test]
    fn postgres_protocol_violations_stay_protocol_and_direct() {
        for message in [
            "invalid startup packet layout: expected terminator as last byte",
            "expected SASL response, got message type 112",
            "malformed SCRAM message (attribute \"r\" expected)",
            "invalid frontend message type 88",
            // Close to PgBouncer's, but not its texts.
            "SASL authentication failed for user",
            "query_wait_timeout exceeded",
        ] {
            let e = from_server("08P01", message, &[]);
            assert_eq!(e.kind, ErrorKind::Protocol, "{message}");
            assert_eq!(route_of(&e), None, "{message}");
            assert!(!e.message.starts_with(PGBOUNCER));
        }
        // PostgreSQL's own texts with their own codes are PostgreSQL's, not a pooler's.
        let direct = from_server(
            "28P01",
            "password authentication failed for user \"app\"",
            &[],
        );
        assert_eq!(direct.kind, ErrorKind::AuthFailed);
        assert_eq!(route_of(&direct), None);
        let timeout = timeout_error(Duration::from_secs(1), TimeoutOrigin::Settings);
        assert_eq!(route_of(&timeout), None);
    }

    #[test]
    fn io_errors_map_by_kind_text_and_hidden_rustls_error() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_io(&refused), Some(ErrorKind::Refused));
        let timed_out = io::Error::new(io::ErrorKind::TimedOut, "connection timed out");
        assert_eq!(classify_io(&timed_out), Some(ErrorKind::Timeout));
        let dns =
            io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(classify_io(&dns), Some(ErrorKind::Dns));
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(classify_io(&eof), Some(ErrorKind::Protocol));
        let tls = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(classify_io(&tls), Some(ErrorKind::Tls));
        assert_eq!(classify_io(&io::Error::other("odd")), None);
    }

    #[test]
    fn client_phrases_map_to_kinds() {
        assert_eq!(
            classify_client("error performing TLS handshake"),
            ErrorKind::Tls
        );
        assert_eq!(
            classify_client("unexpected message from server"),
            ErrorKind::Protocol
        );
        assert_eq!(
            classify_client("authentication error"),
            ErrorKind::AuthFailed
        );
        assert_eq!(classify_client("invalid configuration"), ErrorKind::Other);
    }

    #[test]
    fn messages_are_one_short_masked_line() {
        let pw = Password::new("s3cret-pw");
        let text = "FATAL: bad\nDETAIL: you sent s3cret-pw\tagain";
        assert_eq!(
            one_line(text, &[&pw]),
            "FATAL: bad DETAIL: you sent [redacted] again"
        );
        let long = "x".repeat(500);
        let cut = one_line(&long, &[]);
        assert_eq!(cut.chars().count(), MAX_MESSAGE);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_timeout_names_the_limit_and_its_setting() {
        let e = timeout_error(Duration::from_millis(1500), TimeoutOrigin::Settings);
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert_eq!(
            e.message,
            "no complete answer within 1s 500ms (probe.timeout)"
        );
        let e = timeout_error(Duration::from_secs(2), TimeoutOrigin::ConnString);
        assert!(e
            .message
            .ends_with("(connect_timeout of the connection string)"));
    }

    #[test]
    fn a_plain_connection_refused_by_pg_hba_says_tls_may_be_required() {
        let e = from_server(
            "28000",
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"app\", database \"postgres\", \
             no encryption",
            &[],
        );
        assert_eq!(e.kind, ErrorKind::HbaRejected);
        assert!(e.message.contains("requires TLS"), "{}", e.message);
        let over_tls = from_server(
            "28000",
            "no pg_hba.conf entry for host \"h\", SSL encryption",
            &[],
        );
        assert!(!over_tls.message.contains("requires TLS"));
    }

    #[test]
    fn client_faults_map_to_kinds_and_say_what_was_allowed() {
        use crate::engine::pg::fault::AuthRefusal;
        use crate::topology::AuthMethod;
        let refused = Fault::AuthRefused(AuthRefusal {
            asked: "a cleartext password (password)".into(),
            allowed: vec![AuthMethod::ScramSha256],
            reason: None,
        });
        let e = classify_fault(&refused, &[]);
        assert_eq!(e.kind, ErrorKind::AuthMethodRefused);
        for part in [
            "cleartext password",
            "scram-sha-256",
            "allow_auth",
            "require_auth",
        ] {
            assert!(e.message.contains(part), "{part}: {}", e.message);
        }
        assert!(!e.kind.is_candidate_level());
        let garbage = Fault::protocol("the server answered the SSL request with 0x48");
        assert_eq!(classify_fault(&garbage, &[]).kind, ErrorKind::Protocol);
        let reset = Fault::Io {
            doing: "reading from the server".into(),
            source: io::Error::from(io::ErrorKind::ConnectionReset),
        };
        assert_eq!(classify_fault(&reset, &[]).kind, ErrorKind::Protocol);
    }
}
