//! The system-call filter every process of the sandbox runs under: `ptrace`,
//! `process_vm_readv` and `process_vm_writev` fail with `EPERM`.
//!
//! Why these: the wineserver and Wine's services are kept between hosts, and bwrap is the
//! sandbox's first process. A filter able to trace them, or to read and write their memory,
//! could change what a later host of the run is told (the server's registry, its handles) or
//! reach the harness's side of the sandbox. Everything else a process may do is bounded by
//! the namespaces, the unprivileged user and the limits.
//!
//! The program is a few classic BPF instructions written here rather than built with a crate:
//! a crate such as `seccompiler` makes a filter for one architecture, and a 32-bit program
//! under Wine may enter the kernel through the i386 system-call table (`int 0x80`), which
//! must be filtered as well. The x32 table is refused whole (nothing of Wine's uses it), and a
//! call through any other architecture ends the process.

use crate::process::SockFilter;

// From <linux/filter.h>, <linux/audit.h> and <linux/seccomp.h>; fixed by the kernel's ABI.
/// BPF_LD | BPF_W | BPF_ABS (0x00 | 0x00 | 0x20).
const BPF_LD_W_ABS: u16 = 0x20;
/// BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JGE | BPF_K.
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_JMP_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const EPERM: u32 = 1;
/// Where `struct seccomp_data` keeps the call's number and its architecture.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

/// The refused calls' numbers in the x86_64 table: ptrace, process_vm_readv, process_vm_writev.
const REFUSED_X86_64: [u32; 3] = [101, 310, 311];
/// The same calls in the i386 table.
const REFUSED_I386: [u32; 3] = [26, 347, 348];

/// The filter's program.
pub fn program() -> Vec<SockFilter> {
    let statement = |code, k| SockFilter { code, jt: 0, jf: 0, k };
    let jump = |code, k, jt, jf| SockFilter { code, jt, jf, k };
    // Laid out as: [0] load arch; [1] x86_64? else to [8]; [2] load nr; [3] x32? deny;
    // [4..=6] refused? deny; [7] to allow; [8] i386? else kill; [9] load nr; [10..=12]
    // refused? deny; [13] allow; [14] deny; [15] kill. A jump's offsets count from the next
    // instruction.
    const ALLOW: u8 = 13;
    const DENY: u8 = 14;
    const KILL: u8 = 15;
    let to = |from: u8, target: u8| target - from - 1;
    let mut program = vec![
        statement(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 0, to(1, 8)),
        statement(BPF_LD_W_ABS, OFFSET_NR),
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, to(3, DENY), 0),
    ];
    for (index, nr) in (4u8..).zip(REFUSED_X86_64) {
        program.push(jump(BPF_JMP_JEQ_K, nr, to(index, DENY), 0));
    }
    program.push(statement(BPF_JMP_JA, u32::from(to(7, ALLOW))));
    program.push(jump(BPF_JMP_JEQ_K, AUDIT_ARCH_I386, 0, to(8, KILL)));
    program.push(statement(BPF_LD_W_ABS, OFFSET_NR));
    for (index, nr) in (10u8..).zip(REFUSED_I386) {
        program.push(jump(BPF_JMP_JEQ_K, nr, to(index, DENY), 0));
    }
    program.push(statement(BPF_RET_K, SECCOMP_RET_ALLOW));
    program.push(statement(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM));
    program.push(statement(BPF_RET_K, SECCOMP_RET_KILL_PROCESS));
    debug_assert_eq!(program.len(), usize::from(KILL) + 1);
    program
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small interpreter of the program's instructions, enough to check its decisions.
    fn decide(arch: u32, nr: u32) -> u32 {
        let program = program();
        let (mut pc, mut accumulator) = (0usize, 0u32);
        loop {
            let instruction = program[pc];
            pc += 1;
            match instruction.code {
                BPF_LD_W_ABS => {
                    accumulator = if instruction.k == OFFSET_ARCH { arch } else { nr };
                }
                BPF_JMP_JEQ_K | BPF_JMP_JGE_K => {
                    let taken = if instruction.code == BPF_JMP_JEQ_K {
                        accumulator == instruction.k
                    } else {
                        accumulator >= instruction.k
                    };
                    pc += usize::from(if taken { instruction.jt } else { instruction.jf });
                }
                BPF_JMP_JA => pc += instruction.k as usize,
                BPF_RET_K => return instruction.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    #[test]
    fn the_filter_refuses_tracing_in_both_tables_and_allows_the_rest() {
        for nr in REFUSED_X86_64 {
            assert_eq!(decide(AUDIT_ARCH_X86_64, nr), SECCOMP_RET_ERRNO | EPERM, "x86_64 {nr}");
        }
        for nr in REFUSED_I386 {
            assert_eq!(decide(AUDIT_ARCH_I386, nr), SECCOMP_RET_ERRNO | EPERM, "i386 {nr}");
        }
        // read, openat, clone and i386's read: allowed.
        for nr in [0, 257, 56] {
            assert_eq!(decide(AUDIT_ARCH_X86_64, nr), SECCOMP_RET_ALLOW);
        }
        assert_eq!(decide(AUDIT_ARCH_I386, 3), SECCOMP_RET_ALLOW);
        // x86_64's ptrace number in the i386 table is another call (i386's 101 is ioperm);
        // the x32 table is refused whole; another architecture ends the process.
        assert_eq!(decide(AUDIT_ARCH_I386, 101), SECCOMP_RET_ALLOW);
        assert_eq!(decide(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 101), SECCOMP_RET_ERRNO | EPERM);
        assert_eq!(decide(0xC000_00B7, 117), SECCOMP_RET_KILL_PROCESS);
    }
}
