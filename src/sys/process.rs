//! Processes: fork and exec, pidfds, signals, credentials, prctl.

use super::{Errno, Result, cstring, cvt};
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The kernel release as (major, minor), from uname(2).
pub fn kernel_release() -> Option<(u32, u32)> {
    // SAFETY: utsname is plain old data; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is writable.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    let release: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let text = String::from_utf8_lossy(&release);
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Makes this process a child subreaper, so that orphans in the sandboxed
/// tree reparent to us and stay tracked (prctl(2) `PR_SET_CHILD_SUBREAPER`).
pub fn set_child_subreaper() -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// Sets RLIMIT_CORE to 0, soft and hard (setrlimit(2)): the kernel then
/// writes no core file for this process or its children, and only a
/// process with CAP_SYS_RESOURCE could raise it again. Async-signal-safe.
pub fn disable_core_dumps() -> Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `zero` is a valid rlimit.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) }).map(drop)
}

/// Asks for `signal` when our parent dies (prctl(2) `PR_SET_PDEATHSIG`).
/// Async-signal-safe.
pub fn set_parent_death_signal(signal: i32) -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) }).map(drop)
}

/// The parent process id (getppid(2)). Async-signal-safe.
pub fn parent_pid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::getppid() }
}

/// Our process id (getpid(2)).
pub fn pid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::getpid() }
}

/// Our effective uid (geteuid(2)).
pub fn euid() -> u32 {
    // SAFETY: no arguments.
    unsafe { libc::geteuid() }
}

/// Our thread id (gettid(2)).
pub fn tid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::gettid() }
}

/// Whether we are the parent or the child after [`fork`].
pub enum Forked {
    /// In the parent, with the child's pid.
    Parent(i32),
    /// In the child.
    Child,
}

/// fork(2).
///
/// # Safety
/// After fork in a multi-threaded process the child may only call
/// async-signal-safe functions until it execs or exits: no allocation, no
/// locks. The caller must prepare everything the child needs beforehand.
pub unsafe fn fork() -> Result<Forked> {
    // SAFETY: the caller upholds the async-signal-safety contract above.
    match cvt(unsafe { libc::fork() })? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Everything execve(2) needs, prepared before fork so that the child does not
/// allocate.
pub struct ExecArgs {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
}

// SAFETY: the raw pointers point into the CStrings owned by the same value;
// nothing aliases them mutably.
unsafe impl Send for ExecArgs {}

impl ExecArgs {
    /// Prepares `path` with `argv` and `envp` (each `NAME=VALUE`).
    pub fn new(path: &[u8], argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<ExecArgs> {
        let path = cstring(path)?;
        let argv: Vec<CString> = argv.iter().map(|a| cstring(a)).collect::<Result<_>>()?;
        let envp: Vec<CString> = envp.iter().map(|e| cstring(e)).collect::<Result<_>>()?;
        let mut argv_ptrs: Vec<_> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut envp_ptrs: Vec<_> = envp.iter().map(|e| e.as_ptr()).collect();
        envp_ptrs.push(std::ptr::null());
        Ok(ExecArgs {
            path,
            argv,
            envp,
            argv_ptrs,
            envp_ptrs,
        })
    }

    /// execve(2). Returns only on failure. Async-signal-safe.
    pub fn exec(&self) -> Errno {
        debug_assert!(
            self.argv.len() + 1 == self.argv_ptrs.len()
                && self.envp.len() + 1 == self.envp_ptrs.len()
        );
        // SAFETY: every pointer refers to a NUL-terminated string owned by
        // `self`, and both arrays end with NULL.
        unsafe {
            libc::execve(
                self.path.as_ptr(),
                self.argv_ptrs.as_ptr(),
                self.envp_ptrs.as_ptr(),
            )
        };
        Errno::last()
    }
}

/// _exit(2): leave without running destructors or atexit handlers.
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: always safe; never returns.
    unsafe { libc::_exit(code) }
}

/// write(2) of a whole small buffer, ignoring errors. Async-signal-safe.
pub fn write_all_raw(fd: BorrowedFd<'_>, bytes: &[u8]) {
    // SAFETY: `bytes` is readable for its length.
    unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
}

/// A pipe with both ends close-on-exec (pipe2(2)).
pub fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for two descriptors.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 returned two new descriptors that we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// pidfd_open(2): a descriptor that names process `pid` and cannot be fooled
/// by pid reuse.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> Result<()> {
    // SAFETY: integer arguments and a NULL siginfo.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<u8>(),
            0,
        )
    })
    .map(drop)
}

