//! A process outside the sandbox that swaps two symlinks, for the exec
//! race tests.
#![allow(dead_code)]

use crate::common::python;
use std::process::{Child, Command, Stdio};

/// A process outside the sandbox, sharing no memory with it, that swaps
/// the symlinks `a` and `b` with renameat2(RENAME_EXCHANGE) until killed.
pub struct Swapper(Child);

impl Swapper {
    /// Starts swapping at once; a failed exchange ends the swapper.
    pub fn start(a: &str, b: &str) -> Swapper {
        Swapper::spawn(a, b, false)
    }

    /// Starts swapping once `b` exists (the test makes it later), and goes
    /// on through failed exchanges.
    pub fn start_when_ready(a: &str, b: &str) -> Swapper {
        Swapper::spawn(a, b, true)
    }

    fn spawn(a: &str, b: &str, wait_for_b: bool) -> Swapper {
        let code = format!(
            "import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD, RENAME_EXCHANGE = -100, 2
a, b = {a:?}.encode(), {b:?}.encode()
while {wait} and not os.path.lexists(b):
    time.sleep(0.01)
while True:
    if libc.syscall(316, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0 and not {wait}:
        raise OSError(ctypes.get_errno(), 'renameat2')
",
            wait = if wait_for_b { "True" } else { "False" },
        );
        let child = Command::new(python())
            .args(["-c", &code])
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 runs");
        Swapper(child)
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
