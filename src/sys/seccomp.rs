//! seccomp(2) filter installation and the user-notification listener ioctls
//! (seccomp_unotify(2)).

use super::{Errno, Result, cvt};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19): once the supervisor
/// has received a notification, only fatal signals interrupt the waiting
/// caller, so ordinary signals do not turn emulated calls into EINTR.
const FILTER_FLAG_WAIT_KILLABLE_RECV: libc::c_ulong = 1 << 5;

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6).
const USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// Sets `PR_SET_NO_NEW_PRIVS`, required to install a filter without
/// CAP_SYS_ADMIN (prctl(2)). Async-signal-safe.
pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// Installs `program` for the calling thread and returns the new listener
/// (seccomp(2), `SECCOMP_SET_MODE_FILTER` with `SECCOMP_FILTER_FLAG_NEW_LISTENER`
/// and `WAIT_KILLABLE_RECV`). Async-signal-safe: no allocation.
pub fn install_filter_with_listener(program: &[libc::sock_filter]) -> Result<OwnedFd> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    let flags =
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as libc::c_ulong | FILTER_FLAG_WAIT_KILLABLE_RECV;
    // SAFETY: `prog` points at `program`, which outlives the call; the kernel
    // copies the program before returning.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags,
            &prog as *const libc::sock_fprog,
        )
    })?;
    // SAFETY: the kernel returned a new file descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// One notification: a stopped system call waiting for our answer.
#[derive(Debug, Clone, Copy)]
pub struct Notification {
    /// The cookie that names this notification in every reply.
    pub id: u64,
    /// The calling thread's id, in the supervisor's pid namespace.
    pub pid: u32,
    /// The system call number.
    pub nr: i64,
    /// The audit architecture of the call.
    pub arch: u32,
    /// The six raw arguments.
    pub args: [u64; 6],
}

/// The notification file descriptor returned by the filter installation.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
}

impl Listener {
    /// Takes ownership of a listener descriptor.
    pub fn new(fd: OwnedFd) -> Listener {
        Listener { fd }
    }

    /// The raw descriptor, for poll(2).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// Asks the kernel to wake the supervisor on the caller's CPU
    /// (`SECCOMP_IOCTL_NOTIF_SET_FLAGS` with `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`,
    /// Linux 6.6). Cross-CPU wake-ups dominate the cost of a round trip.
    pub fn set_sync_wakeup(&self) -> Result<()> {
        // SAFETY: the ioctl takes its flags by value.
        cvt(unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                USER_NOTIF_FD_SYNC_WAKE_UP,
            )
        })
        .map(drop)
    }

    /// Waits for the next notification (`SECCOMP_IOCTL_NOTIF_RECV`).
    /// `ENOENT` means the caller died before we received it; `EINTR` may be
    /// retried; any other error (notably when every filtered process is gone)
    /// ends the loop.
    pub fn receive(&self) -> Result<Notification> {
        // SAFETY: seccomp_notif is plain old data; the kernel requires it zeroed.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: `req` is a valid, writable seccomp_notif.
        cvt(unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut req,
            )
        })?;
        Ok(Notification {
            id: req.id,
            pid: req.pid,
            nr: i64::from(req.data.nr),
            arch: req.data.arch,
            args: req.data.args,
        })
    }

    /// Whether notification `id` is still pending, that is, the caller is
    /// still waiting in that very call (`SECCOMP_IOCTL_NOTIF_ID_VALID`). Must
    /// be checked after reading the caller's memory and before acting on it:
    /// a pid can be reused once the caller dies.
    pub fn id_valid(&self, id: u64) -> bool {
        // SAFETY: the ioctl reads one u64 through the pointer.
        unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 }
    }

    fn send(&self, id: u64, val: i64, error: i32, flags: u32) -> Result<()> {
        let mut resp = libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags,
        };
        loop {
            // SAFETY: `resp` is a valid seccomp_notif_resp.
            let sent = cvt(unsafe {
                libc::ioctl(
                    self.fd.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_SEND,
                    &mut resp,
                )
            });
            // The ioctl takes the filter's lock interruptibly; the
            // supervisor's own interrupt signal can land there.
            match sent {
                Err(e) if e.0 == libc::EINTR => continue,
                other => return other.map(drop),
            }
        }
    }

    /// Fails the call with `ERESTARTSYS`, which the caller's own signal
    /// delivery turns into EINTR, or into a restart of the call under
    /// `SA_RESTART`, exactly as for a call the kernel itself interrupted.
    ///
    /// Only when a signal is pending for the caller: without one, the
    /// kernel's exit path never sees the code and 512 reaches the caller as
    /// its errno.
    pub fn reply_restart_for_signal(&self, id: u64) -> Result<()> {
        const ERESTARTSYS: i32 = 512;
        self.send(id, 0, -ERESTARTSYS, 0)
    }

    /// Completes the call with return value `val`, as if the kernel had run it.
    pub fn reply_value(&self, id: u64, val: i64) -> Result<()> {
        self.send(id, val, 0, 0)
    }

    /// Fails the call with `errno`.
    pub fn reply_error(&self, id: u64, errno: Errno) -> Result<()> {
        self.send(id, 0, -errno.0, 0)
    }

    /// Lets the kernel run the call itself, in the caller
    /// (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
    ///
    /// RACE: the kernel re-reads every pointer argument after this reply, so a
    /// sibling thread or a process sharing the memory may have changed what
    /// the supervisor checked. Use only where the kernel must act inside the
    /// caller (execve), and document the race at the call site.
    pub fn reply_continue_racy(&self, id: u64) -> Result<()> {
        self.send(id, 0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32)
    }

    /// Installs `fd` in the caller, closes our copy, then completes the call
    /// with the new descriptor's number as its return value
    /// (`SECCOMP_IOCTL_NOTIF_ADDFD`, seccomp_unotify(2)).
    ///
    /// Not `SECCOMP_ADDFD_FLAG_SEND`, which is atomic but leaves our copy
    /// open while the caller already runs on: the copy shares the caller's
    /// open file, so a file it wrote and closed would still be open for
    /// writing here, and exec of it fails with ETXTBSY (`cc -o x && ./x`).
    /// With SYNC_WAKE_UP the caller takes this CPU at once, so that window
    /// is wide. Installed first, the descriptor is the caller's before the
    /// call returns, as the kernel's own fd_install is; if the caller dies
    /// in between, its descriptor table goes with it.
    pub fn reply_with_fd(&self, id: u64, fd: OwnedFd, cloexec: bool) -> Result<i32> {
        let addfd = libc::seccomp_notif_addfd {
            id,
            flags: 0,
            srcfd: fd.as_raw_fd() as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        let newfd = loop {
            // SAFETY: `addfd` is a valid seccomp_notif_addfd; `fd` is open.
            let added = cvt(unsafe {
                libc::ioctl(self.fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_ADDFD, &addfd)
            });
            // The wait for the caller to install it is interruptible, and
            // the supervisor's own interrupt signal can land there; an
            // interrupted request is withdrawn, so it may be made again.
            match added {
                Err(e) if e.0 == libc::EINTR => continue,
                other => break other?,
            }
        };
        drop(fd);
        self.reply_value(id, i64::from(newfd))?;
        Ok(newfd)
    }
}

