//! One notification being handled: reading its arguments, acting as the
//! caller, checking the policy, reporting, and replying.

use super::Shared;
use super::resolve::{self, Base, Caller, Lookup, Resolved};
use super::userns;
use crate::policy::{Category, Outcome};
use crate::report::{Action, Event};
use crate::sys::seccomp::Notification;
use crate::sys::{Errno, fs, mem, process};
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// How a handled call ends.
#[derive(Debug)]
pub enum Reply {
    /// The call returns this value.
    Value(i64),
    /// The call fails with this errno.
    Error(Errno),
    /// The call returns a new descriptor in the caller, a copy of this one.
    Fd {
        /// Our copy, closed after the transfer.
        fd: OwnedFd,
        /// Whether the caller asked for O_CLOEXEC.
        cloexec: bool,
        /// Nothing can exec the file while our copy is still open for
        /// writing (it was opened read-only, or has no execute bit), so the
        /// descriptor may be installed and the call completed in one step,
        /// one wake-up of the caller instead of two.
        exec_safe: bool,
    },
    /// The kernel runs the call in the caller. RACE: pointer arguments are
    /// read again by the kernel; each use names its reason.
    ContinueRacy,
    /// The caller is killed (`default/CAT:kill`, `exec/kill_if_match`).
    Kill,
    /// The caller is gone; nothing to reply to.
    Gone,
}

impl From<Errno> for Reply {
    fn from(e: Errno) -> Reply {
        Reply::Error(e)
    }
}

/// The result of one step of a handler: `Err` ends the call with that reply.
pub type Step<T> = Result<T, Reply>;

/// A notification in the hands of a worker.
pub struct Call<'a> {
    /// Shared supervisor state.
    pub shared: &'a Arc<Shared>,
    /// The notification.
    pub n: Notification,
    /// Its slot in the pool's table of calls in flight.
    pub slot: usize,
}

