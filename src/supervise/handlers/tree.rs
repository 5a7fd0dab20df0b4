//! Calls that reach another process, kept inside the sandboxed tree; and the
//! process creation that `lock:exec` must follow.
//!
//! | syscall             | target                                   |
//! |---------------------|------------------------------------------|
//! | ptrace              | 1 (ATTACH, SEIZE); the parent (TRACEME)  |
//! | process_vm_readv    | 0                                        |
//! | process_vm_writev   | 0                                        |
//! | pidfd_getfd         | the process behind pidfd 0               |
//! | kill                | 0 (0: own group, -1: all, <-1: a group)  |
//! | tkill               | thread 0                                 |
//! | tgkill              | thread 1 of process 0                    |
//! | rt_sigqueueinfo     | 0                                        |
//! | rt_tgsigqueueinfo   | thread 1 of process 0                    |
//! | pidfd_send_signal   | the process behind pidfd 0, flags 3      |
//! | clone               | flags 0 (notified with CLONE_PARENT)     |
//! | prctl               | option 0 (PR_SET_CHILD_SUBREAPER)        |
//!
//! The tree is the command and its descendants. stockade is a child
//! subreaper, so the parent links of every member lead to stockade; those of
//! any other process do not. A call aimed outside fails with EPERM and is
//! reported. One aimed inside continues in the kernel, which then checks
//! permissions and fills the siginfo as it always does.
//!
//! RACE (pid reuse): a pid checked here may die, be reaped and be given to
//! a new process before the kernel acts on the continued call. The kernel
//! closes it where it can: the tree runs in a Landlock domain, and Landlock
//! refuses ptrace, memory access, pidfd_getfd (any kernel with Landlock) and
//! signals (ABI 6, Linux 6.12) towards processes outside the domain, at the
//! moment the kernel acts. What stays open is a pid reused inside the tree,
//! which matters only to the `lock:exec` rule below.

use crate::policy::Lock;
use crate::report::ProcessEvent;
use crate::supervise::Shared;
use crate::supervise::call::{Call, CallerStatus, Reply, Step};
use crate::supervise::process::{self, Place, place, place_near};
use crate::sys::{self, Errno, fs};
use std::os::fd::{AsFd, AsRawFd};

const PTRACE_TRACEME: u64 = 0;
const PTRACE_ATTACH: u64 = 16;
const PTRACE_SEIZE: u64 = 0x4206;
/// `PIDFD_SIGNAL_PROCESS_GROUP` (Linux 6.9): the pidfd's process group.
const PIDFD_SIGNAL_PROCESS_GROUP: u64 = 1 << 2;
/// Longer parent chains than this are taken as locked (fail closed).
const MAX_DEPTH: usize = 4096;

/// Under `lock:exec`: whether thread `tid` may no longer send in-sandbox
/// commands. A process is locked once it has exec'd, and so is every
/// process it creates: the lock passes down the tree. Parent links show
/// today's parent, not the creator, so a process whose creator they cannot
/// prove is locked too (the safe side): an orphan reparented to stockade
/// (any child of stockade but the command), and anything below a process
/// that made itself a child subreaper. `clone(CLONE_PARENT)` from a locked
/// process, the other way to get a parent that is not the creator, is
/// refused ([`clone`]). A process whose ancestry cannot be read is locked.
pub fn lineage_locked(shared: &Shared, tid: u32) -> bool {
    let Ok(status) = CallerStatus::read(tid) else {
        return true;
    };
    let tgid = status.tgid as u32;
    if shared.has_execed(tid) || shared.has_execed(tgid) {
        return true;
    }
    let me = sys::process::pid();
    let mut pid = tgid as i32;
    for _ in 0..MAX_DEPTH {
        let Some(parent) = process::parent_of(pid) else {
            return true;
        };
        if parent == me {
            return !shared.is_root(pid as u32);
        }
        if parent <= 1 || shared.has_execed(parent as u32) || shared.is_subreaper(parent as u32) {
            return true;
        }
        pid = parent;
    }
    true
}

/// Whether `pid` names the caller's own process (one of its threads, or its
/// thread group): at most two lookups in /proc, and no walk. The caller
/// is blocked in this call, so its pid cannot be reused meanwhile.
fn is_own(call: &Call, pid: i32) -> bool {
    pid > 0
        && (pid as u32 == call.n.pid
            || std::path::Path::new(&format!("/proc/{pid}/task/{}", call.n.pid)).exists()
            || std::path::Path::new(&format!("/proc/{}/task/{pid}", call.n.pid)).exists())
}

