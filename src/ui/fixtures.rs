//! Fixture snapshots: a small two-island cluster in the states an SRE meets during a rotation.
//!
//! Used by the render snapshot tests and for the README screenshot. Candidates are built from real
//! [`Password`] values (listed in [`PASSWORDS`]) so tests can prove no password reaches the screen;
//! their fingerprints use a fixed key ([`Fingerprint::with_key`]) so frames are the same every run.
//!
//! The cluster, seen at [`now`] (2026-11-28 10:15:00 UTC):
//! - island 0, compact config form (nodes named by connection string), alternating users `app_a`
//!   and `app_b`: a master on port 54320 and a replica on 54321, shards `sh0001..sh0003`;
//! - island 1, explicit form, one login `app` with a `previous` and a `current` password: master
//!   `db-b1` and replica `db-b2`, shard `sh0004`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use ratatui::buffer::Buffer;

use crate::config::{ProbeSettings, ReloadFailure};
use crate::engine::event::{CandidateRef, Event, EventKind};
use crate::engine::probe::{ErrorKind, Lsn, ProbeError, Role, WalPosition};
use crate::engine::snapshot::{
    Attempt, AttemptOutcome, CandidateState, CandidateView, ChainRecord, ConfigStatus, Health,
    IslandView, IslandWarning, LatencyHistory, LatencySample, NodeView, Replication, Snapshot,
    WarningKind, LATENCY_HISTORY,
};
use crate::secret::{Fingerprint, Password};
use crate::topology::{CandidateId, IslandNo, NodeKey};

/// Every password the fixtures are built from; none may ever appear on screen.
pub const PASSWORDS: [&str; 7] = [
    "Fx-alpha-pw-7781",
    "Fx-bravo-pw-3306",
    "Fx-prev-pw-5150",
    "Fx-curr-pw-8086",
    "Fx-alpha-pw-NEW-9154",
    "Fx-next-pw-2718",
    "Fx-stale-pw-1414",
];

const FINGERPRINT_KEY: &[u8] = b"rotascope ui fixtures";

pub mod history;
pub mod rotation;

/// A drawn screen as plain text, one line per row: what a person reads, for tests to search.
pub fn screen_text(buffer: &Buffer) -> String {
    let width = usize::from(buffer.area.width).max(1);
    buffer
        .content
        .chunks(width)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The config path the fixtures show.
pub const CONFIG_PATH: &str = "/etc/rotascope/rotascope.toml";

/// The moment every fixture is seen at: 2026-11-28 10:15:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 10, 15, 0)
        .single()
        .expect("a valid fixed time")
}

fn ago(secs: i64) -> DateTime<Utc> {
    now() - chrono::Duration::seconds(secs)
}

fn ms(tenths: u64) -> Duration {
    Duration::from_micros(tenths * 100)
}

/// Before the first config is applied.
pub fn loading() -> Snapshot {
    Snapshot::empty(CONFIG_PATH.into(), ProbeSettings::default(), ago(1))
}

/// The first config just applied: every node still `unknown`, the first chain probes in flight.
pub fn first_probes() -> Snapshot {
    let mut s = all_ok();
    for island in &mut s.islands {
        island.shards = None;
        for n in &mut island.nodes {
            n.role = Role::Unknown;
            n.health = Health::Unknown;
            n.health_since = Some(ago(1));
            n.winner = None;
            n.remembered_best = None;
            n.probing = true;
            n.last_chain = None;
            n.latency = LatencyHistory::default();
            n.replication = None;
            n.shards = None;
            for c in &mut n.candidates {
                c.state = CandidateState::Untested;
                c.latency = None;
                c.last_checked = None;
                c.last_valid = None;
                c.next_audit = Some(ago(1));
            }
        }
    }
    s.config.loaded_at = Some(ago(1));
    s.events.truncate(1);
    if let Some(e) = s.events.front_mut() {
        e.at = ago(1);
    }
    s
}

