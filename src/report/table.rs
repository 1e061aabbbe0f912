//! The `check` table for people: one line per node, failing candidates below their node,
//! island warnings, and a verdict line. On a terminal it fits 100 columns (long names are
//! shortened in the middle, long messages at the end); into a file or a pipe, and with
//! `--wide`, nothing is ever cut ([`Fit::Full`]), so every row of a fleet whose names differ
//! only inside them stays telling. No colour: it goes to
//! mail, logs and cron output as often as to a terminal. Foreign text (names, logins, labels,
//! server messages, the reload error) goes through [`sanitize`]: a hostile server's message
//! cannot send escape sequences to the terminal that prints the table.
//!
//! ```text
//! rotascope check  /etc/rotascope/config.toml  at 2026-11-28T10:00:00.000Z
//!
//! ISL  NODE   ROLE     HEALTH    WINNER          VALID  LATENCY
//! 0    db-a   master   ok        app_a (current)   2/2  4.2 ms
//! 0    db-b   replica  degraded  app_b             1/2  5.5 ms
//!        #0 app_a (previous) 6f1e0c2a  invalid  auth_failed 28P01: password authentication ...
//!
//! warnings:
//!   island 1  no_master  no reachable node reports itself master
//!   behind_schedule  chain probes run every 1.7 s (median; longest 3.2 s) instead of every 1 s
//!                    raise probe.concurrency or probe.interval
//!
//! verdict: DOWN (exit 2)  3 nodes: 1 ok, 1 degraded, 1 down, 0 unknown; 3/6 candidates valid
//! ```

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::engine::event::{duration_ms, rfc3339};
use crate::engine::snapshot::{CandidateState, CandidateView, NodeView, Pace, WarningKind};
use crate::engine::Snapshot;
use crate::report::exit::Exit;
use crate::report::json::winning_latency;
use crate::text::sanitize;

/// The width every line of the table fits in.
pub const WIDTH: usize = 100;
/// A node name always gets at least this many columns (more when the other columns leave room).
const NAME_MIN: usize = 36;
/// The most a winner (login and label) may take before it is shortened.
const WINNER_MAX: usize = 20;
/// Indentation of candidate lines (under the NODE column).
const INDENT: &str = "       ";

/// How wide the table may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Every line within [`WIDTH`] columns: names shortened in the middle, messages at the end.
    Width,
    /// Nothing cut: for files, pipes and `--wide`.
    Full,
}

impl Fit {
    /// What `check` uses: [`Fit::Width`] on a terminal, unless `wide`; [`Fit::Full`] otherwise.
    pub fn for_output(to_terminal: bool, wide: bool) -> Fit {
        if to_terminal && !wide {
            Fit::Width
        } else {
            Fit::Full
        }
    }

    fn max(self) -> usize {
        match self {
            Fit::Width => WIDTH,
            Fit::Full => usize::MAX,
        }
    }
}

/// Writes the `check` table for this snapshot, fitted to [`WIDTH`] columns.
pub fn write_check_table(out: &mut impl Write, snapshot: &Snapshot) -> io::Result<()> {
    write_check_table_fit(out, snapshot, Fit::Width)
}

/// Writes the `check` table for this snapshot, fitted as `fit` says.
pub fn write_check_table_fit(
    out: &mut impl Write,
    snapshot: &Snapshot,
    fit: Fit,
) -> io::Result<()> {
    out.write_all(render(snapshot, fit).as_bytes())
}

