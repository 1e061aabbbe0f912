//! Key bindings as data: one table maps keys to [`Action`]s, and the same table is what the `?`
//! help overlay and the footer hints show, so the screen can never document a key that does
//! something else.
//!
//! [`BINDINGS`] is the default table; a [`Keymap`] is the table in force: the defaults with the
//! `[ui.keys]` overrides of the config applied ([`overrides`]), and every key lookup goes through
//! it ([`Keymap::action_for`]).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

mod key;
pub mod overrides;

pub use key::{Key, KeyError};
pub use overrides::KeymapError;

/// What a key asks for. [`super::update::update`] turns it into view changes and, for some, a
/// command to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Previous node, or scroll the focused pane up.
    Up,
    /// Next node, or scroll the focused pane down.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// First node, or the top of the focused pane.
    Home,
    /// Last node, or the bottom of the focused pane.
    End,
    /// Focus the detail pane of the selected node.
    FocusDetail,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Back out: close the overlay, clear the filter, or return to the nodes pane.
    Back,
    /// Ask the engine to re-read the config now.
    Reload,
    /// Ask the engine to chain-probe the selected node now.
    ReprobeSelected,
    /// Ask the engine to chain-probe every node now.
    ReprobeAll,
    /// Ask the engine to audit every candidate of the selected node now.
    AuditSelected,
    /// Ask the engine to audit every candidate of every node now.
    AuditAll,
    /// Start typing a node filter.
    StartFilter,
    /// Add a character to the filter being typed.
    FilterChar(char),
    /// Delete the last character of the filter being typed.
    FilterBackspace,
    /// Stop typing and keep the filter.
    FilterKeep,
    /// Stop typing and clear the filter.
    FilterClear,
    /// Next order of the nodes table: health (problems first), name, latency, island.
    CycleSort,
    /// Show only nodes with a problem (not ok, or in an island with a warning), or all again.
    ToggleProblems,
    /// Probe less often: the next longer interval, for this session.
    SlowerProbes,
    /// Probe more often: the next shorter interval, for this session.
    FasterProbes,
    /// Give the focused pane the whole screen, or go back to every pane.
    ToggleZoom,
    /// Freeze or unfreeze the display (the engine keeps running).
    TogglePause,
    /// Open or close the help overlay.
    ToggleHelp,
    /// Show or hide the credential timeline panel.
    ToggleRotation,
    /// Leave the dashboard.
    Quit,
    /// Give the terminal back and stop, as Ctrl-Z does in a shell (`fg` resumes).
    Suspend,
    /// One second passed (sent by the loop, not bound to a key): ages the footer message.
    Tick,
    /// Lab mode only: rotate a password now.
    LabRotate,
    /// Lab mode only: fail the selected node's island over.
    LabFailover,
    /// Lab mode only: stop the selected node, or start it again.
    LabStopStart,
}

/// Where a binding applies: the input mode the view is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// The dashboard.
    Normal,
    /// Typing a node filter: printable keys become text.
    Filter,
    /// The help overlay is open.
    Help,
    /// Keys that exist only in `rotascope lab` (tried after [`Context::Normal`]'s).
    Lab,
}

/// A key to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPattern {
    /// This key (see [`Key`] for how Shift and Ctrl are folded).
    Key(Key),
    /// Any printable character without Ctrl or Alt; the action receives the character.
    AnyChar,
}

/// One row of the default table.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// Where it applies.
    pub context: Context,
    /// The keys.
    pub keys: &'static [KeyPattern],
    /// How help shows the keys.
    pub label: &'static str,
    /// What they do.
    pub action: Action,
    /// What help says about it.
    pub help: &'static str,
}

const fn key(code: KeyCode) -> KeyPattern {
    KeyPattern::Key(Key::plain(code))
}

const fn ch(c: char) -> KeyPattern {
    KeyPattern::Key(Key::plain(KeyCode::Char(c)))
}

/// Ctrl-C: quits everywhere, whatever `[ui.keys]` says.
pub const CTRL_C: KeyPattern = KeyPattern::Key(Key::ctrl('c'));
/// Ctrl-Z: suspends everywhere, whatever `[ui.keys]` says. In raw mode the terminal sends no
/// SIGTSTP for Ctrl-Z: it arrives as this key.
pub const CTRL_Z: KeyPattern = KeyPattern::Key(Key::ctrl('z'));

const N: Context = Context::Normal;
const F: Context = Context::Filter;
const H: Context = Context::Help;
const L: Context = Context::Lab;

const fn bind(
    context: Context,
    keys: &'static [KeyPattern],
    label: &'static str,
    action: Action,
    help: &'static str,
) -> Binding {
    Binding {
        context,
        keys,
        label,
        action,
        help,
    }
}

