//! Writes the kernel performs on the caller's behalf (issue 8, class 3):
//! inode-flag ioctls through read-only descriptors, process accounting,
//! and core dumps. Each is attacked under stockade and the same action is
//! shown to succeed without it.

mod common;
#[path = "common/behaviour.rs"]
mod support;

use common::*;
use std::process::{Command, Output};
use support::*;

/// Python helpers: `D` is the first argument; `ioctl_int(path, req, value)`
/// opens `path` read-only and passes an int; `get_int(path, req)` reads one;
/// `attempt(f)` prints `done` or `refused ERRNO`.
const PRELUDE: &str = r#"
import ctypes, errno, fcntl, os, resource, struct, sys
D = sys.argv[1]
def get_int(path, req):
    fd = os.open(path, os.O_RDONLY)
    try:
        return struct.unpack('i', fcntl.ioctl(fd, req, b'\0' * 4))[0]
    finally:
        os.close(fd)
def ioctl_bytes(path, req, data):
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, req, data)
    finally:
        os.close(fd)
def attempt(what):
    try:
        what()
        print('done', flush=True)
    except OSError as e:
        print('refused', errno.errorcode[e.errno], flush=True)
"#;

const FS_IOC_GETFLAGS: u32 = 0x8008_6601;
const FS_IOC_SETFLAGS: u32 = 0x4008_6602;
const FS_NOATIME_FL: u32 = 0x80;

fn py_code(code: &str) -> Vec<String> {
    let mut v = py(&format!("{PRELUDE}\n{code}"));
    v.insert(1, "-B".to_string());
    v
}

/// Runs the Python `code` with `D` = `dir`, under stockade with `rules` or
/// natively when `rules` is `None`.
fn run_py(rules: Option<&[String]>, code: &str, dir: &str) -> Output {
    let mut command = py_code(code);
    command.push(dir.to_string());
    let cmd = match rules {
        Some(rules) => {
            let mut cmd = stockade(&argv(rules));
            cmd.arg("--").args(&command);
            cmd
        }
        None => {
            let mut cmd = Command::new(&command[0]);
            cmd.args(&command[1..]);
            cmd
        }
    };
    output_within(cmd, TIMEOUT)
}

/// Write checks on; writes allowed under `in/` only.
fn inside_only(s: &Scratch) -> Vec<String> {
    std::fs::create_dir_all(s.path("in")).unwrap();
    ["-m", "sandbox/write:on", "-m", &s.allow_write("in")]
        .map(String::from)
        .to_vec()
}

/// The flags of `path` as FS_IOC_GETFLAGS reports them, or `None` where the
/// filesystem has none.
fn inode_flags(path: &str) -> Option<u32> {
    let code = format!("print(get_int(sys.argv[2], {FS_IOC_GETFLAGS:#x}))");
    let mut command = py_code(&code);
    command.extend(["-".to_string(), path.to_string()]);
    let out = Command::new(&command[0])
        .args(&command[1..])
        .output()
        .unwrap();
    stdout(&out).trim().parse::<i64>().ok().map(|v| v as u32)
}

fn set_flag_code(file: &str, flag: u32) -> String {
    format!(
        "p = D + '/{file}'\n\
         flags = get_int(p, {FS_IOC_GETFLAGS:#x})\n\
         attempt(lambda: ioctl_bytes(p, {FS_IOC_SETFLAGS:#x}, struct.pack('i', flags | {flag:#x})))"
    )
}

#[test]
fn inode_flags_of_a_protected_file_cannot_be_set_through_a_read_only_fd_issue8() {
    let s = Scratch::new("ioctl-setflags");
    let rules = inside_only(&s);
    let file = s.path("prot");
    std::fs::write(&file, "protected\n").unwrap();
    let Some(before) = inode_flags(&file) else {
        eprintln!("SKIPPED: the scratch filesystem has no inode flags");
        return;
    };
    let dir = s.dir.to_str().unwrap();
    let code = set_flag_code("prot", FS_NOATIME_FL);

    let out = run_py(Some(&rules), &code, dir);
    assert_eq!(stdout(&out), "refused EACCES\n", "{}", stderr(&out));
    assert_eq!(inode_flags(&file), Some(before), "flags unchanged");
    let err = stderr(&out);
    assert!(err.contains("denied write access: ioctl("), "{err}");
    assert!(err.contains("FS_IOC_SETFLAGS"), "{err}");
    assert!(err.contains(&format!("allow/write+{file}")), "{err}");

    let native = run_py(None, &code, dir);
    assert_eq!(stdout(&native), "done\n", "{}", stderr(&native));
    assert_eq!(inode_flags(&file), Some(before | FS_NOATIME_FL));
}

