//! Who still uses a login: sessions per login on every node, and when a login is safe to revoke.
//!
//! - **Measured** by the probe query itself (one round trip, see [`usage_sql`]): for each login
//!   of the node's candidates, the sessions in `pg_stat_activity` grouped by `application_name`
//!   (the top [`TOP_APPS`]), and — where the probing role may see the full rows (its own
//!   sessions, or all with `pg_read_all_stats`) — the oldest `backend_start` and the client
//!   addresses. rotascope's own sessions (`application_name = 'rotascope'`, and the probe's own
//!   backend) are never counted. Every login sees `usename` and `application_name` of every
//!   session, so counts are exact; what the role may not see is [`SessionDetail`] `None`
//!   (unknown), never guessed.
//! - **Folded** per node and login ([`NodeUsage`]): sessions now, since when zero. A node that is
//!   down forgets its counts: sessions may come and go unseen, so its quiet time starts over.
//! - **Summed** per login over the cluster ([`cluster`]): "in use on N nodes (M sessions)" or
//!   "idle since T", and [`LoginUsage::safe_to_revoke`]: every node that lists the login has a
//!   valid replacement (another login, or for one login with two passwords another password) and
//!   the login has had no session on any node for `[usage] quiet_for`.
//! - The sessions of a login cannot be told apart by password: with one login and two passwords
//!   the count belongs to the login (said on screen, `shared_by_passwords`).
//! - Through a pooler (PgBouncer) the sessions are the pooler's server connections
//!   (`via_pooler`).
//!
//! Limits, documented: sessions that open and close between two probes are not seen; the probe
//! asks about at most [`MAX_LOGINS`] logins per node.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::opt_rfc3339;
use super::probe::Route;
use super::snapshot::{CandidateState, IslandView};
use crate::secret::Fingerprint;
use crate::topology::IslandNo;

/// How many application names a login's sessions are grouped into (the biggest groups); the
/// rest is counted in `other_apps`.
pub const TOP_APPS: usize = 5;

/// How many client addresses are listed per login.
pub const TOP_ADDRS: usize = 5;

/// How many logins the probe query asks about per node (the first in config order).
pub const MAX_LOGINS: usize = 32;

/// Application names longer than this are cut (they are shown, not used).
const MAX_APP_NAME: usize = 64;

/// One application name's share of a login's sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppSessions {
    /// `application_name` (empty when the client set none).
    pub name: String,
    /// Sessions with it.
    pub sessions: u32,
}

/// What the probing role may see of a login's sessions beyond their count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionDetail {
    /// The oldest `backend_start`; `None` when there is no session.
    #[serde(serialize_with = "opt_rfc3339")]
    pub oldest_start: Option<DateTime<Utc>>,
    /// Distinct client addresses (`local` for a Unix socket), at most [`TOP_ADDRS`].
    pub client_addrs: Vec<String>,
    /// Distinct addresses in all (more than listed when over [`TOP_ADDRS`]).
    pub client_addr_count: u32,
}

/// One login's sessions on one node, as one probe measured them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoginSessions {
    /// The login (`usename`).
    pub login: String,
    /// Its sessions, rotascope's own excluded.
    pub sessions: u32,
    /// The biggest groups by `application_name`, biggest first.
    pub apps: Vec<AppSessions>,
    /// Sessions of the other application names.
    pub other_apps: u32,
    /// Oldest start and client addresses, when the probing role may see every one of the
    /// login's session rows; `None` (unknown) otherwise.
    pub detail: Option<SessionDetail>,
}

/// How many (login, application name) groups the query returns, biggest first: the totals per
/// login are counted apart, so a server with more names only loses the small groups' names.
const MAX_GROUPS: usize = 200;

