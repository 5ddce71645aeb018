//! What the page (`[page]`) may do, and what a paired device is allowed:
//! the animations it may play (with the parameters each animation takes,
//! bounded by `tinsel_proto`'s types, which ledd checks again), off, and
//! reading the state. Never another hook, never brightness, never admin.
//! A device's `allow_from` and `rate` are the token model's
//! ([`Access`](super::access::Access)); its expiry is counted from its
//! pairing.

use std::path::PathBuf;
use std::time::Duration;

use tinsel_proto::Animation;

use super::access::Access;

/// The most devices `max_devices` may allow: every device is a file that
/// webd reads on a request, and a household has a few phones.
pub const MAX_DEVICES: u32 = 256;

/// The default `max_devices`.
pub const DEFAULT_MAX_DEVICES: u32 = 32;

/// The default `device_days`: a device pairs again after a year.
pub const DEFAULT_DEVICE_DAYS: u32 = 365;

/// The longest `device_days`.
pub const MAX_DEVICE_DAYS: u32 = 3650;

/// How long a pairing code may be redeemed after `webd pair` printed it.
pub const PAIRING_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The packaged devices directory (systemd's `StateDirectory=tinsel/webd`).
pub const DEFAULT_DEVICES_DIR: &str = "/var/lib/tinsel/webd";

/// The validated `[page]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Whether webd serves the page and its routes at all.
    pub enabled: bool,
    /// Where pairing codes and devices live: the one directory webd writes.
    pub devices_dir: PathBuf,
    /// The animations the page offers, in this order.
    pub animations: Vec<Animation>,
    /// `allow_from` and `rate` of every device (`state` is always true,
    /// `expires` unused: a device's own expiry is `device_days`).
    pub access: Access,
    /// A device is refused this many days after pairing.
    pub device_days: u32,
    /// Pairing refuses a device beyond this many.
    pub max_devices: u32,
}

impl Default for Page {
    fn default() -> Page {
        Page {
            enabled: false,
            devices_dir: PathBuf::from(DEFAULT_DEVICES_DIR),
            animations: default_animations(),
            access: Access {
                state: true,
                ..Access::default()
            },
            device_days: DEFAULT_DEVICE_DAYS,
            max_devices: DEFAULT_MAX_DEVICES,
        }
    }
}

impl Page {
    /// How long a device stays paired, in seconds.
    pub fn device_lifetime(&self) -> Duration {
        Duration::from_secs(u64::from(self.device_days) * 86_400)
    }
}

/// The animations the page offers unless `[page] animations` says: every
/// one ledd plays for the hooks role, but the self-test, which is for
/// wiring a strip, not for a tree.
pub fn default_animations() -> Vec<Animation> {
    Animation::ALL
        .into_iter()
        .filter(|a| *a != Animation::SelfTest)
        .collect()
}
