//! One endpoint per host of `host`/`hostaddr`/`port`, as libpq's `pqConnectOptions2` pairs them.
//!
//! - The number of hosts is the number of `hostaddr` elements if `hostaddr` is set, else of
//!   `host` elements, else one. With both set, the counts must match.
//! - One port applies to every host; otherwise there must be exactly one port per host. An empty
//!   port is 5432.
//! - Per host: a `hostaddr` element is dialled (TCP, no DNS); else a `host` element starting with
//!   `/` is a Unix-socket directory, any other a TCP host name or IP literal; else (empty) the
//!   default socket directory.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{Error, Options};
use crate::topology::{Endpoint, Source, DEFAULT_PORT};

/// The longest socket path (`sun_path` holds 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// One host of a connection string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpec {
    /// Where it listens.
    pub endpoint: Endpoint,
    /// Its host as libpq looks it up in a password file: `host`, else `hostaddr`; `localhost`
    /// for the default socket directory.
    pub passfile_host: String,
    /// Its port as written (`5432` when none), for password file lookups.
    pub passfile_port: String,
    /// Where the host came from.
    pub host_source: Source,
    /// Where the port came from.
    pub port_source: Source,
}

/// The 1st, 2nd, 3rd... (for messages about one element of a list).
fn nth(i: usize) -> String {
    let n = i + 1;
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Splits the hosts of `options`; an empty host means `default_socket_dir`.
pub fn split(options: &Options, default_socket_dir: &Path) -> Result<Vec<HostSpec>, Error> {
    let addrs: Option<Vec<&str>> = options
        .non_empty("hostaddr")
        .map(|v| v.split(',').collect());
    let names: Option<Vec<&str>> = options.non_empty("host").map(|v| v.split(',').collect());
    let count = match (&addrs, &names) {
        (Some(a), _) => a.len(),
        (None, Some(n)) => n.len(),
        (None, None) => 1,
    };
    if let (Some(a), Some(n)) = (&addrs, &names) {
        if a.len() != n.len() {
            return Err(Error::bad_value(
                "host",
                format!(
                    "could not match {} host names to {} hostaddr values",
                    n.len(),
                    a.len()
                ),
            ));
        }
    }
    let ports: Vec<&str> = match options.non_empty("port") {
        None => vec![""; count],
        Some(p) => {
            let list: Vec<&str> = p.split(',').collect();
            if list.len() == 1 {
                vec![list[0]; count]
            } else if list.len() == count {
                list
            } else {
                return Err(Error::bad_value(
                    "port",
                    format!(
                        "could not match {} port numbers to {} hosts",
                        list.len(),
                        count
                    ),
                ));
            }
        }
    };
    let source_of = |k: &str| options.get(k).map_or(Source::Default, |v| v.source.clone());
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let addr_text = addrs.as_ref().map_or("", |a| a[i]);
        let name = names.as_ref().map_or("", |n| n[i]);
        let port_text = ports[i];
        let port = parse_port(port_text, i, count)?;
        let (endpoint, host_source) = if !addr_text.is_empty() {
            let addr: IpAddr = addr_text.parse().map_err(|_| {
                Error::bad_value(
                    "hostaddr",
                    format!(
                        "{} is not an IPv4 or IPv6 address (hostaddr takes numeric addresses only)",
                        which("hostaddr", i, count)
                    ),
                )
            })?;
            let host = (!name.is_empty() && !name.starts_with(['/', '@'])).then(|| name.to_owned());
            (
                Endpoint::Tcp {
                    host,
                    addr: Some(addr),
                    port,
                },
                source_of("hostaddr"),
            )
        } else if name.starts_with('@') {
            return Err(Error::Unsupported {
                keyword: "host",
                reason: "abstract-namespace Unix sockets (a host starting with @) are not supported; use a socket directory".into(),
            });
        } else if name.starts_with('/') {
            (unix(PathBuf::from(name), port)?, source_of("host"))
        } else if !name.is_empty() {
            (
                Endpoint::Tcp {
                    host: Some(name.to_owned()),
                    addr: None,
                    port,
                },
                source_of("host"),
            )
        } else {
            (
                unix(default_socket_dir.to_path_buf(), port)?,
                Source::Default,
            )
        };
        let passfile_host = match (name, addr_text) {
            ("", "") => "localhost".to_owned(),
            ("", a) => a.to_owned(),
            // libpq compares the strings as written.
            (n, _) if Some(n) == default_socket_dir.to_str() => "localhost".to_owned(),
            (n, _) => n.to_owned(),
        };
        out.push(HostSpec {
            endpoint,
            passfile_host,
            passfile_port: if port_text.is_empty() {
                DEFAULT_PORT.to_string()
            } else {
                port_text.to_owned()
            },
            host_source,
            port_source: if port_text.is_empty() {
                Source::Default
            } else {
                source_of("port")
            },
        });
    }
    Ok(out)
}

/// "port" or "the 2nd port" when there are several.
fn which(keyword: &str, i: usize, count: usize) -> String {
    if count == 1 {
        keyword.to_owned()
    } else {
        format!("the {} {keyword}", nth(i))
    }
}

fn unix(dir: PathBuf, port: u16) -> Result<Endpoint, Error> {
    let endpoint = Endpoint::Unix { dir, port };
    let len = endpoint.socket_path().map_or(0, |p| p.as_os_str().len());
    if len > MAX_SOCKET_PATH {
        return Err(Error::bad_value(
            "host",
            format!("Unix-domain socket path is too long ({len} bytes; at most {MAX_SOCKET_PATH})"),
        ));
    }
    Ok(endpoint)
}

/// A port as libpq reads it: an integer (blanks around it allowed) from 1 to 65535; empty is
/// 5432.
fn parse_port(text: &str, i: usize, count: usize) -> Result<u16, Error> {
    if text.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    let n = super::resolve::parse_int(text).ok_or_else(|| {
        Error::bad_value(
            "port",
            format!("{} is not an integer", which("port", i, count)),
        )
    })?;
    u16::try_from(n).ok().filter(|p| *p >= 1).ok_or_else(|| {
        Error::bad_value(
            "port",
            format!(
                "invalid port number: {n} ({} must be 1 to 65535)",
                which("port", i, count)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        let got: Vec<String> = [0, 1, 2, 3, 10, 11, 12, 20, 21].map(nth).to_vec();
        assert_eq!(
            got,
            ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]
        );
    }
}
