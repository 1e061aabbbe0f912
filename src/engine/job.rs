//! Probe jobs: one chain probe or one audit of one node, run as its own task.
//!
//! A job probes its plan's candidates one after another (never in parallel within a node) and
//! reports every attempt to the engine task over a channel; only the engine task changes state.
//! When to stop is decided here, once, for both modes: a chain stops at its first success, and
//! a node-level failure ends both for every candidate on the same path (a hung or refusing node
//! costs one deadline, not one per candidate). Candidates of the node that go another way (a
//! pooler's port and the server's own, listed under one name) are still tried: a dead pooler
//! says nothing about the server behind it, and an application with both would fall back.
//!
//! A job takes one permit of the engine's concurrency semaphore before its first probe and keeps
//! it to its end: the failover to a chain's next candidate starts at once, never behind other
//! nodes' probes queued for a permit (issue 14). Probes in flight stay bounded by
//! `probe.concurrency` all the same, since a job runs one probe at a time.
//!
//! A job is called off with its [`CancellationToken`] (a reload changed the node's candidates or
//! removed the node, or the engine stops): the token is checked before each next candidate, so
//! the probe in progress ends normally — its connection closed by the prober as usual, never
//! dropped mid-handshake (a TCP reset in the server's log) — and no further probe of the plan
//! starts.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::event::ProbeMode;
use super::probe::{ErrorKind, ProbeError, ProbeFailure, ProbeOutcome, ProbeRequest, Prober};
use crate::topology::{Candidate, CandidateId, ConnTarget, NodeKey};

/// How long past `request.timeout` the engine waits before cutting off a prober that ignores its
/// own deadline (a bug, but it must not wedge a node forever).
pub(crate) const OVERRUN_GRACE: Duration = Duration::from_secs(1);

/// What a job is asked to do.
#[derive(Debug)]
pub(crate) struct Job {
    /// The node probed.
    pub node: NodeKey,
    /// Unique job number, so late reports of a job called off are recognised and dropped.
    pub id: u64,
    /// Chain probe or audit.
    pub mode: ProbeMode,
    /// Candidates in the order to try them.
    pub plan: Vec<Candidate>,
    /// Bound on the TCP connect.
    pub connect_timeout: Duration,
    /// Bound on each whole probe.
    pub timeout: Duration,
    /// Shard discovery pattern.
    pub shard_pattern: Option<String>,
    /// Logins whose sessions every probe counts.
    pub usage_logins: Vec<String>,
}

/// What a job tells the engine task.
#[derive(Debug)]
pub(crate) enum Report {
    /// One probe finished.
    Attempt {
        /// The node.
        node: NodeKey,
        /// The job.
        job: u64,
        /// The candidate probed.
        candidate: CandidateId,
        /// When the probe started (its permit held).
        started: Instant,
        /// The result (boxed: a success is large, and reports queue up by the hundred).
        outcome: Box<ProbeOutcome>,
    },
    /// The job is over (normally, called off, by panic or by abort: sent from a drop guard).
    Done {
        /// The node.
        node: NodeKey,
        /// The job.
        job: u64,
    },
}

/// True when `outcome` ends a job of this mode: a chain's first success.
fn ends_job(mode: ProbeMode, outcome: &ProbeOutcome) -> bool {
    outcome.is_ok() && mode == ProbeMode::Chain
}

/// True when `outcome` closes its candidate's path for the rest of the job: a node-level failure.
fn closes_path(outcome: &ProbeOutcome) -> bool {
    matches!(outcome, Err(f) if !f.error.kind.is_candidate_level())
}

/// Runs `job` to its end, or until `cancel` is cancelled (checked between probes), reporting to
/// `reports`.
pub(crate) async fn run<P: Prober>(
    prober: Arc<P>,
    permits: Arc<Semaphore>,
    job: Job,
    reports: mpsc::UnboundedSender<Report>,
    cancel: CancellationToken,
) {
    // Sent on every exit path, panics and aborts included, so a node is never stuck "in flight".
    let _done = DoneGuard {
        reports: reports.clone(),
        node: job.node.clone(),
        job: job.id,
    };
    // Waiting for a permit holds no connection: calling the job off here is free.
    let permit = tokio::select! {
        biased;
        () = cancel.cancelled() => return,
        permit = permits.acquire_owned() => permit,
    };
    let Ok(_permit) = permit else {
        return;
    };
    // Paths a node-level failure closed: their other candidates are not tried.
    let mut closed: Vec<Arc<ConnTarget>> = Vec::new();
    for candidate in job.plan {
        if cancel.is_cancelled() {
            return;
        }
        if closed.contains(&candidate.target) {
            continue;
        }
        let target = candidate.target.clone();
        let id = candidate.id.clone();
        let mut request = ProbeRequest::new(
            candidate,
            job.connect_timeout,
            job.timeout,
            job.shard_pattern.clone(),
        );
        request.usage_logins = job.usage_logins.clone();
        let started = Instant::now();
        let outcome = bounded(prober.as_ref(), request).await;
        let stop = ends_job(job.mode, &outcome);
        if closes_path(&outcome) {
            closed.push(target);
        }
        let sent = reports.send(Report::Attempt {
            node: job.node.clone(),
            job: job.id,
            candidate: id,
            started,
            outcome: Box::new(outcome),
        });
        if stop || sent.is_err() {
            return;
        }
    }
}

