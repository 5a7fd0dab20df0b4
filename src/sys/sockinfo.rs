//! What a socket is, and which sockets hold a port: getsockopt(2) queries
//! and sock_diag(7) dumps of the inet socket tables.

use super::{Errno, Result, cvt};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// getsockopt(2) at `SOL_SOCKET` of an option whose value is an `int`
/// (`SO_DOMAIN`, `SO_TYPE`, `SO_PROTOCOL`, `SO_REUSEADDR`, ...).
pub fn int_option(sock: BorrowedFd<'_>, option: i32) -> Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// getsockopt(2) `SO_COOKIE` (socket(7)): a number that names the socket
/// for as long as the kernel runs, never reused, the one sock_diag reports.
pub fn cookie(sock: BorrowedFd<'_>) -> Result<u64> {
    let mut value: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut value as *mut u64).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// One inet socket as sock_diag(7) shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetSocket {
    /// The local address; an IPv4-mapped IPv6 address is given as IPv4.
    pub local: SocketAddr,
    /// The TCP state (`TCP_LISTEN` = 10); UDP sockets show 7 (TCP_CLOSE)
    /// unconnected and 1 (TCP_ESTABLISHED) connected.
    pub state: u8,
    /// The socket's cookie (`SO_COOKIE`).
    pub cookie: u64,
}

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// sizeof(struct inet_diag_req_v2).
const REQUEST_LEN: usize = 56;
/// sizeof(struct inet_diag_msg).
const MESSAGE_LEN: usize = 72;
const HEADER_LEN: usize = std::mem::size_of::<libc::nlmsghdr>();

/// The sockets of `protocol` (`IPPROTO_TCP`, `IPPROTO_UDP`) in both inet
/// families of the supervisor's network namespace whose local port is
/// `port`, in one of `states` (a mask of `1 << state`). A netlink
/// `SOCK_DIAG_BY_FAMILY` dump per family, filtered by port in the kernel
/// (inet_diag(7) has no man page; see linux/inet_diag.h).
pub fn inet_sockets(protocol: u8, port: u16, states: u32) -> Result<Vec<InetSocket>> {
    // SAFETY: integer arguments only.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    })?;
    // SAFETY: a new descriptor that we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut found = Vec::new();
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        send_request(sock.as_fd(), family, protocol, port, states)?;
        receive_dump(sock.as_fd(), &mut found)?;
    }
    Ok(found)
}

fn send_request(
    sock: BorrowedFd<'_>,
    family: u8,
    protocol: u8,
    port: u16,
    states: u32,
) -> Result<()> {
    let mut msg = Vec::with_capacity(HEADER_LEN + REQUEST_LEN);
    msg.extend_from_slice(&((HEADER_LEN + REQUEST_LEN) as u32).to_ne_bytes());
    msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    // struct inet_diag_req_v2: family, protocol, ext, pad, states, then the
    // socket id, whose source port the dump compares (network order).
    msg.extend_from_slice(&[family, protocol, 0, 0]);
    msg.extend_from_slice(&states.to_ne_bytes());
    msg.extend_from_slice(&port.to_be_bytes());
    msg.resize(HEADER_LEN + REQUEST_LEN, 0);
    // SAFETY: `msg` is readable for its length; a NULL address means the
    // kernel, which a netlink socket sends to by default.
    let sent = cvt(unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            0,
            std::ptr::null(),
            0,
        )
    })?;
    if sent as usize != msg.len() {
        return Err(Errno(libc::EIO));
    }
    Ok(())
}

