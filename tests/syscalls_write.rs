//! The write category, one system call at a time (x86_64): each call is
//! denied on a directory outside the allowed area (EACCES, nothing changes on
//! disk, a report names the call and the rule to add), allowed inside it (the
//! effect is on disk), and succeeds outside without stockade (the control).
//!
//! Calls with two paths (rename, link) are checked with either path in the
//! protected directory and the other in an allowed one.

mod common;
#[macro_use]
#[path = "common/syscalls.rs"]
mod syscalls;

use common::{stderr, stdout};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use syscalls::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn mtime(path: &std::path::Path) -> i64 {
    std::fs::metadata(path).unwrap().mtime()
}

fn file_g(dirs: &Dirs) {
    write_file(&dirs.h.join("g"), b"new\n");
}

fn dir_sub(dirs: &Dirs) {
    std::fs::create_dir(dirs.d.join("sub")).unwrap();
}

fn file_f_with_xattr(dirs: &Dirs) {
    file_f(dirs);
    set_xattr(&dirs.d.join("f"), "user.test", "old");
}

fn xattrat_runnable(dirs: &Dirs) -> bool {
    with_user_xattrs(dirs) && kernel_has(463, "setxattrat")
}

fn f_is(dirs: &Dirs, want: &[u8]) -> bool {
    content(&dirs.d.join("f")).as_deref() == Some(want)
}

/// An O_TMPFILE file has no name, so its effect is the writable descriptor
/// the program reports (`unnamed NLINK SIZE`), not anything in the tree.
fn unnamed_file_has_no_trace(_: &Dirs, _: &Snapshot) -> bool {
    true
}

// ---- open, openat, openat2, creat: each write-implying flag -------------

syscall_case!(
    open_wronly,
    Case {
        syscall: "open",
        setup: file_f,
        code: "wrote(sc(2, P(b'f'), os.O_WRONLY, 0))",
        reported: "f",
        done: |d, _| f_is(d, b"new\n"),
        ..WRITE
    }
);

syscall_case!(
    open_rdwr,
    Case {
        syscall: "open",
        setup: file_f,
        code: "wrote(sc(2, P(b'f'), os.O_RDWR, 0))",
        reported: "f",
        done: |d, _| f_is(d, b"new\n"),
        ..WRITE
    }
);

syscall_case!(
    open_creat_without_write_access_mode,
    Case {
        syscall: "open",
        code: "sc(2, P(b'new'), os.O_RDONLY | os.O_CREAT, 0o644)",
        reported: "new",
        done: |d, _| exists(&d.d.join("new")),
        ..WRITE
    }
);

syscall_case!(
    open_trunc_without_write_access_mode,
    Case {
        syscall: "open",
        setup: file_f,
        code: "sc(2, P(b'f'), os.O_RDONLY | os.O_TRUNC, 0)",
        reported: "f",
        done: |d, _| f_is(d, b""),
        ..WRITE
    }
);

syscall_case!(
    open_tmpfile,
    Case {
        syscall: "open",
        code: "unnamed_written(sc(2, D, os.O_TMPFILE | os.O_WRONLY, 0o600))",
        reported: "",
        success: "ok\nunnamed 0 4\n",
        done: unnamed_file_has_no_trace,
        ..WRITE
    }
);

syscall_case!(
    openat_wronly,
    Case {
        syscall: "openat",
        setup: file_f,
        code: "wrote(sc(257, dirfd(D), b'f', os.O_WRONLY, 0))",
        reported: "f",
        done: |d, _| f_is(d, b"new\n"),
        ..WRITE
    }
);

syscall_case!(
    openat_rdwr,
    Case {
        syscall: "openat",
        setup: file_f,
        code: "wrote(sc(257, dirfd(D), b'f', os.O_RDWR, 0))",
        reported: "f",
        done: |d, _| f_is(d, b"new\n"),
        ..WRITE
    }
);

syscall_case!(
    openat_creat_without_write_access_mode,
    Case {
        syscall: "openat",
        code: "sc(257, dirfd(D), b'new', os.O_RDONLY | os.O_CREAT, 0o644)",
        reported: "new",
        done: |d, _| exists(&d.d.join("new")),
        ..WRITE
    }
);

syscall_case!(
    openat_trunc_without_write_access_mode,
    Case {
        syscall: "openat",
        setup: file_f,
        code: "sc(257, dirfd(D), b'f', os.O_RDONLY | os.O_TRUNC, 0)",
        reported: "f",
        done: |d, _| f_is(d, b""),
        ..WRITE
    }
);

syscall_case!(
    openat_tmpfile,
    Case {
        syscall: "openat",
        code: "unnamed_written(sc(257, dirfd(D), b'.', os.O_TMPFILE | os.O_WRONLY, 0o600))",
        reported: "",
        success: "ok\nunnamed 0 4\n",
        done: unnamed_file_has_no_trace,
        ..WRITE
    }
);

syscall_case!(
    openat2_wronly,
    Case {
        syscall: "openat2",
        setup: file_f,
        code: "wrote(sc(437, dirfd(D), b'f', how(os.O_WRONLY), 24))",
        reported: "f",
        done: |d, _| f_is(d, b"new\n"),
        ..WRITE
    }
);

