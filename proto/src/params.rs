//! Bounded parameter types. Each one checks its range when it is built *and*
//! when it is decoded, so a value that exists is a value that is in range:
//! ledd never has to remember to validate a speed of zero or a brightness of
//! 300.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value outside the range its type allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfRange {
    /// What the value is ("speed", "brightness", ...).
    pub what: &'static str,
    /// The value that was refused.
    pub value: u64,
    /// The smallest value allowed.
    pub min: u64,
    /// The largest value allowed.
    pub max: u64,
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} is out of range: use {} to {}",
            self.what, self.value, self.min, self.max
        )
    }
}

impl std::error::Error for OutOfRange {}

/// Defines a newtype over an unsigned integer that only holds `MIN..=MAX`,
/// and that refuses out-of-range values when deserialised.
macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident($int:ty), $what:literal, $min:expr, $max:expr, $default:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name($int);

        impl $name {
            /// The smallest value allowed.
            pub const MIN: $int = $min;
            /// The largest value allowed.
            pub const MAX: $int = $max;
            /// The value used when none is given.
            pub const DEFAULT: $name = $name($default);

            /// Checks `value` against the range.
            pub const fn new(value: $int) -> Result<Self, OutOfRange> {
                if value >= Self::MIN && value <= Self::MAX {
                    Ok($name(value))
                } else {
                    Err(OutOfRange {
                        what: $what,
                        value: value as u64,
                        min: Self::MIN as u64,
                        max: Self::MAX as u64,
                    })
                }
            }

            /// The value.
            pub const fn get(self) -> $int {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::DEFAULT
            }
        }

        impl TryFrom<$int> for $name {
            type Error = OutOfRange;
            fn try_from(value: $int) -> Result<Self, OutOfRange> {
                $name::new(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <$int>::deserialize(d)?;
                $name::new(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

bounded!(
    /// Animation speed in percent of the animation's natural pace:
    /// 100 is normal, 10 is a tenth as fast, 1000 ten times as fast.
    Speed(u16), "speed", 10, 1000, 100
);

bounded!(
    /// Global brightness in percent, applied after gamma. 0 is dark but
    /// keeps the animation running.
    Brightness(u8), "brightness", 0, 100, 50
);

bounded!(
    /// How long to play before going back to what played before, in
    /// seconds: at least 1, at most a day.
    PlaySeconds(u32), "duration (seconds)", 1, 86_400, 60
);

bounded!(
    /// How long a crossfade takes, in milliseconds: into an animation
    /// ([`PlayParams::fade`]) or to dark ([`crate::Request::FadeOff`]). At
    /// most a minute; 0 switches at once. ledd's own crossfade, when none is
    /// given, is [`FadeMillis::DEFAULT`].
    FadeMillis(u16), "fade (milliseconds)", 0, 60_000, 400
);

impl FadeMillis {
    /// The fade in nanoseconds, the frame loop's unit.
    pub const fn as_nanos(self) -> u64 {
        self.0 as u64 * 1_000_000
    }
}

/// A 24-bit colour. Every value of the three bytes is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Rgb {
    /// Red, 0-255.
    pub r: u8,
    /// Green, 0-255.
    pub g: u8,
    /// Blue, 0-255.
    pub b: u8,
}

impl Rgb {
    /// Builds a colour from its three channels.
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Rgb { r, g, b }
    }

    /// Black: all channels off.
    pub const BLACK: Rgb = Rgb::new(0, 0, 0);

    /// The colour names that [`Rgb::from_str`] understands, with their values.
    pub const NAMED: [(&'static str, Rgb); 16] = [
        ("red", Rgb::new(255, 0, 0)),
        ("green", Rgb::new(0, 255, 0)),
        ("blue", Rgb::new(0, 0, 255)),
        ("white", Rgb::new(255, 255, 255)),
        ("warm-white", Rgb::new(255, 147, 41)),
        ("yellow", Rgb::new(255, 200, 0)),
        ("orange", Rgb::new(255, 100, 0)),
        ("gold", Rgb::new(255, 170, 20)),
        ("pink", Rgb::new(255, 60, 120)),
        ("purple", Rgb::new(140, 0, 255)),
        ("cyan", Rgb::new(0, 255, 255)),
        ("magenta", Rgb::new(255, 0, 255)),
        ("teal", Rgb::new(0, 128, 128)),
        ("ice", Rgb::new(120, 200, 255)),
        ("crimson", Rgb::new(220, 20, 60)),
        ("black", Rgb::new(0, 0, 0)),
    ];
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// The error for text that is not a colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadColor;

impl fmt::Display for BadColor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a colour: use #rrggbb, rrggbb or a name (")?;
        for (i, (name, _)) in Rgb::NAMED.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for BadColor {}

impl FromStr for Rgb {
    type Err = BadColor;

    /// Parses `#rrggbb`, `rrggbb` or a colour name from [`Rgb::NAMED`]
    /// (case-insensitive, `_`, `-` and spaces alike, surrounding blanks ignored:
    /// IFTTT ingredients often arrive as "Warm White ").
    fn from_str(s: &str) -> Result<Self, BadColor> {
        let s = s.trim();
        let hex = s.strip_prefix('#').unwrap_or(s);
        if hex.len() == 6 && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| BadColor);
            return Ok(Rgb::new(channel(0)?, channel(2)?, channel(4)?));
        }
        Rgb::NAMED
            .iter()
            .find(|(name, _)| {
                name.len() == s.len()
                    && s.bytes().zip(name.bytes()).all(|(c, n)| {
                        let c = c.to_ascii_lowercase();
                        c == n || (n == b'-' && (c == b'_' || c == b' '))
                    })
            })
            .map(|(_, rgb)| *rgb)
            .ok_or(BadColor)
    }
}

/// What to play and how: the parameters of [`crate::Request::Play`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlayParams {
    /// The main colour; `None` uses the animation's own palette.
    pub color: Option<Rgb>,
    /// How fast the animation runs.
    pub speed: Speed,
    /// Play for this long, then return to what played before; `None` plays
    /// until told otherwise.
    pub duration: Option<PlaySeconds>,
    /// How long the crossfade into this animation takes; `None` is ledd's
    /// own ([`FadeMillis::DEFAULT`]). Every animation takes it: it is not a
    /// [`Param`] of the animation but of the change.
    pub fade: Option<FadeMillis>,
}

impl PlayParams {
    /// The parameters this request sets: a colour, a speed other than
    /// [`Speed::DEFAULT`] (100 % is the natural pace, the same as no speed),
    /// a duration.
    pub fn given(&self) -> ParamSet {
        let mut set = ParamSet::NONE;
        if self.color.is_some() {
            set = set.with(Param::Color);
        }
        if self.speed != Speed::DEFAULT {
            set = set.with(Param::Speed);
        }
        if self.duration.is_some() {
            set = set.with(Param::Duration);
        }
        set
    }
}

/// One parameter of [`crate::Request::Play`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// [`PlayParams::color`].
    Color,
    /// [`PlayParams::speed`].
    Speed,
    /// [`PlayParams::duration`].
    Duration,
}