/// Every node ok, both credentials valid everywhere, `app_a` and `previous` winning.
pub fn all_ok() -> Snapshot {
    let islands = vec![
        IslandView {
            no: IslandNo(0),
            nodes: vec![
                node(0, URL_A1, URL_A1, Role::Master, 38, ISLAND0_CREDS),
                node(0, URL_A2, URL_A2, Role::Replica, 41, ISLAND0_CREDS),
            ],
            shards: Some(shards(&["sh0001", "sh0002", "sh0003"])),
            warnings: Vec::new(),
        },
        IslandView {
            no: IslandNo(1),
            nodes: vec![
                node(1, "db-b1", ADDR_B1, Role::Master, 45, ISLAND1_CREDS),
                node(1, "db-b2", ADDR_B2, Role::Replica, 50, ISLAND1_CREDS),
            ],
            shards: Some(shards(&["sh0004"])),
            warnings: Vec::new(),
        },
    ];
    let mut events = VecDeque::new();
    events.push_back(Event {
        at: ago(769),
        kind: EventKind::ConfigApplied {
            path: CONFIG_PATH.into(),
            generation: 1,
            islands: 2,
            nodes: 4,
            candidates: 8,
        },
    });
    for island in &islands {
        for n in &island.nodes {
            let at = ago(768);
            let key = (island.no, n.key.name.to_string());
            events.push_back(Event {
                at,
                kind: EventKind::RoleChanged {
                    island: key.0,
                    node: key.1.clone(),
                    from: Role::Unknown,
                    to: n.role,
                },
            });
            events.push_back(Event {
                at,
                kind: EventKind::WinnerChanged {
                    island: key.0,
                    node: key.1.clone(),
                    from: None,
                    to: Some(cref(&n.candidates[0])),
                },
            });
            events.push_back(Event {
                at,
                kind: EventKind::HealthChanged {
                    island: key.0,
                    node: key.1,
                    from: Health::Unknown,
                    to: Health::Ok,
                    cause: None,
                },
            });
        }
    }
    Snapshot {
        generated_at: ago(1),
        config: ConfigStatus {
            path: PathBuf::from(CONFIG_PATH),
            generation: 1,
            loaded_at: Some(ago(769)),
            last_error: None,
        },
        settings: ProbeSettings::default(),
        islands,
        events,
        behind_schedule: None,
        history: Default::default(),
        usage: Vec::new(),
        usage_enabled: true,
    }
}

/// Island 0 mid-rotation: `app_a`'s password was changed in the database and the config does not
/// know the new one yet, so both nodes fail `app_a` and switch to `app_b` (degraded); island 1 is
/// untouched and `db-b2` has a probe in flight.
pub fn rotation_in_progress() -> Snapshot {
    let mut s = all_ok();
    for (i, at) in [(0usize, 3i64), (1, 2)] {
        let n = &mut s.islands[0].nodes[i];
        let started = ago(at);
        fail_auth(&mut n.candidates[0], started, 30, 60);
        n.candidates[1].last_checked = Some(started);
        n.candidates[1].last_valid = Some(started);
        n.candidates[1].latency = Some(ms(44));
        n.winner = Some(1);
        n.remembered_best = Some(1);
        n.health = Health::Degraded;
        n.health_since = Some(started);
        n.cause = Some(CAUSE_APP_A.into());
        n.last_chain = Some(ChainRecord {
            at: started,
            attempts: vec![
                Attempt {
                    candidate: n.candidates[0].id.clone(),
                    outcome: AttemptOutcome::Failed(ErrorKind::AuthFailed),
                    latency: ms(30),
                },
                Attempt {
                    candidate: n.candidates[1].id.clone(),
                    outcome: AttemptOutcome::Ok,
                    latency: ms(44),
                },
            ],
        });
        if let Some(last) = n.latency.samples.back_mut() {
            last.at = started;
            last.latency = ms(74);
            last.fell_back = true;
        }
        let name = n.key.name.to_string();
        let (a, b) = (cref(&n.candidates[0]), cref(&n.candidates[1]));
        let mut push = |kind| s.events.push_back(Event { at: started, kind });
        push(EventKind::CandidateChanged {
            island: IslandNo(0),
            node: name.clone(),
            candidate: a.clone(),
            from: CandidateState::Valid,
            to: CandidateState::Invalid,
            error: Some(auth_error("app_a")),
        });
        push(EventKind::WinnerChanged {
            island: IslandNo(0),
            node: name.clone(),
            from: Some(a),
            to: Some(b),
        });
        push(EventKind::HealthChanged {
            island: IslandNo(0),
            node: name,
            from: Health::Ok,
            to: Health::Degraded,
            cause: Some(CAUSE_APP_A.into()),
        });
    }
    s.islands[1].nodes[1].probing = true;
    s.generated_at = ago(1);
    s
}