syscall_case!(
    openat2_rdwr,
    Case {
        syscall: "openat2",
        setup: file_f,
        code: "wrote(sc(437, dirfd(D), b'f', how(os.O_RDWR), 24))",
        reported: "f",
        done: |d, _| f_is(d, b"new\n"),
        ..WRITE
    }
);

syscall_case!(
    openat2_creat_without_write_access_mode,
    Case {
        syscall: "openat2",
        code: "sc(437, dirfd(D), b'new', how(os.O_RDONLY | os.O_CREAT, 0o644), 24)",
        reported: "new",
        done: |d, _| exists(&d.d.join("new")),
        ..WRITE
    }
);

syscall_case!(
    openat2_trunc_without_write_access_mode,
    Case {
        syscall: "openat2",
        setup: file_f,
        code: "sc(437, dirfd(D), b'f', how(os.O_RDONLY | os.O_TRUNC), 24)",
        reported: "f",
        done: |d, _| f_is(d, b""),
        ..WRITE
    }
);

syscall_case!(
    openat2_tmpfile,
    Case {
        syscall: "openat2",
        code: "unnamed_written(sc(437, dirfd(D), b'.', how(os.O_TMPFILE | os.O_WRONLY, 0o600), 24))",
        reported: "",
        success: "ok\nunnamed 0 4\n",
        done: unnamed_file_has_no_trace,
        ..WRITE
    }
);

syscall_case!(
    creat_new_file,
    Case {
        syscall: "creat",
        code: "sc(85, P(b'new'), 0o644)",
        reported: "new",
        done: |d, _| exists(&d.d.join("new")),
        ..WRITE
    }
);

syscall_case!(
    creat_truncates_existing_file,
    Case {
        syscall: "creat",
        setup: file_f,
        code: "sc(85, P(b'f'), 0o644)",
        reported: "f",
        done: |d, _| f_is(d, b""),
        ..WRITE
    }
);

// ---- directory entries: mkdir, mknod, rmdir, unlink, symlink -----------

syscall_case!(
    mkdir,
    Case {
        syscall: "mkdir",
        code: "sc(83, P(b'sub'), 0o755)",
        reported: "sub",
        done: |d, _| d.d.join("sub").is_dir(),
        ..WRITE
    }
);

syscall_case!(
    mkdirat,
    Case {
        syscall: "mkdirat",
        code: "sc(258, dirfd(D), b'sub', 0o755)",
        reported: "sub",
        done: |d, _| d.d.join("sub").is_dir(),
        ..WRITE
    }
);

syscall_case!(
    mknod_fifo,
    Case {
        syscall: "mknod",
        code: "sc(133, P(b'fifo'), 0o010644, 0)",
        reported: "fifo",
        done: |d, _| {
            std::fs::symlink_metadata(d.d.join("fifo")).is_ok_and(|m| m.file_type().is_fifo())
        },
        ..WRITE
    }
);

syscall_case!(
    mknodat_fifo,
    Case {
        syscall: "mknodat",
        code: "sc(259, dirfd(D), b'fifo', 0o010644, 0)",
        reported: "fifo",
        done: |d, _| {
            std::fs::symlink_metadata(d.d.join("fifo")).is_ok_and(|m| m.file_type().is_fifo())
        },
        ..WRITE
    }
);

syscall_case!(
    rmdir,
    Case {
        syscall: "rmdir",
        setup: dir_sub,
        code: "sc(84, P(b'sub'))",
        reported: "sub",
        done: |d, _| !exists(&d.d.join("sub")),
        ..WRITE
    }
);

syscall_case!(
    unlink,
    Case {
        syscall: "unlink",
        setup: file_f,
        code: "sc(87, P(b'f'))",
        reported: "f",
        done: |d, _| !exists(&d.d.join("f")),
        ..WRITE
    }
);

syscall_case!(
    unlinkat_file,
    Case {
        syscall: "unlinkat",
        setup: file_f,
        code: "sc(263, dirfd(D), b'f', 0)",
        reported: "f",
        done: |d, _| !exists(&d.d.join("f")),
        ..WRITE
    }
);

syscall_case!(
    unlinkat_removedir,
    Case {
        syscall: "unlinkat",
        setup: dir_sub,
        code: "sc(263, dirfd(D), b'sub', AT_REMOVEDIR)",
        reported: "sub",
        done: |d, _| !exists(&d.d.join("sub")),
        ..WRITE
    }
);

syscall_case!(
    symlink,
    Case {
        syscall: "symlink",
        code: "sc(88, b'target', P(b's'))",
        reported: "s",
        done: |d, _| std::fs::read_link(d.d.join("s")).is_ok_and(|t| t.as_os_str() == "target"),
        ..WRITE
    }
);

syscall_case!(
    symlinkat,
    Case {
        syscall: "symlinkat",
        code: "sc(266, b'target', dirfd(D), b's')",
        reported: "s",
        done: |d, _| std::fs::read_link(d.d.join("s")).is_ok_and(|t| t.as_os_str() == "target"),
        ..WRITE
    }
);

// ---- rename family: both paths are checked ------------------------------

fn moved_out(d: &Dirs) -> bool {
    !exists(&d.d.join("f")) && content(&d.h.join("g")).as_deref() == Some(b"old\n")
}

fn moved_in(d: &Dirs) -> bool {
    f_is(d, b"new\n") && !exists(&d.h.join("g"))
}

