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
use crate::sys::{Errno, fs, net, process, sockinfo};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

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
    /// The socket file a unix path names (st_dev, st_ino), when it exists.
    file: Option<(u64, u64)>,
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
            file: None,
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
        // 24 bytes is RFC 2133's sockaddr_in6, without sin6_scope_id
        // (SIN6_LEN_RFC2133), which the kernel still accepts.
        libc::AF_INET6 if raw.len() >= 24 => {
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
        // AF_UNSPEC where the kernel reads no address (a disconnect; see
        // `decode_for`) and families without addresses to judge (netlink,
        // packet with its own capability checks) pass unchecked.
        _ => plain(None),
    }
}

fn decode_unix(call: &Call, raw: Vec<u8>, binding: bool) -> Step<Checked> {
    // unix_validate_addr(): no longer than struct sockaddr_un.
    if raw.len() > 2 + SOCKADDR_UN_PATH {
        return Err(Errno(libc::EINVAL).into());
    }
    let path = &raw[2.min(raw.len())..];
    if path.is_empty() {
        return Ok(Checked {
            bytes: raw.clone(),
            address: Some(Address::Unnamed),
            _dir: None,
            file: None,
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
            file: None,
        });
    }
    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
    let path = &path[..end];
    // bind creates the socket as mknod does (filename_create()): the
    // final name is never followed, "name/" is ENOENT when missing and
    // EADDRINUSE (EEXIST) when it exists.
    let lookup = Lookup {
        follow_final: !binding,
        final_entry: binding,
        ..Lookup::default()
    };
    let resolved = call.resolve(Base::Cwd, path, lookup)?;
    if binding && call.may_see(&resolved) {
        if resolved.stat().is_some() {
            return Err(Errno(libc::EADDRINUSE).into());
        }
        if resolved.trailing_slash {
            return Err(Errno(libc::ENOENT).into());
        }
    }
    let exists = resolved.stat().is_some();
    let Target::Entry { dir, name, .. } = resolved.target else {
        return Err(Errno(if binding {
            libc::EADDRINUSE
        } else {
            libc::ECONNREFUSED
        })
        .into());
    };
    if exists && !binding {
        return reach_file(dir.as_fd(), &name, resolved.path);
    }
    // Reach the socket through the directory we resolved, so that a renamed
    // or swapped directory cannot redirect the call: this worker has its own
    // working directory (unshare(CLONE_FS)), moves it there, and names the
    // socket by its last component, which always fits where the caller's
    // path did. A socket bound this way reads back (getsockname, the
    // peer's getpeername) by that last component, so a root supervisor
    // binds by the caller's own string instead where it can
    // ([`bind_as_given`]).
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
        file: None,
    })
}

/// A connect or send to the existing socket file `name` in `dir`: it goes
/// through an `O_PATH` handle of that very file (`/proc/self/fd/N`), so a
/// socket file renamed onto the name after the check cannot take the call.
/// The caller sees no difference: a peer reads back its own bound name.
fn reach_file(dir: BorrowedFd<'_>, name: &[u8], path: Vec<u8>) -> Step<Checked> {
    let handle = fs::open_path_nofollow(Some(dir), name)?;
    let st = fs::lstat_at(handle.as_fd(), b"")?;
    let mut bytes = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    bytes.extend_from_slice(fs::proc_self_fd(handle.as_fd()).as_bytes());
    bytes.push(0);
    Ok(Checked {
        bytes,
        address: Some(Address::Unix(path)),
        _dir: Some(handle),
        file: Some((st.dev, st.ino)),
    })
}

/// Checks `checked` for `category`. A connect or send the policy does not
/// allow is still allowed to an address the tree's own sockets alone hold
/// (see [`Bound`]).
fn check(call: &Call, category: Category, checked: &Checked, sock: &OwnedFd) -> Step<()> {
    let Some(address) = &checked.address else {
        return Ok(());
    };
    let verdict = call.shared.policy().check_addr(category, address);
    let silent_allow = verdict.outcome == crate::policy::Outcome::Allow && !verdict.report;
    if category == Category::NetConnect
        && !silent_allow
        && held_by_tree(call, sock.as_fd(), checked)
    {
        return Ok(());
    }
    let shown = rule_form(address);
    call.enforce(category, &shown, verdict, || {
        format!("{}, {}", call.int(0), describe::path(&shown))
    })
}

