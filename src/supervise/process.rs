//! The sandboxed process tree: reaping, signal forwarding, exit status, and
//! killing what is left when the command exits.

use crate::sys::process::{self as sysproc, ExitStatus};
use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

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
/// remaining descendants are killed unless `wait_all` is set at that moment
/// (in-sandbox commands may change it while the tree runs); orphans reparent
/// to stockade (a child subreaper) and are reaped here either way.
/// `inherited` (from [`inherited_children`]) are left alone; one that ends
/// is reaped and dropped from the set before its pid can be reused.
pub fn wait_tree(
    root: i32,
    root_pidfd: OwnedFd,
    wait_all: &AtomicBool,
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
            if !wait_all.load(Ordering::SeqCst) {
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

/// Who a program started outside the sandbox runs as, where, and with what.
#[derive(Debug, Clone)]
pub struct Outside {
    /// The program and its arguments (`argv[0]` is looked up in the PATH
    /// of `env`, as execvpe(3) does).
    pub argv: Vec<Vec<u8>>,
    /// The whole environment, `NAME=VALUE` entries.
    pub env: Vec<Vec<u8>>,
    /// The working directory.
    pub cwd: Vec<u8>,
    /// `Some((uid, gid))` to drop to (a root supervisor acting for an
    /// unprivileged caller); supplementary groups are then cleared.
    pub ids: Option<(u32, u32)>,
}

/// Starts `outside.argv` as a child of the supervisor, not under the
/// seccomp filter, with stdin from /dev/null and stdout and stderr on
/// stockade's stderr (sydbox-1's `cmd/exec`). Returns once the program has
/// been exec'd, with its pid, or the errno of the failed chdir or exec; the
/// program is not waited for here (the supervisor's reaper collects it).
pub fn spawn_outside(outside: &Outside) -> Result<u32, crate::sys::Errno> {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let errno = |e: std::io::Error| crate::sys::Errno(e.raw_os_error().unwrap_or(libc::EIO));
    let (program, args) = outside
        .argv
        .split_first()
        .ok_or(crate::sys::Errno(libc::EINVAL))?;
    let mut command = std::process::Command::new(OsStr::from_bytes(program));
    command.args(args.iter().map(|a| OsStr::from_bytes(a)));
    command.env_clear();
    for entry in &outside.env {
        if let Some(eq) = entry.iter().position(|&b| b == b'=') {
            command.env(
                OsStr::from_bytes(&entry[..eq]),
                OsStr::from_bytes(&entry[eq + 1..]),
            );
        }
    }
    command.current_dir(OsStr::from_bytes(&outside.cwd));
    if let Some((uid, gid)) = outside.ids {
        command.uid(uid).gid(gid);
    }
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(errno)?;
    let stderr_too = stderr.try_clone().map_err(errno)?;
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(stderr))
        .stderr(std::process::Stdio::from(stderr_too));
    // std reports a failed exec (or chdir, setuid) of the child as the
    // child's errno, through a close-on-exec pipe: success means exec'd.
    let child = command.spawn().map_err(errno)?;
    Ok(child.id())
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

/// Longer parent chains than this are taken as outside (fail closed).
const MAX_DEPTH: usize = 4096;

/// Where a process stands relative to the sandboxed tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A member: the command or one of its descendants.
    Inside,
    /// stockade itself, one of its threads, or a process outside.
    Outside,
    /// No such process (any more).
    Gone,
}

/// Where `pid` (a process or thread id, as stockade numbers it) stands.
/// A parent that dies during the walk reparents its children, so the walk
/// starts again, a few times, then fails closed.
pub fn place(pid: i32) -> Place {
    place_near(pid, sysproc::pid())
}

/// Like [`place`], with `member` a process known to be in the tree: the
/// walk stops there. Every caller is one, since every process under the
/// filter descends from stockade (orphans reparent to stockade or to a
/// subreaper below it), so a signal to the caller's own child costs one
/// read instead of a walk to the top.
pub fn place_near(pid: i32, member: i32) -> Place {
    let me = sysproc::pid();
    if pid == me {
        return Place::Outside;
    }
    for _ in 0..3 {
        let mut at = pid;
        let mut depth = 0;
        loop {
            let Some(parent) = parent_of(at) else {
                if at == pid {
                    return Place::Gone;
                }
                break;
            };
            if parent == me || parent == member {
                return Place::Inside;
            }
            depth += 1;
            if parent <= 1 || depth > MAX_DEPTH {
                return Place::Outside;
            }
            at = parent;
        }
    }
    Place::Outside
}

/// The parent pid from `/proc/PID/stat` (field 4, after the parenthesised
/// command name, which may itself hold spaces and parentheses).
pub fn parent_of(pid: i32) -> Option<i32> {
    stat_field(pid, 4).and_then(|f| f.parse().ok())
}

/// The process group from `/proc/PID/stat` (field 5).
pub fn process_group_of(pid: i32) -> Option<i32> {
    stat_field(pid, 5).and_then(|f| f.parse().ok())
}

/// The start time, in clock ticks after boot, from `/proc/PID/stat` (field
/// 22): with the pid it names one process for good.
pub fn start_time_of(pid: i32) -> Option<u64> {
    stat_field(pid, 22).and_then(|f| f.parse().ok())
}

/// Field `n` (numbered from 1, as in proc(5)) of `/proc/PID/stat`, for the
/// fields after the command name.
fn stat_field(pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_whitespace()
        .nth(n.checked_sub(3)?)
        .map(str::to_string)
}

/// The pids of every process (thread group) in `/proc`.
pub fn all_processes() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect()
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

    #[test]
    fn stat_fields_name_our_group_and_a_start_time() {
        let me = sysproc::pid();
        let group = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let fields: Vec<&str> = group
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        assert_eq!(process_group_of(me), fields[2].parse().ok());
        assert_eq!(start_time_of(me), fields[19].parse().ok());
        assert!(all_processes().contains(&me));
    }
}
