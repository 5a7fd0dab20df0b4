//! Issue 8 §5 and issue 9 "UDP replies": what the successful-bind allowance
//! covers (the tree's own socket, while it holds the address alone,
//! including ports the kernel gave it on a send), and AF_UNSPEC addresses
//! judged as the kernel reads them.
//!
//! Every attack runs twice: under stockade, where it must be contained, and
//! without, where the same code must reach the outside listener. Outside
//! listeners are Python processes started by the test (std cannot set
//! SO_REUSEPORT before a bind); they count what reaches them until their
//! stdin closes. Only loopback addresses are used.

mod common;
#[path = "common/net.rs"]
mod netfix;

use common::*;
use netfix::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};

/// Runs the Python `code` under stockade with `args`.
fn inside(args: &[&str], code: &str) -> Output {
    run(args, &argv(&py(code)))
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

const PALUDIS: &[&str] = &["-p", "paludis"];
/// A plain policy that, like paludis, allows loopback binds and no connects.
const PLAIN: &[&str] = &[
    "-m",
    "sandbox/net:on",
    "-m",
    "allow/net/bind+loopback!0-65535",
];

/// A listener outside the sandbox, in its own Python process, holding
/// 127.0.0.1 with a kernel-chosen port and the socket option `option`
/// (`SO_REUSEPORT`, `SO_REUSEADDR`) set. TCP connections get `secret`
/// written to them.
struct SharingListener {
    child: Child,
    port: u16,
}

impl SharingListener {
    fn start(kind: &str, option: &str) -> SharingListener {
        let code = format!(
            "import socket, select, sys
s = socket.socket(socket.AF_INET, socket.{kind})
s.setsockopt(socket.SOL_SOCKET, socket.{option}, 1)
s.bind(('127.0.0.1', 0))
stream = s.type == socket.SOCK_STREAM
if stream:
    s.listen(16)
print(s.getsockname()[1], flush=True)
count = 0
def take():
    global count
    if stream:
        a, _ = s.accept()
        a.sendall(b'secret')
        a.close()
    else:
        s.recv(2048)
    count += 1
while True:
    ready, _, _ = select.select([s, sys.stdin], [], [], 30)
    if s in ready:
        take()
    elif sys.stdin in ready or not ready:
        break
s.setblocking(False)
while True:
    try:
        take()
    except BlockingIOError:
        break
print(count, flush=True)
"
        );
        let mut child = Command::new(python())
            .args(["-c", &code])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the listener prints its port");
        SharingListener { child, port }
    }

    /// Ends the listener and returns how many connections or datagrams
    /// reached it.
    fn arrivals(mut self) -> usize {
        self.child.stdin.take().unwrap().flush().unwrap();
        let out = self.child.wait_with_output().unwrap();
        stdout(&out)
            .trim()
            .parse()
            .expect("the listener prints a count")
    }
}

/// Binds the outside listener's address with the same option, closes the
/// socket, then connects (TCP, reading what the listener says) or sends
/// (UDP) to it: the hijack of issue 8 §5.
fn hijack(kind: &str, option: &str, port: u16) -> String {
    let call = if kind == "SOCK_STREAM" {
        format!("c.connect(('127.0.0.1', {port}))\nassert c.recv(6) == b'secret'")
    } else {
        format!("c.sendto(b'x', ('127.0.0.1', {port}))")
    };
    attempt(
        &format!(
            "own = socket.socket(socket.AF_INET, socket.{kind})
own.setsockopt(socket.SOL_SOCKET, socket.{option}, 1)
own.bind(('127.0.0.1', {port}))
own.close()
c = socket.socket(socket.AF_INET, socket.{kind})
c.settimeout(5)"
        ),
        &call,
    )
}

/// The attack is contained under stockade with `args` (refused, reported,
/// nothing arrives) and reaches the listener without stockade.
fn assert_hijack_contained(args: &[&str], kind: &str, option: &str) {
    let listener = SharingListener::start(kind, option);
    let code = hijack(kind, option, listener.port);
    let out = inside(args, &code);
    assert_outcome(&out, "ECONNREFUSED");
    let rule = format!("allow/net/connect+127.0.0.1!{}", listener.port);
    assert!(stderr(&out).contains(&rule), "{}", stderr(&out));
    assert_eq!(
        listener.arrivals(),
        0,
        "nothing reaches the outside listener"
    );

    let listener = SharingListener::start(kind, option);
    let code = hijack(kind, option, listener.port);
    assert_outcome(&outside(&code), "ok");
    assert_eq!(
        listener.arrivals(),
        1,
        "without stockade the attack arrives"
    );
}

#[test]
fn tcp_reuseport_bind_does_not_allow_connect_to_outside_listener_under_paludis_issue8() {
    assert_hijack_contained(PALUDIS, "SOCK_STREAM", "SO_REUSEPORT");
}

#[test]
fn tcp_reuseport_bind_does_not_allow_connect_to_outside_listener_under_plain_policy_issue8() {
    assert_hijack_contained(PLAIN, "SOCK_STREAM", "SO_REUSEPORT");
}

#[test]
fn udp_reuseaddr_bind_does_not_allow_send_to_outside_socket_under_paludis_issue8() {
    assert_hijack_contained(PALUDIS, "SOCK_DGRAM", "SO_REUSEADDR");
}

#[test]
fn udp_reuseaddr_bind_does_not_allow_send_to_outside_socket_under_plain_policy_issue8() {
    assert_hijack_contained(PLAIN, "SOCK_DGRAM", "SO_REUSEADDR");
}

#[test]
fn listener_sharing_its_port_with_an_outside_one_is_not_connectable_issue8() {
    // The tree's socket is still bound and listening, in one SO_REUSEPORT
    // group with the outside listener: the kernel may hand the connection
    // to either, so the allowance must not cover it.
    let listener = SharingListener::start("SOCK_STREAM", "SO_REUSEPORT");
    let port = listener.port;
    let code = attempt(
        &format!(
            "own = socket.socket()
own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
own.bind(('127.0.0.1', {port}))
own.listen()
c = socket.socket()"
        ),
        &format!("c.connect(('127.0.0.1', {port}))"),
    );
    assert_outcome(&inside(PALUDIS, &code), "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_outcome(&outside(&code), "ok");
}

#[test]
fn bound_address_is_not_connectable_after_its_socket_closes_issue8() {
    // The tree binds a port, closes it, and an outside listener takes the
    // port (no reuse options at all); the allowance ended with the socket.
    let s = Scratch::new("net-bound-closed");
    let (port_file, go_file) = (s.path("port"), s.path("go"));
    let code = attempt(
        &format!(
            "import time
own = socket.socket()
own.bind(('127.0.0.1', 0))
port = own.getsockname()[1]
own.close()
open('{port_file}.tmp', 'w').write(str(port))
os.rename('{port_file}.tmp', '{port_file}')
deadline = time.time() + 20
while not os.path.exists('{go_file}') and time.time() < deadline:
    time.sleep(0.01)
c = socket.socket()"
        ),
        "c.connect(('127.0.0.1', port))",
    );
    let take_port_then_go = |child: &mut Child| -> std::net::TcpListener {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let port: u16 = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.parse().unwrap();
            }
            assert!(std::time::Instant::now() < deadline, "no port written");
            assert!(child.try_wait().unwrap().is_none(), "the client exited");
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let outside = std::net::TcpListener::bind(("127.0.0.1", port)).expect("port free");
        outside.set_nonblocking(true).unwrap();
        std::fs::write(&go_file, "").unwrap();
        outside
    };
    let arrived = |listener: &std::net::TcpListener| {
        std::thread::sleep(std::time::Duration::from_millis(300));
        listener.accept().is_ok()
    };

    let allow_scratch = s.allow_write("");
    let mut child = stockade(&["-p", "paludis", "-m", &allow_scratch])
        .arg("--")
        .args(py(&code))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let listener = take_port_then_go(&mut child);
    let out = child.wait_with_output().unwrap();
    assert_outcome(&out, "ECONNREFUSED");
    assert!(
        !arrived(&listener),
        "the connect reached the outside listener"
    );

    std::fs::remove_file(&port_file).unwrap();
    std::fs::remove_file(&go_file).unwrap();
    let mut child = Command::new(python())
        .args(["-c", &code])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let listener = take_port_then_go(&mut child);
    assert_outcome(&child.wait_with_output().unwrap(), "ok");
    assert!(arrived(&listener), "without stockade the connect arrives");
}

// AF_UNSPEC destinations (issue 8 §5).

/// Python that sends one datagram to 127.0.0.1:`port` with `call`
/// (`sendto` or `sendmsg`, through ctypes), the destination's family field
/// being AF_UNSPEC (0).
fn unspec_send(call: &str, port: u16) -> String {
    let send = if call == "sendto" {
        "r = libc.sendto(s.fileno(), b'x', 1, 0, addr, 16)"
    } else {
        "r = libc.sendmsg(s.fileno(), ctypes.byref(msg), 0)"
    };
    attempt(
        &format!(
            "import ctypes, struct
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [('name', ctypes.c_void_p), ('namelen', ctypes.c_uint32),
                ('iov', ctypes.POINTER(iovec)), ('iovlen', ctypes.c_size_t),
                ('control', ctypes.c_void_p), ('controllen', ctypes.c_size_t),
                ('flags', ctypes.c_int)]
raw = struct.pack('=H', socket.AF_UNSPEC) + struct.pack('>H', {port}) + socket.inet_aton('127.0.0.1') + bytes(8)
addr = ctypes.create_string_buffer(raw, 16)
payload = ctypes.create_string_buffer(b'x', 1)
iov = iovec(ctypes.cast(payload, ctypes.c_void_p), 1)
msg = msghdr(ctypes.cast(addr, ctypes.c_void_p), 16, ctypes.pointer(iov), 1, None, 0, 0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
        ),
        &format!("{send}\nif r < 0:\n    raise OSError(ctypes.get_errno(), '{call}')"),
    )
}

fn assert_unspec_send_contained(call: &str) {
    let listener = Listener::udp4();
    let code = unspec_send(call, listener.port());
    let out = inside(PALUDIS, &code);
    assert_outcome(&out, "ECONNREFUSED");
    let rule = format!("allow/net/connect+127.0.0.1!{}", listener.port());
    assert!(stderr(&out).contains(&rule), "{}", stderr(&out));
    assert_eq!(listener.arrivals(), 0);
    assert_outcome(&outside(&code), "ok");
    assert_eq!(
        listener.arrivals(),
        1,
        "without stockade the datagram arrives"
    );
}

#[test]
fn udp_sendto_with_af_unspec_destination_is_judged_as_ipv4_issue8() {
    assert_unspec_send_contained("sendto");
}

#[test]
fn udp_sendmsg_with_af_unspec_destination_is_judged_as_ipv4_issue8() {
    assert_unspec_send_contained("sendmsg");
}

#[test]
fn af_unspec_bind_is_judged_as_the_wildcard_it_binds_issue8() {
    // An IPv4 bind takes AF_UNSPEC with INADDR_ANY as 0.0.0.0, which the
    // paludis profile refuses.
    let code = attempt(
        "import ctypes, struct
libc = ctypes.CDLL(None, use_errno=True)
raw = struct.pack('=H', socket.AF_UNSPEC) + bytes(14)
addr = ctypes.create_string_buffer(raw, 16)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        "if libc.bind(s.fileno(), addr, 16) < 0:\n    raise OSError(ctypes.get_errno(), 'bind')\nassert s.getsockname()[0] == '0.0.0.0'",
    );
    let out = inside(PALUDIS, &code);
    assert_outcome(&out, "EACCES");
    assert!(
        stderr(&out).contains("allow/net/bind+0.0.0.0!0"),
        "{}",
        stderr(&out)
    );
    assert_outcome(&outside(&code), "ok");
}

// Ports the kernel chose (issue 9).

#[test]
fn udp_server_answers_a_client_whose_port_the_kernel_chose_under_paludis_issue9() {
    let code = attempt(
        "srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(('127.0.0.1', 0))
srv.settimeout(5)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(5)",
        "c.sendto(b'ping', srv.getsockname())
data, peer = srv.recvfrom(16)
srv.sendto(b'pong', peer)
assert c.recv(16) == b'pong'",
    );
    let out = inside(PALUDIS, &code);
    assert_outcome(&out, "ok");
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));
    assert_outcome(&outside(&code), "ok");
}

