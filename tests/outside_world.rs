//! What the world around stockade does to it: a stderr whose reader went
//! away, a full disk under `--log`, closed descriptors (issue 9, Crashes),
//! and the process state COMMAND inherits through stockade as through exec
//! (issue 9, Inherited process state).

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A command that makes one denied write (quietly) and exits 3.
fn violation(s: &Scratch) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("touch {} 2>/dev/null; exit 3", s.path("denied")),
    ]
}

/// Waits up to 20 s for `path` to hold `text` (a reader finishing after us).
fn wait_for_text(path: &str, text: &str) -> String {
    let start = Instant::now();
    loop {
        let got = std::fs::read_to_string(path).unwrap_or_default();
        if got.contains(text) || start.elapsed() > Duration::from_secs(20) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// --- crashes ---------------------------------------------------------------------

#[test]
fn stderr_to_a_process_substitution_keeps_the_command_status_issue9() {
    // bash starts `tee` as a child of the process that then execs stockade:
    // stockade once killed it with the tree, and the summary's write to the
    // broken stderr panicked (exit 101).
    if skip_unless(
        Command::new("bash").arg("-c").arg("true").status().is_ok(),
        "bash is needed for a process substitution",
    ) {
        return;
    }
    let s = Scratch::new("world-procsubst");
    let log = s.path("log");
    let script = format!(
        "'{}' -p paludis -- sh -c '{}' 2> >(tee {log} >/dev/null)",
        stockade_bin(),
        violation(&s)[2]
    );
    let status = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3), "{script}");
    let got = wait_for_text(&log, "stockade: 1 violation");
    assert!(got.contains("denied write access"), "{got}");
    assert!(
        got.contains("stockade: 1 violation"),
        "the summary arrives: {got}"
    );
}

#[test]
fn stderr_pipe_whose_reader_exited_keeps_the_command_status_issue9() {
    let s = Scratch::new("world-epipe");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = stockade(&["-p", "paludis", "--"])
        .args(violation(&s))
        .stdout(Stdio::null())
        .stderr(Stdio::from(writer))
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(3));
}

