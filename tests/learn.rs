//! `stockade learn` (issue 12): a run in report-only mode writes a profile
//! under which the same command passes with no violation, while without it
//! the command is denied; dangerous accesses are left out and explained.
//!
//! Each test runs in its own scratch directory with its own `$HOME` and
//! `$TMPDIR` inside it, so nothing outside is written; the only network
//! peer is a listener on loopback in the test process (and a UDP connect,
//! which sends nothing, to a documentation address).

mod common;
#[path = "common/net.rs"]
mod netfix;

use common::*;
use netfix::Listener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch area with a build directory, a home and a temporary directory.
struct Job {
    _scratch: Scratch,
    root: PathBuf,
    home: String,
    tmp: String,
}

impl Job {
    fn new(name: &str) -> Job {
        let scratch = Scratch::new(name);
        // Canonical, as the rules match canonical paths and a profile uses
        // ${HOME} only when $HOME is.
        let root = std::fs::canonicalize(&scratch.dir).unwrap();
        for dir in ["home", "tmp", "build", "build2", "build3"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        Job {
            home: root.join("home").to_str().unwrap().to_owned(),
            tmp: root.join("tmp").to_str().unwrap().to_owned(),
            _scratch: scratch,
            root,
        }
    }

    fn path(&self, rel: &str) -> String {
        self.root.join(rel).to_str().unwrap().to_owned()
    }

    /// `stockade ARGS` run in build directory `build`, with our HOME and TMPDIR.
    fn stockade(&self, build: &str, args: &[&str]) -> Command {
        let mut cmd = stockade(args);
        cmd.current_dir(self.root.join(build))
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmp);
        cmd
    }

    /// `stockade learn ARGS -o profile -- sh script` in `build`.
    fn learn(&self, build: &str, args: &[&str], script: &str) -> Output {
        let profile = self.path("profile");
        let mut all = vec!["learn", "-o", &profile];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "sh", script]);
        self.stockade(build, &all).output().unwrap()
    }

    /// `stockade ARGS -- sh script` in `build`.
    fn run(&self, build: &str, args: &[&str], script: &str) -> Output {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--", "sh", script]);
        self.stockade(build, &all).output().unwrap()
    }

    fn profile(&self) -> String {
        std::fs::read_to_string(self.path("profile")).expect("the profile was written")
    }

    /// Writes `code` as a shell script outside the build directories.
    fn script(&self, code: &str) -> String {
        let path = self.path("job.sh");
        std::fs::write(&path, code).unwrap();
        path
    }
}

/// stockade's own report lines (violations, summaries).
fn reports(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("stockade: "))
        .map(str::to_owned)
        .collect()
}

