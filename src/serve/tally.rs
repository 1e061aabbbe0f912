//! The task that folds the engine's feed into the [`Tally`] `/metrics` reads.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::{EventKind, Feed, Snapshot};
use crate::report::metrics::Tally;

/// The tally, shared between its task and the scrapes (each holds the lock only to update or
/// copy it).
#[derive(Clone, Debug, Default)]
pub struct SharedTally(Arc<Mutex<Tally>>);

impl SharedTally {
    /// A copy of the counters now.
    pub fn get(&self) -> Tally {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Tally)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Folds `feed` in until `shutdown` or the feed closes. Subscribe before the engine starts
    /// work (its `feed_from_start`) to count every probe. On each applied config, failed-auth
    /// counts of logins the latest snapshot no longer lists are dropped.
    pub fn spawn(
        &self,
        mut feed: broadcast::Receiver<Feed>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        let tally = self.clone();
        tokio::spawn(async move {
            loop {
                let item = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    item = feed.recv() => item,
                };
                match item {
                    Ok(item) => {
                        let applied = matches!(
                            &item,
                            Feed::Event(e) if matches!(e.kind, EventKind::ConfigApplied { .. })
                        );
                        let current = applied.then(|| snapshots.borrow().clone());
                        tally.update(|t| {
                            t.record(&item);
                            if let Some(s) = current {
                                t.retain_logins(|login| {
                                    s.nodes()
                                        .any(|n| n.candidates.iter().any(|c| c.login == login))
                                });
                            }
                        });
                    }
                    Err(RecvError::Lagged(missed)) => tally.update(|t| t.missed(missed)),
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[tokio::test]
    async fn the_feed_is_folded_and_lag_counted() {
        let (tx, rx) = broadcast::channel(4);
        let (_snap_tx, snapshots) = watch::channel(Arc::new(fixtures::rotation()));
        let tally = SharedTally::default();
        let shutdown = CancellationToken::new();
        // Six items into a channel of four, before the task reads: two are lost to lag.
        for item in fixtures::feed() {
            let _ = tx.send(item);
        }
        drop(tx);
        let task = tally.spawn(rx, snapshots, shutdown);
        task.await.unwrap();
        let t = tally.get();
        assert_eq!(t.lagged, 2);
        // The last four: candidate_changed, the ok probe, winner_changed, warning.
        assert_eq!(t.probes[0][0].count, 1);
        assert_eq!(t.probes[0][1].count, 0);
    }
}
