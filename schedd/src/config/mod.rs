//! The config file: TOML parsed into raw types that refuse unknown keys
//! (`raw.rs`), then validated into [`Config`], whose [`Schedule`] cannot
//! hold an invalid entry (`entries.rs` checks each `[[entries]]` table).
//!
//! Every error names the file and the key and says what to do; `schedd`
//! exits 78 on one. A relative `ledd_socket` is taken relative to the
//! config file's directory.

mod entries;
mod raw;

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use tinsel_daemon::config::{self, Common, RawCommon, Validate};

pub use self::entries::{MAX_NAME_LEN, parse_at, parse_month_day};
use self::raw::RawConfig;
use crate::schedule::{Schedule, Trigger};
use crate::sun::Place;

/// The example config printed by `schedd --example-config`. A test parses
/// it, so it never goes stale.
pub const EXAMPLE: &str = include_str!("example.toml");

/// The system's time zone, as the C library reads it.
const LOCALTIME: &str = "/etc/localtime";

/// The system's zone from what `iana-time-zone` found and whether
/// [`LOCALTIME`] exists: without the file, UTC, as the C library does
/// (minimal containers, the emulated Pi Zero); otherwise the name it holds,
/// which must be an IANA name.
fn system_zone(lookup: Result<String, String>, localtime_exists: bool) -> Result<Tz, String> {
    let name = match lookup {
        Ok(name) => name,
        Err(_) if !localtime_exists => return Ok(Tz::UTC),
        Err(e) => {
            return Err(format!(
                "not set, and the system's time zone cannot be read from {LOCALTIME} ({e}): set it, e.g. timezone = \"Europe/Berlin\""
            ));
        }
    };
    name.parse::<Tz>().map_err(|_| {
        format!(
            "not set, and the system's time zone `{name}` is not an IANA name: set it, e.g. timezone = \"Europe/Berlin\""
        )
    })
}

/// ledd's socket when the config names none: where ledd.socket puts it.
pub use tinsel_daemon::config::DEFAULT_LEDD_SOCKET;

/// A config that could not be loaded (shared with webd and mqttd).
pub use tinsel_daemon::config::ConfigError;

/// Where the schedule's time zone came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// The `timezone` key.
    Config,
    /// The system's (`/etc/localtime`), read once at start.
    System,
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// `ledd_socket`, `user`, `group`, `[sandbox]`: every client's keys.
    pub common: Common,
    /// The entries, the time zone and the place.
    pub schedule: Schedule,
    /// Where the time zone came from.
    pub zone_source: ZoneSource,
    /// Wait for a synchronised clock before acting (`require_synced_clock`).
    pub require_synced_clock: bool,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = config::read(path)?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse_with_zone(text, path, None)
    }

    /// [`Config::load`] for a reload: without a `timezone` key, the zone
    /// is `system_zone` (the one read at start) instead of the system's,
    /// which the sandbox no longer lets schedd read.
    pub fn reload(path: &Path, system_zone: Tz) -> Result<Config, ConfigError> {
        let text = config::read(path)?;
        Config::parse_with_zone(&text, path, Some(system_zone))
    }

    fn parse_with_zone(
        text: &str,
        path: &Path,
        system_zone: Option<Tz>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = config::parse(text, path)?;
        Validator { path, system_zone }.config(raw)
    }
}

/// schedd's account in the package (tinsel.sysusers).
const ACCOUNT: config::Account = config::Account {
    daemon: "schedd",
    user: "tinsel-sched",
    group: "tinsel",
};

/// Turns a [`RawConfig`] into a [`Config`], naming the file in errors.
pub(crate) struct Validator<'a> {
    pub(crate) path: &'a Path,
    /// The system's zone, when already known (a reload).
    pub(crate) system_zone: Option<Tz>,
}

impl Validate for Validator<'_> {
    fn file(&self) -> &Path {
        self.path
    }
}

impl Validator<'_> {
    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let common = Common::validate(
            self,
            ACCOUNT,
            RawCommon {
                ledd_socket: raw.ledd_socket,
                user: raw.user,
                group: raw.group,
                sandbox: raw.sandbox,
            },
        )?;
        let (tz, zone_source) = self.timezone(raw.timezone.as_deref())?;
        let place = self.place(raw.latitude, raw.longitude)?;
        let mut entries = Vec::with_capacity(raw.entries.len());
        for (i, e) in raw.entries.into_iter().enumerate() {
            if let Some(entry) = self.entry(i, e)? {
                if matches!(entry.trigger, Trigger::Sun { .. }) && place.is_none() {
                    return Err(self.err(
                        format!("entries[{i}].at"),
                        format!(
                            "`{}` needs the place: set `latitude` and `longitude` (degrees, north and east positive) at the top of the file",
                            entry.trigger
                        ),
                    ));
                }
                entries.push(entry);
            }
        }
        Ok(Config {
            path: self.path.to_owned(),
            common,
            schedule: Schedule { entries, tz, place },
            zone_source,
            require_synced_clock: raw.require_synced_clock.unwrap_or(true),
        })
    }

    fn timezone(&self, name: Option<&str>) -> Result<(Tz, ZoneSource), ConfigError> {
        if let Some(name) = name {
            let tz = name.parse::<Tz>().map_err(|_| {
                self.err(
                    "timezone",
                    format!("`{name}` is not an IANA time zone name: use one like \"Europe/Berlin\" or \"America/New_York\" (`timedatectl list-timezones`), or remove the key to use the system's"),
                )
            })?;
            return Ok((tz, ZoneSource::Config));
        }
        if let Some(tz) = self.system_zone {
            return Ok((tz, ZoneSource::System));
        }
        let lookup = iana_time_zone::get_timezone().map_err(|e| e.to_string());
        let tz = system_zone(lookup, Path::new(LOCALTIME).exists())
            .map_err(|message| self.err("timezone", message))?;
        Ok((tz, ZoneSource::System))
    }

    fn place(&self, lat: Option<f64>, lon: Option<f64>) -> Result<Option<Place>, ConfigError> {
        match (lat, lon) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(self.err(
                "longitude",
                "`latitude` is set but `longitude` is not: set both (degrees, east positive)",
            )),
            (None, Some(_)) => Err(self.err(
                "latitude",
                "`longitude` is set but `latitude` is not: set both (degrees, north positive)",
            )),
            (Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) {
                    return Err(self.err(
                        "latitude",
                        format!(
                            "{lat} is not a latitude: use degrees from -90 (south) to 90 (north)"
                        ),
                    ));
                }
                if !(-180.0..=180.0).contains(&lon) {
                    return Err(self.err(
                        "longitude",
                        format!(
                            "{lon} is not a longitude: use degrees from -180 (west) to 180 (east)"
                        ),
                    ));
                }
                Place::new(lat, lon).map(Some).ok_or_else(|| {
                    self.err("latitude", "not a place: check latitude and longitude")
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
