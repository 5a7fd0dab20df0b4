use super::*;
use crate::policy::{Address, Outcome, Policy, parse_config};
use crate::report::Action;

const HOME: &[u8] = b"/home/u";
const CWD: &[u8] = b"/home/u/src/pkg";

fn places() -> Places {
    Places {
        cwd: CWD.to_vec(),
        home: Some((HOME.to_vec(), true)),
        tmp: Some((b"/tmp".to_vec(), true)),
    }
}

fn write(seen: &mut Seen, path: &str) {
    seen.add(Category::Write, path.as_bytes(), "openat", true, None);
}

fn learned(seen: &Seen) -> Learned {
    learn(seen, &places(), &options(false))
}

fn options(keep_dangerous: bool) -> Options {
    Options {
        keep_dangerous,
        categories: vec![
            Category::Write,
            Category::Exec,
            Category::NetBind,
            Category::NetConnect,
        ],
    }
}

fn lines(rules: &[LearnedRule]) -> Vec<String> {
    rules.iter().map(LearnedRule::line).collect()
}

/// The policy the rendered profile makes, with `${VAR}` from `places()`.
fn load(text: &str) -> Policy {
    let env = |var: &str| match var {
        "PWD" => Some(CWD.to_vec()),
        "HOME" => Some(HOME.to_vec()),
        _ => None,
    };
    let commands = parse_config("learned", text.as_bytes(), &env)
        .unwrap_or_else(|e| panic!("{}\n{text}", e[0]));
    let mut policy = Policy::new();
    for cmd in &commands {
        policy.apply(cmd).unwrap();
    }
    policy
}

fn allowed(policy: &Policy, c: Category, subject: &[u8]) -> bool {
    let verdict = match c {
        Category::NetBind | Category::NetConnect => {
            let addr = match subject.first() {
                Some(b'/') => Address::Unix(subject.to_vec()),
                Some(b'@') => Address::Abstract(subject[1..].to_vec()),
                _ => {
                    let text = String::from_utf8_lossy(subject);
                    let (ip, port) = text.rsplit_once('!').unwrap();
                    let ip: std::net::IpAddr = ip.parse().unwrap();
                    Address::Inet((ip, port.parse().unwrap()).into())
                }
            };
            policy.check_addr(c, &addr)
        }
        _ => policy.check_path(c, subject),
    };
    verdict.outcome == Outcome::Allow
}

// --- rule 1 and 2: areas ------------------------------------------------------

#[test]
fn everything_under_the_working_directory_is_one_build_area_rule() {
    let mut seen = Seen::default();
    write(&mut seen, "/home/u/src/pkg/config.log");
    write(&mut seen, "/home/u/src/pkg/src/a.o");
    write(&mut seen, "/home/u/src/pkg/src/a.o");
    let l = learned(&seen);
    assert_eq!(lines(&l.rules), ["allow/write+${PWD}/***"]);
    assert_eq!(l.rules[0].accesses, 3);
    assert_eq!(l.rules[0].subjects, 2);
    assert_eq!(l.rules[0].reason, Reason::BuildArea);
    assert_eq!(l.rules[0].example, "openat ${PWD}/config.log");
}

#[test]
fn root_and_home_are_never_a_build_area() {
    for cwd in [&b"/"[..], b"/home/u", b"/home"] {
        let places = Places {
            cwd: cwd.to_vec(),
            ..places()
        };
        assert_eq!(
            places.build_area(),
            None,
            "{}",
            String::from_utf8_lossy(cwd)
        );
    }
    let mut seen = Seen::default();
    write(&mut seen, "/home/u/notes");
    let places = Places {
        cwd: HOME.to_vec(),
        ..places()
    };
    let l = learn(&seen, &places, &options(false));
    assert_eq!(lines(&l.rules), ["allow/write+${PWD}/notes"]);
}

