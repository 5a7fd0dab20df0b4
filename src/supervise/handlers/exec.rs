//! execve(2) and execveat(2): the `exec` category and `exec/kill_if_match`.
//!
//! | syscall | dirfd | path | flags |
//! |---------|-------|------|-------|
//! | execve  | cwd   | 0    | -     |
//! | execveat| 0     | 1    | 4     |

use super::describe;
use crate::policy::{Category, Lock};
use crate::report::Action;
use crate::supervise::call::{Call, Reply, Step};
use crate::supervise::resolve::{Base, Lookup};

/// Handles execve (`at_form` false) or execveat (true).
pub fn handle(call: &Call, at_form: bool) -> Step<Reply> {
    let (base, arg, lookup) = if at_form {
        let flags = call.int(4);
        let lookup = Lookup {
            follow_final: flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            empty_path: flags & libc::AT_EMPTY_PATH != 0,
            ..Lookup::default()
        };
        (Base::from_dirfd(call.arg(0)), 1, lookup)
    } else {
        (
            Base::Cwd,
            0,
            Lookup {
                follow_final: true,
                ..Lookup::default()
            },
        )
    };
    let own = call.shared.is_own_exec(call.n.pid);
    let (checked, lock_exec) = {
        let policy = call.shared.policy();
        (
            policy.is_on(Category::Exec) || policy.has_exec_kill_rules(),
            policy.lock() == Lock::Exec && !own,
        )
    };
    if !checked {
        // Watched only so that in-sandbox commands can end at exec: no path
        // is judged, so there is nothing to race.
        if lock_exec {
            let caller = call.become_caller(true)?;
            call.shared.note_exec(call.n.pid, caller.tgid());
        }
        return Ok(Reply::ContinueRacy);
    }
    let path = call.read_path(arg)?;
    let caller = call.become_caller(lock_exec)?;
    let r = call.resolve(base, &path, lookup)?;
    if r.stat().is_none() {
        return Err(crate::sys::Errno(libc::ENOENT).into());
    }
    let kill_rule = call.shared.policy().exec_kill(&r.path);
    if let Some(rule) = kill_rule {
        call.report(
            Category::Exec,
            &r.path,
            Action::Kill,
            Some(rule),
            describe::path(&r.path),
            None,
        );
        return Ok(Reply::Kill);
    }
    call.check(Category::Exec, &r.path, || describe::path(&r.path))?;
    if let Some(roots) = &call.shared.exec_roots
        && let Ok(program) = r.open_object()
        && let Some(interpreter) = crate::supervise::landlock::interpreter_outside(roots, &program)
    {
        // Landlock would refuse it in the kernel, unreported: say which
        // interpreter the rules lack, and fail as the kernel would.
        let errno = crate::sys::Errno(libc::EACCES);
        let how = format!(
            "{}, interpreter {}",
            describe::path(&r.path),
            describe::path(&interpreter)
        );
        call.report(
            Category::Exec,
            &interpreter,
            Action::Deny,
            None,
            how,
            Some(errno),
        );
        return Err(errno.into());
    }
    if lock_exec {
        call.shared.note_exec(call.n.pid, caller.tgid());
    }
    // RACE (known, documented): the new program image must be loaded by the
    // kernel inside the caller, so the call continues there and the kernel
    // reads the path again. Whoever can change the path (a thread sharing
    // the caller's memory, or any process that can write a directory on
    // it, e.g. swapping a symlink with RENAME_EXCHANGE) can swap it between
    // this check and the kernel's read. Closing it needs the kernel to exec
    // from a descriptor we pass (no such interface for a notified caller
    // exists as of Linux 6.18). What bounds it:
    // - exec rules given at start: Landlock's execute right (`landlock.rs`)
    //   lets the kernel execute only files beneath the rules' hierarchies
    //   and the dynamic loaders. A swap still wins within them: a file a
    //   deny rule or a pattern narrower than its directory refuses here,
    //   or the loader run directly (which can load an ELF program);
    // - rules added inside within those hierarchies: the same;
    // - exec checks switched on inside the sandbox (Paludis's metadata
    //   phase: `enable_exec` + `allow_exec`): no ruleset was enforced at
    //   start, this check alone decides, and a swap wins outright.
    //   Widening exec beyond the ruleset from inside is refused
    //   (`handlers/magic.rs`), as the kernel would refuse those execs.
    Ok(Reply::ContinueRacy)
}

/// `MFD_CLOEXEC`, `MFD_EXEC` and `MFD_NOEXEC_SEAL` from `<linux/memfd.h>`.
const MFD_CLOEXEC: u32 = 0x1;
const MFD_NOEXEC_SEAL: u32 = 0x8;
const MFD_EXEC: u32 = 0x10;

/// memfd_create(2) while Landlock bounds exec: a memfd lives on the
/// kernel's internal shmem mount, which Landlock's execute right does not
/// cover (it lets every access to internal mounts through). The notified
/// check refuses to exec one, but the kernel reads the path again after
/// it, so a path swapped to `/proc/self/fd/N` of a memfd would run a
/// forbidden program that the ruleset never saw. So the supervisor makes
/// the memfd itself with `MFD_NOEXEC_SEAL` (mode without execute bits,
/// `F_SEAL_EXEC`: no exec, ever) and hands it to the caller; `MFD_EXEC`
/// fails with EACCES, as under the kernel's own `vm.memfd_noexec = 2`.
/// Without a ruleset the call runs in the kernel: the notified check is
/// then all there is, for every file.
pub fn memfd_create(call: &Call) -> Step<Reply> {
    if call.shared.exec_roots.is_none() {
        return Ok(Reply::ContinueRacy);
    }
    let flags = call.arg(1) as u32;
    if flags & MFD_EXEC != 0 {
        call.ensure_valid()?;
        return Err(crate::sys::Errno(libc::EACCES).into());
    }
    let name = call.read_path(0)?;
    // The memfd's inode takes the creator's fsuid and fsgid.
    let _caller = call.become_caller(false)?;
    let fd = crate::sys::fs::memfd_create(&name, (flags & !MFD_CLOEXEC) | MFD_NOEXEC_SEAL)?;
    call.ensure_valid()?;
    Ok(Reply::Fd {
        fd,
        cloexec: flags & MFD_CLOEXEC != 0,
        // Sealed without execute bits: nothing can exec it, ever.
        exec_safe: true,
    })
}
