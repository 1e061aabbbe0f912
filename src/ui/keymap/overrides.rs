//! `[ui.keys]`: the config's key overrides applied to the default table.
//!
//! An override names an action (its [`NAMES`] entry) and gives it one or more keys, which
//! replace the action's default keys everywhere the action is configurable: the dashboard, the
//! lab keys, and the help overlay's own scrolling, closing and quitting. What stays whatever the
//! config says:
//! - Ctrl-C quits and Ctrl-Z suspends, in every mode; neither can be given to another action
//!   (a way out that always works, and the key a shell user presses by reflex).
//! - Esc closes the help overlay (next to the `help` keys).
//! - The keys of the filter being typed (`Enter`, `Esc`, `Bksp`, `↑`/`↓`; other keys are text).
//!
//! The result must be unambiguous: a key may belong to one action per mode. The lab keys count
//! in the dashboard's mode even outside `rotascope lab` (they would be unreachable in the lab
//! otherwise), so `reload = "R"` asks for `lab_rotate` to move too.

use std::fmt;

use crossterm::event::KeyCode;

use super::{Action, Bound, Context, Key, KeyError, KeyPattern, Keymap, BINDINGS, HINTS};

/// The names `[ui.keys]` knows the actions by (snake_case; config keys, so a contract: add,
/// never rename).
pub const NAMES: &[(&str, Action)] = &[
    ("up", Action::Up),
    ("down", Action::Down),
    ("page_up", Action::PageUp),
    ("page_down", Action::PageDown),
    ("home", Action::Home),
    ("end", Action::End),
    ("detail", Action::FocusDetail),
    ("next_pane", Action::NextPane),
    ("prev_pane", Action::PrevPane),
    ("back", Action::Back),
    ("reload", Action::Reload),
    ("reprobe", Action::ReprobeSelected),
    ("reprobe_all", Action::ReprobeAll),
    ("audit", Action::AuditSelected),
    ("audit_all", Action::AuditAll),
    ("filter", Action::StartFilter),
    ("sort", Action::CycleSort),
    ("problems", Action::ToggleProblems),
    ("slower", Action::SlowerProbes),
    ("faster", Action::FasterProbes),
    ("zoom", Action::ToggleZoom),
    ("timeline", Action::ToggleRotation),
    ("pause", Action::TogglePause),
    ("help", Action::ToggleHelp),
    ("quit", Action::Quit),
    ("lab_rotate", Action::LabRotate),
    ("lab_failover", Action::LabFailover),
    ("lab_stop_start", Action::LabStopStart),
];

impl Action {
    /// Its `[ui.keys]` name, if its keys can be changed.
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|(_, a)| *a == self).map(|(n, _)| *n)
    }

    /// The action `[ui.keys]` calls `name`.
    pub fn from_name(name: &str) -> Option<Action> {
        NAMES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }
}

/// What is wrong with a `[ui.keys]` entry. [`KeymapError::action`] is the entry's name, for the
/// error's key path (`ui.keys.<action>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeymapError {
    /// No action has this name.
    UnknownAction {
        /// The name as written.
        name: String,
    },
    /// A value that is not a key.
    BadKey {
        /// The entry.
        action: String,
        /// Why.
        reason: KeyError,
    },
    /// Ctrl-C or Ctrl-Z given to another action.
    Reserved {
        /// The entry.
        action: String,
        /// The key, as the screen shows it.
        key: String,
        /// What the key always does ("quits").
        does: &'static str,
    },
    /// A key that would do two things in one mode.
    Conflict {
        /// The entry giving the key.
        action: String,
        /// The key, as the screen shows it.
        key: String,
        /// The other action's name (or, for a row without one, what it does).
        other: String,
        /// What the other action does, as help says it.
        help: &'static str,
        /// The mode where both apply.
        context: Context,
        /// The other action keeps this key whatever the config says.
        kept: bool,
    },
}

