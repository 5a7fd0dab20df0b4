//! Borrowed privilege through user namespaces (issue 8, class 1).
//!
//! stockade runs as root, as a package manager's does, and the build drops
//! to an unprivileged user. Inside a user namespace of its own the build
//! holds every capability, valid only there; the calls stockade performs
//! for it must carry only what the kernel would give it in the initial
//! namespace, and the ids it passes must be mapped through its namespace.
//!
//! How the attack tests can fail: each attack is also run natively as real
//! root, where it succeeds (so the check that follows would see a breach),
//! and natively as the same user in the same kind of namespace, which shows
//! the kernel's own answer; under stockade the result must be the kernel's.
//! Before the fix the supervisor lent the namespace's capabilities and the
//! same runs gave a setuid-root file, root's files, /etc/shadow, the
//! xattrs and the device node.
//!
//! These tests need root (to create the test user and drop to it); they say
//! `SKIPPED: needs root` and return otherwise.

mod common;
#[path = "common/behaviour.rs"]
mod support;
#[path = "common/users.rs"]
mod users;

use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Output};
use support::*;
use users::*;

/// Python that enters a user namespace of its own (`userns` as first
/// argument) mapping 0 to the caller, or stays as it is (`plain`); `D` is
/// the directory in the second argument. `attempt(f)` prints `done` or
/// `refused ERRNO`.
const PRELUDE: &str = r#"
import ctypes, errno, os, shutil, stat, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER = 0x10000000
def enter_userns():
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER) != 0:
        print('unshare refused', errno.errorcode[ctypes.get_errno()], flush=True)
        sys.exit(3)
    for name, text in (('setgroups', 'deny'), ('uid_map', '0 %d 1' % uid), ('gid_map', '0 %d 1' % gid)):
        with open('/proc/self/' + name, 'w') as f:
            f.write(text)
def attempt(what):
    try:
        what()
        print('done', flush=True)
    except OSError as e:
        print('refused', errno.errorcode[e.errno], flush=True)
if sys.argv[1] == 'userns':
    enter_userns()
D = sys.argv[2]
"#;

fn script(code: &str, mode: &str, dir: &str) -> Vec<String> {
    vec![
        SYSTEM_PYTHON.to_string(),
        "-B".to_string(),
        "-c".to_string(),
        format!("{PRELUDE}\n{code}"),
        mode.to_string(),
        dir.to_string(),
    ]
}

fn run_within(command: &[String], cwd: Option<&str>) -> Output {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    output_within(cmd, TIMEOUT)
}

/// The rules every attack runs under: writes allowed in the scratch dir and
/// to the caller's own id maps, and user namespaces allowed, so that the
/// attack gets as far as it can.
fn attack_rules(s: &Scratch) -> Vec<String> {
    [
        "sandbox/write:on",
        &s.allow_write(""),
        "allow/write+/proc/self/uid_map",
        "allow/write+/proc/self/gid_map",
        "allow/write+/proc/self/setgroups",
        "trace/allow_user_namespace:on",
    ]
    .iter()
    .flat_map(|rule| ["-m".to_string(), rule.to_string()])
    .collect()
}

/// The attack `code` run three ways: under stockade as the test user in a
/// user namespace, natively the same way, and natively as real root.
struct Runs {
    sandboxed: Output,
    native_userns: Output,
    native_root: Output,
}

fn attack(s: &Scratch, extra_rules: &[&str], code: &str, mut reset: impl FnMut()) -> Runs {
    let dir = s.dir.to_str().unwrap();
    let mut cmd = stockade(&argv(&attack_rules(s)));
    for rule in extra_rules {
        cmd.args(["-m", rule]);
    }
    cmd.arg("--")
        .args(as_user(&argv(&script(code, "userns", dir))));
    let sandboxed = output_within(cmd, TIMEOUT);
    reset();
    let native_userns = run_within(&as_user(&argv(&script(code, "userns", dir))), None);
    reset();
    let native_root = run_within(&script(code, "plain", dir), None);
    Runs {
        sandboxed,
        native_userns,
        native_root,
    }
}

