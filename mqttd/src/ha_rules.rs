//! Home Assistant's rules for what mqttd publishes, written out from its
//! source (Core 2025.4.4, `homeassistant/components/mqtt/`) so that unit
//! tests hold every published shape to them: the discovery schemas
//! (`light/schema_json.py`, `sensor.py`, `schemas.py`, `config.py`; a key
//! they do not know is dropped without a word, so it is a fault here) and
//! what the JSON light does with a state message (`_state_received`,
//! `_update_color`), where a wrong shape costs a warning in Home
//! Assistant's log or the state itself.
//!
//! The other way, [`light_command`] writes the command payload the JSON
//! light sends for a `light.turn_on`/`turn_off` (`async_turn_on`,
//! `_set_flash_and_transition`, `_scale_rgbxx`), so that tests feed mqttd
//! exactly what Home Assistant sends.
//!
//! Each check returns what Home Assistant would complain about (empty: it
//! takes the payload silently). The tests at the bottom first show each
//! check catching the fault it is for, then run every shape mqttd can
//! publish through them.

use serde_json::Value;

/// `MQTT_BASE_SCHEMA` (config.py) and `MQTT_ENTITY_COMMON_SCHEMA` with its
/// availability part (schemas.py): keys every MQTT entity takes.
const COMMON_KEYS: &[&str] = &[
    "qos",
    "encoding",
    "availability_topic",
    "availability_template",
    "payload_available",
    "payload_not_available",
    "availability_mode",
    "availability",
    "device",
    "entity_picture",
    "origin",
    "enabled_by_default",
    "entity_category",
    "icon",
    "json_attributes_topic",
    "json_attributes_template",
    "object_id",
    "unique_id",
];

/// `_PLATFORM_SCHEMA_BASE` of light/schema_json.py, with `MQTT_RW_SCHEMA`
/// and `MQTT_LIGHT_SCHEMA_SCHEMA`.
const LIGHT_JSON_KEYS: &[&str] = &[
    "command_topic",
    "optimistic",
    "retain",
    "state_topic",
    "brightness",
    "brightness_scale",
    "color_temp_kelvin",
    "effect",
    "effect_list",
    "flash_time_long",
    "flash_time_short",
    "max_mireds",
    "min_mireds",
    "max_kelvin",
    "min_kelvin",
    "name",
    "supported_color_modes",
    "white_scale",
    "schema",
];

/// `_PLATFORM_SCHEMA_BASE` of sensor.py, with `MQTT_RO_SCHEMA`.
const SENSOR_KEYS: &[&str] = &[
    "state_topic",
    "value_template",
    "device_class",
    "expire_after",
    "force_update",
    "last_reset_value_template",
    "name",
    "options",
    "suggested_display_precision",
    "state_class",
    "unit_of_measurement",
];

/// `MQTT_ENTITY_DEVICE_INFO_SCHEMA` (schemas.py).
const DEVICE_KEYS: &[&str] = &[
    "identifiers",
    "connections",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "hw_version",
    "serial_number",
    "sw_version",
    "via_device",
    "suggested_area",
    "configuration_url",
];

/// `MQTT_ORIGIN_INFO_SCHEMA` (schemas.py).
const ORIGIN_KEYS: &[&str] = &["name", "sw_version", "support_url"];

/// `VALID_COLOR_MODES` (components/light).
const COLOR_MODES: &[&str] = &[
    "onoff",
    "brightness",
    "color_temp",
    "hs",
    "xy",
    "rgb",
    "rgbw",
    "rgbww",
    "white",
];

/// `SensorStateClass` (components/sensor/const.py).
const STATE_CLASSES: &[&str] = &["measurement", "total", "total_increasing"];

/// The units `DEVICE_CLASS_UNITS` allows for the device classes mqttd
/// uses; any other device class is a fault here until it is added.
fn device_class_units(class: &str) -> Option<&'static [&'static str]> {
    match class {
        // UnitOfElectricCurrent.
        "current" => Some(&["A", "mA"]),
        _ => None,
    }
}

