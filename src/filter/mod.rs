//! The seccomp BPF program, generated from what the policy needs to see.
//!
//! The program refuses foreign ABIs, then finds the syscall number with a
//! binary search over the calls that are not plainly allowed, and decides it
//! there: allow in the kernel, refuse with an errno, or notify the
//! supervisor (`SECCOMP_RET_USER_NOTIF`). Arguments are loaded only inside
//! the leaf of a call whose verdict depends on them, never before the
//! search: the kernel caches "always allowed" per syscall number only for
//! numbers whose path reads nothing but `nr` and `arch`, and such calls then
//! skip the filter entirely.
//!
//! Layers: [`Watch`] (what to see) → a rule per syscall from the table in
//! this file → [`bpf::Assembler`] → instructions. [`interpret`] runs a
//! program the way the kernel would, for tests and diagnostics.

pub mod bpf;
mod interp;
mod syscalls;

use std::collections::BTreeMap;

use bpf::{Assembler, Label, Target, offset};
pub use interp::{InterpretError, SeccompData, Trace, interpret, trace, validate};
pub use syscalls::{
    FIRST_UNKNOWN, SYS_FILE_GETATTR, SYS_FILE_SETATTR, SYS_GETXATTRAT, SYS_LISTXATTRAT,
    SYS_OPEN_TREE_ATTR, SYS_REMOVEXATTRAT, SYS_SETXATTRAT, syscall_name, syscall_number,
};

/// `AUDIT_ARCH_X86_64` from `<linux/audit.h>` (`EM_X86_64` | 64-bit | little
/// endian); `libc` does not define it.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`: what `int 0x80` from a 64-bit process reports.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// The bit that marks an x32 syscall number (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `__O_TMPFILE` alone: `libc::O_TMPFILE` includes `O_DIRECTORY`, which
/// plain directory opens also pass.
const O_TMPFILE_BIT: u32 = 0o2000_0000;
/// Open flags that can create, truncate or write to a file.
const OPEN_WRITE_FLAGS: u32 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32 | O_TMPFILE_BIT;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;
const NEW_LISTENER: u64 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
/// `RLIMIT_CORE` as the resource argument's low half.
const RLIMIT_CORE: &[u32] = &[libc::RLIMIT_CORE];

/// ioctl requests that change an inode, or the whole filesystem, through
/// any descriptor, read-only ones included (sorted: the leaf searches
/// them). Their numbers, from `<linux/fs.h>`, `<linux/fsverity.h>`,
/// `<linux/fscrypt.h>`, `<linux/btrfs.h>` and ext4's private header, are
/// named in [`inode_ioctl_name`].
pub const INODE_IOCTLS: &[u32] = &[
    0x0000_6609, // EXT4_IOC_MIGRATE
    0x4004_6602, // FS_IOC32_SETFLAGS
    0x4004_662b, // EXT4_IOC_CHECKPOINT
    0x4004_7602, // FS_IOC32_SETVERSION
    0x4008_6602, // FS_IOC_SETFLAGS
    0x4008_6604, // EXT4_IOC_SETVERSION
    0x4008_6607, // EXT4_IOC_GROUP_EXTEND
    0x4008_6610, // EXT4_IOC_RESIZE_FS
    0x4008_662c, // EXT4_IOC_SETFSUUID
    0x4008_7602, // FS_IOC_SETVERSION
    0x4008_9413, // BTRFS_IOC_DEFAULT_SUBVOL
    0x4008_941a, // BTRFS_IOC_SUBVOL_SETFLAGS
    0x401c_5820, // FS_IOC_FSSETXATTR
    0x4028_6608, // EXT4_IOC_GROUP_ADD
    0x4080_6685, // FS_IOC_ENABLE_VERITY
    0x4100_9432, // FS_IOC_SETFSLABEL
    0x5000_9401, // BTRFS_IOC_SNAP_CREATE
    0x5000_9403, // BTRFS_IOC_RESIZE
    0x5000_940e, // BTRFS_IOC_SUBVOL_CREATE
    0x5000_940f, // BTRFS_IOC_SNAP_DESTROY
    0x5000_9417, // BTRFS_IOC_SNAP_CREATE_V2
    0x5000_9418, // BTRFS_IOC_SUBVOL_CREATE_V2
    0x5000_943f, // BTRFS_IOC_SNAP_DESTROY_V2
    0x8004_587d, // FS_IOC_SHUTDOWN
    0x800c_6613, // FS_IOC_SET_ENCRYPTION_POLICY
    0xc004_5877, // FIFREEZE
    0xc004_5878, // FITHAW
    0xc018_5879, // FITRIM
    0xc0c8_9425, // BTRFS_IOC_SET_RECEIVED_SUBVOL
];

