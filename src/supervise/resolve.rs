//! Turning (caller, dirfd, path bytes) into the object the kernel would reach
//! for the caller, plus the canonical path that rules are matched against.
//!
//! The walk happens in the supervisor, one component at a time, on directory
//! descriptors it opened itself. Every later action is taken relative to
//! those descriptors, so a process that swaps a directory for a symlink after
//! the check changes nothing: the supervisor never looks the name up again.
//!
//! Two things make walking in the supervisor differ from walking in the
//! caller, and both are handled here:
//! - `/proc/self` and `/proc/thread-self` would name the supervisor; the walk
//!   substitutes the caller's pid while keeping `self` in the logical path, so
//!   rules like `/proc/self/fd/***` match.
//! - magic links (`/proc/PID/fd/N`, `cwd`, `root`, `exe`) jump to an object,
//!   not a path; the walk lets the kernel follow them and continues from the
//!   object, judged by the object's real path when it has one.

use crate::sys::{Errno, Result, fs};
use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The most symlinks one lookup follows, as the kernel's `MAXSYMLINKS`.
const MAX_SYMLINKS: u32 = 40;

/// Where a relative path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The caller's working directory (`AT_FDCWD`).
    Cwd,
    /// One of the caller's descriptors.
    Fd(i32),
}

impl Base {
    /// The base for a `dirfd` system call argument.
    pub fn from_dirfd(arg: u64) -> Base {
        let fd = arg as i32;
        if fd == libc::AT_FDCWD {
            Base::Cwd
        } else {
            Base::Fd(fd)
        }
    }
}

/// How to look a path up, from the system call's flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lookup {
    /// Follow a final symlink (no `O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, not an l* call).
    pub follow_final: bool,
    /// An empty path names the base itself (`AT_EMPTY_PATH`).
    pub empty_path: bool,
    /// Fail with ELOOP on any symlink (`RESOLVE_NO_SYMLINKS`).
    pub no_symlinks: bool,
    /// Fail with ELOOP on magic links (`RESOLVE_NO_MAGICLINKS`).
    pub no_magic_links: bool,
    /// Stay beneath the base (`RESOLVE_BENEATH`): EXDEV otherwise.
    pub beneath: bool,
    /// Treat the base as the root (`RESOLVE_IN_ROOT`): absolute paths and
    /// symlinks start there, `..` stops there.
    pub in_root: bool,
    /// Never cross a mount point (`RESOLVE_NO_XDEV`): EXDEV otherwise.
    pub no_xdev: bool,
    /// The call creates, removes or renames the final entry itself (mkdir,
    /// mknod, unlink, rmdir, rename, a link's new name, bind): a trailing
    /// slash neither follows a final symlink nor fails in the walk, and the
    /// handler applies the call's own rule for it, as the kernel does once
    /// it has the parent and the last name.
    pub final_entry: bool,
}

impl Lookup {
    /// A plain lookup that follows a final symlink (stat, chmod, acct).
    pub const FOLLOW: Lookup = Lookup {
        follow_final: true,
        empty_path: false,
        no_symlinks: false,
        no_magic_links: false,
        beneath: false,
        in_root: false,
        no_xdev: false,
        final_entry: false,
    };
    /// A plain lookup that does not follow a final symlink (lchown, lstat).
    pub const NOFOLLOW: Lookup = Lookup {
        follow_final: false,
        ..Lookup::FOLLOW
    };
}

/// What the last component of a path is, as the kernel's `last_type` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last {
    /// A name.
    Name,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// No component at all: `/` (or an empty `AT_EMPTY_PATH` path).
    Root,
}

impl Last {
    /// The last component of `path`, trailing slashes ignored.
    pub fn of(path: &[u8]) -> Last {
        match components(path).last() {
            None => Last::Root,
            Some(b".") => Last::Dot,
            Some(b"..") => Last::DotDot,
            Some(_) => Last::Name,
        }
    }
}

