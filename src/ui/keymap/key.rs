//! One key as `[ui.keys]` writes it (`"r"`, `"R"`, `"ctrl-r"`, `"alt-x"`, `"F5"`, `"pgdn"`) and
//! as the `?` overlay shows it (`r`, `R`, `C-r`, `M-x`, `F5`, `PgDn`).
//!
//! Keys are kept normalised the way terminals report them, so a key parsed from the config and
//! a key read from the terminal compare equal: Shift is folded into the character (`P`, not
//! Shift-p; a terminal cannot send Shift-1, it sends `!`), Ctrl with a letter is the lower-case
//! letter (terminals send the same byte for Ctrl-R and Ctrl-r), and Back-Tab carries no Shift.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key with its modifiers, normalised (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    code: KeyCode,
    mods: KeyModifiers,
}

/// Why a `[ui.keys]` value is not a key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// An empty string, or a modifier with nothing after it.
    #[error("{0:?} names no key")]
    Empty(String),
    /// Several characters that are no key name.
    #[error(
        "{0:?} is not a key: give one character (\"r\", \"R\", \"/\") or a name: {NAMES_HINT}, \
         optionally after ctrl-, alt- or shift-"
    )]
    UnknownName(String),
    /// Shift with a character that is not a letter: the terminal sends the shifted character.
    #[error("{0:?}: write the shifted character itself (\"!\", not \"shift-1\")")]
    ShiftedSymbol(String),
    /// A control character or other invisible one.
    #[error("{0:?} is not a printable character")]
    Unprintable(String),
}

const NAMES_HINT: &str = "enter, esc, tab, backtab, backspace, space, up, down, left, right, \
                          home, end, pgup, pgdn, insert, delete, f1…f12";

