//! Landlock: no filesystem access except read-only paths, no TCP bind or
//! connect, and (ABI 6) no abstract Unix sockets or signals outside the
//! sandbox.
//!
//! # Kernel lacks it vs. a filter blocked it
//!
//! The `landlock` crate folds every failure of its version probe into
//! "not implemented", so a seccomp filter (e.g. systemd's
//! `SystemCallFilter=` with `SystemCallErrorNumber=EPERM`) that blocks
//! `landlock_create_ruleset` would look like an old kernel and best-effort
//! mode would silently run without Landlock. [`probe`] makes the raw call
//! and keeps the errno: `ENOSYS` (not built) and `EOPNOTSUPP` (built, not
//! enabled at boot) mean the kernel lacks it; anything else (`EPERM`) is a
//! deployment bug and always fatal.
//!
//! # What Landlock does not mediate
//!
//! Up to ABI 8, `connect(2)` to a *pathname* Unix socket is not a
//! filesystem access Landlock checks (only creating one, `MakeSock`, is), so
//! webd can reach ledd's socket with no rule for it; a test proves it. ABI 9
//! adds `LANDLOCK_ACCESS_FS_RESOLVE_UNIX`, which tinsel does not handle yet
//! (the target ABI is [`TARGET_ABI`]), so it stays unmediated there too.

use std::io;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

/// The ABI whose access rights tinsel asks for: filesystem (1–5), TCP
/// bind/connect (4), abstract-socket and signal scoping (6).
pub const TARGET_ABI: ABI = ABI::V6;
/// [`TARGET_ABI`] as a number.
pub const TARGET_ABI_NUMBER: i32 = 6;
/// First ABI with TCP bind/connect rules (Linux 6.7).
pub const TCP_ABI: i32 = 4;
/// First ABI with scopes (Linux 6.12).
pub const SCOPE_ABI: i32 = 6;

/// The loud line logged when the kernel has no Landlock in best-effort mode.
pub const NO_LANDLOCK_WARNING: &str =
    "kernel has no Landlock: filesystem and TCP confinement rely on seccomp and the systemd unit";

/// How much Landlock the daemon insists on (`sandbox.landlock`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LandlockPolicy {
    /// Use what the kernel has; say loudly what is missing. The default,
    /// because stock Raspberry Pi OS kernels do not build Landlock.
    #[default]
    BestEffort,
    /// Missing or partial Landlock (kernel ABI below [`TARGET_ABI`]) is fatal.
    Required,
}

/// The config key every daemon reads [`LandlockPolicy`] from.
pub const POLICY_KEY: &str = "sandbox.landlock";

/// The values [`LandlockPolicy::parse`] accepts, in every daemon's config.
pub const POLICY_SPELLINGS: [(&str, LandlockPolicy); 3] = [
    ("best-effort", LandlockPolicy::BestEffort),
    ("best_effort", LandlockPolicy::BestEffort),
    ("required", LandlockPolicy::Required),
];

/// A `sandbox.landlock` value that is none of [`POLICY_SPELLINGS`]. Its
/// text is the message for the daemon's config error, which adds the file
/// and the key ([`POLICY_KEY`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected \"best-effort\" (or \"best_effort\") or \"required\"")]
pub struct BadPolicy(pub String);

impl LandlockPolicy {
    /// The policy a config's `sandbox.landlock` value asks for; absent
    /// means the default, [`LandlockPolicy::BestEffort`]. The one parser of
    /// this key for every daemon.
    pub fn parse(value: Option<&str>) -> Result<LandlockPolicy, BadPolicy> {
        let Some(text) = value else {
            return Ok(LandlockPolicy::default());
        };
        POLICY_SPELLINGS
            .iter()
            .find(|(spelling, _)| *spelling == text)
            .map(|(_, policy)| *policy)
            .ok_or_else(|| BadPolicy(text.to_owned()))
    }
}

/// What `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Landlock is available with this ABI version.
    Abi(i32),
    /// `ENOSYS`: the kernel is built without Landlock (stock Raspberry Pi OS).
    NotBuilt,
    /// `EOPNOTSUPP`: built but not enabled (`lsm=` boot parameter).
    NotEnabled,
    /// Any other errno, in practice `EPERM` from a seccomp filter: the
    /// deployment blocks the call. Always fatal.
    Blocked(i32),
}

