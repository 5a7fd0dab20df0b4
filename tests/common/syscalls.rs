//! Helpers for the per-syscall end-to-end tests: one exact system call made
//! from Python with ctypes, on a target directory that is either inside the
//! allowed area or outside it, checked three ways (denied outside, allowed
//! inside, and the same call outside without stockade).
//!
//! Layout of every scratch directory:
//!
//! ```text
//! SCRATCH/in/        the allowed area
//! SCRATCH/in/h/      the helper directory H: always allowed (second path of
//!                    rename and link, where the call needs one)
//! SCRATCH/in/d/      the target directory D when the call should be allowed
//! SCRATCH/out/       the target directory D when the call should be denied
//! ```
//!
//! The Python code sees `D` and `H` as bytes, `P(name)` and `Q(name)` for
//! names inside them, and `sc(nr, *args)`, which makes the raw system call
//! and prints `ok` or the errno's name (e.g. `EACCES`) on its own line.
#![allow(dead_code)]

use super::common::{Scratch, run_bare, stderr, stdout};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Definitions every test program starts with. Integer arguments are passed
/// as `long` so that the upper halves of the registers are defined.
pub const PRELUDE: &str = r#"
import ctypes, errno, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
D = os.fsencode(sys.argv[1]) if len(sys.argv) > 1 else b''
H = os.fsencode(sys.argv[2]) if len(sys.argv) > 2 else b''
def P(name):
    return D + b'/' + name
def Q(name):
    return H + b'/' + name
def _arg(a):
    return ctypes.c_long(a) if isinstance(a, int) else a
def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    e = ctypes.get_errno()
    print('ok' if r >= 0 else errno.errorcode.get(e, str(e)), flush=True)
    return r
def quiet(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    if r < 0:
        print('quiet call', nr, 'failed:', errno.errorcode.get(ctypes.get_errno()), file=sys.stderr)
    return r
def unnamed_written(fd):
    if fd >= 0:
        wrote(fd)
        st = os.fstat(fd)
        print('unnamed', st.st_nlink, st.st_size)
def dirfd(path):
    return os.open(path, os.O_PATH | os.O_DIRECTORY)
def how(flags, mode=0, resolve=0):
    return struct.pack('QQQ', flags, mode, resolve)
def xattr_args(value):
    buf = ctypes.create_string_buffer(value, len(value))
    xattr_args.keep = buf
    return struct.pack('QII', ctypes.addressof(buf), len(value), 0)
def argv(*args):
    return (ctypes.c_char_p * (len(args) + 1))(*args, None)
def print_user_names(buf, n):
    if n >= 0:
        print([x for x in buf.raw[:n].split(b'\0') if x.startswith(b'user.')])
def at_page_end(path):
    # The path's NUL is the last byte of a mapped page, and the next page is
    # unmapped: a reader that fetches whole fixed-size chunks faults.
    libc.mmap.restype = ctypes.c_void_p
    addr = libc.mmap(None, ctypes.c_size_t(8192), 3, 0x22, -1, ctypes.c_long(0))
    libc.munmap(ctypes.c_void_p(addr + 4096), ctypes.c_size_t(4096))
    start = addr + 4096 - len(path) - 1
    ctypes.memmove(start, path + b'\0', len(path) + 1)
    return ctypes.c_void_p(start)
def wrote(fd):
    if fd >= 0:
        os.write(fd, b'new\n')
"#;

/// The real Python interpreter (not a version-manager shim, which is a shell
/// script whose own accesses would clutter the reports).
pub fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = run_bare(&[
            "python3",
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ]);
        assert!(out.status.success(), "python3 runs: {}", stderr(&out));
        stdout(&out).trim().to_string()
    })
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

/// Runs the Python `code` under stockade with `rules`.
pub fn sandboxed(rules: &[String], code: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(super::common::stockade_bin());
    for r in rules {
        cmd.arg("-m").arg(r);
    }
    cmd.arg("--")
        .args(py_argv(code, args))
        .output()
        .expect("stockade runs")
}

