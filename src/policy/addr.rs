//! Network address rules and socket addresses.
//!
//! A net rule pattern is one of:
//! - `IP[/PREFIX][!PORTS]`, e.g. `127.0.0.1!80`, `10.0.0.0/8`, `fe80::/10!22`;
//! - an alias with optional ports: `any`, `any4`, `any6`, `loopback`,
//!   `loopback4`, `loopback6` (e.g. `loopback!1024-65535`);
//! - `/GLOB`: a UNIX socket path, with the path glob syntax;
//! - `@GLOB`: an abstract UNIX socket name (without its leading NUL).
//!
//! PORTS is `N`, `LOW-HIGH`, or a comma list of those; no `!` means every
//! port.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::pattern::{Pattern, PatternErrorKind};

/// The address a socket call names, as the supervisor decoded it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A UNIX socket path (absolute path bytes).
    Unix(Vec<u8>),
    /// An abstract UNIX socket name, without the leading NUL.
    Abstract(Vec<u8>),
    /// An unnamed UNIX socket (no address); never restricted.
    Unnamed,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(addr) => write!(f, "{addr}"),
            Address::Unix(path) => write!(f, "{}", String::from_utf8_lossy(path)),
            Address::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
            Address::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

/// A compiled net rule pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPattern {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Any of the networks, on any of the ports.
    Inet {
        networks: Vec<Network>,
        ports: Ports,
    },
    Unix(Pattern),
    Abstract(Pattern),
}

/// An IP network; host bits are cleared at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    V4 { bits: u32, prefix: u8 },
    V6 { bits: u128, prefix: u8 },
}

impl Network {
    fn v4(addr: Ipv4Addr, prefix: u8) -> Network {
        Network::V4 {
            bits: u32::from(addr) & mask32(prefix),
            prefix,
        }
    }

    fn v6(addr: Ipv6Addr, prefix: u8) -> Network {
        Network::V6 {
            bits: u128::from(addr) & mask128(prefix),
            prefix,
        }
    }

    /// A v6 network inside `::ffff:0:0/96` is the v4 network it maps, so
    /// that it matches the way mapped addresses are judged.
    fn from_ip(ip: IpAddr, prefix: u8) -> Network {
        match ip {
            IpAddr::V4(v4) => Network::v4(v4, prefix),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => Network::v4(v4, prefix - 96),
                _ => Network::v6(v6, prefix),
            },
        }
    }

    fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Network::V4 { bits, prefix }, IpAddr::V4(a)) => u32::from(a) & mask32(prefix) == bits,
            (Network::V6 { bits, prefix }, IpAddr::V6(a)) => {
                u128::from(a) & mask128(prefix) == bits
            }
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// Inclusive port ranges; `None` means every port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ports(Option<Vec<(u16, u16)>>);

impl Ports {
    fn contains(&self, port: u16) -> bool {
        self.0.as_ref().is_none_or(|ranges| {
            ranges
                .iter()
                .any(|&(low, high)| (low..=high).contains(&port))
        })
    }
}

/// Where a net rule pattern is malformed and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    /// Byte offset in the pattern.
    pub position: usize,
    /// What is wrong.
    pub kind: AddressErrorKind,
}

/// What is wrong with a net rule pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressErrorKind {
    /// The pattern is empty.
    Empty,
    /// Not an IP address, alias, `/path` or `@name`.
    NotAnAddress,
    /// A prefix length out of range for the address family.
    BadPrefix {
        /// The largest length allowed (32 or 128).
        max: u8,
    },
    /// Not a port number in 0..=65535.
    BadPort,
    /// A port range whose low end is above its high end.
    BackwardPortRange,
    /// A UNIX socket path or abstract name glob is malformed.
    Pattern(PatternErrorKind),
}

impl fmt::Display for AddressErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressErrorKind::Empty => f.write_str("the address is empty"),
            AddressErrorKind::NotAnAddress => f.write_str(
                "expected an IP address, `any`, `any4`, `any6`, `loopback`, `loopback4`, \
                 `loopback6`, a socket path starting with `/` or an abstract name starting with `@`",
            ),
            AddressErrorKind::BadPrefix { max } => {
                write!(f, "expected a prefix length from 0 to {max}")
            }
            AddressErrorKind::BadPort => f.write_str("expected a port number from 0 to 65535"),
            AddressErrorKind::BackwardPortRange => f.write_str("the port range runs backwards"),
            AddressErrorKind::Pattern(kind) => write!(f, "{kind}"),
        }
    }
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.position)
    }
}

