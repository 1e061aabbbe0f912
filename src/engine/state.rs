//! The engine's mutable state: per island, per node and per candidate. Only the engine task
//! touches it; the snapshot is built from it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::event::{CandidateRef, ProbeMode};
use super::islands::SessionGroups;
use super::probe::{ProbeError, ProbeSuccess, Role, Route, WalPosition};
use super::schedule::Stretch;
use super::snapshot::{
    AttemptOutcome, CandidateState, ChainRecord, Health, IslandWarning, LatencyHistory,
};
use super::usage::NodeUsage;
use crate::secret::SecretMatcher;
use crate::topology::{CandidateId, IslandNo, Node};

/// One island: its nodes in config order and what the engine concluded about it.
#[derive(Debug)]
pub(crate) struct IslandState {
    /// Its number.
    pub no: IslandNo,
    /// Nodes in config order.
    pub nodes: Vec<NodeState>,
    /// Shards of the island, from its master (or a replica); kept while every node is down.
    pub shards: Option<Vec<String>>,
    /// Active warnings.
    pub warnings: Vec<IslandWarning>,
    /// Its strings' `target_session_attrs` groups, built when the config is applied.
    pub session_groups: SessionGroups,
}

/// What the engine knows of a candidate.
#[derive(Clone, Debug)]
pub(crate) struct CandState {
    /// Last known state.
    pub state: CandidateState,
    /// The error of the last failed try.
    pub error: Option<ProbeError>,
    /// Latency of the last try.
    pub latency: Option<Duration>,
    /// When last tried.
    pub last_checked: Option<DateTime<Utc>>,
    /// When it last logged in.
    pub last_valid: Option<DateTime<Utc>>,
    /// Failures of any kind in a row.
    pub consecutive_failures: u32,
    /// Candidate-level refusals in a row: the exponent of the audit backoff.
    pub refusals: u32,
    /// When the next audit of it is due.
    pub audit_due: Instant,
    /// The route its last telling probe showed (a success, or PgBouncer's own answer).
    pub route: Option<Route>,
}

impl CandState {
    /// A candidate never tried, due for audit at `now` (a new identity is audited soon).
    pub(crate) fn new(now: Instant) -> Self {
        CandState {
            state: CandidateState::Untested,
            error: None,
            latency: None,
            last_checked: None,
            last_valid: None,
            consecutive_failures: 0,
            refusals: 0,
            audit_due: now,
            route: None,
        }
    }
}

/// The current winner, remembered with its name so events can still name it after a reload
/// removed it.
#[derive(Clone, Debug)]
pub(crate) struct Winner {
    /// Identity.
    pub id: CandidateId,
    /// How events name it.
    pub named: CandidateRef,
}

/// A job in flight for a node, and what it has reported so far.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// Job number.
    pub id: u64,
    /// Chain probe or audit.
    pub mode: ProbeMode,
    /// An audit asked for by hand (re-asked if a reload calls it off).
    pub forced: bool,
    /// Candidates in planned order.
    pub plan: Vec<CandidateId>,
    /// Attempts so far: candidate, outcome, latency.
    pub attempts: Vec<(CandidateId, AttemptOutcome, Duration)>,
    /// The chain's winning probe.
    pub success: Option<(CandidateId, ProbeSuccess)>,
    /// The last failure seen.
    pub last_error: Option<ProbeError>,
    /// The audit's jitter, shared by its candidates so they stay in step.
    pub audit_stretch: Stretch,
    /// A chain probe that ran on schedule: when the node's previous chain probe ended, the start
    /// of its real interval (`behind_schedule`). `None` for a chain asked for or backed off.
    pub paced: Option<Instant>,
    /// Calls the job off between probes (node removed, candidates changed, shutdown). Once
    /// cancelled, the job's attempts on candidates still listed are folded in, and it concludes
    /// nothing.
    pub cancel: CancellationToken,
}