fn unknown_keys(v: &Value, known: &[&[&str]], what: &str, out: &mut Vec<String>) {
    let Some(map) = v.as_object() else {
        out.push(format!("{what} is not a JSON object: {v}"));
        return;
    };
    for k in map.keys() {
        if !known.iter().any(|set| set.contains(&k.as_str())) {
            out.push(format!("{what}: key {k:?} is not in the schema (dropped)"));
        }
    }
}

fn common(d: &Value, out: &mut Vec<String>) {
    if let Some(dev) = d.get("device") {
        unknown_keys(dev, &[DEVICE_KEYS], "device", out);
        if dev["identifiers"].as_array().is_none_or(|a| a.is_empty()) {
            out.push(format!("device without identifiers: {dev}"));
        }
    }
    if let Some(o) = d.get("origin") {
        unknown_keys(o, &[ORIGIN_KEYS], "origin", out);
        if !o["name"].is_string() {
            out.push(format!("origin needs a name: {o}"));
        }
    }
    // `cv.icon`: "prefix:name".
    if let Some(icon) = d.get("icon")
        && !icon.as_str().is_some_and(|i| {
            i.split_once(':')
                .is_some_and(|(p, n)| !p.is_empty() && !n.is_empty())
        })
    {
        out.push(format!("icon {icon} is not \"prefix:name\""));
    }
    if let Some(c) = d.get("entity_category")
        && c != "config"
        && c != "diagnostic"
    {
        out.push(format!(
            "entity_category {c} is neither config nor diagnostic"
        ));
    }
    if !d["unique_id"].is_string() {
        out.push("no unique_id: Home Assistant cannot rename or delete the entity".into());
    }
}

fn positive_int(d: &Value, key: &str, min: u64, out: &mut Vec<String>) {
    if let Some(v) = d.get(key)
        && v.as_u64().is_none_or(|n| n < min)
    {
        out.push(format!("{key} {v} is not an integer >= {min}"));
    }
}

/// The JSON light's discovery config: `DISCOVERY_SCHEMA_JSON`.
pub fn light_discovery(d: &Value) -> Vec<String> {
    let mut out = Vec::new();
    unknown_keys(d, &[COMMON_KEYS, LIGHT_JSON_KEYS], "light config", &mut out);
    common(d, &mut out);
    if d["schema"] != "json" {
        out.push(format!("schema {} is not \"json\"", d["schema"]));
    }
    if !d["command_topic"].is_string() {
        out.push("command_topic is required".into());
    }
    positive_int(d, "brightness_scale", 1, &mut out);
    positive_int(d, "flash_time_short", 0, &mut out);
    positive_int(d, "flash_time_long", 0, &mut out);
    if let Some(modes) = d.get("supported_color_modes") {
        let modes: Vec<&str> = modes
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if modes.is_empty() || modes.iter().any(|m| !COLOR_MODES.contains(m)) {
            out.push(format!("supported_color_modes {modes:?}"));
        }
        // `valid_supported_color_modes`: onoff and brightness only alone.
        if modes.len() > 1 && modes.iter().any(|m| *m == "onoff" || *m == "brightness") {
            out.push(format!(
                "supported_color_modes {modes:?}: onoff/brightness must be alone"
            ));
        }
    }
    if let Some(list) = d.get("effect_list")
        && !list
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string))
    {
        out.push(format!("effect_list {list} is not a list of strings"));
    }
    out
}