#[test]
fn inode_flags_in_the_allowed_area_are_set_by_the_supervisor() {
    let s = Scratch::new("ioctl-setflags-in");
    let rules = inside_only(&s);
    let file = s.path("in/mine");
    std::fs::write(&file, "mine\n").unwrap();
    let Some(before) = inode_flags(&file) else {
        eprintln!("SKIPPED: the scratch filesystem has no inode flags");
        return;
    };
    let out = run_py(
        Some(&rules),
        &set_flag_code("in/mine", FS_NOATIME_FL),
        s.dir.to_str().unwrap(),
    );
    assert_eq!(stdout(&out), "done\n", "{}", stderr(&out));
    assert_eq!(inode_flags(&file), Some(before | FS_NOATIME_FL));
}

#[test]
fn fsxattr_of_a_protected_file_cannot_be_set_through_a_read_only_fd_issue8() {
    const FS_IOC_FSGETXATTR: u32 = 0x801c_581f;
    const FS_IOC_FSSETXATTR: u32 = 0x401c_5820;
    const FS_XFLAG_NODUMP: u32 = 0x80;
    let s = Scratch::new("ioctl-fsxattr");
    let rules = inside_only(&s);
    std::fs::write(s.path("prot"), "protected\n").unwrap();
    let code = format!(
        "p = D + '/prot'\n\
         fd = os.open(p, os.O_RDONLY)\n\
         def xflags():\n    return struct.unpack('5I8x', fcntl.ioctl(fd, {FS_IOC_FSGETXATTR:#x}, bytes(28)))\n\
         old = xflags()\n\
         attempt(lambda: fcntl.ioctl(fd, {FS_IOC_FSSETXATTR:#x}, struct.pack('5I8x', old[0] | {FS_XFLAG_NODUMP:#x}, *old[1:])))\n\
         print('nodump' if xflags()[0] & {FS_XFLAG_NODUMP:#x} else 'plain')"
    );
    let dir = s.dir.to_str().unwrap();
    let native_probe = run_py(None, "print('ok')", dir);
    assert!(native_probe.status.success());

    let out = run_py(Some(&rules), &code, dir);
    if stdout(&out).contains("EOPNOTSUPP") || stdout(&out).contains("ENOTTY") {
        eprintln!("SKIPPED: no fsxattr on the scratch filesystem");
        return;
    }
    assert_eq!(stdout(&out), "refused EACCES\nplain\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("FS_IOC_FSSETXATTR"),
        "{}",
        stderr(&out)
    );

    let native = run_py(None, &code, dir);
    assert_eq!(stdout(&native), "done\nnodump\n", "{}", stderr(&native));
}

#[test]
fn inode_generation_of_a_protected_file_cannot_be_set_through_a_read_only_fd_issue8() {
    const FS_IOC_GETVERSION: u32 = 0x8008_7601;
    const FS_IOC_SETVERSION: u32 = 0x4008_7602;
    let s = Scratch::new("ioctl-setversion");
    let rules = inside_only(&s);
    std::fs::write(s.path("prot"), "protected\n").unwrap();
    let code = format!(
        "p = D + '/prot'\n\
         attempt(lambda: ioctl_bytes(p, {FS_IOC_SETVERSION:#x}, struct.pack('i', 4242)))\n\
         print(get_int(p, {FS_IOC_GETVERSION:#x}))"
    );
    let dir = s.dir.to_str().unwrap();
    let native_first = run_py(None, "print('probe')", dir);
    assert!(native_first.status.success());

    let out = run_py(Some(&rules), &code, dir);
    if stdout(&out).contains("ENOTTY") {
        eprintln!("SKIPPED: the scratch filesystem has no inode generation ioctl");
        return;
    }
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(lines[0], "refused EACCES", "{}", stderr(&out));
    assert_ne!(lines[1], "4242");
    assert!(
        stderr(&out).contains("FS_IOC_SETVERSION"),
        "{}",
        stderr(&out)
    );

    let native = run_py(None, &code, dir);
    assert_eq!(stdout(&native), "done\n4242\n", "{}", stderr(&native));
}

