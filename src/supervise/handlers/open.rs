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
use crate::supervise::resolve::{Base, Last, Lookup, Target};
use crate::sys::{Errno, fs};
use std::os::fd::AsFd;

/// `__O_TMPFILE`: O_TMPFILE without the O_DIRECTORY bit it includes, which
/// plain directory opens carry too.
const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;

/// Every flag the kernel knows (`VALID_OPEN_FLAGS`): open(2), openat(2) and
/// creat(2) drop the others; openat2(2) refuses them.
const VALID_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | O_TMPFILE_BIT;

/// The flags O_PATH keeps (`O_PATH_FLAGS`).
const O_PATH_FLAGS: i32 = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC;

/// The permission bits a created file can get (`S_IALLUGO`).
const S_IALLUGO: u64 = 0o7777;

/// `struct open_how` as of Linux 5.6: flags, mode, resolve.
const OPEN_HOW_SIZE: usize = 24;

/// The `RESOLVE_*` flags the kernel knows.
const VALID_RESOLVE_FLAGS: u64 = libc::RESOLVE_NO_XDEV
    | libc::RESOLVE_NO_MAGICLINKS
    | libc::RESOLVE_NO_SYMLINKS
    | libc::RESOLVE_BENEATH
    | libc::RESOLVE_IN_ROOT
    | libc::RESOLVE_CACHED;

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
    perform(
        call,
        legacy_request(Base::Cwd, 0, call.int(1), call.arg(2))?,
    )
}

/// openat(2).
pub fn openat(call: &Call) -> Step<Reply> {
    let base = Base::from_dirfd(call.arg(0));
    perform(call, legacy_request(base, 1, call.int(2), call.arg(3))?)
}

/// creat(2): open with O_CREAT|O_WRONLY|O_TRUNC.
pub fn creat(call: &Call) -> Step<Reply> {
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
    perform(call, legacy_request(Base::Cwd, 0, flags, call.arg(1))?)
}

/// What open(2), openat(2) and creat(2) ask for, as the kernel's
/// build_open_how() reads them: unknown flags dropped, the mode masked with
/// S_IALLUGO (a raw `st_mode` is fine) and ignored unless the call creates,
/// O_PATH keeping only the flags it allows.
fn legacy_request(base: Base, path_arg: usize, flags: i32, mode: u64) -> Step<Request> {
    let mut flags = flags & VALID_OPEN_FLAGS;
    let mode = if will_create(flags) {
        mode & S_IALLUGO
    } else {
        0
    };
    if flags & libc::O_PATH != 0 {
        flags &= O_PATH_FLAGS;
    }
    let req = Request {
        base,
        path_arg,
        flags,
        mode: mode as u32,
        resolve: 0,
    };
    check_request(&req)?;
    Ok(req)
}

