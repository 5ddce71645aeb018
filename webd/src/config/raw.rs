//! The config file as written: serde types that refuse unknown keys
//! (`deny_unknown_fields`) and hold the defaults of the keys that have
//! one (`[limits]`'s are in `limits.rs`, beside their bounds, two of
//! which are also defaults). Nothing here is checked; [`super::validate`] turns these into
//! [`super::Config`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use tinsel_daemon::config::RawSandbox;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) listen: Option<String>,
    pub(super) ledd_socket: Option<PathBuf>,
    pub(super) user: Option<String>,
    pub(super) group: Option<String>,
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
    pub(super) client_address_header: Option<String>,
    pub(super) tls: RawTls,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) ban: RawBan,
    #[serde(default)]
    pub(super) tokens: Vec<RawToken>,
    #[serde(default)]
    pub(super) hooks: BTreeMap<String, RawHook>,
    #[serde(default)]
    pub(super) sandbox: RawSandbox,
    #[serde(default)]
    pub(super) page: RawPage,
}

/// `[page]`: off unless `enabled = true`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPage {
    #[serde(default)]
    pub(super) enabled: bool,
    pub(super) devices_dir: Option<PathBuf>,
    pub(super) animations: Option<Vec<String>>,
    pub(super) allow_from: Option<Vec<String>>,
    pub(super) rate: Option<String>,
    pub(super) device_days: Option<u32>,
    pub(super) max_devices: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
    pub(super) client_ca: Option<PathBuf>,
    pub(super) client_cert: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLimits {
    pub(super) max_connections: u32,
    /// Default: 8, or `max_connections` if smaller.
    pub(super) max_connections_per_client: Option<u32>,
    /// Default: 4, or `max_connections_per_client` if smaller.
    pub(super) max_handshakes_per_client: Option<u32>,
    /// Default: half of `max_connections`.
    pub(super) proxy_max_connections: Option<u32>,
    pub(super) max_body_bytes: u32,
    pub(super) header_timeout_secs: u64,
    pub(super) handshake_timeout_secs: u64,
    pub(super) first_request_timeout_secs: u64,
    pub(super) request_timeout_secs: u64,
    pub(super) idle_timeout_secs: u64,
    pub(super) shutdown_grace_secs: u64,
    pub(super) ledd_timeout_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawBan {
    pub(super) max_failures: u32,
    pub(super) window_secs: u64,
    pub(super) ban_secs: u64,
    pub(super) global_failures_per_minute: u32,
}

impl Default for RawBan {
    fn default() -> Self {
        RawBan {
            max_failures: 5,
            window_secs: 600,
            ban_secs: 3600,
            global_failures_per_minute: 120,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    pub(super) name: String,
    pub(super) sha256: Option<String>,
    pub(super) hmac_secret: Option<String>,
    pub(super) hooks: Vec<String>,
    // The narrowing of a token (`tokens.rs`, `Validator::access`).
    #[serde(default)]
    pub(super) state: bool,
    pub(super) allow_from: Option<Vec<String>>,
    pub(super) rate: Option<String>,
    /// A string or a TOML date.
    pub(super) expires: Option<toml::Value>,
    #[serde(default)]
    pub(super) require_client_cert: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHook {
    pub(super) animation: String,
    pub(super) color: Option<String>,
    pub(super) speed: Option<u16>,
    pub(super) duration_secs: Option<u32>,
    #[serde(default)]
    pub(super) request_colors: Vec<String>,
    #[serde(default)]
    pub(super) request_speed: bool,
    #[serde(default)]
    pub(super) request_duration: bool,
    pub(super) rate: Option<String>,
}
