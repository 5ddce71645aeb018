//! ledd's hardening after the hardware is initialised.
//!
//! ledd stays root (the PWM/DMA backend mapped `/dev/mem` at start-up), but
//! once the strip is open it needs neither new files (beyond re-reading its
//! config) nor the network, nor any capability. [`harden`] then:
//!
//! 1. [`drop_capabilities`] on the calling thread: bounding set first (it
//!    needs `CAP_SETPCAP`), ambient, then effective/permitted/inheritable
//!    down to [`HardenOptions::keep_caps`] (default: none). uid 0 without
//!    capabilities cannot override file permissions, load modules, change
//!    ids, bind privileged ports or reach `/dev/mem` again. Started by an
//!    ordinary user (the simulated strip needs no root), ledd holds no
//!    capability: nothing is dropped and the bounding set stays, which
//!    no_new_privs makes harmless (`tinsel_sandbox::caps::drop_all_but`).
//!    Some capabilities without `CAP_SETPCAP` is an error;
//! 2. [`verify_every_thread`]: capabilities are **per thread**, and the
//!    frame loop thread exists already (it opened the strip). It must call
//!    [`drop_thread_capabilities`] itself once the strip is open; this step
//!    reads `/proc/self/task/*/status` and fails if any thread still holds
//!    more than `keep_caps`;
//! 3. [`set_no_new_privs`];
//! 4. [`install_seccomp`]: ledd's allowlist, on every thread (TSYNC, which
//!    also sets no_new_privs on the other threads). No `socket()` at all,
//!    no `connect`/`bind`/`listen`, no `execve`, no `fork`, no opening
//!    files for writing, no W+X memory.
//!
//! # What ledd's `main` must do around it
//!
//! - obtain the listening socket **before** `harden` (socket/bind are
//!   killed afterwards), and create the sd_notify datagram socket once
//!   before `harden` and reuse it (`sendto` on it stays allowed; creating a
//!   new one per notification would be killed);
//! - resolve configured user/group names to ids at config load and take a
//!   peer's groups from the socket (`SO_PEERGROUPS`), not from NSS at run
//!   time: NSS modules such as `libnss_systemd` open `AF_UNIX` sockets, which
//!   the filter kills. `/etc/passwd` and `/etc/group` stay readable (openat
//!   read-only is allowed, for the SIGHUP config re-read);
//! - not `unlink` its socket after hardening: `unlink`/`unlinkat` fail with
//!   `EPERM` (a root process without capabilities could still delete
//!   root-owned files); remove a stale socket at the next start instead, or
//!   let systemd's `RuntimeDirectory=` clean up.

use std::fmt;

use tinsel_sandbox::caps::{self, CapMask};
use tinsel_sandbox::libc;
use tinsel_sandbox::process;
use tinsel_sandbox::seccomp::{self, Filter, InstallError, Rule};
use tinsel_sandbox::syscalls as groups;

pub use tinsel_sandbox::mode::SeccompMode;

/// How to harden.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HardenOptions {
    /// Capabilities to keep (bit n = capability n). Default: none. The
    /// simulated strip and the ws281x backend (whose DMA memory is mapped
    /// at start-up) need none after init.
    pub keep_caps: CapMask,
    /// `ioctl` requests the strip backend issues per frame, besides
    /// `FIONBIO`/`FIOCLEX`. The SPI backend (rppal) writes with
    /// `SPI_IOC_MESSAGE(1)` = `0x4020_6b00`; the simulated strip needs none.
    pub extra_ioctls: Vec<u32>,
    /// Kill (default) or log.
    pub seccomp: SeccompMode,
}

/// `SPI_IOC_MESSAGE(1)`: `_IOW('k', 0, char[32])` (include/uapi/linux/spi/spidev.h;
/// one `struct spi_ioc_transfer` is 32 bytes).
pub const SPI_IOC_MESSAGE_1: u32 = 0x4020_6b00;

