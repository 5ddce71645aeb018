//! The confinement every unprivileged tinsel daemon (webd, schedd, mqttd)
//! applies in `main`, after its files are read and before any thread
//! starts: seven ordered steps, each a small named function that logs its
//! outcome (Firecracker jailer style). Each daemon's `sandbox` module holds
//! only its policy: what stays readable, which TCP ports it may connect
//! to, its seccomp allowlist and its user.
//!
//! 0. [`ensure_single_threaded`] — capabilities, no_new_privs and Landlock
//!    are per thread; a thread started earlier would escape them;
//! 1. [`close_inherited_fds`] — keep stdio and what the daemon names
//!    (reads `/proc`, so before Landlock);
//! 2. [`drop_privileges`] — as root: drop the bounding set and ambient
//!    capabilities **first** (dropping the bounding set needs
//!    `CAP_SETPCAP`, which the uid change takes away), then `setgroups` →
//!    `setresgid` → `setresuid`, then prove `setresuid(0, 0, 0)` fails;
//! 3. [`clear_capabilities`] — effective, permitted, inheritable to zero
//!    (the uid change does not clear inheritable), verify all five sets;
//! 4. [`set_no_new_privs`] — required by Landlock and seccomp;
//! 5. [`restrict_filesystem_and_network`] — Landlock: the daemon's
//!    read-only paths, nothing else; TCP bind denied, connect only to the
//!    ports it names; scopes;
//! 6. [`install_seccomp`] — last, because every earlier step makes
//!    syscalls an allowlist does not contain (`setresuid`, `capset`,
//!    `landlock_*`, `prctl(PR_CAPBSET_DROP)`, `close_range`).
//!
//! Every [`SandboxError`] is exit code 71 in the daemons' `main`.

use std::fmt;
use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::caps;
use crate::ids::{self, IdError, Identity};
use crate::landlock::{self as ll, LandlockError, LandlockPolicy, Probe};
use crate::mode::SeccompMode;
use crate::process::{self, CloseMethod};
use crate::seccomp::{self, Filter, InstallError};

/// What one daemon confines itself to: what its `sandbox::daemon_plan`
/// builds from the config, what `main` applies and what the attack tests
/// attack. The daemon adds its name and its seccomp allowlist at [`apply`].
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Descriptors to keep open besides 0, 1, 2 (the daemon's listening
    /// sockets; tests smuggle some in). Everything else is closed.
    pub keep_fds: Vec<RawFd>,
    /// Who to become when started as root (`user`/`group` from the config,
    /// resolved before the sandbox). Starting as root without one is an
    /// error.
    pub user: Option<Identity>,
    /// Files and directories that stay readable (Landlock); nothing else.
    pub read_only_paths: Vec<PathBuf>,
    /// Directories in which files may be created, renamed and removed
    /// (webd's devices directory), each with its whole tree; nothing else
    /// is writable. The daemon's seccomp allowlist must then let it create
    /// files (`tinsel_sandbox::syscalls::create_files`).
    pub writable_dirs: Vec<PathBuf>,
    /// TCP ports `connect` may reach (mqttd's broker); none: no TCP at all.
    /// Binding TCP is always denied.
    pub connect_tcp: Vec<u16>,
    /// ledd's socket. Not a Landlock rule: `connect(2)` to a pathname Unix
    /// socket is not mediated by Landlock up to ABI 8; for the report.
    pub ledd_socket: PathBuf,
    /// `sandbox.landlock`.
    pub landlock: LandlockPolicy,
    /// Kill, or log (`--seccomp-log`).
    pub seccomp: SeccompMode,
}

impl Plan {
    /// What Landlock allows under this plan.
    fn landlock_rules(&self) -> ll::Rules {
        ll::Rules {
            read_only: self.read_only_paths.clone(),
            read_write: self.writable_dirs.clone(),
            deny_tcp: true,
            connect_tcp: self.connect_tcp.clone(),
            scope: true,
        }
    }
}

