//! A small assembler for the classic BPF subset that seccomp programs use.
//!
//! Jumps name labels; offsets are resolved when the program is finished.
//! Classic BPF can only jump forward, and a conditional jump reaches at most
//! 255 instructions ahead. A conditional branch that would reach further is
//! relaxed: it jumps to an unconditional `JA` placed right after it, whose
//! 32-bit offset reaches anywhere in the program.

use libc::sock_filter;

/// The kernel's limit on the length of a classic BPF program.
pub const MAX_INSNS: usize = libc::BPF_MAXINSNS as usize;

/// Byte offsets of the fields of `struct seccomp_data` (x86_64 is little
/// endian, so the low half of an argument comes first).
pub mod offset {
    /// `nr`: the system call number.
    pub const NR: u32 = 0;
    /// `arch`: the `AUDIT_ARCH_*` value of the calling convention.
    pub const ARCH: u32 = 4;
    /// Size of `struct seccomp_data`.
    pub const SIZE: u32 = 64;

    /// The low 32 bits of `args[index]`.
    pub const fn arg_low(index: usize) -> u32 {
        16 + 8 * index as u32
    }

    /// The high 32 bits of `args[index]`.
    pub const fn arg_high(index: usize) -> u32 {
        arg_low(index) + 4
    }
}

/// Opcodes of the instructions this crate emits and interprets.
pub mod op {
    const fn code(parts: u32) -> u16 {
        parts as u16
    }
    /// `A = seccomp_data[k]` (32-bit word).
    pub const LD_W_ABS: u16 = code(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS);
    /// `A &= k`.
    pub const ALU_AND_K: u16 = code(libc::BPF_ALU | libc::BPF_AND | libc::BPF_K);
    /// `pc += k`.
    pub const JA: u16 = code(libc::BPF_JMP | libc::BPF_JA);
    /// `pc += (A == k) ? jt : jf`.
    pub const JEQ_K: u16 = code(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K);
    /// `pc += (A > k) ? jt : jf`.
    pub const JGT_K: u16 = code(libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K);
    /// `pc += (A >= k) ? jt : jf`.
    pub const JGE_K: u16 = code(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K);
    /// `pc += (A & k) != 0 ? jt : jf`.
    pub const JSET_K: u16 = code(libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K);
    /// Return `k` as the verdict.
    pub const RET_K: u16 = code(libc::BPF_RET | libc::BPF_K);
}

/// One encoded instruction.
pub const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Why a program could not be assembled. Each one is a bug in the code that
/// drove the assembler, not in anyone's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssembleError {
    /// A jump names a label that was never bound.
    #[error("label {label} is jumped to but never bound")]
    Unbound {
        /// The label's number.
        label: usize,
    },
    /// A label was bound at two places.
    #[error("label {label} is bound twice")]
    BoundTwice {
        /// The label's number.
        label: usize,
    },
    /// A jump goes backwards, which classic BPF cannot express.
    #[error("label {label} is bound before a jump to it; BPF jumps only forward")]
    Backward {
        /// The label's number.
        label: usize,
    },
    /// The program is longer than the kernel accepts.
    #[error("program has {len} instructions, more than the kernel's limit of {MAX_INSNS}")]
    TooLong {
        /// Its length.
        len: usize,
    },
}

/// A place in the program that jumps can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

/// Where a branch of a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The instruction that follows the jump.
    Next,
    /// A label.
    To(Label),
}

impl From<Label> for Target {
    fn from(label: Label) -> Self {
        Target::To(label)
    }
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Plain(sock_filter),
    Cond {
        code: u16,
        k: u32,
        on_true: Target,
        on_false: Target,
    },
    Goto(Label),
    Bind(Label),
}

/// Whether each branch of a conditional jump goes through a trampoline.
#[derive(Debug, Clone, Copy, Default)]
struct Relaxed {
    on_true: bool,
    on_false: bool,
}

impl Relaxed {
    fn extra(self) -> usize {
        usize::from(self.on_true) + usize::from(self.on_false)
    }
}

/// Builds a program from instructions and labels; see the module docs.
#[derive(Debug, Default)]
pub struct Assembler {
    items: Vec<Item>,
    labels: usize,
}

impl Assembler {
    /// An empty program.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new label, to be bound once with [`Assembler::bind`].
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Places `label` before the next instruction.
    pub fn bind(&mut self, label: Label) {
        self.items.push(Item::Bind(label));
    }

    /// `A = seccomp_data[offset]`.
    pub fn load(&mut self, offset: u32) {
        self.items
            .push(Item::Plain(insn(op::LD_W_ABS, 0, 0, offset)));
    }

