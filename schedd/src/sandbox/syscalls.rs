//! schedd's seccomp allowlist: what a single-threaded tokio runtime and
//! tracing need to sleep, read its config on SIGHUP, `stat` the clock
//! flag, handle signals, and talk to ledd over a Unix socket it connects
//! to.
//!
//! Everything else kills the process. schedd takes the runtime every tinsel
//! daemon needs (`tinsel_sandbox::syscalls::runtime`) **without**
//! `accept4` (it serves nothing), and adds the Unix client group: `socket`
//! only for `AF_UNIX` + `SOCK_STREAM`, and `connect`. So no `bind`,
//! `listen` or `accept`, no other address family, no `execve`, no `fork`,
//! no opening files for writing.

use tinsel_sandbox::seccomp::{Filter, Rule};
use tinsel_sandbox::syscalls as groups;

use super::SeccompMode;

/// The runtime's calls schedd does not need: it never accepts a
/// connection.
const NOT_NEEDED: [&str; 1] = ["SYS_accept4"];

/// schedd's rules, for this process (the pid is baked into the `tgkill`
/// rule).
pub fn rules() -> Vec<Rule> {
    let mut v = groups::runtime(std::process::id(), &groups::BASE_IOCTLS);
    v.retain(|r| !NOT_NEEDED.contains(&r.name));
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
            .expect("schedd filter compiles");
        assert!(prog.len() < 600, "{} instructions", prog.len());
    }

    #[test]
    fn never_lists_the_forbidden() {
        let f = filter(SeccompMode::Kill);
        for (name, nr) in [
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
            ("bind", libc::SYS_bind),
            ("listen", libc::SYS_listen),
            ("accept4", libc::SYS_accept4),
            ("ptrace", libc::SYS_ptrace),
            ("mount", libc::SYS_mount),
            ("unshare", libc::SYS_unshare),
            ("kill", libc::SYS_kill),
            ("setresuid", libc::SYS_setresuid),
            ("capset", libc::SYS_capset),
            ("seccomp", libc::SYS_seccomp),
            ("openat2", libc::SYS_openat2),
            ("readlinkat", libc::SYS_readlinkat),
        ] {
            assert!(!f.mentions(nr), "{name} must not be in schedd's allowlist");
        }
        #[cfg(any(target_arch = "x86_64", target_arch = "arm"))]
        for (name, nr) in [("accept", libc::SYS_accept), ("fork", libc::SYS_fork)] {
            assert!(!f.mentions(nr), "{name} must not be in schedd's allowlist");
        }
    }
}
