//! Writes the kernel performs later on the caller's behalf, where no path
//! argument passes the filter at the time of the write: process accounting
//! (`acct`), core dumps (the RLIMIT_CORE limit), and ioctls that change an
//! inode, or a whole filesystem, through any descriptor, read-only ones
//! included.
//!
//! Arguments, by syscall:
//! - acct(path 0)
//! - ioctl(fd 0, request 1, argument 2): only the requests in
//!   [`crate::filter::INODE_IOCTLS`] arrive here.
//! - setrlimit(resource 0, new 1), prlimit64(pid 0, resource 1, new 2,
//!   old 3): only RLIMIT_CORE arrives here.

use super::describe;
use crate::filter;
use crate::policy::Category;
use crate::supervise::call::{Call, CallerStatus, Reply, Step};
use crate::supervise::resolve::{self, Base, Lookup};
use crate::supervise::userns;
use crate::sys::{Errno, fs, mem};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::Ordering;

const FOLLOW: Lookup = Lookup::FOLLOW;

const CAP_SYS_PACCT: u32 = 20;

/// acct(2). acct(PATH) makes the kernel append a record to PATH for every
/// process that ends in the caller's pid namespace, for as long as it stays
/// on: it is judged as a write of PATH, and performed here on the checked
/// file (no CONTINUE: the kernel would look PATH up again). acct(NULL)
/// switches accounting off, which the sandbox did not switch on: refused.
pub fn acct(call: &Call) -> Step<Reply> {
    // The kernel checks the capability before anything else.
    if !call.caller_capable(CAP_SYS_PACCT)? {
        return Err(Errno(libc::EPERM).into());
    }
    if call.arg(0) == 0 {
        if call.shared.accounting_on.load(Ordering::SeqCst) {
            fs::acct_off()?;
            call.shared.accounting_on.store(false, Ordering::SeqCst);
            return Ok(Reply::Value(0));
        }
        return Err(call.refuse(
            "accounting",
            "NULL".to_string(),
            "process accounting set up outside the sandbox is not switched off from inside",
            None,
            Errno(libc::EPERM),
        ));
    }
    let path = call.read_path(0)?;
    // Accounting belongs to a pid namespace: done here, it would be ours.
    if !userns::shares_ours(call.n.pid, "pid")? {
        return Err(call.refuse(
            "accounting",
            describe::path(&path),
            "accounting of another pid namespace cannot be switched on from here",
            None,
            Errno(libc::EPERM),
        ));
    }
    let _caller = call.become_caller(false)?;
    let r = call.resolve(Base::Cwd, &path, FOLLOW)?;
    call.fail_if_missing(&r)?;
    call.check(Category::Write, &r.path, || describe::path(&r.path))?;
    fs::acct_fd(r.open_object()?.as_fd())?;
    call.shared.accounting_on.store(true, Ordering::SeqCst);
    Ok(Reply::Value(0))
}

/// ioctl(2) of a request that changes what is behind the descriptor. The
/// kernel allows them on read-only descriptors, so they are judged as a
/// write of the object behind it (its path read from our pidfd_getfd copy)
/// and performed here on that copy with the argument read once. Requests
/// that change a whole filesystem (freeze, resize, label, btrfs subvolumes
/// and snapshots, which create and remove names through a directory fd)
/// are refused.
pub fn ioctl(call: &Call) -> Step<Reply> {
    let request = call.arg(1) as u32;
    if request == filter::TIOCSTI {
        // Typed input on a terminal the shell outside reads (filter::TIOCSTI).
        call.ensure_valid()?;
        return Err(call.refuse(
            "terminal",
            format!("{}, TIOCSTI, ...", call.int(0)),
            "it types into a terminal that processes outside read",
            None,
            Errno(libc::EPERM),
        ));
    }
    let name = filter::inode_ioctl_name(request).unwrap_or("ioctl");
    let fd = call.caller_fd(call.int(0))?;
    let _caller = call.become_caller(false)?;
    let path = resolve::object_path(fd.as_fd())?;
    let show = || format!("{}, {name}, {}", call.int(0), describe::path(&path));
    if !changes_one_inode(request) {
        return Err(call.refuse(
            "filesystem",
            show(),
            "it changes a whole filesystem, which the sandbox never allows",
            None,
            Errno(libc::EPERM),
        ));
    }
    call.check(Category::Write, &path, show)?;
    perform_ioctl(call, fd.as_fd(), request)
}

