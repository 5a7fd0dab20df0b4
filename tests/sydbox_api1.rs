//! End-to-end tests of issue 10: stockade as `sydbox` behaving as sydbox-1
//! does for Paludis. Each test runs bash scripts inside that send exactly
//! the magic paths Paludis's `esandbox` (API 1) sends for a subcommand, and
//! checks the effect from outside: a file that exists or not, a listener
//! that a connection reached or not, a report on stderr.
//!
//! Every run is bounded by a timeout. The scratch directories are under
//! cargo's target tmpdir, outside every area the paludis profile allows.

mod common;
#[path = "common/net.rs"]
mod net;
#[path = "common/behaviour.rs"]
mod support;

use common::*;
use net::Listener;
use std::process::{Command, Output};
use support::{TIMEOUT, exists, output_within};

/// A scratch directory with `bin/sydbox` and `bin/sydfmt` (symlinks to the
/// built stockade), `out/` (a place no rule allows) and `probe.py`.
struct Box1 {
    s: Scratch,
}

/// `probe.py OP ARG...`: one call, printing `ok` or the errno's name.
/// OPs: `bind|connect tcp HOST:PORT`, `bind|connect unix PATH`,
/// `bind|connect abstract NAME`, `wronly PATH` (open O_WRONLY, no O_CREAT),
/// `create PATH` (O_WRONLY|O_CREAT), `mkdir PATH`, `exec PATH` (spawn and
/// wait).
const PROBE: &str = r#"
import errno, os, socket, sys
op, args = sys.argv[1], sys.argv[2:]
try:
    if op in ('bind', 'connect'):
        kind, addr = args
        if kind == 'tcp':
            host, port = addr.rsplit(':', 1)
            s, target = socket.socket(), (host, int(port))
        else:
            s = socket.socket(socket.AF_UNIX)
            target = addr if kind == 'unix' else b'\0' + os.fsencode(addr)
        getattr(s, op)(target)
    elif op == 'wronly':
        os.close(os.open(args[0], os.O_WRONLY))
    elif op == 'create':
        os.close(os.open(args[0], os.O_WRONLY | os.O_CREAT, 0o644))
    elif op == 'mkdir':
        os.mkdir(args[0])
    elif op == 'exec':
        os.waitpid(os.posix_spawn(args[0], args, {}), 0)
    print('ok')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"#;

/// Shell functions for the scripts: `magic PATH` stats /dev/sydbox/PATH as
/// `esandbox` does; `probe OP ARG...` runs probe.py; `say` prints a line.
const LIB: &str = r#"
magic() { [[ -e "/dev/sydbox/$1" ]]; }
probe() { "$PY" "$PROBE" "$@"; }
say() { echo "$*"; }
"#;

impl Box1 {
    fn new(name: &str) -> Box1 {
        let s = Scratch::new(name);
        std::fs::create_dir(s.path("bin")).unwrap();
        std::fs::create_dir(s.path("out")).unwrap();
        for name in ["sydbox", "sydfmt"] {
            std::os::unix::fs::symlink(stockade_bin(), s.path(&format!("bin/{name}"))).unwrap();
        }
        std::fs::write(s.path("probe.py"), PROBE).unwrap();
        Box1 { s }
    }

    fn out(&self) -> String {
        self.s.path("out")
    }

    fn path(&self, rel: &str) -> String {
        self.s.path(rel)
    }

    /// `sydbox`, found on PATH as Paludis finds it, with PY, PROBE and OUT
    /// in the environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("sydbox");
        cmd.args(args);
        self.with_env(cmd)
    }

    /// `cmd` with our bin/ first on PATH, and PY, PROBE and OUT set.
    fn with_env(&self, mut cmd: Command) -> Command {
        let path = format!(
            "{}:{}",
            self.s.path("bin"),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("PY", python())
            .env("PROBE", self.s.path("probe.py"))
            .env("OUT", self.out());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        output_within(self.command(args), TIMEOUT)
    }

    /// `sydbox ARGS -- bash -c LIB+SCRIPT`.
    fn bash(&self, args: &[&str], script: &str) -> Output {
        let script = format!("{LIB}{script}");
        let mut all = args.to_vec();
        all.extend(["--", "bash", "-c", &script]);
        self.run(&all)
    }
}

fn lines(out: &Output) -> Vec<String> {
    stdout(out).lines().map(str::to_owned).collect()
}

// --- core/match/no_wildcard ---------------------------------------------------------

