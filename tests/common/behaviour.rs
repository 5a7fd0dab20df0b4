//! Helpers for the behaviour tests that need more than `run`: bounded waits,
//! signals sent from outside, and whether a process is still alive.
#![allow(dead_code)]

use crate::common::Scratch;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Long enough for a slow CI machine, short enough that a stalled sandbox
/// fails the test instead of hanging the suite.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Starts `cmd` with piped stdout and stderr.
pub fn spawn_piped(mut cmd: Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stockade starts")
}

/// Waits for `child` to finish, at most `timeout`. On timeout it is killed
/// with SIGKILL and `None` returned, so a hang becomes a test failure.
pub fn wait_with_timeout(child: Child, timeout: Duration) -> Option<Output> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => Some(output.expect("wait for stockade")),
        Err(_) => {
            send_signal(pid, "KILL");
            // Let the waiter reap it, so no zombie outlives the test.
            let _ = rx.recv_timeout(Duration::from_secs(5));
            None
        }
    }
}

/// Runs `cmd` to completion, failing the test if it takes longer than
/// `timeout`.
pub fn output_within(cmd: Command, timeout: Duration) -> Output {
    wait_with_timeout(spawn_piped(cmd), timeout)
        .unwrap_or_else(|| panic!("did not finish within {timeout:?}; killed"))
}

/// Sends signal `name` (as `kill -NAME` spells it) to `pid`. Uses kill(1)
/// so the tests need no unsafe code.
pub fn send_signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .expect("kill(1) runs");
    let _ = status;
}

/// Polls until `path` exists; false if it did not appear within `timeout`.
pub fn wait_for_file(path: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if Path::new(path).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Path::new(path).exists()
}

/// Whether `pid` is a live process. A zombie counts as dead: it has exited,
/// and only its parent's reaping (init's, in some containers never) is left.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised comm, which may contain spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Reads a pid written by a shell (`echo $! > FILE`).
pub fn read_pid(path: &str) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("pid file {path}: {e}"))
        .trim()
        .parse()
        .expect("a pid")
}

pub fn exists(path: &str) -> bool {
    Path::new(path).exists()
}

/// A script that opens each argument for writing (O_WRONLY|O_CREAT) and
/// prints one line per path: `written`, or `denied ERRNO` with the errno's
/// name. Arguments go through `os.fsencode`, so non-UTF-8 names survive.
pub const WRITE_PROBE: &str = "\
import errno, os, sys
for arg in sys.argv[1:]:
    try:
        os.close(os.open(os.fsencode(arg), os.O_WRONLY | os.O_CREAT, 0o644))
        print('written')
    except OSError as e:
        print('denied', errno.errorcode[e.errno])
    sys.stdout.flush()
";

/// Writes `code` to `name` in the scratch directory (setup happens outside
/// the sandbox) and returns the script's path.
pub fn script(s: &Scratch, name: &str, code: &str) -> String {
    let path = s.path(name);
    std::fs::write(&path, code).unwrap();
    path
}

/// The write probe saved in `s`.
pub fn write_probe(s: &Scratch) -> String {
    script(s, "probe.py", WRITE_PROBE)
}