/// Whether `request` changes only the inode behind the descriptor.
fn changes_one_inode(request: u32) -> bool {
    matches!(
        filter::inode_ioctl_name(request),
        Some(
            "FS_IOC_SETFLAGS"
                | "FS_IOC32_SETFLAGS"
                | "FS_IOC_SETVERSION"
                | "FS_IOC32_SETVERSION"
                | "EXT4_IOC_SETVERSION"
                | "FS_IOC_FSSETXATTR"
                | "FS_IOC_ENABLE_VERITY"
                | "FS_IOC_SET_ENCRYPTION_POLICY"
                | "EXT4_IOC_MIGRATE"
        )
    )
}

/// `struct fsxattr`: `fsx_xflags`, `fsx_extsize`, `fsx_nextents`,
/// `fsx_projid`, `fsx_cowextsize`, 8 bytes of padding.
const FSXATTR_SIZE: usize = 28;
const FS_IOC_FSGETXATTR: u32 = 0x801c_581f;
const FS_XFLAG_PROJINHERIT: u32 = 0x0000_0200;

fn perform_ioctl(call: &Call, fd: BorrowedFd<'_>, request: u32) -> Step<Reply> {
    let arg = call.arg(2);
    let name = filter::inode_ioctl_name(request).unwrap_or("");
    let mut copy = match name {
        "EXT4_IOC_MIGRATE" => Vec::new(),
        // The kernel reads an int, whatever size the number encodes.
        "FS_IOC_SETFLAGS"
        | "FS_IOC32_SETFLAGS"
        | "FS_IOC_SETVERSION"
        | "FS_IOC32_SETVERSION"
        | "EXT4_IOC_SETVERSION" => call.read_bytes(arg, 4)?,
        "FS_IOC_FSSETXATTR" => call.read_bytes(arg, FSXATTR_SIZE)?,
        "FS_IOC_SET_ENCRYPTION_POLICY" => {
            // A version byte, then a v1 (12 bytes) or v2 (24 bytes) policy.
            let version = call.read_bytes(arg, 1)?[0];
            let size = if version == 2 { 24 } else { 12 };
            call.read_bytes(arg, size)?
        }
        "FS_IOC_ENABLE_VERITY" => return enable_verity(call, fd, arg),
        _ => return Err(Errno(libc::ENOTTY).into()),
    };
    if name == "FS_IOC_FSSETXATTR" {
        fsxattr_allowed_in_namespace(call, fd, &copy)?;
    }
    call.ensure_valid()?;
    Ok(Reply::Value(fs::ioctl_with_copy(fd, request, &mut copy)?))
}

/// The kernel refuses, outside the initial user namespace, a change of the
/// project id or of its inheritance flag (EINVAL); the supervisor acts in
/// its own namespace, so it checks for the caller.
fn fsxattr_allowed_in_namespace(call: &Call, fd: BorrowedFd<'_>, new: &[u8]) -> Step<()> {
    if userns::shares_ours(call.n.pid, "user")? {
        return Ok(());
    }
    let mut old = vec![0u8; FSXATTR_SIZE];
    fs::ioctl_with_copy(fd, FS_IOC_FSGETXATTR, &mut old)?;
    let word = |b: &[u8], at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    if word(&old, 12) != word(new, 12) || (word(&old, 0) ^ word(new, 0)) & FS_XFLAG_PROJINHERIT != 0
    {
        return Err(Errno(libc::EINVAL).into());
    }
    Ok(())
}

