//! The `stat` category: stat family, access, readlink, getxattr, listxattr,
//! chdir. A denied call fails as if the path did not exist (ENOENT).
//!
//! | syscall | dirfd | path | flags | out |
//! |---------|-------|------|-------|-----|
//! | stat, lstat | cwd | 0 | - | buf 1 |
//! | newfstatat | 0 | 1 | 3 | buf 2 |
//! | statx | 0 | 1 | 2 | buf 4 (mask 3) |
//! | access | cwd | 0 | - | mode 1 |
//! | faccessat, faccessat2 | 0 | 1 | 3 (faccessat2) | mode 2 |
//! | readlink | cwd | 0 | - | buf 1, size 2 |
//! | readlinkat | 0 | 1 | - | buf 2, size 3 |
//! | getxattr, lgetxattr | cwd | 0 | - | name 1, value 2, size 3 |
//! | listxattr, llistxattr | cwd | 0 | - | list 1, size 2 |
//! | getxattrat | 0 | 1 | 2 | name 3, args 4 |
//! | listxattrat | 0 | 1 | 2 | list 3, size 4 |
//! | file_getattr | 0 | 1 | 4 | attr 2, size 3 |
//! | chdir | cwd | 0 | - | - |
//!
//! When the stat category is off, these calls are watched only because
//! in-sandbox commands arrive as stats of magic paths; anything else then
//! continues in the kernel. That is not a check-then-continue race: no
//! decision rests on the path.

use super::{describe, magic};
use crate::policy::{Category, Lock};
use crate::supervise::call::{Call, Reply, Step};
use crate::supervise::resolve::{Base, Lookup, Resolved};
use crate::sys::{Errno, fs, mem};
use std::os::fd::AsFd;

/// What the call wants once the path is resolved.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// stat(2).
    Stat,
    /// lstat(2).
    Lstat,
    /// newfstatat(2).
    Newfstatat,
    /// statx(2).
    Statx,
    /// access(2).
    Access,
    /// faccessat(2).
    Faccessat,
    /// faccessat2(2).
    Faccessat2,
    /// readlink(2).
    Readlink,
    /// readlinkat(2).
    Readlinkat,
    /// getxattr(2) / lgetxattr(2) (`follow`).
    Getxattr(bool),
    /// listxattr(2) / llistxattr(2) (`follow`).
    Listxattr(bool),
    /// getxattrat(2).
    Getxattrat,
    /// listxattrat(2).
    Listxattrat,
    /// file_getattr(2) (Linux 6.17).
    FileGetattr,
    /// chdir(2).
    Chdir,
}

/// (base, path argument, lookup) for each kind.
fn path_of(call: &Call, kind: Kind) -> (Base, usize, Lookup) {
    let follow = |f| Lookup {
        follow_final: f,
        ..Lookup::default()
    };
    let at_flags = |flags: i32| Lookup {
        follow_final: flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        empty_path: flags & libc::AT_EMPTY_PATH != 0,
        ..Lookup::default()
    };
    let dirfd = Base::from_dirfd(call.arg(0));
    match kind {
        Kind::Stat | Kind::Access | Kind::Chdir => (Base::Cwd, 0, follow(true)),
        Kind::Lstat | Kind::Readlink => (Base::Cwd, 0, follow(false)),
        Kind::Getxattr(f) | Kind::Listxattr(f) => (Base::Cwd, 0, follow(f)),
        Kind::Newfstatat => (dirfd, 1, at_flags(call.int(3))),
        Kind::Statx | Kind::Getxattrat | Kind::Listxattrat => (dirfd, 1, at_flags(call.int(2))),
        Kind::FileGetattr => (dirfd, 1, at_flags(call.int(4))),
        Kind::Faccessat => (dirfd, 1, follow(true)),
        Kind::Faccessat2 => (dirfd, 1, at_flags(call.int(3))),
        Kind::Readlinkat => (
            dirfd,
            1,
            Lookup {
                empty_path: true,
                ..follow(false)
            },
        ),
    }
}

/// Whether the kernel refuses the call's flags, mode or size with EINVAL
/// before it looks at the path (vfs_statx(), do_faccessat(),
/// do_readlinkat()).
fn invalid_arguments(call: &Call, kind: Kind) -> bool {
    const AT_STATX_SYNC_TYPE: i32 = 0x6000;
    const STAT_FLAGS: i32 = libc::AT_SYMLINK_NOFOLLOW
        | libc::AT_NO_AUTOMOUNT
        | libc::AT_EMPTY_PATH
        | AT_STATX_SYNC_TYPE;
    const STATX_RESERVED: u32 = 0x8000_0000;
    let bad_stat_flags =
        |f: i32| f & !STAT_FLAGS != 0 || f & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE;
    let bad_mode = |m: i32| m & !0o7 != 0;
    match kind {
        Kind::Newfstatat => bad_stat_flags(call.int(3)),
        Kind::Statx => bad_stat_flags(call.int(2)) || call.arg(3) as u32 & STATX_RESERVED != 0,
        Kind::Access => bad_mode(call.int(1)),
        Kind::Faccessat => bad_mode(call.int(2)),
        Kind::Faccessat2 => {
            bad_mode(call.int(2))
                || call.int(3)
                    & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH)
                    != 0
        }
        Kind::Readlink => call.int(2) <= 0,
        Kind::Readlinkat => call.int(3) <= 0,
        _ => false,
    }
}

