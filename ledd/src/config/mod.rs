//! The configuration: the TOML file, the command-line overrides, and the
//! checks that turn them into a [`Config`] that cannot hold an invalid value.
//!
//! Parsing and checking are separate steps (raw → valid): the raw types
//! mirror the file and refuse unknown keys; [`Config::from_raw`] checks every
//! range and names the key, the value and the file when it refuses one.
//! User and group names are resolved here too, so a typo is a config error
//! at start (or at SIGHUP), not a silently refused client later.

use std::fmt;
use std::path::{Path, PathBuf};

use nix::unistd::{Group, User};
use serde::Deserialize;
use tinsel_proto::Brightness;

use crate::strip::kind::StripKind;
use crate::strip::spi_wire::SpiEncoding;
use crate::strip::ws281x;

/// Where ledd listens as root when neither the file nor `--socket` says
/// (systemd's `ledd.socket` and the `.deb` create `/run/tinsel`).
pub const DEFAULT_SOCKET: &str = "/run/tinsel/ledd.sock";
/// The per-user directory's name, under `$XDG_RUNTIME_DIR`.
pub const USER_SOCKET_DIR: &str = "tinsel";
/// The socket's file name in the per-user directory.
pub const USER_SOCKET_NAME: &str = "ledd.sock";

/// Where ledd listens, and ledctl connects, when neither the config file
/// nor `--socket` says: root's [`DEFAULT_SOCKET`], and for any other
/// user a socket of their own (see [`default_socket_for`]), so that an
/// ordinary user's `ledd` and `ledctl` find each other.
pub fn default_socket() -> PathBuf {
    default_socket_for(
        nix::unistd::geteuid().as_raw(),
        std::env::var_os("XDG_RUNTIME_DIR").as_deref(),
    )
}

/// [`default_socket`] for effective uid `euid` and the value of
/// `XDG_RUNTIME_DIR`: uid 0 gets [`DEFAULT_SOCKET`]; others get
/// `$XDG_RUNTIME_DIR/tinsel/ledd.sock` (a directory only that user can
/// reach, made by the login manager), or `/tmp/tinsel-<uid>/ledd.sock` when
/// `XDG_RUNTIME_DIR` is unset, empty or relative. ledd creates the
/// `tinsel` directory (mode 0700) and checks it with
/// [`check_user_socket_dir`]: in `/tmp` anyone could have made it first.
pub fn default_socket_for(euid: u32, xdg_runtime_dir: Option<&std::ffi::OsStr>) -> PathBuf {
    if euid == 0 {
        return PathBuf::from(DEFAULT_SOCKET);
    }
    let dir = match xdg_runtime_dir.map(Path::new) {
        Some(runtime) if runtime.is_absolute() => runtime.join(USER_SOCKET_DIR),
        _ => PathBuf::from(format!("/tmp/{USER_SOCKET_DIR}-{euid}")),
    };
    dir.join(USER_SOCKET_NAME)
}

/// Checks that the per-user socket directory `dir` is a real directory
/// (not a symlink) owned by `euid` and that no one else may write to it,
/// so that neither ledd's socket nor the one ledctl connects to can be
/// another user's. The error names the directory and the fix.
pub fn check_user_socket_dir(dir: &Path, euid: u32) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!(
            "{} is not a directory (a symlink or a file): remove it, or choose a socket with --socket PATH",
            dir.display()
        ));
    }
    if meta.uid() != euid {
        return Err(format!(
            "{} belongs to uid {}, not to uid {euid}: someone else made it; remove it, set XDG_RUNTIME_DIR, or choose a socket with --socket PATH",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by others (mode {:o}): chmod 700 {}",
            dir.display(),
            meta.mode() & 0o7777,
            dir.display()
        ));
    }
    Ok(())
}
/// The default socket permissions: owner and group may connect.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;
/// The default number of LEDs.
pub const DEFAULT_COUNT: u16 = 150;
/// The default frame rate.
pub const DEFAULT_FPS: u16 = 60;
/// The default gamma exponent (the usual value for WS2812 LEDs).
pub const DEFAULT_GAMMA: f32 = 2.2;
/// The default current budget: a 5 V 2.5 A supply, less what the Pi takes.
pub const DEFAULT_MAX_MILLIAMPS: u32 = 2000;
/// The most LEDs ledd drives: 1000 LEDs take 30 ms on the wire, 30 fps.
pub const MAX_COUNT: u16 = 1000;
/// The highest frame rate accepted whatever the LED count.
pub const MAX_FPS: u16 = 500;
/// Time on the wire per colour channel: 8 bits of 1.25 µs (WS2812B
/// datasheet); an RGB LED takes 30 µs, an RGBW LED 40 µs.
pub const WIRE_US_PER_CHANNEL: u32 = 10;
/// The reset (latch) time newer WS2812B parts need: at least 280 µs.
pub const LATCH_US: u32 = 280;

