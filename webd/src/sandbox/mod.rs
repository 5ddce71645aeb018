//! webd's sandbox: its policy for the seven confinement steps every
//! unprivileged tinsel daemon applies in `main` before any thread starts
//! ([`tinsel_sandbox::confine`]: single thread, inherited descriptors
//! closed, privileges dropped, capabilities cleared, no_new_privs, Landlock,
//! seccomp last).
//!
//! webd's policy: keep the listening sockets; become `user`/`group`; keep
//! the config file and the directories of the certificate, key and client
//! CA readable for SIGHUP ([`reload_paths`]), nothing else; no TCP bind or
//! connect (the listeners come from systemd or were bound before); its
//! seccomp allowlist ([`syscalls`]).
//!
//! The crate's `main` calls [`apply`] between "all files read, listeners
//! obtained" (`daemon::prepare`) and "runtime built" (`daemon::run`), and
//! maps [`SandboxError`] to exit code 71.
#![deny(unsafe_code)]

pub mod syscalls;

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use tinsel_sandbox::confine::{self, Confinement};
pub use tinsel_sandbox::ids::Identity;
use tinsel_sandbox::landlock as ll;
pub use tinsel_sandbox::landlock::{LandlockPolicy, Probe as LandlockProbe};
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

pub use tinsel_sandbox::confine::{Report, SandboxError};

/// Apply the whole sandbox, in order, probing the kernel for Landlock.
/// Irreversible. Call once, from `main`, before any thread exists.
pub fn apply(plan: &Plan) -> Result<Report, SandboxError> {
    apply_with_probe(plan, ll::probe())
}

/// [`apply`] with an injected Landlock probe result, so tests can simulate
/// a kernel without Landlock (or with an old ABI) on one that has it.
pub fn apply_with_probe(plan: &Plan, probe: LandlockProbe) -> Result<Report, SandboxError> {
    let confinement = Confinement {
        daemon: "webd",
        keep_fds: &plan.keep_fds,
        user: plan.user.as_ref(),
        ledd_socket: &plan.ledd_socket,
        landlock: ll::Rules {
            read_only: plan.read_only_paths.clone(),
            deny_tcp: true,
            connect_tcp: Vec::new(),
            scope: true,
        },
        landlock_policy: plan.landlock,
        seccomp: syscalls::filter(plan.seccomp),
        seccomp_mode: plan.seccomp,
    };
    confine::apply(&confinement, probe)
}

/// Which layers this kernel supports (`webd check`). Changes nothing.
pub fn report() -> KernelSupport {
    tinsel_sandbox::support::probe()
}

/// [`report`] as the human-readable table `webd check` prints.
pub fn check() -> String {
    report().to_string()
}