/// The probe query's extra column for `logins` (an SQL scalar subquery returning JSON text):
/// `[[oid, ...], [[oid, app, count, visible, oldest, [addr, ...]], ...] | null,
/// [[oid, count], ...] | null]` — the asked logins' role ids (null for a login the server does
/// not know), the sessions grouped by role and `application_name`, and the totals per role.
///
/// Lean on purpose: every probe is a fresh backend with cold catalog caches, and each view,
/// function and operator the query touches costs catalog lookups there. So it reads
/// `pg_stat_get_activity(NULL)` itself (the `pg_stat_activity` view joins `pg_database` and
/// `pg_authid`), compares role ids rather than names, and leaves picking the top application
/// names, merging addresses and naming logins to the client (measured in the README).
/// `backend_type` is NULL on rows the role may not see in full, hence `IS DISTINCT FROM`;
/// parallel workers are not sessions.
pub fn usage_sql(logins: &[String]) -> String {
    let oids: Vec<String> = logins
        .iter()
        .take(MAX_LOGINS)
        .map(|l| {
            // to_regrole reads an identifier: quoted, so case and odd characters survive.
            let ident = format!("\"{}\"", l.replace('"', "\"\""));
            format!("to_regrole({})::oid", super::pg::query::sql_literal(&ident))
        })
        .collect();
    // One pass over the activity of every backend, kept (MATERIALIZED) for both groupings.
    format!(
        "(WITH a AS MATERIALIZED (SELECT s.usesysid AS u, s.application_name AS n, \
         s.backend_type IS NOT NULL AS v, s.backend_start AS b, s.client_addr AS c \
         FROM pg_stat_get_activity(NULL) s WHERE s.usesysid = ANY (ARRAY[{oids}]::oid[]) \
         AND s.pid <> pg_backend_pid() AND s.application_name IS DISTINCT FROM 'rotascope' \
         AND s.backend_type IS DISTINCT FROM 'parallel worker') \
         SELECT json_build_array(ARRAY[{oids}]::oid[], \
         (SELECT json_agg(json_build_array(g.u, g.n, g.k, g.v, g.b, g.c)) FROM \
         (SELECT u, n, count(*) AS k, count(*) FILTER (WHERE v) AS v, \
         min(b) FILTER (WHERE v) AS b, array_agg(DISTINCT c) FILTER (WHERE v) AS c \
         FROM a GROUP BY 1, 2 ORDER BY 3 DESC LIMIT {MAX_GROUPS}) AS g), \
         (SELECT json_agg(json_build_array(t.u, t.k)) FROM \
         (SELECT u, count(*) AS k FROM a GROUP BY 1) AS t))::text)",
        oids = oids.join(", ")
    )
}

/// Reads the column [`usage_sql`] made: every login asked about gets an entry (none in the
/// answer means no session; a login the server does not know has none).
pub fn parse_column(json: Option<&str>, logins: &[String]) -> Result<Vec<LoginSessions>, String> {
    // Role ids are oids, which JSON carries as strings.
    type Group = (
        String,
        Option<String>,
        u32,
        u32,
        Option<DateTime<Utc>>,
        Option<Vec<Option<String>>>,
    );
    type Raw = (
        Vec<Option<String>>,
        Option<Vec<Group>>,
        Option<Vec<(String, u32)>>,
    );
    let bad = |e: String| format!("probe query session counts: {e}");
    let json = json.ok_or_else(|| bad("missing".into()))?;
    let (oids, groups, totals): Raw = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let (groups, totals) = (groups.unwrap_or_default(), totals.unwrap_or_default());
    let logins = logins.iter().take(MAX_LOGINS);
    if oids.len() != logins.len() {
        return Err(bad(format!(
            "{} role ids for {} logins",
            oids.len(),
            logins.len()
        )));
    }
    let mut out = Vec::new();
    for (login, oid) in logins.zip(oids) {
        let mine: Vec<&Group> = groups
            .iter()
            .filter(|g| Some(&g.0) == oid.as_ref())
            .collect();
        let total = totals
            .iter()
            .find(|t| Some(&t.0) == oid.as_ref())
            .map_or(0, |t| t.1);
        // Groups come biggest first; ties by name, so the list is stable.
        let mut apps: Vec<AppSessions> = mine
            .iter()
            .map(|g| AppSessions {
                name: g
                    .1
                    .as_deref()
                    .unwrap_or_default()
                    .chars()
                    .take(MAX_APP_NAME)
                    .collect(),
                sessions: g.2,
            })
            .collect();
        apps.sort_by(|a, b| {
            b.sessions
                .cmp(&a.sessions)
                .then_with(|| a.name.cmp(&b.name))
        });
        apps.truncate(TOP_APPS);
        let listed: u32 = apps.iter().map(|a| a.sessions).sum();
        let grouped: u32 = mine.iter().map(|g| g.2).sum();
        let visible: u32 = mine.iter().map(|g| g.3).sum();
        // The detail is known when the role may see every one of the login's rows (and every
        // group came back).
        let detail = (visible == total && grouped == total).then(|| {
            let mut addrs: Vec<String> = mine
                .iter()
                .flat_map(|g| g.5.iter().flatten())
                .map(|a| a.clone().unwrap_or_else(|| "local".into()))
                .collect();
            addrs.sort();
            addrs.dedup();
            let count = addrs.len() as u32;
            addrs.truncate(TOP_ADDRS);
            SessionDetail {
                oldest_start: mine.iter().filter_map(|g| g.4).min(),
                client_addrs: addrs,
                client_addr_count: count,
            }
        });
        out.push(LoginSessions {
            login: login.clone(),
            sessions: total,
            apps,
            other_apps: total.saturating_sub(listed),
            detail,
        });
    }
    Ok(out)
}

