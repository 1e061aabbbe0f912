//! The lab itself, against real PostgreSQL: servers, passwords, replicas, promotion, crashes,
//! cleanup.

use std::time::Duration;

use rotascope::lab::{HungServer, Lab, LabError, ServerOptions};
use tokio::io::AsyncReadExt;

const PW_OLD: &str = "lab-old-Pa55word";
const PW_NEW: &str = "lab-new-Pa55word";

/// Polls `check` until it returns true, failing after `within`.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_no_secret(text: &str) {
    for pw in [PW_OLD, PW_NEW] {
        assert!(!text.contains(pw), "password leaked into: {text}");
    }
}

#[tokio::test]
async fn passwords_change_for_real() {
    let lab = Lab::new().unwrap();
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    pg.create_role("app_a", PW_OLD).await.unwrap();
    pg.connect("app_a", PW_OLD, "postgres").await.unwrap();

    pg.set_password("app_a", PW_NEW).await.unwrap();
    let err = pg.connect("app_a", PW_OLD, "postgres").await.unwrap_err();
    match &err {
        LabError::Sql { code, .. } => assert_eq!(code.as_deref(), Some("28P01")),
        other => panic!("expected an SQL error, got {other:?}"),
    }
    assert_no_secret(&err.to_string());
    assert_no_secret(&format!("{err:?}"));
    let client = pg.connect("app_a", PW_NEW, "postgres").await.unwrap();
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "app_a");

    // The URL form carries the credentials, percent-encoded; the conn string carries none.
    let url = pg.url("app_a", "p@ss:w/rd", "postgres");
    assert!(url.contains("app_a:p%40ss%3Aw%2Frd@127.0.0.1:"), "{url}");
    assert_eq!(
        pg.conn_string("postgres"),
        format!("postgres://127.0.0.1:{}/postgres", pg.port())
    );
}

#[tokio::test]
async fn databases_and_schemas_are_created() {
    let lab = Lab::new().unwrap();
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    pg.create_database("shop").await.unwrap();
    pg.create_schema("shop", "sh0001").await.unwrap();
    let client = pg.admin("shop").await.unwrap();
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'sh0001'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    // Settings asked for are in force.
    let row = pg.query_one("SHOW password_encryption").await.unwrap();
    assert_eq!(row.get::<_, String>(0), "scram-sha-256");
    let row = pg.query_one("SHOW listen_addresses").await.unwrap();
    assert_eq!(row.get::<_, String>(0), "127.0.0.1");
}

#[tokio::test]
async fn a_replica_streams_and_can_be_promoted() {
    let lab = Lab::new().unwrap();
    let primary = lab.start_server(ServerOptions::default()).await.unwrap();
    let replica = primary.start_replica().await.unwrap();
    assert_ne!(primary.port(), replica.port());

    primary
        .execute("CREATE TABLE t (v int); INSERT INTO t VALUES (42)")
        .await
        .unwrap();
    eventually(
        "the row on the replica",
        Duration::from_secs(20),
        || async {
            match replica.query_one("SELECT v FROM t").await {
                Ok(row) => row.get::<_, i32>(0) == 42,
                Err(_) => false,
            }
        },
    )
    .await;
    let row = replica
        .query_one("SELECT pg_is_in_recovery()")
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    let row = primary
        .query_one("SELECT count(*) FROM pg_stat_replication")
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);

    // The replication password stays inside the lab directory.
    let auto = std::fs::read_to_string(replica.data_dir().join("postgresql.auto.conf")).unwrap();
    assert!(auto.contains("primary_conninfo"));
    assert!(replica.data_dir().starts_with(lab.dir()));

    primary.stop().await.unwrap();
    replica.promote().await.unwrap();
    let row = replica
        .query_one("SELECT pg_is_in_recovery()")
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0));
    replica.execute("INSERT INTO t VALUES (43)").await.unwrap();
}