/// pidfd_getfd(2): a duplicate of descriptor `target` of the process behind
/// `pidfd`, sharing its open file description.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, target: i32) -> Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// kill(2) of a single process or thread group.
pub fn kill(pid: i32, signal: i32) -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// How a waited-for child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit(2) with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// Waits for any child (waitpid(2) with -1, `__WALL`). `ECHILD` when none is
/// left.
pub fn wait_any() -> Result<(i32, ExitStatus)> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is writable.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if pid < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        let st = if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        };
        return Ok((pid, st));
    }
}

/// Gives the calling thread its own filesystem context (cwd, root, umask) so
/// that [`set_umask`] affects only it (unshare(2) `CLONE_FS`).
pub fn unshare_fs() -> Result<()> {
    // SAFETY: integer argument only.
    cvt(unsafe { libc::unshare(libc::CLONE_FS) }).map(drop)
}

/// umask(2); returns the previous mask.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: integer argument only.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// The identity of one thread that the kernel checks when it acts: the
/// real, effective and saved ids (recorded in every file the thread opens,
/// in a unix socket's peer credentials, in the credentials a message
/// carries to a receiver with SO_PASSCRED, and checked against explicit
/// SCM_CREDENTIALS), the filesystem ids (permission checks on files) and
/// the supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Real, effective and saved uid.
    pub uids: [u32; 3],
    /// Real, effective and saved gid.
    pub gids: [u32; 3],
    /// The filesystem uid.
    pub fsuid: u32,
    /// The filesystem gid.
    pub fsgid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// Switches the calling THREAD (not the process) to `creds`, with raw
/// setgroups(2), setresgid(2), setfsgid(2), setresuid(2), setfsuid(2):
/// glibc's wrappers would change every thread; the raw system calls change
/// only this one. Needs CAP_SETUID and CAP_SETGID in the effective set, and
/// [`keep_caps_on_uid_change`], so that the capability sets survive the
/// change (the caller sets them itself) and root's ids can be taken back.
pub fn set_thread_credentials(creds: &Credentials) -> Result<()> {
    let ([ruid, euid, suid], [rgid, egid, sgid]) = (creds.uids, creds.gids);
    // SAFETY: the groups slice is valid for its length; the rest are
    // integer arguments.
    unsafe {
        cvt(libc::syscall(
            libc::SYS_setgroups,
            creds.groups.len(),
            creds.groups.as_ptr(),
        ))?;
        // setres[ug]id also set the filesystem id to the effective one,
        // which is all most callers need.
        cvt(libc::syscall(libc::SYS_setresgid, rgid, egid, sgid))?;
        cvt(libc::syscall(libc::SYS_setresuid, ruid, euid, suid))?;
    }
    // setfsgid/setfsuid return the previous id and cannot report errors: a
    // query (-1) verifies.
    for (nr, id, effective) in [
        (libc::SYS_setfsgid, creds.fsgid, egid),
        (libc::SYS_setfsuid, creds.fsuid, euid),
    ] {
        if id != effective {
            // SAFETY: integer arguments only.
            let now = unsafe {
                libc::syscall(nr, id);
                libc::syscall(nr, u32::MAX)
            } as u32;
            if now != id {
                return Err(Errno(libc::EPERM));
            }
        }
    }
    Ok(())
}

/// `SECBIT_NO_SETUID_FIXUP` from `<linux/securebits.h>`.
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;

