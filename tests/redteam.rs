//! Issue 8, red team: ways out found by attacking the closed classes again
//! as a build inside the sandbox would. Each attack is paired with the same
//! action succeeding without stockade.

mod common;
#[path = "common/swap.rs"]
mod swap;

use common::*;
use std::process::{Command, Output, Stdio};
use swap::Swapper;

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

/// /usr/bin/python3 that puts a `#!/usr/bin/sh` script writing `marker`
/// into a memfd on descriptor 3, then has bash exec `link` up to 2000 times
/// or for 10 seconds (stopping once `marker` exists), printing how many
/// execs succeeded. `link` is swapped between `/usr/bin/true` and
/// `/proc/self/fd/3`: the memfd of the exec'ing process.
fn memfd_exec_loop(link: &str, marker: &str) -> Vec<String> {
    let bash = format!(
        "ok=0; i=0; while [ $i -lt 2000 ] && [ $SECONDS -lt 10 ] && [ ! -e {marker:?} ]; do \
         {link:?} 2>/dev/null && ok=$((ok+1)); i=$((i+1)); done; echo $ok"
    );
    let code = format!(
        "import os
fd = os.memfd_create('payload', 0)
os.write(fd, b'#!/usr/bin/sh\\n: > {marker}\\n')
os.dup2(fd, 3)
os.execv('/usr/bin/bash', ['bash', '-c', {bash:?}])
"
    );
    ["/usr/bin/python3", "-c", &code].map(String::from).to_vec()
}

fn landlock_or_skip(rules: &[&str]) -> bool {
    let mut args = rules.to_vec();
    args.push("--");
    args.push("/usr/bin/true");
    let out = Command::new(stockade_bin()).args(args).output().unwrap();
    !skip_unless(
        !stderr(&out).contains("Landlock is not available"),
        "this kernel has no Landlock",
    )
}

#[test]
fn memfd_swapped_in_after_the_exec_check_never_runs_issue8() {
    // Landlock's execute right lets every access to the kernel's internal
    // mounts through, and a memfd lives on one. A symlink that names an
    // allowed program when checked and /proc/self/fd/N of a memfd when the
    // kernel reads it again ran any program the build wrote there.
    let rules = ["-m", "sandbox/exec:on", "-m", "allow/exec+/usr/bin/***"];
    if skip_unless(
        std::path::Path::new("/usr/bin/python3").exists(),
        "no /usr/bin/python3",
    ) || !landlock_or_skip(&rules)
    {
        return;
    }
    let s = Scratch::new("redteam-memfd");
    let marker = s.path("marker");
    let (a, b) = (s.path("a"), s.path("b"));
    std::os::unix::fs::symlink("/usr/bin/true", &a).unwrap();
    std::os::unix::fs::symlink("/proc/self/fd/3", &b).unwrap();

    let swapper = Swapper::start(&a, &b);
    let command = memfd_exec_loop(&a, &marker);
    let mut args = rules.to_vec();
    args.push("--");
    args.extend(argv(&command));
    let out: Output = Command::new(stockade_bin()).args(args).output().unwrap();
    drop(swapper);
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the program in the memfd ran under stockade; stderr:\n{}",
        stderr(&out)
    );
    let allowed_runs: u32 = stdout(&out)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a count: {}", stderr(&out)));
    assert!(
        allowed_runs > 0,
        "the allowed program never ran: the loop tested nothing"
    );

    // The same race without stockade runs the memfd's program.
    let swapper = Swapper::start(&a, &b);
    let out = run_bare(&argv(&command));
    drop(swapper);
    assert!(
        std::path::Path::new(&marker).exists(),
        "without stockade the memfd's program should have run: {}",
        stdout(&out)
    );
}

