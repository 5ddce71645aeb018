//! mqttd's sandbox: its policy for the seven confinement steps every
//! unprivileged tinsel daemon applies in `main` before any thread starts
//! ([`tinsel_sandbox::confine`]), applied after [`crate::daemon::prepare`]
//! (files read, broker resolved); ledd and the broker are connected to
//! afterwards, as mqttd's own user. It differs from webd's in one point of
//! policy: mqttd may open TCP connections, to the broker's port only, and
//! never bind, listen or accept.
//!
//! - Landlock: the config, CA and password files read-only, nothing else;
//!   TCP connect to the broker's port only, no TCP bind (ABI ≥ 4); abstract
//!   sockets and signals scoped (ABI 6);
//! - seccomp ([`rules`]): `socket()` only for AF_UNIX, AF_INET and AF_INET6
//!   stream sockets, `connect`, no `bind`/`listen`/`accept`, no `exec`, no
//!   `fork`, no writing files.

use std::os::fd::RawFd;

use tinsel_sandbox::confine;
use tinsel_sandbox::landlock::{self as ll, Probe};
pub use tinsel_sandbox::mode::SeccompMode;
use tinsel_sandbox::seccomp::{Cond, Filter, Rule};
use tinsel_sandbox::syscalls as groups;

use crate::config::{Config, ConfigError};

/// The daemon's plan: keep `keep` (tests smuggle descriptors in), become the
/// configured user, keep the config, CA and password files readable, TCP
/// to the broker's port only.
pub fn daemon_plan(
    config: &Config,
    keep: &[RawFd],
    seccomp: SeccompMode,
) -> Result<Plan, ConfigError> {
    let mut read_only_paths = vec![config.path.clone()];
    read_only_paths.extend(config.broker.ca_file.clone());
    read_only_paths.extend(config.broker.password_file.clone());
    Ok(Plan {
        keep_fds: keep.to_vec(),
        user: config.common.identity()?,
        read_only_paths,
        writable_dirs: Vec::new(),
        connect_tcp: vec![config.broker.port],
        ledd_socket: config.common.ledd_socket.clone(),
        landlock: config.common.landlock,
        seccomp,
    })
}

pub use tinsel_sandbox::confine::{Plan, Report, SandboxError};

/// Apply the whole sandbox, in order. Irreversible; call once, from
/// `main`, before any thread exists.
pub fn apply(plan: &Plan) -> Result<Report, SandboxError> {
    apply_with_probe(plan, ll::probe())
}

/// [`apply`] with an injected Landlock probe (tests simulate old kernels).
pub fn apply_with_probe(plan: &Plan, probe: Probe) -> Result<Report, SandboxError> {
    let filter = Filter::new(rules(), plan.seccomp.action());
    confine::apply("mqttd", plan, &filter, probe)
}

/// mqttd's seccomp rules: the runtime every tinsel daemon needs, plus
/// `connect` and `socket()` for stream sockets of AF_UNIX (ledd), AF_INET
/// and AF_INET6 (the broker). No `bind`, `listen`, `accept`: the runtime
/// group's `accept4` is removed.
pub fn rules() -> Vec<Rule> {
    let mut v: Vec<Rule> = groups::runtime(std::process::id(), &groups::BASE_IOCTLS)
        .into_iter()
        .filter(|r| r.nr != tinsel_sandbox::libc::SYS_accept4)
        .collect();
    use tinsel_sandbox::libc;
    v.push(Rule::allow("SYS_connect", libc::SYS_connect));
    let stream = |family: i32| {
        vec![
            Cond::eq(0, family as u32),
            Cond::masked_eq(1, 0xf, libc::SOCK_STREAM as u32),
        ]
    };
    let alternatives = [
        stream(libc::AF_UNIX),
        stream(libc::AF_INET),
        stream(libc::AF_INET6),
    ];
    let alts: Vec<&[Cond]> = alternatives.iter().map(Vec::as_slice).collect();
    v.push(Rule::allow_any("SYS_socket", libc::SYS_socket, &alts));
    v
}

/// Which layers this kernel supports (`mqttd check`).
pub fn check() -> String {
    tinsel_sandbox::support::probe().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_sandbox::libc;

    #[test]
    fn the_filter_compiles_and_never_lists_the_forbidden() {
        let f = Filter::new(rules(), SeccompMode::Kill.action());
        f.compile().expect("mqttd's filter compiles");
        for (name, nr) in [
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
            ("bind", libc::SYS_bind),
            ("listen", libc::SYS_listen),
            ("accept4", libc::SYS_accept4),
            ("ptrace", libc::SYS_ptrace),
            ("setresuid", libc::SYS_setresuid),
            ("kill", libc::SYS_kill),
        ] {
            assert!(!f.mentions(nr), "{name} must not be in mqttd's allowlist");
        }
    }
}
