//! A small seccomp-BPF assembler and installer, used by both daemons on every
//! architecture.
//!
//! # Why not `seccompiler`
//!
//! `seccompiler` 0.5 targets only x86_64, aarch64 and riscv64; the Pi Zero W
//! is 32-bit ARM. Using it on 64-bit targets and something else on ARM would
//! mean two code paths, and the one that ships to the Pi would be the one the
//! x86_64 CI never runs. This assembler is one code path: the same rules, the
//! same compiler and the same attack tests run on x86_64 and (in the emulated
//! Pi Zero) on ARM. It is deliberately small: a linear list of syscall
//! numbers, each optionally guarded by argument checks, which keeps every jump
//! short and the program easy to audit (`Filter::compile` + the interpreter in
//! the tests). Syscall numbers come from `libc::SYS_*`, which are correct per
//! target, so one Rust list compiles for every architecture; entries that do
//! not exist on an architecture are `cfg`-gated in the lists.
//!
//! # The program
//!
//! ```text
//!     ld  [arch]            ; seccomp_data.arch
//!     jeq AUDIT_ARCH, +1    ; wrong ABI (e.g. 32-bit entry on a 64-bit kernel)
//!     ret KILL_PROCESS      ;   → kill, always, even in log mode
//!     ld  [nr]
//!     jge X32_BIT → kill    ; x86_64 only
//!     jeq NR_1, 0, len(body_1) ; body_1 = ret ACTION | argument checks
//!     ...
//!     ret DEFAULT           ; KILL_PROCESS, or LOG in --seccomp-log mode
//! ```
//!
//! # Arguments
//!
//! Checks look at the **low 32 bits** of an argument. Every argument tinsel
//! checks is an `int`/`unsigned int` in the kernel (socket domain, ioctl
//! request, prctl option, open flags, tgkill tgid) or a flags word whose
//! meaningful bits the kernel takes from the low 32 bits (mmap/mprotect
//! `prot`, legacy `clone` flags: `lower_32_bits(clone_flags)` in
//! `kernel/fork.c`). On 32-bit ARM the high word is always 0. So the value the
//! filter checks is the value the kernel acts on.

use std::io;

use crate::arch;

// Classic BPF opcodes (include/uapi/linux/bpf_common.h).
const BPF_LD: u16 = 0x00;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_ALU: u16 = 0x04;
const BPF_AND: u16 = 0x50;
const BPF_JMP: u16 = 0x05;
const BPF_JEQ: u16 = 0x10;
const BPF_JGE: u16 = 0x30;
const BPF_K: u16 = 0x00;
const BPF_RET: u16 = 0x06;

/// `BPF_MAXINSNS` (include/uapi/linux/bpf_common.h).
const BPF_MAXINSNS: usize = 4096;

// Offsets into `struct seccomp_data` (include/uapi/linux/seccomp.h).
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;

// Return values (include/uapi/linux/seccomp.h).
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_DATA: u32 = 0x0000_ffff;

/// One classic BPF instruction (`struct sock_filter`).
pub type Instruction = libc::sock_filter;

fn stmt(code: u16, k: u32) -> Instruction {
    Instruction {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction { code, jt, jf, k }
}

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
    /// A rule's argument checks are too long for an 8-bit BPF jump.
    #[error("syscall {name}: argument checks too long for a BPF jump ({len} instructions)")]
    TooLong {
        /// The name.
        name: &'static str,
        /// The body length.
        len: usize,
    },
    /// The program exceeds `BPF_MAXINSNS`.
    #[error("filter has {0} instructions; the kernel accepts at most {BPF_MAXINSNS}")]
    ProgramTooLong(usize),
}

/// A seccomp filter for the architecture this crate is compiled for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    rules: Vec<Rule>,
    default: Action,
}

