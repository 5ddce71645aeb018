//! Classic BPF as seccomp uses it: the opcodes and `seccomp_data` offsets
//! tinsel's checks need, the instruction type, and a user-space interpreter
//! that runs one program against one syscall (for tests and audits).

// Classic BPF opcodes (include/uapi/linux/bpf_common.h), for the prologue
// check, the x32 guard and the user-space interpreter.
pub(super) const BPF_LD: u16 = 0x00;
pub(super) const BPF_W: u16 = 0x00;
pub(super) const BPF_ABS: u16 = 0x20;
pub(super) const BPF_ALU: u16 = 0x04;
pub(super) const BPF_AND: u16 = 0x50;
pub(super) const BPF_JMP: u16 = 0x05;
pub(super) const BPF_JA: u16 = 0x00;
pub(super) const BPF_JEQ: u16 = 0x10;
pub(super) const BPF_JGT: u16 = 0x20;
pub(super) const BPF_JGE: u16 = 0x30;
pub(super) const BPF_K: u16 = 0x00;
pub(super) const BPF_RET: u16 = 0x06;

/// `BPF_MAXINSNS` (include/uapi/linux/bpf_common.h).
pub(super) const BPF_MAXINSNS: usize = 4096;

// Offsets into `struct seccomp_data` (include/uapi/linux/seccomp.h).
pub(super) const OFFSET_NR: u32 = 0;
pub(super) const OFFSET_ARCH: u32 = 4;
pub(super) const OFFSET_ARGS: u32 = 16;

// Return values (include/uapi/linux/seccomp.h).
pub(super) const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(super) const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub(super) const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub(super) const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
pub(super) const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub(super) const SECCOMP_RET_DATA: u32 = 0x0000_ffff;
pub(super) const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;

/// How many alternatives one rule's conditions (or their negation) may
/// expand to (each becomes a few instructions). The daemons' rules need at
/// most a handful.
pub(super) const MAX_ALTERNATIVES: usize = 256;

/// One classic BPF instruction (`struct sock_filter`).
pub type Instruction = seccompiler::sock_filter;

pub(super) fn stmt(code: u16, k: u32) -> Instruction {
    Instruction {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

pub(super) fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction { code, jt, jf, k }
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
