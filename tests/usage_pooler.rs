//! Sessions through a real PgBouncer (issue 15): the sessions counted are the pooler's server
//! connections, and every view says "via pooler".

mod support;

use rotascope::lab::{Lab, PoolMode, PoolerOptions, ServerOptions};
use support::{node, ConfigFile, Running, Settings};
use tokio_postgres::{Client, NoTls};

const PW: &str = "usage-pooled-Hy6t4r";

/// A client session through the pooler, calling itself `app`.
async fn session(port: u16, app: &str) -> Client {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("app")
        .password(PW)
        .dbname("app")
        .application_name(app)
        .ssl_mode(tokio_postgres::config::SslMode::Disable)
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("session through the pooler: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // Session pooling links a server connection at the first query.
    client.simple_query("SELECT 1").await.expect("query");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_through_pgbouncer_are_its_server_connections_via_pooler() {
    let lab = Lab::new().unwrap();
    let pg = lab.start_server(ServerOptions::default()).await.unwrap();
    pg.create_role("app", PW).await.unwrap();
    pg.create_database("app").await.unwrap();
    let bouncer = lab
        .start_pgbouncer(
            &pg,
            PoolerOptions::default()
                .mode(PoolMode::Session)
                .databases(&["app"]),
        )
        .await
        .unwrap();
    let file = ConfigFile::new(&format!(
        "{}[[island]]\nno = 0\n\n[[island.node]]\nname = \"db\"\nurl = \"{}\"\nlogin = \"app\"\n\
         password = \"{PW}\"\nvia = \"pgbouncer\"\n\n\
         [[island.node]]\nname = \"db\"\nurl = \"{}\"\nlogin = \"app\"\n\
         password = \"{PW}\"\nvia = \"direct\"\n\n",
        Settings::default().toml(),
        bouncer.conn_string("app"),
        pg.conn_string("app"),
    ));
    // Two clients hold two server connections (session pooling).
    let _one = session(bouncer.port(), "billing").await;
    let _two = session(bouncer.port(), "billing").await;
    let mut run = Running::start(&file).await;
    let s = run
        .wait("the pooler's server connections counted", |s| {
            node(s, "db")
                .usage
                .iter()
                .any(|u| u.sessions().is_some_and(|n| n >= 2))
        })
        .await;
    let u = &node(&s, "db").usage[0];
    assert!(u.via_pooler, "{u:?}");
    // The node lists one password by two paths: that is one password, not "one login, 2
    // passwords".
    assert_eq!(u.passwords, 1, "{u:?}");
    let login = s.usage.iter().find(|l| l.login == "app").expect("app");
    assert!(login.via_pooler && !login.safe_to_revoke, "{login:?}");
    assert!(!login.shared_by_passwords, "{login:?}");
    run.assert_no_leak(&[PW]);
}
