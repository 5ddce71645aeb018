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
//! `keyctl`, `add_key`, `*_module`, no opening files for writing (with the
//! page on: only creating new files, then rename and unlink, which Landlock
//! keeps in the devices directory), no mappings that are writable and
//! executable at once.
//!
//! The groups come from `tinsel_sandbox::syscalls` (alphabetised there);
//! webd adds the Unix client group only it needs.

use tinsel_sandbox::seccomp::{Filter, Rule};
use tinsel_sandbox::syscalls as groups;

use super::SeccompMode;

/// webd's rules, for this process (the pid is baked into the `tgkill` rule);
/// `writes`: the page is on and its devices directory is writable.
pub fn rules(writes: bool) -> Vec<Rule> {
    let mut v = groups::runtime(std::process::id(), &groups::BASE_IOCTLS);
    v.extend(groups::unix_client());
    if writes {
        // `create_files` widens the read-only `openat` rule.
        v.retain(|r| r.nr != tinsel_sandbox::libc::SYS_openat);
        v.extend(groups::create_files());
    }
    v
}

/// The filter for `mode`, with the page's writes or without.
pub fn filter(mode: SeccompMode, writes: bool) -> Filter {
    Filter::new(rules(writes), mode.action())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_sandbox::libc;

    #[test]
    fn compiles_without_duplicates() {
        for writes in [false, true] {
            let prog = filter(SeccompMode::Kill, writes)
                .compile()
                .expect("webd filter compiles");
            assert!(prog.len() < 600, "{} instructions", prog.len());
        }
    }

    #[test]
    fn with_the_page_on_only_new_files_are_opened_for_writing() {
        use tinsel_sandbox::seccomp::Action;
        let at = |flags: i32| [0, 0, flags as u64, 0o600, 0, 0];
        let off = filter(SeccompMode::Kill, false);
        let on = filter(SeccompMode::Kill, true);
        let nr = libc::SYS_openat;
        let create = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
        assert_eq!(on.answer(nr, at(libc::O_RDONLY)), Action::Allow);
        assert_eq!(on.answer(nr, at(create)), Action::Allow);
        assert_ne!(off.answer(nr, at(create)), Action::Allow);
        for flags in [
            libc::O_WRONLY,
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
            libc::O_WRONLY | libc::O_CREAT,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC,
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_EXCL,
        ] {
            assert_ne!(on.answer(nr, at(flags)), Action::Allow, "{flags:#x}");
        }
        assert!(!off.mentions(libc::SYS_unlinkat) && on.mentions(libc::SYS_unlinkat));
    }

    #[test]
    fn never_lists_the_forbidden() {
        for writes in [false, true] {
            never_lists_the_forbidden_in(&filter(SeccompMode::Kill, writes));
        }
    }

    fn never_lists_the_forbidden_in(f: &Filter) {
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