/// The highest frame rate the wire allows for `count` LEDs of `channels`
/// bytes each.
pub const fn max_fps_for(count: u16, channels: usize) -> u16 {
    let frame_us = count as u32 * WIRE_US_PER_CHANNEL * channels as u32 + LATCH_US;
    let fps = 1_000_000 / frame_us;
    if fps > MAX_FPS as u32 {
        MAX_FPS
    } else {
        fps as u16
    }
}

/// A configuration that could not be read or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file could be changed by someone other than root.
    #[error(
        "config file {path} is owned by uid {uid} with mode {mode:o}: ledd runs as root and trusts only a file owned by root and not writable by group or others (chown root {path} && chmod go-w {path})"
    )]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not valid TOML or has an unknown key or a wrong type.
    #[error("{origin}: {message}")]
    Parse {
        /// The file.
        origin: Origin,
        /// The parser's message, which names the key and the line.
        message: String,
    },
    /// A value is out of range or names nothing.
    #[error("{origin}: `{key}` = {value} is refused: {reason}")]
    Invalid {
        /// Where the value came from.
        origin: Origin,
        /// The key, dotted (`strip.count`).
        key: &'static str,
        /// The value as given.
        value: String,
        /// Why, and what to use instead.
        reason: String,
    },
}

/// Where a configuration came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file.
    File(PathBuf),
    /// No file: the built-in defaults and the command line.
    Defaults,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(p) => write!(f, "config file {}", p.display()),
            Origin::Defaults => f.write_str("command line"),
        }
    }
}

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    socket: Option<PathBuf>,
    socket_group: Option<String>,
    socket_mode: Option<String>,
    #[serde(default)]
    strip: RawStrip,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    access: RawAccess,
    #[serde(default)]
    ws281x: RawWs281x,
    #[serde(default)]
    spi: RawSpi,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWs281x {
    pin: Option<i64>,
    dma: Option<i64>,
    frequency: Option<i64>,
    invert: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpi {
    bits_per_bit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStrip {
    backend: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    count: Option<i64>,
    order: Option<String>,
    fps: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    brightness: Option<i64>,
    gamma: Option<f64>,
    max_milliamps: Option<i64>,
    milliamps_per_led: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    #[serde(default)]
    admin_users: Vec<String>,
    #[serde(default)]
    admin_groups: Vec<String>,
    #[serde(default)]
    hooks_users: Vec<String>,
    #[serde(default)]
    hooks_groups: Vec<String>,
}

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

/// Which LED backend drives the strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The simulated strip: pixels go nowhere but to `ledctl watch`.
    Sim,
    /// WS2812 through PWM/DMA (rs_ws281x).
    Ws281x,
    /// WS2812 through the SPI controller (rppal).
    Spi,
}

impl Backend {
    /// The name used in the config and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Sim => "sim",
            Backend::Ws281x => "ws281x",
            Backend::Spi => "spi",
        }
    }
}

/// The order in which a strip expects its colour bytes: three (RGB parts)
/// or four (RGBW parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelOrder {
    /// For each wire byte, the index of the channel (0 r, 1 g, 2 b, 3 w) it
    /// carries; only the first [`ChannelOrder::channels`] are used.
    pub wire: [u8; 4],
    channels: u8,
}

impl ChannelOrder {
    /// Green, red, blue: what WS2812B parts expect.
    pub const GRB: ChannelOrder = ChannelOrder {
        wire: [1, 0, 2, 3],
        channels: 3,
    };

    /// Parses `rgb`, `grb`, `bgr`, ... (any permutation of r, g, b) or, for
    /// RGBW parts, any permutation of r, g, b and w (`grbw`).
    pub fn parse(s: &str) -> Option<ChannelOrder> {
        let b = s.as_bytes();
        if b.len() != 3 && b.len() != 4 {
            return None;
        }
        let mut wire = [3u8; 4];
        for (slot, c) in wire.iter_mut().zip(b) {
            *slot = match c.to_ascii_lowercase() {
                b'r' => 0,
                b'g' => 1,
                b'b' => 2,
                b'w' => 3,
                _ => return None,
            };
        }
        let used = &wire[..b.len()];
        let distinct = (0..used.len()).all(|i| !used[i + 1..].contains(&used[i]));
        let complete = used.contains(&0) && used.contains(&1) && used.contains(&2);
        (distinct && complete).then_some(ChannelOrder {
            wire,
            channels: b.len() as u8,
        })
    }

