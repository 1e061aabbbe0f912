//! Exit codes: the monitoring-plugin convention, mapped in this one place.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | every node ok, no warning |
//! | 1 | degraded: a node degraded or not probed, or a shard conflict |
//! | 2 | down: a node down, an island without a master, split brain, `session_attrs_unmet` |
//! | 3 | nothing was checked: config error, bad command line, or rotascope could not run |
//!
//! `watch` and the TUI exit 0 when stopped by a signal or a key; 3 when they cannot run.

use crate::engine::snapshot::Verdict;
use crate::engine::Snapshot;

/// How a rotascope run ended, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// 0: all good (or a long-running command stopped cleanly).
    Ok,
    /// 1: degraded.
    Degraded,
    /// 2: down / critical.
    Down,
    /// 3: config error, usage error, or could not run: nothing was checked (plugin "unknown").
    ConfigError,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Degraded => 1,
            Exit::Down => 2,
            Exit::ConfigError => 3,
        }
    }

    /// The exit for a cluster verdict.
    pub fn from_verdict(verdict: Verdict) -> Exit {
        match verdict {
            Verdict::Ok => Exit::Ok,
            Verdict::Degraded => Exit::Degraded,
            Verdict::Down => Exit::Down,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// The exit code `check` ends with for this snapshot: 0 ok, 1 degraded, 2 down.
pub fn exit_code(snapshot: &Snapshot) -> u8 {
    Exit::from_verdict(snapshot.verdict()).code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::snapshot::{IslandWarning, WarningKind};
    use crate::engine::Health;
    use crate::report::fixtures;

    #[test]
    fn codes_follow_the_plugin_convention() {
        assert_eq!(
            [Exit::Ok, Exit::Degraded, Exit::Down, Exit::ConfigError].map(Exit::code),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn exit_code_follows_the_verdict() {
        let mut s = fixtures::all_ok();
        assert_eq!(exit_code(&s), 0);

        s.islands[0].nodes[1].health = Health::Degraded;
        assert_eq!(exit_code(&s), 1);

        s.islands[0].nodes[1].health = Health::Unknown;
        assert_eq!(exit_code(&s), 1, "a node not probed yet is not ok");

        s.islands[0].nodes[1].health = Health::Down;
        assert_eq!(exit_code(&s), 2);
    }

    #[test]
    fn island_warnings_weigh_by_kind() {
        let warn = |kind| IslandWarning {
            kind,
            detail: "d".into(),
        };
        let mut s = fixtures::all_ok();
        s.islands[0].warnings = vec![warn(WarningKind::ShardConflict)];
        assert_eq!(exit_code(&s), 1);
        s.islands[0].warnings = vec![warn(WarningKind::NoMaster)];
        assert_eq!(exit_code(&s), 2);
        s.islands[0].warnings = vec![warn(WarningKind::SplitBrain)];
        assert_eq!(exit_code(&s), 2);
        s.islands[0].warnings = vec![warn(WarningKind::SessionAttrsUnmet)];
        assert_eq!(exit_code(&s), 2, "an application that cannot connect");
    }

    #[test]
    fn the_rotation_fixture_is_down() {
        assert_eq!(exit_code(&fixtures::rotation()), 2);
    }
}
