//! Filesystem system calls, always relative to a directory descriptor.

use super::{Errno, Result, cstring, cvt};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `AT_FDCWD`, for calls that take an absolute path.
pub const CWD: RawFd = libc::AT_FDCWD;

fn raw(dir: Option<BorrowedFd<'_>>) -> RawFd {
    dir.map_or(CWD, |d| d.as_raw_fd())
}

/// openat2(2) with `how` = (flags, mode, resolve). `dir` None means AT_FDCWD.
pub fn openat2(
    dir: Option<BorrowedFd<'_>>,
    path: &[u8],
    flags: u64,
    mode: u64,
    resolve: u64,
) -> Result<OwnedFd> {
    let path = cstring(path)?;
    // SAFETY: open_how is plain old data; zero is a valid value for each field.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    // SAFETY: `path` is NUL-terminated and `how` is a valid open_how whose
    // size we pass.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            raw(dir),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// memfd_create(2): an anonymous file named `name` with `flags`
/// (`MFD_*`).
pub fn memfd_create(name: &[u8], flags: u32) -> Result<OwnedFd> {
    let name = cstring(name)?;
    // SAFETY: `name` is NUL-terminated; the flags are plain integers.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), flags) })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// openat(2) with `O_PATH | O_NOFOLLOW | O_CLOEXEC`: a handle on the entry
/// itself, never following a final symlink.
pub fn open_path_nofollow(dir: Option<BorrowedFd<'_>>, name: &[u8]) -> Result<OwnedFd> {
    openat2(
        dir,
        name,
        (libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64,
        0,
        0,
    )
}

/// Metadata from fstatat(2).
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    /// st_mode: type and permission bits.
    pub mode: u32,
    /// st_dev.
    pub dev: u64,
    /// st_ino.
    pub ino: u64,
    /// st_nlink: 0 for a file no directory names any more.
    pub nlink: u64,
}

impl Stat {
    /// The `S_IFMT` bits.
    pub fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }
    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.kind() == libc::S_IFLNK
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }
}

/// fstatat(2) without following a final symlink; an empty `name` means the
/// descriptor itself (`AT_EMPTY_PATH`).
pub fn lstat_at(dir: BorrowedFd<'_>, name: &[u8]) -> Result<Stat> {
    let path = cstring(name)?;
    // SAFETY: `st` is plain old data filled by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let flags = libc::AT_SYMLINK_NOFOLLOW
        | if name.is_empty() {
            libc::AT_EMPTY_PATH
        } else {
            0
        };
    // SAFETY: `path` is NUL-terminated, `st` writable.
    cvt(unsafe { libc::fstatat(dir.as_raw_fd(), path.as_ptr(), &mut st, flags) })?;
    Ok(Stat {
        mode: st.st_mode,
        dev: st.st_dev,
        ino: st.st_ino,
        nlink: st.st_nlink,
    })
}

/// stat(2), following symlinks and magic links (`/proc/PID/ns/user`
/// names the namespace's nsfs inode).
pub fn stat_path(path: &[u8]) -> Result<Stat> {
    let path = cstring(path)?;
    // SAFETY: `st` is plain old data filled by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated, `st` writable.
    cvt(unsafe { libc::stat(path.as_ptr(), &mut st) })?;
    Ok(Stat {
        mode: st.st_mode,
        dev: st.st_dev,
        ino: st.st_ino,
        nlink: st.st_nlink,
    })
}

