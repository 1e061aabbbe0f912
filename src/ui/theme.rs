//! Colours and symbols.
//!
//! Every state the screen shows has a symbol and a word; colour only repeats what they already say,
//! so the screen reads the same with `NO_COLOR` (<https://no-color.org>) or on a monochrome
//! terminal. The theme is a value handed to render (inside the view state), never an environment
//! read during a frame, so both variants are snapshot-tested.

use std::ffi::OsStr;

use ratatui::style::{Color, Modifier, Style};

use crate::engine::event::EventKind;
use crate::engine::snapshot::{CandidateState, Health, Verdict};

/// Marks the winning candidate.
pub const WINNER: &str = "★";
/// Marks the remembered best (where the next chain probe starts).
pub const BEST: &str = "◆";
/// Marks an island warning.
pub const WARN: &str = "⚠";
/// A failed chain probe in the latency strip.
pub const STRIP_FAIL: &str = "×";
/// A chain probe in the latency strip that worked only after another candidate failed.
pub const STRIP_FALLBACK: &str = "⇄";
/// A probe in flight, at the end of the latency strip.
pub const PROBING: &str = "↻";
/// The selected node row.
pub const SELECTED: &str = "▶";
/// Latency strip levels, log scale: `▁` under 1 ms, each step doubles, `█` from 64 ms.
pub const STRIP_LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The colours of the screen (`[ui] theme`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Palette {
    /// The terminal's own eight colours, chosen for a dark background.
    #[default]
    Dark,
    /// Deeper colours that stay readable on a light background (yellow and cyan on white are
    /// not).
    Light,
    /// No colour: symbols and words, emphasis by bold and reverse video.
    Mono,
}

/// How the screen looks: a palette. Every state still has a symbol and a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    palette: Palette,
    color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::COLOR
    }
}

impl Theme {
    /// Symbols, words and colour (the dark palette).
    pub const COLOR: Theme = Theme {
        palette: Palette::Dark,
        color: true,
    };
    /// Colours for a light background.
    pub const LIGHT: Theme = Theme {
        palette: Palette::Light,
        color: true,
    };
    /// Symbols and words only; emphasis by bold and reverse video.
    pub const PLAIN: Theme = Theme {
        palette: Palette::Mono,
        color: false,
    };

    /// The theme of a palette.
    pub fn of(palette: Palette) -> Theme {
        match palette {
            Palette::Dark => Theme::COLOR,
            Palette::Light => Theme::LIGHT,
            Palette::Mono => Theme::PLAIN,
        }
    }

