//! Landlock (landlock(7)), for two layers the child enters before exec: a
//! ruleset that handles only `LANDLOCK_ACCESS_FS_EXECUTE`, with rules that
//! allow it beneath a file hierarchy; and a ruleset that only scopes the
//! tree (ptrace, memory access, signals) to itself. And restricting the
//! calling thread.

use super::{Result, cvt};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `LANDLOCK_ACCESS_FS_EXECUTE` (linux/landlock.h, ABI 1).
const ACCESS_FS_EXECUTE: u64 = 1;
/// `LANDLOCK_CREATE_RULESET_VERSION`.
const CREATE_RULESET_VERSION: u32 = 1;
/// `LANDLOCK_RULE_PATH_BENEATH`.
const RULE_PATH_BENEATH: libc::c_long = 1;

/// `struct landlock_path_beneath_attr`, which the kernel declares packed.
#[repr(C, packed)]
struct PathBeneath {
    allowed_access: u64,
    parent_fd: i32,
}

/// landlock_create_ruleset(2) with `LANDLOCK_CREATE_RULESET_VERSION`: the
/// highest Landlock ABI this kernel speaks. ENOSYS without Landlock built
/// in, EOPNOTSUPP when it is disabled at boot.
pub fn abi_version() -> Result<u32> {
    // SAFETY: a NULL attribute with size 0 is what this query takes.
    let abi = cvt(unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    })?;
    Ok(abi as u32)
}

/// landlock_create_ruleset(2) of a ruleset that handles execution only:
/// once enforced, a file may be executed (as a program or as the
/// interpreter of one) only beneath a hierarchy a rule allows; every other
/// access is left alone. The descriptor is close-on-exec.
pub fn create_execute_ruleset() -> Result<OwnedFd> {
    // The first member of struct landlock_ruleset_attr; the kernel accepts
    // a shorter struct and takes the rest as zero.
    let handled_access_fs: u64 = ACCESS_FS_EXECUTE;
    // SAFETY: the attribute is readable for the size we pass.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &handled_access_fs as *const u64,
            std::mem::size_of::<u64>(),
            0u32,
        )
    })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// landlock_add_rule(2): allows executing `parent` (a file) or anything
/// beneath it (a directory), given as an `O_PATH` descriptor.
pub fn allow_execute_beneath(ruleset: BorrowedFd<'_>, parent: BorrowedFd<'_>) -> Result<()> {
    let attr = PathBeneath {
        allowed_access: ACCESS_FS_EXECUTE,
        parent_fd: parent.as_raw_fd(),
    };
    // SAFETY: `attr` is a valid path-beneath attribute that outlives the call.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            RULE_PATH_BENEATH,
            &attr as *const PathBeneath,
            0u32,
        )
    })
    .map(drop)
}

/// landlock_restrict_self(2): enforces `ruleset` on the calling thread and
/// everything it starts from now on. Needs no_new_privs (or
/// CAP_SYS_ADMIN). Async-signal-safe: a single system call.
pub fn restrict_self(ruleset: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) })
        .map(drop)
}

/// `LANDLOCK_ACCESS_FS_MAKE_BLOCK`: creating block devices.
const LANDLOCK_ACCESS_FS_MAKE_BLOCK: u64 = 1 << 11;
/// `LANDLOCK_SCOPE_SIGNAL` (ABI 6): no signals to processes outside the
/// domain.
const LANDLOCK_SCOPE_SIGNAL: u64 = 1 << 1;

/// `struct landlock_ruleset_attr` as of ABI 6.
#[repr(C)]
struct LandlockRulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// A Landlock ruleset (landlock_create_ruleset(2)) that confines a process
/// tree to itself: every Landlock domain already denies ptrace, memory
/// access and descriptor theft (`ptrace_may_access`) towards processes
/// outside it; `scope_signals` (ABI 6) adds signals. A ruleset must handle
/// something, so without signal scoping it handles the making of block
/// devices and grants it nowhere. The descriptor is close-on-exec.
pub fn create_scope_ruleset(scope_signals: bool) -> Result<OwnedFd> {
    let attr = if scope_signals {
        LandlockRulesetAttr {
            handled_access_fs: 0,
            handled_access_net: 0,
            scoped: LANDLOCK_SCOPE_SIGNAL,
        }
    } else {
        LandlockRulesetAttr {
            handled_access_fs: LANDLOCK_ACCESS_FS_MAKE_BLOCK,
            handled_access_net: 0,
            scoped: 0,
        }
    };
    // ABI 1 to 3 know only the first field; 4 and 5 the first two.
    let size = if scope_signals {
        std::mem::size_of::<LandlockRulesetAttr>()
    } else {
        std::mem::size_of::<u64>()
    };
    // SAFETY: `attr` is readable for `size` bytes.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const LandlockRulesetAttr,
            size,
            0u32,
        )
    })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