/// One login on one node, as the engine knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeLoginUsage {
    /// The login.
    pub login: String,
    /// The last measurement; `None` while unknown (not measured yet, or the node went down).
    #[serde(rename = "measured")]
    pub now: Option<LoginSessions>,
    /// When it was measured.
    #[serde(serialize_with = "opt_rfc3339")]
    pub measured_at: Option<DateTime<Utc>>,
    /// Since when the login has had no session here (seen without a gap); `None` while it has
    /// sessions or is unknown.
    #[serde(serialize_with = "opt_rfc3339")]
    pub zero_since: Option<DateTime<Utc>>,
    /// The measuring probe came through a pooler: the sessions are the pooler's server
    /// connections.
    pub via_pooler: bool,
    /// How many of the node's candidates use this login (two or more: the count belongs to the
    /// login, not to one password).
    pub passwords: usize,
    /// The login is safe to revoke cluster-wide (a copy of [`LoginUsage::safe_to_revoke`], for
    /// views that show one node).
    pub safe_to_revoke: bool,
}

impl NodeLoginUsage {
    /// Sessions now, when known.
    pub fn sessions(&self) -> Option<u32> {
        self.now.as_ref().map(|n| n.sessions)
    }
}

/// A node's session counts per login (engine state, and its view in the snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeUsage {
    logins: BTreeMap<String, NodeLoginUsage>,
}

impl NodeUsage {
    /// Folds in a probe's measurement taken `at` through `route`.
    pub fn fold(&mut self, measured: &[LoginSessions], route: Route, at: DateTime<Utc>) {
        for m in measured {
            let entry = self.entry(&m.login);
            entry.zero_since = match m.sessions {
                0 => entry.zero_since.or(Some(at)),
                _ => None,
            };
            entry.now = Some(m.clone());
            entry.measured_at = Some(at);
            entry.via_pooler = route != Route::Direct;
        }
    }

    /// Forgets every count: the node is down, and what happens meanwhile is not seen.
    pub fn forget(&mut self) {
        for e in self.logins.values_mut() {
            e.now = None;
            e.zero_since = None;
        }
    }

    /// Takes `zero_since` from a `[state]` file for a login not measured yet: the quiet time
    /// goes on from the saved one if the first measurement finds no session.
    pub fn restore(&mut self, login: &str, zero_since: DateTime<Utc>) {
        let e = self.entry(login);
        if e.measured_at.is_none() {
            e.zero_since = Some(zero_since);
        }
    }

