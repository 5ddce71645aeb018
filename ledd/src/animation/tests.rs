//! Tests over every animation: the golden frames, determinism and
//! bounds, the self-test, and the parameters each one declares against
//! what changes its pixels.

use super::*;
use tinsel_proto::PlayParams;

pub(super) fn frame(a: Animation, color: Option<Rgb>, t: u64, n: usize) -> Vec<Rgb> {
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
