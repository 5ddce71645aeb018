//! The config file as written: serde types that refuse unknown keys
//! (`deny_unknown_fields`). Nothing here is checked; the parent module
//! turns these into a [`super::Config`].

use std::path::PathBuf;

use serde::Deserialize;
use tinsel_daemon::config::RawSandbox;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) ledd_socket: Option<PathBuf>,
    pub(super) latitude: Option<f64>,
    pub(super) longitude: Option<f64>,
    pub(super) timezone: Option<String>,
    pub(super) require_synced_clock: Option<bool>,
    pub(super) user: Option<String>,
    pub(super) group: Option<String>,
    #[serde(default)]
    pub(super) entries: Vec<RawEntry>,
    #[serde(default)]
    pub(super) sandbox: RawSandbox,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    pub(super) name: Option<String>,
    pub(super) enabled: Option<bool>,
    pub(super) at: String,
    pub(super) weekdays: Option<Vec<String>>,
    pub(super) from: Option<String>,
    pub(super) until: Option<String>,
    pub(super) animation: String,
    pub(super) color: Option<String>,
    pub(super) speed: Option<u16>,
}