    /// Bytes per LED on the wire: 3 or 4.
    pub fn channels(self) -> usize {
        usize::from(self.channels)
    }

    /// The name, e.g. "grb".
    pub fn name(self) -> String {
        self.wire[..self.channels()]
            .iter()
            .map(|&c| ['r', 'g', 'b', 'w'][usize::from(c)])
            .collect()
    }
}

/// The strip section, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct StripConfig {
    /// The backend.
    pub backend: Backend,
    /// The number of LEDs, 1 to [`MAX_COUNT`].
    pub count: u16,
    /// The channel order on the wire.
    pub order: ChannelOrder,
    /// Frames per second, 1 to [`max_fps_for`] the count.
    pub fps: u16,
    /// The LED part.
    pub kind: StripKind,
    /// PWM/DMA settings, used by the `ws281x` backend.
    pub ws281x: Ws281xOptions,
    /// How the `spi` backend encodes bits.
    pub spi: SpiEncoding,
}

/// The `[ws281x]` section, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ws281xOptions {
    /// GPIO pin (BCM numbering).
    pub pin: u8,
    /// DMA channel.
    pub dma: u8,
    /// Bit rate in Hz.
    pub freq_hz: u32,
    /// Whether an inverting level shifter sits between the Pi and the strip.
    pub invert: bool,
}

/// The output section, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfig {
    /// The brightness at start.
    pub brightness: Brightness,
    /// The gamma exponent, 1.0 to 3.0.
    pub gamma: f32,
    /// The current budget in mA; 0 means no limit.
    pub max_milliamps: u32,
    /// The current of one LED at full white, in mA.
    pub milliamps_per_led: u16,
}

/// Who may connect, resolved to ids.
/// [`crate::server::role_of`] turns a peer into a role with these lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Users with the admin role (root always has it).
    pub admin_uids: Vec<u32>,
    /// Groups whose members have the admin role.
    pub admin_gids: Vec<u32>,
    /// Users with the hooks role.
    pub hooks_uids: Vec<u32>,
    /// Groups whose members have the hooks role.
    pub hooks_gids: Vec<u32>,
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
    /// Where it came from.
    pub origin: Origin,
}