impl Param {
    /// Every parameter, in the order they are named in messages.
    pub const ALL: [Param; 3] = [Param::Color, Param::Speed, Param::Duration];

    /// The name `ledctl`, webd's config and messages use ("color", "speed",
    /// "duration").
    pub const fn name(self) -> &'static str {
        match self {
            Param::Color => "color",
            Param::Speed => "speed",
            Param::Duration => "duration",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of play parameters: what an animation uses
/// ([`crate::Animation::accepts`]) or what a request sets
/// ([`PlayParams::given`]). Displays as "speed and duration".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ParamSet(u8);

impl ParamSet {
    /// No parameter.
    pub const NONE: ParamSet = ParamSet(0);
    /// Colour, speed and duration.
    pub const ALL: ParamSet = ParamSet::of(&Param::ALL);

    /// The set of `params`.
    pub const fn of(params: &[Param]) -> ParamSet {
        let mut set = ParamSet::NONE;
        let mut i = 0;
        while i < params.len() {
            set = set.with(params[i]);
            i += 1;
        }
        set
    }

    /// This set and `p`.
    pub const fn with(self, p: Param) -> ParamSet {
        ParamSet(self.0 | p.bit())
    }

    /// Whether `p` is in the set.
    pub const fn contains(self, p: Param) -> bool {
        self.0 & p.bit() != 0
    }

    /// The parameters in this set and not in `other`.
    pub const fn without(self, other: ParamSet) -> ParamSet {
        ParamSet(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The parameters in the set, in [`Param::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Param> {
        Param::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

impl fmt::Display for ParamSet {
    /// "nothing", "color", "speed and duration", "color, speed and duration".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.iter().count();
        if n == 0 {
            return f.write_str("nothing");
        }
        for (i, p) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(if i + 1 == n { " and " } else { ", " })?;
            }
            f.write_str(p.name())?;
        }
        Ok(())
    }
}

/// The largest number of pixels one [`crate::FrameChunk`] carries, so that a
/// chunk always fits in [`crate::MAX_FRAME_LEN`].
pub const MAX_CHUNK_PIXELS: usize = 300;

/// Pixel data, three bytes (r, g, b) per LED.
///
/// Encoded as a byte string, not a sequence: postcard checks a byte string's
/// length against the bytes actually present before copying, so a forged
/// length cannot make the decoder reserve memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pixels(Vec<u8>);

impl Pixels {
    /// Builds pixel data from colours; refuses more than
    /// [`MAX_CHUNK_PIXELS`].
    pub fn from_rgb(pixels: &[Rgb]) -> Result<Self, OutOfRange> {
        if pixels.len() > MAX_CHUNK_PIXELS {
            return Err(OutOfRange {
                what: "pixels in one chunk",
                value: pixels.len() as u64,
                min: 0,
                max: MAX_CHUNK_PIXELS as u64,
            });
        }
        Ok(Pixels(
            pixels.iter().flat_map(|p| [p.r, p.g, p.b]).collect(),
        ))
    }

    /// The number of pixels.
    pub fn len(&self) -> usize {
        self.0.len() / 3
    }

    /// Whether there are no pixels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pixels as colours.
    pub fn iter(&self) -> impl Iterator<Item = Rgb> + '_ {
        self.0.chunks_exact(3).map(|c| Rgb::new(c[0], c[1], c[2]))
    }
}

impl Serialize for Pixels {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Pixels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Pixels;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "at most {MAX_CHUNK_PIXELS} pixels of three bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Pixels, E> {
                if !v.len().is_multiple_of(3) || v.len() > MAX_CHUNK_PIXELS * 3 {
                    return Err(E::invalid_length(v.len(), &self));
                }
                Ok(Pixels(v.to_vec()))
            }
        }
        d.deserialize_bytes(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_types_refuse_out_of_range() {
        assert!(Speed::new(9).is_err());
        assert!(Speed::new(10).is_ok());
        assert!(Speed::new(1000).is_ok());
        assert!(Speed::new(1001).is_err());
        assert!(Brightness::new(101).is_err());
        assert!(PlaySeconds::new(0).is_err());
        assert!(PlaySeconds::new(86_401).is_err());
        assert!(FadeMillis::new(0).is_ok());
        assert!(FadeMillis::new(60_000).is_ok());
        assert_eq!(
            FadeMillis::new(60_001).unwrap_err().to_string(),
            "fade (milliseconds) 60001 is out of range: use 0 to 60000"
        );
        assert_eq!(FadeMillis::new(1500).unwrap().as_nanos(), 1_500_000_000);
        let err = Speed::new(0).unwrap_err().to_string();
        assert_eq!(err, "speed 0 is out of range: use 10 to 1000");
    }

    #[test]
    fn colours_parse() {
        assert_eq!("#ff8000".parse(), Ok(Rgb::new(255, 128, 0)));
        assert_eq!("00FF7f".parse(), Ok(Rgb::new(0, 255, 127)));
        assert_eq!(" Warm White ".parse(), Ok(Rgb::new(255, 147, 41)));
        assert_eq!("warm_white".parse(), Ok(Rgb::new(255, 147, 41)));
        assert_eq!("RED".parse(), Ok(Rgb::new(255, 0, 0)));
        assert_eq!("#ff80".parse::<Rgb>(), Err(BadColor));
        assert_eq!("#gg0000".parse::<Rgb>(), Err(BadColor));
        assert_eq!("ré".parse::<Rgb>(), Err(BadColor));
        assert!(BadColor.to_string().contains("warm-white"));
        assert_eq!(Rgb::new(1, 2, 255).to_string(), "#0102ff");
    }

    #[test]
    fn param_sets_name_their_members() {
        assert_eq!(ParamSet::NONE.to_string(), "nothing");
        assert_eq!(ParamSet::of(&[Param::Color]).to_string(), "color");
        assert_eq!(
            ParamSet::of(&[Param::Duration, Param::Speed]).to_string(),
            "speed and duration"
        );
        assert_eq!(ParamSet::ALL.to_string(), "color, speed and duration");
        let cs = ParamSet::of(&[Param::Color, Param::Speed]);
        assert_eq!(ParamSet::ALL.without(cs), ParamSet::of(&[Param::Duration]));
        assert!(ParamSet::ALL.without(ParamSet::ALL).is_empty());
    }

    #[test]
    fn given_names_what_a_request_sets() {
        assert_eq!(PlayParams::default().given(), ParamSet::NONE);
        // The default speed is the natural pace: not a speed "given".
        let p = PlayParams {
            color: Some(Rgb::new(1, 2, 3)),
            speed: Speed::new(200).unwrap(),
            duration: Some(PlaySeconds::new(5).unwrap()),
            fade: Some(FadeMillis::new(5000).unwrap()),
        };
        assert_eq!(p.given(), ParamSet::ALL, "a fade is no animation parameter");
        let p = PlayParams {
            speed: Speed::new(10).unwrap(),
            ..PlayParams::default()
        };
        assert_eq!(p.given(), ParamSet::of(&[Param::Speed]));
    }

    #[test]
    fn pixels_cap_and_iterate() {
        let many = vec![Rgb::new(1, 2, 3); MAX_CHUNK_PIXELS + 1];
        assert!(Pixels::from_rgb(&many).is_err());
        let px = Pixels::from_rgb(&many[..2]).unwrap();
        assert_eq!(px.len(), 2);
        assert_eq!(px.iter().collect::<Vec<_>>(), vec![Rgb::new(1, 2, 3); 2]);
    }
}