/// What a path names.
#[derive(Debug)]
pub enum Target {
    /// The entry `name` in directory `dir`; `stat` is `None` when it does not
    /// exist. The entry itself was never followed if it is a symlink.
    Entry {
        /// The directory holding the entry, opened `O_PATH`.
        dir: OwnedFd,
        /// One path component, without slashes.
        name: Vec<u8>,
        /// The entry's metadata, or `None` when it does not exist.
        stat: Option<fs::Stat>,
    },
    /// An object reached without a final name: `/`, a path ending in `.` or
    /// `..`, an `AT_EMPTY_PATH` descriptor, or the target of a magic link.
    Object {
        /// The object, opened `O_PATH`.
        fd: OwnedFd,
        /// Its metadata.
        stat: fs::Stat,
    },
}

/// A resolved path.
#[derive(Debug)]
pub struct Resolved {
    /// The canonical absolute path rules are matched against.
    pub path: Vec<u8>,
    /// The object, held by descriptors.
    pub target: Target,
    /// The path ended with a slash, so the object must be a directory.
    pub trailing_slash: bool,
    /// The kind of the path's last component.
    pub last: Last,
}

impl Resolved {
    /// Metadata of the target, `None` for an entry that does not exist.
    pub fn stat(&self) -> Option<fs::Stat> {
        match &self.target {
            Target::Entry { stat, .. } => *stat,
            Target::Object { stat, .. } => Some(*stat),
        }
    }

    /// An `O_PATH` handle on the existing object itself, never following a
    /// final symlink. `ENOENT` when it does not exist.
    pub fn open_object(&self) -> Result<OwnedFd> {
        match &self.target {
            Target::Entry { stat: None, .. } => Err(Errno(libc::ENOENT)),
            Target::Entry { dir, name, .. } => fs::open_path_nofollow(Some(dir.as_fd()), name),
            Target::Object { fd, .. } => fd
                .try_clone()
                .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO))),
        }
    }
}

/// The caller a lookup is done for.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The calling thread, as the notification names it.
    pub pid: u32,
}

impl Caller {
    fn proc_path(&self, rest: &str) -> Vec<u8> {
        format!("/proc/{}/{}", self.pid, rest).into_bytes()
    }
}

struct Walk {
    caller: Caller,
    how: Lookup,
    /// `RESOLVE_NO_XDEV` for every step the walk takes, when asked.
    xdev: u64,
    /// The base and its path, for `in_root` (where `/` leads).
    root: Option<(OwnedFd, Vec<u8>)>,
    /// The directory reached so far; taken when the walk ends.
    cur: Option<OwnedFd>,
    cur_path: Vec<u8>,
    final_path: Vec<u8>,
    /// Length of the base path, for `beneath`.
    floor: usize,
    symlinks: u32,
}

