//! End-to-end behaviour of a sandboxed run: exit status, the whole process
//! tree under supervision (grandchildren, orphans, threads), descendants at
//! exit, signal forwarding, blocking opens, odd path bytes, the paludis
//! profile and the report channels (stderr, JSON log, filter, warn).
//!
//! Every security test runs the same action without stockade too, to show it
//! would have succeeded: a denial the test sees is the sandbox's doing.

mod common;
#[path = "common/behaviour.rs"]
mod support;

use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

/// Write checks on, writes allowed under SCRATCH/in (created) and to
/// /dev/null (for shell redirections).
fn write_policy(s: &Scratch) -> [String; 6] {
    std::fs::create_dir_all(s.path("in")).unwrap();
    [
        "-m".into(),
        "sandbox/write:on".into(),
        "-m".into(),
        s.allow_write("in"),
        "-m".into(),
        "allow/write+/dev/null".into(),
    ]
}

/// The scratch directory itself, without a trailing slash.
fn dir_of(s: &Scratch) -> String {
    s.dir.to_str().unwrap().to_string()
}

/// `stockade POLICY -- COMMAND`, bounded by [`TIMEOUT`].
fn sandboxed(policy: &[String], command: &[&str]) -> std::process::Output {
    let mut cmd = stockade(&argv(policy));
    cmd.arg("--").args(command);
    output_within(cmd, TIMEOUT)
}

/// The same command without stockade, bounded by [`TIMEOUT`].
fn bare(command: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(command[0]);
    cmd.args(&command[1..]);
    output_within(cmd, TIMEOUT)
}

fn assert_reported(err: &str, path: &str) {
    assert!(
        err.contains(&format!("allow/write+{path}")),
        "no report naming {path}:\n{err}"
    );
}

// --- exit status -----------------------------------------------------------

