//! The chain probe, as an application does it on reconnect: the remembered best first, then the
//! other candidates in config order, one after another, until one works. The job (`job.rs`) runs
//! the probes and decides when to stop; this module plans the order and concludes.

use std::time::Duration;

use super::core::Cx;
use super::event::EventKind;
use super::health::cause_line;
use super::snapshot::{Attempt, AttemptOutcome, CandidateState, ChainRecord, LatencySample};
use super::state::{InFlight, NodeState, Winner};

/// Candidate indexes in chain order: the remembered best (while still listed), then the others in
/// config order.
pub(crate) fn plan(st: &NodeState) -> Vec<usize> {
    let first = st.remembered.as_ref().and_then(|id| st.position(id));
    first
        .into_iter()
        .chain((0..st.node.candidates.len()).filter(|&i| Some(i) != first))
        .collect()
}

/// Concludes a finished chain probe: winner, remembered best, role, WAL, shards, latency, the
/// chain record, and when the next chain is due.
pub(crate) fn finish(st: &mut NodeState, flight: InFlight, cx: &mut Cx) {
    let interval = cx.settings.interval;
    if flight.attempts.is_empty() {
        // Ended before any probe (the job died): no verdict, try again on schedule; the next
        // chain's real interval is not measured from a chain that never ran.
        st.next_chain = cx.now + cx.jitter.stretch(interval);
        st.last_chain_end = None;
        return;
    }
    let mut attempts: Vec<Attempt> = flight
        .attempts
        .iter()
        .filter(|(id, _, _)| st.position(id).is_some())
        .map(|(id, outcome, latency)| Attempt {
            candidate: id.clone(),
            outcome: *outcome,
            latency: *latency,
        })
        .collect();
    let node_failed = flight.success.is_none()
        && flight
            .last_error
            .as_ref()
            .is_some_and(|e| !e.kind.is_candidate_level());
    if node_failed {
        mark_skipped(st, &flight, &mut attempts, cx);
    }

    let previous = st.winner.take();
    match &flight.success {
        Some((id, success)) => {
            // A job whose node's candidates changed is called off and concludes nothing, so the
            // winner is listed.
            if let Some(index) = st.position(id) {
                st.winner = Some(Winner {
                    id: id.clone(),
                    named: st.named(index),
                });
                st.remembered = Some(id.clone());
            }
            st.wal = Some(success.wal);
            st.shards = success.shards.clone();
            st.refused_chains = 0;
            st.down_cause = None;
            st.latency.push(LatencySample {
                at: cx.at,
                latency: success.latency.total,
                ok: true,
                fell_back: flight
                    .attempts
                    .iter()
                    .any(|(_, outcome, _)| *outcome != AttemptOutcome::Ok),
            });
        }
        None => {
            // Every candidate refused: back off like the audit does, so a node with no working
            // secret does not see a burst of failed logins every interval.
            st.refused_chains = if node_failed {
                0
            } else {
                st.refused_chains.saturating_add(1)
            };
            st.down_cause = flight.last_error.as_ref().map(cause_line);
            st.latency.push(LatencySample {
                at: cx.at,
                latency: flight.attempts.iter().map(|a| a.2).sum::<Duration>(),
                ok: false,
                fell_back: false,
            });
        }
    }
    let from_id = previous.as_ref().map(|w| &w.id);
    if from_id != st.winner.as_ref().map(|w| &w.id) {
        let key = &st.node.key;
        cx.log.emit(EventKind::WinnerChanged {
            island: key.island,
            node: key.name.to_string(),
            from: previous.map(|w| w.named),
            to: st.winner.as_ref().map(|w| w.named.clone()),
        });
    }
    if let Some((_, success)) = &flight.success {
        if success.role != st.role {
            let key = &st.node.key;
            cx.log.emit(EventKind::RoleChanged {
                island: key.island,
                node: key.name.to_string(),
                from: st.role,
                to: success.role,
            });
            st.role = success.role;
        }
    }
    st.chain_ran = true;
    st.last_chain_end = Some(cx.now);
    st.last_chain = Some(ChainRecord {
        at: cx.at,
        attempts,
    });
    st.next_chain = cx.now + cx.jitter.backoff(interval, st.refused_chains);
}

/// Lists the candidates a node-level failure kept the chain from trying. They keep their last
/// known validity; one never tried at all becomes `skipped` rather than staying `untested`.
fn mark_skipped(st: &mut NodeState, flight: &InFlight, attempts: &mut Vec<Attempt>, cx: &mut Cx) {
    for id in &flight.plan {
        if flight.attempts.iter().any(|(tried, _, _)| tried == id) {
            continue;
        }
        let Some(index) = st.position(id) else {
            continue;
        };
        attempts.push(Attempt {
            candidate: id.clone(),
            outcome: AttemptOutcome::Skipped,
            latency: Duration::ZERO,
        });
        let c = &mut st.cands[index];
        if c.state == CandidateState::Untested {
            c.state = CandidateState::Skipped;
            let key = &st.node.key;
            cx.log.emit(EventKind::CandidateChanged {
                island: key.island,
                node: key.name.to_string(),
                candidate: st.named(index),
                from: CandidateState::Untested,
                to: CandidateState::Skipped,
                error: None,
            });
        }
    }
}
