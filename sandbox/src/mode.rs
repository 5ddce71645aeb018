//! What a daemon's seccomp filter does with a syscall outside its
//! allowlist: kill (production) or log (`--seccomp-log`, to find a missing
//! syscall). ledd and webd take the same flag and mean the same by it.

use crate::seccomp::Action;

/// What happens on a syscall outside the allowlist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeccompMode {
    /// Kill the process with SIGSYS (`SECCOMP_RET_KILL_PROCESS`). Production.
    #[default]
    Kill,
    /// Allow and log it to the kernel audit log (`SECCOMP_RET_LOG`):
    /// `--seccomp-log`, to find a syscall missing from the list
    /// (`journalctl -k | grep 'type=1326'`, or `ausearch -m SECCOMP`).
    /// Not a sandbox.
    Log,
}

impl SeccompMode {
    /// The mode the `--seccomp-log` flag asks for.
    pub const fn from_log_flag(seccomp_log: bool) -> SeccompMode {
        if seccomp_log {
            SeccompMode::Log
        } else {
            SeccompMode::Kill
        }
    }

    /// The filter's action for syscalls outside the list.
    pub const fn action(self) -> Action {
        match self {
            SeccompMode::Kill => Action::KillProcess,
            SeccompMode::Log => Action::Log,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_flag_turns_kill_into_log() {
        assert_eq!(SeccompMode::default(), SeccompMode::Kill);
        assert_eq!(SeccompMode::from_log_flag(false), SeccompMode::Kill);
        assert_eq!(SeccompMode::from_log_flag(true), SeccompMode::Log);
        assert_eq!(SeccompMode::Kill.action(), Action::KillProcess);
        assert_eq!(SeccompMode::Log.action(), Action::Log);
    }
}
