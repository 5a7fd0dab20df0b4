//! End-to-end checks of the net categories (issue 3): bind, connect, and
//! sends that name a destination.
//!
//! Listeners run in the test process, outside the sandbox, and count what
//! reaches them; a Python client inside makes one call and prints `ok` or the
//! errno it got. A denied call must fail the way the caller sees it, be
//! reported in rule form, and never arrive; the same call without stockade
//! must arrive, so the denial is stockade's doing. Only loopback and unix
//! sockets are ever used.

mod common;
#[path = "common/net.rs"]
mod netfix;

use common::*;
use netfix::*;
use std::os::unix::process::ExitStatusExt;
use std::process::Output;

/// `-m sandbox/net:on`, then `-m RULE` for each rule, in order.
fn net_on(rules: &[String]) -> Vec<String> {
    let mut args = vec!["-m".to_string(), "sandbox/net:on".to_string()];
    for rule in rules {
        args.push("-m".to_string());
        args.push(rule.clone());
    }
    args
}

/// Runs the Python `code` under stockade with `args`.
fn inside(args: &[String], code: &str) -> Output {
    run(&argv(args), &argv(&py(code)))
}

/// Runs the Python `code` without stockade.
fn outside(code: &str) -> Output {
    run_bare(&argv(&py(code)))
}

/// Asserts the client printed `outcome` (`ok` or an errno name).
fn assert_outcome(out: &Output, outcome: &str) {
    assert_eq!(
        stdout(out).trim_end(),
        outcome,
        "status {:?}, stderr:\n{}",
        out.status,
        stderr(out)
    );
}

/// Asserts stockade's report offers `rule`, the denied address in rule form.
fn assert_reported(out: &Output, rule: &str) {
    let err = stderr(out);
    assert!(err.contains(rule), "report should name {rule}:\n{err}");
}

/// The control half of a denial test: the same client without stockade
/// succeeds, and its call reaches `listener`.
fn assert_arrives_without_stockade(listener: &Listener, code: &str) {
    assert_outcome(&outside(code), "ok");
    assert_eq!(listener.arrivals(), 1, "without stockade the call arrives");
}

fn tcp_connect(addr: std::net::SocketAddr) -> String {
    let family = if addr.is_ipv4() {
        "AF_INET"
    } else {
        "AF_INET6"
    };
    attempt(
        &format!("s = socket.socket(socket.{family}, socket.SOCK_STREAM)"),
        &format!("s.connect({})", py_addr(addr)),
    )
}

// TCP over IPv4 and IPv6.

#[test]
fn tcp4_connect_allowed_by_port_rule_arrives() {
    let listener = Listener::tcp4();
    let port = listener.port();
    let rules = [format!("allow/net/connect+127.0.0.1!{port}")];
    let out = inside(&net_on(&rules), &tcp_connect(listener.addr()));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));
}

