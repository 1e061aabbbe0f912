//! The `watch` loop: the engine's feed, printed as NDJSON until shutdown.
//!
//! It reads the engine's `feed_from_start` subscription, taken before the first config was
//! applied, so the first `config_applied` and everything after it are printed exactly once. When
//! the printer falls behind and the channel drops items, it prints a
//! `{"type":"lagged","missed":N}` line and carries on instead of dying. With a [`Beat`], a
//! `heartbeat` line follows every period.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::engine::{Feed, Snapshot};
use crate::report::NdjsonWriter;

/// The heartbeat of a stream: how often, and the snapshots its counts come from.
#[derive(Debug)]
pub struct Beat {
    /// The period.
    pub every: Duration,
    /// The engine's snapshots.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
}

/// Why the stream stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The shutdown token was cancelled (a signal); what was already queued was printed.
    Shutdown,
    /// The reader went away (`watch | head`): a normal end for a stream.
    OutputClosed,
    /// The engine dropped its feed: it stopped on its own.
    FeedClosed,
}

/// Prints every feed item until shutdown, output closed, or feed closed. Write errors other
/// than a closed pipe (a full disk under `--record`) are returned.
pub async fn stream<W: Write>(
    feed: &mut broadcast::Receiver<Feed>,
    writer: &mut NdjsonWriter<W>,
    clock: &dyn Clock,
    shutdown: &CancellationToken,
    beat: Option<Beat>,
) -> io::Result<StreamEnd> {
    let every = beat.as_ref().map_or(Duration::from_secs(3600), |b| b.every);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let print = |writer: &mut NdjsonWriter<W>, item: Result<&Feed, u64>| {
        let written = match item {
            Ok(feed) => writer.write_feed(feed).map(drop),
            Err(missed) => writer.write_lagged(missed, clock.now()),
        };
        match written {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(StreamEnd::OutputClosed)),
            Err(e) => Err(e),
        }
    };
    loop {
        let received = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            r = feed.recv() => r,
            _ = ticker.tick(), if beat.is_some() => {
                let Some(beat) = &beat else { continue };
                match heartbeat(writer, clock, beat) {
                    Ok(()) => continue,
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                        return Ok(StreamEnd::OutputClosed)
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let result = match &received {
            Ok(item) => print(writer, Ok(item)),
            Err(RecvError::Lagged(n)) => print(writer, Err(*n)),
            Err(RecvError::Closed) => return Ok(StreamEnd::FeedClosed),
        };
        if let Some(end) = result? {
            return Ok(end);
        }
    }
    // Shutting down: print what is already queued, without waiting for more.
    loop {
        let result = match feed.try_recv() {
            Ok(item) => print(writer, Ok(&item)),
            Err(TryRecvError::Lagged(n)) => print(writer, Err(n)),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        };
        if let Some(end) = result? {
            return Ok(end);
        }
    }
    // The last word: the monitor ran until now. Without it a recording ends at the previous
    // heartbeat, and `report` would lose up to a period of what was watched (an outage included).
    if let Some(beat) = &beat {
        match heartbeat(writer, clock, beat) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(StreamEnd::OutputClosed),
            written => written?,
        }
    }
    Ok(StreamEnd::Shutdown)
}

