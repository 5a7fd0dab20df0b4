//! The seccomp user-notification engine: start the command under the filter,
//! answer its notifications with a pool of workers, and wait for the tree.

pub mod call;
pub mod handlers;
pub mod process;
pub mod resolve;
pub mod spawn;

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
use std::sync::atomic::{AtomicUsize, Ordering};
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
pub fn watch_for(policy: &Policy) -> Watch {
    let magic = policy.lock() != Lock::On;
    Watch {
        read: policy.is_on(Category::Read),
        write: policy.is_on(Category::Write),
        exec: policy.is_on(Category::Exec) || magic || policy.has_exec_kill_rules(),
        stat: policy.is_on(Category::Stat),
        magic,
        net: policy.is_on(Category::NetBind) || policy.is_on(Category::NetConnect),
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
    /// The command's pid, and whether its first exec (ours) has been seen.
    root: u32,
    root_execed: std::sync::atomic::AtomicBool,
    /// Addresses the tree bound successfully; connects to them are allowed.
    bound: Mutex<Vec<crate::policy::Address>>,
    /// Whether successful binds allow later connects (on by default).
    allow_bound: std::sync::atomic::AtomicBool,
    idle: AtomicUsize,
    workers: AtomicUsize,
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

    /// Remembers an address the tree bound, so that connects and sends to it
    /// are allowed: test suites that listen and talk to themselves then work
    /// with a policy that allows only the bind.
    pub fn note_bound(&self, address: crate::policy::Address) {
        if self.allow_bound.load(Ordering::Relaxed) {
            let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
            if !bound.contains(&address) {
                bound.push(address);
            }
        }
    }

    /// Switches the successful-bind allowance (sydbox's
    /// `core/whitelist/successful_bind`).
    pub fn set_allow_bound(&self, on: bool) {
        self.allow_bound.store(on, Ordering::Relaxed);
    }

    /// Whether `dest` is covered by an address the tree bound.
    pub fn was_bound(&self, dest: &crate::policy::Address) -> bool {
        if !self.allow_bound.load(Ordering::Relaxed) {
            return false;
        }
        let bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        bound.iter().any(|b| handlers::net::bound_covers(b, dest))
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

/// Processes that have exec'd under `lock:exec`.
#[derive(Debug)]
struct Execed {
    pids: HashSet<u32>,
    /// The size at which dead processes are dropped next.
    next_sweep: usize,
}

/// The size at which the set of exec'd processes first drops the dead ones.
const EXECED_SWEEP: usize = 4096;

/// Workers started waiting for notifications. More are started whenever all
/// are busy (a blocking open must never stall the others).
const IDLE_WORKERS: usize = 2;
/// Idle workers beyond this many leave; the slack avoids starting a thread
/// on every burst of concurrent calls.
const MAX_IDLE_WORKERS: usize = 4;
/// An upper bound on workers, against a tree that blocks on purpose.
const MAX_WORKERS: usize = 512;

fn start_worker(shared: &Arc<Shared>) {
    shared.workers.fetch_add(1, Ordering::SeqCst);
    let shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("stockade-worker".into())
        .stack_size(256 * 1024)
        .spawn(move || worker(shared));
    if spawned.is_err() {
        // The remaining workers carry on; a caller waits a little longer.
    }
}

fn worker(shared: Arc<Shared>) {
    // A private umask and working directory for emulating the caller's.
    if sys::process::unshare_fs().is_err() {
        shared.workers.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    loop {
        shared.idle.fetch_add(1, Ordering::SeqCst);
        // Workers block in RECV itself. Measured on the open storm (20 000
        // creating opens, bench/README.md): RECV with SYNC_WAKE_UP ~80 µs per
        // call as the caller sees it; poll(2) then RECV ~120 µs, epoll ~150
        // µs, RECV without SYNC_WAKE_UP ~110 µs.
        let received = shared.listener.receive();
        let idle = shared.idle.fetch_sub(1, Ordering::SeqCst) - 1;
        let started = Instant::now();
        let n = match received {
            Ok(n) => n,
            Err(e) if e.0 == libc::EINTR => continue,
            // ENOENT: the caller died before we took its call, or, when it
            // keeps coming, nobody uses the filter any more.
            Err(e) if e.0 == libc::ENOENT && !shared.listener.hung_up() => continue,
            Err(_) => break,
        };
        if idle == 0 && shared.workers.load(Ordering::SeqCst) < MAX_WORKERS {
            start_worker(&shared);
        }
        handle(&shared, n, started);
        if shared.idle.load(Ordering::SeqCst) > MAX_IDLE_WORKERS {
            break;
        }
    }
    shared.workers.fetch_sub(1, Ordering::SeqCst);
}

fn handle(shared: &Shared, n: Notification, started: Instant) {
    let call = Call { shared, n };
    let reply = if n.arch != filter::AUDIT_ARCH_X86_64 {
        Reply::Error(Errno(libc::ENOSYS))
    } else {
        handlers::dispatch(&call)
    };
    // Counted before the reply: once the last caller has its answer the tree
    // may exit, and the table is printed.
    if let Some(stats) = &shared.stats {
        stats.record(n.nr, started.elapsed());
    }
    let listener = &shared.listener;
    // A failed reply means the caller is gone (ENOENT); nothing to do.
    let _ = match reply {
        Reply::Value(v) => listener.reply_value(n.id, v),
        Reply::Error(e) => listener.reply_error(n.id, e),
        Reply::Fd { fd, cloexec } => match listener.reply_with_fd(n.id, fd.as_fd(), cloexec) {
            Ok(_) => Ok(()),
            Err(e) => listener.reply_error(n.id, e),
        },
        Reply::ContinueRacy => listener.reply_continue_racy(n.id),
        Reply::Kill => {
            if let Ok(pidfd) = call.pidfd() {
                let _ = sys::process::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
            }
            listener.reply_error(n.id, Errno(libc::EACCES))
        }
        // Handlers say Gone after ID_VALID failed; should one ever say it of
        // a caller still waiting, it must not wait forever.
        Reply::Gone if listener.id_valid(n.id) => listener.reply_error(n.id, Errno(libc::EPERM)),
        Reply::Gone => Ok(()),
    };
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
    let watch = watch_for(&config.policy);
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
    let inherited = process::inherited_children();
    let signals = process::block_supervisor_signals();
    let spawned = spawn::spawn(&exec, &program_filter, &signals)?;
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
        reporter: Reporter::new(config.log, false),
        stats: config.stats.then(Stats::default),
        as_root: sys::process::euid() == 0,
        root: spawned.pid as u32,
        root_execed: std::sync::atomic::AtomicBool::new(false),
        execed: Mutex::new(Execed {
            pids: HashSet::new(),
            next_sweep: EXECED_SWEEP,
        }),
        bound: Mutex::new(Vec::new()),
        allow_bound: std::sync::atomic::AtomicBool::new(config.allow_bound),
        idle: AtomicUsize::new(0),
        workers: AtomicUsize::new(0),
    });
    for _ in 0..IDLE_WORKERS {
        start_worker(&shared);
    }
    if let Err(e) = spawned.wait_exec(&path) {
        let _ = process::wait_tree(spawned.pid, spawned.pidfd, false, inherited);
        return Err(e.into());
    }
    let status = process::wait_tree(spawned.pid, spawned.pidfd, config.wait_all, inherited);
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
    Ok(Outcome {
        exit_code: process::exit_code(status),
        summary: shared.reporter.summary(),
        stats,
    })
}