#[test]
fn the_temporary_directory_is_one_area_written_from_tmpdir() {
    let mut seen = Seen::default();
    write(&mut seen, "/tmp/ccA1b2.s");
    write(&mut seen, "/tmp/cc9Zx.o");
    let l = learned(&seen);
    assert_eq!(lines(&l.rules), ["allow/write+${TMPDIR:-/tmp}/***"]);
    assert_eq!(l.rules[0].reason, Reason::TmpArea);
}

#[test]
fn a_non_canonical_variable_is_not_used() {
    let mut seen = Seen::default();
    write(&mut seen, "/home/u/.cache/x");
    let places = Places {
        home: Some((HOME.to_vec(), false)),
        ..places()
    };
    let l = learn(&seen, &places, &options(false));
    assert_eq!(lines(&l.rules), ["allow/write+/home/u/.cache/x"]);
}

#[test]
fn the_most_specific_variable_names_a_path() {
    let places = places();
    assert_eq!(places.written(b"/home/u/src/pkg/a"), "${PWD}/a");
    assert_eq!(places.written(b"/home/u/src/other"), "${HOME}/src/other");
    assert_eq!(places.written(b"/home/uu"), "/home/uu");
}

// --- rule 3: busy directories -----------------------------------------------

#[test]
fn a_directory_with_enough_created_entries_becomes_a_subtree() {
    let mut seen = Seen::default();
    for i in 0..FOLD_AT {
        write(&mut seen, &format!("/var/cache/tool/{i}"));
    }
    let l = learned(&seen);
    assert_eq!(lines(&l.rules), ["allow/write+/var/cache/tool/***"]);
    assert_eq!(l.rules[0].reason, Reason::Busy(FOLD_AT));
}

#[test]
fn one_entry_fewer_stays_exact() {
    let mut seen = Seen::default();
    for i in 0..FOLD_AT - 1 {
        write(&mut seen, &format!("/var/cache/tool/{i}"));
    }
    let l = learned(&seen);
    assert_eq!(l.rules.len(), FOLD_AT - 1);
    assert!(l.rules.iter().all(|r| r.reason == Reason::Exact));
}

#[test]
fn writes_to_existing_files_do_not_make_a_directory_busy() {
    let mut seen = Seen::default();
    for i in 0..2 * FOLD_AT {
        let path = format!("/srv/data/{i}");
        seen.add(Category::Write, path.as_bytes(), "openat", false, None);
    }
    assert_eq!(learned(&seen).rules.len(), 2 * FOLD_AT);
}

#[test]
fn subdirectories_count_and_the_highest_busy_directory_wins() {
    let mut seen = Seen::default();
    for i in 0..FOLD_AT {
        for j in 0..FOLD_AT {
            write(&mut seen, &format!("/var/cache/ccache/{i}/{j}"));
        }
    }
    let l = learned(&seen);
    assert_eq!(lines(&l.rules), ["allow/write+/var/cache/ccache/***"]);
    assert_eq!(l.rules[0].accesses, (FOLD_AT * FOLD_AT) as u64);
}

#[test]
fn top_level_directories_and_home_are_never_folded() {
    let mut seen = Seen::default();
    for i in 0..FOLD_AT {
        write(&mut seen, &format!("/var/f{i}"));
        write(&mut seen, &format!("/home/u/f{i}"));
    }
    let l = learned(&seen);
    assert_eq!(l.rules.len(), 2 * FOLD_AT);
    assert!(lines(&l.rules).contains(&"allow/write+${HOME}/f0".to_owned()));
}

#[test]
fn execs_fold_by_how_many_programs_ran_from_a_directory() {
    let mut seen = Seen::default();
    for name in ["cc", "ld", "as", "sed", "grep", "cat", "rm", "mv"] {
        let path = format!("/usr/bin/{name}");
        seen.add(Category::Exec, path.as_bytes(), "execve", false, None);
    }
    seen.add(Category::Exec, b"/usr/lib/gcc/cc1", "execve", false, None);
    let l = learned(&seen);
    assert_eq!(
        lines(&l.rules),
        ["allow/exec+/usr/bin/***", "allow/exec+/usr/lib/gcc/cc1"]
    );
}