fn exchanged(d: &Dirs) -> bool {
    f_is(d, b"new\n") && content(&d.h.join("g")).as_deref() == Some(b"old\n")
}

syscall_case!(
    rename_source_in_protected_dir,
    Case {
        syscall: "rename",
        setup: file_f,
        code: "sc(82, P(b'f'), Q(b'g'))",
        reported: "f",
        done: |d, _| moved_out(d),
        ..WRITE
    }
);

syscall_case!(
    rename_destination_in_protected_dir,
    Case {
        syscall: "rename",
        setup: file_f_and_g,
        code: "sc(82, Q(b'g'), P(b'f'))",
        reported: "f",
        done: |d, _| moved_in(d),
        ..WRITE
    }
);

syscall_case!(
    renameat_source_in_protected_dir,
    Case {
        syscall: "renameat",
        setup: file_f,
        code: "sc(264, dirfd(D), b'f', dirfd(H), b'g')",
        reported: "f",
        done: |d, _| moved_out(d),
        ..WRITE
    }
);

syscall_case!(
    renameat_destination_new_name_in_protected_dir,
    Case {
        syscall: "renameat",
        setup: file_g,
        code: "sc(264, dirfd(H), b'g', dirfd(D), b'new')",
        reported: "new",
        done: |d, _| content(&d.d.join("new")).as_deref() == Some(b"new\n"),
        ..WRITE
    }
);

syscall_case!(
    renameat2_noreplace_source_in_protected_dir,
    Case {
        syscall: "renameat2",
        setup: file_f,
        code: "sc(316, AT_FDCWD, P(b'f'), AT_FDCWD, Q(b'g'), RENAME_NOREPLACE)",
        reported: "f",
        done: |d, _| moved_out(d),
        ..WRITE
    }
);

syscall_case!(
    renameat2_destination_in_protected_dir,
    Case {
        syscall: "renameat2",
        setup: file_f_and_g,
        code: "sc(316, dirfd(H), b'g', dirfd(D), b'f', 0)",
        reported: "f",
        done: |d, _| moved_in(d),
        ..WRITE
    }
);

syscall_case!(
    renameat2_exchange_out_of_protected_dir,
    Case {
        syscall: "renameat2",
        setup: file_f_and_g,
        code: "sc(316, AT_FDCWD, P(b'f'), AT_FDCWD, Q(b'g'), RENAME_EXCHANGE)",
        reported: "f",
        done: |d, _| exchanged(d),
        ..WRITE
    }
);

syscall_case!(
    renameat2_exchange_into_protected_dir,
    Case {
        syscall: "renameat2",
        setup: file_f_and_g,
        code: "sc(316, AT_FDCWD, Q(b'g'), AT_FDCWD, P(b'f'), RENAME_EXCHANGE)",
        reported: "f",
        done: |d, _| exchanged(d),
        ..WRITE
    }
);

// ---- link family: the source needs write access too ---------------------

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

syscall_case!(
    link_protected_source_into_allowed_dir,
    Case {
        syscall: "link",
        setup: file_f,
        code: "sc(86, P(b'f'), Q(b'l'))",
        reported: "f",
        done: |d, _| same_file(&d.d.join("f"), &d.h.join("l")),
        ..WRITE
    }
);

syscall_case!(
    link_destination_in_protected_dir,
    Case {
        syscall: "link",
        setup: file_g,
        code: "sc(86, Q(b'g'), P(b'l'))",
        reported: "l",
        done: |d, _| same_file(&d.h.join("g"), &d.d.join("l")),
        ..WRITE
    }
);

syscall_case!(
    linkat_protected_source_into_allowed_dir,
    Case {
        syscall: "linkat",
        setup: file_f,
        code: "sc(265, dirfd(D), b'f', dirfd(H), b'l', 0)",
        reported: "f",
        done: |d, _| same_file(&d.d.join("f"), &d.h.join("l")),
        ..WRITE
    }
);

syscall_case!(
    linkat_destination_in_protected_dir,
    Case {
        syscall: "linkat",
        setup: file_g,
        code: "sc(265, dirfd(H), b'g', dirfd(D), b'l', 0)",
        reported: "l",
        done: |d, _| same_file(&d.h.join("g"), &d.d.join("l")),
        ..WRITE
    }
);

// ---- content and metadata of an existing file ---------------------------

syscall_case!(
    truncate,
    Case {
        syscall: "truncate",
        setup: file_f,
        code: "sc(76, P(b'f'), 0)",
        reported: "f",
        done: |d, _| f_is(d, b""),
        ..WRITE
    }
);

syscall_case!(
    chmod,
    Case {
        syscall: "chmod",
        setup: file_f,
        code: "sc(90, P(b'f'), 0o600)",
        reported: "f",
        done: |d, _| mode(&d.d.join("f")) == 0o600,
        ..WRITE
    }
);

syscall_case!(
    fchmodat,
    Case {
        syscall: "fchmodat",
        setup: file_f,
        code: "sc(268, dirfd(D), b'f', 0o600)",
        reported: "f",
        done: |d, _| mode(&d.d.join("f")) == 0o600,
        ..WRITE
    }
);

syscall_case!(
    fchmodat2,
    Case {
        syscall: "fchmodat2",
        setup: file_f,
        code: "sc(452, dirfd(D), b'f', 0o600, 0)",
        reported: "f",
        done: |d, _| mode(&d.d.join("f")) == 0o600,
        ..WRITE
    }
);