fn render(s: &Snapshot, fit: Fit) -> String {
    let max = fit.max();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "rotascope check  {}  at {}",
        sanitize(&s.config.path.display().to_string()),
        timestamp(&s.generated_at)
    );
    if let Some(e) = &s.config.last_error {
        let line = format!(
            "config: last reload failed at {}: {}",
            timestamp(&e.at),
            sanitize(&e.message)
        );
        let _ = writeln!(t, "{}", end_ellipsis(&line, max));
    }
    t.push('\n');

    let mut rows: Vec<(Row, &NodeView)> = s
        .islands
        .iter()
        .flat_map(|i| {
            i.nodes
                .iter()
                .map(move |n| (row(&i.no.to_string(), n, fit), n))
        })
        .collect();
    let header = Row {
        cells: [
            "ISL", "NODE", "ROLE", "HEALTH", "WINNER", "VALID", "LATENCY",
        ]
        .map(String::from),
    };
    let mut widths = [0usize; 7];
    for r in std::iter::once(&header).chain(rows.iter().map(|(r, _)| r)) {
        for (w, c) in widths.iter_mut().zip(&r.cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    // The name gets whatever the other columns and the gaps leave of the line.
    let others: usize = widths
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, w)| w)
        .sum();
    let name_max = match fit {
        Fit::Width => WIDTH.saturating_sub(others + 2 * 6).max(NAME_MIN),
        Fit::Full => usize::MAX,
    };
    for (r, _) in &mut rows {
        r.cells[1] = middle_ellipsis(&r.cells[1], name_max);
    }
    widths[1] = widths[1].min(name_max);
    write_row(&mut t, &header, &widths);
    if rows.is_empty() {
        t.push_str("(no nodes)\n");
    }
    for (r, n) in &rows {
        write_row(&mut t, r, &widths);
        for c in n.candidates.iter().filter(|c| failing(c)) {
            let _ = writeln!(t, "{}", end_ellipsis(&candidate_line(c), max));
        }
    }

    let mut warnings: Vec<String> = s
        .islands
        .iter()
        .flat_map(|i| {
            i.warnings.iter().map(move |w| {
                format!(
                    "  island {}  {}  {}",
                    i.no,
                    w.kind.as_str(),
                    sanitize(&w.detail)
                )
            })
        })
        .collect();
    // The cluster-level warning: the figures, and what to do on a line of its own.
    if let Some(b) = &s.behind_schedule {
        let name = WarningKind::BehindSchedule.as_str();
        warnings.push(format!("  {name}  {}", b.pace.figures()));
        warnings.push(format!("  {}  {}", " ".repeat(name.len()), Pace::ADVICE));
    }
    if !warnings.is_empty() {
        t.push_str("\nwarnings:\n");
        for w in warnings {
            let _ = writeln!(t, "{}", end_ellipsis(&w, max));
        }
    }

    let verdict = s.verdict();
    let sum = s.summary();
    let _ = writeln!(
        t,
        "\nverdict: {} (exit {})  {}: {} ok, {} degraded, {} down, {} unknown; \
         {}/{} candidates valid",
        verdict.as_str().to_uppercase(),
        Exit::from_verdict(verdict).code(),
        crate::text::plural(sum.nodes, "node"),
        sum.ok,
        sum.degraded,
        sum.down,
        sum.unknown,
        sum.valid_candidates,
        sum.candidates,
    );
    t
}

/// One table line's cells, already shortened to their caps.
struct Row {
    cells: [String; 7],
}

fn row(island: &str, n: &NodeView, fit: Fit) -> Row {
    let winner_max = match fit {
        Fit::Width => WINNER_MAX,
        Fit::Full => usize::MAX,
    };
    let winner = n
        .winner
        .and_then(|i| n.candidates.get(i))
        .map(|c| match &c.label {
            Some(label) => format!("{} ({label})", c.login),
            None => c.login.clone(),
        })
        .unwrap_or_else(|| "-".into());
    let latency = winning_latency(n)
        .map(|d| format!("{:.1} ms", duration_ms(d)))
        .unwrap_or_else(|| "-".into());
    Row {
        cells: [
            island.to_owned(),
            sanitize(&n.key.name).into_owned(),
            n.role.as_str().to_owned(),
            n.health.as_str().to_owned(),
            middle_ellipsis(&sanitize(&winner), winner_max),
            format!("{}/{}", n.valid_count(), n.candidates.len()),
            latency,
        ],
    }
}

