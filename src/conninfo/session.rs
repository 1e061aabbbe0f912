//! `target_session_attrs`: would an application with this string find a host it accepts?
//!
//! libpq connects to the first host (of a multi-host string) that accepts the connection and
//! matches `target_session_attrs`; rotascope probes every host as its own node. The engine asks
//! [`check`] per [`Group`] (the nodes one string made) with what its probes found, and raises the
//! island warning `session_attrs_unmet` when the answer is [`Check::Unmet`].
//!
//! rotascope knows a host's role (in recovery or not), not `default_transaction_read_only`:
//! `read-write` is taken to mean "a primary" and `read-only` "a standby" here. A primary set to
//! read-only by default would satisfy `read-only` for libpq; that case is not seen.

use std::sync::Arc;

use crate::topology::{Island, NodeKey, SessionAttrs};

/// What the probes found about one host, as far as `target_session_attrs` cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostState {
    /// Reached, not in recovery.
    Primary,
    /// Reached, in recovery.
    Standby,
    /// Probed, not reached (down, every candidate refused, timeout).
    Down,
    /// Not probed yet.
    NotProbed,
}

/// The answer for one string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Some host satisfies the string's `target_session_attrs` (or it asks for nothing).
    Met,
    /// No host does, and every host has been probed: the application cannot connect.
    Unmet,
    /// No host does yet, but some host has not been probed.
    Pending,
}

/// Whether one host satisfies `attrs`.
pub fn accepts(attrs: SessionAttrs, host: HostState) -> bool {
    use HostState::*;
    match attrs {
        SessionAttrs::Any | SessionAttrs::PreferStandby => matches!(host, Primary | Standby),
        SessionAttrs::ReadWrite | SessionAttrs::Primary => host == Primary,
        SessionAttrs::ReadOnly | SessionAttrs::Standby => host == Standby,
    }
}

/// Whether any of `hosts` (the hosts of one string) satisfies `attrs`. `any` never warns: a string
/// without requirements is unmet only when every host is down, which the nodes already show.
pub fn check(attrs: SessionAttrs, hosts: &[HostState]) -> Check {
    if attrs == SessionAttrs::Any || hosts.iter().any(|h| accepts(attrs, *h)) {
        Check::Met
    } else if hosts.contains(&HostState::NotProbed) {
        Check::Pending
    } else {
        Check::Unmet
    }
}

/// The nodes of an island that one connection string made, with its `target_session_attrs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The string, password removed (`from_string`, or the display of a one-host string).
    pub string: Arc<str>,
    /// Its `target_session_attrs` (never `any`: such strings need no check).
    pub attrs: SessionAttrs,
    /// Its nodes, in config order.
    pub nodes: Vec<NodeKey>,
}

/// The strings of `island` that ask for something (`target_session_attrs` other than `any`), each
/// with the nodes it made. A node belongs to every string one of its candidates came from.
pub fn groups(island: &Island) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for node in &island.nodes {
        for c in &node.candidates {
            let t = &c.target;
            if t.session_attrs == SessionAttrs::Any {
                continue;
            }
            let string = t.from_string.as_deref().unwrap_or(&t.display);
            let pos = match out
                .iter()
                .position(|g| &*g.string == string && g.attrs == t.session_attrs)
            {
                Some(p) => p,
                None => {
                    out.push(Group {
                        string: string.into(),
                        attrs: t.session_attrs,
                        nodes: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if !out[pos].nodes.contains(&node.key) {
                out[pos].nodes.push(node.key.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use HostState::*;

    #[test]
    fn each_attribute_against_each_state() {
        use SessionAttrs as S;
        let cases = [
            (S::Primary, [Primary, Standby], Check::Met),
            (S::Primary, [Standby, Down], Check::Unmet),
            (S::Primary, [Standby, NotProbed], Check::Pending),
            (S::ReadWrite, [Down, Primary], Check::Met),
            (S::Standby, [Primary, Primary], Check::Unmet),
            (S::ReadOnly, [Primary, Standby], Check::Met),
            (S::PreferStandby, [Primary, Down], Check::Met),
            (S::PreferStandby, [Down, Down], Check::Unmet),
            (S::Any, [Down, Down], Check::Met),
        ];
        for (attrs, hosts, expected) in cases {
            assert_eq!(check(attrs, &hosts), expected, "{attrs:?} {hosts:?}");
        }
    }
}