/// `FS_IOC_ENABLE_VERITY`: the argument points at a salt and a signature,
/// copied too so that the kernel reads only our memory.
fn enable_verity(call: &Call, fd: BorrowedFd<'_>, arg: u64) -> Step<Reply> {
    const MAX_SALT: usize = 32;
    const MAX_SIGNATURE: usize = 16128;
    let raw = call.read_bytes(arg, 128)?;
    let mut copy = [0u8; 128];
    copy.copy_from_slice(&raw);
    let word =
        |at: usize| u32::from_ne_bytes(copy[at..at + 4].try_into().expect("4 bytes")) as usize;
    let addr = |at: usize| u64::from_ne_bytes(copy[at..at + 8].try_into().expect("8 bytes"));
    let (salt_size, sig_size) = (word(12), word(24));
    if salt_size > MAX_SALT || sig_size > MAX_SIGNATURE {
        return Err(Errno(libc::EMSGSIZE).into());
    }
    let read = |ptr: u64, len: usize| {
        if len == 0 {
            Ok(Vec::new())
        } else {
            call.read_bytes(ptr, len)
        }
    };
    let salt = read(addr(16), salt_size)?;
    let sig = read(addr(32), sig_size)?;
    call.ensure_valid()?;
    fs::enable_verity(fd, &mut copy, &salt, &sig)?;
    Ok(Reply::Value(0))
}

/// setrlimit(2), prlimit64(2) of RLIMIT_CORE. The tree starts with the
/// limit at 0, soft and hard (`spawn`), so the kernel writes no core file
/// wherever a crashing process stands. Raising it is refused with EPERM, as
/// the kernel refuses an unprivileged raise of a hard limit, for every
/// caller: a root one could otherwise raise it. Setting it to 0 again
/// changes nothing, and succeeds.
pub fn core_limit(call: &Call) -> Step<Reply> {
    let (target, new, old) = if call.n.nr == libc::SYS_setrlimit {
        (0, call.arg(1), 0)
    } else {
        (call.int(0), call.arg(2), call.arg(3))
    };
    if new == 0 {
        // A query: the kernel reads no memory of the caller's to decide.
        return Ok(Reply::ContinueRacy);
    }
    let bytes = call.read_bytes(new, 16)?;
    let limit = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let (soft, hard) = (limit(0), limit(8));
    if soft > hard {
        return Err(Errno(libc::EINVAL).into());
    }
    let what = format!(
        "RLIMIT_CORE, {{{}, {}}}",
        show_limit(soft),
        show_limit(hard)
    );
    if soft != 0 || hard != 0 {
        return Err(call.refuse(
            "core",
            what,
            "core dumps are off in the sandbox: the kernel would write them wherever the process runs",
            None,
            Errno(libc::EPERM),
        ));
    }
    // Only the caller's own limit is known to be 0 already.
    if target != 0 && !is_own_process(call, target)? {
        return Err(call.refuse(
            "core",
            what,
            "another process's core limit is not changed from the sandbox",
            None,
            Errno(libc::EPERM),
        ));
    }
    call.ensure_valid()?;
    if old != 0 {
        mem::write_bytes(call.n.pid, old, &[0u8; 16])?;
    }
    Ok(Reply::Value(0))
}

fn show_limit(value: u64) -> String {
    if value == u64::MAX {
        "RLIM_INFINITY".to_string()
    } else {
        value.to_string()
    }
}

/// Whether `pid`, as the caller sees it, is the caller's own process.
fn is_own_process(call: &Call, pid: i32) -> Step<bool> {
    if !userns::shares_ours(call.n.pid, "pid")? {
        return Ok(false);
    }
    Ok(CallerStatus::read(call.n.pid)?.tgid == pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inode_ioctl_is_judged_or_refused_by_name() {
        let judged = filter::INODE_IOCTLS
            .iter()
            .filter(|&&r| changes_one_inode(r))
            .count();
        assert_eq!(judged, 9);
        assert!(!changes_one_inode(0xc004_5877), "FIFREEZE");
    }
}
