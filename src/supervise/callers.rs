//! Descriptors kept per calling thread, so that a call does not open and
//! close them again: its `/proc/TID/status` (read afresh with one pread for
//! each call that needs the caller's credentials or umask) and its pidfd.
//!
//! Caching the descriptors, never their contents: credentials are read at
//! every call that needs them, and how they are computed is `call.rs`'s
//! business. Safe against pid reuse: both descriptors name the task they
//! were opened for, not its number. Once that thread has exited, reads fail
//! with ESRCH and pidfd_getfd(2) with ESRCH; the entry is then dropped and
//! the descriptor opened again, for the new thread. Each use is followed by
//! `NOTIF_ID_VALID` as before, which proves the thread with this id is
//! still the caller.
//!
//! Bounded: at most [`MAX_CALLERS`] threads are remembered, the oldest
//! forgotten first. Users hold an `Arc`, so an entry forgotten while in use
//! is closed only once its user is done.

use crate::sys::{Errno, Result, fs, process};
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

/// Callers remembered at most (two descriptors each).
pub const MAX_CALLERS: usize = 256;

#[derive(Debug, Default)]
struct Entry {
    status: Option<Arc<OwnedFd>>,
    pidfd: Option<Arc<OwnedFd>>,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<u32, Entry>,
    /// Insertion order, for forgetting the oldest.
    order: VecDeque<u32>,
}

/// The cache.
#[derive(Debug, Default)]
pub struct Callers {
    table: Mutex<Table>,
}

impl Callers {
    fn with_entry<T>(&self, tid: u32, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if !table.entries.contains_key(&tid) {
            while table.entries.len() >= MAX_CALLERS {
                let Some(old) = table.order.pop_front() else {
                    break;
                };
                table.entries.remove(&old);
            }
            table.order.push_back(tid);
            table.entries.insert(tid, Entry::default());
        }
        f(table.entries.get_mut(&tid).expect("inserted above"))
    }

    fn forget(&self, tid: u32) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.entries.remove(&tid).is_some() {
            table.order.retain(|&t| t != tid);
        }
    }

    /// The text of `/proc/TID/status`, read now.
    pub fn read_status(&self, tid: u32, buf: &mut Vec<u8>) -> Result<()> {
        for _ in 0..2 {
            let fd = match self.with_entry(tid, |e| e.status.clone()) {
                Some(fd) => fd,
                None => {
                    let path = format!("/proc/{tid}/status");
                    let fd = Arc::new(fs::openat2(
                        None,
                        path.as_bytes(),
                        (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
                        0,
                        0,
                    )?);
                    self.with_entry(tid, |e| e.status = Some(Arc::clone(&fd)));
                    fd
                }
            };
            match fs::pread_small(fd.as_fd(), buf) {
                // The thread this descriptor names is gone: the id may be
                // another thread's now.
                Err(e) if e.0 == libc::ESRCH => self.forget(tid),
                other => return other,
            }
        }
        Err(Errno(libc::ESRCH))
    }

    /// A pidfd for thread `tid`, opened with `open` when none is cached.
    pub fn pidfd(
        &self,
        tid: u32,
        open: impl FnOnce() -> std::result::Result<OwnedFd, Errno>,
    ) -> std::result::Result<Arc<OwnedFd>, Errno> {
        if let Some(fd) = self.with_entry(tid, |e| e.pidfd.clone()) {
            return Ok(fd);
        }
        let fd = Arc::new(open()?);
        self.with_entry(tid, |e| e.pidfd = Some(Arc::clone(&fd)));
        Ok(fd)
    }

    /// Drops what is cached for `tid` after a use failed with ESRCH.
    pub fn stale(&self, tid: u32) {
        self.forget(tid);
    }
}

/// pidfd_getfd(2) through a cached pidfd, opening it again once when the
/// cached one names a thread that has exited.
pub fn getfd(
    callers: &Callers,
    tid: u32,
    fd: i32,
    open: impl Fn() -> std::result::Result<OwnedFd, Errno>,
) -> std::result::Result<OwnedFd, Errno> {
    let pidfd = callers.pidfd(tid, &open)?;
    match process::pidfd_getfd(pidfd.as_fd(), fd) {
        Err(e) if e.0 == libc::ESRCH => {
            callers.stale(tid);
            let pidfd = callers.pidfd(tid, &open)?;
            process::pidfd_getfd(pidfd.as_fd(), fd)
        }
        other => other,
    }
}