/// `db-b2` stopped: connection refused, no winner, its second candidate skipped.
pub fn node_down() -> Snapshot {
    let mut s = all_ok();
    let n = &mut s.islands[1].nodes[1];
    take_down(n, 40, "connection refused (127.0.0.1:54323)");
    let (name, old) = (n.key.name.to_string(), cref(&n.candidates[0]));
    let error = n.candidates[0].error.clone();
    push_down_events(&mut s, IslandNo(1), &name, old, error, 40);
    s
}

/// Island 0's master stopped and the replica not promoted yet: `no_master`, verdict down.
pub fn failover_no_master() -> Snapshot {
    let mut s = all_ok();
    let n = &mut s.islands[0].nodes[0];
    take_down(n, 18, "connection refused (127.0.0.1:54320)");
    let (name, old) = (n.key.name.to_string(), cref(&n.candidates[0]));
    let error = n.candidates[0].error.clone();
    let detail = format!("{URL_A1} is down; {URL_A2} is a replica");
    s.islands[0].warnings.push(IslandWarning {
        kind: WarningKind::NoMaster,
        detail: detail.clone(),
    });
    push_down_events(&mut s, IslandNo(0), &name, old, error, 18);
    s.events.push_back(Event {
        at: ago(18),
        kind: EventKind::Warning {
            island: IslandNo(0),
            warning: WarningKind::NoMaster,
            active: true,
            detail,
        },
    });
    s
}

/// All nodes ok, but the latest reload failed: the last good config keeps running.
pub fn reload_error() -> Snapshot {
    let mut s = all_ok();
    let message = "/etc/rotascope/rotascope.toml: line 14, column 9, key `islands[1][0]`: \
                   invalid connection string: invalid port \"54x22\""
        .to_owned();
    s.config.last_error = Some(ReloadFailure {
        at: ago(7),
        message: message.clone(),
    });
    s.events.push_back(Event {
        at: ago(7),
        kind: EventKind::ConfigFailed {
            path: CONFIG_PATH.into(),
            error: message,
        },
    });
    s
}

/// Islands in [`fqdn_fleet`].
pub const FLEET_ISLANDS: u32 = 20;
/// Nodes per island in [`fqdn_fleet`]: a primary and 23 replicas.
pub const FLEET_NODES_PER_ISLAND: u32 = 24;

/// The fleet an SRE really runs: 20 islands of 24 nodes (480), named by connection strings to
/// FQDNs that share everything but the middle:
/// `postgres://pg-prod-eu-west-1a-orders-shard-0000-primary.db.internal.example.com:5432/orders`.
/// Island `i` is shard `i`, its node 0 the primary, the others `replica-01`..`replica-23` spread
/// over three zones. Some trouble, deterministic: every 37th node degraded (its first password
/// rotated away), every 53rd down, the last two of island 19 not probed yet, and island 12 with no
/// master (its primary is among the down ones).
pub fn fqdn_fleet() -> Snapshot {
    fleet(FLEET_ISLANDS, FLEET_NODES_PER_ISLAND)
}

