//! The report over recordings: made by the engine and the `watch` stream (fake prober, paused
//! time) for whole scenarios, and written by hand for the edge cases of reading.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch as channel;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::cli::watch::{stream, Beat};
use crate::config::{Config, ConfigFeed, ConfigState};
use crate::engine::fake::{self, FakeProber, TokioClock};
use crate::engine::probe::Role;
use crate::engine::{Engine, EngineOptions};
use crate::report::NdjsonWriter;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// `watch --probes --record` of an engine on a fake, under paused time.
struct Recording {
    states: channel::Sender<ConfigState>,
    clock: Arc<TokioClock>,
    shutdown: CancellationToken,
    printer: JoinHandle<Vec<u8>>,
    engine: JoinHandle<()>,
}

impl Recording {
    fn start(fake: &FakeProber, config: Config) -> Self {
        let clock = Arc::new(TokioClock::new(t0()));
        let (feed, states) = ConfigFeed::manual(config, t0());
        let shutdown = CancellationToken::new();
        let handle = Engine::spawn_with(
            feed,
            clock.clone(),
            fake.clone(),
            shutdown.clone(),
            EngineOptions {
                seed: Some(7),
                ..EngineOptions::default()
            },
        );
        let mut items = handle.feed_from_start;
        let beat = Beat {
            every: Duration::from_secs(1),
            snapshots: handle.snapshots,
        };
        let printer = tokio::spawn({
            let shutdown = shutdown.clone();
            let clock = clock.clone();
            async move {
                let mut w = NdjsonWriter::new(Vec::new(), true, None);
                stream(&mut items, &mut w, &*clock, &shutdown, Some(beat))
                    .await
                    .unwrap();
                w.output().clone()
            }
        });
        Recording {
            states,
            clock,
            shutdown,
            printer,
            engine: handle.task,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        crate::clock::Clock::now(&*self.clock)
    }

    fn reload(&self, config: Config) {
        let at = self.now();
        self.states.send_modify(|s| {
            s.config = Arc::new(config);
            s.generation += 1;
            s.loaded_at = at;
        });
    }

    async fn finish(self) -> String {
        self.shutdown.cancel();
        self.engine.await.unwrap();
        String::from_utf8(self.printer.await.unwrap()).unwrap()
    }
}

fn alternating(a: &str) -> Config {
    let creds = [("app_a", a), ("app_b", "b-1")];
    fake::config(
        fake::topology(vec![
            fake::node(0, "db-a", &creds),
            fake::node(0, "db-b", &creds),
        ]),
        fake::settings(),
    )
}

fn cluster() -> FakeProber {
    let fake = FakeProber::new();
    fake.server("db-a", Role::Master)
        .password("db-a", "app_a", "a-1")
        .password("db-a", "app_b", "b-1");
    fake.server("db-b", Role::Replica)
        .password("db-b", "app_a", "a-1")
        .password("db-b", "app_b", "b-1");
    fake
}

fn proof_of(record: &str) -> Proof {
    from_record(record.as_bytes(), "trail.ndjson")
        .expect("readable")
        .expect("not empty")
}

async fn sleep(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn a_recorded_rotation_reads_back_as_one_episode_with_degraded_windows_only() {
    // Given a recording of a healthy cluster where app_a rotates, the config following 5 s later
    let fake = cluster();
    let rec = Recording::start(&fake, alternating("a-1"));
    sleep(10).await;
    fake.password("db-a", "app_a", "a-2")
        .password("db-b", "app_a", "a-2");
    let rotated = rec.now();
    sleep(5).await;
    let caught_up = rec.now();
    rec.reload(alternating("a-2"));
    // (The episode settles over 1.2 audit intervals: 12 s here.)
    sleep(20).await;
    let record = rec.finish().await;

    // When it is reported
    let p = proof_of(&record);

    // Then: one finished episode inside the rotation window, no outage, exit 1
    assert_eq!(p.verdict, Verdict::Degraded);
    assert_eq!(p.exit, 1);
    assert!(p.outages.is_empty() && p.unreachable.is_empty());
    assert!(p.gaps.is_empty(), "{:?}", p.gaps);
    assert_eq!(p.episodes.total(), 1);
    let Episode::Finished(e) = &p.episodes.items[0] else {
        panic!("finished: {:?}", p.episodes)
    };
    assert!(e.started >= rotated && (e.started - rotated).num_milliseconds() <= 1200);
    assert!(e.ended >= caught_up && (e.ended - caught_up).num_milliseconds() <= 1200);
    assert_eq!(p.degraded.total(), 2);
    for d in &p.degraded.items {
        assert!(
            d.window.from >= e.started && d.window.to <= e.ended,
            "{d:?}"
        );
    }
    // Failed authentications come from the probe lines, per node.
    assert!(
        p.nodes.iter().all(|n| n.failed_auths.chain == 1),
        "{:?}",
        p.nodes
    );
    // One chart row per credential: app_a old, app_a new, app_b.
    let rows: Vec<(&str, Cell, Cell)> = p
        .credentials
        .iter()
        .map(|c| (&*c.login, c.cells[0], *c.cells.last().unwrap()))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.contains(&("app_b", Cell::ValidEverywhere, Cell::ValidEverywhere)));
    assert!(rows.contains(&("app_a", Cell::ValidEverywhere, Cell::Absent)));
    assert!(rows.contains(&("app_a", Cell::Absent, Cell::ValidEverywhere)));
    assert_eq!(p.input.runs, 1);
    assert!(p.input.heartbeats >= 20);

    // The text says so.
    let mut text = Vec::new();
    write_text(&mut text, &p).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("verdict: DEGRADED (exit 1): no node was ever without"),
        "{text}"
    );
    assert!(text.contains("rotation 1 "), "{text}");
    assert!(
        text.contains("outages (no working credential): none"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_node_locked_out_is_exit_2_with_its_window_and_the_episode_unfinished() {
    // Given a recording where every password of db-a changes and the secrets never follow
    let fake = cluster();
    let rec = Recording::start(&fake, alternating("a-1"));
    sleep(10).await;
    fake.password("db-a", "app_a", "x-1")
        .password("db-a", "app_b", "x-2");
    let rotated = rec.now();
    sleep(20).await;
    let record = rec.finish().await;

    let p = proof_of(&record);
    assert_eq!(p.verdict, Verdict::Outage);
    assert_eq!(p.exit, 2);
    assert_eq!(p.outages.total(), 1);
    let o = &p.outages.items[0];
    assert_eq!(o.node, "db-a");
    assert!(o.window.ongoing, "still locked out when the record ends");
    assert!(o.window.from >= rotated && (o.window.from - rotated).num_milliseconds() <= 1200);
    assert_eq!(Some(o.window.to), p.to);
    assert!(matches!(p.episodes.items[..], [Episode::Unfinished { .. }]));

    let mut text = Vec::new();
    write_text(&mut text, &p).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("verdict: OUTAGE (exit 2)"), "{text}");
    assert!(text.contains("0/db-a "), "{text}");
    assert!(text.contains("UNFINISHED"), "{text}");
}

/// A few hand-written lines.
const APPLIED: &str = r#"{"at":"2026-11-28T10:00:00.000Z","type":"config_applied","path":"c.toml","generation":1,"islands":1,"nodes":1,"candidates":1}"#;

fn beat(at: &str) -> String {
    format!(
        r#"{{"type":"heartbeat","at":"2026-11-28T{at}Z","every_ms":1000,"nodes":1,"ok":1,"degraded":0,"down":0,"unknown":0,"generation":1}}"#
    )
}

fn health(at: &str, to: &str) -> String {
    format!(
        r#"{{"at":"2026-11-28T{at}Z","type":"health_changed","island":0,"node":"db","from":"unknown","to":"{to}","cause":null,"generation":1}}"#
    )
}

#[test]
fn silence_and_restarts_are_gaps_never_healthy_time() {
    // Given a healthy node, heartbeats every second, then ten silent seconds, then a restart
    let lines = [
        APPLIED.to_owned(),
        health("10:00:00.500", "ok"),
        beat("10:00:01.000"),
        beat("10:00:02.000"),
        beat("10:00:12.000"),
        beat("10:00:13.000"),
        APPLIED.replace("10:00:00.000", "10:00:20.000"),
        health("10:00:20.500", "ok"),
        beat("10:00:21.000"),
    ];
    let p = proof_of(&(lines.join("\n") + "\n"));
    // Then both are gaps, the verdict is not ok, and monitored time excludes them
    let gaps: Vec<(u32, u32)> = p
        .gaps
        .items
        .iter()
        .map(|g| {
            use chrono::Timelike;
            (g.from.second(), g.to.second())
        })
        .collect();
    assert_eq!(gaps, [(2, 12), (13, 20)]);
    assert_eq!(p.verdict, Verdict::Degraded);
    assert_eq!(p.monitored_ms, 21_000 - 17_000);
    assert_eq!(p.input.runs, 2);
    // Without the gaps the same node is ok: exit 0.
    let p = proof_of(&(lines[..4].join("\n") + "\n"));
    assert_eq!(p.verdict, Verdict::Ok);
    assert_eq!(p.exit, 0);
}

#[test]
fn a_cut_last_line_is_tolerated_and_said() {
    let text = format!(
        "{APPLIED}\n{}\n{}",
        beat("10:00:01.000"),
        &beat("10:00:02.000")[..30]
    );
    let p = proof_of(&text);
    assert!(p.input.truncated_last_line);
    assert_eq!(p.input.lines, 2);
    let mut out = Vec::new();
    write_text(&mut out, &p).unwrap();
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("the last line was cut short"));
}

#[test]
fn nothing_read_proves_nothing_and_a_bad_line_names_its_number() {
    assert!(from_record(&b"\n\n"[..], "e.ndjson").unwrap().is_none());
    let err = from_record(
        format!("{APPLIED}\nnot json\n{APPLIED}\n").as_bytes(),
        "b.ndjson",
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("b.ndjson: line 2: "), "{err}");
}

#[test]
fn json_has_the_contract_fields() {
    let p = proof_of(&format!(
        "{APPLIED}\n{}\n",
        health("10:00:01.000", "degraded")
    ));
    let mut out = Vec::new();
    write_json(&mut out, &p).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for key in [
        "source",
        "verdict",
        "exit",
        "from",
        "to",
        "monitored_ms",
        "gaps",
        "episodes",
        "outages",
        "unreachable",
        "degraded",
        "nodes",
        "credentials",
        "chart",
        "input",
    ] {
        assert!(v.get(key).is_some(), "no {key}: {v}");
    }
    assert_eq!(v["verdict"], "degraded");
    assert_eq!(v["degraded"]["items"][0]["ongoing"], true);
    assert_eq!(v["degraded"]["items"][0]["node"], "db");
}

#[test]
fn a_relabeled_credential_is_reported_under_its_new_label() {
    use crate::engine::event::{CandidateRef, Event, EventKind};
    use crate::engine::snapshot::CandidateState;
    let at = |s: &str| -> DateTime<Utc> { format!("2026-11-28T{s}Z").parse().unwrap() };
    let app = |label: &str| CandidateRef {
        index: 0,
        login: "app".into(),
        label: Some(label.into()),
        fingerprint: crate::secret::Password::new("p").fingerprint(),
    };
    let line = |at, kind| serde_json::to_string(&Event { at, kind }).unwrap();
    let lines = [
        APPLIED.to_owned(),
        line(
            at("10:00:00.500"),
            EventKind::CandidateChanged {
                island: IslandNo(0),
                node: "db".into(),
                candidate: app("current"),
                from: CandidateState::Untested,
                to: CandidateState::Valid,
                error: None,
            },
        ),
        beat("10:00:01.000"),
        line(
            at("10:00:01.500"),
            EventKind::CandidateRelabeled {
                island: IslandNo(0),
                node: "db".into(),
                candidate: app("previous"),
                from_label: Some("current".into()),
            },
        ),
        beat("10:00:02.000"),
    ];
    let p = proof_of(&(lines.join("\n") + "\n"));
    let labels: Vec<Option<&str>> = p.credentials.iter().map(|c| c.label.as_deref()).collect();
    assert_eq!(labels, [Some("previous")]);
}