/// A step that failed; `main` maps every variant to exit code 71.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Threads exist already: they would keep capabilities and escape
    /// Landlock. The sandbox must run before the runtime is built.
    #[error(
        "sandbox applied with {0} threads running: apply it before building the tokio runtime or spawning threads"
    )]
    NotSingleThreaded(usize),
    /// Could not count threads (`/proc` not mounted?).
    #[error("cannot count threads in /proc/self/task: {0}; is /proc mounted?")]
    ThreadCount(#[source] std::io::Error),
    /// Closing inherited descriptors failed.
    #[error("closing inherited file descriptors failed: {0}")]
    CloseFds(#[source] std::io::Error),
    /// Started as root with no user to drop to (the daemon's name).
    #[error(
        "{0} is running as root and no user to drop to was given: set `user` and `group` in the config"
    )]
    RootWithoutUser(&'static str),
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

/// What each step did, in order, and which layers are live.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// `(step name, outcome)` in execution order.
    pub steps: Vec<(&'static str, String)>,
    /// Final uid/gid.
    pub uid: u32,
    /// Final gid.
    pub gid: u32,
    /// Whether the capability bounding set ended empty.
    pub bounding_empty: bool,
    /// Started by an ordinary user holding no capability: nothing to drop,
    /// and the bounding set stays as inherited (inert under no_new_privs).
    pub started_without_capabilities: bool,
    /// Landlock outcome (None before the step ran).
    pub landlock: Option<ll::Outcome>,
    /// seccomp mode, if installed.
    pub seccomp: Option<SeccompMode>,
    /// Number of syscall rules and BPF instructions installed.
    pub seccomp_size: (usize, usize),
}

impl Report {
    fn step(&mut self, name: &'static str, outcome: String) {
        tracing::info!(step = name, "sandbox: {name}: {outcome}");
        self.steps.push((name, outcome));
    }

    /// One line per layer: what is live.
    pub fn layers(&self) -> String {
        let mut s = String::new();
        let _ = fmt::write(&mut s, format_args!("{self}"));
        s
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "privileges: uid {} gid {}", self.uid, self.gid)?;
        writeln!(
            f,
            "capabilities: none (bounding set {})",
            if self.bounding_empty {
                "empty"
            } else {
                "NOT empty"
            }
        )?;
        writeln!(f, "no_new_privs: on")?;
        match &self.landlock {
            Some(o) => writeln!(f, "landlock: {o}")?,
            None => writeln!(f, "landlock: not applied")?,
        }
        match self.seccomp {
            Some(SeccompMode::Kill) => writeln!(
                f,
                "seccomp: allowlist of {} syscalls ({} BPF instructions), kill on violation",
                self.seccomp_size.0, self.seccomp_size.1
            ),
            Some(SeccompMode::Log) => writeln!(
                f,
                "seccomp: LOG ONLY (--seccomp-log), {} syscalls listed: violations are logged, not blocked",
                self.seccomp_size.0
            ),
            None => writeln!(f, "seccomp: not applied"),
        }
    }
}

/// Apply the whole sandbox of `daemon` (its name, for messages) to
/// `plan`, in order, with its seccomp allowlist `filter` (built for
/// `plan.seccomp`) and the kernel's Landlock `probe` (injectable, so tests
/// can simulate a kernel without Landlock or with an old ABI on one that
/// has it). Irreversible. Call once, from `main`, before any thread exists.
pub fn apply(
    daemon: &'static str,
    plan: &Plan,
    filter: &Filter,
    probe: Probe,
) -> Result<Report, SandboxError> {
    let mut report = Report::default();
    ensure_single_threaded(&mut report)?;
    close_inherited_fds(&mut report, &plan.keep_fds)?;
    drop_privileges(&mut report, plan.user.as_ref(), daemon)?;
    clear_capabilities(&mut report)?;
    set_no_new_privs(&mut report)?;
    restrict_filesystem_and_network(&mut report, &plan.landlock_rules(), plan.landlock, probe)?;
    install_seccomp(&mut report, filter, plan.seccomp)?;
    tracing::info!(
        ledd_socket = %plan.ledd_socket.display(),
        "sandbox: live layers:\n{}",
        report.layers().trim_end()
    );
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
    let method = process::close_inherited_fds(keep).map_err(SandboxError::CloseFds)?;
    let how = match method {
        CloseMethod::CloseRange => "close_range",
        CloseMethod::ProcFd => "/proc/self/fd",
    };
    report.step(
        "close_inherited_fds",
        format!("closed all but 0-2 and {keep:?} ({how})"),
    );
    Ok(())
}

fn is_root() -> bool {
    let (r, e, s) = ids::resuid();
    r == 0 || e == 0 || s == 0
}