/// The name of an ioctl request in [`INODE_IOCTLS`].
pub fn inode_ioctl_name(request: u32) -> Option<&'static str> {
    Some(match request {
        0x0000_6609 => "EXT4_IOC_MIGRATE",
        0x4004_662b => "EXT4_IOC_CHECKPOINT",
        0x4004_6602 => "FS_IOC32_SETFLAGS",
        0x4004_7602 => "FS_IOC32_SETVERSION",
        0x4008_6602 => "FS_IOC_SETFLAGS",
        0x4008_6604 => "EXT4_IOC_SETVERSION",
        0x4008_6607 => "EXT4_IOC_GROUP_EXTEND",
        0x4008_6610 => "EXT4_IOC_RESIZE_FS",
        0x4008_662c => "EXT4_IOC_SETFSUUID",
        0x4008_7602 => "FS_IOC_SETVERSION",
        0x4008_9413 => "BTRFS_IOC_DEFAULT_SUBVOL",
        0x4008_941a => "BTRFS_IOC_SUBVOL_SETFLAGS",
        0x401c_5820 => "FS_IOC_FSSETXATTR",
        0x4028_6608 => "EXT4_IOC_GROUP_ADD",
        0x4080_6685 => "FS_IOC_ENABLE_VERITY",
        0x4100_9432 => "FS_IOC_SETFSLABEL",
        0x5000_9401 => "BTRFS_IOC_SNAP_CREATE",
        0x5000_9403 => "BTRFS_IOC_RESIZE",
        0x5000_940e => "BTRFS_IOC_SUBVOL_CREATE",
        0x5000_940f => "BTRFS_IOC_SNAP_DESTROY",
        0x5000_9417 => "BTRFS_IOC_SNAP_CREATE_V2",
        0x5000_9418 => "BTRFS_IOC_SUBVOL_CREATE_V2",
        0x5000_943f => "BTRFS_IOC_SNAP_DESTROY_V2",
        0x8004_587d => "FS_IOC_SHUTDOWN",
        0x800c_6613 => "FS_IOC_SET_ENCRYPTION_POLICY",
        0xc004_5877 => "FIFREEZE",
        0xc004_5878 => "FITHAW",
        0xc018_5879 => "FITRIM",
        0xc0c8_9425 => "BTRFS_IOC_SET_RECEIVED_SUBVOL",
        _ => return None,
    })
}

/// What the supervisor must see: a category that is off costs nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watch {
    /// Opens for reading.
    pub read: bool,
    /// Opens for writing, creating, and every path mutation.
    pub write: bool,
    /// `execve` and `execveat`.
    pub exec: bool,
    /// The whole stat family, `readlink`, `getxattr`, `chdir`.
    pub stat: bool,
    /// In-sandbox commands, which arrive as `stat` of a magic path. Only
    /// the calls a shell's `test -e` can use are watched for them.
    pub magic: bool,
    /// `bind`, `connect`, and sends that name an address.
    pub net: bool,
    /// New user namespaces are refused: `clone` and `unshare` with
    /// CLONE_NEWUSER, and `setns`, are seen (off when a rule allows them
    /// from the start).
    pub user_ns: bool,
    /// Calls that reach another process: ptrace attach, seize and traceme,
    /// process_vm_readv/writev, pidfd_getfd, and every call that sends a
    /// signal. The supervisor keeps them inside the tree.
    pub tree: bool,
}

