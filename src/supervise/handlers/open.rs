//! open, openat, openat2, creat: performed by the supervisor with openat2(2)
//! on the directory it resolved, and handed back with ADDFD|SEND.
//!
//! | syscall | dirfd | path | flags | mode |
//! |---------|-------|------|-------|------|
//! | open    | cwd   | 0    | 1     | 2    |
//! | openat  | 0     | 1    | 2     | 3    |
//! | openat2 | 0     | 1    | how (2, size 3) | how |
//! | creat   | cwd   | 0    | O_CREAT\|O_WRONLY\|O_TRUNC | 1 |

use super::describe;
use crate::policy::Category;
use crate::supervise::call::{Call, Reply, Step};
use crate::supervise::resolve::{Base, Lookup, Target};
use crate::sys::{Errno, fs};
use std::os::fd::AsFd;

/// `__O_TMPFILE`: O_TMPFILE without the O_DIRECTORY bit it includes, which
/// plain directory opens carry too.
const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;

/// Flags that make an open a write.
const WRITE_FLAGS: i32 =
    libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | O_TMPFILE_BIT;

/// What one open asks for.
struct Request {
    base: Base,
    path_arg: usize,
    flags: i32,
    mode: u32,
    resolve: u64,
}

/// open(2).
pub fn open(call: &Call) -> Step<Reply> {
    let req = Request {
        base: Base::Cwd,
        path_arg: 0,
        flags: call.int(1),
        mode: creation_mode(call.int(1), call.arg(2)),
        resolve: 0,
    };
    perform(call, req)
}

/// openat(2).
pub fn openat(call: &Call) -> Step<Reply> {
    let req = Request {
        base: Base::from_dirfd(call.arg(0)),
        path_arg: 1,
        flags: call.int(2),
        mode: creation_mode(call.int(2), call.arg(3)),
        resolve: 0,
    };
    perform(call, req)
}

/// creat(2): open with O_CREAT|O_WRONLY|O_TRUNC.
pub fn creat(call: &Call) -> Step<Reply> {
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
    let req = Request {
        base: Base::Cwd,
        path_arg: 0,
        flags,
        mode: call.arg(1) as u32,
        resolve: 0,
    };
    perform(call, req)
}

