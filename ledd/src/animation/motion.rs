//! Animations that travel along the strip: the rainbows, the chase, the
//! wipe, the comet and the meteor, the candy-cane stripes.

use tinsel_proto::Rgb;

use super::color::*;

/// A quarter of the colour wheel along the strip; the whole strip drifts
/// through the hues every 10 s.
pub(super) fn rainbow(t: u64, out: &mut [Rgb]) {
    let base = ((t / 40) as u32) << 16;
    let step = step16(64, out.len());
    let mut h = base;
    for px in out.iter_mut() {
        *px = wheel((h >> 16) as u8);
        h = h.wrapping_add(step);
    }
}

/// The whole wheel along the strip, scrolling up it every 2.5 s.
pub(super) fn rainbow_cycle(t: u64, out: &mut [Rgb]) {
    let base = ((t / 10) as u32) << 16;
    let step = step16(256, out.len());
    let mut h = 0u32.wrapping_sub(base);
    for px in out.iter_mut() {
        *px = wheel((h >> 16) as u8);
        h = h.wrapping_add(step);
    }
}

/// Every third LED lit, moving one LED every 120 ms; without a colour the
/// lit groups alternate red and green.
pub(super) fn theater_chase(t: u64, color: Option<Rgb>, out: &mut [Rgb]) {
    let step = t / 120;
    // LED i is lit when (i + step) % 3 == 0; its group is (i + step) / 3.
    let mut k = (step % 3) as u32;
    let mut group = (step / 3) as u32;
    for px in out.iter_mut() {
        *px = if k == 0 {
            color.unwrap_or(if group & 1 == 0 { RED } else { GREEN })
        } else {
            Rgb::BLACK
        };
        k += 1;
        if k == 3 {
            k = 0;
            group = group.wrapping_add(1);
        }
    }
}

/// The colour fills the strip from the bottom one LED every 25 ms, then
/// clears from the bottom the same way.
pub(super) fn color_wipe(t: u64, color: Rgb, out: &mut [Rgb]) {
    let n = out.len() as u64;
    let step = (t / 25) % (2 * n).max(1);
    let (lo, hi) = if step < n { (0, step) } else { (step - n, n) };
    for (i, px) in out.iter_mut().enumerate() {
        let i = i as u64;
        *px = if i >= lo && i < hi { color } else { Rgb::BLACK };
    }
}

/// A bright head moving up the strip one LED every 20 ms, with a tail of an
/// eighth of the strip (at least 4 LEDs) that fades linearly.
pub(super) fn comet(t: u64, color: Rgb, out: &mut [Rgb]) {
    let n = out.len();
    let tail = (n / 8).max(4) as u32;
    let head = ((t / 20) % (n as u64 + u64::from(tail))) as u32;
    let fade = (255 << 8) / tail;
    for (i, px) in out.iter_mut().enumerate() {
        let d = head.wrapping_sub(i as u32);
        *px = if d < tail {
            scale(color, (255 - ((d * fade) >> 8)) as u8)
        } else {
            Rgb::BLACK
        };
    }
}

/// A meteor climbing the strip one LED every 15 ms; its trail (a quarter of
/// the strip) decays unevenly, re-rolled every 80 ms.
pub(super) fn meteor(t: u64, color: Rgb, out: &mut [Rgb]) {
    let n = out.len();
    let tail = (n / 4).max(6) as u32;
    let head = ((t / 15) % (n as u64 + u64::from(tail))) as u32;
    let fade = (255 << 8) / tail;
    let salt = ((t / 80) as u32).wrapping_mul(0x9e37_79b9);
    for (i, px) in out.iter_mut().enumerate() {
        let d = head.wrapping_sub(i as u32);
        *px = if d == 0 {
            WHITE
        } else if d < tail {
            let level = 255 - ((d * fade) >> 8);
            let uneven = 64 + (hash(i as u32 ^ salt) & 191);
            scale(color, ((level * uneven) >> 8) as u8)
        } else {
            Rgb::BLACK
        };
    }
}

