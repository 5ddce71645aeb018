//! Renders frames the way the frame loop does — animation, crossfade check,
//! output stage (gamma, brightness, current limit, channel order) and the
//! simulated strip's write — without a clock or a thread, so that a
//! callgrind (or qemu) run with N and 2N frames gives the cost of one frame
//! by difference. See `ledd/bench/frame-cost.sh`.
//!
//! Usage: frame_cost [--leds N] [--frames F] [--animation NAME]

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use ledd::config::{ChannelOrder, OutputConfig};
use ledd::engine::Pipeline;
use ledd::strip::Strip;
use ledd::strip::sim::SimStrip;
use tinsel_proto::{Animation, Brightness, PlayParams};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}: cannot parse {v:?}"))
        })
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let leds: u16 = arg(&args, "--leds", 150);
    let frames: u64 = arg(&args, "--frames", 100);
    let animation: Animation = arg(&args, "--animation", Animation::Fire);
    let output = OutputConfig {
        brightness: Brightness::new(50).expect("50 is in range"),
        gamma: 2.2,
        // A budget that the brighter animations exceed, so the limiter runs.
        max_milliamps: 2000,
        milliamps_per_led: 60,
    };
    let mut pipeline = Pipeline::new(leds, &output, ChannelOrder::GRB);
    let mut strip = SimStrip::new(leds, 3);
    let period_ns = 1_000_000_000 / 60;
    pipeline.play(0, animation, PlayParams::default());
    // Start after the crossfade: the steady state is what a frame costs.
    let start = 1_000_000_000u64;
    for i in 0..frames {
        let wire = pipeline.render(black_box(start + i * period_ns));
        strip
            .write(wire)
            .expect("the sim strip takes a frame of its size");
    }
    black_box(strip.wire());
    println!("{animation}: {frames} frames of {leds} LEDs");
}
