//! The palette and the integer colour arithmetic every animation draws
//! with: a sine table, 8-bit scaling, blends, the colour wheel, a hash.

use tinsel_proto::Rgb;

/// Warm white, the colour of old-fashioned fairy lights.
pub const WARM_WHITE: Rgb = Rgb::new(255, 147, 41);

pub(super) const RED: Rgb = Rgb::new(255, 0, 0);

pub(super) const GREEN: Rgb = Rgb::new(0, 200, 30);

pub(super) const PINE: Rgb = Rgb::new(0, 90, 20);

pub(super) const GOLD: Rgb = Rgb::new(255, 170, 20);

pub(super) const WHITE: Rgb = Rgb::new(255, 255, 255);

pub(super) const ICE: Rgb = Rgb::new(120, 200, 255);

pub(super) const SNOW_BASE: Rgb = Rgb::new(0, 8, 48);

pub(super) const AURORA_GREEN: Rgb = Rgb::new(0, 255, 60);

/// `128 + 127 sin(2π x / 256)`, rounded.
#[rustfmt::skip]
const SIN8: [u8; 256] = [
    128, 131, 134, 137, 140, 144, 147, 150, 153, 156, 159, 162, 165, 168, 171, 174,
    177, 179, 182, 185, 188, 191, 193, 196, 199, 201, 204, 206, 209, 211, 213, 216,
    218, 220, 222, 224, 226, 228, 230, 232, 234, 235, 237, 239, 240, 241, 243, 244,
    245, 246, 248, 249, 250, 250, 251, 252, 253, 253, 254, 254, 254, 255, 255, 255,
    255, 255, 255, 255, 254, 254, 254, 253, 253, 252, 251, 250, 250, 249, 248, 246,
    245, 244, 243, 241, 240, 239, 237, 235, 234, 232, 230, 228, 226, 224, 222, 220,
    218, 216, 213, 211, 209, 206, 204, 201, 199, 196, 193, 191, 188, 185, 182, 179,
    177, 174, 171, 168, 165, 162, 159, 156, 153, 150, 147, 144, 140, 137, 134, 131,
    128, 125, 122, 119, 116, 112, 109, 106, 103, 100, 97, 94, 91, 88, 85, 82,
    79, 77, 74, 71, 68, 65, 63, 60, 57, 55, 52, 50, 47, 45, 43, 40,
    38, 36, 34, 32, 30, 28, 26, 24, 22, 21, 19, 17, 16, 15, 13, 12,
    11, 10, 8, 7, 6, 6, 5, 4, 3, 3, 2, 2, 2, 1, 1, 1,
    1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 6, 7, 8, 10,
    11, 12, 13, 15, 16, 17, 19, 21, 22, 24, 26, 28, 30, 32, 34, 36,
    38, 40, 43, 45, 47, 50, 52, 55, 57, 60, 63, 65, 68, 71, 74, 77,
    79, 82, 85, 88, 91, 94, 97, 100, 103, 106, 109, 112, 116, 119, 122, 125,
];

/// A sine wave on a byte: one period over 0..=255, values 1..=255.
#[inline]
pub fn sin8(x: u8) -> u8 {
    SIN8[usize::from(x)]
}

/// `v * s / 256`, with 255 as (almost) one.
#[inline]
pub fn scale8(v: u8, s: u8) -> u8 {
    ((u16::from(v) * (u16::from(s) + 1)) >> 8) as u8
}

/// A colour scaled by `s` (0 dark, 255 full).
#[inline]
pub fn scale(c: Rgb, s: u8) -> Rgb {
    Rgb::new(scale8(c.r, s), scale8(c.g, s), scale8(c.b, s))
}

/// The mix of `a` and `b` with `mix` of 256 taken from `b`.
#[inline]
pub fn lerp(a: Rgb, b: Rgb, mix: u32) -> Rgb {
    let m = mix.min(256);
    let ch = |x: u8, y: u8| ((u32::from(x) * (256 - m) + u32::from(y) * m) >> 8) as u8;
    Rgb::new(ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b))
}

/// The sum of two colours, saturating.
#[inline]
pub(super) fn add(a: Rgb, b: Rgb) -> Rgb {
    Rgb::new(
        a.r.saturating_add(b.r),
        a.g.saturating_add(b.g),
        a.b.saturating_add(b.b),
    )
}

/// A colour wheel: 0 red, 85 green, 170 blue, back to red.
#[inline]
pub fn wheel(h: u8) -> Rgb {
    let h3 = |x: u8| x.wrapping_mul(3);
    match h {
        0..=84 => Rgb::new(255 - h3(h), h3(h), 0),
        85..=169 => {
            let h = h - 85;
            Rgb::new(0, 255 - h3(h), h3(h))
        }
        _ => {
            let h = h - 170;
            Rgb::new(h3(h), 0, 255 - h3(h))
        }
    }
}

/// A cheap integer hash with good avalanche (Chris Wellons' lowbias32):
/// the "random-looking" part of twinkles, sparkles and flames, without any
/// state.
#[inline]
pub fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// `(a << 16) / n` once per frame, for a per-pixel fixed-point step.
#[inline]
pub(super) fn step16(a: u32, n: usize) -> u32 {
    (a << 16) / (n.max(1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(sin8(0), 128);
        assert_eq!(sin8(64), 255);
        assert_eq!(sin8(192), 1);
        assert_eq!(scale8(255, 255), 255);
        assert_eq!(scale8(255, 0), 0);
        assert_eq!(lerp(RED, GREEN, 0), RED);
        assert_eq!(lerp(RED, GREEN, 256), GREEN);
        assert_eq!(wheel(85), Rgb::new(0, 255, 0));
        assert_ne!(hash(1), hash(2));
    }
}
