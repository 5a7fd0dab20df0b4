//! The seccomp user-notification engine: start the command under the filter,
//! answer its notifications with a pool of workers (one receiver at a time,
//! `pool.rs`), watch the calls in flight (`watchdog.rs`), and wait for the tree.

pub mod call;
pub mod callers;
pub mod handlers;
pub mod landlock;
pub mod pool;
pub mod process;
pub mod resolve;
pub mod spawn;
pub mod userns;
pub mod watchdog;

use crate::filter::{self, Watch};
use crate::policy::{Category, Lock, Policy};
use crate::report::{Reporter, Stats};
use crate::sys::seccomp::{Listener, Notification};
use crate::sys::{self, Errno};
use call::{Call, Reply};
use std::collections::HashSet;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

/// Everything a sandboxed run needs besides the command.
#[derive(Debug)]
pub struct Config {
    /// The policy at start.
    pub policy: Policy,
    /// Where JSON-lines reports go, if anywhere.
    pub log: Option<std::fs::File>,
    /// Wait for every descendant instead of killing them when the command exits.
    pub wait_all: bool,
    /// Count notifications and their latency per syscall.
    pub stats: bool,
    /// Allow connects and sends to addresses the tree bound successfully.
    pub allow_bound: bool,
    /// Categories that in-sandbox commands may switch on although they are
    /// off at start: the filter watches them from the start (at a cost,
    /// measured in the README). `sydbox` sets write, exec and network.
    pub switchable: Vec<Category>,
    /// Exit with 128 plus the command's code when anything was reported
    /// (sydbox-1's `core/violation/exit_code:0`).
    pub violation_exit_offset: bool,
    /// Whether sydbox's `cmd/exec` (run a program outside the sandbox) is
    /// available to processes that may send commands; `sydbox` sets it.
    pub outside_exec: bool,
    /// For `stockade learn`: where reports go instead of stderr.
    pub learn: Option<Arc<crate::learn::Recorder>>,
}

/// How a sandboxed run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The code stockade should exit with: the command's own, or 128+signal.
    pub exit_code: i32,
    /// The violation summary, when anything was reported.
    pub summary: Option<String>,
    /// The statistics table, when asked for.
    pub stats: Option<String>,
}

