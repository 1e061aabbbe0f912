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
use crate::secret::Fingerprint;
use crate::text::{plural, sanitize};
use crate::topology::IslandNo;
use crate::ui::theme::{self, Theme};
use crate::ui::view::{Focus, ViewState};

/// Events a timeline pane of `area_height` rows shows at once (its title takes one).
pub fn page_rows(area_height: u16) -> usize {
    usize::from(area_height.saturating_sub(1)).max(1)
}

/// One line of the timeline: an event, or the many lines one reload wrote for one secret.
#[derive(Debug)]
enum Item<'a> {
    Event(&'a Event),
    /// `secrets: app_b 840b4720 → 6ec50bea on 4 nodes`: a reload's `candidate_removed` and
    /// `candidate_added` events of one login (and label), or its `candidate_relabeled` events of
    /// one credential (`app_a 840b4720 relabeled current → previous`).
    Secrets {
        at: chrono::DateTime<chrono::Utc>,
        change: String,
        nodes: usize,
    },
}

/// The node an event is about, if it is about one: the node it changes, or the node whose
/// refusal started a rotation.
fn node_of(kind: &EventKind) -> Option<(IslandNo, &str)> {
    match kind {
        EventKind::RotationStarted { island, node, .. } => Some((*island, node.as_str())),
        other => other.node(),
    }
}

/// The timeline's lines, oldest first: with a node filter typed, only events of the nodes it
/// shows (and of their islands; cluster-wide events stay); a reload's per-node secret changes
/// folded into one line per login.
fn items<'a>(snapshot: &'a Snapshot, view: &ViewState) -> Vec<Item<'a>> {
    let shown: Option<std::collections::HashSet<(IslandNo, &str)>> =
        (!view.filter.trim().is_empty()).then(|| {
            snapshot
                .nodes()
                .filter(|n| view.matches(n))
                .map(|n| (n.key.island, &*n.key.name))
                .collect()
        });
    let keep = |e: &Event| match (&shown, node_of(&e.kind), &e.kind) {
        (None, ..) => true,
        (Some(set), Some(key), _) => set.contains(&key),
        (Some(set), None, EventKind::Warning { island, .. }) => {
            set.iter().any(|(i, _)| i == island)
        }
        (Some(_), None, _) => true,
    };
    let mut out: Vec<Item> = Vec::new();
    let mut run: Vec<&Event> = Vec::new();
    for e in snapshot.events.iter().filter(|e| keep(e)) {
        // One reload's secret events come together, after its `config_applied`, each stamped
        // when it was emitted: a run of them is that reload.
        if matches!(
            e.kind,
            EventKind::CandidateAdded { .. }
                | EventKind::CandidateRemoved { .. }
                | EventKind::CandidateRelabeled { .. }
        ) {
            run.push(e);
            continue;
        }
        fold(&mut out, std::mem::take(&mut run));
        out.push(Item::Event(e));
    }
    fold(&mut out, run);
    out
}

/// What a folded line is about: a login with its label (added, removed), or one credential's
/// relabeling. Borrowed, so grouping a reload of every node allocates nothing per event.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Group<'a> {
    Login(&'a str, Option<&'a str>),
    /// By credential and labels, not by the candidate's place in each node.
    Relabel(Relabeling<'a>),
}

/// A credential's new label: login, fingerprint, label before, label after.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Relabeling<'a>(&'a str, Fingerprint, Option<&'a str>, Option<&'a str>);

impl Relabeling<'_> {
    fn of<'a>(candidate: &'a CandidateRef, from: &'a Option<String>) -> Relabeling<'a> {
        Relabeling(
            &candidate.login,
            candidate.fingerprint,
            from.as_deref(),
            candidate.label.as_deref(),
        )
    }

    /// `app_a 840b4720 relabeled current → previous`.
    fn text(self) -> String {
        let label = |l: Option<&str>| l.unwrap_or("no label").to_owned();
        format!(
            "{} {} relabeled {} → {}",
            self.0,
            self.1,
            label(self.2),
            label(self.3)
        )
    }
}

