//! What the running kernel can do for the sandbox (`webd check`), probed
//! without changing anything about the process.

use std::fmt;

use crate::arch;
use crate::landlock::{self, Probe};
use crate::seccomp::{self, Action};

/// Which confinement layers this kernel supports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSupport {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Landlock probe result.
    pub landlock: Probe,
    /// seccomp filter mode with `SECCOMP_RET_KILL_PROCESS` (Linux 4.14).
    pub seccomp_kill_process: bool,
    /// `SECCOMP_RET_LOG` available (for `--seccomp-log`).
    pub seccomp_log: bool,
    /// `PR_GET_NO_NEW_PRIVS` answers (Linux 3.5).
    pub no_new_privs: bool,
    /// `close_range(2)` (Linux 5.9); otherwise `/proc/self/fd` is walked.
    pub close_range: bool,
}

/// Probe the running kernel.
pub fn probe() -> KernelSupport {
    KernelSupport {
        kernel: kernel_release(),
        landlock: landlock::probe(),
        seccomp_kill_process: seccomp::action_available(Action::KillProcess).unwrap_or(false),
        seccomp_log: seccomp::action_available(Action::Log).unwrap_or(false),
        no_new_privs: crate::caps::no_new_privs().is_ok(),
        close_range: close_range_works(),
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn close_range_works() -> bool {
    // An empty range above any real descriptor: closes nothing, fails
    // with ENOSYS on kernels without close_range.
    // SAFETY: integer arguments; the range holds no open descriptors.
    unsafe { libc::syscall(libc::SYS_close_range, u32::MAX - 1, u32::MAX - 1, 0u32) == 0 }
}

impl KernelSupport {
    /// True when every layer tinsel wants is available at full strength.
    pub fn complete(&self) -> bool {
        matches!(self.landlock, Probe::Abi(v) if v >= landlock::TARGET_ABI_NUMBER)
            && self.seccomp_kill_process
            && self.no_new_privs
    }
}

impl fmt::Display for KernelSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "yes" } else { "NO" };
        writeln!(f, "kernel {} on {}", self.kernel, arch::ARCH_NAME)?;
        writeln!(f, "{:<28} this kernel", "layer")?;
        writeln!(f, "{:<28} {}", "no_new_privs", yes(self.no_new_privs))?;
        writeln!(f, "{:<28} yes", "capabilities (drop all)")?;
        let ll = match self.landlock {
            Probe::Abi(v) => {
                let tcp = if v >= landlock::TCP_ABI {
                    "TCP yes"
                } else {
                    "TCP NO (needs ABI 4)"
                };
                let sc = if v >= landlock::SCOPE_ABI {
                    "scopes yes"
                } else {
                    "scopes NO (needs ABI 6)"
                };
                format!("ABI {v}: filesystem yes, {tcp}, {sc}")
            }
            p => format!("NO: {p}"),
        };
        writeln!(f, "{:<28} {}", "landlock", ll)?;
        writeln!(
            f,
            "{:<28} {} (audit arch {:#010x})",
            "seccomp (kill process)",
            yes(self.seccomp_kill_process),
            arch::AUDIT_ARCH
        )?;
        writeln!(
            f,
            "{:<28} {}",
            "seccomp log (--seccomp-log)",
            yes(self.seccomp_log)
        )?;
        writeln!(f, "{:<28} {}", "close_range", yes(self.close_range))?;
        if self.landlock.kernel_lacks_it() {
            writeln!(f, "note: {}", landlock::NO_LANDLOCK_WARNING)?;
        }
        Ok(())
    }
}
