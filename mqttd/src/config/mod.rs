//! The config file: TOML parsed into raw types that refuse unknown keys
//! (`raw.rs`), then validated (`validate.rs`) into [`Config`], which cannot
//! hold an invalid value; the error is the kit's [`ConfigError`]. Every error names
//! the file and the key and says what to do; a bad config makes mqttd exit
//! 78 (`--check-config` too).
//!
//! Relative paths (`ledd_socket`, `broker.ca_file`, `broker.password_file`)
//! are taken relative to the config file's directory.
//!
//! The password is never in this file nor on the command line: it is read
//! from `broker.password_file`, or from the systemd credential
//! `$CREDENTIALS_DIRECTORY/mqtt.password`.

mod raw;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tinsel_daemon::config::{self, Common};
use tinsel_proto::Animation;

use self::raw::RawConfig;
use self::validate::Validator;
pub use self::validate::node_id;
pub use tinsel_daemon::config::ConfigError;

/// The example config printed by `mqttd --example-config`. A test parses
/// it, so it never goes stale.
pub const EXAMPLE: &str = include_str!("example.toml");

/// The systemd credential holding the broker password
/// (`LoadCredential=mqtt.password:...` in mqttd.service).
pub const PASSWORD_CREDENTIAL: &str = "mqtt.password";

/// The longest password file read, in bytes: a password, not a file.
const MAX_PASSWORD_BYTES: u64 = 1024;

/// The broker and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// Host name or address, resolved once at start.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether to speak TLS.
    pub tls: bool,
    /// The CA file; `None` with TLS: the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// The MQTT user name.
    pub username: Option<String>,
    /// Where the password is read from (a file or the credential).
    pub password_file: Option<PathBuf>,
    /// The MQTT client id.
    pub client_id: String,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
}

/// Rates and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Commands accepted per second (and the burst).
    pub commands_per_second: u32,
    /// Largest command payload.
    pub max_payload_bytes: usize,
    /// How often ledd's whole status is read (changes are pushed).
    pub status_interval: Duration,
}