/// What the filter does with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Run it in the kernel, unseen (`SECCOMP_RET_ALLOW`).
    Allow,
    /// Ask the supervisor (`SECCOMP_RET_USER_NOTIF`).
    Notify,
    /// Fail it with this errno (`SECCOMP_RET_ERRNO`).
    Errno(u16),
}

impl Action {
    /// Fail with `ENOSYS`: the caller takes the call as not implemented.
    pub const ENOSYS: Action = Action::Errno(libc::ENOSYS as u16);
    /// Fail with `EPERM`.
    pub const EPERM: Action = Action::Errno(libc::EPERM as u16);

    /// The `SECCOMP_RET_*` value the program returns for it.
    pub const fn ret(self) -> u32 {
        match self {
            Action::Allow => libc::SECCOMP_RET_ALLOW,
            Action::Notify => libc::SECCOMP_RET_USER_NOTIF,
            Action::Errno(errno) => libc::SECCOMP_RET_ERRNO | errno as u32,
        }
    }

    /// The action a `SECCOMP_RET_*` value stands for, if it is one of ours.
    pub fn from_ret(ret: u32) -> Option<Self> {
        match ret & libc::SECCOMP_RET_ACTION_FULL {
            libc::SECCOMP_RET_ALLOW => Some(Action::Allow),
            libc::SECCOMP_RET_USER_NOTIF => Some(Action::Notify),
            libc::SECCOMP_RET_ERRNO => Some(Action::Errno((ret & libc::SECCOMP_RET_DATA) as u16)),
            _ => None,
        }
    }

    fn watched(on: bool) -> Self {
        if on { Action::Notify } else { Action::Allow }
    }
}

/// How a syscall is treated, before looking at what is watched.
#[derive(Debug, Clone, Copy)]
enum Class {
    /// Refused whatever is watched.
    Refused(Action),
    /// `seccomp(2)`: a nested listener's USER_NOTIF would take precedence
    /// over ours and could let through a call we never saw.
    Seccomp,
    /// `open`, `openat`: the flags register tells reads from writes.
    Open { flags_arg: usize },
    /// `openat2`: the flags are in memory, so any open is seen.
    Openat2,
    /// Creates, removes, renames or changes metadata.
    Write,
    /// Executes.
    Exec,
    /// Reads metadata or names; `magic` says what in-sandbox commands need.
    Stat(Magic),
    /// Names a socket address.
    Net,
    /// `sendto`: names an address only when `dest_addr` is not NULL.
    SendTo,
    /// `unshare`: a new user namespace when the flags hold CLONE_NEWUSER.
    NewUserNs { flags_arg: usize },
    /// `setns`: may enter a user namespace (the supervisor looks at
    /// `nstype`; the call is rare).
    Setns,
    /// `ioctl`: [`TIOCSTI`] (refused), and the requests in [`INODE_IOCTLS`],
    /// which change an inode or a filesystem even through a read-only
    /// descriptor, while writes are watched.
    Ioctl,
    /// `setrlimit`, `prlimit64` of RLIMIT_CORE: core dumps are files the
    /// kernel writes wherever the process is.
    CoreLimit { resource_arg: usize },
    /// Reaches another process, named by its arguments.
    Tree,
    /// `ptrace`: only the requests that start tracing name a new process;
    /// the others act on a tracee already attached.
    Ptrace,
    /// `clone` with `CLONE_PARENT` (the child gets its creator's parent,
    /// which `lock:exec` must not take for its creator) or with
    /// CLONE_NEWUSER (a new user namespace).
    Clone,
    /// `prctl(PR_SET_CHILD_SUBREAPER)`: orphans below then reparent inside
    /// the tree, which `lock:exec` must know.
    Subreaper,
    /// `memfd_create`: a memfd lives on an internal mount, which Landlock's
    /// execute right never covers; seen while exec is, so that the
    /// supervisor can make it non-executable.
    Memfd,
}

