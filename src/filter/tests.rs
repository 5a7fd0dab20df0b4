//! Verdict-level tests of the generated program, run through the interpreter
//! and compared with a reference written independently of `TABLE`.

use super::bpf::op;
use super::*;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;
const ERR_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
const ERR_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;

// The reference's own lists, by number, each with the name it claims; the
// names are checked against `libc` in `reference_lists_name_the_right_calls`.
const ENOSYS_CALLS: &[(i64, &str)] = &[
    (425, "io_uring_setup"),
    (426, "io_uring_enter"),
    (427, "io_uring_register"),
];
const EPERM_CALLS: &[(i64, &str)] = &[
    (304, "open_by_handle_at"),
    (165, "mount"),
    (166, "umount2"),
    (155, "pivot_root"),
    (161, "chroot"),
    (429, "move_mount"),
    (428, "open_tree"),
    (467, "open_tree_attr"),
    (430, "fsopen"),
    (432, "fsmount"),
    (433, "fspick"),
    (431, "fsconfig"),
    (442, "mount_setattr"),
];
/// Refused with ENOSYS so that libc falls back to clone.
const CLONE3: i64 = 435;
const WRITE_CALLS: &[(i64, &str)] = &[
    (85, "creat"),
    (469, "file_setattr"),
    (83, "mkdir"),
    (258, "mkdirat"),
    (133, "mknod"),
    (259, "mknodat"),
    (84, "rmdir"),
    (87, "unlink"),
    (263, "unlinkat"),
    (82, "rename"),
    (264, "renameat"),
    (316, "renameat2"),
    (86, "link"),
    (265, "linkat"),
    (88, "symlink"),
    (266, "symlinkat"),
    (76, "truncate"),
    (90, "chmod"),
    (268, "fchmodat"),
    (452, "fchmodat2"),
    (92, "chown"),
    (94, "lchown"),
    (260, "fchownat"),
    (132, "utime"),
    (235, "utimes"),
    (261, "futimesat"),
    (280, "utimensat"),
    (188, "setxattr"),
    (189, "lsetxattr"),
    (197, "removexattr"),
    (198, "lremovexattr"),
    (463, "setxattrat"),
    (466, "removexattrat"),
    (91, "fchmod"),
    (93, "fchown"),
    (190, "fsetxattr"),
    (199, "fremovexattr"),
    (163, "acct"),
];
const EXEC_CALLS: &[(i64, &str)] = &[(59, "execve"), (322, "execveat")];
/// Stat calls that in-sandbox commands can arrive on, whatever the flags.
const MAGIC_STAT_CALLS: &[(i64, &str)] = &[
    (4, "stat"),
    (6, "lstat"),
    (21, "access"),
    (269, "faccessat"),
    (439, "faccessat2"),
];
/// Stat calls that carry commands unless the flags say `AT_EMPTY_PATH`,
/// with the index of the flags argument.
const MAGIC_UNLESS_EMPTY_PATH: &[(i64, &str, usize)] = &[(262, "newfstatat", 3), (332, "statx", 2)];
const OTHER_STAT_CALLS: &[(i64, &str)] = &[
    (89, "readlink"),
    (468, "file_getattr"),
    (267, "readlinkat"),
    (191, "getxattr"),
    (192, "lgetxattr"),
    (194, "listxattr"),
    (195, "llistxattr"),
    (464, "getxattrat"),
    (465, "listxattrat"),
    (80, "chdir"),
];
/// Calls that reach another process, watched for the tree whatever the
/// arguments.
const TREE_CALLS: &[(i64, &str)] = &[
    (311, "process_vm_writev"),
    (310, "process_vm_readv"),
    (438, "pidfd_getfd"),
    (62, "kill"),
    (200, "tkill"),
    (234, "tgkill"),
    (129, "rt_sigqueueinfo"),
    (297, "rt_tgsigqueueinfo"),
    (424, "pidfd_send_signal"),
];
const NET_CALLS: &[(i64, &str)] = &[
    (49, "bind"),
    (42, "connect"),
    (46, "sendmsg"),
    (307, "sendmmsg"),
];

fn listed(list: &[(i64, &str)], nr: i64) -> bool {
    list.iter().any(|&(n, _)| n == nr)
}

fn notify_if(on: bool) -> u32 {
    if on { NOTIFY } else { ALLOW }
}