/// Why a sandboxed run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The kernel lacks something stockade needs.
    #[error("this kernel cannot run stockade: {0}")]
    KernelUnsupported(&'static str),
    /// The command was not found in PATH.
    #[error("command not found: {0}")]
    NotFound(String),
    /// The command could not be started.
    #[error(transparent)]
    Spawn(#[from] spawn::SpawnError),
    /// A setup step of the supervisor failed.
    #[error("failed to {what}")]
    Setup {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: Errno,
    },
}

/// What the filter must watch for `policy`. In-sandbox commands are possible
/// unless the lock is on from the start; they arrive as stats. While they are
/// possible, exec is watched too: a command may set `lock:exec` (an exec then
/// ends that process's commands) or add `exec/kill_if_match` rules.
///
/// `switchable` names categories that commands may switch on later: they
/// are watched from the start while commands are possible.
pub fn watch_for(policy: &Policy, switchable: &[Category]) -> Watch {
    let magic = policy.lock() != Lock::On;
    let on = |c: Category| policy.is_on(c) || (magic && switchable.contains(&c));
    Watch {
        read: on(Category::Read),
        write: on(Category::Write),
        exec: on(Category::Exec) || magic || policy.has_exec_kill_rules(),
        stat: on(Category::Stat),
        magic,
        net: on(Category::NetBind) || on(Category::NetConnect),
        user_ns: !policy.allows_user_namespace(),
        // Always: the tree ends at its own processes, whatever the policy.
        tree: true,
    }
}

/// State shared by the workers.
#[derive(Debug)]
pub struct Shared {
    /// The notification listener.
    pub listener: Listener,
    policy: RwLock<Policy>,
    /// What the filter watches; fixed at start.
    pub watch: Watch,
    /// Where violations go.
    pub reporter: Reporter,
    stats: Option<Stats>,
    /// The supervisor runs as root and must take on callers' credentials.
    pub as_root: bool,
    /// Threads that have called execve since `lock:exec` applies to them.
    execed: Mutex<Execed>,
    /// What the kernel itself keeps inside the tree (Landlock).
    pub confined: Confined,
    /// The command's pid, and whether its first exec (ours) has been seen.
    root: u32,
    /// The command's start time, so that a later process given its pid is
    /// not taken for it.
    root_start: Option<u64>,
    /// Processes of the tree that made themselves child subreapers: an
    /// orphan below one reparents to it, so its ancestry proves nothing.
    subreapers: Mutex<HashSet<u32>>,
    root_execed: std::sync::atomic::AtomicBool,
    /// Addresses the tree's sockets were given, by a bind or by the kernel
    /// on a send or connect; connects to them may be allowed (see
    /// `handlers::net`).
    bound: Mutex<Vec<handlers::net::Bound>>,
    /// The hierarchies Landlock's execute right is bounded to since start,
    /// when it is (see `landlock.rs`).
    pub exec_roots: Option<Vec<Vec<u8>>>,
    /// Whether successful binds allow later connects (on by default).
    allow_bound: std::sync::atomic::AtomicBool,
    /// The workers and the calls they are handling.
    pub pool: pool::Pool,
    /// Descriptors kept per calling thread.
    pub callers: callers::Callers,
    /// Whether the tree switched process accounting on (acct(PATH) to an
    /// allowed file): only then may it switch it off.
    pub accounting_on: std::sync::atomic::AtomicBool,
    /// Wait for every descendant when the command exits; read by the
    /// reaper at that moment, set by `--wait-all` or in-sandbox commands.
    wait_all: Arc<std::sync::atomic::AtomicBool>,
    /// Exit with 128 plus the command's code after any report.
    violation_exit_offset: std::sync::atomic::AtomicBool,
    /// sydbox-1 options already named as having no effect.
    named_no_effect: Mutex<HashSet<&'static str>>,
    /// Whether `cmd/exec` may run programs outside the sandbox.
    pub outside_exec: bool,
}

impl Shared {
    /// The current policy, for reading.
    pub fn policy(&self) -> RwLockReadGuard<'_, Policy> {
        self.policy.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The current policy, for in-sandbox commands.
    pub fn policy_mut(&self) -> RwLockWriteGuard<'_, Policy> {
        self.policy.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `pid` is about to exec, for `lock:exec`. A failed exec
    /// still counts: erring towards locked is the safe side.
    pub fn note_exec(&self, tid: u32, tgid: u32) {
        if self.policy().lock() == Lock::Exec {
            let mut execed = self.execed.lock().unwrap_or_else(|p| p.into_inner());
            // After an exec from a non-leader thread, the process goes on
            // under its thread group id.
            execed.pids.insert(tid);
            execed.pids.insert(tgid);
            // Forget processes that are gone, so a long build that execs
            // millions of times keeps a small set. A pid reused since stays
            // locked: the safe side.
            if execed.pids.len() >= execed.next_sweep {
                execed
                    .pids
                    .retain(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
                execed.next_sweep = (2 * execed.pids.len()).max(EXECED_SWEEP);
            }
        }
    }

    /// True exactly once: for the command's first exec, which is stockade's
    /// own exec of COMMAND. It is not the command's exec: with lock:exec from
    /// the start, the command may send commands until it execs something.
    pub fn is_own_exec(&self, pid: u32) -> bool {
        pid == self.root && !self.root_execed.swap(true, Ordering::SeqCst)
    }

    /// Remembers an address one of the tree's sockets holds, so that
    /// connects and sends to it may be allowed: test suites that listen and
    /// talk to themselves then work with a policy that allows only the
    /// bind. A newer record of the same address replaces the older: two
    /// sockets never hold one address unless they share it, and a shared
    /// address is never allowed.
    pub fn note_bound(&self, bound: handlers::net::Bound) {
        if self.allow_bound.load(Ordering::Relaxed) {
            let mut list = self.bound.lock().unwrap_or_else(|p| p.into_inner());
            list.retain(|b| b.address != bound.address);
            list.push(bound);
        }
    }

    /// Switches the successful-bind allowance (sydbox's
    /// `core/whitelist/successful_bind`).
    pub fn set_allow_bound(&self, on: bool) {
        self.allow_bound.store(on, Ordering::Relaxed);
    }

    /// Switches waiting for every descendant at the command's exit
    /// (sydbox's `core/trace/exit_wait_all`).
    pub fn set_wait_all(&self, on: bool) {
        self.wait_all.store(on, Ordering::SeqCst);
    }

    /// Switches sydbox's `core/violation/exit_code:0` on.
    pub fn set_violation_exit_offset(&self) {
        self.violation_exit_offset.store(true, Ordering::SeqCst);
    }

    /// Names a sydbox-1 option that has no effect on stderr, the first time
    /// it is set in this run.
    pub fn name_no_effect(&self, option: &'static str, why: &str) {
        let mut named = self
            .named_no_effect
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if named.insert(option) {
            self.reporter
                .message(&format!("{option} is accepted and has no effect: {why}"));
        }
    }

    /// Whether `dest` is covered by an address the tree's sockets were
    /// given, by a socket of `protocol` for inet addresses. Only a first
    /// sieve: whether that socket still holds it alone is checked by the
    /// caller (`handlers::net`).
    pub fn was_bound(&self, dest: &crate::policy::Address, protocol: Option<u8>) -> bool {
        if !self.allow_bound.load(Ordering::Relaxed) {
            return false;
        }
        let list = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        list.iter().any(|b| b.covers(dest, protocol))
    }

    /// The socket recorded as holding the unix name `address`, if any.
    pub fn holder_of(&self, address: &crate::policy::Address) -> Option<handlers::net::Holder> {
        if !self.allow_bound.load(Ordering::Relaxed) {
            return None;
        }
        let list = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        list.iter()
            .find(|b| b.address == *address)
            .map(|b| b.socket)
    }

    /// Whether the inet socket with `cookie` is one the tree's own binds or
    /// sends gave an address.
    pub fn is_own_socket(&self, protocol: u8, cookie: u64) -> bool {
        let list = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        list.iter().any(|b| b.is_socket(protocol, cookie))
    }

    /// Records that the process `tgid` made itself a child subreaper.
    pub fn note_subreaper(&self, tgid: u32) {
        self.subreapers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tgid);
    }

    /// Whether `pid` was seen making itself a child subreaper.
    pub fn is_subreaper(&self, pid: u32) -> bool {
        self.subreapers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&pid)
    }

    /// Whether `pid` is the command itself: the one child of stockade that
    /// is not an orphan.
    pub fn is_root(&self, pid: u32) -> bool {
        pid == self.root
            && self.root_start.is_some()
            && process::start_time_of(pid as i32) == self.root_start
    }

    /// Whether `pid` has exec'd (for `lock:exec`).
    pub fn has_execed(&self, pid: u32) -> bool {
        self.execed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pids
            .contains(&pid)
    }
}

