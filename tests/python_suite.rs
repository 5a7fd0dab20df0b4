//! CPython's own test suite (Debian's `libpython3.X-testsuite`), run natively
//! and under `stockade -p paludis` with the build directory writable, and
//! compared test by test (issue 9: "a real test suite, run both ways").
//! `.ci/run` installs the package; without it the test skips visibly.
//! The runner and the comparison are in `tests/python_suite/`; the policy-
//! caused and known differences are in `tests/python_suite/expected.txt`.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// The file-system and socket modules compared. test_asyncio is given by
/// its socket, pipe and subprocess submodules; the rest of the package tests
/// event-loop logic that never reaches the kernel differently.
const MODULES: [&str; 22] = [
    "test_asyncio.test_events",
    "test_io",
    "test_signal",
    "test_subprocess",
    "test_socket",
    "test_logging",
    "test_asyncio.test_unix_events",
    "test_asyncio.test_subprocess",
    "test_asyncio.test_streams",
    "test_asyncio.test_sock_lowlevel",
    "test_asyncio.test_server",
    "test_asyncio.test_sendfile",
    "test_socketserver",
    "test_os",
    "test_shutil",
    "test_tempfile",
    "test_pathlib",
    "test_posix",
    "test_fileinput",
    "test_glob",
    "test_stat",
    "test_fcntl",
];

/// Debian's interpreter, whose test package `.ci/run` installs.
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

fn suite_installed() -> Option<String> {
    let out = Command::new(DEBIAN_PYTHON)
        .args([
            "-c",
            "import sys, test, os; print(os.path.dirname(test.__file__)); print(sys.version_info[1])",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let dir = lines.next()?.to_string();
    let minor = lines.next()?.to_string();
    Path::new(&dir)
        .join("test_os.py")
        .exists()
        .then(|| format!("libpython3.{minor}-testsuite"))
}

#[test]
fn python_test_suite_passes_inside_as_outside_issue9() {
    let Some(package) = suite_installed() else {
        eprintln!(
            "SKIPPED: CPython's test suite is not installed for {DEBIAN_PYTHON} \
             (apt-get install libpython3.X-testsuite; .ci/run does)"
        );
        return;
    };
    let work = Scratch::new("python-suite");
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python_suite");
    let out = Command::new(DEBIAN_PYTHON)
        .arg(here.join("compare.py"))
        .args(["--stockade", stockade_bin()])
        .args(["--work", &work.path("")])
        .args(["--expect", here.join("expected.txt").to_str().unwrap()])
        .args(["--jobs", "2", "--timeout", "60"])
        .args(MODULES)
        .output()
        .expect("compare.py runs");
    let report = stdout(&out);
    eprintln!("{package}:\n{report}{}", stderr(&out));
    assert!(
        out.status.success(),
        "tests that pass natively differ under stockade:\n{report}"
    );
    assert!(report.contains("(compared): "), "{report}");
}