/// What a call does with the address it names; AF_UNSPEC means something
/// different for each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Bind,
    Connect,
    Send,
}

/// Decodes the address of a call made on `sock`, judging AF_UNSPEC as the
/// kernel reads it (net/ipv4/udp.c, raw.c, af_inet.c, net/ipv6/udp.c,
/// raw.c as of Linux 6.18):
/// - connect: a disconnect, on every family; nothing to judge;
/// - an IPv4 socket's bind or send: an IPv4 address (bind takes it only
///   for INADDR_ANY, UDP and raw sends go to the address given);
/// - an IPv6 UDP (or UDP-Lite, ICMPv6 ping) send: no destination, or
///   EAFNOSUPPORT for ping; an IPv6 bind: EAFNOSUPPORT; nothing to judge;
/// - any other IPv6 send (raw, L2TP): an IPv6 address.
///
/// The kernel is handed the caller's bytes unchanged, so it makes of them
/// exactly what was judged.
fn decode_for(call: &Call, sock: BorrowedFd<'_>, raw: Vec<u8>, purpose: Purpose) -> Step<Checked> {
    let binding = purpose == Purpose::Bind;
    let unspec = raw.len() >= 2 && u16::from_ne_bytes([raw[0], raw[1]]) == libc::AF_UNSPEC as u16;
    if !unspec || purpose == Purpose::Connect {
        return decode(call, raw, binding);
    }
    let Some(family) = unspec_family(sock, purpose)? else {
        return decode(call, raw, binding);
    };
    let mut as_read = raw.clone();
    as_read[..2].copy_from_slice(&(family as u16).to_ne_bytes());
    let mut checked = decode(call, as_read, binding)?;
    checked.bytes = raw;
    Ok(checked)
}

/// The family the kernel reads an AF_UNSPEC address of a bind or send on
/// `sock` as, if it reads one (see [`decode_for`]).
fn unspec_family(sock: BorrowedFd<'_>, purpose: Purpose) -> Step<Option<i32>> {
    let domain = sockinfo::int_option(sock, libc::SO_DOMAIN)?;
    Ok(match domain {
        libc::AF_INET => Some(libc::AF_INET),
        libc::AF_INET6 if purpose == Purpose::Send => {
            let kind = sockinfo::int_option(sock, libc::SO_TYPE)?;
            let protocol = sockinfo::int_option(sock, libc::SO_PROTOCOL)?;
            let no_destination = kind == libc::SOCK_DGRAM
                && matches!(
                    protocol,
                    libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE | libc::IPPROTO_ICMPV6
                );
            (!no_destination).then_some(libc::AF_INET6)
        }
        _ => None,
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
    let checked = decode_for(call, sock.as_fd(), raw.clone(), Purpose::Bind)?;
    check(call, Category::NetBind, &checked, &sock)?;
    let exact = match (&checked.address, &checked._dir) {
        (Some(Address::Unix(_)), Some(dir)) if call.shared.as_root => {
            bind_as_given(sock.as_fd(), dir.as_fd(), &raw)
        }
        _ => None,
    };
    match exact {
        Some(bound) => bound?,
        None => net::bind(sock.as_fd(), &checked.bytes)?,
    }
    match checked.address {
        Some(Address::Inet(_)) => remember_inet(call, sock.as_fd()),
        Some(address @ (Address::Unix(_) | Address::Abstract(_))) => {
            remember_unix(call, sock.as_fd(), address)
        }
        _ => {}
    }
    Ok(Reply::Value(0))
}

/// Binds `sock` to the caller's own address bytes `raw`, so that the socket
/// reads back (getsockname, a peer's getpeername) by the path the caller
/// gave, as in the kernel, which stores the string it was given and
/// resolves that same string. The kernel must not walk any name the tree
/// could swap, so the walk is given names that only this bind can see: a
/// helper thread with its own mount namespace (private, so nothing
/// propagates) mounts a tmpfs on /tmp, makes the caller's directory
/// components there, attaches a clone of the mount of the directory
/// checked, rooted at it (open_tree of its descriptor), on the last of them, and binds from inside (chroot for an absolute
/// path, chdir for a relative one). The socket file lands in the checked
/// directory; the namespace dies with the thread.
///
/// `None` when that cannot be done: a single relative name (the plain bind
/// from the checked directory is exact already), `..` in the path (the
/// walk would need the real parents), or no CAP_SYS_ADMIN (an unprivileged
/// supervisor): the caller then binds by the last component.
fn bind_as_given(
    sock: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    raw: &[u8],
) -> Option<Result<(), Errno>> {
    let given = raw.get(2..)?;
    let given = &given[..given.iter().position(|&b| b == 0).unwrap_or(given.len())];
    let absolute = given.first() == Some(&b'/');
    let parts: Vec<&[u8]> = given
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if parts.is_empty() || parts.contains(&&b".."[..]) || !given.contains(&b'/') {
        return None;
    }
    let dirs = &parts[..parts.len() - 1];
    let caps = process::thread_effective_caps().ok()?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| bind_in_scaffold(sock, dir, raw, absolute, dirs, caps))
            .join()
            .ok()
            .flatten()
    })
}

