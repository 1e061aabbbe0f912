//! The audit: every candidate of a node probed on its own, to know which ones work even when the
//! chain does not need them.
//!
//! Each candidate carries its own deadline. A try by a chain probe counts as a check, so audits
//! mostly probe the candidates chains do not reach. A refused candidate waits `audit_interval × 2ⁿ`
//! (capped at 10×) after its n-th refusal in a row, so the monitor never floods a server's log with
//! failed logins; a new identity starts afresh and an audit asked for by hand probes everything.

use std::time::Duration;

use tokio::time::Instant;

use super::snapshot::AttemptOutcome;
use super::state::{InFlight, NodeState};

/// Candidate indexes to audit, in config order: all of them when asked for by hand; otherwise
/// those due, plus the healthy ones due within `slack` so a node's candidates fall into step and
/// the node is audited about once per interval rather than once per candidate.
pub(crate) fn plan(st: &NodeState, forced: bool, now: Instant, slack: Duration) -> Vec<usize> {
    st.cands
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            forced || c.audit_due <= now || (c.refusals == 0 && c.audit_due <= now + slack)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Concludes a finished audit. When it contradicts the last chain probe (a working candidate on a
/// node without a winner, or the winner refused), a chain probe follows at once.
pub(crate) fn finish(st: &mut NodeState, flight: InFlight) {
    let found_valid = flight
        .attempts
        .iter()
        .any(|(_, outcome, _)| *outcome == AttemptOutcome::Ok);
    let winner_refused = st.winner.as_ref().is_some_and(|w| {
        flight.attempts.iter().any(|(id, outcome, _)| {
            *id == w.id && matches!(outcome, AttemptOutcome::Failed(k) if k.is_candidate_level())
        })
    });
    if (st.chain_ran && st.winner.is_none() && found_valid) || winner_refused {
        st.pending_chain = true;
    }
}