/// What the filter must answer, written out plainly from the brief.
fn reference(watch: &Watch, data: &SeccompData) -> u32 {
    if data.arch != 0xc000_003e || data.nr as u32 >= 0x4000_0000 {
        return ERR_ENOSYS;
    }
    let nr = i64::from(data.nr);
    let low = |arg: usize| data.args[arg] as u32;
    let open_decision = |flags: u32| {
        let writes = libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | 0o2000_0000;
        if flags & writes as u32 != 0 {
            notify_if(watch.write)
        } else {
            notify_if(watch.read)
        }
    };
    if listed(ENOSYS_CALLS, nr) || nr == CLONE3 || nr >= 470 {
        return ERR_ENOSYS;
    }
    if listed(EPERM_CALLS, nr) {
        return ERR_EPERM;
    }
    if listed(WRITE_CALLS, nr) {
        return notify_if(watch.write);
    }
    if listed(EXEC_CALLS, nr) {
        return notify_if(watch.exec);
    }
    if listed(NET_CALLS, nr) {
        return notify_if(watch.net);
    }
    if listed(TREE_CALLS, nr) {
        return notify_if(watch.tree);
    }
    let stat_calls = MAGIC_STAT_CALLS.iter().chain(OTHER_STAT_CALLS);
    let is_stat = stat_calls.clone().any(|&(n, _)| n == nr)
        || MAGIC_UNLESS_EMPTY_PATH.iter().any(|&(n, ..)| n == nr);
    if is_stat {
        if watch.stat {
            return NOTIFY;
        }
        if !watch.magic {
            return ALLOW;
        }
        if listed(MAGIC_STAT_CALLS, nr) {
            return NOTIFY;
        }
        return match MAGIC_UNLESS_EMPTY_PATH.iter().find(|&&(n, ..)| n == nr) {
            Some(&(_, _, flags)) if low(flags) & 0x1000 != 0 => ALLOW,
            Some(_) => NOTIFY,
            None => ALLOW,
        };
    }
    match nr {
        317 if low(1) & (1 << 3) != 0 => ERR_EPERM,
        2 => open_decision(low(1)),
        257 => open_decision(low(2)),
        437 => notify_if(watch.read || watch.write),
        44 => notify_if(watch.net && data.args[4] != 0),
        // clone: CLONE_NEWUSER (new user namespaces) or CLONE_PARENT
        // (lock:exec ancestry), in the low half of the flags; unshare:
        // CLONE_NEWUSER.
        56 => notify_if(
            (watch.user_ns && low(0) & 0x1000_0000 != 0) || (watch.magic && low(0) & 0x8000 != 0),
        ),
        272 => notify_if(watch.user_ns && low(0) & 0x1000_0000 != 0),
        308 => notify_if(watch.user_ns),
        // ioctl(TIOCSTI), typing into a terminal, is refused always (by
        // the supervisor while writes are watched); the inode-changing
        // requests are seen while writes are watched.
        16 if low(1) == 0x5412 && !watch.write => ERR_EPERM,
        16 => notify_if(watch.write && (low(1) == 0x5412 || INODE_IOCTLS.contains(&low(1)))),
        160 => notify_if(watch.write && low(0) == 4),
        302 => notify_if(watch.write && low(1) == 4),
        // ptrace: TRACEME, ATTACH, SEIZE start tracing.
        101 => notify_if(watch.tree && matches!(low(0), 0 | 16 | 0x4206)),
        // prctl(PR_SET_CHILD_SUBREAPER).
        157 => notify_if(watch.magic && low(0) == 36),
        // memfd_create, made non-executable while exec rules hold.
        319 => notify_if(watch.exec),
        _ => ALLOW,
    }
}

#[test]
fn reference_lists_name_the_right_calls() {
    let lists = [
        ENOSYS_CALLS,
        EPERM_CALLS,
        WRITE_CALLS,
        EXEC_CALLS,
        MAGIC_STAT_CALLS,
        OTHER_STAT_CALLS,
        NET_CALLS,
        TREE_CALLS,
    ];
    let pairs = lists.iter().flat_map(|list| list.iter().copied());
    let pairs = pairs.chain(
        MAGIC_UNLESS_EMPTY_PATH
            .iter()
            .map(|&(n, name, _)| (n, name)),
    );
    let singles = [
        (2, "open"),
        (257, "openat"),
        (437, "openat2"),
        (317, "seccomp"),
        (44, "sendto"),
        (CLONE3, "clone3"),
        (56, "clone"),
        (272, "unshare"),
        (308, "setns"),
        (16, "ioctl"),
        (160, "setrlimit"),
        (302, "prlimit64"),
        (101, "ptrace"),
        (157, "prctl"),
    ];
    for (nr, name) in pairs.chain(singles) {
        assert_eq!(syscall_name(nr), Some(name), "{nr}");
    }
}