/// readlinkat(2); an empty `name` reads the link a descriptor names
/// (O_PATH|O_NOFOLLOW handle, Linux 2.6.39).
pub fn readlink_at(dir: Option<BorrowedFd<'_>>, name: &[u8]) -> Result<Vec<u8>> {
    let path = cstring(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: `buf` is writable for its length.
    let n = cvt(unsafe {
        libc::readlinkat(raw(dir), path.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
    })?;
    if n as usize >= buf.len() {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// The path the kernel shows for one of our own descriptors
/// (readlink of `/proc/self/fd/N`).
pub fn fd_path(fd: BorrowedFd<'_>) -> Result<Vec<u8>> {
    readlink_at(None, proc_self_fd(fd).as_bytes())
}

/// `/proc/self/fd/N`: a path that reopens or re-addresses exactly the object
/// behind descriptor N, without any lookup by name.
pub fn proc_self_fd(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// mkdirat(2).
pub fn mkdir_at(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> Result<()> {
    let name = cstring(name)?;
    // SAFETY: `name` is NUL-terminated.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// mknodat(2).
pub fn mknod_at(dir: BorrowedFd<'_>, name: &[u8], mode: u32, dev: u64) -> Result<()> {
    let name = cstring(name)?;
    // SAFETY: `name` is NUL-terminated.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, dev) })
        .map(drop)
}

/// unlinkat(2); `flags` may hold `AT_REMOVEDIR`.
pub fn unlink_at(dir: BorrowedFd<'_>, name: &[u8], flags: i32) -> Result<()> {
    let name = cstring(name)?;
    // SAFETY: `name` is NUL-terminated.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// renameat2(2).
pub fn rename_at(
    old_dir: BorrowedFd<'_>,
    old: &[u8],
    new_dir: BorrowedFd<'_>,
    new: &[u8],
    flags: u32,
) -> Result<()> {
    let (old, new) = (cstring(old)?, cstring(new)?);
    // SAFETY: both names are NUL-terminated.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            flags,
        )
    })
    .map(drop)
}

/// linkat(2) without following a final symlink of the source.
pub fn link_at(
    old_dir: BorrowedFd<'_>,
    old: &[u8],
    new_dir: BorrowedFd<'_>,
    new: &[u8],
) -> Result<()> {
    let (old, new) = (cstring(old)?, cstring(new)?);
    // SAFETY: both names are NUL-terminated.
    cvt(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// symlinkat(2).
pub fn symlink_at(target: &[u8], dir: BorrowedFd<'_>, name: &[u8]) -> Result<()> {
    let (target, name) = (cstring(target)?, cstring(name)?);
    // SAFETY: both strings are NUL-terminated.
    cvt(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// chmod(2) of the object behind `fd` (any kind of descriptor, O_PATH too),
/// through its `/proc/self/fd` magic link.
pub fn chmod_fd_path(fd: BorrowedFd<'_>, mode: u32) -> Result<()> {
    let path = cstring(proc_self_fd(fd).as_bytes())?;
    // SAFETY: `path` is NUL-terminated.
    cvt(unsafe { libc::chmod(path.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// fchmod(2).
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) }).map(drop)
}

/// fchownat(2) with `AT_EMPTY_PATH`: changes the object behind `fd` itself,
/// works on O_PATH descriptors and never follows anything.
pub fn chown_fd(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<()> {
    // SAFETY: the empty string is NUL-terminated.
    cvt(unsafe { libc::fchownat(fd.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })
        .map(drop)
}

/// fchown(2), with the descriptor's own access checks.
pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

/// utimensat(2) on the object behind `fd` through its magic link; `times`
/// None means "now" for both.
pub fn utimens_fd_path(fd: BorrowedFd<'_>, times: Option<[libc::timespec; 2]>) -> Result<()> {
    let path = cstring(proc_self_fd(fd).as_bytes())?;
    let ptr = times.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: `path` is NUL-terminated; `ptr` is NULL or two timespecs.
    cvt(unsafe { libc::utimensat(CWD, path.as_ptr(), ptr, 0) }).map(drop)
}

/// futimens(3) (utimensat(2) with a NULL path) on an open descriptor.
pub fn futimens(fd: BorrowedFd<'_>, times: Option<[libc::timespec; 2]>) -> Result<()> {
    let ptr = times.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: a NULL path is the documented futimens form; `ptr` is NULL or two timespecs.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_utimensat,
            fd.as_raw_fd(),
            std::ptr::null::<u8>(),
            ptr,
            0,
        )
    })
    .map(drop)
}

/// setxattr(2) on the object behind `fd` through its magic link, or on the
/// descriptor itself (fsetxattr) when `via_path` is false.
pub fn set_xattr(
    fd: BorrowedFd<'_>,
    via_path: bool,
    name: &[u8],
    value: &[u8],
    flags: i32,
) -> Result<()> {
    let name = cstring(name)?;
    let ret = if via_path {
        let path = cstring(proc_self_fd(fd).as_bytes())?;
        // SAFETY: strings are NUL-terminated; `value` is readable for its length.
        unsafe {
            libc::setxattr(
                path.as_ptr(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                flags,
            )
        }
    } else {
        // SAFETY: as above.
        unsafe {
            libc::fsetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                flags,
            )
        }
    };
    cvt(ret).map(drop)
}

/// removexattr(2), like [`set_xattr`].
pub fn remove_xattr(fd: BorrowedFd<'_>, via_path: bool, name: &[u8]) -> Result<()> {
    let name = cstring(name)?;
    let ret = if via_path {
        let path = cstring(proc_self_fd(fd).as_bytes())?;
        // SAFETY: strings are NUL-terminated.
        unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) }
    } else {
        // SAFETY: as above.
        unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) }
    };
    cvt(ret).map(drop)
}

/// ftruncate(2).
pub fn ftruncate(fd: BorrowedFd<'_>, len: i64) -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), len) }).map(drop)
}

/// Reads a small file whole (open, read, close), such as `/proc/PID/status`.
pub fn read_small_file(path: &[u8], buf: &mut Vec<u8>) -> Result<()> {
    let fd = openat2(None, path, (libc::O_RDONLY | libc::O_CLOEXEC) as u64, 0, 0)?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        // SAFETY: `chunk` is writable for its length.
        let n = cvt(unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) })?;
        buf.extend_from_slice(&chunk[..n as usize]);
        // procfs files are generated whole and handed out in one read when
        // the buffer holds them; a short read is the end.
        if (n as usize) < chunk.len() {
            return Ok(());
        }
    }
}

/// linkat(2) of the object behind `fd` (AT_EMPTY_PATH needs
/// CAP_DAC_READ_SEARCH; the /proc/self/fd form with AT_SYMLINK_FOLLOW does
/// not, and names the same inode).
pub fn link_fd(fd: BorrowedFd<'_>, new_dir: BorrowedFd<'_>, new: &[u8]) -> Result<()> {
    let old = cstring(proc_self_fd(fd).as_bytes())?;
    let new = cstring(new)?;
    // SAFETY: both names are NUL-terminated.
    cvt(unsafe {
        libc::linkat(
            CWD,
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    })
    .map(drop)
}

/// The raw `struct stat` of the object behind `fd` (fstatat(2) with
/// AT_EMPTY_PATH), as bytes to hand to a caller.
pub fn stat_bytes(fd: BorrowedFd<'_>) -> Result<Vec<u8>> {
    // SAFETY: `st` is plain old data filled by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: the empty string is NUL-terminated, `st` writable.
    cvt(unsafe {
        libc::fstatat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            &mut st,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: viewing a plain-old-data struct as bytes.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&st as *const libc::stat).cast::<u8>(),
            std::mem::size_of::<libc::stat>(),
        )
    };
    Ok(bytes.to_vec())
}

/// The raw `struct statx` of the object behind `fd` (statx(2) with
/// AT_EMPTY_PATH), as bytes to hand to a caller.
pub fn statx_bytes(fd: BorrowedFd<'_>, sync_flags: i32, mask: u32) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW | sync_flags;
    // SAFETY: `buf` holds 256 bytes, the size of struct statx.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_statx,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            mask,
            buf.as_mut_ptr(),
        )
    })?;
    Ok(buf)
}

