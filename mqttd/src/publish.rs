//! What mqttd publishes: the Home Assistant discovery config (retained, on
//! `<prefix>/light/<node_id>/config`) and the light's state (retained, on
//! `<base>/state`), both JSON, built from the config and ledd's status.

use serde_json::{Value, json};
use tinsel_proto::{Animation, Status};

use crate::command::{FLASH_LONG_SECS, FLASH_SHORT_SECS, View, rgbw_of};
use crate::config::Config;

/// `online` on the availability topic.
pub const ONLINE: &str = "online";
/// `offline` on the availability topic: the last will, and what a clean
/// stop or a lost ledd publishes.
pub const OFFLINE: &str = "offline";

/// The light's icon in Home Assistant.
pub const ICON: &str = "mdi:pine-tree";

/// The discovery config for Home Assistant's MQTT JSON light, exposing
/// `effects` as its effect list. Home Assistant sends a flash as the
/// seconds of `flash_time_short` or `flash_time_long`, given here (they are
/// its defaults, stated so the config says what a flash lasts). Home
/// Assistant's discovery schema
/// (`homeassistant/components/mqtt/schemas.py`) takes `icon` ("prefix:name")
/// for the entity and `sw_version` and `configuration_url` (http, https)
/// for the device.
///
/// `white`: ledd's strip has a white channel (its Welcome says so), and
/// the light is offered in the `rgbw` colour mode instead of `rgb`
/// (mapped as [`crate::command::Color::to_rgb`] says).
pub fn discovery(config: &Config, effects: &[Animation], white: bool) -> Value {
    let id = format!("tinsel_{}", config.node_id);
    json!({
        "name": null,
        "unique_id": id,
        "schema": "json",
        "state_topic": config.state_topic(),
        "command_topic": config.command_topic(),
        "availability_topic": config.availability_topic(),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "brightness": true,
        "brightness_scale": 100,
        "supported_color_modes": [color_mode(white)],
        "effect": true,
        "effect_list": effects.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "flash_time_short": FLASH_SHORT_SECS,
        "flash_time_long": FLASH_LONG_SECS,
        "icon": ICON,
        "device": device(config),
        "origin": origin(),
    })
}

/// The light's one colour mode: `rgbw` on a strip with a white channel.
pub fn color_mode(white: bool) -> &'static str {
    if white { "rgbw" } else { "rgb" }
}

