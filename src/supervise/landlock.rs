//! Exec rules given at start, enforced by the kernel: a Landlock ruleset
//! that handles only the execute right, made before the fork and enforced
//! by the child just before it execs COMMAND (`spawn.rs`).
//!
//! exec cannot be performed by the supervisor: the notified check
//! (`handlers/exec.rs`) lets the call continue and the kernel reads the
//! path again, so another process can swap it in between. With this
//! ruleset the kernel itself refuses to execute any file outside the
//! hierarchies of the `allow/exec` rules, whatever the path named when it
//! was checked. Landlock can only allow: deny rules, and patterns narrower
//! than their hierarchy (`/usr/bin/gcc-*` → `/usr/bin`), stay with the
//! notified check alone.
//!
//! The kernel checks execute on a program's ELF interpreter and on a
//! script's `#!` interpreter too (verified on Linux 6.18). The dynamic
//! loaders are added (the standard x86_64 paths and COMMAND's own
//! PT_INTERP); `#!` interpreters must be allowed by the rules, as they are
//! executed. Shared libraries are mapped, not executed: not affected.

use crate::policy::{Category, Command, Policy, in_hierarchy};
use crate::sys::{Errno, fs, landlock};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

/// Capabilities the tree may never hold while Landlock bounds exec:
/// Landlock lets files on the kernel's internal mounts through (shared
/// anonymous mappings, SysV shm), and CAP_SYS_ADMIN or
/// CAP_CHECKPOINT_RESTORE open them by name through
/// `/proc/PID/map_files/`, where a symlink swapped in after the notified
/// check runs them. memfds, the other such files, are made sealed against
/// exec by the supervisor (`handlers/exec.rs`).
pub const CAPS_THAT_REACH_INTERNAL_FILES: u64 = 1 << CAP_SYS_ADMIN | 1 << CAP_CHECKPOINT_RESTORE;
/// `CAP_SYS_ADMIN` (linux/capability.h).
const CAP_SYS_ADMIN: u64 = 21;
/// `CAP_CHECKPOINT_RESTORE` (linux/capability.h, Linux 5.9).
const CAP_CHECKPOINT_RESTORE: u64 = 40;

/// The dynamic loaders a program on x86_64 may name (glibc, musl).
const LOADERS: [&[u8]; 3] = [
    b"/lib64/ld-linux-x86-64.so.2",
    b"/lib/ld-linux-x86-64.so.2",
    b"/lib/ld-musl-x86_64.so.1",
];

/// A ruleset ready for the child, and the hierarchies it allows.
#[derive(Debug)]
pub struct ExecLimit {
    /// The Landlock ruleset (close-on-exec).
    pub ruleset: OwnedFd,
    /// Every file or directory a rule of the ruleset allows, as opened:
    /// a rule's hierarchy, or its nearest existing ancestor.
    pub roots: Vec<Vec<u8>>,
}

/// What start-up makes of the exec rules.
#[derive(Debug)]
pub enum Prepared {
    /// Exec is not bounded by hierarchies (off, default warn, or `/***`).
    NotNeeded,
    /// The kernel has no usable Landlock; the reason.
    Unavailable(Errno),
    /// The ruleset to enforce.
    Limit(ExecLimit),
}

/// Builds the ruleset for `policy`'s exec rules, COMMAND being `program`.
pub fn prepare(policy: &Policy, program: &[u8]) -> Result<Prepared, Errno> {
    let Some(hierarchies) = policy.exec_hierarchies() else {
        return Ok(Prepared::NotNeeded);
    };
    if hierarchies.iter().any(|h| h == b"/") {
        return Ok(Prepared::NotNeeded);
    }
    if let Err(e) = landlock::abi_version() {
        return Ok(Prepared::Unavailable(e));
    }
    let ruleset = landlock::create_execute_ruleset()?;
    let mut roots = Vec::new();
    for hierarchy in &hierarchies {
        let (root, handle) = open_nearest(hierarchy);
        landlock::allow_execute_beneath(ruleset.as_fd(), handle.as_fd())?;
        // A hierarchy named through a symlink is held as its target; keep
        // the name too, for commands that name it the same way.
        let exists = open_path(hierarchy).is_ok();
        for name in [Some(root), exists.then(|| hierarchy.clone())]
            .into_iter()
            .flatten()
        {
            if !roots.contains(&name) {
                roots.push(name);
            }
        }
    }
    let own_loader = elf_interpreter_of(program);
    for loader in LOADERS.iter().copied().chain(own_loader.as_deref()) {
        if let Ok(handle) = open_path(loader) {
            landlock::allow_execute_beneath(ruleset.as_fd(), handle.as_fd())?;
            roots.push(canonical(&handle, loader));
        }
    }
    Ok(Prepared::Limit(ExecLimit { ruleset, roots }))
}