/// Every default binding. The first match (in table order) wins.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind(N, &[key(KeyCode::Up), ch('k')], "↑ k", Action::Up, "previous node / scroll up"),
    bind(N, &[key(KeyCode::Down), ch('j')], "↓ j", Action::Down, "next node / scroll down"),
    bind(N, &[key(KeyCode::PageUp)], "PgUp", Action::PageUp, "a page up"),
    bind(N, &[key(KeyCode::PageDown)], "PgDn", Action::PageDown, "a page down"),
    bind(N, &[key(KeyCode::Home)], "Home", Action::Home, "first node / top"),
    bind(N, &[key(KeyCode::End)], "End", Action::End, "last node / bottom"),
    bind(N, &[key(KeyCode::Enter)], "Enter", Action::FocusDetail, "focus the node's detail"),
    bind(N, &[key(KeyCode::Tab)], "Tab", Action::NextPane, "next pane"),
    bind(N, &[key(KeyCode::BackTab)], "S-Tab", Action::PrevPane, "previous pane"),
    bind(N, &[key(KeyCode::Esc)], "Esc", Action::Back, "clear filter / back to nodes"),
    bind(N, &[ch('r')], "r", Action::Reload, "reload the config now"),
    bind(N, &[ch('p')], "p", Action::ReprobeSelected, "reprobe the selected node"),
    bind(N, &[ch('P')], "P", Action::ReprobeAll, "reprobe every node"),
    bind(N, &[ch('a')], "a", Action::AuditSelected, "audit the selected node"),
    bind(N, &[ch('A')], "A", Action::AuditAll, "audit every node"),
    bind(N, &[ch('/')], "/", Action::StartFilter, "filter nodes by text"),
    bind(N, &[ch('s')], "s", Action::CycleSort, "next sort order"),
    bind(N, &[ch('!')], "!", Action::ToggleProblems, "problems only / all nodes"),
    bind(N, &[ch('+'), ch('=')], "+", Action::SlowerProbes, "longer probe interval"),
    bind(N, &[ch('-')], "-", Action::FasterProbes, "shorter probe interval"),
    bind(N, &[ch('z')], "z", Action::ToggleZoom, "zoom the focused pane"),
    bind(N, &[ch(' ')], "space", Action::TogglePause, "pause / resume the display"),
    bind(N, &[ch('?')], "?", Action::ToggleHelp, "this help"),
    bind(N, &[ch('t')], "t", Action::ToggleRotation, "credential timeline on / off"),
    bind(N, &[ch('q'), CTRL_C], "q C-c", Action::Quit, "quit"),
    bind(N, &[CTRL_Z], "C-z", Action::Suspend, "suspend (fg resumes)"),
    bind(F, &[key(KeyCode::Enter)], "Enter", Action::FilterKeep, "keeps it"),
    bind(F, &[key(KeyCode::Esc)], "Esc", Action::FilterClear, "clears it"),
    bind(F, &[key(KeyCode::Backspace)], "Bksp", Action::FilterBackspace, "deletes a character"),
    bind(F, &[key(KeyCode::Up)], "↑", Action::Up, "previous match"),
    bind(F, &[key(KeyCode::Down)], "↓", Action::Down, "next match"),
    bind(F, &[CTRL_C], "C-c", Action::Quit, "quits"),
    bind(F, &[CTRL_Z], "C-z", Action::Suspend, "suspends"),
    bind(F, &[KeyPattern::AnyChar], "other keys", Action::FilterChar(' '), "type the text"),
    bind(H, &[ch('?'), key(KeyCode::Esc)], "? Esc", Action::ToggleHelp, "close help"),
    bind(H, &[key(KeyCode::Up), ch('k')], "↑ k", Action::Up, "scroll help up"),
    bind(H, &[key(KeyCode::Down), ch('j')], "↓ j", Action::Down, "scroll help down"),
    bind(H, &[key(KeyCode::PageUp)], "PgUp", Action::PageUp, "a page up"),
    bind(H, &[key(KeyCode::PageDown)], "PgDn", Action::PageDown, "a page down"),
    bind(H, &[key(KeyCode::Home)], "Home", Action::Home, "top"),
    bind(H, &[key(KeyCode::End)], "End", Action::End, "bottom"),
    bind(H, &[ch('q'), CTRL_C], "q C-c", Action::Quit, "quit"),
    bind(H, &[CTRL_Z], "C-z", Action::Suspend, "suspend (fg resumes)"),
    bind(L, &[ch('R')], "R", Action::LabRotate, "lab: rotate a password now"),
    bind(L, &[ch('F')], "F", Action::LabFailover, "lab: fail its island over"),
    bind(L, &[ch('S')], "S", Action::LabStopStart, "lab: stop / start the node"),
];

