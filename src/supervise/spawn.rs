//! Child setup: parent-death signal, no_new_privs, the exec ruleset
//! (Landlock, see `landlock.rs`), the filter, the listener handoff, and exec.
//!
//! The listener is handed to the supervisor with pidfd_getfd(2) rather than
//! sent over a socket: once the filter is installed, the child's own sendmsg
//! may be a watched call, and nobody would be listening yet. The child writes
//! the descriptor's number into a pipe (write is never watched), waits for the
//! supervisor to take a copy, closes its own and execs.

use crate::sys::{self, Errno, process};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// A started child, stopped before exec until [`Spawned::wait_exec`].
#[derive(Debug)]
pub struct Spawned {
    /// The child's pid.
    pub pid: i32,
    /// A pidfd for it.
    pub pidfd: OwnedFd,
    /// The notification listener of its filter.
    pub listener: OwnedFd,
    status_reader: OwnedFd,
}

/// Why the child could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// A setup system call failed in the supervisor.
    #[error("failed to {what}")]
    Setup {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: Errno,
    },
    /// The child could not install its filter.
    #[error("failed to install the seccomp filter in the child: {0}")]
    Filter(Errno),
    /// The child could not enforce the exec ruleset.
    #[error("failed to enforce the Landlock exec rules in the child: {0}")]
    Landlock(Errno),
    /// execve(2) failed.
    #[error("cannot execute {path}")]
    Exec {
        /// The program.
        path: String,
        /// The error.
        source: Errno,
    },
}

fn setup(what: &'static str) -> impl FnOnce(Errno) -> SpawnError {
    move |source| SpawnError::Setup { what, source }
}

/// Messages from child to parent over the status pipe, each 8 bytes: a tag
/// and a value.
const TAG_LISTENER: u32 = 1;
const TAG_FILTER_FAILED: u32 = 2;
const TAG_EXEC_FAILED: u32 = 3;
const TAG_LANDLOCK_FAILED: u32 = 4;

fn message(tag: u32, value: i32) -> [u8; 8] {
    let mut m = [0u8; 8];
    m[..4].copy_from_slice(&tag.to_ne_bytes());
    m[4..].copy_from_slice(&value.to_ne_bytes());
    m
}

fn read_message(fd: &OwnedFd) -> Result<Option<(u32, i32)>, Errno> {
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        match process::read_fd(fd.as_fd(), &mut buf[got..])? {
            0 => return Ok(None),
            n => got += n,
        }
    }
    let tag = u32::from_ne_bytes(buf[..4].try_into().expect("4 bytes"));
    let value = i32::from_ne_bytes(buf[4..].try_into().expect("4 bytes"));
    Ok(Some((tag, value)))
}

/// What the child changes in itself before the filter and the exec; every
/// other inherited state (limits, signal state, ids) is kept as exec keeps it.
#[derive(Debug, Default)]
pub struct ChildSetup<'a> {
    /// Landlock rulesets to enter: the tree's scope
    /// ([`crate::sys::landlock::create_scope_ruleset`]), with which the
    /// kernel keeps ptrace, memory access, descriptor theft and (ABI 6)
    /// signals inside the tree whatever pid a call names by the time it
    /// runs; and the exec rules given at start (`landlock.rs`).
    pub layers: &'a [&'a OwnedFd],
    /// Set RLIMIT_CORE to 0, soft and hard.
    pub no_core_dumps: bool,
    /// The descriptor limits the command must start with, when the
    /// supervisor raised its own.
    pub nofile: Option<(u64, u64)>,
    /// Capabilities (a mask of `CAP_*` bits) the tree may never have, taken
    /// out of the bounding, inheritable and ambient sets.
    pub drop_caps: u64,
    /// The signal mask and ignored signals the command starts with: those
    /// stockade itself was started with.
    pub signals: process::InheritedSignals,
}