    /// The view for the node's current candidates, as (login, password fingerprint): one entry
    /// per login (in config order, the first [`MAX_LOGINS`]: the ones the probe asks about), with
    /// how many different passwords it has there (one password listed by two paths, a pooler's
    /// and the server's own, is one).
    pub fn view<'a>(
        &self,
        candidates: impl Iterator<Item = (&'a str, Fingerprint)>,
    ) -> Vec<NodeLoginUsage> {
        let mut out: Vec<NodeLoginUsage> = Vec::new();
        let mut seen: Vec<(&str, Fingerprint)> = Vec::new();
        for (login, fingerprint) in candidates {
            if seen.contains(&(login, fingerprint)) {
                continue;
            }
            seen.push((login, fingerprint));
            if let Some(e) = out.iter_mut().find(|e| e.login == login) {
                e.passwords += 1;
                continue;
            }
            if out.len() == MAX_LOGINS {
                continue;
            }
            let mut e = self
                .logins
                .get(login)
                .cloned()
                .unwrap_or_else(|| NodeLoginUsage::new(login));
            if e.measured_at.is_none() {
                // A restored quiet time is not shown before it is confirmed.
                e.zero_since = None;
            }
            e.passwords = 1;
            out.push(e);
        }
        out
    }

    /// Saved quiet times (logins with no session and a `zero_since`).
    pub fn quiet(&self) -> impl Iterator<Item = (&str, DateTime<Utc>)> {
        self.logins
            .values()
            .filter_map(|e| Some((e.login.as_str(), e.zero_since?)))
    }

    fn entry(&mut self, login: &str) -> &mut NodeLoginUsage {
        self.logins
            .entry(login.to_owned())
            .or_insert_with(|| NodeLoginUsage::new(login))
    }
}

impl NodeLoginUsage {
    fn new(login: &str) -> Self {
        NodeLoginUsage {
            login: login.to_owned(),
            now: None,
            measured_at: None,
            zero_since: None,
            via_pooler: false,
            passwords: 0,
            safe_to_revoke: false,
        }
    }
}

/// The distinct logins of a node's candidates, in config order, at most [`MAX_LOGINS`]: the
/// logins the probe query asks about.
pub fn logins_of<'a>(logins: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in logins {
        if out.len() == MAX_LOGINS {
            break;
        }
        if !out.iter().any(|o| o == l) {
            out.push(l.to_owned());
        }
    }
    out
}

/// A saved quiet time, for the `[state]` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQuiet {
    /// Island.
    pub island: IslandNo,
    /// Node name.
    pub node: String,
    /// Login.
    pub login: String,
    /// Since when it had no session.
    pub zero_since: DateTime<Utc>,
}

/// One login over the whole cluster: where it is in use, and whether it is safe to revoke.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoginUsage {
    /// The login.
    pub login: String,
    /// Nodes that list it.
    pub nodes: usize,
    /// Nodes where it has sessions now.
    pub nodes_in_use: usize,
    /// Its sessions over the nodes where they are known.
    pub sessions: u32,
    /// Nodes where its sessions are unknown (not measured yet, or down).
    pub nodes_unknown: usize,
    /// Since when it has had no session anywhere (the latest of the nodes' quiet times), when it
    /// has none anywhere and every node is known.
    #[serde(serialize_with = "opt_rfc3339")]
    pub idle_since: Option<DateTime<Utc>>,
    /// Some node lists it with two or more passwords: its sessions cannot be told apart by
    /// password; the count belongs to the login.
    pub shared_by_passwords: bool,
    /// Some node was measured through a pooler: its sessions are the pooler's server
    /// connections.
    pub via_pooler: bool,
    /// Safe to revoke: a replacement valid on every node, and no session anywhere for
    /// `quiet_for`.
    pub safe_to_revoke: bool,
    /// Why it is not safe (empty when it is), one line each.
    pub reasons: Vec<String>,
}

impl LoginUsage {
    /// "in use on 2 nodes (5 sessions)", "idle since 12:00:00Z", or "sessions unknown".
    pub fn summary(&self) -> String {
        if self.nodes_in_use > 0 {
            format!(
                "in use on {} ({})",
                crate::text::plural(self.nodes_in_use, "node"),
                crate::text::plural(self.sessions as usize, "session")
            )
        } else if let Some(t) = self.idle_since {
            format!("idle since {}", t.format("%Y-%m-%d %H:%M:%SZ"))
        } else {
            "sessions unknown".into()
        }
    }
}