fn needs_root_and_python() -> bool {
    skip_unless(is_root(), "needs root (to drop the build to a test user)")
        || skip_unless(exists(SYSTEM_PYTHON), "needs /usr/bin/python3")
}

fn owner_and_mode(path: &str) -> (u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (meta.uid(), meta.mode() & 0o7777)
}

#[test]
fn chown_to_namespace_root_cannot_make_a_setuid_root_binary_issue8() {
    if needs_root_and_python() {
        return;
    }
    let (uid, _) = test_user();
    let s = shared_scratch("userns-suid");
    let target = s.path("suid");
    let code = "p = D + '/suid'\nshutil.copy('/bin/true', p)\n\
                attempt(lambda: (os.chown(p, 0, 0), os.chmod(p, 0o4755)))";
    let reset = || {
        let _ = std::fs::remove_file(&target);
    };
    let mut sandboxed = None;
    let runs = attack(&s, &[], code, || {
        // Record each run's result before the next one replaces the file.
        if sandboxed.is_none() {
            sandboxed = Some(owner_and_mode(&target));
        }
        reset();
    });
    let sandboxed = sandboxed.expect("the sandboxed run made the file");
    assert_eq!(
        stdout(&runs.sandboxed),
        "done\n",
        "{}",
        stderr(&runs.sandboxed)
    );
    // Namespace root is the test user outside: the file is the user's.
    assert_eq!(sandboxed, (uid, 0o4755), "{}", stderr(&runs.sandboxed));
    // The kernel gives the same answer natively in a namespace ...
    assert_eq!(stdout(&runs.native_userns), "done\n");
    // ... and real root's run shows what a breach looks like.
    assert_eq!(stdout(&runs.native_root), "done\n");
    assert_eq!(owner_and_mode(&target), (0, 0o4755));
}

