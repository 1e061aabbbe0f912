//! The `rotascope` binary: parse the command line, set up logging, run, exit with a code
//! from [`rotascope::report::exit`]. Everything else lives in the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rotascope::cli::logging::{self, LogTarget};
use rotascope::cli::{run, Cli};
use rotascope::report::Exit;

fn main() -> ExitCode {
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
