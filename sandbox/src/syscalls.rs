//! Building blocks for the daemons' seccomp allowlists, one group per need,
//! alphabetised within each group (cloud-hypervisor `seccomp_filters.rs`
//! style). Each daemon composes the groups it needs and adds its own rules;
//! the composed lists live next to the daemon (`webd::sandbox::syscalls`,
//! `ledd::harden`).
//!
//! Numbers are `libc::SYS_*`, correct per target; where a syscall exists
//! only on some architectures the entry is `cfg`-gated. 32-bit ARM needs
//! the `*64` file calls (`fcntl64`, `fstat64`, `fstatat64`, `_llseek`),
//! `mmap2`, the `*32` id calls, `sigreturn`, and the `*_time64` calls
//! glibc tries first ([`crate::arch::arm_time64`]).

// The lists push entry by entry because many entries are `cfg`-gated per
// architecture, which `vec![...]` elements cannot be.
#![allow(clippy::vec_init_then_push)]

use crate::seccomp::{Action, Cond, Rule};

/// Append an unconditional allow for each `libc::SYS_<name>`.
macro_rules! allow {
    ($v:ident; $($name:ident),* $(,)?) => {
        $( $v.push(Rule::allow(stringify!($name), ::libc::$name)); )*
    };
}
/// `PROT_WRITE | PROT_EXEC`: never both in one mapping.
const WRITE_EXEC: u32 = (libc::PROT_WRITE | libc::PROT_EXEC) as u32;

/// The `clone` flags every thread creation sets (glibc and musl
/// `pthread_create`). A process-creating `clone` (fork, vfork,
/// posix_spawn) lacks `CLONE_THREAD`/`CLONE_VM` and is refused.
const THREAD_FLAGS: u32 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD) as u32;

/// Namespace flags: never, even for a thread.
const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u32;

/// The socket type bits of `socket(2)`'s second argument (the rest are
/// `SOCK_NONBLOCK`/`SOCK_CLOEXEC`).
const SOCK_TYPE_MASK: u32 = 0xf;

/// Open flags that ask for more than reading: an access mode other than
/// `O_RDONLY`, creating, truncating or appending. `O_TMPFILE` needs a write
/// access mode, so the `O_ACCMODE` bits catch it.
pub const OPEN_WRITE_FLAGS: u32 =
    (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) as u32;

/// `ioctl` requests a Rust/tokio daemon issues on its own descriptors:
/// `FIONBIO` (`set_nonblocking`) and `FIOCLEX` (`set_cloexec`).
pub const BASE_IOCTLS: [u32; 2] = [libc::FIONBIO as u32, libc::FIOCLEX as u32];

/// `prctl` options a Rust daemon uses at run time: thread names.
pub const BASE_PRCTLS: [u32; 2] = [libc::PR_SET_NAME as u32, libc::PR_GET_NAME as u32];

/// Memory management, with W^X: `mmap`/`mmap2`/`mprotect` are allowed only
/// when `prot` does not ask for write and execute together.
pub fn memory() -> Vec<Rule> {
    let not_wx = [Cond::masked_ne(2, WRITE_EXEC, WRITE_EXEC)];
    let mut v = Vec::new();
    allow!(v; SYS_brk, SYS_madvise);
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    v.push(Rule::allow_if("SYS_mmap", libc::SYS_mmap, &not_wx));
    #[cfg(target_arch = "arm")]
    v.push(Rule::allow_if("SYS_mmap2", libc::SYS_mmap2, &not_wx));
    v.push(Rule::allow_if("SYS_mprotect", libc::SYS_mprotect, &not_wx));
    allow!(v; SYS_mremap, SYS_munmap);
    v
}

/// Threads (never processes), futexes and per-thread set-up.
///
/// `clone3` answers `ENOSYS` so glibc ≥ 2.34 falls back to `clone`, whose
/// flags (a plain register) the filter can read; `clone3` passes them in
/// memory, which seccomp cannot inspect.
pub fn threads() -> Vec<Rule> {
    let mut v = Vec::new();
    v.push(Rule::allow_if(
        "SYS_clone",
        libc::SYS_clone,
        &[
            Cond::masked_eq(0, THREAD_FLAGS, THREAD_FLAGS),
            Cond::masked_eq(0, NAMESPACE_FLAGS, 0),
        ],
    ));
    v.push(Rule::errno("SYS_clone3", libc::SYS_clone3, libc::ENOSYS));
    allow!(v; SYS_exit, SYS_exit_group, SYS_futex);
    #[cfg(target_arch = "arm")]
    v.push(Rule::allow(
        "SYS_futex_time64",
        crate::arch::arm_time64::SYS_FUTEX_TIME64,
    ));
    allow!(v; SYS_getpid, SYS_gettid, SYS_rseq, SYS_sched_getaffinity, SYS_sched_yield, SYS_set_robust_list);
    v
}

