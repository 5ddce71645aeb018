//! WS2812 bits as SPI bits: the pure half of the SPI backend.
//!
//! The SPI controller shifts bits out of MOSI at a fixed clock. Sending each
//! WS2812 data bit as a few SPI bits (`1` → a long high pulse, `0` → a short
//! one) reproduces the strip's one-wire timing without PWM, DMA or root. The
//! encoding is a table lookup per byte, and the output buffer is allocated
//! once when the strip opens.

/// Timing windows from the WS2812B datasheet (Worldsemi, rev. 1.0 "Data
/// transfer time"), in nanoseconds: each value ±150 ns.
pub mod timing {
    /// `0` code, high time.
    pub const T0H_NS: u32 = 400;
    /// `1` code, high time.
    pub const T1H_NS: u32 = 800;
    /// `0` code, low time.
    pub const T0L_NS: u32 = 850;
    /// `1` code, low time.
    pub const T1L_NS: u32 = 450;
    /// Allowed deviation of each of the four times above.
    pub const TOLERANCE_NS: u32 = 150;
    /// Reset (latch) time: low for at least this long ends a frame. The
    /// original parts need 50 µs; WS2812B V5 and SK6812 need 280 µs, so use
    /// the longer one with some margin.
    pub const LATCH_NS: u32 = 300_000;
}

/// How a WS2812 bit becomes SPI bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpiEncoding {
    /// Three SPI bits per data bit at 2.4 MHz (`0` → `100`, `1` → `110`):
    /// 9 bytes per RGB LED.
    ThreeBit,
    /// Four SPI bits per data bit at 3.2 MHz (`0` → `1000`, `1` → `1110`):
    /// 12 bytes per RGB LED, more margin on T1H.
    FourBit,
}

/// The default size of one spidev transfer (`spidev.bufsiz`, Linux
/// `drivers/spi/spidev.c`).
pub const DEFAULT_SPIDEV_BUFSIZ: usize = 4096;

impl SpiEncoding {
    /// The SPI clock this encoding needs, in Hz.
    pub const fn clock_hz(self) -> u32 {
        match self {
            SpiEncoding::ThreeBit => 2_400_000,
            SpiEncoding::FourBit => 3_200_000,
        }
    }

    /// SPI bits sent per WS2812 data bit.
    pub const fn spi_bits_per_bit(self) -> usize {
        match self {
            SpiEncoding::ThreeBit => 3,
            SpiEncoding::FourBit => 4,
        }
    }

    /// SPI bytes per data byte (one colour channel of one LED).
    pub const fn bytes_per_byte(self) -> usize {
        self.spi_bits_per_bit()
    }

    /// Zero bytes sent after the pixels so the line stays low for the latch
    /// time.
    pub const fn latch_bytes(self) -> usize {
        let bits = (timing::LATCH_NS as u64 * self.clock_hz() as u64).div_ceil(1_000_000_000);
        bits.div_ceil(8) as usize
    }

    /// The whole transfer for `data_bytes` bytes of pixel data (3 per RGB
    /// LED, 4 per RGBW LED), latch included.
    pub const fn frame_len(self, data_bytes: usize) -> usize {
        data_bytes * self.bytes_per_byte() + self.latch_bytes()
    }

    /// The most LEDs with `channels` channels that fit in one transfer of
    /// `bufsiz` bytes.
    pub const fn max_leds(self, channels: usize, bufsiz: usize) -> usize {
        bufsiz.saturating_sub(self.latch_bytes()) / (channels * self.bytes_per_byte())
    }

    /// Encodes `data` (bytes in wire order) into `out`, which must be
    /// exactly [`SpiEncoding::frame_len`] long. Writes every byte of `out`.
    pub fn encode(self, data: &[u8], out: &mut [u8]) {
        debug_assert_eq!(out.len(), self.frame_len(data.len()));
        let (pixels, latch) = out.split_at_mut(data.len() * self.bytes_per_byte());
        match self {
            SpiEncoding::ThreeBit => {
                for (byte, dst) in data.iter().zip(pixels.chunks_exact_mut(3)) {
                    dst.copy_from_slice(&THREE_BIT[usize::from(*byte)]);
                }
            }
            SpiEncoding::FourBit => {
                for (byte, dst) in data.iter().zip(pixels.chunks_exact_mut(4)) {
                    dst.copy_from_slice(&FOUR_BIT[usize::from(*byte)]);
                }
            }
        }
        latch.fill(0);
    }
}

/// Spreads the bits of `byte`, most significant first, into `bits_per`
/// SPI bits each, using `one` and `zero` as the patterns; returns the
/// pattern left-aligned in a `u32`.
const fn spread(byte: u8, bits_per: u32, one: u32, zero: u32) -> u32 {
    let mut out = 0u32;
    let mut i = 0;
    while i < 8 {
        let bit = (byte >> (7 - i)) & 1;
        out = (out << bits_per) | if bit == 1 { one } else { zero };
        i += 1;
    }
    out << (32 - 8 * bits_per)
}

const fn three_bit_table() -> [[u8; 3]; 256] {
    let mut t = [[0u8; 3]; 256];
    let mut b = 0;
    while b < 256 {
        let w = spread(b as u8, 3, 0b110, 0b100).to_be_bytes();
        t[b] = [w[0], w[1], w[2]];
        b += 1;
    }
    t
}

