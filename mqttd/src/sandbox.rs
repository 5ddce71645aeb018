//! mqttd's sandbox: the ordered confinement steps applied in `main` after
//! [`crate::daemon::prepare`] (files read, broker resolved) and before any
//! thread starts; ledd and the broker are connected to afterwards, as
//! mqttd's own user. The same shape as webd's, with one
//! difference in policy: mqttd may open TCP connections, to the broker's
//! port only, and never bind, listen or accept.
//!
//! 0. [`ensure_single_threaded`] — capabilities, no_new_privs and Landlock
//!    are per thread;
//! 1. [`close_inherited_fds`] — keep stdio (and `plan.keep_fds`);
//! 2. [`drop_privileges`] — as root: drop the bounding set, then become
//!    `user`/`group` for good (proven: `setresuid(0,0,0)` fails);
//! 3. [`clear_capabilities`] — every set empty, verified;
//! 4. [`set_no_new_privs`];
//! 5. [`restrict_filesystem_and_network`] — Landlock: the config, CA and
//!    password files read-only, nothing else; TCP connect to the broker's
//!    port only, no TCP bind (ABI ≥ 4); abstract sockets and signals scoped
//!    (ABI 6);
//! 6. [`install_seccomp`] — last: `socket()` only for AF_UNIX, AF_INET and
//!    AF_INET6 stream sockets, `connect`, no `bind`/`listen`/`accept`, no
//!    `exec`, no `fork`, no writing files.
#![allow(unsafe_code)]

use std::fmt;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};
use tinsel_sandbox::caps;
use tinsel_sandbox::ids::{self, IdError, Identity};
use tinsel_sandbox::landlock::{
    self as ll, LandlockError, LandlockPolicy, Outcome, Probe, SCOPE_ABI, TARGET_ABI,
    TARGET_ABI_NUMBER, TCP_ABI,
};
pub use tinsel_sandbox::mode::SeccompMode;
use tinsel_sandbox::process;
use tinsel_sandbox::seccomp::{self, Cond, Filter, InstallError, Rule};
use tinsel_sandbox::syscalls as groups;

use crate::config::{Config, ConfigError};

/// What to confine and how. The daemon's is [`daemon_plan`].
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Descriptors to keep open besides 0, 1, 2 (none for the daemon).
    pub keep_fds: Vec<RawFd>,
    /// Who to become when started as root.
    pub user: Option<Identity>,
    /// Files that stay readable.
    pub read_only_paths: Vec<PathBuf>,
    /// The one TCP port connections may go to.
    pub broker_port: u16,
    /// `sandbox.landlock`.
    pub landlock: LandlockPolicy,
    /// `--seccomp-log` turns this to [`SeccompMode::Log`].
    pub seccomp: SeccompMode,
}

/// The daemon's plan: keep `keep` (tests smuggle descriptors in), become the
/// configured user, keep the config, CA and password files readable, TCP
/// to the broker's port only.
pub fn daemon_plan(
    config: &Config,
    keep: &[RawFd],
    seccomp: SeccompMode,
) -> Result<Plan, ConfigError> {
    let mut read_only_paths = vec![config.path.clone()];
    read_only_paths.extend(config.broker.ca_file.clone());
    read_only_paths.extend(config.broker.password_file.clone());
    Ok(Plan {
        keep_fds: keep.to_vec(),
        user: config.identity()?,
        read_only_paths,
        broker_port: config.broker.port,
        landlock: config.landlock,
        seccomp,
    })
}