/// What the kernel keeps inside the sandboxed tree by itself, through a
/// Landlock domain around it: then a call the supervisor let through cannot
/// reach outside even if the pid it names changed hands meanwhile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Confined {
    /// ptrace, process_vm_readv/writev, pidfd_getfd, /proc/PID/mem.
    pub ptrace: bool,
    /// Signals (Landlock ABI 6, Linux 6.12).
    pub signals: bool,
}

/// The Landlock ruleset that confines the tree to itself, and what it
/// covers. Without Landlock, or with an ABI too old for signals, stockade
/// says so once and relies on the supervisor's checks alone.
fn tree_confinement() -> (Option<std::os::fd::OwnedFd>, Confined) {
    let abi = sys::landlock::abi_version().unwrap_or(0);
    let scope_signals = abi >= 6;
    let ruleset = (abi >= 1)
        .then(|| sys::landlock::create_scope_ruleset(scope_signals).ok())
        .flatten();
    let confined = Confined {
        ptrace: ruleset.is_some(),
        signals: ruleset.is_some() && scope_signals,
    };
    if !confined.signals {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "stockade: this kernel's Landlock cannot keep {} inside the sandbox; \
             the supervisor's checks alone refuse them (racy against pid reuse)",
            if confined.ptrace {
                "signals"
            } else {
                "ptrace and signals"
            }
        );
    }
    (ruleset, confined)
}

/// Processes that have exec'd under `lock:exec`.
#[derive(Debug)]
struct Execed {
    pids: HashSet<u32>,
    /// The size at which dead processes are dropped next.
    next_sweep: usize,
}

/// The size at which the set of exec'd processes first drops the dead ones.
const EXECED_SWEEP: usize = 4096;

/// Answers notification `n` in the worker holding table slot `slot`.
fn dispatch(shared: &Arc<Shared>, n: Notification, slot: usize) -> Reply {
    if n.arch != filter::AUDIT_ARCH_X86_64 {
        return Reply::Error(Errno(libc::ENOSYS));
    }
    let call = Call { shared, n, slot };
    match handlers::dispatch(&call) {
        Reply::Kill => {
            if let Ok(pidfd) = call.pidfd() {
                let _ = sys::process::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
            }
            Reply::Error(Errno(libc::EACCES))
        }
        reply => reply,
    }
}

