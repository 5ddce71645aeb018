//! seccomp filters for both daemons on every architecture: tinsel's small
//! rule API, compiled to BPF by `seccompiler`, and the installer.
//!
//! # One rule list, several BPF programs
//!
//! A [`Filter`] is a list of [`Rule`]s (a syscall number, optional argument
//! checks, what to answer) and a default action. `seccompiler` gives each
//! program exactly one "match" and one "mismatch" action, so
//! [`Filter::compile`] splits the list:
//!
//! - the **allowlist**: match `ALLOW`, mismatch the default action (kill, or
//!   log in `--seccomp-log` mode);
//! - one **overlay** per other answer (`ERRNO(ENOSYS)` for `clone3`,
//!   `ERRNO(ENOTTY)` for unlisted `ioctl` requests, ...): match that answer,
//!   mismatch `ALLOW`.
//!
//! The kernel runs every installed program and keeps the answer of highest
//! precedence (`KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF >
//! TRACE > LOG > ALLOW`, `kernel/seccomp.c`). An overlay answers `ALLOW` for
//! everything it does not match, which never overrides anything. A syscall
//! whose rule can answer something other than "allow, or the default" is
//! listed unconditionally in the allowlist, and the overlays carry the
//! argument-dependent answers, each on the condition that selects it (the
//! `otherwise` answer on the negated conditions). So every syscall gets
//! exactly the answer its rule names; [`Program::evaluate`] computes it the
//! way the kernel does, and the tests compare it with the rules for every
//! syscall number.
//!
//! The overlays are installed first and the allowlist last: once installed,
//! the allowlist would kill the next `seccomp()` call.
//!
//! # Architectures
//!
//! `seccompiler` 0.5 knows x86_64, aarch64 and riscv64, and uses the
//! target only for the audit-architecture word its programs start with.
//! Syscall numbers never come from `seccompiler`: the rules carry
//! `libc::SYS_*` numbers (and `arch::arm_time64`), correct per
//! target. On 32-bit ARM the program is built for aarch64 and its arch word
//! replaced by `AUDIT_ARCH_ARM` in one place, `set_audit_arch`, which
//! first checks the prologue is exactly what `seccompiler` emits today and
//! refuses anything else. On x86_64 the allowlist also kills x32 syscall
//! numbers (`__X32_SYSCALL_BIT`), which `seccompiler` does not check.
//!
//! # Arguments
//!
//! Checks look at the **low 32 bits** of an argument (`seccompiler`'s
//! `Dword`). Every argument tinsel checks is an `int`/`unsigned int` in the
//! kernel (socket domain, ioctl request, prctl option, open flags, tgkill
//! tgid) or a flags word whose meaningful bits the kernel takes from the low
//! 32 bits (mmap/mprotect `prot`, legacy `clone` flags:
//! `lower_32_bits(clone_flags)` in `kernel/fork.c`). On 32-bit ARM the high
//! word is always 0. So the value the filter checks is the value the kernel
//! acts on.

mod bpf;
mod compile;
// The `seccomp()` syscall itself, with TSYNC and the SECCOMP_GET_ACTION_AVAIL
// probe, on 32-bit ARM too, where seccompiler has no backend.
#[allow(unsafe_code)]
mod install;
#[cfg(test)]
mod tests;

use seccompiler::{BpfProgram, SeccompAction};

use self::bpf::*;
pub use self::bpf::{Instruction, evaluate};
pub use self::install::{InstallError, action_available, install};

/// What the filter does with a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run it.
    Allow,
    /// Fail it with this errno without running it.
    Errno(u16),
    /// Kill the whole process with SIGSYS (`SECCOMP_RET_KILL_PROCESS`).
    KillProcess,
    /// Send SIGSYS to the thread (catchable; not used by the daemons).
    Trap,
    /// Run it and log it to the audit log (`SECCOMP_RET_LOG`, Linux 4.14).
    Log,
}

impl Action {
    /// The 32-bit value a BPF `ret` returns for this action.
    pub fn to_ret(self) -> u32 {
        match self {
            Action::Allow => SECCOMP_RET_ALLOW,
            Action::Errno(e) => SECCOMP_RET_ERRNO | (u32::from(e) & SECCOMP_RET_DATA),
            Action::KillProcess => SECCOMP_RET_KILL_PROCESS,
            Action::Trap => SECCOMP_RET_TRAP,
            Action::Log => SECCOMP_RET_LOG,
        }
    }