// A chown to the owner the file already has changes nothing but its ctime;
// it must be checked all the same.
syscall_case!(
    chown_to_own_ids,
    Case {
        syscall: "chown",
        setup: file_f,
        code: "sc(92, P(b'f'), os.getuid(), os.getgid())",
        reported: "f",
        done: |d, before| ctime_changed(before, &d.d.join("f")),
        ..WRITE
    }
);

fn symlink_s_to_f(dirs: &Dirs) {
    file_f(dirs);
    std::os::unix::fs::symlink("f", dirs.d.join("s")).unwrap();
}

syscall_case!(
    lchown_symlink_to_own_ids,
    Case {
        syscall: "lchown",
        setup: symlink_s_to_f,
        code: "sc(94, P(b's'), os.getuid(), os.getgid())",
        reported: "s",
        done: |d, before| {
            ctime_changed(before, &d.d.join("s")) && !ctime_changed(before, &d.d.join("f"))
        },
        ..WRITE
    }
);

syscall_case!(
    fchownat_to_own_ids,
    Case {
        syscall: "fchownat",
        setup: file_f,
        code: "sc(260, dirfd(D), b'f', os.getuid(), os.getgid(), 0)",
        reported: "f",
        done: |d, before| ctime_changed(before, &d.d.join("f")),
        ..WRITE
    }
);

syscall_case!(
    utime,
    Case {
        syscall: "utime",
        setup: file_f,
        code: "sc(132, P(b'f'), struct.pack('qq', 1000000, 1000000))",
        reported: "f",
        done: |d, _| mtime(&d.d.join("f")) == 1000000,
        ..WRITE
    }
);

syscall_case!(
    utimes,
    Case {
        syscall: "utimes",
        setup: file_f,
        code: "sc(235, P(b'f'), struct.pack('qqqq', 1000000, 0, 1000000, 0))",
        reported: "f",
        done: |d, _| mtime(&d.d.join("f")) == 1000000,
        ..WRITE
    }
);

syscall_case!(
    futimesat,
    Case {
        syscall: "futimesat",
        setup: file_f,
        code: "sc(261, dirfd(D), b'f', struct.pack('qqqq', 1000000, 0, 1000000, 0))",
        reported: "f",
        done: |d, _| mtime(&d.d.join("f")) == 1000000,
        ..WRITE
    }
);

syscall_case!(
    utimensat,
    Case {
        syscall: "utimensat",
        setup: file_f,
        code: "sc(280, dirfd(D), b'f', struct.pack('qqqq', 1000000, 0, 1000000, 0), 0)",
        reported: "f",
        done: |d, _| mtime(&d.d.join("f")) == 1000000,
        ..WRITE
    }
);

// ---- extended attributes (user.*) -----------------------------------------

fn xattr_is(d: &Dirs, want: Option<&str>) -> bool {
    xattr(&d.d.join("f"), "user.test").as_deref() == want
}

syscall_case!(
    setxattr,
    Case {
        syscall: "setxattr",
        setup: file_f,
        code: "sc(188, P(b'f'), b'user.test', b'v', 1, 0)",
        reported: "f",
        done: |d, _| xattr_is(d, Some("v")),
        runnable: with_user_xattrs,
        ..WRITE
    }
);

syscall_case!(
    lsetxattr,
    Case {
        syscall: "lsetxattr",
        setup: file_f,
        code: "sc(189, P(b'f'), b'user.test', b'v', 1, 0)",
        reported: "f",
        done: |d, _| xattr_is(d, Some("v")),
        runnable: with_user_xattrs,
        ..WRITE
    }
);

syscall_case!(
    removexattr,
    Case {
        syscall: "removexattr",
        setup: file_f_with_xattr,
        code: "sc(197, P(b'f'), b'user.test')",
        reported: "f",
        done: |d, _| xattr_is(d, None),
        runnable: with_user_xattrs,
        ..WRITE
    }
);

syscall_case!(
    lremovexattr,
    Case {
        syscall: "lremovexattr",
        setup: file_f_with_xattr,
        code: "sc(198, P(b'f'), b'user.test')",
        reported: "f",
        done: |d, _| xattr_is(d, None),
        runnable: with_user_xattrs,
        ..WRITE
    }
);

syscall_case!(
    setxattrat,
    Case {
        syscall: "setxattrat",
        setup: file_f,
        code: "sc(463, dirfd(D), b'f', 0, b'user.test', xattr_args(b'v'), 16)",
        reported: "f",
        done: |d, _| xattr_is(d, Some("v")),
        runnable: xattrat_runnable,
        ..WRITE
    }
);

syscall_case!(
    removexattrat,
    Case {
        syscall: "removexattrat",
        setup: file_f_with_xattr,
        code: "sc(466, dirfd(D), b'f', 0, b'user.test')",
        reported: "f",
        done: |d, _| xattr_is(d, None),
        runnable: xattrat_runnable,
        ..WRITE
    }
);

// ---- descriptor-based changes, judged by the descriptor's path ---------
//
// The kernel lets these change a file through a descriptor opened read-only,
// so opening the file is no proof of write access.