/// A footer hint: what it says by default, the actions it stands for, and what they do.
#[derive(Clone, Copy, Debug)]
pub struct Hint {
    /// The keys as shown with the default table.
    pub label: &'static str,
    /// The actions whose keys it shows (`p/P`: reprobe one and all).
    pub actions: &'static [Action],
    /// What they do, in a word.
    pub what: &'static str,
}

const fn hint(label: &'static str, actions: &'static [Action], what: &'static str) -> Hint {
    Hint {
        label,
        actions,
        what,
    }
}

/// Short hints for the footer, in the order shown.
#[rustfmt::skip]
pub const HINTS: &[Hint] = &[
    hint("?", &[Action::ToggleHelp], "help"),
    hint("q", &[Action::Quit], "quit"),
    hint("↑↓", &[Action::Up, Action::Down], "select"),
    hint("Enter", &[Action::FocusDetail], "detail"),
    hint("Tab", &[Action::NextPane], "pane"),
    hint("p/P", &[Action::ReprobeSelected, Action::ReprobeAll], "reprobe"),
    hint("a/A", &[Action::AuditSelected, Action::AuditAll], "audit"),
    hint("r", &[Action::Reload], "reload"),
    hint("/", &[Action::StartFilter], "filter"),
    hint("s", &[Action::CycleSort], "sort"),
    hint("!", &[Action::ToggleProblems], "problems"),
    hint("z", &[Action::ToggleZoom], "zoom"),
    hint("space", &[Action::TogglePause], "pause"),
];

/// One row of the table in force: a default row, or the same row with its keys from
/// `[ui.keys]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// Where it applies.
    pub context: Context,
    /// The keys.
    pub keys: Vec<KeyPattern>,
    /// How help shows the keys: the default row's label, or one made from the keys when they
    /// come from the config.
    pub label: String,
    /// What they do.
    pub action: Action,
    /// What help says about it.
    pub help: &'static str,
}

/// The key table in force: [`BINDINGS`] with the config's `[ui.keys]` overrides applied
/// ([`Keymap::with_overrides`]; [`Keymap::default`] has none). The loop looks keys up in it, and
/// the `?` overlay and the footer show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keymap {
    rows: Vec<Bound>,
    /// The footer hints' labels, in [`HINTS`] order (`None`: the hint's actions have no key).
    hints: Vec<Option<String>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::with_overrides(&[]).expect("the default table has no conflicts")
    }
}

impl Keymap {
    /// Every row, in table order.
    pub fn rows(&self) -> &[Bound] {
        &self.rows
    }

    /// The rows of `context`.
    pub fn rows_in(&self, context: Context) -> impl Iterator<Item = &Bound> {
        self.rows.iter().filter(move |b| b.context == context)
    }

    /// The footer hints as (keys, what), in the order shown; hints whose actions have no key are
    /// left out.
    pub fn hints(&self) -> impl Iterator<Item = (&str, &'static str)> {
        HINTS
            .iter()
            .zip(&self.hints)
            .filter_map(|(h, label)| label.as_deref().map(|l| (l, h.what)))
    }

    /// How the screen names the first key of `action` in `context` (`?` for the help key), or
    /// `None` when the action has no key there.
    pub fn first_key(&self, action: Action, context: Context) -> Option<String> {
        self.rows_in(context)
            .filter(|b| b.action == action)
            .flat_map(|b| &b.keys)
            .find_map(|k| match k {
                KeyPattern::Key(key) => Some(key.label()),
                KeyPattern::AnyChar => None,
            })
    }

