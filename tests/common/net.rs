//! Network fixtures for the end-to-end tests: listeners in the test process,
//! outside the sandbox, that count what reaches them, and Python clients that
//! make one socket call and print how it ended.
//!
//! Every address here is on loopback or is a unix socket: these tests must
//! never send traffic anywhere else.
#![allow(dead_code)]

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self as unix, UnixDatagram, UnixListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a listener keeps polling after the client has exited. Loopback
/// connects and sends are complete when the call returns, so anything that
/// will ever arrive is already queued; the window only absorbs scheduling.
const ARRIVAL_WINDOW: Duration = Duration::from_millis(300);

/// What a listener listens with.
enum Endpoint {
    Tcp(TcpListener),
    Udp(UdpSocket),
    Unix(UnixListener),
    UnixDatagram(UnixDatagram),
}

/// A socket outside the sandbox that counts the connections or datagrams
/// that reach it. Nothing is accepted until `arrivals` is called: the kernel
/// queues a loopback connection in the backlog as soon as the client's
/// connect returns, so counting after the client exits misses nothing.
pub struct Listener {
    endpoint: Endpoint,
}

impl Listener {
    /// A TCP listener on 127.0.0.1 with a kernel-chosen port.
    pub fn tcp4() -> Listener {
        Listener::tcp("127.0.0.1:0").expect("bind 127.0.0.1:0")
    }

    /// A TCP listener on a given loopback address (e.g. 127.0.0.5:0).
    pub fn tcp_on(addr: &str) -> Listener {
        Listener::tcp(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
    }

    /// A TCP listener on ::1, or None when this host has no IPv6 loopback.
    pub fn tcp6() -> Option<Listener> {
        Listener::tcp("[::1]:0").ok()
    }

    fn tcp(addr: &str) -> std::io::Result<Listener> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Listener {
            endpoint: Endpoint::Tcp(listener),
        })
    }

    /// A UDP socket on 127.0.0.1 with a kernel-chosen port.
    pub fn udp4() -> Listener {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind udp 127.0.0.1:0");
        socket.set_nonblocking(true).unwrap();
        Listener {
            endpoint: Endpoint::Udp(socket),
        }
    }

    /// A unix stream listener at `path`.
    pub fn unix_path(path: &str) -> Listener {
        let listener = UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {path}: {e}"));
        Listener::unix(listener)
    }

    /// A unix stream listener on the abstract name `name` (no leading NUL).
    pub fn unix_abstract(name: &str) -> Listener {
        let addr = unix::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener =
            UnixListener::bind_addr(&addr).unwrap_or_else(|e| panic!("bind @{name}: {e}"));
        Listener::unix(listener)
    }

    /// A unix datagram socket bound at `path`.
    pub fn unix_datagram(path: &str) -> Listener {
        let socket = UnixDatagram::bind(path).unwrap_or_else(|e| panic!("bind {path}: {e}"));
        socket.set_nonblocking(true).unwrap();
        Listener {
            endpoint: Endpoint::UnixDatagram(socket),
        }
    }

    fn unix(listener: UnixListener) -> Listener {
        listener.set_nonblocking(true).unwrap();
        Listener {
            endpoint: Endpoint::Unix(listener),
        }
    }

    /// The inet address listened on.
    pub fn addr(&self) -> SocketAddr {
        match &self.endpoint {
            Endpoint::Tcp(l) => l.local_addr().unwrap(),
            Endpoint::Udp(s) => s.local_addr().unwrap(),
            Endpoint::Unix(_) | Endpoint::UnixDatagram(_) => {
                panic!("a unix socket has no inet address")
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// Counts the connections accepted or datagrams received since the last
    /// call, polling for a bounded time.
    pub fn arrivals(&self) -> usize {
        let deadline = Instant::now() + ARRIVAL_WINDOW;
        let mut count = 0;
        while Instant::now() < deadline {
            match self.take_one() {
                Ok(()) => count += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("listener failed: {e}"),
            }
        }
        count
    }

    fn take_one(&self) -> std::io::Result<()> {
        match &self.endpoint {
            Endpoint::Tcp(l) => l.accept().map(drop),
            Endpoint::Udp(s) => s.recv_from(&mut [0; 2048]).map(drop),
            Endpoint::Unix(l) => l.accept().map(drop),
            Endpoint::UnixDatagram(s) => s.recv(&mut [0; 2048]).map(drop),
        }
    }
}

/// A fresh abstract socket name, unique to this test process and call, so
/// tests running in parallel (or other runs on the host) never share one.
pub fn abstract_name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "stockade-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A loopback port that was free a moment ago. Another process could take it
/// before the test binds it; on a test host that is rare enough to accept.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Python code that runs `setup`, then `call`, and prints `ok` or the errno
/// name the call failed with (ECONNREFUSED, EACCES...). Both are Python
/// statements, one per line; `socket`, `errno` and `os` are imported.
pub fn attempt(setup: &str, call: &str) -> String {
    let call: String = call.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "import socket, errno, os\n{setup}\ntry:\n{call}    print('ok')\nexcept OSError as e:\n    print(errno.errorcode.get(e.errno, e.errno))\n"
    )
}

/// Python's tuple form of an inet address: `('127.0.0.1', 80)`.
pub fn py_addr(addr: SocketAddr) -> String {
    format!("('{}', {})", addr.ip(), addr.port())
}

/// Python's form of an abstract unix address: the name after a NUL byte.
pub fn py_abstract(name: &str) -> String {
    format!("b'\\0{name}'")
}

/// Python that sends one datagram to each port on 127.0.0.1 with a single
/// sendmmsg(2) (Python has no wrapper, so ctypes builds the mmsghdr array),
/// and prints the call's result and each message's msg_len.
pub fn udp_sendmmsg(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!(
        "import ctypes, errno, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [('name', ctypes.c_void_p), ('namelen', ctypes.c_uint32),
                ('iov', ctypes.POINTER(iovec)), ('iovlen', ctypes.c_size_t),
                ('control', ctypes.c_void_p), ('controllen', ctypes.c_size_t),
                ('flags', ctypes.c_int)]
class mmsghdr(ctypes.Structure):
    _fields_ = [('hdr', msghdr), ('len', ctypes.c_uint)]
def sockaddr_in(port):
    raw = struct.pack('=H', socket.AF_INET) + struct.pack('>H', port) + socket.inet_aton('127.0.0.1') + bytes(8)
    return ctypes.create_string_buffer(raw, 16)
ports = [{ports}]
names = [sockaddr_in(p) for p in ports]
payload = ctypes.create_string_buffer(b'x', 1)
iov = iovec(ctypes.cast(payload, ctypes.c_void_p), 1)
msgs = (mmsghdr * len(ports))()
for m, n in zip(msgs, names):
    m.hdr.name = ctypes.cast(n, ctypes.c_void_p)
    m.hdr.namelen = 16
    m.hdr.iov = ctypes.pointer(iov)
    m.hdr.iovlen = 1
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = libc.sendmmsg(s.fileno(), msgs, len(ports), 0)
print(sent if sent >= 0 else errno.errorcode[ctypes.get_errno()], [m.len for m in msgs])
",
        ports = ports.join(", ")
    )
}