/// Sends the reply for `n`. A call the watchdog interrupted whose handler
/// ended in EINTR (its blocking call was cut short) is answered as the
/// kernel answers a call interrupted by a signal, or not at all when its
/// caller is gone; one that completed anyway keeps its result, as in the
/// kernel when the call wins the race with the signal.
fn respond(
    shared: &Shared,
    n: Notification,
    reply: Reply,
    interrupt: Option<pool::Interrupt>,
    received_alone: bool,
    started: Instant,
) {
    // Counted before the reply: once the last caller has its answer the tree
    // may exit, and the table is printed.
    if let Some(stats) = &shared.stats {
        stats.record(n.nr, started.elapsed());
    }
    let listener = &shared.listener;
    let cut_short = matches!(reply, Reply::Error(Errno(libc::EINTR)));
    match interrupt {
        Some(pool::Interrupt::Signal) if cut_short => {
            // The watchdog saw the signal pending for the caller.
            let _ = listener.reply_restart_for_signal(n.id);
            return;
        }
        Some(pool::Interrupt::Gone) if cut_short => {
            shared.callers.stale(n.pid);
            return;
        }
        _ => {}
    }
    // A failed reply means the caller is gone (ENOENT): its cached
    // descriptors are of no more use.
    let sent = match reply {
        Reply::Value(v) => listener.reply_value(n.id, v),
        Reply::Error(e) => listener.reply_error(n.id, e),
        // In one step only from the receiver: it closes its copy before it
        // takes the next notification, so a chmod +x or an exec notified
        // after the caller's close finds the copy gone. A worker that
        // handed the receiving over has no such order with the others.
        Reply::Fd {
            fd,
            cloexec,
            exec_safe,
        } if exec_safe && received_alone => {
            match listener.reply_with_fd_at_once(n.id, fd.as_fd(), cloexec) {
                Ok(_) => Ok(()),
                Err(e) => listener.reply_error(n.id, e),
            }
        }
        Reply::Fd { fd, cloexec, .. } => match listener.reply_with_fd(n.id, fd, cloexec) {
            Ok(_) => Ok(()),
            Err(e) => listener.reply_error(n.id, e),
        },
        Reply::ContinueRacy => listener.reply_continue_racy(n.id),
        // Killed in dispatch, while the pidfd could still name the caller.
        Reply::Kill => listener.reply_error(n.id, Errno(libc::EACCES)),
        // Handlers say Gone after ID_VALID failed; should one ever say it of
        // a caller still waiting, it must not wait forever.
        Reply::Gone if listener.id_valid(n.id) => listener.reply_error(n.id, Errno(libc::EPERM)),
        Reply::Gone => Err(Errno(libc::ENOENT)),
    };
    if sent.is_err_and(|e| e.0 == libc::ENOENT) {
        shared.callers.stale(n.pid);
    }
}

/// The supervisor's own peak resident set (VmHWM of /proc/self/status), in
/// KiB. The sandboxed tree is not counted: it is other processes.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Finds `program` the way execvp(3) does: as given if it holds a slash,
/// else in each directory of PATH, the first executable regular file.
pub fn find_program(program: &[u8]) -> Option<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    if program.contains(&b'/') {
        return Some(program.to_vec());
    }
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    for dir in path.as_bytes().split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut candidate = dir.to_vec();
        candidate.push(b'/');
        candidate.extend_from_slice(program);
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(&candidate));
        if let Ok(meta) = std::fs::metadata(p)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return Some(candidate);
        }
    }
    None
}

