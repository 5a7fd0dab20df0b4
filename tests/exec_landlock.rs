//! Issue 8 §6: exec rules given at start are enforced by the kernel
//! (Landlock's execute right), so a path swapped after the notified check
//! cannot run a forbidden program; what must keep running (dynamically
//! linked programs, `#!` scripts whose interpreter is allowed) does.

mod common;
#[path = "common/swap.rs"]
mod swap;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use swap::Swapper;

/// Exec checks on, `/usr/bin` allowed (where sh, bash and true live).
fn usr_bin_rules() -> Vec<String> {
    ["-m", "sandbox/exec:on", "-m", "allow/exec+/usr/bin/***"]
        .map(String::from)
        .to_vec()
}

/// Runs `command` under stockade with `rules`.
fn inside(rules: &[String], command: &[&str]) -> Output {
    let mut args = argv(rules);
    args.push("--");
    args.extend_from_slice(command);
    Command::new(stockade_bin())
        .args(args)
        .output()
        .expect("stockade runs")
}

/// Whether this kernel has Landlock; prints a visible skip line if not.
fn landlock_or_skip() -> bool {
    let out = inside(&usr_bin_rules(), &["/usr/bin/true"]);
    !skip_unless(
        !stderr(&out).contains("Landlock is not available"),
        "this kernel has no Landlock",
    )
}

/// Writes an executable `#!/bin/sh` script at `path` with `body`.
fn script(path: &str, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Bash that execs `link` up to 2000 times or for 10 seconds, stopping
/// early once `marker` exists, and prints how many execs succeeded.
fn exec_loop(link: &str, marker: &str) -> String {
    format!(
        "ok=0; i=0; while [ $i -lt 2000 ] && [ $SECONDS -lt 10 ] && [ ! -e {marker:?} ]; do \
         {link:?} 2>/dev/null && ok=$((ok+1)); i=$((i+1)); done; echo $ok"
    )
}

#[test]
fn symlink_swapped_by_another_process_never_runs_a_forbidden_program_issue8() {
    if !landlock_or_skip() {
        return;
    }
    let s = Scratch::new("exec-swap");
    let (forbidden, marker) = (s.path("forbidden"), s.path("marker"));
    script(&forbidden, &format!(": > {marker:?}\nexit 0"));
    let (a, b) = (s.path("a"), s.path("b"));
    std::os::unix::fs::symlink("/usr/bin/true", &a).unwrap();
    std::os::unix::fs::symlink(&forbidden, &b).unwrap();

    let swapper = Swapper::start(&a, &b);
    let out = inside(
        &usr_bin_rules(),
        &["/usr/bin/bash", "-c", &exec_loop(&a, &marker)],
    );
    drop(swapper);
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the forbidden program ran under stockade; stderr:\n{}",
        stderr(&out)
    );
    let allowed_runs: u32 = stdout(&out).trim().parse().expect("a count");
    assert!(
        allowed_runs > 0,
        "the allowed program never ran: the loop tested nothing"
    );

    // The same race without stockade runs the forbidden program.
    let swapper = Swapper::start(&a, &b);
    let out = run_bare(&["/usr/bin/bash", "-c", &exec_loop(&a, &marker)]);
    drop(swapper);
    assert!(
        std::path::Path::new(&marker).exists(),
        "without stockade the forbidden program should have run: {}",
        stdout(&out)
    );
}

#[test]
fn dynamically_linked_program_runs_under_landlock_exec_rules() {
    // /usr/bin/ls needs the dynamic loader and maps libc from /usr/lib,
    // neither of which the rules name: the loader is allowed as the ELF
    // interpreter, and mapping a library for execution is not executing.
    if !landlock_or_skip() {
        return;
    }
    let out = inside(&usr_bin_rules(), &["/usr/bin/ls", "-d", "/"]);
    assert_eq!(stdout(&out), "/\n", "{}", stderr(&out));
    assert!(out.status.success());
}