/// openat2(2): the flags live in a `struct open_how` in the caller's
/// memory, read as copy_struct_from_user() does: a larger struct is fine
/// if everything past the known fields is zero (E2BIG otherwise).
pub fn openat2(call: &Call) -> Step<Reply> {
    let size = call.arg(3) as usize;
    if size < OPEN_HOW_SIZE {
        return Err(Errno(libc::EINVAL).into());
    }
    if size > 4096 {
        return Err(Errno(libc::E2BIG).into());
    }
    let how = call.read_bytes(call.arg(2), size)?;
    if how[OPEN_HOW_SIZE..].iter().any(|&b| b != 0) {
        return Err(Errno(libc::E2BIG).into());
    }
    let word = |i: usize| u64::from_ne_bytes(how[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    // build_open_flags(), strict: every bit must mean something.
    if flags & !(VALID_OPEN_FLAGS as u32 as u64) != 0 || resolve & !VALID_RESOLVE_FLAGS != 0 {
        return Err(Errno(libc::EINVAL).into());
    }
    let flags = flags as i32;
    if resolve & libc::RESOLVE_BENEATH != 0 && resolve & libc::RESOLVE_IN_ROOT != 0 {
        return Err(Errno(libc::EINVAL).into());
    }
    if (will_create(flags) && mode & !S_IALLUGO != 0) || (!will_create(flags) && mode != 0) {
        return Err(Errno(libc::EINVAL).into());
    }
    if flags & libc::O_PATH != 0 && flags & !O_PATH_FLAGS != 0 {
        return Err(Errno(libc::EINVAL).into());
    }
    let req = Request {
        base: Base::from_dirfd(call.arg(0)),
        path_arg: 1,
        flags,
        mode: mode as u32,
        resolve,
    };
    check_request(&req)?;
    perform(call, req)
}

/// `WILL_CREATE()`: O_CREAT or O_TMPFILE, the opens that take a mode.
fn will_create(flags: i32) -> bool {
    flags & (libc::O_CREAT | O_TMPFILE_BIT) != 0
}

/// The rest of build_open_flags(), for every open: combinations the kernel
/// refuses before it looks at the path.
fn check_request(req: &Request) -> Step<()> {
    let flags = req.flags;
    if flags & (libc::O_DIRECTORY | libc::O_CREAT) == libc::O_DIRECTORY | libc::O_CREAT {
        return Err(Errno(libc::EINVAL).into());
    }
    // O_TMPFILE needs O_DIRECTORY and a write access mode (3 counts).
    if flags & O_TMPFILE_BIT != 0
        && (flags & libc::O_TMPFILE != libc::O_TMPFILE || flags & libc::O_ACCMODE == 0)
    {
        return Err(Errno(libc::EINVAL).into());
    }
    if req.resolve & libc::RESOLVE_CACHED != 0
        && flags & (libc::O_TRUNC | libc::O_CREAT | O_TMPFILE_BIT) != 0
    {
        return Err(Errno(libc::EAGAIN).into());
    }
    Ok(())
}

fn perform(call: &Call, req: Request) -> Step<Reply> {
    // RESOLVE_CACHED only allows the kernel to fail with EAGAIN; a full
    // lookup is as good an answer.
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
        in_root: req.resolve & libc::RESOLVE_IN_ROOT != 0,
        no_xdev: req.resolve & libc::RESOLVE_NO_XDEV != 0,
        // O_CREAT looks the last name up as a create does: "name/" is
        // EISDIR whatever it names (open_last_lookups()).
        final_entry: creating,
    };
    let resolved = call.resolve(req.base, &path, lookup)?;
    if creating && resolved.trailing_slash && resolved.last == Last::Name {
        return Err(Errno(libc::EISDIR).into());
    }
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
            // RESOLVE_NO_SYMLINKS: the final symlink, if the caller's flags
            // follow one, was followed by the resolver; one swapped in since
            // then fails with ELOOP instead of redirecting the open. Unlike
            // O_NOFOLLOW it leaves no trace in the file's flags (F_GETFL).
            let mut name = name.clone();
            if resolved.trailing_slash {
                name.push(b'/');
            }
            fs::openat2(
                Some(dir.as_fd()),
                &name,
                ours,
                u64::from(req.mode),
                libc::RESOLVE_NO_SYMLINKS | (req.resolve & libc::RESOLVE_NO_XDEV),
            )?
        }
        Target::Object { fd, stat } if stat.is_dir() => {
            if creating && flags & libc::O_EXCL != 0 {
                return Err(Errno(libc::EEXIST).into());
            }
            // A directory reached by `.`, `..` or `/`: opening its `.`
            // gives what the kernel gives (EISDIR for O_CREAT, an
            // O_TMPFILE file inside), with the caller's exact flags.
            fs::openat2(Some(fd.as_fd()), b".", ours, u64::from(req.mode), 0)?
        }
        Target::Object { fd, .. } => {
            if creating && flags & libc::O_EXCL != 0 {
                return Err(Errno(libc::EEXIST).into());
            }
            // Reopen the very object through its magic link, as the kernel
            // does for /proc/self/fd/N. O_NOFOLLOW cannot be among the
            // caller's flags here: it would have stopped at the link.
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
