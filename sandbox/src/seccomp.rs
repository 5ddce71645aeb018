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

use std::collections::BTreeMap;
use std::io;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

use crate::arch;

// Classic BPF opcodes (include/uapi/linux/bpf_common.h), for the prologue
// check, the x32 guard and the user-space interpreter.
const BPF_LD: u16 = 0x00;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_ALU: u16 = 0x04;
const BPF_AND: u16 = 0x50;
const BPF_JMP: u16 = 0x05;
const BPF_JA: u16 = 0x00;
const BPF_JEQ: u16 = 0x10;
const BPF_JGT: u16 = 0x20;
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
const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;

/// How many alternatives one rule's conditions (or their negation) may
/// expand to (each becomes a few instructions). The daemons' rules need at
/// most a handful.
const MAX_ALTERNATIVES: usize = 256;

/// One classic BPF instruction (`struct sock_filter`).
pub type Instruction = seccompiler::sock_filter;

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
        "seccompiler's program does not start with the expected architecture check (found {found}); the seccompiler version changed: review set_audit_arch in sandbox/src/seccomp.rs"
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

/// Conditions in disjunctive normal form: any one conjunction holds.
/// `[]` never holds; `[[]]` always holds.
type Dnf = Vec<Vec<Atom>>;

/// A condition `seccompiler` compiles (on the low 32 bits of an argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Atom {
    Eq(u8, u32),
    Ne(u8, u32),
    MaskedEq { arg: u8, mask: u32, value: u32 },
}

fn always() -> Dnf {
    vec![Vec::new()]
}

/// `cond` (or its negation) as alternatives of `seccompiler` conditions.
/// `seccompiler` has no masked "not equal": `arg & mask != value` holds when
/// any one bit of `mask` differs from `value`'s, one alternative per bit.
fn lower(cond: Cond, negate: bool) -> Dnf {
    let arg = cond.arg;
    let (mask, value, equal) = match cond.cmp {
        Cmp::Eq(v) => (u32::MAX, v, !negate),
        Cmp::MaskedEq { mask, value } => (mask, value, !negate),
        Cmp::MaskedNe { mask, value } => (mask, value, negate),
    };
    if value & !mask != 0 {
        // `arg & mask` can never equal a value with bits outside the mask
        // (and `seccompiler` would mask the value: say it here).
        return if equal { Vec::new() } else { always() };
    }
    match (equal, mask) {
        (true, u32::MAX) => vec![vec![Atom::Eq(arg, value)]],
        (true, _) => vec![vec![Atom::MaskedEq { arg, mask, value }]],
        (false, u32::MAX) => vec![vec![Atom::Ne(arg, value)]],
        (false, _) => (0..32)
            .map(|b| 1u32 << b)
            .filter(|bit| mask & bit != 0)
            .map(|bit| {
                vec![Atom::MaskedEq {
                    arg,
                    mask: bit,
                    value: (value & bit) ^ bit,
                }]
            })
            .collect(),
    }
}

/// Both conditions: every pairing of their alternatives.
fn and(a: &Dnf, b: &Dnf, name: &'static str) -> Result<Dnf, CompileError> {
    let len = a.len() * b.len();
    if len > MAX_ALTERNATIVES {
        return Err(CompileError::TooLong { name, len });
    }
    Ok(a.iter()
        .flat_map(|x| b.iter().map(move |y| [x.as_slice(), y].concat()))
        .collect())
}

/// A rule's `when` (or its negation) as one DNF; `None` when `when` is empty.
fn rule_dnf(rule: &Rule, negate: bool) -> Result<Dnf, CompileError> {
    // Not: NOT(OR of ANDs) = AND over alternatives of (OR of negated conds).
    let mut out: Dnf = if negate { always() } else { Vec::new() };
    for alt in &rule.when {
        if negate {
            let any_fails: Dnf = alt.iter().flat_map(|c| lower(*c, true)).collect();
            out = and(&out, &any_fails, rule.name)?;
        } else {
            let mut all_hold = always();
            for c in alt {
                all_hold = and(&all_hold, &lower(*c, false), rule.name)?;
            }
            out.extend(all_hold);
        }
        if out.len() > MAX_ALTERNATIVES {
            return Err(CompileError::TooLong {
                name: rule.name,
                len: out.len(),
            });
        }
    }
    Ok(out)
}

