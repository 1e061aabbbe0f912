//! libpq's rules as a table: each connection string, what it resolves to (or the error), with
//! cases taken from libpq's documentation (34.1.1 Connection Strings, 34.1.2 Parameter Key
//! Words) and from the reports in issues 8 and 14.

use std::path::Path;

use super::*;

fn ctx() -> Context<'static> {
    Context {
        default_socket_dir: Path::new("/run/pg"),
        base_dir: Path::new("/etc/rotascope"),
        home: Some(Path::new("/home/u")),
        pgpassfile_env: None,
    }
}

/// `hosts | db user pw ssl attrs timeout`: what the string resolves to.
fn summary(s: &str) -> Result<String, String> {
    let p = parse(s).map_err(|e| e.to_string())?;
    let r = resolve(&p.options, &ctx()).map_err(|e| e.to_string())?;
    let hosts: Vec<String> = r.hosts.iter().map(|h| h.endpoint.to_string()).collect();
    Ok(format!(
        "{} | db={} user={} pw={} ssl={} attrs={} timeout={}",
        hosts.join(","),
        r.dbname,
        r.user.as_deref().unwrap_or("-"),
        if r.password.is_some() { "yes" } else { "no" },
        r.tls.mode.as_str(),
        r.session_attrs.as_str(),
        r.connect_timeout
            .map_or("-".into(), |d| format!("{}s", d.as_secs())),
    ))
}

const D: &str = "db=postgres user=- pw=no ssl=prefer attrs=any timeout=-";