/// Signal handling (tokio::signal, panics → abort). `tgkill` only towards
/// this process (`raise`, `abort`): `own_pid` is compared with the target
/// thread group. `kill`/`tkill` are not allowed at all.
pub fn signals(own_pid: u32) -> Vec<Rule> {
    let mut v = Vec::new();
    allow!(v; SYS_restart_syscall, SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn);
    #[cfg(target_arch = "arm")]
    allow!(v; SYS_sigreturn);
    allow!(v; SYS_sigaltstack);
    v.push(Rule::allow_if(
        "SYS_tgkill",
        libc::SYS_tgkill,
        &[Cond::eq(0, own_pid)],
    ));
    v
}

/// Clocks and sleeping.
pub fn time() -> Vec<Rule> {
    let mut v = Vec::new();
    allow!(v; SYS_clock_getres, SYS_clock_gettime, SYS_clock_nanosleep);
    #[cfg(target_arch = "arm")]
    {
        use crate::arch::arm_time64 as t;
        v.push(Rule::allow(
            "SYS_clock_getres_time64",
            t::SYS_CLOCK_GETRES_TIME64,
        ));
        v.push(Rule::allow("SYS_clock_gettime64", t::SYS_CLOCK_GETTIME64));
        v.push(Rule::allow(
            "SYS_clock_nanosleep_time64",
            t::SYS_CLOCK_NANOSLEEP_TIME64,
        ));
    }
    #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
    allow!(v; SYS_gettimeofday);
    allow!(v; SYS_nanosleep);
    v
}

/// Reading and writing descriptors the daemon already holds, and the event
/// loop (epoll + eventfd for mio's waker). `ioctl` only for `ioctls`
/// (at least [`BASE_IOCTLS`]); other requests fail with `ENOTTY` (a library
/// asking "is this a terminal?" gets "no" instead of a dead daemon).
pub fn io(ioctls: &[u32]) -> Vec<Rule> {
    let mut v = Vec::new();
    allow!(v; SYS_close, SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait, SYS_epoll_pwait2);
    #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
    allow!(v; SYS_epoll_wait);
    allow!(v; SYS_eventfd2, SYS_fcntl);
    #[cfg(target_arch = "arm")]
    allow!(v; SYS_fcntl64);
    allow!(v; SYS_getrandom);
    let alternatives: Vec<Vec<Cond>> = ioctls.iter().map(|&r| vec![Cond::eq(1, r)]).collect();
    let alts: Vec<&[Cond]> = alternatives.iter().map(Vec::as_slice).collect();
    v.push(
        Rule::allow_any("SYS_ioctl", libc::SYS_ioctl, &alts)
            .otherwise(Action::Errno(libc::ENOTTY as u16)),
    );
    allow!(v; SYS_read, SYS_readv, SYS_write, SYS_writev);
    v
}

/// Process facts libraries ask for: ids, limits (read-only: `prlimit64`
/// only with a NULL new limit), `uname`, `sysinfo`; `prctl` only for
/// `prctls` (at least [`BASE_PRCTLS`]), other options fail with `EPERM`.
pub fn process_info(prctls: &[u32]) -> Vec<Rule> {
    let mut v = Vec::new();
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    allow!(v; SYS_getegid, SYS_geteuid, SYS_getgid, SYS_getuid);
    #[cfg(target_arch = "arm")]
    allow!(v; SYS_getegid32, SYS_geteuid32, SYS_getgid32, SYS_getuid32, SYS_ugetrlimit);
    let alternatives: Vec<Vec<Cond>> = prctls.iter().map(|&o| vec![Cond::eq(0, o)]).collect();
    let alts: Vec<&[Cond]> = alternatives.iter().map(Vec::as_slice).collect();
    v.push(
        Rule::allow_any("SYS_prctl", libc::SYS_prctl, &alts)
            .otherwise(Action::Errno(libc::EPERM as u16)),
    );
    v.push(Rule::allow_if(
        "SYS_prlimit64",
        libc::SYS_prlimit64,
        &[Cond::eq(2, 0)],
    ));
    allow!(v; SYS_sysinfo, SYS_uname);
    v
}