#[test]
fn terminal_ioctls_stay_in_the_kernel() {
    // TCGETS on a pipe fails with ENOTTY in the kernel; stockade must not
    // see it at all (no report, same errno).
    let s = Scratch::new("ioctl-tcgets");
    let code = "import termios\nr, w = os.pipe()\nattempt(lambda: fcntl.ioctl(r, termios.TCGETS, bytes(60)))";
    let out = run_py(Some(&inside_only(&s)), code, s.dir.to_str().unwrap());
    assert_eq!(stdout(&out), "refused ENOTTY\n", "{}", stderr(&out));
    assert!(!stderr(&out).contains("ioctl"), "{}", stderr(&out));
}

// --- process accounting --------------------------------------------------------

/// acct(2) of `path` (or NULL for "-") from Python, printing done/refused.
fn acct_code(paths: &[&str]) -> String {
    let mut code = String::from("libc = ctypes.CDLL(None, use_errno=True)\n");
    code.push_str(
        "def acct(p):\n    if libc.acct(p) != 0:\n        raise OSError(ctypes.get_errno(), 'acct')\n",
    );
    for p in paths {
        if *p == "-" {
            code.push_str("attempt(lambda: acct(None))\n");
        } else {
            code.push_str(&format!("attempt(lambda: acct(b'{p}'))\n"));
            // A process that ends, so that a record is written.
            code.push_str("os.waitpid(os.posix_spawn('/bin/true', ['true'], {}), 0)\n");
        }
    }
    code
}

