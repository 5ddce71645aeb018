//! The config file as written: serde types that refuse unknown keys
//! (`deny_unknown_fields`). Nothing here is checked and no default is
//! filled in; [`super::validate`] turns these into [`super::Config`].

use std::path::PathBuf;

use serde::Deserialize;

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub(super) socket: Option<PathBuf>,
    pub(super) socket_group: Option<String>,
    pub(super) socket_mode: Option<String>,
    #[serde(default)]
    pub(super) strip: RawStrip,
    #[serde(default)]
    pub(super) output: RawOutput,
    #[serde(default)]
    pub(super) access: RawAccess,
    #[serde(default)]
    pub(super) startup: RawStartup,
    #[serde(default)]
    pub(super) ws281x: RawWs281x,
    #[serde(default)]
    pub(super) spi: RawSpi,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWs281x {
    pub(super) pin: Option<i64>,
    pub(super) dma: Option<i64>,
    pub(super) frequency: Option<i64>,
    pub(super) invert: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpi {
    pub(super) bits_per_bit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStrip {
    pub(super) backend: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) count: Option<i64>,
    pub(super) order: Option<String>,
    pub(super) fps: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) brightness: Option<i64>,
    pub(super) gamma: Option<f64>,
    pub(super) max_milliamps: Option<i64>,
    pub(super) milliamps_per_led: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStartup {
    pub(super) animation: Option<String>,
    pub(super) color: Option<String>,
    pub(super) speed: Option<i64>,
    pub(super) brightness: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccess {
    #[serde(default)]
    pub(super) admin_users: Vec<String>,
    #[serde(default)]
    pub(super) admin_groups: Vec<String>,
    #[serde(default)]
    pub(super) hooks_users: Vec<String>,
    #[serde(default)]
    pub(super) hooks_groups: Vec<String>,
    pub(super) hooks_max_brightness: Option<i64>,
}
