//! The config file as written: serde types that refuse unknown keys and
//! hold the defaults. Nothing here is checked; `super::Validator` turns
//! these into [`super::Config`].

use std::path::PathBuf;

use serde::Deserialize;
use tinsel_daemon::config::RawSandbox;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) ledd_socket: Option<PathBuf>,
    pub(super) name: Option<String>,
    pub(super) base_topic: Option<String>,
    #[serde(default = "default_prefix")]
    pub(super) discovery_prefix: String,
    pub(super) group_topic: Option<String>,
    pub(super) effects: Option<Vec<String>>,
    pub(super) configuration_url: Option<String>,
    pub(super) user: Option<String>,
    pub(super) group: Option<String>,
    pub(super) broker: RawBroker,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) sensors: RawSensors,
    #[serde(default)]
    pub(super) sandbox: RawSandbox,
}

fn default_prefix() -> String {
    "homeassistant".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBroker {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    #[serde(default)]
    pub(super) tls: bool,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) username: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) client_id: Option<String>,
    #[serde(default = "default_keep_alive")]
    pub(super) keep_alive_secs: u64,
}

fn default_keep_alive() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLimits {
    pub(super) commands_per_second: u32,
    pub(super) max_payload_bytes: u32,
    pub(super) status_interval_ms: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            commands_per_second: 10,
            max_payload_bytes: 1024,
            status_interval_ms: 15_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSensors {
    pub(super) enabled: bool,
    pub(super) interval_secs: u64,
}

impl Default for RawSensors {
    fn default() -> Self {
        RawSensors {
            enabled: true,
            interval_secs: 30,
        }
    }
}
