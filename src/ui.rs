//! The live dashboard (TUI).
//!
//! It knows the engine only through [`Snapshot`](crate::engine::Snapshot) (read from a `watch`)
//! and [`Command`](crate::engine::Command) (sent on the engine's `mpsc`). Keys become
//! [`keymap::Action`]s through a data table ([`keymap::Keymap`]: the defaults with the config's
//! `[ui.keys]`, held in the view state); [`update::update`] applies an action to the
//! [`view::ViewState`] and may return a command; [`render::render`] is a pure function of
//! (snapshot, view state, now). [`run::run`] is the loop, generic over the backend and the input
//! stream so tests drive it without a terminal; [`run::run_terminal`] is the real-terminal entry.

// Test support (render snapshots, loop tests), not part of the product.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod fixtures;
pub mod keymap;
pub mod mouse;
pub mod order;
pub mod render;
pub mod run;
pub mod table_names;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;

pub use keymap::Action;
pub use render::render;
pub use run::{
    ensure_terminal, run, run_terminal, run_with, Console, JobControl, JobSignal, NoJobControl,
    Options, UiError,
};
pub use theme::Theme;
pub use update::update;
pub use view::ViewState;