/// A state message to the JSON light with discovery config `d`:
/// `MqttLightJson._state_received`.
pub fn light_state(d: &Value, s: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(map) = s.as_object() else {
        return vec![format!(
            "state {s} is not a JSON object (json_loads_object raises)"
        )];
    };
    // `values["state"]`: a KeyError for a missing one.
    match map.get("state") {
        Some(v) if v == "ON" || v == "OFF" || v.is_null() => {}
        Some(v) => out.push(format!("state {v} is neither ON, OFF nor null")),
        None => out.push("no \"state\" key: _state_received raises KeyError".into()),
    }
    let modes: Vec<&str> = d["supported_color_modes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(mode) = map.get("color_mode") {
        // `_update_color`.
        let mode = mode.as_str().unwrap_or("");
        if !modes.contains(&mode) {
            out.push(format!("Invalid color mode '{mode}'"));
        } else {
            let channels: &[&str] = match mode {
                "rgb" => &["r", "g", "b"],
                "rgbw" => &["r", "g", "b", "w"],
                "rgbww" => &["r", "g", "b", "c", "w"],
                "hs" => &["h", "s"],
                "xy" => &["x", "y"],
                _ => &[],
            };
            let color = map.get("color");
            for c in channels {
                let ok = color
                    .and_then(|col| col.get(c))
                    .is_some_and(|v| v.as_f64().is_some());
                if !ok {
                    out.push(format!("Invalid or incomplete color value '{s}'"));
                    break;
                }
            }
            if mode == "color_temp" && !map.get("color_temp").is_some_and(Value::is_number) {
                out.push(format!("Invalid or incomplete color value '{s}'"));
            }
        }
    }
    // Brightness, when the modes imply it (every mode but onoff).
    if !modes.is_empty()
        && modes != ["onoff"]
        && let Some(b) = map.get("brightness")
    {
        let scale = d["brightness_scale"].as_f64().unwrap_or(255.0);
        match b.as_f64() {
            // `if brightness := values["brightness"]`: 0 and null are skipped.
            Some(0.0) => {}
            Some(n) if (1.0..=scale).contains(&n) => {}
            Some(n) => out.push(format!(
                "brightness {n} is outside 1-{scale} (brightness_scale): Home Assistant shows it wrong"
            )),
            None if b.is_null() => {}
            None => out.push(format!("Invalid brightness value '{b}'")),
        }
    }
    if let Some(e) = map.get("effect") {
        match e.as_str() {
            None if e.is_null() => {}
            None => out.push(format!("effect {e} is not a string")),
            Some(name) => {
                let listed = d["effect_list"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x == name));
                if !listed {
                    out.push(format!("effect {name:?} is not in the effect_list"));
                }
            }
        }
    }
    out
}

/// A `light.turn_on` (`on`) or `light.turn_off` service call's data, in
/// Home Assistant's units (brightness 0-255, transition in seconds, flash
/// "short"/"long"), already converted by the light component into a
/// colour mode the light supports.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// turn_on (else turn_off).
    pub on: bool,
    /// `brightness`, 0-255.
    pub brightness: Option<u8>,
    /// `rgb_color`.
    pub rgb: Option<[u8; 3]>,
    /// `rgbw_color`.
    pub rgbw: Option<[u8; 4]>,
    /// `effect`.
    pub effect: Option<&'static str>,
    /// `transition`, seconds (the light component clamps it to 0-6553).
    pub transition: Option<f64>,
    /// `flash`: "short" or "long".
    pub flash: Option<&'static str>,
}

