//! Animations of LEDs that each keep their own time: twinkle, sparkle,
//! snowfall, fairy lights.

use tinsel_proto::Rgb;

use super::color::*;

/// Each LED's own slow wave: a rate near one period per 2 s and a phase,
/// both from the LED's hash. Returns the phase as a byte.
#[inline]
pub(super) fn own_phase(t32: u32, i: u32) -> u8 {
    let h = hash(i ^ 0x5eed);
    let rate = 200 + (h & 127);
    (t32.wrapping_mul(rate).wrapping_add(h >> 8) >> 11) as u8
}

/// Warm-white points fading in and out at random-looking places over a
/// faint glow.
pub(super) fn twinkle(t: u64, color: Rgb, out: &mut [Rgb]) {
    let t32 = t as u32;
    let base = scale(color, 10);
    for (i, px) in out.iter_mut().enumerate() {
        let s = sin8(own_phase(t32, i as u32));
        // Only the top of each LED's wave shows: lit about a third of the time.
        *px = if s > 170 {
            let level = (u32::from(s - 170) * 3) as u8; // 0..=255
            add(base, scale(color, level))
        } else {
            base
        };
    }
}

/// Short white flashes (40 ms, about 1 LED in 64 at a time) over a dim base
/// of the colour.
pub(super) fn sparkle(t: u64, color: Rgb, out: &mut [Rgb]) {
    let slot = (t / 40) as u32;
    let salt = slot.wrapping_mul(0x9e37_79b9);
    let base = scale(color, 96);
    for (i, px) in out.iter_mut().enumerate() {
        *px = if hash(i as u32 ^ salt) & 63 == 0 {
            WHITE
        } else {
            base
        };
    }
}

/// Whether snow flake `k` exists (one in eight).
#[inline]
pub(super) fn flake(k: u32) -> u32 {
    u32::from(hash(k ^ 0xf1a4_e000) & 7 == 0)
}

/// Flakes drifting down the tree (toward LED 0) one LED every 90 ms,
/// moving smoothly between LEDs, over a cold blue base.
pub(super) fn snowfall(t: u64, color: Rgb, out: &mut [Rgb]) {
    let pos = t * 256 / 90;
    let s = (pos >> 8) as u32;
    let frac = (pos & 255) as u32;
    for (i, px) in out.iter_mut().enumerate() {
        let k = (i as u32).wrapping_add(s);
        let level = flake(k) * (256 - frac) + flake(k.wrapping_add(1)) * frac;
        *px = if level == 0 {
            SNOW_BASE
        } else {
            add(SNOW_BASE, scale(color, (level.min(256) - 1) as u8))
        };
    }
}

/// Warm fairy lights at about 70 %, each shimmering gently on its own slow
/// wave.
pub(super) fn fairy_lights(t: u64, color: Rgb, out: &mut [Rgb]) {
    let t32 = t as u32;
    for (i, px) in out.iter_mut().enumerate() {
        let s = u32::from(sin8(own_phase(t32, i as u32)));
        *px = scale(color, (150 + ((s * 105) >> 8)) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::animation::tests::frame;
    use tinsel_proto::Animation;

    #[test]
    fn twinkle_and_fairy_lights_stay_in_their_range() {
        let base = scale(WARM_WHITE, 10);
        let mut peak = vec![0u8; 20];
        for k in 0..40u64 {
            for (i, p) in frame(Animation::Twinkle, None, k * 100, 20)
                .iter()
                .enumerate()
            {
                assert!(p.r >= base.r && p.g >= base.g, "twinkle under its glow");
                peak[i] = peak[i].max(p.r);
            }
            for p in frame(Animation::FairyLights, None, k * 100, 20) {
                assert!(p.r >= scale8(255, 150), "fairy lights at {}", p.r);
            }
        }
        assert!(
            peak.iter().all(|&r| r > 200),
            "every LED twinkles within 4 s: {peak:?}"
        );
    }

    #[test]
    fn sparkle_flashes_white_over_the_base() {
        let base = scale(PINE, 96);
        let (mut white, mut total) = (0, 0);
        for k in 0..200u64 {
            for p in frame(Animation::Sparkle, None, k * 40, 50) {
                assert!(p == base || p == WHITE, "{p}");
                white += usize::from(p == WHITE);
                total += 1;
            }
        }
        // About one in 64.
        assert!(
            white * 200 > total && white * 25 < total,
            "{white} of {total}"
        );
    }

    #[test]
    fn snow_falls_toward_the_bottom() {
        let a = frame(Animation::Snowfall, None, 0, 40);
        let b = frame(Animation::Snowfall, None, 90, 40);
        assert_eq!(&b[..39], &a[1..], "one LED down every 90 ms");
        assert!(a.iter().all(|p| p.b >= SNOW_BASE.b));
        assert!(a.iter().any(|&p| p == add(SNOW_BASE, WHITE)), "some flakes");
        assert!(
            a.iter().filter(|&&p| p == SNOW_BASE).count() > 20,
            "mostly sky"
        );
    }
}
