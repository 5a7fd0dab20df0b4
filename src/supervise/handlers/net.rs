//! The `net` categories: bind, connect, and sends that name a destination.
//!
//! | syscall  | socket | address | length | other |
//! |----------|--------|---------|--------|-------|
//! | bind     | 0      | 1       | 2      |       |
//! | connect  | 0      | 1       | 2      |       |
//! | sendto   | 0      | 4       | 5      | buf 1, len 2, flags 3 |
//! | sendmsg  | 0      | in msghdr 1 |    | flags 2 |
//! | sendmmsg | 0      | in each mmsghdr 1 | | vlen 2, flags 3 |
//!
//! Every decision is made on a copy of the address in supervisor memory, and
//! the call is made with that copy on a pidfd_getfd(2) duplicate of the
//! caller's socket, which shares its open file description: O_NONBLOCK,
//! EINPROGRESS, EADDRINUSE and the socket's state are exactly the caller's.
//! Sends are emulated too, data included, because a destination checked and
//! then left in the caller's memory could be swapped before the kernel read
//! it; for sendmsg the same holds for a NULL destination, which a sibling
//! thread could fill in after the check.

use super::describe;
use crate::policy::{Address, Category};
use crate::supervise::call::{Call, Reply, Step};
use crate::supervise::resolve::{Base, Lookup, Target};
use crate::sys::{Errno, fs, net, process};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// The largest payload one emulated send copies.
const MAX_SEND: usize = 16 << 20;
/// Linux's UIO_MAXIOV.
const MAX_IOV: usize = 1024;
const SOCKADDR_UN_PATH: usize = 108;

/// A destination or bind address copied out of the caller and checked.
struct Checked {
    /// The bytes to hand to the kernel (a unix path may be rewritten to go
    /// through a directory descriptor the supervisor holds).
    bytes: Vec<u8>,
    address: Option<Address>,
    /// Keeps the resolved directory of a unix path open during the call.
    _dir: Option<OwnedFd>,
}

/// Decodes raw sockaddr bytes; unix paths are resolved for the caller.
fn decode(call: &Call, raw: Vec<u8>, binding: bool) -> Step<Checked> {
    let family = raw
        .get(..2)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]) as i32)
        .unwrap_or(-1);
    let plain = |address| {
        Ok(Checked {
            bytes: raw.clone(),
            address,
            _dir: None,
        })
    };
    match family {
        libc::AF_INET if raw.len() >= 16 => {
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
            plain(Some(Address::Inet(SocketAddr::V4(SocketAddrV4::new(
                ip, port,
            )))))
        }
        libc::AF_INET6 if raw.len() >= 28 => {
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let octets: [u8; 16] = raw[8..24].try_into().expect("16 bytes");
            let ip = Ipv6Addr::from(octets);
            // An IPv4-mapped address is judged as the IPv4 address.
            let addr = match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, port)),
                None => SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
            };
            plain(Some(Address::Inet(addr)))
        }
        libc::AF_INET | libc::AF_INET6 => Err(Errno(libc::EINVAL).into()),
        libc::AF_UNIX => decode_unix(call, raw, binding),
        // AF_UNSPEC (disconnect) and families without addresses to judge
        // (netlink, packet with its own capability checks) pass unchecked.
        _ => plain(None),
    }
}

fn decode_unix(call: &Call, raw: Vec<u8>, binding: bool) -> Step<Checked> {
    let path = &raw[2.min(raw.len())..];
    if path.is_empty() {
        return Ok(Checked {
            bytes: raw.clone(),
            address: Some(Address::Unnamed),
            _dir: None,
        });
    }
    if path[0] == 0 {
        // C code often passes sizeof(struct sockaddr_un), padding the name
        // with NULs; the kernel keeps them, rules and reports do not.
        let mut name = path[1..].to_vec();
        while name.last() == Some(&0) {
            name.pop();
        }
        return Ok(Checked {
            bytes: raw.clone(),
            address: Some(Address::Abstract(name)),
            _dir: None,
        });
    }
    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
    let path = &path[..end];
    let lookup = Lookup {
        follow_final: !binding,
        ..Lookup::default()
    };
    let resolved = call.resolve(Base::Cwd, path, lookup)?;
    let Target::Entry { dir, name, .. } = resolved.target else {
        return Err(Errno(if binding {
            libc::EADDRINUSE
        } else {
            libc::ECONNREFUSED
        })
        .into());
    };
    // Reach the socket through the directory we resolved, so that a renamed
    // or swapped directory cannot redirect the call: this worker has its own
    // working directory (unshare(CLONE_FS)), moves it there, and names the
    // socket by its last component, which always fits where the caller's
    // path did. The one visible difference: a socket bound this way reads
    // back (getsockname, the peer's getpeername) by that last component.
    fs::change_dir(dir.as_fd())?;
    let target = name;
    if target.len() >= SOCKADDR_UN_PATH {
        return Err(Errno(libc::ENAMETOOLONG).into());
    }
    let mut bytes = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    bytes.extend_from_slice(&target);
    bytes.push(0);
    Ok(Checked {
        bytes,
        address: Some(Address::Unix(resolved.path)),
        _dir: Some(dir),
    })
}

