//! Issue 14 item 8, against real PostgreSQL: a reload while probes are in flight lets them end
//! normally. Before, every reload that changed a node's candidates aborted its job, dropping the
//! prober's future mid-connection: the socket went down with a TCP reset and the server logged
//! "could not receive data from client: Connection reset by peer" for each one.
//!
//! Many nodes (one server behind many names) are chain-probed every 100 ms, so probes are in
//! flight whenever the config changes; each reload adds or removes a stale candidate on every
//! node. Then the server log holds no reset, and the state is what the last config says.

mod support;

use rotascope::engine::snapshot::CandidateState;
use rotascope::engine::Health;
use rotascope::lab::ServerOptions;
use support::{island, lab_server, ConfigFile, Running, Settings};

const A: &str = "inflight-a-Wq3v8k";
const B: &str = "inflight-b-Rt5n2x";
const NODES: u32 = 24;
const RELOADS: u64 = 12;

/// Every node: app_a and app_b (both right), then a stale app_a password when `stale` is set.
fn config(url: &str, stale: Option<&str>) -> String {
    let settings = Settings {
        interval: "100ms",
        watch: false,
        ..Settings::default()
    };
    let mut text = settings.toml();
    let mut creds = vec![("app_a", A), ("app_b", B)];
    if let Some(stale) = stale {
        creds.push(("app_a", stale));
    }
    for no in 0..NODES {
        text.push_str(&island(no, &format!("n{no}"), url, &creds));
    }
    text
}

/// Lines of the server log that tell of a connection torn down mid-conversation.
fn resets(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("reset by peer")
                || l.contains("could not receive data from client")
                || l.contains("could not send data to client")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_let_probes_in_flight_finish_and_the_server_logs_no_reset() {
    let pg = lab_server(ServerOptions::default().max_connections(100)).await;
    pg.create_role("app_a", A).await.expect("app_a");
    pg.create_role("app_b", B).await.expect("app_b");
    let url = pg.conn_string("postgres");
    let file = ConfigFile::new(&config(&url, None));
    let mut run = Running::start(&file).await;
    run.wait("every node ok", |s| {
        s.nodes().count() == NODES as usize && s.nodes().all(|n| n.health == Health::Ok)
    })
    .await;
    let log_before = std::fs::read_to_string(pg.log_path()).expect("server log");

    for generation in 2..=RELOADS + 1 {
        // Odd generations list a stale password (a new one each time), even ones drop it.
        let stale = format!("inflight-stale-{generation}");
        let stale = (generation % 2 == 0).then_some(stale.as_str());
        let from = run.feed.mark();
        file.replace(&config(&url, stale));
        run.command(rotascope::engine::Command::Reload).await;
        run.feed.applied(from, generation).await;
        // Let chains and the new candidate's audit get going before the next reload.
        run.feed
            .count_probes(from, NODES as usize, "probes after the reload", |_| true)
            .await;
    }

    let last = RELOADS + 1;
    let s = run
        .wait("every node ok under the last config", |s| {
            s.config.generation == last
                && s.nodes().all(|n| {
                    n.health == Health::Ok
                        && n.candidates.len() == 2
                        && n.candidates
                            .iter()
                            .all(|c| c.state == CandidateState::Valid)
                })
        })
        .await;
    for n in s.nodes() {
        assert_eq!(n.winner, Some(0), "{}", support::describe(&s));
        assert_eq!(n.remembered_best, Some(0));
    }

    let log = std::fs::read_to_string(pg.log_path()).expect("server log");
    let new = &log[log_before.len().min(log.len())..];
    let found = resets(new);
    assert!(
        found.is_empty(),
        "{} connections were torn down by the monitor:\n{}",
        found.len(),
        found.join("\n")
    );
    drop(run);
}
