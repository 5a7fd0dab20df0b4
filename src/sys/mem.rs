//! Reading another process's memory with process_vm_readv(2).
//!
//! Reads never cross into a page the caller did not name: a string is read a
//! page at a time up to its NUL, so a path that ends right before an unmapped
//! page still reads.

use super::{Errno, Result};

const PAGE: usize = 4096;

/// Reads exactly `buf.len()` bytes at `addr` in process `pid`.
pub fn read_exact(pid: u32, addr: u64, buf: &mut [u8]) -> Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n = read_some(pid, addr + done as u64, &mut buf[done..])?;
        if n == 0 {
            return Err(Errno(libc::EFAULT));
        }
        done += n;
    }
    Ok(())
}

/// One process_vm_readv(2) call; returns how many bytes arrived (a partial
/// read stops at the first unreadable page).
fn read_some(pid: u32, addr: u64, buf: &mut [u8]) -> Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, which is writable for its length; the
    // remote iovec is only read by the kernel, in the other process.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// Reads a NUL-terminated string of at most `max` bytes (without the NUL) at
/// `addr`. `ENAMETOOLONG` if no NUL comes within `max` bytes, `EFAULT` for a
/// NULL or unreadable pointer.
pub fn read_cstr(pid: u32, addr: u64, max: usize) -> Result<Vec<u8>> {
    if addr == 0 {
        return Err(Errno(libc::EFAULT));
    }
    let mut out = Vec::with_capacity(256);
    let mut chunk = [0u8; PAGE];
    let mut at = addr;
    loop {
        let room = PAGE - (at as usize % PAGE);
        let n = read_some(pid, at, &mut chunk[..room])?;
        if n == 0 {
            return Err(Errno(libc::EFAULT));
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            if out.len() > max {
                return Err(Errno(libc::ENAMETOOLONG));
            }
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() > max {
            return Err(Errno(libc::ENAMETOOLONG));
        }
        at += n as u64;
    }
}

/// Writes `data` at `addr` in process `pid` (process_vm_writev(2)), as the
/// kernel would have written a system call's result.
pub fn write_bytes(pid: u32, addr: u64, data: &[u8]) -> Result<()> {
    let local = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: `local` describes `data`, which the kernel only reads here.
    let n = unsafe { libc::process_vm_writev(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(Errno::last())
    } else if n as usize != data.len() {
        Err(Errno(libc::EFAULT))
    } else {
        Ok(())
    }
}
