//! The PWM/DMA backend, through `rs_ws281x` (the rpi_ws281x C library).
//!
//! All of ledd's use of that crate is in this module, because used directly
//! it is easy to get wrong:
//!
//! - `Controller` derives `Clone`, and every clone frees the same DMA and
//!   GPU memory in its `Drop`: [`Ws281xStrip`] owns the one controller in a
//!   private field and is not `Clone` itself.
//! - The controller is not `Send` (it holds raw pointers into mapped
//!   hardware): [`Ws281xStrip`] carries a `PhantomData<*const ()>` so the
//!   compiler keeps it on the thread that opened it, the frame loop.
//! - `leds_mut()` builds a slice from the C side's pointer and count without
//!   checking either: the strip refuses counts of zero or above
//!   [`MAX_LEDS`] before initialising, only reaches `leds_mut()` after a
//!   successful init (which guarantees the buffer, see below), and checks the
//!   slice's length against its own count before every write.
//! - Cleanup (stopping PWM/PCM and DMA, freeing the mailbox memory) happens
//!   only in `Drop`: the strip blanks the LEDs in its own `Drop` and then lets
//!   the controller's run. ledd's shutdown ends the frame loop thread
//!   normally, so `Drop` always runs on SIGTERM; and ledd's release profile
//!   unwinds on panic rather than aborting, so a panic unwinds through it too.

use std::path::Path;

use super::StripError;
#[cfg(feature = "ws281x")]
pub use hardware::Ws281xStrip;

/// The most LEDs one channel drives. The DMA buffer grows with the count
/// (12 bytes per RGB LED) and a frame of 2048 LEDs already takes 61 ms on
/// the wire, so more would be a configuration mistake.
pub const MAX_LEDS: usize = 2048;

/// The WS2812 bit rate, in Hz (rpi_ws281x's `WS2811_TARGET_FREQ`).
pub const DEFAULT_FREQ_HZ: u32 = 800_000;

/// The DMA channel rpi_ws281x recommends: 5 corrupts the SD card on some
/// models, and the low channels are used by the firmware.
pub const DEFAULT_DMA: u8 = 10;

/// GPIO pins the library can drive, and through which peripheral.
pub const PINS: [(u8, &str); 4] = [(18, "PWM0"), (12, "PWM0"), (21, "PCM"), (10, "SPI")];

/// The `[ws281x]` config section, checked: how the PWM/DMA backend is
/// wired, whatever the strip's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ws281xOptions {
    /// GPIO pin (BCM numbering).
    pub pin: u8,
    /// DMA channel.
    pub dma: u8,
    /// Bit rate in Hz.
    pub freq_hz: u32,
    /// Whether an inverting level shifter sits between the Pi and the strip.
    pub invert: bool,
}

/// How the PWM/DMA backend is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ws281xConfig {
    /// Number of LEDs.
    pub count: usize,
    /// Bytes per LED: 3 (RGB) or 4 (RGBW).
    pub channels: usize,
    /// GPIO pin (BCM numbering).
    pub pin: u8,
    /// DMA channel.
    pub dma: u8,
    /// Bit rate in Hz: 800 000 for WS2812, 400 000 for old WS2811.
    pub freq_hz: u32,
    /// Whether the signal goes through an inverting level shifter.
    pub invert: bool,
}

/// Checks the configuration without touching hardware.
pub fn validate(cfg: &Ws281xConfig) -> Result<(), StripError> {
    let bad = |what: String| Err(StripError::Config(what));
    if cfg.count == 0 || cfg.count > MAX_LEDS {
        return bad(format!(
            "ws281x: LED count {} is out of range: use 1 to {MAX_LEDS}",
            cfg.count
        ));
    }
    if cfg.channels != 3 && cfg.channels != 4 {
        return bad(format!(
            "ws281x: {} channels per LED: use an RGB or RGBW strip type",
            cfg.channels
        ));
    }
    if !PINS.iter().any(|(p, _)| *p == cfg.pin) {
        return bad(format!(
            "ws281x: GPIO {} cannot drive LEDs: use 18 or 12 (PWM), 21 (PCM) or 10 (SPI)",
            cfg.pin
        ));
    }
    if !(1..=14).contains(&cfg.dma) {
        return bad(format!(
            "ws281x: DMA channel {} is out of range: use 1 to 14 ({DEFAULT_DMA} is the safe default)",
            cfg.dma
        ));
    }
    if !(400_000..=800_000).contains(&cfg.freq_hz) {
        return bad(format!(
            "ws281x: frequency {} Hz is out of range: use 800000 (WS2812) or 400000 (WS2811)",
            cfg.freq_hz
        ));
    }
    Ok(())
}