/// What the engine knows of a node.
#[derive(Debug)]
pub(crate) struct NodeState {
    /// The node as configured (candidates in config order).
    pub node: Node,
    /// Candidate states, parallel to `node.candidates`.
    pub cands: Vec<CandState>,
    /// Role from the last winning probe.
    pub role: Role,
    /// Health.
    pub health: Health,
    /// Since when.
    pub health_since: DateTime<Utc>,
    /// Why not ok.
    pub cause: Option<String>,
    /// Current winner.
    pub winner: Option<Winner>,
    /// Where the next chain starts.
    pub remembered: Option<CandidateId>,
    /// True once a chain probe has finished.
    pub chain_ran: bool,
    /// The last chain probe.
    pub last_chain: Option<ChainRecord>,
    /// When the last chain probe ended (tokio time).
    pub last_chain_end: Option<Instant>,
    /// Why the last chain found no winner.
    pub down_cause: Option<String>,
    /// Chain latencies.
    pub latency: LatencyHistory,
    /// WAL positions from the last winning probe.
    pub wal: Option<WalPosition>,
    /// Shards from the last winning probe.
    pub shards: Option<Vec<String>>,
    /// True after a node-level failure until a probe gets through again; scheduled audits wait.
    pub unreachable: bool,
    /// Chains in a row that found no winner only because every candidate was refused.
    pub refused_chains: u32,
    /// When the next scheduled chain is due.
    pub next_chain: Instant,
    /// The job in flight.
    pub in_flight: Option<InFlight>,
    /// A chain was asked for (new node, command, reload): run it as soon as the node is free.
    pub pending_chain: bool,
    /// An audit was asked for by hand: run it (every candidate) as soon as the node is free.
    pub pending_audit: bool,
    /// The passwords of its candidates, for masking failure messages: built at the first
    /// failure, dropped when a reload changes the candidates (see [`NodeState::mask`]).
    pub matcher: Option<SecretMatcher>,
    /// Sessions per login of its candidates, from its probes.
    pub usage: NodeUsage,
}

impl NodeState {
    /// A node just added: unknown, every candidate untested and due, a chain asked for.
    pub(crate) fn new(node: Node, now: Instant, at: DateTime<Utc>) -> Self {
        let cands = vec![CandState::new(now); node.candidates.len()];
        NodeState {
            node,
            cands,
            role: Role::Unknown,
            health: Health::Unknown,
            health_since: at,
            cause: None,
            winner: None,
            remembered: None,
            chain_ran: false,
            last_chain: None,
            last_chain_end: None,
            down_cause: None,
            latency: LatencyHistory::default(),
            wal: None,
            shards: None,
            unreachable: false,
            refused_chains: 0,
            next_chain: now,
            in_flight: None,
            pending_chain: true,
            pending_audit: false,
            matcher: None,
            usage: NodeUsage::default(),
        }
    }

    /// `text` with every password of the node's candidates masked: one matcher per node, so a
    /// message costs O(its length) however many candidates the node has (an audit of 40,000
    /// candidates is no longer quadratic).
    pub(crate) fn mask(&mut self, text: &str) -> String {
        let candidates = &self.node.candidates;
        self.matcher
            .get_or_insert_with(|| SecretMatcher::new(candidates.iter().map(|c| &c.password)))
            .redact(text)
    }

    /// Config index of a candidate.
    pub(crate) fn position(&self, id: &CandidateId) -> Option<usize> {
        self.node.candidates.iter().position(|c| c.id == *id)
    }

    /// How events name candidate `index`.
    pub(crate) fn named(&self, index: usize) -> CandidateRef {
        let c = &self.node.candidates[index];
        CandidateRef {
            index,
            login: c.login.clone(),
            label: c.label.clone(),
            fingerprint: c.id.fingerprint,
        }
    }

    /// The earliest audit deadline of its candidates.
    pub(crate) fn audit_due(&self) -> Option<Instant> {
        self.cands.iter().map(|c| c.audit_due).min()
    }
}