    /// The theme the environment asks for: [`Theme::PLAIN`] when `NO_COLOR` is set and not empty.
    pub fn from_env() -> Theme {
        Theme::from_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The theme for a given value of `NO_COLOR` (split out so it can be tested without touching
    /// the process environment).
    pub fn from_no_color(value: Option<&OsStr>) -> Theme {
        match value {
            Some(v) if !v.is_empty() => Theme::PLAIN,
            _ => Theme::COLOR,
        }
    }

    /// The theme to use: `NO_COLOR` wins; then the configured palette; unset, the terminal's
    /// background as `COLORFGBG` (`fg;bg`, set by rxvt, Konsole and others) tells it: light for
    /// a background of colour 7 or 15, else dark.
    pub fn choose(
        configured: Option<Palette>,
        no_color: Option<&OsStr>,
        colorfgbg: Option<&OsStr>,
    ) -> Theme {
        if Theme::from_no_color(no_color) == Theme::PLAIN {
            return Theme::PLAIN;
        }
        if let Some(p) = configured {
            return Theme::of(p);
        }
        let light = colorfgbg
            .and_then(OsStr::to_str)
            .and_then(|v| v.rsplit(';').next())
            .is_some_and(|bg| matches!(bg.trim(), "7" | "15"));
        if light {
            Theme::LIGHT
        } else {
            Theme::COLOR
        }
    }

    /// True when colours are used.
    pub fn has_color(self) -> bool {
        self.color
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(self.tone(color))
        } else {
            Style::new()
        }
    }

    /// A colour as this palette draws it.
    fn tone(self, color: Color) -> Color {
        match (self.palette, color) {
            (Palette::Light, Color::Yellow) => Color::Indexed(130),
            (Palette::Light, Color::Green) => Color::Indexed(28),
            (Palette::Light, Color::Cyan) => Color::Indexed(25),
            (Palette::Light, Color::DarkGray) => Color::Indexed(242),
            _ => color,
        }
    }

    /// Text of lesser importance (column headers, relative times, hints).
    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    /// Titles and labels.
    pub fn strong(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// A node's health.
    pub fn health(self, health: Health) -> Style {
        self.fg(match health {
            Health::Ok => Color::Green,
            Health::Degraded => Color::Yellow,
            Health::Down => Color::Red,
            Health::Unknown => Color::DarkGray,
        })
    }

    /// The cluster verdict (bold: it is the headline).
    pub fn verdict(self, verdict: Verdict) -> Style {
        let health = match verdict {
            Verdict::Ok => Health::Ok,
            Verdict::Degraded => Health::Degraded,
            Verdict::Down => Health::Down,
        };
        self.health(health).add_modifier(Modifier::BOLD)
    }

    /// A candidate's state.
    pub fn candidate(self, state: CandidateState) -> Style {
        self.fg(match state {
            CandidateState::Valid => Color::Green,
            CandidateState::Invalid => Color::Red,
            CandidateState::Unreachable => Color::Red,
            CandidateState::Untested | CandidateState::Skipped => Color::DarkGray,
        })
    }

    /// Failures: a failed probe, an island warning, an error message.
    pub fn bad(self) -> Style {
        self.fg(Color::Red)
    }

    /// Success marks.
    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    /// Things in motion: a probe in flight, a requested action.
    pub fn busy(self) -> Style {
        self.fg(Color::Cyan)
    }

    /// The winner and remembered-best marks.
    pub fn mark(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// The visible banner of a failed reload.
    pub fn banner(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    /// The PAUSED indicator.
    pub fn paused(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    /// The selected node's name (the row is bold and marked `▶` too). Reverse video rather than
    /// a background colour, so the row keeps its colours and dim text stays readable.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    /// The border of the focused pane (the thick line says it without colour).
    pub fn focused_border(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// An event in the timeline, by kind (the line's symbol and words say the same).
    pub fn event(self, kind: &EventKind) -> Style {
        match kind {
            EventKind::ConfigApplied { .. } => self.fg(Color::Cyan),
            EventKind::ConfigFailed { .. } => self.bad(),
            EventKind::LabAction { .. } => self.fg(Color::Yellow).add_modifier(Modifier::ITALIC),
            EventKind::NodeAdded { .. }
            | EventKind::NodeRemoved { .. }
            | EventKind::CandidateAdded { .. }
            | EventKind::CandidateRemoved { .. }
            | EventKind::CandidateRelabeled { .. } => self.fg(Color::Blue),
            EventKind::WinnerChanged { to: None, .. } => self.bad(),
            EventKind::WinnerChanged { .. } | EventKind::RoleChanged { .. } => {
                self.fg(Color::Magenta)
            }
            EventKind::CandidateChanged { to, .. } => self.candidate(*to),
            EventKind::HealthChanged { to, .. } => self.health(*to),
            EventKind::Warning { active: true, .. }
            | EventKind::ClusterWarning { active: true, .. } => self.bad(),
            EventKind::Warning { active: false, .. }
            | EventKind::ClusterWarning { active: false, .. } => self.good(),
            EventKind::RotationStarted { .. } => self.fg(Color::Yellow),
            EventKind::RotationFinished(s) if s.outages > 0 => self.bad(),
            EventKind::RotationFinished(_) => self.good(),
            EventKind::SafeToRevoke { .. } => self.good(),
            EventKind::NoLongerSafeToRevoke { .. } => self.fg(Color::Yellow),
        }
    }
}

/// The symbol of a node's health.
pub fn health_symbol(health: Health) -> &'static str {
    match health {
        Health::Ok => "✓",
        Health::Degraded => "▲",
        Health::Down => "✗",
        Health::Unknown => "?",
    }
}

/// The symbol of the cluster verdict.
pub fn verdict_symbol(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "✓",
        Verdict::Degraded => "▲",
        Verdict::Down => "✗",
    }
}

/// The symbol of a candidate's state.
pub fn candidate_symbol(state: CandidateState) -> &'static str {
    match state {
        CandidateState::Valid => "✓",
        CandidateState::Invalid => "✗",
        CandidateState::Unreachable => "!",
        CandidateState::Untested => "?",
        CandidateState::Skipped => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_not_empty_turns_colour_off() {
        assert_eq!(Theme::from_no_color(None), Theme::COLOR);
        assert_eq!(Theme::from_no_color(Some(OsStr::new(""))), Theme::COLOR);
        assert_eq!(Theme::from_no_color(Some(OsStr::new("1"))), Theme::PLAIN);
    }

    #[test]
    fn the_theme_follows_no_color_then_the_config_then_the_terminal() {
        let os = |s: &'static str| Some(OsStr::new(s));
        assert_eq!(Theme::choose(None, None, None), Theme::COLOR);
        assert_eq!(Theme::choose(None, None, os("0;15")), Theme::LIGHT);
        assert_eq!(Theme::choose(None, None, os("0;default;7")), Theme::LIGHT);
        assert_eq!(Theme::choose(None, None, os("15;0")), Theme::COLOR);
        assert_eq!(
            Theme::choose(Some(Palette::Dark), None, os("0;15")),
            Theme::COLOR
        );
        assert_eq!(Theme::choose(Some(Palette::Mono), None, None), Theme::PLAIN);
        assert_eq!(
            Theme::choose(Some(Palette::Light), os("1"), None),
            Theme::PLAIN
        );
    }

    #[test]
    fn the_light_palette_deepens_what_a_white_background_washes_out() {
        use ratatui::style::Color;
        assert_eq!(
            Theme::LIGHT.health(Health::Degraded).fg,
            Some(Color::Indexed(130))
        );
        assert_eq!(Theme::LIGHT.health(Health::Down).fg, Some(Color::Red));
        assert_eq!(
            Theme::COLOR.health(Health::Degraded).fg,
            Some(Color::Yellow)
        );
    }

    #[test]
    fn plain_styles_carry_no_colour() {
        let t = Theme::PLAIN;
        for style in [
            t.dim(),
            t.health(Health::Down),
            t.verdict(Verdict::Degraded),
            t.candidate(CandidateState::Invalid),
            t.bad(),
            t.banner(),
            t.paused(),
            t.selected(),
            t.focused_border(),
        ] {
            assert_eq!((style.fg, style.bg), (None, None), "{style:?}");
        }
    }

    #[test]
    fn every_state_has_a_distinct_symbol() {
        let h: std::collections::HashSet<_> =
            [Health::Ok, Health::Degraded, Health::Down, Health::Unknown]
                .into_iter()
                .map(health_symbol)
                .collect();
        assert_eq!(h.len(), 4);
        let c: std::collections::HashSet<_> = [
            CandidateState::Valid,
            CandidateState::Invalid,
            CandidateState::Unreachable,
            CandidateState::Untested,
            CandidateState::Skipped,
        ]
        .into_iter()
        .map(candidate_symbol)
        .collect();
        assert_eq!(c.len(), 5);
    }
}
