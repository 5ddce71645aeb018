//! `[hooks.NAME]`: what each hook plays and what a request may change,
//! checked against what the animation takes (ledd would refuse the rest),
//! and the hook-name rule.

use std::collections::BTreeMap;

use tinsel_proto::{Animation, Param, PlayParams, PlaySeconds, Rgb, Speed};

use super::ConfigError;
use super::raw::RawHook;
use super::validate::Validator;
use crate::domain::hook::{Action, ColorChoice, Hook, valid_hook_name};
use tinsel_daemon::config::Validate;

impl Validator<'_> {
    pub(super) fn hooks(
        &self,
        raw: BTreeMap<String, RawHook>,
    ) -> Result<BTreeMap<String, Hook>, ConfigError> {
        let mut hooks = BTreeMap::new();
        for (name, h) in raw {
            let hook = self.hook(&name, h)?;
            hooks.insert(name, hook);
        }
        Ok(hooks)
    }

    fn hook(&self, name: &str, h: RawHook) -> Result<Hook, ConfigError> {
        let key = |k: &str| format!("hooks.{name}.{k}");
        if !valid_hook_name(name) {
            return Err(self.err(
                format!("hooks.{name}"),
                "a hook name is 1 to 64 of a-z, 0-9, - and _",
            ));
        }
        let color = h
            .color
            .as_deref()
            .map(|c| c.parse::<Rgb>())
            .transpose()
            .map_err(|e| self.err(key("color"), e.to_string()))?;
        let speed = h
            .speed
            .map(Speed::new)
            .transpose()
            .map_err(|e| self.err(key("speed"), e.to_string()))?;
        let duration = h
            .duration_secs
            .map(PlaySeconds::new)
            .transpose()
            .map_err(|e| self.err(key("duration_secs"), e.to_string()))?;
        let action = if h.animation.eq_ignore_ascii_case("off") {
            if color.is_some() || speed.is_some() || duration.is_some() {
                return Err(self.err(
                    key("animation"),
                    "\"off\" takes no color, speed or duration: remove them",
                ));
            }
            Action::Off
        } else {
            let animation = h.animation.parse::<Animation>().map_err(|e| {
                self.err(key("animation"), format!("`{}`: {e}, or off", h.animation))
            })?;
            let params = PlayParams {
                color,
                speed: speed.unwrap_or_default(),
                duration,
                fade: None,
            };
            // ledd refuses a parameter the animation does not use: say so
            // here, naming the key, rather than as a 502 at request time.
            if let Err(unused) = animation.check(&params) {
                let first = unused
                    .unused
                    .iter()
                    .next()
                    .map_or("animation", |p| match p {
                        Param::Color => "color",
                        Param::Speed => "speed",
                        Param::Duration => "duration_secs",
                    });
                return Err(self.err(key(first), unused.to_string()));
            }
            Action::Play { animation, params }
        };
        let request_colors = if h.request_colors.is_empty() {
            ColorChoice::None
        } else if h.request_colors.iter().any(|c| c == "*") {
            ColorChoice::Any
        } else {
            let list = h
                .request_colors
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    c.parse::<Rgb>().map(|rgb| (c.clone(), rgb)).map_err(|e| {
                        self.err(format!("hooks.{name}.request_colors[{i}]"), e.to_string())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            ColorChoice::Only(list)
        };
        if let Action::Play { animation, .. } = action {
            let takes = animation.accepts();
            for (asked, param, k) in [
                (
                    request_colors != ColorChoice::None,
                    Param::Color,
                    "request_colors",
                ),
                (h.request_speed, Param::Speed, "request_speed"),
                (h.request_duration, Param::Duration, "request_duration"),
            ] {
                if asked && !takes.contains(param) {
                    return Err(self.err(
                        key(k),
                        format!(
                            "{} takes {takes}, not {param}: remove {k} (ledd would refuse every such request)",
                            animation.name()
                        ),
                    ));
                }
            }
        }
        if action == Action::Off
            && (request_colors != ColorChoice::None || h.request_speed || h.request_duration)
        {
            return Err(self.err(
                key("animation"),
                "\"off\" takes no parameters, so request_colors, request_speed and request_duration must be unset",
            ));
        }
        let rate = h
            .rate
            .as_deref()
            .map(|text| self.rate(&key("rate"), text))
            .transpose()?;
        Ok(Hook {
            action,
            request_colors,
            request_speed: h.request_speed,
            request_duration: h.request_duration,
            rate,
        })
    }
}
