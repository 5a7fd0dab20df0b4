//! Runs a seccomp program on one input, as the kernel would, so that the
//! generated filter can be checked verdict by verdict without loading it.
//!
//! Only the instructions the builder emits are understood; anything else is
//! an error rather than a guess.

use super::bpf::{MAX_INSNS, offset, op};

/// `struct seccomp_data` as the kernel hands it to the filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// The system call number.
    pub nr: i32,
    /// The `AUDIT_ARCH_*` value of the calling convention.
    pub arch: u32,
    /// Where the call was made.
    pub instruction_pointer: u64,
    /// The six argument registers, untruncated.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte `offset`, or `None` if the kernel would
    /// refuse the load (unaligned, or past the end).
    pub fn word(&self, offset: u32) -> Option<u32> {
        if !offset.is_multiple_of(4) || offset >= offset::SIZE {
            return None;
        }
        let halves = |value: u64| [value as u32, (value >> 32) as u32];
        let index = (offset / 4) as usize;
        Some(match index {
            0 => self.nr as u32,
            1 => self.arch,
            2 | 3 => halves(self.instruction_pointer)[index - 2],
            _ => halves(self.args[(index - 4) / 2])[(index - 4) % 2],
        })
    }
}

/// Why a program could not be run to a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InterpretError {
    /// The program has no instructions.
    #[error("program is empty")]
    Empty,
    /// The program is longer than the kernel accepts.
    #[error("program has {len} instructions, more than the kernel's limit of {MAX_INSNS}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// An instruction outside the supported subset.
    #[error("unsupported instruction {code:#06x} at {pc}")]
    Unsupported {
        /// Where it is.
        pc: usize,
        /// Its opcode.
        code: u16,
    },
    /// A load outside `seccomp_data` or not aligned to a word.
    #[error("load at {pc} reads offset {offset}, outside seccomp_data or unaligned")]
    BadLoad {
        /// Where it is.
        pc: usize,
        /// The offset it reads.
        offset: u32,
    },
    /// A jump that lands past the last instruction.
    #[error("jump at {pc} lands outside the program")]
    JumpOutside {
        /// Where it is.
        pc: usize,
    },
    /// The last instruction was not a return and did not jump.
    #[error("execution ran past the last instruction")]
    FellOffEnd,
}

/// What one run of a program did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The returned `SECCOMP_RET_*` value (action and data).
    pub verdict: u32,
    /// The `seccomp_data` offsets loaded, in order. The kernel caches a
    /// syscall as always allowed only when its path loads nothing but `nr`
    /// and `arch`.
    pub loads: Vec<u32>,
    /// How many instructions ran, the cost of the call in the filter.
    pub executed: usize,
}

/// Runs `prog` on `data`; returns the `SECCOMP_RET_*` value (action | data).
pub fn interpret(prog: &[libc::sock_filter], data: &SeccompData) -> Result<u32, InterpretError> {
    trace(prog, data).map(|run| run.verdict)
}

/// Runs `prog` on `data` and records what the run did.
pub fn trace(prog: &[libc::sock_filter], data: &SeccompData) -> Result<Trace, InterpretError> {
    if prog.is_empty() {
        return Err(InterpretError::Empty);
    }
    if prog.len() > MAX_INSNS {
        return Err(InterpretError::TooLong { len: prog.len() });
    }
    let mut acc: u32 = 0;
    let mut loads = Vec::new();
    let mut pc = 0;
    let mut executed = 0;
    loop {
        let Some(ins) = prog.get(pc) else {
            return Err(InterpretError::FellOffEnd);
        };
        executed += 1;
        let skip = match ins.code {
            op::LD_W_ABS => {
                acc = data
                    .word(ins.k)
                    .ok_or(InterpretError::BadLoad { pc, offset: ins.k })?;
                loads.push(ins.k);
                0
            }
            op::ALU_AND_K => {
                acc &= ins.k;
                0
            }
            op::RET_K => {
                return Ok(Trace {
                    verdict: ins.k,
                    loads,
                    executed,
                });
            }
            op::JA => ins.k as usize,
            op::JEQ_K => branch(ins, acc == ins.k),
            op::JGT_K => branch(ins, acc > ins.k),
            op::JGE_K => branch(ins, acc >= ins.k),
            op::JSET_K => branch(ins, acc & ins.k != 0),
            code => return Err(InterpretError::Unsupported { pc, code }),
        };
        let next = pc + 1 + skip;
        // The kernel refuses, at load time, any jump past the end.
        if skip > 0 && next >= prog.len() {
            return Err(InterpretError::JumpOutside { pc });
        }
        pc = next;
    }
}

