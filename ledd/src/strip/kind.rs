//! Strip types and backends, and their names in the config: which LED
//! part is on the strip (how many channels an LED has, how its colour
//! reaches the wire, and what it draws) and which [`Backend`] drives it.
//!
//! WS2812B and WS2811 take three bytes per LED in a part-specific channel
//! order. SK6812 RGBW parts add a white LED in the same package: the common
//! part of red, green and blue is moved to it, which looks whiter and draws
//! less current than mixing white from three colours.

use std::fmt;

/// The LED part on the strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StripKind {
    /// WS2812B (and WS2812, WS2813, SK6812 RGB): three channels, usually GRB.
    #[default]
    Ws2812b,
    /// WS2811 driver chips (bullet pixels, 12 V strings): three channels,
    /// often RGB.
    Ws2811,
    /// SK6812 RGBW: four channels, usually GRBW.
    Sk6812Rgbw,
}

impl StripKind {
    /// Every kind, for parsing and help.
    pub const ALL: [StripKind; 3] = [StripKind::Ws2812b, StripKind::Ws2811, StripKind::Sk6812Rgbw];

    /// Bytes per LED on the wire.
    pub const fn channels(self) -> usize {
        match self {
            StripKind::Ws2812b | StripKind::Ws2811 => 3,
            StripKind::Sk6812Rgbw => 4,
        }
    }

    /// The kind named `name` in the config (`strip.type`), if any.
    pub fn parse(name: &str) -> Option<StripKind> {
        StripKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The config name.
    pub const fn name(self) -> &'static str {
        match self {
            StripKind::Ws2812b => "ws2812b",
            StripKind::Ws2811 => "ws2811",
            StripKind::Sk6812Rgbw => "sk6812rgbw",
        }
    }

    /// Typical full-on current of one channel of one LED, in milliamps
    /// (datasheets give about 12 mA per WS2812B channel at 5 V; measured
    /// strips draw 15-20 mA, so plan with 20). The WS2811 figure is the
    /// chip's constant-current output, 18.5 mA; SK6812's white die draws
    /// about as much as one colour channel.
    pub const fn milliamps_per_channel(self) -> u32 {
        match self {
            StripKind::Ws2812b | StripKind::Sk6812Rgbw => 20,
            StripKind::Ws2811 => 19,
        }
    }

    /// The default estimate for one LED fully on (all channels at 255).
    pub const fn milliamps_per_led(self) -> u32 {
        self.milliamps_per_channel() * self.channels() as u32
    }

    /// The channel order most strips of this kind use.
    pub const fn default_order(self) -> &'static str {
        match self {
            StripKind::Ws2812b => "grb",
            StripKind::Ws2811 => "rgb",
            StripKind::Sk6812Rgbw => "grbw",
        }
    }
}

impl fmt::Display for StripKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which LED backend drives the strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The simulated strip: pixels go nowhere but to `ledctl watch`.
    Sim,
    /// WS2812 through PWM/DMA (rs_ws281x).
    Ws281x,
    /// WS2812 through the SPI controller (rppal).
    Spi,
}

impl Backend {
    /// Every backend, for parsing and help.
    pub const ALL: [Backend; 3] = [Backend::Sim, Backend::Ws281x, Backend::Spi];

    /// The backend named `name` in the config (`strip.backend`) or on the
    /// command line (`--backend`), if any.
    pub fn parse(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The name used in the config and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Sim => "sim",
            Backend::Ws281x => "ws281x",
            Backend::Spi => "spi",
        }
    }
}

/// Moves the white part of an RGB colour to the white channel:
/// `w = min(r, g, b)`, and each colour channel keeps what is left.
/// Light output is the same; current falls because one white die replaces
/// three colour dies for the common part.
pub const fn extract_white(r: u8, g: u8, b: u8) -> [u8; 4] {
    let w = min3(r, g, b);
    [r - w, g - w, b - w, w]
}

const fn min3(a: u8, b: u8, c: u8) -> u8 {
    let ab = if a < b { a } else { b };
    if ab < c { ab } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_moves_to_the_white_channel() {
        assert_eq!(extract_white(255, 255, 255), [0, 0, 0, 255]);
        assert_eq!(extract_white(255, 147, 41), [214, 106, 0, 41]);
        assert_eq!(extract_white(255, 0, 0), [255, 0, 0, 0]);
        assert_eq!(extract_white(0, 0, 0), [0, 0, 0, 0]);
        // Every colour keeps its sum of light: rgb = (rgbw colour) + w.
        for (r, g, b) in [(1, 2, 3), (200, 100, 150), (7, 7, 9)] {
            let [r2, g2, b2, w] = extract_white(r, g, b);
            assert_eq!((r2 + w, g2 + w, b2 + w), (r, g, b));
            assert_eq!(r2.min(g2).min(b2), 0, "one colour channel is always empty");
        }
    }

    #[test]
    fn current_estimates_follow_the_part() {
        assert_eq!(StripKind::Ws2812b.milliamps_per_led(), 60);
        assert_eq!(StripKind::Sk6812Rgbw.milliamps_per_led(), 80);
        assert_eq!(StripKind::Ws2811.milliamps_per_led(), 57);
        // White on an RGBW strip draws a third of what RGB white draws.
        let [r, g, b, w] = extract_white(255, 255, 255);
        let rgbw_ma = (u32::from(r) + u32::from(g) + u32::from(b) + u32::from(w))
            * StripKind::Sk6812Rgbw.milliamps_per_channel()
            / 255;
        assert_eq!(rgbw_ma, 20);
    }

    #[test]
    fn names_parse_back() {
        for k in StripKind::ALL {
            assert_eq!(StripKind::parse(k.name()), Some(k));
        }
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.name()), Some(b));
        }
        assert_eq!(StripKind::parse("WS2812B"), None, "names are exact");
        assert_eq!(Backend::parse("dmx"), None);
    }

    #[test]
    fn channels_match_the_default_order() {
        for k in [StripKind::Ws2812b, StripKind::Ws2811, StripKind::Sk6812Rgbw] {
            assert_eq!(k.default_order().len(), k.channels(), "{k}");
        }
    }
}
