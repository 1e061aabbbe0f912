//! Folding one probe attempt into a candidate's state: validity, error, latency, the refusal
//! streak behind the audit backoff, and the next audit deadline.

use super::classify::route_of;
use super::core::Cx;
use super::event::{EventKind, ProbeMode, ProbeRecord, ProbeRecordOutcome};
use super::probe::{ProbeError, ProbeOutcome};
use super::snapshot::{AttemptOutcome, CandidateState};
use super::state::NodeState;

/// Applies the outcome of probing candidate `index` of `st` (its job is in flight).
pub(crate) fn apply(st: &mut NodeState, index: usize, outcome: ProbeOutcome, cx: &mut Cx) {
    let outcome = redacted(outcome, st);
    let Some(flight) = st.in_flight.as_mut() else {
        return;
    };
    // Every try counts as a check: an audit need not redo what a chain probe just did. A
    // refused candidate waits out the backoff, whichever mode refused it.
    let stretch = match flight.mode {
        ProbeMode::Audit => flight.audit_stretch,
        ProbeMode::Chain => cx.jitter.draw(),
    };
    let id = st.node.candidates[index].id.clone();
    let c = &mut st.cands[index];
    let before = c.state;
    let (attempt, latency) = match &outcome {
        Ok(success) => {
            c.state = CandidateState::Valid;
            c.error = None;
            c.last_valid = Some(cx.at);
            c.consecutive_failures = 0;
            c.refusals = 0;
            c.route = Some(success.route);
            st.unreachable = false;
            if flight.mode == ProbeMode::Chain {
                flight.success = Some((id.clone(), success.clone()));
            }
            (AttemptOutcome::Ok, success.latency.total)
        }
        Err(failure) => {
            let kind = failure.error.kind;
            if kind.is_candidate_level() {
                c.state = CandidateState::Invalid;
                c.refusals = c.refusals.saturating_add(1);
                // A refusal proves the node answers.
                st.unreachable = false;
            } else {
                c.state = CandidateState::Unreachable;
                st.unreachable = true;
            }
            if let Some(route) = route_of(&failure.error) {
                c.route = Some(route);
            }
            c.error = Some(failure.error.clone());
            c.consecutive_failures = c.consecutive_failures.saturating_add(1);
            flight.last_error = Some(failure.error.clone());
            (AttemptOutcome::Failed(kind), failure.elapsed)
        }
    };
    c.latency = Some(latency);
    c.last_checked = Some(cx.at);
    c.audit_due = cx.now + stretch.backoff(cx.settings.audit_interval, c.refusals);
    // Sessions are taken from chain probes only: they log in as the winner, so the details the
    // winner's login may see stay on screen, instead of flickering to "unknown" whenever an
    // audit logs in as another login (the counts would be the same).
    if let (Ok(success), ProbeMode::Chain) = (&outcome, flight.mode) {
        if let Some(measured) = &success.usage {
            st.usage.fold(measured, success.route, cx.at);
        }
    }
    let c = &st.cands[index];
    let after = c.state;
    let error = c.error.clone();
    let mode = flight.mode;
    flight.attempts.push((id, attempt, latency));

    let key = &st.node.key;
    if after != before {
        cx.log.emit(EventKind::CandidateChanged {
            island: key.island,
            node: key.name.to_string(),
            candidate: st.named(index),
            from: before,
            to: after,
            error,
        });
    }
    cx.log.probe(ProbeRecord {
        at: cx.at,
        island: key.island,
        node: key.name.to_string(),
        index,
        login: st.node.candidates[index].login.clone(),
        fingerprint: st.node.candidates[index].id.fingerprint,
        label: st.node.candidates[index].label.clone(),
        mode,
        outcome: match attempt {
            AttemptOutcome::Failed(kind) => ProbeRecordOutcome::Failed(kind),
            _ => ProbeRecordOutcome::Ok,
        },
        latency,
    });
}

/// The outcome with every password of the node masked out of its message: the prober should
/// never put one there, and this is the last line of defence before screens and logs.
fn redacted(outcome: ProbeOutcome, st: &mut NodeState) -> ProbeOutcome {
    outcome.map_err(|mut failure| {
        failure.error = ProbeError {
            message: st.mask(&failure.error.message),
            ..failure.error
        };
        failure
    })
}