impl Call<'_> {
    /// Announces that the call is about to block (a FIFO open, a connect,
    /// a send on a full socket): the receiving passes to another thread
    /// first, so the other calls go on. Fails with EAGAIN when the pool is
    /// full, rather than blocking with nobody left to receive; with EINTR
    /// when the watchdog has already interrupted the call.
    pub fn may_block(&self) -> Step<()> {
        if self.shared.pool.interrupted(self.slot) {
            return Err(Reply::Error(Errno(libc::EINTR)));
        }
        if super::pool::hand_off(self.shared, self.slot) {
            Ok(())
        } else {
            Err(Reply::Error(Errno(libc::EAGAIN)))
        }
    }

    /// The caller, for path resolution.
    pub fn caller(&self) -> Caller {
        Caller { pid: self.n.pid }
    }

    /// Argument `i` as a raw 64-bit value.
    pub fn arg(&self, i: usize) -> u64 {
        self.n.args[i]
    }

    /// Argument `i` as a C `int`.
    pub fn int(&self, i: usize) -> i32 {
        self.n.args[i] as i32
    }

    /// The name of the system call.
    pub fn syscall_name(&self) -> &'static str {
        crate::filter::syscall_name(self.n.nr).unwrap_or("syscall")
    }

    /// Reads the path string at argument `i` (at most PATH_MAX bytes).
    pub fn read_path(&self, i: usize) -> Step<Vec<u8>> {
        Ok(mem::read_cstr(
            self.n.pid,
            self.arg(i),
            libc::PATH_MAX as usize - 1,
        )?)
    }

    /// Reads `len` bytes at address `addr` in the caller.
    pub fn read_bytes(&self, addr: u64, len: usize) -> Step<Vec<u8>> {
        let mut buf = vec![0u8; len];
        mem::read_exact(self.n.pid, addr, &mut buf)?;
        Ok(buf)
    }

    /// Whether the caller is still waiting in this very call. Checked after
    /// every read of its memory and of its /proc entries, before acting: the
    /// pid may belong to another process by then.
    pub fn ensure_valid(&self) -> Step<()> {
        if self.shared.listener.id_valid(self.n.id) {
            Ok(())
        } else {
            Err(Reply::Gone)
        }
    }

    /// Resolves a path for the caller.
    pub fn resolve(&self, base: Base, path: &[u8], how: Lookup) -> Step<Resolved> {
        let resolved = resolve::resolve(self.caller(), base, path, how)?;
        // The walk opened the caller's cwd or dirfd through /proc/PID: make
        // sure PID was still the caller then.
        self.ensure_valid()?;
        Ok(resolved)
    }

    /// Takes the caller's credentials and umask for the rest of this call:
    /// the supervisor acts with exactly the caller's rights.
    ///
    /// An unprivileged supervisor already has the caller's identity (with
    /// no_new_privs nobody in the tree can change it), so it reads the
    /// caller's status only when `full`: for a call that creates something
    /// (the umask applies) or that needs the thread group id.
    pub fn become_caller(&self, full: bool) -> Step<CredentialGuard> {
        if !full && !self.shared.as_root {
            return Ok(CredentialGuard::unchanged(self.n.pid));
        }
        // No ID_VALID here: if the pid was reused, the status is another
        // process's, but nothing is done with it before the check that
        // follows the path walk (`resolve`) or the descriptor copy.
        let mut status = CallerStatus::read_cached(&self.shared.callers, self.n.pid)?;
        // Capabilities count only in the user namespace they were given in.
        // A caller that made its own (unshare(CLONE_NEWUSER)) has a full
        // set there and none here, where the supervisor acts: lending it
        // that set would make it root on the whole system.
        if self.shared.as_root
            && status.cap_effective != 0
            && !userns::shares_ours(self.n.pid, "user")?
        {
            status.cap_effective = 0;
        }
        CredentialGuard::apply(&status, self.shared.as_root, full)
    }

    /// Whether the caller holds capability `cap` (`CAP_*` number) where the
    /// supervisor acts: in its effective set, and in our user namespace.
    pub fn caller_capable(&self, cap: u32) -> Step<bool> {
        let status = CallerStatus::read(self.n.pid)?;
        Ok(status.cap_effective & (1u64 << cap) != 0 && userns::shares_ours(self.n.pid, "user")?)
    }

    /// Maps the owner ids the caller passed (chown's `uid`, `gid`) from its
    /// user namespace to ours: `-1` stays, an unmapped id fails with EINVAL
    /// as in the kernel.
    pub fn map_owner(&self, uid: u32, gid: u32) -> Result<(u32, u32), Errno> {
        let ids = userns::map_owner(self.n.pid, uid, gid)?;
        // The maps were read through /proc/PID: make sure it was the caller.
        if !self.shared.listener.id_valid(self.n.id) {
            return Err(Errno(libc::ESRCH));
        }
        Ok(ids)
    }

    /// A duplicate of the caller's descriptor `fd` (pidfd_getfd(2)), sharing
    /// its open file description.
    pub fn caller_fd(&self, fd: i32) -> Step<OwnedFd> {
        // Through the caller's cached pidfd: no pidfd_open per call.
        let dup = super::callers::getfd(&self.shared.callers, self.n.pid, fd, || {
            self.open_pidfd().map_err(|reply| match reply {
                Reply::Error(e) => e,
                _ => Errno(libc::ESRCH),
            })
        })
        .map_err(|e| {
            if e.0 == libc::EBADF || e.0 == libc::ENOENT {
                Reply::Error(Errno(libc::EBADF))
            } else {
                Reply::Error(e)
            }
        })?;
        self.ensure_valid()?;
        Ok(dup)
    }

    /// A pidfd naming the calling thread.
    pub fn pidfd(&self) -> Step<OwnedFd> {
        let fd = self.open_pidfd();
        self.ensure_valid()?;
        fd
    }

    /// A new pidfd for the calling thread, not yet checked with ID_VALID.
    fn open_pidfd(&self) -> Step<OwnedFd> {
        const PIDFD_THREAD: i32 = libc::O_EXCL;
        let pid = self.n.pid as i32;
        // Before Linux 6.9 only a thread group leader has a pidfd.
        process::pidfd_open_flags(pid, PIDFD_THREAD)
            .or_else(|_| process::pidfd_open(pid))
            .or_else(|_| {
                process::pidfd_open(CallerStatus::read(self.n.pid)?.tgid).map_err(Reply::from)
            })
    }

    /// Whether the caller may learn if `resolved` exists: always, unless
    /// stat checks are on and hide its path.
    pub fn may_see(&self, resolved: &Resolved) -> bool {
        let policy = self.shared.policy();
        !policy.is_on(Category::Stat)
            || policy.check_path(Category::Stat, &resolved.path).outcome == Outcome::Allow
    }

    /// Fails with EEXIST, as the kernel does before any permission check,
    /// when a call that only creates (mkdir, mknod, symlink, a link's new
    /// name, O_CREAT|O_EXCL) names something that exists. So `mkdir -p`
    /// over existing parents reports nothing. Existence stays hidden where
    /// the stat category denies seeing the path.
    pub fn fail_if_exists(&self, resolved: &Resolved) -> Step<()> {
        if resolved.stat().is_some() && self.may_see(resolved) {
            return Err(self.safe_denial(Category::Write, resolved, Errno(libc::EEXIST)));
        }
        Ok(())
    }

    /// Fails with ENOENT, as the kernel does before any permission check,
    /// when a call that changes an existing object (chmod, utimensat,
    /// unlink, a rename's source, ...) names nothing. So `touch` of a denied
    /// path reports its open, not also the utimensat that follows.
    pub fn fail_if_missing(&self, resolved: &Resolved) -> Step<()> {
        self.fail_if_missing_in(Category::Write, resolved)
    }

    /// [`fail_if_missing`](Self::fail_if_missing) for a call whose access
    /// is of `category` (an open without O_CREAT reads or writes).
    pub fn fail_if_missing_in(&self, category: Category, resolved: &Resolved) -> Step<()> {
        if resolved.stat().is_none() && self.may_see(resolved) {
            return Err(self.safe_denial(category, resolved, Errno(libc::ENOENT)));
        }
        Ok(())
    }

    /// The reply for a call that fails with `errno` whatever the policy
    /// says. It is not a violation, unless `report/safe:on` (sydbox-1's
    /// `core/violation/raise_safe`) asks for denied ones to be reported.
    fn safe_denial(&self, category: Category, resolved: &Resolved, errno: Errno) -> Reply {
        let verdict = {
            let policy = self.shared.policy();
            if !policy.reports_safe() {
                return Reply::Error(errno);
            }
            policy.check_path(category, &resolved.path)
        };
        if verdict.report && verdict.outcome != Outcome::Allow {
            self.report(
                category,
                &resolved.path,
                Action::Deny,
                verdict.rule,
                super::handlers::describe::path(&resolved.path),
                Some(errno),
            );
        }
        Reply::Error(errno)
    }

    /// Checks `subject` against the policy for `category`, reports if the
    /// verdict says so, and turns a refusal into the reply the caller sees.
    /// `describe` renders the call's arguments, only when a report is made.
    pub fn check(
        &self,
        category: Category,
        subject: &[u8],
        describe: impl FnOnce() -> String,
    ) -> Step<()> {
        let verdict = self.shared.policy().check_path(category, subject);
        self.enforce(category, subject, verdict, describe)
    }

    /// Applies a verdict: reports it if asked and maps it to a reply.
    pub fn enforce(
        &self,
        category: Category,
        subject: &[u8],
        verdict: crate::policy::Verdict,
        describe: impl FnOnce() -> String,
    ) -> Step<()> {
        if verdict.outcome == Outcome::Allow && !verdict.report {
            return Ok(());
        }
        let errno = self
            .shared
            .policy()
            .deny_errno(category)
            .map(Errno)
            .unwrap_or_else(|| default_errno(category));
        if verdict.report {
            let action = match verdict.outcome {
                Outcome::Allow => Action::Warn,
                Outcome::Deny => Action::Deny,
                Outcome::Kill => Action::Kill,
            };
            self.report(
                category,
                subject,
                action,
                verdict.rule,
                describe(),
                (action == Action::Deny).then_some(errno),
            );
        }
        match verdict.outcome {
            Outcome::Allow => Ok(()),
            Outcome::Deny => Err(Reply::Error(errno)),
            Outcome::Kill => Err(Reply::Kill),
        }
    }

    /// Reports a refusal that no path or address rule decides (a new user
    /// namespace, a core limit, a filesystem-wide ioctl, acct(NULL)), as
    /// `category`, with the call's arguments rendered as `args`, and fails
    /// the call with `errno`.
    pub fn refuse(
        &self,
        category: &'static str,
        args: String,
        why: &'static str,
        allow: Option<&'static str>,
        errno: Errno,
    ) -> Reply {
        let pid = self.n.pid;
        let mut comm = Vec::new();
        let _ = fs::read_small_file(format!("/proc/{pid}/comm").as_bytes(), &mut comm);
        if comm.last() == Some(&b'\n') {
            comm.pop();
        }
        self.shared
            .reporter
            .report_refusal(&crate::report::RefusalEvent {
                pid,
                comm,
                syscall: self.syscall_name(),
                args,
                category,
                why,
                allow,
                errno: errno.0,
            });
        Reply::Error(errno)
    }

    /// Reports one event about this call.
    pub fn report(
        &self,
        category: Category,
        subject: &[u8],
        action: Action,
        rule: Option<String>,
        args: String,
        errno: Option<Errno>,
    ) {
        let pid = self.n.pid;
        let mut comm = Vec::new();
        let _ = fs::read_small_file(format!("/proc/{pid}/comm").as_bytes(), &mut comm);
        if comm.last() == Some(&b'\n') {
            comm.pop();
        }
        let cwd = fs::readlink_at(None, format!("/proc/{pid}/cwd").as_bytes()).unwrap_or_default();
        self.shared.reporter.report(&Event {
            pid,
            comm,
            cwd,
            syscall: self.syscall_name(),
            args,
            category,
            subject: subject.to_vec(),
            action,
            rule,
            errno: errno.map(|e| e.0),
        });
    }
}