impl Probe {
    /// The ABI version, when Landlock is available.
    pub fn abi(self) -> Option<i32> {
        match self {
            Probe::Abi(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the kernel lacks Landlock (as opposed to having it or having
    /// it blocked).
    pub fn kernel_lacks_it(self) -> bool {
        matches!(self, Probe::NotBuilt | Probe::NotEnabled)
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Abi(v) => write!(f, "ABI {v}"),
            Probe::NotBuilt => f.write_str("not built into this kernel (ENOSYS)"),
            Probe::NotEnabled => {
                f.write_str("built but not enabled at boot (EOPNOTSUPP; add landlock to lsm=)")
            }
            Probe::Blocked(e) => write!(
                f,
                "blocked by a filter ({}): allow landlock_* syscalls in the unit",
                io::Error::from_raw_os_error(*e)
            ),
        }
    }
}

/// Ask the running kernel.
pub fn probe() -> Probe {
    // LANDLOCK_CREATE_RULESET_VERSION (include/uapi/linux/landlock.h).
    const VERSION: u32 = 1 << 0;
    // SAFETY: with a NULL attribute pointer, size 0 and the VERSION flag the
    // kernel reads no memory and returns the ABI version or an errno.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            VERSION,
        )
    };
    if rc > 0 {
        return Probe::Abi(i32::try_from(rc).unwrap_or(i32::MAX));
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOSYS) => Probe::NotBuilt,
        Some(libc::EOPNOTSUPP) => Probe::NotEnabled,
        Some(e) => Probe::Blocked(e),
        None => Probe::Blocked(0),
    }
}

/// What to confine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Files and directories that stay readable (a directory: its whole
    /// tree, read files + list directories; a file: read only). Everything
    /// else is denied, including writes to these.
    pub read_only: Vec<PathBuf>,
    /// Directories whose tree may also be written: files read, created,
    /// written, truncated, renamed within and removed. No directories
    /// made, no devices, sockets, pipes or links.
    pub read_write: Vec<PathBuf>,
    /// Deny TCP bind and connect (ABI 4).
    pub deny_tcp: bool,
    /// With `deny_tcp`: the TCP ports `connect` may still reach (mqttd's
    /// broker). Binding stays denied.
    pub connect_tcp: Vec<u16>,
    /// Scope abstract Unix sockets and signals to the sandbox (ABI 6).
    pub scope: bool,
}

/// What Landlock enforces after [`restrict`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Enforced. The booleans say which parts are live.
    Enforced {
        /// Kernel ABI.
        abi: i32,
        /// Filesystem rules (always, when enforced).
        fs: bool,
        /// TCP bind/connect denied.
        tcp: bool,
        /// Abstract Unix socket and signal scoping.
        scopes: bool,
    },
    /// Not enforced, kernel lacks Landlock (best-effort only).
    Unavailable(Probe),
}

impl Outcome {
    /// True when everything [`TARGET_ABI`] offers is enforced.
    pub fn is_full(&self) -> bool {
        matches!(
            self,
            Outcome::Enforced {
                fs: true,
                tcp: true,
                scopes: true,
                ..
            }
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Enforced {
                abi,
                fs,
                tcp,
                scopes,
            } => {
                let on = |b: &bool| if *b { "on" } else { "OFF (kernel ABI too old)" };
                write!(
                    f,
                    "enforced (ABI {abi}): filesystem {}, TCP {}, scopes {}",
                    on(fs),
                    on(tcp),
                    on(scopes)
                )
            }
            Outcome::Unavailable(p) => write!(f, "unavailable: {p}"),
        }
    }
}

/// Why Landlock could not be applied as the policy demands.
#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    /// The call was blocked by a filter (EPERM): a deployment bug.
    #[error(
        "landlock_create_ruleset is blocked ({0}): a seccomp filter (systemd SystemCallFilter=?) denies it; allow landlock_create_ruleset, landlock_add_rule and landlock_restrict_self"
    )]
    Blocked(Probe),
    /// `required`, and the kernel lacks Landlock.
    #[error(
        "sandbox.landlock = \"required\" but Landlock is {0}; use a kernel with Landlock or set sandbox.landlock = \"best-effort\""
    )]
    Missing(Probe),
    /// `required`, and the kernel's ABI cannot enforce everything.
    #[error(
        "sandbox.landlock = \"required\" but the kernel's Landlock ABI {abi} < {TARGET_ABI_NUMBER} cannot enforce: {missing}; use Linux 6.12 or later or set sandbox.landlock = \"best-effort\""
    )]
    Partial {
        /// Kernel ABI.
        abi: i32,
        /// What is missing.
        missing: String,
    },
    /// A read-only path could not be opened.
    #[error("cannot open {path} for a Landlock rule: {source}")]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The crate or the kernel refused the ruleset.
    #[error("Landlock ruleset failed: {0}")]
    Ruleset(#[from] landlock::RulesetError),
    /// The crate reported a status that contradicts the probe.
    #[error("Landlock reported {0:?} although the kernel has ABI {1}")]
    Unexpected(String, i32),
}

fn missing_parts(abi: i32, rules: &Rules) -> Vec<&'static str> {
    let mut m = Vec::new();
    if rules.deny_tcp && abi < TCP_ABI {
        m.push("TCP bind/connect rules (ABI 4)");
    }
    if rules.scope && abi < SCOPE_ABI {
        m.push("abstract-socket and signal scopes (ABI 6)");
    }
    m
}

