//! The config file: TOML parsed into raw types that refuse unknown keys, then
//! validated into [`Config`], which cannot hold an invalid value.
//!
//! Every error names the file and the key, and says what to do. Relative
//! paths (`ledd_socket`, `tls.cert`, `tls.key`) are taken relative to the
//! config file's directory, so a config and its certificate can travel
//! together.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tinsel_proto::{Animation, Param, PlayParams, PlaySeconds, Rgb, Speed};

/// The default TCP address, used when neither `listen` nor systemd socket
/// activation gives one.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";

/// The largest body webd reads, from the issue: webhooks are small, and a
/// Pi Zero has 512 MB.
pub const MAX_BODY_BYTES: usize = 4096;

/// The longest a client may take to send its request headers. Five seconds
/// is the issue's bound: long enough for a slow phone link, short enough
/// that a slowloris client holds a connection slot only briefly.
pub const MAX_HEADER_TIMEOUT_SECS: u64 = 5;

/// The most connections `limits.max_connections` may allow: webd holds up
/// to twice as many sockets (the live ones and evicted ones being closed),
/// within a common `LimitNOFILE=` hard limit.
pub const MAX_CONNECTIONS: u32 = 4096;

/// Connections one client may hold by default: a webhook sender needs one
/// or two, a browser six.
pub const DEFAULT_CONNECTIONS_PER_CLIENT: u32 = 8;

/// TLS handshakes one client may have in progress by default. Each costs
/// real CPU time on a Pi Zero.
pub const DEFAULT_HANDSHAKES_PER_CLIENT: u32 = 4;

/// The shortest HMAC secret accepted, in bytes: as long as the hash.
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

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
        /// The key, dotted (`hooks.color.request_colors`).
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

// ---------------------------------------------------------------------------
// Raw, as written in the file.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    ledd_socket: PathBuf,
    user: Option<String>,
    group: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    tls: RawTls,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    ban: RawBan,
    #[serde(default)]
    tokens: Vec<RawToken>,
    #[serde(default)]
    hooks: BTreeMap<String, RawHook>,
    #[serde(default)]
    sandbox: RawSandbox,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSandbox {
    landlock: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    max_connections: u32,
    /// Default: 8, or `max_connections` if smaller.
    max_connections_per_client: Option<u32>,
    /// Default: 4, or `max_connections_per_client` if smaller.
    max_handshakes_per_client: Option<u32>,
    /// Default: half of `max_connections`.
    proxy_max_connections: Option<u32>,
    max_body_bytes: u32,
    header_timeout_secs: u64,
    handshake_timeout_secs: u64,
    first_request_timeout_secs: u64,
    request_timeout_secs: u64,
    idle_timeout_secs: u64,
    shutdown_grace_secs: u64,
    ledd_timeout_ms: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_connections: 64,
            max_connections_per_client: None,
            max_handshakes_per_client: None,
            proxy_max_connections: None,
            max_body_bytes: MAX_BODY_BYTES as u32,
            header_timeout_secs: MAX_HEADER_TIMEOUT_SECS,
            handshake_timeout_secs: 3,
            first_request_timeout_secs: 10,
            request_timeout_secs: 10,
            idle_timeout_secs: 30,
            shutdown_grace_secs: 10,
            ledd_timeout_ms: 2000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBan {
    max_failures: u32,
    window_secs: u64,
    ban_secs: u64,
    global_failures_per_minute: u32,
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
struct RawToken {
    name: String,
    sha256: Option<String>,
    hmac_secret: Option<String>,
    hooks: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    animation: String,
    color: Option<String>,
    speed: Option<u16>,
    duration_secs: Option<u32>,
    #[serde(default)]
    request_colors: Vec<String>,
    #[serde(default)]
    request_speed: bool,
    #[serde(default)]
    request_duration: bool,
}

// ---------------------------------------------------------------------------
// Validated.

/// A validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The TCP address to bind when not socket-activated.
    pub listen: SocketAddr,
    /// ledd's Unix socket.
    pub ledd_socket: PathBuf,
    /// The user to drop to when started as root.
    pub user: Option<String>,
    /// The group to drop to when started as root.
    pub group: Option<String>,
    /// Peers whose `X-Forwarded-For`/`CF-Connecting-IP` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The certificate chain and key files.
    pub tls: TlsPaths,
    /// Sizes and timeouts.
    pub limits: Limits,
    /// Failure counting and bans.
    pub ban: BanPolicy,
    /// The tokens, in file order.
    pub tokens: Vec<Token>,
    /// The hooks by name.
    pub hooks: BTreeMap<String, Hook>,
    /// Whether Landlock may be missing (`sandbox.landlock`).
    pub landlock: crate::sandbox::LandlockPolicy,
}

/// Where the PEM files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// The certificate chain, leaf first (Let's Encrypt's `fullchain.pem`).
    pub cert: PathBuf,
    /// The private key (`privkey.pem`).
    pub key: PathBuf,
}

