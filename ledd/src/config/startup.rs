//! `[startup]`: what the tree shows when ledd starts: an animation with its
//! parameters (as `ledctl play` and webd's hooks give them) and a
//! brightness, or dark. No section, or `animation = "off"`, is dark: a
//! power cut in the night must not light the tree up.
//!
//! The parameters are checked the way ledd checks a client's Play
//! ([`Animation::check`]): an animation that does not take a colour or a
//! speed is refused with one, so the file never names a parameter the
//! pixels would ignore.

use tinsel_proto::{Animation, Brightness, Param, PlayParams, Rgb, Speed};

use super::ConfigError;
use super::raw::RawStartup;
use super::validate::Validator;

/// What ledd shows at start, checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Startup {
    /// The animation and its parameters; `None` starts dark.
    pub play: Option<(Animation, PlayParams)>,
    /// The brightness to start at; `None` keeps `[output] brightness`.
    pub brightness: Option<Brightness>,
}

/// The `animation` value that means dark.
const OFF: &str = "off";

impl Validator<'_> {
    /// Checks `[startup]`.
    pub(super) fn startup(&self, raw: &RawStartup) -> Result<Startup, ConfigError> {
        let brightness = match raw.brightness {
            None => None,
            Some(n) => Some(
                u8::try_from(n)
                    .ok()
                    .and_then(|b| Brightness::new(b).ok())
                    .ok_or_else(|| {
                        self.invalid(
                            "startup.brightness",
                            n.to_string(),
                            "use 0 to 100 (percent), or leave it out to keep [output] brightness"
                                .into(),
                        )
                    })?,
            ),
        };
        let animation = match raw.animation.as_deref() {
            None => None,
            Some(name) if name.eq_ignore_ascii_case(OFF) => None,
            Some(name) => Some(name.parse::<Animation>().map_err(|e| {
                self.invalid(
                    "startup.animation",
                    format!("{name:?}"),
                    format!("{e}; or \"off\" to start dark"),
                )
            })?),
        };
        let color = match raw.color.as_deref() {
            None => None,
            Some(c) => Some(
                c.parse::<Rgb>()
                    .map_err(|e| self.invalid("startup.color", format!("{c:?}"), e.to_string()))?,
            ),
        };
        let speed = match raw.speed {
            None => Speed::DEFAULT,
            Some(n) => u16::try_from(n)
                .ok()
                .and_then(|s| Speed::new(s).ok())
                .ok_or_else(|| {
                    self.invalid(
                        "startup.speed",
                        n.to_string(),
                        format!(
                            "use {} to {} (percent of the animation's natural pace)",
                            Speed::MIN,
                            Speed::MAX
                        ),
                    )
                })?,
        };
        let params = PlayParams {
            color,
            speed,
            duration: None,
            fade: None,
        };
        let Some(animation) = animation else {
            // Dark takes no parameters: a colour or speed here is a
            // half-finished edit, not something to ignore.
            if let Some(param) = Param::ALL.into_iter().find(|p| params.given().contains(*p)) {
                let (key, value) = param_key(param, raw);
                return Err(self.invalid(
                    key,
                    value,
                    "ledd starts dark (no startup.animation, or \"off\"): set startup.animation, or leave this out".into(),
                ));
            }
            return Ok(Startup {
                play: None,
                brightness,
            });
        };
        if let Err(unused) = animation.check(&params) {
            let param = Param::ALL
                .into_iter()
                .find(|p| unused.unused.contains(*p))
                .unwrap_or(Param::Color);
            let (key, value) = param_key(param, raw);
            return Err(self.invalid(key, value, unused.to_string()));
        }
        Ok(Startup {
            play: Some((animation, params)),
            brightness,
        })
    }
}

