//! The architectures tinsel confines, and what the seccomp filter must know
//! about each: the audit architecture the kernel reports in
//! `seccomp_data.arch`, which `seccompiler` target builds the programs, and
//! the few syscall numbers `libc` does not name.
//!
//! An architecture that is not listed here is a **compile error**: a daemon
//! built for it would otherwise start without a filter.

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
compile_error!(
    "tinsel-sandbox knows the seccomp audit architecture and syscall table only for x86_64, \
     aarch64 and 32-bit arm: add the new architecture to sandbox/src/arch.rs and the \
     daemons' syscall lists before building for it"
);

#[cfg(not(target_endian = "little"))]
compile_error!("tinsel-sandbox's BPF argument offsets assume a little-endian target");

/// `AUDIT_ARCH_X86_64` from `include/uapi/linux/audit.h`:
/// `EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// `AUDIT_ARCH_AARCH64`: `EM_AARCH64 (183) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
/// `AUDIT_ARCH_ARM`: `EM_ARM (40) | __AUDIT_ARCH_LE` (32-bit, little-endian:
/// the Pi Zero W).
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// The audit architecture of the target this crate is compiled for. The
/// filter kills the process for any other value (a 32-bit syscall entry on a
/// 64-bit kernel would otherwise be matched against the wrong table).
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = AUDIT_ARCH_X86_64;
/// The audit architecture of the target this crate is compiled for.
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = AUDIT_ARCH_AARCH64;
/// The audit architecture of the target this crate is compiled for.
#[cfg(target_arch = "arm")]
pub const AUDIT_ARCH: u32 = AUDIT_ARCH_ARM;

/// The `seccompiler` target tinsel's programs are built for, and the audit
/// architecture `seccompiler` writes into their first instructions for it.
///
/// `seccompiler` 0.5 has no 32-bit ARM target. Its output depends on the
/// target only through that one word: syscall numbers come from tinsel's
/// rules (`libc::SYS_*`, `arm_time64`), never from `seccompiler`'s
/// tables, and argument offsets are the same on every little-endian
/// target. So on ARM the program is built for aarch64 and
/// `seccomp::set_audit_arch` (the one place, which checks the prologue
/// first) replaces the word with [`AUDIT_ARCH_ARM`]. On x86_64 and aarch64
/// the word is already [`AUDIT_ARCH`].
#[cfg(target_arch = "x86_64")]
pub const SECCOMPILER_ARCH: seccompiler::TargetArch = seccompiler::TargetArch::x86_64;
/// The audit architecture `seccompiler` puts in programs for [`SECCOMPILER_ARCH`].
#[cfg(target_arch = "x86_64")]
pub const SECCOMPILER_AUDIT_ARCH: u32 = AUDIT_ARCH_X86_64;
/// The `seccompiler` target tinsel's programs are built for.
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
pub const SECCOMPILER_ARCH: seccompiler::TargetArch = seccompiler::TargetArch::aarch64;
/// The audit architecture `seccompiler` puts in programs for [`SECCOMPILER_ARCH`].
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
pub const SECCOMPILER_AUDIT_ARCH: u32 = AUDIT_ARCH_AARCH64;

/// A human name for logs and `webd check`.
#[cfg(target_arch = "x86_64")]
pub const ARCH_NAME: &str = "x86_64";
/// A human name for logs and `webd check`.
#[cfg(target_arch = "aarch64")]
pub const ARCH_NAME: &str = "aarch64";
/// A human name for logs and `webd check`.
#[cfg(target_arch = "arm")]
pub const ARCH_NAME: &str = "arm (32-bit)";

/// On x86_64 the x32 ABI shares `AUDIT_ARCH_X86_64` and marks its syscall
/// numbers with this bit (`__X32_SYSCALL_BIT`, `arch/x86/include/uapi/asm/unistd.h`).
/// The filter kills any number at or above it so x32 entry points cannot
/// bypass the allowlist.
#[cfg(target_arch = "x86_64")]
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Syscall numbers that `libc` 0.2 does not define for 32-bit ARM glibc.
///
/// These are the y2038 `*_time64` entry points every 32-bit architecture
/// gained in Linux 5.1 with the same numbers (`arch/arm/tools/syscall.tbl`,
/// 403..=423). glibc ≥ 2.34 calls them first and falls back to the 32-bit
/// `time_t` variants only on `ENOSYS`, so both must be allowed.
#[cfg(target_arch = "arm")]
pub mod arm_time64 {
    use libc::c_long;
    /// `clock_gettime64`.
    pub const SYS_CLOCK_GETTIME64: c_long = 403;
    /// `clock_getres_time64`.
    pub const SYS_CLOCK_GETRES_TIME64: c_long = 406;
    /// `clock_nanosleep_time64`.
    pub const SYS_CLOCK_NANOSLEEP_TIME64: c_long = 407;
    /// `futex_time64`.
    pub const SYS_FUTEX_TIME64: c_long = 422;
}
