//! webd's sandbox: its policy for the seven confinement steps every
//! unprivileged tinsel daemon applies in `main` before any thread starts
//! ([`tinsel_sandbox::confine`]: single thread, inherited descriptors
//! closed, privileges dropped, capabilities cleared, no_new_privs, Landlock,
//! seccomp last).
//!
//! webd's policy: keep the listening sockets; become `user`/`group`; keep
//! the config file and the directories of the certificate, key and client
//! CA readable for SIGHUP ([`reload_paths`]); with the page on, its devices
//! directory writable ([`writable_dirs`]), nothing else; no TCP bind or
//! connect (the listeners come from systemd or were bound before); its
//! seccomp allowlist ([`syscalls`]).
//!
//! The crate's `main` calls [`apply`] between "all files read, listeners
//! obtained" (`daemon::prepare`) and "runtime built" (`daemon::run`), and
//! maps [`SandboxError`] to exit code 71.

pub mod syscalls;

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use tinsel_sandbox::confine;
pub use tinsel_sandbox::ids::Identity;
use tinsel_sandbox::landlock as ll;
pub use tinsel_sandbox::landlock::{LandlockPolicy, Probe as LandlockProbe};
pub use tinsel_sandbox::support::KernelSupport;

pub use tinsel_sandbox::mode::SeccompMode;

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
/// `user`/`group` (resolved from /etc/passwd and /etc/group here, before the sandbox), keep the
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
        user: config.common.identity()?,
        read_only_paths: reload_paths(&config.path, &reload_files(config)),
        writable_dirs: writable_dirs(config),
        connect_tcp: Vec::new(),
        ledd_socket: config.common.ledd_socket.clone(),
        landlock: config.common.landlock,
        seccomp,
    })
}

/// The one directory webd writes: `[page] devices_dir` when the page is
/// on; none when it is off (then webd writes nothing, and its seccomp
/// filter refuses every writing `openat`).
pub fn writable_dirs(config: &Config) -> Vec<PathBuf> {
    if config.page.enabled {
        vec![config.page.devices_dir.clone()]
    } else {
        Vec::new()
    }
}

/// The PEM files webd re-reads on SIGHUP: certificate, key, client CA.
fn reload_files(config: &Config) -> Vec<&Path> {
    let mut files = vec![config.tls.cert.as_path(), &config.tls.key];
    files.extend(config.client_auth.ca());
    files
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
    confine::apply(
        "webd",
        plan,
        &syscalls::filter(plan.seccomp, !plan.writable_dirs.is_empty()),
        probe,
    )
}

/// Which layers this kernel supports (`webd check`). Changes nothing.
pub fn report() -> KernelSupport {
    tinsel_sandbox::support::probe()
}

/// [`report`] as the human-readable table `webd check` prints.
pub fn check() -> String {
    report().to_string()
}