/// The hardening a strip backend allows: the one place that knows what
/// each backend still does once the strip is open.
///
/// - `Sim`: writes to memory. Nothing.
/// - `Ws281x`: the PWM/DMA memory is mapped at start-up; each frame is a
///   memory write plus a sleep. No capability, no ioctl.
/// - `Spi`: each frame is a `write` to the spidev fd opened at start-up;
///   `SPI_IOC_MESSAGE(1)` is allowed too, for transfers rppal (or a later
///   backend) makes with the ioctl. No capability (spidev is a device file
///   opened before hardening).
pub fn options_for(backend: crate::config::Backend, seccomp: SeccompMode) -> HardenOptions {
    use crate::config::Backend;
    let extra_ioctls = match backend {
        Backend::Sim | Backend::Ws281x => Vec::new(),
        Backend::Spi => vec![SPI_IOC_MESSAGE_1],
    };
    HardenOptions {
        keep_caps: 0,
        extra_ioctls,
        seccomp,
    }
}

/// A hardening step that failed; ledd maps every variant to exit code 71.
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    /// Dropping capabilities on the calling thread failed, or the process
    /// holds some capabilities but not `CAP_SETPCAP`.
    #[error("dropping capabilities failed: {0}")]
    Capabilities(#[source] caps::DropError),
    /// Another thread still holds capabilities.
    #[error(
        "thread {tid} ({name:?}) still holds capabilities ({caps}): call ledd::harden::drop_thread_capabilities() on that thread once the strip is open, before harden()"
    )]
    ThreadKeepsCapabilities {
        /// Thread id.
        tid: u32,
        /// Thread name.
        name: String,
        /// What it holds.
        caps: String,
    },
    /// `/proc/self/task` could not be read.
    #[error("cannot read /proc/self/task to check every thread: {0}; is /proc mounted?")]
    Threads(#[source] std::io::Error),
    /// `PR_SET_NO_NEW_PRIVS` failed.
    #[error("setting no_new_privs failed: {0}")]
    NoNewPrivs(#[source] std::io::Error),
    /// The seccomp filter could not be installed.
    #[error("{0}")]
    Seccomp(#[source] InstallError),
}

/// What [`harden`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Capabilities kept.
    pub kept_caps: CapMask,
    /// Started without any capability (not root): nothing was dropped and
    /// the bounding set was left as inherited.
    pub unprivileged: bool,
    /// Threads checked (all of them at that moment).
    pub threads: usize,
    /// Seccomp mode installed.
    pub seccomp: SeccompMode,
    /// Rules and BPF instructions installed.
    pub seccomp_size: (usize, usize),
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "capabilities: {}{} on all {} threads; no_new_privs on; seccomp: {} syscalls ({} BPF instructions), {}",
            caps::describe(self.kept_caps),
            if self.unprivileged {
                " (started without any: nothing to drop)"
            } else {
                ""
            },
            self.threads,
            self.seccomp_size.0,
            self.seccomp_size.1,
            match self.seccomp {
                SeccompMode::Kill => "kill on violation",
                SeccompMode::Log => "LOG ONLY (--seccomp-log)",
            }
        )
    }
}

/// Harden the whole process. Call after the strip is open and the
/// listening and sd_notify sockets exist, and after every thread already
/// running has called [`drop_thread_capabilities`]. Irreversible.
pub fn harden(opts: &HardenOptions) -> Result<Report, HardenError> {
    let dropped = drop_capabilities(opts.keep_caps)?;
    let bounding_allowed = match dropped {
        caps::Dropped::All => {
            tracing::info!(
                step = "drop_capabilities",
                "harden: capabilities kept: {}",
                caps::describe(opts.keep_caps)
            );
            opts.keep_caps
        }
        caps::Dropped::NothingHeld { bounding } => {
            tracing::info!(
                step = "drop_capabilities",
                "harden: not root and no capabilities held: nothing to drop (the bounding set stays; no_new_privs below keeps anything from being gained through it)"
            );
            bounding
        }
    };
    let threads = verify_every_thread(opts.keep_caps, bounding_allowed)?;
    tracing::info!(
        step = "verify_every_thread",
        "harden: {threads} thread(s) hold no more than that"
    );
    set_no_new_privs()?;
    tracing::info!(step = "set_no_new_privs", "harden: no_new_privs on");
    if opts.seccomp == SeccompMode::Log {
        tracing::warn!(
            "harden: seccomp in LOG mode (--seccomp-log): violations are logged, NOT blocked; never run like this in production"
        );
    }
    let seccomp_size = install_seccomp(opts)?;
    let report = Report {
        kept_caps: opts.keep_caps,
        unprivileged: matches!(dropped, caps::Dropped::NothingHeld { .. }),
        threads,
        seccomp: opts.seccomp,
        seccomp_size,
    };
    tracing::info!(step = "seccomp", "harden: {report}");
    Ok(report)
}