fn receive_dump(sock: BorrowedFd<'_>, found: &mut Vec<InetSocket>) -> Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = cvt(unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })?
            as usize;
        if n == 0 {
            return Err(Errno(libc::EIO));
        }
        let mut at = 0;
        while at + HEADER_LEN <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
            if len < HEADER_LEN || at + len > n {
                return Err(Errno(libc::EIO));
            }
            let body = &buf[at + HEADER_LEN..at + len];
            match i32::from(kind) {
                libc::NLMSG_DONE => return Ok(()),
                libc::NLMSG_ERROR => {
                    let errno = body
                        .get(..4)
                        .map(|b| -i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                        .unwrap_or(libc::EIO);
                    return Err(Errno(if errno > 0 { errno } else { libc::EIO }));
                }
                _ if kind == SOCK_DIAG_BY_FAMILY && body.len() >= MESSAGE_LEN => {
                    found.push(parse_message(body));
                }
                _ => {}
            }
            at += (len + 3) & !3;
        }
    }
}

/// Reads one `struct inet_diag_msg`.
fn parse_message(body: &[u8]) -> InetSocket {
    let (family, state) = (body[0], body[1]);
    let port = u16::from_be_bytes([body[4], body[5]]);
    let ip = if i32::from(family) == libc::AF_INET {
        IpAddr::V4(Ipv4Addr::new(body[8], body[9], body[10], body[11]))
    } else {
        let octets: [u8; 16] = body[8..24].try_into().expect("16 bytes");
        let v6 = Ipv6Addr::from(octets);
        v6.to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6))
    };
    let word = |at: usize| u32::from_ne_bytes(body[at..at + 4].try_into().expect("4 bytes"));
    let cookie = u64::from(word(44)) | (u64::from(word(48)) << 32);
    InetSocket {
        local: SocketAddr::new(ip, port),
        state,
        cookie,
    }
}

/// A unix socket as sock_diag(7) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixSocket {
    /// The name it is bound to, as the kernel keeps it (an abstract name
    /// starts with NUL), if any.
    pub name: Option<Vec<u8>>,
    /// The socket file it is bound to: the kernel's (unencoded) device
    /// number and the inode number, both truncated to 32 bits, if any.
    pub file: Option<(u32, u32)>,
}

/// `UNIX_DIAG_NAME`, `UNIX_DIAG_VFS` (linux/unix_diag.h).
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_VFS: u16 = 1;
/// `UDIAG_SHOW_NAME | UDIAG_SHOW_VFS`.
const UDIAG_SHOW_NAME_VFS: u32 = 1 | 2;

/// The unix socket whose inode is `inode` and whose cookie is `cookie`, in
/// the supervisor's network namespace: `None` once it is closed (ENOENT)
/// or the inode names another socket (ESTALE). A `SOCK_DIAG_BY_FAMILY`
/// request for one socket (see linux/unix_diag.h).
pub fn unix_socket(inode: u32, cookie: u64) -> Result<Option<UnixSocket>> {
    // SAFETY: integer arguments only.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    })?;
    // SAFETY: a new descriptor that we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    const REQ_LEN: usize = 24;
    let mut msg = Vec::with_capacity(HEADER_LEN + REQ_LEN);
    msg.extend_from_slice(&((HEADER_LEN + REQ_LEN) as u32).to_ne_bytes());
    msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    // struct unix_diag_req: family, protocol, pad, states, inode, show,
    // cookie.
    msg.extend_from_slice(&[libc::AF_UNIX as u8, 0, 0, 0]);
    msg.extend_from_slice(&u32::MAX.to_ne_bytes());
    msg.extend_from_slice(&inode.to_ne_bytes());
    msg.extend_from_slice(&UDIAG_SHOW_NAME_VFS.to_ne_bytes());
    msg.extend_from_slice(&(cookie as u32).to_ne_bytes());
    msg.extend_from_slice(&((cookie >> 32) as u32).to_ne_bytes());
    // SAFETY: `msg` is readable for its length; NULL addresses the kernel.
    cvt(unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            0,
            std::ptr::null(),
            0,
        )
    })?;
    let mut buf = vec![0u8; 8192];
    // SAFETY: `buf` is writable for its length.
    let n = cvt(unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) })?
        as usize;
    if n < HEADER_LEN {
        return Err(Errno(libc::EIO));
    }
    let len = (u32::from_ne_bytes(buf[..4].try_into().expect("4 bytes")) as usize).min(n);
    let kind = u16::from_ne_bytes(buf[4..6].try_into().expect("2 bytes"));
    let body = &buf[HEADER_LEN..len];
    if i32::from(kind) == libc::NLMSG_ERROR {
        let errno = body
            .get(..4)
            .map(|b| -i32::from_ne_bytes(b.try_into().expect("4 bytes")))
            .unwrap_or(libc::EIO);
        return match errno {
            libc::ENOENT | libc::ESTALE => Ok(None),
            e => Err(Errno(if e > 0 { e } else { libc::EIO })),
        };
    }
    // struct unix_diag_msg (16 bytes), then attributes.
    let mut found = UnixSocket {
        name: None,
        file: None,
    };
    let mut at = 16;
    while at + 4 <= body.len() {
        let attr_len = usize::from(u16::from_ne_bytes([body[at], body[at + 1]]));
        let attr_type = u16::from_ne_bytes([body[at + 2], body[at + 3]]);
        if attr_len < 4 || at + attr_len > body.len() {
            break;
        }
        let value = &body[at + 4..at + attr_len];
        match attr_type {
            UNIX_DIAG_NAME => found.name = Some(value.to_vec()),
            UNIX_DIAG_VFS if value.len() >= 8 => {
                let word = |i: usize| u32::from_ne_bytes(value[i..i + 4].try_into().expect("4"));
                found.file = Some((word(4), word(0)));
            }
            _ => {}
        }
        at += (attr_len + 3) & !3;
    }
    Ok(Some(found))
}

