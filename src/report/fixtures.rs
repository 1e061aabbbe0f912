//! Hand-built snapshots for report tests. Passwords go through [`Password::new`] exactly as the
//! config does; tests assert that no output contains any of [`PASSWORDS`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{ProbeSettings, ReloadFailure};
use crate::engine::event::{CandidateRef, Event, EventKind, ProbeMode, ProbeRecord};
use crate::engine::event::{Feed, ProbeRecordOutcome};
use crate::engine::probe::{ErrorKind, Lsn, ProbeError, Role, WalPosition};
use crate::engine::snapshot::{
    Attempt, AttemptOutcome, CandidateState, CandidateView, ChainRecord, ConfigStatus, Health,
    IslandView, IslandWarning, LatencyHistory, LatencySample, NodeView, Replication, Snapshot,
    WarningKind,
};
use crate::secret::Password;
use crate::topology::{CandidateId, IslandNo, NodeKey};

/// Every password the fixtures are built from.
pub const PASSWORDS: [&str; 3] = [PW_A, PW_B, PW_A_OLD];
/// app_a's current password.
pub const PW_A: &str = "alpha-Current-s3cret";
/// app_b's password.
pub const PW_B: &str = "bravo-Only-s3cret";
/// app_a's password before the rotation (what a stale config still lists).
pub const PW_A_OLD: &str = "alpha-Previous-s3cret";

/// The long node name of island 1: a connection string, as the compact config form names nodes.
pub const LONG_NAME: &str = "postgres://pg-island-one-primary.eu-west-1.example.internal:5433/app";

/// A fixed time: 2026-11-28T10:00:00Z plus `secs`.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
        .expect("fixture time")
        .with_timezone(&Utc)
        + chrono::Duration::seconds(secs)
}