syscall_case!(
    fchmod_on_read_only_fd,
    Case {
        syscall: "fchmod",
        setup: file_f,
        code: "sc(91, os.open(P(b'f'), os.O_RDONLY), 0o600)",
        reported: "f",
        done: |d, _| mode(&d.d.join("f")) == 0o600,
        ..WRITE
    }
);

syscall_case!(
    fchown_on_read_only_fd,
    Case {
        syscall: "fchown",
        setup: file_f,
        code: "sc(93, os.open(P(b'f'), os.O_RDONLY), os.getuid(), os.getgid())",
        reported: "f",
        done: |d, before| ctime_changed(before, &d.d.join("f")),
        ..WRITE
    }
);

syscall_case!(
    fsetxattr_on_read_only_fd,
    Case {
        syscall: "fsetxattr",
        setup: file_f,
        code: "sc(190, os.open(P(b'f'), os.O_RDONLY), b'user.test', b'v', 1, 0)",
        reported: "f",
        done: |d, _| xattr_is(d, Some("v")),
        runnable: with_user_xattrs,
        ..WRITE
    }
);

syscall_case!(
    fremovexattr_on_read_only_fd,
    Case {
        syscall: "fremovexattr",
        setup: file_f_with_xattr,
        code: "sc(199, os.open(P(b'f'), os.O_RDONLY), b'user.test')",
        reported: "f",
        done: |d, _| xattr_is(d, None),
        runnable: with_user_xattrs,
        ..WRITE
    }
);

syscall_case!(
    futimens_on_read_only_fd,
    Case {
        syscall: "utimensat",
        setup: file_f,
        code: "sc(280, os.open(P(b'f'), os.O_RDONLY), None, \
               struct.pack('qqqq', 1000000, 0, 1000000, 0), 0)",
        reported: "f",
        done: |d, _| mtime(&d.d.join("f")) == 1000000,
        ..WRITE
    }
);

// Through an O_PATH descriptor the *at calls with AT_EMPTY_PATH act on the
// descriptor's file.

syscall_case!(
    fchmodat2_empty_path_on_o_path_fd,
    Case {
        syscall: "fchmodat2",
        setup: file_f,
        code: "sc(452, os.open(P(b'f'), os.O_PATH), b'', 0o600, AT_EMPTY_PATH)",
        reported: "f",
        done: |d, _| mode(&d.d.join("f")) == 0o600,
        ..WRITE
    }
);

syscall_case!(
    fchownat_empty_path_on_o_path_fd,
    Case {
        syscall: "fchownat",
        setup: file_f,
        code: "sc(260, os.open(P(b'f'), os.O_PATH), b'', os.getuid(), os.getgid(), AT_EMPTY_PATH)",
        reported: "f",
        done: |d, before| ctime_changed(before, &d.d.join("f")),
        ..WRITE
    }
);

syscall_case!(
    utimensat_empty_path_on_o_path_fd,
    Case {
        syscall: "utimensat",
        setup: file_f,
        code: "sc(280, os.open(P(b'f'), os.O_PATH), b'', \
               struct.pack('qqqq', 1000000, 0, 1000000, 0), AT_EMPTY_PATH)",
        reported: "f",
        done: |d, _| mtime(&d.d.join("f")) == 1000000,
        ..WRITE
    }
);

// The plain fd calls fail with EBADF on an O_PATH descriptor without stockade
// (Linux 6.18), so there is no success to compare with; under stockade they
// must still be refused by the descriptor's path and reported, not passed on.

fn denied_on_o_path_fd(syscall: &'static str, code: &'static str, runnable: fn(&Dirs) -> bool) {
    let setup = if syscall == "fremovexattr" {
        file_f_with_xattr
    } else {
        file_f
    };
    assert_denied_outside(&Case {
        syscall,
        setup,
        code,
        reported: "f",
        runnable,
        ..WRITE
    });
}

#[test]
fn fchmod_on_o_path_fd_of_protected_file_is_denied() {
    denied_on_o_path_fd(
        "fchmod",
        "sc(91, os.open(P(b'f'), os.O_PATH), 0o600)",
        always,
    );
}

#[test]
fn fchown_on_o_path_fd_of_protected_file_is_denied() {
    denied_on_o_path_fd(
        "fchown",
        "sc(93, os.open(P(b'f'), os.O_PATH), os.getuid(), os.getgid())",
        always,
    );
}

#[test]
fn fsetxattr_on_o_path_fd_of_protected_file_is_denied() {
    denied_on_o_path_fd(
        "fsetxattr",
        "sc(190, os.open(P(b'f'), os.O_PATH), b'user.test', b'v', 1, 0)",
        with_user_xattrs,
    );
}

#[test]
fn fremovexattr_on_o_path_fd_of_protected_file_is_denied() {
    denied_on_o_path_fd(
        "fremovexattr",
        "sc(199, os.open(P(b'f'), os.O_PATH), b'user.test')",
        with_user_xattrs,
    );
}

#[test]
fn futimens_on_o_path_fd_of_protected_file_is_denied() {
    denied_on_o_path_fd(
        "utimensat",
        "sc(280, os.open(P(b'f'), os.O_PATH), None, \
         struct.pack('qqqq', 1000000, 0, 1000000, 0), 0)",
        always,
    );
}

// ---- how paths are resolved ---------------------------------------------

