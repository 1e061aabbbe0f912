//! The event timeline: newest first, `HH:MM:SS` in the view's zone, one line per event, coloured by
//! kind (the symbol and words say the same), scrollable.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::format::{candidate_ref, clock, login_label, short_name, truncate};
use super::pane;
use crate::engine::episodes::Trigger;
use crate::engine::event::{CandidateRef, Event, EventKind};
use crate::engine::snapshot::{span_text, Health, Snapshot};
use crate::text::{plural, sanitize};
use crate::topology::IslandNo;
use crate::ui::theme::{self, Theme};
use crate::ui::view::{Focus, ViewState};

/// Draws the pane.
pub fn render(frame: &mut Frame, area: Rect, snapshot: &Snapshot, view: &ViewState) {
    let t = view.theme;
    let total = snapshot.events.len();
    let scroll = view.timeline_scroll.min(total.saturating_sub(1));
    let title = if scroll > 0 {
        format!("events · newest first · {scroll} newer above · {total} in all")
    } else {
        format!("events · newest first · {total} in all")
    };
    let inner = pane(frame, area, &title, view.focus == Focus::Timeline, t);
    if total == 0 {
        frame.render_widget(
            Paragraph::new(Line::styled("  no events yet", t.dim())),
            inner,
        );
        return;
    }
    let lines: Vec<Line> = snapshot
        .events
        .iter()
        .rev()
        .skip(scroll)
        .take(usize::from(inner.height))
        .map(|e| event_line(e, view, t, usize::from(inner.width)))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The symbol of rotation episode lines.
const ROTATION: &str = "⟳";

/// A login with its label, without the index (a rotation event names a credential, not one
/// node's candidate).
fn candidate_login(c: &CandidateRef) -> String {
    login_label(&c.login, c.label.as_deref())
}

fn node(island: IslandNo, name: &str) -> String {
    format!("{island}/{}", short_name(name))
}

/// The symbol and text of one event.
pub fn describe(kind: &EventKind) -> (&'static str, String) {
    match kind {
        EventKind::ConfigApplied {
            generation,
            islands,
            nodes,
            candidates,
            ..
        } => (
            "✓",
            format!(
                "config applied: generation {generation} · {}, {}, {}",
                plural(*islands, "island"),
                plural(*nodes, "node"),
                plural(*candidates, "candidate")
            ),
        ),
        EventKind::ConfigFailed { error, .. } => (
            "✗",
            format!("config reload failed (last good config kept): {error}"),
        ),
        EventKind::NodeAdded { island, node: n } => ("+", format!("{} added", node(*island, n))),
        EventKind::NodeRemoved { island, node: n } => {
            ("-", format!("{} removed", node(*island, n)))
        }
        EventKind::CandidateAdded {
            island,
            node: n,
            candidate,
        } => (
            "+",
            format!(
                "{} {} {} added to the config",
                node(*island, n),
                candidate_ref(candidate),
                candidate.fingerprint
            ),
        ),
        EventKind::CandidateRemoved {
            island,
            node: n,
            candidate,
        } => (
            "-",
            format!(
                "{} {} {} left the config",
                node(*island, n),
                candidate_ref(candidate),
                candidate.fingerprint
            ),
        ),
        EventKind::WinnerChanged {
            island,
            node: n,
            from,
            to,
        } => {
            // Same login and label on both sides: only the password changed, so say which.
            let same_name = matches!((from, to), (Some(f), Some(t))
                if f.login == t.login && f.label == t.label);
            let name = |c: &Option<CandidateRef>| match c {
                None => "none".to_owned(),
                Some(c) if same_name => format!("{} {}", candidate_ref(c), c.fingerprint),
                Some(c) => candidate_ref(c),
            };
            (
                "⇄",
                format!("{} winner {} → {}", node(*island, n), name(from), name(to)),
            )
        }
        EventKind::CandidateChanged {
            island,
            node: n,
            candidate,
            from,
            to,
            error,
        } => (
            theme::candidate_symbol(*to),
            format!(
                "{} {} {} → {}{}",
                node(*island, n),
                candidate_ref(candidate),
                from.as_str(),
                to.as_str(),
                error
                    .as_ref()
                    .map_or(String::new(), |e| format!(": {}", e.kind))
            ),
        ),
        EventKind::RoleChanged {
            island,
            node: n,
            from,
            to,
        } => ("↕", format!("{} role {from} → {to}", node(*island, n))),
        EventKind::HealthChanged {
            island,
            node: n,
            from,
            to,
            cause,
        } => (
            theme::health_symbol(*to),
            format!(
                "{} health {} → {}{}",
                node(*island, n),
                from.as_str(),
                to.as_str(),
                cause.as_ref().map_or(String::new(), |c| format!(": {c}"))
            ),
        ),
        EventKind::Warning {
            island,
            warning,
            active,
            detail,
        } => {
            let word = warning.as_str().replace('_', " ");
            if *active {
                (theme::WARN, format!("island {island} {word}: {detail}"))
            } else {
                (
                    theme::health_symbol(Health::Ok),
                    format!("island {island} {word} cleared"),
                )
            }
        }
        EventKind::RotationStarted {
            episode,
            trigger,
            island,
            node: n,
            candidate,
        } => {
            let why = match trigger {
                Trigger::CandidateRefused => "refused on",
                Trigger::SecretsChanged => "changed in the secrets for",
            };
            (
                ROTATION,
                format!(
                    "rotation {episode} started: {} {} {why} {}",
                    candidate_login(candidate),
                    candidate.fingerprint,
                    node(*island, n)
                ),
            )
        }
        EventKind::RotationFinished(s) => (
            ROTATION,
            format!(
                "rotation {} finished after {}: {}",
                s.episode,
                span_text(s.duration()),
                s.outcome_text()
            ),
        ),
        EventKind::ClusterWarning {
            warning,
            active,
            detail,
            ..
        } => {
            let word = warning.as_str().replace('_', " ");
            if *active {
                (theme::WARN, format!("{word}: {detail}"))
            } else {
                (
                    theme::health_symbol(Health::Ok),
                    format!("{word} cleared: {detail}"),
                )
            }
        }
        EventKind::SafeToRevoke { .. } | EventKind::NoLongerSafeToRevoke { .. } => {
            super::usage::describe_event(kind)
        }
    }
}

fn event_line(e: &Event, view: &ViewState, t: Theme, width: usize) -> Line<'static> {
    let (symbol, text) = describe(&e.kind);
    let style = t.event(&e.kind);
    let time = format!("{} ", clock(e.at, view.tz));
    let room = width.saturating_sub(time.len());
    Line::from(vec![
        Span::styled(time, t.dim()),
        // Event texts quote foreign text (server messages, reload errors, names, logins).
        Span::styled(
            truncate(&sanitize(&format!("{symbol} {text}")), room),
            style,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Fingerprint;

    fn cand(login: &str, password: &str) -> CandidateRef {
        CandidateRef {
            index: 0,
            login: login.into(),
            label: None,
            fingerprint: Fingerprint::with_key(b"test", password),
        }
    }

    fn winner(from: CandidateRef, to: CandidateRef) -> String {
        describe(&EventKind::WinnerChanged {
            island: IslandNo(0),
            node: "db".into(),
            from: Some(from),
            to: Some(to),
        })
        .1
    }

    #[test]
    fn rotation_episodes_are_event_lines() {
        use crate::engine::episodes::{EpisodeSummary, FailedAuths, Outcome};
        let (symbol, text) = describe(&EventKind::RotationStarted {
            episode: 3,
            trigger: Trigger::CandidateRefused,
            island: IslandNo(0),
            node: "db".into(),
            candidate: cand("app_a", "p1"),
        });
        assert_eq!(symbol, ROTATION);
        let fp = cand("app_a", "p1").fingerprint;
        assert_eq!(
            text,
            format!("rotation 3 started: app_a {fp} refused on 0/db")
        );
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let summary = EpisodeSummary {
            episode: 3,
            trigger: Trigger::CandidateRefused,
            started: at,
            ended: at + chrono::Duration::seconds(6),
            outcome: Outcome::Completed,
            changed: Vec::new(),
            nodes_total: 4,
            nodes_degraded: 0,
            outages: 0,
            failed_auths: FailedAuths { chain: 3, audit: 1 },
            nodes: Vec::new(),
        };
        let (_, text) = describe(&EventKind::RotationFinished(Box::new(summary)));
        assert_eq!(
            text,
            "rotation 3 finished after 6 s: no credential changed, 0/4 nodes degraded 0 ms, \
             0 outages, 4 failed auths"
        );
    }

    #[test]
    fn a_winner_switch_within_one_login_names_the_fingerprints() {
        let (old, new) = (cand("app", "p1"), cand("app", "p2"));
        let text = winner(old.clone(), new.clone());
        assert!(text.contains(&old.fingerprint.to_string()), "{text}");
        assert!(text.contains(&new.fingerprint.to_string()), "{text}");
        let text = winner(cand("app_a", "p1"), cand("app_b", "p2"));
        assert_eq!(text, "0/db winner #0 app_a → #0 app_b");
    }
}
