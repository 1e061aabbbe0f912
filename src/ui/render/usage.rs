//! The selected node's sessions per login, in the detail pane: how many sessions each login has
//! now (by application name), since when none, and the "safe to revoke" mark of the login
//! cluster-wide (`engine/usage.rs`).
//!
//! ```text
//! sessions (rotascope's own excluded)
//!   app_a   3 sessions: billing 2, cron 1 · oldest 12:01:07 from 10.0.0.7 · via pooler
//!   app_b   none since 12:03:10 (4m05s) ✓ safe to revoke
//!   app     1 session (one login, 2 passwords: the count belongs to the login)
//! ```
//!
//! With `[usage] enabled = false` one line says sessions are not counted: not "unknown" (nothing
//! will be measured) and not "none".

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::text::{Line, Span};

use super::format::{clip, clock, compact, fit};
use crate::engine::event::EventKind;
use crate::engine::snapshot::NodeView;
use crate::engine::usage::NodeLoginUsage;
use crate::text::{plural, sanitize};
use crate::ui::theme::{self, Theme};

/// The login column's width.
const LOGIN: usize = 16;

/// The mark of a login safe to revoke.
pub const SAFE: &str = "✓ safe to revoke";

/// The line shown instead of the counts while counting is off.
pub const NOT_COUNTED: &str = "sessions per login: not counted ([usage] enabled = false)";

/// The pane's lines for `n`: a title, then one line per login of its candidates (none when the
/// node has no candidate); without `counting`, the one line that says so.
pub fn lines(
    n: &NodeView,
    counting: bool,
    now: DateTime<Utc>,
    tz: FixedOffset,
    t: Theme,
    width: usize,
) -> Vec<Line<'static>> {
    if !counting {
        return vec![Line::styled(NOT_COUNTED, t.dim())];
    }
    if n.usage.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Line::styled(
        "sessions per login (rotascope's own excluded)",
        t.dim(),
    )];
    out.extend(n.usage.iter().map(|u| login_line(u, now, tz, t, width)));
    out
}

fn login_line(
    u: &NodeLoginUsage,
    now: DateTime<Utc>,
    tz: FixedOffset,
    t: Theme,
    width: usize,
) -> Line<'static> {
    let mut spans = vec![Span::raw(format!("  {} ", fit(&sanitize(&u.login), LOGIN)))];
    match &u.now {
        None => spans.push(Span::styled("sessions unknown", t.dim())),
        Some(m) if m.sessions == 0 => {
            let since = u.zero_since.map_or(String::new(), |s| {
                format!(" since {} ({})", clock(s, tz), compact(now - s))
            });
            spans.push(Span::styled(format!("none{since}"), t.good()));
        }
        Some(m) => {
            let mut apps: Vec<String> = m
                .apps
                .iter()
                .map(|a| {
                    let name = if a.name.is_empty() {
                        "(no name)".to_owned()
                    } else {
                        sanitize(&a.name).into_owned()
                    };
                    format!("{name} {}", a.sessions)
                })
                .collect();
            if m.other_apps > 0 {
                apps.push(format!("others {}", m.other_apps));
            }
            spans.push(Span::styled(
                format!(
                    "{}: {}",
                    plural(m.sessions as usize, "session"),
                    apps.join(", ")
                ),
                t.health(crate::engine::Health::Degraded),
            ));
            match &m.detail {
                Some(d) => {
                    if let Some(oldest) = d.oldest_start {
                        spans.push(Span::styled(
                            format!(" · oldest {}", clock(oldest, tz)),
                            t.dim(),
                        ));
                    }
                    if !d.client_addrs.is_empty() {
                        let more = d.client_addr_count as usize
                            - d.client_addrs.len().min(d.client_addr_count as usize);
                        let tail = if more > 0 {
                            format!(" +{more}")
                        } else {
                            String::new()
                        };
                        spans.push(Span::styled(
                            format!(" from {}{tail}", sanitize(&d.client_addrs.join(", "))),
                            t.dim(),
                        ));
                    }
                }
                None => spans.push(Span::styled(" · start and addresses unknown", t.dim())),
            }
        }
    }
    if u.via_pooler && u.now.is_some() {
        spans.push(Span::styled(" · via pooler", t.dim()));
    }
    if u.passwords > 1 {
        spans.push(Span::styled(
            format!(
                " · one login, {} passwords: the count belongs to the login",
                u.passwords
            ),
            t.dim(),
        ));
    }
    if u.safe_to_revoke {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(SAFE, t.good()));
    }
    Line::from(clip(spans, width))
}