    /// `A &= k`.
    pub fn and(&mut self, k: u32) {
        self.items.push(Item::Plain(insn(op::ALU_AND_K, 0, 0, k)));
    }

    /// Returns `k` as the verdict.
    pub fn ret(&mut self, k: u32) {
        self.items.push(Item::Plain(insn(op::RET_K, 0, 0, k)));
    }

    /// Jumps to `label` unconditionally.
    pub fn goto(&mut self, label: Label) {
        self.items.push(Item::Goto(label));
    }

    /// Jumps to `on_true` if `A == k`, else to `on_false`.
    pub fn jeq(&mut self, k: u32, on_true: impl Into<Target>, on_false: impl Into<Target>) {
        self.cond(op::JEQ_K, k, on_true.into(), on_false.into());
    }

    /// Jumps to `on_true` if `A > k`, else to `on_false`.
    pub fn jgt(&mut self, k: u32, on_true: impl Into<Target>, on_false: impl Into<Target>) {
        self.cond(op::JGT_K, k, on_true.into(), on_false.into());
    }

    /// Jumps to `on_true` if `A >= k`, else to `on_false`.
    pub fn jge(&mut self, k: u32, on_true: impl Into<Target>, on_false: impl Into<Target>) {
        self.cond(op::JGE_K, k, on_true.into(), on_false.into());
    }

    /// Jumps to `on_true` if `A & k != 0`, else to `on_false`.
    pub fn jset(&mut self, k: u32, on_true: impl Into<Target>, on_false: impl Into<Target>) {
        self.cond(op::JSET_K, k, on_true.into(), on_false.into());
    }

    fn cond(&mut self, code: u16, k: u32, on_true: Target, on_false: Target) {
        self.items.push(Item::Cond {
            code,
            k,
            on_true,
            on_false,
        });
    }

    /// Resolves every jump and returns the program.
    pub fn finish(self) -> Result<Vec<sock_filter>, AssembleError> {
        let bound_at = self.bindings()?;
        let mut relaxed = vec![Relaxed::default(); self.items.len()];
        // Relaxing a branch only ever lengthens the program, so a branch that
        // is out of range stays out of range: the loop ends after at most one
        // pass per conditional branch.
        loop {
            let layout = self.layout(&relaxed, &bound_at);
            let mut changed = false;
            for (i, item) in self.items.iter().enumerate() {
                let Item::Cond {
                    on_true, on_false, ..
                } = *item
                else {
                    continue;
                };
                let from = layout.at[i] + 1;
                let reach = |target| layout.resolve(target, i) - from;
                if !relaxed[i].on_true && reach(on_true) > usize::from(u8::MAX) {
                    relaxed[i].on_true = true;
                    changed = true;
                }
                if !relaxed[i].on_false && reach(on_false) > usize::from(u8::MAX) {
                    relaxed[i].on_false = true;
                    changed = true;
                }
            }
            if !changed {
                return self.emit(&layout, &relaxed);
            }
        }
    }

    /// The item index where each label is bound; checks every jump is to a
    /// bound label further on.
    fn bindings(&self) -> Result<Vec<usize>, AssembleError> {
        let mut bound_at = vec![None; self.labels];
        for (i, item) in self.items.iter().enumerate() {
            if let Item::Bind(Label(label)) = *item
                && bound_at[label].replace(i).is_some()
            {
                return Err(AssembleError::BoundTwice { label });
            }
        }
        for (i, item) in self.items.iter().enumerate() {
            let targets = match *item {
                Item::Cond {
                    on_true, on_false, ..
                } => [on_true, on_false],
                Item::Goto(label) => [Target::To(label), Target::Next],
                Item::Plain(_) | Item::Bind(_) => continue,
            };
            for target in targets {
                let Target::To(Label(label)) = target else {
                    continue;
                };
                match bound_at[label] {
                    None => return Err(AssembleError::Unbound { label }),
                    Some(at) if at < i => return Err(AssembleError::Backward { label }),
                    Some(_) => {}
                }
            }
        }
        Ok(bound_at.into_iter().map(|at| at.unwrap_or(0)).collect())
    }

    fn layout(&self, relaxed: &[Relaxed], bound_at: &[usize]) -> Layout {
        let mut at = Vec::with_capacity(self.items.len() + 1);
        let mut pc = 0;
        for (item, relaxed) in self.items.iter().zip(relaxed) {
            at.push(pc);
            pc += match item {
                Item::Plain(_) | Item::Goto(_) => 1,
                Item::Cond { .. } => 1 + relaxed.extra(),
                Item::Bind(_) => 0,
            };
        }
        at.push(pc);
        let labels = bound_at.iter().map(|&item| at[item]).collect();
        Layout { at, labels }
    }