impl Config {
    /// Reads `path` (if given), applies `overrides` and checks the result.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let (raw, origin) = match path {
            Some(path) => {
                let text = read_trusted(path)?;
                let origin = Origin::File(path.to_owned());
                (parse(&text, &origin)?, origin)
            }
            None => (RawConfig::default(), Origin::Defaults),
        };
        Config::from_raw(raw, overrides, origin)
    }

    /// Checks a parsed file with its overrides.
    pub fn from_raw(
        mut raw: RawConfig,
        overrides: &Overrides,
        origin: Origin,
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
        let invalid = |key: &'static str, value: String, reason: String| ConfigError::Invalid {
            origin: origin.clone(),
            key,
            value,
            reason,
        };

        let socket = raw.socket.unwrap_or_else(default_socket);
        if socket.as_os_str().is_empty() || socket.as_os_str().len() > 100 {
            return Err(invalid(
                "socket",
                format!("{:?}", socket.display().to_string()),
                "use a path of 1 to 100 bytes (the kernel's sun_path limit is 108)".into(),
            ));
        }

        let socket_group = match raw.socket_group.filter(|g| !g.is_empty()) {
            None => None,
            Some(name) => match resolve_group(&name) {
                Some(gid) => Some((name, gid)),
                None => {
                    return Err(invalid(
                        "socket_group",
                        format!("{name:?}"),
                        "no such group: create it or leave socket_group out".into(),
                    ));
                }
            },
        };

        let socket_mode = match raw.socket_mode {
            None => DEFAULT_SOCKET_MODE,
            Some(text) => match u32::from_str_radix(text.trim_start_matches("0o"), 8) {
                Ok(m) if m <= 0o777 => m,
                _ => {
                    return Err(invalid(
                        "socket_mode",
                        format!("{text:?}"),
                        "use octal permission bits as a string, e.g. \"0660\"".into(),
                    ));
                }
            },
        };

        let backend = match raw.strip.backend.as_deref() {
            None | Some("sim") => Backend::Sim,
            Some("ws281x") => Backend::Ws281x,
            Some("spi") => Backend::Spi,
            Some(other) => {
                return Err(invalid(
                    "strip.backend",
                    format!("{other:?}"),
                    "use \"sim\", \"ws281x\" or \"spi\"".into(),
                ));
            }
        };

        let count = match raw.strip.count {
            None => DEFAULT_COUNT,
            Some(n) if (1..=i64::from(MAX_COUNT)).contains(&n) => n as u16,
            Some(n) => {
                return Err(invalid(
                    "strip.count",
                    n.to_string(),
                    format!("use 1 to {MAX_COUNT} LEDs"),
                ));
            }
        };

        let kind = match raw.strip.kind.as_deref() {
            None => StripKind::default(),
            Some(text) => StripKind::ALL
                .into_iter()
                .find(|k| k.name() == text)
                .ok_or_else(|| {
                    invalid(
                        "strip.type",
                        format!("{text:?}"),
                        "use \"ws2812b\" (also WS2812, WS2813, SK6812 RGB), \"ws2811\" or \"sk6812rgbw\"".into(),
                    )
                })?,
        };

        let order_text = raw.strip.order.as_deref().unwrap_or(kind.default_order());
        let order = ChannelOrder::parse(order_text)
            .filter(|o| o.channels() == kind.channels())
            .ok_or_else(|| {
                invalid(
                    "strip.order",
                    format!("{order_text:?}"),
                    if kind.channels() == 4 {
                        format!("a {kind} strip has four channels: use a permutation of r, g, b and w, e.g. \"grbw\"")
                    } else {
                        format!("a {kind} strip has three channels: use a permutation of r, g and b, e.g. \"grb\" (WS2812B) or \"rgb\"")
                    },
                )
            })?;

        let ws281x = Ws281xOptions {
            pin: small_int(&invalid, "ws281x.pin", raw.ws281x.pin, 18)?,
            dma: small_int(&invalid, "ws281x.dma", raw.ws281x.dma, ws281x::DEFAULT_DMA)?,
            freq_hz: match raw.ws281x.frequency {
                None => ws281x::DEFAULT_FREQ_HZ,
                Some(f) => u32::try_from(f).map_err(|_| {
                    invalid(
                        "ws281x.frequency",
                        f.to_string(),
                        "use 800000 or 400000".into(),
                    )
                })?,
            },
            invert: raw.ws281x.invert.unwrap_or(false),
        };
        if let Err(e) = ws281x::validate(&ws281x::Ws281xConfig {
            count: usize::from(count),
            channels: kind.channels(),
            pin: ws281x.pin,
            dma: ws281x.dma,
            freq_hz: ws281x.freq_hz,
            invert: ws281x.invert,
        }) {
            let (key, value) = if !ws281x::PINS.iter().any(|(p, _)| *p == ws281x.pin) {
                ("ws281x.pin", ws281x.pin.to_string())
            } else if !(1..=14).contains(&ws281x.dma) {
                ("ws281x.dma", ws281x.dma.to_string())
            } else {
                ("ws281x.frequency", ws281x.freq_hz.to_string())
            };
            return Err(invalid(key, value, e.to_string()));
        }

        let spi = match raw.spi.bits_per_bit {
            None | Some(3) => SpiEncoding::ThreeBit,
            Some(4) => SpiEncoding::FourBit,
            Some(n) => {
                return Err(invalid(
                    "spi.bits_per_bit",
                    n.to_string(),
                    "use 3 (2.4 MHz SPI clock) or 4 (3.2 MHz)".into(),
                ));
            }
        };

        let max_fps = max_fps_for(count, kind.channels());
        let fps = match raw.strip.fps {
            None => DEFAULT_FPS.min(max_fps),
            Some(n) if (1..=i64::from(max_fps)).contains(&n) => n as u16,
            Some(n) => {
                return Err(invalid(
                    "strip.fps",
                    n.to_string(),
                    format!(
                        "use 1 to {max_fps}: {count} LEDs take {} µs on the wire plus a {LATCH_US} µs latch",
                        u32::from(count) * WIRE_US_PER_CHANNEL * kind.channels() as u32
                    ),
                ));
            }
        };

        let brightness = match raw.output.brightness {
            None => Brightness::DEFAULT,
            Some(n) => u8::try_from(n)
                .ok()
                .and_then(|b| Brightness::new(b).ok())
                .ok_or_else(|| {
                    invalid(
                        "output.brightness",
                        n.to_string(),
                        "use 0 to 100 (percent)".into(),
                    )
                })?,
        };

        let gamma = match raw.output.gamma {
            None => DEFAULT_GAMMA,
            Some(g) if (1.0..=3.0).contains(&g) => g as f32,
            Some(g) => {
                return Err(invalid(
                    "output.gamma",
                    g.to_string(),
                    "use 1.0 (no correction) to 3.0; 2.2 suits WS2812".into(),
                ));
            }
        };

        let max_milliamps = match raw.output.max_milliamps {
            None => DEFAULT_MAX_MILLIAMPS,
            Some(n) if n == 0 || (100..=100_000).contains(&n) => n as u32,
            Some(n) => {
                return Err(invalid(
                    "output.max_milliamps",
                    n.to_string(),
                    "use 0 (no limit) or 100 to 100000 mA".into(),
                ));
            }
        };

        let milliamps_per_led = match raw.output.milliamps_per_led {
            None => kind.milliamps_per_led() as u16,
            Some(n) if (1..=200).contains(&n) => n as u16,
            Some(n) => {
                return Err(invalid(
                    "output.milliamps_per_led",
                    n.to_string(),
                    format!(
                        "use 1 to 200 mA (the default for {kind} is {})",
                        kind.milliamps_per_led()
                    ),
                ));
            }
        };

        let a = &raw.access;
        let access = Access {
            admin_uids: resolve_ids(&a.admin_users, Id::User, "access.admin_users", &origin)?,
            admin_gids: resolve_ids(&a.admin_groups, Id::Group, "access.admin_groups", &origin)?,
            hooks_uids: resolve_ids(&a.hooks_users, Id::User, "access.hooks_users", &origin)?,
            hooks_gids: resolve_ids(&a.hooks_groups, Id::Group, "access.hooks_groups", &origin)?,
        };

        Ok(Config {
            socket,
            socket_group,
            socket_mode,
            strip: StripConfig {
                backend,
                count,
                order,
                fps,
                kind,
                ws281x,
                spi,
            },
            output: OutputConfig {
                brightness,
                gamma,
                max_milliamps,
                milliamps_per_led,
            },
            access,
            origin,
        })
    }
}