#[test]
fn terminals_become_any_terminal() {
    let mut seen = Seen::default();
    seen.add(Category::Write, b"/dev/pts/3", "openat", false, None);
    seen.add(Category::Write, b"/dev/pts/ptmx", "openat", false, None);
    let l = learned(&seen);
    assert_eq!(
        lines(&l.rules),
        ["allow/write+/dev/pts/*", "allow/write+/dev/pts/ptmx"]
    );
    assert_eq!(l.rules[0].reason, Reason::Terminal);
}

// --- rule 4 and network subjects ---------------------------------------------

#[test]
fn ports_at_one_address_become_one_list() {
    let mut seen = Seen::default();
    for sub in ["127.0.0.1!8081", "127.0.0.1!80", "::1!53"] {
        seen.add(Category::NetConnect, sub.as_bytes(), "connect", false, None);
    }
    seen.add(Category::NetBind, b"127.0.0.1!0", "bind", false, None);
    let l = learned(&seen);
    assert_eq!(
        lines(&l.rules),
        [
            "allow/net/bind+127.0.0.1!0",
            "allow/net/connect+127.0.0.1!80,8081",
            "allow/net/connect+::1!53",
        ]
    );
    assert_eq!(l.rules[1].reason, Reason::Ports);
}

#[test]
fn unix_sockets_fold_as_paths_and_abstract_names_stay_exact() {
    let mut seen = Seen::default();
    seen.add(Category::NetConnect, b"/tmp/sock-1", "connect", false, None);
    seen.add(
        Category::NetConnect,
        b"/run/nscd/socket",
        "connect",
        false,
        None,
    );
    seen.add(Category::NetConnect, b"@dbus*x", "connect", false, None);
    let l = learned(&seen);
    assert_eq!(
        lines(&l.rules),
        [
            "allow/net/connect+${TMPDIR:-/tmp}/***",
            "allow/net/connect+/run/nscd/socket",
            "allow/net/connect+@dbus\\*x",
        ]
    );
}

// --- dangerous accesses -------------------------------------------------------

#[test]
fn dangerous_accesses_are_left_out_with_their_reason() {
    let mut seen = Seen::default();
    write(&mut seen, "/etc/passwd");
    write(&mut seen, "/usr/local/bin/tool");
    write(&mut seen, "/home/u/.ssh/authorized_keys");
    write(&mut seen, "/home/u/.config/autostart/x");
    seen.add(
        Category::Read,
        b"/home/u/.ssh/id_ed25519",
        "openat",
        false,
        None,
    );
    seen.add(
        Category::NetConnect,
        b"93.184.215.14!443",
        "connect",
        false,
        None,
    );
    seen.add(Category::Exec, b"/tmp/x/bash", "execve", false, None);
    write(&mut seen, "/home/u/.cache/ok");
    let l = learned(&seen);
    assert_eq!(lines(&l.rules), ["allow/write+${HOME}/.cache/ok"]);
    let reasons: Vec<String> = l
        .left_out
        .iter()
        .map(|r| format!("{} {}", r.danger.unwrap(), r.line()))
        .collect();
    assert_eq!(
        reasons,
        [
            "a read of ${HOME}/.ssh allow/read+${HOME}/.ssh/id_ed25519",
            "a write under /etc allow/write+/etc/passwd",
            "a write under ${HOME}/.config allow/write+${HOME}/.config/autostart/x",
            "a write under ${HOME}/.ssh allow/write+${HOME}/.ssh/authorized_keys",
            "a write under /usr allow/write+/usr/local/bin/tool",
            "an exec of a shell from a temporary directory allow/exec+${TMPDIR:-/tmp}/x/bash",
            "a connection outside loopback allow/net/connect+93.184.215.14!443",
        ]
    );
}