/// For a thread that already runs when [`harden`] is called (the frame
/// loop): drop its own capabilities down to `keep`. Call on that thread,
/// once the strip is open. Capabilities are per thread; nothing else can
/// take them from it.
pub fn drop_thread_capabilities(keep: CapMask) -> Result<caps::Dropped, HardenError> {
    drop_capabilities(keep)
}

/// Step 1 (for the calling thread): bounding set, ambient, then
/// effective/permitted/inheritable down to `keep`, verified with `capget`
/// and the thread's own `/proc/self/task/<tid>/status`.
/// A thread that holds no capability has nothing to drop
/// ([`caps::Dropped::NothingHeld`]); one that holds some but not
/// `CAP_SETPCAP` is refused ([`caps::DropError::Partial`]).
pub fn drop_capabilities(keep: CapMask) -> Result<caps::Dropped, HardenError> {
    caps::drop_all_but(keep).map_err(HardenError::Capabilities)
}

/// Step 2: every thread holds no more than `keep` in its effective,
/// permitted and inheritable sets, no more than `bounding` in its bounding
/// set (`keep` once dropped; what an unprivileged start inherited
/// otherwise), and nothing ambient. Returns the count.
pub fn verify_every_thread(keep: CapMask, bounding: CapMask) -> Result<usize, HardenError> {
    let threads = process::thread_statuses().map_err(HardenError::Threads)?;
    for (tid, name, st) in &threads {
        let extra = ((st.cap_eff | st.cap_prm | st.cap_inh | st.cap_amb) & !keep)
            | (st.cap_bnd & !(bounding | keep));
        if extra != 0 || st.cap_amb != 0 {
            return Err(HardenError::ThreadKeepsCapabilities {
                tid: *tid,
                name: name.clone(),
                caps: caps::describe(extra | st.cap_amb),
            });
        }
    }
    Ok(threads.len())
}

/// Step 3: `PR_SET_NO_NEW_PRIVS` on the calling thread (TSYNC in step 4
/// carries it to the others).
pub fn set_no_new_privs() -> Result<(), HardenError> {
    caps::set_no_new_privs().map_err(HardenError::NoNewPrivs)?;
    match caps::no_new_privs() {
        Ok(true) => Ok(()),
        Ok(false) => Err(HardenError::NoNewPrivs(std::io::Error::other(
            "reads 0 after setting it",
        ))),
        Err(e) => Err(HardenError::NoNewPrivs(e)),
    }
}

/// Step 4: ledd's allowlist on every thread. Returns (rules, instructions).
pub fn install_seccomp(opts: &HardenOptions) -> Result<(usize, usize), HardenError> {
    let f = filter(opts);
    let rules = f.rules().len();
    let n = seccomp::install(&f).map_err(HardenError::Seccomp)?;
    Ok((rules, n))
}

