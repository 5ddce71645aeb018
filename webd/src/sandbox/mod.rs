//! webd's sandbox: the ordered confinement steps applied in `main` before
//! any thread starts.
//!
//! [`apply`] runs, in this order, each step a small named function that
//! logs its outcome (Firecracker jailer style):
//!
//! 0. [`ensure_single_threaded`] — capabilities, no_new_privs and Landlock
//!    are per thread; a thread started earlier would escape them;
//! 1. [`close_inherited_fds`] — keep stdio, the listeners and whatever the
//!    plan names (reads `/proc`, so before Landlock);
//! 2. [`drop_privileges`] — as root: drop the bounding set and ambient
//!    capabilities **first** (dropping the bounding set needs
//!    `CAP_SETPCAP`, which the uid change takes away), then `setgroups` →
//!    `setresgid` → `setresuid`, then prove `setresuid(0, 0, 0)` fails;
//! 3. [`clear_capabilities`] — effective, permitted, inheritable to zero
//!    (the uid change does not clear inheritable), verify all five sets;
//! 4. [`set_no_new_privs`] — required by Landlock and seccomp;
//! 5. [`restrict_filesystem_and_network`] — Landlock: read-only config and
//!    certificate paths, nothing else; no TCP bind/connect; scopes;
//! 6. [`install_seccomp`] — last, because every earlier step makes
//!    syscalls the allowlist does not contain (`setresuid`, `capset`,
//!    `landlock_*`, `prctl(PR_CAPBSET_DROP)`, `close_range`).
//!
//! The crate's `main` calls [`apply`] between "all files read, listeners
//! obtained" (`daemon::prepare`) and "runtime built" (`daemon::run`), and
//! maps [`SandboxError`] to exit code 71. The building blocks live in the
//! `tinsel-sandbox` crate, shared with ledd's hardening; this module holds
//! webd's policy: the plan, the order and the syscall list.
#![deny(unsafe_code)]

pub mod syscalls;

use std::fmt;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use tinsel_sandbox::caps;
pub use tinsel_sandbox::ids::Identity;
use tinsel_sandbox::ids::{self, IdError};
use tinsel_sandbox::landlock::{self as ll, LandlockError};
pub use tinsel_sandbox::landlock::{LandlockPolicy, Probe as LandlockProbe};
use tinsel_sandbox::process::{self, CloseMethod};
use tinsel_sandbox::seccomp::{self, InstallError};
pub use tinsel_sandbox::support::KernelSupport;

pub use tinsel_sandbox::mode::SeccompMode;

/// Parses `sandbox.landlock` values: `"best-effort"` or `"required"`.
pub fn parse_landlock_policy(s: &str) -> Result<LandlockPolicy, String> {
    match s {
        "best-effort" | "best_effort" => Ok(LandlockPolicy::BestEffort),
        "required" => Ok(LandlockPolicy::Required),
        other => Err(format!(
            "sandbox.landlock = {other:?}: expected \"best-effort\" or \"required\""
        )),
    }
}

/// What to confine and how. The daemon's is [`daemon_plan`].
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Descriptors to keep open besides 0, 1, 2: the listening sockets (and
    /// ledd's socket if already connected). Everything else is closed.
    pub keep_fds: Vec<RawFd>,
    /// Who to become when started as root (`user`/`group` from the config,
    /// resolved with [`Identity::from_names`] before calling [`apply`]).
    /// Starting as root without one is an error.
    pub user: Option<Identity>,
    /// Files and directories that stay readable: the config file and the
    /// directories holding the certificate, key and client CA (see
    /// [`reload_paths`]).
    pub read_only_paths: Vec<PathBuf>,
    /// ledd's socket path. Not a Landlock rule: `connect(2)` to a pathname
    /// Unix socket is not mediated by Landlock up to ABI 8 (proven by a
    /// test); recorded for the report.
    pub ledd_socket: PathBuf,
    /// `sandbox.landlock`.
    pub landlock: LandlockPolicy,
    /// `--seccomp-log` turns this to [`SeccompMode::Log`].
    pub seccomp: SeccompMode,
}