/// The helper thread of [`bind_as_given`]. It starts with the worker's
/// credentials (the caller's ids, umask and capabilities); it takes its
/// permitted capabilities for the mounts and gives them back before the
/// bind, which is made with exactly the caller's rights.
fn bind_in_scaffold(
    sock: BorrowedFd<'_>,
    dir: BorrowedFd<'_>,
    raw: &[u8],
    absolute: bool,
    dirs: &[&[u8]],
    caps: u64,
) -> Option<Result<(), Errno>> {
    const TOP: &[u8] = b"/tmp";
    process::set_thread_effective_caps(u64::MAX).ok()?;
    // The copy is taken while the directory's mount is still in this
    // thread's namespace; a bind mount of a descriptor from the old one
    // would be refused once it has its own.
    let tree = fs::clone_mount(dir).ok()?;
    process::unshare_mount_namespace().ok()?;
    fs::make_mounts_private().ok()?;
    fs::mount_tmpfs(TOP).ok()?;
    let top = fs::openat2(
        None,
        TOP,
        (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64,
        0,
        0,
    )
    .ok()?;
    // The scaffold must be searchable by the caller whatever its umask.
    let umask = process::set_umask(0);
    let mut rel: Vec<u8> = if absolute { Vec::new() } else { b"w".to_vec() };
    let mut made = if absolute {
        Ok(())
    } else {
        fs::mkdir_at(top.as_fd(), &rel, 0o755)
    };
    for d in dirs {
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(d);
        made = made.and_then(|()| fs::mkdir_at(top.as_fd(), &rel, 0o755));
    }
    process::set_umask(umask);
    made.ok()?;
    let mut target = TOP.to_vec();
    if !rel.is_empty() {
        target.push(b'/');
        target.extend_from_slice(&rel);
    }
    fs::attach_mount(tree.as_fd(), &target).ok()?;
    if absolute {
        fs::change_root(TOP).ok()?;
    } else {
        fs::change_dir_path(b"/tmp/w").ok()?;
    }
    process::set_thread_effective_caps(caps).ok()?;
    Some(net::bind(sock, raw))
}

/// connect(2).
pub fn connect(call: &Call) -> Step<Reply> {
    let raw = read_address(call, call.arg(1), call.arg(2))?;
    let sock = call.caller_fd(call.int(0))?;
    let _caller = call.become_caller(false)?;
    let checked = decode_for(call, sock.as_fd(), raw, Purpose::Connect)?;
    check(call, Category::NetConnect, &checked, &sock)?;
    let unbound = is_unbound_inet(sock.as_fd());
    // A connect may wait for a full backlog or a distant peer.
    call.may_block()?;
    let _peer = match checked.address {
        Some(Address::Unix(_) | Address::Abstract(_)) => PeerIds::caller(call, false)?,
        _ => PeerIds::unchanged(),
    };
    let connected = net::connect(sock.as_fd(), &checked.bytes);
    // A failed call may have given the socket its port all the same.
    if unbound {
        remember_implicit(call, sock.as_fd());
    }
    connected?;
    Ok(Reply::Value(0))
}

/// While alive, the worker thread's uids and gids are the caller's, so
/// that the kernel records them for the peer: a unix connect records the
/// connecting task's effective ids (`SO_PEERCRED`), a unix send its real
/// ids (implicit `SCM_CREDENTIALS`), and an explicit `SCM_CREDENTIALS` is
/// checked against them. Only a root supervisor differs from its callers;
/// an unprivileged one already has their ids. The pid the peer sees stays
/// the supervisor's: the kernel takes it from the calling task and nothing
/// can lend it (see docs/security.md).
struct PeerIds {
    /// The thread's own ids and the capabilities to restore.
    restore: Option<((u32, u32, u32, u32), u64)>,
}

impl PeerIds {
    fn unchanged() -> PeerIds {
        PeerIds { restore: None }
    }

    /// Takes the caller's effective ids, and its real ones too if `real`.
    fn caller(call: &Call, real: bool) -> Step<PeerIds> {
        if !call.shared.as_root {
            return Ok(PeerIds::unchanged());
        }
        let ids = CallerIds::read(call.n.pid)?;
        call.ensure_valid()?;
        let own = process::thread_ids();
        let (ruid, rgid) = if real {
            (ids.ruid, ids.rgid)
        } else {
            (own.0, own.2)
        };
        let want = (ruid, ids.euid, rgid, ids.egid);
        if want == own {
            return Ok(PeerIds::unchanged());
        }
        // Acting as the caller, the thread may lack CAP_SETUID/CAP_SETGID:
        // take them from the permitted set for the switch, then give the
        // caller's capabilities back (a switch to a non-zero euid has
        // cleared them).
        let caps = process::thread_effective_caps()?;
        let guard = PeerIds {
            restore: Some((own, caps)),
        };
        process::set_thread_effective_caps(u64::MAX)?;
        process::set_thread_ids(want.0, want.1, want.2, want.3)?;
        process::set_thread_effective_caps(caps)?;
        Ok(guard)
    }
}

impl Drop for PeerIds {
    fn drop(&mut self) {
        let Some(((ruid, euid, rgid, egid), caps)) = self.restore else {
            return;
        };
        // A worker that cannot get its identity back must not serve anyone.
        let restored = process::set_thread_effective_caps(u64::MAX)
            .and_then(|()| process::set_thread_ids(ruid, euid, rgid, egid))
            .and_then(|()| process::set_thread_effective_caps(caps));
        if restored.is_err() {
            std::process::abort();
        }
    }
}

/// A caller's thread group and ids, from `/proc/PID/status`.
struct CallerIds {
    tgid: i32,
    ruid: u32,
    euid: u32,
    rgid: u32,
    egid: u32,
}

impl CallerIds {
    fn read(pid: u32) -> Step<CallerIds> {
        let mut text = Vec::with_capacity(2048);
        fs::read_small_file(format!("/proc/{pid}/status").as_bytes(), &mut text)?;
        let field = |key: &[u8], n: usize| {
            text.split(|&b| b == b'\n')
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| {
                    String::from_utf8_lossy(rest)
                        .split_whitespace()
                        .nth(n)
                        .and_then(|v| v.parse::<u32>().ok())
                })
        };
        match (
            field(b"Tgid:", 0),
            field(b"Uid:", 0),
            field(b"Uid:", 1),
            field(b"Gid:", 0),
            field(b"Gid:", 1),
        ) {
            (Some(tgid), Some(ruid), Some(euid), Some(rgid), Some(egid)) => Ok(CallerIds {
                tgid: tgid as i32,
                ruid,
                euid,
                rgid,
                egid,
            }),
            _ => Err(Errno(libc::ESRCH).into()),
        }
    }
}

