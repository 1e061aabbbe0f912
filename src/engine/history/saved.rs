//! The `[state]` file's form of a history (filled in with the state file).