#[test]
fn keep_dangerous_keeps_them_as_flagged_exact_rules() {
    let mut seen = Seen::default();
    for i in 0..FOLD_AT {
        write(&mut seen, &format!("/etc/app/{i}"));
    }
    let l = learn(&seen, &places(), &options(true));
    assert!(l.left_out.is_empty());
    assert_eq!(
        l.rules.len(),
        FOLD_AT,
        "never folded: {:?}",
        lines(&l.rules)
    );
    assert!(l.rules.iter().all(|r| r.danger.is_some()));
}

#[test]
fn writes_inside_the_build_area_are_not_dangerous() {
    let mut seen = Seen::default();
    write(&mut seen, "/usr/src/pkg/a.o");
    let places = Places {
        cwd: b"/usr/src/pkg".to_vec(),
        ..places()
    };
    let l = learn(&seen, &places, &options(false));
    assert_eq!(lines(&l.rules), ["allow/write+${PWD}/***"]);
    assert!(l.left_out.is_empty());
}

#[test]
fn no_fold_covers_a_dangerous_access() {
    let mut seen = Seen::default();
    seen.add(Category::Exec, b"/tmp/t/sh", "execve", false, None);
    seen.add(Category::Exec, b"/tmp/t/conftest", "execve", false, None);
    let l = learned(&seen);
    assert_eq!(lines(&l.rules), ["allow/exec+${TMPDIR:-/tmp}/t/conftest"]);
    assert_eq!(l.left_out.len(), 1);
}

#[test]
fn accesses_a_base_rule_refused_become_exact_overrides() {
    let mut seen = Seen::default();
    seen.add(
        Category::Write,
        b"/home/u/src/pkg/.git/index",
        "openat",
        true,
        Some("deny/write+/home/u/src/pkg/.git/***"),
    );
    let l = learned(&seen);
    assert!(l.rules.is_empty());
    assert_eq!(lines(&l.overrides), ["allow/write+${PWD}/.git/index"]);
    let text = render(&l, "make", &[]);
    assert!(
        text.contains("overrides the base's deny/write+/home/u/src/pkg/.git/***"),
        "{text}"
    );
}

// --- the written profile ------------------------------------------------------

#[test]
fn odd_names_are_written_to_match_only_themselves() {
    let names: [&[u8]; 5] = [
        b"/srv/a*b",
        b"/srv/${HOME}",
        b"/srv/trailing ",
        b"/srv/\xff\n",
        b"/srv/back\\slash",
    ];
    let mut seen = Seen::default();
    for name in names {
        seen.add(Category::Write, name, "openat", false, None);
    }
    let policy = load(&render(&learned(&seen), "x", &[]));
    for name in names {
        assert!(allowed(&policy, Category::Write, name), "{name:?}");
    }
    assert!(!allowed(&policy, Category::Write, b"/srv/aXb"));
    assert!(!allowed(&policy, Category::Write, b"/srv/trailing"));
    assert!(!allowed(&policy, Category::Write, b"/srv//home/u"));
}

#[test]
fn the_rendered_profile_allows_everything_seen_but_the_dangerous() {
    let mut seen = Seen::default();
    write(&mut seen, "/home/u/src/pkg/a.o");
    write(&mut seen, "/tmp/cc1.s");
    write(&mut seen, "/home/u/.cache/x");
    write(&mut seen, "/etc/hosts");
    seen.add(Category::Exec, b"/usr/bin/cc", "execve", false, None);
    seen.add(
        Category::NetConnect,
        b"127.0.0.1!8080",
        "connect",
        false,
        None,
    );
    seen.add(Category::NetConnect, b"10.0.0.1!80", "connect", false, None);
    seen.add(Category::NetBind, b"127.0.0.1!0", "bind", false, None);
    let l = learned(&seen);
    let base = [(
        "-m".to_owned(),
        "sandbox/write:on\nsandbox/exec:off\n".to_owned(),
    )];
    let text = render(&l, "sh -c 'make\ncheck'", &base);
    let policy = load(&text);
    for (c, subject) in seen.accesses.keys() {
        let dangerous = subject.starts_with(b"/etc") || subject.starts_with(b"10.");
        assert_eq!(
            allowed(&policy, *c, subject),
            !dangerous,
            "{} {}\n{text}",
            c.name(),
            String::from_utf8_lossy(subject)
        );
    }
    // The learned categories are on, after the base switched exec off.
    assert!(policy.is_on(Category::Exec));
    assert!(!allowed(&policy, Category::Exec, b"/usr/bin/curl"));
    assert!(text.contains("#   sh -c 'make\\x0acheck'\n"), "{text}");
    assert!(
        text.contains("# DANGEROUS, a write under /etc: write, 1 access"),
        "{text}"
    );
    assert!(text.contains("\n# allow/write+/etc/hosts\n"), "{text}");
}

