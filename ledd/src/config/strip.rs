//! The strip's sections: `[strip]` (backend, type, count, order, fps),
//! `[ws281x]` and `[spi]`, checked into [`crate::strip::StripConfig`], and
//! the wire's timing that bounds the frame rate. The types and their names
//! live in [`crate::strip`]; what this file adds is the ranges and the
//! messages that name the key.

use crate::strip::StripConfig;
use crate::strip::kind::{Backend, StripKind};
use crate::strip::order::ChannelOrder;
use crate::strip::spi_wire::SpiEncoding;
use crate::strip::ws281x::{self, Ws281xOptions};

use super::ConfigError;
use super::raw::{RawSpi, RawStrip, RawWs281x};
use super::validate::Validator;

/// The default number of LEDs.
pub const DEFAULT_COUNT: u16 = 150;
/// The default frame rate.
pub const DEFAULT_FPS: u16 = 60;
/// The most LEDs ledd drives: 1000 LEDs take 30 ms on the wire, 30 fps.
pub const MAX_COUNT: u16 = 1000;
/// The highest frame rate accepted whatever the LED count.
pub const MAX_FPS: u16 = 500;
/// Time on the wire per colour channel: 8 bits of 1.25 µs (WS2812B
/// datasheet); an RGB LED takes 30 µs, an RGBW LED 40 µs.
pub const WIRE_US_PER_CHANNEL: u32 = 10;
/// The reset (latch) time newer WS2812B parts need: at least 280 µs.
pub const LATCH_US: u32 = 280;

/// The highest frame rate the wire allows for `count` LEDs of `channels`
/// bytes each.
pub const fn max_fps_for(count: u16, channels: usize) -> u16 {
    let frame_us = count as u32 * WIRE_US_PER_CHANNEL * channels as u32 + LATCH_US;
    let fps = 1_000_000 / frame_us;
    if fps > MAX_FPS as u32 {
        MAX_FPS
    } else {
        fps as u16
    }
}

