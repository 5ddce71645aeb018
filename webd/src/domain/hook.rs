//! What a hook is: what it plays, what a request may change, its rate,
//! and the rule for hook names. The config's `[hooks.NAME]` produces it
//! (checked in `config/hooks.rs`); the webhook route consumes it.

use tinsel_proto::{Animation, PlayParams, Rgb};

use super::access::Rate;

/// Whether `name` may name a hook (it appears in URLs and logs).
pub fn valid_hook_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What a hook does, and what a request may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Play or off.
    pub action: Action,
    /// Colours a request may choose; empty means the request may not send
    /// one. `None` inside means any colour.
    pub request_colors: ColorChoice,
    /// Whether a request may set the speed.
    pub request_speed: bool,
    /// Whether a request may set the duration.
    pub request_duration: bool,
    /// At most this many requests per period, all tokens together.
    pub rate: Option<Rate>,
}

/// The colours a request may pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColorChoice {
    /// None: a `color` field is refused.
    None,
    /// Any colour (`request_colors = ["*"]`).
    Any,
    /// Only these, with the names the config gave them.
    Only(Vec<(String, Rgb)>),
}

impl ColorChoice {
    /// Whether a request may choose `c`.
    pub fn allows(&self, c: Rgb) -> bool {
        match self {
            ColorChoice::None => false,
            ColorChoice::Any => true,
            ColorChoice::Only(list) => list.iter().any(|(_, rgb)| *rgb == c),
        }
    }
}

/// What a hook asks ledd for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Play an animation with these (default) parameters.
    Play {
        /// Which animation.
        animation: Animation,
        /// The parameters before any the request supplies.
        params: PlayParams,
    },
    /// Fade to dark (`animation = "off"`).
    Off,
}