#[test]
fn namespace_root_cannot_open_a_root_only_file_issue8() {
    if needs_root_and_python() {
        return;
    }
    let s = shared_scratch("userns-rootfile");
    let secret = s.path("secret");
    std::fs::write(&secret, "root's\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let code = "attempt(lambda: os.close(os.open(D + '/secret', os.O_RDWR)))";
    let runs = attack(&s, &[], code, || {});
    assert_eq!(
        stdout(&runs.sandboxed),
        "refused EACCES\n",
        "{}",
        stderr(&runs.sandboxed)
    );
    assert_eq!(stdout(&runs.native_userns), "refused EACCES\n");
    assert_eq!(stdout(&runs.native_root), "done\n");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root's\n");
}

#[test]
fn namespace_root_cannot_read_etc_shadow_with_reads_allowed_issue8() {
    if needs_root_and_python() {
        return;
    }
    let s = shared_scratch("userns-shadow");
    let code = "attempt(lambda: open('/etc/shadow', 'rb').read())";
    let runs = attack(&s, &["sandbox/read:on", "allow/read+/***"], code, || {});
    assert_eq!(
        stdout(&runs.sandboxed),
        "refused EACCES\n",
        "{}",
        stderr(&runs.sandboxed)
    );
    assert_eq!(stdout(&runs.native_userns), "refused EACCES\n");
    assert_eq!(stdout(&runs.native_root), "done\n");
}

/// Whether the `security.capability` xattr of `path` grants capabilities in
/// the initial user namespace: a v2 entry, or a v3 one whose root id is 0.
/// A v3 entry for another root id works only inside that namespace.
fn has_global_file_caps(path: &str) -> bool {
    let out = run_within(
        &[
            python().to_string(),
            "-c".to_string(),
            "import os, sys\ntry:\n    print(os.getxattr(sys.argv[1], 'security.capability').hex())\nexcept OSError:\n    print('')".to_string(),
            path.to_string(),
        ],
        None,
    );
    let hex = stdout(&out).trim().to_string();
    if hex.is_empty() {
        return false;
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let magic = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    match magic & 0xff00_0000 {
        0x0200_0000 => true,
        0x0300_0000 => u32::from_le_bytes(bytes[20..24].try_into().unwrap()) == 0,
        _ => false,
    }
}

#[test]
fn namespace_root_cannot_set_a_global_file_capability_issue8() {
    if needs_root_and_python() {
        return;
    }
    let s = shared_scratch("userns-fcaps");
    let target = s.path("capfile");
    // A v2 vfs_cap_data granting CAP_SETUID, effective.
    let code = "p = D + '/capfile'\nshutil.copy('/bin/true', p)\n\
                attempt(lambda: os.setxattr(p, 'security.capability', \
                struct.pack('<5I', 0x02000001, 1 << 7, 0, 0, 0)))";
    let mut sandboxed_global = None;
    let runs = attack(&s, &[], code, || {
        if sandboxed_global.is_none() {
            sandboxed_global = Some(has_global_file_caps(&target));
        }
        let _ = std::fs::remove_file(&target);
    });
    assert_eq!(
        stdout(&runs.sandboxed),
        "refused EPERM\n",
        "{}",
        stderr(&runs.sandboxed)
    );
    assert_eq!(sandboxed_global, Some(false));
    // Natively the kernel stores a namespaced (v3) capability, valid only
    // inside that namespace; real root stores a global one.
    assert_eq!(stdout(&runs.native_userns), "done\n");
    assert_eq!(stdout(&runs.native_root), "done\n");
    assert!(
        has_global_file_caps(&target),
        "real root's run sets a v2 capability"
    );
}

#[test]
fn namespace_root_cannot_set_trusted_xattrs_issue8() {
    if needs_root_and_python() {
        return;
    }
    let s = shared_scratch("userns-trusted");
    let code = "p = D + '/f'\nopen(p, 'a').close()\n\
                attempt(lambda: os.setxattr(p, 'trusted.stockade', b'x'))";
    let runs = attack(&s, &[], code, || {
        let _ = std::fs::remove_file(s.path("f"));
    });
    assert_eq!(
        stdout(&runs.sandboxed),
        "refused EPERM\n",
        "{}",
        stderr(&runs.sandboxed)
    );
    assert_eq!(stdout(&runs.native_userns), "refused EPERM\n");
    assert_eq!(stdout(&runs.native_root), "done\n");
}

#[test]
fn namespace_root_cannot_make_a_block_device_issue8() {
    if needs_root_and_python() {
        return;
    }
    let s = shared_scratch("userns-mknod");
    let node = s.path("blk");
    let code = "attempt(lambda: os.mknod(D + '/blk', 0o600 | stat.S_IFBLK, os.makedev(7, 0)))";
    let runs = attack(&s, &[], code, || {
        let _ = std::fs::remove_file(&node);
    });
    assert_eq!(
        stdout(&runs.sandboxed),
        "refused EPERM\n",
        "{}",
        stderr(&runs.sandboxed)
    );
    assert_eq!(stdout(&runs.native_userns), "refused EPERM\n");
    assert_eq!(stdout(&runs.native_root), "done\n");
    assert!(exists(&node), "real root's run made the node");
}

#[test]
fn chown_to_an_id_the_namespace_does_not_map_fails_with_einval_issue8() {
    if needs_root_and_python() {
        return;
    }
    let s = shared_scratch("userns-unmapped");
    let code = "p = D + '/f'\nopen(p, 'a').close()\n\
                attempt(lambda: os.chown(p, 5, -1))\n\
                attempt(lambda: os.chown(p, -1, 5))\n\
                attempt(lambda: os.chown(p, -1, -1))";
    let runs = attack(&s, &[], code, || {
        let _ = std::fs::remove_file(s.path("f"));
    });
    let want = "refused EINVAL\nrefused EINVAL\ndone\n";
    assert_eq!(stdout(&runs.sandboxed), want, "{}", stderr(&runs.sandboxed));
    assert_eq!(stdout(&runs.native_userns), want);
}

// --- new user namespaces are refused unless a rule allows them ------------------

#[test]
fn new_user_namespaces_are_refused_and_reported_by_default_issue8() {
    if needs_root_and_python() {
        return;
    }
    let s = shared_scratch("userns-default");
    // unshare(2), then clone(2) with CLONE_NEWUSER: the child exits at once.
    let code = "libc.syscall.restype = ctypes.c_long\n\
                pid = libc.syscall(56, ctypes.c_ulong(CLONE_NEWUSER | 17), 0, 0, 0, 0)\n\
                if pid == 0:\n    libc._exit(0)\n\
                print('clone', 'ok' if pid > 0 else errno.errorcode[ctypes.get_errno()])\n\
                pid > 0 and os.waitpid(pid, 0)\n\
                r = libc.unshare(CLONE_NEWUSER)\n\
                print('unshare', 'ok' if r == 0 else errno.errorcode[ctypes.get_errno()])";
    let dir = s.dir.to_str().unwrap();
    let command = as_user(&argv(&script(code, "plain", dir)));
    let log = s.path("log.jsonl");
    let mut cmd = stockade(&["-m", "sandbox/write:on", "--log", &log]);
    cmd.arg("--").args(&command);
    let out = output_within(cmd, TIMEOUT);
    assert_eq!(
        stdout(&out),
        "clone EPERM\nunshare EPERM\n",
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("denied namespace access: unshare(CLONE_NEWUSER) by pid"),
        "{err}"
    );
    assert!(
        err.contains("denied namespace access: clone(CLONE_NEWUSER|0x11) by pid"),
        "{err}"
    );
    assert!(err.contains("trace/allow_user_namespace:on"), "{err}");
    assert!(err.contains("2 violations (namespace 2)"), "{err}");
    let records = std::fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> = records
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    for r in &records {
        assert_eq!(r["category"], "namespace");
        assert_eq!(r["errno"], "EPERM");
        assert_eq!(r["rule"], "trace/allow_user_namespace:on");
    }

    let native = run_within(&command, None);
    assert_eq!(
        stdout(&native),
        "clone ok\nunshare ok\n",
        "{}",
        stderr(&native)
    );
}

#[test]
fn rule_allows_new_user_namespaces() {
    if skip_unless(exists("/usr/bin/unshare"), "needs unshare(1)") {
        return;
    }
    let out = run(
        &["-m", "trace/allow_user_namespace:on"],
        &["unshare", "-U", "-r", "id", "-u"],
    );
    assert_eq!(stdout(&out), "0\n", "{}", stderr(&out));
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));
}