impl KeymapError {
    /// The `[ui.keys]` entry at fault.
    pub fn action(&self) -> &str {
        match self {
            KeymapError::UnknownAction { name: action }
            | KeymapError::BadKey { action, .. }
            | KeymapError::Reserved { action, .. }
            | KeymapError::Conflict { action, .. } => action,
        }
    }
}

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeymapError::UnknownAction { name } => write!(f, "no action is called {name:?}"),
            KeymapError::BadKey { reason, .. } => write!(f, "{reason}"),
            KeymapError::Reserved { key, does, .. } => {
                write!(
                    f,
                    "\"{key}\" always {does}; it cannot be given to another action"
                )
            }
            KeymapError::Conflict {
                key,
                other,
                help,
                context,
                kept,
                ..
            } => {
                let place = match context {
                    Context::Help => " in the help overlay",
                    Context::Filter => " while a filter is typed",
                    Context::Normal | Context::Lab => "",
                };
                if *kept {
                    write!(
                        f,
                        "\"{key}\" always belongs to `{other}` ({help}){place}; choose another key"
                    )
                } else {
                    write!(
                        f,
                        "\"{key}\" is also the key of `{other}` ({help}){place}; give `{other}` \
                         other keys in [ui.keys] too, or choose another key"
                    )
                }
            }
        }
    }
}

impl std::error::Error for KeymapError {}

/// Keys a row keeps whatever its override says.
fn kept(context: Context, key: &KeyPattern) -> bool {
    matches!(key, KeyPattern::Key(k) if *k == Key::ctrl('c') || *k == Key::ctrl('z'))
        || (context == Context::Help && *key == KeyPattern::Key(Key::plain(KeyCode::Esc)))
}

/// The modes whose keys must not clash: the lab's keys are tried right after the dashboard's.
const GROUPS: &[&[Context]] = &[
    &[Context::Normal, Context::Lab],
    &[Context::Help],
    &[Context::Filter],
];