/// [`fqdn_fleet`] of any size: `islands` islands of `per_island` nodes (at least 2 islands and
/// 2 nodes each), the same names and the same kinds of trouble (for the render benchmark).
pub fn fleet(islands_n: u32, per_island: u32) -> Snapshot {
    let zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
    let mut islands = Vec::new();
    let mut seq = 0u64;
    for i in 0..islands_n {
        let mut nodes = Vec::new();
        for j in 0..per_island {
            let (zone, what) = if j == 0 {
                (zones[0], "primary".to_owned())
            } else {
                (zones[j as usize % 3], format!("replica-{j:02}"))
            };
            let url = format!(
                "postgres://pg-prod-{zone}-orders-shard-{i:04}-{what}.db.internal.example.com:5432/orders"
            );
            let role = if j == 0 { Role::Master } else { Role::Replica };
            let base = 20 + (seq * 7) % 60;
            let mut n = node(i, &url, &url, role, base, ISLAND0_CREDS);
            n.shards = Some(vec![format!("sh{i:04}")]);
            if (seq % 53 == 11) || (i == 12 && j == 0) {
                take_down(&mut n, 30 + (seq % 50) as i64, "connection refused");
            } else if seq % 37 == 5 {
                let at = ago(4 + (seq % 20) as i64);
                fail_auth(&mut n.candidates[0], at, 30, 60);
                n.winner = Some(1);
                n.remembered_best = Some(1);
                n.health = Health::Degraded;
                n.health_since = Some(at);
                n.cause = Some(CAUSE_APP_A.into());
            } else if i == islands_n - 1 && j >= per_island - 2 {
                n.role = Role::Unknown;
                n.health = Health::Unknown;
                n.winner = None;
                n.remembered_best = None;
                n.last_chain = None;
                n.latency = LatencyHistory::default();
                n.probing = true;
                for c in &mut n.candidates {
                    c.state = CandidateState::Untested;
                    c.latency = None;
                    c.last_checked = None;
                    c.last_valid = None;
                }
            }
            nodes.push(n);
            seq += 1;
        }
        let mut warnings = Vec::new();
        if i == 12 {
            warnings.push(IslandWarning {
                kind: WarningKind::NoMaster,
                detail: "the primary is down; no replica promoted".into(),
            });
        }
        islands.push(IslandView {
            no: IslandNo(i),
            nodes,
            shards: Some(vec![format!("sh{i:04}")]),
            warnings,
        });
    }
    let mut s = all_ok();
    s.islands = islands;
    s.events.truncate(1);
    if let Some(Event {
        kind:
            EventKind::ConfigApplied {
                islands,
                nodes,
                candidates,
                ..
            },
        ..
    }) = s.events.front_mut()
    {
        *islands = islands_n as usize;
        *nodes = (islands_n * per_island) as usize;
        *candidates = 2 * *nodes;
    }
    s
}

const URL_A1: &str = "postgres://127.0.0.1:54320/app";
const URL_A2: &str = "postgres://127.0.0.1:54321/app";
const ADDR_B1: &str = "postgres://127.0.0.1:54322/app?sslmode=disable";
const ADDR_B2: &str = "postgres://127.0.0.1:54323/app?sslmode=disable";
const CAUSE_APP_A: &str = "#0 app_a: password authentication failed (auth_failed)";

/// (login, label, password) of island 0: alternating users.
const ISLAND0_CREDS: &[(&str, Option<&str>, &str)] =
    &[("app_a", None, PASSWORDS[0]), ("app_b", None, PASSWORDS[1])];
/// (login, label, password) of island 1: one login, two passwords.
const ISLAND1_CREDS: &[(&str, Option<&str>, &str)] = &[
    ("app", Some("previous"), PASSWORDS[2]),
    ("app", Some("current"), PASSWORDS[3]),
];

