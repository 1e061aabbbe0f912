//! libpq 16's `require_auth`, and its combination with rotascope's `allow_auth`.
//!
//! `require_auth` is a comma-separated list of methods the server may use (`scram-sha-256,md5`),
//! or of methods it may not (`!password,!md5`); the two kinds cannot be mixed, a method may not
//! repeat, and `none` (no authentication request at all: `trust`, `cert`) is allowed only when
//! listed (or, in a negated list, unless `!none` is listed). `gss` and `sspi` are libpq methods
//! rotascope cannot perform: listing them is valid, they just never match.

use super::Error;
use crate::topology::AuthMethod;

/// What `require_auth` allows, as a set of the methods rotascope can perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequireAuth {
    /// The methods allowed, in [`AuthMethod::ALL`] order.
    pub allowed: Vec<AuthMethod>,
}

/// One element of a `require_auth` list.
enum Method {
    Ours(AuthMethod),
    /// `gss` or `sspi`.
    Foreign,
}

/// Parses `require_auth` (an empty value means "not set", as in libpq).
pub fn parse_require_auth(value: &str) -> Result<Option<RequireAuth>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    let mut negated = None;
    let mut seen: Vec<&str> = Vec::new();
    let mut listed: Vec<AuthMethod> = Vec::new();
    for (i, part) in value.split(',').enumerate() {
        let (neg, name) = match part.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, part),
        };
        match negated {
            None => negated = Some(neg),
            Some(n) if n != neg => {
                let msg = if neg {
                    "negative require_auth methods cannot be mixed with non-negative ones"
                } else {
                    "require_auth methods cannot be mixed with negative ones"
                };
                return Err(Error::bad_value(
                    "require_auth",
                    format!("{msg} (element {})", i + 1),
                ));
            }
            Some(_) => {}
        }
        let method = match name {
            "gss" | "sspi" => Method::Foreign,
            other => match AuthMethod::parse(other) {
                Some(m) => Method::Ours(m),
                None => {
                    return Err(Error::bad_enum(
                        "require_auth",
                        other,
                        "password, md5, gss, sspi, scram-sha-256 or none, each optionally with a leading !",
                    ))
                }
            },
        };
        if seen.contains(&name) {
            return Err(Error::bad_enum(
                "require_auth",
                name,
                "each method at most once",
            ));
        }
        seen.push(name);
        if let Method::Ours(m) = method {
            listed.push(m);
        }
    }
    let allowed = AuthMethod::ALL
        .into_iter()
        .filter(|m| listed.contains(m) != negated.unwrap_or(false))
        .collect();
    Ok(Some(RequireAuth { allowed }))
}

/// The methods both `allow_auth` and `require_auth` permit, in `allow_auth`'s order.
pub fn combine(allow_auth: &[AuthMethod], require: Option<&RequireAuth>) -> Vec<AuthMethod> {
    allow_auth
        .iter()
        .copied()
        .filter(|m| require.is_none_or(|r| r.allowed.contains(m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthMethod::*;

    fn allowed(v: &str) -> Vec<AuthMethod> {
        parse_require_auth(v).unwrap().unwrap().allowed
    }

    #[test]
    fn positive_and_negative_lists() {
        assert_eq!(allowed("scram-sha-256"), [ScramSha256]);
        assert_eq!(allowed("md5,scram-sha-256"), [Md5, ScramSha256]);
        assert_eq!(allowed("!password"), [Md5, ScramSha256, None]);
        assert_eq!(allowed("!password,!none"), [Md5, ScramSha256]);
        assert_eq!(allowed("none"), [None]);
        assert_eq!(allowed("gss"), []);
        assert_eq!(allowed("!gss"), [Password, Md5, ScramSha256, None]);
        assert_eq!(parse_require_auth("").unwrap(), Option::None);
    }

    #[test]
    fn libpq_errors() {
        for (bad, says) in [
            ("md5,!password", "cannot be mixed"),
            ("!md5,password", "cannot be mixed"),
            ("md5,md5", "at most once"),
            ("!none,!none", "at most once"),
            ("kerberos", "invalid require_auth value \"kerberos\""),
            ("md5,", "invalid require_auth value \"\""),
        ] {
            let e = parse_require_auth(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn combine_is_the_intersection_in_allow_auth_order() {
        let r = parse_require_auth("!md5").unwrap();
        assert_eq!(combine(&[Md5, ScramSha256], r.as_ref()), [ScramSha256]);
        assert_eq!(
            combine(&[Md5, ScramSha256], Option::None),
            [Md5, ScramSha256]
        );
        let r = parse_require_auth("md5").unwrap();
        assert!(combine(&[ScramSha256], r.as_ref()).is_empty());
    }
}