/// The keys shown for a row whose keys come from the config.
fn label(keys: &[KeyPattern]) -> String {
    let mut labels: Vec<String> = Vec::new();
    for k in keys {
        let l = match k {
            KeyPattern::Key(key) => key.label(),
            KeyPattern::AnyChar => "other keys".to_owned(),
        };
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    if labels.is_empty() {
        "none".to_owned()
    } else {
        labels.join(" ")
    }
}

impl Keymap {
    /// The default table with `overrides` applied: `(action name, keys)` pairs, each key in
    /// [`Key::parse`]'s syntax. An empty list leaves the action without a key.
    pub fn with_overrides(overrides: &[(String, Vec<String>)]) -> Result<Keymap, KeymapError> {
        let mut parsed: Vec<(&str, Action, Vec<KeyPattern>)> = Vec::new();
        for (name, texts) in overrides {
            let action = Action::from_name(name)
                .ok_or_else(|| KeymapError::UnknownAction { name: name.clone() })?;
            let mut keys = Vec::new();
            for text in texts {
                let key = Key::parse(text).map_err(|reason| KeymapError::BadKey {
                    action: name.clone(),
                    reason,
                })?;
                let does = if key == Key::ctrl('z') {
                    Some("suspends")
                } else if key == Key::ctrl('c') && action != Action::Quit {
                    Some("quits")
                } else {
                    None
                };
                if let Some(does) = does {
                    return Err(KeymapError::Reserved {
                        action: name.clone(),
                        key: key.label(),
                        does,
                    });
                }
                if !keys.contains(&KeyPattern::Key(key)) {
                    keys.push(KeyPattern::Key(key));
                }
            }
            parsed.push((name, action, keys));
        }
        let mut rows = Vec::with_capacity(BINDINGS.len());
        // Per row: the override that set its keys.
        let mut set_by: Vec<Option<&str>> = Vec::with_capacity(BINDINGS.len());
        for b in BINDINGS {
            let over = (b.context != Context::Filter)
                .then(|| parsed.iter().find(|(_, a, _)| *a == b.action))
                .flatten();
            let row = match over {
                None => Bound {
                    context: b.context,
                    keys: b.keys.to_vec(),
                    label: b.label.to_owned(),
                    action: b.action,
                    help: b.help,
                },
                Some((_, _, keys)) => {
                    let mut keys = keys.clone();
                    for k in b.keys.iter().filter(|k| kept(b.context, k)) {
                        if !keys.contains(k) {
                            keys.push(*k);
                        }
                    }
                    Bound {
                        context: b.context,
                        label: label(&keys),
                        keys,
                        action: b.action,
                        help: b.help,
                    }
                }
            };
            rows.push(row);
            set_by.push(over.map(|(name, _, _)| *name));
        }
        conflicts(&rows, &set_by)?;
        let overridden = |a: &Action| parsed.iter().any(|(_, p, _)| p == a);
        let mut map = Keymap {
            rows,
            hints: Vec::new(),
        };
        map.hints = HINTS
            .iter()
            .map(|h| {
                if !h.actions.iter().any(overridden) {
                    return Some(h.label.to_owned());
                }
                let parts: Vec<String> = h
                    .actions
                    .iter()
                    .filter_map(|a| map.first_key(*a, Context::Normal))
                    .collect();
                (!parts.is_empty()).then(|| parts.join("/"))
            })
            .collect();
        Ok(map)
    }
}

/// The first key that two actions share in one mode, blamed on the override that gave it.
fn conflicts(rows: &[Bound], set_by: &[Option<&str>]) -> Result<(), KeymapError> {
    for group in GROUPS {
        let members: Vec<usize> = (0..rows.len())
            .filter(|i| group.contains(&rows[*i].context))
            .collect();
        for (n, &i) in members.iter().enumerate() {
            for &j in &members[n + 1..] {
                if rows[i].action == rows[j].action {
                    continue;
                }
                let Some(shared) = rows[j].keys.iter().find(|k| rows[i].keys.contains(k)) else {
                    continue;
                };
                // The later override is at fault; between an override and a default, the
                // override.
                let (at, other) = match (set_by[i], set_by[j]) {
                    (_, Some(name)) => (name, i),
                    (Some(name), None) => (name, j),
                    // Two defaults: the table's own test keeps them apart.
                    (None, None) => continue,
                };
                let o = &rows[other];
                let key = match shared {
                    KeyPattern::Key(k) => k.label(),
                    KeyPattern::AnyChar => "any character".to_owned(),
                };
                return Err(KeymapError::Conflict {
                    action: at.to_owned(),
                    key,
                    other: o.action.name().unwrap_or(o.help).to_owned(),
                    help: o.help,
                    context: o.context,
                    kept: kept(o.context, shared) || o.action.name().is_none(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::keymap::CTRL_C;
    use crossterm::event::{KeyEvent, KeyModifiers};

    fn over(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs
            .iter()
            .map(|(a, ks)| {
                (
                    (*a).to_owned(),
                    ks.iter().map(|k| (*k).to_owned()).collect(),
                )
            })
            .collect()
    }

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn every_configurable_action_has_one_name() {
        for b in BINDINGS {
            if b.context == Context::Filter || b.action == Action::Suspend {
                continue;
            }
            let name = b.action.name().expect("named");
            assert_eq!(Action::from_name(name), Some(b.action));
        }
        for (i, (a, _)) in NAMES.iter().enumerate() {
            assert!(!NAMES[i + 1..].iter().any(|(b, _)| a == b), "{a} twice");
        }
    }

    #[test]
    fn an_override_replaces_the_default_keys_and_labels_them() {
        let map = Keymap::with_overrides(&over(&[("reload", &["x", "F5"])])).unwrap();
        let n = Context::Normal;
        assert_eq!(
            map.action_for(&press(KeyCode::Char('x')), n),
            Some(Action::Reload)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::F(5)), n),
            Some(Action::Reload)
        );
        assert_eq!(map.action_for(&press(KeyCode::Char('r')), n), None);
        let row = map.rows_in(n).find(|b| b.action == Action::Reload).unwrap();
        assert_eq!(row.label, "x F5");
        assert!(map.hints().any(|h| h == ("x", "reload")));
    }

    #[test]
    fn ctrl_c_and_esc_in_help_stay() {
        let map = Keymap::with_overrides(&over(&[("quit", &["x"]), ("help", &["F1"])])).unwrap();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for context in [Context::Normal, Context::Help, Context::Filter] {
            assert_eq!(map.action_for(&ctrl_c, context), Some(Action::Quit));
        }
        assert_eq!(
            map.action_for(&press(KeyCode::Char('q')), Context::Normal),
            None
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('x')), Context::Help),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Esc), Context::Help),
            Some(Action::ToggleHelp)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::F(1)), Context::Help),
            Some(Action::ToggleHelp)
        );
        let quit = map
            .rows_in(Context::Normal)
            .find(|b| b.action == Action::Quit);
        assert_eq!(quit.unwrap().label, "x C-c");
        // The filter's own keys do not move.
        assert_eq!(
            map.action_for(&press(KeyCode::Char('x')), Context::Filter),
            Some(Action::FilterChar('x'))
        );
    }

    #[test]
    fn an_empty_list_leaves_the_action_without_a_key() {
        let map = Keymap::with_overrides(&over(&[("reprobe_all", &[])])).unwrap();
        let shift_p = KeyEvent::new(KeyCode::Char('P'), KeyModifiers::SHIFT);
        assert_eq!(map.action_for(&shift_p, Context::Normal), None);
        assert!(map.hints().any(|h| h == ("p", "reprobe")));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = |pairs: &[(&str, &[&str])]| {
            let e = Keymap::with_overrides(&over(pairs)).unwrap_err();
            (e.action().to_owned(), e.to_string())
        };
        assert_eq!(
            err(&[("relaod", &["x"])]),
            (
                "relaod".to_owned(),
                "no action is called \"relaod\"".to_owned()
            )
        );
        let (at, msg) = err(&[("reload", &["x", "ctrl+x"])]);
        assert_eq!(at, "reload");
        assert!(msg.contains("\"ctrl+x\" is not a key"), "{msg}");
        let (at, msg) = err(&[("reload", &["ctrl-c"])]);
        assert_eq!(at, "reload");
        assert_eq!(
            msg,
            "\"C-c\" always quits; it cannot be given to another action"
        );
        let (_, msg) = err(&[("quit", &["ctrl-z"])]);
        assert!(msg.starts_with("\"C-z\" always suspends"), "{msg}");
        // A default still in force.
        let (at, msg) = err(&[("reload", &["p"])]);
        assert_eq!(at, "reload");
        assert!(
            msg.starts_with("\"p\" is also the key of `reprobe` (reprobe the selected node); give `reprobe` other keys"),
            "{msg}"
        );
        // Two overrides: the later row is blamed, the other named.
        let (at, msg) = err(&[("reload", &["x"]), ("zoom", &["x"])]);
        assert_eq!(at, "zoom");
        assert!(msg.contains("`reload`"), "{msg}");
        // Moving the default away first is fine.
        assert!(Keymap::with_overrides(&over(&[("reload", &["p"]), ("reprobe", &["o"])])).is_ok());
        // The lab keys count.
        let (at, msg) = err(&[("reload", &["R"])]);
        assert_eq!(at, "reload");
        assert!(
            msg.contains("`lab_rotate` (lab: rotate a password now)"),
            "{msg}"
        );
        // Esc always closes help.
        let (at, msg) = err(&[("up", &["esc"]), ("back", &["backspace"])]);
        assert_eq!(at, "up");
        assert_eq!(
            msg,
            "\"Esc\" always belongs to `help` (close help) in the help overlay; choose another key"
        );
    }

    #[test]
    fn the_default_table_is_the_defaults() {
        let map = Keymap::default();
        assert_eq!(map.rows().len(), BINDINGS.len());
        for (row, b) in map.rows().iter().zip(BINDINGS) {
            assert_eq!(row.label, b.label);
            assert_eq!(row.keys, b.keys);
        }
        let hints: Vec<&str> = map.hints().map(|(k, _)| k).collect();
        let want: Vec<&str> = HINTS.iter().map(|h| h.label).collect();
        assert_eq!(hints, want);
        assert!(map.rows().iter().any(|b| b.keys.contains(&CTRL_C)));
    }
}