/// Stops the kernel from adjusting the calling THREAD's capability sets
/// when its effective or filesystem uid moves between 0 and another id
/// (prctl(2) `PR_SET_SECUREBITS` with `SECBIT_NO_SETUID_FIXUP`; securebits
/// are per thread). Needs CAP_SETPCAP.
pub fn keep_caps_on_uid_change() -> Result<()> {
    // SAFETY: integer arguments only.
    let bits = cvt(unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) })?;
    // SAFETY: integer arguments only.
    cvt(unsafe {
        libc::prctl(
            libc::PR_SET_SECUREBITS,
            bits as libc::c_ulong | SECBIT_NO_SETUID_FIXUP,
            0,
            0,
            0,
        )
    })
    .map(drop)
}

/// Blocks or unblocks signals for the calling thread (pthread_sigmask(3)).
pub fn block_signals(signals: &[i32], block: bool) {
    // SAFETY: sigset_t is plain old data initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        let how = if block {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Waits for one of `signals`, which must be blocked (sigwaitinfo(2)).
pub fn wait_signal(signals: &[i32]) -> Result<i32> {
    // SAFETY: as in block_signals; sigwaitinfo writes no siginfo for NULL.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        cvt(libc::sigwaitinfo(&set, std::ptr::null_mut()))
    }
}

/// The signal state stockade was started with, which the command must
/// start with too, as exec(2) would have passed it on: the blocked mask,
/// and which signals were ignored. Rust's runtime ignores SIGPIPE before
/// `main`, so whether it was ignored at start is noted earlier, by
/// [`note_start_sigpipe`].
#[derive(Clone, Copy)]
pub struct InheritedSignals {
    mask: libc::sigset_t,
    sigpipe_ignored: bool,
}

/// Nothing blocked, nothing ignored: the state of a process started
/// without inherited signal settings.
impl Default for InheritedSignals {
    fn default() -> Self {
        // SAFETY: sigset_t is plain old data; sigemptyset initialises it.
        let mask = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            set
        };
        InheritedSignals {
            mask,
            sigpipe_ignored: false,
        }
    }
}

impl std::fmt::Debug for InheritedSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InheritedSignals")
            .field("sigpipe_ignored", &self.sigpipe_ignored)
            .finish_non_exhaustive()
    }
}

/// Whether SIGPIPE was ignored when this process started (`nohup`, a shell
/// that ignores it), read before Rust's runtime sets it to SIG_IGN.
static SIGPIPE_IGNORED_AT_START: AtomicBool = AtomicBool::new(false);

/// Notes SIGPIPE's disposition at start. Runs from `.init_array`, before
/// Rust's runtime starts, so it only makes one async-signal-safe call.
extern "C" fn note_start_sigpipe() {
    // SAFETY: sigaction(2) with a null new action only reads the current one
    // into `old`, which is plain old data.
    let ignored = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    };
    SIGPIPE_IGNORED_AT_START.store(ignored, Ordering::Relaxed);
}

/// Runs [`note_start_sigpipe`] when the program is loaded.
// SAFETY: the function takes no arguments, returns nothing and touches
// only an atomic, so running it before `main` is sound.
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_START_SIGPIPE: extern "C" fn() = note_start_sigpipe;

/// Blocks `signals` in the calling thread (pthread_sigmask(3)) and returns
/// the signal state the process was started with, for
/// [`restore_signals_for_exec`]. Call it before blocking anything else.
pub fn block_signals_noting_inherited(signals: &[i32]) -> InheritedSignals {
    // SAFETY: sigset_t is plain old data initialised by sigemptyset;
    // pthread_sigmask writes the old mask into `old`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigemptyset(&mut old);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        InheritedSignals {
            mask: old,
            sigpipe_ignored: SIGPIPE_IGNORED_AT_START.load(Ordering::Relaxed),
        }
    }
}