/// A step that failed; `main` maps every variant to exit code 71.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Threads exist already.
    #[error(
        "sandbox applied with {0} threads running: apply it before building the tokio runtime or spawning threads"
    )]
    NotSingleThreaded(usize),
    /// Could not count threads.
    #[error("cannot count threads in /proc/self/task: {0}; is /proc mounted?")]
    ThreadCount(#[source] std::io::Error),
    /// Closing inherited descriptors failed.
    #[error("closing inherited file descriptors failed: {0}")]
    CloseFds(#[source] std::io::Error),
    /// Started as root with no user to drop to.
    #[error(
        "mqttd is running as root and no user to drop to was given: set `user` and `group` in the config"
    )]
    RootWithoutUser,
    /// Dropping the bounding set or ambient capabilities failed.
    #[error("dropping the capability bounding set failed: {0}")]
    Bounding(#[source] std::io::Error),
    /// The uid/gid change failed or is reversible.
    #[error("dropping privileges failed: {0}")]
    Privileges(#[source] IdError),
    /// Clearing or verifying capabilities failed.
    #[error("clearing capabilities failed: {0}")]
    Capabilities(String),
    /// `PR_SET_NO_NEW_PRIVS` failed.
    #[error("setting no_new_privs failed: {0}")]
    NoNewPrivs(#[source] std::io::Error),
    /// Landlock failed, or is missing/partial with `required`.
    #[error("{0}")]
    Landlock(#[source] LandlockError),
    /// seccomp could not be installed.
    #[error("{0}")]
    Seccomp(#[source] InstallError),
}

/// What each step did, and which layers are live.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// `(step name, outcome)` in execution order.
    pub steps: Vec<(&'static str, String)>,
    /// Final uid.
    pub uid: u32,
    /// Final gid.
    pub gid: u32,
    /// Landlock outcome.
    pub landlock: Option<Outcome>,
    /// seccomp mode, if installed.
    pub seccomp: Option<SeccompMode>,
}

impl Report {
    fn step(&mut self, name: &'static str, outcome: String) {
        tracing::info!(step = name, "sandbox: {name}: {outcome}");
        self.steps.push((name, outcome));
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "privileges: uid {} gid {}", self.uid, self.gid)?;
        writeln!(f, "capabilities: none")?;
        writeln!(f, "no_new_privs: on")?;
        match &self.landlock {
            Some(o) => writeln!(f, "landlock: {o}")?,
            None => writeln!(f, "landlock: not applied")?,
        }
        match self.seccomp {
            Some(SeccompMode::Kill) => writeln!(f, "seccomp: allowlist, kill on violation"),
            Some(SeccompMode::Log) => writeln!(f, "seccomp: LOG ONLY (--seccomp-log)"),
            None => writeln!(f, "seccomp: not applied"),
        }
    }
}

/// Apply the whole sandbox, in order. Irreversible; call once, from
/// `main`, before any thread exists.
pub fn apply(plan: &Plan) -> Result<Report, SandboxError> {
    apply_with_probe(plan, ll::probe())
}

/// [`apply`] with an injected Landlock probe (tests simulate old kernels).
pub fn apply_with_probe(plan: &Plan, probe: Probe) -> Result<Report, SandboxError> {
    let mut report = Report::default();
    ensure_single_threaded(&mut report)?;
    close_inherited_fds(&mut report, &plan.keep_fds)?;
    drop_privileges(&mut report, plan.user.as_ref())?;
    clear_capabilities(&mut report)?;
    set_no_new_privs(&mut report)?;
    restrict_filesystem_and_network(&mut report, plan, probe)?;
    install_seccomp(&mut report, plan.seccomp)?;
    tracing::info!("sandbox: live layers:\n{}", report.to_string().trim_end());
    Ok(report)
}

/// Step 0: refuse to run with other threads alive.
pub fn ensure_single_threaded(report: &mut Report) -> Result<(), SandboxError> {
    let n = process::thread_count().map_err(SandboxError::ThreadCount)?;
    if n != 1 {
        return Err(SandboxError::NotSingleThreaded(n));
    }
    report.step("ensure_single_threaded", "1 thread".into());
    Ok(())
}

/// Step 1: close every inherited descriptor except stdio and `keep`.
pub fn close_inherited_fds(report: &mut Report, keep: &[RawFd]) -> Result<(), SandboxError> {
    process::close_inherited_fds(keep).map_err(SandboxError::CloseFds)?;
    report.step(
        "close_inherited_fds",
        format!("closed all but 0-2 and {keep:?}"),
    );
    Ok(())
}

/// Step 2: as root, drop the bounding set (while `CAP_SETPCAP` is still
/// effective), then become `user` for good.
pub fn drop_privileges(report: &mut Report, user: Option<&Identity>) -> Result<(), SandboxError> {
    caps::clear_ambient().map_err(SandboxError::Bounding)?;
    let (r, e, s) = ids::resuid();
    if r == 0 || e == 0 || s == 0 {
        let user = user.ok_or(SandboxError::RootWithoutUser)?;
        // Must precede setresuid: PR_CAPBSET_DROP needs CAP_SETPCAP.
        caps::drop_bounding_set(0).map_err(SandboxError::Bounding)?;
        ids::switch_to(user).map_err(SandboxError::Privileges)?;
        ids::prove_irreversible().map_err(SandboxError::Privileges)?;
        report.step(
            "drop_privileges",
            format!(
                "root → uid {} gid {}; setresuid(0,0,0) now fails",
                user.uid, user.gid
            ),
        );
    } else {
        let now = caps::get().map_err(SandboxError::Bounding)?;
        if now.effective & (1 << caps::CAP_SETPCAP) != 0 {
            caps::drop_bounding_set(0).map_err(SandboxError::Bounding)?;
        }
        report.step(
            "drop_privileges",
            format!("not root (uid {r}): nothing to switch"),
        );
    }
    report.uid = ids::resuid().0;
    report.gid = ids::resgid().0;
    Ok(())
}

/// Step 3: effective, permitted, inheritable and ambient empty, verified.
pub fn clear_capabilities(report: &mut Report) -> Result<(), SandboxError> {
    let e = |what: &str, err: std::io::Error| SandboxError::Capabilities(format!("{what}: {err}"));
    // Under systemd (User=tinsel-mqtt) every set is empty already: then no
    // capset, so the unit can keep ~@privileged, which removes it.
    if caps::get().map_err(|err| e("capget", err))? != caps::CapSets::default() {
        caps::restrict_sets(0).map_err(|err| e("capset", err))?;
    }
    let now = caps::get().map_err(|err| e("capget", err))?;
    if now != caps::CapSets::default() {
        return Err(SandboxError::Capabilities(format!(
            "capabilities still held after capset: {now:?}"
        )));
    }
    if !caps::ambient_is_empty().map_err(|err| e("ambient", err))? {
        return Err(SandboxError::Capabilities("ambient set not empty".into()));
    }
    report.step(
        "clear_capabilities",
        "effective/permitted/inheritable/ambient empty".into(),
    );
    Ok(())
}

/// Step 4: `PR_SET_NO_NEW_PRIVS`, verified.
pub fn set_no_new_privs(report: &mut Report) -> Result<(), SandboxError> {
    caps::set_no_new_privs().map_err(SandboxError::NoNewPrivs)?;
    if !caps::no_new_privs().map_err(SandboxError::NoNewPrivs)? {
        return Err(SandboxError::NoNewPrivs(std::io::Error::other(
            "PR_GET_NO_NEW_PRIVS reads 0 after setting it",
        )));
    }
    report.step("set_no_new_privs", "on".into());
    Ok(())
}

/// Step 5: Landlock per `plan.landlock`, given the kernel's `probe`: the
/// read-only files, TCP connect to `plan.broker_port` only, no TCP bind,
/// scopes.
pub fn restrict_filesystem_and_network(
    report: &mut Report,
    plan: &Plan,
    probe: Probe,
) -> Result<(), SandboxError> {
    let outcome = landlock(plan, probe).map_err(SandboxError::Landlock)?;
    let text = match &outcome {
        Outcome::Enforced { .. } => format!(
            "{outcome}; readable: {:?}; TCP connect to port {} only",
            plan.read_only_paths, plan.broker_port
        ),
        Outcome::Unavailable(_) => format!("{outcome} — {}", ll::NO_LANDLOCK_WARNING),
    };
    report.step("landlock", text);
    report.landlock = Some(outcome);
    Ok(())
}

fn landlock(plan: &Plan, probe: Probe) -> Result<Outcome, LandlockError> {
    let abi = match probe {
        Probe::Blocked(_) => return Err(LandlockError::Blocked(probe)),
        Probe::NotBuilt | Probe::NotEnabled => {
            return match plan.landlock {
                LandlockPolicy::Required => Err(LandlockError::Missing(probe)),
                LandlockPolicy::BestEffort => {
                    tracing::warn!(landlock = %probe, "{}", ll::NO_LANDLOCK_WARNING);
                    Ok(Outcome::Unavailable(probe))
                }
            };
        }
        Probe::Abi(abi) => abi,
    };
    if plan.landlock == LandlockPolicy::Required && abi < TARGET_ABI_NUMBER {
        return Err(LandlockError::Partial {
            abi,
            missing: "TCP connect rules (ABI 4) or scopes (ABI 6)".into(),
        });
    }
    let mut beneath = Vec::with_capacity(plan.read_only_paths.len());
    for path in &plan.read_only_paths {
        beneath.push(read_only_rule(path)?);
    }
    let level = match plan.landlock {
        LandlockPolicy::BestEffort => CompatLevel::BestEffort,
        LandlockPolicy::Required => CompatLevel::HardRequirement,
    };
    let status = landlock::Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(TARGET_ABI))?
        .handle_access(AccessNet::from_all(TARGET_ABI))?
        .scope(Scope::from_all(TARGET_ABI))?
        .create()?
        .add_rules(beneath.into_iter().map(Ok::<_, landlock::RulesetError>))?
        .add_rule(NetPort::new(plan.broker_port, AccessNet::ConnectTcp))?
        .restrict_self()?;
    match status.ruleset {
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Ok(Outcome::Enforced {
            abi,
            fs: true,
            tcp: abi >= TCP_ABI,
            scopes: abi >= SCOPE_ABI,
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
    let fd = PathFd::new(path).map_err(|e| err(std::io::Error::other(e)))?;
    Ok(PathBeneath::new(fd, access))
}

/// mqttd's seccomp rules: the runtime every tinsel daemon needs, plus
/// `connect` and `socket()` for stream sockets of AF_UNIX (ledd), AF_INET
/// and AF_INET6 (the broker). No `bind`, `listen`, `accept`: the runtime
/// group's `accept4` is removed.
pub fn rules() -> Vec<Rule> {
    let mut v: Vec<Rule> = groups::runtime(std::process::id(), &groups::BASE_IOCTLS)
        .into_iter()
        .filter(|r| r.nr != tinsel_sandbox::libc::SYS_accept4)
        .collect();
    use tinsel_sandbox::libc;
    v.push(Rule::allow("SYS_connect", libc::SYS_connect));
    let stream = |family: i32| {
        vec![
            Cond::eq(0, family as u32),
            Cond::masked_eq(1, 0xf, libc::SOCK_STREAM as u32),
        ]
    };
    let alternatives = [
        stream(libc::AF_UNIX),
        stream(libc::AF_INET),
        stream(libc::AF_INET6),
    ];
    let alts: Vec<&[Cond]> = alternatives.iter().map(Vec::as_slice).collect();
    v.push(Rule::allow_any("SYS_socket", libc::SYS_socket, &alts));
    v
}

/// Step 6: the seccomp allowlist, on every thread (TSYNC). Last.
pub fn install_seccomp(report: &mut Report, mode: SeccompMode) -> Result<(), SandboxError> {
    let filter = Filter::new(rules(), mode.action());
    let n = filter.rules().len();
    if mode == SeccompMode::Log {
        tracing::warn!(
            "sandbox: seccomp in LOG mode (--seccomp-log): violations are logged, NOT blocked; never run like this in production"
        );
    }
    let instructions = seccomp::install(&filter).map_err(SandboxError::Seccomp)?;
    report.step(
        "seccomp",
        format!("{n} syscalls allowed, {instructions} BPF instructions"),
    );
    report.seccomp = Some(mode);
    Ok(())
}

/// Which layers this kernel supports (`mqttd check`).
pub fn check() -> String {
    tinsel_sandbox::support::probe().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_sandbox::libc;

    #[test]
    fn the_filter_compiles_and_never_lists_the_forbidden() {
        let f = Filter::new(rules(), SeccompMode::Kill.action());
        f.compile().expect("mqttd's filter compiles");
        for (name, nr) in [
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
            ("bind", libc::SYS_bind),
            ("listen", libc::SYS_listen),
            ("accept4", libc::SYS_accept4),
            ("ptrace", libc::SYS_ptrace),
            ("setresuid", libc::SYS_setresuid),
            ("kill", libc::SYS_kill),
        ] {
            assert!(!f.mentions(nr), "{name} must not be in mqttd's allowlist");
        }
    }
}