/// Every combination of the eight switches.
fn all_watches() -> impl Iterator<Item = Watch> {
    (0..256u32).map(|bits| Watch {
        read: bits & 1 != 0,
        write: bits & 2 != 0,
        exec: bits & 4 != 0,
        stat: bits & 8 != 0,
        magic: bits & 16 != 0,
        net: bits & 32 != 0,
        user_ns: bits & 64 != 0,
        tree: bits & 128 != 0,
    })
}

fn call(nr: i64, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr: nr as i32,
        arch: AUDIT_ARCH_X86_64,
        instruction_pointer: 0x7f00_dead_beef,
        args,
    }
}

fn verdict(watch: &Watch, nr: i64, args: [u64; 6]) -> u32 {
    interpret(&build(watch), &call(nr, args)).unwrap()
}

const NO_ARGS: [u64; 6] = [0; 6];

/// Arguments with `value` at `index` and zero elsewhere.
fn arg(index: usize, value: u64) -> [u64; 6] {
    let mut args = NO_ARGS;
    args[index] = value;
    args
}

const PALUDIS: Watch = Watch {
    read: false,
    write: true,
    exec: true,
    stat: false,
    magic: true,
    net: true,
    user_ns: true,
    tree: true,
};

const EVERYTHING: Watch = Watch {
    read: true,
    write: true,
    exec: true,
    stat: true,
    magic: true,
    net: true,
    user_ns: true,
    tree: true,
};

#[test]
fn prologue_checks_arch_then_x32_bit() {
    let prog = build(&Watch::default());
    let head: Vec<_> = prog[..4].iter().map(|i| (i.code, i.jt, i.k)).collect();
    assert_eq!(
        head,
        [
            (op::LD_W_ABS, 0, 4),
            (op::JEQ_K, 0, AUDIT_ARCH_X86_64),
            (op::LD_W_ABS, 0, 0),
            (op::JGE_K, prog[3].jt, X32_SYSCALL_BIT),
        ]
    );
    let enosys_from_arch = 2 + usize::from(prog[1].jf);
    let enosys_from_x32 = 4 + usize::from(prog[3].jt);
    assert_eq!(prog[enosys_from_arch].code, op::RET_K);
    assert_eq!(prog[enosys_from_arch].k, ERR_ENOSYS);
    assert_eq!(enosys_from_x32, enosys_from_arch);
    assert_eq!(prog[3].jf, 0);
}

#[test]
fn i386_and_other_arches_get_enosys() {
    for watch in all_watches() {
        let prog = build(&watch);
        for arch in [AUDIT_ARCH_I386, 0, 0xc000_00b7, AUDIT_ARCH_X86_64 ^ 1] {
            for nr in [0, 1, 2, 5, 11, 59, 257] {
                let data = SeccompData {
                    arch,
                    ..call(nr, NO_ARGS)
                };
                assert_eq!(interpret(&prog, &data), Ok(ERR_ENOSYS), "{arch:#x} {nr}");
            }
        }
    }
}

#[test]
fn x32_numbers_get_enosys() {
    for watch in all_watches() {
        for nr in [
            0x4000_0000,
            0x4000_0000 | 2,
            0x4000_0000 | 257,
            0x7fff_ffff,
            -1,
        ] {
            assert_eq!(verdict(&watch, nr, NO_ARGS), ERR_ENOSYS, "{nr:#x}");
        }
    }
}

#[test]
fn fd_io_is_allowed_under_every_watch() {
    let fd_calls = [
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_close,
        libc::SYS_fstat,
        libc::SYS_lseek,
        libc::SYS_mmap,
        libc::SYS_pread64,
        libc::SYS_getdents64,
        libc::SYS_fgetxattr,
        libc::SYS_ftruncate,
    ];
    for watch in all_watches() {
        for nr in fd_calls {
            assert_eq!(verdict(&watch, nr, [u64::MAX; 6]), ALLOW, "{nr} {watch:?}");
        }
    }
}