/// Sizes and timeouts for connections and requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; a newcomer beyond takes the slot of the
    /// oldest connection not yet served (or the longest idle).
    pub max_connections: usize,
    /// Connections one client (address, IPv6 /64) may hold at once.
    pub max_connections_per_client: usize,
    /// Unfinished TLS handshakes one client may have at once.
    pub max_handshakes_per_client: usize,
    /// Connections (and handshakes) one trusted proxy address may hold.
    pub proxy_max_connections: usize,
    /// The largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// Time to receive a request's headers, and the HTTP/1 keep-alive idle
    /// time before the next request's first byte.
    pub header_timeout: Duration,
    /// Time to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time from opening to the first completed request.
    pub first_request_timeout: Duration,
    /// Time to read the body and answer.
    pub request_timeout: Duration,
    /// A connection with no request in flight is closed this long after
    /// its last answer; bytes (HTTP/2 PINGs) do not count.
    pub idle_timeout: Duration,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// How long to wait for ledd's answer.
    pub ledd_timeout: Duration,
}

/// fail2ban-style failure counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanPolicy {
    /// Failures from one IP within `window` that get it banned.
    pub max_failures: u32,
    /// The window failures are counted in.
    pub window: Duration,
    /// How long a ban lasts.
    pub ban: Duration,
    /// Failures per minute from everyone together before every hook
    /// request is refused with 429; 0 turns the global limit off.
    pub global_failures_per_minute: u32,
}

/// An IP network (`10.0.0.0/8`, `::1`), for `trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    /// Whether `ip` is in the network. IPv4-mapped IPv6 addresses count as
    /// IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Maps IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, seen on dual-stack
/// sockets) to IPv4, so bans and proxy checks see one address per client.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// A token and what it may call.
#[derive(Clone)]
pub struct Token {
    /// Its name, for logs.
    pub name: String,
    /// How a request proves it holds the token.
    pub secret: TokenSecret,
    /// The hooks it may call.
    pub scope: Scope,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets, not even hashes, into a log.
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// What the config stores about a token.
#[derive(Clone)]
pub enum TokenSecret {
    /// A bearer token, stored as its SHA-256.
    Sha256([u8; 32]),
    /// A signing key: requests carry an HMAC-SHA256 over timestamp and body.
    Hmac(Vec<u8>),
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenSecret::Sha256(_) => "Sha256(..)",
            TokenSecret::Hmac(_) => "Hmac(..)",
        })
    }
}

/// The hooks a token may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every hook (`hooks = ["*"]`).
    All,
    /// Only these.
    Only(BTreeSet<String>),
}

impl Scope {
    /// Whether the token may call `hook`.
    pub fn allows(&self, hook: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(set) => set.contains(hook),
        }
    }
}

/// What a hook does, and what a request may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Play or off.
    pub action: Action,
    /// Colours a request may choose; empty means the request may not send
    /// one. `None` inside means any colour.
    pub request_colors: ColorChoice,
    /// Whether a request may set the speed.
    pub request_speed: bool,
    /// Whether a request may set the duration.
    pub request_duration: bool,
}

