//! Small safe wrappers over the system calls stockade makes. This is the only
//! module allowed to use `unsafe`; everything above it is safe Rust.
//!
//! Each wrapper names its man page. Errors are plain [`Errno`] values, because
//! the supervisor hands errno values back to the sandboxed caller unchanged.
#![allow(unsafe_code)]

pub mod fs;
pub mod landlock;
pub mod mem;
pub mod net;
pub mod process;
pub mod seccomp;
pub mod sockinfo;

use std::fmt;

/// A raw `errno` value returned by a failed system call.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's current `errno`.
    pub fn last() -> Errno {
        Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// The symbolic name, e.g. `EACCES`.
    pub fn name(self) -> &'static str {
        match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::ESRCH => "ESRCH",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::EBADF => "EBADF",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::EXDEV => "EXDEV",
            libc::ENOTDIR => "ENOTDIR",
            libc::EISDIR => "EISDIR",
            libc::EINVAL => "EINVAL",
            libc::ENOSPC => "ENOSPC",
            libc::EROFS => "EROFS",
            libc::ENAMETOOLONG => "ENAMETOOLONG",
            libc::ENOSYS => "ENOSYS",
            libc::ENOTEMPTY => "ENOTEMPTY",
            libc::ELOOP => "ELOOP",
            libc::ECONNREFUSED => "ECONNREFUSED",
            libc::EADDRINUSE => "EADDRINUSE",
            libc::EINPROGRESS => "EINPROGRESS",
            libc::EAFNOSUPPORT => "EAFNOSUPPORT",
            libc::ENOTSOCK => "ENOTSOCK",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            _ => "E?",
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::io::Error::from_raw_os_error(self.0))
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> Self {
        std::io::Error::from_raw_os_error(e.0)
    }
}

/// Result of a wrapped system call.
pub type Result<T> = std::result::Result<T, Errno>;

/// Turns a `-1`-on-error return value into a `Result`.
fn cvt<T: Copy + PartialEq + From<i8>>(ret: T) -> Result<T> {
    if ret == T::from(-1) {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// Makes a NUL-terminated copy of `bytes` for a system call, or `EINVAL` if
/// it holds a NUL byte (no path the kernel accepts can).
pub fn cstring(bytes: &[u8]) -> Result<std::ffi::CString> {
    std::ffi::CString::new(bytes).map_err(|_| Errno(libc::EINVAL))
}