/// Puts back, in a freshly forked child before exec, the signal state the
/// supervisor was started with: its mask, and SIGPIPE's disposition. Other
/// ignored signals are still ignored (the supervisor ignores nothing of its
/// own), and handlers fall back to the default at exec, as exec(2) does.
/// Async-signal-safe.
pub fn restore_signals_for_exec(inherited: &InheritedSignals) {
    let sigpipe = if inherited.sigpipe_ignored {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    // SAFETY: the mask was filled by pthread_sigmask; the calls only change
    // this process.
    unsafe {
        libc::signal(libc::SIGPIPE, sigpipe);
        libc::pthread_sigmask(libc::SIG_SETMASK, &inherited.mask, std::ptr::null_mut());
    }
}

/// read(2), retrying on EINTR. Async-signal-safe.
pub fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Reads at least one byte; false on EOF or error. Async-signal-safe.
pub fn read_raw(fd: BorrowedFd<'_>, buf: &mut [u8]) -> bool {
    matches!(read_fd(fd, buf), Ok(n) if n > 0)
}

/// Reaps one child that has already exited (waitpid(2) with `WNOHANG`).
/// `Ok(None)` when children remain but none has exited; `ECHILD` when none
/// remain.
pub fn try_wait_any() -> Result<Option<(i32, ExitStatus)>> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is writable.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::WNOHANG) };
        if pid < 0 {
            let e = Errno::last();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        if pid == 0 {
            return Ok(None);
        }
        let st = if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        };
        return Ok(Some((pid, st)));
    }
}

/// pidfd_open(2) with flags (`PIDFD_THREAD`, Linux 6.9, names one thread).
pub fn pidfd_open_flags(pid: i32, flags: i32) -> Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The calling thread's [`Credentials`] (getresuid(2), getresgid(2),
/// setfsuid(2)/setfsgid(2) queries and getgroups(2), all raw, per thread).
pub fn thread_credentials() -> Credentials {
    let (mut uids, mut gids) = ([0u32; 3], [0u32; 3]);
    // SAFETY: getres[ug]id write three ids to valid locations; -1 queries
    // without changing; getgroups writes at most `n` ids.
    unsafe {
        let [r, e, s] = &mut uids;
        libc::syscall(
            libc::SYS_getresuid,
            r as *mut u32,
            e as *mut u32,
            s as *mut u32,
        );
        let [r, e, s] = &mut gids;
        libc::syscall(
            libc::SYS_getresgid,
            r as *mut u32,
            e as *mut u32,
            s as *mut u32,
        );
        let fsuid = libc::syscall(libc::SYS_setfsuid, u32::MAX) as u32;
        let fsgid = libc::syscall(libc::SYS_setfsgid, u32::MAX) as u32;
        let n = libc::syscall(libc::SYS_getgroups, 0, std::ptr::null_mut::<u32>()) as i32;
        let mut groups = vec![0 as libc::gid_t; n.max(0) as usize];
        let got = libc::syscall(libc::SYS_getgroups, n, groups.as_mut_ptr()) as i32;
        groups.truncate(got.max(0) as usize);
        Credentials {
            uids,
            gids,
            fsuid,
            fsgid,
            groups,
        }
    }
}

/// tgkill(2)-free signal to one thread by its id (tkill(2)).
pub fn thread_kill(tid: i32, signal: i32) -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_tkill, tid, signal) }).map(drop)
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn capget_thread() -> Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 takes a header and two data structs, both valid.
    cvt(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    Ok(data)
}

/// The calling thread's effective capability set (capget(2)).
pub fn thread_effective_caps() -> Result<u64> {
    let data = capget_thread()?;
    Ok(u64::from(data[0].effective) | u64::from(data[1].effective) << 32)
}

/// Sets the calling THREAD's effective capabilities to `effective` limited
/// to its permitted set (capset(2) changes only the calling thread).
pub fn set_thread_effective_caps(effective: u64) -> Result<()> {
    let mut data = capget_thread()?;
    data[0].effective = (effective as u32) & data[0].permitted;
    data[1].effective = ((effective >> 32) as u32) & data[1].permitted;
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: as in capget_thread.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) }).map(drop)
}