    fn emit(
        &self,
        layout: &Layout,
        relaxed: &[Relaxed],
    ) -> Result<Vec<sock_filter>, AssembleError> {
        let len = layout.at[self.items.len()];
        if len > MAX_INSNS {
            return Err(AssembleError::TooLong { len });
        }
        let mut prog = Vec::with_capacity(len);
        for (i, item) in self.items.iter().enumerate() {
            match *item {
                Item::Plain(ins) => prog.push(ins),
                Item::Bind(_) => {}
                Item::Goto(Label(label)) => {
                    let k = layout.labels[label] - (prog.len() + 1);
                    prog.push(insn(op::JA, 0, 0, k as u32));
                }
                Item::Cond {
                    code,
                    k,
                    on_true,
                    on_false,
                } => {
                    let from = layout.at[i] + 1;
                    let short = |target| (layout.resolve(target, i) - from) as u8;
                    let r = relaxed[i];
                    // Trampolines sit right after the jump: the one for the
                    // true branch first.
                    let jt = if r.on_true { 0 } else { short(on_true) };
                    let jf = if r.on_false {
                        u8::from(r.on_true)
                    } else {
                        short(on_false)
                    };
                    prog.push(insn(code, jt, jf, k));
                    for (long, target) in [(r.on_true, on_true), (r.on_false, on_false)] {
                        if long {
                            let to = layout.resolve(target, i);
                            prog.push(insn(op::JA, 0, 0, (to - (prog.len() + 1)) as u32));
                        }
                    }
                }
            }
        }
        debug_assert_eq!(prog.len(), len);
        Ok(prog)
    }
}

/// Instruction positions for one choice of relaxed branches.
struct Layout {
    /// Position of each item; one extra entry for the end of the program.
    at: Vec<usize>,
    /// Position of each label.
    labels: Vec<usize>,
}