/// The colours a request may pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColorChoice {
    /// None: a `color` field is refused.
    None,
    /// Any colour (`request_colors = ["*"]`).
    Any,
    /// Only these, with the names the config gave them.
    Only(Vec<(String, Rgb)>),
}

impl ColorChoice {
    /// Whether a request may choose `c`.
    pub fn allows(&self, c: Rgb) -> bool {
        match self {
            ColorChoice::None => false,
            ColorChoice::Any => true,
            ColorChoice::Only(list) => list.iter().any(|(_, rgb)| *rgb == c),
        }
    }
}

/// What a hook asks ledd for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Play an animation with these (default) parameters.
    Play {
        /// Which animation.
        animation: Animation,
        /// The parameters before any the request supplies.
        params: PlayParams,
    },
    /// Fade to dark (`animation = "off"`).
    Off,
}

// ---------------------------------------------------------------------------
// Loading.

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: toml_error(&e),
        })?;
        Validator { path }.config(raw)
    }

    /// Resolves `user` and `group` to the ids webd drops to when started
    /// as root (`None` when `user` is unset). A name that does not exist is
    /// a config error naming the key, caught by `--check-config` rather
    /// than by the sandbox step at start.
    pub fn identity(&self) -> Result<Option<crate::sandbox::Identity>, ConfigError> {
        use tinsel_sandbox::ids::IdError;
        let Some(user) = &self.user else {
            return Ok(None);
        };
        crate::sandbox::Identity::from_names(user, self.group.as_deref())
            .map(Some)
            .map_err(|e| match e {
                IdError::NoSuchUser(name) => self.invalid(
                    "user",
                    format!("no user named `{name}` on this system: create it (the package's sysusers file makes tinsel-web) or name an existing one"),
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

    /// Whether `new` changes something that only a restart applies.
    pub fn restart_only_changes(&self, new: &Config) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.listen != new.listen {
            keys.push("listen");
        }
        if self.ledd_socket != new.ledd_socket {
            keys.push("ledd_socket");
        }
        if self.user != new.user {
            keys.push("user");
        }
        if self.group != new.group {
            keys.push("group");
        }
        if self.limits.max_connections != new.limits.max_connections {
            keys.push("limits.max_connections");
        }
        keys
    }
}

struct Validator<'a> {
    path: &'a Path,
}

impl Validator<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            key: key.into(),
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

    fn range<T: PartialOrd + fmt::Display + Copy>(
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

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen_text.parse::<SocketAddr>().map_err(|_| {
            self.err(
                "listen",
                format!("`{listen_text}` is not an address: write IP:PORT, e.g. \"0.0.0.0:8443\" or \"[::]:8443\""),
            )
        })?;
        if raw.ledd_socket.as_os_str().is_empty() {
            return Err(self.err("ledd_socket", "is empty: give the path of ledd's socket"));
        }
        for (key, v) in [("user", &raw.user), ("group", &raw.group)] {
            if let Some(v) = v
                && (v.is_empty() || v.contains(['\0', ':', '\n']))
            {
                return Err(self.err(key, format!("`{v}` is not a user or group name")));
            }
        }
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, s)| {
                IpNet::parse(s).ok_or_else(|| {
                    self.err(
                        format!("trusted_proxies[{i}]"),
                        format!("`{s}` is not an IP address or network (e.g. \"127.0.0.1\", \"10.0.0.0/8\")"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tls = TlsPaths {
            cert: self.relative(raw.tls.cert),
            key: self.relative(raw.tls.key),
        };
        let limits = self.limits(&raw.limits)?;
        let ban = self.ban(&raw.ban)?;
        let landlock = match raw.sandbox.landlock.as_deref() {
            None => crate::sandbox::LandlockPolicy::BestEffort,
            Some(text) => crate::sandbox::parse_landlock_policy(text)
                .map_err(|message| self.err("sandbox.landlock", message))?,
        };
        let mut hooks = BTreeMap::new();
        for (name, h) in raw.hooks {
            let hook = self.hook(&name, h)?;
            hooks.insert(name, hook);
        }
        let mut tokens: Vec<Token> = Vec::new();
        for (i, t) in raw.tokens.into_iter().enumerate() {
            let token = self.token(i, t, &hooks)?;
            if tokens.iter().any(|o| o.name == token.name) {
                return Err(self.err(
                    format!("tokens[{i}].name"),
                    format!(
                        "`{}` is used twice: give each token its own name",
                        token.name
                    ),
                ));
            }
            tokens.push(token);
        }
        Ok(Config {
            path: self.path.to_owned(),
            listen,
            ledd_socket: self.relative(raw.ledd_socket),
            user: raw.user,
            group: raw.group,
            trusted_proxies,
            tls,
            limits,
            ban,
            tokens,
            hooks,
            landlock,
        })
    }

    fn limits(&self, l: &RawLimits) -> Result<Limits, ConfigError> {
        let secs = Duration::from_secs;
        let max_connections = self.range(
            "limits.max_connections",
            l.max_connections,
            1,
            MAX_CONNECTIONS,
        )?;
        let per_client = self.range(
            "limits.max_connections_per_client",
            l.max_connections_per_client
                .unwrap_or(DEFAULT_CONNECTIONS_PER_CLIENT.min(max_connections)),
            1,
            max_connections,
        )?;
        let handshakes = self.range(
            "limits.max_handshakes_per_client",
            l.max_handshakes_per_client
                .unwrap_or(DEFAULT_HANDSHAKES_PER_CLIENT.min(per_client)),
            1,
            per_client,
        )?;
        let proxy = self.range(
            "limits.proxy_max_connections",
            l.proxy_max_connections
                .unwrap_or((max_connections / 2).max(1)),
            1,
            max_connections,
        )?;
        let handshake_timeout = self.range(
            "limits.handshake_timeout_secs",
            l.handshake_timeout_secs,
            1,
            60,
        )?;
        Ok(Limits {
            max_connections: max_connections as usize,
            max_connections_per_client: per_client as usize,
            max_handshakes_per_client: handshakes as usize,
            proxy_max_connections: proxy as usize,
            max_body_bytes: self.range(
                "limits.max_body_bytes",
                l.max_body_bytes,
                64,
                MAX_BODY_BYTES as u32,
            )? as usize,
            header_timeout: secs(self.range(
                "limits.header_timeout_secs",
                l.header_timeout_secs,
                1,
                MAX_HEADER_TIMEOUT_SECS,
            )?),
            handshake_timeout: secs(handshake_timeout),
            first_request_timeout: secs(self.range(
                "limits.first_request_timeout_secs",
                l.first_request_timeout_secs,
                handshake_timeout,
                600,
            )?),
            request_timeout: secs(self.range(
                "limits.request_timeout_secs",
                l.request_timeout_secs,
                1,
                60,
            )?),
            idle_timeout: secs(self.range(
                "limits.idle_timeout_secs",
                l.idle_timeout_secs,
                1,
                600,
            )?),
            shutdown_grace: secs(self.range(
                "limits.shutdown_grace_secs",
                l.shutdown_grace_secs,
                0,
                60,
            )?),
            ledd_timeout: Duration::from_millis(self.range(
                "limits.ledd_timeout_ms",
                l.ledd_timeout_ms,
                100,
                30_000,
            )?),
        })
    }

    fn ban(&self, b: &RawBan) -> Result<BanPolicy, ConfigError> {
        Ok(BanPolicy {
            max_failures: self.range("ban.max_failures", b.max_failures, 0, 1000)?,
            window: Duration::from_secs(self.range("ban.window_secs", b.window_secs, 1, 86_400)?),
            ban: Duration::from_secs(self.range("ban.ban_secs", b.ban_secs, 1, 7 * 86_400)?),
            global_failures_per_minute: self.range(
                "ban.global_failures_per_minute",
                b.global_failures_per_minute,
                0,
                100_000,
            )?,
        })
    }

    fn hook(&self, name: &str, h: RawHook) -> Result<Hook, ConfigError> {
        let key = |k: &str| format!("hooks.{name}.{k}");
        if !valid_hook_name(name) {
            return Err(self.err(
                format!("hooks.{name}"),
                "a hook name is 1 to 64 of a-z, 0-9, - and _",
            ));
        }
        let color = h
            .color
            .as_deref()
            .map(|c| c.parse::<Rgb>())
            .transpose()
            .map_err(|e| self.err(key("color"), e.to_string()))?;
        let speed = h
            .speed
            .map(Speed::new)
            .transpose()
            .map_err(|e| self.err(key("speed"), e.to_string()))?;
        let duration = h
            .duration_secs
            .map(PlaySeconds::new)
            .transpose()
            .map_err(|e| self.err(key("duration_secs"), e.to_string()))?;
        let action = if h.animation.eq_ignore_ascii_case("off") {
            if color.is_some() || speed.is_some() || duration.is_some() {
                return Err(self.err(
                    key("animation"),
                    "\"off\" takes no color, speed or duration: remove them",
                ));
            }
            Action::Off
        } else {
            let animation = h.animation.parse::<Animation>().map_err(|e| {
                self.err(key("animation"), format!("`{}`: {e}, or off", h.animation))
            })?;
            let params = PlayParams {
                color,
                speed: speed.unwrap_or_default(),
                duration,
            };
            // ledd refuses a parameter the animation does not use: say so
            // here, naming the key, rather than as a 502 at request time.
            if let Err(unused) = animation.check(&params) {
                let first = unused
                    .unused
                    .iter()
                    .next()
                    .map_or("animation", |p| match p {
                        Param::Color => "color",
                        Param::Speed => "speed",
                        Param::Duration => "duration_secs",
                    });
                return Err(self.err(key(first), unused.to_string()));
            }
            Action::Play { animation, params }
        };
        let request_colors = if h.request_colors.is_empty() {
            ColorChoice::None
        } else if h.request_colors.iter().any(|c| c == "*") {
            ColorChoice::Any
        } else {
            let list = h
                .request_colors
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    c.parse::<Rgb>().map(|rgb| (c.clone(), rgb)).map_err(|e| {
                        self.err(format!("hooks.{name}.request_colors[{i}]"), e.to_string())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            ColorChoice::Only(list)
        };
        if let Action::Play { animation, .. } = action {
            let takes = animation.accepts();
            for (asked, param, k) in [
                (
                    request_colors != ColorChoice::None,
                    Param::Color,
                    "request_colors",
                ),
                (h.request_speed, Param::Speed, "request_speed"),
                (h.request_duration, Param::Duration, "request_duration"),
            ] {
                if asked && !takes.contains(param) {
                    return Err(self.err(
                        key(k),
                        format!(
                            "{} takes {takes}, not {param}: remove {k} (ledd would refuse every such request)",
                            animation.name()
                        ),
                    ));
                }
            }
        }
        if action == Action::Off
            && (request_colors != ColorChoice::None || h.request_speed || h.request_duration)
        {
            return Err(self.err(
                key("animation"),
                "\"off\" takes no parameters, so request_colors, request_speed and request_duration must be unset",
            ));
        }
        Ok(Hook {
            action,
            request_colors,
            request_speed: h.request_speed,
            request_duration: h.request_duration,
        })
    }

    fn token(
        &self,
        i: usize,
        t: RawToken,
        hooks: &BTreeMap<String, Hook>,
    ) -> Result<Token, ConfigError> {
        let key = |k: &str| format!("tokens[{i}].{k}");
        if t.name.is_empty() || t.name.len() > 64 || !t.name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(self.err(
                key("name"),
                "a token name is 1 to 64 printable ASCII characters without spaces",
            ));
        }
        let secret = match (t.sha256, t.hmac_secret) {
            (Some(hex), None) => TokenSecret::Sha256(parse_sha256(&hex).ok_or_else(|| {
                self.err(
                    key("sha256"),
                    "is not 64 hex digits: paste the line `webd token new NAME` printed",
                )
            })?),
            (None, Some(secret)) => {
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(secret.trim_end_matches('='))
                    .map_err(|_| {
                        self.err(
                            key("hmac_secret"),
                            "is not base64url: paste the line `webd token new NAME --signed` printed",
                        )
                    })?;
                if bytes.len() < MIN_HMAC_SECRET_BYTES {
                    return Err(self.err(
                        key("hmac_secret"),
                        format!(
                            "is {} bytes; use at least {MIN_HMAC_SECRET_BYTES} (`webd token new NAME --signed`)",
                            bytes.len()
                        ),
                    ));
                }
                TokenSecret::Hmac(bytes)
            }
            (Some(_), Some(_)) => {
                return Err(self.err(
                    key("sha256"),
                    "a token has either sha256 (bearer) or hmac_secret (signed), not both",
                ));
            }
            (None, None) => {
                return Err(self.err(
                    key("sha256"),
                    "is missing: give sha256 (bearer) or hmac_secret (signed)",
                ));
            }
        };
        let scope = if t.hooks.iter().any(|h| h == "*") {
            Scope::All
        } else {
            let mut set = BTreeSet::new();
            for (j, h) in t.hooks.iter().enumerate() {
                if !hooks.contains_key(h) {
                    return Err(self.err(
                        format!("tokens[{i}].hooks[{j}]"),
                        format!("no hook named `{h}`: define [hooks.{h}] or remove it"),
                    ));
                }
                set.insert(h.clone());
            }
            if set.is_empty() {
                return Err(self.err(
                    key("hooks"),
                    "is empty: list the hooks this token may call, or [\"*\"] for all",
                ));
            }
            Scope::Only(set)
        };
        Ok(Token {
            name: t.name,
            secret,
            scope,
        })
    }
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

/// Whether `name` may name a hook (it appears in URLs and logs).
pub fn valid_hook_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The example config printed by `webd --example-config`. It is also parsed
/// by a test, so it never goes stale.
pub const EXAMPLE: &str = r#"# webd config. Every key is listed; the values shown for [limits] and [ban]
# are the defaults. Relative paths are relative to this file's directory.

# The TCP address to listen on. Ignored under systemd socket activation.
listen = "0.0.0.0:8443"

# ledd's Unix socket.
ledd_socket = "/run/tinsel/ledd.sock"

# The user and group to run as when started as root (required then). The
# group should be the group of ledd's socket.
user = "tinsel-web"
group = "tinsel"

# Reverse proxies whose X-Forwarded-For / CF-Connecting-IP headers are
# believed. Leave empty when clients connect directly.
trusted_proxies = []

[tls]
# Let's Encrypt-style PEM files; re-read on SIGHUP.
cert = "/etc/tinsel/tls/fullchain.pem"
key = "/etc/tinsel/tls/privkey.pem"

[limits]
max_connections = 64         # when all are taken, a newcomer takes the slot of
                             # the oldest connection not yet served
max_connections_per_client = 8   # per address (IPv6: per /64); at most max_connections
max_handshakes_per_client = 4    # unfinished TLS handshakes per client
proxy_max_connections = 32   # per trusted_proxies address (default: half of max_connections)
max_body_bytes = 4096        # at most 4096
header_timeout_secs = 5      # at most 5; also the HTTP/1 keep-alive idle time
handshake_timeout_secs = 3
first_request_timeout_secs = 10  # opened to first answer; HTTP/2 PINGs do not count
request_timeout_secs = 10
idle_timeout_secs = 30       # after the last answer; HTTP/2 PINGs do not count
shutdown_grace_secs = 10
ledd_timeout_ms = 2000

[ban]
max_failures = 5             # failures from one IP within window_secs ...
window_secs = 600
ban_secs = 3600              # ... ban it for this long (429)
global_failures_per_minute = 120   # all IPs together; 0 = no global limit

# Tokens: `webd token new NAME` prints a token and its line here.
[[tokens]]
name = "ifttt"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
hooks = ["*"]

[[tokens]]
name = "home-assistant"
sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
hooks = ["rainbow", "off"]

# Hooks: POST /hooks/NAME plays the animation.
[hooks.rainbow]
animation = "rainbow"

[hooks.fire]
animation = "fire"
speed = 120                  # fixed parameters: color, speed, duration_secs

[hooks.color]
animation = "solid"
color = "warm-white"         # used when the request names none
request_colors = ["red", "green", "blue", "warm-white", "gold", "purple"]

[hooks.party]
animation = "rainbow-cycle"
duration_secs = 300          # then back to what played before
request_speed = true         # the request may send "speed": 10..1000
request_duration = true      # and "duration": 1..86400 seconds

[hooks.off]
animation = "off"

[sandbox]
# "best-effort": use Landlock where the kernel has it and say so loudly where
# it does not (stock Raspberry Pi OS kernels do not build it).
# "required": refuse to start without a fully enforced Landlock.
landlock = "best-effort"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/webd/webd.toml"))
    }

    const MINIMAL: &str = r#"
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
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.ledd_socket, Path::new("/etc/webd/ledd.sock"));
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
    fn bad_values_name_their_key() {
        let cases = [
            ("listen = \"8443\"\n", "listen"),
            (
                "trusted_proxies = [\"10.0.0.0/33\"]\n",
                "trusted_proxies[0]",
            ),
            (
                "[limits]\nheader_timeout_secs = 6\n",
                "limits.header_timeout_secs",
            ),
            ("[limits]\nmax_body_bytes = 5000\n", "limits.max_body_bytes"),
            ("[hooks.x]\nanimation = \"disco\"\n", "hooks.x.animation"),
            (
                "[hooks.x]\nanimation = \"solid\"\ncolor = \"mauve\"\n",
                "hooks.x.color",
            ),
            (
                "[hooks.x]\nanimation = \"solid\"\nspeed = 5\n",
                "hooks.x.speed",
            ),
            (
                "[hooks.x]\nanimation = \"solid\"\nrequest_colors = [\"red\", \"plaid\"]\n",
                "hooks.x.request_colors[1]",
            ),
            ("[hooks.X]\nanimation = \"solid\"\n", "hooks.X"),
            // Parameters the animation does not use: ledd would refuse them.
            (
                "[hooks.x]\nanimation = \"rainbow\"\ncolor = \"red\"\n",
                "hooks.x.color",
            ),
            (
                "[hooks.x]\nanimation = \"solid\"\nspeed = 200\n",
                "hooks.x.speed",
            ),
            (
                "[hooks.x]\nanimation = \"fire\"\nrequest_colors = [\"red\"]\n",
                "hooks.x.request_colors",
            ),
            (
                "[hooks.x]\nanimation = \"gradient\"\nrequest_speed = true\n",
                "hooks.x.request_speed",
            ),
            (
                "[hooks.x]\nanimation = \"off\"\ncolor = \"red\"\n",
                "hooks.x.animation",
            ),
            (
                "[[tokens]]\nname = \"a\"\nsha256 = \"abc\"\nhooks = [\"*\"]\n",
                "tokens[0].sha256",
            ),
            (
                "[[tokens]]\nname = \"a\"\nhmac_secret = \"c2hvcnQ\"\nhooks = [\"*\"]\n",
                "tokens[0].hmac_secret",
            ),
            (
                "[[tokens]]\nname = \"a\"\nhooks = [\"*\"]\n",
                "tokens[0].sha256",
            ),
            (
                "[[tokens]]\nname = \"a\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"nope\"]\n",
                "tokens[0].hooks[0]",
            ),
        ];
        for (extra, key) in cases {
            // Top-level keys must come before the [tls] table.
            let text = if extra.starts_with('[') {
                format!("{MINIMAL}\n{extra}")
            } else {
                format!("{extra}{MINIMAL}")
            };
            let err = parse(&text).expect_err(extra);
            assert_eq!(err.key(), Some(key), "{err}");
            assert!(err.to_string().contains("/etc/webd/webd.toml"), "{err}");
        }
    }

    #[test]
    fn admission_limits_default_within_max_connections_and_are_checked() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.limits.max_connections_per_client, 8);
        assert_eq!(c.limits.max_handshakes_per_client, 4);
        assert_eq!(c.limits.proxy_max_connections, 32);
        assert_eq!(c.limits.handshake_timeout, Duration::from_secs(3));
        assert_eq!(c.limits.first_request_timeout, Duration::from_secs(10));
        // The defaults shrink with a small max_connections instead of
        // failing validation.
        let c = parse(&format!("{MINIMAL}\n[limits]\nmax_connections = 2\n")).unwrap();
        assert_eq!(
            (
                c.limits.max_connections_per_client,
                c.limits.max_handshakes_per_client,
                c.limits.proxy_max_connections
            ),
            (2, 2, 1)
        );
        for (extra, key) in [
            (
                "max_connections = 8\nmax_connections_per_client = 9",
                "limits.max_connections_per_client",
            ),
            (
                "max_connections_per_client = 2\nmax_handshakes_per_client = 3",
                "limits.max_handshakes_per_client",
            ),
            ("proxy_max_connections = 65", "limits.proxy_max_connections"),
            (
                "handshake_timeout_secs = 5\nfirst_request_timeout_secs = 4",
                "limits.first_request_timeout_secs",
            ),
            ("max_connections = 4097", "limits.max_connections"),
        ] {
            let err = parse(&format!("{MINIMAL}\n[limits]\n{extra}\n")).expect_err(extra);
            assert_eq!(err.key(), Some(key), "{err}");
        }
    }

    #[test]
    fn duplicate_token_names_are_refused() {
        let tok = "[[tokens]]\nname = \"a\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"*\"]\n";
        let err = parse(&format!("{MINIMAL}\n{tok}{tok}")).unwrap_err();
        assert_eq!(err.key(), Some("tokens[1].name"));
    }

    #[test]
    fn ip_networks_match() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.200.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one = IpNet::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let all = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!(IpNet::parse("1.2.3.4/40").is_none());
        assert!(IpNet::parse("localhost").is_none());
    }

    #[test]
    fn users_and_groups_that_do_not_exist_name_their_key() {
        let with = |lines: &str| parse(&format!("{lines}{MINIMAL}")).unwrap().identity();
        let err = with("user = \"no-such-user-tinsel\"\n").unwrap_err();
        assert_eq!(err.key(), Some("user"), "{err}");
        assert!(err.to_string().contains("no-such-user-tinsel"), "{err}");
        assert!(err.to_string().contains("/etc/webd/webd.toml"), "{err}");
        let err = with("user = \"root\"\ngroup = \"no-such-group-tinsel\"\n").unwrap_err();
        assert_eq!(err.key(), Some("group"), "{err}");
        assert!(err.to_string().contains("no-such-group-tinsel"), "{err}");
        assert!(with("").unwrap().is_none());
        assert_eq!(with("user = \"root\"\n").unwrap().map(|i| i.uid), Some(0));
    }

    #[test]
    fn toml_errors_keep_the_line_and_a_caret_under_the_spot() {
        let err = parse(&format!("{MINIMAL}listen_port = 3\n")).unwrap_err();
        let msg = err.to_string();
        let lines: Vec<&str> = msg.lines().collect();
        assert!(
            lines[0].starts_with("/etc/webd/webd.toml: unknown field `listen_port`"),
            "{msg}"
        );
        assert!(lines[0].contains("line 6, column 1"), "{msg}");
        let source = lines
            .iter()
            .position(|l| l.ends_with("| listen_port = 3"))
            .unwrap_or_else(|| panic!("no source line in:\n{msg}"));
        let caret = lines.get(source + 1).copied().unwrap_or_default();
        assert_eq!(
            caret.find('^'),
            lines[source].find("listen_port"),
            "the caret must sit under the key:\n{msg}"
        );
    }

    #[test]
    fn restart_only_changes_are_named() {
        let a = parse(MINIMAL).unwrap();
        let b = parse(&format!("listen = \"127.0.0.1:1\"\n{MINIMAL}")).unwrap();
        assert_eq!(a.restart_only_changes(&b), vec!["listen"]);
        assert!(a.restart_only_changes(&a).is_empty());
    }
}
