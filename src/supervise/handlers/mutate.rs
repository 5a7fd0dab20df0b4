//! Calls that change the filesystem (the `write` category), performed by the
//! supervisor relative to directories it resolved itself.
//!
//! Path arguments (dirfd, path), by syscall:
//! - one entry: mkdir(0) mkdirat(0,1) mknod(0) mknodat(0,1) rmdir(0) unlink(0)
//!   unlinkat(0,1) symlink(target 0, link 1) symlinkat(target 0, link 1,2)
//! - two entries: rename(0;1) renameat(0,1;2,3) renameat2(0,1;2,3)
//!   link(0;1) linkat(0,1;2,3)
//! - the object: truncate(0) chmod(0) fchmodat(0,1) fchmodat2(0,1) chown(0)
//!   lchown(0) fchownat(0,1) utime(0) utimes(0) futimesat(0,1) utimensat(0,1)
//!   setxattr lsetxattr removexattr lremovexattr(0) setxattrat removexattrat(0,1)
//!   file_setattr(0,1)
//! - a descriptor: fchmod fchown fsetxattr fremovexattr(0), utimensat with a
//!   NULL path (futimens).

use super::describe;
use crate::policy::Category;
use crate::supervise::call::{Call, Reply, Step};
use crate::supervise::resolve::{Base, Last, Lookup, Resolved, Target};
use crate::sys::{Errno, fs};
use std::os::fd::{AsFd, BorrowedFd};

const FOLLOW: Lookup = Lookup::FOLLOW;
const NOFOLLOW: Lookup = Lookup::NOFOLLOW;
/// For calls on the final entry itself (create, remove, rename).
const ENTRY: Lookup = Lookup {
    final_entry: true,
    ..NOFOLLOW
};

/// The flags the `*at` calls that take `AT_SYMLINK_NOFOLLOW` and
/// `AT_EMPTY_PATH` accept; any other bit is EINVAL before the lookup.
const AT_LOOKUP_FLAGS: i32 = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;

fn at_flags_valid(flags: i32) -> Result<(), Errno> {
    if flags & !AT_LOOKUP_FLAGS != 0 {
        return Err(Errno(libc::EINVAL));
    }
    Ok(())
}

/// Lookup flags from an `AT_*` flags argument.
fn at_lookup(flags: i32, follow_by_default: bool) -> Lookup {
    let follow = if follow_by_default {
        flags & libc::AT_SYMLINK_NOFOLLOW == 0
    } else {
        flags & libc::AT_SYMLINK_FOLLOW != 0
    };
    Lookup {
        follow_final: follow,
        empty_path: flags & libc::AT_EMPTY_PATH != 0,
        ..FOLLOW
    }
}

/// One path argument: where it starts, which argument holds it, how to look it up.
#[derive(Clone, Copy)]
struct PathArg {
    base: Base,
    arg: usize,
    lookup: Lookup,
}

fn cwd(arg: usize, lookup: Lookup) -> PathArg {
    PathArg {
        base: Base::Cwd,
        arg,
        lookup,
    }
}

fn at(call: &Call, dirfd_arg: usize, lookup: Lookup) -> PathArg {
    PathArg {
        base: Base::from_dirfd(call.arg(dirfd_arg)),
        arg: dirfd_arg + 1,
        lookup,
    }
}

/// The directory and name of an entry to create or remove. An object reached
/// without a name (`/`, `dir/.`) cannot be created or removed by name.
fn entry<'r>(r: &'r Resolved, object_errno: i32) -> Result<(BorrowedFd<'r>, &'r [u8]), Errno> {
    match &r.target {
        Target::Entry { dir, name, .. } => Ok((dir.as_fd(), name)),
        Target::Object { .. } => Err(Errno(object_errno)),
    }
}

