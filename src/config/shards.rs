//! `[shards] pattern`: the printf-style schema pattern of microshard discovery, and the anchored
//! regex it means. Validated at load (a bad pattern is a config error, exit 3) and turned into
//! SQL by the prober, from this one definition.

const BAD_WIDTH: &str = "a shard pattern with a bad width in %0Nd (1 to 100)";

/// Translates a printf-style schema pattern (`sh%04d`) into an anchored PostgreSQL regex.
///
/// `%d` is one or more digits; `%0Nd` is what printf prints: exactly N digits (zero-padded) or
/// more without a leading zero; `%%` is a percent sign. Everything else is literal. The error
/// says what is wrong without quoting the pattern (a config error names the key instead).
pub fn shard_regex(pattern: &str) -> Result<String, String> {
    let mut out = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            if c.is_ascii_punctuation() {
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(d) = chars.next_if(char::is_ascii_digit) {
            spec.push(d);
        }
        match chars.next() {
            Some('%') if spec.is_empty() => out.push('%'),
            Some('d') if spec.is_empty() => out.push_str("[0-9]+"),
            Some('d') if spec.starts_with('0') && spec.len() > 1 => {
                let width: usize = spec[1..].parse().map_err(|_| BAD_WIDTH.to_owned())?;
                if width == 0 || width > 100 {
                    return Err(BAD_WIDTH.to_owned());
                }
                out.push_str(&format!("(?:[0-9]{{{width}}}|[1-9][0-9]{{{width},}})"));
            }
            _ => return Err("a shard pattern with other than %d, %0Nd and %%".to_owned()),
        }
    }
    out.push('$');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_patterns_become_anchored_regexes() {
        assert_eq!(
            shard_regex("sh%04d").unwrap(),
            "^sh(?:[0-9]{4}|[1-9][0-9]{4,})$"
        );
        assert_eq!(shard_regex("s%d").unwrap(), "^s[0-9]+$");
        assert_eq!(shard_regex("a.b%%c").unwrap(), "^a\\.b%c$");
        for bad in [
            "sh%s",
            "sh%4d",
            "sh%",
            "sh%00d",
            "sh%0999999999999999999999d",
        ] {
            let e = shard_regex(bad).unwrap_err();
            assert!(!e.contains(bad), "{e}");
        }
    }
}