/// ledd's seccomp rules for this process (the pid is baked into `tgkill`).
///
/// The frame loop: `clock_nanosleep` to absolute deadlines, `clock_gettime`,
/// writes to memory (simulated strip, DMA buffers) and, for SPI, an
/// `ioctl`. The tokio server: `epoll`, `eventfd`, `accept4` on the listener
/// it already holds, `read`/`write`, `getsockopt(SO_PEERCRED)`,
/// `socketpair(AF_UNIX)` for tokio's signal driver. sd_notify: `sendto` on
/// the datagram socket opened before hardening. SIGHUP: `openat` read-only.
/// Scheduling calls are allowed (they fail without `CAP_SYS_NICE`), and
/// `getcwd` (panic backtraces). `unlink`/`unlinkat` answer `EPERM`.
pub fn rules(opts: &HardenOptions) -> Vec<Rule> {
    let mut ioctls = groups::BASE_IOCTLS.to_vec();
    ioctls.extend_from_slice(&opts.extra_ioctls);
    let mut v = groups::runtime(std::process::id(), &ioctls);
    for (name, nr) in [
        (
            "SYS_sched_get_priority_max",
            libc::SYS_sched_get_priority_max,
        ),
        (
            "SYS_sched_get_priority_min",
            libc::SYS_sched_get_priority_min,
        ),
        ("SYS_sched_getparam", libc::SYS_sched_getparam),
        ("SYS_sched_getscheduler", libc::SYS_sched_getscheduler),
        ("SYS_sched_setparam", libc::SYS_sched_setparam),
        ("SYS_sched_setscheduler", libc::SYS_sched_setscheduler),
    ] {
        v.push(Rule::allow(name, nr));
    }
    // A panic's backtrace (RUST_BACKTRACE) prints paths relative to the
    // working directory: without getcwd a panic becomes a SIGSYS with no
    // backtrace. Read-only, reveals a path name.
    v.push(Rule::allow("SYS_getcwd", libc::SYS_getcwd));
    #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
    v.push(Rule::errno("SYS_unlink", libc::SYS_unlink, libc::EPERM));
    v.push(Rule::errno("SYS_unlinkat", libc::SYS_unlinkat, libc::EPERM));
    v
}

/// The filter for `opts`.
pub fn filter(opts: &HardenOptions) -> Filter {
    Filter::new(rules(opts), opts.seccomp.action())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_compiles() {
        let opts = HardenOptions {
            extra_ioctls: vec![SPI_IOC_MESSAGE_1],
            ..HardenOptions::default()
        };
        filter(&opts).compile().expect("ledd filter compiles");
    }

    #[test]
    fn options_follow_the_backend() {
        use crate::config::Backend;
        assert_eq!(
            options_for(Backend::Sim, SeccompMode::Kill),
            HardenOptions::default()
        );
        assert_eq!(
            options_for(Backend::Ws281x, SeccompMode::Kill),
            HardenOptions::default()
        );
        let spi = options_for(Backend::Spi, SeccompMode::Log);
        assert_eq!(spi.extra_ioctls, vec![SPI_IOC_MESSAGE_1]);
        assert_eq!(spi.keep_caps, 0);
        assert_eq!(spi.seccomp, SeccompMode::Log);
        // SPI_IOC_MESSAGE(1) = _IOW('k', 0, 32 bytes): dir 1 << 30, size << 16, type << 8.
        assert_eq!(
            SPI_IOC_MESSAGE_1,
            (1 << 30) | (32 << 16) | (u32::from(b'k') << 8)
        );
    }

    #[test]
    fn no_socket_creation_no_exec() {
        let f = filter(&HardenOptions::default());
        for (name, nr) in [
            ("socket", libc::SYS_socket),
            ("connect", libc::SYS_connect),
            ("bind", libc::SYS_bind),
            ("listen", libc::SYS_listen),
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
            ("ptrace", libc::SYS_ptrace),
            ("mount", libc::SYS_mount),
            ("unshare", libc::SYS_unshare),
            ("kill", libc::SYS_kill),
            ("capset", libc::SYS_capset),
            ("init_module", libc::SYS_init_module),
            ("finit_module", libc::SYS_finit_module),
            ("setresuid", libc::SYS_setresuid),
        ] {
            assert!(!f.mentions(nr), "{name} must not be in ledd's allowlist");
        }
    }
}
