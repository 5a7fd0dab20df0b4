//! Credentials: the supervisor performs allowed calls on the caller's behalf,
//! so what it creates must belong to the caller and follow the caller's
//! umask, and it must never lend its own (root) powers to an unprivileged
//! caller. stockade also sandboxes the same way when run without root.
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
use std::process::Command;
use support::*;
use users::{shared_scratch, test_user};

/// `setpriv ... sh -c SCRIPT`: SCRIPT run as the test user.
fn as_user(script: &str) -> Vec<String> {
    users::as_user(&["sh", "-c", script])
}

fn dir_of(s: &Scratch) -> String {
    s.dir.to_str().unwrap().to_string()
}

/// Write checks on, writes allowed anywhere under the scratch dir.
fn allow_scratch(s: &Scratch) -> Vec<String> {
    ["-m", "sandbox/write:on", "-m", &s.allow_write("")]
        .map(String::from)
        .to_vec()
}

fn sandboxed(policy: &[String], command: &[String]) -> std::process::Output {
    let mut cmd = stockade(&argv(policy));
    cmd.arg("--").args(command);
    output_within(cmd, TIMEOUT)
}

fn bare(command: &[String]) -> std::process::Output {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    output_within(cmd, TIMEOUT)
}

fn owner_and_mode(path: &str) -> (u32, u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (meta.uid(), meta.gid(), meta.mode() & 0o7777)
}

/// A root-owned 0644 file with known contents in the scratch dir.
fn root_file(s: &Scratch, name: &str) -> String {
    let path = s.path(name);
    std::fs::write(&path, "root's\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn assert_no_policy_report(out: &std::process::Output) {
    assert!(
        !stderr(out).contains("stockade: denied"),
        "the policy allows this; only the kernel's check may refuse it: {}",
        stderr(out)
    );
}

// --- what the supervisor creates belongs to the caller -------------------------

#[test]
fn file_created_by_dropped_user_is_theirs_with_their_umask() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let (uid, gid) = test_user();
    let s = shared_scratch("owner-file");
    let dir = dir_of(&s);
    let command = as_user(&format!("umask 027; touch {dir}/f"));

    let out = sandboxed(&allow_scratch(&s), &command);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(owner_and_mode(&s.path("f")), (uid, gid, 0o640));

    // The same holds without stockade: the expectation is the kernel's own.
    std::fs::remove_file(s.path("f")).unwrap();
    assert_eq!(bare(&command).status.code(), Some(0));
    assert_eq!(owner_and_mode(&s.path("f")), (uid, gid, 0o640));
}

#[test]
fn directory_created_by_dropped_user_is_theirs_with_their_umask() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let (uid, gid) = test_user();
    let s = shared_scratch("owner-dir");
    let dir = dir_of(&s);
    let command = as_user(&format!("umask 027; mkdir {dir}/d"));

    let out = sandboxed(&allow_scratch(&s), &command);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(owner_and_mode(&s.path("d")), (uid, gid, 0o750));
}

// --- no root powers lent ------------------------------------------------------

#[test]
fn dropped_user_cannot_write_root_owned_file_in_allowed_dir() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("no-root-write");
    let file = root_file(&s, "rootfile");
    let command = as_user(&format!("echo mine > {file}"));

    let out = sandboxed(&allow_scratch(&s), &command);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Permission denied"),
        "EACCES: {}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "root's\n");
    assert_no_policy_report(&out);

    // Root under the same policy may: the refusal is about the caller.
    let root = sandboxed(
        &allow_scratch(&s),
        &["sh".into(), "-c".into(), format!("echo root > {file}")],
    );
    assert_eq!(root.status.code(), Some(0), "{}", stderr(&root));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "root\n");

    // And without stockade the user is refused the same way.
    let plain = bare(&command);
    assert!(stderr(&plain).contains("Permission denied"));
}

#[test]
fn dropped_user_cannot_chmod_root_owned_file_in_allowed_dir() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("no-root-chmod");
    let file = root_file(&s, "rootfile");
    let command = as_user(&format!("chmod 666 {file}"));

    let out = sandboxed(&allow_scratch(&s), &command);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "EPERM: {}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&file).2, 0o644);
    assert_no_policy_report(&out);

    let plain = bare(&command);
    assert!(stderr(&plain).contains("Operation not permitted"));
}

#[test]
fn dropped_user_cannot_remove_root_owned_file_in_sticky_allowed_dir() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("no-root-unlink");
    let file = root_file(&s, "rootfile");
    let command = as_user(&format!("rm -f {file}"));

    let out = sandboxed(&allow_scratch(&s), &command);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(exists(&file), "the sticky bit protects root's file");
    assert_no_policy_report(&out);

    assert_ne!(bare(&command).status.code(), Some(0));
    assert!(exists(&file));
}

// --- stockade without root -------------------------------------------------------