#[test]
fn memfd_under_exec_rules_still_holds_data_and_its_flags() {
    // What builds use memfds for (shared buffers, sealed data) keeps
    // working: only execution is taken away.
    let rules = ["-m", "sandbox/exec:on", "-m", "allow/exec+/usr/bin/***"];
    if skip_unless(
        std::path::Path::new("/usr/bin/python3").exists(),
        "no /usr/bin/python3",
    ) || !landlock_or_skip(&rules)
    {
        return;
    }
    let code = "import os, fcntl
fd = os.memfd_create('buf', os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
os.write(fd, b'data')
os.lseek(fd, 0, 0)
cloexec = fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE)
print(os.read(fd, 4).decode(), cloexec, os.readlink('/proc/self/fd/%d' % fd))";
    let mut args = rules.to_vec();
    args.extend(["--", "/usr/bin/python3", "-c", code]);
    let out = Command::new(stockade_bin()).args(args).output().unwrap();
    let bare = run_bare(&["/usr/bin/python3", "-c", code]);
    assert_eq!(stdout(&bare), "data 1 /memfd:buf (deleted)\n");
    assert_eq!(stdout(&out), stdout(&bare), "{}", stderr(&out));
}

#[test]
fn typing_into_the_terminal_is_reported_under_write_checks_issue8() {
    if skip_unless(
        tiocsti_works(),
        "TIOCSTI is disabled on this kernel (dev.tty.legacy_tiocsti = 0)",
    ) {
        return;
    }
    let mut inside = vec![stockade_bin(), "-p", "paludis", "--"];
    inside.extend_from_slice(&[python(), "-c", TYPE_INTO_TERMINAL]);
    let out = on_a_terminal(&inside);
    assert!(
        out.contains(&format!("INJECT:errno {}", libc::EPERM)),
        "TIOCSTI should fail with EPERM under -p paludis:\n{out}"
    );
    assert!(
        out.contains("TIOCSTI") && out.contains("types into a terminal"),
        "the refusal should be reported:\n{out}"
    );
    assert!(!out.contains("GOT:touch"), "{out}");
}

/// /usr/bin/python3 that copies /usr/bin/touch into a shared anonymous
/// mapping (a shmem file on the kernel's internal mount), names it as
/// `/proc/self/map_files/START-END` in the symlink `b`, then forks and
/// execs `link` with `touch marker` up to 2000 times or for 10 seconds
/// (stopping once `marker` exists), printing how many execs succeeded.
/// Forked children keep the mapping at the same address.
const MAP_FILES_EXEC_LOOP: &str = r#"
import mmap, ctypes, os, sys, time
link, marker, b = sys.argv[1:4]
elf = open("/usr/bin/touch", "rb").read()
size = (len(elf) + 4095) & ~4095
m = mmap.mmap(-1, size)
m.write(elf)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
os.symlink("/proc/self/map_files/%x-%x" % (addr, addr + size), b)
ok, start = 0, time.time()
for i in range(2000):
    if os.path.exists(marker) or time.time() - start > 10:
        break
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(link, ["touch", marker])
        finally:
            os._exit(127)
    ok += os.waitpid(pid, 0)[1] == 0
print(ok)
"#;

#[test]
fn shared_mapping_swapped_in_after_the_exec_check_never_runs_issue8() {
    // Opening /proc/self/map_files needs CAP_SYS_ADMIN (or
    // CAP_CHECKPOINT_RESTORE) in the initial user namespace: a build
    // running as root, as CI builds do. While Landlock bounds exec, the tree
    // never holds either (landlock::CAPS_THAT_REACH_INTERNAL_FILES).
    let rules = ["-m", "sandbox/exec:on", "-m", "allow/exec+/usr/bin/***"];
    if skip_unless(is_root(), "needs root (map_files takes CAP_SYS_ADMIN)")
        || skip_unless(
            std::path::Path::new("/usr/bin/python3").exists(),
            "no /usr/bin/python3",
        )
        || !landlock_or_skip(&rules)
    {
        return;
    }
    let s = Scratch::new("redteam-map-files");
    let marker = s.path("marker");
    let (a, b) = (s.path("a"), s.path("b"));
    let attack = |under: bool| {
        let _ = std::fs::remove_file(&b);
        std::os::unix::fs::symlink("/usr/bin/true", &a).ok();
        let swapper = Swapper::start_when_ready(&a, &b);
        let loop_ = [
            "/usr/bin/python3",
            "-c",
            MAP_FILES_EXEC_LOOP,
            &a,
            &marker,
            &b,
        ];
        let out = if under {
            let mut args = rules.to_vec();
            args.push("--");
            args.extend_from_slice(&loop_);
            Command::new(stockade_bin()).args(args).output().unwrap()
        } else {
            run_bare(&loop_)
        };
        drop(swapper);
        let _ = std::fs::remove_file(&a);
        out
    };
    let out = attack(true);
    assert!(
        !std::path::Path::new(&marker).exists(),
        "a copy of touch ran from a shared mapping under stockade; stderr:\n{}",
        stderr(&out)
    );
    let allowed_runs: u32 = stdout(&out)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a count: {}", stderr(&out)));
    assert!(allowed_runs > 0, "the allowed program never ran");

    let out = attack(false);
    assert!(
        std::path::Path::new(&marker).exists(),
        "without stockade the copy should have run: {}",
        stdout(&out)
    );
}

