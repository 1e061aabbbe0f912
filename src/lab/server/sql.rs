//! Connections as any role, and superuser SQL (roles, passwords, databases, schemas).

use std::time::Duration;

use tokio_postgres::{Client, NoTls, Row};

use super::super::{text, LabError, SUPERUSER};
use super::Server;
use crate::secret::{redact_all, Password};

impl Server {
    fn config(&self, login: &str, password: &str, db: &str, app: &str) -> tokio_postgres::Config {
        let mut pg = tokio_postgres::Config::new();
        pg.host("127.0.0.1")
            .port(self.port())
            .user(login)
            .password(password)
            .dbname(db)
            .application_name(app)
            .connect_timeout(Duration::from_secs(10))
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        pg
    }

    /// Opens a connection as `login` (no TLS); its driver task runs on the current runtime and
    /// ends when the client is dropped. Useful to hold connection slots.
    pub async fn connect(&self, login: &str, password: &str, db: &str) -> Result<Client, LabError> {
        self.connect_as_app(login, password, db, "rotascope-lab")
            .await
    }

    /// [`Server::connect`] with this `application_name`: a session as an application would hold
    /// it, to be counted in `pg_stat_activity`.
    pub async fn connect_as_app(
        &self,
        login: &str,
        password: &str,
        db: &str,
        app: &str,
    ) -> Result<Client, LabError> {
        let secret = Password::new(password);
        let (client, connection) = self
            .config(login, password, db, app)
            .connect(NoTls)
            .await
            .map_err(|e| {
                self.sql_err(
                    format!("connecting to {} as {login}", self.name),
                    &e,
                    &[&secret],
                )
            })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Opens a superuser connection to database `db`.
    pub async fn admin(&self, db: &str) -> Result<Client, LabError> {
        let pw = self.lab.superuser_password.expose().to_owned();
        self.connect(SUPERUSER, &pw, db).await
    }

    /// Runs SQL (one or more statements) as superuser in database `postgres`.
    pub async fn execute(&self, sql: &str) -> Result<(), LabError> {
        self.execute_in("postgres", sql).await
    }

    /// Runs SQL (one or more statements) as superuser in database `db`.
    pub async fn execute_in(&self, db: &str, sql: &str) -> Result<(), LabError> {
        self.execute_redacted(db, sql, &[]).await
    }

    async fn execute_redacted(
        &self,
        db: &str,
        sql: &str,
        secrets: &[&Password],
    ) -> Result<(), LabError> {
        let client = self.admin(db).await?;
        client
            .batch_execute(sql)
            .await
            .map_err(|e| self.sql_err(format!("running SQL on {}", self.name), &e, secrets))
    }

    /// Runs one query as superuser in database `postgres` and returns its rows.
    pub async fn query(&self, sql: &str) -> Result<Vec<Row>, LabError> {
        let client = self.admin("postgres").await?;
        client
            .query(sql, &[])
            .await
            .map_err(|e| self.sql_err(format!("querying {}", self.name), &e, &[]))
    }

    /// Runs one query that returns exactly one row, as superuser in database `postgres`.
    pub async fn query_one(&self, sql: &str) -> Result<Row, LabError> {
        let client = self.admin("postgres").await?;
        client
            .query_one(sql, &[])
            .await
            .map_err(|e| self.sql_err(format!("querying {}", self.name), &e, &[]))
    }

    /// `CREATE ROLE login LOGIN PASSWORD password`.
    pub async fn create_role(&self, login: &str, password: &str) -> Result<(), LabError> {
        let sql = format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            text::ident(login),
            text::literal(password)
        );
        self.execute_redacted("postgres", &sql, &[&Password::new(password)])
            .await
    }

    /// `ALTER ROLE login PASSWORD password`: a real rotation, as a rotation tool does it.
    pub async fn set_password(&self, login: &str, password: &str) -> Result<(), LabError> {
        let sql = format!(
            "ALTER ROLE {} PASSWORD {}",
            text::ident(login),
            text::literal(password)
        );
        self.execute_redacted("postgres", &sql, &[&Password::new(password)])
            .await
    }

    /// `ALTER ROLE login PASSWORD password` stored under `password_encryption = encryption`
    /// (`md5` or `scram-sha-256`): an md5 pg_hba line needs an MD5-stored password, else the
    /// server answers with SCRAM anyway.
    pub async fn set_password_encrypted(
        &self,
        login: &str,
        password: &str,
        encryption: &str,
    ) -> Result<(), LabError> {
        let sql = format!(
            "SET password_encryption = {}; ALTER ROLE {} PASSWORD {}",
            text::literal(encryption),
            text::ident(login),
            text::literal(password)
        );
        self.execute_redacted("postgres", &sql, &[&Password::new(password)])
            .await
    }

    /// `CREATE DATABASE name`.
    pub async fn create_database(&self, name: &str) -> Result<(), LabError> {
        self.execute(&format!("CREATE DATABASE {}", text::ident(name)))
            .await
    }

    /// `CREATE SCHEMA name` in database `db`.
    pub async fn create_schema(&self, db: &str, name: &str) -> Result<(), LabError> {
        self.execute_in(db, &format!("CREATE SCHEMA {}", text::ident(name)))
            .await
    }

    fn sql_err(&self, what: String, e: &tokio_postgres::Error, secrets: &[&Password]) -> LabError {
        let (code, message) = match e.as_db_error() {
            Some(db) => (Some(db.code().code().to_owned()), db.message().to_owned()),
            None => (None, crate::engine::classify::chain_text(e)),
        };
        let all = secrets
            .iter()
            .copied()
            .chain(std::iter::once(&self.lab.superuser_password));
        LabError::Sql {
            what,
            code,
            message: redact_all(&message, all),
        }
    }
}
