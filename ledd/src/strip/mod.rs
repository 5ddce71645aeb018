//! The LED strip: the [`Strip`] trait every backend implements, and
//! [`open`], which picks the backend at start-up.
//!
//! A backend has one job: put a frame of bytes, already in the strip's
//! channel order, on the wire. Gamma, brightness, current limiting and
//! channel order are the engine's output stage, so they are the same (and
//! tested once) for every backend. The simulated strip is always built; the
//! hardware backends (`ws281x`, `spi`) come behind cargo features in a later
//! release, and until then choosing them fails at start with
//! [`StripError::NotBuilt`].
//!
//! A strip is opened on the frame loop thread and never leaves it: the
//! rs_ws281x controller is not `Send`, so the trait does not require it.

pub mod sim;

use crate::config::Backend;

/// A strip that could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum StripError {
    /// The backend is not compiled into this binary.
    #[error(
        "the {backend} backend is not built into this ledd binary (hardware backends are not available yet): use backend = \"sim\" (or --backend sim) to run on the simulated strip, or install a ledd built with the `{backend}` feature"
    )]
    NotBuilt {
        /// The backend's name.
        backend: &'static str,
    },
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

/// A LED strip backend.
pub trait Strip {
    /// The number of LEDs.
    fn len(&self) -> usize;

    /// Whether the strip has no LEDs (never, for an opened strip).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes one frame: `3 * len()` bytes in the strip's channel order.
    /// Must not allocate.
    fn write(&mut self, wire: &[u8]) -> Result<(), StripError>;
}

/// Opens the strip for `backend` with `count` LEDs.
pub fn open(backend: Backend, count: u16) -> Result<Box<dyn Strip>, StripError> {
    match backend {
        Backend::Sim => Ok(Box::new(sim::SimStrip::new(count))),
        Backend::Ws281x | Backend::Spi => Err(StripError::NotBuilt {
            backend: backend.name(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_backends_say_they_are_not_built() {
        for b in [Backend::Ws281x, Backend::Spi] {
            let err = open(b, 10).err().unwrap().to_string();
            assert!(err.contains(b.name()) && err.contains("not built"), "{err}");
            assert!(err.contains("sim"), "the message says what to do: {err}");
        }
        let sim = open(Backend::Sim, 10).unwrap();
        assert_eq!(sim.len(), 10);
    }
}