#[test]
fn every_rule_has_a_comment_with_its_count_and_an_example() {
    let mut seen = Seen::default();
    for i in 0..3 {
        write(&mut seen, &format!("/home/u/src/pkg/{i}"));
    }
    seen.add(Category::Exec, b"/usr/bin/cc", "execve", false, None);
    let text = render(&learned(&seen), "make", &[]);
    let lines: Vec<&str> = text.lines().collect();
    let mut rules = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("allow/") {
            rules += 1;
            assert!(lines[i - 1].starts_with("# "), "{text}");
            assert!(lines[i - 1].contains(", e.g. "), "{text}");
        }
    }
    assert_eq!(rules, 2);
    assert!(
        text.contains(
            "# write, 3 accesses to 3 paths (the build area), e.g. openat ${PWD}/0\n\
             allow/write+${PWD}/***\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("# exec, 1 access, e.g. execve /usr/bin/cc\n"),
        "{text}"
    );
}

// --- recording ----------------------------------------------------------------

fn event(category: Category, syscall: &'static str, subject: &[u8], args: &str) -> Event {
    Event {
        pid: 1,
        comm: b"sh".to_vec(),
        cwd: b"/".to_vec(),
        syscall,
        args: args.to_owned(),
        category,
        subject: subject.to_vec(),
        action: Action::Warn,
        rule: None,
        errno: None,
    }
}

#[test]
fn the_recorder_counts_creations_and_decodes_socket_names() {
    let r = Recorder::new();
    r.record(&event(
        Category::Write,
        "openat",
        b"/x",
        "\"/x\", O_WRONLY|O_CREAT",
    ));
    r.record(&event(Category::Write, "openat", b"/x", "\"/x\", O_WRONLY"));
    r.record(&event(
        Category::Write,
        "openat",
        b"/y",
        "\"/O_CREAT\", O_WRONLY",
    ));
    r.record(&event(Category::Write, "mkdirat", b"/d", "\"/d\""));
    r.record(&event(
        Category::NetConnect,
        "connect",
        b"@a\\x00b\\\\",
        "3, \"@a\"",
    ));
    let seen = r.take();
    let tally = |c, s: &[u8]| seen.accesses.get(&(c, s.to_vec())).cloned().unwrap();
    assert_eq!(tally(Category::Write, b"/x").count, 2);
    assert!(tally(Category::Write, b"/x").created);
    assert!(!tally(Category::Write, b"/y").created);
    assert!(tally(Category::Write, b"/d").created);
    assert_eq!(tally(Category::NetConnect, b"@a\0b\\").count, 1);
    assert!(r.take().is_empty());
    let mut killed = event(Category::Exec, "execve", b"/bin/x", "");
    killed.action = Action::Kill;
    r.record(&killed);
    assert!(r.take().is_empty(), "a kill is not learned");
}

#[test]
fn unescape_undoes_the_report_escape() {
    for bytes in [&b"/a\\b\xff\x01c"[..], b"plain", b"\\x41"] {
        let shown = crate::report::escape(bytes);
        assert_eq!(unescape(shown.as_bytes()), bytes);
    }
}
