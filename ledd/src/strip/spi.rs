//! The SPI backend, through `rppal`: WS2812 bits encoded as SPI bits on
//! MOSI (GPIO 10, header pin 19).
//!
//! SPI needs neither root nor /dev/mem: the `spidev` device node is enough,
//! and it can be given to a group. Where the strip fits in one SPI transfer
//! it is the more secure choice. See [`super::spi_wire`] for the encoding.

use std::path::Path;

use super::StripError;
use super::spi_wire::{DEFAULT_SPIDEV_BUFSIZ, SpiEncoding};
#[cfg(feature = "spi")]
pub use hardware::SpiStrip;

/// Where the kernel publishes the largest transfer spidev accepts.
pub const BUFSIZ_PARAM: &str = "sys/module/spidev/parameters/bufsiz";

/// The device node for SPI0, chip select 0.
pub const SPIDEV: &str = "dev/spidev0.0";

/// Reads `spidev.bufsiz` under `root`, or the kernel's default.
pub fn spidev_bufsiz(root: &Path) -> usize {
    std::fs::read_to_string(root.join(BUFSIZ_PARAM))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_SPIDEV_BUFSIZ)
}

/// Checks that a frame of `count` LEDs with `channels` bytes each fits in
/// one transfer, and says how to make room if not.
pub fn check_fits(
    encoding: SpiEncoding,
    count: usize,
    channels: usize,
    bufsiz: usize,
) -> Result<usize, StripError> {
    let len = encoding.frame_len(count * channels);
    if len > bufsiz {
        return Err(StripError::Config(format!(
            "spi: a frame of {count} LEDs is {len} bytes, more than the kernel's SPI transfer size \
             spidev.bufsiz={bufsiz} (at most {} LEDs fit): add `spidev.bufsiz=65536` to \
             /boot/firmware/cmdline.txt and reboot, or use fewer LEDs",
            encoding.max_leds(channels, bufsiz)
        )));
    }
    Ok(len)
}

/// The hardware half, compiled with the `spi` feature.
#[cfg(feature = "spi")]
mod hardware {
    use std::path::Path;

    use rppal::spi::{Bus, Mode, SlaveSelect, Spi};

    use super::{SPIDEV, check_fits, spidev_bufsiz};
    use crate::strip::spi_wire::SpiEncoding;
    use crate::strip::{Strip, StripError};

    /// A WS2812 strip on SPI0's MOSI.
    #[derive(Debug)]
    pub struct SpiStrip {
        spi: Spi,
        encoding: SpiEncoding,
        count: usize,
        channels: usize,
        /// The encoded frame, allocated once: writing a frame allocates nothing.
        buf: Vec<u8>,
    }

    impl SpiStrip {
        /// Opens `/dev/spidev0.0` for `count` LEDs of `channels` bytes.
        pub fn open(
            count: usize,
            channels: usize,
            encoding: SpiEncoding,
        ) -> Result<Self, StripError> {
            Self::open_under(Path::new("/"), count, channels, encoding)
        }

        /// [`SpiStrip::open`] with the device and kernel parameter looked up
        /// under `root` (tests use an empty directory).
        pub fn open_under(
            root: &Path,
            count: usize,
            channels: usize,
            encoding: SpiEncoding,
        ) -> Result<Self, StripError> {
            if !root.join(SPIDEV).exists() {
                return Err(StripError::Unavailable {
                    backend: "spi",
                    what: "/dev/spidev0.0 is missing".into(),
                    fix: "enable SPI (`sudo raspi-config nonint do_spi 0`, or `dtparam=spi=on` in /boot/firmware/config.txt) and reboot",
                });
            }
            if count == 0 {
                return Err(StripError::Config("spi: LED count 0: use 1 or more".into()));
            }
            let len = check_fits(encoding, count, channels, spidev_bufsiz(root))?;
            let spi = Spi::new(
                Bus::Spi0,
                SlaveSelect::Ss0,
                encoding.clock_hz(),
                Mode::Mode0,
            )
            .map_err(|e| StripError::Unavailable {
                backend: "spi",
                what: format!("opening /dev/spidev0.0 failed: {e}"),
                fix: "add ledd's user to the `spi` group, or run it as root",
            })?;
            Ok(SpiStrip {
                spi,
                encoding,
                count,
                channels,
                buf: vec![0; len],
            })
        }
    }

    impl Strip for SpiStrip {
        fn len(&self) -> usize {
            self.count
        }

        fn write(&mut self, wire: &[u8]) -> Result<(), StripError> {
            let want = self.count * self.channels;
            if wire.len() != want {
                return Err(StripError::Length {
                    got: wire.len(),
                    want,
                });
            }
            self.encoding.encode(wire, &mut self.buf);
            self.spi
                .write(&self.buf)
                .map_err(|e| StripError::Write(format!("SPI write failed: {e}")))?;
            Ok(())
        }
    }

    impl Drop for SpiStrip {
        fn drop(&mut self) {
            // Leave the tree dark.
            self.buf.fill(0);
            let blank = vec![0u8; self.count * self.channels];
            self.encoding.encode(&blank, &mut self.buf);
            let _ = self.spi.write(&self.buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_frame_names_spidev_bufsiz() {
        let err = check_fits(SpiEncoding::ThreeBit, 446, 3, DEFAULT_SPIDEV_BUFSIZ)
            .unwrap_err()
            .to_string();
        assert!(err.contains("spidev.bufsiz=4096"), "{err}");
        assert!(err.contains("at most 445 LEDs"), "{err}");
        assert!(err.contains("cmdline.txt"), "{err}");
        assert_eq!(
            check_fits(SpiEncoding::ThreeBit, 445, 3, DEFAULT_SPIDEV_BUFSIZ).unwrap(),
            445 * 9 + 90
        );
        assert!(check_fits(SpiEncoding::ThreeBit, 1000, 3, 65536).is_ok());
    }

    #[test]
    fn bufsiz_is_read_from_the_kernel_parameter() {
        let dir = std::env::temp_dir().join(format!("tinsel-spi-{}", std::process::id()));
        assert_eq!(spidev_bufsiz(&dir), DEFAULT_SPIDEV_BUFSIZ);
        let param = dir.join(BUFSIZ_PARAM);
        std::fs::create_dir_all(param.parent().unwrap()).unwrap();
        std::fs::write(&param, "65536\n").unwrap();
        assert_eq!(spidev_bufsiz(&dir), 65536);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