impl Validator<'_> {
    /// Checks `[strip]`, `[ws281x]` and `[spi]`, in that order of keys:
    /// backend, count, type, order, the ws281x settings, spi, fps.
    pub(super) fn strip(
        &self,
        raw: &RawStrip,
        raw_ws281x: &RawWs281x,
        raw_spi: &RawSpi,
    ) -> Result<StripConfig, ConfigError> {
        let backend = match raw.backend.as_deref() {
            None => Backend::Sim,
            Some(name) => Backend::parse(name).ok_or_else(|| {
                self.invalid(
                    "strip.backend",
                    format!("{name:?}"),
                    "use \"sim\", \"ws281x\" or \"spi\"".into(),
                )
            })?,
        };

        let count = match raw.count {
            None => DEFAULT_COUNT,
            Some(n) if (1..=i64::from(MAX_COUNT)).contains(&n) => n as u16,
            Some(n) => {
                return Err(self.invalid(
                    "strip.count",
                    n.to_string(),
                    format!("use 1 to {MAX_COUNT} LEDs"),
                ));
            }
        };

        let kind = match raw.kind.as_deref() {
            None => StripKind::default(),
            Some(text) => StripKind::parse(text).ok_or_else(|| {
                self.invalid(
                    "strip.type",
                    format!("{text:?}"),
                    "use \"ws2812b\" (also WS2812, WS2813, SK6812 RGB), \"ws2811\" or \"sk6812rgbw\"".into(),
                )
            })?,
        };

        let order_text = raw.order.as_deref().unwrap_or(kind.default_order());
        let order = ChannelOrder::parse(order_text)
            .filter(|o| o.channels() == kind.channels())
            .ok_or_else(|| {
                self.invalid(
                    "strip.order",
                    format!("{order_text:?}"),
                    if kind.channels() == 4 {
                        format!("a {kind} strip has four channels: use a permutation of r, g, b and w, e.g. \"grbw\"")
                    } else {
                        format!("a {kind} strip has three channels: use a permutation of r, g and b, e.g. \"grb\" (WS2812B) or \"rgb\"")
                    },
                )
            })?;

        let ws281x = self.ws281x(raw_ws281x, count, kind)?;

        let spi = match raw_spi.bits_per_bit {
            None | Some(3) => SpiEncoding::ThreeBit,
            Some(4) => SpiEncoding::FourBit,
            Some(n) => {
                return Err(self.invalid(
                    "spi.bits_per_bit",
                    n.to_string(),
                    "use 3 (2.4 MHz SPI clock) or 4 (3.2 MHz)".into(),
                ));
            }
        };

        let max_fps = max_fps_for(count, kind.channels());
        let fps = match raw.fps {
            None => DEFAULT_FPS.min(max_fps),
            Some(n) if (1..=i64::from(max_fps)).contains(&n) => n as u16,
            Some(n) => {
                return Err(self.invalid(
                    "strip.fps",
                    n.to_string(),
                    format!(
                        "use 1 to {max_fps}: {count} LEDs take {} µs on the wire plus a {LATCH_US} µs latch",
                        u32::from(count) * WIRE_US_PER_CHANNEL * kind.channels() as u32
                    ),
                ));
            }
        };

        Ok(StripConfig {
            backend,
            count,
            order,
            fps,
            kind,
            ws281x,
            spi,
        })
    }

    /// Checks `[ws281x]` with the backend's own rules
    /// ([`ws281x::validate`]), which are checked whatever the backend so
    /// that switching to it later cannot fail at start.
    fn ws281x(
        &self,
        raw: &RawWs281x,
        count: u16,
        kind: StripKind,
    ) -> Result<Ws281xOptions, ConfigError> {
        let ws281x = Ws281xOptions {
            pin: self.small_int("ws281x.pin", raw.pin, 18)?,
            dma: self.small_int("ws281x.dma", raw.dma, ws281x::DEFAULT_DMA)?,
            freq_hz: match raw.frequency {
                None => ws281x::DEFAULT_FREQ_HZ,
                Some(f) => u32::try_from(f).map_err(|_| {
                    self.invalid(
                        "ws281x.frequency",
                        f.to_string(),
                        "use 800000 or 400000".into(),
                    )
                })?,
            },
            invert: raw.invert.unwrap_or(false),
        };
        if let Err(e) = ws281x::validate(&ws281x::Ws281xConfig {
            count: usize::from(count),
            channels: kind.channels(),
            pin: ws281x.pin,
            dma: ws281x.dma,
            freq_hz: ws281x.freq_hz,
            invert: ws281x.invert,
        }) {
            let (key, value) = if !ws281x::PINS.iter().any(|(p, _)| *p == ws281x.pin) {
                ("ws281x.pin", ws281x.pin.to_string())
            } else if !(1..=14).contains(&ws281x.dma) {
                ("ws281x.dma", ws281x.dma.to_string())
            } else {
                ("ws281x.frequency", ws281x.freq_hz.to_string())
            };
            return Err(self.invalid(key, value, e.to_string()));
        }
        Ok(ws281x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load_text;

    #[test]
    fn fps_is_bounded_by_the_wire() {
        assert_eq!(max_fps_for(150, 3), 209);
        assert_eq!(max_fps_for(1000, 3), 33);
        assert_eq!(max_fps_for(150, 4), 159);
        assert!(load_text("[strip]\ncount = 150\nfps = 209\n").is_ok());
        let err = load_text("[strip]\ncount = 150\nfps = 210\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("strip.fps") && err.contains("210"), "{err}");
        // The default fps shrinks for a long strip instead of failing.
        let long = load_text("[strip]\ncount = 1000\n").unwrap();
        assert_eq!(long.strip.fps, 33);
    }

    #[test]
    fn strip_types_set_order_current_and_frame_rate() {
        let c = load_text("[strip]\ntype = \"sk6812rgbw\"\ncount = 150").unwrap();
        assert_eq!(c.strip.kind, StripKind::Sk6812Rgbw);
        assert_eq!(c.strip.order.name(), "grbw");
        assert_eq!(c.output.milliamps_per_led, 80);
        let err = load_text("[strip]\ntype = \"sk6812rgbw\"\norder = \"grb\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("strip.order") && err.contains("four channels"),
            "{err}"
        );
        let err = load_text("[strip]\norder = \"grbw\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("three channels"), "{err}");
        let err = load_text("[strip]\ntype = \"apa102\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("strip.type") && err.contains("\"apa102\""),
            "{err}"
        );
        // RGBW takes 40 µs per LED on the wire: 159 fps at 150 LEDs.
        let err = load_text("[strip]\ntype = \"sk6812rgbw\"\nfps = 200")
            .unwrap_err()
            .to_string();
        assert!(err.contains("use 1 to 159"), "{err}");
        let ws2811 = load_text("[strip]\ntype = \"ws2811\"").unwrap();
        assert_eq!(ws2811.strip.order.name(), "rgb");
    }

    #[test]
    fn hardware_settings_are_checked() {
        let c = load_text("").unwrap();
        assert_eq!(c.strip.ws281x.pin, 18);
        assert_eq!(c.strip.ws281x.dma, 10);
        assert_eq!(c.strip.spi, SpiEncoding::ThreeBit);
        for (text, key) in [
            ("[ws281x]\npin = 4", "ws281x.pin"),
            ("[ws281x]\npin = 300", "ws281x.pin"),
            ("[ws281x]\ndma = 15", "ws281x.dma"),
            ("[ws281x]\nfrequency = 1000000", "ws281x.frequency"),
            ("[spi]\nbits_per_bit = 5", "spi.bits_per_bit"),
            ("[spi]\nclock = 5", "clock"),
        ] {
            let err = load_text(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let c = load_text("[ws281x]\npin = 21\ninvert = true\n[spi]\nbits_per_bit = 4").unwrap();
        assert_eq!((c.strip.ws281x.pin, c.strip.ws281x.invert), (21, true));
        assert_eq!(c.strip.spi, SpiEncoding::FourBit);
    }
}