/// faccessat2(2) on the object behind `fd`, through its magic link.
pub fn access_fd_path(fd: BorrowedFd<'_>, mode: i32, flags: i32) -> Result<()> {
    let path = cstring(proc_self_fd(fd).as_bytes())?;
    // SAFETY: `path` is NUL-terminated.
    cvt(unsafe { libc::syscall(libc::SYS_faccessat2, CWD, path.as_ptr(), mode, flags) }).map(drop)
}

/// getxattr(2) (`list` false) or listxattr(2) (`list` true) on the object
/// behind `fd` through its magic link; `size` 0 asks for the size needed.
pub fn get_xattr(fd: BorrowedFd<'_>, name: Option<&[u8]>, size: usize) -> Result<(usize, Vec<u8>)> {
    let path = cstring(proc_self_fd(fd).as_bytes())?;
    let mut buf = vec![0u8; size];
    let ret = match name {
        Some(name) => {
            let name = cstring(name)?;
            // SAFETY: strings are NUL-terminated; `buf` is writable for `size`.
            unsafe { libc::getxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), size) }
        }
        // SAFETY: as above.
        None => unsafe { libc::listxattr(path.as_ptr(), buf.as_mut_ptr().cast(), size) },
    };
    let n = cvt(ret)? as usize;
    buf.truncate(n.min(size));
    Ok((n, buf))
}