/// Resolves `path` for `caller`, starting from `base` for relative paths.
pub fn resolve(caller: Caller, base: Base, path: &[u8], how: Lookup) -> Result<Resolved> {
    if path.is_empty() && !how.empty_path {
        return Err(Errno(libc::ENOENT));
    }
    if path.len() >= libc::PATH_MAX as usize {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    let absolute = path.first() == Some(&b'/');
    if absolute && how.beneath {
        return Err(Errno(libc::EXDEV));
    }
    let (cur, cur_path) = if absolute && !how.in_root {
        open_root()?
    } else {
        open_base(caller, base)?
    };
    // path_init(): a relative path needs a directory to start from.
    if (!absolute || how.in_root) && !path.is_empty() && !fs::lstat_at(cur.as_fd(), b"")?.is_dir() {
        return Err(Errno(libc::ENOTDIR));
    }
    if path.is_empty() {
        let stat = fs::lstat_at(cur.as_fd(), b"")?;
        return Ok(Resolved {
            path: cur_path,
            target: Target::Object { fd: cur, stat },
            trailing_slash: false,
            last: Last::Root,
        });
    }
    let trailing_slash = path.ends_with(b"/") && path.iter().any(|&b| b != b'/');
    let last = Last::of(path);
    let floor = cur_path.len();
    let root = if how.in_root {
        let fd = cur
            .try_clone()
            .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
        Some((fd, cur_path.clone()))
    } else {
        None
    };
    let mut walk = Walk {
        caller,
        how,
        xdev: if how.no_xdev {
            libc::RESOLVE_NO_XDEV
        } else {
            0
        },
        root,
        cur: Some(cur),
        cur_path,
        final_path: Vec::new(),
        floor,
        symlinks: 0,
    };
    let mut parts: VecDeque<Vec<u8>> = components(path).map(<[u8]>::to_vec).collect();
    walk.fast_forward(&mut parts);
    // A trailing slash follows a final symlink, except for calls on the
    // entry itself.
    let follow_final = how.follow_final || (trailing_slash && !how.final_entry);
    let target = walk.run(parts, follow_final)?;
    let resolved = Resolved {
        path: walk.final_path,
        target,
        trailing_slash,
        last,
    };
    // "file/" names a directory that is not there.
    if trailing_slash && !how.final_entry && resolved.stat().is_some_and(|st| !st.is_dir()) {
        return Err(Errno(libc::ENOTDIR));
    }
    Ok(resolved)
}

/// The pid of `/proc/PID/...`, as a walk's logical path spells it; `None`
/// for `/proc/self` (kept by name, it is the caller) and other paths.
fn proc_pid(path: &[u8]) -> Option<i32> {
    let rest = path.strip_prefix(b"/proc/")?;
    let digits = rest.split(|&b| b == b'/').next()?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The non-empty components of `path`.
fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

fn open_root() -> Result<(OwnedFd, Vec<u8>)> {
    // chroot is refused by the filter, so the caller's root is ours.
    let fd = fs::openat2(
        None,
        b"/",
        (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
        0,
        0,
    )?;
    Ok((fd, b"/".to_vec()))
}

fn open_base(caller: Caller, base: Base) -> Result<(OwnedFd, Vec<u8>)> {
    let link = match base {
        Base::Cwd => caller.proc_path("cwd"),
        Base::Fd(n) if n < 0 => return Err(Errno(libc::EBADF)),
        Base::Fd(n) => caller.proc_path(&format!("fd/{n}")),
    };
    // The kernel follows the magic link to the caller's own object.
    let fd =
        fs::openat2(None, &link, (libc::O_PATH | libc::O_CLOEXEC) as u64, 0, 0).map_err(|e| {
            if e.0 == libc::ENOENT && matches!(base, Base::Fd(_)) {
                Errno(libc::EBADF)
            } else {
                e
            }
        })?;
    let path = object_path(fd.as_fd())?;
    Ok((fd, path))
}

impl Walk {
    fn cur(&self) -> BorrowedFd<'_> {
        self.cur
            .as_ref()
            .expect("the walk still holds its directory")
            .as_fd()
    }

    fn take_cur(&mut self) -> OwnedFd {
        self.cur.take().expect("the walk ends once")
    }

    /// Resolves every component but the last in one openat2(2) call when the
    /// way holds no symlink (RESOLVE_NO_SYMLINKS refuses them, magic links
    /// included), which is the common case. Without symlinks, the physical
    /// path equals the lexical one, so the canonical path is computed here.
    fn fast_forward(&mut self, parts: &mut VecDeque<Vec<u8>>) {
        if parts.len() < 2 || self.how.beneath || self.how.in_root {
            return;
        }
        let mut lexical = self.cur_path.clone();
        let mut rel = Vec::new();
        for part in parts.iter().take(parts.len() - 1) {
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(part);
            match part.as_slice() {
                b"." => {}
                b".." => pop_component(&mut lexical),
                name => push_component(&mut lexical, name),
            }
        }
        // /proc/self must be substituted, which only the slow walk does.
        if lexical.starts_with(b"/proc") {
            return;
        }
        let flags = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
        let resolve = libc::RESOLVE_NO_SYMLINKS | self.xdev;
        if let Ok(fd) = fs::openat2(Some(self.cur()), &rel, flags, 0, resolve) {
            self.cur = Some(fd);
            self.cur_path = lexical;
            let last = parts.pop_back().expect("two or more parts");
            parts.clear();
            parts.push_back(last);
        }
    }

    fn run(&mut self, mut parts: VecDeque<Vec<u8>>, follow_final: bool) -> Result<Target> {
        while let Some(part) = parts.pop_front() {
            let is_last = parts.is_empty();
            match part.as_slice() {
                b"." => {}
                b".." => self.up()?,
                name => {
                    if let Some(target) = self.step(name, is_last, follow_final, &mut parts)? {
                        return Ok(target);
                    }
                }
            }
        }
        // The path ended in `.`, `..` or `/`: the target is the directory we are in.
        let fd = self.take_cur();
        let stat = fs::lstat_at(fd.as_fd(), b"")?;
        self.final_path = self.cur_path.clone();
        Ok(Target::Object { fd, stat })
    }

    fn up(&mut self) -> Result<()> {
        if self.cur_path == b"/" {
            return Ok(());
        }
        if self.how.beneath && self.cur_path.len() <= self.floor {
            return Err(Errno(libc::EXDEV));
        }
        // RESOLVE_IN_ROOT: `..` of the root is the root.
        if self.how.in_root && self.cur_path.len() <= self.floor {
            return Ok(());
        }
        let parent = fs::openat2(
            Some(self.cur()),
            b"..",
            (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
            0,
            self.xdev,
        )?;
        self.cur = Some(parent);
        pop_component(&mut self.cur_path);
        Ok(())
    }

    /// Takes one named component. Returns the target when the walk ends here.
    fn step(
        &mut self,
        name: &[u8],
        is_last: bool,
        follow_final: bool,
        parts: &mut VecDeque<Vec<u8>>,
    ) -> Result<Option<Target>> {
        let real_name = self.substitute_proc_self(name);
        let name_on_disk: &[u8] = real_name.as_deref().unwrap_or(name);
        let mut entry_path = self.cur_path.clone();
        push_component(&mut entry_path, self.proc_logical_name(name));

        if is_last && !follow_final {
            return self.finish_entry(name_on_disk, entry_path).map(Some);
        }
        if is_last {
            // The common last step costs one fstatat: only a symlink needs
            // opening and following.
            let stat = match fs::lstat_at(self.cur(), name_on_disk) {
                Ok(st) => Some(st),
                Err(e) if e.0 == libc::ENOENT => None,
                Err(e) => return Err(e),
            };
            if !stat.is_some_and(|st| st.is_symlink()) {
                return Ok(Some(self.entry(name_on_disk, entry_path, stat)));
            }
        }
        let handle = (libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64;
        let fd = match fs::openat2(Some(self.cur()), name_on_disk, handle, 0, self.xdev) {
            Ok(fd) => fd,
            Err(e) if e.0 == libc::ENOENT && is_last => {
                return self.finish_entry(name_on_disk, entry_path).map(Some);
            }
            Err(e) => return Err(e),
        };
        let stat = fs::lstat_at(fd.as_fd(), b"")?;
        if stat.is_symlink() {
            if self.is_magic_dir() {
                return self.follow_magic(name_on_disk, entry_path, is_last);
            }
            self.follow_symlink(fd.as_fd(), parts)?;
            return Ok(None);
        }
        if is_last {
            return self.finish_entry(name_on_disk, entry_path).map(Some);
        }
        if !stat.is_dir() {
            return Err(Errno(libc::ENOTDIR));
        }
        self.cur = Some(fd);
        self.cur_path = entry_path;
        Ok(None)
    }

    fn finish_entry(&mut self, name: &[u8], path: Vec<u8>) -> Result<Target> {
        let stat = match fs::lstat_at(self.cur(), name) {
            Ok(st) => Some(st),
            Err(e) if e.0 == libc::ENOENT => None,
            Err(e) => return Err(e),
        };
        Ok(self.entry(name, path, stat))
    }

    /// Ends the walk at the entry `name` of the current directory.
    fn entry(&mut self, name: &[u8], path: Vec<u8>, stat: Option<fs::Stat>) -> Target {
        let dir = self.take_cur();
        self.final_path = path;
        Target::Entry {
            dir,
            name: name.to_vec(),
            stat,
        }
    }

    /// `self` and `thread-self` directly under `/proc` name the caller.
    fn substitute_proc_self(&self, name: &[u8]) -> Option<Vec<u8>> {
        if self.cur_path != b"/proc" {
            return None;
        }
        match name {
            b"self" => Some(self.caller.pid.to_string().into_bytes()),
            b"thread-self" => Some(format!("{0}/task/{0}", self.caller.pid).into_bytes()),
            _ => None,
        }
    }

    /// The logical name of `/proc/NAME`: `self` when NAME is the caller's
    /// own thread id or thread group id, so that `/proc/$$/fd/3` is judged
    /// as `/proc/self/fd/3`, as the process itself means it.
    fn proc_logical_name<'n>(&self, name: &'n [u8]) -> &'n [u8] {
        if self.cur_path != b"/proc" || name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
            return name;
        }
        let tid = self.caller.pid.to_string();
        if name == tid.as_bytes() {
            return b"self";
        }
        // NAME is the caller's thread group when the caller is one of its
        // tasks. /proc/NAME/task/TID exists exactly then.
        let mut task = name.to_vec();
        task.extend_from_slice(format!("/task/{tid}").as_bytes());
        if fs::lstat_at(self.cur(), &task).is_ok() {
            return b"self";
        }
        name
    }

    /// Under `/proc/PID/` every symlink is a magic link.
    fn is_magic_dir(&self) -> bool {
        self.cur_path.starts_with(b"/proc/") && self.cur_path.len() > b"/proc/".len()
    }

    fn follow_magic(
        &mut self,
        name: &[u8],
        logical: Vec<u8>,
        is_last: bool,
    ) -> Result<Option<Target>> {
        if self.how.no_magic_links || self.how.no_symlinks {
            return Err(Errno(libc::ELOOP));
        }
        // nd_jump_link(): not for scoped lookups.
        if self.how.beneath || self.how.in_root {
            return Err(Errno(libc::EXDEV));
        }
        // Following another process's magic link takes the supervisor's
        // ptrace rights, not the caller's: never for a process outside the
        // tree, which the caller's Landlock domain keeps it from reaching.
        if let Some(pid) = proc_pid(&self.cur_path)
            && crate::supervise::process::place_near(pid, self.caller.pid as i32)
                != crate::supervise::process::Place::Inside
        {
            return Err(Errno(libc::EACCES));
        }
        // The kernel follows the link to the caller's object.
        let obj = fs::openat2(
            Some(self.cur()),
            name,
            (libc::O_PATH | libc::O_CLOEXEC) as u64,
            0,
            self.xdev,
        )?;
        let stat = fs::lstat_at(obj.as_fd(), b"")?;
        let real = fs::fd_path(obj.as_fd())?;
        // Objects with a real path are judged by it: reopening a read-only
        // descriptor for writing through /proc/self/fd must need the same
        // rule as opening the file by name. Pipes, sockets and anonymous
        // inodes have no such path and keep the /proc one.
        let path = judged_path(real, &stat).unwrap_or(logical);
        if is_last {
            self.final_path = path;
            return Ok(Some(Target::Object { fd: obj, stat }));
        }
        if !stat.is_dir() {
            return Err(Errno(libc::ENOTDIR));
        }
        self.cur = Some(obj);
        self.cur_path = path;
        Ok(None)
    }

    fn follow_symlink(
        &mut self,
        link: BorrowedFd<'_>,
        parts: &mut VecDeque<Vec<u8>>,
    ) -> Result<()> {
        if self.how.no_symlinks {
            return Err(Errno(libc::ELOOP));
        }
        self.symlinks += 1;
        if self.symlinks > MAX_SYMLINKS {
            return Err(Errno(libc::ELOOP));
        }
        let target = fs::readlink_at(Some(link), b"")?;
        if target.is_empty() {
            return Err(Errno(libc::ENOENT));
        }
        if target[0] == b'/' {
            if self.how.beneath {
                return Err(Errno(libc::EXDEV));
            }
            let (root, root_path) = match &self.root {
                Some((fd, path)) => (
                    fd.try_clone()
                        .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?,
                    path.clone(),
                ),
                None => open_root()?,
            };
            // nd_jump_root(): with RESOLVE_NO_XDEV, only to the same mount.
            if self.how.no_xdev && fs::mount_id(root.as_fd())? != fs::mount_id(self.cur())? {
                return Err(Errno(libc::EXDEV));
            }
            self.cur = Some(root);
            self.cur_path = root_path;
        }
        let mut new_parts: Vec<Vec<u8>> = components(&target).map(<[u8]>::to_vec).collect();
        // A link to "dir/" or "." still has to land on a directory object.
        if new_parts.is_empty() {
            new_parts.push(b".".to_vec());
        }
        for part in new_parts.into_iter().rev() {
            parts.push_front(part);
        }
        Ok(())
    }
}

/// The path rules judge an object held by a descriptor by (see
/// [`judged_path`]); objects without one keep the kernel's text for them,
/// such as `pipe:[1234]`.
pub fn object_path(fd: BorrowedFd<'_>) -> Result<Vec<u8>> {
    let real = fs::fd_path(fd)?;
    // Only a name ending in " (deleted)" needs the link count; sparing the
    // fstatat elsewhere saves a syscall on every relative path.
    if real.first() == Some(&b'/') && !real.ends_with(b" (deleted)") {
        return Ok(real);
    }
    let stat = fs::lstat_at(fd, b"")?;
    Ok(judged_path(real.clone(), &stat).unwrap_or(real))
}

/// The path an object reached through a magic link is judged by: its real
/// path, or for a file no longer named anywhere (deleted, or an O_TMPFILE
/// file) the path it had, which names the directory it lived in. Pipes,
/// sockets and anonymous inodes have none.
fn judged_path(mut real: Vec<u8>, stat: &fs::Stat) -> Option<Vec<u8>> {
    const DELETED: &[u8] = b" (deleted)";
    if real.first() != Some(&b'/') {
        return None;
    }
    if stat.nlink == 0 && !stat.is_dir() && real.ends_with(DELETED) {
        real.truncate(real.len() - DELETED.len());
    }
    Some(real)
}

fn push_component(path: &mut Vec<u8>, name: &[u8]) {
    if path.last() != Some(&b'/') {
        path.push(b'/');
    }
    path.extend_from_slice(name);
}

fn pop_component(path: &mut Vec<u8>) {
    if let Some(i) = path.iter().rposition(|&b| b == b'/') {
        path.truncate(if i == 0 { 1 } else { i });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_component_stops_at_root() {
        let mut p = b"/a".to_vec();
        pop_component(&mut p);
        assert_eq!(p, b"/");
        pop_component(&mut p);
        assert_eq!(p, b"/");
    }

    #[test]
    fn push_component_joins_with_one_slash() {
        let mut p = b"/".to_vec();
        push_component(&mut p, b"a");
        push_component(&mut p, b"b");
        assert_eq!(p, b"/a/b");
    }

    #[test]
    fn components_skip_empty_parts() {
        let parts: Vec<&[u8]> = components(b"//a///b/").collect();
        assert_eq!(parts, vec![&b"a"[..], &b"b"[..]]);
    }
}