/// A `heartbeat` line: the time, the period and the latest snapshot's counts.
fn heartbeat<W: Write>(
    writer: &mut NdjsonWriter<W>,
    clock: &dyn Clock,
    beat: &Beat,
) -> io::Result<()> {
    let snapshot = beat.snapshots.borrow().clone();
    writer.write_heartbeat(
        clock.now(),
        beat.every,
        &snapshot.summary(),
        snapshot.config.generation,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::report::fixtures;
    use serde_json::Value;

    fn types(w: &NdjsonWriter<Vec<u8>>) -> Vec<String> {
        fixtures::line_types(w.output())
    }

    /// The fixture feed, queued, then a stop at `at` seconds: what the stream printed.
    async fn stopped(at: i64, beat: Option<Beat>) -> NdjsonWriter<Vec<u8>> {
        let (tx, mut rx) = broadcast::channel(16);
        for f in fixtures::feed() {
            tx.send(f).unwrap();
        }
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let mut w = NdjsonWriter::new(Vec::new(), true, None);
        let clock = ManualClock::new(fixtures::at(at));
        let end = stream(&mut rx, &mut w, &clock, &shutdown, beat)
            .await
            .unwrap();
        assert_eq!(end, StreamEnd::Shutdown);
        w
    }

    #[tokio::test]
    async fn prints_queued_items_then_stops_on_shutdown() {
        let w = stopped(0, None).await;
        assert_eq!(types(&w), fixtures::FEED_TYPES);
    }

    #[tokio::test]
    async fn a_stop_ends_with_a_heartbeat_at_the_time_of_the_stop() {
        let (_, snapshots) = watch::channel(Arc::new(crate::ui::fixtures::all_ok()));
        let beat = Beat {
            every: Duration::from_secs(10),
            snapshots,
        };
        let w = stopped(7, Some(beat)).await;
        let mut expected: Vec<&str> = fixtures::FEED_TYPES.to_vec();
        expected.push("heartbeat");
        assert_eq!(types(&w), expected);
        let text = std::str::from_utf8(w.output()).unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["at"], "2026-11-28T10:00:07.000Z");
    }

    #[tokio::test]
    async fn streams_live_items_until_shutdown() {
        let (tx, mut rx) = broadcast::channel(16);
        let shutdown = CancellationToken::new();
        let clock = ManualClock::new(fixtures::at(0));
        let sender = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                for f in fixtures::feed() {
                    tx.send(f).unwrap();
                    tokio::task::yield_now().await;
                }
                shutdown.cancel();
                tx // keep the channel open: the end must come from the token
            })
        };
        let mut w = NdjsonWriter::new(Vec::new(), false, None);
        let end = stream(&mut rx, &mut w, &clock, &shutdown, None)
            .await
            .unwrap();
        drop(sender.await.unwrap());
        assert_eq!(end, StreamEnd::Shutdown);
        assert_eq!(
            types(&w),
            [
                "config_applied",
                "candidate_changed",
                "winner_changed",
                "warning"
            ]
        );
    }

    #[tokio::test]
    async fn lag_is_a_line_not_a_failure() {
        let (tx, mut rx) = broadcast::channel(2);
        for f in fixtures::feed() {
            let _ = tx.send(f);
        }
        drop(tx);
        let mut w = NdjsonWriter::new(Vec::new(), true, None);
        let clock = ManualClock::new(fixtures::at(5));
        let end = stream(&mut rx, &mut w, &clock, &CancellationToken::new(), None)
            .await
            .unwrap();
        assert_eq!(end, StreamEnd::FeedClosed);
        let text = std::str::from_utf8(w.output()).unwrap();
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["type"], "lagged");
        assert_eq!(first["missed"], 4);
        assert_eq!(first["at"], "2026-11-28T10:00:05.000Z");
        assert_eq!(types(&w), ["lagged", "winner_changed", "warning"]);
    }

    #[tokio::test]
    async fn a_closed_pipe_ends_the_stream_quietly_and_other_errors_do_not() {
        struct Failing(io::ErrorKind);
        impl Write for Failing {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(self.0.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        async fn run(kind: io::ErrorKind) -> io::Result<StreamEnd> {
            let clock = ManualClock::new(fixtures::at(0));
            // The sender stays open: the end must come from the failing write.
            let (tx, mut rx) = broadcast::channel::<Feed>(16);
            for f in fixtures::feed() {
                tx.send(f).unwrap();
            }
            let mut w = NdjsonWriter::new(Failing(kind), false, None);
            let shutdown = CancellationToken::new();
            let end = stream(&mut rx, &mut w, &clock, &shutdown, None).await;
            drop(tx);
            end
        }
        let end = run(io::ErrorKind::BrokenPipe).await.unwrap();
        assert_eq!(end, StreamEnd::OutputClosed);
        let err = run(io::ErrorKind::StorageFull).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
