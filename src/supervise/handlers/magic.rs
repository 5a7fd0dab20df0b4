//! In-sandbox commands: `stat("/dev/stockade/RULE")` applies RULE.
//!
//! A command that was applied, or a query that is true, succeeds; a false
//! query fails with ENOENT, a bad rule with EINVAL, and a category the filter does not watch, or exec allowed beyond
//! what Landlock enforces since start (`landlock.rs`), with EPERM.
//! `/dev/stockade` itself exists for every process that may send commands;
//! for a locked one nothing is there (ENOENT), as without stockade. Its
//! refused command is reported when the supervisor reads it; stats of a
//! caller seen to be locked at a glance are not read at all (`stat.rs`).
//! The same holds for sydbox API 1 under `/dev/sydbox/` (Paludis's
//! `esandbox`), whose commands are translated into native ones.

use crate::filter::Watch;
use crate::policy::sydbox::{self, SydboxOption, Translation};
use crate::policy::{Applied, Category, Command, Lock, parse_rule};
use crate::report::escape;
use crate::supervise::call::{Call, CallerStatus, Reply, Step};
use crate::supervise::process;
use crate::sys::{Errno, fs, mem};
use std::os::fd::AsFd;

/// The directory under which in-sandbox commands live.
pub const PREFIX: &[u8] = b"/dev/stockade";
/// The sydbox API-1 directory Paludis's `esandbox` uses; `/dev/sydbox/1`
/// exists to say API 1 is spoken.
pub const SYDBOX_PREFIX: &[u8] = b"/dev/sydbox";

/// The command text after `prefix`, if `path` is `prefix` or below it.
fn after<'p>(path: &'p [u8], prefix: &[u8]) -> Option<&'p [u8]> {
    let rest = path.strip_prefix(prefix)?;
    match rest {
        [] => Some(rest),
        [b'/', command @ ..] => Some(command),
        _ => None,
    }
}

/// Whether `path` is a command path.
pub fn is_magic(path: &[u8]) -> bool {
    path.starts_with(b"/dev/")
        && (after(path, PREFIX).is_some() || after(path, SYDBOX_PREFIX).is_some())
}

/// Applies the command in `path` for the caller and replies as a stat would.
pub fn handle(call: &Call, path: &[u8]) -> Step<Reply> {
    let (rule, sydbox) = match after(path, PREFIX) {
        Some(rule) => (rule, false),
        None => (after(path, SYDBOX_PREFIX).unwrap_or(b""), true),
    };
    call.ensure_valid()?;
    let exists_only = rule.is_empty() || (sydbox && rule == b"1");
    if locked_for(call) {
        if exists_only {
            return Err(Errno(libc::ENOENT).into());
        }
        // ENOENT, as for a caller whose stats are not even read (see
        // `stat::surely_locked_and_unchecked`): to a locked process there is
        // no /dev/stockade, as without stockade.
        refuse(call, rule, "the sandbox is locked");
        return Err(Errno(libc::ENOENT).into());
    }
    if exists_only {
        return succeed(call);
    }
    let commands = if sydbox {
        match sydbox_translation(call, rule)? {
            Translation::Commands(commands) => commands,
            Translation::Exec(argv) => return exec_outside(call, rule, argv),
            other => {
                sydbox_setting(call, other);
                return succeed(call);
            }
        }
    } else {
        native_command(call, rule)?
    };
    if let Some(category) = commands
        .iter()
        .find_map(|c| unwatched(c, &call.shared.watch))
    {
        let why = format!(
            "{} checking cannot be switched on inside the sandbox: it was off at start",
            category.name()
        );
        refuse(call, rule, &why);
        return Err(Errno(libc::EPERM).into());
    }
    if !call.shared.watch.user_ns && commands.contains(&Command::AllowUserNamespace(false)) {
        // The filter lets them through in the kernel: it cannot be
        // tightened from inside.
        refuse(
            call,
            rule,
            "user namespaces cannot be refused inside the sandbox: they were allowed at start",
        );
        return Err(Errno(libc::EPERM).into());
    }
    // One write lock for the whole command: concurrent commands from many
    // processes are applied one after another, none lost or doubled.
    let mut policy = call.shared.policy_mut();
    let beyond_landlock = call
        .shared
        .exec_roots
        .as_deref()
        .and_then(|roots| crate::supervise::landlock::refusal(roots, &policy, &commands));
    if let Some(why) = beyond_landlock {
        drop(policy);
        refuse(call, rule, &why);
        return Err(Errno(libc::EPERM).into());
    }
    let mut answer = true;
    for command in &commands {
        match policy.apply(command) {
            Ok(Applied::Done) => {}
            Ok(Applied::Query(yes)) => answer &= yes,
            Err(e) => {
                drop(policy);
                refuse(call, rule, &e.to_string());
                return Err(Errno(libc::EINVAL).into());
            }
        }
    }
    drop(policy);
    if answer {
        succeed(call)
    } else {
        Err(Errno(libc::ENOENT).into())
    }
}

