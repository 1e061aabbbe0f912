//! The event journal: stamps events with the injected clock, keeps the bounded ring the snapshot
//! shows, streams events and probe records on the broadcast feed, and folds every event into
//! the [`History`] and the rotation episode [`Detector`] (whose `rotation_started` and
//! `rotation_finished` events go out through the journal like any other).

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::episodes::Detector;
use super::event::{Event, EventKind, Feed, ProbeRecord};
use super::history::{Change, History, Observed};
use super::EVENT_RING;
use crate::clock::SharedClock;

/// Where the engine writes what happened.
pub(crate) struct Journal {
    clock: SharedClock,
    /// The ring, oldest first.
    pub events: VecDeque<Event>,
    feed: broadcast::Sender<Feed>,
    observed: Observed,
    history: History,
    detector: Detector,
    /// Reused buffer for the changes of one event.
    changes: Vec<Change>,
}

impl Journal {
    /// A journal stamping with `clock` and streaming on `feed`, with an empty history.
    pub(crate) fn new(clock: SharedClock, feed: broadcast::Sender<Feed>) -> Self {
        Self::with_history(clock, feed, History::default())
    }

    /// A journal that carries on `history` (restored from a `[state]` file): a new run starts
    /// now.
    pub(crate) fn with_history(
        clock: SharedClock,
        feed: broadcast::Sender<Feed>,
        mut history: History,
    ) -> Self {
        history.start_run(clock.now());
        Journal {
            clock,
            events: VecDeque::new(),
            feed,
            observed: Observed::default(),
            history,
            detector: Detector::default(),
            changes: Vec::new(),
        }
    }

    /// The wall-clock time now.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Records an event in the ring, on the feed and in the history.
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
        let _ = self.feed.send(Feed::Event(event.clone()));
        self.fold(&event);
    }

    /// Streams a probe record (never kept in the ring) and counts it.
    pub(crate) fn probe(&mut self, record: ProbeRecord) {
        self.history.count_probe(&record);
        self.detector.probe(&record);
        let _ = self.feed.send(Feed::Probe(record));
    }

    /// Ends the open episode when its time is up.
    pub(crate) fn tick(&mut self) {
        let at = self.clock.now();
        if let Some(kind) = self.detector.tick(at, Instant::now(), &self.observed) {
            self.emit(kind);
        }
    }

    /// Episodes settle over the longer of the chain and audit intervals (`engine/episodes.rs`).
    pub(crate) fn set_probe_intervals(&mut self, interval: Duration, audit_interval: Duration) {
        self.detector.set_settle(interval, audit_interval);
    }

    /// When [`Journal::tick`] has something to do.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.detector.deadline()
    }

    /// The history as of now, for a snapshot (the open episode's summary brought up to date).
    pub(crate) fn history(&mut self) -> History {
        if self.detector.is_open() {
            let progress = self.detector.progress(self.clock.now(), &self.observed);
            self.history.set_open_episode(progress);
        }
        self.history.clone()
    }

    /// The monitor stops: the history's run ends now.
    pub(crate) fn end_run(&mut self) {
        let at = self.clock.now();
        self.history.end_run(at);
    }

    fn fold(&mut self, event: &Event) {
        let mut changes = std::mem::take(&mut self.changes);
        changes.clear();
        self.observed.apply(event, &mut changes);
        for change in &changes {
            self.history.record(event.at, change);
        }
        let follow = match &event.kind {
            EventKind::RotationFinished(summary) => {
                self.history.record_episode((**summary).clone());
                None
            }
            EventKind::RotationStarted { .. } => None,
            _ => self
                .detector
                .observe(event.at, &changes, &self.observed, Instant::now()),
        };
        self.changes = changes;
        if let Some(kind) = follow {
            self.emit(kind);
        }
    }
}
