//! The validation driver: [`Validator`] turns the raw sections into a
//! [`Config`], checking each key in file order; the first bad key is the
//! one reported, with the file and what to do.

use std::path::Path;
use std::time::Duration;

use tinsel_daemon::config::{Common, RawCommon, Validate};
use tinsel_proto::Animation;

use super::raw::{self, RawConfig};
use super::{Broker, Config, ConfigError, Limits, PASSWORD_CREDENTIAL, Sensors};

/// Turns the raw sections into validated ones; every error names the file
/// and the key.
pub(super) struct Validator<'a> {
    pub(super) path: &'a Path,
}

impl Validate for Validator<'_> {
    fn file(&self) -> &Path {
        self.path
    }
}

impl Validator<'_> {
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

    /// A link Home Assistant shows: `http://` or `https://`, a host, at
    /// most 2048 bytes, no spaces or control characters (Home Assistant's
    /// own check, `cv.configuration_url`, refuses the whole discovery
    /// config for a bad one).
    fn http_url(&self, key: &str, u: String) -> Result<String, ConfigError> {
        let rest = u
            .strip_prefix("https://")
            .or_else(|| u.strip_prefix("http://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
        if u.len() > 2048
            || u.chars().any(|c| c.is_whitespace() || c.is_control())
            || host.is_none_or(|h| h.is_empty() || h.starts_with(':'))
        {
            return Err(self.err(
                key,
                format!("{u:?}: give an http:// or https:// URL with a host, e.g. \"https://tree.home.arpa/\""),
            ));
        }
        Ok(u)
    }

    pub(super) fn config(
        &self,
        raw: RawConfig,
        credentials: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let common = Common::validate(
            self,
            super::ACCOUNT,
            RawCommon {
                ledd_socket: raw.ledd_socket,
                user: raw.user,
                group: raw.group,
                sandbox: raw.sandbox,
            },
        )?;
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
                        .map_err(|u| self.err(format!("effects[{i}]"), format!("{e:?}: {u}")))?;
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                Some(out)
            }
        };
        let configuration_url = match raw.configuration_url {
            Some(u) => Some(self.http_url("configuration_url", u)?),
            None => None,
        };
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
                60_000,
            )?),
        };
        let sensors = Sensors {
            enabled: raw.sensors.enabled,
            interval: Duration::from_secs(self.range(
                "sensors.interval_secs",
                raw.sensors.interval_secs,
                1,
                3600,
            )?),
        };
        Ok(Config {
            path: self.path.to_owned(),
            common,
            name,
            node_id,
            base_topic,
            discovery_prefix,
            group_topic,
            effects,
            configuration_url,
            broker,
            limits,
            sensors,
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