/// Why `commands`, sent from inside the sandbox, cannot be applied to
/// `policy` while Landlock bounds exec to `roots`: the kernel would refuse
/// what they allow (EACCES at exec, with no report), so they are refused
/// up front. Commands that narrow exec, or leave it alone, pass.
pub fn refusal(roots: &[Vec<u8>], policy: &Policy, commands: &[Command]) -> Option<String> {
    let names_exec = |categories: &[Category]| categories.contains(&Category::Exec);
    let touches_exec = commands.iter().any(|c| match c {
        Command::Sandbox { categories, .. }
        | Command::Rule { categories, .. }
        | Command::Default { categories, .. } => names_exec(categories),
        _ => false,
    });
    if !touches_exec {
        return None;
    }
    let mut after = policy.clone();
    for command in commands {
        // A command that fails is refused when it is applied for real.
        let _ = after.apply(command);
    }
    let limit = || {
        let roots: Vec<String> = roots.iter().map(|r| crate::report::escape(r)).collect();
        roots.join(", ")
    };
    match after.exec_hierarchies() {
        None => Some(format!(
            "exec checks cannot be switched off or made to warn inside the sandbox: \
             Landlock bounds exec to {} since start",
            limit()
        )),
        Some(hierarchies) => hierarchies
            .iter()
            .find(|h| !roots.iter().any(|r| in_hierarchy(r, h)))
            .map(|h| {
                format!(
                    "{} lies outside what Landlock lets execute since start ({})",
                    crate::report::escape(h),
                    limit()
                )
            }),
    }
}

fn open_path(path: &[u8]) -> Result<OwnedFd, Errno> {
    fs::openat2(None, path, (libc::O_PATH | libc::O_CLOEXEC) as u64, 0, 0)
}

/// The canonical path of what `handle` names (rules match canonical paths;
/// a root given through a symlink is held as its target).
fn canonical(handle: &OwnedFd, fallback: &[u8]) -> Vec<u8> {
    fs::fd_path(handle.as_fd()).unwrap_or_else(|_| fallback.to_vec())
}

/// The interpreter the kernel will execute for the program behind
/// `program` (an `O_PATH` handle), as a canonical path, when it lies
/// outside `roots`: Landlock will refuse the exec with EACCES, which the
/// tree would otherwise see with no report. Reads the first bytes as the
/// caller: a `#!` line or an ELF `PT_INTERP`. `None` when the interpreter
/// is allowed, absent, or unreadable (the kernel then decides alone).
pub fn interpreter_outside(roots: &[Vec<u8>], program: &OwnedFd) -> Option<Vec<u8>> {
    let file = fs::openat2(
        None,
        fs::proc_self_fd(program.as_fd()).as_bytes(),
        (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
        0,
        0,
    )
    .ok()?;
    let mut head = vec![0u8; 4096];
    let n = crate::sys::process::read_fd(file.as_fd(), &mut head).ok()?;
    head.truncate(n);
    let named = script_interpreter(&head).or_else(|| elf_interpreter(&head))?;
    let handle = open_path(&named).ok()?;
    let interpreter = canonical(&handle, &named);
    (!roots.iter().any(|r| in_hierarchy(r, &interpreter))).then_some(interpreter)
}

/// The interpreter of a `#!` line (binfmt_script: blanks, then the path up
/// to the next blank or the end of the line).
fn script_interpreter(head: &[u8]) -> Option<Vec<u8>> {
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let start = line.iter().position(|&b| b != b' ' && b != b'\t')?;
    let rest = &line[start..];
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(rest.len());
    Some(rest[..end].to_vec())
}

/// `hierarchy`, or its nearest ancestor that exists now: a build directory
/// named by a rule may be created later, and a wider hierarchy only leaves
/// more to the notified check, where a narrower one would break allowed
/// execs. `/` always exists.
fn open_nearest(hierarchy: &[u8]) -> (Vec<u8>, OwnedFd) {
    let mut path = hierarchy.to_vec();
    loop {
        if let Ok(handle) = open_path(&path) {
            return (canonical(&handle, &path), handle);
        }
        match path.iter().rposition(|&b| b == b'/') {
            Some(0) | None => path = b"/".to_vec(),
            Some(i) => path.truncate(i),
        }
    }
}

/// The PT_INTERP of the ELF file at `path`, if it has one.
fn elf_interpreter_of(path: &[u8]) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let file = std::fs::File::open(std::ffi::OsStr::from_bytes(path)).ok()?;
    let mut head = Vec::new();
    file.take(64 * 1024).read_to_end(&mut head).ok()?;
    elf_interpreter(&head)
}