syscall_case!(
    mkdir_relative_to_cwd,
    Case {
        syscall: "mkdir",
        code: "os.chdir(D)\nsc(83, b'sub', 0o755)",
        reported: "sub",
        done: |d, _| d.d.join("sub").is_dir(),
        ..WRITE
    }
);

// From the allowed helper dir H, `..` leads to D: `in/h/../../out/sub` when D
// is protected, `in/h/../d/sub` when it is allowed.
syscall_case!(
    mkdir_through_dotdot_from_allowed_dir,
    Case {
        syscall: "mkdir",
        code: "sc(83, Q(os.path.relpath(D, H)) + b'/sub', 0o755)",
        reported: "sub",
        done: |d, _| d.d.join("sub").is_dir(),
        ..WRITE
    }
);

syscall_case!(
    mkdirat_through_dotdot_from_allowed_dirfd,
    Case {
        syscall: "mkdirat",
        code: "sc(258, dirfd(H), os.path.relpath(D, H) + b'/sub', 0o755)",
        reported: "sub",
        done: |d, _| d.d.join("sub").is_dir(),
        ..WRITE
    }
);

/// `H/link` → D (absolute).
fn dir_symlink_in_h_to_d(dirs: &Dirs) {
    std::os::unix::fs::symlink(&dirs.d, dirs.h.join("link")).unwrap();
}

syscall_case!(
    open_creat_through_symlinked_dir_in_allowed_dir,
    Case {
        syscall: "open",
        setup: dir_symlink_in_h_to_d,
        code: "sc(2, Q(b'link/new'), os.O_WRONLY | os.O_CREAT, 0o644)",
        reported: "new",
        done: |d, _| exists(&d.d.join("new")),
        ..WRITE
    }
);

/// `H/dangling` → `D/new`, which does not exist yet.
fn dangling_symlink_in_h_to_d(dirs: &Dirs) {
    std::os::unix::fs::symlink(dirs.d.join("new"), dirs.h.join("dangling")).unwrap();
}

// O_CREAT through a dangling symlink creates the symlink's target, so the
// target is what is judged.
syscall_case!(
    open_creat_through_dangling_symlink_in_allowed_dir,
    Case {
        syscall: "open",
        setup: dangling_symlink_in_h_to_d,
        code: "sc(2, Q(b'dangling'), os.O_WRONLY | os.O_CREAT, 0o644)",
        reported: "new",
        done: |d, _| exists(&d.d.join("new")),
        ..WRITE
    }
);

#[test]
fn open_creat_through_dangling_symlink_in_protected_dir_to_allowed_dir_is_allowed() {
    let (s, dirs) = Dirs::new("dangling-in", false);
    std::os::unix::fs::symlink(dirs.h.join("new"), dirs.d.join("dangling")).unwrap();
    let out = sandboxed(
        &Category::Write.rules(&s),
        "sc(2, P(b'dangling'), os.O_WRONLY | os.O_CREAT, 0o644)",
        &dirs.args(),
    );
    assert_eq!(stdout(&out), "ok\n", "stderr: {}", stderr(&out));
    assert!(exists(&dirs.h.join("new")));
}

// The last component is a symlink to a protected file: O_NOFOLLOW makes the
// kernel's own answer ELOOP, and nothing is written either way.
#[test]
fn open_nofollow_on_symlink_to_protected_file_fails_with_eloop() {
    let code = "sc(2, Q(b'lf'), os.O_WRONLY | os.O_NOFOLLOW, 0)\n\
                sc(2, Q(b'lf'), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)";
    for sandbox in [true, false] {
        let (s, dirs) = Dirs::new("nofollow", false);
        file_f(&dirs);
        std::os::unix::fs::symlink(dirs.d.join("f"), dirs.h.join("lf")).unwrap();
        let before = Snapshot::take(&s.dir);
        let out = if sandbox {
            sandboxed(&Category::Write.rules(&s), code, &dirs.args())
        } else {
            bare(code, &dirs.args())
        };
        assert_eq!(
            stdout(&out),
            "ELOOP\nELOOP\n",
            "sandbox {sandbox}: {}",
            stderr(&out)
        );
        before.assert_unchanged(&s.dir);
    }
}

// Reopening a read-only descriptor through /proc/self/fd/N for writing is a
// write to the file the descriptor names.
syscall_case!(
    open_proc_self_fd_of_read_only_fd_for_writing,
    Case {
        syscall: "open",
        setup: file_f,
        code: "fd = os.open(P(b'f'), os.O_RDONLY)\n\
               wrote(sc(2, b'/proc/self/fd/%d' % fd, os.O_WRONLY, 0))",
        reported: "f",
        done: |d, _| f_is(d, b"new\n"),
        ..WRITE
    }
);

// A name that is not UTF-8 is created inside, and reported escaped outside.
syscall_case!(
    open_creat_non_utf8_name,
    Case {
        syscall: "open",
        code: "sc(2, P(b'\\xff'), os.O_WRONLY | os.O_CREAT, 0o644)",
        reported: "\\xff",
        done: |d, _| {
            use std::os::unix::ffi::OsStrExt;
            exists(&d.d.join(std::ffi::OsStr::from_bytes(b"\xff")))
        },
        ..WRITE
    }
);

