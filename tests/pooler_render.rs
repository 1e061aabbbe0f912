//! The detail pane of a node listed by its own port and its PgBouncer's, in the auth_file trap:
//! direct valid, through the pooler invalid. A fixed snapshot, a fixed `now`, read by eye.

use chrono::FixedOffset;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use rotascope::engine::probe::{ErrorKind, ProbeError, Route};
use rotascope::engine::snapshot::{CandidateState, CandidateView, Health, Snapshot};
use rotascope::ui::fixtures;
use rotascope::ui::view::{Focus, ViewState};
use rotascope::ui::{render, Theme};

const POOLER: &str = "postgres://127.0.0.1:64320/app";

/// Island 0's first node with its two candidates by the server's own port (direct) and again
/// through PgBouncer; `app_a`'s new password not yet in PgBouncer's auth_file.
fn pooled() -> Snapshot {
    let mut s = fixtures::rotation_in_progress();
    let n = &mut s.islands[0].nodes[0];
    let mut direct: Vec<CandidateView> = n.candidates.clone();
    for c in &mut direct {
        c.via = Some("direct".into());
        c.route = Some(Route::Direct);
        c.state = CandidateState::Valid;
        c.error = None;
        c.consecutive_failures = 0;
    }
    let mut through: Vec<CandidateView> = direct.clone();
    for (i, c) in through.iter_mut().enumerate() {
        c.index = i + 2;
        c.id.address = POOLER.into();
        c.via = Some("pgbouncer".into());
        c.route = Some(Route::Pgbouncer);
    }
    through[0].state = CandidateState::Invalid;
    through[0].consecutive_failures = 3;
    through[0].error = Some(ProbeError {
        kind: ErrorKind::AuthFailed,
        sqlstate: Some("08P01".into()),
        message: "pgbouncer: SASL authentication failed".into(),
    });
    n.candidates = direct.into_iter().chain(through).collect();
    n.winner = Some(0);
    n.remembered_best = Some(0);
    n.health = Health::Degraded;
    n.cause = Some("app_a #2: auth_failed: pgbouncer: SASL authentication failed".into());
    n.last_chain = None;
    // The fixture's events tell another story; this one is about the pane.
    s.events.clear();
    s
}

#[test]
fn the_detail_pane_shows_each_candidates_path() {
    let s = pooled();
    let mut v = ViewState::new(Theme::PLAIN, FixedOffset::east_opt(0).unwrap());
    v.focus = Focus::Detail;
    v.selected = Some(s.islands[0].nodes[0].key.clone());
    let mut terminal = Terminal::new(TestBackend::new(120, 24)).unwrap();
    terminal
        .draw(|f| render(f, &s, &v, fixtures::now()))
        .unwrap();
    let text = fixtures::screen_text(terminal.backend().buffer());
    assert!(text.contains("via pgbouncer"), "{text}");
    insta::assert_snapshot!(text);
}