fn ms(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

/// What a hostile server (or secrets source) might send: set the window title, clear the
/// screen, a C1 CSI, a right-to-left override.
pub const HOSTILE: &str = "boom\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}x";

/// [`rotation`] with [`HOSTILE`] text in every foreign field: a server's error message, the
/// winner's login and label (from a secrets source), a node name, a warning detail, the reload
/// error.
pub fn hostile() -> Snapshot {
    let mut s = rotation();
    let b = &mut s.islands[0].nodes[1];
    b.key.name = format!("db-{HOSTILE}").into();
    b.candidates[1].label = Some(HOSTILE.into());
    b.candidates[1].login = format!("app_{HOSTILE}");
    if let Some(e) = &mut b.candidates[0].error {
        e.message = format!("{HOSTILE}: password authentication failed");
    }
    for w in &mut s.islands[1].warnings {
        w.detail = HOSTILE.into();
    }
    s.config.last_error = Some(crate::config::ReloadFailure {
        at: at(-2),
        message: format!("stderr: {HOSTILE}"),
    });
    s
}

/// A candidate in a given state.
pub fn candidate(
    node: &str,
    index: usize,
    login: &str,
    password: &str,
    label: Option<&str>,
    state: CandidateState,
) -> CandidateView {
    let fingerprint = Password::new(password).fingerprint();
    CandidateView {
        index,
        id: CandidateId {
            node: node.into(),
            address: node.into(),
            login: login.into(),
            fingerprint,
        },
        login: login.into(),
        label: label.map(Into::into),
        fingerprint,
        state,
        error: None,
        latency: None,
        last_checked: Some(at(-1)),
        last_valid: (state == CandidateState::Valid).then(|| at(-1)),
        consecutive_failures: 0,
        next_audit: Some(at(29)),
        via: None,
        route: None,
    }
}

/// A node that is ok with its first candidate as winner.
pub fn ok_node(island: u32, name: &str, role: Role, latency: Duration) -> NodeView {
    let mut a = candidate(
        name,
        0,
        "app_a",
        PW_A,
        Some("current"),
        CandidateState::Valid,
    );
    a.latency = Some(latency);
    let mut b = candidate(name, 1, "app_b", PW_B, None, CandidateState::Valid);
    b.latency = Some(latency + ms(300));
    let mut history = LatencyHistory::default();
    history.push(LatencySample {
        at: at(-3),
        latency: latency + ms(500),
        ok: true,
        fell_back: false,
    });
    history.push(LatencySample {
        at: at(-1),
        latency,
        ok: true,
        fell_back: false,
    });
    NodeView {
        key: NodeKey {
            island: IslandNo(island),
            name: Arc::from(name),
        },
        address: format!("postgres://{name}:5432/app"),
        role,
        health: Health::Ok,
        health_since: Some(at(-60)),
        cause: None,
        winner: Some(0),
        remembered_best: Some(0),
        probing: false,
        last_chain: Some(ChainRecord {
            at: at(-1),
            attempts: vec![Attempt {
                candidate: a.id.clone(),
                outcome: AttemptOutcome::Ok,
                latency,
            }],
        }),
        latency: history,
        replication: Some(Replication {
            wal: WalPosition {
                current: (role == Role::Master).then_some(Lsn(0x0300_0148)),
                receive: (role == Role::Replica).then_some(Lsn(0x0300_0000)),
                replay: (role == Role::Replica).then_some(Lsn(0x0300_0000)),
            },
            lag_bytes: (role == Role::Replica).then_some(328),
        }),
        shards: None,
        candidates: vec![a, b],
        usage: Vec::new(),
    }
}

fn base(islands: Vec<IslandView>) -> Snapshot {
    let mut s = Snapshot::empty(
        PathBuf::from("/etc/rotascope/config.toml"),
        ProbeSettings::default(),
        at(0),
    );
    s.config = ConfigStatus {
        path: PathBuf::from("/etc/rotascope/config.toml"),
        generation: 1,
        loaded_at: Some(at(-2)),
        last_error: None,
    };
    s.islands = islands;
    s
}

/// One island, a master and a replica, both ok.
pub fn all_ok() -> Snapshot {
    base(vec![IslandView {
        no: IslandNo(0),
        nodes: vec![
            ok_node(0, "db-a", Role::Master, ms(4250)),
            ok_node(0, "db-b", Role::Replica, ms(5125)),
        ],
        shards: Some(vec!["sh0001".into(), "sh0002".into()]),
        warnings: vec![],
    }])
}

/// A rotation in progress with trouble: island 0 has a degraded replica whose winner switched to
/// app_b after app_a's password changed; island 1's only node is down (refused) with no master.
pub fn rotation() -> Snapshot {
    let mut s = all_ok();

    // db-b: app_a's config password is stale, app_b won.
    let b = &mut s.islands[0].nodes[1];
    let name = "db-b";
    b.health = Health::Degraded;
    b.health_since = Some(at(-4));
    b.cause = Some("app_a: auth_failed".into());
    b.winner = Some(1);
    b.remembered_best = Some(1);
    let mut stale = candidate(
        name,
        0,
        "app_a",
        PW_A_OLD,
        Some("previous"),
        CandidateState::Invalid,
    );
    stale.error = Some(ProbeError {
        kind: ErrorKind::AuthFailed,
        sqlstate: Some("28P01".into()),
        message: "password authentication failed for user \"app_a\"".into(),
    });
    stale.latency = Some(ms(3010));
    stale.consecutive_failures = 2;
    stale.last_valid = Some(at(-30));
    b.candidates[0] = stale;
    b.candidates[1].latency = Some(ms(5500));
    b.last_chain = Some(ChainRecord {
        at: at(-1),
        attempts: vec![
            Attempt {
                candidate: b.candidates[0].id.clone(),
                outcome: AttemptOutcome::Failed(ErrorKind::AuthFailed),
                latency: ms(3010),
            },
            Attempt {
                candidate: b.candidates[1].id.clone(),
                outcome: AttemptOutcome::Ok,
                latency: ms(5500),
            },
        ],
    });
    b.latency.push(LatencySample {
        at: at(-1),
        latency: ms(5500),
        ok: true,
        fell_back: true,
    });

    // Island 1: the master is down.
    let mut down = ok_node(1, LONG_NAME, Role::Master, ms(4000));
    down.address = LONG_NAME.into();
    down.health = Health::Down;
    down.health_since = Some(at(-10));
    down.cause = Some("refused: connection refused".into());
    down.winner = None;
    down.replication = None;
    down.candidates[0].state = CandidateState::Unreachable;
    down.candidates[0].latency = Some(ms(412));
    down.candidates[0].consecutive_failures = 3;
    down.candidates[0].error = Some(ProbeError {
        kind: ErrorKind::Refused,
        sqlstate: None,
        message: "connection refused (os error 111)".into(),
    });
    down.candidates[1].state = CandidateState::Skipped;
    down.last_chain = Some(ChainRecord {
        at: at(-1),
        attempts: vec![
            Attempt {
                candidate: down.candidates[0].id.clone(),
                outcome: AttemptOutcome::Failed(ErrorKind::Refused),
                latency: ms(412),
            },
            Attempt {
                candidate: down.candidates[1].id.clone(),
                outcome: AttemptOutcome::Skipped,
                latency: Duration::ZERO,
            },
        ],
    });
    down.latency.push(LatencySample {
        at: at(-1),
        latency: ms(412),
        ok: false,
        fell_back: false,
    });
    s.islands.push(IslandView {
        no: IslandNo(1),
        nodes: vec![down],
        shards: None,
        warnings: vec![IslandWarning {
            kind: WarningKind::NoMaster,
            detail: "no reachable node reports itself master".into(),
        }],
    });
    s.config.last_error = Some(ReloadFailure {
        at: at(-5),
        message: "secrets.toml: line 3: expected a string for key `secrets[0].password`".into(),
    });
    s.events = events().into_iter().collect::<VecDeque<_>>();
    s
}

fn cref(index: usize, login: &str, password: &str, label: Option<&str>) -> CandidateRef {
    CandidateRef {
        index,
        login: login.into(),
        label: label.map(Into::into),
        fingerprint: Password::new(password).fingerprint(),
    }
}

/// The events of the rotation fixture, oldest first.
pub fn events() -> Vec<Event> {
    vec![
        Event {
            at: at(-2),
            kind: EventKind::ConfigApplied {
                path: "/etc/rotascope/config.toml".into(),
                generation: 1,
                islands: 2,
                nodes: 3,
                candidates: 6,
            },
        },
        Event {
            at: at(-1),
            kind: EventKind::CandidateChanged {
                island: IslandNo(0),
                node: "db-b".into(),
                candidate: cref(0, "app_a", PW_A_OLD, Some("previous")),
                from: CandidateState::Valid,
                to: CandidateState::Invalid,
                error: Some(ProbeError {
                    kind: ErrorKind::AuthFailed,
                    sqlstate: Some("28P01".into()),
                    message: "password authentication failed for user \"app_a\"".into(),
                }),
            },
        },
        Event {
            at: at(-1),
            kind: EventKind::WinnerChanged {
                island: IslandNo(0),
                node: "db-b".into(),
                from: Some(cref(0, "app_a", PW_A_OLD, Some("previous"))),
                to: Some(cref(1, "app_b", PW_B, None)),
            },
        },
        Event {
            at: at(0),
            kind: EventKind::Warning {
                island: IslandNo(1),
                warning: WarningKind::NoMaster,
                active: true,
                detail: "no reachable node reports itself master".into(),
            },
        },
    ]
}

/// A probe record of db-b's failed chain attempt.
pub fn probe_record() -> ProbeRecord {
    ProbeRecord {
        at: at(-1),
        island: IslandNo(0),
        node: "db-b".into(),
        index: 0,
        login: "app_a".into(),
        fingerprint: crate::secret::Fingerprint::with_key(b"fixture", "pw-a"),
        label: Some("current".into()),
        mode: ProbeMode::Chain,
        outcome: ProbeRecordOutcome::Failed(ErrorKind::AuthFailed),
        latency: ms(3010),
    }
}

/// The `type` of each item of [`feed`], in order.
pub const FEED_TYPES: [&str; 6] = [
    "config_applied",
    "probe",
    "candidate_changed",
    "probe",
    "winner_changed",
    "warning",
];

/// The `type` of each NDJSON line in `bytes` (panics on a line that is not a JSON object).
pub fn line_types(bytes: &[u8]) -> Vec<String> {
    std::str::from_utf8(bytes)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
            v["type"].as_str().expect("a type").to_owned()
        })
        .collect()
}

/// A mixed feed: every fixture event, with probe records in between.
pub fn feed() -> Vec<Feed> {
    let mut ok = probe_record();
    ok.index = 1;
    ok.login = "app_b".into();
    ok.outcome = ProbeRecordOutcome::Ok;
    ok.latency = ms(5500);
    let e = events();
    vec![
        Feed::Event(e[0].clone()),
        Feed::Probe(probe_record()),
        Feed::Event(e[1].clone()),
        Feed::Probe(ok),
        Feed::Event(e[2].clone()),
        Feed::Event(e[3].clone()),
    ]
}

/// Panics if `text` contains any fixture password.
pub fn assert_no_password(text: &str) {
    for pw in PASSWORDS {
        assert!(!text.contains(pw), "output leaks a password: {text}");
    }
}