/// The command name of `pid`, for reports.
fn comm_of(pid: i64) -> Vec<u8> {
    let mut comm = Vec::new();
    if pid > 0 {
        let _ = fs::read_small_file(format!("/proc/{pid}/comm").as_bytes(), &mut comm);
    }
    if comm.last() == Some(&b'\n') {
        comm.pop();
    }
    comm
}

/// Reports a call aimed at `target`; `errno` is what the caller sees, `None`
/// for a group signal that continues to the tree's members only.
fn report(call: &Call, target: i64, why: &'static str, args: String, errno: Option<Errno>) {
    call.shared.reporter.report_process(&ProcessEvent {
        pid: call.n.pid,
        comm: comm_of(i64::from(call.n.pid)),
        syscall: call.syscall_name(),
        args,
        target,
        target_comm: comm_of(target),
        why,
        errno: errno.map(|e| e.0),
    });
}

fn refuse(
    call: &Call,
    target: i64,
    why: &'static str,
    args: impl FnOnce() -> String,
) -> Step<Reply> {
    refuse_with(call, Errno(libc::EPERM), target, why, args)
}

fn refuse_with<T>(
    call: &Call,
    errno: Errno,
    target: i64,
    why: &'static str,
    args: impl FnOnce() -> String,
) -> Step<T> {
    call.ensure_valid()?;
    report(call, target, why, args(), Some(errno));
    Err(errno.into())
}

/// Whether a locked caller would drive `target`, which may still send
/// in-sandbox commands (`lock:exec` only).
fn locked_drives_unlocked(call: &Call, target: i32) -> bool {
    call.shared.policy().lock() == Lock::Exec
        && lineage_locked(call.shared, call.n.pid)
        && !lineage_locked(call.shared, target as u32)
}

/// Keeps a call aimed at the single process `target` inside the tree.
/// `drives` marks calls that take control of the target (attach, memory
/// writes): under `lock:exec` a locked caller may not drive a process that
/// may still send in-sandbox commands, which would send them for it.
fn reach(call: &Call, target: i32, drives: bool, args: impl FnOnce() -> String) -> Step<Reply> {
    if is_own(call, target) {
        return Ok(Reply::ContinueRacy);
    }
    match place_near(target, call.n.pid as i32) {
        Place::Gone => return Err(Errno(libc::ESRCH).into()),
        Place::Outside if target == sys::process::pid() => {
            return refuse(call, target.into(), "stockade itself", args);
        }
        Place::Outside => return refuse(call, target.into(), "outside the sandbox", args),
        Place::Inside => {}
    }
    if drives && locked_drives_unlocked(call, target) {
        return refuse(
            call,
            target.into(),
            "allowed in-sandbox commands, and the caller is locked",
            args,
        );
    }
    // RACE (pid reuse, see the module comment): the kernel looks the pid up
    // again. Landlock keeps it from reaching outside the tree.
    call.ensure_valid()?;
    Ok(Reply::ContinueRacy)
}

/// Keeps a signal to a process group (`Some(pgid)`) or to every process
/// (`None`, kill(-1)) inside the tree. The kernel signals each member it
/// may and succeeds if it signalled one; with Landlock's signal scope it
/// skips the members outside the tree on its own, so the call continues and
/// the members spared are reported. Without it the call is refused when the
/// group reaches outside. stockade itself, a member of the command's group
/// unless the command changed it, is spared silently: its members get the
/// signal directly, so there is nothing to forward.
fn reach_group(call: &Call, pgid: Option<i32>, args: impl FnOnce() -> String) -> Step<Reply> {
    let me = sys::process::pid();
    let outside = process::all_processes()
        .into_iter()
        .filter(|&pid| pid != me && (pgid.is_some() || pid > 1))
        .filter(|&pid| pgid.is_none_or(|g| process::process_group_of(pid) == Some(g)))
        .filter(|&pid| place(pid) == Place::Outside)
        .count();
    let target = -i64::from(pgid.unwrap_or(1));
    if outside > 0 {
        if !call.shared.confined.signals {
            return refuse(call, target, "partly outside the sandbox", args);
        }
        call.ensure_valid()?;
        report(call, target, "partly outside the sandbox", args(), None);
    }
    Ok(Reply::ContinueRacy)
}