/// A small unsigned setting: `default` when absent, refused (naming `key`)
/// when it does not fit a byte.
fn small_int(
    invalid: &impl Fn(&'static str, String, String) -> ConfigError,
    key: &'static str,
    value: Option<i64>,
    default: u8,
) -> Result<u8, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) => u8::try_from(n).map_err(|_| invalid(key, n.to_string(), "use 0 to 255".into())),
    }
}

/// Reads a config file, refusing (when ledd runs as root) one that a
/// non-root user owns or may write: whoever can edit it can make themselves
/// admin. The checks are on the opened file, not the path, so the file
/// cannot be swapped between check and read.
fn read_trusted(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let read_err = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if nix::unistd::geteuid().is_root() && (meta.uid() != 0 || meta.mode() & 0o022 != 0) {
        return Err(ConfigError::Untrusted {
            path: path.to_owned(),
            uid: meta.uid(),
            mode: meta.mode() & 0o7777,
        });
    }
    let mut text = String::new();
    // A config is a few KiB; cap what a mistake (a device, a huge file) can cost.
    (&mut file)
        .take(MAX_CONFIG_BYTES)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    Ok(text)
}

/// The largest config file read.
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// Parses the text of a config file.
pub fn parse(text: &str, origin: &Origin) -> Result<RawConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        origin: origin.clone(),
        message: toml_error(&e),
    })
}