#[test]
fn exit_status_zero_is_returned() {
    let out = run(&["-m", "sandbox/write:on"], &["sh", "-c", "exit 0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn exit_status_three_is_returned() {
    let out = run(&["-m", "sandbox/write:on"], &["sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn death_by_sigkill_exits_137() {
    let command = ["sh", "-c", "kill -9 $$"];
    assert_eq!(bare(&command).status.signal(), Some(9));
    let out = run(&["-m", "sandbox/write:on"], &command);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
}

#[test]
fn death_by_sigterm_exits_143() {
    let command = ["sh", "-c", "kill -TERM $$"];
    assert_eq!(bare(&command).status.signal(), Some(15));
    let out = run(&["-m", "sandbox/write:on"], &command);
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
}

// --- the whole tree is supervised -------------------------------------------

#[test]
fn grandchild_write_outside_is_denied_and_reported() {
    let s = Scratch::new("grandchild");
    let policy = write_policy(&s);
    let outside = s.path("outside");
    let probe = write_probe(&s);
    let inner = format!("sh -c '{} {probe} {outside}'", python());
    let command = ["sh", "-c", &inner];

    let out = sandboxed(&policy, &command);
    assert_eq!(stdout(&out), "denied EACCES\n", "{}", stderr(&out));
    assert!(!exists(&outside));
    let err = stderr(&out);
    assert_reported(&err, &outside);
    assert!(
        err.contains("(python3)"),
        "report names the grandchild: {err}"
    );

    assert_eq!(stdout(&bare(&command)), "written\n");
    assert!(exists(&outside));
}

/// Double fork and setsid: the grandchild leaves the session and outlives its
/// parent, then writes `outside` and records what happened (result, its pid)
/// in `result`. The top process waits for `result` when `wait` is set.
const ORPHAN: &str = "\
import errno, os, sys, time
outside, result, wait = sys.argv[1], sys.argv[2], sys.argv[3] == 'wait'
if os.fork() == 0:
    os.setsid()
    parent = os.getpid()
    if os.fork() == 0:
        # Hold none of the caller's pipes, or reading them would wait for us.
        null = os.open('/dev/null', os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        while os.getppid() == parent:
            time.sleep(0.01)
        try:
            os.close(os.open(outside, os.O_WRONLY | os.O_CREAT, 0o644))
            what = 'written'
        except OSError as e:
            what = 'denied ' + errno.errorcode[e.errno]
        with open(result + '.tmp', 'w') as f:
            f.write(f'{what} {os.getpid()}')
        os.rename(result + '.tmp', result)
    os._exit(0)
os.wait()
while wait and not os.path.exists(result):
    time.sleep(0.01)
";

/// Runs the orphan script and returns (what it saw, its pid, stderr).
fn orphan_run(s: &Scratch, extra: &[&str], wait: &str) -> (String, u32, String) {
    let mut policy = write_policy(s).to_vec();
    policy.extend(extra.iter().map(|a| a.to_string()));
    let orphan = script(s, "orphan.py", ORPHAN);
    let result = s.path("in/result");
    let out = sandboxed(
        &policy,
        &[python(), &orphan, &s.path("outside"), &result, wait],
    );
    assert!(
        wait_for_file(&result, TIMEOUT),
        "the orphan never recorded a result; stderr: {}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&result).unwrap();
    let (what, pid) = text.rsplit_once(' ').unwrap();
    (what.to_string(), pid.parse().unwrap(), stderr(&out))
}

#[test]
fn daemonized_orphan_write_outside_is_denied_and_reported_with_wait_all() {
    let s = Scratch::new("orphan-wait-all");
    let (what, pid, err) = orphan_run(&s, &["--wait-all"], "nowait");
    assert_eq!(what, "denied EACCES", "{err}");
    assert!(!exists(&s.path("outside")));
    assert_reported(&err, &s.path("outside"));
    assert!(
        err.contains(&format!("pid {pid} ")),
        "report names pid {pid}: {err}"
    );
}

#[test]
fn daemonized_orphan_write_outside_is_denied_while_command_waits() {
    let s = Scratch::new("orphan-waits");
    let (what, pid, err) = orphan_run(&s, &[], "wait");
    assert_eq!(what, "denied EACCES", "{err}");
    assert!(!exists(&s.path("outside")));
    assert_reported(&err, &s.path("outside"));
    assert!(
        err.contains(&format!("pid {pid} ")),
        "report names pid {pid}: {err}"
    );
}

#[test]
fn daemonized_orphan_write_succeeds_without_stockade() {
    let s = Scratch::new("orphan-bare");
    std::fs::create_dir(s.path("in")).unwrap();
    let orphan = script(&s, "orphan.py", ORPHAN);
    let result = s.path("in/result");
    bare(&[python(), &orphan, &s.path("outside"), &result, "nowait"]);
    assert!(wait_for_file(&result, TIMEOUT));
    let text = std::fs::read_to_string(&result).unwrap();
    assert!(text.starts_with("written "), "{text}");
    assert!(exists(&s.path("outside")));
}

/// Writes from a second thread, so the call comes from a thread id that is
/// not the process id.
const THREAD_WRITE: &str = "\
import os, sys, threading
seen = []
def write():
    try:
        os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644))
        seen.append('written')
    except PermissionError:
        seen.append('denied')
t = threading.Thread(target=write)
t.start()
t.join()
print(seen[0])
";

#[test]
fn write_from_second_thread_is_denied_and_reported() {
    let s = Scratch::new("thread");
    let policy = write_policy(&s);
    let outside = s.path("outside");
    let code = script(&s, "thread.py", THREAD_WRITE);
    let command = [python(), &code, &outside];

    let out = sandboxed(&policy, &command);
    assert_eq!(stdout(&out), "denied\n", "{}", stderr(&out));
    assert!(!exists(&outside));
    assert_reported(&stderr(&out), &outside);

    assert_eq!(stdout(&bare(&command)), "written\n");
    assert!(exists(&outside));
}

// --- descendants at exit ------------------------------------------------------

#[test]
fn descendants_alive_when_command_exits_are_killed() {
    let s = Scratch::new("kill-descendants");
    let policy = write_policy(&s);
    let pidfile = s.path("in/pid");
    // The sleeper's stdio must not hold stockade's pipes open, or waiting for
    // the output would wait for it.
    // The sleeper writes its own pid, so the pid file proves it started; the
    // command exits once it has.
    let line = format!(
        "sh -c 'echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; exec sleep 1000' \
         </dev/null >/dev/null 2>&1 & \
         while [ ! -e {pidfile} ]; do sleep 0.01; done"
    );
    let command = ["sh", "-c", &line];

    let out = sandboxed(&policy, &command);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pid = read_pid(&pidfile);
    let alive = is_alive(pid);
    if alive {
        send_signal(pid, "KILL");
    }
    assert!(!alive, "background sleep {pid} outlived the sandbox");

    std::fs::remove_file(&pidfile).unwrap();
    bare(&command);
    let pid = read_pid(&pidfile);
    let alive = is_alive(pid);
    send_signal(pid, "KILL");
    assert!(alive, "without stockade the background sleep lives on");
}

#[test]
fn wait_all_waits_for_descendants() {
    let s = Scratch::new("wait-all");
    let mut policy = write_policy(&s).to_vec();
    policy.push("--wait-all".into());
    let done = s.path("in/done");
    let line = format!("(sleep 1; touch {done}) </dev/null >/dev/null 2>&1 &");

    let started = Instant::now();
    let out = sandboxed(&policy, &["sh", "-c", &line]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(exists(&done), "the background job did not complete");
    assert!(started.elapsed() >= Duration::from_secs(1));
}

// --- signals to stockade ------------------------------------------------------

/// Starts `stockade POLICY -- COMMAND` and waits until COMMAND has created
/// `ready`, so a signal cannot arrive before its handler is set up.
fn start_and_wait_ready(policy: &[String], command: &[&str], ready: &str) -> std::process::Child {
    let mut cmd = stockade(&argv(policy));
    cmd.arg("--").args(command);
    let child = spawn_piped(cmd);
    if !wait_for_file(ready, TIMEOUT) {
        send_signal(child.id(), "KILL");
        panic!("the command never became ready");
    }
    child
}

#[test]
fn sigterm_to_stockade_reaches_command_handler() {
    let s = Scratch::new("sigterm-trap");
    let policy = write_policy(&s);
    let (ready, marker) = (s.path("in/ready"), s.path("in/marker"));
    let line = format!(
        "trap 'echo TERM > {marker}; exit 7' TERM; touch {ready}; while :; do sleep 0.05; done"
    );
    let child = start_and_wait_ready(&policy, &["sh", "-c", &line], &ready);
    send_signal(child.id(), "TERM");
    let out = wait_with_timeout(child, TIMEOUT).expect("stockade exits after SIGTERM");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "TERM\n");
}

/// Sends `signal` to stockade while COMMAND sleeps with default handling.
fn forwarded_signal_exit_code(signal: &str) -> Option<i32> {
    let s = Scratch::new("forward");
    let policy = write_policy(&s);
    let ready = s.path("in/ready");
    let line = format!("touch {ready}; exec sleep 1000");
    let child = start_and_wait_ready(&policy, &["sh", "-c", &line], &ready);
    // `ready` exists just before the exec; let it happen.
    std::thread::sleep(Duration::from_millis(200));
    send_signal(child.id(), signal);
    let out = wait_with_timeout(child, TIMEOUT).expect("stockade exits after the signal");
    out.status.code()
}

#[test]
fn sigterm_to_stockade_kills_command_with_143() {
    assert_eq!(forwarded_signal_exit_code("TERM"), Some(143));
}

#[test]
fn sigint_to_stockade_kills_command_with_130() {
    assert_eq!(forwarded_signal_exit_code("INT"), Some(130));
}

#[test]
fn sighup_to_stockade_kills_command_with_129() {
    assert_eq!(forwarded_signal_exit_code("HUP"), Some(129));
}

// --- blocking opens -----------------------------------------------------------

/// One end of a FIFO opens first and blocks (the other end is not open yet);
/// meanwhile another process makes twenty allowed writes, which must finish;
/// only then the other end opens, and both complete. Shell only, so nothing
/// but the FIFO opens is at stake.
fn fifo_open_does_not_stall(first_end: &str, extra: &[&str]) {
    let s = Scratch::new("fifo");
    let mut policy = write_policy(&s).to_vec();
    policy.extend(extra.iter().map(|a| a.to_string()));
    let dir = s.path("in");
    let status = Command::new("mkfifo")
        .arg(format!("{dir}/fifo"))
        .status()
        .unwrap();
    assert!(status.success());
    let reader = format!("cat {dir}/fifo > {dir}/got");
    let writer = format!("printf hello > {dir}/fifo");
    let (first, second) = match first_end {
        "reader" => (reader, writer),
        _ => (writer, reader),
    };
    let line = format!(
        "(touch {dir}/opening; {first}) & \
         while [ ! -e {dir}/opening ]; do sleep 0.01; done; sleep 0.2; \
         sh -c 'for i in $(seq 20); do echo x > {dir}/w$i; done; touch {dir}/writes-done' && \
         {second}; wait"
    );
    let mut cmd = stockade(&argv(&policy));
    cmd.args(["--", "sh", "-c", &line]);
    let out = wait_with_timeout(spawn_piped(cmd), Duration::from_secs(20));
    let out = out.unwrap_or_else(|| {
        panic!(
            "stalled: writes done: {}, got: {}",
            exists(&s.path("in/writes-done")),
            exists(&s.path("in/got"))
        )
    });
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(exists(&s.path("in/writes-done")));
    assert_eq!(std::fs::read_to_string(s.path("in/got")).unwrap(), "hello");
    assert_eq!(stderr(&out), "", "nothing was denied");
}

#[test]
fn fifo_open_for_reading_does_not_stall_other_processes() {
    // Read checks on, so the reader's open is notified, not decided in-kernel.
    fifo_open_does_not_stall(
        "reader",
        &["-m", "sandbox/read:on", "-m", "allow/read+/***"],
    );
}

#[test]
fn fifo_open_for_writing_does_not_stall_other_processes() {
    fifo_open_does_not_stall("writer", &[]);
}

// --- categories -------------------------------------------------------------------

#[test]
fn directory_open_for_reading_is_not_a_write_with_read_and_write_checks_on() {
    let s = Scratch::new("dir-read");
    let mut policy = write_policy(&s).to_vec();
    policy.extend(["-m".into(), "sandbox/read:on".into()]);
    policy.extend(["-m".into(), "allow/read+/***".into()]);
    // ls opens the directory with O_RDONLY|O_DIRECTORY.
    let command = ["ls", s.dir.to_str().unwrap()];

    let out = sandboxed(&policy, &command);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("in"), "{}", stdout(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(bare(&command).status.code(), Some(0));
}

// --- path bytes -----------------------------------------------------------------

#[test]
fn non_utf8_name_is_allowed_inside_and_denied_outside_with_escaped_report() {
    let s = Scratch::new("non-utf8");
    let policy = write_policy(&s);
    let probe = write_probe(&s);
    let inside = [s.path("in/").as_bytes(), b"\xff"].concat();
    let outside = [dir_of(&s).as_bytes(), b"/\xff"].concat();
    let run_probe = |sandbox: bool| {
        let mut cmd = if sandbox {
            let mut c = stockade(&argv(&policy));
            c.args(["--", python()]);
            c
        } else {
            Command::new(python())
        };
        cmd.arg(&probe)
            .arg(OsStr::from_bytes(&inside))
            .arg(OsStr::from_bytes(&outside));
        output_within(cmd, TIMEOUT)
    };

    let out = run_probe(true);
    assert_eq!(stdout(&out), "written\ndenied EACCES\n", "{}", stderr(&out));
    assert!(std::path::Path::new(OsStr::from_bytes(&inside)).exists());
    assert!(!std::path::Path::new(OsStr::from_bytes(&outside)).exists());
    let escaped = format!("{}/\\xff", dir_of(&s));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("\"{escaped}\"")),
        "quoted, escaped path: {err}"
    );
    assert!(err.contains(&format!("allow/write+{escaped}")), "{err}");

    assert_eq!(stdout(&run_probe(false)), "written\nwritten\n");
    assert!(std::path::Path::new(OsStr::from_bytes(&outside)).exists());
}

// --- the paludis profile --------------------------------------------------------

#[test]
fn paludis_allows_dev_null_and_tmp_and_denies_outside() {
    let s = Scratch::new("paludis");
    let probe = write_probe(&s);
    let in_tmp = format!("/tmp/stockade-paludis-{}", std::process::id());
    let outside = s.path("outside");
    let command = [python(), &probe, "/dev/null", &in_tmp, &outside];

    let out = sandboxed(&["-p".into(), "paludis".into()], &command);
    let _ = std::fs::remove_file(&in_tmp);
    assert_eq!(
        stdout(&out),
        "written\nwritten\ndenied EACCES\n",
        "{}",
        stderr(&out)
    );
    assert!(!exists(&outside));
    assert_reported(&stderr(&out), &outside);

    let bare_out = bare(&command);
    let _ = std::fs::remove_file(&in_tmp);
    assert_eq!(stdout(&bare_out), "written\nwritten\nwritten\n");
}

// --- report channels --------------------------------------------------------------

const LOG_KEYS: [&str; 10] = [
    "time", "pid", "comm", "cwd", "syscall", "category", "path", "action", "rule", "errno",
];

#[test]
fn json_log_has_one_line_per_denial_with_documented_keys() {
    let s = Scratch::new("json-log");
    let mut policy = write_policy(&s).to_vec();
    let log = s.path("log.jsonl");
    policy.extend(["--log".into(), log.clone()]);
    let probe = write_probe(&s);
    let (a, b) = (s.path("a"), s.path("b"));
    let mut cmd = stockade(&argv(&policy));
    cmd.args(["--", python(), &probe, &a, &b])
        .current_dir(&s.dir);
    let out = output_within(cmd, TIMEOUT);
    assert_eq!(
        stdout(&out),
        "denied EACCES\ndenied EACCES\n",
        "{}",
        stderr(&out)
    );

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, path) in lines.iter().zip([&a, &b]) {
        for key in LOG_KEYS {
            assert!(line.get(key).is_some(), "no {key} in {line}");
        }
        assert_eq!(line["path"], path.as_str());
        assert_eq!(line["category"], "write");
        assert_eq!(line["action"], "deny");
        assert_eq!(line["rule"], "default");
        assert_eq!(line["errno"], "EACCES");
        assert_eq!(line["syscall"], "openat");
        assert_eq!(line["comm"], "python3");
        assert_eq!(line["cwd"], dir_of(&s));
        assert!(line["pid"].as_u64().is_some_and(|p| p > 0), "{line}");
    }
}

#[test]
fn filter_denies_without_stderr_or_log_line() {
    let s = Scratch::new("filter");
    let mut policy = write_policy(&s).to_vec();
    let log = s.path("log.jsonl");
    let outside = s.path("outside");
    policy.extend([
        "-m".into(),
        format!("filter/write+{outside}"),
        "--log".into(),
        log.clone(),
    ]);
    let probe = write_probe(&s);
    let command = [python(), &probe, &outside];

    let out = sandboxed(&policy, &command);
    assert_eq!(stdout(&out), "denied EACCES\n", "{}", stderr(&out));
    assert!(!exists(&outside));
    assert!(!stderr(&out).contains(&outside), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&log).unwrap_or_default(), "");

    assert_eq!(stdout(&bare(&command)), "written\n");
}

#[test]
fn default_write_warn_allows_the_write_and_reports_it() {
    let s = Scratch::new("warn");
    let mut policy = write_policy(&s).to_vec();
    policy.extend(["-m".into(), "default/write:warn".into()]);
    let outside = s.path("outside");
    let probe = write_probe(&s);

    let out = sandboxed(&policy, &[python(), &probe, &outside]);
    assert_eq!(stdout(&out), "written\n", "{}", stderr(&out));
    assert!(exists(&outside));
    let err = stderr(&out);
    assert!(err.contains("warning"), "{err}");
    assert_reported(&err, &outside);
}

#[test]
fn denial_report_shows_syscall_flags_pid_and_summary() {
    let s = Scratch::new("report-line");
    let policy = write_policy(&s);
    let outside = s.path("outside");
    let probe = write_probe(&s);

    let out = sandboxed(&policy, &[python(), &probe, &outside]);
    assert_eq!(stdout(&out), "denied EACCES\n", "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains(&outside))
        .unwrap_or_else(|| panic!("no report: {err}"));
    assert!(line.contains("write"), "{line}");
    assert!(
        line.contains(&format!("openat(\"{outside}\", O_WRONLY|O_CREAT")),
        "{line}"
    );
    assert!(
        line.contains("pid ") && line.contains("(python3)"),
        "{line}"
    );
    assert!(line.ends_with(&format!("allow/write+{outside}")), "{line}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("stockade: 1 violation (write 1)"),
        "{err}"
    );
}

/// Runs `sh -c 'echo x > in/f'` with `--stats`; the open is the command's
/// last notified call. Returns stockade's stderr.
fn stats_of_one_open(s: &Scratch) -> String {
    let mut policy = write_policy(s).to_vec();
    policy.push("--stats".into());
    let line = format!("echo x > {}/in/f", dir_of(s));
    let out = sandboxed(&policy, &["sh", "-c", &line]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stderr(&out)
}

/// The count in the stats row for `syscall`, if there is one.
fn stats_count(err: &str, syscall: &str) -> Option<u64> {
    let row = err
        .lines()
        .find(|l| l.split_whitespace().next() == Some(syscall))?;
    row.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn stats_prints_a_table_with_a_total() {
    let s = Scratch::new("stats");
    let err = stats_of_one_open(&s);
    assert!(err.contains("notifications by syscall"), "{err}");
    assert!(stats_count(&err, "total").is_some_and(|n| n >= 1), "{err}");
}

#[test]
fn stats_count_the_last_call_before_exit() {
    let s = Scratch::new("stats-last");
    // The race is narrow; ten runs show it reliably.
    for _ in 0..10 {
        let err = stats_of_one_open(&s);
        assert_eq!(stats_count(&err, "openat"), Some(1), "{err}");
    }
}

// --- the supervisor's own death ---------------------------------------------------

#[test]
fn stockade_killed_leaves_no_writer_behind() {
    let s = Scratch::new("supervisor-killed");
    let policy = write_policy(&s);
    let (pidfile, outside) = (s.path("in/pid"), s.path("outside"));
    // Keeps trying to write outside; only the supervisor stands in its way.
    let line = format!(
        "echo $$ > {pidfile}; while :; do (echo x > {outside}) 2>/dev/null; sleep 0.02; done"
    );
    let child = start_and_wait_ready(&policy, &["sh", "-c", &line], &pidfile);
    std::thread::sleep(Duration::from_millis(200));
    let command_pid = read_pid(&pidfile);
    send_signal(child.id(), "KILL");
    wait_with_timeout(child, TIMEOUT).expect("stockade is gone");

    // Give a surviving loop time to try again.
    std::thread::sleep(Duration::from_millis(500));
    let alive = is_alive(command_pid);
    if alive {
        send_signal(command_pid, "KILL");
    }
    assert!(
        !exists(&outside),
        "a write got through after the supervisor died"
    );
    assert!(!alive, "the command outlived its supervisor");
}

// --- writes that could not happen anyway -------------------------------------------

#[test]
fn mkdir_of_existing_directory_outside_fails_with_eexist_and_no_report() {
    let s = Scratch::new("mkdir-exists");
    let policy = write_policy(&s);
    let code = format!(
        "import os\ntry:\n    os.mkdir('{}')\nexcept OSError as e:\n    print(type(e).__name__)\n",
        dir_of(&s)
    );
    let command = [python(), "-c", &code];

    let out = sandboxed(&policy, &command);
    assert_eq!(stdout(&out), "FileExistsError\n", "{}", stderr(&out));
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));

    assert_eq!(stdout(&bare(&command)), "FileExistsError\n");
}

#[test]
fn mkdir_p_inside_allowed_dir_reports_nothing() {
    let s = Scratch::new("mkdir-p");
    let policy = write_policy(&s);
    let deep = format!("{}/in/a/b/c", dir_of(&s));

    let out = sandboxed(&policy, &["mkdir", "-p", &deep]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(exists(&deep));
    assert_eq!(stderr(&out), "", "no violation for existing ancestors");
}

/// Errors the kernel gives before any permission check come first under
/// stockade too, and are not violations: changing a file that does not exist
/// is ENOENT, making a directory that exists is EEXIST.
const MISSING_AND_EXISTING: &str = "\
import errno, os, sys
missing, existing = sys.argv[1], sys.argv[2]
for name, call in [('chmod', lambda: os.chmod(missing, 0o600)),
                   ('utime', lambda: os.utime(missing)),
                   ('unlink', lambda: os.unlink(missing)),
                   ('rename', lambda: os.rename(missing, missing + '.2')),
                   ('mkdir', lambda: os.mkdir(existing))]:
    try:
        call()
        print(name, 'ok')
    except OSError as e:
        print(name, errno.errorcode[e.errno])
";

#[test]
fn kernel_errors_before_permission_checks_are_not_violations() {
    let s = Scratch::new("enoent-first");
    let policy = write_policy(&s);
    let script = script(&s, "probe.py", MISSING_AND_EXISTING);
    std::fs::create_dir(s.path("existing")).unwrap();
    let args = [python(), &script, &s.path("missing"), &s.path("existing")];
    let expected = "chmod ENOENT\nutime ENOENT\nunlink ENOENT\nrename ENOENT\nmkdir EEXIST\n";

    let out = run(&argv(&policy), &args);
    assert_eq!(stdout(&out), expected, "{}", stderr(&out));
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));

    assert_eq!(stdout(&run_bare(&args)), expected);
}

/// A file written through an emulated open and closed by the caller must be
/// executable at once, as without stockade: the supervisor's own copy of the
/// descriptor once outlived the reply, so the kernel still saw the file open
/// for writing and exec failed with ETXTBSY ("Text file busy"), as
/// `cc -o prog && ./prog` does in every build.
#[test]
fn file_written_through_emulated_open_runs_at_once_without_etxtbsy() {
    let s = Scratch::new("etxtbsy");
    let copy = format!("{}/true", s.path("in"));
    let script = format!(
        "mkdir -p {in_dir}; i=0; while [ $i -lt 300 ]; do \
         rm -f {copy} && cp /bin/true {copy} && {copy} || {{ echo failed at $i; exit 1; }}; \
         i=$((i+1)); done; echo all-ran",
        in_dir = s.path("in"),
    );
    let native = bare(&["sh", "-c", &script]);
    assert!(stdout_of(&native).contains("all-ran"), "native: {native:?}");
    let out = sandboxed(&write_policy(&s), &["sh", "-c", &script]);
    assert!(
        stdout_of(&out).contains("all-ran"),
        "under stockade: {}{}",
        stdout_of(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stdout_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