/// One probe, cut off [`OVERRUN_GRACE`] after its deadline if the prober overruns it.
async fn bounded<P: Prober>(prober: &P, request: ProbeRequest) -> ProbeOutcome {
    let (deadline, origin) = (request.timeout, request.timeout_origin);
    let started = Instant::now();
    match tokio::time::timeout(deadline + OVERRUN_GRACE, prober.probe(request)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(ProbeFailure {
            error: ProbeError {
                kind: ErrorKind::Timeout,
                sqlstate: None,
                message: format!(
                    "probe overran its {} ms deadline ({})",
                    deadline.as_millis(),
                    origin.describe()
                ),
            },
            elapsed: started.elapsed(),
        }),
    }
}

/// Reports `Done` when dropped.
struct DoneGuard {
    reports: mpsc::UnboundedSender<Report>,
    node: NodeKey,
    job: u64,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        // The engine may be gone already (shutdown): nothing to tell then.
        let _ = self.reports.send(Report::Done {
            node: self.node.clone(),
            job: self.job,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake;
    use crate::engine::probe::{PhaseLatency, ProbeSuccess, Role, Route, WalPosition};
    use crate::secret::Password;

    /// Refuses every probe on port 1 (a dead pooler), logs in on any other port.
    struct ByPort;

    impl Prober for ByPort {
        async fn probe(&self, request: ProbeRequest) -> ProbeOutcome {
            if request.candidate.target.endpoint.port() == 1 {
                return Err(ProbeFailure {
                    error: ProbeError {
                        kind: ErrorKind::Refused,
                        sqlstate: None,
                        message: "connection refused".into(),
                    },
                    elapsed: Duration::ZERO,
                });
            }
            Ok(ProbeSuccess {
                role: Role::Master,
                wal: WalPosition::default(),
                shards: None,
                latency: PhaseLatency::default(),
                route: Route::Direct,
                usage: None,
            })
        }
    }

    fn candidate(port: u16, login: &str) -> Candidate {
        let target = Arc::new(ConnTarget::tcp(
            "127.0.0.1",
            port,
            "app",
            format!(":{port}"),
        ));
        Candidate::new("n".into(), target, login, Password::new("pw"), None)
    }

    /// The ports and logins a job probed, in order.
    async fn probed(mode: ProbeMode, plan: Vec<Candidate>) -> Vec<(u16, String)> {
        let job = Job {
            node: NodeKey {
                island: crate::topology::IslandNo(0),
                name: "n".into(),
            },
            id: 1,
            mode,
            plan,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            shard_pattern: None,
            usage_logins: Vec::new(),
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(1));
        run(Arc::new(ByPort), permits, job, tx, CancellationToken::new()).await;
        let mut seen = Vec::new();
        while let Ok(report) = rx.try_recv() {
            if let Report::Attempt { candidate, .. } = report {
                let port = candidate.address.trim_start_matches(':').parse().unwrap();
                seen.push((port, candidate.login));
            }
        }
        seen
    }

    #[tokio::test]
    async fn a_dead_path_closes_its_own_candidates_only() {
        // A pooler (port 1, dead) and the server's own port (2), two logins each.
        let plan = || {
            vec![
                candidate(1, "a"),
                candidate(1, "b"),
                candidate(2, "a"),
                candidate(2, "b"),
            ]
        };
        let p = |port: u16, login: &str| (port, login.to_owned());
        // A chain falls back to the other path and stops at its first success.
        assert_eq!(
            probed(ProbeMode::Chain, plan()).await,
            [p(1, "a"), p(2, "a")]
        );
        // An audit tries every candidate of the live path, and one of the dead path.
        assert_eq!(
            probed(ProbeMode::Audit, plan()).await,
            [p(1, "a"), p(2, "a"), p(2, "b")]
        );
    }

    /// A prober that ignores its deadline: never answers.
    struct Stuck;

    impl Prober for Stuck {
        async fn probe(&self, _request: ProbeRequest) -> ProbeOutcome {
            std::future::pending().await
        }
    }

    /// The cut-off names the deadline and the setting it came from: the connection string's
    /// `connect_timeout` when it is the smaller, `probe.timeout` otherwise.
    #[tokio::test(start_paused = true)]
    async fn an_overrun_names_the_deadline_and_its_origin() {
        let mut candidate = fake::candidate("n", "app", "overrun-pw");
        let request =
            |c| ProbeRequest::new(c, Duration::from_secs(1), Duration::from_secs(2), None);
        let message = |outcome: ProbeOutcome| outcome.unwrap_err().error.message;

        let settings = message(bounded(&Stuck, request(candidate.clone())).await);
        assert_eq!(
            settings,
            "probe overran its 2000 ms deadline (probe.timeout)"
        );

        Arc::make_mut(&mut candidate.target).connect_timeout = Some(Duration::from_millis(500));
        let own = message(bounded(&Stuck, request(candidate)).await);
        assert_eq!(
            own,
            "probe overran its 500 ms deadline (connect_timeout of the connection string)"
        );
    }
}