/// `TIOCSTI` from `<asm-generic/ioctls.h>`: pushes bytes into a
/// terminal's input queue, where the shell outside that shares the
/// terminal reads them as typed commands once stockade exits. Refused
/// under every policy: by the supervisor, reported, while writes are
/// watched; by the filter otherwise. The kernel compares the request as an
/// `unsigned int`, so the low half is what counts.
pub const TIOCSTI: u32 = libc::TIOCSTI as u32;

/// TIOCSTI and [`INODE_IOCTLS`], sorted (TIOCSTI is below them all).
static WRITE_IOCTLS: [u32; INODE_IOCTLS.len() + 1] = {
    let mut all = [TIOCSTI; INODE_IOCTLS.len() + 1];
    let mut i = 0;
    while i < INODE_IOCTLS.len() {
        all[i + 1] = INODE_IOCTLS[i];
        i += 1;
    }
    all
};

/// The ptrace requests that start tracing: `PTRACE_TRACEME`,
/// `PTRACE_ATTACH`, `PTRACE_SEIZE`. Compared on the low half only (the
/// request is a `long`): a request with upper bits set is one the kernel
/// does not know, so notifying it too errs on the seen side.
const PTRACE_STARTS: &[u32] = &[0, 16, 0x4206];
const CLONE_PARENT: u64 = libc::CLONE_PARENT as u64;
const PR_SET_CHILD_SUBREAPER: &[u32] = &[libc::PR_SET_CHILD_SUBREAPER as u32];

/// Which stat-family calls carry in-sandbox commands.
#[derive(Debug, Clone, Copy)]
enum Magic {
    /// Not used for commands.
    No,
    /// Used for commands.
    Yes,
    /// Used, except when the flags hold `AT_EMPTY_PATH`: glibc's `fstat` is
    /// `newfstatat(fd, "", AT_EMPTY_PATH)` and must stay in the kernel.
    UnlessEmptyPath { flags_arg: usize },
}

