//! The animation names. On the wire an animation is a variant index, never
//! free text: nothing a client sends can name a path, a command or a
//! format string. Variants are append-only (the golden-bytes tests freeze
//! their indices).

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::params::{Param, ParamSet, PlayParams};

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

    /// The play parameters this animation uses. This is the one table of
    /// them: ledd refuses a request that sets any other (so a parameter is
    /// never accepted, reported in status and then ignored by the pixels),
    /// and clients (ledctl, webd's hook config) can check before sending.
    /// ledd's renderer is tested against it: every parameter listed here
    /// changes the pixels, and no other does.
    ///
    /// Duration is the engine's (play for a while, then return), so every
    /// animation takes it. Speed scales animation time, so a still
    /// animation (solid, gradient) has none. Colour replaces the main
    /// colour, so an animation with a palette of its own (the rainbows,
    /// fire, the self-test's fixed test colours) has none.
    pub const fn accepts(self) -> ParamSet {
        const STILL: ParamSet = ParamSet::of(&[Param::Color, Param::Duration]);
        const OWN_PALETTE: ParamSet = ParamSet::of(&[Param::Speed, Param::Duration]);
        match self {
            Animation::Solid | Animation::Gradient => STILL,
            Animation::Rainbow
            | Animation::RainbowCycle
            | Animation::Fire
            | Animation::SelfTest => OWN_PALETTE,
            Animation::TheaterChase
            | Animation::ColorWipe
            | Animation::Twinkle
            | Animation::Sparkle
            | Animation::Breathe
            | Animation::Comet
            | Animation::CandyCane
            | Animation::Snowfall
            | Animation::Meteor
            | Animation::Festive
            | Animation::FairyLights
            | Animation::Aurora => ParamSet::ALL,
        }
    }

    /// Checks that `params` sets only parameters this animation uses
    /// ([`Animation::accepts`]).
    pub fn check(self, params: &PlayParams) -> Result<(), UnusedParams> {
        let unused = params.given().without(self.accepts());
        if unused.is_empty() {
            Ok(())
        } else {
            Err(UnusedParams {
                animation: self,
                unused,
            })
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

/// A play request that sets parameters the animation does not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnusedParams {
    /// The animation.
    pub animation: Animation,
    /// The parameters it was given and does not use.
    pub unused: ParamSet,
}

impl fmt::Display for UnusedParams {
    /// "rainbow takes speed and duration, not color: leave color out".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} takes {}, not {}: leave {} out",
            self.animation,
            self.animation.accepts(),
            self.unused,
            self.unused
        )
    }
}

impl std::error::Error for UnusedParams {}

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
    fn every_animation_takes_a_duration_and_refuses_what_it_does_not_use() {
        use crate::{Rgb, Speed};
        for a in Animation::ALL {
            assert!(a.accepts().contains(Param::Duration), "{a}");
            assert_eq!(a.check(&PlayParams::default()), Ok(()), "{a}");
        }
        let red = PlayParams {
            color: Some(Rgb::new(255, 0, 0)),
            ..PlayParams::default()
        };
        let err = Animation::Rainbow.check(&red).unwrap_err();
        assert_eq!(err.unused, ParamSet::of(&[Param::Color]));
        assert_eq!(
            err.to_string(),
            "rainbow takes speed and duration, not color: leave color out"
        );
        assert_eq!(Animation::Solid.check(&red), Ok(()));
        let fast = PlayParams {
            speed: Speed::new(300).unwrap(),
            ..red
        };
        assert_eq!(
            Animation::Gradient.check(&fast).unwrap_err().to_string(),
            "gradient takes color and duration, not speed: leave speed out"
        );
        assert_eq!(
            Animation::Fire.check(&fast).unwrap_err().unused,
            ParamSet::of(&[Param::Color])
        );
        assert_eq!(Animation::Comet.check(&fast), Ok(()));
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