fn assert_ok(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Writes into the build directory, $HOME and a mktemp file (a new random
/// name every run), then connects to the loopback listener at `port`.
fn home_and_loopback_script(job: &Job, port: u16) -> String {
    job.script(&format!(
        r#"mkdir -p out && echo built > out/result && echo wrote-build
echo note > "$HOME/.tool-note" && echo wrote-home
t=$(mktemp) && echo x > "$t" && rm "$t" && echo wrote-tmp
{py} -c 'import socket; socket.create_connection(("127.0.0.1", {port})).close()' && echo connected
"#,
        py = python()
    ))
}

const MARKERS: [&str; 4] = ["wrote-build", "wrote-home", "wrote-tmp", "connected"];

// --- the round trip on a script ------------------------------------------------------

#[test]
fn script_writing_home_and_connecting_is_denied_without_a_profile_issue12() {
    let job = Job::new("learn-control");
    let listener = Listener::tcp4();
    let script = home_and_loopback_script(&job, listener.port());
    let out = job.run("build", &["-p", "paludis"], &script);
    let shown = reports(&out).join("\n");
    assert!(
        shown.contains(&format!(
            "denied write access: openat(\"{}/.tool-note\"",
            job.home
        )),
        "{shown}"
    );
    assert!(
        shown.contains("denied net/connect access: connect(")
            && shown.contains(&format!("\"127.0.0.1!{}\")", listener.port())),
        "{shown}"
    );
    assert!(!stdout(&out).contains("wrote-home"), "{}", stdout(&out));
    assert_eq!(listener.arrivals(), 0);
    // The same script without stockade does all of it.
    let bare = Command::new("sh")
        .arg(&script)
        .current_dir(job.root.join("build2"))
        .env("HOME", &job.home)
        .env("TMPDIR", &job.tmp)
        .output()
        .unwrap();
    for marker in MARKERS {
        assert!(
            stdout(&bare).contains(marker),
            "{marker}: {}",
            stdout(&bare)
        );
    }
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn learned_profile_lets_the_script_pass_with_no_violations_issue12() {
    let job = Job::new("learn-roundtrip");
    let listener = Listener::tcp4();
    let script = home_and_loopback_script(&job, listener.port());
    let learned = job.learn("build", &[], &script);
    assert_ok(&learned, "learn");
    for marker in MARKERS {
        assert!(
            stdout(&learned).contains(marker),
            "learning denied {marker}"
        );
    }
    assert_eq!(listener.arrivals(), 1);
    std::fs::remove_file(job.path("home/.tool-note")).unwrap();

    // In another build directory, so ${PWD} must do its work.
    let out = job.run("build2", &["-P", &job.path("profile")], &script);
    assert_ok(&out, "run under the learned profile");
    assert_eq!(reports(&out), Vec::<String>::new(), "{}", job.profile());
    for marker in MARKERS {
        assert!(stdout(&out).contains(marker), "{marker}: {}", stdout(&out));
    }
    assert!(Path::new(&job.path("build2/out/result")).exists());
    assert!(Path::new(&job.path("home/.tool-note")).exists());
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn learned_profile_passes_stockade_check_issue12() {
    let job = Job::new("learn-check");
    let listener = Listener::tcp4();
    let script = home_and_loopback_script(&job, listener.port());
    assert_ok(&job.learn("build", &["-p", "paludis"], &script), "learn");
    let out = stockade(&["check", &job.path("profile")]).output().unwrap();
    assert_ok(&out, "check");
    assert_eq!(stderr(&out), "");
}

#[test]
fn learned_profile_names_places_by_variables_and_counts_each_rule_issue12() {
    let job = Job::new("learn-vars");
    let listener = Listener::tcp4();
    let port = listener.port();
    let script = home_and_loopback_script(&job, port);
    assert_ok(&job.learn("build", &[], &script), "learn");
    let profile = job.profile();
    let rules: Vec<&str> = profile
        .lines()
        .filter(|l| l.starts_with("allow/"))
        .collect();
    for want in [
        "allow/write+${PWD}/***".to_owned(),
        "allow/write+${HOME}/.tool-note".to_owned(),
        "allow/write+${TMPDIR:-/tmp}/***".to_owned(),
        format!("allow/net/connect+127.0.0.1!{port}"),
    ] {
        assert!(rules.contains(&want.as_str()), "{want} missing:\n{profile}");
    }
    let root = job.root.to_str().unwrap();
    assert!(
        rules.iter().all(|r| !r.contains(root)),
        "a rule names the scratch directory literally:\n{profile}"
    );
    let lines: Vec<&str> = profile.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("allow/") {
            let comment = lines[i - 1];
            assert!(
                comment.starts_with("# ")
                    && comment.contains(" access")
                    && comment.contains(", e.g. "),
                "{line} has no count and example:\n{profile}"
            );
        }
    }
    assert!(
        profile.contains("# write, 1 access, e.g. openat ${HOME}/.tool-note\n"),
        "{profile}"
    );
}

#[test]
fn learning_run_denies_nothing_and_base_denials_become_overrides_issue12() {
    let job = Job::new("learn-nodeny");
    let note = format!("{}/.tool-note", job.home);
    let script = job.script("echo note > \"$HOME/.tool-note\" && echo wrote-home\n");
    let deny = format!("deny/write+{note}");
    let learned = job.learn("build", &["-p", "readonly", "-m", &deny], &script);
    assert_ok(&learned, "learn");
    assert!(stdout(&learned).contains("wrote-home"));
    assert!(Path::new(&note).exists(), "the learning run was denied");
    let profile = job.profile();
    assert!(
        profile.contains(&format!(
            "overrides the base's {deny}\nallow/write+${{HOME}}/.tool-note\n"
        )),
        "{profile}"
    );
    let out = job.run("build", &["-P", &job.path("profile")], &script);
    assert_ok(&out, "run under the learned profile");
    assert_eq!(reports(&out), Vec::<String>::new());
    // The base alone still refuses it.
    let base = job.run("build", &["-p", "readonly", "-m", &deny], &script);
    assert!(
        reports(&base).iter().any(|l| l.contains(&deny)),
        "{}",
        stderr(&base)
    );
}

#[test]
fn reads_are_learned_only_when_asked_issue12() {
    let job = Job::new("learn-read");
    std::fs::write(job.path("home/data"), "x").unwrap();
    let script = job.script("cat \"$HOME/data\" >/dev/null && echo read\n");
    assert_ok(&job.learn("build", &[], &script), "learn");
    let without = job.profile();
    assert!(!without.contains("allow/read+"), "{without}");
    assert!(!without.contains("sandbox/read"), "{without}");
    assert_ok(&job.learn("build", &["--read"], &script), "learn --read");
    let with = job.profile();
    assert!(with.contains("\nallow/read+${HOME}/data\n"), "{with}");
    assert!(
        with.contains("sandbox/write,read,") || with.contains("sandbox/read,"),
        "{with}"
    );
    let out = job.run("build", &["-P", &job.path("profile")], &script);
    assert_ok(&out, "run under the learned profile");
    assert_eq!(reports(&out), Vec::<String>::new(), "{with}");
}

#[test]
fn stats_are_learned_with_stat_and_round_trip_issue12() {
    let job = Job::new("learn-stat");
    let script = job.script("test -e \"$HOME/seen\" || echo absent; ls -d / >/dev/null\n");
    assert_ok(&job.learn("build", &["--stat"], &script), "learn --stat");
    let profile = job.profile();
    assert!(profile.contains("\nallow/stat+${HOME}/seen\n"), "{profile}");
    let out = job.run("build", &["-P", &job.path("profile")], &script);
    assert_ok(&out, "run under the learned profile");
    assert_eq!(reports(&out), Vec::<String>::new(), "{profile}");
    assert!(stdout(&out).contains("absent"));
}

#[test]
fn pwd_in_a_profile_is_the_working_directory_whatever_the_environment_says_issue12() {
    let job = Job::new("learn-pwd");
    let profile = job.path("pwd.profile");
    std::fs::write(&profile, "sandbox/write:on\nallow/write+${PWD}/***\n").unwrap();
    let script = job.script("echo x > made && echo made\n");
    let out = job
        .stockade("build", &["-P", &profile, "--", "sh", &script])
        .env("PWD", &job.home)
        .output()
        .unwrap();
    assert_ok(&out, "run with a stale PWD");
    assert_eq!(reports(&out), Vec::<String>::new());
    assert!(Path::new(&job.path("build/made")).exists());
}

// --- dangerous accesses ----------------------------------------------------------------

/// Writes into $HOME/.ssh and $HOME/.config, connects (UDP: nothing is
/// sent) to a documentation address, and runs a copy of sh from $TMPDIR.
fn dangerous_script(job: &Job) -> String {
    job.script(&format!(
        r#"mkdir -p "$HOME/.ssh" "$HOME/.config" && echo key >> "$HOME/.ssh/authorized_keys" && echo wrote-ssh
echo x > "$HOME/.config/autostart" && echo wrote-config
{py} -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).connect(("192.0.2.1", 9))' && echo connected
mkdir -p "$TMPDIR/x" && cp /bin/sh "$TMPDIR/x/sh" && "$TMPDIR/x/sh" -c 'echo ran-tmp-shell'
"#,
        py = python()
    ))
}

#[test]
fn dangerous_accesses_are_left_out_and_explained_issue12() {
    let job = Job::new("learn-danger");
    let script = dangerous_script(&job);
    let learned = job.learn("build", &[], &script);
    assert_ok(&learned, "learn");
    assert!(
        stdout(&learned).contains("ran-tmp-shell"),
        "{}",
        stdout(&learned)
    );
    let profile = job.profile();
    for (why, rule) in [
        (
            "a write under ${HOME}/.ssh",
            "allow/write+${HOME}/.ssh/authorized_keys",
        ),
        (
            "a write under ${HOME}/.config",
            "allow/write+${HOME}/.config/autostart",
        ),
        (
            "a connection outside loopback",
            "allow/net/connect+192.0.2.1!9",
        ),
        (
            "an exec of a shell from a temporary directory",
            "allow/exec+${TMPDIR:-/tmp}/x/sh",
        ),
    ] {
        assert!(
            profile.contains(&format!("# DANGEROUS, {why}: ")),
            "{why}:\n{profile}"
        );
        assert!(
            profile.contains(&format!("\n# {rule}\n")),
            "{rule}:\n{profile}"
        );
        assert!(
            !profile.contains(&format!("\n{rule}\n")),
            "{rule} kept:\n{profile}"
        );
    }
    // The four above and the mkdirs of .ssh and .config themselves.
    assert!(
        stderr(&learned).contains("6 dangerous left out"),
        "{}",
        stderr(&learned)
    );
    let out = job.run("build2", &["-P", &job.path("profile")], &script);
    let shown = reports(&out).join("\n");
    for denied in [
        "denied write access: openat(\"".to_owned() + &job.home + "/.ssh/authorized_keys\"",
        "denied net/connect access: connect(".to_owned(),
        "denied exec access: execve(\"".to_owned() + &job.tmp + "/x/sh\")",
    ] {
        assert!(shown.contains(&denied), "{denied}:\n{shown}");
    }
    assert!(!stdout(&out).contains("ran-tmp-shell"));
}

#[test]
fn keep_dangerous_keeps_them_flagged_issue12() {
    let job = Job::new("learn-keep");
    let script = dangerous_script(&job);
    assert_ok(&job.learn("build", &["--keep-dangerous"], &script), "learn");
    let profile = job.profile();
    assert!(
        profile.contains("# DANGEROUS, a write under ${HOME}/.ssh: write, 1 access, e.g. openat ${HOME}/.ssh/authorized_keys\nallow/write+${HOME}/.ssh/authorized_keys\n"),
        "{profile}"
    );
    let out = job.run("build2", &["-P", &job.path("profile")], &script);
    assert_ok(&out, "run under the learned profile");
    assert_eq!(reports(&out), Vec::<String>::new(), "{profile}");
    assert!(stdout(&out).contains("ran-tmp-shell"));
}

// --- the command line --------------------------------------------------------------------

#[test]
fn learn_exits_with_the_commands_status_and_still_writes_the_profile_issue12() {
    let job = Job::new("learn-status");
    let script = job.script("echo x > made && exit 3\n");
    let out = job.learn("build", &[], &script);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(job.profile().contains("\nallow/write+${PWD}/***\n"));
    assert!(
        stderr(&out).contains("the command exited with 3"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn learn_without_an_output_file_is_a_usage_error() {
    let out = stockade(&["learn", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("learn needs -o FILE"),
        "{}",
        stderr(&out)
    );
}

// --- a real build ---------------------------------------------------------------------------

#[test]
fn learned_profile_lets_a_real_autotools_build_pass_issue12() {
    let Some(source) = real_source() else {
        eprintln!(
            "SKIPPED: no autotools source tree (run .ci/fetch-hello, or set STOCKADE_LEARN_SOURCE)"
        );
        return;
    };
    let job = Job::new("learn-real");
    let build = ["sh", "-c", "./configure && make"];
    for dir in ["build", "build2", "build3"] {
        copy_tree(&source, &job.path(dir));
    }
    let profile = job.path("profile");
    let mut learn_args = vec!["learn", "-p", "paludis", "-o", &profile, "--"];
    learn_args.extend_from_slice(&build);
    let learned = job.stockade("build", &learn_args).output().unwrap();
    assert_ok(&learned, "learn the build");
    let text = job.profile();
    let rules = text.lines().filter(|l| l.starts_with("allow/")).count();
    eprintln!("learned profile ({rules} rule lines, base included):\n{text}");

    // In a fresh copy elsewhere: passes, with no violation.
    let mut run_args = vec!["-P", &profile, "--"];
    run_args.extend_from_slice(&build);
    let out = job.stockade("build2", &run_args).output().unwrap();
    assert_ok(&out, "the build under the learned profile");
    assert_eq!(reports(&out), Vec::<String>::new());
    assert!(
        Path::new(&job.path("build2/hello")).exists()
            || Path::new(&job.path("build2/src/hello")).exists()
    );

    // Without it (the paludis profile alone), the build is denied.
    let mut bare_args = vec!["-p", "paludis", "--"];
    bare_args.extend_from_slice(&build);
    let out = job.stockade("build3", &bare_args).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        reports(&out)
            .iter()
            .any(|l| l.contains("denied write access")),
        "{}",
        stderr(&out)
    );
}