/// Every syscall that is not plainly allowed under every [`Watch`].
const TABLE: &[(i64, Class)] = {
    use Class::*;
    use libc::*;
    &[
        // Refused: they bypass path checks, or change what a path names
        // behind the supervisor's back. io_uring gets ENOSYS so runtimes
        // fall back to plain syscalls.
        (SYS_io_uring_setup, Refused(Action::ENOSYS)),
        (SYS_io_uring_enter, Refused(Action::ENOSYS)),
        (SYS_io_uring_register, Refused(Action::ENOSYS)),
        (SYS_open_by_handle_at, Refused(Action::EPERM)),
        (SYS_mount, Refused(Action::EPERM)),
        (SYS_umount2, Refused(Action::EPERM)),
        (SYS_pivot_root, Refused(Action::EPERM)),
        (SYS_chroot, Refused(Action::EPERM)),
        (SYS_move_mount, Refused(Action::EPERM)),
        (SYS_open_tree, Refused(Action::EPERM)),
        (syscalls::SYS_OPEN_TREE_ATTR, Refused(Action::EPERM)),
        (SYS_fsopen, Refused(Action::EPERM)),
        (SYS_fsmount, Refused(Action::EPERM)),
        (SYS_fspick, Refused(Action::EPERM)),
        (SYS_fsconfig, Refused(Action::EPERM)),
        (SYS_mount_setattr, Refused(Action::EPERM)),
        (SYS_seccomp, Seccomp),
        // clone3 keeps its flags in memory, out of BPF's sight: ENOSYS
        // makes libc fall back to clone, whose flags the filter sees.
        (SYS_clone3, Refused(Action::ENOSYS)),
        (SYS_unshare, NewUserNs { flags_arg: 0 }),
        (SYS_setns, Setns),
        // Opens.
        (SYS_open, Open { flags_arg: 1 }),
        (SYS_openat, Open { flags_arg: 2 }),
        (SYS_openat2, Openat2),
        // Writes. fd-based metadata changes are here because the kernel
        // allows them on read-only and O_PATH descriptors.
        (SYS_creat, Write),
        (SYS_mkdir, Write),
        (SYS_mkdirat, Write),
        (SYS_mknod, Write),
        (SYS_mknodat, Write),
        (SYS_rmdir, Write),
        (SYS_unlink, Write),
        (SYS_unlinkat, Write),
        (SYS_rename, Write),
        (SYS_renameat, Write),
        (SYS_renameat2, Write),
        (SYS_link, Write),
        (SYS_linkat, Write),
        (SYS_symlink, Write),
        (SYS_symlinkat, Write),
        (SYS_truncate, Write),
        (SYS_chmod, Write),
        (SYS_fchmodat, Write),
        (SYS_fchmodat2, Write),
        (SYS_chown, Write),
        (SYS_lchown, Write),
        (SYS_fchownat, Write),
        (SYS_utime, Write),
        (SYS_utimes, Write),
        (SYS_futimesat, Write),
        (SYS_utimensat, Write),
        (SYS_setxattr, Write),
        (SYS_lsetxattr, Write),
        (SYS_removexattr, Write),
        (SYS_lremovexattr, Write),
        (syscalls::SYS_SETXATTRAT, Write),
        (syscalls::SYS_REMOVEXATTRAT, Write),
        (syscalls::SYS_FILE_SETATTR, Write),
        (SYS_fchmod, Write),
        (SYS_fchown, Write),
        (SYS_fsetxattr, Write),
        (SYS_fremovexattr, Write),
        // Writes the kernel performs later on the caller's behalf.
        (SYS_acct, Write),
        (SYS_ioctl, Ioctl),
        (SYS_setrlimit, CoreLimit { resource_arg: 0 }),
        (SYS_prlimit64, CoreLimit { resource_arg: 1 }),
        // Exec.
        (SYS_execve, Exec),
        (SYS_execveat, Exec),
        // Stat family; the ones a shell's `test -e` may use carry commands.
        (SYS_stat, Stat(Magic::Yes)),
        (SYS_lstat, Stat(Magic::Yes)),
        (SYS_access, Stat(Magic::Yes)),
        (SYS_faccessat, Stat(Magic::Yes)),
        (SYS_faccessat2, Stat(Magic::Yes)),
        (
            SYS_newfstatat,
            Stat(Magic::UnlessEmptyPath { flags_arg: 3 }),
        ),
        (SYS_statx, Stat(Magic::UnlessEmptyPath { flags_arg: 2 })),
        (SYS_readlink, Stat(Magic::No)),
        (SYS_readlinkat, Stat(Magic::No)),
        (SYS_getxattr, Stat(Magic::No)),
        (SYS_lgetxattr, Stat(Magic::No)),
        (SYS_listxattr, Stat(Magic::No)),
        (SYS_llistxattr, Stat(Magic::No)),
        (syscalls::SYS_GETXATTRAT, Stat(Magic::No)),
        (syscalls::SYS_LISTXATTRAT, Stat(Magic::No)),
        (syscalls::SYS_FILE_GETATTR, Stat(Magic::No)),
        (SYS_chdir, Stat(Magic::No)),
        // Network.
        (SYS_bind, Net),
        (SYS_connect, Net),
        (SYS_sendmsg, Net),
        (SYS_sendmmsg, Net),
        (SYS_sendto, SendTo),
        // Other processes: kept inside the tree.
        (SYS_ptrace, Ptrace),
        (SYS_process_vm_readv, Tree),
        (SYS_process_vm_writev, Tree),
        (SYS_pidfd_getfd, Tree),
        (SYS_kill, Tree),
        (SYS_tkill, Tree),
        (SYS_tgkill, Tree),
        (SYS_rt_sigqueueinfo, Tree),
        (SYS_rt_tgsigqueueinfo, Tree),
        (SYS_pidfd_send_signal, Tree),
        // Process creation that lock:exec must follow.
        (SYS_clone, Clone),
        (SYS_prctl, Subreaper),
        (SYS_memfd_create, Memfd),
    ]
};