/// Step 2: as root, drop the bounding set and ambient capabilities (while
/// `CAP_SETPCAP` is still effective), then become `user` for good.
/// Not root: nothing to switch; the bounding set is dropped if possible.
pub fn drop_privileges(
    report: &mut Report,
    user: Option<&Identity>,
    daemon: &'static str,
) -> Result<(), SandboxError> {
    caps::clear_ambient().map_err(SandboxError::Bounding)?;
    if is_root() {
        let user = user.ok_or(SandboxError::RootWithoutUser(daemon))?;
        // Must precede setresuid: PR_CAPBSET_DROP needs CAP_SETPCAP.
        caps::drop_bounding_set(0).map_err(SandboxError::Bounding)?;
        ids::switch_to(user).map_err(SandboxError::Privileges)?;
        ids::prove_irreversible().map_err(SandboxError::Privileges)?;
        report.step(
            "drop_privileges",
            format!(
                "root → uid {} gid {} groups {:?}; bounding set dropped; setresuid(0,0,0) now fails",
                user.uid, user.gid, user.groups
            ),
        );
    } else {
        let now = caps::get().map_err(SandboxError::Bounding)?;
        let held = now.effective | now.permitted | now.inheritable;
        report.started_without_capabilities = held == 0;
        if now.effective & (1 << caps::CAP_SETPCAP) != 0 {
            caps::drop_bounding_set(0).map_err(SandboxError::Bounding)?;
        }
        let (uid, ..) = ids::resuid();
        if let Some(u) = user.filter(|u| u.uid != uid) {
            tracing::warn!(
                "sandbox: not started as root, so staying uid {uid} instead of switching to uid {}",
                u.uid
            );
        }
        report.step(
            "drop_privileges",
            if held == 0 {
                format!("not root (uid {uid}): no capabilities held, nothing to drop")
            } else {
                format!(
                    "not root (uid {uid}): holds {}, cleared in the next step",
                    caps::describe(held)
                )
            },
        );
    }
    let (uid, ..) = ids::resuid();
    let (gid, ..) = ids::resgid();
    report.uid = uid;
    report.gid = gid;
    Ok(())
}

/// Step 3: effective, permitted and inheritable to zero; then verify all
/// five sets. A non-empty bounding set left over by an unprivileged start
/// is reported, not fatal: with no_new_privs nothing can be gained from it.
pub fn clear_capabilities(report: &mut Report) -> Result<(), SandboxError> {
    let e = |what: &str, err: std::io::Error| SandboxError::Capabilities(format!("{what}: {err}"));
    // Under systemd (User= set, no capabilities) every set is empty
    // already: then no capset, so a unit may keep `~@privileged`, which
    // removes it (mqttd.service does).
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
    let bounding = caps::bounding_set().map_err(|err| e("bounding", err))?;
    report.bounding_empty = bounding == 0;
    if bounding != 0 && report.started_without_capabilities {
        tracing::info!(
            "sandbox: capability bounding set left as inherited: started without capabilities, so nothing can be dropped, and no_new_privs keeps anything from being gained through it"
        );
    } else if bounding != 0 {
        tracing::warn!(
            "sandbox: capability bounding set still holds {} (started unprivileged without CAP_SETPCAP; set CapabilityBoundingSet= in the unit)",
            caps::describe(bounding)
        );
    }
    report.step(
        "clear_capabilities",
        format!(
            "effective/permitted/inheritable/ambient empty; bounding {}",
            if bounding == 0 {
                "empty".to_owned()
            } else if report.started_without_capabilities {
                "left as inherited (started without capabilities)".to_owned()
            } else {
                caps::describe(bounding)
            }
        ),
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

/// Step 5: Landlock `rules` per `policy`, given the kernel's `probe`.
pub fn restrict_filesystem_and_network(
    report: &mut Report,
    rules: &ll::Rules,
    policy: LandlockPolicy,
    probe: Probe,
) -> Result<(), SandboxError> {
    let outcome = ll::restrict(rules, policy, probe).map_err(SandboxError::Landlock)?;
    let text = match &outcome {
        ll::Outcome::Enforced { .. } if rules.deny_tcp && !rules.connect_tcp.is_empty() => {
            let ports: Vec<String> = rules.connect_tcp.iter().map(u16::to_string).collect();
            format!(
                "{outcome}; readable: {:?}; TCP connect to port {} only",
                rules.read_only,
                ports.join(", ")
            )
        }
        ll::Outcome::Enforced { .. } => format!("{outcome}; readable: {:?}", rules.read_only),
        ll::Outcome::Unavailable(_) => format!("{outcome} — {}", ll::NO_LANDLOCK_WARNING),
    };
    report.step("landlock", text);
    report.landlock = Some(outcome);
    Ok(())
}

/// Step 6: the seccomp allowlist, on every thread (TSYNC). Last.
pub fn install_seccomp(
    report: &mut Report,
    filter: &Filter,
    mode: SeccompMode,
) -> Result<(), SandboxError> {
    let rules = filter.rules().len();
    if mode == SeccompMode::Log {
        tracing::warn!(
            "sandbox: seccomp in LOG mode (--seccomp-log): syscalls outside the allowlist are logged to the audit log, NOT blocked; never run like this in production"
        );
    }
    let instructions = seccomp::install(filter).map_err(SandboxError::Seccomp)?;
    report.step(
        "seccomp",
        format!(
            "{rules} syscalls allowed, {instructions} BPF instructions, on violation: {}",
            match mode {
                SeccompMode::Kill => "kill process",
                SeccompMode::Log => "log",
            }
        ),
    );
    report.seccomp = Some(mode);
    report.seccomp_size = (rules, instructions);
    Ok(())
}