/// Checks that the machine under `root` can run the backend at all, so the failure is
/// one clear line instead of an error code from the C library.
pub fn preflight(root: &Path) -> Result<(), StripError> {
    let model = std::fs::read(root.join("proc/device-tree/model")).unwrap_or_default();
    let model = String::from_utf8_lossy(&model);
    if !model.contains("Raspberry Pi") {
        return Err(StripError::Unavailable {
            backend: "ws281x",
            what: if model.is_empty() {
                "this machine is not a Raspberry Pi (no /proc/device-tree/model)".into()
            } else {
                format!(
                    "this machine is a {}, not a Raspberry Pi",
                    model.trim_end_matches('\0')
                )
            },
            fix: "use backend = \"sim\" off the Pi",
        });
    }
    if !root.join("dev/mem").exists() {
        return Err(StripError::Unavailable {
            backend: "ws281x",
            what: "/dev/mem is missing".into(),
            fix: "run ledd as root on Raspberry Pi OS, or use backend = \"spi\", which needs neither root nor /dev/mem",
        });
    }
    Ok(())
}

/// Packs one LED's wire bytes into the library's 32-bit colour so that it
/// sends them in the given order: with the RGB(W) strip types the library
/// emits bits 16-23, then 8-15, then 0-7, then (RGBW) 24-31. `RawColor` is
/// the little-endian bytes of that word.
pub fn pack(wire: &[u8]) -> [u8; 4] {
    match *wire {
        [a, b, c] => [c, b, a, 0],
        [a, b, c, w] => [c, b, a, w],
        _ => [0; 4],
    }
}

/// The hardware half, compiled with the `ws281x` feature.
#[cfg(feature = "ws281x")]
mod hardware {
    use std::marker::PhantomData;
    use std::path::Path;

    use rs_ws281x::{ChannelBuilder, Controller, ControllerBuilder, StripType};

    use super::{Ws281xConfig, pack, preflight, validate};
    use crate::strip::{Strip, StripError};

    /// The WS2812 strip on the Pi's PWM or PCM peripheral, fed by DMA.
    pub struct Ws281xStrip {
        /// The only handle to the hardware state; never cloned, never moved to
        /// another thread.
        controller: Controller,
        count: usize,
        channels: usize,
        /// Makes the strip `!Send` and `!Sync`: the controller must be used and
        /// dropped on the thread that created it.
        _not_send: PhantomData<*const ()>,
    }

