//! Node health: `unknown` until the first chain probe, `down` without a winner, `degraded` when a
//! candidate is known invalid, or unreachable by another path than the winner's (a node listed
//! with a pooler's port and its own, one of them down), `ok` otherwise; with the first line of
//! the cause.

use super::core::Cx;
use super::event::EventKind;
use super::probe::ProbeError;
use super::snapshot::{CandidateState, Health};
use super::state::NodeState;

/// One line naming a failure: `kind: first line of the message`.
pub(crate) fn cause_line(error: &ProbeError) -> String {
    match error.message.lines().next().map(str::trim) {
        Some(line) if !line.is_empty() => format!("{}: {line}", error.kind),
        _ => error.kind.to_string(),
    }
}

/// The node's health and why it is not ok.
pub(crate) fn assess(st: &NodeState) -> (Health, Option<String>) {
    if !st.chain_ran {
        return (Health::Unknown, None);
    }
    if st.winner.is_none() {
        return (Health::Down, st.down_cause.clone());
    }
    let winner_address = st
        .winner
        .as_ref()
        .and_then(|w| st.position(&w.id))
        .map(|i| &st.node.candidates[i].id.address);
    let invalid = st.cands.iter().enumerate().find(|(i, c)| {
        c.state == CandidateState::Invalid
            || (c.state == CandidateState::Unreachable
                && Some(&st.node.candidates[*i].id.address) != winner_address)
    });
    match invalid {
        Some((index, c)) => {
            let login = &st.node.candidates[index].login;
            let why = c.error.as_ref().map(cause_line).unwrap_or_default();
            (Health::Degraded, Some(format!("{login} #{index}: {why}")))
        }
        None => (Health::Ok, None),
    }
}

/// Re-assesses the node, emitting `health_changed` when its health changed.
pub(crate) fn refresh(st: &mut NodeState, cx: &mut Cx) {
    let (health, cause) = assess(st);
    st.cause = cause;
    if health != st.health {
        let key = &st.node.key;
        cx.log.emit(EventKind::HealthChanged {
            island: key.island,
            node: key.name.to_string(),
            from: st.health,
            to: health,
            cause: st.cause.clone(),
        });
        st.health = health;
        st.health_since = cx.at;
    }
}