const O_WRONLY: u64 = libc::O_WRONLY as u64;
const O_RDWR: u64 = libc::O_RDWR as u64;
const O_CREAT: u64 = libc::O_CREAT as u64;
const O_TRUNC: u64 = libc::O_TRUNC as u64;
const O_RDONLY_DIR: u64 = (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;

fn reads_only() -> Watch {
    Watch {
        read: true,
        ..Watch::default()
    }
}

fn writes_only() -> Watch {
    Watch {
        write: true,
        ..Watch::default()
    }
}

#[test]
fn openat_read_only_is_notified_only_when_reads_are_watched() {
    let openat = libc::SYS_openat;
    assert_eq!(verdict(&writes_only(), openat, arg(2, 0)), ALLOW);
    assert_eq!(verdict(&writes_only(), openat, arg(2, O_RDONLY_DIR)), ALLOW);
    assert_eq!(verdict(&reads_only(), openat, arg(2, 0)), NOTIFY);
    assert_eq!(verdict(&reads_only(), openat, arg(2, O_RDONLY_DIR)), NOTIFY);
}

#[test]
fn openat_for_writing_is_notified_only_when_writes_are_watched() {
    let openat = libc::SYS_openat;
    for flags in [O_WRONLY | O_CREAT, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC] {
        assert_eq!(verdict(&writes_only(), openat, arg(2, flags)), NOTIFY);
        assert_eq!(verdict(&reads_only(), openat, arg(2, flags)), ALLOW);
    }
}

#[test]
fn open_takes_flags_from_its_second_argument() {
    let open = libc::SYS_open;
    assert_eq!(verdict(&writes_only(), open, arg(1, O_WRONLY)), NOTIFY);
    assert_eq!(verdict(&writes_only(), open, arg(2, O_WRONLY)), ALLOW);
    assert_eq!(verdict(&reads_only(), open, arg(1, 0)), NOTIFY);
}

#[test]
fn o_tmpfile_is_a_write_but_o_directory_alone_is_not() {
    let tmpfile = (libc::O_TMPFILE | libc::O_RDWR) as u64;
    assert_eq!(
        verdict(&writes_only(), libc::SYS_openat, arg(2, tmpfile)),
        NOTIFY
    );
    let bare = 0o2000_0000;
    assert_eq!(
        verdict(&writes_only(), libc::SYS_openat, arg(2, bare)),
        NOTIFY
    );
    let dir = libc::O_DIRECTORY as u64;
    assert_eq!(
        verdict(&writes_only(), libc::SYS_openat, arg(2, dir)),
        ALLOW
    );
}

#[test]
fn open_flags_are_read_from_the_low_half_only() {
    let run = trace(&build(&writes_only()), &call(libc::SYS_openat, NO_ARGS)).unwrap();
    assert_eq!(run.loads, [offset::ARCH, offset::NR, offset::arg_low(2)]);
}

#[test]
fn upper_half_of_open_flags_is_ignored() {
    for high in [1u64 << 32, 0xffff_ffff_0000_0000, 1 << 63] {
        let openat = libc::SYS_openat;
        assert_eq!(verdict(&writes_only(), openat, arg(2, high)), ALLOW);
        assert_eq!(verdict(&reads_only(), openat, arg(2, high)), NOTIFY);
        assert_eq!(
            verdict(&writes_only(), openat, arg(2, high | O_WRONLY)),
            NOTIFY
        );
        assert_eq!(
            verdict(&reads_only(), openat, arg(2, high | O_WRONLY)),
            ALLOW
        );
    }
}

#[test]
fn openat2_is_notified_when_reads_or_writes_are_watched() {
    assert_eq!(
        verdict(&Watch::default(), libc::SYS_openat2, NO_ARGS),
        ALLOW
    );
    assert_eq!(verdict(&reads_only(), libc::SYS_openat2, NO_ARGS), NOTIFY);
    assert_eq!(verdict(&writes_only(), libc::SYS_openat2, NO_ARGS), NOTIFY);
}

#[test]
fn refused_calls_are_refused_under_every_watch() {
    for watch in all_watches() {
        for &(nr, name) in ENOSYS_CALLS {
            assert_eq!(verdict(&watch, nr, NO_ARGS), ERR_ENOSYS, "{name}");
        }
        for &(nr, name) in EPERM_CALLS {
            assert_eq!(verdict(&watch, nr, NO_ARGS), ERR_EPERM, "{name}");
        }
    }
}

#[test]
fn seccomp_new_listener_is_refused_and_other_filters_are_allowed() {
    let new_listener = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    let seccomp = libc::SYS_seccomp;
    let set_filter = libc::SECCOMP_SET_MODE_FILTER as u64;
    for watch in all_watches() {
        let listener = [set_filter, new_listener | 1, 0, 0, 0, 0];
        assert_eq!(verdict(&watch, seccomp, listener), ERR_EPERM);
        assert_eq!(verdict(&watch, seccomp, [set_filter, 1, 0, 0, 0, 0]), ALLOW);
        assert_eq!(
            verdict(&watch, seccomp, [set_filter, 1 << 40, 0, 0, 0, 0]),
            ALLOW
        );
    }
}

fn net_only() -> Watch {
    Watch {
        net: true,
        ..Watch::default()
    }
}

#[test]
fn sendto_is_notified_only_with_an_address() {
    let sendto = libc::SYS_sendto;
    let both_halves = [
        offset::ARCH,
        offset::NR,
        offset::arg_low(4),
        offset::arg_high(4),
    ];
    let run = trace(&build(&net_only()), &call(sendto, NO_ARGS)).unwrap();
    assert_eq!(run.loads, both_halves);
    assert_eq!(verdict(&net_only(), sendto, NO_ARGS), ALLOW);
    assert_eq!(verdict(&net_only(), sendto, [3, 1, 2, 0, 0, 16]), ALLOW);
    for addr in [0x7ffd_1234_5678, 1, 1 << 32, 1 << 63] {
        assert_eq!(
            verdict(&net_only(), sendto, arg(4, addr)),
            NOTIFY,
            "{addr:#x}"
        );
        assert_eq!(verdict(&Watch::default(), sendto, arg(4, addr)), ALLOW);
    }
}

fn magic_only() -> Watch {
    Watch {
        magic: true,
        ..Watch::default()
    }
}

#[test]
fn fstat_through_newfstatat_stays_in_the_kernel_under_magic() {
    let empty = libc::AT_EMPTY_PATH as u64;
    let newfstatat = libc::SYS_newfstatat;
    assert_eq!(verdict(&magic_only(), newfstatat, arg(3, empty)), ALLOW);
    assert_eq!(verdict(&magic_only(), newfstatat, arg(3, 0)), NOTIFY);
    let nofollow = libc::AT_SYMLINK_NOFOLLOW as u64;
    assert_eq!(verdict(&magic_only(), newfstatat, arg(3, nofollow)), NOTIFY);
    assert_eq!(
        verdict(&magic_only(), libc::SYS_statx, arg(2, empty)),
        ALLOW
    );
    assert_eq!(
        verdict(&magic_only(), libc::SYS_statx, arg(3, empty)),
        NOTIFY
    );
    let stat = Watch {
        stat: true,
        ..magic_only()
    };
    assert_eq!(verdict(&stat, newfstatat, arg(3, empty)), NOTIFY);
}

#[test]
fn magic_watches_only_calls_that_test_for_existence() {
    for &(nr, name) in MAGIC_STAT_CALLS {
        assert_eq!(verdict(&magic_only(), nr, NO_ARGS), NOTIFY, "{name}");
    }
    for &(nr, name) in OTHER_STAT_CALLS {
        assert_eq!(verdict(&magic_only(), nr, NO_ARGS), ALLOW, "{name}");
    }
}

/// Every call of `list` is notified when `on` is watched, and allowed when
/// nothing is.
fn category_follows_its_switch(list: &[(i64, &str)], on: Watch) {
    for &(nr, name) in list {
        assert_eq!(verdict(&on, nr, NO_ARGS), NOTIFY, "{name} under {on:?}");
        assert_eq!(verdict(&Watch::default(), nr, NO_ARGS), ALLOW, "{name}");
        let others = Watch {
            read: !on.read,
            write: !on.write,
            exec: !on.exec,
            stat: !on.stat,
            magic: !on.magic,
            net: !on.net,
            user_ns: !on.user_ns,
            tree: !on.tree,
        };
        let expected = if list == MAGIC_STAT_CALLS || list == OTHER_STAT_CALLS {
            // The stat switch covers them all; nothing else does but magic.
            notify_if(others.stat || (others.magic && list == MAGIC_STAT_CALLS))
        } else {
            ALLOW
        };
        assert_eq!(
            verdict(&others, nr, NO_ARGS),
            expected,
            "{name} under {others:?}"
        );
    }
}

#[test]
fn write_calls_follow_the_write_switch() {
    category_follows_its_switch(WRITE_CALLS, writes_only());
}

#[test]
fn exec_calls_follow_the_exec_switch() {
    let exec = Watch {
        exec: true,
        ..Watch::default()
    };
    category_follows_its_switch(EXEC_CALLS, exec);
}

#[test]
fn stat_calls_follow_the_stat_switch() {
    let stat = Watch {
        stat: true,
        ..Watch::default()
    };
    category_follows_its_switch(MAGIC_STAT_CALLS, stat);
    category_follows_its_switch(OTHER_STAT_CALLS, stat);
}

#[test]
fn net_calls_follow_the_net_switch() {
    category_follows_its_switch(NET_CALLS, net_only());
}

fn tree_only() -> Watch {
    Watch {
        tree: true,
        ..Watch::default()
    }
}

#[test]
fn calls_that_reach_other_processes_follow_the_tree_switch() {
    category_follows_its_switch(TREE_CALLS, tree_only());
}

#[test]
fn ptrace_is_notified_only_for_requests_that_start_tracing() {
    for request in [0, 16, 0x4206] {
        assert_eq!(verdict(&tree_only(), 101, arg(0, request)), NOTIFY);
        assert_eq!(verdict(&Watch::default(), 101, arg(0, request)), ALLOW);
    }
    // PEEKDATA, POKEDATA, CONT, GETREGS, DETACH, INTERRUPT: a tracee only.
    for request in [2, 5, 7, 12, 17, 0x4207] {
        assert_eq!(verdict(&tree_only(), 101, arg(0, request)), ALLOW);
    }
    // Only the low half is compared: upper bits cannot hide an attach.
    assert_eq!(verdict(&tree_only(), 101, arg(0, 1 << 32 | 16)), NOTIFY);
}

#[test]
fn clone_is_notified_only_with_clone_parent_while_commands_are_possible() {
    let clone_parent = libc::CLONE_PARENT as u64 | libc::SIGCHLD as u64;
    assert_eq!(verdict(&magic_only(), 56, arg(0, clone_parent)), NOTIFY);
    assert_eq!(
        verdict(&magic_only(), 56, arg(0, libc::SIGCHLD as u64)),
        ALLOW
    );
    let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
    assert_eq!(verdict(&magic_only(), 56, arg(0, thread)), ALLOW);
    assert_eq!(
        verdict(&EVERYTHING_BUT_MAGIC, 56, arg(0, clone_parent)),
        ALLOW
    );
}

#[test]
fn prctl_is_notified_only_for_the_subreaper_option() {
    let subreaper = libc::PR_SET_CHILD_SUBREAPER as u64;
    assert_eq!(
        verdict(&magic_only(), 157, [subreaper, 1, 0, 0, 0, 0]),
        NOTIFY
    );
    let set_name = libc::PR_SET_NAME as u64;
    assert_eq!(verdict(&magic_only(), 157, arg(0, set_name)), ALLOW);
    let get = libc::PR_GET_CHILD_SUBREAPER as u64;
    assert_eq!(verdict(&magic_only(), 157, arg(0, get)), ALLOW);
    assert_eq!(
        verdict(&EVERYTHING_BUT_MAGIC, 157, arg(0, subreaper)),
        ALLOW
    );
}

const EVERYTHING_BUT_MAGIC: Watch = Watch {
    magic: false,
    ..EVERYTHING
};

/// Argument vectors that exercise every argument-dependent branch.
fn probes() -> Vec<[u64; 6]> {
    let mut probes = vec![
        NO_ARGS,
        [u64::MAX; 6],
        [0xffff_ffff_0000_0000; 6],
        [0, O_WRONLY | O_CREAT, O_WRONLY | O_CREAT, 0, 0, 0],
        [0, O_RDONLY_DIR, O_RDONLY_DIR, 0, 0, 0],
        [0, 0o2000_0000, 0o2000_0000, 0, 0, 0],
        [0, 0, 0x1000, 0x1000, 0, 0],
        [0, 0x100, 0x100, 0x100, 0, 0],
        [1, 8, 0, 0, 0, 0],
        arg(4, 1 << 32),
        arg(4, 0x7ffd_0000_1000),
        // clone/unshare flags with and without CLONE_NEWUSER; the upper
        // half is not part of an int.
        arg(0, 0x1000_0000 | libc::SIGCHLD as u64),
        arg(0, 0x1_0000_0000 | libc::CLONE_NEWNS as u64),
        // RLIMIT_CORE as setrlimit's and prlimit64's resource.
        [4, 4, 0, 0, 0, 0],
        [0x1_0000_0004, 0x1_0000_0004, 0, 0, 0, 0],
        [5, 3, 0, 0, 0, 0],
        // ptrace requests, prctl(PR_SET_CHILD_SUBREAPER), CLONE_PARENT.
        arg(0, 16),
        arg(0, 0x4206),
        arg(0, 36),
        arg(0, 0x8000 | 17),
        // ioctl(TIOCSTI), also with upper bits the kernel ignores.
        arg(1, 0x5412),
        arg(1, 0xffff_ffff_0000_5412),
    ];
    // Each inode ioctl, its neighbours, and with a high half.
    for &request in INODE_IOCTLS {
        for r in [request - 1, request, request + 1] {
            probes.push([3, u64::from(r), 0, 0, 0, 0]);
        }
        probes.push([3, 0xdead_0000_0000 | u64::from(request), 0, 0, 0, 0]);
    }
    // Terminal and socket ioctls that must stay in the kernel.
    for r in [
        libc::TCGETS,
        libc::TIOCGWINSZ,
        libc::FIONREAD,
        libc::FIOCLEX,
    ] {
        probes.push([0, r, 0, 0, 0, 0]);
    }
    // Each flag bit alone, where open, openat, statx and newfstatat keep
    // their flags.
    for bit in 0..32 {
        probes.push([0, 1 << bit, 1 << bit, 1 << bit, 0, 0]);
    }
    // A few arbitrary patterns (xorshift).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..6 {
        let mut args = NO_ARGS;
        for word in &mut args {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *word = state;
        }
        probes.push(args);
    }
    probes
}