fn shards(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn node(
    island: u32,
    name: &str,
    address: &str,
    role: Role,
    base_tenths: u64,
    creds: &[(&str, Option<&str>, &str)],
) -> NodeView {
    let name: Arc<str> = name.into();
    let candidates: Vec<CandidateView> = creds
        .iter()
        .enumerate()
        .map(|(index, (login, label, password))| {
            let password = Password::new(*password);
            let fingerprint = Fingerprint::with_key(FINGERPRINT_KEY, password.expose());
            let winner = index == 0;
            let checked = if winner { ago(1) } else { ago(20) };
            CandidateView {
                index,
                id: CandidateId {
                    node: name.clone(),
                    address: name.clone(),
                    login: login.to_string(),
                    fingerprint,
                },
                login: login.to_string(),
                label: label.map(str::to_owned),
                fingerprint,
                state: CandidateState::Valid,
                error: None,
                latency: Some(ms(base_tenths + 1 + index as u64 * 3)),
                last_checked: Some(checked),
                last_valid: Some(checked),
                consecutive_failures: 0,
                next_audit: Some(ago(20) + chrono::Duration::seconds(30)),
                via: None,
                route: None,
            }
        })
        .collect();
    let mut latency = LatencyHistory::default();
    for i in 0..LATENCY_HISTORY as u64 {
        // A deterministic wobble around the node's base latency, with one slow probe on db-b1.
        let wobble = (i * 7919 + base_tenths * 31) % 13;
        let tenths = if island == 1 && role == Role::Master && i == 41 {
            380
        } else {
            base_tenths - 6 + wobble
        };
        latency.push(LatencySample {
            at: ago(2 * (LATENCY_HISTORY as i64 - i as i64)),
            latency: ms(tenths),
            ok: true,
            fell_back: false,
        });
    }
    let master_lsn = Lsn(0x0300_0148 + u64::from(island) * 0x10_0000);
    let replication = match role {
        Role::Master => Replication {
            wal: WalPosition {
                current: Some(master_lsn),
                ..WalPosition::default()
            },
            lag_bytes: None,
        },
        _ => {
            let behind = if island == 0 { 0x1_2070 } else { 0 };
            let replay = Lsn(master_lsn.0 - behind);
            Replication {
                wal: WalPosition {
                    current: None,
                    receive: Some(Lsn(master_lsn.0 - behind / 2)),
                    replay: Some(replay),
                },
                lag_bytes: Some(behind),
            }
        }
    };
    NodeView {
        key: NodeKey {
            island: IslandNo(island),
            name,
        },
        address: address.to_owned(),
        role,
        health: Health::Ok,
        health_since: Some(ago(768)),
        cause: None,
        winner: Some(0),
        remembered_best: Some(0),
        probing: false,
        last_chain: Some(ChainRecord {
            at: ago(1),
            attempts: vec![Attempt {
                candidate: candidates[0].id.clone(),
                outcome: AttemptOutcome::Ok,
                latency: ms(base_tenths + 1),
            }],
        }),
        latency,
        replication: Some(replication),
        shards: Some(if island == 0 {
            shards(&["sh0001", "sh0002", "sh0003"])
        } else {
            shards(&["sh0004"])
        }),
        candidates,
        usage: Vec::new(),
    }
}

fn cref(c: &CandidateView) -> CandidateRef {
    CandidateRef {
        index: c.index,
        login: c.login.clone(),
        label: c.label.clone(),
        fingerprint: c.fingerprint,
    }
}

fn auth_error(login: &str) -> ProbeError {
    ProbeError {
        kind: ErrorKind::AuthFailed,
        sqlstate: Some("28P01".into()),
        message: format!("password authentication failed for user \"{login}\""),
    }
}

fn fail_auth(c: &mut CandidateView, at: DateTime<Utc>, tenths: u64, backoff_secs: i64) {
    c.state = CandidateState::Invalid;
    c.error = Some(auth_error(&c.login));
    c.latency = Some(ms(tenths));
    c.last_checked = Some(at);
    c.consecutive_failures = 1;
    c.next_audit = Some(at + chrono::Duration::seconds(backoff_secs));
}

/// Marks `n` down since `secs` ago: its remembered best refused, the rest skipped.
fn take_down(n: &mut NodeView, secs: i64, why: &str) {
    let since = ago(secs);
    let refused = ProbeError {
        kind: ErrorKind::Refused,
        sqlstate: None,
        message: why.to_owned(),
    };
    for c in &mut n.candidates {
        if c.index == 0 {
            c.state = CandidateState::Unreachable;
            c.error = Some(refused.clone());
            c.latency = Some(ms(3));
            c.last_checked = Some(ago(1));
            c.last_valid = Some(ago(secs + 2));
            c.consecutive_failures = (secs / 2) as u32;
        } else {
            // Its last audit ran before the node went away.
            c.state = CandidateState::Skipped;
            c.last_checked = Some(ago(secs + 10));
            c.last_valid = Some(ago(secs + 10));
            c.next_audit = Some(ago(secs + 10) + chrono::Duration::seconds(30));
        }
    }
    n.health = Health::Down;
    n.health_since = Some(since);
    n.cause = Some(format!("refused: {why}"));
    n.winner = None;
    n.last_chain = Some(ChainRecord {
        at: ago(1),
        attempts: n
            .candidates
            .iter()
            .map(|c| Attempt {
                candidate: c.id.clone(),
                outcome: if c.index == 0 {
                    AttemptOutcome::Failed(ErrorKind::Refused)
                } else {
                    AttemptOutcome::Skipped
                },
                latency: if c.index == 0 { ms(3) } else { Duration::ZERO },
            })
            .collect(),
    });
    for s in n.latency.samples.iter_mut() {
        if s.at >= since {
            s.ok = false;
            s.latency = ms(3);
        }
    }
}

fn push_down_events(
    s: &mut Snapshot,
    island: IslandNo,
    name: &str,
    old: CandidateRef,
    error: Option<ProbeError>,
    secs: i64,
) {
    let at = ago(secs);
    let node = name.to_owned();
    for kind in [
        EventKind::CandidateChanged {
            island,
            node: node.clone(),
            candidate: old.clone(),
            from: CandidateState::Valid,
            to: CandidateState::Unreachable,
            error,
        },
        EventKind::WinnerChanged {
            island,
            node: node.clone(),
            from: Some(old),
            to: None,
        },
        EventKind::HealthChanged {
            island,
            node,
            from: Health::Ok,
            to: Health::Down,
            cause: Some("refused: connection refused".into()),
        },
    ] {
        s.events.push_back(Event { at, kind });
    }
}

/// A `TestBackend` that sends every flushed frame, as plain text, to a test: the way the loop
/// tests wait for "a frame showing X" instead of sleeping.
pub struct FrameTap {
    /// The backend drawn on.
    pub inner: ratatui::backend::TestBackend,
    /// Where each flushed frame's text goes.
    pub frames: tokio::sync::mpsc::UnboundedSender<String>,
}

impl FrameTap {
    /// The text of the current buffer.
    pub fn text(&self) -> String {
        screen_text(self.inner.buffer())
    }
}

impl ratatui::backend::Backend for FrameTap {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<ratatui::layout::Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(
        &mut self,
        position: P,
    ) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<ratatui::layout::Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<ratatui::backend::WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        // A test that stopped listening is no reason to fail the draw.
        let _ = self.frames.send(self.text());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::snapshot::Verdict;

    #[test]
    fn fixtures_have_the_verdicts_their_names_promise() {
        assert_eq!(all_ok().verdict(), Verdict::Ok);
        assert_eq!(rotation_in_progress().verdict(), Verdict::Degraded);
        assert_eq!(node_down().verdict(), Verdict::Down);
        assert_eq!(failover_no_master().verdict(), Verdict::Down);
        assert_eq!(reload_error().verdict(), Verdict::Ok);
        assert_eq!(loading().summary().nodes, 0);
        assert_eq!(first_probes().verdict(), Verdict::Degraded);
        assert_eq!(first_probes().summary().unknown, 4);
    }

    #[test]
    fn fingerprints_are_stable_and_hide_the_passwords() {
        let a = all_ok();
        let b = all_ok();
        let fa: Vec<String> = a
            .nodes()
            .flat_map(|n| n.candidates.iter().map(|c| c.fingerprint.to_string()))
            .collect();
        let fb: Vec<String> = b
            .nodes()
            .flat_map(|n| n.candidates.iter().map(|c| c.fingerprint.to_string()))
            .collect();
        assert_eq!(fa, fb);
        let debug = format!("{:?}", rotation_in_progress());
        for p in PASSWORDS {
            assert!(!debug.contains(p));
        }
    }
}
