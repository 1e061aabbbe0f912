//! The command line: clap definitions, and the small runtime pieces behind each command.
//!
//! ```text
//! rotascope [--config PATH]                          the live TUI
//! rotascope config check [--config PATH] [--format F] load + validate, print the topology
//! rotascope check [--config PATH] [--format F]       one pass, table or JSON, exit 0/1/2/3
//! rotascope check --ready-to-revoke LOGIN            is LOGIN safe to revoke? exit 0 yes, 1 no
//! rotascope watch [--config PATH] [--probes] [--record FILE] [--heartbeat D] [--shard K/N]
//!                                                    NDJSON events until SIGINT/SIGTERM
//! rotascope serve [--config PATH] [--listen ADDR] [--allow-remote] [--shard K/N]
//!                                                    /metrics, /healthz, /readyz, /snapshot over HTTP
//! rotascope report FILE [--format F]                 proof of a recorded rotation, exit 0/1/2/3
//! rotascope report --live --for D [--config PATH]    the same, watching the cluster for D
//! rotascope lab [--dir DIR] [--rotate-every D] [--config-lag D] [--scheme S] [--no-tui]
//!               [--pooler pgbouncer [--pooler-auth query|file] [--pool-mode M]] ...
//!                                                    a demo cluster with rotations, in the TUI
//! ```
//!
//! Exit codes live in [`crate::report::exit`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{ArgPredicate, PossibleValue};
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

pub use crate::lab::driver::Scheme;
pub use crate::lab::{PoolMode, PoolerAuth};
pub use crate::shard::Shard;

mod lab;
pub mod logging;
mod report;
mod revoke;
pub mod run;
mod serve;
pub mod signals;
pub mod watch;

/// Watch PostgreSQL credential rotation live and prove it caused no downtime.
///
/// Without a subcommand, opens the live dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Parser)]
#[command(
    name = "rotascope",
    version,
    about,
    propagate_version = true,
    after_help = "Exit codes: 0 ok, 1 degraded, 2 down, 3 config or usage error (nothing checked)."
)]
pub struct Cli {
    /// Config file (default: ./rotascope.toml, then $XDG_CONFIG_HOME/rotascope/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More log detail on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Write logs to this file instead of stderr (the TUI logs nowhere without it).
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// What to do; the TUI when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Clone, Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Config tools.
    #[command(subcommand, arg_required_else_help = true)]
    Config(ConfigCommand),
    /// Probe every node once and print the result; the exit code is the verdict.
    ///
    /// One pass: a chain probe and an audit of every node. Exit 0 ok, 1 degraded, 2 down,
    /// 3 config error (nothing was checked).
    Check(CheckArgs),
    /// Run the engine headless and print every event as one JSON object per line.
    ///
    /// Runs until SIGINT or SIGTERM (exit 0); SIGHUP reloads the config.
    Watch(WatchArgs),
    /// Run the engine headless and serve Prometheus metrics, health and the live JSON over HTTP.
    ///
    /// GET /metrics (Prometheus text, or OpenMetrics by the Accept header), /healthz, /readyz,
    /// /snapshot (the `check --format json` document, live). Runs until SIGINT or SIGTERM
    /// (exit 0); SIGHUP reloads the config.
    Serve(ServeArgs),
    /// Prove (or refute) that no node was ever without a working credential: the rotation
    /// episodes, outages and gaps of a `watch --record` file, or of a live run.
    ///
    /// Exit 0: no node was ever without a working credential, none degraded, no gap in
    /// monitoring; 1: degraded windows (or unreachable nodes, or gaps) only; 2: some node had no
    /// working credential for some time (the windows are listed); 3: unreadable input.
    Report(ReportArgs),
    /// Start a local demo cluster that rotates passwords, and open the TUI on it.
    ///
    /// Needs the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup). Every server it
    /// started is removed on exit (q, Ctrl-C, SIGTERM). With --dir, rotascope.toml and
    /// secrets.json (with --pooler: rotascope.toml alone, passwords inline) stay in DIR
    /// afterwards; without it, the whole temp dir goes.
    #[command(after_help = format!(
        "With --no-tui, these are read on stdin, one per line (`stop 0.0` stops island 0's \
         first node, its master):\n  {}",
        crate::lab::driver::HELP
    ))]
    Lab(LabArgs),
}

