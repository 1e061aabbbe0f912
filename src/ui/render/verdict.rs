//! The verdict as the header words it: the cluster verdict, with the reason when the bare word
//! would mislead. Every node answers but an island has two masters: not `DOWN` but `CRITICAL`
//! and why. Every node is fine but the config cannot be reloaded: not `OK` but a stale config.

use crate::engine::snapshot::{Snapshot, Verdict, WarningKind};

/// What the header's first segment says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headline {
    /// The verdict whose colour it takes (`degraded` for a stale config).
    pub verdict: Verdict,
    /// Symbol and words, e.g. `✗ CRITICAL: split brain on island 0`.
    pub text: String,
}

/// The headline of a loaded snapshot (the header says `LOADING` before the first config).
pub fn headline(snapshot: &Snapshot) -> Headline {
    let verdict = snapshot.verdict();
    let s = snapshot.summary();
    let text = match verdict {
        // A node is down: that is the news, whatever the warnings say.
        Verdict::Down if s.down > 0 => "✗ DOWN".to_owned(),
        Verdict::Down => format!("✗ CRITICAL: {}", critical_reasons(snapshot)),
        Verdict::Degraded => "▲ DEGRADED".to_owned(),
        Verdict::Ok if stale(snapshot) => {
            return Headline {
                verdict: Verdict::Degraded,
                text: "▲ CONFIG STALE: reload failing".to_owned(),
            }
        }
        Verdict::Ok => "✓ OK".to_owned(),
    };
    Headline { verdict, text }
}

/// The last reload failed and the engine runs the config loaded before it.
fn stale(snapshot: &Snapshot) -> bool {
    snapshot.config.loaded_at.is_some() && snapshot.config.last_error.is_some()
}

/// `split brain on island 0`, `no master on islands 1, 3`: each critical warning kind with the
/// islands it is raised on.
fn critical_reasons(snapshot: &Snapshot) -> String {
    let mut reasons: Vec<(WarningKind, Vec<String>)> = Vec::new();
    for island in &snapshot.islands {
        for w in island.warnings.iter().filter(|w| w.kind.is_critical()) {
            match reasons.iter_mut().find(|(k, _)| *k == w.kind) {
                Some((_, islands)) => islands.push(island.no.to_string()),
                None => reasons.push((w.kind, vec![island.no.to_string()])),
            }
        }
    }
    reasons
        .into_iter()
        .map(|(kind, islands)| {
            let what = match kind {
                WarningKind::SplitBrain => "split brain",
                WarningKind::NoMaster => "no master",
                WarningKind::SessionAttrsUnmet => "no host satisfies target_session_attrs",
                WarningKind::ShardConflict | WarningKind::BehindSchedule => kind.as_str(),
            };
            let on = if islands.len() == 1 {
                "island"
            } else {
                "islands"
            };
            format!("{what} on {on} {}", islands.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::snapshot::{Health, IslandWarning};
    use crate::ui::fixtures;

    /// Issue 11, bug 3: two masters on an island of healthy nodes is critical, and says why.
    #[test]
    fn split_brain_with_healthy_nodes_is_critical_not_down() {
        let mut s = fixtures::all_ok();
        s.islands[0].warnings.push(IslandWarning {
            kind: WarningKind::SplitBrain,
            detail: "masters: db-a1, db-a2".into(),
        });
        assert!(s.nodes().all(|n| n.health == Health::Ok));
        let h = headline(&s);
        assert_eq!(h.verdict, Verdict::Down);
        assert_eq!(h.text, "✗ CRITICAL: split brain on island 0");
    }

    #[test]
    fn a_down_node_is_down() {
        let h = headline(&fixtures::node_down());
        assert_eq!((h.verdict, h.text.as_str()), (Verdict::Down, "✗ DOWN"));
    }

    /// Issue 11, bug 3: while reloads fail, a healthy cluster's verdict says the config is stale.
    #[test]
    fn a_failing_reload_makes_ok_a_stale_config() {
        let s = fixtures::reload_error();
        assert_eq!(s.verdict(), Verdict::Ok);
        let h = headline(&s);
        assert_eq!(h.verdict, Verdict::Degraded);
        assert!(
            h.text.starts_with("▲ CONFIG STALE: reload failing"),
            "{}",
            h.text
        );
        assert_eq!(headline(&fixtures::all_ok()).text, "✓ OK");
    }
}
