//! The sandboxed process tree: reaping, signal forwarding, exit status, and
//! killing what is left when the command exits.

use crate::sys::process::{self as sysproc, ExitStatus};
use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};

/// The signals stockade forwards to the command.
pub const FORWARDED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Blocks the forwarded signals and SIGCHLD in the calling thread, and so in
/// every thread it starts afterwards; the main loop takes them with
/// sigwaitinfo(2). Returns the signal state stockade was started with,
/// which the command gets (issue 9: `nohup stockade ...` must ignore SIGHUP).
pub fn block_supervisor_signals() -> sysproc::InheritedSignals {
    let mut all = FORWARDED.to_vec();
    all.push(libc::SIGCHLD);
    sysproc::block_signals_noting_inherited(&all)
}

/// The processes that were our children before the command started: those
/// stockade inherited from whoever exec'd it. bash starts a process
/// substitution (`2> >(tee log)`) as a child of the process that then execs
/// stockade, so its reader is our child, yet no part of the sandboxed tree:
/// it is never killed or waited for, else stockade would break its own
/// stderr (issue 9).
pub fn inherited_children() -> HashSet<i32> {
    let me = sysproc::pid();
    process_parents()
        .into_iter()
        .filter_map(|(pid, ppid)| (ppid == me).then_some(pid))
        .collect()
}

/// Waits for the tree to end and returns the command's status. Signals sent
/// to stockade are forwarded to the command. When the command exits, the
/// remaining descendants are killed unless `wait_all`; orphans reparent to
/// stockade (a child subreaper) and are reaped here either way. `inherited`
/// (from [`inherited_children`]) are left alone; one that ends is reaped
/// and dropped from the set before its pid can be reused.
pub fn wait_tree(
    root: i32,
    root_pidfd: OwnedFd,
    wait_all: bool,
    mut inherited: HashSet<i32>,
) -> ExitStatus {
    let mut root_status = None;
    let mut waited = vec![libc::SIGCHLD];
    waited.extend(FORWARDED);
    loop {
        loop {
            match sysproc::try_wait_any() {
                Ok(Some((pid, status))) => {
                    if pid == root {
                        root_status = Some(status);
                    }
                    inherited.remove(&pid);
                }
                Ok(None) => break,
                Err(_) => return root_status.unwrap_or(ExitStatus::Exited(0)),
            }
        }
        if let Some(status) = root_status {
            if !wait_all {
                kill_descendants(&inherited);
            }
            if !inherited.is_empty() && !has_tree_children(&inherited) {
                return status;
            }
        }
        match sysproc::wait_signal(&waited) {
            Ok(sig) if sig != libc::SIGCHLD && root_status.is_none() => {
                let _ = sysproc::pidfd_send_signal(root_pidfd.as_fd(), sig);
            }
            _ => {}
        }
    }
}

/// Whether any child of ours, besides `inherited`, is still there (alive or
/// not yet reaped).
fn has_tree_children(inherited: &HashSet<i32>) -> bool {
    let me = sysproc::pid();
    process_parents()
        .into_iter()
        .any(|(pid, ppid)| ppid == me && !inherited.contains(&pid))
}

/// The exit code stockade returns for the command's status: its own code, or
/// 128+N for death by signal N.
pub fn exit_code(status: ExitStatus) -> i32 {
    match status {
        ExitStatus::Exited(code) => code,
        ExitStatus::Signaled(sig) => 128 + sig,
    }
}

/// SIGKILLs every live descendant of this process, found through /proc,
/// except the `inherited` children and theirs. Each target is named by a
/// pidfd opened before checking its parent again, so a recycled pid is never
/// signalled.
fn kill_descendants(inherited: &HashSet<i32>) {
    let me = sysproc::pid();
    let parents = process_parents();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&pid, &ppid) in &parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut stack = vec![me];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if p == me && inherited.contains(&c) {
                continue;
            }
            if let Ok(fd) = sysproc::pidfd_open(c)
                && parent_of(c) == Some(p)
            {
                let _ = sysproc::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
            }
            stack.push(c);
        }
    }
}

fn process_parents() -> HashMap<i32, i32> {
    let mut map = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return map;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = parent_of(pid) {
            map.insert(pid, ppid);
        }
    }
    map
}

/// The parent pid from `/proc/PID/stat` (field 4, after the parenthesised
/// command name, which may itself hold spaces and parentheses).
pub fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_maps_signals_to_128_plus_n() {
        assert_eq!(exit_code(ExitStatus::Exited(3)), 3);
        assert_eq!(exit_code(ExitStatus::Signaled(9)), 137);
    }

    #[test]
    fn parent_of_self_is_our_parent() {
        assert_eq!(parent_of(sysproc::pid()), Some(sysproc::parent_pid()));
    }
}
