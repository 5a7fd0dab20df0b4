//! The unprivileged test user (`stockade-test`), for tests where stockade
//! runs as root and the sandboxed build drops to a user, as a package
//! manager's does. Creating the user needs root; callers check `is_root`.
#![allow(dead_code)]

use crate::common::{Scratch, stderr, stdout};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::OnceLock;

pub const USER: &str = "stockade-test";

/// The test user's uid and gid, creating the user (no home, /bin/sh) if
/// missing. A concurrent `useradd` from another test is tolerated: the
/// user existing afterwards is all that counts.
pub fn test_user() -> (u32, u32) {
    static IDS: OnceLock<(u32, u32)> = OnceLock::new();
    *IDS.get_or_init(|| {
        let id = |flag: &str| {
            Command::new("id")
                .args([flag, USER])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| stdout(&o).trim().parse::<u32>().expect("a number"))
        };
        if id("-u").is_none() {
            let out = Command::new("useradd")
                .args(["-M", "-s", "/bin/sh", USER])
                .output()
                .expect("useradd runs");
            assert!(
                out.status.success() || id("-u").is_some(),
                "{}",
                stderr(&out)
            );
        }
        (id("-u").unwrap(), id("-g").unwrap())
    })
}

/// `setpriv` arguments that drop to the test user for good, then COMMAND.
pub fn as_user(command: &[&str]) -> Vec<String> {
    test_user();
    let mut v: Vec<String> = vec![
        "setpriv".into(),
        format!("--reuid={USER}"),
        format!("--regid={USER}"),
        "--clear-groups".into(),
    ];
    v.extend(command.iter().map(|a| a.to_string()));
    v
}

/// A scratch dir anyone may write (sticky, like /tmp), so that the test user
/// can create files in it.
pub fn shared_scratch(name: &str) -> Scratch {
    let s = Scratch::new(name);
    std::fs::set_permissions(&s.dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    s
}

/// The system's Python, which the test user can run (root's may live in a
/// home directory the user cannot enter).
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";