impl Key {
    /// A key without modifiers (the default table's keys are written with this).
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            mods: KeyModifiers::NONE,
        }
    }

    /// Ctrl with a lower-case letter.
    pub const fn ctrl(letter: char) -> Key {
        Key {
            code: KeyCode::Char(letter),
            mods: KeyModifiers::CONTROL,
        }
    }

    /// The key the terminal reported, normalised like parsed keys.
    pub fn from_event(event: &KeyEvent) -> Key {
        Key::normalised(event.code, event.modifiers)
    }

    fn normalised(code: KeyCode, mut mods: KeyModifiers) -> Key {
        let code = match code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            // Shift-Tab arrives as Back-Tab, with or without Shift.
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Key { code, mods }
    }

    /// Reads the `[ui.keys]` syntax: an optional chain of modifiers (`ctrl-`, `alt-`, `shift-`,
    /// or their short forms `C-`, `M-`/`A-`, `S-`, any case), then one character (case matters:
    /// `r` and `R` are two keys) or a key name (any case). `"-"` is the minus key, `"ctrl--"`
    /// Ctrl with it.
    pub fn parse(text: &str) -> Result<Key, KeyError> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        while let Some((head, tail)) = rest.split_once('-') {
            let Some(m) = modifier(head) else { break };
            if tail.is_empty() {
                return Err(KeyError::Empty(text.to_owned()));
            }
            mods |= m;
            rest = tail;
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (None, _) => return Err(KeyError::Empty(text.to_owned())),
            (Some(c), None) if crate::text::needs_escape(c) => {
                return Err(KeyError::Unprintable(text.to_owned()))
            }
            (Some(c), None) if mods.contains(KeyModifiers::SHIFT) => {
                if !c.is_alphabetic() {
                    return Err(KeyError::ShiftedSymbol(text.to_owned()));
                }
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c.to_uppercase().next().unwrap_or(c))
            }
            (Some(c), None) => KeyCode::Char(c),
            _ => name(rest).ok_or_else(|| KeyError::UnknownName(text.to_owned()))?,
        };
        Ok(Key::normalised(code, mods))
    }

    /// A character typed without Ctrl or Alt: text, while a filter is typed.
    pub fn is_plain_char(&self) -> bool {
        matches!(self.code, KeyCode::Char(_))
            && !self
                .mods
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }

    /// How the screen shows it: `r`, `C-r`, `M-x`, `S-Tab`, `F5`, `PgDn`, `↑`, `space`.
    pub fn label(&self) -> String {
        let mut s = String::new();
        for (m, prefix) in [
            (KeyModifiers::CONTROL, "C-"),
            (KeyModifiers::ALT, "M-"),
            (KeyModifiers::SHIFT, "S-"),
        ] {
            if self.mods.contains(m) {
                s.push_str(prefix);
            }
        }
        match self.code {
            KeyCode::Char(' ') => s.push_str("space"),
            KeyCode::Char(c) => s.push(c),
            KeyCode::F(n) => s.push_str(&format!("F{n}")),
            KeyCode::BackTab => s.push_str("S-Tab"),
            code => s.push_str(match code {
                KeyCode::Up => "↑",
                KeyCode::Down => "↓",
                KeyCode::Left => "←",
                KeyCode::Right => "→",
                KeyCode::PageUp => "PgUp",
                KeyCode::PageDown => "PgDn",
                KeyCode::Home => "Home",
                KeyCode::End => "End",
                KeyCode::Enter => "Enter",
                KeyCode::Tab => "Tab",
                KeyCode::Esc => "Esc",
                KeyCode::Backspace => "Bksp",
                KeyCode::Delete => "Del",
                KeyCode::Insert => "Ins",
                _ => "?",
            }),
        }
        s
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

fn modifier(word: &str) -> Option<KeyModifiers> {
    match word.to_ascii_lowercase().as_str() {
        "ctrl" | "control" | "c" => Some(KeyModifiers::CONTROL),
        "alt" | "meta" | "m" | "a" => Some(KeyModifiers::ALT),
        "shift" | "s" => Some(KeyModifiers::SHIFT),
        _ => None,
    }
}

fn name(word: &str) -> Option<KeyCode> {
    let lower = word.to_ascii_lowercase();
    Some(match lower.as_str() {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "backspace" | "bksp" => KeyCode::Backspace,
        "space" => KeyCode::Char(' '),
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pgup" | "pageup" => KeyCode::PageUp,
        "pgdn" | "pagedown" => KeyCode::PageDown,
        "insert" | "ins" => KeyCode::Insert,
        "delete" | "del" => KeyCode::Delete,
        _ => {
            let n: u8 = lower.strip_prefix('f')?.parse().ok()?;
            if !(1..=12).contains(&n) {
                return None;
            }
            KeyCode::F(n)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode, mods: KeyModifiers) -> Key {
        Key { code, mods }
    }

    #[test]
    fn characters_names_and_modifiers_parse() {
        let none = KeyModifiers::NONE;
        let cases = [
            ("r", k(KeyCode::Char('r'), none)),
            ("R", k(KeyCode::Char('R'), none)),
            ("shift-r", k(KeyCode::Char('R'), none)),
            ("ctrl-r", k(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            ("Ctrl-R", k(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            ("C-r", k(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            ("alt-x", k(KeyCode::Char('x'), KeyModifiers::ALT)),
            ("M-x", k(KeyCode::Char('x'), KeyModifiers::ALT)),
            (
                "ctrl-alt-x",
                k(
                    KeyCode::Char('x'),
                    KeyModifiers::CONTROL | KeyModifiers::ALT,
                ),
            ),
            ("F5", k(KeyCode::F(5), none)),
            ("f12", k(KeyCode::F(12), none)),
            ("F", k(KeyCode::Char('F'), none)),
            ("enter", k(KeyCode::Enter, none)),
            ("Esc", k(KeyCode::Esc, none)),
            ("tab", k(KeyCode::Tab, none)),
            ("shift-tab", k(KeyCode::BackTab, none)),
            ("S-Tab", k(KeyCode::BackTab, none)),
            ("space", k(KeyCode::Char(' '), none)),
            (" ", k(KeyCode::Char(' '), none)),
            ("up", k(KeyCode::Up, none)),
            ("shift-up", k(KeyCode::Up, KeyModifiers::SHIFT)),
            ("pgdn", k(KeyCode::PageDown, none)),
            ("PageUp", k(KeyCode::PageUp, none)),
            ("-", k(KeyCode::Char('-'), none)),
            ("ctrl--", k(KeyCode::Char('-'), KeyModifiers::CONTROL)),
            ("c", k(KeyCode::Char('c'), none)),
            ("é", k(KeyCode::Char('é'), none)),
        ];
        for (text, want) in cases {
            assert_eq!(Key::parse(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn what_is_not_a_key_says_why() {
        let cases = [
            ("", "names no key"),
            ("ctrl-", "names no key"),
            ("F13", "is not a key"),
            ("hyper-x", "is not a key"),
            ("pagedn", "is not a key"),
            ("rr", "is not a key"),
            ("shift-1", "write the shifted character itself"),
            ("\u{1b}", "not a printable character"),
            // A bidi override would turn the help overlay's text around.
            ("\u{202e}", "not a printable character"),
            ("ctrl-\u{200b}", "not a printable character"),
        ];
        for (text, why) in cases {
            let err = Key::parse(text).expect_err(text).to_string();
            assert!(err.contains(why), "{text:?}: {err}");
            assert!(!err.chars().any(crate::text::needs_escape), "{err:?}");
        }
    }

    #[test]
    fn terminal_events_compare_equal_to_parsed_keys() {
        let ev = |code, mods| Key::from_event(&KeyEvent::new(code, mods));
        assert_eq!(
            ev(KeyCode::Char('P'), KeyModifiers::SHIFT),
            Key::parse("P").unwrap()
        );
        assert_eq!(
            ev(
                KeyCode::Char('R'),
                KeyModifiers::CONTROL | KeyModifiers::SHIFT
            ),
            Key::parse("ctrl-r").unwrap()
        );
        assert_eq!(
            ev(KeyCode::BackTab, KeyModifiers::SHIFT),
            Key::parse("backtab").unwrap()
        );
        assert_eq!(
            ev(KeyCode::F(5), KeyModifiers::NONE),
            Key::parse("F5").unwrap()
        );
        assert_ne!(
            ev(KeyCode::Char('r'), KeyModifiers::ALT),
            Key::parse("r").unwrap()
        );
    }

    #[test]
    fn labels_are_short_and_read_back() {
        for (text, label) in [
            ("r", "r"),
            ("ctrl-r", "C-r"),
            ("alt-x", "M-x"),
            ("F5", "F5"),
            ("pgdn", "PgDn"),
            ("shift-tab", "S-Tab"),
            ("space", "space"),
            ("up", "↑"),
            ("shift-up", "S-↑"),
            ("backspace", "Bksp"),
        ] {
            let key = Key::parse(text).unwrap();
            assert_eq!(key.label(), label, "{text:?}");
            if !label.contains('↑') {
                // What `?` shows can be written in the config.
                assert_eq!(Key::parse(label), Ok(key), "{label:?}");
            }
        }
    }
}
