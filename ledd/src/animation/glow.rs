//! Animations of a slow glow over the whole strip: breathe, fire, the
//! gradient, festive halves, aurora.

use tinsel_proto::Rgb;

use super::color::*;

/// The whole strip breathes in and out every 4 s, never quite dark.
pub(super) fn breathe(t: u64, color: Rgb, out: &mut [Rgb]) {
    let phase = ((t % 4000) * 256 / 4000) as u8;
    // Start at the bottom of the wave.
    let s = u32::from(sin8(phase.wrapping_sub(64)));
    let level = (16 + s * 239 / 255) as u8;
    out.fill(scale(color, level));
}

/// Heat in 0..=255 to a flame colour: dark red, red, orange, yellow.
#[inline]
pub(super) fn flame(heat: u32) -> Rgb {
    let r = (heat * 2).min(255) as u8;
    let g = if heat > 96 {
        ((heat - 96) * 5 / 4).min(190) as u8
    } else {
        0
    };
    let b = if heat > 230 {
        ((heat - 230) * 2) as u8
    } else {
        0
    };
    Rgb::new(r, g, b)
}

/// Flickering embers: each LED's heat is value noise (random levels every
/// 60 ms, blended), hotter at the bottom of the tree.
pub(super) fn fire(t: u64, out: &mut [Rgb]) {
    let slot = (t / 60) as u32;
    let frac = ((t % 60) * 256 / 60) as u32;
    let (s0, s1) = (
        slot.wrapping_mul(0x9e37_79b9),
        slot.wrapping_add(1).wrapping_mul(0x9e37_79b9),
    );
    // Cooling: the top keeps half the heat of the bottom.
    let cool_step = step16(128, out.len());
    let mut cool = 0u32;
    for (i, px) in out.iter_mut().enumerate() {
        let i = i as u32;
        let a = hash(i ^ s0) & 255;
        let b = hash(i ^ s1) & 255;
        let noise = (a * (256 - frac) + b * frac) >> 8;
        let heat = 64 + ((noise * 191) >> 8);
        let keep = 256 - (cool >> 16);
        *px = flame((heat * keep) >> 8);
        cool = cool.wrapping_add(cool_step);
    }
}

/// A still gradient from the colour at the bottom to its complement at the
/// top.
pub(super) fn gradient(color: Rgb, out: &mut [Rgb]) {
    let complement = Rgb::new(255 - color.r, 255 - color.g, 255 - color.b);
    let step = step16(256, out.len().saturating_sub(1));
    let mut mix = 0u32;
    for px in out.iter_mut() {
        *px = lerp(color, complement, mix >> 16);
        mix = mix.wrapping_add(step);
    }
}

/// The bottom half in the colour (red) and the top half green; every 4 s
/// they swap with a one-second fade.
pub(super) fn festive(t: u64, color: Rgb, out: &mut [Rgb]) {
    let u = (t % 8000) as u32;
    let mix = match u {
        0..3000 => 0,
        3000..4000 => (u - 3000) * 256 / 1000,
        4000..7000 => 256,
        _ => (8000 - u) * 256 / 1000,
    };
    let low = lerp(color, GREEN, mix);
    let high = lerp(GREEN, color, mix);
    let half = out.len() / 2;
    let (a, b) = out.split_at_mut(half);
    a.fill(low);
    b.fill(high);
}

/// Slow waves of green and gold (or the colour) rolling along the strip, with
/// a second, slower wave of brightness.
pub(super) fn aurora(t: u64, color: Rgb, out: &mut [Rgb]) {
    let a = (t / 24) as u8;
    let b = (t / 37) as u8;
    for (i, px) in out.iter_mut().enumerate() {
        let i = i as u8; // the waves repeat every 256 LEDs; that is fine
        let hue = u32::from(sin8(i.wrapping_mul(8).wrapping_add(a)));
        let level = u32::from(sin8(i.wrapping_mul(5).wrapping_sub(b)));
        let c = lerp(AURORA_GREEN, color, hue);
        *px = scale(c, (40 + ((level * 215) >> 8)) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::animation::tests::frame;
    use tinsel_proto::Animation;

    #[test]
    fn breathe_goes_from_dim_to_full() {
        assert_eq!(
            frame(Animation::Breathe, None, 0, 2),
            vec![Rgb::new(16, 0, 0); 2]
        );
        assert_eq!(frame(Animation::Breathe, None, 2000, 2), vec![RED; 2]);
        assert_eq!(
            frame(Animation::Breathe, None, 4000, 1),
            frame(Animation::Breathe, None, 0, 1)
        );
    }

    #[test]
    fn fire_is_red_to_yellow_and_flickers() {
        let a = frame(Animation::Fire, None, 0, 30);
        let b = frame(Animation::Fire, None, 300, 30);
        assert_ne!(a, b);
        for p in a.iter().chain(&b) {
            assert!(p.r >= p.g && p.g >= p.b, "{p} is not a flame colour");
            assert!(p.r > 0);
        }
    }

    #[test]
    fn gradient_runs_to_the_complement() {
        let f = frame(Animation::Gradient, None, 0, 2);
        assert_eq!(f, vec![GOLD, Rgb::new(0, 85, 235)]);
        assert_eq!(frame(Animation::Gradient, None, 5000, 2), f, "still");
        assert_eq!(frame(Animation::Gradient, None, 0, 1), vec![GOLD]);
    }

    #[test]
    fn festive_halves_swap_softly() {
        assert_eq!(
            frame(Animation::Festive, None, 0, 4),
            vec![RED, RED, GREEN, GREEN]
        );
        assert_eq!(
            frame(Animation::Festive, None, 5000, 4),
            vec![GREEN, GREEN, RED, RED]
        );
        let mid = frame(Animation::Festive, None, 3500, 2);
        assert_eq!(mid[0], lerp(RED, GREEN, 128));
        assert_eq!(mid[1], lerp(GREEN, RED, 128));
    }

    #[test]
    fn aurora_is_green_and_gold_and_moves() {
        let a = frame(Animation::Aurora, None, 0, 30);
        assert_ne!(a, frame(Animation::Aurora, None, 1000, 30));
        for p in &a {
            assert!(p.b <= p.g, "{p}: no blue in an aurora of green and gold");
        }
    }
}
