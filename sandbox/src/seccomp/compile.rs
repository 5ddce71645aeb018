//! From tinsel's rule lists to `seccompiler` programs: conditions lowered
//! to disjunctive normal form, the split into the allowlist and one overlay
//! per errno answer, the architecture word set in one checked place, and the
//! x32 guard on x86_64.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

use super::bpf::*;
use super::*;
use crate::arch;

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
pub(super) fn arch_prologue(audit_arch: u32) -> [Instruction; 3] {
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
pub(super) fn set_audit_arch(prog: &mut [Instruction]) -> Result<(), CompileError> {
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