/// What the kernel requires of the final entry before any permission
/// check, by the kind of call.
#[derive(Clone, Copy)]
enum Need {
    /// An existing object (chmod, truncate, ...): ENOENT when missing.
    Existing,
    /// A new entry (mknod, symlink, a link's new name): EEXIST when it
    /// exists, ENOENT for a missing name with a trailing slash.
    NewEntry,
    /// A new directory: as `NewEntry`, but a trailing slash is fine.
    NewDir,
    /// An entry to unlink: EISDIR for `.`/`..`/`/` and, with a trailing
    /// slash, for a directory; ENOTDIR for anything else with one.
    Unlink,
    /// A directory to remove: EINVAL for `.`, ENOTEMPTY for `..`, EBUSY for `/`.
    Rmdir,
}

/// The errno the kernel gives for `r` before it checks permissions, if any.
/// These come from the lookup of the parent and the last name alone
/// (filename_create, do_unlinkat, do_rmdir).
fn entry_error(r: &Resolved, need: Need) -> Option<i32> {
    let exists = r.stat().is_some();
    match need {
        Need::Existing => (!exists).then_some(libc::ENOENT),
        Need::NewEntry | Need::NewDir => {
            if exists || r.last != Last::Name {
                Some(libc::EEXIST)
            } else if r.trailing_slash && matches!(need, Need::NewEntry) {
                Some(libc::ENOENT)
            } else {
                None
            }
        }
        Need::Unlink => match (&r.target, r.stat()) {
            (Target::Object { .. }, _) => Some(libc::EISDIR),
            (_, None) => Some(libc::ENOENT),
            (_, Some(st)) if r.trailing_slash => Some(if st.is_dir() {
                libc::EISDIR
            } else {
                libc::ENOTDIR
            }),
            _ => None,
        },
        Need::Rmdir => match r.last {
            Last::Dot => Some(libc::EINVAL),
            Last::DotDot => Some(libc::ENOTEMPTY),
            Last::Root => Some(libc::EBUSY),
            Last::Name => (!exists).then_some(libc::ENOENT),
        },
    }
}

/// Fails with the kernel's errno for the entry, unless the stat category
/// hides whether it exists (then the policy check decides first).
fn require(call: &Call, r: &Resolved, need: Need) -> Step<()> {
    // The common cases go through Call, which also reports them when
    // `report/safe:on` asks for it.
    match need {
        Need::Existing => return call.fail_if_missing(r),
        Need::NewEntry | Need::NewDir if r.stat().is_some() => return call.fail_if_exists(r),
        _ => {}
    }
    match entry_error(r, need) {
        Some(e) if call.may_see(r) => Err(Errno(e).into()),
        _ => Ok(()),
    }
}

/// Reads, resolves and checks one path, then acts on it.
fn on_path(
    call: &Call,
    p: PathArg,
    need: Need,
    act: impl FnOnce(&Resolved) -> Result<(), Errno>,
) -> Step<Reply> {
    let path = call.read_path(p.arg)?;
    // mkdir and mknod create with the caller's umask.
    let creates = matches!(
        call.n.nr,
        libc::SYS_mkdir | libc::SYS_mkdirat | libc::SYS_mknod | libc::SYS_mknodat
    );
    let _caller = call.become_caller(creates)?;
    let r = call.resolve(p.base, &path, p.lookup)?;
    require(call, &r, need)?;
    call.check(Category::Write, &r.path, || describe::path(&r.path))?;
    act(&r)?;
    Ok(Reply::Value(0))
}

/// Reads, resolves and checks two paths (both need write access), then acts.
/// `rule` gives the kernel's errors that come before permission checks.
fn on_two_paths(
    call: &Call,
    from: PathArg,
    to: PathArg,
    rule: impl FnOnce(&Resolved, &Resolved) -> Option<i32>,
    act: impl FnOnce(&Resolved, &Resolved) -> Result<(), Errno>,
) -> Step<Reply> {
    let old = call.read_path(from.arg)?;
    let new = call.read_path(to.arg)?;
    let _caller = call.become_caller(false)?;
    let a = call.resolve(from.base, &old, from.lookup)?;
    let b = call.resolve(to.base, &new, to.lookup)?;
    if let Some(e) = rule(&a, &b)
        && call.may_see(&a)
        && call.may_see(&b)
    {
        return Err(Errno(e).into());
    }
    let show = || format!("{}, {}", describe::path(&a.path), describe::path(&b.path));
    call.check(Category::Write, &a.path, show)?;
    call.check(Category::Write, &b.path, show)?;
    act(&a, &b)?;
    Ok(Reply::Value(0))
}