/// The errno of a denial when the policy sets none (`errno/CAT:NAME`):
/// ENOENT for stat (the path is hidden), ECONNREFUSED for connect, EACCES
/// otherwise. `sydbox` sets sydbox-1's own (see the README).
pub fn default_errno(category: Category) -> Errno {
    match category {
        Category::Stat => Errno(libc::ENOENT),
        Category::NetConnect => Errno(libc::ECONNREFUSED),
        _ => Errno(libc::EACCES),
    }
}

thread_local! {
    /// This worker's own effective capabilities, read once: every guard puts
    /// them back as they were.
    static OWN_CAPS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
    /// This worker's own credentials, read once.
    static OWN_CREDS: std::cell::RefCell<Option<process::Credentials>> =
        const { std::cell::RefCell::new(None) };
}

thread_local! {
    /// The umask this worker last set, to skip umask(2) when it is the same.
    static UMASK: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// Sets this worker's umask unless it already is `mask`.
fn set_umask_once(mask: u32) {
    if UMASK.get() != Some(mask) {
        process::set_umask(mask);
        UMASK.set(Some(mask));
    }
}

/// This worker's own identity, read once: it never changes between guards.
fn own_credentials() -> process::Credentials {
    OWN_CREDS.with(|own| {
        own.borrow_mut()
            .get_or_insert_with(process::thread_credentials)
            .clone()
    })
}

/// This worker's own effective capabilities. The first call also tells the
/// kernel to leave this thread's capability sets alone when its uids
/// change: the guard sets them itself, and must be able to switch the
/// filesystem uid after the effective one.
fn own_effective_caps() -> Step<u64> {
    if let Some(caps) = OWN_CAPS.get() {
        return Ok(caps);
    }
    let caps = process::thread_effective_caps()?;
    process::keep_caps_on_uid_change()?;
    OWN_CAPS.set(Some(caps));
    Ok(caps)
}

/// What `/proc/PID/status` says about a caller's filesystem identity.
#[derive(Debug, Clone, Default)]
pub struct CallerStatus {
    /// Thread group id.
    pub tgid: i32,
    /// Real, effective and saved uid.
    pub uids: [u32; 3],
    /// Real, effective and saved gid.
    pub gids: [u32; 3],
    /// Filesystem uid.
    pub fsuid: u32,
    /// Filesystem gid.
    pub fsgid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// The umask.
    pub umask: u32,
    /// The effective capability set (`CapEff`).
    pub cap_effective: u64,
}

impl CallerStatus {
    /// Reads and parses `/proc/PID/status`.
    pub fn read(pid: u32) -> Step<CallerStatus> {
        let mut buf = Vec::with_capacity(2048);
        fs::read_small_file(format!("/proc/{pid}/status").as_bytes(), &mut buf)?;
        Ok(CallerStatus::parse(&buf))
    }

    /// Reads `/proc/PID/status` through the descriptor cached for `pid`.
    pub fn read_cached(callers: &super::callers::Callers, pid: u32) -> Step<CallerStatus> {
        let mut buf = Vec::with_capacity(4096);
        callers.read_status(pid, &mut buf)?;
        Ok(CallerStatus::parse(&buf))
    }

    /// Parses the text of `/proc/PID/status`.
    pub fn parse(text: &[u8]) -> CallerStatus {
        let mut st = CallerStatus {
            umask: 0o022,
            ..CallerStatus::default()
        };
        for line in text.split(|&b| b == b'\n') {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (key, value) = (&line[..colon], String::from_utf8_lossy(&line[colon + 1..]));
            let mut nums = value.split_whitespace();
            match key {
                b"Tgid" => st.tgid = nums.next().and_then(|v| v.parse().ok()).unwrap_or(0),
                b"Umask" => {
                    st.umask = nums
                        .next()
                        .and_then(|v| u32::from_str_radix(v, 8).ok())
                        .unwrap_or(0o022)
                }
                b"Uid" | b"Gid" => {
                    // Real, effective, saved, filesystem.
                    let ids: Vec<u32> = nums.filter_map(|v| v.parse().ok()).collect();
                    let id = |i: usize| ids.get(i).copied().unwrap_or(0);
                    let (three, fs) = ([id(0), id(1), id(2)], id(3));
                    if key == b"Uid" {
                        (st.uids, st.fsuid) = (three, fs);
                    } else {
                        (st.gids, st.fsgid) = (three, fs);
                    }
                }
                b"Groups" => st.groups = nums.filter_map(|v| v.parse().ok()).collect(),
                b"CapEff" => {
                    st.cap_effective = nums
                        .next()
                        .and_then(|v| u64::from_str_radix(v, 16).ok())
                        .unwrap_or(0)
                }
                _ => {}
            }
        }
        st
    }
}

/// While alive, the worker thread acts with a caller's credentials and umask.
/// Dropping it restores the supervisor's own.
pub struct CredentialGuard {
    tgid: u32,
    previous: Option<process::Credentials>,
    previous_caps: Option<u64>,
}

impl CredentialGuard {
    fn unchanged(pid: u32) -> CredentialGuard {
        CredentialGuard {
            tgid: pid,
            previous: None,
            previous_caps: None,
        }
    }

    /// The caller's thread group id, as read with its credentials (its
    /// thread id when they were not read).
    pub fn tgid(&self) -> u32 {
        self.tgid
    }

    fn apply(status: &CallerStatus, as_root: bool, creates: bool) -> Step<CredentialGuard> {
        // Each worker has its own fs context (unshare(CLONE_FS)), so the
        // umask set here is this thread's alone. It matters only to calls
        // that create, which always set it, so it is never restored.
        if creates {
            set_umask_once(status.umask);
        }
        let mut guard = CredentialGuard {
            tgid: status.tgid as u32,
            previous: None,
            previous_caps: None,
        };
        if !as_root {
            // An unprivileged supervisor already has the caller's identity:
            // with no_new_privs, nobody in the tree can change it.
            return Ok(guard);
        }
        // First, so that the securebit that keeps capabilities across uid
        // changes is set before any change.
        let ours = own_effective_caps()?;
        let creds = process::Credentials {
            uids: status.uids,
            gids: status.gids,
            fsuid: status.fsuid,
            fsgid: status.fsgid,
            groups: status.groups.clone(),
        };
        // All the ids, not only the filesystem ones: the kernel records the
        // effective ones in a file the supervisor opens (and checks them at
        // a later write to /proc/PID/uid_map) and in a unix socket's peer
        // credentials, attaches the real ones to messages for receivers
        // with SO_PASSCRED, and checks explicit SCM_CREDENTIALS against all
        // three: each must name the caller, not root.
        let own = own_credentials();
        if creds != own {
            guard.previous = Some(own);
            // On failure, partly switched: the guard's drop puts back all.
            process::set_thread_credentials(&creds)?;
        }
        // Nor may it lend its capabilities: a root caller without
        // CAP_DAC_OVERRIDE must not write a 0444 file through us, and a
        // caller with ambient capabilities keeps them. Effective
        // capabilities are per thread, and the uid changes above left them
        // as they were (SECBIT_NO_SETUID_FIXUP).
        if ours != status.cap_effective {
            guard.previous_caps = Some(ours);
            process::set_thread_effective_caps(status.cap_effective)?;
        }
        Ok(guard)
    }
}

impl Drop for CredentialGuard {
    fn drop(&mut self) {
        // Capabilities first: setgroups and setfsuid need CAP_SETGID and
        // CAP_SETUID back in the effective set. A worker that cannot get its
        // identity back must not serve anyone else.
        if let Some(caps) = self.previous_caps
            && process::set_thread_effective_caps(caps).is_err()
        {
            std::process::abort();
        }
        if let Some(own) = &self.previous
            && process::set_thread_credentials(own).is_err()
        {
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parse_reads_fs_ids_groups_and_umask() {
        let text = b"Name:\tsh\nUmask:\t0027\nTgid:\t42\nUid:\t1000\t1002\t1000\t1001\nGid:\t100\t102\t100\t101\nGroups:\t4 24 \n";
        let st = CallerStatus::parse(text);
        assert_eq!(st.tgid, 42);
        assert_eq!(st.umask, 0o027);
        assert_eq!((st.uids, st.fsuid), ([1000, 1002, 1000], 1001));
        assert_eq!((st.gids, st.fsgid), ([100, 102, 100], 101));
        assert_eq!(st.fsgid, 101);
        assert_eq!(st.groups, vec![4, 24]);
    }
}