fn numbers() -> impl Iterator<Item = i64> {
    (0..=470).chain([0x3fff_ffff, 1000, 0x4000_0000 | 59])
}

#[test]
fn every_number_and_watch_matches_the_reference() {
    let probes = probes();
    for watch in all_watches() {
        let prog = build(&watch);
        for nr in numbers() {
            for args in &probes {
                let data = call(nr, *args);
                let got = interpret(&prog, &data).unwrap();
                let want = reference(&watch, &data);
                assert_eq!(
                    got,
                    want,
                    "{} ({nr}) args {args:x?} under {watch:?}",
                    syscall_name(nr).unwrap_or("?")
                );
            }
        }
    }
}

#[test]
fn calls_decided_by_number_alone_never_load_arguments() {
    let probes = probes();
    for watch in all_watches() {
        let prog = build(&watch);
        for nr in numbers() {
            let verdicts: Vec<u32> = probes
                .iter()
                .map(|args| reference(&watch, &call(nr, *args)))
                .collect();
            if verdicts.iter().any(|&v| v != verdicts[0]) {
                continue;
            }
            for args in &probes {
                let run = trace(&prog, &call(nr, *args)).unwrap();
                assert!(
                    run.loads
                        .iter()
                        .all(|&at| at == offset::NR || at == offset::ARCH),
                    "{} ({nr}) loads {:?} under {watch:?}",
                    syscall_name(nr).unwrap_or("?"),
                    run.loads
                );
            }
        }
    }
}