/// Stripes of four LEDs, the colour and white, scrolling up one LED every
/// 150 ms with soft (anti-aliased) edges.
pub(super) fn candy_cane(t: u64, color: Rgb, out: &mut [Rgb]) {
    // Positions in 1/256 LED; a period of 8 LEDs: [0, 1024) coloured,
    // [1024, 2048) white.
    let offset = ((t * 256 / 150) & 2047) as u32;
    let mut p = 2048 - offset;
    for px in out.iter_mut() {
        let q = p & 2047;
        // The share of this LED's span [q, q + 256) that is coloured.
        let coloured = match q {
            0..=768 => 256,
            769..=1023 => 1024 - q,
            1024..=1792 => 0,
            _ => q - 1792,
        };
        *px = lerp(WHITE, color, coloured);
        p = p.wrapping_add(256);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::animation::tests::frame;
    use tinsel_proto::Animation;

    #[test]
    fn rainbows_spread_and_move() {
        let f = frame(Animation::Rainbow, None, 0, 4);
        assert_eq!(f, vec![wheel(0), wheel(16), wheel(32), wheel(48)]);
        assert_eq!(f[0], RED);
        assert_eq!(frame(Animation::Rainbow, None, 400, 4)[0], wheel(10));
        let c = frame(Animation::RainbowCycle, None, 0, 3);
        assert_eq!(
            c,
            vec![
                Rgb::new(255, 0, 0),
                Rgb::new(0, 255, 0),
                Rgb::new(0, 0, 255)
            ]
        );
        // 10 ms later the wheel has turned by one step.
        assert_eq!(frame(Animation::RainbowCycle, None, 10, 3)[0], wheel(255));
    }

    #[test]
    fn theater_chase_marches() {
        let k = Rgb::BLACK;
        assert_eq!(
            frame(Animation::TheaterChase, None, 0, 6),
            vec![RED, k, k, GREEN, k, k]
        );
        assert_eq!(
            frame(Animation::TheaterChase, None, 120, 6),
            vec![k, k, GREEN, k, k, RED]
        );
        let gold = Some(GOLD);
        assert_eq!(
            frame(Animation::TheaterChase, gold, 240, 3),
            vec![k, GOLD, k]
        );
    }

    #[test]
    fn color_wipe_fills_then_clears() {
        let c = Rgb::new(9, 9, 9);
        let k = Rgb::BLACK;
        assert_eq!(frame(Animation::ColorWipe, Some(c), 0, 4), vec![k; 4]);
        assert_eq!(
            frame(Animation::ColorWipe, Some(c), 50, 4),
            vec![c, c, k, k]
        );
        assert_eq!(frame(Animation::ColorWipe, Some(c), 100, 4), vec![c; 4]);
        assert_eq!(
            frame(Animation::ColorWipe, Some(c), 125, 4),
            vec![k, c, c, c]
        );
        assert_eq!(frame(Animation::ColorWipe, Some(c), 200, 4), vec![k; 4]);
    }

    #[test]
    fn comet_and_meteor_have_a_head_and_a_tail() {
        // 16 LEDs: tail 4; at 100 ms the head is on LED 5.
        let f = frame(Animation::Comet, None, 100, 16);
        assert_eq!(f[5], ICE);
        assert_eq!(f[4], scale(ICE, 192));
        assert_eq!(f[2], scale(ICE, 64));
        assert_eq!(f[1], Rgb::BLACK);
        assert_eq!(f[6], Rgb::BLACK);
        // 24 LEDs: tail 6; at 150 ms the meteor's head is on LED 10.
        let m = frame(Animation::Meteor, None, 150, 24);
        assert_eq!(m[10], WHITE);
        assert_eq!(m[11], Rgb::BLACK);
        assert!(m[9].r > 0 && m[9].r <= 255 - 42);
        assert_eq!(m[4], Rgb::BLACK);
    }

    #[test]
    fn candy_cane_has_four_led_stripes_that_scroll() {
        let f = frame(Animation::CandyCane, None, 0, 9);
        assert_eq!(&f[..4], &[RED; 4]);
        assert_eq!(&f[4..8], &[WHITE; 4]);
        assert_eq!(f[8], RED);
        // 150 ms later everything moved up one LED.
        let g = frame(Animation::CandyCane, None, 150, 9);
        assert_eq!(&g[1..], &f[..8]);
    }
}