/// `rotascope config ...`.
#[derive(Clone, Debug, PartialEq, Eq, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the config; print the normalized topology (exit 0), or the error (exit 3).
    ///
    /// Every node shows the target its connection string resolved to (host or socket, port,
    /// database, TLS, deadlines, authentication) and where each setting came from.
    Check(ConfigCheckArgs),
}

/// `rotascope config check` options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
pub struct ConfigCheckArgs {
    /// Output format (JSON: the contract documented in the README).
    #[arg(long, value_enum, default_value_t = Format::Table,
          default_value_if("json", ArgPredicate::IsPresent, "json"))]
    pub format: Format,
    // Clap sets `format` from it: code reads `format`, never this.
    /// Short for `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

/// `rotascope check` options.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table,
          default_value_if("json", ArgPredicate::IsPresent, "json"))]
    pub format: Format,
    // Clap sets `format` from it: code reads `format`, never this.
    /// Short for `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Probe only the islands of shard K of N (K from 0): see `serve --shard`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Never shorten names or messages in the table, even on a terminal (into a file or a pipe
    /// it never does).
    #[arg(long)]
    pub wide: bool,
    /// Answer whether LOGIN is safe to revoke: exit 0 only when its replacement is valid on
    /// every node and it has had no session anywhere for `[usage] quiet_for`, 1 when not (with
    /// the reasons). Watches the cluster up to `quiet_for` before answering, unless the `[state]`
    /// file already holds that much quiet time.
    #[arg(long, value_name = "LOGIN")]
    pub ready_to_revoke: Option<String>,
}

/// How `check` prints its result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// One JSON document (field names are a contract).
    Json,
}

/// `rotascope watch` options.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct WatchArgs {
    /// Also print one line per probe attempt (`"type": "probe"`).
    #[arg(long)]
    pub probes: bool,
    /// Append every printed line to this file too (an audit trail of a rotation window).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Probe only the islands of shard K of N (K from 0): see `serve --shard`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// How often a `heartbeat` line says the monitor is running.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    pub heartbeat: Duration,
}

/// `rotascope serve` options.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct ServeArgs {
    /// Address to listen on, IP:PORT (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9187")]
    pub listen: SocketAddr,
    /// Allow a --listen address other than loopback (0.0.0.0 in a container). The endpoints
    /// have no authentication and show node names, logins and fingerprints (never a password).
    #[arg(long)]
    pub allow_remote: bool,
    /// Probe only the islands whose stable hash falls to shard K of N (K from 0), so N
    /// instances split one config with no coordination; every metric carries `shard="K/N"`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
}

/// `rotascope report` options.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct ReportArgs {
    /// A `watch --record` file (`-` reads standard input).
    #[arg(
        value_name = "FILE",
        required_unless_present = "live",
        conflicts_with = "live"
    )]
    pub file: Option<PathBuf>,
    /// Watch the cluster of the config instead of reading a file (needs --for).
    #[arg(long, requires = "duration")]
    pub live: bool,
    /// How long --live watches (SIGINT or SIGTERM end it early; what was seen is reported).
    #[arg(
        long = "for",
        id = "duration",
        value_name = "DURATION",
        value_parser = positive_duration,
        conflicts_with = "file"
    )]
    pub duration: Option<Duration>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text,
          default_value_if("json", ArgPredicate::IsPresent, "json"))]
    pub format: ReportFormat,
    // Clap sets `format` from it: code reads `format`, never this.
    /// Short for `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// How `report` prints its proof.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Text for people.
    #[default]
    Text,
    /// Markdown, for a change ticket.
    Markdown,
    /// One JSON document (field names are a contract).
    Json,
    /// One self-contained HTML page with an SVG timeline chart.
    Html,
}