#[test]
fn closed_stderr_keeps_the_command_status_issue9() {
    let s = Scratch::new("world-closed");
    let script = format!(
        "exec 2>&-; exec '{}' -p paludis -- {}",
        stockade_bin(),
        violation(&s)
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert_eq!(status.code(), Some(3), "{script}");
}

#[test]
fn log_on_a_full_disk_keeps_the_command_status_issue9() {
    // /dev/full fails every write with ENOSPC, as a full disk does.
    let s = Scratch::new("world-full");
    let out = run(
        &["-p", "paludis", "--log", "/dev/full"],
        &argv(&violation(&s)),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("stockade: 1 violation"));
}

#[test]
fn printed_profile_into_a_closed_pipe_does_not_panic_issue9() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = stockade(&["-p", "paludis", "--print-profile"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

// --- inherited process state -----------------------------------------------------

/// Runs `reporter` twice from a Python that first runs `setup` and then
/// execs: once directly, once as `stockade -- reporter`. Returns both
/// outputs; stockade must hand COMMAND the state it was given, as exec(2)
/// hands it on.
fn state_both_ways(setup: &str, reporter: &[&str]) -> (String, String) {
    let code = format!(
        "import os, resource, signal, sys\n{setup}\nos.execvp(sys.argv[1], sys.argv[1:])\n"
    );
    let through = |prefix: &[&str]| {
        let out = Command::new(python())
            .arg("-c")
            .arg(&code)
            .args(prefix)
            .args(reporter)
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}: {}", prefix, stderr(&out));
        stdout(&out)
    };
    (through(&[]), through(&[stockade_bin(), "--"]))
}

/// The bit set of the `field` line (SigIgn, SigBlk) of a /proc status text.
fn signal_bits(status: &str, field: &str) -> u64 {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:\t")))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

/// Bit of signal `n` in a /proc signal set.
fn bit(n: i32) -> u64 {
    1 << (n - 1)
}

/// The signal lines of /proc/self/status, as the command sees them.
const SIGNAL_STATE: [&str; 4] = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"];

#[test]
fn ignored_signals_stay_ignored_in_the_command_issue9() {
    // nohup ignores SIGHUP; a shell's `trap '' PIPE` ignores SIGPIPE.
    let (native, inside) = state_both_ways(
        "for s in (signal.SIGHUP, signal.SIGPIPE, signal.SIGUSR2):\n    signal.signal(s, signal.SIG_IGN)",
        &SIGNAL_STATE,
    );
    let wanted = bit(libc::SIGHUP) | bit(libc::SIGPIPE) | bit(libc::SIGUSR2);
    assert_eq!(signal_bits(&native, "SigIgn") & wanted, wanted, "{native}");
    assert_eq!(inside, native);
}

#[test]
fn default_and_handled_signals_are_default_in_the_command_issue9() {
    // Python handles SIGINT and ignores SIGPIPE and SIGXFSZ; with those put
    // back to default and SIGINT's handler left in place, nothing is
    // ignored after exec. stockade's own runtime ignores SIGPIPE: the
    // command must not.
    let (native, inside) = state_both_ways(
        "for s in (signal.SIGPIPE, signal.SIGXFSZ):\n    signal.signal(s, signal.SIG_DFL)",
        &SIGNAL_STATE,
    );
    let common = bit(libc::SIGINT) | bit(libc::SIGPIPE) | bit(libc::SIGXFSZ);
    assert_eq!(signal_bits(&native, "SigIgn") & common, 0, "{native}");
    assert_eq!(inside, native);
}

#[test]
fn blocked_signal_mask_reaches_the_command_issue9() {
    // stockade blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD for itself; the
    // command gets the mask stockade was given, no more, no less.
    let (native, inside) = state_both_ways(
        "signal.pthread_sigmask(signal.SIG_SETMASK, {signal.SIGUSR1, signal.SIGTERM, signal.SIGWINCH})",
        &SIGNAL_STATE,
    );
    let wanted = bit(libc::SIGUSR1) | bit(libc::SIGTERM) | bit(libc::SIGWINCH);
    assert_eq!(signal_bits(&native, "SigBlk"), wanted, "{native}");
    assert_eq!(inside, native);
}

#[test]
fn umask_reaches_the_command() {
    let (native, inside) = state_both_ways("os.umask(0o027)", &["sh", "-c", "umask"]);
    assert_eq!(native.trim(), "0027");
    assert_eq!(inside, native);
}

#[test]
fn resource_limits_reach_the_command() {
    let (native, inside) = state_both_ways(
        "resource.setrlimit(resource.RLIMIT_NOFILE, (200, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n\
         resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n\
         resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, resource.RLIM_INFINITY))",
        &["cat", "/proc/self/limits"],
    );
    assert!(
        native
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 200 ")),
        "{native}"
    );
    assert_eq!(inside, native);
}

#[test]
fn nice_level_reaches_the_command() {
    let (native, inside) = state_both_ways("os.nice(7)", &["nice"]);
    assert!(native.trim().parse::<i32>().unwrap() >= 7, "{native}");
    assert_eq!(inside, native);
}

#[test]
fn environment_reaches_the_command() {
    let (native, inside) = state_both_ways(
        "os.environ['STOCKADE_TEST_ODD'] = 'a b\\x01c=d'\nos.environ.pop('HOME', None)",
        &["env", "-0"],
    );
    assert!(
        native.contains("STOCKADE_TEST_ODD=a b\u{1}c=d\0"),
        "{native:?}"
    );
    assert_eq!(inside, native);
}

#[test]
fn open_descriptors_reach_the_command() {
    // fd 7 on a file and fd 9 a pipe's write end, inheritable; fd 8 closed.
    let s = Scratch::new("world-fds");
    let file = s.path("seven");
    std::fs::write(&file, "x").unwrap();
    let setup = format!(
        "fd = os.open('{file}', os.O_RDONLY)\nos.dup2(fd, 7)\nos.close(fd)\n\
         r, w = os.pipe()\nos.dup2(w, 9)\nos.close(r)\nos.close(w)"
    );
    let (native, inside) = state_both_ways(
        &setup,
        &[
            "sh",
            "-c",
            "ls /proc/self/fd; readlink /proc/self/fd/7; test -e /proc/self/fd/9 && echo nine",
        ],
    );
    assert!(
        native.contains(&file) && native.contains("nine"),
        "{native}"
    );
    assert_eq!(inside, native);
}
