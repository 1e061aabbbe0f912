//! Tracing setup: stderr for headless commands, a file or nowhere while the TUI owns the terminal.
//!
//! `-v` raises rotascope's own level (info, debug, trace); `RUST_LOG` replaces the filter
//! entirely. Logs never go to stdout: stdout carries `check` and `watch` output for scripts.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use super::Cli;

/// Where log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard error (headless commands).
    Stderr,
    /// Appended to a file (`--log-file`).
    File(PathBuf),
    /// Nowhere (the TUI without `--log-file`: stderr is its screen).
    Off,
}

impl LogTarget {
    /// The target for this invocation.
    pub fn for_cli(cli: &Cli) -> Self {
        match (&cli.log_file, cli.owns_terminal()) {
            (Some(path), _) => LogTarget::File(path.clone()),
            (None, true) => LogTarget::Off,
            (None, false) => LogTarget::Stderr,
        }
    }
}

/// The filter used when `RUST_LOG` is unset: warnings from everything, more from rotascope.
pub fn default_directives(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "warn,rotascope=info",
        2 => "warn,rotascope=debug",
        _ => "info,rotascope=trace",
    }
}

/// Installs the global subscriber for `target`. A bad `RUST_LOG` falls back to the default
/// filter and says so in the log.
pub fn init(target: &LogTarget, verbose: u8) -> io::Result<()> {
    let default = default_directives(verbose);
    let (filter, bad_rust_log) = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => match EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => (EnvFilter::new(default), Some(e.to_string())),
        },
        _ => (EnvFilter::new(default), None),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = match target {
        LogTarget::Off => return Ok(()),
        LogTarget::Stderr => builder.with_writer(io::stderr).try_init(),
        LogTarget::File(path) => builder.with_writer(Mutex::new(open(path)?)).try_init(),
    };
    if installed.is_err() {
        // Already installed (a second call in one process): keep the first.
        return Ok(());
    }
    if let Some(e) = bad_rust_log {
        tracing::warn!("ignoring RUST_LOG: {e}");
    }
    Ok(())
}

/// The log file, created owner-only ([`crate::private_file`]).
fn open(path: &Path) -> io::Result<std::fs::File> {
    crate::private_file::open_append(path)
        .map_err(|e| io::Error::new(e.kind(), format!("log file {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn target(args: &[&str]) -> LogTarget {
        let cli =
            Cli::try_parse_from(std::iter::once("rotascope").chain(args.iter().copied())).unwrap();
        LogTarget::for_cli(&cli)
    }

    #[test]
    fn the_tui_never_logs_to_stderr() {
        assert_eq!(target(&[]), LogTarget::Off);
        assert_eq!(
            target(&["--log-file", "t.log"]),
            LogTarget::File("t.log".into())
        );
        assert_eq!(target(&["check"]), LogTarget::Stderr);
        assert_eq!(target(&["watch", "-v"]), LogTarget::Stderr);
        assert_eq!(
            target(&["watch", "--log-file", "w.log"]),
            LogTarget::File("w.log".into())
        );
    }

    #[test]
    fn verbosity_raises_only_our_level_and_every_directive_parses() {
        for v in 0..5 {
            EnvFilter::try_new(default_directives(v)).unwrap();
        }
        assert_eq!(default_directives(0), "warn");
        assert!(default_directives(2).contains("rotascope=debug"));
    }

    #[test]
    fn an_unopenable_log_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("r.log");
        let err = init(&LogTarget::File(path), 0).unwrap_err();
        assert!(err.to_string().contains("r.log"), "{err}");
    }
}