/// Handles one call of the stat category.
pub fn handle(call: &Call, kind: Kind) -> Step<Reply> {
    if surely_locked_and_unchecked(call) {
        // Watched only for commands, from a caller that can send none: its
        // path decides nothing, so it is not even read. A magic path then
        // fails as the kernel fails it (ENOENT), as under lock:on from the
        // start, and unreported.
        return Ok(Reply::ContinueRacy);
    }
    if invalid_arguments(call, kind) {
        return Err(Errno(libc::EINVAL).into());
    }
    let (base, arg, lookup) = path_of(call, kind);
    // fstat(fd) arrives as newfstatat(fd, "", AT_EMPTY_PATH) or with a NULL path.
    let path = if call.arg(arg) == 0 && lookup.empty_path {
        Vec::new()
    } else {
        call.read_path(arg)?
    };
    let carries_commands = matches!(
        kind,
        Kind::Stat
            | Kind::Lstat
            | Kind::Newfstatat
            | Kind::Statx
            | Kind::Access
            | Kind::Faccessat
            | Kind::Faccessat2
    );
    if carries_commands && magic::is_magic(&path) {
        return magic::handle(call, &path);
    }
    if !call.shared.policy().is_on(Category::Stat) {
        // See the module comment: no decision rests on the path here.
        return Ok(Reply::ContinueRacy);
    }
    let _caller = call.become_caller(false)?;
    let r = match call.resolve(base, &path, lookup) {
        Ok(r) => r,
        Err(Reply::Error(e)) => return Err(hide_failure(call, base, &path, e)),
        Err(other) => return Err(other),
    };
    // A descriptor the caller already holds (fstat) names no path to judge;
    // the call is still emulated on the object, not continued, so that the
    // path cannot be filled in after this check.
    if !path.is_empty() {
        call.check(Category::Stat, &r.path, || describe::path(&r.path))?;
    }
    match emulate(call, kind, &r) {
        // readlinkat(fd, "") of something that is not a symlink: ENOENT,
        // where a name that is not one is EINVAL.
        Err(Reply::Error(Errno(libc::EINVAL)))
            if path.is_empty() && matches!(kind, Kind::Readlink | Kind::Readlinkat) =>
        {
            Err(Errno(libc::ENOENT).into())
        }
        other => other,
    }
}

/// A lookup that failed on the way (ENOTDIR under a file, ELOOP, EACCES)
/// would tell the caller something about a path it may not see. When the
/// lexical path is hidden, the failure is the denial: ENOENT, reported.
fn hide_failure(call: &Call, base: Base, path: &[u8], errno: Errno) -> Reply {
    if errno.0 == libc::ENOENT {
        return Reply::Error(errno);
    }
    let Some(lexical) = lexical_path(call, base, path) else {
        return Reply::Error(errno);
    };
    match call.check(Category::Stat, &lexical, || describe::path(&lexical)) {
        Ok(()) => Reply::Error(errno),
        Err(denied) => denied,
    }
}

/// `path` made absolute against the caller's cwd or dirfd and normalised
/// without touching the filesystem.
fn lexical_path(call: &Call, base: Base, path: &[u8]) -> Option<Vec<u8>> {
    let mut full = if path.first() == Some(&b'/') {
        Vec::new()
    } else {
        let link = match base {
            Base::Cwd => format!("/proc/{}/cwd", call.n.pid),
            Base::Fd(fd) => format!("/proc/{}/fd/{fd}", call.n.pid),
        };
        fs::readlink_at(None, link.as_bytes()).ok()?
    };
    full.push(b'/');
    full.extend_from_slice(path);
    let mut out: Vec<&[u8]> = Vec::new();
    for part in full.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            name => out.push(name),
        }
    }
    let mut joined = Vec::with_capacity(full.len());
    for part in &out {
        joined.push(b'/');
        joined.extend_from_slice(part);
    }
    if joined.is_empty() {
        joined.push(b'/');
    }
    Some(joined)
}