/// Checks `prog` statically, as the kernel does when the filter is loaded:
/// every instruction is one this crate understands, every load reads a word
/// of `seccomp_data`, every jump lands inside the program, and the last
/// instruction returns.
pub fn validate(prog: &[libc::sock_filter]) -> Result<(), InterpretError> {
    if prog.is_empty() {
        return Err(InterpretError::Empty);
    }
    if prog.len() > MAX_INSNS {
        return Err(InterpretError::TooLong { len: prog.len() });
    }
    let inside = |pc: usize, skip: usize| pc + 1 + skip < prog.len();
    for (pc, ins) in prog.iter().enumerate() {
        let in_range = match ins.code {
            op::LD_W_ABS => {
                if SeccompData::default().word(ins.k).is_none() {
                    return Err(InterpretError::BadLoad { pc, offset: ins.k });
                }
                true
            }
            op::ALU_AND_K | op::RET_K => true,
            op::JA => inside(pc, ins.k as usize),
            op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                inside(pc, ins.jt.into()) && inside(pc, ins.jf.into())
            }
            code => return Err(InterpretError::Unsupported { pc, code }),
        };
        if !in_range {
            return Err(InterpretError::JumpOutside { pc });
        }
    }
    match prog.last() {
        Some(last) if last.code == op::RET_K => Ok(()),
        _ => Err(InterpretError::FellOffEnd),
    }
}

