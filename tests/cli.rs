//! The command line: documented exit codes for stockade's own failures, rule
//! and config errors printed like a compiler's (and the command never
//! started), variable expansion in config files, `check` and
//! `--print-profile`.

mod common;
#[path = "common/behaviour.rs"]
mod support;

use common::*;
use std::os::unix::fs::PermissionsExt;
use support::*;

/// A command that would leave `marker` behind if it ever ran.
fn marker_command(marker: &str) -> [String; 3] {
    ["sh".into(), "-c".into(), format!("touch {marker}")]
}

/// Writes a config file into the scratch directory.
fn config(s: &Scratch, name: &str, text: &str) -> String {
    let path = s.path(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The line after the one showing `source`: the caret under its error.
fn caret_under<'a>(err: &'a str, source: &str) -> (&'a str, &'a str) {
    let mut lines = err.lines();
    let shown = lines
        .find(|l| l.trim() == source)
        .unwrap_or_else(|| panic!("{source} not shown:\n{err}"));
    let caret = lines
        .next()
        .unwrap_or_else(|| panic!("no caret line:\n{err}"));
    (shown, caret)
}

// --- help, version, usage ------------------------------------------------------------

#[test]
fn help_exits_0_and_prints_usage() {
    let out = stockade(&["--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("usage: stockade"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn version_exits_0_and_prints_the_version() {
    let out = stockade(&["--version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("stockade {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_option_exits_64() {
    let out = stockade(&["--no-such-option", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--no-such-option"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_command_exits_64() {
    let out = stockade(&["-m", "sandbox/write:on"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
}

// --- commands that cannot start ------------------------------------------------------

#[test]
fn command_not_found_exits_127() {
    let out = run(
        &["-m", "sandbox/write:on"],
        &["stockade-no-such-command-anywhere"],
    );
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stockade-no-such-command-anywhere"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn command_path_that_does_not_exist_exits_127() {
    let s = Scratch::new("no-such-path");
    let out = run(&["-m", "sandbox/write:on"], &[&s.path("missing")]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
}

#[test]
fn command_without_execute_bit_exits_126() {
    let s = Scratch::new("no-x");
    let file = s.path("script");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    // As root, execve still needs one execute bit, so this holds for root too.
    let out = run(&["-m", "sandbox/write:on"], &[&file]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
}

#[test]
fn directory_as_command_exits_126() {
    let s = Scratch::new("dir-cmd");
    let out = run(&["-m", "sandbox/write:on"], &[&dir_string(&s)]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
}

fn dir_string(s: &Scratch) -> String {
    s.dir.to_str().unwrap().to_string()
}

// --- bad rules, files and profiles -----------------------------------------------------

#[test]
fn bad_rule_exits_65_with_caret_and_command_never_starts() {
    let s = Scratch::new("bad-rule");
    let marker = s.path("started");
    let rule = "sandbox/write:maybe";
    let out = run(&["-m", rule], &argv(&marker_command(&marker)));
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(!exists(&marker), "the command ran");

    let err = stderr(&out);
    let (shown, caret) = caret_under(&err, rule);
    assert_eq!(caret.trim(), "^", "{err}");
    assert_eq!(
        caret.find('^'),
        shown.find("maybe"),
        "caret under the bad word:\n{err}"
    );
    assert!(err.contains("expected"), "says what was expected: {err}");
    assert!(err.contains("on") && err.contains("off"), "{err}");
}

#[test]
fn config_errors_on_two_lines_are_both_reported_with_file_line_col() {
    let s = Scratch::new("bad-config");
    let marker = s.path("started");
    let conf = config(
        &s,
        "bad.conf",
        "sandbox/write:on\nsandbox/wrte:on\n# fine\nallow/write+/a/***\nallow/write:/b\n",
    );
    let out = run(&["-P", &conf], &argv(&marker_command(&marker)));
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(!exists(&marker), "the command ran");

    let err = stderr(&out);
    assert!(err.contains(&format!("{conf}:2:9")), "line 2 error: {err}");
    assert!(err.contains(&format!("{conf}:5:12")), "line 5 error: {err}");
    let (_, caret) = caret_under(&err, "sandbox/wrte:on");
    assert_eq!(caret.trim(), "^", "{err}");
}

#[test]
fn unknown_profile_exits_65_and_command_never_starts() {
    let s = Scratch::new("bad-profile");
    let marker = s.path("started");
    let out = run(&["-p", "no-such-profile"], &argv(&marker_command(&marker)));
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(!exists(&marker), "the command ran");
    let err = stderr(&out);
    assert!(err.contains("no-such-profile"), "{err}");
    assert!(err.contains("paludis"), "lists the known profiles: {err}");
}

#[test]
fn unreadable_config_file_exits_65() {
    let s = Scratch::new("missing-config");
    let marker = s.path("started");
    let out = run(
        &["-P", &s.path("missing.conf")],
        &argv(&marker_command(&marker)),
    );
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(!exists(&marker), "the command ran");
}

// --- variables in config files -----------------------------------------------------------

const UNSET: &str = "STOCKADE_TEST_SURELY_UNSET";

#[test]
fn unset_variable_in_config_is_an_error() {
    let s = Scratch::new("unset-var");
    let marker = s.path("started");
    let conf = config(
        &s,
        "vars.conf",
        &format!("sandbox/write:on\nallow/write+${{{UNSET}}}/***\n"),
    );
    let mut cmd = stockade(&["-P", &conf]);
    cmd.env_remove(UNSET)
        .arg("--")
        .args(marker_command(&marker));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(!exists(&marker), "the command ran");
    let err = stderr(&out);
    assert!(err.contains(UNSET), "names the variable: {err}");
    assert!(err.contains(&format!("{conf}:2:13")), "{err}");
}

/// Runs the write probe on `inside` and `outside` under `conf`, with the
/// environment `set` and `UNSET` removed.
fn probe_under_config(conf: &str, set: &[(&str, &str)], s: &Scratch) -> std::process::Output {
    let probe = write_probe(s);
    let mut cmd = stockade(&["-P", conf]);
    cmd.env_remove(UNSET).envs(set.iter().copied()).args([
        "--",
        python(),
        &probe,
        &s.path("in/f"),
        &s.path("outside"),
    ]);
    output_within(cmd, TIMEOUT)
}

#[test]
fn unset_variable_with_default_expands_to_the_default() {
    let s = Scratch::new("default-var");
    std::fs::create_dir(s.path("in")).unwrap();
    let conf = config(
        &s,
        "vars.conf",
        &format!(
            "sandbox/write:on\nallow/write+${{{UNSET}:-{}}}/***\n",
            s.path("in")
        ),
    );
    let out = probe_under_config(&conf, &[], &s);
    assert_eq!(stdout(&out), "written\ndenied EACCES\n", "{}", stderr(&out));
    assert!(exists(&s.path("in/f")));
}

#[test]
fn set_variable_in_config_expands_to_its_value() {
    let s = Scratch::new("set-var");
    std::fs::create_dir(s.path("in")).unwrap();
    let conf = config(
        &s,
        "vars.conf",
        "sandbox/write:on\nallow/write+${STOCKADE_TEST_DIR:-/nowhere}/***\n",
    );
    let out = probe_under_config(&conf, &[("STOCKADE_TEST_DIR", &s.path("in"))], &s);
    assert_eq!(stdout(&out), "written\ndenied EACCES\n", "{}", stderr(&out));
}

// --- stockade check ------------------------------------------------------------------------

#[test]
fn check_accepts_a_good_config() {
    let s = Scratch::new("check-good");
    let conf = config(
        &s,
        "good.conf",
        "# a build area\nsandbox/write:on\nallow/write+/var/tmp/build/***\n\nfilter/write+/proc/self/**\n",
    );
    let out = stockade(&["check", &conf]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn check_prints_every_error_of_a_bad_config_and_fails() {
    let s = Scratch::new("check-bad");
    let conf = config(
        &s,
        "bad.conf",
        "sandbox/write:maybe\nallow/write+/ok/***\nallow/wrte+/x\nsandbox/foo:on\n",
    );
    let out = stockade(&["check", &conf]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    for at in ["1:15", "3:7", "4:9"] {
        assert!(
            err.contains(&format!("{conf}:{at}")),
            "no error at {at}: {err}"
        );
    }
    assert!(
        !err.contains(&format!("{conf}:2:")),
        "line 2 is fine: {err}"
    );
}

#[test]
fn check_of_good_and_bad_files_names_only_the_bad_one() {
    let s = Scratch::new("check-mixed");
    let good = config(&s, "good.conf", "sandbox/write:on\n");
    let bad = config(&s, "bad.conf", "sandbox/write:maybe\n");
    let out = stockade(&["check", &good, &bad]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{bad}:1:")), "{err}");
    assert!(!err.contains(&good), "{err}");
}

// --- print-profile -----------------------------------------------------------------------------

#[test]
fn print_profile_paludis_lists_tmp_rule() {
    let out = stockade(&["-p", "paludis", "--print-profile"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l == "allow/write+/tmp/***"), "{text}");
    assert!(text.lines().any(|l| l == "sandbox/write:on"), "{text}");
}

#[test]
fn printed_profile_is_a_valid_config() {
    let s = Scratch::new("print-check");
    let out = stockade(&["-p", "paludis", "--print-profile"])
        .output()
        .unwrap();
    let conf = config(&s, "paludis.conf", &stdout(&out));
    let check = stockade(&["check", &conf]).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn printed_profile_can_be_extended_by_appending_a_rule() {
    let s = Scratch::new("print-append");
    let out = stockade(&["-p", "paludis", "--print-profile"])
        .output()
        .unwrap();
    let text = format!("{}allow/write+/var/lib/build/***\n", stdout(&out));
    let conf = config(&s, "extended.conf", &text);
    let check = stockade(&["check", &conf]).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}