#[test]
fn udplite_server_answers_a_client_whose_port_the_kernel_chose_under_paludis_issue9() {
    // test_socket's UDP-Lite tests hung: the allowance followed TCP and UDP
    // sockets only, so the send to the tree's own bound UDP-Lite socket
    // was refused.
    let code = attempt(
        "srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDPLITE)
srv.bind(('127.0.0.1', 0))
srv.settimeout(5)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDPLITE)
c.settimeout(5)",
        "c.sendto(b'ping', srv.getsockname())
data, peer = srv.recvfrom(16)
srv.sendto(b'pong', peer)
assert c.recv(16) == b'pong'",
    );
    let out = inside(PALUDIS, &code);
    assert_outcome(&out, "ok");
    assert!(!stderr(&out).contains("denied"), "{}", stderr(&out));
    assert_outcome(&outside(&code), "ok");
}

#[test]
fn udp_server_answers_a_connected_client_under_paludis_issue9() {
    // connect(2) gives the client its port; the server answers with sendto.
    let code = attempt(
        "srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(('127.0.0.1', 0))
srv.settimeout(5)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(5)",
        "c.connect(srv.getsockname())
c.send(b'ping')
data, peer = srv.recvfrom(16)
srv.sendto(b'pong', peer)
assert c.recv(16) == b'pong'",
    );
    let out = inside(PALUDIS, &code);
    assert_outcome(&out, "ok");
    assert_outcome(&outside(&code), "ok");
}