    fn to_seccompiler(self) -> SeccompAction {
        match self {
            Action::Allow => SeccompAction::Allow,
            Action::Errno(e) => SeccompAction::Errno(u32::from(e)),
            Action::KillProcess => SeccompAction::KillProcess,
            Action::Trap => SeccompAction::Trap,
            Action::Log => SeccompAction::Log,
        }
    }
}

/// A comparison on the low 32 bits of one syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `arg == value`.
    Eq(u32),
    /// `arg & mask == value`.
    MaskedEq {
        /// Bits to keep before comparing.
        mask: u32,
        /// Expected value of the masked argument.
        value: u32,
    },
    /// `arg & mask != value`.
    MaskedNe {
        /// Bits to keep before comparing.
        mask: u32,
        /// Forbidden value of the masked argument.
        value: u32,
    },
}

/// One condition: argument `arg` (0..=5) satisfies `cmp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    /// Argument index, 0..=5.
    pub arg: u8,
    /// The comparison.
    pub cmp: Cmp,
}

impl Cond {
    /// `arg == value` (low 32 bits). Negative `int` constants (e.g. `AT_FDCWD`)
    /// are passed as their two's complement bits.
    pub fn eq(arg: u8, value: u32) -> Cond {
        Cond {
            arg,
            cmp: Cmp::Eq(value),
        }
    }
    /// `arg & mask == value`.
    pub fn masked_eq(arg: u8, mask: u32, value: u32) -> Cond {
        Cond {
            arg,
            cmp: Cmp::MaskedEq { mask, value },
        }
    }
    /// `arg & mask != value`.
    pub fn masked_ne(arg: u8, mask: u32, value: u32) -> Cond {
        Cond {
            arg,
            cmp: Cmp::MaskedNe { mask, value },
        }
    }

    /// Whether the condition holds for `args` (the low 32 bits of the argument).
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        let a = args.get(usize::from(self.arg)).copied().unwrap_or(0) as u32;
        match self.cmp {
            Cmp::Eq(v) => a == v,
            Cmp::MaskedEq { mask, value } => a & mask == value,
            Cmp::MaskedNe { mask, value } => a & mask != value,
        }
    }
}

/// A syscall and what to do with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The syscall's name, for logs and error messages.
    pub name: &'static str,
    /// The syscall number on this architecture.
    pub nr: libc::c_long,
    /// Alternatives, each a conjunction of conditions. Empty: unconditional.
    pub when: Vec<Vec<Cond>>,
    /// What to do when the syscall matches (and, if any, one alternative holds).
    pub action: Action,
    /// What to do when the syscall matches but no alternative holds. `None`:
    /// the filter's default action.
    pub otherwise: Option<Action>,
}

impl Rule {
    /// Allow `nr` unconditionally.
    pub fn allow(name: &'static str, nr: libc::c_long) -> Rule {
        Rule {
            name,
            nr,
            when: Vec::new(),
            action: Action::Allow,
            otherwise: None,
        }
    }
    /// Allow `nr` when all of `conds` hold.
    pub fn allow_if(name: &'static str, nr: libc::c_long, conds: &[Cond]) -> Rule {
        Rule {
            name,
            nr,
            when: vec![conds.to_vec()],
            action: Action::Allow,
            otherwise: None,
        }
    }
    /// Allow `nr` when any one of the alternatives holds (each a conjunction).
    pub fn allow_any(name: &'static str, nr: libc::c_long, alternatives: &[&[Cond]]) -> Rule {
        Rule {
            name,
            nr,
            when: alternatives.iter().map(|a| a.to_vec()).collect(),
            action: Action::Allow,
            otherwise: None,
        }
    }
    /// Fail `nr` with `errno` (e.g. `clone3` → `ENOSYS` so glibc falls back to
    /// `clone`, whose flags the filter can read).
    pub fn errno(name: &'static str, nr: libc::c_long, errno: i32) -> Rule {
        Rule {
            name,
            nr,
            when: Vec::new(),
            action: Action::Errno(errno_u16(errno)),
            otherwise: None,
        }
    }
    /// When the conditions do not hold, answer with `action` instead of the
    /// default action.
    pub fn otherwise(mut self, action: Action) -> Rule {
        self.otherwise = Some(action);
        self
    }
}