fn emulate(call: &Call, kind: Kind, r: &Resolved) -> Step<Reply> {
    let pid = call.n.pid;
    let obj = r.open_object()?;
    let obj = obj.as_fd();
    match kind {
        Kind::Stat | Kind::Lstat | Kind::Newfstatat => {
            let out = if kind == Kind::Newfstatat {
                call.arg(2)
            } else {
                call.arg(1)
            };
            mem::write_bytes(pid, out, &fs::stat_bytes(obj)?)?;
            Ok(Reply::Value(0))
        }
        Kind::Statx => {
            let sync = call.int(2) & libc::AT_STATX_SYNC_TYPE;
            mem::write_bytes(
                pid,
                call.arg(4),
                &fs::statx_bytes(obj, sync, call.arg(3) as u32)?,
            )?;
            Ok(Reply::Value(0))
        }
        Kind::Access | Kind::Faccessat | Kind::Faccessat2 => {
            let mode = if kind == Kind::Access {
                call.int(1)
            } else {
                call.int(2)
            };
            let flags = if kind == Kind::Faccessat2 {
                call.int(3) & libc::AT_EACCESS
            } else {
                0
            };
            fs::access_fd_path(obj, mode, flags)?;
            Ok(Reply::Value(0))
        }
        Kind::Readlink | Kind::Readlinkat => {
            let (buf, size) = if kind == Kind::Readlink {
                (call.arg(1), call.arg(2))
            } else {
                (call.arg(2), call.arg(3))
            };
            if (size as i64) <= 0 {
                return Err(Errno(libc::EINVAL).into());
            }
            let target = fs::readlink_at(Some(obj), b"").map_err(|e| {
                // readlink of something that is not a symlink.
                if e.0 == libc::ENOENT {
                    Errno(libc::EINVAL)
                } else {
                    e
                }
            })?;
            let n = target.len().min(size as usize);
            mem::write_bytes(pid, buf, &target[..n])?;
            Ok(Reply::Value(n as i64))
        }
        Kind::Getxattr(_) | Kind::Getxattrat => {
            let (name_arg, value, size) = if kind == Kind::Getxattrat {
                let args = call.read_bytes(call.arg(4), 16)?;
                let value = u64::from_ne_bytes(args[..8].try_into().expect("8 bytes"));
                let size = u32::from_ne_bytes(args[8..12].try_into().expect("4 bytes")) as u64;
                (3, value, size)
            } else {
                (1, call.arg(2), call.arg(3))
            };
            let name = mem::read_cstr(pid, call.arg(name_arg), 255)?;
            xattr_reply(pid, obj, Some(&name), value, size)
        }
        Kind::Listxattr(_) | Kind::Listxattrat => {
            let (list, size) = if kind == Kind::Listxattrat {
                (call.arg(3), call.arg(4))
            } else {
                (call.arg(1), call.arg(2))
            };
            xattr_reply(pid, obj, None, list, size)
        }
        Kind::FileGetattr => {
            let size = call.arg(3) as usize;
            if size == 0 || size > 64 {
                return Err(Errno(libc::EINVAL).into());
            }
            let mut attr = call.read_bytes(call.arg(2), size)?;
            fs::file_attr(obj, false, &mut attr)?;
            mem::write_bytes(pid, call.arg(2), &attr)?;
            Ok(Reply::Value(0))
        }
        Kind::Chdir => {
            // RACE: no system call changes another process's working
            // directory, so an allowed chdir must run in the caller. The
            // kernel re-reads the path; a swap after the check can only move
            // the caller's cwd, and every later access from there is resolved
            // and checked again by its real path.
            Ok(Reply::ContinueRacy)
        }
    }
}

fn xattr_reply(
    pid: u32,
    obj: std::os::fd::BorrowedFd<'_>,
    name: Option<&[u8]>,
    out: u64,
    size: u64,
) -> Step<Reply> {
    let size = (size as usize).min(65536);
    let (n, bytes) = fs::get_xattr(obj, name, size)?;
    if size > 0 {
        mem::write_bytes(pid, out, &bytes)?;
    }
    Ok(Reply::Value(n as i64))
}

/// Whether the stat category is off and the caller can be seen to be
/// locked at the cost of a lookup: the lock is on for everyone, or under
/// lock:exec the calling thread is one that exec'd (every compiler and tool
/// a build runs after the lock). Anything less certain reads the path and
/// goes through the full check in `magic`.
fn surely_locked_and_unchecked(call: &Call) -> bool {
    let lock = {
        let policy = call.shared.policy();
        if policy.is_on(Category::Stat) {
            return false;
        }
        policy.lock()
    };
    match lock {
        Lock::On => true,
        Lock::Exec => call.shared.has_execed(call.n.pid),
        Lock::Off => false,
    }
}
