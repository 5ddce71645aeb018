//! The config file: TOML parsed into raw types that refuse unknown keys
//! (`raw.rs`), then validated into [`Config`], which cannot hold an invalid
//! value. Every error names the file and the key and says what to do; a
//! bad config makes mqttd exit 78 (`--check-config` too).
//!
//! Relative paths (`ledd_socket`, `broker.ca_file`, `broker.password_file`)
//! are taken relative to the config file's directory.
//!
//! The password is never in this file nor on the command line: it is read
//! from `broker.password_file`, or from the systemd credential
//! `$CREDENTIALS_DIRECTORY/mqtt.password`.

mod raw;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tinsel_proto::Animation;
use tinsel_sandbox::config_error::toml_error;
use tinsel_sandbox::ids::{IdError, Identity};
use tinsel_sandbox::landlock::LandlockPolicy;

use self::raw::RawConfig;

/// The example config printed by `mqttd --example-config`. A test parses
/// it, so it never goes stale.
pub const EXAMPLE: &str = include_str!("example.toml");

/// The systemd credential holding the broker password
/// (`LoadCredential=mqtt.password:...` in mqttd.service).
pub const PASSWORD_CREDENTIAL: &str = "mqtt.password";

/// The longest password file read, in bytes: a password, not a file.
const MAX_PASSWORD_BYTES: u64 = 1024;

/// A config that could not be loaded. The message names the file and, for
/// a bad value, the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config file: {source}; check the path and its permissions", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or has an unknown key or a wrong type.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The TOML parser's message, which names the key and the line.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{}: `{key}`: {message}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The key, dotted (`broker.port`).
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl ConfigError {
    /// The key at fault, when the error is about one value.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

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
    /// How often ledd's status is read.
    pub status_interval: Duration,
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// ledd's Unix socket.
    pub ledd_socket: PathBuf,
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
    /// The animations exposed; `None`: every one ledd offers.
    pub effects: Option<Vec<Animation>>,
    /// The user to drop to when started as root.
    pub user: Option<String>,
    /// The group to drop to when started as root.
    pub group: Option<String>,
    /// The broker.
    pub broker: Broker,
    /// Rates and sizes.
    pub limits: Limits,
    /// `sandbox.landlock`.
    pub landlock: LandlockPolicy,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
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
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: toml_error(&e),
        })?;
        Validator { path }.config(raw, credentials)
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

    /// Resolves `user` and `group` to the ids mqttd drops to when started
    /// as root (`None` when `user` is unset).
    pub fn identity(&self) -> Result<Option<Identity>, ConfigError> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        Identity::from_names(user, self.group.as_deref())
            .map(Some)
            .map_err(|e| match e {
                IdError::NoSuchUser(name) => self.invalid(
                    "user",
                    format!("no user named `{name}` on this system: create it (the package's sysusers file makes tinsel-mqtt) or name an existing one"),
                ),
                IdError::NoSuchGroup(name) => self.invalid(
                    "group",
                    format!("no group named `{name}` on this system: create it (the package's sysusers file makes tinsel) or name an existing one"),
                ),
                other => self.invalid("user", other.to_string()),
            })
    }

    fn invalid(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key: key.to_owned(),
            message,
        }
    }
}

/// Turns the raw sections into validated ones; every error names the file
/// and the key.
struct Validator<'a> {
    path: &'a Path,
}

