//! Unit tests of the rule API, the compiled programs (through the
//! interpreter) and the prologue check.

use std::collections::BTreeMap;

use seccompiler::SeccompFilter;

use super::bpf::*;
use super::compile::{arch_prologue, set_audit_arch};
use super::*;
use crate::arch;

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
