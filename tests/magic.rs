//! End-to-end tests of in-sandbox commands: a process inside the sandbox
//! changes the policy by stat'ing `/dev/stockade/RULE`. Covered: every system
//! call a command may arrive by, what the caller sees (success, ENOENT for a
//! false query, EINVAL, ENOENT when locked, EPERM), the reports of refusals, the real
//! effect of allow/deny/remove commands, `lock:on` and `lock:exec`,
//! `exec/kill_if_match`, concurrent commands, and `share/stockade.sh`.
//!
//! Effect tests also run the same action without stockade, to show it would
//! have succeeded: a denial the test sees is the sandbox's doing.

mod common;
#[path = "common/magic.rs"]
mod magic;
#[path = "common/behaviour.rs"]
mod support;

use common::*;
use magic::*;

/// Write checks on; /dev/null (for `2>/dev/null`) and bash's /dev/tty probe
/// allowed, so that they add no reports.
const WRITE_ON: [&str; 6] = [
    "-m",
    "sandbox/write:on",
    "-m",
    "allow/write+/dev/null",
    "-m",
    "allow/write+/dev/tty",
];

/// The scratch directory, as a string.
fn dir_of(s: &Scratch) -> String {
    s.dir.to_str().unwrap().to_string()
}

/// The rule that allows writing under the scratch directory.
fn allow_dir(s: &Scratch) -> String {
    s.allow_write("")
}

// --- how commands arrive ------------------------------------------------------

/// Sends `allow/write+SCRATCH/***` by `how`, with a write to the scratch
/// directory before and after. The write is denied until the command is
/// applied.
fn command_by(how: &str) {
    let s = Scratch::new(&format!("by-{how}"));
    let code = format!(
        "say('before', write(P('before')))\n\
         say('send', send({rule:?}, {how:?}))\n\
         say('after', write(P('after')))\n",
        rule = allow_dir(&s),
    );
    let out = sandboxed_py(&WRITE_ON, &code, &[&dir_of(&s)]);
    assert_eq!(
        stdout(&out),
        "before EACCES\nsend ok\nafter ok\n",
        "{}",
        stderr(&out)
    );
    assert!(!support::exists(&s.path("before")));
    assert!(support::exists(&s.path("after")));
}

#[test]
fn command_sent_by_stat_is_applied() {
    command_by("stat");
}

#[test]
fn command_sent_by_lstat_is_applied() {
    command_by("lstat");
}

#[test]
fn command_sent_by_newfstatat_is_applied() {
    command_by("newfstatat");
}

#[test]
fn command_sent_by_statx_is_applied() {
    command_by("statx");
}

#[test]
fn command_sent_by_access_is_applied() {
    command_by("access");
}

#[test]
fn command_sent_by_faccessat_is_applied() {
    command_by("faccessat");
}

#[test]
fn command_sent_by_faccessat2_is_applied() {
    command_by("faccessat2");
}