/// The device the light and the diagnostic sensors belong to.
pub fn device(config: &Config) -> Value {
    let mut d = json!({
        "identifiers": [format!("tinsel_{}", config.node_id)],
        "name": config.name,
        "model": "tinsel",
        "manufacturer": "tinsel",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    if let Some(url) = &config.configuration_url {
        d["configuration_url"] = json!(url);
    }
    d
}

/// What publishes the discovery configs.
pub fn origin() -> Value {
    json!({
        "name": "tinsel mqttd",
        "sw_version": env!("CARGO_PKG_VERSION"),
    })
}

/// What Home Assistant shows, from ledd's view; `effects` is the effect
/// list the discovery config announced.
///
/// `color_mode` goes only with a `color`: Home Assistant's JSON light reads
/// the colour whenever a state names a mode, and warns "Invalid or
/// incomplete color value" when it is missing (`_update_color` in
/// `homeassistant/components/mqtt/light/schema_json.py`). Without both it
/// keeps the light's one declared mode and the last colour shown. With
/// `white` (the `rgbw` mode) the colour is [`rgbw_of`] ledd's: the part
/// ledd puts on the white die as `w`, the rest as `r, g, b`.
///
/// `effect` names only an effect of the list: an animation outside it
/// (the self-test started with `ledctl`, one the config leaves out) is
/// `null`, which Home Assistant shows as no effect rather than a name its
/// effect picker does not hold.
pub fn state(view: &View, effects: &[Animation], white: bool) -> Value {
    let brightness = view.brightness.get();
    match view.playing {
        None => json!({ "state": "OFF", "brightness": brightness }),
        Some(p) => {
            let effect = effects.contains(&p.animation).then(|| p.animation.name());
            let mut v = json!({
                "state": "ON",
                "brightness": brightness,
                "effect": effect,
            });
            if let Some(c) = p.params.color {
                v["color_mode"] = json!(color_mode(white));
                v["color"] = if white {
                    let [r, g, b, w] = rgbw_of(c);
                    json!({ "r": r, "g": g, "b": b, "w": w })
                } else {
                    json!({ "r": c.r, "g": c.g, "b": c.b })
                };
            }
            v
        }
    }
}

/// The part of ledd's status that Home Assistant shows: what plays and the
/// brightness. Frame statistics change every poll and are left out, so a
/// state is published only when this changes.
pub fn view(status: &Status) -> View {
    View {
        playing: status.playing.map(|mut p| {
            // The seconds left tick down every poll; not part of the state.
            p.remaining_secs = None;
            // Nor is how the animation faded in (a bare ON resumes it
            // with ledd's own fade).
            p.params.fade = None;
            p
        }),
        brightness: status.brightness,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_proto::{Brightness, PlayParams, Playing, Rgb};

    #[test]
    fn the_discovery_config_names_every_topic_and_the_effects() {
        let config = crate::config::Config::parse_with(
            "ledd_socket = \"/s\"\nname = \"Hall tree\"\n[broker]\nhost = \"h\"\n",
            std::path::Path::new("/etc/tinsel/mqttd.toml"),
            None,
        )
        .unwrap();
        let d = discovery(&config, &[Animation::Fire, Animation::CandyCane], false);
        assert_eq!(d["schema"], "json");
        assert_eq!(d["command_topic"], "tinsel/hall_tree/set");
        assert_eq!(d["state_topic"], "tinsel/hall_tree/state");
        assert_eq!(d["availability_topic"], "tinsel/hall_tree/availability");
        assert_eq!(d["effect_list"], json!(["fire", "candy-cane"]));
        assert_eq!(d["supported_color_modes"], json!(["rgb"]));
        assert_eq!(d["device"]["name"], "Hall tree");
        assert_eq!(d["device"]["model"], "tinsel");
        assert_eq!(d["unique_id"], "tinsel_hall_tree");
        assert_eq!(d["device"]["identifiers"], json!(["tinsel_hall_tree"]));
        assert_eq!(d["flash_time_short"], 2);
        assert_eq!(d["flash_time_long"], 10);
        assert_eq!(d["icon"], "mdi:pine-tree");
        assert_eq!(d["device"]["sw_version"], env!("CARGO_PKG_VERSION"));
        assert!(d["device"].get("configuration_url").is_none(), "{d}");
        let config = crate::config::Config::parse_with(
            "ledd_socket = \"/s\"\nname = \"t\"\nconfiguration_url = \"https://tree.lan/\"\n[broker]\nhost = \"h\"\n",
            std::path::Path::new("/etc/tinsel/mqttd.toml"),
            None,
        )
        .unwrap();
        let d = discovery(&config, &[Animation::Fire], false);
        assert_eq!(d["device"]["configuration_url"], "https://tree.lan/");
        let d = discovery(&config, &[Animation::Fire], true);
        assert_eq!(d["supported_color_modes"], json!(["rgbw"]));
    }

    #[test]
    fn state_says_on_off_effect_colour_and_brightness() {
        let b = Brightness::new(40).unwrap();
        let off = View {
            playing: None,
            brightness: b,
        };
        assert_eq!(
            state(&off, &Animation::ALL, false),
            json!({"state":"OFF","brightness":40})
        );
        let on = View {
            playing: Some(Playing {
                animation: Animation::Comet,
                params: PlayParams {
                    color: Some(Rgb::new(1, 2, 3)),
                    ..PlayParams::default()
                },
                remaining_secs: None,
            }),
            brightness: b,
        };
        let s = state(&on, &Animation::ALL, false);
        assert_eq!(s["state"], "ON");
        assert_eq!(s["effect"], "comet");
        assert_eq!(s["color"], json!({"r":1,"g":2,"b":3}));
        assert_eq!(s["color_mode"], "rgb");
        // On an RGBW strip: the common part is the white.
        let s = state(&on, &Animation::ALL, true);
        assert_eq!(s["color"], json!({"r":0,"g":1,"b":2,"w":1}));
        assert_eq!(s["color_mode"], "rgbw");
    }

    #[test]
    fn an_animation_without_a_colour_names_no_colour_mode() {
        let fire = View {
            playing: Some(Playing {
                animation: Animation::Fire,
                params: PlayParams::default(),
                remaining_secs: None,
            }),
            brightness: Brightness::new(50).unwrap(),
        };
        assert_eq!(
            state(&fire, &Animation::ALL, true),
            json!({"state":"ON","effect":"fire","brightness":50})
        );
    }

    #[test]
    fn an_animation_outside_the_effect_list_is_no_effect() {
        let selftest = View {
            playing: Some(Playing {
                animation: Animation::SelfTest,
                params: PlayParams::default(),
                remaining_secs: None,
            }),
            brightness: Brightness::new(50).unwrap(),
        };
        assert_eq!(
            state(&selftest, &[Animation::Fire], false),
            json!({"state":"ON","effect":null,"brightness":50})
        );
    }
}