/// Resolves the caller's descriptor `fd_arg`, checks its path, then acts on
/// our duplicate of it, sharing the caller's open file description.
fn on_fd(
    call: &Call,
    fd_arg: usize,
    act: impl FnOnce(BorrowedFd<'_>) -> Result<(), Errno>,
) -> Step<Reply> {
    let fd = call.caller_fd(call.int(fd_arg))?;
    let _caller = call.become_caller(false)?;
    let path = crate::supervise::resolve::object_path(fd.as_fd())?;
    call.check(Category::Write, &path, || {
        format!("{}, {}", call.int(fd_arg), describe::path(&path))
    })?;
    act(fd.as_fd())?;
    Ok(Reply::Value(0))
}

/// mkdir(2), mkdirat(2).
pub fn mkdir(call: &Call, at_form: bool) -> Step<Reply> {
    let (p, mode) = if at_form {
        (at(call, 0, ENTRY), call.arg(2))
    } else {
        (cwd(0, ENTRY), call.arg(1))
    };
    on_path(call, p, Need::NewDir, |r| {
        let (dir, name) = entry(r, libc::EEXIST)?;
        fs::mkdir_at(dir, name, mode as u32)
    })
}

/// mknod(2), mknodat(2).
pub fn mknod(call: &Call, at_form: bool) -> Step<Reply> {
    let (p, i) = if at_form {
        (at(call, 0, ENTRY), 2)
    } else {
        (cwd(0, ENTRY), 1)
    };
    let (mode, dev) = (call.arg(i) as u32, call.arg(i + 1));
    // may_mknod(): the file type is judged before the lookup.
    match mode & libc::S_IFMT {
        0 | libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK => {}
        libc::S_IFDIR => return Err(Errno(libc::EPERM).into()),
        _ => return Err(Errno(libc::EINVAL).into()),
    }
    on_path(call, p, Need::NewEntry, |r| {
        let (dir, name) = entry(r, libc::EEXIST)?;
        fs::mknod_at(dir, name, mode, dev)
    })
}

/// rmdir(2).
pub fn rmdir(call: &Call) -> Step<Reply> {
    on_path(call, cwd(0, ENTRY), Need::Rmdir, |r| {
        let (dir, name) = entry(r, libc::EBUSY)?;
        fs::unlink_at(dir, name, libc::AT_REMOVEDIR)
    })
}

/// unlink(2), unlinkat(2).
pub fn unlink(call: &Call, at_form: bool) -> Step<Reply> {
    let (p, flags) = if at_form {
        (at(call, 0, ENTRY), call.int(2))
    } else {
        (cwd(0, ENTRY), 0)
    };
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(Errno(libc::EINVAL).into());
    }
    let need = if flags != 0 {
        Need::Rmdir
    } else {
        Need::Unlink
    };
    on_path(call, p, need, |r| {
        let (dir, name) = entry(
            r,
            if flags != 0 {
                libc::EBUSY
            } else {
                libc::EISDIR
            },
        )?;
        fs::unlink_at(dir, name, flags)
    })
}

/// symlink(2), symlinkat(2): only the new link's path is checked; the target
/// is just text.
pub fn symlink(call: &Call, at_form: bool) -> Step<Reply> {
    let target = call.read_path(0)?;
    let p = if at_form {
        at(call, 1, ENTRY)
    } else {
        cwd(1, ENTRY)
    };
    on_path(call, p, Need::NewEntry, |r| {
        let (dir, name) = entry(r, libc::EEXIST)?;
        fs::symlink_at(&target, dir, name)
    })
}