impl Listener {
    /// Installs `fd` in the caller and completes the call with the new
    /// descriptor's number, atomically (`SECCOMP_IOCTL_NOTIF_ADDFD` with
    /// `SECCOMP_ADDFD_FLAG_SEND`, Linux 5.14): the caller wakes once.
    ///
    /// Our copy stays open until the caller drops `fd`, after the caller
    /// already runs on: only for files that nothing can exec meanwhile (see
    /// [`Listener::reply_with_fd`] for the ETXTBSY this would cause).
    pub fn reply_with_fd_at_once(&self, id: u64, fd: BorrowedFd<'_>, cloexec: bool) -> Result<i32> {
        let addfd = libc::seccomp_notif_addfd {
            id,
            flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
            srcfd: fd.as_raw_fd() as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        loop {
            // SAFETY: `addfd` is a valid seccomp_notif_addfd; `fd` is open.
            let added = cvt(unsafe {
                libc::ioctl(self.fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_ADDFD, &addfd)
            });
            match added {
                Err(e) if e.0 == libc::EINTR => continue,
                other => return other,
            }
        }
    }
}

/// Whether the kernel supports what stockade needs: user notification with
/// `WAIT_KILLABLE_RECV` (5.19). Probed with `SECCOMP_GET_NOTIF_SIZES` and
/// `SECCOMP_GET_ACTION_AVAIL`, which change nothing.
pub fn check_kernel_support() -> std::result::Result<(), &'static str> {
    let action = libc::SECCOMP_RET_USER_NOTIF;
    // SAFETY: the call reads one u32 through the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL as libc::c_ulong,
            0,
            &action as *const u32,
        )
    };
    if ret != 0 {
        return Err("seccomp user notification (Linux 5.0) is not available");
    }
    let mut sizes = [0u16; 3];
    // SAFETY: the kernel writes struct seccomp_notif_sizes (three u16).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_NOTIF_SIZES as libc::c_ulong,
            0,
            sizes.as_mut_ptr(),
        )
    };
    if ret != 0 {
        return Err("SECCOMP_GET_NOTIF_SIZES failed");
    }
    if usize::from(sizes[0]) < std::mem::size_of::<libc::seccomp_notif>() {
        return Err("the kernel's seccomp_notif is smaller than expected");
    }
    let release = crate::sys::process::kernel_release();
    match release {
        Some((major, minor)) if (major, minor) >= (5, 19) => Ok(()),
        Some(_) => Err("Linux 5.19 or newer is required (WAIT_KILLABLE_RECV, ADDFD with SEND)"),
        None => Err("cannot read the kernel release"),
    }
}

impl Listener {
    /// Whether the listener has hung up: no process uses the filter any
    /// more, so nothing can arrive (poll(2) with no wait).
    pub fn hung_up(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a zero timeout never blocks.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n == 1 && pfd.revents & libc::POLLHUP != 0
    }
}
