//! Text helpers shared by the panes: durations, times, sizes, fitting text into columns.

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::text::Span;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::engine::event::CandidateRef;
use crate::engine::snapshot::CandidateView;
use crate::text::sanitize;

/// A duration in at most two units: `42s`, `4m05s`, `2h05m`, `3d04h`.
pub fn compact(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// How long ago `at` was: `4s ago`.
pub fn ago(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    format!("{} ago", compact(now - at))
}

/// How long until `at`: `in 26s`, or `due` once it has passed.
pub fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    if at <= now {
        "due".to_owned()
    } else {
        format!("in {}", compact(at - now))
    }
}

/// Wall-clock `HH:MM:SS` in the view's zone.
pub fn clock(at: DateTime<Utc>, tz: FixedOffset) -> String {
    at.with_timezone(&tz).format("%H:%M:%S").to_string()
}

/// A latency in at most 6 columns: `0.3ms`, `4.2ms`, `38.0ms`, `123ms`, `1.23s`.
pub fn latency(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 100_000 {
        format!("{:.1}ms", micros as f64 / 1000.0)
    } else if micros < 1_000_000 {
        format!("{}ms", micros / 1000)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// A byte count: `0 B`, `512 B`, `72.1 KiB`, `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A node name without the `postgres://` scheme, which every compact-form name repeats; control
/// characters shown escaped (names come from a config).
pub fn short_name(name: &str) -> Cow<'_, str> {
    sanitize(
        name.strip_prefix("postgresql://")
            .or_else(|| name.strip_prefix("postgres://"))
            .unwrap_or(name),
    )
}

/// Display width of `s`.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to `max` columns, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    format!("{}…", cut(s, max - 1))
}

/// The longest prefix of `s` that fits in `max` columns.
pub fn cut(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > max {
            return &s[..i];
        }
        used += w;
    }
    s
}

/// Spans cut to `cols` columns in all, the last one kept ending in `…`; `cols == 0` means no limit.
pub fn clip(spans: Vec<Span<'static>>, cols: usize) -> Vec<Span<'static>> {
    if cols == 0 {
        return spans;
    }
    let mut used = 0;
    let mut out = Vec::with_capacity(spans.len());
    for s in spans {
        let w = width(&s.content);
        if used + w > cols {
            out.push(Span::styled(truncate(&s.content, cols - used), s.style));
            break;
        }
        used += w;
        out.push(s);
    }
    out
}

/// `s` cut or padded to exactly `cols` columns, left-aligned.
pub fn fit(s: &str, cols: usize) -> String {
    let mut out = truncate(s, cols);
    let w = width(&out);
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(w)));
    out
}

/// `s` cut or padded to exactly `cols` columns, right-aligned.
pub fn fit_right(s: &str, cols: usize) -> String {
    let cut = truncate(s, cols);
    let pad = cols.saturating_sub(width(&cut));
    format!("{}{cut}", " ".repeat(pad))
}

/// `login (label)`, or the login alone; control characters shown escaped (both may come from a
/// secrets file or command).
pub fn login_label(login: &str, label: Option<&str>) -> String {
    match label {
        Some(l) => format!("{} ({})", sanitize(login), sanitize(l)),
        None => sanitize(login).into_owned(),
    }
}

/// A candidate as the timeline and detail name it: `#1 app_b (current)`.
pub fn candidate_ref(c: &CandidateRef) -> String {
    format!("#{} {}", c.index, login_label(&c.login, c.label.as_deref()))
}

/// A candidate view named like [`candidate_ref`].
pub fn candidate_view(c: &CandidateView) -> String {
    format!("#{} {}", c.index, login_label(&c.login, c.label.as_deref()))
}

/// Greedy word wrap; the last allowed line ends in `…` when text is left over.
pub fn wrap(text: &str, cols: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line at least");
        let need = if last.is_empty() {
            width(word)
        } else {
            width(last) + 1 + width(word)
        };
        if need <= cols || last.is_empty() {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        } else {
            lines.push(word.to_owned());
        }
    }
    let dropped = lines.len() > max_lines;
    lines.truncate(max_lines);
    for l in &mut lines {
        *l = truncate(l, cols);
    }
    if dropped {
        if let Some(l) = lines.last_mut() {
            *l = format!("{}…", cut(l, cols.saturating_sub(1)));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_durations_use_two_units_at_most() {
        let s = chrono::Duration::seconds;
        assert_eq!(compact(s(-5)), "0s");
        assert_eq!(compact(s(42)), "42s");
        assert_eq!(compact(s(245)), "4m05s");
        assert_eq!(compact(s(7500)), "2h05m");
        assert_eq!(compact(s(3 * 86400 + 4 * 3600 + 59)), "3d04h");
    }

    #[test]
    fn latencies_fit_six_columns() {
        for (us, want) in [
            (300, "0.3ms"),
            (4_250, "4.2ms"),
            (38_000, "38.0ms"),
            (123_456, "123ms"),
            (1_234_000, "1.23s"),
            (12_345_000, "12.35s"),
        ] {
            let got = latency(Duration::from_micros(us));
            assert_eq!(got, want);
            assert!(got.len() <= 6);
        }
    }

    #[test]
    fn bytes_scale_by_1024() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(73_840), "72.1 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn wrap_keeps_words_and_marks_what_it_drops() {
        assert_eq!(wrap("aa bb cc", 5, 2), ["aa bb", "cc"]);
        assert_eq!(wrap("aa bb cc dd ee", 5, 2), ["aa bb", "cc d…"]);
        assert_eq!(wrap("abcdefgh", 4, 2), ["abc…"]);
    }

    #[test]
    fn fitting_cuts_with_an_ellipsis_and_pads() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit_right("ab", 4), "  ab");
        assert_eq!(truncate("▲ degraded", 10), "▲ degraded");
        assert_eq!(short_name("postgres://h:1/db"), "h:1/db");
        assert_eq!(short_name("db-a"), "db-a");
    }
}