/// rename(2), renameat(2), renameat2(2), RENAME_EXCHANGE included.
pub fn rename(call: &Call, form: u8) -> Step<Reply> {
    let (from, to, flags) = match form {
        0 => (cwd(0, ENTRY), cwd(1, ENTRY), 0),
        1 => (at(call, 0, ENTRY), at(call, 2, ENTRY), 0),
        _ => (at(call, 0, ENTRY), at(call, 2, ENTRY), call.arg(4) as u32),
    };
    let (noreplace, exchange) = (libc::RENAME_NOREPLACE, libc::RENAME_EXCHANGE);
    if flags & !(noreplace | exchange | libc::RENAME_WHITEOUT) != 0
        || (flags & exchange != 0 && flags & (noreplace | libc::RENAME_WHITEOUT) != 0)
    {
        return Err(Errno(libc::EINVAL).into());
    }
    on_two_paths(
        call,
        from,
        to,
        |a, b| rename_error(a, b, flags),
        |a, b| {
            let (old_dir, old) = entry(a, libc::EBUSY)?;
            let (new_dir, new) = entry(b, libc::EBUSY)?;
            fs::rename_at(old_dir, old, new_dir, new, flags)
        },
    )
}

/// do_renameat2()'s checks before permissions, in its order.
fn rename_error(a: &Resolved, b: &Resolved, flags: u32) -> Option<i32> {
    let exchange = flags & libc::RENAME_EXCHANGE != 0;
    if a.last != Last::Name {
        return Some(libc::EBUSY);
    }
    if b.last != Last::Name {
        return Some(if flags & libc::RENAME_NOREPLACE != 0 {
            libc::EEXIST
        } else {
            libc::EBUSY
        });
    }
    let Some(old) = a.stat() else {
        return Some(libc::ENOENT);
    };
    let Some(new) = b.stat() else {
        if exchange {
            return Some(libc::ENOENT);
        }
        return (!old.is_dir() && (a.trailing_slash || b.trailing_slash)).then_some(libc::ENOTDIR);
    };
    if flags & libc::RENAME_NOREPLACE != 0 {
        return Some(libc::EEXIST);
    }
    if !old.is_dir() && (a.trailing_slash || (!exchange && b.trailing_slash)) {
        return Some(libc::ENOTDIR);
    }
    if exchange && !new.is_dir() && b.trailing_slash {
        return Some(libc::ENOTDIR);
    }
    None
}

/// link(2), linkat(2). The source needs write access too: otherwise a hard
/// link in an allowed directory would make a protected file writable.
pub fn link(call: &Call, at_form: bool) -> Step<Reply> {
    let (from, to) = if at_form {
        let flags = call.int(4);
        if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
            return Err(Errno(libc::EINVAL).into());
        }
        (at(call, 0, at_lookup(flags, false)), at(call, 2, ENTRY))
    } else {
        (cwd(0, NOFOLLOW), cwd(1, ENTRY))
    };
    let rule = |a: &Resolved, b: &Resolved| {
        entry_error(a, Need::Existing).or_else(|| entry_error(b, Need::NewEntry))
    };
    on_two_paths(call, from, to, rule, |a, b| {
        let (new_dir, new) = entry(b, libc::EEXIST)?;
        match &a.target {
            Target::Entry { dir, name, .. } => fs::link_at(dir.as_fd(), name, new_dir, new),
            Target::Object { fd, .. } => fs::link_fd(fd.as_fd(), new_dir, new),
        }
    })
}

/// truncate(2): the supervisor opens the file for writing without following
/// a symlink swapped in after the check, then ftruncate(2)s it.
pub fn truncate(call: &Call) -> Step<Reply> {
    let len = call.arg(1) as i64;
    if len < 0 {
        return Err(Errno(libc::EINVAL).into());
    }
    on_path(call, cwd(0, FOLLOW), Need::Existing, |r| {
        // vfs_truncate(): only a regular file; opening a FIFO or a socket
        // to find out would fail differently (ENXIO) or block.
        match r.stat() {
            Some(st) if st.is_dir() => return Err(Errno(libc::EISDIR)),
            Some(st) if st.kind() != libc::S_IFREG => return Err(Errno(libc::EINVAL)),
            _ => {}
        }
        let obj = r.open_object()?;
        let flags = (libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) as u64;
        let file = fs::openat2(None, fs::proc_self_fd(obj.as_fd()).as_bytes(), flags, 0, 0)?;
        fs::ftruncate(file.as_fd(), len)
    })
}