/// The key and the value as written for a parameter of `[startup]`.
fn param_key(param: Param, raw: &RawStartup) -> (&'static str, String) {
    match param {
        Param::Color => (
            "startup.color",
            format!("{:?}", raw.color.as_deref().unwrap_or_default()),
        ),
        Param::Speed => (
            "startup.speed",
            raw.speed.map(|s| s.to_string()).unwrap_or_default(),
        ),
        Param::Duration => ("startup.animation", String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load_text;

    fn refused(text: &str) -> String {
        load_text(text).unwrap_err().to_string()
    }

    #[test]
    fn no_section_or_off_starts_dark() {
        assert_eq!(load_text("").unwrap().startup, Startup::default());
        let off = load_text("[startup]\nanimation = \"off\"\n").unwrap();
        assert_eq!(off.startup.play, None);
        assert_eq!(off.startup.brightness, None);
        let dim = load_text("[startup]\nbrightness = 20\n").unwrap();
        assert_eq!(dim.startup.play, None);
        assert_eq!(dim.startup.brightness, Some(Brightness::new(20).unwrap()));
    }

    #[test]
    fn an_animation_with_its_parameters_and_brightness() {
        let c = load_text(
            "[startup]\nanimation = \"fairy-lights\"\ncolor = \"warm-white\"\nspeed = 60\nbrightness = 30\n",
        )
        .unwrap();
        let (animation, params) = c.startup.play.unwrap();
        assert_eq!(animation, Animation::FairyLights);
        assert_eq!(params.color, Some(Rgb::new(255, 147, 41)));
        assert_eq!(params.speed.get(), 60);
        assert_eq!(params.duration, None);
        assert_eq!(c.startup.brightness, Some(Brightness::new(30).unwrap()));
        let rainbow = load_text("[startup]\nanimation = \"Rainbow\"\n").unwrap();
        assert_eq!(
            rainbow.startup.play,
            Some((Animation::Rainbow, PlayParams::default()))
        );
    }

    #[test]
    fn bad_values_name_the_key_the_value_and_the_file() {
        let cases = [
            ("animation = \"disco\"\n", "startup.animation", "\"disco\""),
            (
                "animation = \"solid\"\ncolor = \"mauve\"\n",
                "startup.color",
                "mauve",
            ),
            ("animation = \"comet\"\nspeed = 5\n", "startup.speed", "= 5"),
            (
                "animation = \"comet\"\nspeed = 70000\n",
                "startup.speed",
                "70000",
            ),
            ("brightness = 101\n", "startup.brightness", "101"),
            ("brightness = -1\n", "startup.brightness", "-1"),
        ];
        for (body, key, value) in cases {
            let err = refused(&format!("[startup]\n{body}"));
            assert!(err.contains(key), "{body}: {err}");
            assert!(err.contains(value), "{body}: {err}");
            assert!(err.contains("/etc/test.toml"), "{body}: {err}");
        }
        assert!(refused("[startup]\nanimation = \"disco\"\n").contains("\"off\""));
    }

    #[test]
    fn a_parameter_the_animation_does_not_take_is_refused() {
        let err = refused("[startup]\nanimation = \"rainbow\"\ncolor = \"red\"\n");
        assert!(err.contains("startup.color"), "{err}");
        assert!(
            err.contains("rainbow takes speed and duration, not color"),
            "{err}"
        );
        let err = refused("[startup]\nanimation = \"solid\"\ncolor = \"red\"\nspeed = 200\n");
        assert!(
            err.contains("startup.speed") && err.contains("200"),
            "{err}"
        );
        // Speed 100 is the natural pace: the same as none, so still fine.
        assert!(load_text("[startup]\nanimation = \"solid\"\nspeed = 100\n").is_ok());
        // Dark takes nothing.
        let err = refused("[startup]\ncolor = \"red\"\n");
        assert!(
            err.contains("startup.color") && err.contains("starts dark"),
            "{err}"
        );
        let err = refused("[startup]\nanimation = \"off\"\nspeed = 300\n");
        assert!(err.contains("startup.speed"), "{err}");
    }

    #[test]
    fn unknown_keys_in_startup_are_refused() {
        let err = refused("[startup]\nduration_secs = 60\n");
        assert!(err.contains("duration_secs"), "{err}");
    }
}