#[test]
fn sh_script_runs_when_its_interpreter_is_allowed() {
    if !landlock_or_skip() {
        return;
    }
    let s = Scratch::new("exec-script");
    let path = s.path("hello");
    script(&path, "echo hello from sh");
    let mut rules = usr_bin_rules();
    rules.extend([
        "-m".to_string(),
        format!("allow/exec+{}/***", s.dir.display()),
    ]);
    let out = inside(&rules, &["/usr/bin/sh", "-c", &format!("{path:?}")]);
    assert_eq!(stdout(&out), "hello from sh\n", "{}", stderr(&out));
}

#[test]
fn script_whose_interpreter_is_outside_the_rules_is_refused_and_reported() {
    // The kernel executes a `#!` interpreter too, and Landlock checks it:
    // with only the script's directory allowed, /bin/sh may not run. The
    // report names the interpreter the rules lack.
    if !landlock_or_skip() {
        return;
    }
    let s = Scratch::new("exec-script-interp");
    let path = s.path("hello");
    script(&path, "echo hello from sh");
    let rules = [
        "-m".to_string(),
        "sandbox/exec:on".to_string(),
        "-m".to_string(),
        format!("allow/exec+{}/***", s.dir.display()),
    ];
    let out = inside(&rules, &[&path]);
    assert_eq!(stdout(&out), "");
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    let rule = format!("allow/exec+{}", sh.display());
    assert!(stderr(&out).contains(&rule), "{}", stderr(&out));
    assert_eq!(stdout(&run_bare(&[&path])), "hello from sh\n");
}

/// Bash that sends the in-sandbox command `rule` and prints its status.
fn send(rule: &str) -> String {
    format!("[ -e /dev/stockade/{rule} ]; echo $?")
}

#[test]
fn in_sandbox_exec_rule_beyond_the_landlock_hierarchies_is_refused_issue8() {
    if !landlock_or_skip() {
        return;
    }
    let out = inside(
        &usr_bin_rules(),
        &["/usr/bin/bash", "-c", &send("allow/exec+/opt/***")],
    );
    assert_eq!(stdout(&out), "1\n", "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refused") && err.contains("Landlock"),
        "the refusal is reported with its reason:\n{err}"
    );
}

#[test]
fn in_sandbox_exec_off_is_refused_while_landlock_bounds_exec_issue8() {
    if !landlock_or_skip() {
        return;
    }
    let out = inside(
        &usr_bin_rules(),
        &["/usr/bin/bash", "-c", &send("sandbox/exec:off")],
    );
    assert_eq!(stdout(&out), "1\n", "{}", stderr(&out));
    assert!(stderr(&out).contains("Landlock"), "{}", stderr(&out));
}

#[test]
fn in_sandbox_exec_rule_within_the_landlock_hierarchies_is_applied() {
    if !landlock_or_skip() {
        return;
    }
    let code = format!(
        "{}; {}; /usr/bin/true; echo true $?",
        send("deny/exec+/usr/bin/true"),
        send("allow/exec+/usr/bin/tr*")
    );
    let out = inside(&usr_bin_rules(), &["/usr/bin/bash", "-c", &code]);
    assert_eq!(stdout(&out), "0\n0\ntrue 0\n", "{}", stderr(&out));
}

#[test]
fn exec_rule_on_a_directory_made_after_start_still_runs_its_programs() {
    // Landlock holds inodes, so a hierarchy that does not exist at start is
    // bounded by its nearest existing ancestor instead.
    if !landlock_or_skip() {
        return;
    }
    let s = Scratch::new("exec-later");
    let later = s.path("later");
    let mut rules = usr_bin_rules();
    rules.extend(["-m".to_string(), format!("allow/exec+{later}/***")]);
    let code = format!(
        "mkdir {later:?} && printf '#!/bin/sh\\necho made later\\n' > {later:?}/prog && \
         chmod +x {later:?}/prog && {later:?}/prog"
    );
    let out = inside(&rules, &["/usr/bin/sh", "-c", &code]);
    assert_eq!(stdout(&out), "made later\n", "{}", stderr(&out));
}