/// Entries of `/proc/PID` that say nothing the kernel guards with ptrace
/// access checks: what ps(1) and top(1) read about every process.
const PROC_PUBLIC: &[&[u8]] = &[
    b"stat",
    b"status",
    b"statm",
    b"cmdline",
    b"comm",
    b"cgroup",
    b"limits",
    b"sched",
    b"schedstat",
    b"wchan",
    b"oom_score",
    b"loginuid",
    b"sessionid",
    b"cpuset",
    b"mounts",
    b"mountinfo",
    b"mountstats",
];

/// The process and entry a `/proc` path names: `/proc/PID/ENTRY...` or
/// `/proc/PID/task/TID/ENTRY...`, with the thread for the latter. `None`
/// for other paths, the caller's own `/proc/self` and `/proc/thread-self`,
/// and the directories themselves.
fn proc_entry(path: &[u8]) -> Option<(i32, &[u8])> {
    let number = |part: &[u8]| -> Option<i32> {
        (!part.is_empty() && part.iter().all(u8::is_ascii_digit))
            .then(|| std::str::from_utf8(part).ok()?.parse().ok())
            .flatten()
    };
    let mut parts = path.strip_prefix(b"/proc/")?.split(|&b| b == b'/');
    let mut pid = number(parts.next()?)?;
    let mut entry = parts.next()?;
    if entry == b"task" {
        pid = number(parts.next()?)?;
        entry = parts.next()?;
    }
    (!entry.is_empty()).then_some((pid, entry))
}

/// Opens the supervisor performs for a caller (reads under read checks,
/// writes under write checks) must not lend it the supervisor's place
/// outside the tree: the kernel's ptrace access checks, which Landlock
/// extends, see the supervisor, not the caller. So the guarded entries of
/// `/proc/PID` (mem, environ, fd, maps, ...) of a process outside the tree
/// are refused with EACCES, as the kernel refuses them inside the tree's
/// Landlock domain; and under `lock:exec` a locked caller may not open the
/// memory of a process that may still send in-sandbox commands for writing.
/// `path` is the judged path: a descriptor reopened through
/// `/proc/PID/fd/N` keeps that path unless it names a file by its own.
pub fn guard_proc_open(call: &Call, path: &[u8], writes: bool) -> Step<()> {
    let Some((pid, entry)) = proc_entry(path) else {
        return Ok(());
    };
    if is_own(call, pid) {
        return Ok(());
    }
    let args = || crate::supervise::handlers::describe::path(path);
    match place_near(pid, call.n.pid as i32) {
        Place::Gone => Err(Errno(libc::ENOENT).into()),
        Place::Outside if writes || !PROC_PUBLIC.contains(&entry) => refuse_with(
            call,
            Errno(libc::EACCES),
            pid.into(),
            "outside the sandbox",
            args,
        ),
        Place::Inside if writes && entry == b"mem" && locked_drives_unlocked(call, pid) => {
            refuse_with(
                call,
                Errno(libc::EACCES),
                pid.into(),
                "allowed in-sandbox commands, and the caller is locked",
                args,
            )
        }
        _ => Ok(()),
    }
}

/// A signal's name for reports.
fn signal_name(sig: i32) -> String {
    let name = match sig {
        0 => "0",
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        _ => return sig.to_string(),
    };
    name.to_string()
}

/// ptrace(2): only the requests that start tracing are notified.
pub fn ptrace(call: &Call) -> Step<Reply> {
    let pid = call.int(1);
    match call.arg(0) {
        PTRACE_TRACEME => {
            // The tracer would be the parent: stockade, for the command and
            // for orphans. stockade never traces, and its wait loop would
            // take the tracee's stops for exits.
            let parent = process::parent_of(call.n.pid as i32);
            if parent == Some(sys::process::pid()) {
                return refuse(call, parent.unwrap_or(0).into(), "stockade itself", || {
                    "PTRACE_TRACEME".to_string()
                });
            }
            Ok(Reply::ContinueRacy)
        }
        PTRACE_ATTACH => reach(call, pid, true, || format!("PTRACE_ATTACH, {pid}")),
        PTRACE_SEIZE => reach(call, pid, true, || format!("PTRACE_SEIZE, {pid}")),
        // The filter compares the low half only; the kernel takes the rest
        // for an unknown request on a tracee it already has.
        _ => Ok(Reply::ContinueRacy),
    }
}