/// chmod(2), fchmodat(2) (always follows), fchmodat2(2).
pub fn chmod(call: &Call, form: u8) -> Step<Reply> {
    let (p, mode) = match form {
        0 => (cwd(0, FOLLOW), call.arg(1)),
        1 => (at(call, 0, FOLLOW), call.arg(2)),
        _ => {
            at_flags_valid(call.int(3))?;
            (at(call, 0, at_lookup(call.int(3), true)), call.arg(2))
        }
    };
    on_path(call, p, Need::Existing, |r| {
        fs::chmod_fd_path(r.open_object()?.as_fd(), mode as u32)
    })
}

/// chown(2), lchown(2), fchownat(2). The ids are the caller's, mapped
/// through its user namespace.
pub fn chown(call: &Call, form: u8) -> Step<Reply> {
    let (p, i) = match form {
        0 => (cwd(0, FOLLOW), 1),
        1 => (cwd(0, NOFOLLOW), 1),
        _ => {
            at_flags_valid(call.int(4))?;
            (at(call, 0, at_lookup(call.int(4), true)), 2)
        }
    };
    let (uid, gid) = (call.arg(i) as u32, call.arg(i + 1) as u32);
    on_path(call, p, Need::Existing, |r| {
        let (uid, gid) = call.map_owner(uid, gid)?;
        fs::chown_fd(r.open_object()?.as_fd(), uid, gid)
    })
}

/// utime(2), utimes(2), futimesat(2), utimensat(2) (and futimens(3), its
/// NULL-path form, judged by the descriptor's path).
pub fn utimes(call: &Call, form: u8) -> Step<Reply> {
    let (p, times_arg, flags) = match form {
        0 | 1 => (cwd(0, FOLLOW), 1, 0),
        2 => (at(call, 0, FOLLOW), 2, 0),
        _ => (at(call, 0, at_lookup(call.int(3), true)), 2, call.int(3)),
    };
    let times = read_times(call, form, call.arg(times_arg))?;
    if form == 3 {
        // Both UTIME_OMIT: nothing to do, and the kernel does not even
        // look at the path or the flags.
        if let Some([a, m]) = times
            && a.tv_nsec == UTIME_OMIT
            && m.tv_nsec == UTIME_OMIT
        {
            return Ok(Reply::Value(0));
        }
        if call.arg(1) == 0 {
            if call.int(0) == libc::AT_FDCWD {
                // The NULL path is looked up: EFAULT.
                return Err(Errno(libc::EFAULT).into());
            }
            if flags != 0 {
                return Err(Errno(libc::EINVAL).into());
            }
            return on_fd(call, 0, |fd| fs::futimens(fd, times));
        }
        at_flags_valid(flags)?;
    }
    on_path(call, p, Need::Existing, |r| {
        fs::utimens_fd_path(r.open_object()?.as_fd(), times)
    })
}

const UTIME_OMIT: i64 = (1 << 30) - 2;