/// Python that signals the process whose pid is `sys.argv[1]` with
/// SIGTERM through pidfd_send_signal(2) on a descriptor of its /proc/PID
/// directory (which the kernel takes as well as a pidfd), printing `ok` or
/// the errno.
const SIGNAL_THROUGH_PROC_DIR: &str = "import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open('/proc/' + sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
r = libc.syscall(ctypes.c_long(424), ctypes.c_long(fd), ctypes.c_long(15), None, ctypes.c_long(0))
print('ok' if r == 0 else 'errno %d' % ctypes.get_errno())";

#[test]
fn pidfd_send_signal_through_a_proc_dir_of_a_process_outside_is_refused_issue8() {
    // stockade read the target from the pidfd's fdinfo only; a /proc/PID
    // directory has none, so the call went on unseen. Landlock's signal
    // scope (Linux 6.12) refused it; older kernels delivered it.
    let mut victim = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = victim.id().to_string();
    let out = run(
        &["-m", "sandbox/write:on", "-m", "allow/write+/dev/null"],
        &[python(), "-c", SIGNAL_THROUGH_PROC_DIR, &pid],
    );
    assert_eq!(
        stdout(&out),
        format!("errno {}\n", libc::EPERM),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out)
            .lines()
            .any(|l| l.starts_with("stockade: denied process access: ")
                && l.contains("pidfd_send_signal(")
                && l.contains(&format!("pid {pid}"))),
        "{}",
        stderr(&out)
    );
    assert!(victim.try_wait().unwrap().is_none(), "the victim died");

    let control = run_bare(&[python(), "-c", SIGNAL_THROUGH_PROC_DIR, &pid]);
    assert_eq!(stdout(&control), "ok\n", "{}", stderr(&control));
    let status = victim.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15)
    );
}

#[test]
fn memfd_asked_executable_under_exec_rules_fails_with_eacces() {
    // MFD_EXEC asks for exactly what the exec rules cannot bound; the
    // kernel answers EACCES the same way under vm.memfd_noexec = 2.
    let rules = ["-m", "sandbox/exec:on", "-m", "allow/exec+/usr/bin/***"];
    if skip_unless(
        std::path::Path::new("/usr/bin/python3").exists(),
        "no /usr/bin/python3",
    ) || !landlock_or_skip(&rules)
    {
        return;
    }
    let code = "import os
try:
    os.memfd_create('x', 0x10)
    print('ok')
except OSError as e:
    print('errno', e.errno)";
    let mut args = rules.to_vec();
    args.extend(["--", "/usr/bin/python3", "-c", code]);
    let out = Command::new(stockade_bin()).args(args).output().unwrap();
    assert_eq!(
        stdout(&out),
        format!("errno {}\n", libc::EACCES),
        "{}",
        stderr(&out)
    );
    let bare = run_bare(&["/usr/bin/python3", "-c", code]);
    assert_eq!(stdout(&bare), "ok\n", "{}", stderr(&bare));
}

/// The unprivileged test user (see tests/privileges.rs), made if missing.
fn test_user() -> &'static str {
    const USER: &str = "stockade-test";
    let exists = || {
        Command::new("id")
            .arg(USER)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !exists() {
        let out = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", USER])
            .output()
            .expect("useradd runs");
        assert!(out.status.success() || exists(), "{}", stderr(&out));
    }
    USER
}