#[test]
fn no_wildcard_prefix_lets_allow_net_tmpdir_cover_sockets_beneath_it_issue10() {
    let b = Box1::new("prefix-net");
    let t = b.out();
    // ebuild.bash: esandbox allow_net unix:"${TMPDIR}" unix-abstract:"${TMPDIR}"
    let out = b.bash(
        &["--profile", "paludis"],
        &format!(
            "T={t}\n\
             say before $(probe bind unix \"$T/x.sock\") $(probe bind abstract \"$T/a\")\n\
             magic \"whitelist/network/bind+unix:$T\"; say allow $?\n\
             magic \"whitelist/network/bind+unix-abstract:$T\"; say allow $?\n\
             say after $(probe bind unix \"$T/y.sock\") $(probe bind abstract \"$T/b\") \
             $(probe bind abstract \"$T\")\n"
        ),
    );
    assert_eq!(
        lines(&out),
        [
            "before EADDRNOTAVAIL EADDRNOTAVAIL",
            "allow 0",
            "allow 0",
            "after ok ok ok"
        ],
        "{}",
        stderr(&out)
    );
    assert!(!exists(&format!("{t}/x.sock")));
    assert!(exists(&format!("{t}/y.sock")), "the bound socket is there");
}

#[test]
fn no_wildcard_literal_by_default_keeps_plain_socket_patterns_exact_issue10() {
    let b = Box1::new("literal-net");
    let t = b.out();
    let out = b.bash(
        &["-m", "core/sandbox/network:deny"],
        &format!(
            "magic \"whitelist/network/bind+unix:{t}\"; say allow $?\n\
             say after $(probe bind unix \"{t}/y.sock\")\n"
        ),
    );
    assert_eq!(
        lines(&out),
        ["allow 0", "after EADDRNOTAVAIL"],
        "{}",
        stderr(&out)
    );
    assert!(!exists(&format!("{t}/y.sock")));
}

#[test]
fn esandbox_allow_of_a_plain_dir_allows_writes_beneath_it_issue10() {
    let b = Box1::new("prefix-path");
    let o = b.out();
    // esandbox allow DIR (exlibs do this with directories).
    let out = b.bash(
        &["--profile", "paludis"],
        &format!(
            "say before $(probe create {o}/a)\n\
             magic \"whitelist/write+{o}\"; say allow $?\n\
             mkdir -p {o}/d/e && say after $(probe create {o}/d/e/f)\n"
        ),
    );
    assert_eq!(
        lines(&out),
        ["before EPERM", "allow 0", "after ok"],
        "{}",
        stderr(&out)
    );
    assert!(!exists(&format!("{o}/a")));
    assert!(exists(&format!("{o}/d/e/f")));
}

// --- blacklists in both modes -----------------------------------------------------

#[test]
fn blacklist_write_denies_in_allow_mode_issue10() {
    let b = Box1::new("blacklist-allow");
    let o = b.out();
    std::fs::create_dir(format!("{o}/secret")).unwrap();
    let deny = format!("blacklist/write+{o}/secret/***");
    let out = b.bash(
        &["-m", "core/sandbox/write:allow", "-m", &deny],
        &format!("say $(probe create {o}/secret/a) $(probe create {o}/b)\n"),
    );
    assert_eq!(lines(&out), ["EPERM ok"], "{}", stderr(&out));
    assert!(!exists(&format!("{o}/secret/a")));
    assert!(exists(&format!("{o}/b")));
    assert!(
        stderr(&out).contains(&format!("{o}/secret/a")),
        "reported: {}",
        stderr(&out)
    );
}

#[test]
fn last_match_wins_in_deny_mode_issue10() {
    let b = Box1::new("blacklist-deny");
    let o = b.out();
    std::fs::create_dir(format!("{o}/secret")).unwrap();
    let allow = format!("whitelist/write+{o}/***");
    let deny = format!("blacklist/write+{o}/secret/***");
    let again = format!("whitelist/write+{o}/secret/ok");
    let out = b.bash(
        &[
            "-m",
            "core/sandbox/write:deny",
            "-m",
            &allow,
            "-m",
            &deny,
            "-m",
            &again,
        ],
        &format!(
            "say $(probe create {o}/secret/a) $(probe create {o}/secret/ok) $(probe create {o}/b)\n"
        ),
    );
    assert_eq!(lines(&out), ["EPERM ok ok"], "{}", stderr(&out));
    assert!(!exists(&format!("{o}/secret/a")));
    assert!(exists(&format!("{o}/secret/ok")));
}

// --- sydbox-1's own paludis.syd-1 ---------------------------------------------------

/// The settings of sydbox-1's data/paludis.syd-1 (1.2.1) as its options
/// and values, with a short write whitelist.
fn sydbox1_paludis_config() -> String {
    [
        "core/sandbox/exec:off",
        "core/sandbox/read:off",
        "core/sandbox/write:deny",
        "core/sandbox/network:deny",
        "core/whitelist/per_process_directories:true",
        "core/whitelist/successful_bind:true",
        "core/whitelist/unsupported_socket_families:true",
        "core/abort/decision:contall",
        "core/panic/decision:kill",
        "core/panic/exit_code:-1",
        "core/violation/decision:deny",
        "core/violation/exit_code:-1",
        "core/violation/raise_fail:false",
        "core/violation/raise_safe:false",
        "core/trace/follow_fork:true",
        "core/trace/exit_kill:true",
        "core/trace/use_ptrace:true",
        "core/trace/magic_lock:off",
        "core/trace/use_seccomp:true",
        "core/trace/use_seize:true",
        "core/trace/use_toolong_hack:true",
        "core/restrict/file_control:false",
        "core/restrict/shared_memory_writable:false",
        "core/match/case_sensitive:true",
        "core/match/no_wildcard:prefix",
        "log/file:",
        "log/level:511",
        "log/console_fd:2",
        "log/console_level:3",
        "whitelist/write+/dev/null",
        "whitelist/network/bind+LOOPBACK@0",
        "",
    ]
    .join("\n")
}