impl Validator<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn relative(&self, p: PathBuf) -> PathBuf {
        if p.is_absolute() {
            return p;
        }
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(p),
            _ => p,
        }
    }

    fn range<T: PartialOrd + std::fmt::Display + Copy>(
        &self,
        key: &str,
        v: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        if v < min || v > max {
            return Err(self.err(key, format!("{v} is out of range: use {min} to {max}")));
        }
        Ok(v)
    }

    /// A topic mqttd publishes or subscribes to: no wildcards (a `#` would
    /// subscribe to the whole broker), no NUL, no empty level at either end.
    fn topic(&self, key: &str, t: &str) -> Result<String, ConfigError> {
        if t.is_empty() || t.len() > 200 {
            return Err(self.err(key, "must be 1 to 200 bytes long"));
        }
        if t.contains(['+', '#', '\0']) {
            return Err(self.err(
                key,
                format!("{t:?} holds a wildcard (+ or #) or NUL: give a plain topic such as \"tinsel/all/set\""),
            ));
        }
        if t.starts_with('/') || t.ends_with('/') {
            return Err(self.err(key, format!("{t:?} starts or ends with '/': remove it")));
        }
        Ok(t.to_owned())
    }

    fn config(&self, raw: RawConfig, credentials: Option<&Path>) -> Result<Config, ConfigError> {
        if raw.ledd_socket.as_os_str().is_empty() {
            return Err(self.err("ledd_socket", "is empty: give the path of ledd's socket"));
        }
        let name = match raw.name {
            Some(n) => n,
            None => hostname(),
        };
        if name.trim().is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(self.err(
                "name",
                format!("{name:?}: give 1 to 64 printable characters, e.g. \"Living room tree\""),
            ));
        }
        let node_id = node_id(&name);
        let base_topic = match raw.base_topic {
            Some(t) => self.topic("base_topic", &t)?,
            None => format!("tinsel/{node_id}"),
        };
        let discovery_prefix = self.topic("discovery_prefix", &raw.discovery_prefix)?;
        let group_topic = match raw.group_topic {
            Some(t) => Some(self.topic("group_topic", &t)?),
            None => None,
        };
        let effects = match raw.effects {
            None => None,
            Some(list) => {
                if list.is_empty() {
                    return Err(self.err(
                        "effects",
                        "is empty: name at least one animation, or leave the key out for all",
                    ));
                }
                let mut out = Vec::with_capacity(list.len());
                for (i, e) in list.iter().enumerate() {
                    let a: Animation = e
                        .parse()
                        .map_err(|u| self.err(&format!("effects[{i}]"), format!("{e:?}: {u}")))?;
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                Some(out)
            }
        };
        for (key, v) in [("user", &raw.user), ("group", &raw.group)] {
            if let Some(v) = v
                && (v.is_empty() || v.contains(['\0', ':', '\n']))
            {
                return Err(self.err(key, format!("`{v}` is not a user or group name")));
            }
        }
        let broker = self.broker(raw.broker, &node_id, credentials)?;
        let l = &raw.limits;
        let limits = Limits {
            commands_per_second: self.range(
                "limits.commands_per_second",
                l.commands_per_second,
                1,
                100,
            )?,
            max_payload_bytes: self.range(
                "limits.max_payload_bytes",
                l.max_payload_bytes,
                64,
                4096,
            )? as usize,
            status_interval: Duration::from_millis(self.range(
                "limits.status_interval_ms",
                l.status_interval_ms,
                100,
                10_000,
            )?),
        };
        let landlock = match raw.sandbox.landlock.as_deref() {
            None | Some("best-effort") | Some("best_effort") => LandlockPolicy::BestEffort,
            Some("required") => LandlockPolicy::Required,
            Some(other) => {
                return Err(self.err(
                    "sandbox.landlock",
                    format!("{other:?}: expected \"best-effort\" or \"required\""),
                ));
            }
        };
        Ok(Config {
            path: self.path.to_owned(),
            ledd_socket: self.relative(raw.ledd_socket),
            name,
            node_id,
            base_topic,
            discovery_prefix,
            group_topic,
            effects,
            user: raw.user,
            group: raw.group,
            broker,
            limits,
            landlock,
        })
    }

    fn broker(
        &self,
        raw: raw::RawBroker,
        node_id: &str,
        credentials: Option<&Path>,
    ) -> Result<Broker, ConfigError> {
        let host = raw.host.trim().to_owned();
        if host.is_empty() || host.len() > 253 || host.contains(['/', ' ', '\0']) {
            return Err(self.err(
                "broker.host",
                format!("{:?} is not a host name or address: e.g. \"mqtt.home.arpa\" or \"192.168.1.10\"", raw.host),
            ));
        }
        let default_port = if raw.tls { 8883 } else { 1883 };
        let port = self.range("broker.port", raw.port.unwrap_or(default_port), 1, 65535)?;
        if raw.ca_file.is_some() && !raw.tls {
            return Err(self.err(
                "broker.ca_file",
                "is set but `broker.tls` is false: set tls = true (and the port, usually 8883), or remove ca_file",
            ));
        }
        if let Some(u) = &raw.username
            && (u.is_empty() || u.len() > 256 || u.contains('\0'))
        {
            return Err(self.err("broker.username", "must be 1 to 256 bytes, without NUL"));
        }
        let password_file = match raw.password_file {
            Some(p) => Some(self.relative(p)),
            // An empty credential is no password: the package installs
            // /etc/tinsel/mqtt.password empty, for brokers without logins.
            None => credentials
                .map(|dir| dir.join(PASSWORD_CREDENTIAL))
                .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > 0)),
        };
        if password_file.is_some() && raw.username.is_none() {
            return Err(self.err(
                "broker.username",
                "a password is configured (password_file or the mqtt.password credential) but no username: MQTT sends a password only with a user name; set username",
            ));
        }
        let client_id = raw.client_id.unwrap_or_else(|| format!("tinsel-{node_id}"));
        if client_id.is_empty()
            || client_id.len() > 64
            || !client_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(self.err(
                "broker.client_id",
                format!("{client_id:?}: use 1 to 64 of A-Z a-z 0-9 - _, unique on the broker"),
            ));
        }
        let keep_alive = self.range("broker.keep_alive_secs", raw.keep_alive_secs, 5, 600)?;
        Ok(Broker {
            host,
            port,
            tls: raw.tls,
            ca_file: raw.ca_file.map(|p| self.relative(p)),
            username: raw.username,
            password_file,
            client_id,
            keep_alive: Duration::from_secs(keep_alive),
        })
    }
}

/// This machine's host name (the default `name`).
fn hostname() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().into_owned();
    if name.is_empty() {
        "tinsel".to_owned()
    } else {
        name
    }
}

/// `name` made safe for topics and Home Assistant ids: every character but
/// A-Z a-z 0-9 `_` `-` becomes `_`, lower-cased.
pub fn node_id(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

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
    }

    #[test]
    fn the_packaged_config_is_valid() {
        let c = parse(include_str!("../../../packaging/mqttd.toml")).unwrap();
        assert_eq!(c.ledd_socket, Path::new("/run/tinsel/ledd.sock"));
    }

    #[test]
    fn defaults_follow_the_name_and_tls() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.node_id, "living_room");
        assert_eq!(c.base_topic, "tinsel/living_room");
        assert_eq!(c.broker.client_id, "tinsel-living_room");
        assert_eq!(c.command_topic(), "tinsel/living_room/set");
        assert_eq!(c.ledd_socket, Path::new("/etc/tinsel/ledd.sock"));
        assert!(c.effects.is_none());
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
    fn node_ids_keep_only_safe_characters() {
        assert_eq!(node_id("Tree #1/ü"), "tree__1__");
    }
}
