//! The connection string of one host of a multi-host string: `key=value` pairs that reach that
//! host alone, password left out, for screens (`ConnTarget::display`).

use super::{kv, Options};

/// The `index`-th host of `options` as its own `key=value` string: every option in the order
/// first set, `host`/`hostaddr`/`port` narrowed to that host's element (left out when empty),
/// without `password` and without `service` (its settings are written out instead).
pub fn host_string(options: &Options, index: usize) -> String {
    let mut parts = Vec::new();
    for (keyword, value) in options.iter() {
        let text = match keyword {
            "password" | "service" => continue,
            "host" | "hostaddr" | "port" => {
                let list: Vec<&str> = value.text.split(',').collect();
                let one = if list.len() == 1 {
                    list[0]
                } else {
                    list.get(index).copied().unwrap_or("")
                };
                if one.is_empty() {
                    continue;
                }
                one
            }
            _ => value.text.as_str(),
        };
        parts.push(format!("{keyword}={}", kv::quote(text)));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn one_host_of_each_form() {
        let p = parse("host=a,b,c port=1,,3 dbname='my db' password=x user=u").unwrap();
        assert_eq!(
            host_string(&p.options, 0),
            "host=a port=1 dbname='my db' user=u"
        );
        assert_eq!(host_string(&p.options, 1), "host=b dbname='my db' user=u");
        let p = parse("postgres://u:pw@[::1]:5433,h2/db?target_session_attrs=primary").unwrap();
        assert_eq!(
            host_string(&p.options, 0),
            "user=u host=::1 port=5433 dbname=db target_session_attrs=primary"
        );
        assert_eq!(
            host_string(&p.options, 1),
            "user=u host=h2 dbname=db target_session_attrs=primary"
        );
    }
}