fn native_command(call: &Call, rule: &[u8]) -> Step<Vec<Command>> {
    parse_rule(rule).map(|c| vec![c]).map_err(|e| {
        refuse(call, rule, &e.to_string());
        Errno(libc::EINVAL).into()
    })
}

fn sydbox_translation(call: &Call, rule: &[u8]) -> Step<Translation> {
    sydbox::translate(rule).map_err(|e| {
        refuse(call, rule, &e.to_string());
        Errno(libc::EINVAL).into()
    })
}

/// Acts on a sydbox-1 setting that is not a native command.
fn sydbox_setting(call: &Call, translation: Translation) {
    let shared = call.shared;
    match translation {
        Translation::Option(SydboxOption::SuccessfulBind(on)) => shared.set_allow_bound(on),
        Translation::Option(SydboxOption::ExitWaitAll(on)) => shared.set_wait_all(on),
        Translation::Option(SydboxOption::ViolationExitOffset) => {
            shared.set_violation_exit_offset()
        }
        Translation::NoEffect { option, why } => shared.name_no_effect(option, why),
        _ => {}
    }
}

/// `cmd/exec!PROGRAM\037ARG...`: runs PROGRAM outside the sandbox, as the
/// caller (its uid and gid when the supervisor is root), in its working
/// directory and with its environment; output goes to stockade's stderr.
/// Only a caller that may send commands gets here: the lock closes this
/// door like every other command. As in sydbox-1, the stat succeeds once
/// the program has been exec'd (it is not waited for) and fails with the
/// errno of a failed exec.
///
/// stockade under its own name does not offer it (EPERM, reported): it is
/// an escape hatch only sydbox-1's users expect.
fn exec_outside(call: &Call, rule: &[u8], argv: Vec<Vec<u8>>) -> Step<Reply> {
    if !call.shared.outside_exec {
        refuse(
            call,
            rule,
            "cmd/exec is only offered by stockade invoked as sydbox",
        );
        return Err(Errno(libc::EPERM).into());
    }
    let pid = call.n.pid;
    let mut environ = Vec::new();
    fs::read_small_file(format!("/proc/{pid}/environ").as_bytes(), &mut environ)?;
    let cwd = fs::readlink_at(None, format!("/proc/{pid}/cwd").as_bytes())?;
    let status = CallerStatus::read(pid)?;
    // All read from /proc/PID: make sure PID is still the caller.
    call.ensure_valid()?;
    let ids = (call.shared.as_root && (status.fsuid != 0 || status.fsgid != 0))
        .then_some((status.fsuid, status.fsgid));
    let outside = process::Outside {
        argv,
        env: environ
            .split(|&b| b == 0)
            .filter(|e| !e.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
        cwd,
        ids,
    };
    match process::spawn_outside(&outside) {
        Ok(child) => {
            call.shared.reporter.message(&format!(
                "in-sandbox command {} from pid {pid}: started pid {child} outside the sandbox",
                escape(rule)
            ));
            succeed(call)
        }
        Err(e) => Err(e.into()),
    }
}

fn locked_for(call: &Call) -> bool {
    match call.shared.policy().lock() {
        Lock::Off => false,
        Lock::On => true,
        Lock::Exec => super::tree::lineage_locked(call.shared, call.n.pid),
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