/// Restrict the calling thread according to `rules` and `policy`, given
/// what the kernel said in `probe` (injectable so tests can simulate a
/// kernel without Landlock on one that has it).
pub fn restrict(
    rules: &Rules,
    policy: LandlockPolicy,
    probe: Probe,
) -> Result<Outcome, LandlockError> {
    let abi = match probe {
        Probe::Blocked(_) => return Err(LandlockError::Blocked(probe)),
        Probe::NotBuilt | Probe::NotEnabled => {
            return match policy {
                LandlockPolicy::Required => Err(LandlockError::Missing(probe)),
                LandlockPolicy::BestEffort => {
                    tracing::warn!(landlock = %probe, "{NO_LANDLOCK_WARNING}");
                    Ok(Outcome::Unavailable(probe))
                }
            };
        }
        Probe::Abi(abi) => abi,
    };
    let missing = missing_parts(abi, rules);
    if policy == LandlockPolicy::Required && !missing.is_empty() {
        return Err(LandlockError::Partial {
            abi,
            missing: missing.join(", "),
        });
    }

    // Open the paths first, so a missing config file is an error and not a
    // silently skipped rule (`landlock::path_beneath_rules` skips them).
    let mut beneath = Vec::with_capacity(rules.read_only.len());
    for path in &rules.read_only {
        beneath.push(read_only_rule(path)?);
    }
    for path in &rules.read_write {
        beneath.push(read_write_rule(path)?);
    }

    let level = match policy {
        LandlockPolicy::BestEffort => CompatLevel::BestEffort,
        LandlockPolicy::Required => CompatLevel::HardRequirement,
    };
    let mut ruleset = landlock::Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(TARGET_ABI))?;
    if rules.deny_tcp {
        ruleset = ruleset.handle_access(AccessNet::from_all(TARGET_ABI))?;
    }
    if rules.scope {
        ruleset = ruleset.scope(Scope::from_all(TARGET_ABI))?;
    }
    let connect = rules
        .connect_tcp
        .iter()
        .filter(|_| rules.deny_tcp)
        .map(|&port| Ok::<_, landlock::RulesetError>(NetPort::new(port, AccessNet::ConnectTcp)));
    let status = ruleset
        .create()?
        .add_rules(beneath.into_iter().map(Ok::<_, landlock::RulesetError>))?
        .add_rules(connect)?
        .restrict_self()?;
    let tcp = rules.deny_tcp && abi >= TCP_ABI;
    let scopes = rules.scope && abi >= SCOPE_ABI;
    match status.ruleset {
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Ok(Outcome::Enforced {
            abi,
            fs: true,
            tcp,
            scopes,
        }),
        RulesetStatus::NotEnforced => Err(LandlockError::Unexpected(
            format!("{:?}", status.ruleset),
            abi,
        )),
    }
}

fn read_only_rule(path: &Path) -> Result<PathBeneath<PathFd>, LandlockError> {
    let err = |source| LandlockError::Path {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    let access = if meta.is_dir() {
        AccessFs::ReadFile | AccessFs::ReadDir
    } else {
        AccessFs::ReadFile.into()
    };
    let fd = PathFd::new(path).map_err(|e| err(io::Error::other(e)))?;
    Ok(PathBeneath::new(fd, access))
}

fn read_write_rule(path: &Path) -> Result<PathBeneath<PathFd>, LandlockError> {
    let err = |source| LandlockError::Path {
        path: path.to_owned(),
        source,
    };
    if !std::fs::metadata(path).map_err(err)?.is_dir() {
        return Err(err(io::Error::other(
            "a writable path must be a directory: create it, or name its directory",
        )));
    }
    let fd = PathFd::new(path).map_err(|e| err(io::Error::other(e)))?;
    let access = AccessFs::ReadFile
        | AccessFs::ReadDir
        | AccessFs::WriteFile
        | AccessFs::MakeReg
        | AccessFs::RemoveFile
        | AccessFs::Truncate;
    Ok(PathBeneath::new(fd, access))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_and_a_bad_one_names_the_choices() {
        assert_eq!(LandlockPolicy::parse(None), Ok(LandlockPolicy::BestEffort));
        for (spelling, policy) in POLICY_SPELLINGS {
            assert_eq!(LandlockPolicy::parse(Some(spelling)), Ok(policy));
        }
        let msg = LandlockPolicy::parse(Some("off")).unwrap_err().to_string();
        assert!(msg.contains("\"off\""), "{msg}");
        for (spelling, _) in POLICY_SPELLINGS {
            assert!(msg.contains(&format!("\"{spelling}\"")), "{msg}");
        }
    }
}