#[test]
fn user_namespace_rule_is_accepted_by_check() {
    let s = Scratch::new("userns-check");
    let file = s.path("rules");
    std::fs::write(
        &file,
        "trace/allow_user_namespace:on\ntrace/allow_user_namespace:off\n",
    )
    .unwrap();
    let out = stockade(&["check", &file]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(&file, "trace/allow_user_namespaces:on\n").unwrap();
    let out = stockade(&["check", &file]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("allow_user_namespace"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn setns_into_a_user_namespace_is_refused_by_default_issue8() {
    if needs_root_and_python() {
        return;
    }
    // A user namespace made outside the sandbox by the same user: the
    // owner holds every capability in it, so setns would succeed. Its
    // descriptor is opened outside and inherited as fd 3 (the tree may not
    // open /proc/PID/ns of a process outside it).
    let s = shared_scratch("userns-setns");
    let mut holder = Command::new("setpriv");
    holder
        .args(&as_user(&["unshare", "-U", "-r", "sleep", "20"])[1..])
        .stdin(std::process::Stdio::null());
    let mut holder = holder.spawn().unwrap();
    let ns = format!("/proc/{}/ns/user", holder.id());
    // unshare(1) execs sleep once the namespace is made.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let code = "r = libc.setns(3, 0)\n\
                print('ok' if r == 0 else errno.errorcode[ctypes.get_errno()])";
    let dir = s.dir.to_str().unwrap();
    let command = as_user(&argv(&script(code, "plain", dir)));
    let with_fd3 = |command: &[String]| {
        let mut v: Vec<String> = ["sh", "-c", "exec 3<\"$1\"; shift; exec \"$@\"", "sh", &ns]
            .map(String::from)
            .to_vec();
        v.extend(command.iter().cloned());
        v
    };
    let mut sandboxed = vec![
        stockade_bin().to_string(),
        "-m".to_string(),
        "sandbox/write:on".to_string(),
        "--".to_string(),
    ];
    sandboxed.extend(command.iter().cloned());
    let out = run_within(&with_fd3(&sandboxed), None);
    let native = run_within(&with_fd3(&command), None);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(stdout(&out), "EPERM\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("denied namespace access: setns(3, 0x0) by pid"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&native), "ok\n", "{}", stderr(&native));
}

// --- clone3 -----------------------------------------------------------------

#[test]
fn clone3_fails_with_enosys_and_libc_falls_back_to_clone() {
    let code = "import ctypes, errno, os, subprocess, threading\n\
                libc = ctypes.CDLL(None, use_errno=True)\n\
                r = libc.syscall(435, 0, 0)\n\
                print('clone3', errno.errorcode[ctypes.get_errno()] if r < 0 else 'ok')\n\
                pid = os.fork()\n\
                if pid == 0:\n    os._exit(7)\n\
                print('fork', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n\
                t = threading.Thread(target=lambda: print('thread ran', flush=True)); t.start(); t.join()\n\
                pid = os.posix_spawn('/bin/sh', ['sh', '-c', 'exit 5'], os.environ)\n\
                print('posix_spawn', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n\
                print('subprocess', subprocess.run(['true']).returncode)";
    let out = run(&["-m", "sandbox/write:on"], &argv(&py(code)));
    assert_eq!(
        stdout(&out),
        "clone3 ENOSYS\nfork 7\nthread ran\nposix_spawn 5\nsubprocess 0\n",
        "{}",
        stderr(&out)
    );
    // Natively clone3 exists: a NULL argument fails otherwise.
    let native = run_bare(&argv(&py(code)));
    assert!(
        stdout(&native).starts_with("clone3 EFAULT\n")
            || stdout(&native).starts_with("clone3 EINVAL\n"),
        "{}",
        stdout(&native)
    );
}

// --- identity the supervisor's own calls carry -----------------------------------

/// A unix listener run by root records the peer credentials of whoever
/// connects: the kernel takes them from the connecting thread, which for
/// an emulated connect is stockade's worker. They must name the dropped
/// build's user, as natively, not root: a daemon that trusts uid 0 peers
/// would otherwise serve the build as root.
#[test]
fn emulated_connect_carries_the_callers_uid_not_roots_issue8() {
    if needs_root_and_python() {
        return;
    }
    let (uid, _) = test_user();
    let s = shared_scratch("peercred");
    let sock = s.path("sock");
    let listener_code = "import os, socket, struct, sys\n\
        s = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\nos.chmod(sys.argv[1], 0o777)\ns.listen(4)\n\
        print('ready', flush=True)\n\
        for _ in range(2):\n    c, _ = s.accept()\n    pid, uid, gid = struct.unpack('3i', c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))\n    print(uid, flush=True)\n    c.close()\n";
    let listener = Command::new(python())
        .args(["-c", listener_code, &sock])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for_file(&sock, TIMEOUT), "the listener binds");
    let client = [
        SYSTEM_PYTHON,
        "-c",
        "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nprint('connected')",
        &sock,
    ];
    let allow = format!("allow/net/connect+{sock}");
    let mut cmd = stockade(&["-m", "sandbox/net:on", "-m", &allow]);
    cmd.arg("--").args(as_user(&client));
    let out = output_within(cmd, TIMEOUT);
    let native = run_within(&as_user(&client), None);
    let listened = listener.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "connected\n", "{}", stderr(&out));
    assert_eq!(stdout(&native), "connected\n", "{}", stderr(&native));
    assert_eq!(stdout(&listened), format!("ready\n{uid}\n{uid}\n"));
}

/// The kernel attaches the sender's real uid to a message for a receiver
/// that asked for SO_PASSCRED, and checks explicit SCM_CREDENTIALS against
/// the sender's ids. An emulated send is made by stockade's worker: the
/// receiver must see the build's user, and a build claiming uid 0 must be
/// refused, as natively.
#[test]
fn emulated_send_carries_the_callers_credentials_not_roots_issue8() {
    if needs_root_and_python() {
        return;
    }
    let (uid, _) = test_user();
    let s = shared_scratch("passcred");
    let sock = s.path("sock");
    let listener_code = "import os, socket, struct, sys\n\
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
        s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)\n\
        s.bind(sys.argv[1])\nos.chmod(sys.argv[1], 0o777)\n\
        for _ in range(2):\n    msg, anc, flags, addr = s.recvmsg(64, socket.CMSG_SPACE(12))\n    \
        creds = [struct.unpack('3i', d)[1] for l, t, d in anc if t == socket.SCM_CREDENTIALS]\n    \
        print(msg.decode(), creds[0] if creds else 'none', flush=True)\n";
    let listener = Command::new(python())
        .args(["-c", listener_code, &sock])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for_file(&sock, TIMEOUT), "the listener binds");
    // A plain send, then one that claims root with the pid of its parent
    // (stockade, under the sandbox), which natively fails.
    let client = [
        SYSTEM_PYTHON,
        "-c",
        "import os, socket, struct, sys\n\
         s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
         s.sendto(b'plain', sys.argv[1])\n\
         forged = [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack('3i', os.getppid(), 0, 0))]\n\
         try:\n    s.sendmsg([b'forged'], forged, 0, sys.argv[1])\n    print('forged sent')\n\
         except OSError as e:\n    print('forged refused', e.errno)\n    s.sendto(b'last', sys.argv[1])",
        &sock,
    ];
    let allow = format!("allow/net/connect+{sock}");
    let mut cmd = stockade(&["-m", "sandbox/net:on", "-m", &allow]);
    cmd.arg("--").args(as_user(&client));
    let out = output_within(cmd, TIMEOUT);
    let listened = listener.wait_with_output().unwrap();
    assert_eq!(
        stdout(&out),
        format!("forged refused {}\n", libc::EPERM),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&listened), format!("plain {uid}\nlast {uid}\n"));

    // Natively the same, with the test user's own parent.
    let _ = std::fs::remove_file(&sock);
    let listener = Command::new(python())
        .args(["-c", listener_code, &sock])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let listener_ready = wait_for_file(&sock, TIMEOUT);
    let native = run_within(&as_user(&client), None);
    let listened = listener.wait_with_output().unwrap();
    assert!(listener_ready);
    assert_eq!(stdout(&native), format!("forged refused {}\n", libc::EPERM));
    assert_eq!(stdout(&listened), format!("plain {uid}\nlast {uid}\n"));
}

