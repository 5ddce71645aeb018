//! The diagnostic sensors: what only tinsel knows about the tree, as Home
//! Assistant MQTT sensors on the light's device (`entity_category:
//! diagnostic`): the current limiter's estimated draw, the frame rate and
//! the late frames, all from ledd's `Status`.
//!
//! Each sensor has its own discovery config
//! (`<prefix>/sensor/<node_id>/<object_id>/config`, retained) and its own
//! value topic (`<base>/<object_id>`, retained) holding a bare number, so
//! Home Assistant needs no value template. The daemon reads ledd every
//! `[sensors] interval_secs` and publishes a value only when it changed:
//! the broker sees a few small messages a minute at most. With `[sensors]
//! enabled = false` mqttd publishes empty retained configs (and values), which
//! makes Home Assistant delete the entities.
//!
//! The shapes follow Home Assistant 2025.4's MQTT sensor schema
//! (`homeassistant/components/mqtt/sensor.py`): `device_class: current`
//! takes `mA` (`DEVICE_CLASS_UNITS`); a `state_class` makes the value
//! numeric; the late-frame counter restarts with ledd, which is what
//! `total_increasing` means.

use serde_json::{Value, json};
use tinsel_proto::Status;

use crate::config::Config;
use crate::publish::{self, OFFLINE, ONLINE};

/// One diagnostic sensor, as announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sensor {
    /// The last part of its topics and unique id.
    pub object_id: &'static str,
    /// The entity's name (Home Assistant shows it after the device's).
    pub name: &'static str,
    /// Home Assistant's device class, if one fits.
    pub device_class: Option<&'static str>,
    /// The unit of the value.
    pub unit: &'static str,
    /// `measurement` or `total_increasing`.
    pub state_class: &'static str,
    /// Decimals Home Assistant shows.
    pub precision: u8,
    /// The icon, where the device class gives none.
    pub icon: Option<&'static str>,
}

/// The current limiter's estimate of the last frame, after limiting.
pub const MILLIAMPS: Sensor = Sensor {
    object_id: "milliamps",
    name: "Estimated current",
    device_class: Some("current"),
    unit: "mA",
    state_class: "measurement",
    precision: 0,
    icon: None,
};

/// Frames per second, measured by ledd over the last second.
pub const FPS: Sensor = Sensor {
    object_id: "fps",
    name: "Frame rate",
    device_class: None,
    unit: "fps",
    state_class: "measurement",
    precision: 1,
    icon: Some("mdi:speedometer"),
};

/// Frames that started more than a tenth of a period late, since ledd
/// started (a busy or slow Pi).
pub const LATE_FRAMES: Sensor = Sensor {
    object_id: "late_frames",
    name: "Late frames",
    device_class: None,
    unit: "frames",
    state_class: "total_increasing",
    precision: 0,
    icon: Some("mdi:timer-alert-outline"),
};

/// Every sensor, in the order [`values`] gives their values.
pub const ALL: [Sensor; 3] = [MILLIAMPS, FPS, LATE_FRAMES];

/// The values of [`ALL`] as published: bare numbers. The frame rate is
/// rounded to a tenth, so a rate that jitters by a thousandth is no change.
pub fn values(status: &Status) -> [String; 3] {
    let tenths = status.stats.fps_milli.saturating_add(50) / 100;
    [
        status.power.milliamps.to_string(),
        format!("{}.{}", tenths / 10, tenths % 10),
        status.stats.late_frames.to_string(),
    ]
}

/// The discovery config of `sensor`: on the light's device, available when
/// the light is (the same availability topic).
pub fn discovery(config: &Config, sensor: &Sensor) -> Value {
    let mut d = json!({
        "name": sensor.name,
        "unique_id": format!("tinsel_{}_{}", config.node_id, sensor.object_id),
        "state_topic": config.sensor_topic(sensor.object_id),
        "availability_topic": config.availability_topic(),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "unit_of_measurement": sensor.unit,
        "state_class": sensor.state_class,
        "suggested_display_precision": sensor.precision,
        "entity_category": "diagnostic",
        "device": publish::device(config),
        "origin": publish::origin(),
    });
    if let Some(class) = sensor.device_class {
        d["device_class"] = json!(class);
    }
    if let Some(icon) = sensor.icon {
        d["icon"] = json!(icon);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_proto::{Brightness, FrameStats, Power};

    fn config() -> Config {
        Config::parse_with(
            "ledd_socket = \"/s\"\nname = \"Hall tree\"\n[broker]\nhost = \"h\"\n",
            std::path::Path::new("/etc/tinsel/mqttd.toml"),
            None,
        )
        .unwrap()
    }

    fn status(milliamps: u32, fps_milli: u32, late_frames: u64) -> Status {
        Status {
            playing: None,
            brightness: Brightness::DEFAULT,
            led_count: 150,
            target_fps: 60,
            stats: FrameStats {
                fps_milli,
                late_frames,
                ..FrameStats::default()
            },
            power: Power {
                milliamps,
                budget_milliamps: 2000,
                limited: false,
            },
        }
    }

    #[test]
    fn values_are_bare_numbers_and_the_rate_is_rounded_to_a_tenth() {
        assert_eq!(values(&status(1234, 59_987, 3)), ["1234", "60.0", "3"]);
        assert_eq!(values(&status(0, 59_949, 0)), ["0", "59.9", "0"]);
        assert_eq!(values(&status(0, 0, u64::MAX))[2], u64::MAX.to_string());
        assert_eq!(values(&status(0, u32::MAX, 0))[1], "4294967.2");
    }

    #[test]
    fn each_sensor_is_a_diagnostic_of_the_lights_device_with_its_own_ids() {
        let c = config();
        let light = publish::discovery(&c, &[], false);
        let mut ids = vec![light["unique_id"].clone()];
        let mut topics = vec![light["state_topic"].clone()];
        for s in ALL {
            let d = discovery(&c, &s);
            assert_eq!(d["entity_category"], "diagnostic");
            assert_eq!(d["device"]["identifiers"], light["device"]["identifiers"]);
            assert_eq!(d["availability_topic"], light["availability_topic"]);
            assert_eq!(d["payload_available"], light["payload_available"]);
            assert_eq!(d["payload_not_available"], light["payload_not_available"]);
            assert!(!ids.contains(&d["unique_id"]), "{d}");
            assert!(!topics.contains(&d["state_topic"]), "{d}");
            ids.push(d["unique_id"].clone());
            topics.push(d["state_topic"].clone());
        }
        let d = discovery(&c, &MILLIAMPS);
        assert_eq!(d["unique_id"], "tinsel_hall_tree_milliamps");
        assert_eq!(d["state_topic"], "tinsel/hall_tree/milliamps");
        assert_eq!(d["device_class"], "current");
        assert_eq!(d["unit_of_measurement"], "mA");
        assert_eq!(d["state_class"], "measurement");
        let d = discovery(&c, &FPS);
        assert!(d.get("device_class").is_none(), "{d}");
        assert_eq!(d["state_class"], "measurement");
        let d = discovery(&c, &LATE_FRAMES);
        assert_eq!(d["state_class"], "total_increasing");
    }
}