#[test]
fn dispatch_costs_logarithmic_steps() {
    for watch in all_watches() {
        let prog = build(&watch);
        let worst = numbers()
            .map(|nr| trace(&prog, &call(nr, [u64::MAX; 6])).unwrap().executed)
            .max()
            .unwrap();
        // Prologue (4) + about log2(2 * table length) compares + a leaf of at
        // most 8 (the ioctl leaf: a load and a binary search over the
        // inode ioctls) + the return.
        assert!(worst <= 4 + 9 + 8 + 1, "{worst} steps under {watch:?}");
    }
}

#[test]
fn programs_pass_the_kernel_load_checks_for_every_watch() {
    for watch in all_watches() {
        let prog = build(&watch);
        assert_eq!(validate(&prog), Ok(()), "under {watch:?}");
    }
    let paludis = build(&PALUDIS).len();
    let everything = build(&EVERYTHING).len();
    // The inode ioctl search alone takes about 60.
    assert!(paludis < 200, "paludis watch takes {paludis} instructions");
    assert!(
        everything < 200,
        "full watch takes {everything} instructions"
    );
}

#[test]
fn nothing_watched_costs_only_the_refusals() {
    let mut notified = notified_syscalls(&Watch::default());
    assert!(notified.is_empty(), "{notified:?}");
    notified = notified_syscalls(&PALUDIS);
    for nr in [
        libc::SYS_openat,
        libc::SYS_execve,
        libc::SYS_stat,
        libc::SYS_connect,
    ] {
        assert!(notified.contains(&nr), "{nr}");
    }
    assert!(!notified.contains(&libc::SYS_readlink));
    assert!(!notified.contains(&libc::SYS_io_uring_setup));
}