/// The interpreter named by the PT_INTERP program header of a 64-bit
/// little-endian ELF image (its first bytes suffice when they hold the
/// program headers and the name).
pub fn elf_interpreter(image: &[u8]) -> Option<Vec<u8>> {
    const PT_INTERP: u32 = 3;
    if image.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(image.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(image.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| {
        let bytes = image.get(at..at + 8)?.try_into().ok()?;
        usize::try_from(u64::from_le_bytes(bytes)).ok()
    };
    let (phoff, phentsize, phnum) = (u64_at(0x20)?, usize::from(u16_at(0x36)?), u16_at(0x38)?);
    (0..usize::from(phnum)).find_map(|i| {
        let header = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(header)? != PT_INTERP {
            return None;
        }
        let (offset, size) = (u64_at(header + 8)?, u64_at(header + 32)?);
        let name = image.get(offset..offset.checked_add(size)?)?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        Some(name[..end].to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with one PT_INTERP program header naming `interp`.
    fn image(interp: &[u8]) -> Vec<u8> {
        let mut image = vec![0u8; 0x40 + 0x38];
        image[..6].copy_from_slice(b"\x7fELF\x02\x01");
        image[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes());
        image[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes());
        image[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let offset = image.len() as u64;
        image[0x40..0x44].copy_from_slice(&3u32.to_le_bytes());
        image[0x48..0x50].copy_from_slice(&offset.to_le_bytes());
        image[0x60..0x68].copy_from_slice(&(interp.len() as u64 + 1).to_le_bytes());
        image.extend_from_slice(interp);
        image.push(0);
        image
    }

    #[test]
    fn pt_interp_is_read_from_the_program_headers() {
        let name = b"/lib64/ld-linux-x86-64.so.2";
        assert_eq!(elf_interpreter(&image(name)), Some(name.to_vec()));
    }

    #[test]
    fn scripts_and_truncated_images_have_no_elf_interpreter() {
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), None);
        let whole = image(b"/lib/ld.so");
        assert_eq!(elf_interpreter(&whole[..0x50]), None);
    }

    fn commands(rules: &[&str]) -> Vec<Command> {
        let parse = |r: &&str| crate::policy::parse_rule(r.as_bytes()).unwrap();
        rules.iter().map(parse).collect()
    }

    #[test]
    fn commands_that_widen_exec_beyond_the_roots_are_refused() {
        let mut policy = Policy::new();
        for c in commands(&["sandbox/exec:on", "allow/exec+/usr/bin/***"]) {
            policy.apply(&c).unwrap();
        }
        let roots = [b"/usr/bin".to_vec()];
        let refused = |rules: &[&str]| refusal(&roots, &policy, &commands(rules));
        assert!(refused(&["allow/exec+/opt/***"]).is_some());
        assert!(refused(&["sandbox/exec:off"]).is_some());
        assert!(refused(&["default/exec:warn"]).is_some());
        assert_eq!(refused(&["allow/exec+/usr/bin/gcc-*"]), None);
        assert_eq!(refused(&["deny/exec+/usr/bin/curl"]), None);
        assert_eq!(refused(&["allow/write+/opt/***"]), None);
    }

    #[test]
    fn script_interpreter_is_the_first_word_of_the_hashbang_line() {
        let word = |head: &[u8]| script_interpreter(head);
        assert_eq!(word(b"#!/bin/sh\necho"), Some(b"/bin/sh".to_vec()));
        assert_eq!(
            word(b"#! \t/usr/bin/env python3\n"),
            Some(b"/usr/bin/env".to_vec())
        );
        assert_eq!(word(b"#!\n"), None);
        assert_eq!(word(b"\x7fELF"), None);
    }

    #[test]
    fn nearest_existing_ancestor_stands_for_a_missing_hierarchy() {
        let (root, _) = open_nearest(b"/proc/1/no/such/dir");
        assert_eq!(root, b"/proc/1");
        let (root, _) = open_nearest(b"/no-such-top-level-dir");
        assert_eq!(root, b"/");
    }
}
