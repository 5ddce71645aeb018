//! webd's seccomp allowlist: what a single-threaded tokio runtime (plus
//! `spawn_blocking` threads), hyper, rustls (ring), axum and tracing need to
//! serve HTTPS on an inherited listener, talk to ledd over a Unix socket,
//! re-read the config and certificate on SIGHUP, and handle signals.
//!
//! Everything else kills the process. In particular: no `execve`/`execveat`,
//! no `socket()` but `AF_UNIX`+`SOCK_STREAM`, no `bind`/`listen`, no `fork`
//! (`clone` only with thread flags; `clone3` → `ENOSYS`), no `kill`/`tkill`
//! (`tgkill` only to itself), no `ptrace`, `mount`, `umount2`, `unshare`,
//! `setns`, `set*id`, `capset`, `kexec_*`, `bpf`, `perf_event_open`,
//! `keyctl`, `add_key`, `*_module`, no opening files for writing, no
//! mappings that are writable and executable at once.
//!
//! The groups come from `tinsel_sandbox::syscalls` (alphabetised there);
//! webd adds the Unix client group only it needs.

use tinsel_sandbox::seccomp::{Filter, Rule};
use tinsel_sandbox::syscalls as groups;

use super::SeccompMode;

/// webd's rules, for this process (the pid is baked into the `tgkill` rule).
pub fn rules() -> Vec<Rule> {
    let mut v = groups::runtime(std::process::id(), &groups::BASE_IOCTLS);
    v.extend(groups::unix_client());
    v
}

/// The filter for `mode`.
pub fn filter(mode: SeccompMode) -> Filter {
    Filter::new(rules(), mode.action())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_sandbox::libc;

    #[test]
    fn compiles_without_duplicates() {
        let prog = filter(SeccompMode::Kill)
            .compile()
            .expect("webd filter compiles");
        assert!(prog.len() < 600, "{} instructions", prog.len());
    }

    #[test]
    fn never_lists_the_forbidden() {
        let f = filter(SeccompMode::Kill);
        for (name, nr) in [
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
            ("ptrace", libc::SYS_ptrace),
            ("mount", libc::SYS_mount),
            ("umount2", libc::SYS_umount2),
            ("unshare", libc::SYS_unshare),
            ("setns", libc::SYS_setns),
            ("kill", libc::SYS_kill),
            ("tkill", libc::SYS_tkill),
            ("bind", libc::SYS_bind),
            ("listen", libc::SYS_listen),
            ("bpf", libc::SYS_bpf),
            ("perf_event_open", libc::SYS_perf_event_open),
            ("keyctl", libc::SYS_keyctl),
            ("add_key", libc::SYS_add_key),
            ("init_module", libc::SYS_init_module),
            ("finit_module", libc::SYS_finit_module),
            ("kexec_load", libc::SYS_kexec_load),
            ("capset", libc::SYS_capset),
            ("setresuid", libc::SYS_setresuid),
            ("setuid", libc::SYS_setuid),
            ("seccomp", libc::SYS_seccomp),
            ("openat2", libc::SYS_openat2),
            ("pkey_mprotect", libc::SYS_pkey_mprotect),
            ("process_vm_writev", libc::SYS_process_vm_writev),
            ("userfaultfd", libc::SYS_userfaultfd),
            ("io_uring_setup", libc::SYS_io_uring_setup),
        ] {
            assert!(!f.mentions(nr), "{name} must not be in webd's allowlist");
        }
        #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
        for (name, nr) in [
            ("open", libc::SYS_open),
            ("fork", libc::SYS_fork),
            ("vfork", libc::SYS_vfork),
        ] {
            assert!(!f.mentions(nr), "{name} must not be in webd's allowlist");
        }
    }
}