fn errno_u16(errno: i32) -> u16 {
    u16::try_from(errno).unwrap_or(u16::MAX)
}

/// Why a filter could not be compiled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    /// The same syscall number appears twice (two names for one number on
    /// this architecture, or a copy-paste slip).
    #[error("syscall {name} (nr {nr}) is listed twice (also as {other})")]
    Duplicate {
        /// The later name.
        name: &'static str,
        /// The earlier name.
        other: &'static str,
        /// The number.
        nr: libc::c_long,
    },
    /// A syscall number does not fit a BPF immediate.
    #[error("syscall {name} has number {nr}, which is not a valid syscall number")]
    BadNumber {
        /// The name.
        name: &'static str,
        /// The number.
        nr: libc::c_long,
    },
    /// An argument index outside 0..=5.
    #[error("syscall {name}: argument index {arg} is out of range 0..=5")]
    BadArgument {
        /// The name.
        name: &'static str,
        /// The index.
        arg: u8,
    },
    /// A rule's conditions, or their negation, expand to too many alternatives.
    #[error(
        "syscall {name}: its argument checks expand to {len} alternatives (at most {MAX_ALTERNATIVES}); split them or use fewer masked checks"
    )]
    TooLong {
        /// The name.
        name: &'static str,
        /// How many alternatives.
        len: usize,
    },
    /// A program exceeds `BPF_MAXINSNS`.
    #[error(
        "filter has {0} instructions; the kernel accepts at most {BPF_MAXINSNS}: shorten the list"
    )]
    ProgramTooLong(usize),
    /// The default action is `Allow`: the filter would confine nothing.
    #[error(
        "a filter whose default action is Allow confines nothing; use Log to audit, KillProcess to enforce"
    )]
    DefaultAllows,
    /// `seccompiler` refused the rules.
    #[error("seccompiler refused the {part} program: {source}")]
    Seccompiler {
        /// Which program (the allowlist, or the overlay for an action).
        part: String,
        /// Its error.
        #[source]
        source: seccompiler::BackendError,
    },
    /// `seccompiler`'s program does not start the way `set_audit_arch`
    /// expects, so its architecture word cannot be set safely.
    #[error(
        "seccompiler's program does not start with the expected architecture check (found {found}); the seccompiler version changed: review set_audit_arch in sandbox/src/seccomp/compile.rs"
    )]
    UnexpectedPrologue {
        /// The first instructions found.
        found: String,
    },
}

/// A seccomp filter for the architecture this crate is compiled for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    rules: Vec<Rule>,
    default: Action,
}

/// The compiled filter: the BPF programs to install, in order (the overlays,
/// then the allowlist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    programs: Vec<BpfProgram>,
    actions: Vec<Action>,
}

impl Program {
    /// Instructions in all programs together.
    pub fn len(&self) -> usize {
        self.programs.iter().map(Vec::len).sum()
    }

    /// Whether there are no instructions at all (never, for a compiled filter).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The BPF programs in installation order; the last is the allowlist.
    pub fn programs(&self) -> &[BpfProgram] {
        &self.programs
    }

    /// Every action some program can answer (the kernel must support each).
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// The answer the kernel gives for one syscall with these programs
    /// installed: each program's answer, and of those the one with the
    /// highest precedence (`seccomp_run_filters` in `kernel/seccomp.c`: the
    /// lowest action as a signed 32-bit number; on a tie, the most recently
    /// installed program's).
    pub fn evaluate(&self, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut answer = SECCOMP_RET_ALLOW;
        for prog in self.programs.iter().rev() {
            let ret = evaluate(prog, arch, nr, args);
            if action_only(ret) < action_only(answer) {
                answer = ret;
            }
        }
        answer
    }
}

fn action_only(ret: u32) -> i32 {
    (ret & SECCOMP_RET_ACTION_FULL) as i32
}