/// The symbol and text of a readiness event, for the event timeline.
pub fn describe_event(kind: &EventKind) -> (&'static str, String) {
    match kind {
        EventKind::SafeToRevoke { login, nodes, .. } => (
            theme::health_symbol(crate::engine::Health::Ok),
            format!(
                "{} safe to revoke: no session on its {} for the quiet time, replacement valid",
                sanitize(login),
                plural(*nodes, "node")
            ),
        ),
        EventKind::NoLongerSafeToRevoke { login, reasons } => (
            theme::WARN,
            format!(
                "{} no longer safe to revoke: {}",
                sanitize(login),
                sanitize(&reasons.join("; "))
            ),
        ),
        _ => ("", String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::probe::Route;
    use crate::engine::usage::{AppSessions, LoginSessions, NodeUsage, SessionDetail};
    use crate::ui::fixtures;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    /// Fixed data, fixed clock: a login in use (by application, oldest start and address), one
    /// idle and safe to revoke, one login with two passwords, one unknown.
    #[test]
    fn each_login_shows_its_sessions_and_the_safe_mark() {
        let now = fixtures::now();
        let utc = FixedOffset::east_opt(0).expect("utc");
        let mut node = fixtures::all_ok().islands[0].nodes[0].clone();
        let mut u = NodeUsage::default();
        let busy = LoginSessions {
            login: "app_a".into(),
            sessions: 3,
            apps: vec![
                AppSessions {
                    name: "billing".into(),
                    sessions: 2,
                },
                AppSessions {
                    name: "cron\u{1b}[2J".into(),
                    sessions: 1,
                },
            ],
            other_apps: 0,
            detail: Some(SessionDetail {
                oldest_start: Some(now - chrono::Duration::hours(2)),
                client_addrs: vec!["10.0.0.7".into()],
                client_addr_count: 3,
            }),
        };
        let idle = LoginSessions {
            login: "app_b".into(),
            sessions: 0,
            apps: Vec::new(),
            other_apps: 0,
            detail: None,
        };
        u.fold(
            &[busy, idle],
            Route::Pgbouncer,
            now - chrono::Duration::minutes(15),
        );
        let pw = |p: &str| crate::secret::Fingerprint::of(p);
        node.usage = u.view(
            [
                ("app_a", pw("a")),
                ("app_b", pw("b1")),
                ("app_b", pw("b2")),
                ("app_c", pw("c")),
            ]
            .into_iter(),
        );
        node.usage[1].safe_to_revoke = true;
        let got = text(&lines(&node, true, now, utc, Theme::PLAIN, 0));
        let want = [
            "sessions per login (rotascope's own excluded)",
            "  app_a            3 sessions: billing 2, cron\\x1b[2J 1 · oldest 08:15:00 from \
             10.0.0.7 +2 · via pooler",
            "  app_b            none since 10:00:00 (15m00s) · via pooler · one login, 2 passwords: \
             the count belongs to the login ✓ safe to revoke",
            "  app_c            sessions unknown",
        ];
        assert_eq!(got, want);
        node.usage.clear();
        assert!(lines(&node, true, now, utc, Theme::PLAIN, 0).is_empty());
        assert_eq!(
            text(&lines(&node, false, now, utc, Theme::PLAIN, 0)),
            [NOT_COUNTED],
            "counting off: said, not left out"
        );
    }
}
