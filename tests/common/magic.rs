//! Helpers for the in-sandbox command tests (tests/magic.rs, tests/sydbox.rs):
//! a Python prelude that sends commands by exact system calls and reports
//! what the caller sees, and the shell helper library.
//!
//! The Python code sees `D` (bytes, `sys.argv[1]` or empty) and `P(name)` for
//! names inside it, and these functions, each returning `'ok'` or the
//! errno's name (e.g. `'EBUSY'`):
//!
//! - `send(rule, how='stat', prefix=b'/dev/stockade/')`: one command, by
//!   `how` (stat, lstat, newfstatat, statx, access, faccessat, faccessat2),
//!   made as the raw system call;
//! - `write(path)`: open for writing, creating;
//! - `bind(host, port)`, `connect(host, port)`: on a fresh TCP socket;
//!
//! and `say(*words)`, which prints one line and flushes.
#![allow(dead_code)]

use crate::common::{argv, python, stockade};
use crate::support::{TIMEOUT, output_within};
use std::process::{Command, Output};

pub const PRELUDE: &str = r#"
import ctypes, errno, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
AT_FDCWD = -100
D = os.fsencode(sys.argv[1]) if len(sys.argv) > 1 else b''
def P(name):
    return D + b'/' + os.fsencode(name)
BUF = ctypes.create_string_buffer(512)
CALLS = {
    'stat': lambda p: (4, p, BUF),
    'lstat': lambda p: (6, p, BUF),
    'access': lambda p: (21, p, L(0)),
    'newfstatat': lambda p: (262, L(AT_FDCWD), p, BUF, L(0)),
    'faccessat': lambda p: (269, L(AT_FDCWD), p, L(0)),
    'statx': lambda p: (332, L(AT_FDCWD), p, L(0), L(0x7ff), BUF),
    'faccessat2': lambda p: (439, L(AT_FDCWD), p, L(0), L(0)),
}
def _name(e):
    return errno.errorcode.get(e, str(e))
def send(rule, how='stat', prefix=b'/dev/stockade/'):
    if isinstance(rule, str):
        rule = os.fsencode(rule)
    nr, *args = CALLS[how](prefix + rule)
    ctypes.set_errno(0)
    r = libc.syscall(L(nr), *args)
    return 'ok' if r == 0 else _name(ctypes.get_errno())
def write(path):
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        return 'ok'
    except OSError as e:
        return _name(e.errno)
def _sock(op, host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        getattr(s, op)((host, port))
        return 'ok'
    except OSError as e:
        return _name(e.errno)
    finally:
        s.close()
def bind(host, port):
    return _sock('bind', host, port)
def connect(host, port):
    return _sock('connect', host, port)
def say(*words):
    print(*words, flush=True)
"#;

/// The magic path that sends `rule` natively.
pub fn magic(rule: &str) -> String {
    format!("/dev/stockade/{rule}")
}

/// argv for `python -B -c PRELUDE+CODE ARGS...` (-B: never write bytecode).
pub fn py_argv(code: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec![
        python().to_string(),
        "-B".to_string(),
        "-c".to_string(),
        format!("{PRELUDE}\n{code}"),
    ];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// `stockade ARGS -- COMMAND`, bounded by [`TIMEOUT`].
pub fn sandboxed(args: &[&str], command: &[&str]) -> Output {
    let mut cmd = stockade(args);
    cmd.arg("--").args(command);
    output_within(cmd, TIMEOUT)
}

/// COMMAND without stockade, bounded by [`TIMEOUT`]: the control run.
pub fn bare(command: &[&str]) -> Output {
    let mut cmd = Command::new(command[0]);
    cmd.args(&command[1..]);
    output_within(cmd, TIMEOUT)
}

/// Runs the Python `code` (after [`PRELUDE`]) under stockade with `args`.
pub fn sandboxed_py(args: &[&str], code: &str, py_args: &[&str]) -> Output {
    sandboxed(args, &argv(&py_argv(code, py_args)))
}

/// Runs the Python `code` (after [`PRELUDE`]) without stockade.
pub fn bare_py(code: &str, py_args: &[&str]) -> Output {
    bare(&argv(&py_argv(code, py_args)))
}

/// The in-sandbox helper library, `share/stockade.sh`.
pub fn helper_lib() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/share/stockade.sh")
}

/// Whether stockade reported refusing the in-sandbox command `rule`, with a
/// reason containing `why` on the same line.
pub fn refusal_reported(err: &str, rule: &str, why: &str) -> bool {
    err.lines().any(|l| {
        l.contains(&format!("in-sandbox command {rule} from pid"))
            && l.contains("refused")
            && l.contains(why)
    })
}