fn file_len(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn acct_to_a_file_outside_the_allowed_area_is_denied_issue8() {
    if skip_unless(is_root(), "needs root (acct needs CAP_SYS_PACCT)") {
        return;
    }
    let s = Scratch::new("acct-outside");
    let rules = inside_only(&s);
    let log = s.path("pacct");
    std::fs::write(&log, "").unwrap();
    let dir = s.dir.to_str().unwrap();

    let out = run_py(Some(&rules), &acct_code(&[&log]), dir);
    assert_eq!(stdout(&out), "refused EACCES\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("denied write access: acct("),
        "{}",
        stderr(&out)
    );
    assert_eq!(file_len(&log), 0, "no record written");

    let native = run_py(None, &acct_code(&[&log, "-"]), dir);
    assert_eq!(stdout(&native), "done\ndone\n", "{}", stderr(&native));
    assert!(file_len(&log) > 0, "natively the kernel writes records");
}

#[test]
fn acct_inside_the_allowed_area_works_and_can_be_switched_off() {
    if skip_unless(is_root(), "needs root (acct needs CAP_SYS_PACCT)") {
        return;
    }
    let s = Scratch::new("acct-inside");
    let rules = inside_only(&s);
    let log = s.path("in/pacct");
    std::fs::write(&log, "").unwrap();
    let out = run_py(
        Some(&rules),
        &acct_code(&[&log, "-"]),
        s.dir.to_str().unwrap(),
    );
    // Switch it off natively too, whatever happened.
    run_py(None, &acct_code(&["-"]), s.dir.to_str().unwrap());
    assert_eq!(stdout(&out), "done\ndone\n", "{}", stderr(&out));
    assert!(file_len(&log) > 0);
}

#[test]
fn acct_off_is_refused_when_the_sandbox_did_not_switch_it_on_issue8() {
    if skip_unless(is_root(), "needs root (acct needs CAP_SYS_PACCT)") {
        return;
    }
    let s = Scratch::new("acct-off");
    let out = run_py(
        Some(&inside_only(&s)),
        &acct_code(&["-"]),
        s.dir.to_str().unwrap(),
    );
    assert_eq!(stdout(&out), "refused EPERM\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("denied accounting access: acct(NULL) by pid"),
        "{}",
        stderr(&out)
    );
    // Natively root may (accounting is off here already: a no-op).
    let native = run_py(None, &acct_code(&["-"]), s.dir.to_str().unwrap());
    assert_eq!(stdout(&native), "done\n");
}

// --- core dumps -------------------------------------------------------------------

/// Whether the kernel writes core files into the crashing process's working
/// directory (a relative `core_pattern`, not a pipe to a collector).
fn cores_go_to_the_working_directory() -> bool {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let pattern = pattern.trim();
    !pattern.is_empty() && !pattern.starts_with('|') && !pattern.contains('/')
}

fn core_files(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("core"))
        .collect()
}

/// Raises RLIMIT_CORE (if `raise_limit`), enters D/out and aborts.
fn crash_code(raise_limit: bool) -> String {
    let mut code = String::new();
    if raise_limit {
        code.push_str(
            "try:\n    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n    print('raised', flush=True)\n\
             except (OSError, ValueError):\n    print('refused', flush=True)\n",
        );
    }
    code.push_str("os.chdir(D + '/out')\nos.abort()\n");
    code
}

#[test]
fn a_crash_writes_no_core_file_outside_the_allowed_area_issue8() {
    if skip_unless(
        cores_go_to_the_working_directory(),
        "core_pattern does not write cores into the working directory",
    ) {
        return;
    }
    let s = Scratch::new("core-raise");
    let rules = inside_only(&s);
    let out_dir = s.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let dir = s.dir.to_str().unwrap();

    let out = run_py(Some(&rules), &crash_code(true), dir);
    assert_eq!(stdout(&out), "refused\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "denied core access: prlimit64(RLIMIT_CORE, {RLIM_INFINITY, RLIM_INFINITY}) by pid",
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(core_files(&out_dir), Vec::<String>::new());

    let native = run_py(None, &crash_code(true), dir);
    assert_eq!(stdout(&native), "raised\n", "{}", stderr(&native));
    assert_eq!(
        core_files(&out_dir).len(),
        1,
        "natively the kernel dumps core"
    );
}

#[test]
fn an_inherited_core_limit_writes_no_core_file_outside_issue8() {
    if skip_unless(
        cores_go_to_the_working_directory(),
        "core_pattern does not write cores into the working directory",
    ) {
        return;
    }
    let s = Scratch::new("core-inherited");
    let rules = inside_only(&s);
    let out_dir = s.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut crash = py_code(&crash_code(false));
    crash.push(s.dir.to_str().unwrap().to_string());
    let quoted = |v: &[String]| {
        v.iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut sandboxed = vec![stockade_bin().to_string()];
    sandboxed.extend(rules);
    sandboxed.push("--".to_string());
    sandboxed.extend(crash.clone());
    let under = |command: &[String]| {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            &format!("ulimit -c unlimited; exec {}", quoted(command)),
        ]);
        output_within(cmd, TIMEOUT)
    };

    let out = under(&sandboxed);
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGABRT),
        "{}",
        stderr(&out)
    );
    assert_eq!(core_files(&out_dir), Vec::<String>::new());

    under(&crash);
    assert_eq!(
        core_files(&out_dir).len(),
        1,
        "natively the kernel dumps core"
    );
}

#[test]
fn inherited_limits_other_than_core_survive_and_lowering_core_works() {
    let s = Scratch::new("core-others");
    let mut cmd = Command::new("sh");
    let inner = "ulimit -n; ulimit -c; ulimit -c 0 && echo lowered";
    cmd.args([
        "-c",
        &format!(
            "ulimit -n 200; ulimit -c unlimited; exec {} -m sandbox/write:on -m '{}' -- sh -c '{inner}'",
            stockade_bin(),
            s.allow_write("")
        ),
    ]);
    let out = output_within(cmd, TIMEOUT);
    assert_eq!(stdout(&out), "200\n0\nlowered\n", "{}", stderr(&out));
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));

    let mut native = Command::new("sh");
    native.args([
        "-c",
        &format!("ulimit -n 200; ulimit -c unlimited; sh -c '{inner}'"),
    ]);
    let native = output_within(native, TIMEOUT);
    assert_eq!(stdout(&native), "200\nunlimited\nlowered\n");
}