/// openat2(2): the flags live in a `struct open_how` in the caller's memory.
pub fn openat2(call: &Call) -> Step<Reply> {
    let size = call.arg(3) as usize;
    if size < 24 {
        return Err(Errno(libc::EINVAL).into());
    }
    let how = call.read_bytes(call.arg(2), 24)?;
    let word = |i: usize| u64::from_ne_bytes(how[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    if flags >> 32 != 0 {
        return Err(Errno(libc::EINVAL).into());
    }
    let req = Request {
        base: Base::from_dirfd(call.arg(0)),
        path_arg: 1,
        flags: flags as i32,
        mode: mode as u32,
        resolve,
    };
    perform(call, req)
}

/// open(2) ignores the mode unless it creates; openat2(2), which performs
/// every open here, refuses one.
fn creation_mode(flags: i32, mode: u64) -> u32 {
    if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        mode as u32
    } else {
        0
    }
}

fn perform(call: &Call, req: Request) -> Step<Reply> {
    const SUPPORTED: u64 =
        libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_BENEATH;
    if req.resolve & !SUPPORTED != 0 {
        // RESOLVE_IN_ROOT, RESOLVE_NO_XDEV, RESOLVE_CACHED are not emulated
        // yet; refusing is safer than resolving differently from the kernel.
        return Err(Errno(if req.resolve & libc::RESOLVE_CACHED != 0 {
            libc::EAGAIN
        } else {
            libc::EINVAL
        })
        .into());
    }
    let path = call.read_path(req.path_arg)?;
    let flags = req.flags;
    let creating = flags & libc::O_CREAT != 0;
    let _caller = call.become_caller(creating || flags & libc::O_TMPFILE == libc::O_TMPFILE)?;
    let lookup = Lookup {
        follow_final: flags & libc::O_NOFOLLOW == 0 && !(creating && flags & libc::O_EXCL != 0),
        empty_path: false,
        no_symlinks: req.resolve & libc::RESOLVE_NO_SYMLINKS != 0,
        no_magic_links: req.resolve & libc::RESOLVE_NO_MAGICLINKS != 0,
        beneath: req.resolve & libc::RESOLVE_BENEATH != 0,
    };
    let resolved = call.resolve(req.base, &path, lookup)?;
    if creating && flags & libc::O_EXCL != 0 {
        call.fail_if_exists(&resolved)?;
    }
    // O_PATH reads nothing: it only names the object, as a stat does.
    let category = if flags & WRITE_FLAGS != 0 {
        Category::Write
    } else if flags & libc::O_PATH != 0 {
        Category::Stat
    } else {
        Category::Read
    };
    // Without O_CREAT the kernel fails with ENOENT before any permission
    // check; a denied area does not change that (nor does it for
    // sydbox-1), and it is not a violation.
    if !creating && flags & libc::O_TMPFILE != libc::O_TMPFILE {
        call.fail_if_missing_in(category, &resolved)?;
    }
    call.check(category, &resolved.path, || {
        format!(
            "{}, {}",
            describe::path(&resolved.path),
            describe::open_flags(flags)
        )
    })?;
    if flags & libc::O_PATH != 0 {
        // RACE (bounded): SECCOMP_IOCTL_NOTIF_ADDFD cannot pass an O_PATH
        // descriptor (the kernel's fget refuses FMODE_PATH files with
        // EBADF), so an allowed O_PATH open runs in the caller and the kernel
        // reads the path again. An O_PATH descriptor reads and writes
        // nothing: every use of it that matters (reopening through
        // /proc/self/fd, *at calls relative to it, fchownat/AT_EMPTY_PATH) is
        // resolved to its real path and checked again. What a swapped path
        // can win is stat-level knowledge, and only while stat checks are
        // on; with them off no decision rested on the path.
        return Ok(Reply::ContinueRacy);
    }
    super::tree::guard_proc_open(call, &resolved.path, flags & WRITE_FLAGS != 0)?;
    // Our own copy is always close-on-exec; the caller's gets its own flag.
    let ours = (flags | libc::O_CLOEXEC) as u64;
    // A FIFO's open waits for its other end (unless O_NONBLOCK, or O_RDWR,
    // which Linux opens at once).
    if resolved.stat().is_some_and(|st| st.kind() == libc::S_IFIFO)
        && flags & libc::O_NONBLOCK == 0
        && flags & libc::O_ACCMODE != libc::O_RDWR
    {
        call.may_block()?;
    }
    let fd = match &resolved.target {
        Target::Entry { dir, name, .. } => {
            // O_NOFOLLOW: the final symlink, if the caller's flags follow one,
            // was followed by the resolver; one swapped in since then fails
            // with ELOOP instead of redirecting the open.
            let mut name = name.clone();
            if resolved.trailing_slash {
                name.push(b'/');
            }
            fs::openat2(
                Some(dir.as_fd()),
                &name,
                ours | libc::O_NOFOLLOW as u64,
                u64::from(req.mode),
                0,
            )?
        }
        Target::Object { fd, .. } => {
            if creating && flags & libc::O_EXCL != 0 {
                return Err(Errno(libc::EEXIST).into());
            }
            // Reopen the very object through its magic link, as the kernel
            // does for /proc/self/fd/N.
            let reopen = ours & !((libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL) as u64);
            let mode = if flags & libc::O_TMPFILE == libc::O_TMPFILE {
                u64::from(req.mode)
            } else {
                0
            };
            fs::openat2(
                None,
                fs::proc_self_fd(fd.as_fd()).as_bytes(),
                reopen,
                mode,
                0,
            )?
        }
    };
    // ETXTBSY comes from a writable copy of a file someone execs: only a
    // writable open of a file with an execute bit (or one created with
    // one) can give it.
    let executable = resolved.stat().is_some_and(|st| st.mode & 0o111 != 0)
        || (creating || flags & libc::O_TMPFILE == libc::O_TMPFILE) && req.mode & 0o111 != 0;
    Ok(Reply::Fd {
        fd,
        cloexec: flags & libc::O_CLOEXEC != 0,
        exec_safe: flags & libc::O_ACCMODE == libc::O_RDONLY || !executable,
    })
}