const fn four_bit_table() -> [[u8; 4]; 256] {
    let mut t = [[0u8; 4]; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = spread(b as u8, 4, 0b1110, 0b1000).to_be_bytes();
        b += 1;
    }
    t
}

static THREE_BIT: [[u8; 3]; 256] = three_bit_table();
static FOUR_BIT: [[u8; 4]; 256] = four_bit_table();

#[cfg(test)]
mod tests {
    use super::timing::*;
    use super::*;

    /// Turns an SPI byte stream into (level, duration in ns) runs.
    fn runs(spi: &[u8], clock_hz: u32) -> Vec<(bool, u64)> {
        let bit_ns = 1e9 / f64::from(clock_hz);
        let mut out: Vec<(bool, u64)> = Vec::new();
        let mut level = None;
        let mut count = 0u64;
        for byte in spi {
            for i in (0..8).rev() {
                let bit = (byte >> i) & 1 == 1;
                if Some(bit) == level {
                    count += 1;
                } else {
                    if let Some(l) = level {
                        out.push((l, (count as f64 * bit_ns).round() as u64));
                    }
                    level = Some(bit);
                    count = 1;
                }
            }
        }
        if let Some(l) = level {
            out.push((l, (count as f64 * bit_ns).round() as u64));
        }
        out
    }

    fn within(ns: u64, target: u32) -> bool {
        ns.abs_diff(u64::from(target)) <= u64::from(TOLERANCE_NS)
    }

    /// Decodes an SPI stream back into data bits by the WS2812 timing
    /// windows, failing on any pulse outside them.
    fn decode_by_timing(spi: &[u8], enc: SpiEncoding) -> Vec<u8> {
        let r = runs(spi, enc.clock_hz());
        let mut bits = Vec::new();
        let mut i = 0;
        while i + 1 < r.len() {
            let (high, h) = r[i];
            let (low_level, l) = r[i + 1];
            assert!(high && !low_level, "runs alternate, starting high");
            if l >= u64::from(LATCH_NS) {
                // The last bit's low time merges with the latch.
                let bit = if within(h, T1H_NS) { 1 } else { 0 };
                assert!(within(h, T0H_NS) || within(h, T1H_NS), "high {h} ns");
                bits.push(bit);
                break;
            }
            if within(h, T0H_NS) && within(l, T0L_NS) {
                bits.push(0);
            } else if within(h, T1H_NS) && within(l, T1L_NS) {
                bits.push(1);
            } else {
                panic!("{enc:?}: pulse high {h} ns, low {l} ns matches neither code");
            }
            i += 2;
        }
        bits.chunks(8)
            .map(|c| c.iter().fold(0u8, |acc, b| (acc << 1) | b))
            .collect()
    }

    #[test]
    fn every_byte_meets_the_ws2812_timing_windows() {
        for enc in [SpiEncoding::ThreeBit, SpiEncoding::FourBit] {
            // Every byte value, framed by 0x00/0xff neighbours so both
            // transitions into and out of each byte are checked.
            let mut data = Vec::new();
            for b in 0..=255u8 {
                data.extend([b, !b]);
            }
            let mut out = vec![0u8; enc.frame_len(data.len())];
            enc.encode(&data, &mut out);
            assert_eq!(decode_by_timing(&out, enc), data, "{enc:?}");
        }
    }

    #[test]
    fn the_latch_keeps_the_line_low_long_enough() {
        for enc in [SpiEncoding::ThreeBit, SpiEncoding::FourBit] {
            let data = [0xffu8; 6];
            let mut out = vec![0xAAu8; enc.frame_len(data.len())];
            enc.encode(&data, &mut out);
            let last = *runs(&out, enc.clock_hz()).last().unwrap();
            assert!(!last.0, "ends low");
            assert!(
                last.1 >= u64::from(LATCH_NS),
                "{enc:?}: latch {} ns",
                last.1
            );
        }
        assert_eq!(SpiEncoding::ThreeBit.latch_bytes(), 90);
        assert_eq!(SpiEncoding::FourBit.latch_bytes(), 120);
    }

    #[test]
    fn capacity_of_the_default_spidev_buffer() {
        // 4096 bytes hold 445 RGB LEDs at 2.4 MHz: the figure users see in
        // the error message.
        assert_eq!(
            SpiEncoding::ThreeBit.max_leds(3, DEFAULT_SPIDEV_BUFSIZ),
            445
        );
        assert_eq!(SpiEncoding::FourBit.max_leds(3, DEFAULT_SPIDEV_BUFSIZ), 331);
        assert_eq!(
            SpiEncoding::ThreeBit.max_leds(4, DEFAULT_SPIDEV_BUFSIZ),
            333
        );
        assert!(SpiEncoding::ThreeBit.frame_len(445 * 3) <= DEFAULT_SPIDEV_BUFSIZ);
        assert!(SpiEncoding::ThreeBit.frame_len(446 * 3) > DEFAULT_SPIDEV_BUFSIZ);
    }

    #[test]
    fn known_patterns() {
        let mut out = [0u8; 3 + 90];
        SpiEncoding::ThreeBit.encode(&[0b1000_0000], &mut out);
        // 110 100 100 100 100 100 100 100
        assert_eq!(out[..3], [0b1101_0010, 0b0100_1001, 0b0010_0100]);
        let mut out = [0u8; 4 + 120];
        SpiEncoding::FourBit.encode(&[0b0000_0001], &mut out);
        assert_eq!(out[..4], [0x88, 0x88, 0x88, 0x8e]);
    }
}