impl std::error::Error for AddressError {}

fn fail<T>(position: usize, kind: AddressErrorKind) -> Result<T, AddressError> {
    Err(AddressError { position, kind })
}

impl AddressPattern {
    /// Compiles a net rule pattern.
    pub fn parse(source: &[u8]) -> Result<AddressPattern, AddressError> {
        let kind = match source.first() {
            None => return fail(0, AddressErrorKind::Empty),
            Some(b'/') => Kind::Unix(glob(source, 0)?),
            Some(b'@') if source.len() == 1 => return fail(1, AddressErrorKind::Empty),
            Some(b'@') => Kind::Abstract(glob(&source[1..], 1)?),
            Some(_) => parse_inet(source)?,
        };
        Ok(AddressPattern { kind })
    }

    /// Whether `addr` matches. An IPv4-mapped IPv6 address is judged as the
    /// IPv4 address it carries; an unnamed address matches nothing.
    pub fn matches(&self, addr: &Address) -> bool {
        match (&self.kind, addr) {
            (Kind::Inet { networks, ports }, Address::Inet(sa)) => {
                let ip = sa.ip().to_canonical();
                ports.contains(sa.port()) && networks.iter().any(|n| n.contains(ip))
            }
            (Kind::Unix(glob), Address::Unix(path)) => glob.matches(path),
            (Kind::Abstract(glob), Address::Abstract(name)) => glob.matches(name),
            _ => false,
        }
    }
}

fn glob(source: &[u8], offset: usize) -> Result<Pattern, AddressError> {
    Pattern::new(source).map_err(|e| AddressError {
        position: offset + e.position,
        kind: AddressErrorKind::Pattern(e.kind),
    })
}

/// `HOST[!PORTS]` where HOST is an alias or `IP[/PREFIX]`.
fn parse_inet(source: &[u8]) -> Result<Kind, AddressError> {
    let (host, ports) = match source.iter().position(|&b| b == b'!') {
        Some(bang) => (&source[..bang], parse_ports(&source[bang + 1..], bang + 1)?),
        None => (source, Ports(None)),
    };
    let networks = match alias(host) {
        Some(networks) => networks,
        None => vec![parse_network(host)?],
    };
    Ok(Kind::Inet { networks, ports })
}

fn alias(host: &[u8]) -> Option<Vec<Network>> {
    let any4 = Network::v4(Ipv4Addr::UNSPECIFIED, 0);
    let any6 = Network::v6(Ipv6Addr::UNSPECIFIED, 0);
    let loopback4 = Network::v4(Ipv4Addr::LOCALHOST, 8);
    let loopback6 = Network::v6(Ipv6Addr::LOCALHOST, 128);
    Some(match host {
        b"any" => vec![any4, any6],
        b"any4" => vec![any4],
        b"any6" => vec![any6],
        b"loopback" => vec![loopback4, loopback6],
        b"loopback4" => vec![loopback4],
        b"loopback6" => vec![loopback6],
        _ => return None,
    })
}

/// `IP[/PREFIX]`.
fn parse_network(host: &[u8]) -> Result<Network, AddressError> {
    let (ip_text, prefix_text) = match host.iter().position(|&b| b == b'/') {
        Some(slash) => (&host[..slash], Some((&host[slash + 1..], slash + 1))),
        None => (host, None),
    };
    let Some(ip) = std::str::from_utf8(ip_text)
        .ok()
        .and_then(|s| s.parse::<IpAddr>().ok())
    else {
        return fail(0, AddressErrorKind::NotAnAddress);
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some((text, at)) => match parse_decimal(text) {
            Some(n) if n <= u32::from(max) => n as u8,
            _ => return fail(at, AddressErrorKind::BadPrefix { max }),
        },
    };
    Ok(Network::from_ip(ip, prefix))
}