/// The stockade binary at a path the test user can execute: the built one if
/// its directories are traversable, else a copy in a 0755 directory.
fn binary_for_user(s: &Scratch) -> String {
    let built = stockade_bin().to_string();
    let mut check = users::as_user(&[]);
    check.extend(["test".into(), "-x".into(), built.clone()]);
    if bare(&check).status.success() {
        return built;
    }
    let bin_dir = s.path("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::fs::set_permissions(&bin_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = format!("{bin_dir}/stockade");
    std::fs::copy(&built, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// Tries `in/a` then `out`, as the shell sees it.
fn inside_then_outside(s: &Scratch) -> String {
    let dir = dir_of(s);
    format!(
        "touch {dir}/in/a && echo inside written; \
         if touch {dir}/out 2>/dev/null; then echo outside written; else echo outside refused; fi"
    )
}

#[test]
fn unprivileged_stockade_allows_inside_and_denies_outside() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("unprivileged");
    std::fs::create_dir(s.path("in")).unwrap();
    std::fs::set_permissions(s.path("in"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let bin = binary_for_user(&s);
    let script = inside_then_outside(&s);

    let mut command = users::as_user(&[]);
    command.extend([
        bin,
        "-m".into(),
        "sandbox/write:on".into(),
        "-m".into(),
        s.allow_write("in"),
        "-m".into(),
        "allow/write+/dev/null".into(),
        "--".into(),
        "sh".into(),
        "-c".into(),
        script.clone(),
    ]);
    let out = bare(&command);
    assert_eq!(
        stdout(&out),
        "inside written\noutside refused\n",
        "{}",
        stderr(&out)
    );
    assert!(exists(&s.path("in/a")));
    assert!(!exists(&s.path("out")));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("allow/write+{}", s.path("out"))),
        "{err}"
    );
    assert!(err.contains(" (write "), "summary line: {err}");

    std::fs::remove_file(s.path("in/a")).unwrap();
    let plain = bare(&as_user(&script));
    assert_eq!(stdout(&plain), "inside written\noutside written\n");
}

// --- capabilities ----------------------------------------------------------------

/// `setpriv` that keeps uid 0 but leaves `caps` out of the bounding set, so
/// the command it execs runs as root without them.
fn root_without(caps: &str, command: &[&str]) -> Vec<String> {
    let mut v = vec!["setpriv".to_string(), format!("--bounding-set={caps}")];
    v.extend(command.iter().map(|a| a.to_string()));
    v
}

/// A file owned by the test user, mode 0600.
fn user_file(s: &Scratch, name: &str) -> String {
    let (uid, gid) = test_user();
    let path = s.path(name);
    std::fs::write(&path, "user's\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let status = Command::new("chown")
        .arg(format!("{uid}:{gid}"))
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    path
}

#[test]
fn root_without_dac_override_cannot_write_read_only_file() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("no-dac-override");
    let file = root_file(&s, "ro");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let line = format!("echo changed > {file}");
    let command = root_without("-dac_override,-dac_read_search", &["sh", "-c", &line]);

    let plain = bare(&command);
    assert!(
        stderr(&plain).contains("Permission denied"),
        "{}",
        stderr(&plain)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "root's\n");

    let out = sandboxed(&allow_scratch(&s), &command);
    assert!(
        stderr(&out).contains("Permission denied"),
        "EACCES: {}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "root's\n");
}

#[test]
fn root_without_chown_cannot_take_another_users_file() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let (uid, _) = test_user();
    let s = shared_scratch("no-chown");
    let file = user_file(&s, "theirs");
    let command = root_without("-chown", &["chown", "root", &file]);

    assert_ne!(bare(&command).status.code(), Some(0));
    assert_eq!(owner_and_mode(&file).0, uid);

    let out = sandboxed(&allow_scratch(&s), &command);
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "EPERM: {}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&file).0, uid, "ownership unchanged");
}

#[test]
fn root_without_fowner_cannot_chmod_another_users_file() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("no-fowner");
    let file = user_file(&s, "theirs");
    let command = root_without("-fowner", &["chmod", "666", &file]);

    assert_ne!(bare(&command).status.code(), Some(0));
    assert_eq!(owner_and_mode(&file).2, 0o600);

    let out = sandboxed(&allow_scratch(&s), &command);
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "EPERM: {}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&file).2, 0o600, "mode unchanged");
}

#[test]
fn unprivileged_caller_with_dac_override_can_write_root_file() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("ambient-dac");
    let file = root_file(&s, "rootfile");
    let mut command = users::as_user(&[]);
    command.extend([
        "--inh-caps=+dac_override".into(),
        "--ambient-caps=+dac_override".into(),
        "sh".into(),
        "-c".into(),
        format!("echo mine >> {file}"),
    ]);

    let out = sandboxed(&allow_scratch(&s), &command);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "root's\nmine\n");

    assert_eq!(bare(&command).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "root's\nmine\nmine\n"
    );
}

// --- the supervisor cannot be taken over from inside ------------------------------

/// A script that takes descriptors 0..15 of process `$1` with
/// pidfd_getfd and prints `taken` if any arrives, else `refused ERRNO`.
const TAKE_DESCRIPTORS: &str = "import ctypes, sys
l = ctypes.CDLL(None, use_errno=True)
p = l.syscall(434, int(sys.argv[1]), 0)
r = [l.syscall(438, p, i, 0) for i in range(16)]
print('taken' if max(r) >= 0 else 'refused %d' % ctypes.get_errno())
";