/// process_vm_readv(2) and process_vm_writev(2).
pub fn process_vm(call: &Call, writes: bool) -> Step<Reply> {
    let pid = call.int(0);
    reach(call, pid, writes, || format!("{pid}, ..."))
}

/// The pid behind the caller's descriptor `fd`, if it is a pidfd: `Pid:` in
/// its fdinfo. `Some(0)` for a process outside our pid namespace (so not in
/// the tree), `Some(-1)` for one that has exited.
fn pidfd_target(call: &Call, fd: i32) -> Step<Option<i32>> {
    let copy = call.caller_fd(fd)?;
    let mut info = Vec::new();
    fs::read_small_file(
        format!("/proc/self/fdinfo/{}", copy.as_raw_fd()).as_bytes(),
        &mut info,
    )?;
    Ok(info
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"Pid:"))
        .and_then(|v| String::from_utf8_lossy(v).trim().parse().ok()))
}

/// The pid of the process whose `/proc/PID` directory the caller's
/// descriptor `fd` is open on, which pidfd_send_signal(2) takes as well as a
/// pidfd. `None` for any other descriptor.
fn proc_dir_target(call: &Call, fd: i32) -> Step<Option<i32>> {
    let copy = call.caller_fd(fd)?;
    let path = fs::fd_path(copy.as_fd())?;
    let Some(pid) = path.strip_prefix(b"/proc/") else {
        return Ok(None);
    };
    let is_pid = !pid.is_empty() && pid.iter().all(u8::is_ascii_digit);
    Ok(is_pid
        .then(|| std::str::from_utf8(pid).ok()?.parse().ok())
        .flatten())
}

/// pidfd_getfd(2): taking a descriptor from a process outside is as good as
/// being it.
pub fn pidfd_getfd(call: &Call) -> Step<Reply> {
    let fd = call.int(0);
    match pidfd_target(call, fd) {
        Ok(Some(pid)) if pid > 0 => reach(call, pid, false, || format!("{fd} (pid {pid}), ...")),
        Ok(Some(0)) => refuse(call, 0, "outside the sandbox's pid namespace", || {
            format!("{fd}, ...")
        }),
        // Not a pidfd, or its process has exited: the kernel says so.
        Ok(_) | Err(Reply::Error(_)) => Ok(Reply::ContinueRacy),
        Err(reply) => Err(reply),
    }
}

/// kill(2): a process, the caller's group (0), every process (-1), or the
/// group -pid.
pub fn kill(call: &Call) -> Step<Reply> {
    let (pid, sig) = (call.int(0), call.int(1));
    let args = || format!("{pid}, {}", signal_name(sig));
    match pid {
        0 => {
            let group = process::process_group_of(call.n.pid as i32);
            reach_group(call, Some(group.ok_or(Reply::Gone)?), args)
        }
        -1 => reach_group(call, None, args),
        // i32::MIN has no group; the kernel answers ESRCH.
        i32::MIN => Ok(Reply::ContinueRacy),
        pid if pid < 0 => reach_group(call, Some(-pid), args),
        pid => reach(call, pid, false, args),
    }
}

/// tkill(2).
pub fn tkill(call: &Call) -> Step<Reply> {
    let (tid, sig) = (call.int(0), call.int(1));
    if tid <= 0 {
        return Ok(Reply::ContinueRacy);
    }
    reach(call, tid, false, || format!("{tid}, {}", signal_name(sig)))
}

/// tgkill(2) and rt_tgsigqueueinfo(2): thread `tid` of process `tgid`. The
/// kernel refuses a thread of another process, so a `tgid` of the caller's
/// own is all the fast path needs: no walk for raise(3), abort(3),
/// pthread_kill(3) or a runtime's preemption signals.
pub fn tgkill(call: &Call) -> Step<Reply> {
    let (tgid, tid, sig) = (call.int(0), call.int(1), call.int(2));
    if tgid <= 0 || tid <= 0 || is_own(call, tgid) {
        return Ok(Reply::ContinueRacy);
    }
    reach(call, tid, false, || {
        format!("{tgid}, {tid}, {}", signal_name(sig))
    })
}

/// rt_sigqueueinfo(2): process `tgid`.
pub fn rt_sigqueueinfo(call: &Call) -> Step<Reply> {
    let (tgid, sig) = (call.int(0), call.int(1));
    if tgid <= 0 {
        // The kernel looks up no group here: ESRCH.
        return Ok(Reply::ContinueRacy);
    }
    reach(call, tgid, false, || {
        format!("{tgid}, {}, ...", signal_name(sig))
    })
}

