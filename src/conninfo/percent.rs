//! Percent-decoding of URL parts, with libpq's errors: `%` must be followed by two hex digits,
//! and `%00` is forbidden. Messages name the part of the URL, never its text.

use super::Error;

/// Decodes `%XX` escapes in `s`, a part of a URL named `part` in errors (`password`, `host`,
/// `query parameter`, ...). The result must be UTF-8, as everything rotascope sends is.
pub fn decode(s: &str, part: &str) -> Result<String, Error> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
            return Err(Error::Syntax(format!(
                "invalid percent-encoded token in the URL's {part} (`%` must be followed by two hex digits; write a literal % as %25)"
            )));
        };
        let byte = (hi * 16 + lo) as u8;
        if byte == 0 {
            return Err(Error::Syntax(format!(
                "forbidden value %00 in the URL's {part}"
            )));
        }
        out.push(byte);
        i += 3;
    }
    String::from_utf8(out)
        .map_err(|_| Error::Syntax(format!("the URL's {part} does not decode to UTF-8 text")))
}

/// Decodes what can be decoded and keeps invalid escapes as written: for finding a password to
/// mask in text that may not parse.
pub fn decode_lossy(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
            if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_like_libpq() {
        assert_eq!(decode("a%2Fb%3fc", "password").unwrap(), "a/b?c");
        assert_eq!(decode("plain", "host").unwrap(), "plain");
        for bad in ["%XXfoo", "a%", "a%4", "%g0"] {
            let e = decode(bad, "database name").unwrap_err().to_string();
            assert!(e.contains("invalid percent-encoded token"), "{e}");
            assert!(e.contains("database name") && !e.contains(bad), "{e}");
        }
        assert!(decode("a%00b", "host")
            .unwrap_err()
            .to_string()
            .contains("%00"));
        assert_eq!(decode_lossy("50%off%21"), "50%off!");
    }
}