#[test]
fn udp6_send_with_af_unspec_destination_goes_to_the_connected_peer_as_without_stockade() {
    // An IPv6 UDP socket reads AF_UNSPEC as "no destination" and sends to
    // the peer it is connected to, which the connect rule allowed.
    let Ok(peer) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("SKIPPED: no IPv6 loopback (::1)");
        return;
    };
    peer.set_nonblocking(true).unwrap();
    let port = peer.local_addr().unwrap().port();
    let code = attempt(
        &format!(
            "import ctypes
libc = ctypes.CDLL(None, use_errno=True)
unspec = (ctypes.c_ubyte * 28)()
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.connect(('::1', {port}))"
        ),
        "if libc.sendto(s.fileno(), b'x', 1, 0, unspec, 28) < 0:\n    raise OSError(ctypes.get_errno(), 'sendto')",
    );
    let received = || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut n = 0;
        while peer.recv(&mut [0; 16]).is_ok() {
            n += 1;
        }
        n
    };
    let rules = [
        "-m",
        "sandbox/net:on",
        "-m",
        &format!("allow/net/connect+::1!{port}"),
    ];
    assert_outcome(&inside(&rules, &code), "ok");
    assert_eq!(received(), 1);
    assert_outcome(&outside(&code), "ok");
    assert_eq!(received(), 1);
}

