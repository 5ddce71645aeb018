//! The output stage: gamma and brightness through one lookup table, the
//! current limiter, the channel order (and white extraction) for the wire,
//! and the size of the wire buffer those bytes go into.

use tinsel_proto::{Brightness, Power, Rgb};

use crate::config::{ChannelOrder, OutputConfig};
use crate::strip::kind::extract_white;

/// A wire buffer for `count` LEDs in `order`: `count * channels` bytes
/// (four per LED on an RGBW strip), the only length a backend accepts. Every
/// frame, and the dark frame at the end, is written from it.
pub(super) fn wire_buffer(count: u16, order: ChannelOrder) -> Vec<u8> {
    vec![0; usize::from(count) * order.channels()]
}

/// The output stage: gamma and brightness through one lookup table, the
/// current limiter, and the channel order for the wire.
#[derive(Debug, Clone)]
pub struct OutputStage {
    lut: [u8; 256],
    gamma: f32,
    brightness: Brightness,
    /// The strip's channel order; its channel count sizes the wire buffer.
    pub(super) order: ChannelOrder,
    budget_ma: u32,
    ma_per_led: u32,
    /// The limiter's view of the last frame.
    pub power: Power,
}

impl OutputStage {
    /// An output stage for `output` and `order`.
    pub fn new(output: &OutputConfig, order: ChannelOrder) -> OutputStage {
        let mut stage = OutputStage {
            lut: [0; 256],
            gamma: output.gamma,
            brightness: output.brightness,
            order,
            budget_ma: output.max_milliamps,
            ma_per_led: u32::from(output.milliamps_per_led),
            power: Power {
                budget_milliamps: output.max_milliamps,
                ..Power::default()
            },
        };
        stage.build_lut();
        stage
    }