const WITHOUT_EFFECT: [&str; 9] = [
    "core/violation/exit_code",
    "core/trace/use_ptrace",
    "core/restrict/file_control",
    "core/restrict/shared_memory_writable",
    "core/trace/exit_kill",
    "core/trace/use_seize",
    "core/match/case_sensitive",
    "log/level",
    "core/panic/decision",
];

fn named_once(err: &str, option: &str) -> bool {
    let named = err
        .lines()
        .filter(|l| l.contains(&format!("{option} is accepted and has no effect")))
        .count();
    named == 1
}

#[test]
fn sydbox1_paludis_config_runs_and_names_options_without_effect_once_issue10() {
    let b = Box1::new("paludis-syd1");
    let config = b.path("paludis.syd-1");
    std::fs::write(&config, sydbox1_paludis_config()).unwrap();
    let o = b.out();
    let allow = format!("whitelist/write+{o}/ok");
    let out = b.bash(
        &["-c", &config, "-m", &allow],
        &format!("say $(probe create {o}/ok) $(probe create {o}/no)\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&out), ["ok EPERM"], "{}", stderr(&out));
    assert!(exists(&format!("{o}/ok")) && !exists(&format!("{o}/no")));
    for option in WITHOUT_EFFECT {
        assert!(
            named_once(&stderr(&out), option),
            "{option}: {}",
            stderr(&out)
        );
    }
    assert!(
        !stderr(&out).contains("no_wildcard is accepted"),
        "no_wildcard has an effect: {}",
        stderr(&out)
    );
}

#[test]
fn sydbox_config_env_and_at_paludis_load_configs_as_sydbox1_did_issue10() {
    let b = Box1::new("config-env");
    let o = b.out();
    let config = b.path("deny.syd-1");
    std::fs::write(&config, "core/sandbox/write:deny\n").unwrap();
    let script =
        format!("{LIB}say $(probe create {o}/a) $(probe create /var/tmp/stockade-issue10-at-$$)\n");
    let mut env_cmd = b.command(&["--", "bash", "-c", &script]);
    env_cmd.env("SYDBOX_CONFIG", &config);
    let from_env = output_within(env_cmd, TIMEOUT);
    assert_eq!(
        lines(&from_env)[0].split(' ').next(),
        Some("EPERM"),
        "{}",
        stderr(&from_env)
    );
    let at = b.run(&["-c", "@paludis.syd-1", "--", "bash", "-c", &script]);
    assert_eq!(lines(&at), ["EPERM ok"], "{}", stderr(&at));
    assert!(!exists(&format!("{o}/a")));
    let _ = std::process::Command::new("sh")
        .args(["-c", "rm -f /var/tmp/stockade-issue10-at-*"])
        .status();
}

#[test]
fn check_accepts_a_syd1_file_and_names_the_same_options_issue10() {
    let b = Box1::new("check-syd1");
    let config = b.path("paludis.syd-1");
    std::fs::write(&config, sydbox1_paludis_config()).unwrap();
    let out = output_within(stockade(&["check", &config]), TIMEOUT);
    assert!(out.status.success(), "{}", stderr(&out));
    for option in WITHOUT_EFFECT {
        assert!(
            named_once(&stderr(&out), option),
            "{option}: {}",
            stderr(&out)
        );
    }
    std::fs::write(&config, "core/trace/use_ptrace:maybe\n").unwrap();
    let bad = output_within(stockade(&["check", &config]), TIMEOUT);
    assert_eq!(bad.status.code(), Some(65), "{}", stderr(&bad));
}

// --- exit_wait_all from inside ------------------------------------------------------

/// A script that sends `command` (as esandbox wait_all/wait_eldest does),
/// leaves a background child that writes OUT/late after a second, and exits.
fn leave_a_late_child(command: &str) -> String {
    format!(
        "magic {command}; say sent $?\n\
         (sleep 1; : > \"$OUT/late\") &\n\
         exit 0\n"
    )
}

#[test]
fn wait_all_from_inside_waits_for_descendants_issue10() {
    let b = Box1::new("wait-all");
    let out = b.bash(&[], &leave_a_late_child("core/trace/exit_wait_all:true"));
    assert_eq!(lines(&out), ["sent 0"], "{}", stderr(&out));
    assert!(exists(&format!("{}/late", b.out())), "{}", stderr(&out));
}

#[test]
fn wait_eldest_from_inside_ends_descendants_with_the_command_issue10() {
    let b = Box1::new("wait-eldest");
    let out = b.bash(
        &["-m", "core/trace/exit_wait_all:true"],
        &leave_a_late_child("core/trace/exit_wait_all:false"),
    );
    assert_eq!(lines(&out), ["sent 0"], "{}", stderr(&out));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!exists(&format!("{}/late", b.out())), "{}", stderr(&out));
}

// --- cmd/exec -----------------------------------------------------------------------

/// Waits inside (at most ten seconds) for FILE, then says whether it came.
const AWAIT: &str = "await() { for _ in $(seq 100); do [[ -e $1 ]] && break; sleep 0.1; done; \
                     [[ -e $1 ]] && say came || say missing; }\n";

#[test]
fn esandbox_exec_runs_the_program_outside_the_sandbox_issue10() {
    let b = Box1::new("cmd-exec");
    let o = b.out();
    let out = b.bash(
        &["--profile", "paludis"],
        &format!(
            "{AWAIT}say inside $(probe create {o}/inside)\n\
             [[ -e \"$(sydfmt exec -- \"$PY\" \"$PROBE\" create {o}/outside)\" ]]; say exec $?\n\
             await {o}/outside\n"
        ),
    );
    assert_eq!(
        lines(&out),
        ["inside EPERM", "exec 0", "came"],
        "{}",
        stderr(&out)
    );
    assert!(!exists(&format!("{o}/inside")));
    assert!(exists(&format!("{o}/outside")));
}

#[test]
fn esandbox_exec_output_goes_to_stderr_and_a_failed_exec_fails_issue10() {
    let b = Box1::new("cmd-exec-out");
    let o = b.out();
    let out = b.bash(
        &[],
        &format!(
            "{AWAIT}[[ -e \"$(sydfmt exec -- sh -c 'echo marker-from-outside; : > {o}/done')\" ]]; \
             say exec $?\n\
             await {o}/done\n\
             [[ -e \"$(sydfmt exec -- /nonexistent/program)\" ]]; say missing-program $?\n"
        ),
    );
    assert_eq!(
        lines(&out),
        ["exec 0", "came", "missing-program 1"],
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("marker-from-outside"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn esandbox_exec_is_refused_once_locked_issue10() {
    let b = Box1::new("cmd-exec-locked");
    let o = b.out();
    let out = b.bash(
        &[],
        &format!(
            "magic core/trace/magic_lock:on; say lock $?\n\
             [[ -e \"$(sydfmt exec -- sh -c ': > {o}/ran')\" ]]; say exec $?\n\
             sleep 1\n"
        ),
    );
    assert_eq!(lines(&out), ["lock 0", "exec 1"], "{}", stderr(&out));
    assert!(!exists(&format!("{o}/ran")));
}

/// What `id -u` and the blocked-signal mask are for a program that
/// `esandbox exec` starts, sent by a shell running as `drop_to` (or as
/// root, like the test).
fn outside_identity(b: &Box1, drop_to: Option<&str>) -> (String, String) {
    let o = b.out();
    std::fs::set_permissions(&o, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(
        &b.s.dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let inner = format!(
        "{AWAIT}[[ -e \"$(sydfmt exec -- sh -c 'id -u > {o}/uid; grep SigBlk /proc/self/status > {o}/mask')\" ]]; \
         say exec $?\nawait {o}/mask\nsleep 0.2\n"
    );
    let mut args: Vec<String> = vec!["--".into()];
    if let Some(user) = drop_to {
        args.extend([
            "setpriv".into(),
            format!("--reuid={user}"),
            format!("--regid={user}"),
            "--clear-groups".into(),
        ]);
    }
    args.extend(["bash".into(), "-c".into(), format!("{LIB}{inner}")]);
    let out = b.run(&argv(&args));
    assert_eq!(lines(&out), ["exec 0", "came"], "{}", stderr(&out));
    let read = |n: &str| std::fs::read_to_string(format!("{o}/{n}")).unwrap_or_default();
    (
        read("uid").trim().to_owned(),
        read("mask").trim().to_owned(),
    )
}

#[test]
fn esandbox_exec_runs_as_the_caller_with_no_signals_blocked_issue10() {
    if skip_unless(is_root(), "dropping to an unprivileged caller needs root") {
        return;
    }
    let user = unprivileged_user().expect("the unprivileged test user exists");
    let uid = stdout(&run_bare(&["id", "-u", user])).trim().to_owned();
    let b = Box1::new("cmd-exec-user");
    let (as_user, mask) = outside_identity(&b, Some(user));
    assert_eq!(as_user, uid, "the program runs as the dropped caller");
    assert_eq!(mask, "SigBlk:\t0000000000000000");
    let b = Box1::new("cmd-exec-root");
    let (as_root, _) = outside_identity(&b, None);
    assert_eq!(as_root, "0", "and as root for a root caller");
}

#[test]
fn stockade_under_its_own_name_refuses_cmd_exec_issue10() {
    let b = Box1::new("cmd-exec-stockade");
    let o = b.out();
    let script =
        format!("{LIB}[[ -e \"$(sydfmt exec -- sh -c ': > {o}/ran')\" ]]; say exec $?\nsleep 1\n");
    let out = output_within(
        b.with_env(stockade(&["--", "bash", "-c", &script])),
        TIMEOUT,
    );
    assert_eq!(lines(&out), ["exec 1"], "{}", stderr(&out));
    assert!(!exists(&format!("{o}/ran")));
    assert!(
        stderr(&out).contains("only offered by stockade invoked as sydbox"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sydfmt_formats_the_exec_command_with_unit_separators_issue10() {
    let b = Box1::new("sydfmt");
    let mut cmd = Command::new(b.path("bin/sydfmt"));
    cmd.args(["exec", "--", "prog", "a b", "c"]);
    let out = output_within(cmd, TIMEOUT);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"/dev/sydbox/cmd/exec!prog\x1fa b\x1fc");
}

// --- errnos -------------------------------------------------------------------------

/// A script that tries each kind of denied call; OUT/missing does not exist.
fn denied_calls(port: u16) -> String {
    format!(
        "say write $(probe create \"$OUT/new\")\n\
         say wronly $(probe wronly \"$OUT/missing\")\n\
         say connect $(probe connect tcp 127.0.0.1:{port})\n\
         say bind $(probe bind tcp 127.0.0.1:1)\n"
    )
}

#[test]
fn sydbox_denials_return_sydbox1_errnos_issue10() {
    let b = Box1::new("errno-sydbox");
    let listener = Listener::tcp4();
    let out = b.bash(&["--profile", "paludis"], &denied_calls(listener.port()));
    assert_eq!(
        lines(&out),
        [
            "write EPERM",
            "wronly ENOENT",
            "connect ECONNREFUSED",
            "bind EADDRNOTAVAIL"
        ],
        "{}",
        stderr(&out)
    );
    assert_eq!(listener.arrivals(), 0);
    assert!(!exists(&format!("{}/new", b.out())));
}

#[test]
fn stockade_keeps_its_own_errnos_issue10() {
    let b = Box1::new("errno-stockade");
    let listener = Listener::tcp4();
    let script = format!("{LIB}{}", denied_calls(listener.port()));
    let cmd = b.with_env(stockade(&["-p", "paludis", "--", "bash", "-c", &script]));
    let out = output_within(cmd, TIMEOUT);
    assert_eq!(
        lines(&out),
        [
            "write EACCES",
            "wronly ENOENT",
            "connect ECONNREFUSED",
            "bind EACCES"
        ],
        "{}",
        stderr(&out)
    );
    assert_eq!(listener.arrivals(), 0);
}

#[test]
fn the_same_calls_work_without_a_sandbox_issue10() {
    let b = Box1::new("errno-bare");
    let listener = Listener::tcp4();
    let script = format!(
        "{LIB}say write $(probe create \"$OUT/new\")\n\
         say wronly $(probe wronly \"$OUT/missing\")\n\
         say connect $(probe connect tcp 127.0.0.1:{})\n",
        listener.port()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script]);
    let out = output_within(b.with_env(cmd), TIMEOUT);
    assert_eq!(
        lines(&out),
        ["write ok", "wronly ENOENT", "connect ok"],
        "{}",
        stderr(&out)
    );
    assert_eq!(listener.arrivals(), 1);
}

/// Native rules: exec checks on, only Python allowed.
fn exec_rules() -> Vec<String> {
    let python = std::fs::canonicalize(python()).unwrap();
    vec![
        "-m".into(),
        "sandbox/exec:on".into(),
        "-m".into(),
        format!("allow/exec+{}", python.display()),
    ]
}

#[test]
fn denied_exec_fails_with_eacces_under_both_names_issue10() {
    let b = Box1::new("errno-exec");
    let probe = b.path("probe.py");
    let mut sydbox_args = vec![
        "-m".to_string(),
        "core/sandbox/exec:deny".to_string(),
        "-m".to_string(),
        format!(
            "whitelist/exec+{}",
            std::fs::canonicalize(python()).unwrap().display()
        ),
        "--".to_string(),
    ];
    sydbox_args.extend([
        python().to_string(),
        probe.clone(),
        "exec".into(),
        "/bin/true".into(),
    ]);
    let under_sydbox = output_within(b.command(&argv(&sydbox_args)), TIMEOUT);
    let mut native = exec_rules();
    native.extend([
        "--".into(),
        python().into(),
        probe.clone(),
        "exec".into(),
        "/bin/true".into(),
    ]);
    let under_stockade = output_within(b.with_env(stockade(&argv(&native))), TIMEOUT);
    let bare = run_bare(&[python(), &probe, "exec", "/bin/true"]);
    assert_eq!(
        stdout(&under_sydbox),
        "EACCES\n",
        "{}",
        stderr(&under_sydbox)
    );
    assert_eq!(
        stdout(&under_stockade),
        "EACCES\n",
        "{}",
        stderr(&under_stockade)
    );
    assert_eq!(stdout(&bare), "ok\n", "{}", stderr(&bare));
}

// --- raise_safe ---------------------------------------------------------------------

#[test]
fn raise_safe_reports_denied_calls_that_fail_anyway_issue10() {
    let b = Box1::new("raise-safe");
    let o = b.out();
    std::fs::create_dir(format!("{o}/exists")).unwrap();
    let script = format!("say $(probe mkdir {o}/exists)\n");
    let quiet = b.bash(&["-m", "core/sandbox/write:deny"], &script);
    let loud = b.bash(
        &[
            "-m",
            "core/sandbox/write:deny",
            "-m",
            "core/violation/raise_safe:true",
        ],
        &script,
    );
    assert_eq!(lines(&quiet), ["EEXIST"], "{}", stderr(&quiet));
    assert_eq!(lines(&loud), ["EEXIST"], "{}", stderr(&loud));
    let reported = |out: &Output| {
        stderr(out)
            .lines()
            .any(|l| l.contains("denied") && l.contains(&format!("{o}/exists")))
    };
    assert!(!reported(&quiet), "{}", stderr(&quiet));
    assert!(reported(&loud), "{}", stderr(&loud));
}

// --- core/violation/exit_code:0 ------------------------------------------------------

#[test]
fn violation_exit_code_zero_adds_128_after_a_violation_issue10() {
    let b = Box1::new("exit-code");
    let args = [
        "-m",
        "core/violation/exit_code:0",
        "-m",
        "core/sandbox/write:deny",
        // bash opens /dev/tty when it has one; that must not count.
        "-m",
        "whitelist/write+/dev/tty",
    ];
    let clean = b.bash(&args, "exit 3\n");
    let violated = b.bash(&args, ": > \"$OUT/x\" 2>/dev/null; exit 3\n");
    assert_eq!(clean.status.code(), Some(3), "{}", stderr(&clean));
    assert_eq!(violated.status.code(), Some(131), "{}", stderr(&violated));
}

// --- -E -----------------------------------------------------------------------------

#[test]
fn dash_e_sets_and_removes_variables_for_the_command_issue10() {
    let b = Box1::new("dash-e");
    let mut cmd = b.command(&[
        "-E",
        "STOCKADE_SET=a=b",
        "-E",
        "STOCKADE_GONE",
        "--",
        "sh",
        "-c",
        "echo \"$STOCKADE_SET ${STOCKADE_GONE-unset}\"",
    ]);
    cmd.env("STOCKADE_GONE", "here");
    let out = output_within(cmd, TIMEOUT);
    assert_eq!(stdout(&out), "a=b unset\n", "{}", stderr(&out));
}

// --- switching categories on from inside --------------------------------------------

#[test]
fn write_deny_from_inside_without_a_profile_is_enforced_issue10() {
    let b = Box1::new("enable-inside");
    let o = b.out();
    // esandbox enable / enabled / disable
    let out = b.bash(
        &[],
        &format!(
            "say before $(probe create {o}/a)\n\
             magic core/sandbox/write:deny; say enable $?\n\
             magic core/sandbox/write?; say enabled $?\n\
             say during $(probe create {o}/b)\n\
             magic core/sandbox/write:off; say disable $?\n\
             say after $(probe create {o}/c)\n"
        ),
    );
    assert_eq!(
        lines(&out),
        [
            "before ok",
            "enable 0",
            "enabled 0",
            "during EPERM",
            "disable 0",
            "after ok"
        ],
        "{}",
        stderr(&out)
    );
    assert!(exists(&format!("{o}/a")) && !exists(&format!("{o}/b")) && exists(&format!("{o}/c")));
}

#[test]
fn esandbox_net_subcommands_refuse_then_allow_a_connect_issue10() {
    let b = Box1::new("net-inside");
    let listener = Listener::tcp4();
    let port = listener.port();
    let out = b.bash(
        &[],
        &format!(
            "magic core/sandbox/network?; say enabled_net $?\n\
             magic core/sandbox/network:deny; say enable_net $?\n\
             say denied $(probe connect tcp 127.0.0.1:{port})\n\
             magic whitelist/network/connect+inet:127.0.0.1@{port}; say allow_net $?\n\
             say allowed $(probe connect tcp 127.0.0.1:{port})\n\
             magic whitelist/network/connect-inet:127.0.0.1@{port}; say disallow_net $?\n\
             magic filter/network+inet:127.0.0.1@{port}; say addfilter_net $?\n\
             say filtered $(probe connect tcp 127.0.0.1:{port})\n\
             magic filter/network-inet:127.0.0.1@{port}; say rmfilter_net $?\n\
             say unfiltered $(probe connect tcp 127.0.0.1:{port})\n\
             magic core/sandbox/network:off; say disable_net $?\n\
             say off $(probe connect tcp 127.0.0.1:{port})\n"
        ),
    );
    assert_eq!(
        lines(&out),
        [
            "enabled_net 1",
            "enable_net 0",
            "denied ECONNREFUSED",
            "allow_net 0",
            "allowed ok",
            "disallow_net 0",
            "addfilter_net 0",
            "filtered ECONNREFUSED",
            "rmfilter_net 0",
            "unfiltered ECONNREFUSED",
            "disable_net 0",
            "off ok"
        ],
        "{}",
        stderr(&out)
    );
    assert_eq!(
        listener.arrivals(),
        2,
        "the allowed and the unchecked connect"
    );
    let reports = stderr(&out)
        .lines()
        .filter(|l| l.contains("denied") && l.contains(&port.to_string()))
        .count();
    assert_eq!(
        reports,
        2,
        "the filtered connect is not reported: {}",
        stderr(&out)
    );
}

#[test]
fn esandbox_exec_subcommands_deny_allow_kill_and_resume_issue10() {
    let b = Box1::new("exec-inside");
    let o = b.out();
    let tool = format!("{o}/tool");
    assert!(run_bare(&["cp", "/usr/bin/touch", &tool]).status.success());
    let out = b.bash(
        &[],
        &format!(
            "magic core/sandbox/exec:deny; say enable_exec $?\n\
             magic core/sandbox/exec?; say enabled_exec $?\n\
             {tool} {o}/one 2>/dev/null; say denied $?\n\
             magic filter/exec+{tool}; say addfilter_exec $?\n\
             {tool} {o}/one 2>/dev/null; say filtered $?\n\
             magic filter/exec-{tool}; say rmfilter_exec $?\n\
             magic whitelist/exec+{tool}; say allow_exec $?\n\
             {tool} {o}/two; say allowed $?\n\
             magic whitelist/exec-{tool}; say disallow_exec $?\n\
             magic core/sandbox/exec:off; say disable_exec $?\n\
             magic exec/kill_if_match+{tool}; say kill $?\n\
             {tool} {o}/three; say killed $?\n\
             magic exec/resume_if_match+{tool}; say resume $?\n\
             {tool} {o}/four; say resumed $?\n"
        ),
    );
    assert_eq!(
        lines(&out),
        [
            "enable_exec 0",
            "enabled_exec 0",
            "denied 126",
            "addfilter_exec 0",
            "filtered 126",
            "rmfilter_exec 0",
            "allow_exec 0",
            "allowed 0",
            "disallow_exec 0",
            "disable_exec 0",
            "kill 0",
            "killed 137",
            "resume 0",
            "resumed 0"
        ],
        "{}",
        stderr(&out)
    );
    let made = |n: &str| exists(&format!("{o}/{n}"));
    assert!(!made("one") && made("two") && !made("three") && made("four"));
    let exec_reports = stderr(&out)
        .lines()
        .filter(|l| l.contains("denied exec") && l.contains(&tool))
        .count();
    assert_eq!(
        exec_reports,
        1,
        "the filtered exec is silent: {}",
        stderr(&out)
    );
}

#[test]
fn exec_allow_mode_from_the_start_runs_all_but_the_blacklisted_issue10() {
    // Landlock bounds exec to the whitelisted hierarchies when exec checks
    // are on at start; in allow mode it must bound nothing.
    let b = Box1::new("exec-allow");
    let o = b.out();
    let tool = format!("{o}/tool");
    assert!(run_bare(&["cp", "/usr/bin/touch", &tool]).status.success());
    let deny = format!("blacklist/exec+{tool}");
    let out = b.bash(
        &["-m", "core/sandbox/exec:allow", "-m", &deny],
        &format!(
            "/usr/bin/touch {o}/ran; say other $?\n{tool} {o}/tool-ran 2>/dev/null; say denied $?\n"
        ),
    );
    assert_eq!(lines(&out), ["other 0", "denied 126"], "{}", stderr(&out));
    assert!(exists(&format!("{o}/ran")) && !exists(&format!("{o}/tool-ran")));
}

#[test]
fn esandbox_path_subcommands_allow_disallow_and_filter_issue10() {
    let b = Box1::new("path-inside");
    let o = b.out();
    let out = b.bash(
        &["--profile", "paludis"],
        &format!(
            "[[ -e /dev/sydbox ]]; say check $?\n\
             magic 1; say api $?\n\
             magic \"whitelist/write+{o}/***\"; say allow $?\n\
             say allowed $(probe create {o}/a)\n\
             magic \"whitelist/write-{o}/***\"; say disallow $?\n\
             say disallowed $(probe create {o}/b)\n\
             magic \"filter/write+{o}/f*\"; say addfilter $?\n\
             say filtered $(probe create {o}/f1)\n\
             magic \"filter/write-{o}/f*\"; say rmfilter $?\n\
             say unfiltered $(probe create {o}/f2)\n"
        ),
    );
    assert_eq!(
        lines(&out),
        [
            "check 0",
            "api 0",
            "allow 0",
            "allowed ok",
            "disallow 0",
            "disallowed EPERM",
            "addfilter 0",
            "filtered EPERM",
            "rmfilter 0",
            "unfiltered EPERM"
        ],
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(exists(&format!("{o}/a")) && !exists(&format!("{o}/b")));
    assert!(
        !err.contains(&format!("{o}/f1")),
        "filtered is silent: {err}"
    );
    assert!(err.contains(&format!("{o}/f2")), "{err}");
    assert!(err.contains(&format!("{o}/b")), "{err}");
}

#[test]
fn esandbox_lock_and_exec_lock_end_commands_issue10() {
    let b = Box1::new("lock-inside");
    let out = b.bash(
        &[],
        "magic core/trace/magic_lock:exec; say exec_lock $?\n\
         magic 1; say shell $?\n\
         bash -c '[[ -e /dev/sydbox/1 ]]; echo child $?'\n\
         magic core/trace/magic_lock:on; say lock $?\n\
         magic 1; say after $?\n",
    );
    assert_eq!(
        lines(&out),
        ["exec_lock 0", "shell 0", "child 1", "lock 0", "after 1"],
        "{}",
        stderr(&out)
    );
}

// --- Paludis's probes (paludis/util/process.cc) --------------------------------------

/// Runs `sh -c SCRIPT` as Paludis's probes do, with our `sydbox` first on
/// PATH; returns whether it exited 0.
fn probe_ok(b: &Box1, script: &str, user: Option<&str>) -> bool {
    let path = format!(
        "{}:{}",
        b.path("bin"),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = match user {
        Some(user) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={user}"),
                &format!("--regid={user}"),
                "--clear-groups",
                "sh",
                "-c",
                script,
            ]);
            c
        }
        None => {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        }
    };
    cmd.env("PATH", path);
    output_within(cmd, TIMEOUT).status.success()
}

/// The unprivileged user the probe runs as (created if missing, as
/// tests/privileges.rs does).
fn unprivileged_user() -> Option<&'static str> {
    const USER: &str = "stockade-test";
    // Once per test binary: two useradd at once can fail on the passwd lock.
    static CREATED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let known = |c: &mut Command| c.output().is_ok_and(|o| o.status.success());
    let ok = *CREATED.get_or_init(|| {
        if !known(Command::new("id").args(["-u", USER])) {
            let _ = Command::new("useradd")
                .args(["-M", "-s", "/bin/sh", USER])
                .output();
        }
        known(Command::new("id").args(["-u", USER]))
    });
    ok.then_some(USER)
}

#[test]
fn paludis_probes_choose_sydbox_profile_paludis_issue10() {
    let b = Box1::new("probes");
    // check_cmd("sydbox"): can_use_sydbox.
    assert!(probe_ok(
        &b,
        "sydbox --version >/dev/null 2>/dev/null",
        None
    ));
    // check_sydbox_v3(): false, so Paludis skips the landlock and unshare
    // probes (they are `can_use_sydbox_v3 && ...`) and every sydbox-3-only
    // profile (landlock, immutable, privileged).
    assert!(!probe_ok(
        &b,
        "sydbox --version | grep -q 'syd.* 3\\.' 2>/dev/null",
        None
    ));
    // The unshare probe itself, as the unprivileged build user: it fails
    // (stockade has no `immutable` profile), which is what Paludis would
    // conclude even if it ran it.
    if !skip_unless(
        is_root(),
        "the unprivileged probe needs root to switch users",
    ) && let Some(user) = unprivileged_user()
    {
        std::fs::set_permissions(
            &b.s.dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        assert!(!probe_ok(
            &b,
            "sydbox -ppaludis -pimmutable true 2>/dev/null",
            Some(user)
        ));
        // ... because of that profile: the same user runs paludis alone.
        assert!(probe_ok(&b, "sydbox -ppaludis true", Some(user)));
    }
    // So for every phase Paludis runs `sydbox --profile paludis -- CMD`.
    let o = b.out();
    let allowed = format!("/var/tmp/stockade-issue10-{}", std::process::id());
    let out = b.run(&[
        "--profile",
        "paludis",
        "--",
        "bash",
        "-c",
        &format!("{LIB}say $(probe create {o}/x) $(probe create {allowed})"),
    ]);
    let made = exists(&allowed);
    let _ = std::fs::remove_file(&allowed);
    assert_eq!(lines(&out), ["EPERM ok"], "{}", stderr(&out));
    assert!(made && !exists(&format!("{o}/x")));
}

// --- found on the way ---------------------------------------------------------------

/// Copies /bin/sh 40 times into OUT and runs each copy at once, printing
/// `busy` for every exec that fails.
const COPY_AND_RUN: &str = "for i in $(seq 40); do cp /bin/sh \"$OUT/sh$i\" && \
                            { \"$OUT/sh$i\" -c true 2>/dev/null || echo busy; }; done; echo done\n";

#[test]
fn a_binary_copied_under_write_checks_runs_at_once_issue10() {
    // The supervisor's own copy of the written file's descriptor stayed
    // open until its worker ran again, after the caller had resumed: the
    // exec failed with ETXTBSY.
    let b = Box1::new("copy-run");
    let allow = format!("whitelist/write+{}/***", b.out());
    let out = b.bash(&["--profile", "paludis", "-m", &allow], COPY_AND_RUN);
    assert_eq!(lines(&out), ["done"], "{}", stderr(&out));
    let mut bare = Command::new("bash");
    bare.args(["-c", COPY_AND_RUN]);
    let bare = output_within(b.with_env(bare), TIMEOUT);
    assert_eq!(lines(&bare), ["done"], "{}", stderr(&bare));
}
