//! The named animations: each one a deterministic, pure function of
//! (animation time, LED index, strip length, parameters) that fills a frame.
//!
//! Everything here is integer or fixed-point arithmetic: the Pi Zero is a
//! soft-float ARMv6 without a divide instruction, so the per-pixel loops use
//! no floats and no division (per-frame values, which may divide, are
//! computed once before the loop). Index 0 is taken to be the bottom of the
//! tree: snow falls toward it.
//!
//! Time is in milliseconds of *animation time*: the engine has already
//! scaled wall time by the speed parameter.

use tinsel_proto::{Animation, Rgb};

/// Warm white, the colour of old-fashioned fairy lights.
pub const WARM_WHITE: Rgb = Rgb::new(255, 147, 41);
const RED: Rgb = Rgb::new(255, 0, 0);
const GREEN: Rgb = Rgb::new(0, 200, 30);
const PINE: Rgb = Rgb::new(0, 90, 20);
const GOLD: Rgb = Rgb::new(255, 170, 20);
const WHITE: Rgb = Rgb::new(255, 255, 255);
const ICE: Rgb = Rgb::new(120, 200, 255);
const SNOW_BASE: Rgb = Rgb::new(0, 8, 48);
const AURORA_GREEN: Rgb = Rgb::new(0, 255, 60);

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
fn add(a: Rgb, b: Rgb) -> Rgb {
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
fn step16(a: u32, n: usize) -> u32 {
    (a << 16) / (n.max(1) as u32)
}

/// Renders `animation` at animation time `t_ms` into `out` (one entry per
/// LED). `color` replaces the animation's own palette where it has one.
pub fn render(animation: Animation, color: Option<Rgb>, t_ms: u64, out: &mut [Rgb]) {
    let c = |default: Rgb| color.unwrap_or(default);
    match animation {
        Animation::Solid => out.fill(c(WARM_WHITE)),
        Animation::Rainbow => rainbow(t_ms, out),
        Animation::RainbowCycle => rainbow_cycle(t_ms, out),
        Animation::TheaterChase => theater_chase(t_ms, color, out),
        Animation::ColorWipe => color_wipe(t_ms, c(GREEN), out),
        Animation::Twinkle => twinkle(t_ms, c(WARM_WHITE), out),
        Animation::Sparkle => sparkle(t_ms, c(PINE), out),
        Animation::Breathe => breathe(t_ms, c(RED), out),
        Animation::Comet => comet(t_ms, c(ICE), out),
        Animation::Fire => fire(t_ms, out),
        Animation::CandyCane => candy_cane(t_ms, c(RED), out),
        Animation::Snowfall => snowfall(t_ms, c(WHITE), out),
        Animation::Meteor => meteor(t_ms, c(GOLD), out),
        Animation::Gradient => gradient(c(GOLD), out),
        Animation::Festive => festive(t_ms, c(RED), out),
        Animation::FairyLights => fairy_lights(t_ms, c(WARM_WHITE), out),
        Animation::Aurora => aurora(t_ms, c(GOLD), out),
        Animation::SelfTest => self_test(t_ms, out),
    }
}

/// How long `selftest` lights each LED, in ms of animation time.
pub const SELF_TEST_STEP_MS: u64 = 40;

/// The colours `selftest` walks through, dim (about an eighth of full) so a
/// long strip on a small supply survives white.
pub const SELF_TEST_COLORS: [Rgb; 4] = [
    Rgb::new(32, 0, 0),
    Rgb::new(0, 32, 0),
    Rgb::new(0, 0, 32),
    Rgb::new(32, 32, 32),
];

/// How long one full `selftest` pass over `leds` LEDs takes, in ms.
pub const fn self_test_ms(leds: usize) -> u64 {
    leds as u64 * SELF_TEST_COLORS.len() as u64 * SELF_TEST_STEP_MS
}

/// One LED lit at a time, from the data input end: red along the whole
/// strip, then green, then blue, then white, then again. A wrong channel
/// order shows as the wrong colour; a wrong count as a gap or an LED that
/// never lights.
fn self_test(t: u64, out: &mut [Rgb]) {
    out.fill(Rgb::BLACK);
    let n = out.len() as u64;
    if n == 0 {
        return;
    }
    let step = (t / SELF_TEST_STEP_MS) % (n * SELF_TEST_COLORS.len() as u64);
    let color = SELF_TEST_COLORS[(step / n) as usize];
    out[(step % n) as usize] = color;
}

/// A quarter of the colour wheel along the strip; the whole strip drifts
/// through the hues every 10 s.
fn rainbow(t: u64, out: &mut [Rgb]) {
    let base = ((t / 40) as u32) << 16;
    let step = step16(64, out.len());
    let mut h = base;
    for px in out.iter_mut() {
        *px = wheel((h >> 16) as u8);
        h = h.wrapping_add(step);
    }
}

/// The whole wheel along the strip, scrolling up it every 2.5 s.
fn rainbow_cycle(t: u64, out: &mut [Rgb]) {
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
fn theater_chase(t: u64, color: Option<Rgb>, out: &mut [Rgb]) {
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
fn color_wipe(t: u64, color: Rgb, out: &mut [Rgb]) {
    let n = out.len() as u64;
    let step = (t / 25) % (2 * n).max(1);
    let (lo, hi) = if step < n { (0, step) } else { (step - n, n) };
    for (i, px) in out.iter_mut().enumerate() {
        let i = i as u64;
        *px = if i >= lo && i < hi { color } else { Rgb::BLACK };
    }
}

/// Each LED's own slow wave: a rate near one period per 2 s and a phase,
/// both from the LED's hash. Returns the phase as a byte.
#[inline]
fn own_phase(t32: u32, i: u32) -> u8 {
    let h = hash(i ^ 0x5eed);
    let rate = 200 + (h & 127);
    (t32.wrapping_mul(rate).wrapping_add(h >> 8) >> 11) as u8
}

/// Warm-white points fading in and out at random-looking places over a
/// faint glow.
fn twinkle(t: u64, color: Rgb, out: &mut [Rgb]) {
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
fn sparkle(t: u64, color: Rgb, out: &mut [Rgb]) {
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

/// The whole strip breathes in and out every 4 s, never quite dark.
fn breathe(t: u64, color: Rgb, out: &mut [Rgb]) {
    let phase = ((t % 4000) * 256 / 4000) as u8;
    // Start at the bottom of the wave.
    let s = u32::from(sin8(phase.wrapping_sub(64)));
    let level = (16 + s * 239 / 255) as u8;
    out.fill(scale(color, level));
}

/// A bright head moving up the strip one LED every 20 ms, with a tail of an
/// eighth of the strip (at least 4 LEDs) that fades linearly.
fn comet(t: u64, color: Rgb, out: &mut [Rgb]) {
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

/// Heat in 0..=255 to a flame colour: dark red, red, orange, yellow.
#[inline]
fn flame(heat: u32) -> Rgb {
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
fn fire(t: u64, out: &mut [Rgb]) {
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

/// Stripes of four LEDs, the colour and white, scrolling up one LED every
/// 150 ms with soft (anti-aliased) edges.
fn candy_cane(t: u64, color: Rgb, out: &mut [Rgb]) {
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

/// Whether snow flake `k` exists (one in eight).
#[inline]
fn flake(k: u32) -> u32 {
    u32::from(hash(k ^ 0xf1a4_e000) & 7 == 0)
}

/// Flakes drifting down the tree (toward LED 0) one LED every 90 ms,
/// moving smoothly between LEDs, over a cold blue base.
fn snowfall(t: u64, color: Rgb, out: &mut [Rgb]) {
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

/// A meteor climbing the strip one LED every 15 ms; its trail (a quarter of
/// the strip) decays unevenly, re-rolled every 80 ms.
fn meteor(t: u64, color: Rgb, out: &mut [Rgb]) {
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

/// A still gradient from the colour at the bottom to its complement at the
/// top.
fn gradient(color: Rgb, out: &mut [Rgb]) {
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
fn festive(t: u64, color: Rgb, out: &mut [Rgb]) {
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

/// Warm fairy lights at about 70 %, each shimmering gently on its own slow
/// wave.
fn fairy_lights(t: u64, color: Rgb, out: &mut [Rgb]) {
    let t32 = t as u32;
    for (i, px) in out.iter_mut().enumerate() {
        let s = u32::from(sin8(own_phase(t32, i as u32)));
        *px = scale(color, (150 + ((s * 105) >> 8)) as u8);
    }
}

/// Slow waves of green and gold (or the colour) rolling along the strip, with
/// a second, slower wave of brightness.
fn aurora(t: u64, color: Rgb, out: &mut [Rgb]) {
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
    use tinsel_proto::PlayParams;

    fn frame(a: Animation, color: Option<Rgb>, t: u64, n: usize) -> Vec<Rgb> {
        let mut out = vec![Rgb::new(1, 2, 3); n];
        render(a, color, t, &mut out);
        out
    }

    fn hex(px: &[Rgb]) -> String {
        px.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Frame 1234 ms of every animation on 8 LEDs, default palette, as
    /// rendered when the animations were tuned on a tree. A change here
    /// changes what every tree shows: look at it with `ledctl watch` first.
    const GOLDEN: [(Animation, &str); 18] = [
        (
            Animation::Solid,
            "#ff9329 #ff9329 #ff9329 #ff9329 #ff9329 #ff9329 #ff9329 #ff9329",
        ),
        (
            Animation::Rainbow,
            "#a55a00 #8d7200 #758a00 #5da200 #45ba00 #2dd200 #15ea00 #00fc03",
        ),
        (
            Animation::RainbowCycle,
            "#006f90 #000ff0 #5100ae #b1004e #f00f00 #906f00 #30cf00 #00cf30",
        ),
        (
            Animation::TheaterChase,
            "#000000 #000000 #ff0000 #000000 #000000 #00c81e #000000 #000000",
        ),
        (
            Animation::ColorWipe,
            "#00c81e #000000 #000000 #000000 #000000 #000000 #000000 #000000",
        ),
        (
            Animation::Twinkle,
            "#f48c26 #0a0601 #0a0601 #0a0601 #eb8725 #ca741f #764412 #0a0601",
        ),
        (
            Animation::Sparkle,
            "#002207 #002207 #002207 #002207 #002207 #002207 #002207 #002207",
        ),
        (
            Animation::Breathe,
            "#b00000 #b00000 #b00000 #b00000 #b00000 #b00000 #b00000 #b00000",
        ),
        (
            Animation::Comet,
            "#5a96c0 #78c8ff #000000 #000000 #000000 #000000 #000000 #000000",
        ),
        (
            Animation::Fire,
            "#ff7300 #ff5500 #ff8a00 #c40200 #ff5b00 #bc0000 #a60000 #780000",
        ),
        (
            Animation::CandyCane,
            "#ff3939 #ff0000 #ff0000 #ff0000 #ffc5c5 #ffffff #ffffff #ffffff",
        ),
        (
            Animation::Snowfall,
            "#000830 #000830 #b5bde5 #495179 #000830 #b5bde5 #495179 #000830",
        ),
        (
            Animation::Meteor,
            "#000000 #000000 #000000 #000000 #000000 #000000 #000000 #221702",
        ),
        (
            Animation::Gradient,
            "#ffaa14 #db9e32 #b69151 #92856f #6d798e #496dac #2461cb #0055ea",
        ),
        (
            Animation::Festive,
            "#ff0000 #ff0000 #ff0000 #ff0000 #00c81e #00c81e #00c81e #00c81e",
        ),
        (
            Animation::FairyLights,
            "#fb9028 #b7691d #a55f1a #b6691d #fa9028 #f58d27 #ea8625 #d27921",
        ),
        (
            Animation::Aurora,
            "#442f05 #4f3506 #5a3c07 #644408 #6a4d09 #70580b #72640e #717211",
        ),
        (
            // Step 30 of 32: white (the fourth colour) on LED 6.
            Animation::SelfTest,
            "#000000 #000000 #000000 #000000 #000000 #000000 #202020 #000000",
        ),
    ];

    #[test]
    fn every_animation_matches_its_golden_frame() {
        for (a, want) in GOLDEN {
            assert_eq!(hex(&frame(a, None, 1234, 8)), want, "{a} at 1234 ms");
        }
        let covered: Vec<_> = GOLDEN.iter().map(|(a, _)| *a).collect();
        assert_eq!(covered, Animation::ALL.to_vec());
    }

    #[test]
    fn every_animation_is_deterministic_bounded_and_visible() {
        for a in Animation::ALL {
            for n in [1, 2, 7, 150, 1000] {
                for t in [0, 1, 59_999, 86_400_000, u64::MAX / 2_000] {
                    assert_eq!(
                        frame(a, None, t, n),
                        frame(a, None, t, n),
                        "{a} n={n} t={t}"
                    );
                }
            }
            // The self-test is dim on purpose (a long strip on a small
            // supply must survive its white step).
            let bright = if a == Animation::SelfTest { 0 } else { 150 };
            let lit = (0..50u64).any(|k| {
                frame(a, None, k * 100, 30)
                    .iter()
                    .any(|p| u16::from(p.r) + u16::from(p.g) + u16::from(p.b) > bright)
            });
            assert!(lit, "{a} shows nothing bright in its first 5 s");
        }
    }

    #[test]
    fn self_test_walks_each_led_through_each_colour() {
        let n = 5;
        for (c, color) in SELF_TEST_COLORS.iter().enumerate() {
            for led in 0..n {
                let t = ((c * n + led) as u64) * SELF_TEST_STEP_MS + 1;
                let f = frame(Animation::SelfTest, None, t, n);
                for (i, px) in f.iter().enumerate() {
                    let want = if i == led { *color } else { Rgb::BLACK };
                    assert_eq!(*px, want, "colour {c}, step {led}, LED {i}");
                }
            }
        }
        // Then it starts over with red on the first LED.
        let again = frame(Animation::SelfTest, None, self_test_ms(n), n);
        assert_eq!(again[0], SELF_TEST_COLORS[0]);
        assert_eq!(self_test_ms(150), 24_000);
    }

    #[test]
    fn solid_uses_the_colour() {
        assert!(
            frame(Animation::Solid, None, 0, 5)
                .iter()
                .all(|&p| p == WARM_WHITE)
        );
        let blue = Rgb::new(0, 0, 255);
        assert!(
            frame(Animation::Solid, Some(blue), 99, 5)
                .iter()
                .all(|&p| p == blue)
        );
    }

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
    fn candy_cane_has_four_led_stripes_that_scroll() {
        let f = frame(Animation::CandyCane, None, 0, 9);
        assert_eq!(&f[..4], &[RED; 4]);
        assert_eq!(&f[4..8], &[WHITE; 4]);
        assert_eq!(f[8], RED);
        // 150 ms later everything moved up one LED.
        let g = frame(Animation::CandyCane, None, 150, 9);
        assert_eq!(&g[1..], &f[..8]);
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

    /// The pixels the engine shows `now_ms` after `params` started playing
    /// `a` on 30 LEDs (output stage neutral: gamma 1, full brightness, no
    /// current limit): the whole path from request to strip, speed scaling
    /// and timed plays included.
    fn shown(a: Animation, params: PlayParams, now_ms: u64) -> Vec<Rgb> {
        use crate::config::{ChannelOrder, OutputConfig};
        let output = OutputConfig {
            brightness: tinsel_proto::Brightness::new(100).unwrap(),
            gamma: 1.0,
            max_milliamps: 0,
            milliamps_per_led: 60,
        };
        let mut p = crate::engine::Pipeline::new(30, &output, ChannelOrder::GRB);
        p.play(0, a, params);
        p.render(now_ms * 1_000_000);
        p.shown().to_vec()
    }

    /// The table in `Animation::accepts` against the renderer: each
    /// parameter an animation declares changes its pixels at some time, and
    /// each one it does not declare changes nothing at any time. So ledd
    /// never refuses a parameter that works, nor accepts one that is
    /// ignored.
    #[test]
    fn every_declared_parameter_changes_the_pixels_and_no_other_does() {
        use tinsel_proto::{Param, PlaySeconds, Speed};
        // After the 400 ms crossfade; odd times so no animation's period
        // lines up with all of them.
        let times = [400, 1234, 2501, 4777, 9013];
        let base = PlayParams::default();
        let variants = |p: Param| -> [PlayParams; 2] {
            match p {
                Param::Color => [
                    PlayParams {
                        color: Some(Rgb::new(200, 30, 90)),
                        ..base
                    },
                    PlayParams {
                        color: Some(Rgb::new(20, 180, 60)),
                        ..base
                    },
                ],
                Param::Speed => [
                    base,
                    PlayParams {
                        speed: Speed::new(300).unwrap(),
                        ..base
                    },
                ],
                // Over after one second, back to what played before
                // (nothing).
                Param::Duration => [
                    base,
                    PlayParams {
                        duration: Some(PlaySeconds::new(1).unwrap()),
                        ..base
                    },
                ],
            }
        };
        for a in Animation::ALL {
            for p in Param::ALL {
                let [x, y] = variants(p);
                let differs = times.iter().any(|&t| shown(a, x, t) != shown(a, y, t));
                if a.accepts().contains(p) {
                    assert!(
                        differs,
                        "{a} declares {p} but {p} changes none of its pixels"
                    );
                } else {
                    assert!(
                        !differs,
                        "{a} does not declare {p}, yet {p} changes its pixels"
                    );
                    // Nor does the parameter against none given.
                    for t in times {
                        assert_eq!(shown(a, x, t), shown(a, base, t), "{a} {p} at {t} ms");
                    }
                }
            }
        }
    }

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