/// `rotascope lab` options.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct LabArgs {
    /// Directory for the servers, config and secrets file (default: a new temp dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// How often the rotation driver rotates a password.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = positive_duration)]
    pub rotate_every: Duration,
    /// How long after the database change the secrets file is updated (the degraded window).
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub config_lag: Duration,
    /// Rotation scheme.
    #[arg(long, value_enum, default_value_t = Scheme::Alternating)]
    pub scheme: Scheme,
    /// Do not open the TUI: print the config path and keep rotating until Ctrl-C; read lab
    /// commands on stdin.
    #[arg(long)]
    pub no_tui: bool,
    /// Islands, each a master and its replicas.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub islands: u8,
    /// Streaming replicas per island.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub replicas: u8,
    /// Fail island 0 over this often: stop its master, promote its replica a few seconds later,
    /// then replace the stopped node by a new replica (the config file follows). Off by default.
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub failover_every: Option<Duration>,
    /// Put a connection pooler in front of each island's master; the config then lists every
    /// master twice per secret, by its own port and by the pooler's (one node, both paths).
    #[arg(long, value_enum, value_name = "POOLER")]
    pub pooler: Option<PoolerKind>,
    /// How the pooler knows the passwords.
    #[arg(long, value_enum, default_value_t = PoolerAuth::Query, requires = "pooler")]
    pub pooler_auth: PoolerAuth,
    /// The pooler's pool_mode.
    #[arg(long, value_enum, default_value_t = PoolMode::Session, requires = "pooler")]
    pub pool_mode: PoolMode,
}

/// The poolers `rotascope lab --pooler` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PoolerKind {
    /// PgBouncer (`pgbouncer` from PGBOUNCER_BIN, PATH or /usr/sbin), `auth_type = scram-sha-256`.
    Pgbouncer,
}

/// A humantime duration greater than zero.
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be more than zero".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

// The lab's own types, so there is one of each; clap's side of them lives here, not in the lab.
impl ValueEnum for PoolerAuth {
    fn value_variants<'a>() -> &'a [Self] {
        &[PoolerAuth::Query, PoolerAuth::File]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            PoolerAuth::Query => PossibleValue::new("query")
                .help("auth_user + auth_query: the pooler reads the live verifier at every login"),
            PoolerAuth::File => PossibleValue::new("file").help(
                "auth_file: the lab copies the verifiers into it and reloads the pooler twice \
                 --config-lag after each password change (the auth_file trap: direct valid, \
                 pooler invalid meanwhile)",
            ),
        })
    }
}

impl ValueEnum for PoolMode {
    fn value_variants<'a>() -> &'a [Self] {
        &[PoolMode::Session, PoolMode::Transaction]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            PoolMode::Session => PossibleValue::new("session"),
            PoolMode::Transaction => PossibleValue::new("transaction"),
        })
    }
}

impl ValueEnum for Scheme {
    fn value_variants<'a>() -> &'a [Self] {
        &[Scheme::Alternating, Scheme::Single]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Scheme::Alternating => PossibleValue::new("alternating").help(
                "Two logins (app_a, app_b): the previous one gets a new password, the secrets \
                 file follows --config-lag later",
            ),
            Scheme::Single => PossibleValue::new("single").help(
                "One login (app): the secrets file lists its current and next password while \
                 the database switches",
            ),
        })
    }
}