impl Group<'_> {
    fn of(e: &Event) -> Option<Group<'_>> {
        match &e.kind {
            EventKind::CandidateAdded { candidate, .. }
            | EventKind::CandidateRemoved { candidate, .. } => {
                Some(Group::Login(&candidate.login, candidate.label.as_deref()))
            }
            EventKind::CandidateRelabeled {
                candidate,
                from_label,
                ..
            } => Some(Group::Relabel(Relabeling::of(candidate, from_label))),
            _ => None,
        }
    }

    fn text(self) -> String {
        match self {
            Group::Login(login, label) => login_label(login, label),
            Group::Relabel(r) => r.text(),
        }
    }
}

/// Folds one reload's secret events: a login touched on two nodes or more becomes one line, and
/// so does a credential relabeled on two nodes or more.
fn fold<'a>(out: &mut Vec<Item<'a>>, run: Vec<&'a Event>) {
    // Buckets in first-seen order: one pass, however many nodes a reload touched.
    let mut order: Vec<Group<'a>> = Vec::new();
    let mut buckets: std::collections::HashMap<Group<'a>, Vec<&'a Event>> =
        std::collections::HashMap::new();
    for e in run {
        let Some(g) = Group::of(e) else { continue };
        buckets
            .entry(g)
            .or_insert_with(|| {
                order.push(g);
                Vec::new()
            })
            .push(e);
    }
    for g in order {
        let events = buckets.remove(&g).unwrap_or_default();
        let mut nodes: Vec<(IslandNo, &str)> =
            events.iter().filter_map(|e| node_of(&e.kind)).collect();
        nodes.sort_unstable();
        nodes.dedup();
        if nodes.len() < 2 {
            out.extend(events.into_iter().map(Item::Event));
            continue;
        }
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        let mut seen = std::collections::HashSet::new();
        for e in &events {
            let (list, c, gone) = match &e.kind {
                EventKind::CandidateAdded { candidate, .. } => (&mut added, candidate, false),
                EventKind::CandidateRemoved { candidate, .. } => (&mut removed, candidate, true),
                _ => continue,
            };
            if seen.insert((gone, c.fingerprint)) {
                list.push(c.fingerprint);
            }
        }
        let g = g.text();
        let change = match (removed.is_empty(), added.is_empty()) {
            (false, false) => format!("{g} {} → {}", fingerprints(&removed), fingerprints(&added)),
            (true, false) => format!("{g} {} added", fingerprints(&added)),
            (false, true) => format!("{g} {} left", fingerprints(&removed)),
            // Relabelings only: the group says it all.
            (true, true) => g,
        };
        out.push(Item::Secrets {
            at: events[0].at,
            change,
            nodes: nodes.len(),
        });
    }
}

/// `840b4720 6ec50bea`, or the first three and `+N` (one password per node: a line cannot
/// show a thousand).
fn fingerprints(list: &[Fingerprint]) -> String {
    const SHOWN: usize = 3;
    let mut text: Vec<String> = list.iter().take(SHOWN).map(ToString::to_string).collect();
    if list.len() > SHOWN {
        text.push(format!("+{}", list.len() - SHOWN));
    }
    text.join(" ")
}

