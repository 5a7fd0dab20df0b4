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