#[test]
fn what_each_string_reaches() {
    let sock = "/run/pg/.s.PGSQL.5432";
    let cases: Vec<(&str, String)> = vec![
        // --- the last keyword wins (issue 8: the replica/primary mix-up)
        ("host=H port=6001 host=H port=6002", format!("H:6002 | {D}")),
        (
            "postgres://u@H:6001/db?host=H&port=6002",
            "H:6002 | db=db user=u pw=no ssl=prefer attrs=any timeout=-".into(),
        ),
        (
            "postgresql://host/db?user=u&port=12345",
            "host:12345 | db=db user=u pw=no ssl=prefer attrs=any timeout=-".into(),
        ),
        ("dbname=a dbname=b host=h", "h:5432 | db=b user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgres://h/one?dbname=two", "h:5432 | db=two user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgres://:12345/", format!("/run/pg/.s.PGSQL.12345 | {D}")),
        // --- the documentation's URI examples
        ("postgresql://", format!("{sock} | {D}")),
        ("postgresql://localhost", format!("localhost:5432 | {D}")),
        ("postgresql://localhost:5433", format!("localhost:5433 | {D}")),
        ("postgresql://localhost/mydb", "localhost:5432 | db=mydb user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgresql://user@localhost", "localhost:5432 | db=postgres user=user pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgresql://user:secret@localhost", "localhost:5432 | db=postgres user=user pw=yes ssl=prefer attrs=any timeout=-".into()),
        (
            "postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp",
            "localhost:5432 | db=otherdb user=other pw=no ssl=prefer attrs=any timeout=10s".into(),
        ),
        (
            "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
            "host1:123,host2:456 | db=somedb user=- pw=no ssl=prefer attrs=any timeout=-".into(),
        ),
        ("postgresql:///mydb?host=localhost&port=5433", "localhost:5433 | db=mydb user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgresql://[2001:db8::1234]/database", "[2001:db8::1234]:5432 | db=database user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgresql://[::1]:5433,[::2]/db", "[::1]:5433,[::2]:5432 | db=db user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgresql:///dbname?host=/var/lib/postgresql", "/var/lib/postgresql/.s.PGSQL.5432 | db=dbname user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgresql://%2Fvar%2Flib%2Fpostgresql/dbname", "/var/lib/postgresql/.s.PGSQL.5432 | db=dbname user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgres://h/d%20b", "h:5432 | db=d b user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgres://h,/db", "h:5432,/run/pg/.s.PGSQL.5432 | db=db user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgres://h:1,h:2?port=3", format!("h:3,h:3 | {D}")),
        // --- JDBC's ssl=true and libpq's legacy requiressl
        ("postgres://h/db?ssl=true", "h:5432 | db=db user=- pw=no ssl=require attrs=any timeout=-".into()),
        ("host=h requiressl=1", "h:5432 | db=postgres user=- pw=no ssl=require attrs=any timeout=-".into()),
        ("host=h sslmode=require requiressl=0", format!("h:5432 | {D}")),
        // --- key=value syntax: blanks, quotes, escapes
        ("host = h\tport =\n5433", format!("h:5433 | {D}")),
        (r"host=h user='a b\'c'", "h:5432 | db=postgres user=a b'c pw=no ssl=prefer attrs=any timeout=-".into()),
        (r"host=h user=a\ b\\c", "h:5432 | db=postgres user=a b\\c pw=no ssl=prefer attrs=any timeout=-".into()),
        ("host=h dbname=''", format!("h:5432 | {D}")),
        ("host='' port=5440", format!("/run/pg/.s.PGSQL.5440 | {D}")),
        ("host='h' port='5433'dbname='x'", "h:5433 | db=x user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        // --- multiple hosts
        ("host=a,b,c port=1,2,3", format!("a:1,b:2,c:3 | {D}")),
        ("host=a,b port=5433", format!("a:5433,b:5433 | {D}")),
        ("host=a,,c", format!("a:5432,{sock},c:5432 | {D}")),
        ("host=a,b port=,7", format!("a:5432,b:7 | {D}")),
        ("host=/tmp,db2 port=5432,5433", format!("/tmp/.s.PGSQL.5432,db2:5433 | {D}")),
        // --- hostaddr
        ("hostaddr=10.0.0.1", format!("10.0.0.1:5432 | {D}")),
        ("host=db hostaddr=10.0.0.1 port=6", format!("db (10.0.0.1):6 | {D}")),
        ("host=a,b hostaddr=1.1.1.1,::2", format!("a (1.1.1.1):5432,b (::2):5432 | {D}")),
        ("hostaddr=,10.0.0.2 host=a,b", format!("a:5432,b (10.0.0.2):5432 | {D}")),
        // --- sockets
        ("host=/var/run/postgresql", format!("/var/run/postgresql/.s.PGSQL.5432 | {D}")),
        ("host=/var/run/postgresql port=5433", format!("/var/run/postgresql/.s.PGSQL.5433 | {D}")),
        ("dbname=x", "/run/pg/.s.PGSQL.5432 | db=x user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        // --- connect_timeout as libpq reads it: at least 2 s, 0 or less is none
        ("host=h connect_timeout=6", "h:5432 | db=postgres user=- pw=no ssl=prefer attrs=any timeout=6s".into()),
        ("host=h connect_timeout=1", "h:5432 | db=postgres user=- pw=no ssl=prefer attrs=any timeout=2s".into()),
        ("host=h connect_timeout=0", format!("h:5432 | {D}")),
        ("host=h connect_timeout=-3", format!("h:5432 | {D}")),
        ("host=h connect_timeout=' 7 '", "h:5432 | db=postgres user=- pw=no ssl=prefer attrs=any timeout=7s".into()),
        // --- settings honoured
        ("host=h target_session_attrs=primary", "h:5432 | db=postgres user=- pw=no ssl=prefer attrs=primary timeout=-".into()),
        ("host=h sslrootcert=system", "h:5432 | db=postgres user=- pw=no ssl=verify-full attrs=any timeout=-".into()),
        ("host=h sslmode=verify-full sslrootcert=system", "h:5432 | db=postgres user=- pw=no ssl=verify-full attrs=any timeout=-".into()),
        // --- accepted with no effect, as documented
        (
            "host=h keepalives=1 keepalives_idle=30 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=0 \
             load_balance_hosts=random gssencmode=prefer krbsrvname=pg gsslib=gssapi gssdelegation=0 \
             sslcompression=0 replication=false sslnegotiation=postgres sslcertmode=allow \
             ssl_min_protocol_version=TLSv1.2 ssl_max_protocol_version=TLSv1.3 client_encoding=UTF8 \
             fallback_application_name=x sslcrldir='' requirepeer=",
            format!("h:5432 | {D}"),
        ),
        // --- issue 14 item 5: a password in a query parameter stays a query parameter
        (
            "postgres://127.0.0.1:36867/db?user=app_a&password=Tr0ub4dor@horse-battery",
            "127.0.0.1:36867 | db=db user=app_a pw=yes ssl=prefer attrs=any timeout=-".into(),
        ),
        // --- URL passwords to the last @ (documented deviation)
        ("postgres://app:2024/Spring!@db/app", "db:5432 | db=app user=app pw=yes ssl=prefer attrs=any timeout=-".into()),
        ("postgres://app:x@y@db:6/app", "db:6 | db=app user=app pw=yes ssl=prefer attrs=any timeout=-".into()),
        ("postgres://app@srv:pw@srv.example.com/db", "srv.example.com:5432 | db=db user=app@srv pw=yes ssl=prefer attrs=any timeout=-".into()),
        ("postgres://h/d@b?application_name=me@corp", "h:5432 | db=d@b user=- pw=no ssl=prefer attrs=any timeout=-".into()),
        ("postgres://u@h/d@b", "h:5432 | db=d@b user=u pw=no ssl=prefer attrs=any timeout=-".into()),
    ];
    for (s, expected) in cases {
        assert_eq!(summary(s).as_deref(), Ok(expected.as_str()), "{s}");
    }
}

#[test]
fn what_libpq_refuses_is_refused() {
    let cases: &[(&str, &str)] = &[
        ("", "empty connection string"),
        ("   ", "empty connection string"),
        (
            "justaword",
            "missing \"=\" after the option name at character 1",
        ),
        (
            "host=h password='open",
            "unterminated quoted value (the quote at character 17)",
        ),
        ("host=h bogus=1", "invalid connection option `bogus`"),
        ("host=h ssl=true", "invalid connection option `ssl`"),
        (
            "host=h p@ss=1",
            "invalid connection option name at character 8",
        ),
        (
            "postgres://h/db?bogus=1",
            "invalid URL query parameter `bogus`",
        ),
        (
            "postgres://h/db?ssl=false",
            "invalid URL query parameter `ssl`",
        ),
        (
            "postgres://h/db?a",
            "missing key/value separator \"=\" in URL query parameter `a`",
        ),
        (
            "postgres://h/db?a=1=2",
            "extra key/value separator \"=\" in URL query parameter `a`",
        ),
        (
            "postgres://h/db?sslmode=require&&port=1",
            "missing key/value separator",
        ),
        (
            "postgres://h/%XXfoo",
            "invalid percent-encoded token in the URL's database name",
        ),
        (
            "postgres://h%zz/",
            "invalid percent-encoded token in the URL's host",
        ),
        (
            "postgres://h/db?application_name=%4",
            "invalid percent-encoded token in the URL's query parameter value",
        ),
        (
            "postgres://h/db%00",
            "forbidden value %00 in the URL's database name",
        ),
        (
            "postgres://u:50%off@h/db",
            "invalid percent-encoded token in the URL's password",
        ),
        ("postgres://[]", "an IPv6 host address may not be empty"),
        (
            "postgres://[::1",
            "end of string reached when looking for the \"]\"",
        ),
        (
            "postgres://[::1]x/db",
            "unexpected character at position 17",
        ),
        (
            "host=a port=1,2",
            "could not match 2 port numbers to 1 hosts",
        ),
        (
            "host=a,b port=1,2,3",
            "could not match 3 port numbers to 2 hosts",
        ),
        (
            "postgres://a:1,b:2,c:3/db?host=a",
            "could not match 3 port numbers to 1 hosts",
        ),
        (
            "host=a,b hostaddr=1.1.1.1",
            "could not match 2 host names to 1 hostaddr values",
        ),
        ("host=h port=0", "invalid port number: 0"),
        ("host=h port=65536", "invalid port number: 65536"),
        ("host=a,b port=1,x", "the 2nd port is not an integer"),
        ("host=h port=5432x", "port is not an integer"),
        (
            "hostaddr=db.example.com",
            "hostaddr is not an IPv4 or IPv6 address",
        ),
        ("hostaddr=127.1", "hostaddr is not an IPv4 or IPv6 address"),
        ("host=h sslmode=always", "invalid sslmode value \"always\""),
        ("host=h sslmode=", "invalid sslmode value \"\""),
        (
            "host=h sslmode=require sslrootcert=system",
            "weak sslmode \"require\" may not be used with sslrootcert=system",
        ),
        (
            "host=h target_session_attrs=master",
            "invalid target_session_attrs value \"master\"",
        ),
        (
            "host=h channel_binding=maybe",
            "invalid channel_binding value \"maybe\"",
        ),
        (
            "host=h connect_timeout=soon",
            "connect_timeout is not an integer",
        ),
        (
            "host=h connect_timeout=",
            "connect_timeout is not an integer",
        ),
        ("host=h require_auth=md5,!password", "cannot be mixed"),
        ("host=h require_auth=md5,md5", "at most once"),
        (
            "host=h require_auth=ldap",
            "invalid require_auth value \"ldap\"",
        ),
        (
            "host=h keepalives=yes",
            "keepalives parameter must be an integer",
        ),
        (
            "host=h keepalives_idle=1m",
            "keepalives_idle is not an integer",
        ),
        ("host=h gssencmode=require", "`gssencmode` is not supported"),
        ("host=h gssencmode=always", "invalid gssencmode value"),
        (
            "host=h sslcertmode=require",
            "`sslcertmode` is not supported",
        ),
        (
            "host=h sslnegotiation=direct",
            "`sslnegotiation` is not supported",
        ),
        (
            "host=h load_balance_hosts=roundrobin",
            "invalid load_balance_hosts value",
        ),
        ("host=h sslcrldir=/etc/crl", "`sslcrldir` is not supported"),
        (
            "host=h requirepeer=postgres",
            "`requirepeer` is not supported",
        ),
        (
            "host=h sslpassword=keypass",
            "`sslpassword` is not supported",
        ),
        (
            "host=h replication=database",
            "`replication` is not supported",
        ),
        ("host=h replication=true", "`replication` is not supported"),
        (
            "host=h ssl_min_protocol_version=TLSv1.3",
            "`ssl_min_protocol_version` is not supported",
        ),
        (
            "host=h ssl_max_protocol_version=TLSv1.2",
            "`ssl_max_protocol_version` is not supported",
        ),
        (
            "host=h ssl_min_protocol_version=TLSv1.2 ssl_max_protocol_version=TLSv1.1",
            "invalid SSL protocol version range",
        ),
        (
            "host=h ssl_max_protocol_version=TLSv9",
            "invalid ssl_max_protocol_version value \"TLSv9\"",
        ),
        (
            "host=h sslrootcert=system sslcrl=x.crl",
            "sslcrl applies to a root certificate file",
        ),
        ("host=@abstract", "abstract-namespace Unix sockets"),
        (
            "hostaddr=10.0.0.1 sslmode=verify-full",
            "a hostaddr without host has none",
        ),
    ];
    for (s, says) in cases {
        match summary(s) {
            Ok(got) => panic!("{s:?} should fail, got {got}"),
            Err(e) => assert!(e.contains(says), "{s:?}: {e}"),
        }
    }
    let long = format!("host=/{}", "d".repeat(100));
    assert!(summary(&long)
        .unwrap_err()
        .contains("socket path is too long"));
}

#[test]
fn passwords_never_reach_names_or_messages() {
    let cases = [
        (
            "postgres://app:s%40cret-1@db1:5433/main?sslmode=require",
            "s@cret-1",
            "postgres://app@db1:5433/main?sslmode=require",
        ),
        (
            "postgresql://h/db?user=u&password=qpass-2",
            "qpass-2",
            "postgresql://h/db?user=u",
        ),
        (
            "postgres://127.0.0.1:36867/db?user=app_a&password=Tr0ub4dor@horse-battery",
            "Tr0ub4dor@horse-battery",
            "postgres://127.0.0.1:36867/db?user=app_a",
        ),
        (
            "postgres://:only-pw-3@db/app",
            "only-pw-3",
            "postgres://db/app",
        ),
        (
            "host=b port=5433 password='it\\'s x4' dbname=db user=app",
            "it's x4",
            "host=b port=5433 dbname=db user=app",
        ),
        (
            "postgres://app:a/b@c-5@db/app",
            "a/b@c-5",
            "postgres://app@db/app",
        ),
    ];
    for (s, password, display) in cases {
        let p = parse(s).unwrap();
        assert_eq!(p.display, display, "{s}");
        assert_eq!(
            p.passwords.last().map(|p| p.expose().to_owned()).as_deref(),
            Some(password),
            "{s}"
        );
        assert_eq!(embedded_password(s).as_deref(), Some(password), "{s}");
        assert!(!format!("{p:?}").contains(password), "{s}");
    }
    // Both passwords of a URL that has two are known (the last one is used).
    let p = parse("postgres://u:first-pw@h/db?password=second-pw").unwrap();
    let all: Vec<&str> = p.passwords.iter().map(|p| p.expose()).collect();
    assert_eq!(all, ["first-pw", "second-pw"]);
    assert_eq!(p.display, "postgres://u@h/db");
    // A refused string never quotes its password.
    for s in [
        "postgres://app:Secr3t%zz@h/db",
        "postgres://app:Secr3t@h/%XX",
        "host=h password=Secr3t bogus=1",
        "host=h password='Secr3t",
        "host=h password=Secr3t port=x",
    ] {
        let e = summary(s).unwrap_err();
        assert!(!e.contains("Secr3t"), "{s}: {e}");
    }
}

#[test]
fn a_huge_password_of_at_signs_parses() {
    // Issue 14 item 4: once quadratic. Its speed is measured in benches/conninfo.rs.
    let pw = "@".repeat(64 * 1024);
    let s = format!("postgres://app:{pw}@db/app");
    let p = parse(&s).unwrap();
    assert_eq!(p.passwords[0].expose().len(), 64 * 1024);
    assert_eq!(p.display, "postgres://app@db/app");
    assert_eq!(embedded_password(&s).map(|p| p.len()), Some(64 * 1024));
}

#[test]
fn home_defaults_and_paths() {
    let r = |s: &str| resolve(&parse(s).unwrap().options, &ctx()).unwrap();
    let v = r("host=h sslmode=verify-ca");
    assert_eq!(
        v.tls.root,
        RootCert::File {
            path: "/home/u/.postgresql/root.crt".into(),
            required: true,
            source: Source::Default,
        }
    );
    assert_eq!(v.tls.client_cert.as_ref().map(|f| f.required), Some(false));
    assert_eq!(
        v.passfile.as_ref().map(|f| f.path.clone()),
        Some("/home/u/.pgpass".into())
    );
    let v = r("host=h sslrootcert=ca.pem sslcert=c.crt sslkey=/k/c.key passfile=pw");
    assert_eq!(
        v.tls.root,
        RootCert::File {
            path: "/etc/rotascope/ca.pem".into(),
            required: true,
            source: Source::String,
        }
    );
    let cert = v.tls.client_cert.unwrap();
    assert_eq!(
        (cert.path.to_str(), cert.required),
        (Some("/etc/rotascope/c.crt"), true)
    );
    assert_eq!(v.tls.client_key.unwrap().path.to_str(), Some("/k/c.key"));
    assert_eq!(v.passfile.unwrap().path.to_str(), Some("/etc/rotascope/pw"));
    // sslmode=disable reads no certificate; sslcertmode=disable no client certificate.
    let v = r("host=h sslmode=disable sslcert=c.crt");
    assert_eq!((v.tls.root, v.tls.client_cert), (RootCert::None, None));
    assert!(r("host=h sslcertmode=disable").tls.client_cert.is_none());
    assert!(!r("host=h sslsni=0").tls.sni && r("host=h").tls.sni);
    // Without a home directory a verify mode has no root certificates to use (an error for a
    // TCP host, decided by the loader: a Unix socket never uses TLS).
    let no_home = Context {
        home: None,
        ..ctx()
    };
    let v = resolve(
        &parse("host=h sslmode=verify-full").unwrap().options,
        &no_home,
    )
    .unwrap();
    assert_eq!(v.tls.root, RootCert::Unavailable);
    let with_env = Context {
        pgpassfile_env: Some("/run/pgpass"),
        ..ctx()
    };
    let v = resolve(&parse("host=h").unwrap().options, &with_env).unwrap();
    assert_eq!(v.passfile.unwrap().source, Source::Env("PGPASSFILE".into()));
}

#[test]
fn password_file_keys_follow_libpq() {
    let hosts = |s: &str| {
        let r = resolve(&parse(s).unwrap().options, &ctx()).unwrap();
        r.hosts
            .into_iter()
            .map(|h| format!("{}:{}", h.passfile_host, h.passfile_port))
            .collect::<Vec<_>>()
    };
    assert_eq!(hosts("host=db port=05432"), ["db:05432"]);
    assert_eq!(
        hosts("host=,/run/pg,/tmp"),
        ["localhost:5432", "localhost:5432", "/tmp:5432"]
    );
    assert_eq!(hosts("hostaddr=10.0.0.1"), ["10.0.0.1:5432"]);
    assert_eq!(hosts("host=db hostaddr=10.0.0.1"), ["db:5432"]);
}

#[test]
fn arbitrary_strings_never_panic_and_never_show_the_password() {
    use rand::{Rng, SeedableRng};
    // Pieces that exercise every delimiter of both forms, and a marker password.
    const PIECES: &[&str] = &[
        "postgres://",
        "postgresql://",
        "host=",
        "port=",
        "password=",
        "user=",
        "dbname=",
        "sslmode=",
        "service=",
        "hostaddr=",
        "target_session_attrs=",
        "require_auth=",
        "=",
        "@",
        ":",
        "/",
        "?",
        "&",
        ",",
        "[",
        "]",
        "'",
        "\\",
        " ",
        "\t",
        "%",
        "%2",
        "%41",
        "%00",
        "é",
        "h",
        "5432",
        "::1",
        "/tmp",
        "x",
        "!",
        "SeKr1tMarker",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    for _ in 0..20_000 {
        let n = rng.random_range(1..14);
        let s: String = (0..n)
            .map(|_| PIECES[rng.random_range(0..PIECES.len())])
            .collect();
        let shown = match parse(&s) {
            Ok(p) => {
                let r = resolve(&p.options, &ctx()).map(|r| r.hosts.len());
                let _ = embedded_password(&s);
                let _ = display::host_string(&p.options, 0);
                format!("{} {:?} {:?}", p.display, p.options, r.err())
            }
            Err(e) => e.to_string(),
        };
        // Only a password (never shown) may hold the marker here: a display or an error that
        // shows it has shown (part of) a password.
        if shown.contains("SeKr1tMarker") {
            let p = parse(&s).ok();
            let is_password = p.as_ref().is_some_and(|p| {
                p.passwords
                    .iter()
                    .any(|pw| pw.expose().contains("SeKr1tMarker"))
            });
            assert!(!is_password, "{s:?} shows its password: {shown}");
        }
    }
}
