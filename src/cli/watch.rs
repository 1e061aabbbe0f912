//! The `watch` loop: the engine's feed, printed as NDJSON until shutdown.
//!
//! A broadcast receiver only sees what is sent after it subscribed, and the engine may already
//! have emitted its first events (`config_applied`, ...) by then. So the loop first prints the
//! snapshot's event ring (the backlog) and then skips those same events if they also arrive on
//! the feed. When the printer falls behind and the channel drops items, it prints a
//! `{"type":"lagged","missed":N}` line and carries on instead of dying.

use std::io::{self, Write};

use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::engine::{Event, Feed};
use crate::report::NdjsonWriter;

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

/// Prints `backlog` then every feed item until shutdown, output closed, or feed closed.
/// Write errors other than a closed pipe (a full disk under `--record`) are returned.
pub async fn stream<W: Write>(
    feed: &mut broadcast::Receiver<Feed>,
    backlog: Vec<Event>,
    writer: &mut NdjsonWriter<W>,
    clock: &dyn Clock,
    shutdown: &CancellationToken,
) -> io::Result<StreamEnd> {
    let mut printer = Printer {
        writer,
        clock,
        backlog: Vec::new(),
    };
    for event in backlog {
        let item = Feed::Event(event);
        if let Some(end) = printer.print(Ok(&item))? {
            return Ok(end);
        }
        if let Feed::Event(event) = item {
            printer.backlog.push(event);
        }
    }
    loop {
        let received = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            r = feed.recv() => r,
        };
        let result = match &received {
            Ok(item) => printer.print(Ok(item)),
            Err(RecvError::Lagged(n)) => printer.print(Err(*n)),
            Err(RecvError::Closed) => return Ok(StreamEnd::FeedClosed),
        };
        if let Some(end) = result? {
            return Ok(end);
        }
    }
    // Shutting down: print what is already queued, without waiting for more.
    loop {
        let result = match feed.try_recv() {
            Ok(item) => printer.print(Ok(&item)),
            Err(TryRecvError::Lagged(n)) => printer.print(Err(n)),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        };
        if let Some(end) = result? {
            return Ok(end);
        }
    }
    Ok(StreamEnd::Shutdown)
}

struct Printer<'a, W: Write> {
    writer: &'a mut NdjsonWriter<W>,
    clock: &'a dyn Clock,
    /// Events printed from the snapshot's ring that may still arrive on the feed.
    backlog: Vec<Event>,
}

impl<W: Write> Printer<'_, W> {
    /// Prints an item (`Ok`) or a lag notice (`Err(missed)`). `Some(end)` when the stream must
    /// stop because the output is closed.
    fn print(&mut self, item: Result<&Feed, u64>) -> io::Result<Option<StreamEnd>> {
        let written = match item {
            Ok(Feed::Event(e)) if self.already_printed(e) => Ok(()),
            Ok(feed) => self.writer.write_feed(feed).map(drop),
            Err(missed) => self.writer.write_lagged(missed, self.clock.now()),
        };
        match written {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(StreamEnd::OutputClosed)),
            Err(e) => Err(e),
        }
    }

    /// True when `e` was printed from the backlog already (and forgets it).
    fn already_printed(&mut self, e: &Event) -> bool {
        // The feed is in time order: backlog events older than `e` can no longer arrive.
        self.backlog.retain(|b| b.at >= e.at);
        match self.backlog.iter().position(|b| b == e) {
            Some(i) => {
                self.backlog.remove(i);
                true
            }
            None => false,
        }
    }
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

    #[tokio::test]
    async fn prints_queued_items_then_stops_on_shutdown() {
        let (tx, mut rx) = broadcast::channel(16);
        for f in fixtures::feed() {
            tx.send(f).unwrap();
        }
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let mut w = NdjsonWriter::new(Vec::new(), true, None);
        let clock = ManualClock::new(fixtures::at(0));
        let end = stream(&mut rx, vec![], &mut w, &clock, &shutdown)
            .await
            .unwrap();
        assert_eq!(end, StreamEnd::Shutdown);
        assert_eq!(types(&w), fixtures::FEED_TYPES);
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
        let end = stream(&mut rx, vec![], &mut w, &clock, &shutdown)
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
        let end = stream(&mut rx, vec![], &mut w, &clock, &CancellationToken::new())
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
    async fn the_backlog_is_printed_once_even_if_the_feed_repeats_it() {
        let events = fixtures::events();
        let (tx, mut rx) = broadcast::channel(16);
        // Subscribed after the first two events; the ring holds the first three, so the third
        // arrives on both paths.
        tx.send(Feed::Event(events[2].clone())).unwrap();
        tx.send(Feed::Probe(fixtures::probe_record())).unwrap();
        tx.send(Feed::Event(events[3].clone())).unwrap();
        drop(tx);
        let mut w = NdjsonWriter::new(Vec::new(), true, None);
        let clock = ManualClock::new(fixtures::at(0));
        let end = stream(
            &mut rx,
            events[..3].to_vec(),
            &mut w,
            &clock,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(end, StreamEnd::FeedClosed);
        assert_eq!(
            types(&w),
            [
                "config_applied",
                "candidate_changed",
                "winner_changed",
                "probe",
                "warning"
            ]
        );
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
            let (_tx, mut rx) = broadcast::channel::<Feed>(4);
            let mut w = NdjsonWriter::new(Failing(kind), false, None);
            let shutdown = CancellationToken::new();
            stream(&mut rx, fixtures::events(), &mut w, &clock, &shutdown).await
        }
        let end = run(io::ErrorKind::BrokenPipe).await.unwrap();
        assert_eq!(end, StreamEnd::OutputClosed);
        let err = run(io::ErrorKind::StorageFull).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
