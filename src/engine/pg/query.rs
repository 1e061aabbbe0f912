//! The probe query (one statement, one round trip) and how its row is read.
//!
//! ```sql
//! SELECT r::text,
//!        (CASE WHEN r THEN NULL ELSE pg_current_wal_lsn() END)::text,
//!        (CASE WHEN r THEN pg_last_wal_receive_lsn() END)::text,
//!        (CASE WHEN r THEN pg_last_wal_replay_lsn() END)::text,
//!        pg_backend_pid()::text
//!        -- with shard discovery:
//!        , (SELECT json_agg(nspname ORDER BY nspname)::text FROM pg_namespace
//!           WHERE nspname ~ E'^sh(?:[0-9]{4}|[1-9][0-9]{4,})$')
//! FROM (SELECT pg_is_in_recovery() AS r) AS s
//! ```
//!
//! It runs through the simple query protocol: one message out, one answer back (the extended
//! protocol would add a round trip to prepare it). `pg_current_wal_lsn()` raises an error during
//! recovery, hence the `CASE`. `pg_backend_pid()` is compared with the process id the connection
//! announced: a pooler in between announces one of its own (see
//! [`Route`](crate::engine::probe::Route)).

use std::borrow::Cow;

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::fault::Fault;
use super::wire::{server_error, Conn};
use crate::config::shard_regex;
use crate::engine::probe::{Lsn, Role, WalPosition};
use crate::engine::usage::{parse_column, LoginSessions};

/// One row of text columns (`None` is SQL NULL).
pub type Row = Vec<Option<String>>;

/// Runs `sql` through the simple query protocol on an authenticated connection and returns its
/// first row (if any), after the server's ReadyForQuery.
///
/// Terminate is not sent in the same write: PgBouncer ends the client connection as soon as it
/// reads Terminate, before the server's answer to the query reaches it.
pub async fn run(conn: &mut Conn, sql: &str) -> Result<Option<Row>, Fault> {
    frontend::query(sql, &mut conn.out)
        .map_err(|e| Fault::protocol(format!("cannot encode the probe query: {e}")))?;
    conn.send().await?;
    let mut first: Option<Row> = None;
    loop {
        match conn.recv().await? {
            Message::DataRow(body) if first.is_none() => {
                let buffer = body.buffer();
                let columns: Result<Row, _> = body
                    .ranges()
                    .map(
                        |range| Ok(range.map(|r| String::from_utf8_lossy(&buffer[r]).into_owned())),
                    )
                    .collect();
                first =
                    Some(columns.map_err(|e| Fault::protocol(format!("a malformed row: {e}")))?);
            }
            Message::ReadyForQuery(_) => return Ok(first),
            Message::ErrorResponse(body) => return Err(Fault::Server(server_error(&body)?)),
            Message::DataRow(_)
            | Message::RowDescription(_)
            | Message::CommandComplete(_)
            | Message::EmptyQueryResponse
            | Message::NoticeResponse(_)
            | Message::ParameterStatus(_)
            | Message::NotificationResponse(_) => {}
            _ => {
                return Err(Fault::protocol(
                    "an unexpected message in the probe query's answer",
                ))
            }
        }
    }
}

/// What the probe query tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Master or replica.
    pub role: Role,
    /// WAL positions.
    pub wal: WalPosition,
    /// Matching schema names, sorted, when discovery was asked for.
    pub shards: Option<Vec<String>>,
    /// `pg_backend_pid()`: the server process that ran the query.
    pub backend_pid: Option<i32>,
    /// Sessions per login asked about, when any was asked.
    pub usage: Option<Vec<LoginSessions>>,
}

macro_rules! select_columns {
    () => {
        "SELECT r::text, \
         (CASE WHEN r THEN NULL ELSE pg_current_wal_lsn() END)::text, \
         (CASE WHEN r THEN pg_last_wal_receive_lsn() END)::text, \
         (CASE WHEN r THEN pg_last_wal_replay_lsn() END)::text, \
         pg_backend_pid()::text"
    };
}
macro_rules! from_recovery {
    () => {
        " FROM (SELECT pg_is_in_recovery() AS r) AS s"
    };
}

