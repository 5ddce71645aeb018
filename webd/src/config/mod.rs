//! The config file: TOML parsed into raw types that refuse unknown keys,
//! then validated into [`Config`], which cannot hold an invalid value.
//!
//! Every error names the file and the key, and says what to do. Relative
//! paths (`ledd_socket`, `tls.cert`, `tls.key`, `tls.client_ca`) are taken
//! relative to the config file's directory, so a config and its
//! certificate can travel together.
//!
//! - `mod.rs` (this file): the validated [`Config`], [`Config::load`] and
//!   [`Config::parse`], what a reload cannot change, and the example.
//! - `raw.rs`: the serde types, as written in the file, with the defaults.
//! - `validate.rs`: the validation driver and its helpers; each section's
//!   checks are in its own file: `listen.rs` (`listen`,
//!   `trusted_proxies`), `tls.rs`, `limits.rs`, `ban.rs`, `hooks.rs`,
//!   `tokens.rs`, `page.rs`; `ledd_socket`, `user`, `group` and `[sandbox]` are the
//!   daemon kit's [`Common`], as in every client of ledd.
//! - `error.rs`: [`ConfigError`] and the multi-line TOML error display.
//! - `example.toml`: the commented example `webd --example-config` prints.
//!
//! The types it produces (tokens, access, networks, hooks) are
//! [`crate::domain`]'s, which the HTTP side reads too.

mod ban;
mod error;
mod hooks;
mod limits;
mod listen;
mod page;
mod raw;
mod tls;
mod tokens;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use self::ban::BanPolicy;
pub use self::error::ConfigError;
pub use self::limits::{
    DEFAULT_CONNECTIONS_PER_CLIENT, DEFAULT_HANDSHAKES_PER_CLIENT, Limits, MAX_BODY_BYTES,
    MAX_CONNECTIONS, MAX_HEADER_TIMEOUT_SECS,
};
pub use self::listen::DEFAULT_LISTEN;
pub use self::tls::{CLIENT_CERT_MODES, ClientAuth, TlsPaths};

use self::raw::RawConfig;
use self::validate::Validator;
use crate::domain::hook::Hook;
use crate::domain::net::{ClientHeader, IpNet};
use crate::domain::page::Page;
use crate::domain::token::Token;
use tinsel_daemon::config::{self, Common};

/// The example config printed by `webd --example-config`: every key, with
/// the defaults of `[limits]` and `[ban]`. A test parses it, so it never
/// goes stale.
pub const EXAMPLE: &str = include_str!("example.toml");

/// A validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The TCP address to bind when not socket-activated.
    pub listen: SocketAddr,
    /// `ledd_socket`, `user`, `group`, `[sandbox]`: every client's keys.
    pub common: Common,
    /// Peers whose word on the client's address is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The one header they say it in.
    pub client_header: ClientHeader,
    /// The certificate chain and key files.
    pub tls: TlsPaths,
    /// Whether clients must present a certificate, and its CA.
    pub client_auth: ClientAuth,
    /// Sizes and timeouts.
    pub limits: Limits,
    /// Failure counting and bans.
    pub ban: BanPolicy,
    /// The tokens, in file order.
    pub tokens: Vec<Token>,
    /// The hooks by name.
    pub hooks: BTreeMap<String, Hook>,
    /// `[page]`: the page, its devices and what they may do.
    pub page: Page,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = config::read(path)?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = config::parse(text, path)?;
        Validator { path }.config(raw)
    }

    /// Whether `new` changes something that only a restart applies.
    pub fn restart_only_changes(&self, new: &Config) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.listen != new.listen {
            keys.push("listen");
        }
        let (old, now) = (&self.common, &new.common);
        if old.ledd_socket != now.ledd_socket {
            keys.push("ledd_socket");
        }
        if old.user != now.user {
            keys.push("user");
        }
        if old.group != now.group {
            keys.push("group");
        }
        if self.limits.max_connections != new.limits.max_connections {
            keys.push("limits.max_connections");
        }
        // The devices directory is in the sandbox's write set.
        if self.page.devices_dir != new.page.devices_dir || (self.page.enabled != new.page.enabled)
        {
            keys.push("page.enabled and page.devices_dir");
        }
        keys
    }
}

/// webd's account in the package (tinsel.sysusers).
pub(crate) const ACCOUNT: config::Account = config::Account {
    daemon: "webd",
    user: "tinsel-web",
    group: "tinsel",
};

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use tinsel_proto::Rgb;

    use super::*;
    use crate::domain::hook::Action;
    use crate::domain::token::Scope;

    /// Parses `text` as `/etc/webd/webd.toml`.
    pub(crate) fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/webd/webd.toml"))
    }

    /// The smallest valid config.
    pub(crate) const MINIMAL: &str = r#"