impl Filter {
    /// A filter with `rules`; every other syscall gets `default`.
    pub fn new(rules: Vec<Rule>, default: Action) -> Filter {
        Filter { rules, default }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The default action.
    pub fn default_action(&self) -> Action {
        self.default
    }

    /// Whether syscall `nr` appears in the filter at all.
    pub fn mentions(&self, nr: libc::c_long) -> bool {
        self.rules.iter().any(|r| r.nr == nr)
    }

    /// Assemble the BPF program.
    pub fn compile(&self) -> Result<Vec<Instruction>, CompileError> {
        let kill = Action::KillProcess.to_ret();
        let mut prog = vec![
            stmt(BPF_LD | BPF_W | BPF_ABS, OFFSET_ARCH),
            jump(BPF_JMP | BPF_JEQ | BPF_K, arch::AUDIT_ARCH, 1, 0),
            stmt(BPF_RET | BPF_K, kill),
            stmt(BPF_LD | BPF_W | BPF_ABS, OFFSET_NR),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            prog.push(jump(BPF_JMP | BPF_JGE | BPF_K, arch::X32_SYSCALL_BIT, 0, 1));
            prog.push(stmt(BPF_RET | BPF_K, kill));
        }
        let mut seen: Vec<(libc::c_long, &'static str)> = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            if let Some(&(_, other)) = seen.iter().find(|(nr, _)| *nr == rule.nr) {
                return Err(CompileError::Duplicate {
                    name: rule.name,
                    other,
                    nr: rule.nr,
                });
            }
            seen.push((rule.nr, rule.name));
            let nr = u32::try_from(rule.nr).map_err(|_| CompileError::BadNumber {
                name: rule.name,
                nr: rule.nr,
            })?;
            let body = self.rule_body(rule)?;
            let skip = u8::try_from(body.len()).map_err(|_| CompileError::TooLong {
                name: rule.name,
                len: body.len(),
            })?;
            prog.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, skip));
            prog.extend(body);
        }
        prog.push(stmt(BPF_RET | BPF_K, self.default.to_ret()));
        if prog.len() > BPF_MAXINSNS {
            return Err(CompileError::ProgramTooLong(prog.len()));
        }
        Ok(prog)
    }

    /// The instructions run when the syscall number matched. Every path ends
    /// in a `ret`, so the accumulator needs no reload for the next rule (which
    /// is reached only through the `jeq nr` that skips this body).
    fn rule_body(&self, rule: &Rule) -> Result<Vec<Instruction>, CompileError> {
        let action = rule.action.to_ret();
        if rule.when.is_empty() {
            return Ok(vec![stmt(BPF_RET | BPF_K, action)]);
        }
        let otherwise = rule.otherwise.unwrap_or(self.default).to_ret();
        let too_long = |len| CompileError::TooLong {
            name: rule.name,
            len,
        };
        let mut body = Vec::new();
        for alt in &rule.when {
            let alt_len: usize = alt.iter().map(cond_len).sum::<usize>() + 1;
            let alt_end = body.len() + alt_len; // index of the next alternative
            for cond in alt {
                if cond.arg > 5 {
                    return Err(CompileError::BadArgument {
                        name: rule.name,
                        arg: cond.arg,
                    });
                }
                body.push(stmt(
                    BPF_LD | BPF_W | BPF_ABS,
                    OFFSET_ARGS + 8 * u32::from(cond.arg),
                ));
                let (mask, value, equal_passes) = match cond.cmp {
                    Cmp::Eq(v) => (u32::MAX, v, true),
                    Cmp::MaskedEq { mask, value } => (mask, value, true),
                    Cmp::MaskedNe { mask, value } => (mask, value, false),
                };
                if mask != u32::MAX {
                    body.push(stmt(BPF_ALU | BPF_AND | BPF_K, mask));
                }
                // Jump from the instruction after this jeq to the next alternative.
                let fail =
                    u8::try_from(alt_end - (body.len() + 1)).map_err(|_| too_long(alt_end))?;
                let (jt, jf) = if equal_passes { (0, fail) } else { (fail, 0) };
                body.push(jump(BPF_JMP | BPF_JEQ | BPF_K, value, jt, jf));
            }
            body.push(stmt(BPF_RET | BPF_K, action));
        }
        body.push(stmt(BPF_RET | BPF_K, otherwise));
        Ok(body)
    }
}

fn cond_len(c: &Cond) -> usize {
    match c.cmp {
        Cmp::Eq(_) => 2,
        Cmp::MaskedEq { mask, .. } | Cmp::MaskedNe { mask, .. } if mask == u32::MAX => 2,
        _ => 3,
    }
}

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