/// file_setattr(2) (`set`) or file_getattr(2) (Linux 6.17) on the object
/// behind `fd` (any descriptor, O_PATH too) through its magic link; `attr`
/// is the caller's `struct file_attr`, read or filled in place.
pub fn file_attr(fd: BorrowedFd<'_>, set: bool, attr: &mut [u8]) -> Result<()> {
    let nr = if set { 469 } else { 468 };
    let path = cstring(proc_self_fd(fd).as_bytes())?;
    // SAFETY: `path` is NUL-terminated; `attr` is writable for its length.
    cvt(unsafe { libc::syscall(nr, CWD, path.as_ptr(), attr.as_mut_ptr(), attr.len(), 0) })
        .map(drop)
}

/// fchdir(2): moves the calling thread's working directory (per thread once
/// it has unshared CLONE_FS) to the directory behind `dir`, O_PATH included.
pub fn change_dir(dir: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: integer argument only.
    cvt(unsafe { libc::fchdir(dir.as_raw_fd()) }).map(drop)
}

/// mount(2) with `MS_REC | MS_PRIVATE` on `/`: no mount or unmount in this
/// mount namespace propagates to any other, nor the other way.
pub fn make_mounts_private() -> Result<()> {
    // SAFETY: the strings are NUL-terminated; NULL source, type and data
    // are valid for a propagation change.
    cvt(unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// mount(2) of a fresh tmpfs on `target` (mode 0755, no devices, setuid
/// or exec).
pub fn mount_tmpfs(target: &[u8]) -> Result<()> {
    let target = cstring(target)?;
    // SAFETY: every string is NUL-terminated.
    cvt(unsafe {
        libc::mount(
            c"stockade".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            c"mode=0755".as_ptr().cast(),
        )
    })
    .map(drop)
}

/// open_tree(2) with `OPEN_TREE_CLONE`: a detached copy of the mount of
/// the directory behind `dir`, rooted at that very directory (never a name
/// looked up again), to attach with [`attach_mount`]. Needs CAP_SYS_ADMIN.
pub fn clone_mount(dir: BorrowedFd<'_>) -> Result<OwnedFd> {
    const SYS_OPEN_TREE: libc::c_long = 428;
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: the empty path is NUL-terminated; integer flags.
    let fd = cvt(unsafe {
        libc::syscall(
            SYS_OPEN_TREE,
            dir.as_raw_fd(),
            c"".as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as libc::c_uint,
        )
    })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// move_mount(2) of the detached mount `tree` onto `target` in the calling
/// thread's mount namespace.
pub fn attach_mount(tree: BorrowedFd<'_>, target: &[u8]) -> Result<()> {
    const SYS_MOVE_MOUNT: libc::c_long = 429;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
    let target = cstring(target)?;
    // SAFETY: both strings are NUL-terminated; integer flags.
    cvt(unsafe {
        libc::syscall(
            SYS_MOVE_MOUNT,
            tree.as_raw_fd(),
            c"".as_ptr(),
            CWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// chroot(2) to `path`, then chdir(2) to the new root, for the calling
/// thread's filesystem context (per thread once it has unshared CLONE_FS).
pub fn change_root(path: &[u8]) -> Result<()> {
    let path = cstring(path)?;
    // SAFETY: both strings are NUL-terminated.
    cvt(unsafe { libc::chroot(path.as_ptr()) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::chdir(c"/".as_ptr()) }).map(drop)
}

/// chdir(2) to `path`, for the calling thread's filesystem context.
pub fn change_dir_path(path: &[u8]) -> Result<()> {
    let path = cstring(path)?;
    // SAFETY: `path` is NUL-terminated.
    cvt(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

/// The mount id of the object behind `fd` (statx(2) `STATX_MNT_ID`).
pub fn mount_id(fd: BorrowedFd<'_>) -> Result<u64> {
    const STATX_MNT_ID: u32 = 0x1000;
    let buf = statx_bytes(fd, 0, STATX_MNT_ID)?;
    // struct statx: stx_mnt_id is the u64 at byte 144.
    Ok(u64::from_ne_bytes(
        buf[144..152].try_into().expect("8 bytes"),
    ))
}

/// Reads a small file from offset 0 into `buf` with one pread(2). procfs
/// files such as `/proc/TID/status` are generated afresh on every read at
/// offset 0, so a descriptor held open reads current values each time.
pub fn pread_small(fd: BorrowedFd<'_>, buf: &mut Vec<u8>) -> Result<()> {
    buf.clear();
    buf.resize(4096, 0);
    // SAFETY: `buf` is writable for its length.
    let n = cvt(unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })?;
    buf.truncate(n as usize);
    Ok(())
}

/// acct(2) on the file behind `fd` (an O_PATH handle of the checked
/// object), through its magic link: the kernel opens it for appending with
/// the calling thread's credentials and writes accounting records there
/// until switched off.
pub fn acct_fd(fd: BorrowedFd<'_>) -> Result<()> {
    let path = cstring(proc_self_fd(fd).as_bytes())?;
    // SAFETY: `path` is NUL-terminated.
    cvt(unsafe { libc::acct(path.as_ptr()) }).map(drop)
}

/// acct(2) with NULL: switches process accounting off.
pub fn acct_off() -> Result<()> {
    // SAFETY: NULL is acct's documented "off".
    cvt(unsafe { libc::acct(std::ptr::null()) }).map(drop)
}

/// ioctl(2) with a pointer to `arg`, a copy of the caller's argument in our
/// memory, or with 0 when `arg` is empty (requests that take none). Only for
/// requests whose argument holds no pointers.
pub fn ioctl_with_copy(fd: BorrowedFd<'_>, request: u32, arg: &mut [u8]) -> Result<i64> {
    let ptr = if arg.is_empty() {
        std::ptr::null_mut()
    } else {
        arg.as_mut_ptr()
    };
    // SAFETY: `arg` is writable for its length, and the request reads or
    // writes at most the size the caller gave (see the doc comment).
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::Ioctl, ptr) };
    cvt(ret).map(i64::from)
}

/// `FS_IOC_ENABLE_VERITY` (ioctl_fsverity(2)) with the caller's
/// `struct fsverity_enable_arg` (128 bytes) copied into `arg`, and its salt
/// and signature copied into `salt` and `sig`: their pointers in `arg` are
/// set here to our copies.
pub fn enable_verity(
    fd: BorrowedFd<'_>,
    arg: &mut [u8; 128],
    salt: &[u8],
    sig: &[u8],
) -> Result<()> {
    const FS_IOC_ENABLE_VERITY: u32 = 0x4080_6685;
    let addr = |b: &[u8]| {
        if b.is_empty() {
            0u64
        } else {
            b.as_ptr() as u64
        }
    };
    arg[12..16].copy_from_slice(&(salt.len() as u32).to_ne_bytes());
    arg[16..24].copy_from_slice(&addr(salt).to_ne_bytes());
    arg[24..28].copy_from_slice(&(sig.len() as u32).to_ne_bytes());
    arg[32..40].copy_from_slice(&addr(sig).to_ne_bytes());
    // SAFETY: `arg` is a complete fsverity_enable_arg whose two pointers
    // refer to `salt` and `sig`, live and readable for the sizes given.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            FS_IOC_ENABLE_VERITY as libc::Ioctl,
            arg.as_mut_ptr(),
        )
    };
    cvt(ret).map(drop)
}