/// A TOML error as `what is wrong (line L, column C)` on the first line,
/// then the parser's excerpt: the offending line with a caret under the
/// spot. (Squashed onto one line, the caret would point at nothing.)
fn toml_error(e: &toml::de::Error) -> String {
    let shown = e.to_string();
    let mut lines = shown.lines();
    let at = lines
        .next()
        .and_then(|l| l.strip_prefix("TOML parse error at "))
        .map(|pos| format!(" ({pos})"))
        .unwrap_or_default();
    let excerpt: Vec<&str> = lines
        .take_while(|l| {
            l.split_once('|')
                .is_some_and(|(gutter, _)| gutter.trim().chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    let message = e.message().trim().replace('\n', "; ");
    if excerpt.is_empty() {
        format!("{message}{at}")
    } else {
        format!("{message}{at}\n{}", excerpt.join("\n"))
    }
}

/// Set once ledd is about to harden: from then on names are looked up in
/// [`PASSWD`] and [`GROUP`] only, never through NSS.
static NAMES_FROM_FILES_ONLY: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
/// The user database read after hardening.
pub const PASSWD: &str = "/etc/passwd";
/// The group database read after hardening.
pub const GROUP: &str = "/etc/group";

/// From now on, resolve user and group names (SIGHUP reloads) from
/// `/etc/passwd` and `/etc/group` only. ledd calls this before hardening:
/// NSS may open `AF_UNIX` sockets (glibc's nscd client, `libnss_systemd`'s
/// userdb, `sss`), which the seccomp filter kills, while reading a file
/// stays allowed. Names only NSS knows (LDAP, systemd-userdb) then need a
/// numeric id in the config, or a restart.
pub fn resolve_names_from_files_only() {
    NAMES_FROM_FILES_ONLY.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn files_only() -> bool {
    NAMES_FROM_FILES_ONLY.load(std::sync::atomic::Ordering::SeqCst)
}

/// The id (third field) of `name` in a `passwd` or `group` file's text.
fn id_in_database(text: &str, name: &str) -> Option<u32> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.trim().parse().ok()
    })
}

fn id_in_file(path: &str, name: &str) -> Option<u32> {
    id_in_database(&std::fs::read_to_string(path).ok()?, name)
}

/// A user given by name or by numeric id.
fn resolve_user(name: &str) -> Option<u32> {
    if let Ok(uid) = name.parse::<u32>() {
        return Some(uid);
    }
    if files_only() {
        return id_in_file(PASSWD, name);
    }
    User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
}

/// A group given by name or by numeric id.
fn resolve_group(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    if files_only() {
        return id_in_file(GROUP, name);
    }
    Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// The end of a "no such user/group" message.
fn unknown_name_hint(id: &str) -> String {
    if files_only() {
        format!(
            "not in {PASSWD} or {GROUP}: a running ledd resolves names from these files only (NSS is out of reach once it is hardened); use a numeric {id}, or restart ledd"
        )
    } else {
        format!("create it, use a numeric {id}, or remove it")
    }
}

/// Who a list of names or ids under `key` names: users (`Id::User`) or
/// groups (`Id::Group`).
#[derive(Clone, Copy)]
enum Id {
    User,
    Group,
}

/// Resolves every name under `key` to its id, refusing the first unknown one.
fn resolve_ids(
    names: &[String],
    id: Id,
    key: &'static str,
    origin: &Origin,
) -> Result<Vec<u32>, ConfigError> {
    let (resolve, what, hint): (fn(&str) -> Option<u32>, _, _) = match id {
        Id::User => (resolve_user, "user", "uid"),
        Id::Group => (resolve_group, "group", "gid"),
    };
    names
        .iter()
        .map(|n| {
            resolve(n).ok_or_else(|| ConfigError::Invalid {
                origin: origin.clone(),
                key,
                value: format!("{n:?}"),
                reason: format!("no such {what}: {}", unknown_name_hint(hint)),
            })
        })
        .collect()
}

/// A fully commented config file with every key at its default.
pub const EXAMPLE: &str = r#"# ledd configuration (TOML). Every key is optional; the values shown are
# the defaults. Unknown keys are refused. Check a file with
#   ledd --check-config /etc/tinsel/ledd.toml
# and apply changes to a running ledd with SIGHUP (systemctl reload ledd):
# output and access changes apply at once; socket and strip changes need a
# restart.

# The Unix socket ledctl and webd connect to. Ignored when systemd passes the
# socket (socket activation, ledd.socket). Left out, it is this for root and
# $XDG_RUNTIME_DIR/tinsel/ledd.sock (or /tmp/tinsel-UID/ledd.sock) for other
# users, where ledctl looks by default.
socket = "/run/tinsel/ledd.sock"

# The group that owns the socket; "" leaves it root's. Give webd's group here
# (and list it under [access] hooks_groups) so webd can connect.
socket_group = ""

# The socket's permission bits, octal, as a string. Who may connect at all;
# [access] then decides what each peer may do.
socket_mode = "0660"

[strip]
# "sim" (simulated: watch it with `ledctl watch`), "ws281x" (PWM/DMA, root,
# GPIO 18) or "spi" (SPI0 MOSI = GPIO 10, needs no root). The hardware
# backends need a ledd built with them (`--features pi`).
backend = "sim"
# The LED part: "ws2812b" (also WS2812, WS2813 and SK6812 RGB), "ws2811" or
# "sk6812rgbw" (four channels; white is taken from the common part of r, g
# and b).
type = "ws2812b"
# Number of LEDs, 1 to 1000.
count = 150
# The order the LEDs expect the colour bytes; the default follows `type`:
# "grb" for WS2812B, "rgb" for WS2811, "grbw" for SK6812 RGBW. Any
# permutation of r, g, b (and w for RGBW). `ledctl selftest` shows which.
order = "grb"
# Frames per second. At most what the wire allows: 10 µs per colour channel
# per LED plus a 280 µs latch (150 RGB LEDs: 209 fps).
fps = 60

[ws281x]
# GPIO pin (BCM numbering): 18 or 12 (PWM; disable analogue audio), 21 (PCM)
# or 10 (SPI).
pin = 18
# DMA channel, 1 to 14. 10 is safe on every model; 5 can corrupt the SD card.
dma = 10
# Bit rate in Hz: 800000 (WS2812) or 400000 (old WS2811).
frequency = 800000
# true when an inverting level shifter (a single transistor) drives the strip.
invert = false

[spi]
# SPI bits per WS2812 bit: 3 (2.4 MHz clock, 9 bytes per RGB LED, 445 LEDs in
# the default 4096-byte spidev buffer) or 4 (3.2 MHz, 12 bytes per LED).
bits_per_bit = 3

[output]
# Brightness at start, 0 to 100 percent (ledctl brightness N changes it).
brightness = 50
# Gamma exponent for the colour lookup table, 1.0 (none) to 3.0.
gamma = 2.2
# Current budget of the LED supply in mA; frames that would draw more are
# dimmed to fit. 0 means no limit (not recommended: 150 LEDs at full white
# draw 9 A).
max_milliamps = 2000
# The current one LED draws at full white, in mA. The default follows
# [strip] type: 60 for WS2812B, 57 for WS2811, 80 for SK6812 RGBW.
milliamps_per_led = 60

[access]
# Who may talk to ledd. root is always admin. Names or numeric ids.
# admin: everything (play, off, status, brightness, watch, frame).
admin_users = []
admin_groups = []
# hooks: play, off and status only (the webd user).
hooks_users = []
hooks_groups = []
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let origin = Origin::File(PathBuf::from("/etc/test.toml"));
        Config::from_raw(parse(text, &origin)?, &Overrides::default(), origin)
    }

    #[test]
    fn toml_errors_keep_the_line_and_a_caret_under_the_spot() {
        let msg = load_text("[strip]\ncount = \"many\"\n")
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = msg.lines().collect();
        assert!(
            lines[0].starts_with("config file /etc/test.toml: "),
            "{msg}"
        );
        assert!(lines[0].contains("line 2, column 9"), "{msg}");
        let source = lines
            .iter()
            .position(|l| l.ends_with("| count = \"many\""))
            .unwrap_or_else(|| panic!("no source line in:\n{msg}"));
        let caret = lines.get(source + 1).copied().unwrap_or_default();
        assert_eq!(
            caret.find('^'),
            lines[source].find("\"many"),
            "the caret must sit under the value:\n{msg}"
        );
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
    fn fps_is_bounded_by_the_wire() {
        assert_eq!(max_fps_for(150, 3), 209);
        assert_eq!(max_fps_for(1000, 3), 33);
        assert_eq!(max_fps_for(150, 4), 159);
        assert!(load_text("[strip]\ncount = 150\nfps = 209\n").is_ok());
        let err = load_text("[strip]\ncount = 150\nfps = 210\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("strip.fps") && err.contains("210"), "{err}");
        // The default fps shrinks for a long strip instead of failing.
        let long = load_text("[strip]\ncount = 1000\n").unwrap();
        assert_eq!(long.strip.fps, 33);
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

    #[test]
    fn names_resolve_from_the_database_files() {
        let passwd = "# a comment\nroot:x:0:0:root:/root:/bin/sh\n\
                      tinsel-web:x:998:997::/nonexistent:/usr/sbin/nologin\nbroken\nodd:x:notanumber:1::/:/bin/sh\n";
        assert_eq!(id_in_database(passwd, "root"), Some(0));
        assert_eq!(id_in_database(passwd, "tinsel-web"), Some(998));
        assert_eq!(id_in_database(passwd, "tinsel"), None, "whole names only");
        assert_eq!(id_in_database(passwd, "odd"), None);
        assert_eq!(id_in_database(passwd, "broken"), None);
        let group = "tinsel:x:997:tinsel-web,pi\n";
        assert_eq!(id_in_database(group, "tinsel"), Some(997));
        assert_eq!(id_in_database(group, "pi"), None, "members are not groups");
        // The real files agree with NSS for local names.
        assert_eq!(id_in_file(PASSWD, "root"), Some(0));
        assert_eq!(id_in_file(GROUP, "root"), Some(0));
    }

    #[test]
    fn users_and_groups_resolve_or_are_refused() {
        let c =
            load_text("[access]\nhooks_users = [\"root\", \"65534\"]\nadmin_groups = [\"0\"]\n")
                .unwrap();
        assert_eq!(c.access.hooks_uids, vec![0, 65534]);
        assert_eq!(c.access.admin_gids, vec![0]);
        let err = load_text("[access]\nhooks_users = [\"no-such-user-xyz\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("access.hooks_users") && err.contains("no-such-user-xyz"));
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

    #[test]
    fn the_default_socket_is_roots_or_the_users_own() {
        use std::ffi::OsStr;
        let root = default_socket_for(0, Some(OsStr::new("/run/user/0")));
        assert_eq!(root, Path::new("/run/tinsel/ledd.sock"));
        assert_eq!(
            default_socket_for(1000, Some(OsStr::new("/run/user/1000"))),
            Path::new("/run/user/1000/tinsel/ledd.sock")
        );
        for unusable in [None, Some(""), Some("relative/dir")] {
            assert_eq!(
                default_socket_for(1000, unusable.map(OsStr::new)),
                Path::new("/tmp/tinsel-1000/ledd.sock"),
                "XDG_RUNTIME_DIR = {unusable:?}"
            );
        }
        // ledd's default is ledctl's: both come from here.
        let euid = nix::unistd::geteuid().as_raw();
        let xdg = std::env::var_os("XDG_RUNTIME_DIR");
        assert_eq!(default_socket(), default_socket_for(euid, xdg.as_deref()));
        let c = Config::from_raw(
            RawConfig::default(),
            &Overrides::default(),
            Origin::Defaults,
        );
        assert_eq!(c.unwrap().socket, default_socket());
    }

    #[test]
    fn a_per_user_socket_directory_must_be_private_and_the_users_own() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tinsel");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let owner = std::fs::metadata(&dir).unwrap().uid();
        assert_eq!(check_user_socket_dir(&dir, owner), Ok(()));
        let err = check_user_socket_dir(&dir, owner + 1).unwrap_err();
        assert!(err.contains(&format!("belongs to uid {owner}")), "{err}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_user_socket_dir(&dir, owner).unwrap_err();
        assert!(
            err.contains("writable by others") && err.contains("chmod 700"),
            "{err}"
        );
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let err = check_user_socket_dir(&link, owner).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
    }

    #[test]
    fn channel_orders_parse() {
        assert_eq!(ChannelOrder::parse("rgb").unwrap().wire[..3], [0, 1, 2]);
        assert_eq!(ChannelOrder::parse("GRB"), Some(ChannelOrder::GRB));
        assert_eq!(ChannelOrder::parse("bgr").unwrap().name(), "bgr");
        assert!(ChannelOrder::parse("rg").is_none());
        assert!(ChannelOrder::parse("rgx").is_none());
        let grbw = ChannelOrder::parse("grbw").unwrap();
        assert_eq!(
            (grbw.wire, grbw.channels(), grbw.name()),
            ([1, 0, 2, 3], 4, "grbw".into())
        );
        assert!(ChannelOrder::parse("rgbb").is_none(), "a channel twice");
        assert!(ChannelOrder::parse("rgww").is_none());
        assert!(ChannelOrder::parse("rgwb").is_some());
    }

    #[test]
    fn strip_types_set_order_current_and_frame_rate() {
        let c = load_text("[strip]\ntype = \"sk6812rgbw\"\ncount = 150").unwrap();
        assert_eq!(c.strip.kind, StripKind::Sk6812Rgbw);
        assert_eq!(c.strip.order.name(), "grbw");
        assert_eq!(c.output.milliamps_per_led, 80);
        let err = load_text("[strip]\ntype = \"sk6812rgbw\"\norder = \"grb\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("strip.order") && err.contains("four channels"),
            "{err}"
        );
        let err = load_text("[strip]\norder = \"grbw\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("three channels"), "{err}");
        let err = load_text("[strip]\ntype = \"apa102\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("strip.type") && err.contains("\"apa102\""),
            "{err}"
        );
        // RGBW takes 40 µs per LED on the wire: 159 fps at 150 LEDs.
        let err = load_text("[strip]\ntype = \"sk6812rgbw\"\nfps = 200")
            .unwrap_err()
            .to_string();
        assert!(err.contains("use 1 to 159"), "{err}");
        let ws2811 = load_text("[strip]\ntype = \"ws2811\"").unwrap();
        assert_eq!(ws2811.strip.order.name(), "rgb");
    }

    #[test]
    fn hardware_settings_are_checked() {
        let c = load_text("").unwrap();
        assert_eq!(c.strip.ws281x.pin, 18);
        assert_eq!(c.strip.ws281x.dma, 10);
        assert_eq!(c.strip.spi, SpiEncoding::ThreeBit);
        for (text, key) in [
            ("[ws281x]\npin = 4", "ws281x.pin"),
            ("[ws281x]\npin = 300", "ws281x.pin"),
            ("[ws281x]\ndma = 15", "ws281x.dma"),
            ("[ws281x]\nfrequency = 1000000", "ws281x.frequency"),
            ("[spi]\nbits_per_bit = 5", "spi.bits_per_bit"),
            ("[spi]\nclock = 5", "clock"),
        ] {
            let err = load_text(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let c = load_text("[ws281x]\npin = 21\ninvert = true\n[spi]\nbits_per_bit = 4").unwrap();
        assert_eq!((c.strip.ws281x.pin, c.strip.ws281x.invert), (21, true));
        assert_eq!(c.strip.spi, SpiEncoding::FourBit);
    }
}