// Unix names (issue 8 §5: the tree's own socket, while it holds the name).

#[test]
fn unix_socket_file_renamed_onto_a_bound_path_is_not_connectable_issue8() {
    // The tree binds `mine` and keeps its socket open, then renames an
    // outside listener's socket file onto `mine` and connects to it.
    let s = Scratch::new("net-unix-rename");
    std::fs::create_dir(s.path("outside")).unwrap();
    let code = |svc: &str| {
        let mine = s.path("mine");
        let _ = std::fs::remove_file(&mine);
        attempt(
            &format!(
                "own = socket.socket(socket.AF_UNIX)
own.bind('{mine}')
own.listen()
os.rename('{svc}', '{mine}')
c = socket.socket(socket.AF_UNIX)"
            ),
            &format!("c.connect('{mine}')"),
        )
    };
    let args = [
        "-m",
        "sandbox/net:on",
        "-m",
        &format!("allow/net/bind+{}/***", s.dir.display()),
    ];
    let svc = s.path("outside/svc1");
    let listener = Listener::unix_path(&svc);
    let out = inside(&args, &code(&svc));
    assert_outcome(&out, "ECONNREFUSED");
    assert_eq!(
        listener.arrivals(),
        0,
        "nothing reaches the outside listener"
    );

    let svc = s.path("outside/svc2");
    let listener = Listener::unix_path(&svc);
    assert_outcome(&outside(&code(&svc)), "ok");
    assert_eq!(
        listener.arrivals(),
        1,
        "without stockade the connect arrives"
    );
}

#[test]
fn bound_unix_path_is_connectable_while_its_socket_holds_it() {
    let s = Scratch::new("net-unix-own");
    let mine = s.path("mine");
    let code = attempt(
        &format!(
            "own = socket.socket(socket.AF_UNIX)\nown.bind('{mine}')\nown.listen()\nc = socket.socket(socket.AF_UNIX)"
        ),
        &format!(
            "c.connect('{mine}')\na, _ = own.accept()\nc.sendall(b'hi')\nassert a.recv(2) == b'hi'"
        ),
    );
    let args = [
        "-m",
        "sandbox/net:on",
        "-m",
        &format!("allow/net/bind+{}/***", s.dir.display()),
    ];
    assert_outcome(&inside(&args, &code), "ok");
}

#[test]
fn abstract_name_padded_with_nuls_is_not_covered_by_the_unpadded_bind_issue8() {
    // The kernel tells `@name` from `@name` padded with NULs; an outside
    // listener holds the padded one, the tree binds the plain one and
    // connects to the padded one.
    let name = abstract_name("pad");
    let padded = format!("{name}{}", "\0".repeat(16));
    let listener = Listener::unix_abstract(&padded);
    let code = attempt(
        &format!(
            "own = socket.socket(socket.AF_UNIX)
own.bind(b'\\0{name}')
own.listen()
c = socket.socket(socket.AF_UNIX)"
        ),
        &format!("c.connect(b'\\0{name}' + bytes(16))"),
    );
    let args = [
        "-m",
        "sandbox/net:on",
        "-m",
        "allow/net/bind+@stockade-test-pad-*",
    ];
    assert_outcome(&inside(&args, &code), "ECONNREFUSED");
    assert_eq!(listener.arrivals(), 0);
    assert_outcome(&outside(&code), "ok");
    assert_eq!(
        listener.arrivals(),
        1,
        "without stockade the connect arrives"
    );
}