/// The diagnostic sensors (`[sensors]`): what only tinsel knows, as Home
/// Assistant sensors on the tree's device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sensors {
    /// Announced and published; off, their discovery configs are cleared.
    pub enabled: bool,
    /// How often ledd's figures are read; a value is published only when
    /// it changed.
    pub interval: Duration,
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// `ledd_socket`, `user`, `group`, `[sandbox]`: every client's keys.
    pub common: Common,
    /// The tree's display name.
    pub name: String,
    /// The name made safe for topics and ids (`[A-Za-z0-9_-]`).
    pub node_id: String,
    /// `<base>/state`, `/set`, `/availability`.
    pub base_topic: String,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: String,
    /// The shared command topic, if any.
    pub group_topic: Option<String>,
    /// The animations exposed; `None`: every one ledd offers but
    /// `selftest` (see [`Config::wanted_effects`]).
    pub effects: Option<Vec<Animation>>,
    /// Where the tree's page is, shown as Home Assistant's "Visit" link
    /// on the device: an http(s) URL.
    pub configuration_url: Option<String>,
    /// The broker.
    pub broker: Broker,
    /// Rates and sizes.
    pub limits: Limits,
    /// The diagnostic sensors.
    pub sensors: Sensors,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = config::read(path)?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text` as if read from `path`, with the
    /// credentials directory of this process's environment.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        Config::parse_with(text, path, credentials.as_deref())
    }

    /// [`Config::parse`] with an explicit credentials directory.
    pub fn parse_with(
        text: &str,
        path: &Path,
        credentials: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = config::parse(text, path)?;
        Validator { path }.config(raw, credentials)
    }

    /// The animations Home Assistant may ask for, before ledd's offer
    /// narrows them: the `effects` list, or every animation but
    /// `selftest`. The wiring test is for whoever installs the strip, not
    /// for every Home Assistant user; naming it in `effects` offers it.
    pub fn wanted_effects(&self) -> Vec<Animation> {
        match &self.effects {
            Some(list) => list.clone(),
            None => Animation::ALL
                .iter()
                .copied()
                .filter(|a| *a != Animation::SelfTest)
                .collect(),
        }
    }

    /// The topic mqttd publishes its state on (retained).
    pub fn state_topic(&self) -> String {
        format!("{}/state", self.base_topic)
    }

    /// The tree's own command topic.
    pub fn command_topic(&self) -> String {
        format!("{}/set", self.base_topic)
    }

    /// `online` / `offline` (retained; `offline` is also the last will).
    pub fn availability_topic(&self) -> String {
        format!("{}/availability", self.base_topic)
    }

    /// Where Home Assistant finds the light's discovery config.
    pub fn discovery_topic(&self) -> String {
        format!("{}/light/{}/config", self.discovery_prefix, self.node_id)
    }

    /// Where Home Assistant finds the discovery config of the diagnostic
    /// sensor `object_id` (`<prefix>/sensor/<node_id>/<object_id>/config`).
    pub fn sensor_discovery_topic(&self, object_id: &str) -> String {
        format!(
            "{}/sensor/{}/{object_id}/config",
            self.discovery_prefix, self.node_id
        )
    }

    /// The retained value of the diagnostic sensor `object_id`.
    pub fn sensor_topic(&self, object_id: &str) -> String {
        format!("{}/{object_id}", self.base_topic)
    }

    /// Home Assistant's birth and last-will topic: on `online` the
    /// discovery config is published again.
    pub fn ha_status_topic(&self) -> String {
        format!("{}/status", self.discovery_prefix)
    }

    /// Reads the broker password, if one is configured: the file's first
    /// line. Called before the sandbox (the file stays readable after it).
    pub fn read_password(&self) -> Result<Option<String>, ConfigError> {
        let Some(file) = &self.broker.password_file else {
            return Ok(None);
        };
        use std::io::Read as _;
        let err = |message: String| self.invalid("broker.password_file", message);
        let mut text = String::new();
        std::fs::File::open(file)
            .and_then(|f| f.take(MAX_PASSWORD_BYTES).read_to_string(&mut text))
            .map_err(|e| {
                err(format!(
                    "cannot read {}: {e}; create it (one line, mode 0600, owned by mqttd's user or root) or fix the path",
                    file.display()
                ))
            })?;
        let password = text.lines().next().unwrap_or("").to_owned();
        if password.is_empty() {
            return Err(err(format!(
                "{} is empty: write the broker password on its first line",
                file.display()
            )));
        }
        Ok(Some(password))
    }

    fn invalid(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key: key.to_owned(),
            message,
        }
    }
}

/// mqttd's account in the package (tinsel.sysusers).
pub(crate) const ACCOUNT: config::Account = config::Account {
    daemon: "mqttd",
    user: "tinsel-mqtt",
    group: "tinsel",
};

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_with(text, Path::new("/etc/tinsel/mqttd.toml"), None)
    }

    const MINIMAL: &str =
        "ledd_socket = \"ledd.sock\"\nname = \"Living room\"\n[broker]\nhost = \"mqtt.local\"\n";

    #[test]
    fn example_config_is_valid() {
        let c = parse(EXAMPLE).unwrap();
        assert_eq!(c.name, "tree");
        assert_eq!(c.base_topic, "tinsel/tree");
        assert_eq!(c.broker.port, 1883);
        assert_eq!(c.limits.commands_per_second, 10);
        assert_eq!(c.discovery_topic(), "homeassistant/light/tree/config");
        assert_eq!(
            c.sensors,
            Sensors {
                enabled: true,
                interval: Duration::from_secs(30)
            }
        );
        assert_eq!(
            c.sensor_discovery_topic("milliamps"),
            "homeassistant/sensor/tree/milliamps/config"
        );
        assert_eq!(c.sensor_topic("milliamps"), "tinsel/tree/milliamps");
    }

    #[test]
    fn the_packaged_config_is_valid() {
        let c = parse(include_str!("../../../packaging/mqttd.toml")).unwrap();
        assert_eq!(c.common.ledd_socket, Path::new("/run/tinsel/ledd.sock"));
    }

    #[test]
    fn defaults_follow_the_name_and_tls() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.node_id, "living_room");
        assert_eq!(c.base_topic, "tinsel/living_room");
        assert_eq!(c.broker.client_id, "tinsel-living_room");
        assert_eq!(c.command_topic(), "tinsel/living_room/set");
        assert_eq!(c.common.ledd_socket, Path::new("/etc/tinsel/ledd.sock"));
        assert!(c.effects.is_none());
        assert!(c.configuration_url.is_none());
        let c = parse(&format!(
            "configuration_url = \"https://tree.home.arpa:8443/\"\n{MINIMAL}"
        ))
        .unwrap();
        assert_eq!(
            c.configuration_url.as_deref(),
            Some("https://tree.home.arpa:8443/")
        );
        let c = parse(&format!("{MINIMAL}tls = true\n")).unwrap();
        assert_eq!(c.broker.port, 8883);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name_and_the_file() {
        let err = parse(&format!("{MINIMAL}passwd = \"hunter2\"\n")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/etc/tinsel/mqttd.toml"), "{msg}");
        assert!(msg.contains("passwd"), "{msg}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("group_topic = \"tinsel/#\"\n", "group_topic"),
            ("base_topic = \"/tinsel\"\n", "base_topic"),
            ("effects = [\"disco\"]\n", "effects[0]"),
            ("effects = []\n", "effects"),
            ("user = \"a:b\"\n", "user"),
            ("configuration_url = \"tree.local\"\n", "configuration_url"),
            (
                "configuration_url = \"ftp://tree.local/\"\n",
                "configuration_url",
            ),
            ("configuration_url = \"https://\"\n", "configuration_url"),
            (
                "configuration_url = \"http://tree/a b\"\n",
                "configuration_url",
            ),
        ];
        for (top, key) in cases {
            let err = parse(&format!("{top}{MINIMAL}")).expect_err(top);
            assert_eq!(err.key(), Some(key), "{err}");
        }
        let cases = [
            ("port = 0\n", "broker.port"),
            ("ca_file = \"ca.pem\"\n", "broker.ca_file"),
            ("password_file = \"pw\"\n", "broker.username"),
            ("client_id = \"a b\"\n", "broker.client_id"),
            ("keep_alive_secs = 1\n", "broker.keep_alive_secs"),
            (
                "[limits]\ncommands_per_second = 0\n",
                "limits.commands_per_second",
            ),
            ("[sandbox]\nlandlock = \"off\"\n", "sandbox.landlock"),
            ("[sensors]\ninterval_secs = 0\n", "sensors.interval_secs"),
            ("[sensors]\ninterval_secs = 3601\n", "sensors.interval_secs"),
        ];
        for (broker, key) in cases {
            let err = parse(&format!("{MINIMAL}{broker}")).expect_err(broker);
            assert_eq!(err.key(), Some(key), "{err}");
        }
    }

    #[test]
    fn the_password_comes_from_a_file_or_the_credential_never_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PASSWORD_CREDENTIAL), "s3cret\n").unwrap();
        let text = format!("{MINIMAL}username = \"tree\"\n");
        let c = Config::parse_with(&text, Path::new("/etc/tinsel/mqttd.toml"), Some(dir.path()))
            .unwrap();
        assert_eq!(c.read_password().unwrap().as_deref(), Some("s3cret"));
        let c = parse(&text).unwrap();
        assert_eq!(c.read_password().unwrap(), None);
        // The unit's empty default credential means no password.
        std::fs::write(dir.path().join(PASSWORD_CREDENTIAL), "").unwrap();
        let c = Config::parse_with(
            MINIMAL,
            Path::new("/etc/tinsel/mqttd.toml"),
            Some(dir.path()),
        )
        .unwrap();
        assert_eq!(c.read_password().unwrap(), None);
        let err = parse(&format!("{MINIMAL}password = \"x\"\n")).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        // An empty file is an error naming the key.
        std::fs::write(dir.path().join("empty"), "").unwrap();
        let text = format!(
            "{MINIMAL}username = \"tree\"\npassword_file = {:?}\n",
            dir.path().join("empty")
        );
        let err = parse(&text).unwrap().read_password().unwrap_err();
        assert_eq!(err.key(), Some("broker.password_file"), "{err}");
    }

    #[test]
    fn selftest_is_offered_only_when_named() {
        let all = parse(MINIMAL).unwrap().wanted_effects();
        assert!(!all.contains(&Animation::SelfTest), "{all:?}");
        assert_eq!(all.len(), Animation::ALL.len() - 1);
        let named = parse(&format!("effects = [\"fire\", \"selftest\"]\n{MINIMAL}"))
            .unwrap()
            .wanted_effects();
        assert_eq!(named, [Animation::Fire, Animation::SelfTest]);
    }

    #[test]
    fn node_ids_keep_only_safe_characters() {
        assert_eq!(node_id("Tree #1/ü"), "tree__1__");
    }
}
