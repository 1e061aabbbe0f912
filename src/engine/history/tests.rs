//! History recording and reading, from events.