    /// Rebuilds the table. Floating point here is fine: it runs when the
    /// brightness or gamma changes, not per frame.
    fn build_lut(&mut self) {
        let b = f32::from(self.brightness.get()) / 100.0;
        for (v, out) in self.lut.iter_mut().enumerate() {
            let x = (v as f32 / 255.0).powf(self.gamma);
            *out = (x * b * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        }
    }

    /// Sets the global brightness.
    pub fn set_brightness(&mut self, b: Brightness) {
        if b != self.brightness {
            self.brightness = b;
            self.build_lut();
        }
    }

    /// The global brightness.
    pub fn brightness(&self) -> Brightness {
        self.brightness
    }

    /// Runs the stage: `frame` → `shown` (RGB after gamma, brightness and
    /// limit) and `wire` (the same in the strip's channel order).
    pub fn apply(&mut self, frame: &[Rgb], shown: &mut [Rgb], wire: &mut [u8]) {
        let mut sum = 0u32;
        for (src, dst) in frame.iter().zip(shown.iter_mut()) {
            let px = Rgb::new(
                self.lut[usize::from(src.r)],
                self.lut[usize::from(src.g)],
                self.lut[usize::from(src.b)],
            );
            sum += u32::from(px.r) + u32::from(px.g) + u32::from(px.b);
            *dst = px;
        }
        // Each channel at 255 draws a third of a LED's full-white current
        // (for RGBW parts, see below: the white die takes the common part).
        let mut ma = (u64::from(sum) * u64::from(self.ma_per_led) / (3 * 255)) as u32;
        let limited = self.budget_ma > 0 && ma > self.budget_ma;
        if limited {
            // A 1/256 fixed-point factor, rounded down so the result fits.
            let s = (self.budget_ma << 8) / ma.max(1);
            for px in shown.iter_mut() {
                let c = [px.r, px.g, px.b].map(|v| ((u32::from(v) * s) >> 8) as u8);
                *px = Rgb::new(c[0], c[1], c[2]);
            }
            ma = (ma * s) >> 8;
        }
        let order = self.order.wire.map(usize::from);
        if self.order.channels() == 4 {
            // RGBW: the common part of r, g and b moves to the white die,
            // which draws like one colour channel instead of three. Estimate
            // with four channels of `ma_per_led / 4` each.
            let mut sum4 = 0u32;
            for (px, w) in shown.iter().zip(wire.chunks_exact_mut(4)) {
                let c = extract_white(px.r, px.g, px.b);
                sum4 += c.iter().map(|&v| u32::from(v)).sum::<u32>();
                w[0] = c[order[0]];
                w[1] = c[order[1]];
                w[2] = c[order[2]];
                w[3] = c[order[3]];
            }
            ma = (u64::from(sum4) * u64::from(self.ma_per_led) / (4 * 255)) as u32;
        } else {
            let [o0, o1, o2, _] = order;
            for (px, w) in shown.iter().zip(wire.chunks_exact_mut(3)) {
                let c = [px.r, px.g, px.b];
                w[0] = c[o0];
                w[1] = c[o1];
                w[2] = c[o2];
            }
        }
        self.power.milliamps = ma;
        self.power.limited = limited;
        self.power.budget_milliamps = self.budget_ma;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Output settings for tests; 60 mA per LED at full white.
    pub(in crate::engine) fn output(
        brightness: u8,
        gamma: f32,
        max_milliamps: u32,
    ) -> OutputConfig {
        OutputConfig {
            brightness: Brightness::new(brightness).unwrap(),
            gamma,
            max_milliamps,
            milliamps_per_led: 60,
        }
    }

    #[test]
    fn output_stage_applies_gamma_brightness_and_order() {
        let rgb = ChannelOrder::parse("rgb").unwrap();
        let mut s = OutputStage::new(&output(100, 1.0, 0), rgb);
        let frame = [Rgb::new(10, 128, 255)];
        let (mut shown, mut wire) = ([Rgb::BLACK], [0u8; 3]);
        s.apply(&frame, &mut shown, &mut wire);
        assert_eq!(shown[0], frame[0], "gamma 1 at 100 % is the identity");
        assert_eq!(wire, [10, 128, 255]);

        let mut s = OutputStage::new(&output(50, 2.2, 0), ChannelOrder::GRB);
        s.apply(&frame, &mut shown, &mut wire);
        // 128/255 ^ 2.2 * 0.5 * 255 = 27.6; 255 -> 127.5; 10 -> 0.
        assert_eq!(shown[0], Rgb::new(0, 28, 128));
        assert_eq!(wire, [28, 0, 128], "green first on the wire");

        s.set_brightness(Brightness::new(0).unwrap());
        s.apply(&frame, &mut shown, &mut wire);
        assert_eq!(wire, [0, 0, 0]);
        assert_eq!(s.power.milliamps, 0);
    }

    #[test]
    fn current_limiter_scales_down_to_the_budget() {
        let rgb = ChannelOrder::parse("rgb").unwrap();
        // 10 LEDs of full white draw 600 mA; the budget is 300.
        let mut s = OutputStage::new(&output(100, 1.0, 300), rgb);
        let frame = [Rgb::new(255, 255, 255); 10];
        let mut shown = [Rgb::BLACK; 10];
        let mut wire = [0u8; 30];
        s.apply(&frame, &mut shown, &mut wire);
        assert!(s.power.limited);
        assert!(
            s.power.milliamps <= 300 && s.power.milliamps >= 290,
            "{:?}",
            s.power
        );
        assert_eq!(s.power.budget_milliamps, 300);
        assert_eq!(shown[0], Rgb::new(127, 127, 127));
        assert!(wire.iter().all(|&b| b == 127));
        // Under budget: untouched.
        let dim = [Rgb::new(100, 0, 0); 10];
        s.apply(&dim, &mut shown, &mut wire);
        assert!(!s.power.limited);
        assert_eq!(shown[0], Rgb::new(100, 0, 0));
        assert_eq!(s.power.milliamps, 10 * 100 * 60 / 765);
    }
}