/// The decision for one syscall number under one [`Watch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The same for every call.
    Fixed(Action),
    /// `any` if `args[arg] & mask` is non-zero, else `none`. Masks that fit
    /// in the low half check only the low 32 bits: `int` arguments arrive
    /// with whatever the caller left in the upper half of the register.
    Masked {
        arg: usize,
        mask: u64,
        any: Action,
        none: Action,
    },
    /// `any` if the low 32 bits of `args[arg]` are one of `values`
    /// (sorted), else `none`.
    OneOf {
        arg: usize,
        values: &'static [u32],
        any: Action,
        none: Action,
    },
}

impl Rule {
    fn one_of(arg: usize, values: &'static [u32], any: Action, none: Action) -> Self {
        if any == none {
            Rule::Fixed(any)
        } else {
            Rule::OneOf {
                arg,
                values,
                any,
                none,
            }
        }
    }

    fn masked(arg: usize, mask: u64, any: Action, none: Action) -> Self {
        if any == none {
            Rule::Fixed(any)
        } else {
            Rule::Masked {
                arg,
                mask,
                any,
                none,
            }
        }
    }

    fn of(class: Class, watch: &Watch) -> Self {
        let on = Action::watched;
        match class {
            Class::Refused(action) => Rule::Fixed(action),
            Class::Seccomp => Rule::masked(1, NEW_LISTENER, Action::EPERM, Action::Allow),
            Class::Open { flags_arg } => Rule::masked(
                flags_arg,
                u64::from(OPEN_WRITE_FLAGS),
                on(watch.write),
                on(watch.read),
            ),
            Class::Openat2 => Rule::Fixed(on(watch.read || watch.write)),
            Class::Write => Rule::Fixed(on(watch.write)),
            Class::Exec => Rule::Fixed(on(watch.exec)),
            Class::Stat(_) if watch.stat => Rule::Fixed(Action::Notify),
            Class::Stat(_) if !watch.magic => Rule::Fixed(Action::Allow),
            Class::Stat(Magic::No) => Rule::Fixed(Action::Allow),
            Class::Stat(Magic::Yes) => Rule::Fixed(Action::Notify),
            Class::Stat(Magic::UnlessEmptyPath { flags_arg }) => {
                Rule::masked(flags_arg, AT_EMPTY_PATH, Action::Allow, Action::Notify)
            }
            Class::Net => Rule::Fixed(on(watch.net)),
            Class::SendTo => Rule::masked(4, u64::MAX, on(watch.net), Action::Allow),
            Class::NewUserNs { flags_arg } => {
                Rule::masked(flags_arg, CLONE_NEWUSER, on(watch.user_ns), Action::Allow)
            }
            Class::Setns => Rule::Fixed(on(watch.user_ns)),
            Class::Ioctl if watch.write => {
                Rule::one_of(1, &WRITE_IOCTLS, Action::Notify, Action::Allow)
            }
            // Nothing watched costs no notification: refused unreported.
            Class::Ioctl => Rule::one_of(1, &[TIOCSTI], Action::EPERM, Action::Allow),
            Class::CoreLimit { resource_arg } => {
                Rule::one_of(resource_arg, RLIMIT_CORE, on(watch.write), Action::Allow)
            }
            Class::Tree => Rule::Fixed(on(watch.tree)),
            Class::Ptrace => Rule::one_of(0, PTRACE_STARTS, on(watch.tree), Action::Allow),
            Class::Clone => {
                let mask = if watch.user_ns { CLONE_NEWUSER } else { 0 }
                    | if watch.magic { CLONE_PARENT } else { 0 };
                if mask == 0 {
                    Rule::Fixed(Action::Allow)
                } else {
                    Rule::masked(0, mask, Action::Notify, Action::Allow)
                }
            }
            Class::Subreaper => {
                Rule::one_of(0, PR_SET_CHILD_SUBREAPER, on(watch.magic), Action::Allow)
            }
            Class::Memfd => Rule::Fixed(on(watch.exec)),
        }
    }