/// Python that listens on the unix socket `sys.argv[1]`, takes one
/// connection and prints the peer's pid and that process's real uid, from
/// SO_PEERCRED and /proc, as `peer PID UID`.
const PEER_LISTENER: &str = "import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
pid = struct.unpack('3i', c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
uid = [l.split()[1] for l in open('/proc/%d/status' % pid) if l.startswith('Uid:')][0]
print('peer', pid, uid, flush=True)";

/// Connects to `sys.argv[1]` and prints `me PID UID`.
const PEER_CLIENT: &str = "import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print('me', os.getpid(), os.getuid(), flush=True)";

/// The listener's `peer` line and the client's `me` line, for a client
/// run through `client` (a command line ending in the client's argv).
fn peer_seen(sock: &str, client: &[&str]) -> (String, String) {
    use std::io::BufRead;
    let mut listener = Command::new(python())
        .args(["-c", PEER_LISTENER, sock])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(listener.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let out = Command::new(client[0]).args(&client[1..]).output().unwrap();
    let peer = lines.next().map(|l| l.unwrap()).unwrap_or_default();
    let _ = listener.wait();
    let me = stdout(&out)
        .lines()
        .find(|l| l.starts_with("me "))
        .unwrap_or_else(|| panic!("no client line: {}", stderr(&out)))
        .to_string();
    (peer, me)
}

#[test]
#[ignore = "escape: a unix connect stockade performs gives the peer stockade's pid \
            (a root process under a root stockade) in SO_PEERCRED, so a daemon that \
            authorizes by peer pid (polkit, SO_PEERPIDFD users) sees the supervisor"]
fn unix_peer_of_a_dropped_build_is_the_build_not_stockade_issue8() {
    if skip_unless(is_root(), "needs root to drop a build to a user") {
        return;
    }
    let user = test_user();
    let s = Scratch::new("redteam-peer");
    let sock = s.path("sock");
    std::fs::set_permissions(&s.dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let drop_user = [
        "setpriv",
        "--reuid",
        user,
        "--regid",
        user,
        "--clear-groups",
    ];
    let client = [python(), "-c", PEER_CLIENT, &sock];
    let peer_is_client = |(peer, me): (String, String)| {
        let me: Vec<&str> = me.split_whitespace().collect();
        let peer: Vec<&str> = peer.split_whitespace().collect();
        assert_eq!(me.len(), 3, "{me:?}");
        peer.get(1..3) == Some(&me[1..3])
    };
    let mut bare = drop_user.to_vec();
    bare.extend_from_slice(&client);
    assert!(
        peer_is_client(peer_seen(&sock, &bare)),
        "without stockade the peer is the client"
    );
    let _ = std::fs::remove_file(&sock);

    let rule = format!("allow/net/connect+{sock}");
    let mut inside = vec![stockade_bin(), "-m", "sandbox/net:on", "-m", &rule, "--"];
    inside.extend_from_slice(&drop_user);
    inside.extend_from_slice(&client);
    let seen = peer_seen(&sock, &inside);
    assert!(
        peer_is_client(seen.clone()),
        "the daemon outside saw another process as its peer: {seen:?}"
    );
}

/// Python that asks for `signal` (F_SETSIG) to be sent to process
/// `sys.argv[1]` when its pipe becomes readable (F_SETOWN, O_ASYNC), then
/// makes it readable: the kernel sends the signal on the caller's behalf.
const SIGNAL_BY_SIGIO: &str = "import fcntl, os, sys, time
r, w = os.pipe()
fcntl.fcntl(r, fcntl.F_SETOWN, int(sys.argv[1]))
fcntl.fcntl(r, 10, 15)
fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_ASYNC)
os.write(w, b'x')
time.sleep(0.5)
print('sent')";

#[test]
fn sigio_owner_outside_gets_no_signal_issue8() {
    // fcntl is not watched: only Landlock's signal scope (Linux 6.12)
    // keeps the kernel from signalling an owner outside the tree.
    let mut victim = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = victim.id().to_string();
    let out = run(&[], &[python(), "-c", SIGNAL_BY_SIGIO, &pid]);
    if skip_unless(
        !stderr(&out).contains("cannot keep"),
        "no Landlock signal scope: SIGIO reaches outside on this kernel (an escape)",
    ) {
        let _ = victim.kill();
        let _ = victim.wait();
        return;
    }
    assert_eq!(stdout(&out), "sent\n", "{}", stderr(&out));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(victim.try_wait().unwrap().is_none(), "the victim died");

    let control = run_bare(&[python(), "-c", SIGNAL_BY_SIGIO, &pid]);
    assert_eq!(stdout(&control), "sent\n");
    let status = victim.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15)
    );
}