/// Reads the times argument of the utime family as two timespecs.
fn read_times(call: &Call, form: u8, addr: u64) -> Step<Option<[libc::timespec; 2]>> {
    if addr == 0 {
        return Ok(None);
    }
    let words: Vec<i64> = call
        .read_bytes(addr, if form == 0 { 16 } else { 32 })?
        .chunks(8)
        .map(|c| i64::from_ne_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let ts = |sec: i64, nsec: i64| libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    Ok(Some(match form {
        0 => [ts(words[0], 0), ts(words[1], 0)],
        1 | 2 => {
            if words[1] < 0 || words[1] >= 1_000_000 || words[3] < 0 || words[3] >= 1_000_000 {
                return Err(Errno(libc::EINVAL).into());
            }
            [ts(words[0], words[1] * 1000), ts(words[2], words[3] * 1000)]
        }
        _ => [ts(words[0], words[1]), ts(words[2], words[3])],
    }))
}

/// The largest xattr value the kernel accepts.
const XATTR_SIZE_MAX: usize = 65536;

/// The name of an xattr call, checked as the kernel does before the lookup:
/// empty or longer than XATTR_NAME_MAX is ERANGE.
fn xattr_name(call: &Call, arg: usize) -> Step<Vec<u8>> {
    let name = crate::sys::mem::read_cstr(call.n.pid, call.arg(arg), 255).map_err(|e| {
        if e.0 == libc::ENAMETOOLONG {
            Errno(libc::ERANGE)
        } else {
            e
        }
    })?;
    if name.is_empty() {
        return Err(Errno(libc::ERANGE).into());
    }
    Ok(name)
}

/// setxattr's flags: XATTR_CREATE, XATTR_REPLACE, nothing else.
fn xattr_flags_valid(flags: i32) -> Step<()> {
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
        return Err(Errno(libc::EINVAL).into());
    }
    Ok(())
}

/// setxattr(2), lsetxattr(2), removexattr(2), lremovexattr(2).
pub fn path_xattr(call: &Call, set: bool, follow: bool) -> Step<Reply> {
    if set {
        xattr_flags_valid(call.int(4))?;
    }
    let name = xattr_name(call, 1)?;
    let p = cwd(0, if follow { FOLLOW } else { NOFOLLOW });
    if set {
        let (size, flags) = (call.arg(3) as usize, call.int(4));
        if size > XATTR_SIZE_MAX {
            return Err(Errno(libc::E2BIG).into());
        }
        let value = call.read_bytes(call.arg(2), size)?;
        on_path(call, p, Need::Existing, |r| {
            fs::set_xattr(r.open_object()?.as_fd(), true, &name, &value, flags)
        })
    } else {
        on_path(call, p, Need::Existing, |r| {
            fs::remove_xattr(r.open_object()?.as_fd(), true, &name)
        })
    }
}

/// setxattrat(2), removexattrat(2) (Linux 6.13).
pub fn xattr_at(call: &Call, set: bool) -> Step<Reply> {
    let at_flags = call.int(2);
    at_flags_valid(at_flags)?;
    let p = at(call, 0, at_lookup(at_flags, true));
    if set {
        // struct xattr_args { __aligned_u64 value; __u32 size; __u32 flags; },
        // read as copy_struct_from_user() does: a larger struct is fine if
        // everything past the known fields is zero.
        let usize = call.arg(5) as usize;
        if usize < 16 {
            return Err(Errno(libc::EINVAL).into());
        }
        if usize > 4096 {
            return Err(Errno(libc::E2BIG).into());
        }
        let args = call.read_bytes(call.arg(4), usize)?;
        if args[16..].iter().any(|&b| b != 0) {
            return Err(Errno(libc::E2BIG).into());
        }
        let value_ptr = u64::from_ne_bytes(args[..8].try_into().expect("8 bytes"));
        let size = u32::from_ne_bytes(args[8..12].try_into().expect("4 bytes")) as usize;
        let flags = i32::from_ne_bytes(args[12..16].try_into().expect("4 bytes"));
        xattr_flags_valid(flags)?;
        let name = xattr_name(call, 3)?;
        if size > XATTR_SIZE_MAX {
            return Err(Errno(libc::E2BIG).into());
        }
        let value = if size == 0 {
            Vec::new()
        } else {
            call.read_bytes(value_ptr, size)?
        };
        on_path(call, p, Need::Existing, |r| {
            fs::set_xattr(r.open_object()?.as_fd(), true, &name, &value, flags)
        })
    } else {
        let name = xattr_name(call, 3)?;
        // path_removexattrat(): an empty path with AT_EMPTY_PATH names the
        // descriptor itself, and AT_FDCWD is none (EBADF), unlike setxattrat.
        if at_flags & libc::AT_EMPTY_PATH != 0 && call.int(0) < 0 && call.read_path(1)?.is_empty() {
            return Err(Errno(libc::EBADF).into());
        }
        on_path(call, p, Need::Existing, |r| {
            fs::remove_xattr(r.open_object()?.as_fd(), true, &name)
        })
    }
}

