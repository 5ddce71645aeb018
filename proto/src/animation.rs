//! The animation names. On the wire an animation is a variant index, never
//! free text: nothing a client sends can name a path, a command or a
//! format string. Variants are append-only (the golden-bytes tests freeze
//! their indices).

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// A named animation that ledd can play.
///
/// Append new variants at the end and add them to [`Animation::ALL`]; never
/// reorder or remove one, or old clients will ask for the wrong animation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Animation {
    /// Every LED one colour.
    Solid,
    /// A rainbow spread along the strip, the whole strip fading through hues.
    Rainbow,
    /// A rainbow that scrolls along the strip.
    RainbowCycle,
    /// Every third LED lit, marching like a theatre marquee.
    TheaterChase,
    /// The colour fills the strip LED by LED, then clears, and again.
    ColorWipe,
    /// Warm white LEDs that fade in and out at random-looking places.
    Twinkle,
    /// Short white flashes over a dim base colour.
    Sparkle,
    /// The whole strip breathes slowly in and out.
    Breathe,
    /// A bright head with a fading tail, running round the strip.
    Comet,
    /// Flickering embers, red to yellow.
    Fire,
    /// Red and white stripes that scroll, like a candy cane.
    CandyCane,
    /// White flakes drifting down the tree over a cold blue base.
    Snowfall,
    /// A meteor whose trail decays unevenly.
    Meteor,
    /// A still gradient from the colour to its complement.
    Gradient,
    /// Red and green halves that swap with a soft fade (no strobing).
    Festive,
    /// Warm-white fairy lights with a gentle shimmer.
    FairyLights,
    /// Slow waves of green and gold.
    Aurora,
    /// The wiring check behind `ledctl selftest`: each LED in turn, dimly,
    /// red, then green, then blue, then white.
    SelfTest,
}

impl Animation {
    /// Every animation, in wire order.
    pub const ALL: [Animation; 18] = [
        Animation::Solid,
        Animation::Rainbow,
        Animation::RainbowCycle,
        Animation::TheaterChase,
        Animation::ColorWipe,
        Animation::Twinkle,
        Animation::Sparkle,
        Animation::Breathe,
        Animation::Comet,
        Animation::Fire,
        Animation::CandyCane,
        Animation::Snowfall,
        Animation::Meteor,
        Animation::Gradient,
        Animation::Festive,
        Animation::FairyLights,
        Animation::Aurora,
        Animation::SelfTest,
    ];

    /// The kebab-case name used by `ledctl`, webd's config and JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            Animation::Solid => "solid",
            Animation::Rainbow => "rainbow",
            Animation::RainbowCycle => "rainbow-cycle",
            Animation::TheaterChase => "theater-chase",
            Animation::ColorWipe => "color-wipe",
            Animation::Twinkle => "twinkle",
            Animation::Sparkle => "sparkle",
            Animation::Breathe => "breathe",
            Animation::Comet => "comet",
            Animation::Fire => "fire",
            Animation::CandyCane => "candy-cane",
            Animation::Snowfall => "snowfall",
            Animation::Meteor => "meteor",
            Animation::Gradient => "gradient",
            Animation::Festive => "festive",
            Animation::FairyLights => "fairy-lights",
            Animation::Aurora => "aurora",
            Animation::SelfTest => "selftest",
        }
    }

    /// The wire index of this animation (its position in [`Animation::ALL`]).
    pub const fn index(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Animation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a name that is not an animation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAnimation;

impl fmt::Display for UnknownAnimation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown animation; known: ")?;
        for (i, a) in Animation::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(a.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownAnimation {}

impl FromStr for Animation {
    type Err = UnknownAnimation;

    /// Accepts the kebab-case name; `_` is taken as `-` and case is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Animation::ALL
            .into_iter()
            .find(|a| {
                let name = a.name().as_bytes();
                s.len() == name.len()
                    && s.bytes().zip(name).all(|(c, &n)| {
                        let c = c.to_ascii_lowercase();
                        c == n || (c == b'_' && n == b'-')
                    })
            })
            .ok_or(UnknownAnimation)
    }
}

/// A set of animations, as a bit mask indexed by [`Animation::index`].
///
/// A fixed-size mask rather than a list: decoding it never allocates, however
/// the bytes were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AnimationSet(u64);

impl AnimationSet {
    /// Every animation this build knows.
    pub fn all() -> Self {
        Animation::ALL.into_iter().collect()
    }

    /// Whether `a` is in the set.
    pub fn contains(self, a: Animation) -> bool {
        self.0 & (1 << a.index()) != 0
    }

    /// Adds `a` to the set.
    pub fn insert(&mut self, a: Animation) {
        self.0 |= 1 << a.index();
    }

    /// The animations in the set, in wire order. Bits for animations this
    /// build does not know (from a newer peer) are skipped.
    pub fn iter(self) -> impl Iterator<Item = Animation> {
        Animation::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Animation> for AnimationSet {
    fn from_iter<I: IntoIterator<Item = Animation>>(iter: I) -> Self {
        let mut set = AnimationSet::default();
        for a in iter {
            set.insert(a);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_wire_order_and_complete() {
        for (i, a) in Animation::ALL.iter().enumerate() {
            assert_eq!(a.index() as usize, i, "{a} is out of order in ALL");
        }
        // The mask must have room for every variant.
        assert!(Animation::ALL.len() <= 64);
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        for a in Animation::ALL {
            assert_eq!(a.name().parse::<Animation>(), Ok(a));
            assert_eq!(a.name().to_uppercase().replace('-', "_").parse(), Ok(a));
        }
        let mut names: Vec<_> = Animation::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Animation::ALL.len());
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = "disco".parse::<Animation>().unwrap_err().to_string();
        assert!(err.contains("rainbow-cycle"), "{err}");
        assert!("rainbow-cyclex".parse::<Animation>().is_err());
        assert!("".parse::<Animation>().is_err());
    }

    #[test]
    fn set_skips_unknown_bits() {
        let set = AnimationSet(u64::MAX);
        assert_eq!(set.iter().count(), Animation::ALL.len());
        let only = AnimationSet::from_iter([Animation::Fire]);
        assert_eq!(only.iter().collect::<Vec<_>>(), vec![Animation::Fire]);
        assert!(!only.contains(Animation::Solid));
    }
}
