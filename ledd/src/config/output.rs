//! `[output]`: brightness at start, gamma and the current budget, checked
//! into [`OutputConfig`], which the engine's output stage is built from.

use tinsel_proto::Brightness;

use crate::strip::kind::StripKind;

use super::ConfigError;
use super::raw::RawOutput;
use super::validate::Validator;

/// The default gamma exponent (the usual value for WS2812 LEDs).
pub const DEFAULT_GAMMA: f32 = 2.2;
/// The default current budget: a 5 V 2.5 A supply, less what the Pi takes.
pub const DEFAULT_MAX_MILLIAMPS: u32 = 2000;

/// The output section, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfig {
    /// The brightness at start.
    pub brightness: Brightness,
    /// The gamma exponent, 1.0 to 3.0.
    pub gamma: f32,
    /// The current budget in mA; 0 means no limit.
    pub max_milliamps: u32,
    /// The current of one LED at full white, in mA.
    pub milliamps_per_led: u16,
}

impl Validator<'_> {
    /// Checks `[output]`; `kind` (the strip's LED part) gives the default
    /// current per LED.
    pub(super) fn output(
        &self,
        raw: &RawOutput,
        kind: StripKind,
    ) -> Result<OutputConfig, ConfigError> {
        let brightness = match raw.brightness {
            None => Brightness::DEFAULT,
            Some(n) => u8::try_from(n)
                .ok()
                .and_then(|b| Brightness::new(b).ok())
                .ok_or_else(|| {
                    self.invalid(
                        "output.brightness",
                        n.to_string(),
                        "use 0 to 100 (percent)".into(),
                    )
                })?,
        };

        let gamma = match raw.gamma {
            None => DEFAULT_GAMMA,
            Some(g) if (1.0..=3.0).contains(&g) => g as f32,
            Some(g) => {
                return Err(self.invalid(
                    "output.gamma",
                    g.to_string(),
                    "use 1.0 (no correction) to 3.0; 2.2 suits WS2812".into(),
                ));
            }
        };

        let max_milliamps = match raw.max_milliamps {
            None => DEFAULT_MAX_MILLIAMPS,
            Some(n) if n == 0 || (100..=100_000).contains(&n) => n as u32,
            Some(n) => {
                return Err(self.invalid(
                    "output.max_milliamps",
                    n.to_string(),
                    "use 0 (no limit) or 100 to 100000 mA".into(),
                ));
            }
        };

        let milliamps_per_led = match raw.milliamps_per_led {
            None => kind.milliamps_per_led() as u16,
            Some(n) if (1..=200).contains(&n) => n as u16,
            Some(n) => {
                return Err(self.invalid(
                    "output.milliamps_per_led",
                    n.to_string(),
                    format!(
                        "use 1 to 200 mA (the default for {kind} is {})",
                        kind.milliamps_per_led()
                    ),
                ));
            }
        };

        Ok(OutputConfig {
            brightness,
            gamma,
            max_milliamps,
            milliamps_per_led,
        })
    }
}