#[tokio::test]
async fn stop_start_kill_and_restart() {
    let lab = Lab::new().unwrap();
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    let port = pg.port();

    pg.stop().await.unwrap();
    assert!(!pg.is_running());
    assert!(pg.execute("SELECT 1").await.is_err());
    pg.start().await.unwrap();
    pg.execute("SELECT 1").await.unwrap();

    let pid = pg.pid().expect("running");
    pg.kill().await.unwrap();
    assert!(!pg.is_running());
    assert!(!alive(pid));
    assert!(pg.execute("SELECT 1").await.is_err());

    pg.start().await.unwrap();
    pg.wait_ready().await.unwrap();
    assert_eq!(pg.port(), port, "a restart keeps the port");
    pg.restart().await.unwrap();
    pg.execute("SELECT 1").await.unwrap();
    assert!(matches!(
        {
            pg.kill().await.unwrap();
            pg.kill().await
        },
        Err(LabError::NotRunning(_))
    ));
}

#[tokio::test]
async fn dropping_the_lab_leaves_no_process_and_no_files() {
    let lab = Lab::new().unwrap();
    let dir = lab.dir().to_path_buf();
    let primary = lab.start_server(ServerOptions::default()).await.unwrap();
    let replica = primary.start_replica().await.unwrap();
    let pids = [primary.pid().unwrap(), replica.pid().unwrap()];
    let backends = children_of(pids[0]);
    assert!(!backends.is_empty(), "a postmaster has helper processes");
    drop(lab);
    assert!(dir.exists(), "servers keep the lab directory alive");
    drop(replica);
    drop(primary);
    for pid in pids.iter().chain(&backends) {
        assert!(!alive(*pid), "process {pid} survived the drop");
    }
    assert!(!dir.exists(), "the lab directory was removed");
}

#[tokio::test]
async fn a_kept_lab_keeps_its_files() {
    let lab = Lab::new().unwrap();
    lab.keep(true);
    let dir = lab.dir().to_path_buf();
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    let log = pg.log_path();
    let pid = pg.pid().unwrap();
    drop(pg);
    drop(lab);
    assert!(!alive(pid), "kept files, but the server is stopped");
    assert!(log.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_tls_server_writes_the_lab_ca() {
    let lab = Lab::new().unwrap();
    let pg = lab
        .start_server(ServerOptions::default().tls(true).max_connections(7))
        .await
        .unwrap();
    assert!(pg.tls());
    let ca = std::fs::read_to_string(lab.ca_cert_path()).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(pg.ca_cert_path(), lab.ca_cert_path());
    let row = pg.query_one("SHOW ssl").await.unwrap();
    assert_eq!(row.get::<_, String>(0), "on");
    let row = pg.query_one("SHOW max_connections").await.unwrap();
    assert_eq!(row.get::<_, String>(0), "7");
}

#[tokio::test]
async fn a_lab_in_a_given_directory_removes_only_its_servers() {
    let parent = tempfile::tempdir().unwrap();
    let lab = Lab::in_dir(parent.path()).unwrap();
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    let server_dir = pg.dir().to_path_buf();
    assert!(server_dir.starts_with(parent.path().canonicalize().unwrap()));
    drop(pg);
    drop(lab);
    assert!(!server_dir.exists());
    assert!(parent.path().exists());
}

#[tokio::test]
async fn a_hung_server_accepts_and_never_answers() {
    let hung = HungServer::start().await.unwrap();
    let mut socket = tokio::net::TcpStream::connect(hung.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buf)).await;
    assert!(read.is_err(), "it must not answer");
    eventually("the accept count", Duration::from_secs(5), || async {
        hung.accepted() == 1
    })
    .await;
    drop(hung);
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
        .await
        .expect("dropping it closes the connection");
    assert!(matches!(read, Ok(0) | Err(_)));
}

/// A process is alive when /proc has it and it is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        }
        Err(_) => false,
    }
}

/// Processes whose parent is `ppid`.
fn children_of(ppid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let (_, rest) = s.rsplit_once(')')?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(ppid)
        })
        .collect()
}
