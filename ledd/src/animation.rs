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

//! The arithmetic and the palette are in `color.rs`; the animations, by
//! family, in `motion.rs`, `glitter.rs` and `glow.rs`; this file is the
//! dispatch from an [`Animation`] to its renderer, and the self-test.

mod color;
mod glitter;
mod glow;
mod motion;

pub use color::{WARM_WHITE, hash, lerp, scale, scale8, sin8, wheel};

use tinsel_proto::{Animation, Rgb};

use color::{GOLD, GREEN, ICE, PINE, RED, WHITE};
use glitter::{fairy_lights, snowfall, sparkle, twinkle};
use glow::{aurora, breathe, festive, fire, gradient};
use motion::{candy_cane, color_wipe, comet, meteor, rainbow, rainbow_cycle, theater_chase};

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

#[cfg(test)]
mod tests;
