//! Shared harness for the end-to-end tests: run the built `stockade` binary on
//! real processes, in fresh scratch directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The built binary.
pub fn stockade_bin() -> &'static str {
    env!("CARGO_BIN_EXE_stockade")
}

/// A `stockade` command with `args` (rules, options), not yet given COMMAND.
pub fn stockade(args: &[&str]) -> Command {
    let mut cmd = Command::new(stockade_bin());
    cmd.args(args);
    cmd
}

/// A fresh, empty directory for one test, outside every built-in profile's
/// allowed areas (see [`scratch_base`]), so "outside the allowed area" is
/// really outside wherever the checkout is.
pub struct Scratch {
    pub dir: PathBuf,
}

/// Whether some built-in profile that checks writes allows writing `path`.
pub fn allowed_by_a_profile(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    use stockade::policy::{self, Category, Outcome, Policy};
    policy::profile::profile_names().iter().any(|name| {
        let text = policy::profile::profile(name).expect("a listed profile");
        let mut policy = Policy::new();
        for command in
            policy::parse_config(name, text.as_bytes(), &|_| None).expect("profile parses")
        {
            policy.apply(&command).expect("profile applies");
        }
        let verdict = policy.check_path(Category::Write, path.as_os_str().as_bytes());
        policy.is_on(Category::Write) && verdict.outcome == Outcome::Allow
    })
}

/// Where scratch directories go: cargo's target tmpdir, unless a profile
/// allows writing there (a checkout or target dir under /tmp: issue 9), then
/// the first of `$STOCKADE_TEST_SCRATCH`, `/var/lib/stockade-tests`,
/// `$HOME/.cache/stockade-tests` that no profile allows and we can create.
pub fn scratch_base() -> &'static Path {
    static BASE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let mut candidates = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR"))];
        if let Some(dir) = std::env::var_os("STOCKADE_TEST_SCRATCH") {
            candidates.insert(0, PathBuf::from(dir));
        }
        candidates.push(PathBuf::from("/var/lib/stockade-tests"));
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(Path::new(&home).join(".cache/stockade-tests"));
        }
        candidates
            .into_iter()
            .find(|dir| {
                !allowed_by_a_profile(&dir.join("probe")) && std::fs::create_dir_all(dir).is_ok()
            })
            .expect("a scratch directory outside every profile's allowed areas")
    })
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = scratch_base().join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    /// A path inside the scratch directory, as a string.
    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_str().unwrap().to_string()
    }

    /// The rule that allows writing anywhere under `rel` (or the whole dir for "").
    pub fn allow_write(&self, rel: &str) -> String {
        let p = if rel.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(rel)
        };
        format!("allow/write+{}/***", p.display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `stockade ARGS -- COMMAND...` and returns its output.
pub fn run(args: &[&str], command: &[&str]) -> Output {
    stockade(args)
        .arg("--")
        .args(command)
        .output()
        .expect("stockade runs")
}

/// Runs COMMAND without stockade, for the control half of an attack test.
pub fn run_bare(command: &[&str]) -> Output {
    Command::new(command[0])
        .args(&command[1..])
        .output()
        .expect("command runs")
}

/// `python3 -c CODE`: tests use Python's os module and ctypes to make exact
/// system calls.
pub fn py(code: &str) -> Vec<String> {
    vec![python().to_string(), "-c".to_string(), code.to_string()]
}

/// The Python interpreter itself, as Python names it. `python3` on PATH may
/// be a version manager's shell shim (pyenv) that writes /dev/null and
/// /dev/tty before starting Python, adding reports of its own to every test.
pub fn python() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// Borrowed view of an owned argv.
pub fn argv(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether we run as root (some tests need it, and say so when skipping).
pub fn is_root() -> bool {
    // SAFETY-free: read from /proc rather than calling geteuid.
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Prints a visible skip line and returns true when `cond` is false.
pub fn skip_unless(cond: bool, why: &str) -> bool {
    if !cond {
        eprintln!("SKIPPED: {why}");
    }
    !cond
}

/// An unpacked autotools source tree: `$STOCKADE_LEARN_SOURCE`, or what
/// `.ci/fetch-hello` unpacked under target/learn-src.
pub fn real_source() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("STOCKADE_LEARN_SOURCE") {
        // Asked for (CI sets it): a missing tree is a failure, not a skip.
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("configure").is_file(),
            "STOCKADE_LEARN_SOURCE={} has no configure script",
            dir.display()
        );
        return Some(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/learn-src");
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("configure").is_file())
        .collect();
    found.sort();
    found.pop()
}

pub fn copy_tree(from: &Path, to: &str) {
    let _ = std::fs::remove_dir_all(to);
    let out = Command::new("cp")
        .args(["-a", from.to_str().unwrap(), to])
        .output()
        .unwrap();
    assert!(out.status.success(), "cp: {}", stderr(&out));
}