/// Every login of the cluster (in the order first listed), summed over the nodes, with its
/// revocation readiness at `now`.
pub fn cluster(islands: &[IslandView], quiet_for: Duration, now: DateTime<Utc>) -> Vec<LoginUsage> {
    let mut out: Vec<LoginUsage> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    // Per login: the latest quiet start over its nodes, and whether some node has none.
    let mut quiet_since: Vec<(Option<DateTime<Utc>>, bool)> = Vec::new();
    let quiet = chrono::Duration::from_std(quiet_for).unwrap_or(chrono::TimeDelta::MAX);
    for node in islands.iter().flat_map(|i| i.nodes.iter()) {
        // Valid candidates by login, counted once per node (a node may list thousands).
        let mut valid: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        // And untested ones: a replacement not tried yet is not a refused one.
        let mut untested: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for c in &node.candidates {
            match c.state {
                CandidateState::Valid => *valid.entry(c.login.as_str()).or_default() += 1,
                CandidateState::Untested => *untested.entry(c.login.as_str()).or_default() += 1,
                _ => {}
            }
        }
        let all_untested: usize = untested.values().sum();
        let all_valid: usize = valid.values().sum();
        for u in &node.usage {
            let i = match index.get(u.login.as_str()) {
                Some(&i) => i,
                None => {
                    index.insert(&u.login, out.len());
                    quiet_since.push((None, false));
                    out.push(LoginUsage {
                        login: u.login.clone(),
                        nodes: 0,
                        nodes_in_use: 0,
                        sessions: 0,
                        nodes_unknown: 0,
                        idle_since: None,
                        shared_by_passwords: false,
                        via_pooler: false,
                        safe_to_revoke: false,
                        reasons: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let l = &mut out[i];
            let q = &mut quiet_since[i];
            match u.zero_since {
                Some(t) => q.0 = q.0.max(Some(t)),
                None => q.1 = true,
            }
            l.nodes += 1;
            l.shared_by_passwords |= u.passwords > 1;
            l.via_pooler |= u.now.is_some() && u.via_pooler;
            let name = format!("{}/{}", node.key.island.0, node.key.name);
            match u.sessions() {
                None => {
                    l.nodes_unknown += 1;
                    l.reasons.push(format!("{name}: sessions unknown"));
                }
                Some(0) => {}
                Some(n) => {
                    l.nodes_in_use += 1;
                    l.sessions += n;
                    l.reasons.push(format!(
                        "{name}: {}",
                        crate::text::plural(n as usize, "session")
                    ));
                }
            }
            // The replacement: another login valid here, or (one login, two passwords) a valid
            // candidate of the same login.
            let valid_own = valid.get(u.login.as_str()).copied().unwrap_or(0);
            let valid_other = all_valid > valid_own;
            let valid_same = u.passwords > 1 && valid_own > 0;
            if !valid_other && !valid_same {
                let listed = node.candidates.len() > u.passwords || u.passwords > 1;
                let untested_own = untested.get(u.login.as_str()).copied().unwrap_or(0);
                let untested_other = all_untested > untested_own;
                let untested_same = u.passwords > 1 && untested_own > 0;
                l.reasons
                    .push(if listed && (untested_other || untested_same) {
                        format!("{name}: replacement not tried yet")
                    } else if listed {
                        format!("{name}: no valid replacement")
                    } else {
                        format!("{name}: no replacement listed")
                    });
            }
        }
    }
    for (l, (latest, some_none)) in out.iter_mut().zip(quiet_since) {
        l.idle_since = if l.nodes_unknown == 0 && l.nodes_in_use == 0 && !some_none {
            latest
        } else {
            None
        };
        if l.reasons.is_empty() {
            match l.idle_since {
                Some(t) if now - t >= quiet => {}
                Some(t) => l.reasons.push(format!(
                    "no session for {} of the {} asked ([usage] quiet_for)",
                    super::snapshot::span_text((now - t).to_std().unwrap_or_default()),
                    super::snapshot::span_text(quiet_for)
                )),
                None => l.reasons.push("sessions unknown".into()),
            }
        }
        l.safe_to_revoke = l.reasons.is_empty();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::probe::Role;
    use crate::engine::snapshot::IslandView;
    use crate::report::fixtures::ok_node;

    fn logins(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).expect("time")
    }

    #[test]
    fn the_column_reads_counts_apps_and_what_the_role_may_see() {
        let json = r#"[["16384", "16385", null],
            [["16384", "billing", 3, 3, "2027-01-15T08:00:00+00:00", ["10.0.0.7", null]],
             ["16385", "reports", 2, 0, null, null],
             ["16384", "cron", 2, 2, "2027-01-15T09:00:00+01:00", ["10.0.0.7"]],
             ["16384", "", 1, 1, "2027-01-15T08:30:00Z", [null]],
             ["16384", "b", 1, 1, "2027-01-15T08:30:00Z", [null]],
             ["16384", "a", 1, 1, "2027-01-15T08:30:00Z", [null]],
             ["16384", "c", 1, 1, "2027-01-15T08:30:00Z", [null]]],
            [["16384", 9], ["16385", 2]]]"#;
        let got = parse_column(Some(json), &logins(&["app_a", "app_b", "app_c"])).unwrap();
        let a = &got[0];
        assert_eq!((a.sessions, a.other_apps, a.apps.len()), (9, 1, 5));
        let names: Vec<&str> = a.apps.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["billing", "cron", "", "a", "b"]);
        let d = a.detail.as_ref().expect("all rows visible");
        assert_eq!(d.oldest_start, Some(at(0)));
        assert_eq!(d.client_addrs, ["10.0.0.7", "local"]);
        // Rows the role may not see: the count is known, the rest unknown.
        assert_eq!((got[1].sessions, got[1].detail.is_none()), (2, true));
        // A login the server does not know: no session.
        assert_eq!((got[2].sessions, got[2].detail.is_some()), (0, true));
        assert!(parse_column(None, &logins(&["x"])).is_err());
        assert!(parse_column(Some(r#"[["1", "2"], null, null]"#), &logins(&["x"])).is_err());
    }

    #[test]
    fn the_sql_quotes_logins_and_bounds_them() {
        let many: Vec<String> = (0..100).map(|i| format!("l{i}")).collect();
        let sql = usage_sql(&many);
        assert!(sql.contains("E'\"l31\"'") && !sql.contains("l32"), "{sql}");
        assert!(usage_sql(&logins(&["o'h\"x"])).contains("E'\"o''h\"\"x\"'"));
    }

    /// The fingerprint of test password number `n`.
    fn pw(n: u8) -> Fingerprint {
        Fingerprint::of(&format!("password {n}"))
    }

    fn measured(login: &str, sessions: u32) -> LoginSessions {
        LoginSessions {
            login: login.into(),
            sessions,
            apps: Vec::new(),
            other_apps: sessions,
            detail: None,
        }
    }

    #[test]
    fn zero_since_starts_at_the_first_zero_and_a_down_node_forgets() {
        let mut u = NodeUsage::default();
        u.fold(&[measured("a", 2)], Route::Direct, at(0));
        u.fold(&[measured("a", 0)], Route::Direct, at(10));
        u.fold(&[measured("a", 0)], Route::Pgbouncer, at(20));
        let v = u.view([("a", pw(1)), ("a", pw(2))].into_iter());
        assert_eq!(v[0].zero_since, Some(at(10)));
        assert_eq!((v[0].passwords, v[0].via_pooler), (2, true));
        // One password by two paths (the server's own port and a pooler's) is one password.
        let v = u.view([("a", pw(1)), ("a", pw(1))].into_iter());
        assert_eq!(v[0].passwords, 1);
        u.fold(&[measured("a", 1)], Route::Direct, at(30));
        assert_eq!(u.view([("a", pw(1))].into_iter())[0].zero_since, None);
        u.forget();
        assert_eq!(u.view([("a", pw(1))].into_iter())[0].sessions(), None);
        // A saved quiet time goes on only if the first measurement finds no session.
        let mut r = NodeUsage::default();
        r.restore("a", at(-600));
        assert_eq!(
            r.view([("a", pw(1))].into_iter())[0].zero_since,
            None,
            "not before confirmed"
        );
        r.fold(&[measured("a", 0)], Route::Direct, at(0));
        assert_eq!(
            r.view([("a", pw(1))].into_iter())[0].zero_since,
            Some(at(-600))
        );
    }

    fn island(nodes: Vec<crate::engine::snapshot::NodeView>) -> Vec<IslandView> {
        vec![IslandView {
            no: IslandNo(0),
            nodes,
            shards: None,
            warnings: Vec::new(),
        }]
    }

    fn with_usage(
        name: &str,
        f: impl Fn(&mut NodeUsage),
        logins: &[&str],
    ) -> crate::engine::snapshot::NodeView {
        let mut n = ok_node(0, name, Role::Master, Duration::from_millis(3));
        let mut u = NodeUsage::default();
        f(&mut u);
        n.usage = u.view(logins.iter().map(|l| (*l, pw(1))));
        n
    }

    #[test]
    fn safe_needs_a_valid_replacement_everywhere_and_the_quiet_time() {
        let quiet = Duration::from_secs(600);
        let idle = |u: &mut NodeUsage| {
            u.fold(
                &[measured("app_a", 0), measured("app_b", 4)],
                Route::Direct,
                at(0),
            )
        };
        let busy = |u: &mut NodeUsage| {
            u.fold(
                &[measured("app_a", 3), measured("app_b", 0)],
                Route::Direct,
                at(0),
            )
        };
        let nodes = island(vec![
            with_usage("db-a", idle, &["app_a", "app_b"]),
            with_usage("db-b", idle, &["app_a", "app_b"]),
        ]);
        let early = cluster(&nodes, quiet, at(599));
        assert!(!early[0].safe_to_revoke);
        assert!(
            early[0].reasons[0].contains("quiet_for"),
            "{:?}",
            early[0].reasons
        );
        let later = cluster(&nodes, quiet, at(600));
        assert!(later[0].safe_to_revoke, "{:?}", later[0].reasons);
        assert_eq!(later[0].summary(), "idle since 2027-01-15 08:00:00Z");
        assert_eq!(later[1].summary(), "in use on 2 nodes (8 sessions)");

        // Sessions on one node, and a replacement refused on the other.
        let mut refused = with_usage("db-b", idle, &["app_a", "app_b"]);
        refused.candidates[1].state = CandidateState::Invalid;
        let nodes = island(vec![with_usage("db-a", busy, &["app_a", "app_b"]), refused]);
        let l = &cluster(&nodes, quiet, at(6000))[0];
        assert!(!l.safe_to_revoke);
        assert_eq!(
            l.reasons,
            ["0/db-a: 3 sessions", "0/db-b: no valid replacement"]
        );
        // Not tried yet is said so, not taken for refused.
        let mut untried = with_usage("db-b", idle, &["app_a", "app_b"]);
        untried.candidates[1].state = CandidateState::Untested;
        let nodes = island(vec![with_usage("db-a", busy, &["app_a", "app_b"]), untried]);
        let l = &cluster(&nodes, quiet, at(6000))[0];
        assert_eq!(
            l.reasons,
            ["0/db-a: 3 sessions", "0/db-b: replacement not tried yet"]
        );

        // A node not measured yet: unknown, never safe.
        let nodes = island(vec![with_usage("db-a", |_| {}, &["app_a", "app_b"])]);
        let l = &cluster(&nodes, quiet, at(6000))[0];
        assert_eq!((l.nodes_unknown, l.safe_to_revoke), (1, false));
        assert_eq!(l.summary(), "sessions unknown");
    }
}