fn branch(ins: &libc::sock_filter, taken: bool) -> usize {
    usize::from(if taken { ins.jt } else { ins.jf })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::bpf::insn;

    fn data() -> SeccompData {
        SeccompData {
            nr: 59,
            arch: 0xc000_003e,
            instruction_pointer: 0x1111_2222_3333_4444,
            args: [
                0x0000_0001_0000_0002,
                0x0000_0003_0000_0004,
                0x0000_0005_0000_0006,
                0x0000_0007_0000_0008,
                0x0000_0009_0000_000a,
                0x0000_000b_0000_000c,
            ],
        }
    }

    fn run(prog: &[libc::sock_filter]) -> Result<u32, InterpretError> {
        interpret(prog, &data())
    }

    #[test]
    fn loads_read_every_word_of_seccomp_data_little_endian() {
        let expected = [
            59,
            0xc000_003e,
            0x3333_4444,
            0x1111_2222,
            2,
            1,
            4,
            3,
            6,
            5,
            8,
            7,
            0xa,
            9,
            0xc,
            0xb,
        ];
        for (word, want) in expected.into_iter().enumerate() {
            let prog = [
                insn(op::LD_W_ABS, 0, 0, word as u32 * 4),
                insn(op::JEQ_K, 0, 1, want),
                insn(op::RET_K, 0, 0, 1),
                insn(op::RET_K, 0, 0, 0),
            ];
            assert_eq!(run(&prog), Ok(1), "word {word}");
        }
    }

    #[test]
    fn ret_returns_k() {
        assert_eq!(run(&[insn(op::RET_K, 0, 0, 0x7fff_0000)]), Ok(0x7fff_0000));
    }

    #[test]
    fn and_masks_the_accumulator() {
        let prog = [
            insn(op::LD_W_ABS, 0, 0, offset::ARCH),
            insn(op::ALU_AND_K, 0, 0, 0xff),
            insn(op::JEQ_K, 0, 1, 0x3e),
            insn(op::RET_K, 0, 0, 1),
            insn(op::RET_K, 0, 0, 0),
        ];
        assert_eq!(run(&prog), Ok(1));
    }

    /// Loads `nr` (59), tests it with `code` against `k`, returns 1 if taken.
    fn taken(code: u16, k: u32) -> bool {
        let prog = [
            insn(op::LD_W_ABS, 0, 0, offset::NR),
            insn(code, 1, 0, k),
            insn(op::RET_K, 0, 0, 0),
            insn(op::RET_K, 0, 0, 1),
        ];
        run(&prog).unwrap() == 1
    }

    #[test]
    fn conditional_jumps_compare_unsigned() {
        assert!(taken(op::JEQ_K, 59));
        assert!(!taken(op::JEQ_K, 58));
        assert!(taken(op::JGT_K, 58));
        assert!(!taken(op::JGT_K, 59));
        assert!(taken(op::JGE_K, 59));
        assert!(!taken(op::JGE_K, 60));
        assert!(taken(op::JSET_K, 0b1000));
        assert!(!taken(op::JSET_K, 0b0100));
        // Unsigned: -1 as a syscall number is above everything.
        let prog = [
            insn(op::LD_W_ABS, 0, 0, offset::NR),
            insn(op::JGE_K, 1, 0, 0x4000_0000),
            insn(op::RET_K, 0, 0, 0),
            insn(op::RET_K, 0, 0, 1),
        ];
        let data = SeccompData { nr: -1, ..data() };
        assert_eq!(interpret(&prog, &data), Ok(1));
    }

    #[test]
    fn ja_skips_k_instructions() {
        let prog = [
            insn(op::JA, 0, 0, 2),
            insn(op::RET_K, 0, 0, 0),
            insn(op::RET_K, 0, 0, 0),
            insn(op::RET_K, 0, 0, 1),
        ];
        assert_eq!(run(&prog), Ok(1));
    }

    #[test]
    fn trace_records_loads_and_cost() {
        let prog = [
            insn(op::LD_W_ABS, 0, 0, offset::ARCH),
            insn(op::LD_W_ABS, 0, 0, offset::arg_high(2)),
            insn(op::RET_K, 0, 0, 7),
        ];
        let run = trace(&prog, &data()).unwrap();
        assert_eq!(run.verdict, 7);
        assert_eq!(run.loads, [4, 36]);
        assert_eq!(run.executed, 3);
    }

    #[test]
    fn unknown_opcodes_are_rejected() {
        // LD IMM, LDX, ST, ALU ADD, JEQ X, RET A, MISC TAX.
        for code in [0x00, 0x01, 0x02, 0x04, 0x1d, 0x16, 0x07] {
            let prog = [insn(code, 0, 0, 0), insn(op::RET_K, 0, 0, 0)];
            assert_eq!(run(&prog), Err(InterpretError::Unsupported { pc: 0, code }));
        }
    }

    #[test]
    fn out_of_bounds_and_unaligned_loads_are_rejected() {
        for offset in [64, 65, 2, 0xffff_fffc] {
            let prog = [insn(op::LD_W_ABS, 0, 0, offset), insn(op::RET_K, 0, 0, 0)];
            assert_eq!(run(&prog), Err(InterpretError::BadLoad { pc: 0, offset }));
        }
    }

    #[test]
    fn falling_off_the_end_is_an_error() {
        let prog = [insn(op::LD_W_ABS, 0, 0, 0)];
        assert_eq!(run(&prog), Err(InterpretError::FellOffEnd));
        let prog = [
            insn(op::LD_W_ABS, 0, 0, 0),
            insn(op::JEQ_K, 1, 0, 59),
            insn(op::RET_K, 0, 0, 0),
        ];
        assert_eq!(run(&prog), Err(InterpretError::JumpOutside { pc: 1 }));
        let prog = [insn(op::JA, 0, 0, u32::MAX), insn(op::RET_K, 0, 0, 0)];
        assert_eq!(run(&prog), Err(InterpretError::JumpOutside { pc: 0 }));
    }

    #[test]
    fn validate_checks_every_instruction_not_just_the_path_taken() {
        let ok = [
            insn(op::LD_W_ABS, 0, 0, offset::NR),
            insn(op::JEQ_K, 0, 1, 59),
            insn(op::RET_K, 0, 0, 0),
            insn(op::RET_K, 0, 0, 1),
        ];
        assert_eq!(validate(&ok), Ok(()));
        let mut bad_branch = ok;
        bad_branch[1].jf = 2;
        assert_eq!(
            validate(&bad_branch),
            Err(InterpretError::JumpOutside { pc: 1 })
        );
        assert_eq!(run(&bad_branch), Ok(0), "the path taken never sees it");
        let mut bad_load = ok;
        bad_load[0].k = 64;
        assert_eq!(
            validate(&bad_load),
            Err(InterpretError::BadLoad { pc: 0, offset: 64 })
        );
        let no_return = [insn(op::LD_W_ABS, 0, 0, 0)];
        assert_eq!(validate(&no_return), Err(InterpretError::FellOffEnd));
        let unknown = [insn(0x16, 0, 0, 0), insn(op::RET_K, 0, 0, 0)];
        assert_eq!(
            validate(&unknown),
            Err(InterpretError::Unsupported { pc: 0, code: 0x16 })
        );
        assert_eq!(validate(&[]), Err(InterpretError::Empty));
    }

    #[test]
    fn empty_and_oversized_programs_are_rejected() {
        assert_eq!(run(&[]), Err(InterpretError::Empty));
        let prog = vec![insn(op::RET_K, 0, 0, 0); MAX_INSNS + 1];
        assert_eq!(
            run(&prog),
            Err(InterpretError::TooLong { len: MAX_INSNS + 1 })
        );
    }
}