/// The command the JSON light with discovery config `d` publishes for
/// `call`: `async_turn_on`/`async_turn_off`. A colour in a mode the light
/// does not support is left out, as Home Assistant does.
pub fn light_command(d: &Value, call: &Call) -> Value {
    let mut m = serde_json::Map::new();
    let modes: Vec<&str> = d["supported_color_modes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let set = |m: &mut serde_json::Map<String, Value>, k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    set(
        &mut m,
        "state",
        Value::from(if call.on { "ON" } else { "OFF" }),
    );
    if call.on {
        // `_scale_rgbxx`: with `brightness: true`, colours go unscaled.
        let scale = if d["brightness"] == true {
            255.0
        } else {
            f64::from(call.brightness.unwrap_or(255))
        };
        let scaled = |v: u8| (f64::from(v) / 255.0 * scale).round() as u64;
        if let Some([r, g, b]) = call.rgb.filter(|_| modes.contains(&"rgb")) {
            set(
                &mut m,
                "color",
                serde_json::json!({"r": scaled(r), "g": scaled(g), "b": scaled(b)}),
            );
        }
        if let Some([r, g, b, w]) = call.rgbw.filter(|_| modes.contains(&"rgbw")) {
            set(
                &mut m,
                "color",
                serde_json::json!({"r": scaled(r), "g": scaled(g), "b": scaled(b), "w": scaled(w)}),
            );
        }
    }
    if let Some(t) = call.transition {
        set(&mut m, "transition", Value::from(t));
    }
    // `_set_flash_and_transition`: the configured seconds.
    match call.flash {
        Some("long") => set(&mut m, "flash", d["flash_time_long"].clone()),
        Some("short") => set(&mut m, "flash", d["flash_time_short"].clone()),
        _ => {}
    }
    if call.on {
        if let Some(b) = call.brightness {
            // `brightness_to_value((1, scale), b)`, then at least 1.
            let scale = d["brightness_scale"].as_f64().unwrap_or(255.0);
            let v = (f64::from(b) * scale / 255.0).round().max(1.0);
            set(&mut m, "brightness", Value::from(v as u64));
        }
        if let Some(e) = call.effect {
            set(&mut m, "effect", Value::from(e));
        }
    }
    Value::Object(m)
}

/// An MQTT sensor's discovery config: `DISCOVERY_SCHEMA` and
/// `validate_sensor_state_and_device_class_config` of sensor.py.
pub fn sensor_discovery(d: &Value) -> Vec<String> {
    let mut out = Vec::new();
    unknown_keys(d, &[COMMON_KEYS, SENSOR_KEYS], "sensor config", &mut out);
    common(d, &mut out);
    if !d["state_topic"].is_string() {
        out.push("state_topic is required".into());
    }
    if let Some(c) = d.get("state_class")
        && !c.as_str().is_some_and(|c| STATE_CLASSES.contains(&c))
    {
        out.push(format!("state_class {c}"));
    }
    if d.get("options").is_some() {
        out.push("options is for enum sensors only".into());
    }
    if let Some(class) = d.get("device_class") {
        let class = class.as_str().unwrap_or("");
        match (device_class_units(class), d["unit_of_measurement"].as_str()) {
            (None, _) => out.push(format!(
                "device_class {class:?} is not one these rules know"
            )),
            (Some(units), Some(u)) if !units.contains(&u) => out.push(format!(
                "The unit of measurement `{u}` is not valid together with device class `{class}`"
            )),
            _ => {}
        }
    }
    positive_int(d, "suggested_display_precision", 0, &mut out);
    out
}

