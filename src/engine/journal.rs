//! The event journal: stamps events with the injected clock, keeps the bounded ring the snapshot
//! shows, and streams events and probe records on the broadcast feed.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::event::{Event, EventKind, Feed, ProbeRecord};
use super::EVENT_RING;
use crate::clock::SharedClock;

/// Where the engine writes what happened.
pub(crate) struct Journal {
    clock: SharedClock,
    /// The ring, oldest first.
    pub events: VecDeque<Event>,
    feed: broadcast::Sender<Feed>,
}

impl Journal {
    /// A journal stamping with `clock` and streaming on `feed`.
    pub(crate) fn new(clock: SharedClock, feed: broadcast::Sender<Feed>) -> Self {
        Journal {
            clock,
            events: VecDeque::new(),
            feed,
        }
    }

    /// The wall-clock time now.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Records an event in the ring and on the feed.
    pub(crate) fn emit(&mut self, kind: EventKind) {
        let event = Event {
            at: self.clock.now(),
            kind,
        };
        if self.events.len() >= EVENT_RING {
            self.events.pop_front();
        }
        self.events.push_back(event.clone());
        // Nobody listening is fine: the ring keeps it.
        let _ = self.feed.send(Feed::Event(event));
    }

    /// Streams a probe record (never kept in the ring).
    pub(crate) fn probe(&self, record: ProbeRecord) {
        let _ = self.feed.send(Feed::Probe(record));
    }
}