/// pidfd_send_signal(2). The pid is read from a copy of the caller's pidfd,
/// or of its `/proc/PID` directory descriptor, which the kernel takes too.
///
/// RACE (descriptor swap): the call continues, and the kernel looks the
/// caller's descriptor up again, so another thread may have put a pidfd of
/// another process there meanwhile. Landlock's signal scope (Linux 6.12)
/// refuses it when that process is outside; on older kernels this stays
/// open.
pub fn pidfd_send_signal(call: &Call) -> Step<Reply> {
    let (fd, sig, flags) = (call.int(0), call.int(1), call.arg(3));
    let args = |pid: i32| move || format!("{fd} (pid {pid}), {}, ...", signal_name(sig));
    let pid = match pidfd_target(call, fd).and_then(|pid| match pid {
        Some(pid) => Ok(Some(pid)),
        None => proc_dir_target(call, fd),
    }) {
        Ok(Some(pid)) => pid,
        Ok(None) | Err(Reply::Error(_)) => return Ok(Reply::ContinueRacy),
        Err(reply) => return Err(reply),
    };
    if pid == 0 {
        return refuse(call, 0, "outside the sandbox's pid namespace", args(pid));
    }
    if pid < 0 {
        return Ok(Reply::ContinueRacy);
    }
    if flags & PIDFD_SIGNAL_PROCESS_GROUP != 0 {
        let group = process::process_group_of(pid).ok_or(Errno(libc::ESRCH))?;
        return reach_group(call, Some(group), args(pid));
    }
    reach(call, pid, false, args(pid))
}

/// clone(2) with `CLONE_PARENT`: the child's parent would be the caller's
/// parent, and the lock passes by parent links. Refused for a locked caller
/// under `lock:exec`.
pub fn clone(call: &Call) -> Step<Reply> {
    if call.shared.policy().lock() == Lock::Exec && lineage_locked(call.shared, call.n.pid) {
        let parent = process::parent_of(call.n.pid as i32).unwrap_or(0);
        return refuse(
            call,
            parent.into(),
            "the parent a locked process's CLONE_PARENT child would get",
            || format!("{:#x}, ...", call.arg(0)),
        );
    }
    Ok(Reply::ContinueRacy)
}

/// prctl(2) `PR_SET_CHILD_SUBREAPER`: orphans below the caller will
/// reparent to it, so `lock:exec` stops trusting parent links below it.
/// Recorded before the kernel acts: the safe order.
pub fn prctl(call: &Call) -> Step<Reply> {
    if call.arg(1) != 0 {
        let status = CallerStatus::read(call.n.pid)?;
        call.ensure_valid()?;
        call.shared.note_subreaper(status.tgid as u32);
    }
    Ok(Reply::ContinueRacy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_and_its_parent_are_outside_the_tree() {
        // The test process is not under a stockade: nothing leads to it.
        assert_eq!(place(sys::process::pid()), Place::Outside);
        assert_eq!(place(sys::process::parent_pid()), Place::Outside);
        assert_eq!(place(1), Place::Outside);
    }

    #[test]
    fn a_child_of_ours_is_inside_and_a_dead_pid_is_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert_eq!(place(child.id() as i32), Place::Inside);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(place(child.id() as i32), Place::Gone);
    }

    #[test]
    fn proc_entries_name_the_process_or_thread() {
        assert_eq!(proc_entry(b"/proc/12/mem"), Some((12, &b"mem"[..])));
        assert_eq!(proc_entry(b"/proc/12/fd/3"), Some((12, &b"fd"[..])));
        assert_eq!(proc_entry(b"/proc/12/task/13/mem"), Some((13, &b"mem"[..])));
        assert_eq!(proc_entry(b"/proc/self/mem"), None);
        assert_eq!(proc_entry(b"/proc/12"), None);
        assert_eq!(proc_entry(b"/proc/12/task/13"), None);
        assert_eq!(proc_entry(b"/proc/sys/kernel/x"), None);
        assert_eq!(proc_entry(b"/tmp/12/mem"), None);
    }

    #[test]
    fn signal_names_cover_the_common_ones() {
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(0), "0");
        assert_eq!(signal_name(40), "40");
    }
}