/// The largest `struct file_attr` copied; the kernel's is 32 bytes (6.17).
const FILE_ATTR_MAX: usize = 64;

/// file_setattr(2) (Linux 6.17): `(dirfd 0, path 1, attr 2, size 3, at_flags 4)`.
pub fn file_setattr(call: &Call) -> Step<Reply> {
    let size = call.arg(3) as usize;
    if size == 0 || size > FILE_ATTR_MAX {
        return Err(Errno(libc::EINVAL).into());
    }
    let mut attr = call.read_bytes(call.arg(2), size)?;
    let p = at(call, 0, at_lookup(call.int(4), true));
    on_path(call, p, Need::Existing, |r| {
        let obj = r.open_object()?;
        project_unchanged_outside_init_namespace(call, obj.as_fd(), &attr)?;
        fs::file_attr(obj.as_fd(), true, &mut attr)
    })
}

/// `FS_XFLAG_PROJINHERIT`.
const PROJINHERIT: u64 = 0x200;

/// The kernel refuses, outside the initial user namespace, a change of the
/// project id or of its inheritance flag (EINVAL). The supervisor acts in
/// its own namespace, so it checks for a caller in another.
/// `struct file_attr`: `u64 fa_xflags`, `u32 fa_extsize`, `u32 fa_nextents`,
/// `u32 fa_projid`, `u32 fa_cowextsize`.
fn project_unchanged_outside_init_namespace(
    call: &Call,
    obj: BorrowedFd<'_>,
    new: &[u8],
) -> Result<(), Errno> {
    if new.len() < 20 || crate::supervise::userns::shares_ours(call.n.pid, "user")? {
        return Ok(());
    }
    let mut old = vec![0u8; new.len()];
    fs::file_attr(obj, false, &mut old)?;
    let xflags = |b: &[u8]| u64::from_ne_bytes(b[..8].try_into().expect("8 bytes"));
    let projid = |b: &[u8]| u32::from_ne_bytes(b[16..20].try_into().expect("4 bytes"));
    if projid(&old) != projid(new) || (xflags(&old) ^ xflags(new)) & PROJINHERIT != 0 {
        return Err(Errno(libc::EINVAL));
    }
    Ok(())
}

/// fchmod(2).
pub fn fchmod(call: &Call) -> Step<Reply> {
    let mode = call.arg(1) as u32;
    on_fd(call, 0, |fd| fs::fchmod(fd, mode))
}

/// fchown(2).
pub fn fchown(call: &Call) -> Step<Reply> {
    let (uid, gid) = (call.arg(1) as u32, call.arg(2) as u32);
    on_fd(call, 0, |fd| {
        let (uid, gid) = call.map_owner(uid, gid)?;
        fs::fchown(fd, uid, gid)
    })
}

/// fsetxattr(2), fremovexattr(2).
pub fn fd_xattr(call: &Call, set: bool) -> Step<Reply> {
    if set {
        xattr_flags_valid(call.int(4))?;
    }
    let name = xattr_name(call, 1)?;
    if set {
        let (size, flags) = (call.arg(3) as usize, call.int(4));
        if size > XATTR_SIZE_MAX {
            return Err(Errno(libc::E2BIG).into());
        }
        let value = call.read_bytes(call.arg(2), size)?;
        on_fd(call, 0, |fd| fs::set_xattr(fd, false, &name, &value, flags))
    } else {
        on_fd(call, 0, |fd| fs::remove_xattr(fd, false, &name))
    }
}