fn to_chain(dnf: &Dnf, part: &str) -> Result<Vec<SeccompRule>, CompileError> {
    let err = |source| CompileError::Seccompiler {
        part: part.to_owned(),
        source,
    };
    if dnf.iter().any(Vec::is_empty) {
        return Ok(Vec::new()); // one alternative always holds: match on the number alone
    }
    dnf.iter()
        .map(|alt| {
            let conds = alt
                .iter()
                .map(|atom| {
                    let (arg, op, value) = match *atom {
                        Atom::Eq(arg, v) => (arg, SeccompCmpOp::Eq, v),
                        Atom::Ne(arg, v) => (arg, SeccompCmpOp::Ne, v),
                        Atom::MaskedEq { arg, mask, value } => {
                            (arg, SeccompCmpOp::MaskedEq(u64::from(mask)), value)
                        }
                    };
                    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, u64::from(value))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            SeccompRule::new(conds).map_err(err)
        })
        .collect()
}

/// Syscall number → conditions; each number once (`Filter::check`).
type Chains = Vec<(i64, Dnf)>;

/// The programs' contents before `seccompiler` compiles them.
struct Split {
    allow: Chains,
    overlays: Vec<(Action, Chains)>,
}

impl Split {
    fn overlay(&mut self, action: Action, nr: i64, dnf: Dnf) {
        if action == Action::Allow || dnf.is_empty() {
            return;
        }
        match self.overlays.iter_mut().find(|(a, _)| *a == action) {
            Some((_, chains)) => chains.push((nr, dnf)),
            None => self.overlays.push((action, vec![(nr, dnf)])),
        }
    }
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

    /// What the rules answer for a syscall of this architecture, read
    /// straight from the list (the specification [`Filter::compile`]'s
    /// programs are tested against).
    pub fn answer(&self, nr: libc::c_long, args: [u64; 6]) -> Action {
        match self.rules.iter().find(|r| r.nr == nr) {
            None => self.default,
            Some(r) if r.when.is_empty() => r.action,
            Some(r) if r.when.iter().any(|alt| alt.iter().all(|c| c.holds(&args))) => r.action,
            Some(r) => r.otherwise.unwrap_or(self.default),
        }
    }

    fn check(&self) -> Result<(), CompileError> {
        if self.default == Action::Allow {
            return Err(CompileError::DefaultAllows);
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
            if u32::try_from(rule.nr).is_err() {
                return Err(CompileError::BadNumber {
                    name: rule.name,
                    nr: rule.nr,
                });
            }
            if let Some(c) = rule.when.iter().flatten().find(|c| c.arg > 5) {
                return Err(CompileError::BadArgument {
                    name: rule.name,
                    arg: c.arg,
                });
            }
        }
        Ok(())
    }

    /// Which program answers what (see the module docs).
    fn split(&self) -> Result<Split, CompileError> {
        let mut split = Split {
            allow: Vec::new(),
            overlays: Vec::new(),
        };
        for rule in &self.rules {
            // `check` proved the number fits a u32.
            let nr = i64::from(u32::try_from(rule.nr).unwrap_or(u32::MAX));
            let hit = rule.action;
            let miss = rule.otherwise.unwrap_or(self.default);
            let when = if rule.when.is_empty() {
                always()
            } else {
                rule_dnf(rule, false)?
            };
            let (always_holds, never_holds) = (when.iter().any(Vec::is_empty), when.is_empty());
            if always_holds || never_holds || hit == miss {
                let only = if never_holds { miss } else { hit };
                if only != self.default {
                    split.allow.push((nr, always()));
                    split.overlay(only, nr, always());
                }
            } else if hit == Action::Allow && miss == self.default {
                split.allow.push((nr, when));
            } else {
                split.allow.push((nr, always()));
                split.overlay(hit, nr, when);
                split.overlay(miss, nr, rule_dnf(rule, true)?);
            }
        }
        Ok(split)
    }

    /// Compile to the BPF programs the kernel runs (see the module docs).
    pub fn compile(&self) -> Result<Program, CompileError> {
        self.check()?;
        let split = self.split()?;
        let mut programs = Vec::with_capacity(split.overlays.len() + 1);
        let mut actions = vec![self.default, Action::KillProcess];
        for (action, chains) in &split.overlays {
            let part = format!("{action:?} overlay");
            programs.push(build(chains, Action::Allow, *action, &part)?);
            actions.push(*action);
        }
        let mut allowlist = build(&split.allow, self.default, Action::Allow, "allowlist")?;
        if cfg!(target_arch = "x86_64") {
            add_x32_guard(&mut allowlist);
        }
        programs.push(allowlist);
        if let Some(long) = programs.iter().map(Vec::len).find(|&n| n > BPF_MAXINSNS) {
            return Err(CompileError::ProgramTooLong(long));
        }
        let mut unique: Vec<Action> = Vec::with_capacity(actions.len());
        for a in actions {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        Ok(Program {
            programs,
            actions: unique,
        })
    }
}

/// One `seccompiler` program for this architecture: `matched` for the
/// listed syscalls (under their conditions), `mismatch` for everything else.
fn build(
    chains: &Chains,
    mismatch: Action,
    matched: Action,
    part: &str,
) -> Result<BpfProgram, CompileError> {
    let err = |source| CompileError::Seccompiler {
        part: part.to_owned(),
        source,
    };
    let mut rules = BTreeMap::new();
    for (nr, dnf) in chains {
        rules.insert(*nr, to_chain(dnf, part)?);
    }
    let filter = SeccompFilter::new(
        rules,
        mismatch.to_seccompiler(),
        matched.to_seccompiler(),
        arch::SECCOMPILER_ARCH,
    )
    .map_err(err)?;
    let mut prog: BpfProgram = filter.try_into().map_err(|e| match e {
        seccompiler::BackendError::FilterTooLarge(n) => CompileError::ProgramTooLong(n),
        e => err(e),
    })?;
    set_audit_arch(&mut prog)?;
    Ok(prog)
}

/// The first three instructions `seccompiler` 0.5 emits
/// (`build_arch_validation_sequence`): load `seccomp_data.arch`, compare it
/// with the target's audit architecture, kill the process on a mismatch.
fn arch_prologue(audit_arch: u32) -> [Instruction; 3] {
    [
        stmt(BPF_LD | BPF_W | BPF_ABS, OFFSET_ARCH),
        jump(BPF_JMP | BPF_JEQ | BPF_K, audit_arch, 1, 0),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    ]
}

/// The one place the architecture word of a `seccompiler` program is set:
/// to [`arch::AUDIT_ARCH`], the build's own (a no-op on x86_64 and aarch64;
/// `AUDIT_ARCH_ARM` instead of aarch64's on 32-bit ARM, which `seccompiler`
/// 0.5 has no target for). Refuses a program whose first instructions are
/// not exactly the architecture check `seccompiler` is known to emit: a
/// changed code generator must be reviewed, not patched blindly.
fn set_audit_arch(prog: &mut [Instruction]) -> Result<(), CompileError> {
    let expected = arch_prologue(arch::SECCOMPILER_AUDIT_ARCH);
    if prog.get(..expected.len()) != Some(&expected[..]) {
        let found = prog.iter().take(expected.len()).collect::<Vec<_>>();
        return Err(CompileError::UnexpectedPrologue {
            found: format!("{found:?}"),
        });
    }
    prog[1].k = arch::AUDIT_ARCH;
    Ok(())
}

/// x86_64: kill any syscall number with `__X32_SYSCALL_BIT` (the x32 ABI
/// shares `AUDIT_ARCH_X86_64`), whatever the default action. Inserted right
/// after the architecture check, where its jump lands; every later jump is
/// relative and stays within the instructions after it.
fn add_x32_guard(prog: &mut Vec<Instruction>) {
    let guard = [
        stmt(BPF_LD | BPF_W | BPF_ABS, OFFSET_NR),
        jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    ];
    let at = arch_prologue(0).len();
    prog.splice(at..at, guard);
}

#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = arch::X32_SYSCALL_BIT;
#[cfg(not(target_arch = "x86_64"))]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

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

/// Run one BPF program against one syscall, in user space. Used by the
/// tests to check the programs without dying, and handy when auditing a list
/// ("what does the filter do with `socket(AF_INET, ...)`?"); for the
/// answer of a whole filter use [`Program::evaluate`]. Panics on an
/// instruction `seccompiler` does not emit.
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
        let ins = &prog[pc];
        let cond = |taken: bool| usize::from(if taken { ins.jt } else { ins.jf });
        match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => acc = load(ins.k),
            c if c == BPF_ALU | BPF_AND | BPF_K => acc &= ins.k,
            c if c == BPF_JMP | BPF_JA => pc += ins.k as usize,
            c if c == BPF_JMP | BPF_JEQ | BPF_K => pc += cond(acc == ins.k),
            c if c == BPF_JMP | BPF_JGT | BPF_K => pc += cond(acc > ins.k),
            c if c == BPF_JMP | BPF_JGE | BPF_K => pc += cond(acc >= ins.k),
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
        prog.evaluate(arch::AUDIT_ARCH, nr as u32, args)
    }

    fn sample_rules() -> Vec<Rule> {
        vec![
            Rule::allow("read", libc::SYS_read),
            Rule::allow_if(
                "socket",
                libc::SYS_socket,
                &[
                    Cond::eq(0, libc::AF_UNIX as u32),
                    Cond::masked_eq(1, 0xf, libc::SOCK_STREAM as u32),
                ],
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
            Rule::allow_any(
                "prctl",
                libc::SYS_prctl,
                &[&[Cond::eq(0, 15)], &[Cond::eq(0, 16)]],
            )
            .otherwise(Action::Errno(libc::EPERM as u16)),
            Rule::errno("clone3", libc::SYS_clone3, libc::ENOSYS),
            Rule::errno("unlinkat", libc::SYS_unlinkat, libc::EPERM),
            Rule::allow_if(
                "clone",
                libc::SYS_clone,
                &[
                    Cond::masked_eq(0, 0x0001_0f00, 0x0001_0f00),
                    Cond::masked_eq(0, 0x7e02_0000, 0),
                ],
            ),
        ]
    }

    fn sample() -> Filter {
        Filter::new(sample_rules(), Action::KillProcess)
    }

    /// Argument values worth trying for `f`: every constant its conditions
    /// name, each mask bit flipped, and a few extremes with high garbage.
    fn interesting_args(f: &Filter) -> Vec<u64> {
        let mut v = vec![0, 1, 0x6, u64::from(u32::MAX), 0xdead_0000_0001];
        for c in f.rules().iter().flat_map(|r| r.when.iter().flatten()) {
            let (mask, value) = match c.cmp {
                Cmp::Eq(x) => (u32::MAX, x),
                Cmp::MaskedEq { mask, value } | Cmp::MaskedNe { mask, value } => (mask, value),
            };
            for x in [value, value ^ mask, mask, value | !mask, value & mask] {
                v.push(u64::from(x));
                v.push(u64::from(x) | 0xffff_ffff_0000_0000);
            }
            for b in (0..32).filter(|b| mask & (1 << b) != 0) {
                v.push(u64::from(value ^ (1 << b)));
            }
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The compiled programs, run the way the kernel runs them, answer what
    /// the rules say, for every syscall number and many arguments.
    fn assert_matches_rules(f: &Filter) {
        let prog = f.compile().expect("compiles");
        let values = interesting_args(f);
        let max_nr = f.rules().iter().map(|r| r.nr).max().unwrap_or(0) + 8;
        for nr in 0..=max_nr {
            let checked: Vec<usize> = f
                .rules()
                .iter()
                .filter(|r| r.nr == nr)
                .flat_map(|r| r.when.iter().flatten().map(|c| usize::from(c.arg)))
                .collect();
            let mut cases = vec![[0u64; 6]];
            for &arg in &checked {
                for &x in &values {
                    let mut a = [0u64; 6];
                    a[arg] = x;
                    cases.push(a);
                    for &y in &values {
                        for &other in &checked {
                            if other != arg {
                                let mut b = a;
                                b[other] = y;
                                cases.push(b);
                            }
                        }
                    }
                }
            }
            for args in cases {
                assert_eq!(
                    prog.evaluate(arch::AUDIT_ARCH, nr as u32, args),
                    f.answer(nr, args).to_ret(),
                    "nr {nr} args {args:x?}"
                );
            }
        }
    }

    #[test]
    fn programs_answer_what_the_rules_say() {
        assert_matches_rules(&sample());
        assert_matches_rules(&Filter::new(sample_rules(), Action::Log));
    }

    #[test]
    fn the_daemons_groups_compile_to_their_answers() {
        use crate::syscalls as g;
        for default in [Action::KillProcess, Action::Log] {
            let mut v = Vec::new();
            v.extend(g::memory());
            v.extend(g::threads());
            v.extend(g::signals(4242));
            v.extend(g::time());
            v.extend(g::io(&[g::BASE_IOCTLS[0], g::BASE_IOCTLS[1], 0x4020_6b00]));
            v.extend(g::process_info(&g::BASE_PRCTLS));
            v.extend(g::read_files());
            v.extend(g::socket_io());
            v.extend(g::unix_socketpair());
            v.extend(g::unix_client());
            assert_matches_rules(&Filter::new(v, default));
        }
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
        let stream = libc::SOCK_STREAM as u64;
        assert_eq!(
            run(
                &f,
                libc::SYS_socket,
                [libc::AF_UNIX as u64, stream, 0, 0, 0, 0]
            ),
            ALLOW
        );
        assert_eq!(
            run(
                &f,
                libc::SYS_socket,
                [libc::AF_INET as u64, stream, 0, 0, 0, 0]
            ),
            KILL
        );
        assert_eq!(
            run(
                &f,
                libc::SYS_socket,
                [libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]
            ),
            KILL
        );
        // High garbage above an int is ignored by the kernel, and by the filter.
        assert_eq!(
            run(&f, libc::SYS_socket, [0xdead_0000_0001, stream, 0, 0, 0, 0]),
            ALLOW
        );
    }

    #[test]
    fn masked_not_equal_blocks_write_plus_exec() {
        let f = sample();
        let prot = |p: i32| [0, 0, p as u64, 0, 0, 0];
        for (p, want) in [
            (libc::PROT_READ | libc::PROT_WRITE, ALLOW),
            (libc::PROT_READ | libc::PROT_EXEC, ALLOW),
            (libc::PROT_NONE, ALLOW),
            (libc::PROT_WRITE | libc::PROT_EXEC, KILL),
            (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC, KILL),
        ] {
            assert_eq!(run(&f, libc::SYS_mprotect, prot(p)), want, "prot {p:#x}");
        }
    }

    #[test]
    fn errno_answers_come_from_overlays_in_both_modes() {
        for default in [Action::KillProcess, Action::Log] {
            let f = Filter::new(sample_rules(), default);
            assert_eq!(run(&f, libc::SYS_ioctl, [0, 0x5421, 0, 0, 0, 0]), ALLOW);
            assert_eq!(run(&f, libc::SYS_ioctl, [0, 0x5451, 0, 0, 0, 0]), ALLOW);
            assert_eq!(
                run(&f, libc::SYS_ioctl, [0, 0x5412, 0, 0, 0, 0]),
                SECCOMP_RET_ERRNO | libc::ENOTTY as u32
            );
            assert_eq!(
                run(&f, libc::SYS_prctl, [4, 0, 0, 0, 0, 0]),
                SECCOMP_RET_ERRNO | libc::EPERM as u32
            );
            assert_eq!(
                run(&f, libc::SYS_clone3, [0; 6]),
                SECCOMP_RET_ERRNO | libc::ENOSYS as u32
            );
            assert_eq!(
                run(&f, libc::SYS_unlinkat, [0; 6]),
                SECCOMP_RET_ERRNO | libc::EPERM as u32
            );
            // One overlay per errno value, then the allowlist, last.
            let prog = f.compile().unwrap();
            assert_eq!(prog.programs().len(), 4);
        }
    }

    #[test]
    fn otherwise_may_name_any_action() {
        let rules = vec![
            Rule::allow_if("socket", libc::SYS_socket, &[Cond::eq(0, 1)]).otherwise(Action::Log),
            Rule::allow_if("socketpair", libc::SYS_socketpair, &[Cond::eq(0, 1)])
                .otherwise(Action::KillProcess),
            Rule {
                name: "ioctl",
                nr: libc::SYS_ioctl,
                when: vec![vec![Cond::masked_eq(1, 0xff, 0x21)]],
                action: Action::Errno(7),
                otherwise: Some(Action::Trap),
            },
            Rule {
                name: "never",
                nr: libc::SYS_getcwd,
                when: vec![vec![Cond::masked_eq(0, 0x1, 0x2)]],
                action: Action::Allow,
                otherwise: Some(Action::Errno(3)),
            },
            Rule {
                name: "always",
                nr: libc::SYS_getpid,
                when: vec![vec![Cond::masked_ne(0, 0x1, 0x2)]],
                action: Action::Errno(4),
                otherwise: None,
            },
        ];
        for default in [Action::KillProcess, Action::Log, Action::Errno(1)] {
            assert_matches_rules(&Filter::new(rules.clone(), default));
        }
    }

    #[test]
    fn every_program_checks_the_build_architecture() {
        let f = Filter::new(sample_rules(), Action::Log);
        let prog = f.compile().unwrap();
        let other = if arch::AUDIT_ARCH == arch::AUDIT_ARCH_ARM {
            arch::AUDIT_ARCH_X86_64
        } else {
            arch::AUDIT_ARCH_ARM
        };
        for p in prog.programs() {
            assert_eq!(p[..3], arch_prologue(arch::AUDIT_ARCH));
            assert_eq!(evaluate(p, other, libc::SYS_read as u32, [0; 6]), KILL);
        }
        // Wrong architecture: killed, even in log mode.
        assert_eq!(prog.evaluate(other, libc::SYS_read as u32, [0; 6]), KILL);
        assert_eq!(
            prog.evaluate(arch::AUDIT_ARCH_AARCH64 ^ 1, libc::SYS_read as u32, [0; 6]),
            KILL
        );
        assert_eq!(
            prog.evaluate(arch::AUDIT_ARCH, libc::SYS_write as u32, [0; 6]),
            SECCOMP_RET_LOG
        );
    }

    #[test]
    fn an_unexpected_prologue_is_refused() {
        // A program for another architecture, or a seccompiler that starts
        // differently: the arch word is not touched, the build fails.
        let foreign = if arch::SECCOMPILER_ARCH == seccompiler::TargetArch::riscv64 {
            seccompiler::TargetArch::x86_64
        } else {
            seccompiler::TargetArch::riscv64
        };
        let filter = SeccompFilter::new(
            BTreeMap::new(),
            SeccompAction::KillProcess,
            SeccompAction::Allow,
            foreign,
        )
        .unwrap();
        let mut prog: BpfProgram = filter.try_into().unwrap();
        let before = prog.clone();
        assert!(matches!(
            set_audit_arch(&mut prog),
            Err(CompileError::UnexpectedPrologue { .. })
        ));
        assert_eq!(prog, before);
        let mut short = prog[..2].to_vec();
        assert!(set_audit_arch(&mut short).is_err());
        let mut shuffled = arch_prologue(arch::SECCOMPILER_AUDIT_ARCH).to_vec();
        shuffled[1].jt = 0;
        assert!(set_audit_arch(&mut shuffled).is_err());
    }

    #[test]
    fn x32_syscalls_are_killed_even_in_log_mode() {
        for default in [Action::KillProcess, Action::Log] {
            let prog = Filter::new(sample_rules(), default).compile().unwrap();
            let x32_read = 0x4000_0000 | libc::SYS_read as u32;
            let want = if cfg!(target_arch = "x86_64") {
                KILL
            } else {
                default.to_ret()
            };
            assert_eq!(prog.evaluate(arch::AUDIT_ARCH, x32_read, [0; 6]), want);
            assert_eq!(
                prog.evaluate(arch::AUDIT_ARCH, libc::SYS_read as u32, [0; 6]),
                ALLOW
            );
        }
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
    fn bad_numbers_arguments_and_defaults_are_rejected() {
        let f = |r: Rule, d| Filter::new(vec![r], d).compile();
        assert!(matches!(
            f(Rule::allow("neg", -1), Action::KillProcess),
            Err(CompileError::BadNumber { .. })
        ));
        assert!(matches!(
            f(
                Rule::allow_if("read", libc::SYS_read, &[Cond::eq(6, 0)]),
                Action::KillProcess
            ),
            Err(CompileError::BadArgument { .. })
        ));
        assert_eq!(
            f(Rule::allow("read", libc::SYS_read), Action::Allow),
            Err(CompileError::DefaultAllows)
        );
        // A negated check over many mask bits, across many alternatives.
        let wide = Rule::allow_any(
            "ioctl",
            libc::SYS_ioctl,
            &[
                &[Cond::masked_eq(1, 0xffff, 1)],
                &[Cond::masked_eq(1, 0xffff, 2)],
                &[Cond::masked_eq(1, 0xffff, 3)],
            ],
        )
        .otherwise(Action::Errno(1));
        assert!(matches!(
            f(wide, Action::KillProcess),
            Err(CompileError::TooLong { .. })
        ));
    }

    #[test]
    fn many_conditions_alternatives_keep_jumps_right() {
        // 40 alternatives of 3 conditions each: long chains need seccompiler's
        // helper jumps.
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
        let prog = f.compile().expect("compiles");
        for i in 0..40u64 {
            let at = |a: [u64; 6]| prog.evaluate(arch::AUDIT_ARCH, libc::SYS_ioctl as u32, a);
            assert_eq!(at([i, 0x10, 7, 0, 0, 0]), ALLOW, "alt {i}");
            assert_eq!(at([i, 0xf0, 7, 0, 0, 0]), KILL, "alt {i}");
            assert_eq!(at([i, 0x70, 7, 0, 0, 0]), ALLOW, "alt {i}");
            assert_eq!(at([i, 0x10, 8, 0, 0, 0]), KILL, "alt {i}");
        }
        assert_eq!(run(&f, libc::SYS_ioctl, [40, 0x10, 7, 0, 0, 0]), KILL);
        assert_eq!(run(&f, libc::SYS_read, [0; 6]), ALLOW);
    }
}