/// A device number as stat(2) encodes it, in the kernel's own encoding
/// (major << 20 | minor), which sock_diag reports.
pub fn kernel_dev(st_dev: u64) -> u32 {
    let major = ((st_dev >> 8) & 0xfff) as u32;
    let minor = ((st_dev & 0xff) | ((st_dev >> 12) & 0xfff00)) as u32;
    (major << 20) | minor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tcp_listener_is_found_by_its_port_with_its_cookie() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let own = cookie(listener.as_fd()).unwrap();
        let found = inet_sockets(libc::IPPROTO_TCP as u8, port, 1 << 10).unwrap();
        assert_eq!(
            found,
            vec![InetSocket {
                local: listener.local_addr().unwrap(),
                state: 10,
                cookie: own,
            }]
        );
    }

    #[test]
    fn a_bound_unix_socket_shows_its_file_until_it_closes() {
        let dir = std::env::temp_dir().join(format!("sockinfo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("s");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let inode = super::super::fs::lstat_at(listener.as_fd(), b"")
            .unwrap()
            .ino as u32;
        let own = cookie(listener.as_fd()).unwrap();
        let file = std::fs::symlink_metadata(&path).unwrap();
        use std::os::unix::fs::MetadataExt;
        let shown = unix_socket(inode, own).unwrap().expect("alive");
        assert_eq!(
            shown.file,
            Some((kernel_dev(file.dev()), file.ino() as u32))
        );
        let name = shown.name.unwrap();
        let name = name.strip_suffix(b"\0").unwrap_or(&name);
        assert!(name.ends_with(b"/s"), "{name:?}");
        assert_eq!(unix_socket(inode, own ^ 1).unwrap(), None, "another cookie");
        drop(listener);
        assert_eq!(unix_socket(inode, own).unwrap(), None, "closed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn udp_sockets_of_other_ports_are_not_listed() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("[::1]:0").ok();
        let port = a.local_addr().unwrap().port();
        let found = inet_sockets(libc::IPPROTO_UDP as u8, port, u32::MAX).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].cookie, cookie(a.as_fd()).unwrap());
        if let Some(b) = b {
            let port = b.local_addr().unwrap().port();
            let found = inet_sockets(libc::IPPROTO_UDP as u8, port, u32::MAX).unwrap();
            assert!(found.iter().any(|s| s.local == b.local_addr().unwrap()));
        }
    }
}