    /// The action bound to `event` in `context`, if any. Key releases are ignored (some
    /// terminals report them), repeats act like presses.
    pub fn action_for(&self, event: &KeyEvent, context: Context) -> Option<Action> {
        if event.kind == KeyEventKind::Release {
            return None;
        }
        let pressed = Key::from_event(event);
        self.rows_in(context).find_map(|b| {
            b.keys.iter().find_map(|k| match *k {
                KeyPattern::Key(key) if key == pressed => Some(b.action),
                KeyPattern::AnyChar => match event.code {
                    KeyCode::Char(c) if pressed.is_plain_char() => Some(Action::FilterChar(c)),
                    _ => None,
                },
                KeyPattern::Key(..) => None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn action_for(event: &KeyEvent, context: Context) -> Option<Action> {
        Keymap::default().action_for(event, context)
    }

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn the_issue_keys_map_to_their_actions() {
        let n = Context::Normal;
        let none = KeyModifiers::NONE;
        let cases = [
            (KeyCode::Up, none, Action::Up),
            (KeyCode::Char('k'), none, Action::Up),
            (KeyCode::Down, none, Action::Down),
            (KeyCode::Char('j'), none, Action::Down),
            (KeyCode::PageUp, none, Action::PageUp),
            (KeyCode::PageDown, none, Action::PageDown),
            (KeyCode::Home, none, Action::Home),
            (KeyCode::End, none, Action::End),
            (KeyCode::Enter, none, Action::FocusDetail),
            (KeyCode::Tab, none, Action::NextPane),
            (KeyCode::Char('r'), none, Action::Reload),
            (KeyCode::Char('p'), none, Action::ReprobeSelected),
            (KeyCode::Char('P'), KeyModifiers::SHIFT, Action::ReprobeAll),
            (KeyCode::Char('a'), none, Action::AuditSelected),
            (KeyCode::Char('A'), KeyModifiers::SHIFT, Action::AuditAll),
            (KeyCode::Char('/'), none, Action::StartFilter),
            (KeyCode::Char(' '), none, Action::TogglePause),
            (KeyCode::Char('s'), none, Action::CycleSort),
            (KeyCode::Char('z'), none, Action::ToggleZoom),
            (
                KeyCode::Char('+'),
                KeyModifiers::SHIFT,
                Action::SlowerProbes,
            ),
            (KeyCode::Char('-'), none, Action::FasterProbes),
            (
                KeyCode::Char('!'),
                KeyModifiers::SHIFT,
                Action::ToggleProblems,
            ),
            (KeyCode::Char('?'), KeyModifiers::SHIFT, Action::ToggleHelp),
            (KeyCode::Char('q'), none, Action::Quit),
            (KeyCode::Char('c'), KeyModifiers::CONTROL, Action::Quit),
            (KeyCode::Char('t'), none, Action::ToggleRotation),
        ];
        for (code, mods, want) in cases {
            assert_eq!(action_for(&press(code, mods), n), Some(want), "{code:?}");
        }
        assert_eq!(action_for(&press(KeyCode::Char('x'), none), n), None);
        assert_eq!(
            action_for(&press(KeyCode::Char('c'), none), n),
            None,
            "plain c is not Ctrl-C"
        );
    }

    #[test]
    fn while_filtering_letters_are_text_but_ctrl_c_still_quits() {
        let f = Context::Filter;
        let none = KeyModifiers::NONE;
        assert_eq!(
            action_for(&press(KeyCode::Char('q'), none), f),
            Some(Action::FilterChar('q'))
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('D'), KeyModifiers::SHIFT), f),
            Some(Action::FilterChar('D'))
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL), f),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&press(KeyCode::Esc, none), f),
            Some(Action::FilterClear)
        );
        assert_eq!(
            action_for(&press(KeyCode::Enter, none), f),
            Some(Action::FilterKeep)
        );
    }

    #[test]
    fn help_swallows_everything_but_close_and_quit() {
        let h = Context::Help;
        assert_eq!(
            action_for(&press(KeyCode::Char('p'), KeyModifiers::NONE), h),
            None
        );
        assert_eq!(
            action_for(&press(KeyCode::Esc, KeyModifiers::NONE), h),
            Some(Action::ToggleHelp)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('q'), KeyModifiers::NONE), h),
            Some(Action::Quit)
        );
    }

    #[test]
    fn ctrl_z_suspends_everywhere() {
        let z = press(KeyCode::Char('z'), KeyModifiers::CONTROL);
        for context in [Context::Normal, Context::Filter, Context::Help] {
            assert_eq!(
                action_for(&z, context),
                Some(Action::Suspend),
                "{context:?}"
            );
        }
        let plain = press(KeyCode::Char('z'), KeyModifiers::NONE);
        assert_eq!(
            action_for(&plain, Context::Normal),
            Some(Action::ToggleZoom)
        );
        assert_eq!(
            action_for(&plain, Context::Filter),
            Some(Action::FilterChar('z'))
        );
    }

    #[test]
    fn releases_are_ignored() {
        let mut e = press(KeyCode::Char('q'), KeyModifiers::NONE);
        e.kind = KeyEventKind::Release;
        assert_eq!(action_for(&e, Context::Normal), None);
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        // The lab's keys are tried right after the dashboard's: one mode.
        let mode = |c: Context| {
            if c == Context::Lab {
                Context::Normal
            } else {
                c
            }
        };
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                if mode(a.context) != mode(b.context) {
                    continue;
                }
                for k in a.keys {
                    assert!(!b.keys.contains(k), "{k:?} bound to {a:?} and {b:?}");
                }
            }
        }
    }
}
