//! The `rotascope` binary: disable core dumps, parse the command line, set up logging, run, exit
//! with a code from [`rotascope::report::exit`]. Everything else lives in the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rotascope::cli::logging::{self, LogTarget};
use rotascope::cli::{run, Cli};
use rotascope::report::Exit;

/// Set to `1` (or `true`, `yes`) to keep core dumps possible, for debugging a crash.
const ALLOW_CORE_DUMPS: &str = "ROTASCOPE_ALLOW_CORE_DUMPS";

fn main() -> ExitCode {
    if !core_dumps_allowed(std::env::var_os(ALLOW_CORE_DUMPS).as_deref()) {
        disable_core_dumps();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are answers; a bad command line means nothing was checked: 3,
            // not clap's 2, which monitoring would read as "down".
            return if e.use_stderr() {
                Exit::ConfigError
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    if let Err(e) = logging::init(&LogTarget::for_cli(&cli), cli.verbose) {
        eprintln!("rotascope: error: {e}");
        return Exit::ConfigError.into();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rotascope: error: cannot start the async runtime: {e}");
            return Exit::ConfigError.into();
        }
    };
    let exit = runtime.block_on(run::run(cli));
    // Blocking helpers (a secrets command, a file watcher) must not hold the exit hostage.
    runtime.shutdown_timeout(Duration::from_secs(1));
    exit.into()
}

fn core_dumps_allowed(value: Option<&std::ffi::OsStr>) -> bool {
    value
        .and_then(|v| v.to_str())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// A core dump of this process would hold every password of the config in clear text. So:
/// `RLIMIT_CORE` 0 (soft and hard: children such as `secrets_command` inherit it too), and on
/// Linux the process is marked not dumpable, which also covers a `core_pattern` that pipes dumps
/// to a helper (the kernel ignores `RLIMIT_CORE` there) and keeps other processes of the same user
/// from attaching to it. Failures are ignored: this is defence in depth, not a precondition.
fn disable_core_dumps() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct we pass; prctl(PR_SET_DUMPABLE) takes plain integers.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::core_dumps_allowed;
    use std::ffi::OsStr;

    #[test]
    fn only_an_explicit_yes_keeps_core_dumps() {
        for yes in ["1", "true", "YES", " yes "] {
            assert!(core_dumps_allowed(Some(OsStr::new(yes))), "{yes}");
        }
        for no in ["", "0", "no", "false", "please"] {
            assert!(!core_dumps_allowed(Some(OsStr::new(no))), "{no}");
        }
        assert!(!core_dumps_allowed(None));
    }
}
