//! The configuration: the TOML file, the command-line overrides, and the
//! checks that turn them into a [`Config`] that cannot hold an invalid value.
//!
//! Parsing and checking are separate steps (raw → valid): the raw types
//! mirror the file and refuse unknown keys; [`Config::from_raw`] checks every
//! range and names the key, the value and the file when it refuses one.
//! User and group names are resolved here too, so a typo is a config error
//! at start (or at SIGHUP), not a silently refused client later.
//!
//! - `mod.rs` (this file): the checked [`Config`], [`Overrides`],
//!   [`Config::load`] (which reads the file with the reader every daemon
//!   uses, [`tinsel_daemon::config::read`]: a regular file of at most
//!   256 KiB, owned by root or ledd's own user, not writable by others),
//!   [`parse`], and the example.
//! - `raw.rs`: the serde types, as written in the file.
//! - `validate.rs`: the validation driver and its helpers; each section's
//!   checks are in its own file: `socket.rs` (`socket`, `socket_group`,
//!   `socket_mode`), `strip.rs` (`[strip]`, `[ws281x]`, `[spi]`, and the
//!   wire timing that bounds the frame rate), `output.rs`, `access.rs`,
//!   `startup.rs` (what ledd shows when it starts).
//! - `default_socket.rs`: the socket used when none is given: root's
//!   `/run/tinsel/ledd.sock` or the user's own, shared with ledctl.
//! - `names.rs`: user and group names to ids, and why a hardened ledd
//!   reads `/etc/passwd` and `/etc/group` itself.
//! - `error.rs`: [`ConfigError`], [`Origin`] and the multi-line TOML error
//!   display.
//! - `example.toml`: the commented example `ledd --example-config` prints.
//!
//! The strip's types ([`Backend`], [`StripKind`], [`ChannelOrder`],
//! [`StripConfig`], [`Ws281xOptions`]) live in [`crate::strip`], next to
//! the backends that use them, and are re-exported here.

mod access;
mod default_socket;
mod error;
mod names;
mod output;
mod raw;
mod socket;
mod startup;
mod strip;
mod validate;

use std::path::{Path, PathBuf};

pub use self::access::Access;
pub use self::default_socket::{
    DEFAULT_SOCKET, USER_SOCKET_DIR, USER_SOCKET_NAME, check_user_socket, check_user_socket_dir,
    default_socket, default_socket_for,
};
pub use self::error::{ConfigError, Origin};
pub use self::output::{DEFAULT_GAMMA, DEFAULT_MAX_MILLIAMPS, OutputConfig};
pub use self::raw::RawConfig;
pub use self::socket::DEFAULT_SOCKET_MODE;
pub use self::startup::Startup;
pub use self::strip::{
    DEFAULT_COUNT, DEFAULT_FPS, LATCH_US, MAX_COUNT, MAX_FPS, WIRE_US_PER_CHANNEL, max_fps_for,
};
pub use crate::strip::StripConfig;
pub use crate::strip::kind::{Backend, StripKind};
pub use crate::strip::order::ChannelOrder;
pub use crate::strip::ws281x::Ws281xOptions;

use self::validate::Validator;
use tinsel_daemon::config::toml_error;

/// A fully commented config file with every key at its default, printed
/// by `ledd --example-config`. A test parses it, so it never goes stale.
pub const EXAMPLE: &str = include_str!("example.toml");

/// Values from the command line that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--socket`.
    pub socket: Option<PathBuf>,
    /// `--backend`.
    pub backend: Option<String>,
    /// `--leds`.
    pub leds: Option<i64>,
}

/// A checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The socket path.
    pub socket: PathBuf,
    /// The group that owns the socket, if any.
    pub socket_group: Option<(String, u32)>,
    /// The socket's permission bits.
    pub socket_mode: u32,
    /// The strip.
    pub strip: StripConfig,
    /// The output stage.
    pub output: OutputConfig,
    /// Roles.
    pub access: Access,
    /// What to show at start.
    pub startup: Startup,
    /// Where it came from.
    pub origin: Origin,
}

impl Config {
    /// Reads `path` (if given), applies `overrides` and checks the result.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let (raw, origin) = match path {
            Some(path) => {
                let text = tinsel_daemon::config::read(path)?;
                let origin = Origin::File(path.to_owned());
                (parse(&text, &origin)?, origin)
            }
            None => (RawConfig::default(), Origin::Defaults),
        };
        Config::from_raw(raw, overrides, origin)
    }

    /// Checks a parsed file with its overrides.
    pub fn from_raw(
        raw: RawConfig,
        overrides: &Overrides,
        origin: Origin,
    ) -> Result<Config, ConfigError> {
        Validator { origin: &origin }.config(raw, overrides)
    }
}