impl Layout {
    /// Position a branch of item `item` lands on.
    fn resolve(&self, target: Target, item: usize) -> usize {
        match target {
            Target::Next => self.at[item + 1],
            Target::To(Label(label)) => self.labels[label],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(prog: &[sock_filter]) -> Vec<(u16, u8, u8, u32)> {
        prog.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()
    }

    #[test]
    fn opcodes_match_the_kernel_encoding() {
        assert_eq!(op::LD_W_ABS, 0x20);
        assert_eq!(op::ALU_AND_K, 0x54);
        assert_eq!(op::JA, 0x05);
        assert_eq!(op::JEQ_K, 0x15);
        assert_eq!(op::JGT_K, 0x25);
        assert_eq!(op::JGE_K, 0x35);
        assert_eq!(op::JSET_K, 0x45);
        assert_eq!(op::RET_K, 0x06);
    }

    #[test]
    fn seccomp_data_offsets() {
        assert_eq!(offset::arg_low(0), 16);
        assert_eq!(offset::arg_high(0), 20);
        assert_eq!(offset::arg_low(5), 56);
        assert_eq!(offset::arg_high(5), 60);
        assert_eq!(offset::SIZE as usize, size_of::<libc::seccomp_data>());
    }

    #[test]
    fn labels_resolve_to_forward_offsets() {
        let mut asm = Assembler::new();
        let yes = asm.label();
        let no = asm.label();
        asm.load(offset::NR);
        asm.jeq(7, yes, Target::Next);
        asm.jgt(9, no, yes);
        asm.and(0xff);
        asm.bind(no);
        asm.ret(1);
        asm.bind(yes);
        asm.ret(2);
        let prog = asm.finish().unwrap();
        assert_eq!(
            parts(&prog),
            vec![
                (op::LD_W_ABS, 0, 0, 0),
                (op::JEQ_K, 3, 0, 7),
                (op::JGT_K, 1, 2, 9),
                (op::ALU_AND_K, 0, 0, 0xff),
                (op::RET_K, 0, 0, 1),
                (op::RET_K, 0, 0, 2),
            ]
        );
    }

    #[test]
    fn goto_encodes_a_32_bit_offset() {
        let mut asm = Assembler::new();
        let end = asm.label();
        asm.goto(end);
        asm.ret(0);
        asm.ret(0);
        asm.bind(end);
        asm.ret(1);
        let prog = asm.finish().unwrap();
        assert_eq!(parts(&prog)[0], (op::JA, 0, 0, 2));
    }

    /// A conditional jump over `gap` instructions to `far`; `near` right after.
    fn far_jump(gap: usize, far_branch_true: bool) -> Vec<sock_filter> {
        let mut asm = Assembler::new();
        let far = asm.label();
        if far_branch_true {
            asm.jeq(1, far, Target::Next);
        } else {
            asm.jeq(1, Target::Next, far);
        }
        asm.ret(10);
        for _ in 0..gap {
            asm.ret(0);
        }
        asm.bind(far);
        asm.ret(20);
        asm.finish().unwrap()
    }

    #[test]
    fn a_jump_of_255_stays_short() {
        let prog = far_jump(254, true);
        assert_eq!(parts(&prog)[0], (op::JEQ_K, 255, 0, 1));
        assert_eq!(prog.len(), 257);
    }

    #[test]
    fn a_jump_of_256_goes_through_a_trampoline() {
        let prog = far_jump(255, true);
        assert_eq!(prog.len(), 259);
        assert_eq!(
            parts(&prog)[..2],
            [(op::JEQ_K, 0, 1, 1), (op::JA, 0, 0, 256)]
        );
        assert_eq!(prog[1 + 1 + 256].k, 20);

        let prog = far_jump(255, false);
        assert_eq!(
            parts(&prog)[..2],
            [(op::JEQ_K, 1, 0, 1), (op::JA, 0, 0, 256)]
        );
        assert_eq!(prog[1 + 1 + 256].k, 20);
    }

    #[test]
    fn both_branches_far_get_one_trampoline_each() {
        let mut asm = Assembler::new();
        let (a, b) = (asm.label(), asm.label());
        asm.jset(4, a, b);
        for _ in 0..300 {
            asm.ret(0);
        }
        asm.bind(a);
        asm.ret(1);
        asm.bind(b);
        asm.ret(2);
        let prog = asm.finish().unwrap();
        assert_eq!(
            parts(&prog)[..3],
            [
                (op::JSET_K, 0, 1, 4),
                (op::JA, 0, 0, 301),
                (op::JA, 0, 0, 301)
            ]
        );
        assert_eq!(prog[2 + 301].k, 1);
        assert_eq!(prog[3 + 301].k, 2);
    }

    #[test]
    fn relaxing_one_jump_can_push_an_earlier_one_out_of_range() {
        // The first jump reaches exactly 255 until the second one grows by its
        // trampoline.
        let mut asm = Assembler::new();
        let (first, second) = (asm.label(), asm.label());
        asm.jeq(1, first, Target::Next);
        asm.jeq(2, second, Target::Next);
        for _ in 0..254 {
            asm.ret(0);
        }
        asm.bind(first);
        asm.ret(1);
        for _ in 0..10 {
            asm.ret(0);
        }
        asm.bind(second);
        asm.ret(2);
        let prog = asm.finish().unwrap();
        // Both relaxed: JEQ, JA, JEQ, JA, 254 rets, ret 1, ...
        assert_eq!(parts(&prog)[0], (op::JEQ_K, 0, 1, 1));
        assert_eq!(parts(&prog)[2], (op::JEQ_K, 0, 1, 2));
        let land = |at: usize| at + 1 + prog[at].k as usize;
        assert_eq!(prog[land(1)].k, 1);
        assert_eq!(prog[land(3)].k, 2);
    }

    #[test]
    fn unbound_label_is_an_error() {
        let mut asm = Assembler::new();
        let nowhere = asm.label();
        asm.goto(nowhere);
        assert_eq!(
            asm.finish().unwrap_err(),
            AssembleError::Unbound { label: 0 }
        );
    }

    #[test]
    fn label_bound_twice_is_an_error() {
        let mut asm = Assembler::new();
        let here = asm.label();
        asm.bind(here);
        asm.ret(0);
        asm.bind(here);
        assert_eq!(
            asm.finish().unwrap_err(),
            AssembleError::BoundTwice { label: 0 }
        );
    }

    #[test]
    fn backward_jump_is_an_error() {
        let mut asm = Assembler::new();
        let top = asm.label();
        asm.bind(top);
        asm.jeq(0, top, Target::Next);
        asm.ret(0);
        assert_eq!(
            asm.finish().unwrap_err(),
            AssembleError::Backward { label: 0 }
        );
    }

    #[test]
    fn program_longer_than_the_kernel_limit_is_an_error() {
        let mut asm = Assembler::new();
        for _ in 0..MAX_INSNS {
            asm.ret(0);
        }
        assert_eq!(asm.finish().map(|p| p.len()), Ok(MAX_INSNS));

        let mut asm = Assembler::new();
        for _ in 0..=MAX_INSNS {
            asm.ret(0);
        }
        assert_eq!(
            asm.finish().unwrap_err(),
            AssembleError::TooLong { len: MAX_INSNS + 1 }
        );
    }
}
