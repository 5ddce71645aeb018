//! The strip-type and self-test paths of the real ledd and ledctl, on the
//! simulated strip: RGBW white extraction in the current estimate, and
//! `ledctl selftest` walking one LED at a time.

use std::time::Duration;

use crate::fixtures::{Ledd, PLAIN_OUTPUT};
use crate::harness::wait_for;

const LEDS: usize = 8;

/// A ledd on a simulated strip of [`LEDS`] LEDs of one type.
struct Strip(Ledd);

impl std::ops::Deref for Strip {
    type Target = Ledd;

    fn deref(&self) -> &Ledd {
        &self.0
    }
}

impl Strip {
    fn start(strip_type: &str) -> Strip {
        Strip(
            Ledd::builder()
                .leds(LEDS)
                .strip_type(strip_type)
                .sections(PLAIN_OUTPUT)
                .start(),
        )
    }

    /// The current estimate once `solid white` has faded in.
    fn white_milliamps(&self) -> u64 {
        self.ok(&["play", "solid", "--color", "white"]);
        wait_for(Duration::from_secs(3), || {
            (self.frame() == vec![[255, 255, 255]; LEDS]).then_some(())
        })
        .expect("white reaches the strip");
        // The estimate is of the frame the status was read after.
        std::thread::sleep(Duration::from_millis(50));
        self.status()["power"]["milliamps"]
            .as_u64()
            .expect("milliamps")
    }
}

#[test]
fn the_current_estimate_follows_the_strip_type() {
    // WS2812B white: three channels of 20 mA per LED.
    let rgb = Strip::start("ws2812b");
    assert_eq!(rgb.white_milliamps(), 60 * LEDS as u64);
    // SK6812 RGBW white: all of it on the white die, one channel of 20 mA.
    let rgbw = Strip::start("sk6812rgbw");
    assert_eq!(rgbw.white_milliamps(), 20 * LEDS as u64);
}

#[test]
fn selftest_lights_one_led_at_a_time_then_returns() {
    let strip = Strip::start("ws2812b");
    strip.ok(&["play", "solid", "--color", "blue"]);
    let out = strip.ok(&["selftest"]);
    assert!(
        out.contains("red, then green, then blue, then white"),
        "{out}"
    );
    assert!(
        out.contains("order"),
        "says what a wrong colour means: {out}"
    );
    let status = strip.status();
    assert_eq!(status["playing"]["animation"], "selftest");
    // 8 LEDs × 4 colours × 40 ms = 1.28 s, rounded up.
    assert_eq!(status["playing"]["remaining_secs"], 2);
    // Once the crossfade is over, exactly one LED is lit, dimly, in one of
    // the four test colours.
    let colours = [[32, 0, 0], [0, 32, 0], [0, 0, 32], [32, 32, 32]];
    let one = wait_for(Duration::from_secs(2), || {
        let f = strip.frame();
        let lit: Vec<_> = f.iter().filter(|p| **p != [0, 0, 0]).collect();
        (lit.len() == 1 && colours.contains(lit[0])).then_some(())
    });
    assert!(one.is_some(), "not one LED at a time: {:?}", strip.frame());
    // Then what played before comes back.
    let back = wait_for(Duration::from_secs(5), || {
        (strip.status()["playing"]["animation"] == "solid").then_some(())
    });
    assert!(
        back.is_some(),
        "solid blue did not come back after the selftest"
    );
}