    impl std::fmt::Debug for Ws281xStrip {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Ws281xStrip")
                .field("count", &self.count)
                .field("channels", &self.channels)
                .finish_non_exhaustive()
        }
    }

    impl Ws281xStrip {
        /// Initialises the hardware. Call on the frame loop thread.
        pub fn open(cfg: &Ws281xConfig) -> Result<Self, StripError> {
            validate(cfg)?;
            preflight(Path::new("/"))?;
            // The library reorders the colour fields by strip type; ledd's output
            // stage has already put the bytes in wire order, so ask for the
            // identity order and pack the bytes to match (see `pack`).
            let strip_type = if cfg.channels == 4 {
                StripType::Sk6812Rgbw
            } else {
                StripType::Ws2811Rgb
            };
            let count = i32::try_from(cfg.count).map_err(|_| StripError::Config("count".into()))?;
            let controller = ControllerBuilder::new()
                .freq(cfg.freq_hz)
                .dma(i32::from(cfg.dma))
                .channel(
                    0,
                    ChannelBuilder::new()
                        .pin(i32::from(cfg.pin))
                        .count(count)
                        .strip_type(strip_type)
                        .invert(cfg.invert)
                        // Brightness is ledd's output stage; 255 makes the
                        // library's scaling the identity.
                        .brightness(255)
                        .build(),
                )
                .build()
                .map_err(|e| StripError::Unavailable {
                    backend: "ws281x",
                    what: format!("rpi_ws281x could not initialise: {e:?}"),
                    fix: "run ledd as root, check the pin and that no other program (or the analogue audio driver, for PWM) uses it",
                })?;
            let mut strip = Ws281xStrip {
                controller,
                count: cfg.count,
                channels: cfg.channels,
                _not_send: PhantomData,
            };
            // Prove the buffer the C side handed back is the one we asked for.
            strip.leds()?;
            Ok(strip)
        }

        /// The LED buffer, checked against our own count.
        fn leds(&mut self) -> Result<&mut [rs_ws281x::RawColor], StripError> {
            // `leds_mut` builds a slice from the C side's pointer and count.
            // That is sound here because `open` only constructs a strip after
            // `ws2811_init` succeeded with a count between 1 and MAX_LEDS, and
            // ws2811_init either mallocs `count` elements for channel 0 (and
            // zeroes them) or fails with WS2811_ERROR_OUT_OF_MEMORY; nothing but
            // `ws2811_fini` (run only in the controller's `Drop`) frees or moves
            // that buffer, and we never touch the unused channel 1.
            let leds = self.controller.leds_mut(0);
            if leds.len() != self.count {
                return Err(StripError::Write(format!(
                    "rpi_ws281x reports {} LEDs, expected {}",
                    leds.len(),
                    self.count
                )));
            }
            Ok(leds)
        }
    }

    impl Strip for Ws281xStrip {
        fn len(&self) -> usize {
            self.count
        }

        fn write(&mut self, wire: &[u8]) -> Result<(), StripError> {
            let channels = self.channels;
            let want = self.count * channels;
            if wire.len() != want {
                return Err(StripError::Length {
                    got: wire.len(),
                    want,
                });
            }
            let leds = self.leds()?;
            for (led, bytes) in leds.iter_mut().zip(wire.chunks_exact(channels)) {
                *led = pack(bytes);
            }
            self.controller
                .render()
                .map_err(|e| StripError::Write(format!("rpi_ws281x render failed: {e:?}")))
        }
    }

    impl Drop for Ws281xStrip {
        fn drop(&mut self) {
            // Leave the tree dark, then let the controller's Drop stop DMA and
            // free the hardware buffers.
            if let Ok(leds) = self.leds() {
                leds.fill([0; 4]);
                let _ = self.controller.render();
                let _ = self.controller.wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Ws281xConfig {
        Ws281xConfig {
            count: 150,
            channels: 3,
            pin: 18,
            dma: DEFAULT_DMA,
            freq_hz: DEFAULT_FREQ_HZ,
            invert: false,
        }
    }

    #[test]
    fn refuses_zero_and_oversized_counts() {
        for count in [0, MAX_LEDS + 1, usize::MAX] {
            let err = validate(&Ws281xConfig { count, ..cfg() }).unwrap_err();
            assert!(err.to_string().contains("out of range"), "{err}");
        }
        assert!(validate(&Ws281xConfig { count: 1, ..cfg() }).is_ok());
        assert!(
            validate(&Ws281xConfig {
                count: MAX_LEDS,
                ..cfg()
            })
            .is_ok()
        );
    }

    #[test]
    fn refuses_bad_pins_dma_and_frequency() {
        assert!(validate(&Ws281xConfig { pin: 4, ..cfg() }).is_err());
        for pin in [18, 12, 21, 10] {
            assert!(validate(&Ws281xConfig { pin, ..cfg() }).is_ok());
        }
        assert!(validate(&Ws281xConfig { dma: 0, ..cfg() }).is_err());
        assert!(validate(&Ws281xConfig { dma: 15, ..cfg() }).is_err());
        assert!(
            validate(&Ws281xConfig {
                freq_hz: 1_000_000,
                ..cfg()
            })
            .is_err()
        );
        assert!(
            validate(&Ws281xConfig {
                channels: 2,
                ..cfg()
            })
            .is_err()
        );
    }

    #[test]
    fn packing_keeps_wire_order() {
        // The library sends bits 16-23 first: that must be the first byte.
        let word = u32::from_le_bytes(pack(&[0x11, 0x22, 0x33]));
        assert_eq!((word >> 16) & 0xff, 0x11);
        assert_eq!((word >> 8) & 0xff, 0x22);
        assert_eq!(word & 0xff, 0x33);
        let word = u32::from_le_bytes(pack(&[0x11, 0x22, 0x33, 0x44]));
        assert_eq!(word >> 24, 0x44, "white goes last, from bits 24-31");
    }

    #[test]
    fn off_the_pi_the_error_says_what_is_missing() {
        let dir = std::env::temp_dir().join(format!("tinsel-ws281x-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc/device-tree")).unwrap();
        let err = preflight(&dir).unwrap_err().to_string();
        assert!(err.contains("not a Raspberry Pi"), "{err}");
        std::fs::write(
            dir.join("proc/device-tree/model"),
            "Raspberry Pi Zero W Rev 1.1\0",
        )
        .unwrap();
        let err = preflight(&dir).unwrap_err().to_string();
        assert!(err.contains("/dev/mem"), "{err}");
        assert!(err.contains("spi"), "the fix names the SPI backend: {err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
