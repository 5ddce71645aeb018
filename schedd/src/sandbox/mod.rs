//! schedd's sandbox: its policy for the seven confinement steps every
//! unprivileged tinsel daemon applies in `main` before any thread starts
//! ([`tinsel_sandbox::confine`]: single thread, inherited descriptors
//! closed, privileges dropped, capabilities cleared, no_new_privs, Landlock,
//! seccomp last).
//!
//! schedd's policy: keep stdio only; become `user`/`group`; the config file
//! read-only, nothing else; no TCP bind or connect; scopes. (The time zone
//! database is compiled in, and the clock flag is only `stat`ed, which
//! Landlock does not mediate: neither needs a rule.) Its seccomp allowlist
//! is [`syscalls`].
//!
//! `main` calls [`apply`] between `daemon::prepare` (config read) and
//! `daemon::run` (runtime built), and maps [`SandboxError`] to exit 71.

pub mod syscalls;

use crate::config::{Config, ConfigError};
use tinsel_sandbox::confine;
pub use tinsel_sandbox::ids::Identity;
use tinsel_sandbox::landlock as ll;
pub use tinsel_sandbox::landlock::{LandlockPolicy, Probe as LandlockProbe};
pub use tinsel_sandbox::support::KernelSupport;

pub use tinsel_sandbox::mode::SeccompMode;

/// The daemon's plan, built from its validated config: become the
/// configured `user`/`group` (resolved here, before the sandbox), keep the
/// config file readable for SIGHUP, `sandbox.landlock`, and `seccomp`.
/// `main` applies exactly this plan, and the attack tests attack it.
pub fn daemon_plan(config: &Config, seccomp: SeccompMode) -> Result<Plan, ConfigError> {
    Ok(Plan {
        keep_fds: Vec::new(),
        user: config.common.identity()?,
        read_only_paths: vec![config.path.clone()],
        writable_dirs: Vec::new(),
        connect_tcp: Vec::new(),
        ledd_socket: config.common.ledd_socket.clone(),
        landlock: config.common.landlock,
        seccomp,
    })
}

pub use tinsel_sandbox::confine::{Plan, Report, SandboxError};

/// Apply the whole sandbox, in order, probing the kernel for Landlock.
/// Irreversible. Call once, from `main`, before any thread exists.
pub fn apply(plan: &Plan) -> Result<Report, SandboxError> {
    apply_with_probe(plan, ll::probe())
}

/// [`apply`] with an injected Landlock probe result, so tests can simulate
/// a kernel without Landlock (or with an old ABI) on one that has it.
pub fn apply_with_probe(plan: &Plan, probe: LandlockProbe) -> Result<Report, SandboxError> {
    confine::apply("schedd", plan, &syscalls::filter(plan.seccomp), probe)
}

/// Which layers this kernel supports (`schedd check`). Changes nothing.
pub fn report() -> KernelSupport {
    tinsel_sandbox::support::probe()
}

/// [`report`] as the human-readable table `schedd check` prints.
pub fn check() -> String {
    report().to_string()
}