    fn may_notify(self) -> bool {
        match self {
            Rule::Fixed(action) => action == Action::Notify,
            Rule::Masked { any, none, .. } | Rule::OneOf { any, none, .. } => {
                any == Action::Notify || none == Action::Notify
            }
        }
    }
}

/// A run of syscall numbers, from `start` up to the next segment's start,
/// that share one rule.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: u32,
    rule: Rule,
}

/// Cuts `0..X32_SYSCALL_BIT` into segments; numbers not in the table are
/// allowed, and neighbours with the same rule merge.
fn segments(watch: &Watch) -> Vec<Segment> {
    let mut rules: Vec<(u32, Rule)> = TABLE
        .iter()
        .map(|&(nr, class)| (nr as u32, Rule::of(class, watch)))
        .filter(|&(_, rule)| rule != Rule::Fixed(Action::Allow))
        .collect();
    rules.sort_by_key(|&(nr, _)| nr);

    let allow = Rule::Fixed(Action::Allow);
    let mut dense = Vec::with_capacity(2 * rules.len() + 1);
    let mut next = 0;
    for (nr, rule) in rules {
        if nr > next {
            dense.push(Segment {
                start: next,
                rule: allow,
            });
        }
        dense.push(Segment { start: nr, rule });
        next = nr + 1;
    }
    let first_unknown = syscalls::FIRST_UNKNOWN as u32;
    if next < first_unknown {
        dense.push(Segment {
            start: next,
            rule: allow,
        });
    }
    // Fail closed on syscalls newer than the table.
    dense.push(Segment {
        start: next.max(first_unknown),
        rule: Rule::Fixed(Action::ENOSYS),
    });

    let mut segments: Vec<Segment> = Vec::with_capacity(dense.len());
    for segment in dense {
        match segments.last() {
            Some(last) if last.rule == segment.rule => {}
            _ => segments.push(segment),
        }
    }
    segments
}

/// The shared `RET` instruction for each action, emitted at the end.
#[derive(Default)]
struct Returns(BTreeMap<Action, Label>);

impl Returns {
    fn to(&mut self, asm: &mut Assembler, action: Action) -> Label {
        *self.0.entry(action).or_insert_with(|| asm.label())
    }

    fn emit(self, asm: &mut Assembler) {
        for (action, label) in self.0 {
            asm.bind(label);
            asm.ret(action.ret());
        }
    }
}

/// Emits the binary search over `segments`, with `nr` in the accumulator.
/// Every path ends in a jump to a shared return: nothing falls through.
fn emit_search(asm: &mut Assembler, rets: &mut Returns, segments: &[Segment]) {
    match segments {
        [] => unreachable!("segments cover every number"),
        [only] => emit_rule(asm, rets, only.rule),
        _ => {
            let (left, right) = segments.split_at(segments.len() / 2);
            let split = right[0].start;
            match (fixed(left), fixed(right)) {
                (Some(l), Some(r)) => {
                    let (l, r) = (rets.to(asm, l), rets.to(asm, r));
                    asm.jge(split, r, l);
                }
                (Some(l), None) => {
                    let l = rets.to(asm, l);
                    asm.jge(split, Target::Next, l);
                    emit_search(asm, rets, right);
                }
                (None, Some(r)) => {
                    let r = rets.to(asm, r);
                    asm.jge(split, r, Target::Next);
                    emit_search(asm, rets, left);
                }
                (None, None) => {
                    let right_start = asm.label();
                    asm.jge(split, right_start, Target::Next);
                    emit_search(asm, rets, left);
                    asm.bind(right_start);
                    emit_search(asm, rets, right);
                }
            }
        }
    }
}