#[test]
fn inode_ioctls_are_sorted_and_named() {
    assert!(INODE_IOCTLS.windows(2).all(|w| w[0] < w[1]));
    for &r in INODE_IOCTLS {
        assert!(inode_ioctl_name(r).is_some(), "{r:#x}");
    }
}

#[test]
fn inode_flag_ioctls_are_notified_and_terminal_ioctls_are_not() {
    for (request, want) in [
        (0x4008_6602, NOTIFY), // FS_IOC_SETFLAGS
        (0x401c_5820, NOTIFY), // FS_IOC_FSSETXATTR
        (0x4008_7602, NOTIFY), // FS_IOC_SETVERSION
        (0x8008_6601, ALLOW),  // FS_IOC_GETFLAGS
        (libc::TCGETS, ALLOW),
        (libc::FIONREAD, ALLOW),
    ] {
        assert_eq!(
            verdict(&PALUDIS, 16, [0, request, 0, 0, 0, 0]),
            want,
            "{request:#x}"
        );
        assert_eq!(
            verdict(&Watch::default(), 16, [0, request, 0, 0, 0, 0]),
            ALLOW
        );
    }
}

#[test]
fn new_user_namespaces_are_notified_unless_allowed_from_the_start() {
    let refused = Watch {
        user_ns: true,
        ..Watch::default()
    };
    let newuser = libc::CLONE_NEWUSER as u64;
    for nr in [libc::SYS_clone, libc::SYS_unshare] {
        assert_eq!(verdict(&refused, nr, arg(0, newuser)), NOTIFY);
        assert_eq!(verdict(&refused, nr, arg(0, libc::SIGCHLD as u64)), ALLOW);
        assert_eq!(
            verdict(&refused, nr, arg(0, libc::CLONE_NEWNS as u64)),
            ALLOW
        );
        assert_eq!(verdict(&Watch::default(), nr, arg(0, newuser)), ALLOW);
    }
    assert_eq!(verdict(&refused, libc::SYS_setns, NO_ARGS), NOTIFY);
    assert_eq!(verdict(&Watch::default(), libc::SYS_setns, NO_ARGS), ALLOW);
}