#[test]
fn tcp4_connect_to_port_outside_rule_is_refused_and_reported() {
    let listener = Listener::tcp4();
    let port = listener.port();
    let code = tcp_connect(listener.addr());
    let rules = [format!("allow/net/connect+127.0.0.1!1-{}", port - 1)];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0, "a denied connect never arrives");
    assert_reported(&out, &format!("allow/net/connect+127.0.0.1!{port}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn tcp4_connect_denied_by_later_deny_rule_is_refused() {
    let listener = Listener::tcp4();
    let port = listener.port();
    let code = tcp_connect(listener.addr());
    let rules = [
        "allow/net/connect+any".to_string(),
        format!("deny/net/connect+loopback4!{port}"),
    ];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+127.0.0.1!{port}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn tcp4_connect_allowed_by_port_list_entry_arrives() {
    let listener = Listener::tcp4();
    let port = listener.port();
    let rules = [format!(
        "allow/net/connect+127.0.0.1!7,{},{}-{}",
        port - 1,
        port,
        port.saturating_add(3)
    )];
    let out = inside(&net_on(&rules), &tcp_connect(listener.addr()));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn tcp4_connect_outside_cidr_rule_is_refused() {
    // 127.0.0.5 is outside 127.0.0.0/30 (127.0.0.0-3); Linux answers the
    // whole of 127.0.0.0/8 on lo, so this is still loopback.
    let listener = Listener::tcp_on("127.0.0.5:0");
    let port = listener.port();
    let code = tcp_connect(listener.addr());
    let rules = ["allow/net/connect+127.0.0.0/30".to_string()];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+127.0.0.5!{port}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn tcp4_connect_inside_cidr_rule_arrives() {
    let listener = Listener::tcp_on("127.0.0.2:0");
    let rules = ["allow/net/connect+127.0.0.0/30".to_string()];
    let out = inside(&net_on(&rules), &tcp_connect(listener.addr()));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn tcp6_connect_allowed_by_port_rule_arrives() {
    let Some(listener) = Listener::tcp6() else {
        skip_unless(false, "this host has no IPv6 loopback (::1)");
        return;
    };
    let port = listener.port();
    let rules = [format!("allow/net/connect+::1!{port}")];
    let out = inside(&net_on(&rules), &tcp_connect(listener.addr()));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn tcp6_connect_to_port_outside_rule_is_refused_and_reported() {
    let Some(listener) = Listener::tcp6() else {
        skip_unless(false, "this host has no IPv6 loopback (::1)");
        return;
    };
    let port = listener.port();
    let code = tcp_connect(listener.addr());
    let rules = [format!("allow/net/connect+loopback6!1-{}", port - 1)];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+::1!{port}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn tcp6_connect_is_not_allowed_by_an_ipv4_alias() {
    let Some(listener) = Listener::tcp6() else {
        skip_unless(false, "this host has no IPv6 loopback (::1)");
        return;
    };
    let code = tcp_connect(listener.addr());
    let out = inside(&net_on(&["allow/net/connect+any4".to_string()]), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn loopback_alias_allows_both_families() {
    let Some(listener6) = Listener::tcp6() else {
        skip_unless(false, "this host has no IPv6 loopback (::1)");
        return;
    };
    let listener4 = Listener::tcp4();
    let code = attempt(
        "s4 = socket.socket(socket.AF_INET)\ns6 = socket.socket(socket.AF_INET6)",
        &format!(
            "s4.connect({})\ns6.connect({})",
            py_addr(listener4.addr()),
            py_addr(listener6.addr())
        ),
    );
    let out = inside(&net_on(&["allow/net/connect+loopback".to_string()]), &code);
    assert_outcome(&out, "ok");
    assert_eq!(listener4.arrivals(), 1);
    assert_eq!(listener6.arrivals(), 1);
}

// IPv4-mapped IPv6 addresses are judged as IPv4.

fn mapped_connect(port: u16) -> String {
    attempt(
        "s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)",
        &format!("s.connect(('::ffff:127.0.0.1', {port}))"),
    )
}

#[test]
fn ipv4_mapped_connect_is_denied_by_ipv4_rule() {
    let listener = Listener::tcp4();
    let port = listener.port();
    let code = mapped_connect(port);
    let rules = [
        "allow/net/connect+any".to_string(),
        "deny/net/connect+127.0.0.1".to_string(),
    ];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+127.0.0.1!{port}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn ipv4_mapped_connect_is_allowed_by_ipv4_rule() {
    let listener = Listener::tcp4();
    let port = listener.port();
    let rules = [format!("allow/net/connect+127.0.0.1!{port}")];
    let out = inside(&net_on(&rules), &mapped_connect(port));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

// Non-blocking connects.

/// Prints the immediate result of a non-blocking connect, then (after
/// waiting for EINPROGRESS to resolve) the final one.
fn nonblocking_connect(addr: std::net::SocketAddr) -> String {
    format!(
        "import socket, errno, select
s = socket.socket()
s.setblocking(False)
first = s.connect_ex({addr})
final = first
if first == errno.EINPROGRESS:
    select.select([], [s], [], 5)
    final = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
name = lambda n: errno.errorcode.get(n, n) if n else 'ok'
print(name(first), name(final))
",
        addr = py_addr(addr)
    )
}

fn assert_nonblocking_connect_completed(out: &Output) {
    let printed = stdout(out);
    assert!(
        printed == "EINPROGRESS ok\n" || printed == "ok ok\n",
        "{printed:?}, stderr:\n{}",
        stderr(out)
    );
}

#[test]
fn nonblocking_connect_allowed_completes_and_arrives() {
    let listener = Listener::tcp4();
    let rules = [format!("allow/net/connect+127.0.0.1!{}", listener.port())];
    let out = inside(&net_on(&rules), &nonblocking_connect(listener.addr()));
    assert_nonblocking_connect_completed(&out);
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn nonblocking_connect_denied_is_refused_at_once() {
    let listener = Listener::tcp4();
    let code = nonblocking_connect(listener.addr());
    let out = inside(&net_on(&[]), &code);
    assert_outcome(&out, "ECONNREFUSED ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(
        &out,
        &format!("allow/net/connect+127.0.0.1!{}", listener.port()),
    );

    assert_nonblocking_connect_completed(&outside(&code));
    assert_eq!(listener.arrivals(), 1, "without stockade the call arrives");
}

// UDP sends that name a destination.

fn udp_sendto(addr: std::net::SocketAddr) -> String {
    attempt(
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        &format!("s.sendto(b'x', {})", py_addr(addr)),
    )
}

fn udp_sendmsg(addr: std::net::SocketAddr) -> String {
    attempt(
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        &format!("s.sendmsg([b'x'], [], 0, {})", py_addr(addr)),
    )
}

#[test]
fn udp_sendto_allowed_arrives() {
    let listener = Listener::udp4();
    let rules = [format!("allow/net/connect+127.0.0.1!{}", listener.port())];
    let out = inside(&net_on(&rules), &udp_sendto(listener.addr()));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn udp_sendto_denied_is_refused_and_never_arrives() {
    let listener = Listener::udp4();
    let port = listener.port();
    let code = udp_sendto(listener.addr());
    let rules = [format!("deny/net/connect+127.0.0.1!{port}")];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+127.0.0.1!{port}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn udp_sendmsg_with_destination_allowed_arrives() {
    let listener = Listener::udp4();
    let rules = [format!("allow/net/connect+127.0.0.1!{}", listener.port())];
    let out = inside(&net_on(&rules), &udp_sendmsg(listener.addr()));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn udp_sendmsg_with_destination_denied_is_refused_and_never_arrives() {
    let listener = Listener::udp4();
    let port = listener.port();
    let code = udp_sendmsg(listener.addr());
    let out = inside(&net_on(&[]), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+127.0.0.1!{port}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn connected_udp_send_without_address_is_never_notified() {
    let listener = Listener::udp4();
    let code = attempt(
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        &format!(
            "s.connect({})\ns.send(b'x')\ns.send(b'y')",
            py_addr(listener.addr())
        ),
    );
    let mut args = net_on(&[format!("allow/net/connect+127.0.0.1!{}", listener.port())]);
    args.push("--stats".to_string());
    let out = inside(&args, &code);
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 2);
    let err = stderr(&out);
    assert!(
        err.lines().any(|l| l.trim_start().starts_with("connect ")),
        "the connect itself is checked:\n{err}"
    );
    assert!(
        !err.lines().any(|l| l.trim_start().starts_with("sendto ")),
        "send() without an address must not stop in the supervisor:\n{err}"
    );
}

#[test]
fn af_unspec_connect_is_always_allowed() {
    // Connecting a UDP socket to AF_UNSPEC dissolves its association; that
    // names no peer, so even a policy that denies every connect lets it by.
    let code = attempt(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nunspec = (ctypes.c_ubyte * 16)()",
        "if libc.connect(s.fileno(), unspec, 16) != 0:\n    raise OSError(ctypes.get_errno(), 'connect')",
    );
    let out = inside(&net_on(&["deny/net/connect+any".to_string()]), &code);
    assert_outcome(&out, "ok");
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));
}

// Unix sockets: paths and abstract names.

fn unix_connect(address: &str) -> String {
    attempt(
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
        &format!("s.connect({address})"),
    )
}

#[test]
fn unix_path_connect_allowed_by_glob_arrives() {
    let s = Scratch::new("net-unix-allow");
    let path = s.path("sock");
    let listener = Listener::unix_path(&path);
    let rules = [format!("allow/net/connect+{}/***", s.dir.display())];
    let out = inside(&net_on(&rules), &unix_connect(&format!("'{path}'")));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn unix_path_connect_denied_is_refused_and_reported() {
    let s = Scratch::new("net-unix-deny");
    let path = s.path("sock");
    let listener = Listener::unix_path(&path);
    let code = unix_connect(&format!("'{path}'"));
    let rules = [format!("allow/net/connect+{}/other/***", s.dir.display())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+{path}"));
    assert_arrives_without_stockade(&listener, &code);
}

/// Connects to `sock` relative to the socket's directory.
fn relative_unix_connect(dir: &str) -> String {
    attempt(
        &format!("os.chdir('{dir}')\ns = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)"),
        "s.connect('sock')",
    )
}

#[test]
fn relative_unix_path_is_allowed_by_rule_on_its_absolute_dir() {
    let s = Scratch::new("net-unix-rel-allow");
    std::fs::create_dir(s.path("d")).unwrap();
    let listener = Listener::unix_path(&s.path("d/sock"));
    let rules = [format!("allow/net/connect+{}/***", s.path("d"))];
    let out = inside(&net_on(&rules), &relative_unix_connect(&s.path("d")));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn relative_unix_path_is_denied_by_rule_on_its_absolute_dir() {
    let s = Scratch::new("net-unix-rel-deny");
    std::fs::create_dir(s.path("d")).unwrap();
    let listener = Listener::unix_path(&s.path("d/sock"));
    let code = relative_unix_connect(&s.path("d"));
    let rules = [
        "allow/net/connect+/***".to_string(),
        format!("deny/net/connect+{}/***", s.path("d")),
    ];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+{}", s.path("d/sock")));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn abstract_connect_allowed_by_at_rule_arrives() {
    let name = abstract_name("allow");
    let listener = Listener::unix_abstract(&name);
    let rules = ["allow/net/connect+@stockade-test-allow-*".to_string()];
    let out = inside(&net_on(&rules), &unix_connect(&py_abstract(&name)));
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn abstract_connect_denied_by_at_rule_is_refused_and_reported() {
    let name = abstract_name("deny");
    let listener = Listener::unix_abstract(&name);
    let code = unix_connect(&py_abstract(&name));
    let rules = [
        "allow/net/connect+@***".to_string(),
        format!("deny/net/connect+@{name}"),
    ];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+@{name}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn unnamed_unix_socket_autobind_is_always_allowed() {
    // bind with only the family asks the kernel for an autobind name; the
    // call names nothing, so a policy denying every bind lets it by.
    let code = attempt(
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
        "s.bind('')",
    );
    let out = inside(&net_on(&["deny/net/bind+/***".to_string()]), &code);
    assert_outcome(&out, "ok");
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));
}

// Binds.

fn tcp4_bind(port: u16) -> String {
    attempt(
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        &format!("s.bind(('127.0.0.1', {port}))"),
    )
}

/// Two loopback ports free a moment ago, at least 100 apart.
fn two_free_ports() -> (u16, u16) {
    let first = free_port();
    loop {
        let second = free_port();
        if second.abs_diff(first) > 100 {
            return (first, second);
        }
    }
}

#[test]
fn bind_inside_allowed_port_range_succeeds() {
    let (port, _) = two_free_ports();
    let rules = [format!(
        "allow/net/bind+loopback4!{}-{}",
        port - 50,
        port.saturating_add(50)
    )];
    let out = inside(&net_on(&rules), &tcp4_bind(port));
    assert_outcome(&out, "ok");
}

#[test]
fn bind_outside_allowed_port_range_is_eacces_and_reported() {
    let (allowed, denied) = two_free_ports();
    let code = tcp4_bind(denied);
    let rules = [format!(
        "allow/net/bind+loopback4!{}-{}",
        allowed - 50,
        allowed.saturating_add(50)
    )];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "EACCES");
    assert_reported(&out, &format!("allow/net/bind+127.0.0.1!{denied}"));
    assert_outcome(&outside(&code), "ok");
}

#[test]
fn bind_denied_by_rule_leaves_the_port_free() {
    // The denied bind must not have happened on the kernel side: a second
    // socket in the test process can still take the port.
    let (port, _) = two_free_ports();
    let rules = [format!("deny/net/bind+127.0.0.1!{port}")];
    let out = inside(&net_on(&rules), &tcp4_bind(port));
    assert_outcome(&out, "EACCES");
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is still free");
}

#[test]
fn port_zero_bind_on_ipv4_loopback_is_allowed_under_paludis() {
    let out = inside(&["-p".to_string(), "paludis".to_string()], &tcp4_bind(0));
    assert_outcome(&out, "ok");
}

#[test]
fn port_zero_bind_on_ipv6_loopback_is_allowed_under_paludis() {
    if skip_unless(Listener::tcp6().is_some(), "no IPv6 loopback (::1)") {
        return;
    }
    let code = attempt(
        "s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)",
        "s.bind(('::1', 0))",
    );
    let out = inside(&["-p".to_string(), "paludis".to_string()], &code);
    assert_outcome(&out, "ok");
}

#[test]
fn wildcard_bind_is_eacces_under_paludis() {
    let code = attempt(
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        "s.bind(('0.0.0.0', 0))",
    );
    let out = inside(&["-p".to_string(), "paludis".to_string()], &code);
    assert_outcome(&out, "EACCES");
    assert_reported(&out, "allow/net/bind+0.0.0.0!0");
    assert_outcome(&outside(&code), "ok");
}

// Connects to addresses the sandboxed tree bound itself.

const TCP_SELF_TALK: &str = "srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen()
srv.settimeout(5)
c = socket.socket()";

const TCP_SELF_TALK_CALL: &str = "c.connect(srv.getsockname())
a, _ = srv.accept()
c.sendall(b'hi')
assert a.recv(2) == b'hi'";

#[test]
fn tcp_server_and_client_inside_talk_under_paludis() {
    let code = attempt(TCP_SELF_TALK, TCP_SELF_TALK_CALL);
    let out = inside(&["-p".to_string(), "paludis".to_string()], &code);
    assert_outcome(&out, "ok");
}

#[test]
fn udp_server_and_client_inside_talk_under_paludis() {
    let code = attempt(
        "srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(('127.0.0.1', 0))
srv.settimeout(5)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        "c.sendto(b'hi', srv.getsockname())
assert srv.recv(2) == b'hi'",
    );
    let out = inside(&["-p".to_string(), "paludis".to_string()], &code);
    assert_outcome(&out, "ok");
}

#[test]
fn no_allow_bound_denies_connect_to_own_listener() {
    let code = attempt(TCP_SELF_TALK, TCP_SELF_TALK_CALL);
    let args = ["-p", "paludis", "--no-allow-bound"].map(String::from);
    let out = inside(&args, &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_reported(&out, "allow/net/connect+127.0.0.1!");
    assert_outcome(&outside(&code), "ok");
}

// Bad address syntax.

/// Asserts `rule` is refused with exit 65 before the command starts, and
/// that the report shows the rule with a caret under `at`.
fn assert_rule_rejected_at(rule: &str, at: &str) {
    let s = Scratch::new("net-bad-rule");
    let marker = s.path("started");
    let out = run(&["-m", rule], &["touch", &marker]);
    assert_eq!(out.status.code(), Some(65), "stderr:\n{}", stderr(&out));
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the command must never start"
    );
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let shown = lines
        .iter()
        .position(|l| l.trim() == rule)
        .unwrap_or_else(|| panic!("the rule is shown on a line of its own:\n{err}"));
    let caret = lines
        .get(shown + 1)
        .and_then(|l| l.find('^'))
        .unwrap_or_else(|| panic!("a caret line follows the rule:\n{err}"));
    let offset = rule.find(at).expect("`at` is part of the rule");
    assert_eq!(
        caret,
        lines[shown].find(rule).unwrap() + offset,
        "the caret points at {at:?}:\n{err}"
    );
}

#[test]
fn ipv4_prefix_longer_than_32_is_rejected_with_its_position() {
    assert_rule_rejected_at("allow/net/connect+127.0.0.1/33", "33");
}

#[test]
fn ipv6_prefix_longer_than_128_is_rejected_with_its_position() {
    assert_rule_rejected_at("allow/net/connect+::1/129", "129");
}

#[test]
fn port_above_65535_is_rejected_with_its_position() {
    assert_rule_rejected_at("allow/net/bind+127.0.0.1!70000", "70000");
}

#[test]
fn backwards_port_range_is_rejected_with_its_position() {
    assert_rule_rejected_at("allow/net/connect+loopback4!2000-1000", "2000-1000");
}

#[test]
fn host_name_instead_of_address_is_rejected_with_its_position() {
    assert_rule_rejected_at("allow/net/connect+localhost", "localhost");
}

// More sends: sendmmsg, sendmsg without a destination, descriptors, SIGPIPE.

#[test]
fn sendmmsg_stops_at_the_first_denied_destination() {
    let allowed = Listener::udp4();
    let denied = Listener::udp4();
    let code = udp_sendmmsg(&[allowed.port(), denied.port(), allowed.port()]);
    let rules = [format!("allow/net/connect+127.0.0.1!{}", allowed.port())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "1 [1, 0, 0]");
    assert_eq!(allowed.arrivals(), 1, "only the first message is sent");
    assert_eq!(denied.arrivals(), 0);
    assert_reported(
        &out,
        &format!("allow/net/connect+127.0.0.1!{}", denied.port()),
    );

    assert_outcome(&outside(&code), "3 [1, 1, 1]");
    assert_eq!(allowed.arrivals(), 2);
    assert_eq!(denied.arrivals(), 1, "without stockade the call arrives");
}

#[test]
fn sendmmsg_with_only_denied_destinations_is_refused() {
    let denied = Listener::udp4();
    let code = udp_sendmmsg(&[denied.port()]);
    let out = inside(&net_on(&[]), &code);
    assert_outcome(&out, "ECONNREFUSED [0]");
    assert_eq!(denied.arrivals(), 0);
    assert_outcome(&outside(&code), "1 [1]");
    assert_eq!(denied.arrivals(), 1, "without stockade the call arrives");
}

#[test]
fn connected_udp_sendmsg_without_address_arrives() {
    let listener = Listener::udp4();
    let code = attempt(
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        &format!(
            "s.connect({})\nassert s.sendmsg([b'x']) == 1",
            py_addr(listener.addr())
        ),
    );
    let rules = [format!("allow/net/connect+127.0.0.1!{}", listener.port())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn sendmsg_passes_descriptors_intact() {
    // sendmsg is emulated by the supervisor, so SCM_RIGHTS descriptors must
    // be translated; the receiver must get a working copy of the sender's.
    let s = Scratch::new("net-scm-rights");
    let file = s.path("f");
    std::fs::write(&file, "through the socket").unwrap();
    let code = attempt(
        &format!(
            "a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\nfd = os.open('{file}', os.O_RDONLY)"
        ),
        "socket.send_fds(a, [b'm'], [fd])\nmsg, fds, _, _ = socket.recv_fds(b, 1, 1)\nassert os.read(fds[0], 100) == b'through the socket'",
    );
    let out = inside(&net_on(&[]), &code);
    assert_outcome(&out, "ok");
}

/// SIGPIPE's number (13 on every Linux architecture).
const SIGPIPE: i32 = 13;

/// A stream socketpair whose peer is closed, then a sendmsg with `flags`;
/// Python ignores SIGPIPE, so the default action is restored first.
fn sendmsg_to_closed_peer(flags: &str) -> String {
    attempt(
        "import signal\nsignal.signal(signal.SIGPIPE, signal.SIG_DFL)\na, b = socket.socketpair()\nb.close()",
        &format!("a.sendmsg([b'x'], [], {flags})"),
    )
}

#[test]
fn sendmsg_to_closed_peer_raises_sigpipe_as_without_stockade() {
    let code = sendmsg_to_closed_peer("0");
    let out = inside(&net_on(&[]), &code);
    assert_eq!(
        out.status.code(),
        Some(128 + SIGPIPE),
        "stderr:\n{}",
        stderr(&out)
    );
    assert_eq!(outside(&code).status.signal(), Some(SIGPIPE));
}

#[test]
fn sendmsg_with_nosignal_to_closed_peer_gives_epipe() {
    let out = inside(&net_on(&[]), &sendmsg_to_closed_peer("socket.MSG_NOSIGNAL"));
    assert_outcome(&out, "EPIPE");
}

// What a successful bind allows, and what it does not.

#[test]
fn bound_port_covers_no_other_port() {
    let listener = Listener::tcp4();
    let port = listener.port();
    let code = attempt(
        "own = socket.socket()\nown.bind(('127.0.0.1', 0))\nown.listen()\nc = socket.socket()",
        &format!("c.connect({})", py_addr(listener.addr())),
    );
    let out = inside(&["-p".to_string(), "paludis".to_string()], &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+127.0.0.1!{port}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn port_bound_in_a_child_process_is_connectable_from_its_parent() {
    // The bound address is remembered for the whole tree, not one process.
    let code = attempt(
        "r, w = os.pipe()
pid = os.fork()
if pid == 0:
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen()
    os.write(w, str(srv.getsockname()[1]).encode())
    srv.settimeout(5)
    srv.accept()
    os._exit(0)
port = int(os.read(r, 16))
c = socket.socket()",
        "c.connect(('127.0.0.1', port))\nassert os.waitpid(pid, 0)[1] == 0",
    );
    let out = inside(&["-p".to_string(), "paludis".to_string()], &code);
    assert_outcome(&out, "ok");
}

#[test]
fn wildcard_bind_allows_connect_over_loopback() {
    let code = attempt(
        "srv = socket.socket()\nsrv.bind(('0.0.0.0', 0))\nsrv.listen()\nc = socket.socket()",
        "c.connect(('127.0.0.1', srv.getsockname()[1]))",
    );
    let out = inside(&net_on(&["allow/net/bind+any4!0".to_string()]), &code);
    assert_outcome(&out, "ok");
}

#[test]
fn ipv4_mapped_bind_is_judged_as_ipv4_and_remembered() {
    if skip_unless(Listener::tcp6().is_some(), "no IPv6 loopback (::1)") {
        return;
    }
    let code = attempt(
        "srv = socket.socket(socket.AF_INET6)\nsrv.bind(('::ffff:127.0.0.1', 0))\nsrv.listen()\nc = socket.socket(socket.AF_INET)",
        "c.connect(('127.0.0.1', srv.getsockname()[1]))",
    );
    let out = inside(&net_on(&["allow/net/bind+127.0.0.1!0".to_string()]), &code);
    assert_outcome(&out, "ok");
}

#[test]
fn bound_unix_path_is_connectable_without_a_connect_rule() {
    let s = Scratch::new("net-unix-bound");
    let code = attempt(
        &format!(
            "srv = socket.socket(socket.AF_UNIX)\nsrv.bind('{}')\nsrv.listen()\nc = socket.socket(socket.AF_UNIX)",
            s.path("sock")
        ),
        &format!("c.connect('{}')", s.path("sock")),
    );
    let rules = [format!("allow/net/bind+{}/***", s.dir.display())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ok");
}

#[test]
fn bound_abstract_name_is_connectable_without_a_connect_rule() {
    let name = py_abstract(&abstract_name("bound"));
    let code = attempt(
        &format!(
            "srv = socket.socket(socket.AF_UNIX)\nsrv.bind({name})\nsrv.listen()\nc = socket.socket(socket.AF_UNIX)"
        ),
        &format!("c.connect({name})"),
    );
    let rules = ["allow/net/bind+@stockade-test-bound-*".to_string()];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ok");
}

// Rule actions and categories.

#[test]
fn filter_rule_refuses_connect_without_a_report() {
    let listener = Listener::tcp4();
    let code = tcp_connect(listener.addr());
    let rules = [format!("filter/net/connect+127.0.0.1!{}", listener.port())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert!(
        !stderr(&out).contains("net/connect"),
        "a filtered call is not reported:\n{}",
        stderr(&out)
    );
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn connect_rule_does_not_allow_bind() {
    let code = tcp4_bind(0);
    let out = inside(&net_on(&["allow/net/connect+any".to_string()]), &code);
    assert_outcome(&out, "EACCES");
    assert_reported(&out, "allow/net/bind+127.0.0.1!0");
    assert_outcome(&outside(&code), "ok");
}

#[test]
fn bind_rule_does_not_allow_connect() {
    let listener = Listener::tcp4();
    let code = tcp_connect(listener.addr());
    let out = inside(&net_on(&["allow/net/bind+any".to_string()]), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_arrives_without_stockade(&listener, &code);
}

// Unix paths: binds, symlinks and lengths.

#[test]
fn unix_bind_denied_is_eacces_and_creates_no_socket_file() {
    let s = Scratch::new("net-unix-bind-deny");
    let path = s.path("sock");
    let code = attempt(
        "s = socket.socket(socket.AF_UNIX)",
        &format!("s.bind('{path}')"),
    );
    let out = inside(&net_on(&[]), &code);
    assert_outcome(&out, "EACCES");
    assert!(!std::path::Path::new(&path).exists());
    assert_reported(&out, &format!("allow/net/bind+{path}"));
    assert_outcome(&outside(&code), "ok");
    assert!(std::path::Path::new(&path).exists());
}

#[test]
fn unix_bind_allowed_creates_the_socket_at_the_named_path() {
    use std::os::unix::fs::FileTypeExt;
    let s = Scratch::new("net-unix-bind-allow");
    let path = s.path("sock");
    let code = attempt(
        "s = socket.socket(socket.AF_UNIX)",
        &format!("s.bind('{path}')"),
    );
    let rules = [format!("allow/net/bind+{}/***", s.dir.display())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ok");
    let meta = std::fs::symlink_metadata(&path).expect("the socket file exists");
    assert!(meta.file_type().is_socket());
}

#[test]
fn unix_symlink_into_denied_dir_is_judged_by_its_target() {
    let s = Scratch::new("net-unix-symlink");
    std::fs::create_dir(s.path("allowed")).unwrap();
    std::fs::create_dir(s.path("denied")).unwrap();
    let listener = Listener::unix_path(&s.path("denied/sock"));
    std::os::unix::fs::symlink(s.path("denied/sock"), s.path("allowed/link")).unwrap();
    let code = unix_connect(&format!("'{}'", s.path("allowed/link")));
    let rules = [format!("allow/net/connect+{}/***", s.path("allowed"))];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(
        &out,
        &format!("allow/net/connect+{}", s.path("denied/sock")),
    );
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn unix_connect_to_missing_path_gives_enoent_as_without_stockade() {
    let s = Scratch::new("net-unix-missing");
    let code = unix_connect(&format!("'{}'", s.path("nothing")));
    let rules = [format!("allow/net/connect+{}/***", s.dir.display())];
    assert_outcome(&inside(&net_on(&rules), &code), "ENOENT");
    assert_outcome(&outside(&code), "ENOENT");
}

#[test]
fn long_relative_unix_name_binds_as_without_stockade() {
    // sun_path holds 107 bytes; a 95-byte name relative to the cwd fits,
    // though the absolute path does not. The kernel accepts it.
    let s = Scratch::new("net-unix-long");
    let name = "s".repeat(95);
    let code = attempt(
        &format!(
            "os.chdir('{}')\ns = socket.socket(socket.AF_UNIX)",
            s.dir.display()
        ),
        &format!("s.bind('{name}')"),
    );
    let rules = [format!("allow/net/bind+{}/***", s.dir.display())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ok");
    std::fs::remove_file(s.dir.join(&name)).unwrap();
    assert_outcome(&outside(&code), "ok");
}

/// A root supervisor binds with the caller's own path string in a private
/// mount namespace (issue 9); an unprivileged one cannot make one, and
/// binds by the last component (docs/security.md).
#[test]
fn bound_unix_socket_reports_the_path_it_was_bound_to() {
    if skip_unless(
        is_root(),
        "needs a root supervisor to bind by the caller's path",
    ) {
        return;
    }
    let s = Scratch::new("net-unix-sockname");
    let path = s.path("sock");
    let code = format!(
        "import socket
s = socket.socket(socket.AF_UNIX)
s.bind('{path}')
s.listen()
c = socket.socket(socket.AF_UNIX)
c.connect('{path}')
print(s.getsockname())
print(c.getpeername())
"
    );
    let rules = [format!("allow/net/bind+{}/***", s.dir.display())];
    let out = inside(&net_on(&rules), &code);
    assert_eq!(
        stdout(&out),
        format!("{path}\n{path}\n"),
        "stderr:\n{}",
        stderr(&out)
    );
}

#[test]
fn unix_datagram_sendto_allowed_arrives() {
    let s = Scratch::new("net-unix-dgram-allow");
    let path = s.path("sock");
    let listener = Listener::unix_datagram(&path);
    let code = attempt(
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
        &format!("s.sendto(b'x', '{path}')"),
    );
    let rules = [format!("allow/net/connect+{}/***", s.dir.display())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn unix_datagram_sendto_denied_is_refused_and_never_arrives() {
    let s = Scratch::new("net-unix-dgram-deny");
    let path = s.path("sock");
    let listener = Listener::unix_datagram(&path);
    let code = attempt(
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
        &format!("s.sendto(b'x', '{path}')"),
    );
    let out = inside(&net_on(&[]), &code);
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_reported(&out, &format!("allow/net/connect+{path}"));
    assert_arrives_without_stockade(&listener, &code);
}

#[test]
fn tcp6_server_and_client_inside_talk_under_paludis() {
    if skip_unless(Listener::tcp6().is_some(), "no IPv6 loopback (::1)") {
        return;
    }
    let code = attempt(
        "srv = socket.socket(socket.AF_INET6)
srv.bind(('::1', 0))
srv.listen()
srv.settimeout(5)
c = socket.socket(socket.AF_INET6)",
        "c.connect(srv.getsockname()[:2])\nsrv.accept()",
    );
    let out = inside(&["-p".to_string(), "paludis".to_string()], &code);
    assert_outcome(&out, "ok");
}

#[test]
fn concurrent_connects_from_many_threads_all_arrive() {
    // Each thread's connect is a separate notification; none may be lost or
    // answered for another.
    let listener = Listener::tcp4();
    let code = format!(
        "import socket, threading
def connect():
    s = socket.socket()
    s.connect({addr})
    s.close()
threads = [threading.Thread(target=connect) for _ in range(48)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print('done')
",
        addr = py_addr(listener.addr())
    );
    let rules = [format!("allow/net/connect+127.0.0.1!{}", listener.port())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "done");
    assert_eq!(listener.arrivals(), 48);
}

/// A blocking unix connect that waits on a full backlog, with a SIGALRM
/// handler set to fire after one second; a forked child drains the backlog
/// after three, so the connect ends either way. Prints how it ended.
fn connect_interrupted_by_alarm(path: &str) -> String {
    format!(
        "import os, signal, socket, time
class Alarm(Exception):
    pass
def on_alarm(*_):
    raise Alarm()
signal.signal(signal.SIGALRM, on_alarm)
srv = socket.socket(socket.AF_UNIX)
srv.bind('{path}')
srv.listen(0)
first = socket.socket(socket.AF_UNIX)
first.connect('{path}')
if os.fork() == 0:
    time.sleep(3)
    srv.settimeout(1)
    try:
        while True:
            srv.accept()
    except OSError:
        pass
    os._exit(0)
signal.alarm(1)
c = socket.socket(socket.AF_UNIX)
start = time.monotonic()
try:
    c.connect('{path}')
    print('connected')
except Alarm:
    print('interrupted after %d s' % round(time.monotonic() - start))
os.wait()
"
    )
}

#[test]
fn blocking_connect_is_interrupted_by_a_handled_signal() {
    // The kernel wakes a connect waiting on a full backlog with EINTR when a
    // handled signal arrives. stockade makes the connect in its own thread,
    // and WAIT_KILLABLE_RECV keeps the caller from waking before it answers:
    // the supervisor's watchdog sees the signal pending and interrupts the
    // connect (issue 11).
    let s = Scratch::new("net-connect-eintr");
    let rules = [format!("allow/net/bind+{}/***", s.dir.display())];
    let out = inside(
        &net_on(&rules),
        &connect_interrupted_by_alarm(&s.path("inside")),
    );
    assert_outcome(&out, "interrupted after 1 s");
    assert_outcome(
        &outside(&connect_interrupted_by_alarm(&s.path("outside"))),
        "interrupted after 1 s",
    );
}

// The report's suggestion must be a rule that, added, allows the call.

/// The rule after "to allow, add: " in stockade's report.
fn suggested_rule(out: &Output) -> String {
    let err = stderr(out);
    err.lines()
        .find_map(|l| l.split_once("to allow, add: ").map(|(_, r)| r.to_string()))
        .unwrap_or_else(|| panic!("the report suggests a rule:\n{err}"))
}

#[test]
fn suggested_rule_allows_the_denied_connect() {
    let listener = Listener::tcp4();
    let code = tcp_connect(listener.addr());
    let denied = inside(&net_on(&[]), &code);
    assert_outcome(&denied, "ECONNREFUSED");
    let out = inside(&net_on(&[suggested_rule(&denied)]), &code);
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1);
}

#[test]
fn suggested_rule_allows_a_nul_padded_abstract_connect() {
    // C programs often pass sizeof(struct sockaddr_un) as the length, so
    // the abstract name is padded with NULs to 107 bytes. The report shows
    // them as \x00, but the rule parser reads `\x00` literally.
    let name = abstract_name("padded");
    let padded = format!("{name}{}", "\0".repeat(107 - name.len()));
    let listener = Listener::unix_abstract(&padded);
    let code = unix_connect(&format!("b'\\0{name}' + bytes({})", 107 - name.len()));
    assert_arrives_without_stockade(&listener, &code);
    let denied = inside(&net_on(&[]), &code);
    assert_outcome(&denied, "ECONNREFUSED");
    let rule = suggested_rule(&denied);
    let out = inside(&net_on(std::slice::from_ref(&rule)), &code);
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1, "{rule} allows the connect");
}

#[test]
fn suggested_rule_for_an_abstract_name_with_control_bytes_is_escaped_once_issue9() {
    // The report printed `\\x01` for a control byte: escaped once for the
    // address and again for the rule, so the pasted rule matched nothing.
    let name = format!("{}-\u{1}\u{1b}[x]*", abstract_name("ctl"));
    let listener = Listener::unix_abstract(&name);
    let code = unix_connect(&format!(
        "b'\\0' + bytes.fromhex('{}')",
        name.bytes().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    assert_arrives_without_stockade(&listener, &code);
    let denied = inside(&net_on(&[]), &code);
    assert_outcome(&denied, "ECONNREFUSED");
    let rule = suggested_rule(&denied);
    assert!(
        rule.contains("-\\x01\\x1b\\[x\\]\\*") && !rule.contains("\\\\"),
        "one escape per byte: {rule}"
    );
    let out = inside(&net_on(std::slice::from_ref(&rule)), &code);
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1, "{rule} allows the connect");
}

#[test]
fn suggested_rule_allows_a_unix_path_with_glob_characters() {
    // `[1]` in a rule is a class matching `1`, so the path must be
    // suggested with its glob characters escaped (`\[1\]`).
    let s = Scratch::new("net-unix-glob-chars");
    std::fs::create_dir(s.path("a[1]")).unwrap();
    let path = s.path("a[1]/sock");
    let listener = Listener::unix_path(&path);
    let code = unix_connect(&format!("'{path}'"));
    assert_arrives_without_stockade(&listener, &code);
    let denied = inside(&net_on(&[]), &code);
    assert_outcome(&denied, "ECONNREFUSED");
    let rule = suggested_rule(&denied);
    let out = inside(&net_on(std::slice::from_ref(&rule)), &code);
    assert_outcome(&out, "ok");
    assert_eq!(listener.arrivals(), 1, "{rule} allows the connect");
}

#[test]
fn concurrent_unix_connects_in_many_directories_reach_their_own_listeners() {
    // Each unix path is reached from the directory it resolved to; calls in
    // flight at once must not reach one another's directory.
    let s = Scratch::new("net-unix-concurrent");
    let listeners: Vec<Listener> = (0..12)
        .map(|i| {
            std::fs::create_dir(s.path(&format!("d{i}"))).unwrap();
            Listener::unix_path(&s.path(&format!("d{i}/sock")))
        })
        .collect();
    let code = format!(
        "import socket, threading
def connect(i):
    s = socket.socket(socket.AF_UNIX)
    s.connect('{dir}/d%d/sock' % i)
    s.close()
threads = [threading.Thread(target=connect, args=(i,)) for i in range({n})]
for t in threads:
    t.start()
for t in threads:
    t.join()
print('done')
",
        dir = s.dir.display(),
        n = listeners.len()
    );
    let rules = [format!("allow/net/connect+{}/***", s.dir.display())];
    let out = inside(&net_on(&rules), &code);
    assert_outcome(&out, "done");
    for (i, listener) in listeners.iter().enumerate() {
        assert_eq!(listener.arrivals(), 1, "d{i}/sock");
    }
}
