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