/// Opening files read-only (config and certificate re-read on SIGHUP):
/// `openat` only with none of [`OPEN_WRITE_FLAGS`]; `open`, `creat`,
/// `openat2` (flags in memory) are not allowed.
pub fn read_files() -> Vec<Rule> {
    let mut v = Vec::new();
    allow!(v; SYS_fstat);
    #[cfg(target_arch = "arm")]
    allow!(v; SYS_fstat64, SYS_fstatat64, SYS__llseek);
    allow!(v; SYS_getdents64, SYS_lseek);
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    allow!(v; SYS_newfstatat);
    v.push(Rule::allow_if(
        "SYS_openat",
        libc::SYS_openat,
        &[Cond::masked_eq(2, OPEN_WRITE_FLAGS, 0)],
    ));
    allow!(v; SYS_statx);
    v
}

/// Creating files in a writable directory (webd's devices directory),
/// atomically: [`read_files`]' `openat` widened to a second form, a new
/// file opened write-only (`O_WRONLY | O_CREAT | O_EXCL`; never an
/// existing file opened for writing, truncated or appended to), then
/// `fsync`, rename and unlink. seccomp cannot see paths: Landlock (and the
/// unit's `ReadWritePaths=`) keep these calls inside the directory. Replaces
/// [`read_files`]' `openat` rule, which a daemon drops first.
pub fn create_files() -> Vec<Rule> {
    let mut v = Vec::new();
    allow!(v; SYS_fdatasync, SYS_fsync);
    v.push(Rule::allow_any(
        "SYS_openat",
        libc::SYS_openat,
        &[
            &[Cond::masked_eq(2, OPEN_WRITE_FLAGS, 0)],
            &[Cond::masked_eq(
                2,
                OPEN_WRITE_FLAGS | libc::O_EXCL as u32,
                (libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL) as u32,
            )],
        ],
    ));
    #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
    allow!(v; SYS_rename, SYS_unlink);
    #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
    allow!(v; SYS_renameat);
    allow!(v; SYS_renameat2, SYS_unlinkat);
    v
}

/// Using stream and datagram sockets the daemon holds or accepts:
/// accept, receive, send, options, names, shutdown. No `bind`, `listen`.
pub fn socket_io() -> Vec<Rule> {
    let mut v = Vec::new();
    allow!(v; SYS_accept4, SYS_getpeername, SYS_getsockname, SYS_getsockopt);
    #[cfg(target_arch = "arm")]
    allow!(v; SYS_recv, SYS_send);
    allow!(v; SYS_recvfrom, SYS_recvmsg, SYS_sendmsg, SYS_sendto, SYS_setsockopt, SYS_shutdown);
    v
}

/// What the runtime of every tinsel daemon needs, composed once: memory,
/// threads, signals to itself (`own_pid`), time, I/O with the `ioctls`
/// requests, process information, read-only files, I/O on sockets it holds,
/// and the Unix socketpair tokio's signal driver makes. Each daemon adds its
/// own groups to this (webd: [`unix_client`]; ledd: its scheduling calls).
pub fn runtime(own_pid: u32, ioctls: &[u32]) -> Vec<Rule> {
    let mut v = Vec::new();
    v.extend(memory());
    v.extend(threads());
    v.extend(signals(own_pid));
    v.extend(time());
    v.extend(io(ioctls));
    v.extend(process_info(&BASE_PRCTLS));
    v.extend(read_files());
    v.extend(socket_io());
    v.extend(unix_socketpair());
    v
}

/// `socketpair(AF_UNIX, ...)` only: tokio's signal driver makes one the
/// first time a signal stream is created. A connected pair reaches nothing
/// outside the process.
pub fn unix_socketpair() -> Vec<Rule> {
    vec![Rule::allow_if(
        "SYS_socketpair",
        libc::SYS_socketpair,
        &[Cond::eq(0, libc::AF_UNIX as u32)],
    )]
}

/// `socket(AF_UNIX, SOCK_STREAM, ...)` and `connect`: reaching a Unix
/// socket by path (webd → ledd). Datagram sockets are refused (no sending
/// to `/dev/log`, `$NOTIFY_SOCKET` or other datagram endpoints). Every other address family is refused, so `connect`
/// can only ever target Unix sockets — or the inherited TCP listener, which
/// cannot connect (and Landlock ABI 4 denies TCP connect anyway).
pub fn unix_client() -> Vec<Rule> {
    let mut v = Vec::new();
    allow!(v; SYS_connect);
    v.push(Rule::allow_if(
        "SYS_socket",
        libc::SYS_socket,
        &[
            Cond::eq(0, libc::AF_UNIX as u32),
            Cond::masked_eq(1, SOCK_TYPE_MASK, libc::SOCK_STREAM as u32),
        ],
    ));
    v
}