/// A value on a sensor's state topic. With a `state_class` or a unit the
/// sensor is numeric (`_numeric_state_expected`): anything but a number
/// (or an empty payload, skipped) is an error when the state is written.
pub fn sensor_value(d: &Value, payload: &str) -> Vec<String> {
    let numeric = d.get("state_class").is_some() || d.get("unit_of_measurement").is_some();
    if numeric && !payload.is_empty() && !payload.parse::<f64>().is_ok_and(f64::is_finite) {
        return vec![format!("sensor value {payload:?} is not numeric")];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::View;
    use crate::config::Config;
    use crate::{publish, sensors};
    use serde_json::json;
    use tinsel_proto::{
        Animation, Brightness, FrameStats, Param, PlayParams, Playing, Power, Rgb, Status,
    };

    fn config(extra: &str) -> Config {
        Config::parse_with(
            &format!("ledd_socket = \"/s\"\nname = \"Hall tree\"\n{extra}[broker]\nhost = \"h\"\n"),
            std::path::Path::new("/etc/tinsel/mqttd.toml"),
            None,
        )
        .unwrap()
    }

    fn said(faults: &[String], needle: &str) -> bool {
        faults.iter().any(|f| f.contains(needle))
    }

    /// Each check catches what it is for (the rules can fail).
    #[test]
    fn the_rules_catch_the_faults_they_are_for() {
        let d = publish::discovery(&config(""), &[Animation::Fire, Animation::Comet], false);
        assert_eq!(light_discovery(&d), Vec::<String>::new());
        let state = |s: Value| light_state(&d, &s);
        let f = state(json!({"state":"ON","effect":"fire","brightness":50,"color_mode":"rgb"}));
        assert!(said(&f, "Invalid or incomplete color value"), "{f:?}");
        let f = state(json!({"state":"ON","color_mode":"hs","color":{"h":1,"s":2}}));
        assert!(said(&f, "Invalid color mode 'hs'"), "{f:?}");
        let f = state(json!({"state":"ON","effect":"selftest"}));
        assert!(said(&f, "not in the effect_list"), "{f:?}");
        let f = state(json!({"state":"ON","brightness":255}));
        assert!(said(&f, "outside 1-100"), "{f:?}");
        let f = state(json!({"state":"ON","brightness":"full"}));
        assert!(said(&f, "Invalid brightness value"), "{f:?}");
        assert!(said(&state(json!({"brightness":5})), "KeyError"));
        assert!(said(&state(json!({"state":"on"})), "neither"));
        // An RGB light given rgbw, an RGBW light given rgb or no white.
        let f = state(json!({"state":"ON","color_mode":"rgbw","color":{"r":1,"g":2,"b":3,"w":4}}));
        assert!(said(&f, "Invalid color mode 'rgbw'"), "{f:?}");
        let dw = publish::discovery(&config(""), &[Animation::Fire], true);
        let f = light_state(
            &dw,
            &json!({"state":"ON","color_mode":"rgb","color":{"r":1,"g":2,"b":3}}),
        );
        assert!(said(&f, "Invalid color mode 'rgb'"), "{f:?}");
        let f = light_state(
            &dw,
            &json!({"state":"ON","color_mode":"rgbw","color":{"r":1,"g":2,"b":3}}),
        );
        assert!(said(&f, "Invalid or incomplete color value"), "{f:?}");
        let mut bad = d.clone();
        bad["flash"] = json!(false);
        bad["supported_color_modes"] = json!(["rgb", "brightness"]);
        bad["icon"] = json!("pine-tree");
        let f = light_discovery(&bad);
        assert!(said(&f, "key \"flash\""), "{f:?}");
        assert!(said(&f, "must be alone"), "{f:?}");
        assert!(said(&f, "prefix:name"), "{f:?}");

        let s = sensors::discovery(&config(""), &sensors::MILLIAMPS);
        assert_eq!(sensor_discovery(&s), Vec::<String>::new());
        let mut bad = s.clone();
        bad["unit_of_measurement"] = json!("W");
        bad["state_class"] = json!("total_decreasing");
        bad["entity_category"] = json!("debug");
        bad["value"] = json!(1);
        let f = sensor_discovery(&bad);
        for needle in ["`W`", "state_class", "entity_category", "key \"value\""] {
            assert!(said(&f, needle), "{needle}: {f:?}");
        }
        assert!(said(&sensor_value(&s, "12 mA"), "not numeric"));
        assert!(said(&sensor_value(&s, "NaN"), "not numeric"));
    }

    #[test]
    fn every_discovery_config_passes() {
        for extra in [
            "",
            "configuration_url = \"https://tree.home.arpa/\"\n",
            "effects = [\"fire\", \"selftest\"]\n",
        ] {
            let c = config(extra);
            for white in [false, true] {
                let d = publish::discovery(&c, &c.wanted_effects(), white);
                assert_eq!(light_discovery(&d), Vec::<String>::new(), "{extra}: {d}");
            }
            for s in &sensors::ALL {
                let d = sensors::discovery(&c, s);
                assert_eq!(sensor_discovery(&d), Vec::<String>::new(), "{extra}: {d}");
            }
        }
    }

    /// Every state mqttd can publish: each animation, with and without
    /// the colours it takes, at the edges of brightness, with the full
    /// effect list and a narrow one, on and off.
    #[test]
    fn every_state_passes_the_json_lights_checks() {
        let c = config("");
        let lists = [Animation::ALL.to_vec(), vec![Animation::Fire], Vec::new()];
        let mut checked = 0;
        for (effects, white) in lists.iter().flat_map(|l| [(l, false), (l, true)]) {
            let d = publish::discovery(&c, effects, white);
            for b in [0, 1, 50, 100] {
                let brightness = Brightness::new(b).unwrap();
                let off = View {
                    playing: None,
                    brightness,
                };
                let s = publish::state(&off, effects, white);
                assert_eq!(light_state(&d, &s), Vec::<String>::new(), "{s}");
                for a in Animation::ALL {
                    let colours: &[Option<Rgb>] = if a.accepts().contains(Param::Color) {
                        &[
                            None,
                            Some(Rgb::new(0, 0, 0)),
                            Some(Rgb::new(255, 120, 0)),
                            Some(Rgb::new(255, 255, 255)),
                            Some(Rgb::new(200, 210, 220)),
                        ]
                    } else {
                        &[None]
                    };
                    for &color in colours {
                        let on = View {
                            playing: Some(Playing {
                                animation: a,
                                params: PlayParams {
                                    color,
                                    ..PlayParams::default()
                                },
                                remaining_secs: None,
                            }),
                            brightness,
                        };
                        let s = publish::state(&on, effects, white);
                        assert_eq!(light_state(&d, &s), Vec::<String>::new(), "{s}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100, "{checked}");
    }

    fn lit(animation: Animation, color: Option<Rgb>) -> View {
        View {
            playing: Some(Playing {
                animation,
                params: PlayParams {
                    color,
                    ..PlayParams::default()
                },
                remaining_secs: None,
            }),
            brightness: Brightness::new(50).unwrap(),
        }
    }

    /// What Home Assistant sends for each service call mqttd's discovery
    /// config allows: parsed, planned, and the plan is what the call meant.
    #[test]
    fn every_command_home_assistant_sends_does_what_it_means() {
        use crate::command::{self, Plan};
        use tinsel_proto::{FadeMillis, Request};
        let c = config("");
        let effects = c.wanted_effects();
        let plan = |d: &Value, call: Call, view: &View| -> (Value, Plan) {
            let cmd = light_command(d, &call);
            let parsed = command::parse(cmd.to_string().as_bytes(), 1024).unwrap();
            (
                cmd.clone(),
                command::plan(&parsed, view, &effects, None).unwrap(),
            )
        };
        let play_of = |p: &Plan| match p.request {
            Some(Request::Play { animation, params }) => (animation, params),
            ref other => panic!("no play: {other:?}"),
        };
        let rgb = publish::discovery(&c, &effects, false);
        let rgbw = publish::discovery(&c, &effects, true);
        let dark = View {
            playing: None,
            brightness: Brightness::new(50).unwrap(),
        };
        // transition with an effect: the crossfade, to the millisecond.
        for (secs, ms) in [(5.0, 5000), (0.25, 250), (0.0004, 0), (60.0, 60_000)] {
            let on = Call {
                on: true,
                effect: Some("rainbow"),
                transition: Some(secs),
                ..Call::default()
            };
            let (cmd, p) = plan(&rgb, on, &dark);
            assert_eq!(cmd["transition"], secs, "{cmd}");
            let (a, params) = play_of(&p);
            assert_eq!(a, Animation::Rainbow);
            assert_eq!(params.fade, Some(FadeMillis::new(ms).unwrap()), "{cmd}");
            assert!(p.dropped.is_empty(), "{cmd}: {:?}", p.dropped);
        }
        // The light component allows up to 6553 s; over ledd's minute the
        // transition is dropped with its reason, the effect still played.
        let (cmd, p) = plan(
            &rgb,
            Call {
                on: true,
                effect: Some("fire"),
                transition: Some(6553.0),
                ..Call::default()
            },
            &dark,
        );
        assert_eq!(play_of(&p).1.fade, None, "{cmd}");
        assert!(said(&p.dropped, "transition 6553 s"), "{:?}", p.dropped);
        // turn_off with a transition: fade to dark over it.
        let (cmd, p) = plan(
            &rgb,
            Call {
                transition: Some(2.5),
                ..Call::default()
            },
            &lit(Animation::Fire, None),
        );
        assert_eq!(cmd, json!({"state":"OFF","transition":2.5}));
        assert_eq!(
            p.request,
            Some(Request::FadeOff(FadeMillis::new(2500).unwrap()))
        );
        let (_, p) = plan(&rgb, Call::default(), &lit(Animation::Fire, None));
        assert_eq!(p.request, Some(Request::Off));
        // rgbw: white reaches ledd as the common part of its colour, and
        // the state shows what was asked.
        for (asked, ledd) in [
            ([0, 0, 0, 200], Rgb::new(200, 200, 200)),
            ([255, 0, 0, 100], Rgb::new(255, 100, 100)),
            ([0, 60, 255, 30], Rgb::new(30, 90, 255)),
        ] {
            let (cmd, p) = plan(
                &rgbw,
                Call {
                    on: true,
                    rgbw: Some(asked),
                    brightness: Some(255),
                    ..Call::default()
                },
                &dark,
            );
            let (a, params) = play_of(&p);
            assert_eq!((a, params.color), (Animation::Solid, Some(ledd)), "{cmd}");
            assert_eq!(p.brightness, Some(Brightness::new(100).unwrap()));
            let shown = publish::state(&lit(a, params.color), &effects, true);
            assert_eq!(light_state(&rgbw, &shown), Vec::<String>::new());
            let [r, g, b, w] = asked;
            if r.min(g).min(b) == 0
                && [r, g, b]
                    .iter()
                    .all(|&x| u16::from(x) + u16::from(w) <= 255)
            {
                assert_eq!(shown["color"], json!({"r":r,"g":g,"b":b,"w":w}), "{cmd}");
            }
        }
        // An rgb light sends no white, an rgbw light no rgb.
        let (cmd, _) = plan(
            &rgb,
            Call {
                on: true,
                rgb: Some([1, 2, 3]),
                ..Call::default()
            },
            &dark,
        );
        assert_eq!(cmd["color"], json!({"r":1,"g":2,"b":3}));
        let cmd = light_command(
            &rgbw,
            &Call {
                on: true,
                rgb: Some([1, 2, 3]),
                ..Call::default()
            },
        );
        assert!(cmd.get("color").is_none(), "{cmd}");
        // flash: the configured seconds, a timed play.
        let (cmd, p) = plan(
            &rgbw,
            Call {
                on: true,
                flash: Some("long"),
                ..Call::default()
            },
            &lit(Animation::Solid, Some(Rgb::new(9, 9, 9))),
        );
        assert_eq!(cmd["flash"], 10);
        assert!(p.flash.is_some(), "{cmd}");
    }

    #[test]
    fn every_sensor_value_is_a_number_home_assistant_takes() {
        let c = config("");
        for (ma, fps, late) in [
            (0, 0, 0),
            (2000, 59_987, 12),
            (u32::MAX, u32::MAX, u64::MAX),
        ] {
            let status = Status {
                playing: None,
                brightness: Brightness::DEFAULT,
                led_count: 150,
                target_fps: 60,
                stats: FrameStats {
                    fps_milli: fps,
                    late_frames: late,
                    ..FrameStats::default()
                },
                power: Power {
                    milliamps: ma,
                    budget_milliamps: 0,
                    limited: false,
                },
            };
            for (s, v) in sensors::ALL.iter().zip(sensors::values(&status)) {
                let d = sensors::discovery(&c, s);
                assert_eq!(sensor_value(&d, &v), Vec::<String>::new(), "{v}");
            }
        }
    }
}
