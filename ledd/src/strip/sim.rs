//! The simulated strip: keeps the last frame written, as a real strip's
//! wire would carry it. It is the default off the Pi; `ledctl watch` shows
//! what it holds (through the engine's published frame).

use tracing::info;

use super::{Strip, StripError};

/// A strip that writes to memory.
#[derive(Debug)]
pub struct SimStrip {
    wire: Vec<u8>,
    channels: usize,
    writes: u64,
}

impl SimStrip {
    /// A dark strip of `count` LEDs with `channels` bytes each (3 for RGB,
    /// 4 for RGBW).
    pub fn new(count: u16, channels: usize) -> SimStrip {
        SimStrip {
            wire: vec![0; usize::from(count) * channels],
            channels,
            writes: 0,
        }
    }

    /// The bytes last written.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The number of frames written.
    pub fn writes(&self) -> u64 {
        self.writes
    }
}

impl Strip for SimStrip {
    fn len(&self) -> usize {
        self.wire.len() / self.channels
    }

    fn write(&mut self, wire: &[u8]) -> Result<(), StripError> {
        if wire.len() != self.wire.len() {
            return Err(StripError::Length {
                got: wire.len(),
                want: self.wire.len(),
            });
        }
        self.wire.copy_from_slice(wire);
        self.writes += 1;
        Ok(())
    }
}

impl Drop for SimStrip {
    fn drop(&mut self) {
        // The end-to-end tests read this line to check that SIGTERM blanks
        // the strip.
        let dark = self.wire.iter().all(|&b| b == 0);
        info!(
            frames = self.writes,
            dark, "sim strip closed; last frame dark: {dark}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_frame_and_checks_length() {
        let mut s = SimStrip::new(2, 3);
        s.write(&[1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(s.wire(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(s.writes(), 1);
        assert!(matches!(
            s.write(&[0; 3]),
            Err(StripError::Length { got: 3, want: 6 })
        ));
    }
}