/// Forks a child that applies `setup`, installs `filter` and then runs
/// `exec`. Returns once the supervisor holds the listener; the exec itself
/// may still be pending.
pub fn spawn(
    exec: &process::ExecArgs,
    filter: &[libc::sock_filter],
    setup_child: &ChildSetup<'_>,
) -> Result<Spawned, SpawnError> {
    let (status_reader, status_writer) = process::pipe_cloexec().map_err(setup("create a pipe"))?;
    let (ack_reader, ack_writer) = process::pipe_cloexec().map_err(setup("create a pipe"))?;
    let parent = process::pid();
    // The one use of `unsafe` outside `sys`: fork's contract cannot be
    // checked by a wrapper, only kept by the code that runs in the child.
    // SAFETY: the child below only makes async-signal-safe calls (prctl,
    // landlock_restrict_self, seccomp, read, write, close, execve, _exit) on
    // data prepared before the fork, and never returns into Rust code that
    // could allocate or lock.
    #[allow(unsafe_code)]
    let forked = unsafe { process::fork() };
    match forked.map_err(setup("fork"))? {
        process::Forked::Child => child(
            exec,
            filter,
            setup_child,
            parent,
            &status_writer,
            &ack_reader,
        ),
        process::Forked::Parent(pid) => {
            drop(status_writer);
            drop(ack_reader);
            let pidfd = process::pidfd_open(pid).map_err(setup("open a pidfd for the child"))?;
            let listener =
                match read_message(&status_reader).map_err(setup("read from the child"))? {
                    Some((TAG_LISTENER, fd)) => process::pidfd_getfd(pidfd.as_fd(), fd)
                        .map_err(setup("take the child's listener"))?,
                    Some((TAG_FILTER_FAILED, errno)) => {
                        let _ = process::wait_any();
                        return Err(SpawnError::Filter(Errno(errno)));
                    }
                    Some((TAG_LANDLOCK_FAILED, errno)) => {
                        let _ = process::wait_any();
                        return Err(SpawnError::Landlock(Errno(errno)));
                    }
                    _ => {
                        let _ = process::wait_any();
                        return Err(SpawnError::Setup {
                            what: "start the child",
                            source: Errno(libc::EPIPE),
                        });
                    }
                };
            process::write_all_raw(ack_writer.as_fd(), b"k");
            Ok(Spawned {
                pid,
                pidfd,
                listener,
                status_reader,
            })
        }
    }
}

fn child(
    exec: &process::ExecArgs,
    filter: &[libc::sock_filter],
    setup: &ChildSetup<'_>,
    parent: i32,
    status: &OwnedFd,
    ack: &OwnedFd,
) -> ! {
    // If stockade dies, so does the tree's root; the rest cannot act, since
    // every watched call fails once the listener is gone.
    if process::set_parent_death_signal(libc::SIGKILL).is_err() || process::parent_pid() != parent {
        process::exit_immediately(126);
    }
    process::restore_signals_for_exec(&setup.signals);
    if setup.no_core_dumps && process::disable_core_dumps().is_err() {
        process::exit_immediately(126);
    }
    // The supervisor raised its own soft limit; exec would pass that on.
    if let Some((soft, hard)) = setup.nofile
        && process::set_nofile_limit(soft, hard).is_err()
    {
        process::exit_immediately(126);
    }
    // The supervisor is not dumpable, and a fork keeps that until exec; the
    // supervisor must be able to take the listener from this child.
    if process::set_dumpable().is_err() {
        process::exit_immediately(126);
    }
    if let Err(e) = sys::seccomp::set_no_new_privs() {
        process::write_all_raw(status.as_fd(), &message(TAG_FILTER_FAILED, e.0));
        process::exit_immediately(126);
    }
    // Before the filter, whose watched calls nobody answers yet; the
    // ruleset descriptors are close-on-exec and go with the exec.
    if setup.drop_caps != 0 && process::drop_capabilities_for_good(setup.drop_caps).is_err() {
        process::exit_immediately(126);
    }
    for ruleset in setup.layers {
        if let Err(e) = sys::landlock::restrict_self(ruleset.as_fd()) {
            process::write_all_raw(status.as_fd(), &message(TAG_LANDLOCK_FAILED, e.0));
            process::exit_immediately(126);
        }
    }
    let listener = match sys::seccomp::install_filter_with_listener(filter) {
        Ok(fd) => fd,
        Err(e) => {
            process::write_all_raw(status.as_fd(), &message(TAG_FILTER_FAILED, e.0));
            process::exit_immediately(126);
        }
    };
    process::write_all_raw(status.as_fd(), &message(TAG_LISTENER, listener.as_raw_fd()));
    // Wait until the supervisor holds its copy; EOF means it died.
    let mut byte = [0u8; 1];
    if !process::read_raw(ack.as_fd(), &mut byte) {
        process::exit_immediately(126);
    }
    drop(listener);
    let errno = exec.exec();
    process::write_all_raw(status.as_fd(), &message(TAG_EXEC_FAILED, errno.0));
    process::exit_immediately(if errno.0 == libc::ENOENT { 127 } else { 126 });
}

impl Spawned {
    /// Waits until the child has exec'd (the status pipe closes on exec) or
    /// reports why it could not. The supervisor must already be answering
    /// notifications: the exec itself may be a watched call.
    pub fn wait_exec(&self, program: &[u8]) -> Result<(), SpawnError> {
        match read_message(&self.status_reader).map_err(setup("read from the child"))? {
            None => Ok(()),
            Some((_, errno)) => Err(SpawnError::Exec {
                path: crate::report::escape(program),
                source: Errno(errno),
            }),
        }
    }
}