/// Runs the Python `code` without stockade.
pub fn bare(code: &str, args: &[&str]) -> Output {
    Command::new(python())
        .args(&py_argv(code, args)[1..])
        .output()
        .expect("python runs")
}

/// A sandbox category, with the rules that make `SCRATCH/in` the allowed area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Write,
    Read,
    Stat,
    Exec,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Write => "write",
            Category::Read => "read",
            Category::Stat => "stat",
            Category::Exec => "exec",
        }
    }

    /// What a caller sees when this category denies it.
    pub fn denied_errno(self) -> &'static str {
        match self {
            Category::Stat => "ENOENT",
            _ => "EACCES",
        }
    }

    /// Write allows only `in/`. The other categories allow everything but
    /// `out/`, because Python itself reads, stats and executes many files
    /// while it starts (the last matching rule wins).
    pub fn rules(self, s: &Scratch) -> Vec<String> {
        let c = self.name();
        match self {
            Category::Write => vec![format!("sandbox/{c}:on"), s.allow_write("in")],
            _ => vec![
                format!("sandbox/{c}:on"),
                format!("allow/{c}+/***"),
                format!("deny/{c}+{}/***", s.path("out")),
            ],
        }
    }
}

/// The directories one case works in.
pub struct Dirs {
    /// Where the call is aimed: `out/` or `in/d/`.
    pub d: PathBuf,
    /// The always-allowed helper directory `in/h/`.
    pub h: PathBuf,
}

impl Dirs {
    /// A fresh scratch with D outside (`inside` false) or inside the allowed area.
    pub fn new(name: &str, inside: bool) -> (Scratch, Dirs) {
        let s = Scratch::new(name);
        let d = if inside {
            s.dir.join("in/d")
        } else {
            s.dir.join("out")
        };
        let h = s.dir.join("in/h");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::create_dir_all(&h).unwrap();
        (s, Dirs { d, h })
    }

    pub fn args(&self) -> [&str; 2] {
        [self.d.to_str().unwrap(), self.h.to_str().unwrap()]
    }
}

/// One system call, described once and checked three ways.
pub struct Case {
    /// The category that checks the call.
    pub category: Category,
    /// The syscall name the report must show.
    pub syscall: &'static str,
    /// Prepares D and H before the call.
    pub setup: fn(&Dirs),
    /// Python statements making the call (see the module docs).
    pub code: &'static str,
    /// The name, relative to D, that a denial report must suggest allowing
    /// ("" for D itself).
    pub reported: &'static str,
    /// Everything the program prints when the call succeeds.
    pub success: &'static str,
    /// Whether the call's effect is on disk, given the state before it.
    pub done: fn(&Dirs, &Snapshot) -> bool,
    /// Whether this system can run the case at all (prints SKIPPED if not).
    pub runnable: fn(&Dirs) -> bool,
}

/// The call on `out/` under stockade fails with the category's errno,
/// changes nothing in the scratch directory, and is reported.
pub fn assert_denied_outside(case: &Case) {
    let (s, dirs) = Dirs::new(case.syscall, false);
    if !(case.runnable)(&dirs) {
        return;
    }
    (case.setup)(&dirs);
    let before = Snapshot::take(&s.dir);
    let out = sandboxed(&case.category.rules(&s), case.code, &dirs.args());
    let err = stderr(&out);
    assert_eq!(
        stdout(&out),
        format!("{}\n", case.category.denied_errno()),
        "stderr: {err}"
    );
    before.assert_unchanged(&s.dir);
    let subject = reported_path(&dirs.d, case.reported);
    assert_reported(&out, case.category, case.syscall, &subject);
}

/// The call on `in/d/` under stockade succeeds, has its effect, and nothing
/// in the scratch tree is reported.
pub fn assert_allowed_inside(case: &Case) {
    let (s, dirs) = Dirs::new(case.syscall, true);
    if !(case.runnable)(&dirs) {
        return;
    }
    (case.setup)(&dirs);
    let before = Snapshot::take(&s.dir);
    let out = sandboxed(&case.category.rules(&s), case.code, &dirs.args());
    let err = stderr(&out);
    assert_eq!(stdout(&out), case.success, "stderr: {err}");
    // Only reports about the scratch tree count: Python's own start-up is not
    // what this case is about.
    let scratch = s.dir.display().to_string();
    assert!(
        !err.lines()
            .any(|l| l.starts_with("stockade: denied") && l.contains(&scratch)),
        "{err}"
    );
    assert!(
        (case.done)(&dirs, &before),
        "no effect on disk; stderr: {err}"
    );
}

