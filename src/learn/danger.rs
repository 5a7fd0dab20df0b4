//! Accesses that are dangerous to allow: left out of a learned profile
//! unless asked for, with a comment saying why.

use super::{Places, is_under};
use crate::policy::Category;
use std::fmt;
use std::net::IpAddr;

/// Why an access is dangerous to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Danger {
    /// A write under a system directory (`/etc`, `/usr`).
    SystemWrite(&'static str),
    /// A write under a private directory of `$HOME` (`.ssh`, `.config`).
    HomeWrite(&'static str),
    /// A read of `$HOME/.ssh`.
    KeyRead,
    /// A connect or send to an address outside loopback.
    Remote,
    /// An exec of a shell from a temporary directory.
    TmpShell,
}

impl fmt::Display for Danger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Danger::SystemWrite(dir) => write!(f, "a write under {dir}"),
            Danger::HomeWrite(dir) => write!(f, "a write under ${{HOME}}/{dir}"),
            Danger::KeyRead => f.write_str("a read of ${HOME}/.ssh"),
            Danger::Remote => f.write_str("a connection outside loopback"),
            Danger::TmpShell => f.write_str("an exec of a shell from a temporary directory"),
        }
    }
}

/// System directories no build should write into.
const SYSTEM_DIRS: [&str; 2] = ["/etc", "/usr"];
/// Directories of `$HOME` that hold keys and settings.
const HOME_DIRS: [&str; 2] = [".ssh", ".config"];
/// Where a shell has no business being run from.
const TMP_DIRS: [&[u8]; 3] = [b"/tmp", b"/var/tmp", b"/dev/shm"];
/// Shells, by the name of their executable.
const SHELLS: [&[u8]; 12] = [
    b"sh", b"bash", b"dash", b"ash", b"zsh", b"ksh", b"mksh", b"csh", b"tcsh", b"fish", b"busybox",
    b"rbash",
];

/// Whether an access of category `c` to `subject` is dangerous.
pub(super) fn classify(c: Category, subject: &[u8], places: &Places) -> Option<Danger> {
    match c {
        Category::Write => write_danger(subject, places),
        Category::Read => {
            let home = places.home()?;
            let ssh = [home, b"/.ssh"].concat();
            is_under(subject, &ssh).then_some(Danger::KeyRead)
        }
        Category::Exec => tmp_shell(subject, places).then_some(Danger::TmpShell),
        Category::NetConnect => remote(subject).then_some(Danger::Remote),
        Category::Stat | Category::NetBind => None,
    }
}

fn write_danger(path: &[u8], places: &Places) -> Option<Danger> {
    // The user chose to build there.
    if places.build_area().is_some_and(|b| is_under(path, b)) {
        return None;
    }
    if let Some(dir) = SYSTEM_DIRS.iter().find(|d| is_under(path, d.as_bytes())) {
        return Some(Danger::SystemWrite(dir));
    }
    let home = places.home()?;
    HOME_DIRS
        .iter()
        .find(|d| is_under(path, &[home, b"/", d.as_bytes()].concat()))
        .map(|d| Danger::HomeWrite(d))
}

fn tmp_shell(path: &[u8], places: &Places) -> bool {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let in_tmp = TMP_DIRS.iter().any(|t| is_under(path, t))
        || places.tmp_area().is_some_and(|t| is_under(path, t));
    in_tmp && SHELLS.contains(&name)
}

/// Whether a connect subject (`IP!PORT`) leaves the machine. UNIX sockets
/// and abstract names never do; the unspecified address means this host.
fn remote(subject: &[u8]) -> bool {
    let text = String::from_utf8_lossy(subject);
    let Some((ip, _port)) = text.rsplit_once('!') else {
        return false;
    };
    match ip.parse::<IpAddr>() {
        Ok(ip) => {
            let ip = ip.to_canonical();
            !(ip.is_loopback() || ip.is_unspecified())
        }
        Err(_) => false,
    }
}