/// Checks `checked` for `category`; addresses the tree bound itself are
/// allowed for connects and sends (see `Shared::was_bound`).
fn check(call: &Call, category: Category, checked: &Checked) -> Step<()> {
    let Some(address) = &checked.address else {
        return Ok(());
    };
    if category == Category::NetConnect && call.shared.was_bound(address) {
        return Ok(());
    }
    let verdict = call.shared.policy().check_addr(category, address);
    let shown = rule_form(address);
    call.enforce(category, &shown, verdict, || {
        format!("{}, {}", call.int(0), describe::path(&shown))
    })
}

fn read_address(call: &Call, addr: u64, len: u64) -> Step<Vec<u8>> {
    let len = len as usize;
    if len > std::mem::size_of::<libc::sockaddr_storage>() {
        return Err(Errno(libc::EINVAL).into());
    }
    call.read_bytes(addr, len)
}

/// bind(2).
pub fn bind(call: &Call) -> Step<Reply> {
    let raw = read_address(call, call.arg(1), call.arg(2))?;
    let sock = call.caller_fd(call.int(0))?;
    let _caller = call.become_caller(true)?;
    let checked = decode(call, raw, true)?;
    check(call, Category::NetBind, &checked)?;
    net::bind(sock.as_fd(), &checked.bytes)?;
    if let Some(Address::Inet(_)) = checked.address
        && let Ok(local) = net::local_address(sock.as_fd())
        && let Ok(Checked {
            address: Some(bound),
            ..
        }) = decode(call, local, true)
    {
        call.shared.note_bound(bound);
    } else if let Some(address @ (Address::Unix(_) | Address::Abstract(_))) = checked.address {
        call.shared.note_bound(address);
    }
    Ok(Reply::Value(0))
}

/// connect(2).
pub fn connect(call: &Call) -> Step<Reply> {
    let raw = read_address(call, call.arg(1), call.arg(2))?;
    let sock = call.caller_fd(call.int(0))?;
    let _caller = call.become_caller(false)?;
    let checked = decode(call, raw, false)?;
    check(call, Category::NetConnect, &checked)?;
    net::connect(sock.as_fd(), &checked.bytes)?;
    Ok(Reply::Value(0))
}

/// sendto(2) with a destination (the filter lets NULL ones through).
pub fn sendto(call: &Call) -> Step<Reply> {
    let raw = read_address(call, call.arg(4), call.arg(5))?;
    let len = (call.arg(2) as usize).min(MAX_SEND);
    let data = call.read_bytes(call.arg(1), len)?;
    let flags = call.int(3);
    let sock = call.caller_fd(call.int(0))?;
    let _caller = call.become_caller(false)?;
    let checked = decode(call, raw, false)?;
    check(call, Category::NetConnect, &checked)?;
    let sent = send(call, &sock, &data, Some(&checked.bytes), &[], flags)?;
    Ok(Reply::Value(sent as i64))
}

/// Sends on our duplicate; an EPIPE raises SIGPIPE in the caller, as the
/// kernel would have, unless it asked for MSG_NOSIGNAL.
fn send(
    call: &Call,
    sock: &OwnedFd,
    data: &[u8],
    dest: Option<&[u8]>,
    control: &[u8],
    flags: i32,
) -> Step<usize> {
    match net::send_message(
        sock.as_fd(),
        data,
        dest,
        control,
        flags | libc::MSG_NOSIGNAL,
    ) {
        Ok(n) => Ok(n),
        Err(e) => {
            if e.0 == libc::EPIPE && flags & libc::MSG_NOSIGNAL == 0 {
                let _ = process::thread_kill(call.n.pid as i32, libc::SIGPIPE);
            }
            Err(e.into())
        }
    }
}

/// One `struct msghdr` copied from the caller.
struct Message {
    dest: Option<Vec<u8>>,
    data: Vec<u8>,
    control: Vec<u8>,
}