ledd_socket = "ledd.sock"
[tls]
cert = "cert.pem"
key = "/abs/key.pem"
"#;

    #[test]
    fn example_config_is_valid() {
        let c = parse(EXAMPLE).unwrap();
        assert_eq!(c.tokens.len(), 2);
        assert_eq!(c.hooks.len(), 5);
        assert_eq!(c.hooks["off"].action, Action::Off);
        assert!(c.tokens[1].scope.allows("off"));
        assert!(!c.tokens[1].scope.allows("fire"));
        assert!(c.hooks["color"].request_colors.allows(Rgb::new(255, 0, 0)));
        assert!(!c.hooks["color"].request_colors.allows(Rgb::new(1, 2, 3)));
        assert_eq!(c.limits.header_timeout, Duration::from_secs(5));
        assert_eq!(c.ban.max_failures, 5);
        assert_eq!(c.client_auth, ClientAuth::Off);
        assert!(!c.tokens[1].require_client_cert);
        // The commented lines, switched on, parse too.
        let on = EXAMPLE
            .replace("client_cert = \"off\"", "client_cert = \"optional\"")
            .replace("# client_ca = ", "client_ca = ")
            .replace("require_client_cert = false", "require_client_cert = true");
        let c = parse(&on).unwrap();
        assert_eq!(
            c.client_auth,
            ClientAuth::Optional("/etc/tinsel/clients/ca.pem".into())
        );
        assert!(c.tokens[1].require_client_cert);
    }

    /// The config the package installs (`/etc/tinsel/webd.toml`), with the
    /// token its postinst appends (`webd token new owner`).
    #[test]
    fn the_packaged_config_is_valid() {
        const PACKAGED: &str = include_str!("../../../packaging/webd.toml");
        let c = parse(PACKAGED).unwrap();
        assert!(c.tokens.is_empty());
        assert_eq!(c.hooks["off"].action, Action::Off);
        let owner = crate::cli::new_token("owner", &[], false).unwrap();
        let c = parse(&format!("{PACKAGED}\n{}", owner.config)).unwrap();
        assert_eq!(c.tokens[0].name, "owner");
        assert_eq!(c.tokens[0].scope, Scope::All);
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.common.ledd_socket, Path::new("/etc/webd/ledd.sock"));
        assert_eq!(c.tls.cert, Path::new("/etc/webd/cert.pem"));
        assert_eq!(c.tls.key, Path::new("/abs/key.pem"));
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name_and_the_file() {
        let err = parse(&format!("{MINIMAL}\nlisten_port = 3")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/etc/webd/webd.toml"), "{msg}");
        // toml puts top-level keys after [tls] into the table.
        assert!(msg.contains("listen_port"), "{msg}");
    }

    #[test]
    fn restart_only_changes_are_named() {
        let a = parse(MINIMAL).unwrap();
        let b = parse(&format!("listen = \"127.0.0.1:1\"\n{MINIMAL}")).unwrap();
        assert_eq!(a.restart_only_changes(&b), vec!["listen"]);
        assert!(a.restart_only_changes(&a).is_empty());
    }

    #[test]
    fn users_and_groups_that_do_not_exist_name_their_key() {
        let with = |lines: &str| {
            parse(&format!("{lines}{MINIMAL}"))
                .unwrap()
                .common
                .identity()
        };
        let err = with("user = \"no-such-user-tinsel\"\n").unwrap_err();
        assert_eq!(err.key(), Some("user"), "{err}");
        assert!(err.to_string().contains("no-such-user-tinsel"), "{err}");
        assert!(err.to_string().contains("/etc/webd/webd.toml"), "{err}");
        let err = with("user = \"root\"\ngroup = \"no-such-group-tinsel\"\n").unwrap_err();
        assert_eq!(err.key(), Some("group"), "{err}");
        assert!(err.to_string().contains("no-such-group-tinsel"), "{err}");
        assert!(with("").unwrap().is_none());
        // root resolves, and is refused: dropping to it would drop nothing.
        let err = with("user = \"root\"\n").unwrap_err();
        assert_eq!(err.key(), Some("user"), "{err}");
        assert!(err.to_string().contains("uid 0"), "{err}");
    }

    /// `ledd_socket` may be left out, as in schedd and mqttd: ledd's
    /// packaged socket (the kit's `Common`; webd and mqttd required it).
    #[test]
    fn ledd_socket_defaults_to_the_packaged_socket() {
        let c = parse(&MINIMAL.replace("ledd_socket = \"ledd.sock\"\n", "")).unwrap();
        assert_eq!(
            c.common.ledd_socket,
            Path::new(tinsel_daemon::config::DEFAULT_LEDD_SOCKET)
        );
    }
}
