//! PgBouncer's two files, as text: `pgbouncer.ini` and the `auth_file` (`userlist.txt`). Pure,
//! so every line is unit-tested.

use std::fmt::Write as _;
use std::path::Path;

use super::{PoolMode, PoolerAuth, AUTH_USER, LOOKUP_FUNCTION};

/// What goes into `pgbouncer.ini`.
#[derive(Clone, Debug)]
pub struct Ini<'a> {
    /// The pooler's own loopback port.
    pub port: u16,
    /// The PostgreSQL server behind it (loopback).
    pub backend_port: u16,
    /// The databases it pools, each to the database of the same name on the backend.
    pub databases: &'a [String],
    /// Session or transaction pooling.
    pub mode: PoolMode,
    /// How it checks passwords.
    pub auth: PoolerAuth,
    /// Its directory (auth file, log, pid file).
    pub dir: &'a Path,
    /// `max_client_conn`.
    pub max_client_conn: u32,
    /// `default_pool_size`.
    pub default_pool_size: u32,
    /// More `[pgbouncer]` settings, written last (a later line wins).
    pub extra: &'a [(String, String)],
}

impl Ini<'_> {
    /// The file's text.
    pub fn text(&self) -> String {
        let mut s = String::from("; written by the rotascope lab\n[databases]\n");
        for db in self.databases {
            let _ = writeln!(
                s,
                "{db} = host=127.0.0.1 port={} dbname={db}",
                self.backend_port
            );
        }
        let dir = self.dir.display();
        let _ = write!(
            s,
            "\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             ; no unix socket: the lab's paths may be too long for one, and probes use TCP\n\
             unix_socket_dir =\n\
             auth_type = scram-sha-256\n\
             auth_file = {dir}/userlist.txt\n\
             admin_users = {AUTH_USER}\n\
             pool_mode = {mode}\n\
             max_client_conn = {max_client_conn}\n\
             default_pool_size = {pool}\n\
             ; a backend back from a restart is used again within a second\n\
             server_login_retry = 1\n\
             logfile = {dir}/pgbouncer.log\n\
             pidfile = {dir}/pgbouncer.pid\n\
             ; sent by tokio-postgres, which the lab's own admin connections use\n\
             ignore_startup_parameters = extra_float_digits\n",
            port = self.port,
            mode = self.mode.as_str(),
            max_client_conn = self.max_client_conn,
            pool = self.default_pool_size,
        );
        if self.auth == PoolerAuth::Query {
            let _ = write!(
                s,
                "auth_user = {AUTH_USER}\n\
                 auth_query = SELECT usename, passwd FROM {LOOKUP_FUNCTION}($1)\n"
            );
        }
        for (name, value) in self.extra {
            let _ = writeln!(s, "{name} = {value}");
        }
        s
    }
}

/// An `auth_file`: one `"login" "secret"` line per entry (a SCRAM verifier or, for the auth
/// user, the password itself), double quotes doubled.
pub fn userlist(entries: &[(String, String)]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    entries
        .iter()
        .map(|(login, secret)| format!("{} {}\n", quote(login), quote(secret)))
        .collect()
}

/// True for a database name PgBouncer's `[databases]` section takes as written.
pub fn plain_name(db: &str) -> bool {
    !db.is_empty()
        && db.len() < 64
        && db.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && db != "pgbouncer"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(auth: PoolerAuth, mode: PoolMode) -> String {
        let dbs = ["app".to_owned(), "postgres".to_owned()];
        let extra = [("query_wait_timeout".to_owned(), "1".to_owned())];
        Ini {
            port: 6432,
            backend_port: 5432,
            databases: &dbs,
            mode,
            auth,
            dir: Path::new("/tmp/lab/bouncer1"),
            max_client_conn: 100,
            default_pool_size: 5,
            extra: &extra,
        }
        .text()
    }

    #[test]
    fn the_ini_pools_each_database_to_the_backend_and_checks_scram() {
        let text = ini(PoolerAuth::Query, PoolMode::Transaction);
        for line in [
            "app = host=127.0.0.1 port=5432 dbname=app",
            "postgres = host=127.0.0.1 port=5432 dbname=postgres",
            "listen_addr = 127.0.0.1",
            "listen_port = 6432",
            "auth_type = scram-sha-256",
            "auth_file = /tmp/lab/bouncer1/userlist.txt",
            "auth_user = pgbouncer_auth",
            "auth_query = SELECT usename, passwd FROM public.lab_pooler_lookup($1)",
            "pool_mode = transaction",
            "query_wait_timeout = 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Settings come after the sections' headers they belong to.
        assert!(text.find("[pgbouncer]") < text.find("listen_port"));
        assert!(text.find("query_wait_timeout") > text.find("pool_mode"));
    }

    #[test]
    fn the_auth_file_variant_has_no_auth_query() {
        let text = ini(PoolerAuth::File, PoolMode::Session);
        assert!(!text.contains("auth_query"), "{text}");
        assert!(!text.contains("auth_user ="), "{text}");
        assert!(text.contains("pool_mode = session"));
    }

    #[test]
    fn userlist_lines_quote_their_fields() {
        let text = userlist(&[
            ("app".into(), "SCRAM-SHA-256$4096:abc$def:ghi".into()),
            ("we\"ird".into(), "pw".into()),
        ]);
        assert_eq!(
            text,
            "\"app\" \"SCRAM-SHA-256$4096:abc$def:ghi\"\n\"we\"\"ird\" \"pw\"\n"
        );
    }

    #[test]
    fn only_plain_database_names_are_pooled() {
        assert!(plain_name("app_1"));
        for bad in ["", "a b", "x;y", "pgbouncer", "é"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
    }
}
