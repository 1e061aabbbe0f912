//! Commands a person gives a running lab (`rotascope lab --no-tui` reads them on stdin), one per
//! line: `rotate`, `stop 0.0`, `start 0.0`, `promote 0.1`, `failover 0`, `status`, `help`.

use std::fmt;
use std::str::FromStr;

use super::cluster::NodeRef;

/// One lab command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabCommand {
    /// Rotate now (the periodic schedule carries on).
    Rotate,
    /// Stop a node.
    Stop(NodeRef),
    /// Start a stopped node again.
    Start(NodeRef),
    /// Stop a running node, or start a stopped one (the dashboard's `S`).
    Toggle(NodeRef),
    /// Promote a replica (its island may then have two masters: a split brain).
    Promote(NodeRef),
    /// Stop an island's master, promote its first replica, then replace the stopped node by a
    /// fresh replica (the config follows).
    Failover(usize),
    /// Print each node's address and state.
    Status,
    /// Print the commands.
    Help,
}

/// The help text for [`LabCommand`]s.
pub const HELP: &str = "commands: rotate | stop I.N | start I.N | toggle I.N | promote I.N | \
                        failover I | status | help   (I.N = island.index, as `status` lists them)";

impl FromStr for LabCommand {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let node = |arg: Option<&&str>| -> Result<NodeRef, String> {
            arg.ok_or_else(|| format!("`{line}` needs a node, e.g. 0.1"))?
                .parse()
        };
        match words.as_slice() {
            ["rotate"] => Ok(LabCommand::Rotate),
            ["status"] => Ok(LabCommand::Status),
            ["help"] | ["?"] => Ok(LabCommand::Help),
            ["stop", rest @ ..] if rest.len() <= 1 => node(rest.first()).map(LabCommand::Stop),
            ["start", rest @ ..] if rest.len() <= 1 => node(rest.first()).map(LabCommand::Start),
            ["toggle", rest @ ..] if rest.len() <= 1 => node(rest.first()).map(LabCommand::Toggle),
            ["promote", rest @ ..] if rest.len() <= 1 => {
                node(rest.first()).map(LabCommand::Promote)
            }
            ["failover", island] => island
                .parse()
                .map(LabCommand::Failover)
                .map_err(|_| format!("`{island}` is not an island number")),
            _ => Err(format!("unknown command `{}`; {HELP}", line.trim())),
        }
    }
}

/// As typed: `stop 0.0`.
impl fmt::Display for LabCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabCommand::Rotate => f.write_str("rotate"),
            LabCommand::Stop(node) => write!(f, "stop {node}"),
            LabCommand::Start(node) => write!(f, "start {node}"),
            LabCommand::Toggle(node) => write!(f, "toggle {node}"),
            LabCommand::Promote(node) => write!(f, "promote {node}"),
            LabCommand::Failover(island) => write!(f, "failover {island}"),
            LabCommand::Status => f.write_str("status"),
            LabCommand::Help => f.write_str("help"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(island: usize, index: usize) -> NodeRef {
        NodeRef { island, index }
    }

    #[test]
    fn every_command_parses() {
        let cases = [
            ("rotate", LabCommand::Rotate),
            ("  stop 0.0 ", LabCommand::Stop(n(0, 0))),
            ("start 1.0", LabCommand::Start(n(1, 0))),
            ("toggle 0.1", LabCommand::Toggle(n(0, 1))),
            ("promote 0.1", LabCommand::Promote(n(0, 1))),
            ("failover 1", LabCommand::Failover(1)),
            ("status", LabCommand::Status),
            ("help", LabCommand::Help),
        ];
        for (line, want) in cases {
            assert_eq!(line.parse::<LabCommand>(), Ok(want), "{line}");
            // Printed as typed, so it parses back.
            assert_eq!(want.to_string().parse::<LabCommand>(), Ok(want));
        }
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        let err = |line: &str| line.parse::<LabCommand>().unwrap_err();
        assert!(err("stop").contains("needs a node"));
        assert!(err("stop x").contains("ISLAND.INDEX"));
        assert!(err("stop 0.0 0.1").contains("unknown command"));
        assert!(err("failover a").contains("not an island"));
        assert!(err("reboot").contains("rotate | stop"));
    }
}