/// Whether `sock` is a unix socket, whose peers learn the sender's ids.
fn is_unix(sock: &OwnedFd) -> bool {
    net::socket_domain(sock.as_fd()).is_ok_and(|d| d == libc::AF_UNIX)
}

/// Sets the ids a unix peer learns for the sends that follow.
fn sender_ids(call: &Call, sock: &OwnedFd) -> Step<PeerIds> {
    if is_unix(sock) {
        PeerIds::caller(call, true)
    } else {
        Ok(PeerIds::unchanged())
    }
}

/// sendto(2) with a destination (the filter lets NULL ones through).
pub fn sendto(call: &Call) -> Step<Reply> {
    let raw = read_address(call, call.arg(4), call.arg(5))?;
    let sock = call.caller_fd(call.int(0))?;
    let len = call.arg(2) as usize;
    if len > MAX_SEND && !is_stream(&sock) {
        return Err(Errno(libc::EMSGSIZE).into());
    }
    let data = call.read_bytes(call.arg(1), len.min(MAX_SEND))?;
    let flags = call.int(3);
    let _caller = call.become_caller(false)?;
    let _sender = sender_ids(call, &sock)?;
    let checked = decode_for(call, sock.as_fd(), raw, Purpose::Send)?;
    check(call, Category::NetConnect, &checked, &sock)?;
    let unbound = is_unbound_inet(sock.as_fd());
    let sent = send(call, &sock, &data, Some(&checked.bytes), &[], flags);
    if unbound {
        remember_implicit(call, sock.as_fd());
    }
    Ok(Reply::Value(sent? as i64))
}

