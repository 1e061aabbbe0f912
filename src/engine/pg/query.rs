//! The probe query (one statement, one round trip) and how its row is read.
//!
//! ```sql
//! SELECT r::text,
//!        (CASE WHEN r THEN NULL ELSE pg_current_wal_lsn() END)::text,
//!        (CASE WHEN r THEN pg_last_wal_receive_lsn() END)::text,
//!        (CASE WHEN r THEN pg_last_wal_replay_lsn() END)::text
//!        -- with shard discovery:
//!        , (SELECT json_agg(nspname ORDER BY nspname)::text FROM pg_namespace
//!           WHERE nspname ~ E'^sh(?:[0-9]{4}|[1-9][0-9]{4,})$')
//! FROM (SELECT pg_is_in_recovery() AS r) AS s
//! ```
//!
//! It runs through the simple query protocol: one message out, one answer back (the extended
//! protocol would add a round trip to prepare it). `pg_current_wal_lsn()` raises an error during
//! recovery, hence the `CASE`.

use tokio_postgres::SimpleQueryMessage;

use crate::config::shard_regex;
use crate::engine::probe::{Lsn, Role, WalPosition};

/// What the probe query tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Master or replica.
    pub role: Role,
    /// WAL positions.
    pub wal: WalPosition,
    /// Matching schema names, sorted, when discovery was asked for.
    pub shards: Option<Vec<String>>,
}

/// The probe SQL, with shard discovery when `shard_pattern` is set.
pub fn probe_sql(shard_pattern: Option<&str>) -> Result<String, String> {
    let mut sql = String::from(
        "SELECT r::text, \
         (CASE WHEN r THEN NULL ELSE pg_current_wal_lsn() END)::text, \
         (CASE WHEN r THEN pg_last_wal_receive_lsn() END)::text, \
         (CASE WHEN r THEN pg_last_wal_replay_lsn() END)::text",
    );
    if let Some(pattern) = shard_pattern {
        let regex = shard_regex(pattern)?;
        sql.push_str(&format!(
            ", (SELECT json_agg(nspname ORDER BY nspname)::text FROM pg_namespace \
             WHERE nspname ~ {})",
            sql_literal(&regex)
        ));
    }
    sql.push_str(" FROM (SELECT pg_is_in_recovery() AS r) AS s");
    Ok(sql)
}

/// An SQL string literal that means the same whatever `standard_conforming_strings` says:
/// the `E''` form with backslashes doubled (`it's` → `E'it''s'`). The lab quotes with it too.
pub(crate) fn sql_literal(value: &str) -> String {
    format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// Reads the probe query's row.
pub fn parse(messages: &[SimpleQueryMessage], with_shards: bool) -> Result<Answer, String> {
    let row = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .ok_or("the probe query returned no row")?;
    let text = |i: usize| {
        row.try_get(i)
            .map_err(|e| format!("probe query column {i}: {e}"))
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
    let shards = if with_shards {
        let mut names: Vec<String> = match text(4)? {
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
    Ok(Answer { role, wal, shards })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_cannot_escape_the_literal() {
        let sql = probe_sql(Some("x'; DROP TABLE t; --%d")).unwrap();
        assert!(sql.contains("E'^x\\\\''\\\\;"), "{sql}");
        assert!(probe_sql(None)
            .unwrap()
            .ends_with("FROM (SELECT pg_is_in_recovery() AS r) AS s"));
    }
}