/// Takes the capabilities in `mask` out of the calling thread's bounding,
/// inheritable and ambient sets (prctl(2) `PR_CAPBSET_DROP`, capset(2)), so
/// that no program it execs can hold them again; its own effective and
/// permitted sets are left alone. Without CAP_SETPCAP (an unprivileged
/// supervisor) the bounding set cannot shrink, but then nothing it starts
/// can gain a capability either (no_new_privs). Async-signal-safe.
pub fn drop_capabilities_for_good(mask: u64) -> Result<()> {
    let mut data = capget_thread()?;
    data[0].inheritable &= !(mask as u32);
    data[1].inheritable &= !((mask >> 32) as u32);
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: as in capget_thread. Lowering inheritable also lowers ambient.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) })?;
    for cap in (0..64).filter(|c| mask & (1 << c) != 0) {
        // SAFETY: integer arguments only.
        match cvt(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) }) {
            Ok(_) => {}
            Err(e) if e.0 == libc::EPERM => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Clears the dumpable flag (prctl(2) `PR_SET_DUMPABLE`): processes of the
/// same user can then no longer ptrace this one, read its memory, or take
/// its descriptors (ptrace access checks need CAP_SYS_PTRACE for a
/// non-dumpable process). Children get the flag back when they exec.
pub fn set_not_dumpable() -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) }).map(drop)
}

/// Sets the dumpable flag again (prctl(2) `PR_SET_DUMPABLE`).
/// Async-signal-safe.
pub fn set_dumpable() -> Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) }).map(drop)
}

/// The calling THREAD's real and effective uid and gid, as
/// `(ruid, euid, rgid, egid)` (getresuid(2), getresgid(2)).
pub fn thread_ids() -> (u32, u32, u32, u32) {
    let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
    let (mut rg, mut eg, mut sg) = (0u32, 0u32, 0u32);
    // SAFETY: each pointer is a writable u32.
    unsafe {
        libc::syscall(libc::SYS_getresuid, &mut r, &mut e, &mut s);
        libc::syscall(libc::SYS_getresgid, &mut rg, &mut eg, &mut sg);
    }
    (r, e, rg, eg)
}

/// Sets the calling THREAD's real and effective uid and gid with the raw
/// setresuid(2)/setresgid(2) (saved ids kept, so the thread can return;
/// glibc's wrappers would change every thread). The gids go first, while
/// CAP_SETGID may still be effective. As capabilities(7) says, an
/// effective uid moving away from 0 clears the effective capabilities and
/// one moving back to 0 restores them from the permitted set; the
/// filesystem ids follow the effective ones.
pub fn set_thread_ids(ruid: u32, euid: u32, rgid: u32, egid: u32) -> Result<()> {
    const KEEP: u32 = u32::MAX;
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_setresgid, rgid, egid, KEEP) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::syscall(libc::SYS_setresuid, ruid, euid, KEEP) }).map(drop)
}

/// Gives the calling thread its own filesystem context and its own mount
/// namespace (unshare(2) `CLONE_FS | CLONE_NEWNS`; needs CAP_SYS_ADMIN).
/// Mounts made there change nothing anyone else sees once they are made
/// private (`fs::make_mounts_private`).
pub fn unshare_mount_namespace() -> Result<()> {
    // SAFETY: integer argument only.
    cvt(unsafe { libc::unshare(libc::CLONE_FS | libc::CLONE_NEWNS) }).map(drop)
}

extern "C" fn interrupt_handler(_signal: libc::c_int) {}

/// Installs a handler that does nothing for `signal`, without `SA_RESTART`
/// (sigaction(2)): a blocking system call of a thread that receives it
/// fails with EINTR instead of going on, which is how the supervisor aborts
/// an emulated call whose caller died or was signalled.
pub fn install_interrupt_handler(signal: i32) -> Result<()> {
    // SAFETY: sigaction is plain old data; the handler is an async-signal-safe
    // function that touches nothing.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = interrupt_handler as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = 0;
        cvt(libc::sigaction(signal, &action, std::ptr::null_mut())).map(drop)
    }
}

/// The soft and hard limits on open descriptors (getrlimit(2) `RLIMIT_NOFILE`).
pub fn nofile_limit() -> Result<(u64, u64)> {
    // SAFETY: rlimit is plain old data, written by the kernel.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `limit` is writable.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Sets the soft and hard limits on open descriptors (setrlimit(2)
/// `RLIMIT_NOFILE`). Async-signal-safe, for the child before exec.
pub fn set_nofile_limit(soft: u64, hard: u64) -> Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `limit` is a valid rlimit.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }).map(drop)
}