/// The kernel refuses a change of project id from outside the initial user
/// namespace with EINVAL (before the filesystem's own check); the
/// supervisor, which acts in the initial one, must refuse it the same way.
#[test]
fn project_id_cannot_be_changed_from_a_user_namespace_issue8() {
    if needs_root_and_python() {
        return;
    }
    let s = shared_scratch("userns-projid");
    let code = "import fcntl\np = D + '/f'\nopen(p, 'a').close()\n\
                fd = os.open(p, os.O_RDONLY)\n\
                old = struct.unpack('5I8x', fcntl.ioctl(fd, 0x801c581f, bytes(28)))\n\
                attempt(lambda: fcntl.ioctl(fd, 0x401c5820, struct.pack('5I8x', old[0], old[1], old[2], old[3] + 5, old[4])))";
    let runs = attack(&s, &[], code, || {
        let _ = std::fs::remove_file(s.path("f"));
    });
    assert_eq!(
        stdout(&runs.sandboxed),
        "refused EINVAL\n",
        "{}",
        stderr(&runs.sandboxed)
    );
    assert_eq!(stdout(&runs.native_userns), "refused EINVAL\n");
    // Real root gets past that check, to the filesystem's own answer.
    assert_ne!(stdout(&runs.native_root), "refused EINVAL\n");
}
