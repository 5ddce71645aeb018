//! The validation driver: [`Validator`] and its shared helpers (an error
//! naming the key, the value and the file; small integers), and
//! [`Validator::config`], which applies the command-line overrides and
//! checks the sections in a fixed order. The checks of each section live
//! in that section's file: `socket.rs`, `strip.rs`, `output.rs`,
//! `access.rs` (with `names.rs`), `startup.rs`.

use super::raw::RawConfig;
use super::{Config, ConfigError, Origin, Overrides};

/// Turns the raw sections into checked ones; every error names the key,
/// the value and where the config came from.
pub(super) struct Validator<'a> {
    pub(super) origin: &'a Origin,
}

impl Validator<'_> {
    /// The refusal of `value` under `key`, with `reason` saying what to use
    /// instead.
    pub(super) fn invalid(&self, key: &'static str, value: String, reason: String) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.clone(),
            key,
            value,
            reason,
        }
    }

    /// A small unsigned setting: `default` when absent, refused (naming
    /// `key`) when it does not fit a byte.
    pub(super) fn small_int(
        &self,
        key: &'static str,
        value: Option<i64>,
        default: u8,
    ) -> Result<u8, ConfigError> {
        match value {
            None => Ok(default),
            Some(n) => {
                u8::try_from(n).map_err(|_| self.invalid(key, n.to_string(), "use 0 to 255".into()))
            }
        }
    }

    /// Applies `overrides` to `raw`, then checks every section in file
    /// order: the first bad key is the one reported.
    pub(super) fn config(
        &self,
        mut raw: RawConfig,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        if let Some(s) = &overrides.socket {
            raw.socket = Some(s.clone());
        }
        if let Some(b) = &overrides.backend {
            raw.strip.backend = Some(b.clone());
        }
        if let Some(n) = overrides.leds {
            raw.strip.count = Some(n);
        }
        let (socket, socket_group, socket_mode) =
            self.socket(raw.socket, raw.socket_group, raw.socket_mode)?;
        let strip = self.strip(&raw.strip, &raw.ws281x, &raw.spi)?;
        let output = self.output(&raw.output, strip.kind)?;
        let access = self.access(&raw.access)?;
        let startup = self.startup(&raw.startup)?;
        Ok(Config {
            socket,
            socket_group,
            socket_mode,
            strip,
            output,
            access,
            startup,
            origin: self.origin.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::{Backend, Config, Origin, Overrides, RawConfig, parse};
    use crate::config::tests::load_text;

    #[test]
    fn out_of_range_values_name_key_value_and_file() {
        let err = load_text("[strip]\ncount = 0\n").unwrap_err().to_string();
        assert!(err.contains("strip.count"), "{err}");
        assert!(err.contains("= 0"), "{err}");
        assert!(err.contains("/etc/test.toml"), "{err}");
        let err = load_text("[output]\nbrightness = 101\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("output.brightness") && err.contains("101"),
            "{err}"
        );
        let err = load_text("[strip]\norder = \"rrg\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("strip.order"), "{err}");
        assert!(load_text("socket_mode = \"0999\"\n").is_err());
        assert!(load_text("[output]\ngamma = 3.5\n").is_err());
        assert!(load_text("[strip]\nbackend = \"dmx\"\n").is_err());
    }

    #[test]
    fn overrides_win_and_are_checked() {
        let origin = Origin::File(PathBuf::from("/etc/test.toml"));
        let raw = parse("[strip]\ncount = 10\n", &origin).unwrap();
        let o = Overrides {
            socket: Some(PathBuf::from("/tmp/x.sock")),
            backend: Some("ws281x".into()),
            leds: Some(20),
        };
        let c = Config::from_raw(raw, &o, origin.clone()).unwrap();
        assert_eq!(c.strip.count, 20);
        assert_eq!(c.strip.backend, Backend::Ws281x);
        assert_eq!(c.socket, PathBuf::from("/tmp/x.sock"));
        let bad = Overrides {
            leds: Some(5000),
            ..Overrides::default()
        };
        assert!(Config::from_raw(RawConfig::default(), &bad, origin).is_err());
    }
}