/// The control: the same call on `out/` without stockade succeeds and has
/// its effect, so the denial cannot pass for the wrong reason.
pub fn assert_succeeds_bare(case: &Case) {
    let (s, dirs) = Dirs::new(case.syscall, false);
    if !(case.runnable)(&dirs) {
        return;
    }
    (case.setup)(&dirs);
    let before = Snapshot::take(&s.dir);
    let out = bare(case.code, &dirs.args());
    assert_eq!(stdout(&out), case.success, "stderr: {}", stderr(&out));
    assert!((case.done)(&dirs, &before), "no effect on disk");
}

/// Generates the three tests of a [`Case`] in a module named for the call.
macro_rules! syscall_case {
    ($name:ident, $case:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn is_denied_outside_the_allowed_area() {
                syscalls::assert_denied_outside(&$case)
            }

            #[test]
            fn is_allowed_inside_the_allowed_area() {
                syscalls::assert_allowed_inside(&$case)
            }

            #[test]
            fn succeeds_outside_without_stockade() {
                syscalls::assert_succeeds_bare(&$case)
            }
        }
    };
}

/// The path a report names for `rel` under `d`.
pub fn reported_path(d: &Path, rel: &str) -> String {
    if rel.is_empty() {
        d.display().to_string()
    } else {
        format!("{}/{rel}", d.display())
    }
}

/// Asserts that one stderr line reports `syscall` and suggests the rule
/// `allow/CATEGORY+subject`.
pub fn assert_reported(out: &Output, category: Category, syscall: &str, subject: &str) {
    let err = stderr(out);
    let call = format!("access: {syscall}(");
    let rule = format!("allow/{}+{subject}", category.name());
    assert!(
        err.lines()
            .any(|l| l.contains(&call) && (l.ends_with(&rule) || l.contains(&format!("{rule} ")))),
        "no report of {syscall} suggesting {rule} in:\n{err}"
    );
}

/// Everything visible about a tree except access times: a denied call must
/// leave it identical (ctime catches mode, owner, time and xattr changes).
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, Entry>);

#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub ino: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    /// File content or symlink target.
    pub data: Vec<u8>,
}

impl Snapshot {
    pub fn take(root: &Path) -> Snapshot {
        let mut map = BTreeMap::new();
        walk(root, &mut map);
        Snapshot(map)
    }

    pub fn get(&self, path: &Path) -> Option<&Entry> {
        self.0.get(path)
    }

    pub fn assert_unchanged(&self, root: &Path) {
        let now = Snapshot::take(root);
        assert!(
            *self == now,
            "the tree changed:\nbefore: {self:#?}\nafter: {now:#?}"
        );
    }
}

fn walk(path: &Path, map: &mut BTreeMap<PathBuf, Entry>) {
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return;
    };
    let data = if md.file_type().is_symlink() {
        std::fs::read_link(path)
            .map(|t| t.into_os_string().into_encoded_bytes())
            .unwrap_or_default()
    } else if md.file_type().is_file() {
        std::fs::read(path).unwrap_or_default()
    } else {
        Vec::new()
    };
    map.insert(
        path.to_path_buf(),
        Entry {
            ino: md.ino(),
            mode: md.mode(),
            uid: md.uid(),
            gid: md.gid(),
            nlink: md.nlink(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
            data,
        },
    );
    if md.is_dir() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            walk(&e.path(), map);
        }
    }
}

/// Whether `path`'s ctime differs from the one in `before` (for calls whose
/// only trace is a metadata change, such as a chown to the owner it has).
pub fn ctime_changed(before: &Snapshot, path: &Path) -> bool {
    let now = std::fs::symlink_metadata(path).unwrap();
    before
        .get(path)
        .is_some_and(|e| e.ctime != (now.ctime(), now.ctime_nsec()))
}