syscall_case!(
    mkdir_non_utf8_name,
    Case {
        syscall: "mkdir",
        code: "sc(83, P(b'a\\xffb'), 0o755)",
        reported: "a\\xffb",
        done: |d, _| {
            use std::os::unix::ffi::OsStrExt;
            d.d.join(std::ffi::OsStr::from_bytes(b"a\xffb")).is_dir()
        },
        ..WRITE
    }
);

#[test]
fn read_only_open_of_protected_file_is_not_a_write() {
    let (s, dirs) = Dirs::new("rdonly", false);
    file_f(&dirs);
    let code = "fd = sc(2, P(b'f'), os.O_RDONLY, 0)\nprint(os.read(fd, 10))";
    let out = sandboxed(&Category::Write.rules(&s), code, &dirs.args());
    assert_eq!(stdout(&out), "ok\nb'old\\n'\n", "stderr: {}", stderr(&out));
    assert!(
        !stderr(&out).contains("stockade: denied"),
        "{}",
        stderr(&out)
    );
}

// ---- engine bugs -----------------------------------------------------------

// open(2) ignores the mode argument unless O_CREAT or O_TMPFILE is given, and
// callers pass whatever is in the register (Go's os.OpenFile passes the perm
// it was given). openat2(2) rejects a non-zero mode without O_CREAT, so an
// engine that forwards the mode unchanged turns a valid open into EINVAL.
#[test]
fn open_without_creat_ignores_the_mode_argument() {
    let code = "wrote(sc(2, P(b'f'), os.O_WRONLY, 0o644))\n\
                sc(257, AT_FDCWD, P(b'f'), os.O_RDWR, 0o644)";
    let (s, dirs) = Dirs::new("open-mode", true);
    file_f(&dirs);
    let out = sandboxed(&Category::Write.rules(&s), code, &dirs.args());
    assert_eq!(stdout(&out), "ok\nok\n", "stderr: {}", stderr(&out));
    assert!(f_is(&dirs, b"new\n"));

    let (_s, dirs) = Dirs::new("open-mode", true);
    file_f(&dirs);
    assert_eq!(stdout(&bare(code, &dirs.args())), "ok\nok\n");
}

// The documented way to give an O_TMPFILE file a name (open(2), "O_TMPFILE")
// is linkat("/proc/self/fd/N", ..., AT_SYMLINK_FOLLOW): the source is the
// file the descriptor names, not the /proc path. The unnamed file's link
// reads "DIR/#INO (deleted)"; it was created in DIR, an allowed directory.
const PUBLISH_TMPFILE: &str = "fd = sc(257, dirfd(D), b'.', os.O_TMPFILE | os.O_WRONLY, 0o600)\n\
     wrote(fd)\n\
     sc(265, AT_FDCWD, b'/proc/self/fd/%d' % fd, AT_FDCWD, P(b't'), AT_SYMLINK_FOLLOW)";

#[test]
fn linkat_publishing_tmpfile_inside_allowed_dir_is_allowed() {
    let (s, dirs) = Dirs::new("publish", true);
    let out = sandboxed(&Category::Write.rules(&s), PUBLISH_TMPFILE, &dirs.args());
    assert_eq!(stdout(&out), "ok\nok\n", "stderr: {}", stderr(&out));
    assert_eq!(content(&dirs.d.join("t")).as_deref(), Some(&b"new\n"[..]));
}

#[test]
fn linkat_publishing_tmpfile_succeeds_without_stockade() {
    let (_s, dirs) = Dirs::new("publish", false);
    let out = bare(PUBLISH_TMPFILE, &dirs.args());
    assert_eq!(stdout(&out), "ok\nok\n", "stderr: {}", stderr(&out));
    assert_eq!(content(&dirs.d.join("t")).as_deref(), Some(&b"new\n"[..]));
}

// Hard-linking a protected file into an allowed dir through its descriptor's
// /proc link must be denied like link(2) on its path, and reported by the
// file's real path (a rule for /proc/self/fd/N would be useless).
#[test]
fn linkat_proc_self_fd_of_protected_file_into_allowed_dir_is_denied() {
    let (s, dirs) = Dirs::new("proc-link", false);
    file_f(&dirs);
    let code = "fd = os.open(P(b'f'), os.O_RDONLY)\n\
                sc(265, AT_FDCWD, b'/proc/self/fd/%d' % fd, AT_FDCWD, Q(b'l'), AT_SYMLINK_FOLLOW)";
    let before = Snapshot::take(&s.dir);
    let out = sandboxed(&Category::Write.rules(&s), code, &dirs.args());
    assert_eq!(stdout(&out), "EACCES\n", "stderr: {}", stderr(&out));
    before.assert_unchanged(&s.dir);
    let subject = reported_path(&dirs.d, "f");
    assert_reported(&out, Category::Write, "linkat", &subject);

    let (_s, dirs) = Dirs::new("proc-link", false);
    file_f(&dirs);
    assert_eq!(stdout(&bare(code, &dirs.args())), "ok\n");
    assert!(same_file(&dirs.d.join("f"), &dirs.h.join("l")));
}

// ---- more path forms ------------------------------------------------------

syscall_case!(
    mkdir_path_ending_at_a_page_boundary,
    Case {
        syscall: "mkdir",
        code: "sc(83, at_page_end(P(b'sub')), 0o755)",
        reported: "sub",
        done: |d, _| d.d.join("sub").is_dir(),
        ..WRITE
    }
);