/// Draws the pane.
pub fn render(frame: &mut Frame, area: Rect, snapshot: &Snapshot, view: &ViewState) {
    let t = view.theme;
    let items = items(snapshot, view);
    let total = items.len();
    let scroll = view.timeline_scroll.min(total.saturating_sub(1));
    // Truthful about what is kept: once the ring dropped old events, say "last N".
    let kept = if snapshot.events.len() >= crate::engine::EVENT_RING {
        format!("last {}", crate::engine::EVENT_RING)
    } else {
        format!("{} in all", snapshot.events.len())
    };
    let mut title = "events · newest first".to_owned();
    if scroll > 0 {
        title += &format!(" · {scroll} newer above");
    }
    if view.filter.trim().is_empty() {
        title += &format!(" · {kept}");
    } else {
        title += &format!(
            " · filter “{}” · {total} lines of {kept}",
            view.filter.trim()
        );
    }
    let inner = pane(frame, area, &title, view.focus == Focus::Timeline, t);
    if total == 0 {
        let empty = if snapshot.events.is_empty() {
            "  no events yet"
        } else {
            "  no events of the nodes the filter shows"
        };
        frame.render_widget(Paragraph::new(Line::styled(empty, t.dim())), inner);
        return;
    }
    let width = usize::from(inner.width);
    let lines: Vec<Line> = items
        .iter()
        .rev()
        .skip(scroll)
        .take(usize::from(inner.height))
        .map(|item| match item {
            Item::Event(e) => event_line(e, view, t, width),
            Item::Secrets { at, change, nodes } => {
                secrets_line(*at, change, *nodes, view, t, width)
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn secrets_line(
    at: chrono::DateTime<chrono::Utc>,
    change: &str,
    nodes: usize,
    view: &ViewState,
    t: Theme,
    width: usize,
) -> Line<'static> {
    let time = format!("{} ", clock(at, view.tz));
    let room = width.saturating_sub(time.len());
    let text = format!("± secrets: {change} on {nodes} nodes");
    Line::from(vec![
        Span::styled(time, t.dim()),
        Span::styled(truncate(&sanitize(&text), room), t.busy()),
    ])
}

/// The symbol of rotation episode lines.
const ROTATION: &str = "⟳";

/// The symbol of what the lab itself did (`lab` mode): the cause of the effects around it.
pub const LAB: &str = "»";

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
        EventKind::LabAction { text } => (LAB, format!("lab: {}", sanitize(text))),
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
        EventKind::CandidateRelabeled {
            island,
            node: n,
            candidate,
            from_label,
        } => (
            "~",
            format!(
                "{} #{} {}",
                node(*island, n),
                candidate.index,
                Relabeling::of(candidate, from_label).text()
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

    /// `all_ok` after a reload that replaced `app_b`'s password on all four nodes.
    fn after_a_secret_change() -> (Snapshot, String, String) {
        let mut s = crate::ui::fixtures::all_ok();
        let at = crate::ui::fixtures::now() - chrono::Duration::seconds(5);
        let (old, new) = (cand("app_b", "old"), cand("app_b", "new"));
        let keys: Vec<_> = s.nodes().map(|n| n.key.clone()).collect();
        // Stamped as the engine stamps them: each a little later than the one before.
        let mut at = at;
        for key in keys {
            for kind in [
                EventKind::CandidateRemoved {
                    island: key.island,
                    node: key.name.to_string(),
                    candidate: old.clone(),
                },
                EventKind::CandidateAdded {
                    island: key.island,
                    node: key.name.to_string(),
                    candidate: new.clone(),
                },
            ] {
                s.events.push_back(Event { at, kind });
                at += chrono::Duration::microseconds(3);
            }
        }
        (s, old.fingerprint.to_string(), new.fingerprint.to_string())
    }

    fn drawn(s: &Snapshot, view: &ViewState) -> String {
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 12)).unwrap();
        terminal.draw(|f| render(f, f.area(), s, view)).unwrap();
        crate::ui::fixtures::screen_text(terminal.backend().buffer())
    }

    fn view() -> ViewState {
        ViewState::new(Theme::PLAIN, chrono::FixedOffset::east_opt(0).unwrap())
    }

    #[test]
    fn one_reload_of_one_secret_on_many_nodes_is_one_line() {
        let (s, old, new) = after_a_secret_change();
        let screen = drawn(&s, &view());
        let line = format!("10:14:55 ± secrets: app_b {old} → {new} on 4 nodes");
        assert!(screen.contains(&line), "{screen}");
        assert!(!screen.contains("left the config"), "{screen}");
    }

    #[test]
    fn a_relabeling_on_many_nodes_is_one_line_and_on_one_node_names_it() {
        let mut s = crate::ui::fixtures::all_ok();
        let mut at = crate::ui::fixtures::now() - chrono::Duration::seconds(5);
        let mut a = cand("app_a", "a");
        a.label = Some("previous".into());
        let keys: Vec<_> = s.nodes().map(|n| n.key.clone()).collect();
        for key in &keys {
            s.events.push_back(Event {
                at,
                kind: EventKind::CandidateRelabeled {
                    island: key.island,
                    node: key.name.to_string(),
                    candidate: a.clone(),
                    from_label: Some("current".into()),
                },
            });
            at += chrono::Duration::microseconds(3);
        }
        let fp = a.fingerprint;
        let screen = drawn(&s, &view());
        let line = format!("± secrets: app_a {fp} relabeled current → previous on 4 nodes");
        assert!(screen.contains(&line), "{screen}");

        // One node only: its own line.
        let mut v = view();
        v.filter = "db-b1".into();
        let screen = drawn(&s, &v);
        let line = format!("~ 1/db-b1 #0 app_a {fp} relabeled current → previous");
        assert!(screen.contains(&line), "{screen}");
    }

    #[test]
    fn a_password_per_node_shows_three_fingerprints_and_how_many_more() {
        let mut s = crate::ui::fixtures::all_ok();
        let mut at = crate::ui::fixtures::now() - chrono::Duration::seconds(5);
        let keys: Vec<_> = s.nodes().map(|n| n.key.clone()).collect();
        let mut fps = Vec::new();
        for key in &keys {
            let c = cand("app_b", &format!("new-{key}"));
            fps.push(c.fingerprint.to_string());
            s.events.push_back(Event {
                at,
                kind: EventKind::CandidateAdded {
                    island: key.island,
                    node: key.name.to_string(),
                    candidate: c,
                },
            });
            at += chrono::Duration::microseconds(3);
        }
        let screen = drawn(&s, &view());
        let line = format!("app_b {} {} {} +1 added on 4 nodes", fps[0], fps[1], fps[2]);
        assert!(screen.contains(&line), "{screen}");
    }

    #[test]
    fn two_reloads_are_two_lines() {
        let (mut s, _, _) = after_a_secret_change();
        let second: Vec<Event> = s.events.iter().rev().take(8).rev().cloned().collect();
        let at = second[0].at;
        s.events.push_back(Event {
            at,
            kind: EventKind::ConfigApplied {
                path: "rotascope.toml".into(),
                generation: 3,
                islands: 2,
                nodes: 4,
                candidates: 8,
            },
        });
        s.events.extend(second);
        let screen = drawn(&s, &view());
        assert_eq!(screen.matches("± secrets: app_b").count(), 2, "{screen}");
    }

    #[test]
    fn the_node_filter_applies_to_events() {
        let (s, old, new) = after_a_secret_change();
        let mut v = view();
        v.filter = "db-b".into();
        let screen = drawn(&s, &v);
        assert!(
            screen.contains(&format!("secrets: app_b {old} → {new} on 2 nodes")),
            "{screen}"
        );
        assert!(!screen.contains("0/127.0.0.1"), "{screen}");
        assert!(screen.contains("1/db-b2 health unknown → ok"), "{screen}");
        assert!(
            screen.contains("filter “db-b” · 8 lines of 21 in all"),
            "{screen}"
        );
    }

    #[test]
    fn a_full_ring_says_last_2000() {
        let mut s = crate::ui::fixtures::all_ok();
        let e = s.events[0].clone();
        while s.events.len() < crate::engine::EVENT_RING {
            s.events.push_back(e.clone());
        }
        let screen = drawn(&s, &view());
        assert!(
            screen.contains("events · newest first · last 2000 "),
            "{screen}"
        );
        s.events.pop_back();
        let screen = drawn(&s, &view());
        assert!(screen.contains("· 1999 in all "), "{screen}");
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