#[test]
fn clone3_gets_enosys_under_every_watch() {
    for watch in all_watches() {
        assert_eq!(verdict(&watch, libc::SYS_clone3, NO_ARGS), ERR_ENOSYS);
    }
}

#[test]
fn core_limit_changes_are_notified_when_writes_are_watched() {
    let core = libc::RLIMIT_CORE as u64;
    assert_eq!(verdict(&PALUDIS, libc::SYS_setrlimit, arg(0, core)), NOTIFY);
    assert_eq!(verdict(&PALUDIS, libc::SYS_prlimit64, arg(1, core)), NOTIFY);
    let nofile = libc::RLIMIT_NOFILE as u64;
    assert_eq!(
        verdict(&PALUDIS, libc::SYS_setrlimit, arg(0, nofile)),
        ALLOW
    );
    assert_eq!(
        verdict(&PALUDIS, libc::SYS_prlimit64, arg(1, nofile)),
        ALLOW
    );
    assert_eq!(
        verdict(&reads_only(), libc::SYS_setrlimit, arg(0, core)),
        ALLOW
    );
}

#[test]
fn table_has_no_duplicate_numbers() {
    let mut numbers: Vec<i64> = TABLE.iter().map(|&(nr, _)| nr).collect();
    numbers.sort_unstable();
    let len = numbers.len();
    numbers.dedup();
    assert_eq!(numbers.len(), len);
}

#[test]
fn actions_round_trip_through_ret_values() {
    for action in [Action::Allow, Action::Notify, Action::ENOSYS, Action::EPERM] {
        assert_eq!(Action::from_ret(action.ret()), Some(action));
    }
    assert_eq!(Action::from_ret(libc::SECCOMP_RET_KILL_PROCESS), None);
}