/// The read-only paths webd needs to re-read its config and certificate on
/// SIGHUP: the config file, and for the certificate, key and client CA
/// (`files`) the directory that holds each — both as written and as resolved through symlinks
/// (certbot's `live/` links point into `archive/`, and Landlock checks the
/// file a link resolves to). Paths that do not exist are skipped here and
/// reported by the TLS loader instead.
pub fn reload_paths(config_file: &Path, files: &[&Path]) -> Vec<PathBuf> {
    let mut out = vec![config_file.to_owned()];
    for file in files {
        let as_written = file.parent().map(Path::to_owned);
        let resolved = std::fs::canonicalize(file)
            .ok()
            .and_then(|p| p.parent().map(Path::to_owned));
        for dir in [as_written, resolved].into_iter().flatten() {
            if !dir.as_os_str().is_empty() && !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    out
}

/// The daemon's plan, built from its validated config: keep `listeners`
/// (the listening sockets from `daemon::prepare`), become the configured
/// `user`/`group` (resolved through NSS here, before the sandbox), keep the
/// config file, certificate, key and client CA readable for SIGHUP
/// ([`reload_paths`]),
/// `sandbox.landlock`, and `seccomp` (`--seccomp-log` gives
/// [`SeccompMode::Log`]). `main` applies exactly this plan, and the attack
/// tests attack it.
pub fn daemon_plan(
    config: &Config,
    listeners: &[RawFd],
    seccomp: SeccompMode,
) -> Result<Plan, ConfigError> {
    Ok(Plan {
        keep_fds: listeners.to_vec(),
        user: config.identity()?,
        read_only_paths: reload_paths(&config.path, &reload_files(config)),
        ledd_socket: config.ledd_socket.clone(),
        landlock: config.landlock,
        seccomp,
    })
}

/// The PEM files webd re-reads on SIGHUP: certificate, key, client CA.
fn reload_files(config: &Config) -> Vec<&Path> {
    let mut files = vec![config.tls.cert.as_path(), &config.tls.key];
    files.extend(config.client_auth.ca());
    files
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
    /// Started as root with no user to drop to.
    #[error(
        "webd is running as root and no user to drop to was given: set `user` and `group` in the config"
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

/// Apply the whole sandbox, in order, probing the kernel for Landlock.
/// Irreversible. Call once, from `main`, before any thread exists.
pub fn apply(plan: &Plan) -> Result<Report, SandboxError> {
    apply_with_probe(plan, ll::probe())
}

/// [`apply`] with an injected Landlock probe result, so tests can simulate
/// a kernel without Landlock (or with an old ABI) on one that has it.
pub fn apply_with_probe(plan: &Plan, probe: LandlockProbe) -> Result<Report, SandboxError> {
    let mut report = Report::default();
    ensure_single_threaded(&mut report)?;
    close_inherited_fds(&mut report, &plan.keep_fds)?;
    drop_privileges(&mut report, plan.user.as_ref())?;
    clear_capabilities(&mut report)?;
    set_no_new_privs(&mut report)?;
    restrict_filesystem_and_network(&mut report, plan, probe)?;
    install_seccomp(&mut report, plan.seccomp)?;
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
pub fn drop_privileges(report: &mut Report, user: Option<&Identity>) -> Result<(), SandboxError> {
    caps::clear_ambient().map_err(SandboxError::Bounding)?;
    if is_root() {
        let user = user.ok_or(SandboxError::RootWithoutUser)?;
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
    caps::restrict_sets(0).map_err(|err| e("capset", err))?;
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

/// Step 5: Landlock per `plan.landlock`, given the kernel's `probe`.
pub fn restrict_filesystem_and_network(
    report: &mut Report,
    plan: &Plan,
    probe: LandlockProbe,
) -> Result<(), SandboxError> {
    let rules = ll::Rules {
        read_only: plan.read_only_paths.clone(),
        deny_tcp: true,
        scope: true,
    };
    let outcome = ll::restrict(&rules, plan.landlock, probe).map_err(SandboxError::Landlock)?;
    let text = match &outcome {
        ll::Outcome::Enforced { .. } => format!("{outcome}; readable: {:?}", plan.read_only_paths),
        ll::Outcome::Unavailable(_) => format!("{outcome} — {}", ll::NO_LANDLOCK_WARNING),
    };
    report.step("landlock", text);
    report.landlock = Some(outcome);
    Ok(())
}

/// Step 6: the seccomp allowlist, on every thread (TSYNC). Last.
pub fn install_seccomp(report: &mut Report, mode: SeccompMode) -> Result<(), SandboxError> {
    let filter = syscalls::filter(mode);
    let rules = filter.rules().len();
    if mode == SeccompMode::Log {
        tracing::warn!(
            "sandbox: seccomp in LOG mode (--seccomp-log): syscalls outside the allowlist are logged to the audit log, NOT blocked; never run like this in production"
        );
    }
    let instructions = seccomp::install(&filter).map_err(SandboxError::Seccomp)?;
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

/// Which layers this kernel supports (`webd check`). Changes nothing.
pub fn report() -> KernelSupport {
    tinsel_sandbox::support::probe()
}

/// [`report`] as the human-readable table `webd check` prints.
pub fn check() -> String {
    report().to_string()
}