/// Whether a short send is a valid answer on `sock` (a byte stream).
fn is_stream(sock: &OwnedFd) -> bool {
    net::socket_type(sock.as_fd()).is_ok_and(|t| t == libc::SOCK_STREAM)
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
    let caller_flags = flags;
    let flags = flags | libc::MSG_NOSIGNAL;
    // Try without waiting first: only a send that would block (a full
    // socket buffer) hands the receiving over before it waits.
    let first = if flags & libc::MSG_DONTWAIT == 0 {
        net::send_message(
            sock.as_fd(),
            data,
            dest,
            control,
            flags | libc::MSG_DONTWAIT,
        )
    } else {
        net::send_message(sock.as_fd(), data, dest, control, flags)
    };
    let blocking = flags & libc::MSG_DONTWAIT == 0;
    let result = match first {
        Err(e) if e.0 == libc::EAGAIN && blocking => {
            call.may_block()?;
            net::send_message(sock.as_fd(), data, dest, control, flags)
        }
        // A stream socket took part of it: a blocking send waits for room
        // for the rest, and returns the part sent if a signal cuts it short.
        Ok(n) if n < data.len() && blocking => {
            call.may_block()?;
            let mut sent = n;
            while sent < data.len() {
                match net::send_message(sock.as_fd(), &data[sent..], None, &[], flags) {
                    Ok(more) => sent += more,
                    Err(_) => break,
                }
            }
            Ok(sent)
        }
        other => other,
    };
    match result {
        Ok(n) => Ok(n),
        Err(e) => {
            if e.0 == libc::EPIPE && caller_flags & libc::MSG_NOSIGNAL == 0 {
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

/// Reads one message; `stream` sockets take the first MAX_SEND bytes of a
/// larger one (the count sent tells the caller, as a short write would),
/// others refuse it whole with EMSGSIZE, as the kernel does past its limit.
fn read_message(call: &Call, addr: u64, stream: bool) -> Step<Message> {
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
            let len = if data.len() + len > MAX_SEND {
                if !stream {
                    return Err(Errno(libc::EMSGSIZE).into());
                }
                MAX_SEND - data.len()
            } else {
                len
            };
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
            let checked = decode_for(call, sock.as_fd(), raw, Purpose::Send)?;
            check(call, Category::NetConnect, &checked, sock)?;
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
        own_credentials(call, &mut msg.control)?;
    }
    // The message was read from the caller's memory: make sure it is still
    // the caller's before sending anything.
    call.ensure_valid()?;
    let dest = checked.as_ref().map(|c| c.bytes.as_slice());
    let unbound = dest.is_some() && is_unbound_inet(sock.as_fd());
    let sent = send(call, sock, &msg.data, dest, &msg.control, flags);
    if unbound {
        remember_implicit(call, sock.as_fd());
    }
    sent
}

/// An explicit `SCM_CREDENTIALS` naming the caller's own pid is valid for
/// the caller; sent by the supervisor, the kernel would want that pid to be
/// the supervisor's (or CAP_SYS_ADMIN), and refuse it with EPERM. Without
/// CAP_SYS_ADMIN it becomes the supervisor's pid, which is what the peer
/// sees of every emulated send (the uid and gid are the caller's, checked
/// by the kernel against the ids [`PeerIds`] gave the thread).
fn own_credentials(call: &Call, control: &mut [u8]) -> Step<()> {
    const CAP_SYS_ADMIN: u32 = 21;
    if process::thread_effective_caps()? & (1 << CAP_SYS_ADMIN) != 0 {
        return Ok(());
    }
    let tgid = CallerIds::read(call.n.pid)?.tgid;
    let ours = std::process::id() as i32;
    net::map_credentials_pid(control, |pid| if pid == tgid { ours } else { pid });
    Ok(())
}

/// sendmsg(2).
pub fn sendmsg(call: &Call) -> Step<Reply> {
    let sock = call.caller_fd(call.int(0))?;
    let msg = read_message(call, call.arg(1), is_stream(&sock))?;
    let _caller = call.become_caller(false)?;
    let _sender = sender_ids(call, &sock)?;
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
    let stream = is_stream(&sock);
    let _caller = call.become_caller(false)?;
    let _sender = sender_ids(call, &sock)?;
    let mut done = 0;
    for i in 0..vlen {
        let at = vec + (i as u64) * 64;
        let result =
            read_message(call, at, stream).and_then(|msg| send_one(call, &sock, msg, flags));
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

/// An address one of the tree's sockets was given, by a bind or by the
/// kernel (the port a UDP socket gets on its first send or connect).
///
/// The allowance covers only the tree's own socket, only while it holds the
/// address, and never an address shared with a socket outside the tree
/// (SO_REUSEPORT, or SO_REUSEADDR for UDP, lets an outside listener hold
/// the same one). So for inet addresses the socket is named by its cookie,
/// and every connect or send that relies on the allowance asks the kernel
/// (sock_diag) which sockets would receive it: all of them must be the
/// tree's, and for TCP listening. No descriptor of the socket is kept: the
/// address must be freed when the tree closes it, as without stockade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// The address as bound (a wildcard, or the kernel's port for port 0).
    pub address: Address,
    /// The socket that holds it.
    pub socket: Holder,
}

/// How the socket behind a [`Bound`] address is named to sock_diag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// An inet socket: its protocol (TCP or UDP) and cookie.
    Inet {
        /// `IPPROTO_TCP` or `IPPROTO_UDP`.
        protocol: u8,
        /// Its `SO_COOKIE`.
        cookie: u64,
    },
    /// A unix socket: its inode (in sockfs) and cookie.
    Unix {
        /// The socket's inode number, as fstat(2) of it shows.
        inode: u32,
        /// Its `SO_COOKIE`.
        cookie: u64,
    },
}

impl Bound {
    /// Whether this address (possibly a wildcard) covers `dest` for a
    /// socket of `protocol`.
    pub fn covers(&self, dest: &Address, protocol: Option<u8>) -> bool {
        match (&self.address, dest) {
            (Address::Inet(b), Address::Inet(d)) => {
                matches!(self.socket, Holder::Inet { protocol: p, .. } if Some(p) == protocol)
                    && b.port() == d.port()
                    && (b.ip() == d.ip() || (b.ip().is_unspecified() && is_local(d.ip())))
            }
            (bound, dest) => bound == dest,
        }
    }

    /// Whether this record is of the inet socket `cookie` of `protocol`.
    pub fn is_socket(&self, protocol: u8, cookie: u64) -> bool {
        self.socket == Holder::Inet { protocol, cookie }
    }
}

fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// The inet protocols whose sockets the allowance follows.
fn followed_protocol(sock: BorrowedFd<'_>) -> Option<u8> {
    match sockinfo::int_option(sock, libc::SO_PROTOCOL).ok()? {
        // UDP-Lite is UDP for the allowance: Python's test_socket talks
        // to itself over it (issue 9).
        p @ (libc::IPPROTO_TCP | libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE) => Some(p as u8),
        _ => None,
    }
}

/// The socket states that take connections or datagrams for `protocol`.
fn receiving_states(protocol: u8) -> u32 {
    const TCP_LISTEN: u32 = 10;
    if i32::from(protocol) == libc::IPPROTO_TCP {
        1 << TCP_LISTEN
    } else {
        u32::MAX
    }
}

/// Whether a socket bound to `local` may take what is sent to `dest` (or,
/// at a bind, share the address `dest`): wildcards overlap everything, and
/// an IPv6 wildcard takes IPv4 too unless IPV6_V6ONLY, which sock_diag does
/// not show here; erring towards overlap only withholds the allowance.
fn overlaps(local: IpAddr, dest: IpAddr) -> bool {
    local == dest || local.is_unspecified() || dest.is_unspecified()
}

/// After a successful inet bind: remembers the address the socket now holds,
/// unless a socket outside the tree holds it too.
fn remember_inet(call: &Call, sock: BorrowedFd<'_>) {
    let Some(protocol) = followed_protocol(sock) else {
        return;
    };
    let Ok(local) = net::local_address(sock) else {
        return;
    };
    let Ok(Checked {
        address: Some(Address::Inet(bound)),
        ..
    }) = decode(call, local, true)
    else {
        return;
    };
    if bound.port() == 0 {
        return;
    }
    let Ok(cookie) = sockinfo::cookie(sock) else {
        return;
    };
    let Ok(holders) = sockinfo::inet_sockets(protocol, bound.port(), receiving_states(protocol))
    else {
        return;
    };
    let shared = holders.iter().any(|s| {
        s.cookie != cookie
            && overlaps(s.local.ip(), bound.ip())
            && !call.shared.is_own_socket(protocol, s.cookie)
    });
    if !shared {
        call.shared.note_bound(Bound {
            address: Address::Inet(bound),
            socket: Holder::Inet { protocol, cookie },
        });
    }
}

/// Whether `sock` is an inet socket without a local port yet, which the
/// kernel gives one on its first send or connect.
fn is_unbound_inet(sock: BorrowedFd<'_>) -> bool {
    let Ok(local) = net::local_address(sock) else {
        return false;
    };
    let family = local
        .get(..2)
        .map(|b| i32::from(u16::from_ne_bytes([b[0], b[1]])));
    matches!(family, Some(libc::AF_INET | libc::AF_INET6))
        && local.len() >= 4
        && local[2..4] == [0, 0]
}

/// After a send or connect that gave an unbound socket its port: a UDP (or
/// UDP-Lite) socket's address counts as bound by the tree, so that a server
/// in the tree can answer it. A TCP client's port never takes connections.
fn remember_implicit(call: &Call, sock: BorrowedFd<'_>) {
    if followed_protocol(sock).is_some_and(|p| i32::from(p) != libc::IPPROTO_TCP) {
        remember_inet(call, sock);
    }
}

/// Whether `dest` is an address that only the tree's own sockets hold, as
/// the kernel says now, for a connect or send on `sock`.
///
/// RACE (known, documented): between this answer and the connect, the
/// tree's socket can be closed and an outside process bind the address.
/// Only a process outside that binds at that instant can win, which a
/// service does not; one that cooperates with the tree can reach it in
/// other ways (files in a shared directory).
fn held_by_tree(call: &Call, sock: BorrowedFd<'_>, checked: &Checked) -> bool {
    let Some(dest) = &checked.address else {
        return false;
    };
    let Address::Inet(d) = dest else {
        return unix_held_by_tree(call, dest, checked);
    };
    let Some(protocol) = followed_protocol(sock) else {
        return false;
    };
    if !call.shared.was_bound(dest, Some(protocol)) {
        return false;
    }
    let Ok(holders) = sockinfo::inet_sockets(protocol, d.port(), receiving_states(protocol)) else {
        return false;
    };
    let mut receivers = holders
        .iter()
        .filter(|s| overlaps(s.local.ip(), d.ip()))
        .peekable();
    receivers.peek().is_some() && receivers.all(|s| call.shared.is_own_socket(protocol, s.cookie))
}

/// After a successful unix bind: remembers the name with the socket.
fn remember_unix(call: &Call, sock: BorrowedFd<'_>, address: Address) {
    let (Ok(st), Ok(cookie)) = (fs::lstat_at(sock, b""), sockinfo::cookie(sock)) else {
        return;
    };
    let Ok(inode) = u32::try_from(st.ino) else {
        return;
    };
    call.shared.note_bound(Bound {
        address,
        socket: Holder::Unix { inode, cookie },
    });
}

/// Whether the unix name `dest` is held by a socket of the tree that is
/// still open and bound to it. A path is reached through a handle of its
/// socket file itself (`reach_file`), and no other socket can ever be bound
/// to that file, so a path has no race. An abstract name must be the very
/// bytes the tree's socket holds (the kernel tells `@x` from `@x` padded
/// with NULs; rules do not), and the kernel looks it up again.
///
/// RACE (known, documented): an abstract name freed by the tree between
/// this answer and the connect can be bound from outside in that instant.
fn unix_held_by_tree(call: &Call, dest: &Address, checked: &Checked) -> bool {
    let Some(Holder::Unix { inode, cookie }) = call.shared.holder_of(dest) else {
        return false;
    };
    let Ok(Some(shown)) = sockinfo::unix_socket(inode, cookie) else {
        return false;
    };
    match dest {
        Address::Unix(_) => checked
            .file
            .is_some_and(|(dev, ino)| shown.file == Some((sockinfo::kernel_dev(dev), ino as u32))),
        Address::Abstract(_) => shown.name.as_deref() == checked.bytes.get(2..),
        _ => false,
    }
}
