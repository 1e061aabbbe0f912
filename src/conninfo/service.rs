//! `pg_service.conf`: named sections of `keyword=value` lines, as libpq's `parseServiceFile`
//! reads them.
//!
//! Where the file is (the config loader looks, in libpq's order): `$PGSERVICEFILE`, else
//! `~/.pg_service.conf`; if the section is not there, `$PGSYSCONFDIR/pg_service.conf` (default
//! [`SYSTEM_SERVICE_DIR`]). A section's values fill in only what the connection string left unset.
//!
//! The syntax: blank lines and lines starting with `#` are skipped; `[name]` starts a section;
//! inside it every line is `keyword=value`, the keyword exactly as written (no blanks around
//! `=`), the value everything after the first `=` (no quoting). A line may hold at most 1022
//! characters. `service` inside a section, an unknown keyword or a line without `=` is an
//! error; LDAP lookups (`ldap://...`) are refused.

use super::keywords;
use super::Error;

/// Where libpq looks for the system-wide service file when `PGSYSCONFDIR` is unset: Debian's
/// and Ubuntu's build of libpq (upstream builds use their install prefix's `etc`).
pub const SYSTEM_SERVICE_DIR: &str = "/etc/postgresql-common";

/// libpq reads lines into a 1024-byte buffer; a line that fills it is an error.
const MAX_LINE: usize = 1023;

/// The settings of section `name` in a service file's `text`, in file order; `None` when the
/// file has no such section. `file` names the file in errors.
pub fn section(
    text: &str,
    name: &str,
    file: &str,
) -> Result<Option<Vec<(&'static str, String)>>, Error> {
    let syntax = |line: usize, what: &str| {
        Error::Syntax(format!("service file {file}, line {line}: {what}"))
    };
    let mut found = false;
    let mut out = Vec::new();
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = n + 1;
        if raw.len() >= MAX_LINE {
            return Err(syntax(line_no, "line too long"));
        }
        let line = raw.trim_matches(|c: char| c.is_ascii() && super::kv::is_blank(c as u8));
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            if found {
                break;
            }
            found = rest
                .strip_prefix(name)
                .is_some_and(|after| after.starts_with(']'));
            continue;
        }
        if !found {
            continue;
        }
        if line.starts_with("ldap") {
            return Err(Error::Unsupported {
                keyword: "service",
                reason: format!(
                    "service file {file}, line {line_no}: LDAP lookups of services are not supported"
                ),
            });
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(syntax(line_no, "syntax error (expected keyword=value)"));
        };
        if key == "service" {
            return Err(syntax(
                line_no,
                "nested service specifications are not supported",
            ));
        }
        match keywords::lookup(key).filter(|k| !matches!(k.name, "ssl" | "requiressl")) {
            Some(k) => out.push((k.name, value.to_owned())),
            None if keywords::looks_like_keyword(key) => {
                return Err(syntax(
                    line_no,
                    &format!("syntax error: invalid connection option `{key}`"),
                ))
            }
            None => return Err(syntax(line_no, "syntax error")),
        }
    }
    Ok(found.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
[other]
host=elsewhere

  [prod]  
host=db1,db2
port=5433
dbname=app=odd
sslmode=require
[next]
host=no
";

    #[test]
    fn reads_one_section_as_written() {
        let s = section(FILE, "prod", "f").unwrap().unwrap();
        assert_eq!(
            s,
            [
                ("host", "db1,db2".to_owned()),
                ("port", "5433".to_owned()),
                ("dbname", "app=odd".to_owned()),
                ("sslmode", "require".to_owned()),
            ]
        );
        assert_eq!(section(FILE, "missing", "f").unwrap(), None);
        // A name that is a prefix of another does not match it.
        assert_eq!(section("[prod2]\nhost=x\n", "prod", "f").unwrap(), None);
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, says) in [
            ("[s]\nhost = x\n", "line 2: syntax error"),
            ("[s]\nbogus=1\n", "invalid connection option `bogus`"),
            ("[s]\nservice=t\n", "nested service"),
            ("[s]\nnoequals\n", "expected keyword=value"),
            (
                "[s]\nrequiressl=1\n",
                "invalid connection option `requiressl`",
            ),
        ] {
            let e = section(text, "s", "/etc/pg_service.conf")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("/etc/pg_service.conf") && e.contains(says),
                "{e}"
            );
        }
        let long = format!("[s]\nhost={}\n", "h".repeat(1020));
        assert!(section(&long, "s", "f")
            .unwrap_err()
            .to_string()
            .contains("too long"));
        // Errors outside the section do not matter.
        assert!(section("[t]\nbogus\n[s]\nhost=x\n", "s", "f").is_ok());
    }
}
