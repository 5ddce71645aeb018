//! The LED strip: the [`Strip`] trait every backend implements, and
//! [`open`], which picks the backend at start-up.
//!
//! A backend has one job: put a frame of bytes, already in the strip's
//! channel order, on the wire. Gamma, brightness, current limiting, white
//! extraction and channel order are the engine's output stage, so they are
//! the same (and tested once) for every backend. The simulated strip is
//! always built; the hardware backends come behind cargo features (`ws281x`,
//! `spi`, both in `pi`), and choosing one that is not built fails at start
//! with [`StripError::NotBuilt`]. Their pure parts (bit encoding, packing,
//! validation) are always compiled and tested.
//!
//! A strip is opened on the frame loop thread and never leaves it: the
//! rs_ws281x controller is not `Send`, so the trait does not require it.
//!
//! The strip's settings are defined here and in the submodules
//! ([`StripConfig`], [`kind::Backend`], [`kind::StripKind`],
//! [`order::ChannelOrder`], [`ws281x::Ws281xOptions`]); [`crate::config`]
//! checks the file's values into them and re-exports them.

pub mod kind;
pub mod order;
pub mod sim;
pub mod spi;
pub mod spi_wire;
pub mod ws281x;

use self::kind::{Backend, StripKind};
use self::order::ChannelOrder;
use self::spi_wire::SpiEncoding;
use self::ws281x::Ws281xOptions;

/// The strip's settings, checked (the config's `[strip]`, `[ws281x]` and
/// `[spi]` sections).
#[derive(Debug, Clone, PartialEq)]
pub struct StripConfig {
    /// The backend.
    pub backend: Backend,
    /// The number of LEDs (the config allows 1 to 1000).
    pub count: u16,
    /// The channel order on the wire.
    pub order: ChannelOrder,
    /// Frames per second, at most what the wire allows for the count.
    pub fps: u16,
    /// The LED part.
    pub kind: StripKind,
    /// PWM/DMA settings, used by the `ws281x` backend.
    pub ws281x: Ws281xOptions,
    /// How the `spi` backend encodes bits.
    pub spi: SpiEncoding,
}

/// A strip that could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum StripError {
    /// The backend is not compiled into this binary.
    #[error(
        "the {backend} backend is not built into this ledd binary: use backend = \"sim\" (or --backend sim) to run on the simulated strip, or build ledd with `--features {backend}` (`--features pi` for both hardware backends)"
    )]
    NotBuilt {
        /// The backend's name.
        backend: &'static str,
    },
    /// The machine lacks what the backend needs.
    #[error("the {backend} backend cannot run here: {what}: {fix}")]
    Unavailable {
        /// The backend's name.
        backend: &'static str,
        /// What is missing.
        what: String,
        /// What to do.
        fix: &'static str,
    },
    /// The strip settings do not work with this backend.
    #[error("{0}")]
    Config(String),
    /// The frame does not match the strip's length (a bug in the caller).
    #[error("frame of {got} bytes for a strip of {want} bytes")]
    Length {
        /// Bytes given.
        got: usize,
        /// Bytes expected.
        want: usize,
    },
    /// The hardware refused the write.
    #[error("writing to the strip failed: {0}")]
    Write(String),
}

impl StripError {
    /// Whether the fix is in the config (exit 78) rather than the machine
    /// (exit 69).
    pub fn is_config(&self) -> bool {
        matches!(self, StripError::Config(_))
    }
}

/// A LED strip backend.
pub trait Strip {
    /// The number of LEDs.
    fn len(&self) -> usize;

    /// Whether the strip has no LEDs (never, for an opened strip).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes one frame: `channels * len()` bytes in the strip's channel
    /// order. Must not allocate.
    fn write(&mut self, wire: &[u8]) -> Result<(), StripError>;
}

/// Opens the strip the config describes. Call on the frame loop thread.
pub fn open(cfg: &StripConfig) -> Result<Box<dyn Strip>, StripError> {
    let channels = cfg.order.channels();
    match cfg.backend {
        Backend::Sim => Ok(Box::new(sim::SimStrip::new(cfg.count, channels))),
        #[cfg(feature = "ws281x")]
        Backend::Ws281x => Ok(Box::new(ws281x::Ws281xStrip::open(
            &ws281x::Ws281xConfig {
                count: usize::from(cfg.count),
                channels,
                pin: cfg.ws281x.pin,
                dma: cfg.ws281x.dma,
                freq_hz: cfg.ws281x.freq_hz,
                invert: cfg.ws281x.invert,
            },
        )?)),
        #[cfg(feature = "spi")]
        Backend::Spi => Ok(Box::new(spi::SpiStrip::open(
            usize::from(cfg.count),
            channels,
            cfg.spi,
        )?)),
        #[allow(unreachable_patterns)]
        other => Err(StripError::NotBuilt {
            backend: other.name(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::{Config, Overrides};

    fn strip(backend: &str) -> StripConfig {
        let o = Overrides {
            backend: Some(backend.into()),
            leds: Some(10),
            ..Overrides::default()
        };
        Config::load(None, &o).unwrap().strip
    }

    #[cfg(not(feature = "ws281x"))]
    #[test]
    fn ws281x_says_it_is_not_built() {
        let err = open(&strip("ws281x")).err().unwrap().to_string();
        assert!(err.contains("ws281x") && err.contains("not built"), "{err}");
        assert!(err.contains("sim"), "the message says what to do: {err}");
    }

    #[cfg(not(feature = "spi"))]
    #[test]
    fn spi_says_it_is_not_built() {
        let err = open(&strip("spi")).err().unwrap().to_string();
        assert!(
            err.contains("spi") && err.contains("--features spi"),
            "{err}"
        );
    }

    #[cfg(feature = "ws281x")]
    #[test]
    fn ws281x_off_the_pi_says_what_is_missing() {
        // This test machine is not a Raspberry Pi.
        let err = open(&strip("ws281x")).err().unwrap();
        assert!(matches!(err, StripError::Unavailable { .. }), "{err}");
        assert!(!err.is_config());
    }

    #[cfg(feature = "spi")]
    #[test]
    fn spi_without_spidev_says_how_to_enable_it() {
        let empty = tempfile::tempdir().unwrap();
        let err = spi::SpiStrip::open_under(empty.path(), 10, 3, spi_wire::SpiEncoding::ThreeBit)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("/dev/spidev0.0") && err.contains("raspi-config"),
            "{err}"
        );
    }

    #[test]
    fn the_sim_strip_opens() {
        let sim = open(&strip("sim")).unwrap();
        assert_eq!(sim.len(), 10);
    }
}