/// `N`, `LOW-HIGH`, or a comma list of those; `offset` is where `text` starts.
fn parse_ports(text: &[u8], offset: usize) -> Result<Ports, AddressError> {
    let mut ranges = Vec::new();
    let mut at = offset;
    for item in text.split(|&b| b == b',') {
        let port = |digits: &[u8], pos: usize| match parse_decimal(digits) {
            Some(n) if n <= u32::from(u16::MAX) => Ok(n as u16),
            _ => fail(pos, AddressErrorKind::BadPort),
        };
        let range = match item.iter().position(|&b| b == b'-') {
            Some(dash) => {
                let (low, high) = (
                    port(&item[..dash], at)?,
                    port(&item[dash + 1..], at + dash + 1)?,
                );
                if low > high {
                    return fail(at, AddressErrorKind::BackwardPortRange);
                }
                (low, high)
            }
            None => {
                let n = port(item, at)?;
                (n, n)
            }
        };
        ranges.push(range);
        at += item.len() + 1;
    }
    Ok(Ports(Some(ranges)))
}

/// ASCII digits only (no sign, no spaces), at most 10 of them.
fn parse_decimal(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> AddressPattern {
        AddressPattern::parse(text.as_bytes()).unwrap()
    }

    fn inet(text: &str) -> Address {
        Address::Inet(text.parse().unwrap())
    }

    fn error(text: &str) -> (usize, AddressErrorKind) {
        let e = AddressPattern::parse(text.as_bytes()).unwrap_err();
        (e.position, e.kind)
    }

    #[test]
    fn single_ipv4_without_ports_matches_every_port() {
        let p = pattern("127.0.0.1");
        assert!(p.matches(&inet("127.0.0.1:1")));
        assert!(p.matches(&inet("127.0.0.1:65535")));
        assert!(!p.matches(&inet("127.0.0.2:1")));
    }

    #[test]
    fn single_port() {
        let p = pattern("127.0.0.1!80");
        assert!(p.matches(&inet("127.0.0.1:80")));
        assert!(!p.matches(&inet("127.0.0.1:81")));
    }

    #[test]
    fn port_list_with_ranges() {
        let p = pattern("10.0.0.1!80,443,1024-2048");
        for port in [80, 443, 1024, 1500, 2048] {
            assert!(p.matches(&inet(&format!("10.0.0.1:{port}"))), "{port}");
        }
        for port in [0, 81, 1023, 2049] {
            assert!(!p.matches(&inet(&format!("10.0.0.1:{port}"))), "{port}");
        }
    }

    #[test]
    fn ipv4_cidr() {
        let p = pattern("192.168.0.0/16!22");
        assert!(p.matches(&inet("192.168.200.1:22")));
        assert!(!p.matches(&inet("192.169.0.1:22")));
    }

    #[test]
    fn cidr_host_bits_are_ignored() {
        assert!(pattern("10.1.2.3/8").matches(&inet("10.200.0.1:5")));
    }

    #[test]
    fn zero_prefix_matches_every_ipv4() {
        assert!(pattern("0.0.0.0/0").matches(&inet("8.8.8.8:53")));
        assert!(!pattern("0.0.0.0/0").matches(&inet("[::1]:53")));
    }

    #[test]
    fn ipv6_literal_with_port() {
        let p = pattern("::1!80");
        assert!(p.matches(&inet("[::1]:80")));
        assert!(!p.matches(&inet("[::2]:80")));
    }

    #[test]
    fn ipv6_cidr() {
        let p = pattern("fe80::/10!22");
        assert!(p.matches(&inet("[fe80::1234]:22")));
        assert!(p.matches(&inet("[febf::1]:22")));
        assert!(!p.matches(&inet("[fec0::1]:22")));
    }

    #[test]
    fn ipv4_mapped_address_is_judged_as_ipv4() {
        assert!(pattern("127.0.0.0/8").matches(&inet("[::ffff:127.0.0.5]:80")));
        assert!(!pattern("::/0").matches(&inet("[::ffff:127.0.0.5]:80")));
    }

    #[test]
    fn ipv4_mapped_pattern_is_an_ipv4_network() {
        assert!(pattern("::ffff:10.0.0.0/104").matches(&inet("10.9.9.9:1")));
    }

    #[test]
    fn any_covers_both_families() {
        let p = pattern("any!53");
        assert!(p.matches(&inet("8.8.8.8:53")));
        assert!(p.matches(&inet("[2001:db8::1]:53")));
        assert!(!p.matches(&inet("8.8.8.8:54")));
    }

    #[test]
    fn any4_and_any6_cover_one_family() {
        assert!(pattern("any4").matches(&inet("1.2.3.4:1")));
        assert!(!pattern("any4").matches(&inet("[::2]:1")));
        assert!(pattern("any6").matches(&inet("[::2]:1")));
        assert!(!pattern("any6").matches(&inet("1.2.3.4:1")));
    }

    #[test]
    fn loopback_covers_127_8_and_ipv6_loopback() {
        let p = pattern("loopback!1024-65535");
        assert!(p.matches(&inet("127.1.2.3:5000")));
        assert!(p.matches(&inet("[::1]:5000")));
        assert!(!p.matches(&inet("127.0.0.1:80")));
        assert!(!p.matches(&inet("128.0.0.1:5000")));
        assert!(pattern("loopback4").matches(&inet("127.0.0.1:1")));
        assert!(!pattern("loopback4").matches(&inet("[::1]:1")));
        assert!(pattern("loopback6").matches(&inet("[::1]:1")));
    }

    #[test]
    fn unix_path_glob() {
        let p = pattern("/run/nscd/***");
        assert!(p.matches(&Address::Unix(b"/run/nscd/socket".to_vec())));
        assert!(!p.matches(&Address::Unix(b"/run/other".to_vec())));
        assert!(!p.matches(&Address::Abstract(b"/run/nscd/socket".to_vec())));
    }

    #[test]
    fn abstract_name_glob() {
        let p = pattern("@dbus-*");
        assert!(p.matches(&Address::Abstract(b"dbus-1234".to_vec())));
        assert!(!p.matches(&Address::Abstract(b"x11".to_vec())));
        assert!(!p.matches(&Address::Unix(b"dbus-1234".to_vec())));
    }

    #[test]
    fn unnamed_matches_no_pattern() {
        assert!(!pattern("any").matches(&Address::Unnamed));
        assert!(!pattern("/***").matches(&Address::Unnamed));
    }

    #[test]
    fn rejects_prefix_beyond_family_width() {
        assert_eq!(
            error("127.0.0.1/33"),
            (10, AddressErrorKind::BadPrefix { max: 32 })
        );
        assert_eq!(
            error("::1/129"),
            (4, AddressErrorKind::BadPrefix { max: 128 })
        );
    }

    #[test]
    fn rejects_port_above_65535() {
        assert_eq!(error("1.2.3.4!70000"), (8, AddressErrorKind::BadPort));
    }

    #[test]
    fn rejects_backward_port_range() {
        assert_eq!(
            error("1.2.3.4!80,10-5"),
            (11, AddressErrorKind::BackwardPortRange)
        );
    }

    #[test]
    fn rejects_empty_port_list_item() {
        assert_eq!(error("1.2.3.4!80,"), (11, AddressErrorKind::BadPort));
        assert_eq!(error("any!"), (4, AddressErrorKind::BadPort));
    }

    #[test]
    fn rejects_non_address() {
        assert_eq!(error("localhost!80"), (0, AddressErrorKind::NotAnAddress));
        assert_eq!(error("1.2.3!80"), (0, AddressErrorKind::NotAnAddress));
    }

    #[test]
    fn rejects_empty_and_bare_at() {
        assert_eq!(error(""), (0, AddressErrorKind::Empty));
        assert_eq!(error("@"), (1, AddressErrorKind::Empty));
    }

    #[test]
    fn rejects_bad_socket_glob_with_position() {
        assert_eq!(
            error("@a[b"),
            (
                2,
                AddressErrorKind::Pattern(PatternErrorKind::UnterminatedClass)
            )
        );
    }

    #[test]
    fn displays_addresses() {
        assert_eq!(inet("[::1]:80").to_string(), "[::1]:80");
        assert_eq!(Address::Abstract(b"x".to_vec()).to_string(), "@x");
    }
}