fn write_row(t: &mut String, r: &Row, w: &[usize; 7]) {
    let [isl, name, role, health, winner, valid, latency] = &r.cells;
    let line = format!(
        "{isl:<0$}  {name:<1$}  {role:<2$}  {health:<3$}  {winner:<4$}  {valid:>5$}  {latency:>6$}",
        w[0], w[1], w[2], w[3], w[4], w[5], w[6]
    );
    let _ = writeln!(t, "{}", line.trim_end());
}

/// Candidates worth a line of their own: those that failed last time they were tried.
fn failing(c: &CandidateView) -> bool {
    matches!(
        c.state,
        CandidateState::Invalid | CandidateState::Unreachable
    )
}

fn candidate_line(c: &CandidateView) -> String {
    let mut line = format!("{INDENT}#{} {}", c.index, sanitize(&c.login));
    if let Some(label) = &c.label {
        let _ = write!(line, " ({})", sanitize(label));
    }
    let _ = write!(line, " {}  {}", c.fingerprint, c.state.as_str());
    if let Some(e) = &c.error {
        let _ = write!(line, "  {}", e.kind.as_str());
        if let Some(code) = &e.sqlstate {
            let _ = write!(line, " {code}");
        }
        let _ = write!(line, ": {}", sanitize(first_line(&e.message)));
    }
    line
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn timestamp(at: &chrono::DateTime<chrono::Utc>) -> String {
    // The one timestamp format of every output, via the serializer the JSON uses.
    match rfc3339(at, serde_json::value::Serializer) {
        Ok(serde_json::Value::String(s)) => s,
        _ => at.to_rfc3339(),
    }
}

/// `s` shortened to `max` characters by replacing its middle with `…`.
fn middle_ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max || max < 3 {
        return s.to_owned();
    }
    let keep = max - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// `s` cut to `max` characters, ending in `…` when cut.
fn end_ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{self, LONG_NAME};

    fn table(s: &Snapshot) -> String {
        let mut out = Vec::new();
        write_check_table(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Fingerprints are random per process: replace them with a fixed marker for snapshots.
    fn stable(s: &Snapshot, text: &str) -> String {
        let mut text = text.to_owned();
        for c in s.nodes().flat_map(|n| &n.candidates) {
            text = text.replace(&c.fingerprint.to_string(), "<fp>");
        }
        text
    }

    #[test]
    fn rotation_table() {
        let s = fixtures::rotation();
        insta::assert_snapshot!(stable(&s, &table(&s)));
    }

    #[test]
    fn all_ok_table() {
        let s = fixtures::all_ok();
        insta::assert_snapshot!(stable(&s, &table(&s)));
    }

    #[test]
    fn every_line_fits_100_columns() {
        let text = table(&fixtures::rotation());
        for line in text.lines().skip(1) {
            assert!(
                line.chars().count() <= WIDTH,
                "{} > {WIDTH}: {line}",
                line.len()
            );
        }
        assert!(!text.contains(LONG_NAME), "the long name is shortened");
        let shortened = text
            .lines()
            .find(|l| l.contains('…') && l.starts_with('1'))
            .unwrap();
        assert!(shortened.contains("postgres://pg-isl"), "{shortened}");
        assert!(shortened.contains(":5433/app"), "{shortened}");
        assert_eq!(
            shortened.chars().count(),
            WIDTH,
            "the name takes the room there is"
        );
    }

    /// Issue 11: into a file or a pipe (and with `--wide`) nothing is cut, so names that differ
    /// only in their middle stay apart.
    #[test]
    fn the_full_table_cuts_nothing() {
        let s = fixtures::rotation();
        let mut out = Vec::new();
        write_check_table_fit(&mut out, &s, Fit::Full).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(LONG_NAME), "{text}");
        assert!(!text.contains('…'), "{text}");
        assert!(text.lines().any(|l| l.chars().count() > WIDTH));
        assert_eq!(Fit::for_output(true, false), Fit::Width);
        assert_eq!(Fit::for_output(true, true), Fit::Full);
        assert_eq!(Fit::for_output(false, false), Fit::Full);
    }

    #[test]
    fn failing_candidates_are_listed_under_their_node_with_kind_and_message() {
        let s = fixtures::rotation();
        let text = table(&s);
        let lines: Vec<&str> = text.lines().collect();
        let db_b = lines.iter().position(|l| l.contains("db-b")).unwrap();
        let stale = lines[db_b + 1];
        assert!(stale.starts_with(INDENT), "{stale}");
        assert!(stale.contains("#0 app_a (previous)"));
        assert!(stale.contains(&s.islands[0].nodes[1].candidates[0].fingerprint.to_string()));
        assert!(stale.contains("invalid  auth_failed 28P01: password authentication failed"));
        let refused = lines.iter().find(|l| l.contains("refused")).unwrap();
        assert!(refused.contains("unreachable  refused: connection refused"));
        assert!(
            !lines.iter().any(|l| l.contains("skipped")),
            "skipped candidates are not failures"
        );
        assert!(text.contains("  island 1  no_master  no reachable node reports itself master"));
        assert!(text
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("verdict: DOWN (exit 2)"));
    }

    #[test]
    fn behind_schedule_is_listed_with_its_figures_and_advice() {
        let mut s = fixtures::all_ok();
        s.behind_schedule = Some(crate::engine::snapshot::BehindSchedule {
            pace: Pace {
                interval: std::time::Duration::from_secs(1),
                real_p50: std::time::Duration::from_millis(1700),
                real_max: std::time::Duration::from_millis(3250),
                samples: 812,
            },
            since: fixtures::at(-30),
        });
        let text = table(&s);
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains("behind_schedule"))
            .unwrap();
        assert_eq!(lines[at - 1], "warnings:");
        assert_eq!(
            lines[at],
            "  behind_schedule  chain probes run every 1.7 s (median; longest 3.2 s) instead of \
             every 1 s"
        );
        assert_eq!(
            lines[at + 1],
            "                   raise probe.concurrency or probe.interval"
        );
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH));
        assert!(text.contains("verdict: OK (exit 0)"), "the cluster is fine");
    }

    #[test]
    fn an_empty_cluster_says_so() {
        let s = Snapshot::empty("c.toml".into(), Default::default(), fixtures::at(0));
        let text = table(&s);
        assert!(text.contains("(no nodes)"));
        assert!(text.contains("verdict: OK (exit 0)  0 nodes"));
    }

    #[test]
    fn ellipses() {
        assert_eq!(middle_ellipsis("abcdefghij", 5), "ab…ij");
        assert_eq!(middle_ellipsis("abcdefghij", 6), "abc…ij");
        assert_eq!(middle_ellipsis("abc", 5), "abc");
        assert_eq!(end_ellipsis("abcdefghij", 5), "abcd…");
        assert_eq!(end_ellipsis("abc", 5), "abc");
    }

    #[test]
    fn foreign_text_cannot_reach_the_terminal_raw() {
        let text = table(&fixtures::hostile());
        for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(!text.contains(bad), "{bad:?} in\n{text}");
        }
        // Shown, escaped, where the raw text would have been.
        assert!(
            text.contains("28P01: boom\\x1b]0;pwned\\x07\\x1b[2J"),
            "{text}"
        );
        assert!(text.contains("config: last reload failed"), "{text}");
        assert!(text.contains("no_master  boom\\x1b]0;pwned"), "{text}");
    }

    #[test]
    fn no_password_in_the_table() {
        fixtures::assert_no_password(&table(&fixtures::rotation()));
    }
}
