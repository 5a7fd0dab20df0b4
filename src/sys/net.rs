//! Socket calls on raw socket-address bytes, made on the supervisor's
//! duplicate of a caller's socket.

use super::{Errno, Result, cvt};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// connect(2) with the address given as raw `sockaddr` bytes.
pub fn connect(sock: BorrowedFd<'_>, addr: &[u8]) -> Result<()> {
    // SAFETY: `addr` is readable for its length, which we pass.
    cvt(unsafe {
        libc::connect(
            sock.as_raw_fd(),
            addr.as_ptr().cast(),
            addr.len() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// bind(2) with the address given as raw `sockaddr` bytes.
pub fn bind(sock: BorrowedFd<'_>, addr: &[u8]) -> Result<()> {
    // SAFETY: as for connect.
    cvt(unsafe {
        libc::bind(
            sock.as_raw_fd(),
            addr.as_ptr().cast(),
            addr.len() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// getsockname(2), as raw `sockaddr` bytes.
pub fn local_address(sock: BorrowedFd<'_>) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; std::mem::size_of::<libc::sockaddr_storage>()];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` is writable for `len` bytes.
    cvt(unsafe { libc::getsockname(sock.as_raw_fd(), buf.as_mut_ptr().cast(), &mut len) })?;
    buf.truncate(len as usize);
    Ok(buf)
}

/// sendmsg(2) of one buffer, with an optional destination and ancillary data.
/// Returns the bytes sent.
pub fn send_message(
    sock: BorrowedFd<'_>,
    data: &[u8],
    dest: Option<&[u8]>,
    control: &[u8],
    flags: i32,
) -> Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(dest) = dest {
        msg.msg_name = dest.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = dest.len() as libc::socklen_t;
    }
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len();
    }
    // SAFETY: every pointer in `msg` refers to memory that outlives the call
    // and is only read by the kernel.
    let n = cvt(unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags) })?;
    Ok(n as usize)
}

/// Rewrites the descriptors inside `SCM_RIGHTS` messages of `control` (raw
/// cmsg bytes) with `map`, which turns a caller's descriptor number into one
/// of ours. Fails with the first error of `map`.
pub fn map_rights(control: &mut [u8], mut map: impl FnMut(RawFd) -> Result<RawFd>) -> Result<()> {
    let header = std::mem::size_of::<libc::cmsghdr>();
    let mut at = 0;
    while at + header <= control.len() {
        let len = usize::from_ne_bytes(control[at..at + 8].try_into().expect("8 bytes"));
        let level = i32::from_ne_bytes(control[at + 8..at + 12].try_into().expect("4 bytes"));
        let kind = i32::from_ne_bytes(control[at + 12..at + 16].try_into().expect("4 bytes"));
        if len < header || at + len > control.len() {
            return Err(Errno(libc::EINVAL));
        }
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            for slot in control[at + header..at + len].chunks_exact_mut(4) {
                let theirs = RawFd::from_ne_bytes(slot.try_into().expect("4 bytes"));
                slot.copy_from_slice(&map(theirs)?.to_ne_bytes());
            }
        }
        at += (len + 7) & !7;
    }
    Ok(())
}

/// The socket's type (`SOCK_STREAM`, `SOCK_DGRAM`, ...): getsockopt(2)
/// with `SO_TYPE`.
pub fn socket_type(sock: BorrowedFd<'_>) -> Result<i32> {
    super::sockinfo::int_option(sock, libc::SO_TYPE)
}

/// The socket's domain (`AF_UNIX`, `AF_INET`, ...): getsockopt(2) with
/// `SO_DOMAIN`.
pub fn socket_domain(sock: BorrowedFd<'_>) -> Result<i32> {
    super::sockinfo::int_option(sock, libc::SO_DOMAIN)
}

/// Rewrites the pid of each `SCM_CREDENTIALS` message in `control` (raw
/// cmsg bytes) with `map`.
pub fn map_credentials_pid(control: &mut [u8], mut map: impl FnMut(i32) -> i32) {
    let header = std::mem::size_of::<libc::cmsghdr>();
    let mut at = 0;
    while at + header <= control.len() {
        let len = usize::from_ne_bytes(control[at..at + 8].try_into().expect("8 bytes"));
        let level = i32::from_ne_bytes(control[at + 8..at + 12].try_into().expect("4 bytes"));
        let kind = i32::from_ne_bytes(control[at + 12..at + 16].try_into().expect("4 bytes"));
        if len < header || at + len > control.len() {
            return;
        }
        if level == libc::SOL_SOCKET && kind == libc::SCM_CREDENTIALS && len >= header + 12 {
            let slot = &mut control[at + header..at + header + 4];
            let pid = i32::from_ne_bytes(slot.try_into().expect("4 bytes"));
            slot.copy_from_slice(&map(pid).to_ne_bytes());
        }
        at += (len + 7) & !7;
    }
}