/// Run as the same user as the tree it supervises, stockade is not dumpable:
/// a sandboxed process cannot ptrace it or take its descriptors (notably the
/// listener, which would let it answer its own calls). The same call on a
/// dumpable process of that user succeeds, so the refusal is the
/// supervisor's doing.
#[test]
fn sandboxed_process_cannot_take_the_supervisors_descriptors() {
    if skip_unless(
        is_root(),
        "needs root (to run stockade as an unprivileged user)",
    ) {
        return;
    }
    // Root's own interpreter may live under root's home; the test user needs
    // the system one.
    let python = "/usr/bin/python3";
    if skip_unless(exists(python), "needs /usr/bin/python3") {
        return;
    }
    let s = shared_scratch("undumpable");
    let bin = binary_for_user(&s);
    let take = s.path("take.py");
    std::fs::write(&take, TAKE_DESCRIPTORS).unwrap();
    let top = s.path("top.sh");
    std::fs::write(
        &top,
        format!("{python} {take} $PPID\nsleep 5 &\n{python} {take} $!\nkill $!\n"),
    )
    .unwrap();
    for f in [&take, &top] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut command = users::as_user(&[]);
    command.extend([bin, "-m".into(), "sandbox/write:on".into(), "--".into()]);
    command.extend(["sh".into(), top]);
    let out = bare(&command);
    assert_eq!(
        stdout(&out),
        format!("refused {}\ntaken\n", libc::EPERM),
        "{}",
        stderr(&out)
    );
}

// --- what a peer learns about the caller -----------------------------------------

/// A server and a client in one Python process, run as the test user: the
/// server reads the uid and gid the kernel recorded for the connecting
/// client (SO_PEERCRED), which are the task's that called connect(2).
const PEER_IDS: &str = r#"
import os, socket, struct, sys
path = os.path.join(sys.argv[1], 'peer.sock')
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
cl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cl.connect(path)
conn = srv.accept()[0]
pid, uid, gid = struct.unpack('iii', conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print(uid, gid)
"#;

#[test]
fn peer_of_an_emulated_unix_connect_sees_the_callers_uid_and_gid_issue9() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("peer-ids");
    let (uid, gid) = test_user();
    let script = s.path("peer.py");
    std::fs::write(&script, PEER_IDS).unwrap();
    let mut command = users::as_user(&[]);
    command.extend([python().to_string(), script.clone(), dir_of(&s)]);
    let mut policy = allow_scratch(&s);
    for rule in [
        "sandbox/net:on".to_string(),
        format!("allow/net/bind+{}/***", dir_of(&s)),
        format!("allow/net/connect+{}/***", dir_of(&s)),
    ] {
        policy.extend(["-m".to_string(), rule]);
    }

    let native = bare(&command);
    assert_eq!(
        stdout(&native),
        format!("{uid} {gid}\n"),
        "{}",
        stderr(&native)
    );
    let _ = std::fs::remove_file(s.path("peer.sock"));
    let out = sandboxed(&policy, &command);
    assert_eq!(stdout(&out), stdout(&native), "{}", stderr(&out));
    assert_no_policy_report(&out);
}

/// A datagram socket pair, run as the test user: the receiver reads the
/// credentials the kernel attached to a send with explicit
/// SCM_CREDENTIALS naming the sender itself, and to a plain send (the
/// receiver has SO_PASSCRED). The pid is left out: an emulated send shows
/// the supervisor's (docs/security.md).
const SENDER_IDS: &str = r#"
import os, socket, struct
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
b.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
def received():
    msg, anc, _, _ = b.recvmsg(10, 64)
    pid, uid, gid = struct.unpack('iII', anc[0][2][:12])
    return uid, gid
creds = struct.pack('iII', os.getpid(), os.getuid(), os.getgid())
try:
    a.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])
    print('explicit', *received())
except OSError as e:
    print('explicit error', e.errno)
a.sendmsg([b'y'])
print('implicit', *received())
"#;

#[test]
fn peer_of_an_emulated_unix_send_sees_the_callers_uid_and_gid_issue9() {
    if skip_unless(is_root(), "needs root") {
        return;
    }
    let s = shared_scratch("sender-ids");
    let (uid, gid) = test_user();
    let script = s.path("sender.py");
    std::fs::write(&script, SENDER_IDS).unwrap();
    let mut command = users::as_user(&[]);
    command.extend([python().to_string(), script]);
    let policy = ["-m".to_string(), "sandbox/net:on".to_string()];

    let native = bare(&command);
    assert_eq!(
        stdout(&native),
        format!("explicit {uid} {gid}\nimplicit {uid} {gid}\n"),
        "{}",
        stderr(&native)
    );
    let out = sandboxed(&policy, &command);
    assert_eq!(stdout(&out), stdout(&native), "{}", stderr(&out));
}