/// A successful command answers like a stat of a character device (the
/// supervisor stats /dev/null for it), so `[ -e ]`, `test -c` and friends
/// see a sane object; statx fills its own layout.
#[test]
fn successful_command_fills_the_stat_buffer_like_dev_null() {
    let code = "\
import stat, struct
null = os.stat('/dev/null')
st = os.stat('/dev/stockade/sandbox/write?')
say('stat', stat.S_ISCHR(st.st_mode), st.st_rdev == null.st_rdev)
say('statx', send('sandbox/write?', 'statx'))
mode, = struct.unpack_from('H', BUF.raw, 0x1c)
major, minor = struct.unpack_from('II', BUF.raw, 0x80)
say('statx', stat.S_ISCHR(mode), os.makedev(major, minor) == null.st_rdev)
";
    let out = sandboxed_py(&WRITE_ON, code, &[]);
    assert_eq!(
        stdout(&out),
        "stat True True\nstatx ok\nstatx True True\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn dev_stockade_exists_inside_and_not_outside() {
    let command = ["sh", "-c", "[ -e /dev/stockade ] && echo yes || echo no"];
    let out = sandboxed(&WRITE_ON, &command);
    assert_eq!(stdout(&out), "yes\n", "{}", stderr(&out));
    assert_eq!(stdout(&bare(&command)), "no\n");
}

/// Commands are recognised before the stat check: stat checks that allow
/// nothing under /dev do not hide /dev/stockade.
#[test]
fn command_is_applied_with_stat_checks_on_and_dev_not_allowed() {
    let s = Scratch::new("stat-on");
    let code = format!(
        "say(os.path.exists('/dev/stockade'), send({:?}), write(P('a')))",
        allow_dir(&s)
    );
    let mut policy = WRITE_ON.to_vec();
    policy.extend([
        "-m",
        "sandbox/stat:on",
        "-m",
        "allow/stat+/***",
        "-m",
        "deny/stat+/dev/***",
    ]);
    let out = sandboxed_py(&policy, &code, &[&dir_of(&s)]);
    assert_eq!(stdout(&out), "True ok ok\n", "{}", stderr(&out));
}

#[test]
fn command_outside_the_sandbox_fails_with_enoent() {
    let out = bare_py("say(send('sandbox/write:off'))", &[]);
    assert_eq!(stdout(&out), "ENOENT\n", "{}", stderr(&out));
}

// --- queries ---------------------------------------------------------------------

/// Every category switched on (with everything allowed, so Python runs).
const ALL_ON: [&str; 16] = [
    "-m",
    "sandbox/read,write,exec,stat:on",
    "-m",
    "sandbox/net/bind,net/connect:on",
    "-m",
    "allow/read+/***",
    "-m",
    "allow/write+/***",
    "-m",
    "allow/exec+/***",
    "-m",
    "allow/stat+/***",
    "-m",
    "allow/net/bind+any",
    "-m",
    "allow/net/connect+any",
];

const QUERY_EVERY_CATEGORY: &str = "\
for cat in ('read', 'write', 'exec', 'stat', 'net/bind', 'net/connect'):
    say(cat, send('sandbox/' + cat + '?'))
";

#[test]
fn query_is_true_for_every_category_switched_on() {
    let out = sandboxed_py(&ALL_ON, QUERY_EVERY_CATEGORY, &[]);
    assert_eq!(
        stdout(&out),
        "read ok\nwrite ok\nexec ok\nstat ok\nnet/bind ok\nnet/connect ok\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn query_is_false_with_enoent_for_every_category_off() {
    let out = sandboxed_py(&[], QUERY_EVERY_CATEGORY, &[]);
    assert_eq!(
        stdout(&out),
        "read ENOENT\nwrite ENOENT\nexec ENOENT\nstat ENOENT\nnet/bind ENOENT\nnet/connect ENOENT\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn query_tells_switched_on_from_off_categories_in_one_policy() {
    let out = sandboxed_py(
        &["-m", "sandbox/write,stat:on", "-m", "allow/stat+/***"],
        QUERY_EVERY_CATEGORY,
        &[],
    );
    assert_eq!(
        stdout(&out),
        "read ENOENT\nwrite ok\nexec ENOENT\nstat ok\nnet/bind ENOENT\nnet/connect ENOENT\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn false_query_is_not_reported_as_a_refusal() {
    let out = sandboxed_py(&[], "say(send('sandbox/write?'))", &[]);
    assert_eq!(stdout(&out), "ENOENT\n");
    assert!(!stderr(&out).contains("refused"), "{}", stderr(&out));
}

#[test]
fn query_follows_switches_made_inside() {
    let code = "\
say('off', send('sandbox/write:off'))
say('query', send('sandbox/write?'))
say('written', write(P('while-off')))
say('on', send('sandbox/write:on'))
say('query', send('sandbox/write?'))
say('written', write(P('while-on')))
";
    let s = Scratch::new("query-follows");
    let out = sandboxed_py(&WRITE_ON, code, &[&dir_of(&s)]);
    assert_eq!(
        stdout(&out),
        "off ok\nquery ENOENT\nwritten ok\non ok\nquery ok\nwritten EACCES\n",
        "{}",
        stderr(&out)
    );
}

// --- refusals ----------------------------------------------------------------------

/// Sends each rule in `bad` and expects EINVAL and a report naming it.
fn invalid_rules_fail_with_einval(bad: &[&str]) {
    let code = "for rule in sys.argv[1:]:\n    say(send(rule))\n";
    let mut cmd = py_argv(code, &[]);
    cmd.extend(bad.iter().map(|r| r.to_string()));
    let out = sandboxed(&WRITE_ON, &argv(&cmd));
    assert_eq!(
        stdout(&out),
        "EINVAL\n".repeat(bad.len()),
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    for rule in bad {
        assert!(
            refusal_reported(&err, rule, "invalid"),
            "no refusal of {rule} reported:\n{err}"
        );
    }
}

#[test]
fn unknown_rule_fails_with_einval_and_is_reported() {
    invalid_rules_fail_with_einval(&["bogus", "sandbox/colour:on"]);
}

#[test]
fn bad_switch_value_fails_with_einval_and_is_reported() {
    invalid_rules_fail_with_einval(&["sandbox/write:maybe", "lock:sometimes"]);
}

#[test]
fn bad_address_fails_with_einval_and_is_reported() {
    invalid_rules_fail_with_einval(&["allow/net/bind+127.0.0.1!99999"]);
}

#[test]
fn removing_an_absent_rule_fails_with_einval_and_is_reported() {
    let out = sandboxed_py(&WRITE_ON, "say(send('allow/write-/nowhere/***'))", &[]);
    assert_eq!(stdout(&out), "EINVAL\n", "{}", stderr(&out));
    assert!(
        refusal_reported(&stderr(&out), "allow/write-/nowhere/***", "no rule"),
        "{}",
        stderr(&out)
    );
}

/// Exec is left out: while commands are possible the filter watches exec
/// anyway (for `lock:exec`), so it may be switched on.
#[test]
fn switching_on_a_category_off_at_start_fails_with_eperm_and_is_reported() {
    let code = "\
for cat in ('read', 'stat', 'net/bind', 'net/connect'):
    say(cat, send('sandbox/' + cat + ':on'), send('sandbox/' + cat + '?'))
";
    let out = sandboxed_py(&WRITE_ON, code, &[]);
    assert_eq!(
        stdout(&out),
        "read EPERM ENOENT\nstat EPERM ENOENT\nnet/bind EPERM ENOENT\nnet/connect EPERM ENOENT\n",
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    for cat in ["read", "stat", "net/bind", "net/connect"] {
        assert!(
            refusal_reported(&err, &format!("sandbox/{cat}:on"), "cannot be switched on"),
            "no refusal for {cat}:\n{err}"
        );
    }
}

#[test]
fn switching_exec_on_inside_denies_later_execs() {
    let command = [
        "sh",
        "-c",
        "[ -e /dev/stockade/sandbox/exec:on ]; echo on $?; /usr/bin/true; echo true $?",
    ];
    let out = sandboxed(&WRITE_ON, &command);
    assert_eq!(stdout(&out), "on 0\ntrue 126\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("allow/exec+/usr/bin/true"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn switching_on_a_category_switched_off_inside_succeeds() {
    // Watched at start, so the filter still sees it after an inside switch.
    let code = "say(send('sandbox/write:off'), send('sandbox/write:on'), send('sandbox/write?'))";
    let out = sandboxed_py(&WRITE_ON, code, &[]);
    assert_eq!(stdout(&out), "ok ok ok\n", "{}", stderr(&out));
}

// --- effects ---------------------------------------------------------------------

#[test]
fn allow_write_command_lets_a_denied_write_succeed() {
    let s = Scratch::new("allow-effect");
    let target = s.path("out");
    let command = [
        "sh",
        "-c",
        "touch \"$1\" 2>/dev/null; echo first $?; \
         [ -e \"/dev/stockade/allow/write+$2\" ]; echo sent $?; \
         touch \"$1\"; echo second $?",
        "sh",
        &target,
        &format!("{}/***", dir_of(&s)),
    ];
    let out = sandboxed(
        &["-m", "sandbox/write:on", "-m", "allow/write+/dev/null"],
        &command,
    );
    assert_eq!(
        stdout(&out),
        "first 1\nsent 0\nsecond 0\n",
        "{}",
        stderr(&out)
    );
    assert!(support::exists(&target));

    std::fs::remove_file(&target).unwrap();
    let control = bare(&["sh", "-c", "touch \"$1\"; echo $?", "sh", &target]);
    assert_eq!(stdout(&control), "0\n");
}

#[test]
fn deny_write_command_makes_an_allowed_write_fail_and_reported() {
    let s = Scratch::new("deny-effect");
    let secret = s.path("secret");
    std::fs::create_dir(&secret).unwrap();
    let code = format!(
        "say('before', write(P('secret/a')))\n\
         say('send', send('deny/write+{secret}/***'))\n\
         say('after', write(P('secret/b')))\n\
         say('beside', write(P('c')))\n"
    );
    let allow = allow_dir(&s);
    let out = sandboxed_py(
        &["-m", "sandbox/write:on", "-m", &allow],
        &code,
        &[&dir_of(&s)],
    );
    assert_eq!(
        stdout(&out),
        "before ok\nsend ok\nafter EACCES\nbeside ok\n",
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{secret}/b")) && err.contains("denied write access"),
        "denial not reported:\n{err}"
    );
    assert!(!support::exists(&s.path("secret/b")));

    let control = bare_py("say(write(P('secret/b')))", &[&dir_of(&s)]);
    assert_eq!(stdout(&control), "ok\n");
}

#[test]
fn removing_an_allow_rule_denies_the_write_again() {
    let s = Scratch::new("remove-effect");
    let allow = allow_dir(&s);
    let remove = allow.replacen('+', "-", 1);
    let code = format!(
        "say('before', write(P('a')))\n\
         say('remove', send({remove:?}))\n\
         say('after', write(P('b')))\n\
         say('again', send({remove:?}))\n"
    );
    let out = sandboxed_py(
        &["-m", "sandbox/write:on", "-m", &allow],
        &code,
        &[&dir_of(&s)],
    );
    assert_eq!(
        stdout(&out),
        "before ok\nremove ok\nafter EACCES\nagain EINVAL\n",
        "{}",
        stderr(&out)
    );
    assert!(!support::exists(&s.path("b")));
}

#[test]
fn removing_one_copy_of_a_doubled_rule_keeps_the_other() {
    let s = Scratch::new("remove-one-copy");
    let allow = allow_dir(&s);
    let remove = allow.replacen('+', "-", 1);
    let remove_all = allow.replacen('+', "^", 1);
    let code = format!(
        "say('add', send({allow:?}))\n\
         say('remove', send({remove:?}))\n\
         say('written', write(P('a')))\n\
         say('add', send({allow:?}))\n\
         say('remove all', send({remove_all:?}))\n\
         say('written', write(P('b')))\n"
    );
    let out = sandboxed_py(
        &["-m", "sandbox/write:on", "-m", &allow],
        &code,
        &[&dir_of(&s)],
    );
    assert_eq!(
        stdout(&out),
        "add ok\nremove ok\nwritten ok\nadd ok\nremove all ok\nwritten EACCES\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn switching_write_off_inside_lets_writes_through() {
    let s = Scratch::new("switch-off");
    let code = "say(write(P('a')), send('sandbox/write:off'), write(P('b')))";
    let out = sandboxed_py(&WRITE_ON, code, &[&dir_of(&s)]);
    assert_eq!(stdout(&out), "EACCES ok ok\n", "{}", stderr(&out));
}

#[test]
fn command_from_a_grandchild_applies_to_the_whole_tree() {
    let s = Scratch::new("grandchild-command");
    let rule = allow_dir(&s);
    let target = s.path("out");
    let command = [
        "sh",
        "-c",
        "sh -c '[ -e \"/dev/stockade/$1\" ]' sh \"$1\"; echo sent $?; \
         touch \"$2\"; echo touched $?",
        "sh",
        &rule,
        &target,
    ];
    let out = sandboxed(&WRITE_ON, &command);
    assert_eq!(stdout(&out), "sent 0\ntouched 0\n", "{}", stderr(&out));
    assert!(support::exists(&target));
}

// --- lock:on -----------------------------------------------------------------------

#[test]
/// After `lock:on` nobody has a /dev/stockade: commands fail with ENOENT as
/// without stockade, and their stats are not even read (issue 11), so
/// nothing is reported.
fn lock_on_makes_every_later_command_fail_as_without_stockade_issue11() {
    let code = "\
say('lock', send('lock:on'))
say('self', send('sandbox/write:off'), send('sandbox/write?'), send('lock:off'))
pid = os.fork()
if pid == 0:
    say('fork', send('sandbox/write:off'))
    os._exit(0)
os.waitpid(pid, 0)
";
    let out = sandboxed_py(&WRITE_ON, code, &[]);
    assert_eq!(
        stdout(&out),
        "lock ok\nself ENOENT ENOENT ENOENT\nfork ENOENT\n",
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(!err.contains("refused"), "{err}");
}

#[test]
fn lock_on_refuses_a_child_that_execed() {
    let command = [
        "bash",
        "-c",
        "[ -e /dev/stockade/lock:on ]; echo lock $?; \
         bash -c '[ -e /dev/stockade/sandbox/write:off ]; echo child $?'",
    ];
    let out = sandboxed(&WRITE_ON, &command);
    assert_eq!(stdout(&out), "lock 0\nchild 1\n", "{}", stderr(&out));
}

#[test]
fn lock_on_keeps_the_policy_in_force() {
    let s = Scratch::new("lock-keeps");
    let code = format!(
        "say(send('lock:on'), send({:?}), write(P('a')))",
        allow_dir(&s)
    );
    let out = sandboxed_py(&WRITE_ON, &code, &[&dir_of(&s)]);
    assert_eq!(stdout(&out), "ok ENOENT EACCES\n", "{}", stderr(&out));
    assert!(!support::exists(&s.path("a")));
}

#[test]
fn dev_stockade_is_gone_after_lock_on() {
    let command = [
        "sh",
        "-c",
        "[ -e /dev/stockade ]; echo before $?; [ -e /dev/stockade/lock:on ]; \
         [ -e /dev/stockade ]; echo after $?",
    ];
    let out = sandboxed(&WRITE_ON, &command);
    assert_eq!(stdout(&out), "before 0\nafter 1\n", "{}", stderr(&out));
}

#[test]
fn lock_on_from_the_start_hides_dev_stockade_from_everyone() {
    // The filter does not even watch stats then: the kernel answers ENOENT,
    // and there is nothing to report.
    let code = "say(os.path.exists('/dev/stockade'), send('sandbox/write:off'), send('lock:off'))";
    let mut policy = WRITE_ON.to_vec();
    policy.extend(["-m", "lock:on"]);
    let out = sandboxed_py(&policy, code, &[]);
    assert_eq!(stdout(&out), "False ENOENT ENOENT\n", "{}", stderr(&out));
    assert!(!stderr(&out).contains("refused"), "{}", stderr(&out));
}

// --- lock:exec ---------------------------------------------------------------------

/// `bash -c SCRIPT` under write checks, with `$1` = the scratch directory.
fn bash_in(s: &Scratch, script: &str) -> std::process::Output {
    sandboxed(&WRITE_ON, &["bash", "-c", script, "bash", &dir_of(s)])
}

#[test]
fn lock_exec_lets_the_sender_go_on_until_it_execs() {
    let s = Scratch::new("lock-exec-self");
    let out = bash_in(
        &s,
        "[ -e /dev/stockade/lock:exec ]; echo lock $?; \
         [ -e \"/dev/stockade/allow/write+$1/***\" ]; echo allow $?; \
         [ -e /dev/stockade ]; echo dir $?; \
         : > \"$1/a\"; echo written $?",
    );
    assert_eq!(
        stdout(&out),
        "lock 0\nallow 0\ndir 0\nwritten 0\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn lock_exec_lets_a_subshell_send_commands() {
    let s = Scratch::new("lock-exec-subshell");
    let out = bash_in(
        &s,
        "[ -e /dev/stockade/lock:exec ]; \
         ( [ -e \"/dev/stockade/allow/write+$1/***\" ]; echo subshell $? ); \
         : > \"$1/a\"; echo written $?",
    );
    assert_eq!(stdout(&out), "subshell 0\nwritten 0\n", "{}", stderr(&out));
}

#[test]
/// The child's own command is not even read (it exec'd: issue 11); that of
/// a subshell it forks is, and its refusal is reported.
fn lock_exec_refuses_a_child_that_execed_and_reports() {
    let s = Scratch::new("lock-exec-child");
    let out = bash_in(
        &s,
        "[ -e /dev/stockade/lock:exec ]; \
         bash -c '[ -e /dev/stockade ]; echo dir $?; \
                  [ -e \"/dev/stockade/allow/write+$1/***\" ]; echo allow $?; \
                  ( [ -e \"/dev/stockade/allow/write+$1/***\" ]; echo forked $? )' bash \"$1\"; \
         : > \"$1/a\" 2>/dev/null; echo written $?",
    );
    assert_eq!(
        stdout(&out),
        "dir 1\nallow 1\nforked 1\nwritten 1\n",
        "{}",
        stderr(&out)
    );
    let rule = format!("allow/write+{}/***", dir_of(&s));
    assert!(
        refusal_reported(&stderr(&out), &rule, "locked"),
        "{}",
        stderr(&out)
    );
    assert!(!support::exists(&s.path("a")));
}

/// With exec checks on, execs take the checked path; the lock must follow.
#[test]
fn lock_exec_with_exec_checks_on_refuses_a_child_that_execed() {
    let s = Scratch::new("lock-exec-checked");
    let mut policy = WRITE_ON.to_vec();
    policy.extend(["-m", "sandbox/exec:on", "-m", "allow/exec+/***"]);
    let out = sandboxed(
        &policy,
        &[
            "bash",
            "-c",
            "[ -e /dev/stockade/lock:exec ]; \
             ( [ -e /dev/stockade/sandbox/write? ]; echo subshell $? ); \
             bash -c '[ -e /dev/stockade/sandbox/write? ]; echo child $?'",
            "bash",
            &dir_of(&s),
        ],
    );
    assert_eq!(stdout(&out), "subshell 0\nchild 1\n", "{}", stderr(&out));
}

#[test]
fn lock_exec_locks_a_process_after_its_own_exec() {
    let s = Scratch::new("lock-exec-own");
    let code = format!(
        "say('after exec', send({:?}), os.path.exists('/dev/stockade'))",
        allow_dir(&s)
    );
    let python_after = py_argv(&code, &[]);
    // The shell sets the lock, then replaces itself (same pid) with Python.
    let script = "[ -e /dev/stockade/lock:exec ]; echo lock $?; exec \"$@\"";
    let mut command = vec!["sh", "-c", script, "sh"];
    command.extend(argv(&python_after));
    let out = sandboxed(&WRITE_ON, &command);
    assert_eq!(
        stdout(&out),
        "lock 0\nafter exec ENOENT False\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn lock_exec_from_the_start_lets_the_command_send_until_it_execs() {
    // stockade's own exec of the command does not count: the command may
    // send commands, and a program it execs may not.
    let mut policy = WRITE_ON.to_vec();
    policy.extend(["-m", "lock:exec"]);
    let script = "[ -e /dev/stockade/sandbox/write? ]; echo command $?; \
                  exec bash -c '[ -e /dev/stockade/sandbox/write? ]; echo execed $?'";
    let out = sandboxed(&policy, &["bash", "-c", script]);
    assert_eq!(stdout(&out), "command 0\nexeced 1\n", "{}", stderr(&out));
}

#[test]
fn lock_on_after_lock_exec_locks_the_subshells_too() {
    let out = sandboxed(
        &WRITE_ON,
        &[
            "bash",
            "-c",
            "[ -e /dev/stockade/lock:exec ]; [ -e /dev/stockade/lock:on ]; echo on $?; \
             ( [ -e /dev/stockade/sandbox/write? ]; echo subshell $? )",
        ],
    );
    assert_eq!(stdout(&out), "on 0\nsubshell 1\n", "{}", stderr(&out));
}

#[test]
fn lock_exec_fork_of_an_execed_process_stays_locked() {
    let s = Scratch::new("lock-exec-fork");
    let out = bash_in(
        &s,
        "[ -e /dev/stockade/lock:exec ]; \
         bash -c '( [ -e \"/dev/stockade/allow/write+$1/***\" ]; echo grandchild $? )' bash \"$1\"; \
         : > \"$1/a\" 2>/dev/null; echo written $?",
    );
    assert_eq!(
        stdout(&out),
        "grandchild 1\nwritten 1\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn lock_exec_new_thread_of_an_execed_process_stays_locked() {
    let s = Scratch::new("lock-exec-thread");
    let code = format!(
        "import threading\n\
         r = []\n\
         t = threading.Thread(target=lambda: r.append(send({:?})))\n\
         t.start(); t.join()\n\
         say('main', send('sandbox/write?'), 'thread', r[0], 'written', write(P('a')))\n",
        allow_dir(&s)
    );
    let python_after = py_argv(&code, &[&dir_of(&s)]);
    let script = "[ -e /dev/stockade/lock:exec ]; exec \"$@\"";
    let mut command = vec!["sh", "-c", script, "sh"];
    command.extend(argv(&python_after));
    let out = sandboxed(&WRITE_ON, &command);
    assert_eq!(
        stdout(&out),
        "main ENOENT thread ENOENT written EACCES\n",
        "{}",
        stderr(&out)
    );
}

// --- lock:exec ancestry (issue 8 §4) ----------------------------------------------

/// Runs `ROOT` as the command under write checks and `lock`, with `$1` = the
/// scratch directory. The root itself is never locked (stockade's own exec
/// of it does not count); it runs `ATTACK` in a child that execs a fresh
/// Python, which `lock:exec` locks. The attack makes a process that tries
/// to send `allow/write+SCRATCH/***` and write there; it prints what it
/// got. The root waits until every copy of the `DONE` pipe is closed, so
/// the attack's last process has spoken before the command exits.
fn lock_attack(s: &Scratch, lock: &str, root_setup: &str, attack: &str) -> std::process::Output {
    let root = format!(
        "{root_setup}\n\
         done_r, done_w = os.pipe()\n\
         os.set_inheritable(done_w, True)\n\
         attack = PRELUDE + {attack:?}\n\
         pid = os.fork()\n\
         if pid == 0:\n\
         \x20   os.execv(sys.executable, [sys.executable, '-B', '-c', attack, D, str(done_w)])\n\
         os.close(done_w)\n\
         os.read(done_r, 1)\n\
         os.waitpid(pid, 0)\n"
    );
    let prelude = format!("PRELUDE = {:?}\n", magic::PRELUDE);
    let mut policy = WRITE_ON.to_vec();
    policy.extend(["-m", lock]);
    sandboxed_py(&policy, &format!("{prelude}{root}"), &[&dir_of(s)])
}

/// The attack's process sends the rule and writes, then reports.
const SEND_AND_WRITE: &str = "\
def attempt(who):
    rule = b'allow/write+' + D + b'/***'
    say(who, send(rule), write(P(who)))
";

/// A locked process forks a child that forks the attacker and exits: the
/// attacker is reparented to stockade (or to a subreaper) and its parent
/// links no longer show the locked creator.
const ORPHAN: &str = "\
import time
creator = os.getpid()
g = os.fork()
if g == 0:
    while os.getppid() == creator:
        time.sleep(0.01)
    attempt('orphan')
    os._exit(0)
os._exit(0)
";

/// A locked process clones with CLONE_PARENT: the child's parent is the
/// root, which is not locked.
const CLONE_PARENT: &str = "\
L = ctypes.c_long
flags = 0x8000 | 17  # CLONE_PARENT | SIGCHLD
r = libc.syscall(L(56), L(flags), L(0), L(0), L(0), L(0))
if r == 0:
    attempt('sibling')
    os._exit(0)
say('clone', 'ok' if r > 0 else _name(ctypes.get_errno()))
if r > 0:
    # The sibling is the root's child: wait for its word through DONE.
    pass
";

const SUBREAPER: &str = "libc.prctl(36, 1, 0, 0, 0)";

#[test]
fn lock_exec_locks_an_orphan_reparented_to_stockade_issue8() {
    let s = Scratch::new("lock-orphan");
    let out = lock_attack(&s, "lock:exec", "", &format!("{SEND_AND_WRITE}{ORPHAN}"));
    assert_eq!(stdout(&out), "orphan ENOENT EACCES\n", "{}", stderr(&out));
    assert!(!support::exists(&s.path("orphan")));
    let rule = format!("allow/write+{}/***", dir_of(&s));
    assert!(
        refusal_reported(&stderr(&out), &rule, "locked"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lock_off_lets_the_same_orphan_send_issue8() {
    let s = Scratch::new("lock-off-orphan");
    let out = lock_attack(&s, "lock:off", "", &format!("{SEND_AND_WRITE}{ORPHAN}"));
    assert_eq!(stdout(&out), "orphan ok ok\n", "{}", stderr(&out));
    assert!(support::exists(&s.path("orphan")));
}

#[test]
fn lock_exec_locks_an_orphan_reparented_to_a_subreaper_in_the_tree_issue8() {
    let s = Scratch::new("lock-subreaper");
    let attack = format!("{SEND_AND_WRITE}{ORPHAN}");
    let out = lock_attack(&s, "lock:exec", SUBREAPER, &attack);
    assert_eq!(stdout(&out), "orphan ENOENT EACCES\n", "{}", stderr(&out));
    assert!(!support::exists(&s.path("orphan")));
}

#[test]
fn lock_off_lets_the_same_orphan_of_a_subreaper_send_issue8() {
    let s = Scratch::new("lock-off-subreaper");
    let attack = format!("{SEND_AND_WRITE}{ORPHAN}");
    let out = lock_attack(&s, "lock:off", SUBREAPER, &attack);
    assert_eq!(stdout(&out), "orphan ok ok\n", "{}", stderr(&out));
    assert!(support::exists(&s.path("orphan")));
}

#[test]
fn lock_exec_refuses_clone_parent_from_a_locked_process_issue8() {
    let s = Scratch::new("lock-clone-parent");
    let out = lock_attack(
        &s,
        "lock:exec",
        "",
        &format!("{SEND_AND_WRITE}{CLONE_PARENT}"),
    );
    assert_eq!(stdout(&out), "clone EPERM\n", "{}", stderr(&out));
    assert!(!support::exists(&s.path("sibling")));
    let err = stderr(&out);
    assert!(
        err.contains("denied process access: clone(") && err.contains("CLONE_PARENT"),
        "{err}"
    );
}

#[test]
fn lock_off_lets_a_clone_parent_child_send_issue8() {
    let s = Scratch::new("lock-off-clone-parent");
    let out = lock_attack(
        &s,
        "lock:off",
        "",
        &format!("{SEND_AND_WRITE}{CLONE_PARENT}"),
    );
    let got = stdout(&out);
    let mut lines: Vec<&str> = got.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["clone ok", "sibling ok ok"], "{}", stderr(&out));
    assert!(support::exists(&s.path("sibling")));
}

/// What worked before stays: a forked child of an unlocked process keeps
/// the right, even when it is a CLONE_PARENT child of the command.
#[test]
fn lock_exec_keeps_forked_children_of_an_unlocked_process_unlocked_issue8() {
    let s = Scratch::new("lock-fork-unlocked");
    let code = format!(
        "{SEND_AND_WRITE}\n\
         pid = os.fork()\n\
         if pid == 0:\n\
         \x20   attempt('child')\n\
         \x20   os._exit(0)\n\
         os.waitpid(pid, 0)\n"
    );
    let mut policy = WRITE_ON.to_vec();
    policy.extend(["-m", "lock:exec"]);
    let out = sandboxed_py(&policy, &code, &[&dir_of(&s)]);
    assert_eq!(stdout(&out), "child ok ok\n", "{}", stderr(&out));
}

// --- exec/kill_if_match ------------------------------------------------------------

/// A copy of touch(1) at SCRATCH/bin/NAME; returns its real path, which
/// is what exec patterns are matched against.
fn toucher(s: &Scratch, name: &str) -> String {
    std::fs::create_dir_all(s.path("bin")).unwrap();
    let path = s.path(&format!("bin/{name}"));
    // cp(1), not std::fs::copy: a writable descriptor open in this process
    // would leak into children other tests fork meanwhile, and exec'ing the
    // copy would then fail with ETXTBSY.
    let cp = run_bare(&["cp", "/usr/bin/touch", &path]);
    assert!(cp.status.success(), "cp: {}", stderr(&cp));
    std::fs::canonicalize(&path)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// Runs `sh -c` with `$1` = the scratch directory, `$2` = the marker `mark`,
/// under `policy`; the script may run `$1/bin/NAME "$2"` to make the mark.
fn kill_run(s: &Scratch, policy: &[&str], script: &str) -> std::process::Output {
    sandboxed(
        policy,
        &["sh", "-c", script, "sh", &dir_of(s), &s.path("mark")],
    )
}

#[test]
fn exec_kill_if_match_command_kills_a_matching_exec_and_reports() {
    let s = Scratch::new("kill-if-match");
    let victim = toucher(&s, "victim");
    let script = "[ -e \"/dev/stockade/exec/kill_if_match+$1/bin/victim\" ]; echo sent $?; \
                  \"$1/bin/victim\" \"$2\"; echo status $?";
    let out = kill_run(&s, &[], script);
    assert_eq!(stdout(&out), "sent 0\nstatus 137\n", "{}", stderr(&out));
    assert!(!support::exists(&s.path("mark")), "the victim ran");
    let err = stderr(&out);
    assert!(
        err.contains("killed") && err.contains(&format!("exec/kill_if_match+{victim}")),
        "kill not reported:\n{err}"
    );

    let control = bare(&[&victim, &s.path("mark")]);
    assert!(control.status.success());
    assert!(support::exists(&s.path("mark")));
}

#[test]
fn exec_kill_if_match_spares_other_paths() {
    let s = Scratch::new("kill-spares");
    toucher(&s, "victim");
    toucher(&s, "bystander");
    let script = "[ -e \"/dev/stockade/exec/kill_if_match+$1/bin/victim\" ]; \
                  \"$1/bin/bystander\" \"$2\"; echo status $?";
    let out = kill_run(&s, &[], script);
    assert_eq!(stdout(&out), "status 0\n", "{}", stderr(&out));
    assert!(support::exists(&s.path("mark")));
}

#[test]
fn exec_resume_if_match_exempts_a_path_from_kill_if_match() {
    let s = Scratch::new("resume-if-match");
    toucher(&s, "victim");
    toucher(&s, "exempt");
    let script = "[ -e \"/dev/stockade/exec/kill_if_match+$1/bin/*\" ]; echo kill $?; \
                  [ -e \"/dev/stockade/exec/resume_if_match+$1/bin/exempt\" ]; echo resume $?; \
                  \"$1/bin/exempt\" \"$2\"; echo exempt $?; \
                  \"$1/bin/victim\" \"$2.victim\"; echo victim $?";
    let out = kill_run(&s, &[], script);
    assert_eq!(
        stdout(&out),
        "kill 0\nresume 0\nexempt 0\nvictim 137\n",
        "{}",
        stderr(&out)
    );
    assert!(support::exists(&s.path("mark")));
    assert!(!support::exists(&s.path("mark.victim")));
}

#[test]
fn exec_kill_if_match_removed_inside_no_longer_kills() {
    let s = Scratch::new("kill-removed");
    toucher(&s, "victim");
    let script = "[ -e \"/dev/stockade/exec/kill_if_match-$1/bin/victim\" ]; echo removed $?; \
                  \"$1/bin/victim\" \"$2\"; echo status $?";
    let rule = format!("exec/kill_if_match+{}/bin/victim", dir_of(&s));
    let out = kill_run(&s, &["-m", &rule], script);
    assert_eq!(stdout(&out), "removed 0\nstatus 0\n", "{}", stderr(&out));
    assert!(support::exists(&s.path("mark")));
}

// --- concurrency -------------------------------------------------------------------

const SENDERS: usize = 20;
const RULES_EACH: usize = 5;

/// 20 background shells send 5 distinct rules each, at once.
const CONCURRENT_SENDERS: &str = "\
D=$1; i=0
while [ $i -lt 20 ]; do
  ( j=0
    while [ $j -lt 5 ]; do
      n=$((i * 5 + j))
      [ -e \"/dev/stockade/allow/write+$D/$n/***\" ] || echo \"refused $n\"
      j=$((j + 1))
    done ) &
  i=$((i + 1))
done
wait
shift
exec \"$@\"
";

/// Then, for each rule: the directory is writable, one removal succeeds and
/// makes it unwritable (so there was exactly one copy), and a second removal
/// fails (the rule is gone).
const CHECK_EACH_RULE_ONCE: &str = "\
counts = {}
def count(what, result):
    counts[what, result] = counts.get((what, result), 0) + 1
for n in range(int(sys.argv[2])):
    rule = D + b'/%d/***' % n
    count('written', write(P('%d/a' % n)))
    count('removed', send(b'allow/write-' + rule))
    count('after', write(P('%d/b' % n)))
    count('again', send(b'allow/write-' + rule))
for key in sorted(counts):
    say(*key, counts[key])
";

#[test]
fn concurrent_commands_from_many_processes_are_each_applied_once() {
    let s = Scratch::new("concurrent");
    let total = SENDERS * RULES_EACH;
    for n in 0..total {
        std::fs::create_dir(s.path(&n.to_string())).unwrap();
    }
    let check = py_argv(CHECK_EACH_RULE_ONCE, &[&dir_of(&s), &total.to_string()]);
    let mut command = vec![
        "sh",
        "-c",
        CONCURRENT_SENDERS,
        "sh",
        s.dir.to_str().unwrap(),
    ];
    command.extend(argv(&check));
    let out = sandboxed(&WRITE_ON, &command);
    let n = total;
    assert_eq!(
        stdout(&out),
        format!("after EACCES {n}\nagain EINVAL {n}\nremoved ok {n}\nwritten ok {n}\n"),
        "{}",
        stderr(&out)
    );
}

// --- share/stockade.sh ---------------------------------------------------------------

/// Runs `sh -c '. stockade.sh; SCRIPT'` with `$1` = the scratch directory.
fn with_helpers(s: &Scratch, policy: &[&str], script: &str) -> std::process::Output {
    let script = format!(". \"{}\"\n{script}", helper_lib());
    sandboxed(policy, &["sh", "-c", &script, "sh", &dir_of(s)])
}

#[test]
fn helper_active_is_true_inside_and_false_outside() {
    let s = Scratch::new("helper-active");
    let script = "stockade_active; echo active $?";
    let out = with_helpers(&s, &[], script);
    assert_eq!(stdout(&out), "active 0\n", "{}", stderr(&out));
    let script = format!(". \"{}\"\n{script}", helper_lib());
    assert_eq!(stdout(&bare(&["sh", "-c", &script])), "active 1\n");
}

#[test]
fn helper_active_is_false_once_locked() {
    let s = Scratch::new("helper-active-locked");
    let out = with_helpers(&s, &[], "stockade_lock; stockade_active; echo active $?");
    assert_eq!(stdout(&out), "active 1\n", "{}", stderr(&out));
}

#[test]
fn helper_allow_write_lets_a_denied_write_succeed() {
    let s = Scratch::new("helper-allow");
    let out = with_helpers(
        &s,
        &WRITE_ON,
        "touch \"$1/a\" 2>/dev/null; echo before $?; \
         stockade_allow write \"$1/***\"; echo allow $?; \
         touch \"$1/b\"; echo after $?",
    );
    assert_eq!(
        stdout(&out),
        "before 1\nallow 0\nafter 0\n",
        "{}",
        stderr(&out)
    );
    assert!(!support::exists(&s.path("a")));
    assert!(support::exists(&s.path("b")));
}

#[test]
fn helper_deny_write_makes_an_allowed_write_fail() {
    let s = Scratch::new("helper-deny");
    std::fs::create_dir(s.path("secret")).unwrap();
    let allow = allow_dir(&s);
    let out = with_helpers(
        &s,
        &[
            "-m",
            "sandbox/write:on",
            "-m",
            &allow,
            "-m",
            "allow/write+/dev/null",
        ],
        "touch \"$1/secret/a\"; echo before $?; \
         stockade_deny write \"$1/secret/***\"; echo deny $?; \
         touch \"$1/secret/b\" 2>/dev/null; echo after $?",
    );
    assert_eq!(
        stdout(&out),
        "before 0\ndeny 0\nafter 1\n",
        "{}",
        stderr(&out)
    );
    assert!(!support::exists(&s.path("secret/b")));
    assert!(
        stderr(&out).contains(&s.path("secret/b")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn helper_allow_net_bind_allows_a_loopback_bind() {
    let s = Scratch::new("helper-bind");
    let code = "say(bind('127.0.0.1', 0))";
    let script =
        "\"$2\" -c \"$3\"; stockade_allow_net bind 'loopback!0'; echo allow $?; \"$2\" -c \"$3\"";
    let prog = py_argv(code, &[]);
    let script = format!(". \"{}\"\n{script}", helper_lib());
    let out = sandboxed(
        &["-m", "sandbox/net/bind:on"],
        &["sh", "-c", &script, "sh", &dir_of(&s), &prog[0], &prog[3]],
    );
    assert_eq!(stdout(&out), "EACCES\nallow 0\nok\n", "{}", stderr(&out));
    assert_eq!(stdout(&bare_py(code, &[])), "ok\n");
}

#[test]
fn helper_allow_net_connect_allows_a_connect() {
    // A listener inside the tree; its own bind must not allow the connect.
    let code = "\
import subprocess
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
port = srv.getsockname()[1]
say('before', connect('127.0.0.1', port))
lib = sys.argv[2]
r = subprocess.run(['sh', '-c', '. \"$0\"; stockade_allow_net connect \"$1\"', lib, '127.0.0.1!%d' % port])
say('allow', r.returncode)
say('after', connect('127.0.0.1', port))
";
    let out = sandboxed_py(
        &["--no-allow-bound", "-m", "sandbox/net/connect:on"],
        code,
        &["", helper_lib()],
    );
    assert_eq!(
        stdout(&out),
        "before ECONNREFUSED\nallow 0\nafter ok\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn helper_enable_disable_and_enabled_switch_and_query() {
    let s = Scratch::new("helper-switch");
    let out = with_helpers(
        &s,
        &WRITE_ON,
        "stockade_enabled write; echo enabled $?; \
         stockade_disable write; echo disable $?; \
         stockade_enabled write; echo enabled $?; \
         touch \"$1/a\"; echo written $?; \
         stockade_enable write; echo enable $?; \
         stockade_enabled write; echo enabled $?; \
         touch \"$1/b\" 2>/dev/null; echo written $?",
    );
    assert_eq!(
        stdout(&out),
        "enabled 0\ndisable 0\nenabled 1\nwritten 0\nenable 0\nenabled 0\nwritten 1\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn helper_enable_of_a_category_off_at_start_fails() {
    let s = Scratch::new("helper-enable-off");
    let out = with_helpers(
        &s,
        &WRITE_ON,
        "stockade_enable read; echo enable $?; stockade_enabled read; echo enabled $?",
    );
    assert_eq!(stdout(&out), "enable 1\nenabled 1\n", "{}", stderr(&out));
    assert!(refusal_reported(
        &stderr(&out),
        "sandbox/read:on",
        "cannot be switched on"
    ));
}

#[test]
fn helper_lock_on_ends_every_command() {
    let s = Scratch::new("helper-lock-on");
    let out = with_helpers(
        &s,
        &WRITE_ON,
        "stockade_lock; echo lock $?; \
         stockade_allow write \"$1/***\"; echo allow $?; \
         ( stockade_disable write; echo subshell $? ); \
         touch \"$1/a\" 2>/dev/null; echo written $?",
    );
    assert_eq!(
        stdout(&out),
        "lock 0\nallow 1\nsubshell 1\nwritten 1\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn helper_lock_exec_ends_commands_after_an_exec() {
    let s = Scratch::new("helper-lock-exec");
    let lib = helper_lib();
    let out = with_helpers(
        &s,
        &WRITE_ON,
        &format!(
            "stockade_lock exec; echo lock $?; \
             ( stockade_allow write \"$1/sub/***\"; echo subshell $? ); \
             sh -c '. \"{lib}\"; stockade_allow write \"$1/child/***\"; echo child $?' sh \"$1\"; \
             mkdir \"$1/sub\"; echo sub $?; mkdir \"$1/child\" 2>/dev/null; echo child $?"
        ),
    );
    assert_eq!(
        stdout(&out),
        "lock 0\nsubshell 0\nchild 1\nsub 0\nchild 1\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn helpers_fail_outside_the_sandbox() {
    let s = Scratch::new("helper-outside");
    let script = format!(
        ". \"{}\"\n\
         stockade_allow write \"$1/***\"; echo allow $?; \
         stockade_enabled write; echo enabled $?; \
         stockade_lock; echo lock $?",
        helper_lib()
    );
    let out = bare(&["sh", "-c", &script, "sh", &dir_of(&s)]);
    assert_eq!(stdout(&out), "allow 1\nenabled 1\nlock 1\n");
}
