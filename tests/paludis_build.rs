//! A real autotools package (Debian's `hello`, fetched by `.ci/fetch-hello`)
//! builds and passes its own test suite under the paludis profile with no
//! violation reported, and the result matches the build without stockade
//! (issue 8: closing the ways out must not break what builds need).

mod common;

use common::*;
use std::process::Command;

/// configure, make and make check, as a package manager runs them.
const BUILD: &str = "./configure >/dev/null && make >/dev/null && make check";

#[test]
fn paludis_profile_builds_and_checks_a_real_autotools_package_without_violations_issue8() {
    let Some(source) = real_source() else {
        eprintln!(
            "SKIPPED: no autotools source tree (run .ci/fetch-hello, or set STOCKADE_LEARN_SOURCE)"
        );
        return;
    };
    let s = Scratch::new("paludis-build");
    let (native_dir, sandboxed_dir) = (s.path("native"), s.path("sandboxed"));
    copy_tree(&source, &native_dir);
    copy_tree(&source, &sandboxed_dir);

    let native = Command::new("sh")
        .args(["-c", BUILD])
        .current_dir(&native_dir)
        .output()
        .unwrap();
    assert!(
        native.status.success(),
        "the build fails without stockade:\n{}",
        stderr(&native)
    );

    let allow = format!("allow/write+{sandboxed_dir}/***");
    let out = stockade(&["-p", "paludis", "-m", &allow, "--", "sh", "-c", BUILD])
        .current_dir(&sandboxed_dir)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "the build fails under -p paludis:\n{}\n{err}",
        stdout(&out)
    );
    let reports: Vec<&str> = err.lines().filter(|l| l.starts_with("stockade:")).collect();
    assert!(reports.is_empty(), "violations reported:\n{err}");
    // The same tests ran and passed both ways (automake's summary lines).
    let summary = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("# ") && l.contains(':'))
            .map(str::to_owned)
            .collect()
    };
    let (native_summary, sandboxed_summary) = (summary(&stdout(&native)), summary(&stdout(&out)));
    assert!(
        native_summary.iter().any(|l| l.starts_with("# PASS:")),
        "no test summary natively:\n{}",
        stdout(&native)
    );
    assert_eq!(native_summary, sandboxed_summary);
    let binary = |dir: &str| std::fs::metadata(format!("{dir}/hello")).map(|m| m.is_file());
    assert!(matches!(binary(&sandboxed_dir), Ok(true)));
}