/// Compile `filter` and install it on **every thread** of the process
/// (`SECCOMP_FILTER_FLAG_TSYNC`). Irreversible. Requires no_new_privs.
pub fn install(filter: &Filter) -> Result<usize, InstallError> {
    let prog = filter.compile()?;
    if !crate::caps::no_new_privs().unwrap_or(false) {
        return Err(InstallError::NoNewPrivsUnset);
    }
    for action in [filter.default, Action::KillProcess] {
        if !action_available(action).map_err(InstallError::Install)? {
            return Err(InstallError::ActionUnavailable(action));
        }
    }
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).map_err(|_| CompileError::ProgramTooLong(prog.len()))?,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points to `prog`, a live, correctly sized array of
    // `sock_filter`; the kernel copies the program before returning and
    // keeps no pointer into our memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        )
    };
    match rc {
        0 => Ok(prog.len()),
        // `c_long` is 32 bits on ARM, 64 elsewhere.
        #[allow(clippy::useless_conversion)]
        tid if tid > 0 => Err(InstallError::Tsync(i64::from(tid))),
        _ => Err(InstallError::Install(io::Error::last_os_error())),
    }
}

/// Evaluate a compiled program against one syscall, in user space. Used by
/// the tests to check the assembler's jumps without dying, and handy when
/// auditing a list ("what does the filter do with `socket(AF_INET, ...)`?").
pub fn evaluate(prog: &[Instruction], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let load = |off: u32| -> u32 {
        match off {
            OFFSET_NR => nr,
            OFFSET_ARCH => arch,
            o if (OFFSET_ARGS..OFFSET_ARGS + 48).contains(&o) => {
                let i = ((o - OFFSET_ARGS) / 8) as usize;
                let word = args[i];
                if (o - OFFSET_ARGS).is_multiple_of(8) {
                    word as u32
                } else {
                    (word >> 32) as u32
                }
            }
            _ => panic!("load from unsupported offset {off}"),
        }
    };
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let ins = prog[pc];
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => acc = load(ins.k),
            c if c == BPF_ALU | BPF_AND | BPF_K => acc &= ins.k,
            c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                pc += usize::from(if acc == ins.k { ins.jt } else { ins.jf });
            }
            c if c == BPF_JMP | BPF_JGE | BPF_K => {
                pc += usize::from(if acc >= ins.k { ins.jt } else { ins.jf });
            }
            c if c == BPF_RET | BPF_K => return ins.k,
            c => panic!("unsupported opcode {c:#x}"),
        }
        pc += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: u32 = SECCOMP_RET_ALLOW;
    const KILL: u32 = SECCOMP_RET_KILL_PROCESS;

    fn run(f: &Filter, nr: libc::c_long, args: [u64; 6]) -> u32 {
        let prog = f.compile().expect("compiles");
        evaluate(&prog, arch::AUDIT_ARCH, nr as u32, args)
    }

    fn sample() -> Filter {
        Filter::new(
            vec![
                Rule::allow("read", libc::SYS_read),
                Rule::allow_if(
                    "socket",
                    libc::SYS_socket,
                    &[Cond::eq(0, libc::AF_UNIX as u32)],
                ),
                Rule::allow_if(
                    "mprotect",
                    libc::SYS_mprotect,
                    &[Cond::masked_ne(2, 0x6, 0x6)],
                ),
                Rule::allow_any(
                    "ioctl",
                    libc::SYS_ioctl,
                    &[&[Cond::eq(1, 0x5421)], &[Cond::eq(1, 0x5451)]],
                )
                .otherwise(Action::Errno(libc::ENOTTY as u16)),
                Rule::errno("clone3", libc::SYS_clone3, libc::ENOSYS),
            ],
            Action::KillProcess,
        )
    }

    #[test]
    fn unconditional_allow_and_default_kill() {
        let f = sample();
        assert_eq!(run(&f, libc::SYS_read, [0; 6]), ALLOW);
        assert_eq!(run(&f, libc::SYS_write, [0; 6]), KILL);
    }

    #[test]
    fn argument_equality_uses_low_word() {
        let f = sample();
        assert_eq!(
            run(&f, libc::SYS_socket, [libc::AF_UNIX as u64, 0, 0, 0, 0, 0]),
            ALLOW
        );
        assert_eq!(
            run(&f, libc::SYS_socket, [libc::AF_INET as u64, 0, 0, 0, 0, 0]),
            KILL
        );
        assert_eq!(
            run(
                &f,
                libc::SYS_socket,
                [libc::AF_NETLINK as u64, 0, 0, 0, 0, 0]
            ),
            KILL
        );
        // High garbage above an int is ignored by the kernel, and by the filter.
        assert_eq!(
            run(&f, libc::SYS_socket, [0xdead_0000_0001, 0, 0, 0, 0, 0]),
            ALLOW
        );
    }

    #[test]
    fn masked_not_equal_blocks_write_plus_exec() {
        let f = sample();
        let prot = |p: i32| [0, 0, p as u64, 0, 0, 0];
        assert_eq!(
            run(
                &f,
                libc::SYS_mprotect,
                prot(libc::PROT_READ | libc::PROT_WRITE)
            ),
            ALLOW
        );
        assert_eq!(
            run(
                &f,
                libc::SYS_mprotect,
                prot(libc::PROT_READ | libc::PROT_EXEC)
            ),
            ALLOW
        );
        assert_eq!(
            run(
                &f,
                libc::SYS_mprotect,
                prot(libc::PROT_WRITE | libc::PROT_EXEC)
            ),
            KILL
        );
    }

    #[test]
    fn alternatives_and_otherwise() {
        let f = sample();
        assert_eq!(run(&f, libc::SYS_ioctl, [0, 0x5421, 0, 0, 0, 0]), ALLOW);
        assert_eq!(run(&f, libc::SYS_ioctl, [0, 0x5451, 0, 0, 0, 0]), ALLOW);
        assert_eq!(
            run(&f, libc::SYS_ioctl, [0, 0x5412, 0, 0, 0, 0]),
            SECCOMP_RET_ERRNO | libc::ENOTTY as u32
        );
        assert_eq!(
            run(&f, libc::SYS_clone3, [0; 6]),
            SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
    }

    #[test]
    fn wrong_arch_is_killed_even_in_log_mode() {
        let f = Filter::new(vec![Rule::allow("read", libc::SYS_read)], Action::Log);
        let prog = f.compile().unwrap();
        let other = if arch::AUDIT_ARCH == arch::AUDIT_ARCH_ARM {
            arch::AUDIT_ARCH_X86_64
        } else {
            arch::AUDIT_ARCH_ARM
        };
        assert_eq!(evaluate(&prog, other, libc::SYS_read as u32, [0; 6]), KILL);
        assert_eq!(
            evaluate(&prog, arch::AUDIT_ARCH, libc::SYS_write as u32, [0; 6]),
            SECCOMP_RET_LOG
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_syscalls_are_killed() {
        let f = sample();
        let prog = f.compile().unwrap();
        let x32_read = arch::X32_SYSCALL_BIT | libc::SYS_read as u32;
        assert_eq!(evaluate(&prog, arch::AUDIT_ARCH, x32_read, [0; 6]), KILL);
    }

    #[test]
    fn duplicates_are_rejected() {
        let f = Filter::new(
            vec![
                Rule::allow("read", libc::SYS_read),
                Rule::allow("read2", libc::SYS_read),
            ],
            Action::KillProcess,
        );
        assert!(matches!(f.compile(), Err(CompileError::Duplicate { .. })));
    }

    #[test]
    fn many_conditions_alternatives_keep_jumps_right() {
        // 40 alternatives of 3 masked conditions each: exercises long bodies.
        let conds: Vec<Vec<Cond>> = (0..40u32)
            .map(|i| {
                vec![
                    Cond::masked_eq(0, 0xff, i),
                    Cond::masked_ne(1, 0xf0, 0xf0),
                    Cond::eq(2, 7),
                ]
            })
            .collect();
        let alts: Vec<&[Cond]> = conds.iter().map(Vec::as_slice).collect();
        let f = Filter::new(
            vec![
                Rule::allow_any("ioctl", libc::SYS_ioctl, &alts),
                Rule::allow("read", libc::SYS_read),
            ],
            Action::KillProcess,
        );
        // 40 * (3+3+2+1) + 1 = 361 > 255: must be refused, not mis-assembled.
        assert!(matches!(f.compile(), Err(CompileError::TooLong { .. })));
        let f = Filter::new(
            vec![
                Rule::allow_any("ioctl", libc::SYS_ioctl, &alts[..20]),
                Rule::allow("read", libc::SYS_read),
            ],
            Action::KillProcess,
        );
        for i in 0..20u64 {
            assert_eq!(
                run(&f, libc::SYS_ioctl, [i, 0x10, 7, 0, 0, 0]),
                ALLOW,
                "alt {i}"
            );
            assert_eq!(
                run(&f, libc::SYS_ioctl, [i, 0xf0, 7, 0, 0, 0]),
                KILL,
                "alt {i}"
            );
            assert_eq!(
                run(&f, libc::SYS_ioctl, [i, 0x10, 8, 0, 0, 0]),
                KILL,
                "alt {i}"
            );
        }
        assert_eq!(run(&f, libc::SYS_ioctl, [20, 0x10, 7, 0, 0, 0]), KILL);
        assert_eq!(run(&f, libc::SYS_read, [0; 6]), ALLOW);
    }
}