/// Runs `argv` under `config` and waits for it.
pub fn run(
    config: Config,
    argv: &[OsString],
    env: &[(OsString, OsString)],
) -> Result<Outcome, RunError> {
    sys::seccomp::check_kernel_support().map_err(RunError::KernelUnsupported)?;
    let program = argv
        .first()
        .map(|a| a.as_bytes().to_vec())
        .unwrap_or_default();
    let path = find_program(&program)
        .ok_or_else(|| RunError::NotFound(crate::report::escape(&program)))?;
    let args: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    let envp: Vec<Vec<u8>> = env
        .iter()
        .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
        .collect();
    let exec =
        sys::process::ExecArgs::new(&path, &args, &envp).map_err(|source| RunError::Setup {
            what: "prepare the command's arguments",
            source,
        })?;
    let watch = watch_for(&config.policy, &config.switchable);
    let program_filter = filter::build(&watch);

    // The sandboxed tree runs as our user: without this it could ptrace
    // the supervisor, write its memory or take its listener, and so decide
    // its own calls.
    sys::process::set_not_dumpable().map_err(|source| RunError::Setup {
        what: "make the supervisor undumpable",
        source,
    })?;
    sys::process::set_child_subreaper().map_err(|source| RunError::Setup {
        what: "become a subreaper",
        source,
    })?;
    let exec_limit =
        landlock::prepare(&config.policy, &path).map_err(|source| RunError::Setup {
            what: "prepare the Landlock exec rules",
            source,
        })?;
    let ruleset = match &exec_limit {
        landlock::Prepared::Limit(limit) => Some(&limit.ruleset),
        _ => None,
    };
    let inherited = process::inherited_children();
    let signals = process::block_supervisor_signals();
    // Blocked calls each hold a descriptor or two, and the pool is sized to
    // the limit: take all the hard limit allows. The command gets the soft
    // limit it would have had (exec keeps limits).
    let original_nofile = sys::process::nofile_limit().ok();
    let nofile = match original_nofile {
        Some((soft, hard)) if soft < hard => {
            if sys::process::set_nofile_limit(hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Some((soft, _)) => soft,
        None => 1024,
    };
    let (confine, confined) = tree_confinement();
    let layers: Vec<&std::os::fd::OwnedFd> = confine.iter().chain(ruleset).collect();
    // Core dumps are files the kernel writes into the crashing process's
    // working directory, out of any check: with write checks on, the tree
    // starts with RLIMIT_CORE at 0 and may not raise it
    // (handlers/kernel_writes.rs).
    let spawned = spawn::spawn(
        &exec,
        &program_filter,
        &spawn::ChildSetup {
            layers: &layers,
            no_core_dumps: watch.write,
            nofile: original_nofile,
            drop_caps: if ruleset.is_some() {
                landlock::CAPS_THAT_REACH_INTERNAL_FILES
            } else {
                0
            },
            signals,
        },
    )?;
    let listener = Listener::new(spawned.listener.try_clone().map_err(|e| RunError::Setup {
        what: "hold the listener",
        source: Errno(e.raw_os_error().unwrap_or(libc::EIO)),
    })?);
    // Cross-CPU wake-ups dominate a round trip; ask for same-CPU ones where
    // the kernel has them (6.6+), and carry on without where it has not.
    let _ = listener.set_sync_wakeup();
    let shared = Arc::new(Shared {
        listener,
        policy: RwLock::new(config.policy),
        watch,
        reporter: Reporter::new(config.log, false).recording_to(config.learn),
        stats: config.stats.then(Stats::default),
        as_root: sys::process::euid() == 0,
        confined,
        root: spawned.pid as u32,
        root_start: process::start_time_of(spawned.pid),
        subreapers: Mutex::new(HashSet::new()),
        root_execed: std::sync::atomic::AtomicBool::new(false),
        execed: Mutex::new(Execed {
            pids: HashSet::new(),
            next_sweep: EXECED_SWEEP,
        }),
        bound: Mutex::new(Vec::new()),
        exec_roots: match &exec_limit {
            landlock::Prepared::Limit(limit) => Some(limit.roots.clone()),
            _ => None,
        },
        allow_bound: std::sync::atomic::AtomicBool::new(config.allow_bound),
        accounting_on: std::sync::atomic::AtomicBool::new(false),
        wait_all: Arc::new(std::sync::atomic::AtomicBool::new(config.wait_all)),
        violation_exit_offset: std::sync::atomic::AtomicBool::new(config.violation_exit_offset),
        named_no_effect: Mutex::new(HashSet::new()),
        outside_exec: config.outside_exec,
        pool: pool::Pool::new(nofile),
        callers: callers::Callers::default(),
    });
    if let landlock::Prepared::Unavailable(e) = &exec_limit {
        shared.reporter.message(&format!(
            "Landlock is not available ({e}): exec rules are enforced by the notified check \
             alone, which another process can race by swapping a path"
        ));
    }
    watchdog::start(&shared).map_err(|source| RunError::Setup {
        what: "start the watchdog",
        source,
    })?;
    pool::Pool::start(&shared);
    if let Err(e) = spawned.wait_exec(&path) {
        let never = std::sync::atomic::AtomicBool::new(false);
        let _ = process::wait_tree(spawned.pid, spawned.pidfd, &never, inherited);
        return Err(e.into());
    }
    let status = process::wait_tree(spawned.pid, spawned.pidfd, &shared.wait_all, inherited);
    let stats = shared.stats.as_ref().map(|s| {
        let mut table = s.table(|nr| filter::syscall_name(nr).unwrap_or("?").to_string());
        if let Some(kib) = peak_rss_kib() {
            table.push_str(&format!(
                "stockade: supervisor peak RSS {:.1} MiB\n",
                kib as f64 / 1024.0
            ));
        }
        table
    });
    let summary = shared.reporter.summary();
    let mut exit_code = process::exit_code(status);
    if summary.is_some() && shared.violation_exit_offset.load(Ordering::SeqCst) {
        exit_code += 128;
    }
    Ok(Outcome {
        exit_code,
        summary,
        stats,
    })
}