impl Cli {
    /// True when this invocation hands the terminal to the TUI, so logs must not go to stderr.
    pub fn owns_terminal(&self) -> bool {
        match &self.command {
            None => true,
            Some(Command::Lab(args)) => !args.no_tui,
            Some(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rotascope").chain(args.iter().copied()))
    }

    #[test]
    fn no_subcommand_means_the_tui() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.command, None);
        assert!(cli.owns_terminal());
        let cli = parse(&["--config", "x.toml"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
    }

    #[test]
    fn config_is_global_before_or_after_the_subcommand() {
        for args in [
            &["--config", "a.toml", "config", "check"][..],
            &["config", "check", "--config", "a.toml"],
            &["config", "--config", "a.toml", "check"],
        ] {
            let cli = parse(args).unwrap();
            assert_eq!(
                cli.command,
                Some(Command::Config(ConfigCommand::Check(ConfigCheckArgs {
                    format: Format::Table,
                    json: false,
                }))),
                "{args:?}"
            );
            assert_eq!(cli.config, Some(PathBuf::from("a.toml")), "{args:?}");
        }
    }

    #[test]
    fn config_without_an_action_is_an_error() {
        assert!(parse(&["config"]).is_err());
    }

    #[test]
    fn config_check_takes_a_format() {
        let cli = parse(&["config", "check", "--format", "json"]).unwrap();
        assert_eq!(
            cli.command,
            Some(Command::Config(ConfigCommand::Check(ConfigCheckArgs {
                format: Format::Json,
                json: false,
            })))
        );
        assert!(parse(&["config", "check", "--format", "yaml"]).is_err());
    }

    #[test]
    fn json_is_short_for_format_json_and_not_both() {
        let format = |args: &[&str]| match parse(args).unwrap().command {
            Some(Command::Check(a)) => format!("{:?}", a.format),
            Some(Command::Config(ConfigCommand::Check(a))) => format!("{:?}", a.format),
            Some(Command::Report(a)) => format!("{:?}", a.format),
            other => panic!("{other:?}"),
        };
        assert_eq!(format(&["check", "--json"]), "Json");
        assert_eq!(format(&["config", "check", "--json"]), "Json");
        assert_eq!(format(&["report", "r.ndjson", "--json"]), "Json");
        assert_eq!(format(&["report", "r.ndjson"]), "Text");
        assert!(parse(&["check", "--json", "--format", "table"]).is_err());
    }

    #[test]
    fn check_defaults_to_a_table_and_accepts_json() {
        let cli = parse(&["check"]).unwrap();
        assert_eq!(
            cli.command,
            Some(Command::Check(CheckArgs {
                format: Format::Table,
                json: false,
                shard: None,
                wide: false,
                ready_to_revoke: None,
            }))
        );
        let cli = parse(&["check", "--format", "json", "--config", "c.toml"]).unwrap();
        assert_eq!(
            cli.command,
            Some(Command::Check(CheckArgs {
                format: Format::Json,
                json: false,
                shard: None,
                wide: false,
                ready_to_revoke: None,
            }))
        );
        assert!(!cli.owns_terminal());
        let err = parse(&["check", "--format", "yaml"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn watch_flags() {
        let cli = parse(&["watch"]).unwrap();
        assert_eq!(
            cli.command,
            Some(Command::Watch(WatchArgs {
                probes: false,
                record: None,
                shard: None,
                heartbeat: Duration::from_secs(10),
            }))
        );
        let cli = parse(&[
            "watch",
            "--probes",
            "--record",
            "trail.ndjson",
            "--heartbeat",
            "2s",
        ])
        .unwrap();
        assert_eq!(
            cli.command,
            Some(Command::Watch(WatchArgs {
                probes: true,
                record: Some("trail.ndjson".into()),
                shard: None,
                heartbeat: Duration::from_secs(2),
            }))
        );
    }

    #[test]
    fn serve_listens_on_loopback_by_default_and_takes_a_shard() {
        let cli = parse(&["serve"]).unwrap();
        assert_eq!(
            cli.command,
            Some(Command::Serve(ServeArgs {
                listen: "127.0.0.1:9187".parse().unwrap(),
                allow_remote: false,
                shard: None
            }))
        );
        assert!(!cli.owns_terminal());
        let cli = parse(&[
            "serve",
            "--listen",
            "0.0.0.0:9000",
            "--allow-remote",
            "--shard",
            "2/3",
        ])
        .unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(args.listen, "0.0.0.0:9000".parse().unwrap());
        assert!(args.allow_remote);
        assert_eq!(args.shard, Some(Shard::new(2, 3).unwrap()));
        for bad in [
            &["serve", "--listen", "localhost:9187"][..],
            &["serve", "--shard", "3/3"],
            &["check", "--shard", "x"],
            &["watch", "--shard", "1/0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let cli = parse(&["watch", "--shard", "0/2"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Watch(WatchArgs { shard: Some(_), .. }))
        ));
    }

    #[test]
    fn report_reads_a_file_or_runs_live_for_a_while() {
        let cli = parse(&["report", "trail.ndjson", "--format", "html"]).unwrap();
        let Some(Command::Report(args)) = cli.command else {
            panic!("a report")
        };
        assert_eq!(args.file, Some("trail.ndjson".into()));
        assert_eq!(args.format, ReportFormat::Html);
        assert!(!args.live);
        let cli = parse(&["report", "--live", "--for", "10m", "--format", "markdown"]).unwrap();
        let Some(Command::Report(args)) = cli.command else {
            panic!("a report")
        };
        assert!(args.live);
        assert_eq!(args.duration, Some(Duration::from_secs(600)));
        assert_eq!(args.format, ReportFormat::Markdown);
        for bad in [
            &["report"][..],
            &["report", "--live"],
            &["report", "f.ndjson", "--live", "--for", "1m"],
            &["report", "f.ndjson", "--for", "1m"],
            &["report", "f.ndjson", "--format", "pdf"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn verbosity_counts_and_log_file_is_global() {
        let cli = parse(&["-vv", "watch", "--log-file", "r.log"]).unwrap();
        assert_eq!(cli.verbose, 2);
        assert_eq!(cli.log_file, Some(PathBuf::from("r.log")));
    }

    #[test]
    fn help_and_version_are_not_failures() {
        let err = parse(&["--help"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(!err.use_stderr());
        let err = parse(&["--version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
        assert!(err.to_string().contains(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn lab_is_a_command_and_owns_the_terminal_unless_headless() {
        let cli = parse(&["lab"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Lab(_))));
        assert!(cli.owns_terminal());
        let cli = parse(&["lab", "--no-tui", "--dir", "/tmp/l"]).unwrap();
        assert!(!cli.owns_terminal());
    }

    #[derive(Debug, Parser)]
    struct LabOnly {
        #[command(flatten)]
        args: LabArgs,
    }

    #[test]
    fn lab_islands_go_up_to_32_for_a_fleet_sized_lab() {
        let islands = |n: &str| LabOnly::try_parse_from(["lab", "--islands", n]);
        assert_eq!(islands("20").unwrap().args.islands, 20);
        assert_eq!(islands("32").unwrap().args.islands, 32);
        for refused in ["0", "33"] {
            let err = islands(refused).unwrap_err().to_string();
            assert!(err.contains("1..=32"), "{err}");
        }
    }

    #[test]
    fn lab_args_parse_humantime_durations_and_defaults() {
        let d = LabOnly::try_parse_from(["lab"]).unwrap().args;
        assert_eq!(
            d,
            LabArgs {
                dir: None,
                rotate_every: Duration::from_secs(20),
                config_lag: Duration::from_secs(3),
                scheme: Scheme::Alternating,
                no_tui: false,
                islands: 2,
                replicas: 1,
                failover_every: None,
                pooler: None,
                pooler_auth: PoolerAuth::Query,
                pool_mode: PoolMode::Session,
            }
        );
        let a = LabOnly::try_parse_from([
            "lab",
            "--dir",
            "/tmp/l",
            "--rotate-every",
            "1m 30s",
            "--config-lag",
            "500ms",
            "--scheme",
            "single",
            "--no-tui",
            "--islands",
            "1",
            "--replicas",
            "0",
            "--failover-every",
            "45s",
        ])
        .unwrap()
        .args;
        assert_eq!(a.dir, Some(PathBuf::from("/tmp/l")));
        assert_eq!(a.rotate_every, Duration::from_secs(90));
        assert_eq!(a.config_lag, Duration::from_millis(500));
        assert_eq!(a.scheme, Scheme::Single);
        assert!(a.no_tui);
        assert_eq!((a.islands, a.replicas), (1, 0));
        assert_eq!(a.failover_every, Some(Duration::from_secs(45)));
        for bad in [
            &["lab", "--rotate-every", "soon"][..],
            &["lab", "--rotate-every", "0s"],
            &["lab", "--failover-every", "0s"],
            &["lab", "--islands", "0"],
            &["lab", "--replicas", "9"],
            &["lab", "--scheme", "triple"],
        ] {
            assert!(LabOnly::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
