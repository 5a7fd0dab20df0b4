//! New user namespaces: `clone` and `unshare` with CLONE_NEWUSER, and
//! `setns` (fd 0, nstype 1). The filter sends them only while a rule does
//! not allow user namespaces from the start; the decision rests on
//! registers alone, so an allowed call continues in the kernel without a
//! race (no other thread can change a stopped thread's registers).
//!
//! Inside a user namespace of its own a process holds every capability
//! there. stockade lends none of them to the calls it performs, but
//! whatever it does not emulate would see a root-like process, so they are
//! refused unless `trace/allow_user_namespace:on`.

use crate::supervise::call::{Call, Reply, Step};
use crate::sys::Errno;

const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;

/// clone(2), unshare(2) with CLONE_NEWUSER.
pub fn new_namespace(call: &Call) -> Step<Reply> {
    let flags = call.arg(0);
    if flags & CLONE_NEWUSER == 0 {
        // The filter sends only CLONE_NEWUSER; anything else is the
        // kernel's own business.
        return Ok(Reply::ContinueRacy);
    }
    decide(call, describe_flags(flags))
}

/// setns(2): refused only where it may enter a user namespace, that is when
/// `nstype` is 0 (any type: the kernel goes by the descriptor) or holds
/// CLONE_NEWUSER (a pidfd's set of namespaces, or a user namespace fd).
pub fn setns(call: &Call) -> Step<Reply> {
    let nstype = call.arg(1) as u32 as u64;
    if nstype != 0 && nstype & CLONE_NEWUSER == 0 {
        return Ok(Reply::ContinueRacy);
    }
    decide(call, format!("{}, {}", call.int(0), describe_flags(nstype)))
}

fn decide(call: &Call, args: String) -> Step<Reply> {
    if call.shared.policy().allows_user_namespace() {
        // No race: the flags are in registers, which the kernel uses as
        // they are now.
        return Ok(Reply::ContinueRacy);
    }
    Err(call.refuse(
        "namespace",
        args,
        "new user namespaces are refused",
        Some("trace/allow_user_namespace:on"),
        Errno(libc::EPERM),
    ))
}

/// The namespace flags by name, the rest as a number.
fn describe_flags(flags: u64) -> String {
    const NAMES: [(i32, &str); 8] = [
        (libc::CLONE_NEWUSER, "CLONE_NEWUSER"),
        (libc::CLONE_NEWNS, "CLONE_NEWNS"),
        (libc::CLONE_NEWPID, "CLONE_NEWPID"),
        (libc::CLONE_NEWNET, "CLONE_NEWNET"),
        (libc::CLONE_NEWUTS, "CLONE_NEWUTS"),
        (libc::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (libc::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
        (0x80, "CLONE_NEWTIME"),
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut rest = flags;
    for (bit, name) in NAMES {
        if flags & bit as u64 != 0 {
            parts.push(name.to_string());
            rest &= !(bit as u64);
        }
    }
    if rest != 0 || parts.is_empty() {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named() {
        assert_eq!(
            describe_flags((libc::CLONE_NEWUSER | libc::SIGCHLD) as u64),
            "CLONE_NEWUSER|0x11"
        );
        assert_eq!(describe_flags(0), "0x0");
    }
}