/// The probe SQL, with shard discovery when `shard_pattern` is set (without it, a constant: the
/// common probe builds no string).
///
/// With `usage_logins`, a column of session counts per login comes before the shard list
/// ([`usage_sql`](crate::engine::usage::usage_sql)).
pub fn probe_sql(
    shard_pattern: Option<&str>,
    usage_logins: &[String],
) -> Result<Cow<'static, str>, String> {
    if shard_pattern.is_none() && usage_logins.is_empty() {
        return Ok(Cow::Borrowed(concat!(select_columns!(), from_recovery!())));
    }
    let mut sql = String::from(select_columns!());
    if !usage_logins.is_empty() {
        sql.push_str(", ");
        sql.push_str(&crate::engine::usage::usage_sql(usage_logins));
    }
    if let Some(pattern) = shard_pattern {
        let regex = shard_regex(pattern)?;
        sql.push_str(&format!(
            ", (SELECT json_agg(nspname ORDER BY nspname)::text FROM pg_namespace \
             WHERE nspname ~ {})",
            sql_literal(&regex)
        ));
    }
    sql.push_str(from_recovery!());
    Ok(Cow::Owned(sql))
}

/// An SQL string literal that means the same whatever `standard_conforming_strings` says:
/// the `E''` form with backslashes doubled (`it's` → `E'it''s'`). The lab quotes with it too.
pub(crate) fn sql_literal(value: &str) -> String {
    format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// Reads the probe query's row.
pub fn parse(
    row: Option<&[Option<String>]>,
    with_shards: bool,
    usage_logins: &[String],
) -> Result<Answer, String> {
    let row = row.ok_or("the probe query returned no row")?;
    let text = |i: usize| -> Result<Option<&str>, String> {
        row.get(i)
            .map(Option::as_deref)
            .ok_or_else(|| format!("probe query column {i}: missing"))
    };
    let lsn = |i: usize| -> Result<Option<Lsn>, String> {
        match text(i)? {
            None => Ok(None),
            Some(s) => Lsn::parse(s)
                .map(Some)
                .ok_or_else(|| format!("probe query column {i}: not an LSN: {s:?}")),
        }
    };
    let role = match text(0)? {
        // bool::text spells it out; the simple protocol's own form is t/f.
        Some("true" | "t") => Role::Replica,
        Some("false" | "f") => Role::Master,
        other => return Err(format!("pg_is_in_recovery() gave {other:?}")),
    };
    let wal = WalPosition {
        current: lsn(1)?,
        receive: lsn(2)?,
        replay: lsn(3)?,
    };
    let backend_pid = match text(4)? {
        None => None,
        Some(s) => Some(
            s.parse::<i32>()
                .map_err(|_| format!("probe query column 4: not a process id: {s:?}"))?,
        ),
    };
    let usage = if usage_logins.is_empty() {
        None
    } else {
        Some(parse_column(text(5)?, usage_logins)?)
    };
    let shard_column = if usage.is_some() { 6 } else { 5 };
    let shards = if with_shards {
        let mut names: Vec<String> = match text(shard_column)? {
            // json_agg over no rows is NULL.
            None => Vec::new(),
            Some(json) => {
                serde_json::from_str(json).map_err(|e| format!("probe query shard list: {e}"))?
            }
        };
        names.sort();
        Some(names)
    } else {
        None
    };
    Ok(Answer {
        role,
        wal,
        shards,
        backend_pid,
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_column_by_column() {
        let row = |cols: &[Option<&str>]| -> Vec<Option<String>> {
            cols.iter().map(|c| c.map(str::to_owned)).collect()
        };
        let master = row(&[Some("false"), Some("0/3000060"), None, None, Some("4242")]);
        let a = parse(Some(&master), false, &[]).unwrap();
        assert_eq!(a.role, Role::Master);
        assert_eq!(a.wal.current, Lsn::parse("0/3000060"));
        assert_eq!(a.backend_pid, Some(4242));
        let replica = row(&[
            Some("t"),
            None,
            Some("0/5"),
            Some("0/4"),
            Some("77"),
            Some("[\"sh2\",\"sh1\"]"),
        ]);
        let r = parse(Some(&replica), true, &[]).unwrap();
        assert_eq!(r.role, Role::Replica);
        assert_eq!(r.shards.unwrap(), ["sh1", "sh2"]);
        assert!(parse(None, false, &[]).is_err());
        assert!(parse(Some(&row(&[Some("maybe")])), false, &[]).is_err());
        let bad_pid = row(&[Some("f"), None, None, None, Some("x")]);
        assert!(parse(Some(&bad_pid), false, &[]).is_err());
        assert!(
            parse(Some(&row(&[Some("f")])), false, &[]).is_err(),
            "missing columns"
        );
    }

    #[test]
    fn quotes_and_backslashes_cannot_escape_the_literal() {
        let sql = probe_sql(Some("x'; DROP TABLE t; --%d"), &[]).unwrap();
        assert!(sql.contains("E'^x\\\\''\\\\;"), "{sql}");
        assert!(probe_sql(None, &[])
            .unwrap()
            .ends_with("FROM (SELECT pg_is_in_recovery() AS r) AS s"));
    }
}
