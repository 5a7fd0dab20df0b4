//! The first end-to-end checks: a write outside the allowed area is denied and
//! reported, the same write inside succeeds, and the same write outside
//! succeeds without stockade.

mod common;
use common::*;

#[test]
fn write_outside_allowed_dir_is_denied_and_reported() {
    let s = Scratch::new("smoke");
    let outside = s.path("outside");
    let inside_dir = s.path("in");
    std::fs::create_dir(&inside_dir).unwrap();
    let allow = s.allow_write("in");
    let code = format!(
        "import os\nos.open('{inside_dir}/f', os.O_WRONLY|os.O_CREAT, 0o644)\ntry:\n    os.open('{outside}', os.O_WRONLY|os.O_CREAT, 0o644)\nexcept PermissionError:\n    print('denied')\n"
    );
    let out = run(&["-m", "sandbox/write:on", "-m", &allow], &argv(&py(&code)));
    assert_eq!(stdout(&out), "denied\n", "stderr: {}", stderr(&out));
    assert!(std::path::Path::new(&format!("{inside_dir}/f")).exists());
    assert!(!std::path::Path::new(&outside).exists());
    let err = stderr(&out);
    assert!(err.contains(&format!("allow/write+{outside}")), "{err}");

    let bare = run_bare(&argv(&py(&code)));
    assert_eq!(stdout(&bare), "", "without stockade the write succeeds");
    assert!(std::path::Path::new(&outside).exists());
}

#[test]
fn exit_code_of_the_command_is_returned() {
    let out = run(&["-m", "sandbox/write:on"], &["sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn scratch_directories_are_outside_the_paludis_areas_wherever_the_checkout_is_issue9() {
    // With the checkout under /tmp, cargo's target tmpdir is inside an area
    // the paludis profile allows, and every "denied outside" test passed
    // the write through. The scratch base avoids every profile's areas.
    let s = Scratch::new("where");
    assert!(
        !allowed_by_a_profile(&s.dir.join("x")),
        "{}",
        s.dir.display()
    );
    let target = s.path("x");
    let out = run(
        &["-p", "paludis"],
        &["sh", "-c", &format!("touch {target}")],
    );
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("denied write access"),
        "{}",
        stderr(&out)
    );
    assert!(!std::path::Path::new(&target).exists());
}
