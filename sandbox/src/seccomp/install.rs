//! Installing the compiled programs on every thread (`seccomp(2)` with
//! TSYNC), and asking the kernel which actions it supports.

use std::io;

use super::bpf::*;
use super::*;

/// Why a filter could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The filter did not compile.
    #[error("seccomp filter does not compile: {0}")]
    Compile(#[from] CompileError),
    /// no_new_privs is not set; an unprivileged process cannot install a
    /// filter without it, and tinsel never relies on CAP_SYS_ADMIN for it.
    #[error("no_new_privs is not set; set it before installing the seccomp filter")]
    NoNewPrivsUnset,
    /// The kernel does not support the requested action (e.g. LOG before 4.14).
    #[error("this kernel does not support the seccomp action {0:?}")]
    ActionUnavailable(Action),
    /// Another thread could not be synchronised (it runs a different filter).
    #[error(
        "seccomp TSYNC failed: thread {0} could not be synchronised; sandbox before starting threads"
    )]
    Tsync(i64),
    /// The kernel refused the filter.
    #[error(
        "seccomp(SECCOMP_SET_MODE_FILTER) failed: {0}; check that the kernel has CONFIG_SECCOMP_FILTER and that no outer filter blocks seccomp()"
    )]
    Install(#[source] io::Error),
}

/// Whether the kernel supports `action` (`SECCOMP_GET_ACTION_AVAIL`, Linux 4.14).
pub fn action_available(action: Action) -> io::Result<bool> {
    let ret = action.to_ret() & !SECCOMP_RET_DATA;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32 from the pointer, which
    // points to a live local for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &ret as *const u32,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(err),
    }
}

/// Compile `filter` and install its programs on **every thread** of the
/// process (`SECCOMP_FILTER_FLAG_TSYNC`), the allowlist last. Irreversible.
/// Requires no_new_privs. Returns the number of BPF instructions. On an
/// error after the first program, the overlays installed so far stay (they
/// only answer errors, never allow more); the caller must exit.
///
/// Installs with its own `seccomp(2)` call rather than
/// `seccompiler::apply_filter_all_threads`, which calls
/// `prctl(PR_SET_NO_NEW_PRIVS)` before each program: an overlay answering
/// `prctl` with `EPERM` would make the next install fail.
pub fn install(filter: &Filter) -> Result<usize, InstallError> {
    let program = filter.compile()?;
    if !crate::caps::no_new_privs().unwrap_or(false) {
        return Err(InstallError::NoNewPrivsUnset);
    }
    for &action in program.actions() {
        if !action_available(action).map_err(InstallError::Install)? {
            return Err(InstallError::ActionUnavailable(action));
        }
    }
    for prog in program.programs() {
        install_one(prog)?;
    }
    Ok(program.len())
}

fn install_one(prog: &[Instruction]) -> Result<(), InstallError> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).map_err(|_| CompileError::ProgramTooLong(prog.len()))?,
        // `seccompiler::sock_filter` is `#[repr(C)]` with the fields of
        // `struct sock_filter` in the same order and types.
        filter: prog.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `fprog` points to `prog`, a live, correctly sized array of
    // `struct sock_filter` (layout above); the kernel copies the program
    // before returning and keeps no pointer into our memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        )
    };
    match rc {
        0 => Ok(()),
        // `c_long` is 32 bits on ARM, 64 elsewhere.
        #[allow(clippy::useless_conversion)]
        tid if tid > 0 => Err(InstallError::Tsync(i64::from(tid))),
        _ => Err(InstallError::Install(io::Error::last_os_error())),
    }
}