/// The action of a subtree that is a single fixed segment.
fn fixed(segments: &[Segment]) -> Option<Action> {
    match segments {
        [
            Segment {
                rule: Rule::Fixed(action),
                ..
            },
        ] => Some(*action),
        _ => None,
    }
}

/// Emits the leaf for one rule: the only place arguments are loaded.
fn emit_rule(asm: &mut Assembler, rets: &mut Returns, rule: Rule) {
    match rule {
        Rule::Fixed(action) => {
            let to = rets.to(asm, action);
            asm.goto(to);
        }
        Rule::Masked {
            arg,
            mask,
            any,
            none,
        } => {
            let (any, none) = (rets.to(asm, any), rets.to(asm, none));
            let halves = [
                (offset::arg_low(arg), mask as u32),
                (offset::arg_high(arg), (mask >> 32) as u32),
            ];
            let mut tests = halves.into_iter().filter(|&(_, bits)| bits != 0).peekable();
            while let Some((word, bits)) = tests.next() {
                asm.load(word);
                let otherwise = if tests.peek().is_some() {
                    Target::Next
                } else {
                    none.into()
                };
                asm.jset(bits, any, otherwise);
            }
        }
        Rule::OneOf {
            arg,
            values,
            any,
            none,
        } => {
            let (any, none) = (rets.to(asm, any), rets.to(asm, none));
            asm.load(offset::arg_low(arg));
            emit_one_of(asm, values, any, none);
        }
    }
}

/// A binary search for the accumulator among sorted `values`: `any` when
/// found, `none` otherwise. ioctl is hot, so a long list costs a few
/// compares, not one per value.
fn emit_one_of(asm: &mut Assembler, values: &[u32], any: Label, none: Label) {
    debug_assert!(values.windows(2).all(|w| w[0] < w[1]), "sorted values");
    match values {
        [] => asm.goto(none),
        [only] => asm.jeq(*only, any, none),
        [first, second] => {
            asm.jeq(*first, any, Target::Next);
            asm.jeq(*second, any, none);
        }
        _ => {
            let (left, right) = values.split_at(values.len() / 2);
            let right_start = asm.label();
            asm.jge(right[0], right_start, Target::Next);
            emit_one_of(asm, left, any, none);
            asm.bind(right_start);
            emit_one_of(asm, right, any, none);
        }
    }
}

/// The seccomp program for `watch`, ready for `SECCOMP_SET_MODE_FILTER`.
///
/// # Panics
///
/// Never for any [`Watch`]: the program is a few hundred instructions at
/// most, and every combination is assembled in the tests.
pub fn build(watch: &Watch) -> Vec<libc::sock_filter> {
    let mut asm = Assembler::new();
    let mut rets = Returns::default();
    let enosys = rets.to(&mut asm, Action::ENOSYS);

    // i386 (`int 0x80`) and x32 reuse numbers for other calls: refused.
    asm.load(offset::ARCH);
    asm.jeq(AUDIT_ARCH_X86_64, Target::Next, enosys);
    asm.load(offset::NR);
    asm.jge(X32_SYSCALL_BIT, enosys, Target::Next);
    emit_search(&mut asm, &mut rets, &segments(watch));
    rets.emit(&mut asm);

    asm.finish()
        .expect("the generated program assembles for every watch")
}

/// The syscalls that reach the supervisor under `watch` for some arguments.
pub fn notified_syscalls(watch: &Watch) -> Vec<i64> {
    let mut notified: Vec<i64> = TABLE
        .iter()
        .filter(|&&(_, class)| Rule::of(class, watch).may_notify())
        .map(|&(nr, _)| nr)
        .collect();
    notified.sort_unstable();
    notified
}

#[cfg(test)]
mod tests;