/// Parses the text of a config file.
pub fn parse(text: &str, origin: &Origin) -> Result<RawConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        origin: origin.clone(),
        message: toml_error(&e),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses and checks `text` as `/etc/test.toml`, with no overrides.
    pub(crate) fn load_text(text: &str) -> Result<Config, ConfigError> {
        let origin = Origin::File(PathBuf::from("/etc/test.toml"));
        Config::from_raw(parse(text, &origin)?, &Overrides::default(), origin)
    }

    #[test]
    fn example_parses_to_the_defaults() {
        let from_example = load_text(EXAMPLE).unwrap();
        let mut defaults = Config::from_raw(
            RawConfig::default(),
            &Overrides::default(),
            Origin::File(PathBuf::from("/etc/test.toml")),
        )
        .unwrap();
        // The example shows root's socket; other users default to their own.
        assert_eq!(defaults.socket, default_socket());
        defaults.socket = PathBuf::from(DEFAULT_SOCKET);
        assert_eq!(from_example, defaults);
        assert_eq!(defaults.strip.count, 150);
        assert_eq!(defaults.strip.fps, 60);
        assert_eq!(defaults.strip.order, ChannelOrder::GRB);
        assert_eq!(defaults.socket_mode, 0o660);
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = load_text("[strip]\ncolour = 1\n").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        assert!(err.contains("/etc/test.toml"), "{err}");
        let err = load_text("sockett = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("sockett"), "{err}");
    }

    /// A config file of mode `mode`, and what loading it gives.
    fn load_with_mode(mode: u32) -> Result<Config, ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledd.toml");
        std::fs::write(&path, "[strip]\ncount = 10\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Config::load(Some(&path), &Overrides::default())
    }

    #[test]
    #[cfg_attr(
        tinsel_unprivileged,
        ignore = "needs root: only root distrusts a config file others can write"
    )]
    fn as_root_a_config_others_can_write_is_refused() {
        assert!(nix::unistd::geteuid().is_root(), "this test needs root");
        assert_eq!(load_with_mode(0o644).unwrap().strip.count, 10);
        let err = load_with_mode(0o666).unwrap_err().to_string();
        assert!(err.contains("666") && err.contains("chmod go-w"), "{err}");
    }

    /// The config the package installs (`/etc/tinsel/ledd.toml`). It names
    /// the package's `tinsel` group and its `tinsel-web`, `tinsel-sched`
    /// and `tinsel-mqtt` users, which a test machine may lack: with those
    /// names swapped for root's, it checks out as the defaults plus them.
    #[test]
    fn the_packaged_config_is_valid() {
        const PACKAGED: &str = include_str!("../../../packaging/ledd.toml");
        let origin = Origin::File(PathBuf::from("/etc/tinsel/ledd.toml"));
        parse(PACKAGED, &origin).unwrap();
        // The packaged users and group, root's on this machine (whatever
        // client daemons the package lists).
        let local: String = PACKAGED
            .lines()
            .map(|line| match line.split_once('=').map(|(k, _)| k.trim()) {
                Some("socket_group") => "socket_group = \"root\"",
                Some("hooks_users") => "hooks_users = [\"root\"]",
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        assert_ne!(
            local, PACKAGED,
            "the package's names moved: update this test"
        );
        let c = load_text(&local).unwrap();
        assert_eq!(c.socket_group, Some(("root".into(), 0)));
        assert_eq!(c.access.hooks_uids, vec![0]);
        let example = load_text(EXAMPLE).unwrap();
        // The budget that bounds the power whatever brightness a hooks peer
        // sets (below).
        assert!(c.output.max_milliamps > 0, "{:?}", c.output);
        assert_eq!((c.strip, c.output), (example.strip, example.output));
        assert_eq!(c.startup, example.startup, "the package starts dark");
        // Home Assistant's slider through mqttd: hooks peers may set the
        // whole range, and the current budget (not the ceiling) bounds the
        // power, so the package keeps the example's budget.
        assert_eq!(example.access.hooks_max_brightness, None);
        assert_eq!(c.access.hooks_max_brightness.map(|b| b.get()), Some(100));
    }
}