syscall_case!(
    mkdir_through_proc_self_cwd,
    Case {
        syscall: "mkdir",
        code: "os.chdir(D)\nsc(83, b'/proc/self/cwd/sub', 0o755)",
        reported: "sub",
        done: |d, _| d.d.join("sub").is_dir(),
        ..WRITE
    }
);

syscall_case!(
    mkdir_through_proc_thread_self_cwd,
    Case {
        syscall: "mkdir",
        code: "os.chdir(D)\nsc(83, b'/proc/thread-self/cwd/sub', 0o755)",
        reported: "sub",
        done: |d, _| d.d.join("sub").is_dir(),
        ..WRITE
    }
);

#[test]
fn mkdirat_from_protected_dirfd_through_dotdot_into_allowed_dir_is_allowed() {
    let (s, dirs) = Dirs::new("dotdot-in", false);
    let code = "sc(258, dirfd(D), os.path.relpath(H, D) + b'/sub', 0o755)";
    let out = sandboxed(&Category::Write.rules(&s), code, &dirs.args());
    assert_eq!(stdout(&out), "ok\n", "stderr: {}", stderr(&out));
    assert!(dirs.h.join("sub").is_dir());
}

// Hard-linking through an O_PATH descriptor (AT_EMPTY_PATH, which needs
// CAP_DAC_READ_SEARCH) is still a link of the protected source.
syscall_case!(
    linkat_empty_path_of_protected_o_path_fd_into_allowed_dir,
    Case {
        syscall: "linkat",
        setup: file_f,
        code: "sc(265, os.open(P(b'f'), os.O_PATH), b'', AT_FDCWD, Q(b'l'), AT_EMPTY_PATH)",
        reported: "f",
        done: |d, _| same_file(&d.d.join("f"), &d.h.join("l")),
        runnable: as_root,
        ..WRITE
    }
);

/// `H/lf` → `D/f` (absolute).
fn symlink_in_h_to_f(dirs: &Dirs) {
    file_f(dirs);
    std::os::unix::fs::symlink(dirs.d.join("f"), dirs.h.join("lf")).unwrap();
}

// Calls that follow a final symlink judge its target.

syscall_case!(
    open_wronly_through_symlink_in_allowed_dir,
    Case {
        syscall: "open",
        setup: symlink_in_h_to_f,
        code: "wrote(sc(2, Q(b'lf'), os.O_WRONLY, 0))",
        reported: "f",
        done: |d, _| f_is(d, b"new\n"),
        ..WRITE
    }
);

syscall_case!(
    chmod_through_symlink_in_allowed_dir,
    Case {
        syscall: "chmod",
        setup: symlink_in_h_to_f,
        code: "sc(90, Q(b'lf'), 0o600)",
        reported: "f",
        done: |d, _| mode(&d.d.join("f")) == 0o600,
        ..WRITE
    }
);

syscall_case!(
    truncate_through_symlink_in_allowed_dir,
    Case {
        syscall: "truncate",
        setup: symlink_in_h_to_f,
        code: "sc(76, Q(b'lf'), 0)",
        reported: "f",
        done: |d, _| f_is(d, b""),
        ..WRITE
    }
);

// Calls that do not follow a final symlink judge the link itself: a link in
// the allowed dir may be renamed, removed or touched even though it points
// at a protected file, and the file stays as it was.

fn assert_symlink_call_is_allowed(code: &str, effect: fn(&Dirs, &Snapshot) -> bool) {
    let (s, dirs) = Dirs::new("nofollow-link", false);
    symlink_in_h_to_f(&dirs);
    let before = Snapshot::take(&s.dir);
    let out = sandboxed(&Category::Write.rules(&s), code, &dirs.args());
    assert_eq!(stdout(&out), "ok\n", "stderr: {}", stderr(&out));
    assert!(
        effect(&dirs, &before),
        "no effect; stderr: {}",
        stderr(&out)
    );
    let f = dirs.d.join("f");
    assert_eq!(
        before.get(&f),
        Snapshot::take(&s.dir).get(&f),
        "the target changed"
    );
}

#[test]
fn rename_of_symlink_to_protected_file_within_allowed_dir_is_allowed() {
    assert_symlink_call_is_allowed("sc(82, Q(b'lf'), Q(b'lf2'))", |d, _| {
        exists(&d.h.join("lf2")) && !exists(&d.h.join("lf"))
    });
}

#[test]
fn unlink_of_symlink_to_protected_file_in_allowed_dir_is_allowed() {
    assert_symlink_call_is_allowed("sc(87, Q(b'lf'))", |d, _| !exists(&d.h.join("lf")));
}

#[test]
fn lchown_of_symlink_to_protected_file_in_allowed_dir_is_allowed() {
    assert_symlink_call_is_allowed("sc(94, Q(b'lf'), os.getuid(), os.getgid())", |d, before| {
        ctime_changed(before, &d.h.join("lf"))
    });
}

#[test]
fn utimensat_nofollow_on_symlink_to_protected_file_in_allowed_dir_is_allowed() {
    assert_symlink_call_is_allowed(
        "sc(280, AT_FDCWD, Q(b'lf'), struct.pack('qqqq', 1000000, 0, 1000000, 0), AT_SYMLINK_NOFOLLOW)",
        |d, _| std::fs::symlink_metadata(d.h.join("lf")).is_ok_and(|m| m.mtime() == 1000000),
    );
}
