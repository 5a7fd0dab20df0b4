//! Issue 8, red team: ways out found by attacking the closed classes again
//! as a build inside the sandbox would. Each attack is paired with the same
//! action succeeding without stockade.

mod common;

use common::*;
use std::process::Command;

/// Python that runs `argv` (from its own argv) on a new pseudo-terminal
/// whose slave is its controlling terminal, then, as a process outside the
/// sandbox on that same terminal, reads what the terminal's input holds
/// (waiting up to 5 seconds) and prints it as `GOT:<line>`. Everything the
/// terminal showed is printed too.
const ON_A_TERMINAL: &str = r#"
import os, pty, select, sys
reader = "import os, select; r = select.select([0], [], [], 5)[0]; print('GOT:' + (os.read(0, 200).decode() if r else ''))"
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", 'r="$1"; shift; "$@"; exec "$0" -c "$r"', sys.executable, reader] + sys.argv[1:])
out = b""
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    out += data
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
"#;

/// Python that pushes `touch /tmp/pwned` and a newline into its terminal's
/// input queue with ioctl(TIOCSTI), as if typed, and prints the result.
const TYPE_INTO_TERMINAL: &str = r#"
import fcntl, termios
try:
    for c in b"touch /tmp/pwned\n":
        fcntl.ioctl(0, termios.TIOCSTI, bytes([c]))
    print("INJECT:ok")
except OSError as e:
    print("INJECT:errno", e.errno)
"#;

fn on_a_terminal(command: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(ON_A_TERMINAL)
        .args(command)
        .output()
        .expect("python3 runs");
    stdout(&out)
}

fn tiocsti_works() -> bool {
    std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti")
        .map(|v| v.trim() == "1")
        .unwrap_or(true)
        || is_root()
}

#[test]
fn typing_into_the_outside_shells_terminal_is_refused_issue8() {
    // The sandboxed command shares the terminal of the shell that started
    // stockade. TIOCSTI queues input on it; once stockade exits, that shell
    // reads the bytes as a command typed by its user, outside the sandbox.
    if skip_unless(
        tiocsti_works(),
        "TIOCSTI is disabled on this kernel (dev.tty.legacy_tiocsti = 0)",
    ) {
        return;
    }
    let typist = [python(), "-c", TYPE_INTO_TERMINAL];
    let bare = on_a_terminal(&typist);
    assert!(
        bare.contains("INJECT:ok") && bare.contains("GOT:touch /tmp/pwned"),
        "without stockade the typed line should reach the reader outside:\n{bare}"
    );

    let mut inside = vec![stockade_bin(), "--"];
    inside.extend_from_slice(&typist);
    let out = on_a_terminal(&inside);
    assert!(
        out.contains(&format!("INJECT:errno {}", libc::EPERM)),
        "TIOCSTI should fail with EPERM under stockade:\n{out}"
    );
    assert!(
        !out.contains("GOT:touch"),
        "the typed line reached the shell outside:\n{out}"
    );
    assert!(out.contains("GOT:"), "the reader never ran:\n{out}");
}