/// `D/f` with content "old\n", mode 0644.
pub fn file_f(dirs: &Dirs) {
    write_file(&dirs.d.join("f"), b"old\n");
}

/// `D/f` ("old\n") and `H/g` ("new\n").
pub fn file_f_and_g(dirs: &Dirs) {
    file_f(dirs);
    write_file(&dirs.h.join("g"), b"new\n");
}

pub fn write_file(path: &Path, content: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

pub fn content(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

pub fn nothing(_: &Dirs) {}

pub fn always(_: &Dirs) -> bool {
    true
}

/// For calls that need root (CAP_DAC_READ_SEARCH, for instance).
pub fn as_root(_: &Dirs) -> bool {
    !super::common::skip_unless(super::common::is_root(), "needs root")
}

/// For xattr cases: the filesystem must support user xattrs.
pub fn with_user_xattrs(dirs: &Dirs) -> bool {
    user_xattrs_supported(&dirs.d)
}

/// The value of the user xattr `name` on `path`, read by Python (std has no
/// xattr calls).
pub fn xattr(path: &Path, name: &str) -> Option<String> {
    let out = bare(
        "try:\n    print(os.getxattr(D, sys.argv[2], follow_symlinks=False).decode())\nexcept OSError as e:\n    print('-', errno.errorcode[e.errno])",
        &[path.to_str().unwrap(), name],
    );
    let text = stdout(&out);
    let text = text.trim_end();
    (!text.starts_with("- ")).then(|| text.to_string())
}

/// Sets the user xattr `name` on `path` to `value`.
pub fn set_xattr(path: &Path, name: &str, value: &str) {
    let out = bare(
        "os.setxattr(D, sys.argv[2], sys.argv[3].encode(), follow_symlinks=False)",
        &[path.to_str().unwrap(), name, value],
    );
    assert!(out.status.success(), "setxattr: {}", stderr(&out));
}

/// Whether the filesystem under `dir` supports user xattrs; prints a
/// SKIPPED line when it does not.
pub fn user_xattrs_supported(dir: &Path) -> bool {
    let probe = dir.join(".xattr-probe");
    std::fs::write(&probe, b"").unwrap();
    let out = bare(
        "try:\n    os.setxattr(D, 'user.probe', b'1')\n    print('yes')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])",
        &[probe.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&probe);
    let answer = stdout(&out);
    if answer.trim() != "yes" {
        eprintln!(
            "SKIPPED: the filesystem of {} has no user xattrs ({})",
            dir.display(),
            answer.trim()
        );
        return false;
    }
    true
}

/// Whether the kernel has the syscall `nr` (probed with invalid arguments:
/// ENOSYS means absent); prints a SKIPPED line when it does not.
pub fn kernel_has(nr: i64, name: &str) -> bool {
    let out = bare(&format!("sc({nr}, -1, None, 0, None, None, 0)"), &[]);
    if stdout(&out).trim() == "ENOSYS" {
        eprintln!("SKIPPED: the kernel has no {name} ({nr})");
        return false;
    }
    true
}

/// Defaults for a write-category case; every case names its own call, code
/// and effect.
pub const WRITE: Case = Case {
    category: Category::Write,
    syscall: "",
    setup: nothing,
    code: "",
    reported: "",
    success: "ok\n",
    done: unspecified,
    runnable: always,
};

/// Defaults for a read-category case.
pub const READ: Case = Case {
    category: Category::Read,
    ..WRITE
};

/// Defaults for a stat-category case.
pub const STAT: Case = Case {
    category: Category::Stat,
    ..WRITE
};

/// Defaults for an exec-category case.
pub const EXEC: Case = Case {
    category: Category::Exec,
    ..WRITE
};

/// For calls that leave nothing on disk (reads, stats, execs): what they
/// did is in the program's output, which is checked against `success`.
pub fn output_is_the_effect(_: &Dirs, _: &Snapshot) -> bool {
    true
}

fn unspecified(_: &Dirs, _: &Snapshot) -> bool {
    panic!("the case does not say how to see its effect")
}
