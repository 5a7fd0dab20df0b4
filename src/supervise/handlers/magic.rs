//! In-sandbox commands: `stat("/dev/stockade/RULE")` applies RULE.
//!
//! A command that was applied, or a query that is true, succeeds; a false
//! query fails with ENOENT, a bad rule with EINVAL, a locked sandbox with
//! EBUSY, and a category the filter does not watch with EPERM.
//! `/dev/stockade` itself exists for every process that may send commands.

use crate::filter::Watch;
use crate::policy::{Applied, Category, Command, Lock, parse_rule};
use crate::report::escape;
use crate::supervise::call::{Call, Reply, Step};
use crate::sys::{Errno, fs, mem};
use std::os::fd::AsFd;

/// The directory under which in-sandbox commands live.
pub const PREFIX: &[u8] = b"/dev/stockade";

/// Whether `path` is a command path.
pub fn is_magic(path: &[u8]) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

/// Applies the command in `path` for the caller and replies as a stat would.
pub fn handle(call: &Call, path: &[u8]) -> Step<Reply> {
    let rule = path[PREFIX.len()..].strip_prefix(b"/").unwrap_or(b"");
    call.ensure_valid()?;
    if locked_for(call) {
        if rule.is_empty() {
            return Err(Errno(libc::ENOENT).into());
        }
        refuse(call, rule, "the sandbox is locked");
        return Err(Errno(libc::EBUSY).into());
    }
    if rule.is_empty() {
        return succeed(call);
    }
    let command = match parse_rule(rule) {
        Ok(c) => c,
        Err(e) => {
            refuse(call, rule, &e.to_string());
            return Err(Errno(libc::EINVAL).into());
        }
    };
    if let Some(category) = unwatched(&command, &call.shared.watch) {
        let why = format!(
            "{} checking cannot be switched on inside the sandbox: it was off at start",
            category.name()
        );
        refuse(call, rule, &why);
        return Err(Errno(libc::EPERM).into());
    }
    let applied = call.shared.policy_mut().apply(&command);
    match applied {
        Ok(Applied::Done) | Ok(Applied::Query(true)) => succeed(call),
        Ok(Applied::Query(false)) => Err(Errno(libc::ENOENT).into()),
        Err(e) => {
            refuse(call, rule, &e.to_string());
            Err(Errno(libc::EINVAL).into())
        }
    }
}

fn locked_for(call: &Call) -> bool {
    match call.shared.policy().lock() {
        Lock::Off => false,
        Lock::On => true,
        Lock::Exec => call.shared.has_execed(call.n.pid),
    }
}

/// A category the command would switch on although the filter cannot see it.
fn unwatched(command: &Command, watch: &Watch) -> Option<Category> {
    let Command::Sandbox {
        categories,
        on: true,
    } = command
    else {
        return None;
    };
    categories.iter().copied().find(|c| match c {
        Category::Read => !watch.read,
        Category::Write => !watch.write,
        Category::Exec => !watch.exec,
        Category::Stat => !watch.stat,
        Category::NetBind | Category::NetConnect => !watch.net,
    })
}

fn refuse(call: &Call, rule: &[u8], why: &str) {
    call.shared.reporter.message(&format!(
        "in-sandbox command {} from pid {} refused: {why}",
        escape(rule),
        call.n.pid
    ));
}

/// Completes the stat-family call as if it had stat'ed /dev/null.
fn succeed(call: &Call) -> Step<Reply> {
    let null = fs::openat2(
        None,
        b"/dev/null",
        (libc::O_PATH | libc::O_CLOEXEC) as u64,
        0,
        0,
    )?;
    let out = match call.n.nr {
        libc::SYS_stat | libc::SYS_lstat => Some((call.arg(1), fs::stat_bytes(null.as_fd())?)),
        libc::SYS_newfstatat => Some((call.arg(2), fs::stat_bytes(null.as_fd())?)),
        libc::SYS_statx => Some((
            call.arg(4),
            fs::statx_bytes(null.as_fd(), 0, call.arg(3) as u32)?,
        )),
        _ => None,
    };
    if let Some((addr, bytes)) = out {
        mem::write_bytes(call.n.pid, addr, &bytes)?;
    }
    Ok(Reply::Value(0))
}