fn read_message(call: &Call, addr: u64) -> Step<Message> {
    let hdr = call.read_bytes(addr, 56)?;
    let word = |at: usize| u64::from_ne_bytes(hdr[at..at + 8].try_into().expect("8 bytes"));
    let (name, namelen) = (
        word(0),
        u32::from_ne_bytes(hdr[8..12].try_into().expect("4 bytes")),
    );
    let (iov, iovlen, control, controllen) =
        (word(16), word(24) as usize, word(32), word(40) as usize);
    let dest = if name == 0 || namelen == 0 {
        None
    } else {
        Some(read_address(call, name, u64::from(namelen))?)
    };
    if iovlen > MAX_IOV {
        return Err(Errno(libc::EMSGSIZE).into());
    }
    let mut data = Vec::new();
    if iovlen > 0 {
        let vecs = call.read_bytes(iov, iovlen * 16)?;
        for v in vecs.chunks_exact(16) {
            let base = u64::from_ne_bytes(v[..8].try_into().expect("8 bytes"));
            let len = u64::from_ne_bytes(v[8..].try_into().expect("8 bytes")) as usize;
            if data.len() + len > MAX_SEND {
                return Err(Errno(libc::EMSGSIZE).into());
            }
            if len > 0 {
                data.extend_from_slice(&call.read_bytes(base, len)?);
            }
        }
    }
    let control = if controllen == 0 {
        Vec::new()
    } else {
        call.read_bytes(control, controllen.min(1 << 16))?
    };
    Ok(Message {
        dest,
        data,
        control,
    })
}

/// Emulates one message: checks its destination, turns the caller's
/// descriptors in SCM_RIGHTS into ours, and sends.
fn send_one(call: &Call, sock: &OwnedFd, mut msg: Message, flags: i32) -> Step<usize> {
    let checked = match msg.dest.take() {
        Some(raw) => {
            let checked = decode(call, raw, false)?;
            check(call, Category::NetConnect, &checked)?;
            Some(checked)
        }
        None => None,
    };
    let mut passed: Vec<OwnedFd> = Vec::new();
    if !msg.control.is_empty() {
        let pidfd = call.pidfd()?;
        net::map_rights(&mut msg.control, |theirs| {
            let ours =
                process::pidfd_getfd(pidfd.as_fd(), theirs).map_err(|_| Errno(libc::EBADF))?;
            let raw = ours.as_raw_fd();
            passed.push(ours);
            Ok(raw)
        })?;
    }
    // The message was read from the caller's memory: make sure it is still
    // the caller's before sending anything.
    call.ensure_valid()?;
    let dest = checked.as_ref().map(|c| c.bytes.as_slice());
    send(call, sock, &msg.data, dest, &msg.control, flags)
}

/// sendmsg(2).
pub fn sendmsg(call: &Call) -> Step<Reply> {
    let msg = read_message(call, call.arg(1))?;
    let sock = call.caller_fd(call.int(0))?;
    let _caller = call.become_caller(false)?;
    let sent = send_one(call, &sock, msg, call.int(2))?;
    Ok(Reply::Value(sent as i64))
}

/// sendmmsg(2): each message in turn; the count sent so far is returned
/// once one fails, and msg_len is written back for each one sent.
pub fn sendmmsg(call: &Call) -> Step<Reply> {
    let (vec, vlen, flags) = (
        call.arg(1),
        (call.arg(2) as usize).min(MAX_IOV),
        call.int(3),
    );
    let sock = call.caller_fd(call.int(0))?;
    let _caller = call.become_caller(false)?;
    let mut done = 0;
    for i in 0..vlen {
        let at = vec + (i as u64) * 64;
        let result = read_message(call, at).and_then(|msg| send_one(call, &sock, msg, flags));
        match result {
            Ok(n) => {
                crate::sys::mem::write_bytes(call.n.pid, at + 56, &(n as u32).to_ne_bytes())?;
                done += 1;
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(Reply::Value(done))
}

/// An address as a net rule pattern names it: `IP!PORT`, a path, `@name`.
/// Raw bytes: the report escapes them once, when it shows them (escaping
/// here too made `\\x00` of a NUL, which matches no name, issue 9).
fn rule_form(address: &Address) -> Vec<u8> {
    match address {
        Address::Inet(a) => format!("{}!{}", a.ip(), a.port()).into_bytes(),
        Address::Unix(p) => p.clone(),
        Address::Abstract(n) => [b"@", n.as_slice()].concat(),
        Address::Unnamed => b"(unnamed)".to_vec(),
    }
}

/// Whether a bound address (possibly a wildcard) covers `dest`.
pub fn bound_covers(bound: &Address, dest: &Address) -> bool {
    match (bound, dest) {
        (Address::Inet(b), Address::Inet(d)) => {
            b.port() == d.port()
                && (b.ip() == d.ip() || (b.ip().is_unspecified() && is_local(d.ip())))
        }
        _ => bound == dest,
    }
}

fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}
