//! The caller's user namespace, as far as the supervisor must know it to lend
//! no privilege: whether the caller shares the supervisor's namespace (only
//! then are its capabilities valid where the supervisor acts), and how the
//! ids it passes map to the supervisor's (`/proc/PID/uid_map`, `gid_map`).
//!
//! `/proc/PID/status` needs no translation: the kernel shows its `Uid:`,
//! `Gid:` and `Groups:` lines in the namespace of the process that opened
//! it, which for us is the supervisor's. `CapEff:` is the raw set, valid only
//! in the caller's own namespace.

use crate::sys::{Errno, fs};
use std::sync::OnceLock;

/// A namespace, by the device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NamespaceId {
    dev: u64,
    ino: u64,
}

fn namespace_of(path: &str) -> Result<NamespaceId, Errno> {
    let st = fs::stat_path(path.as_bytes())?;
    Ok(NamespaceId {
        dev: st.dev,
        ino: st.ino,
    })
}

/// Whether thread `pid` is in the same namespace of `kind` (`user`, `pid`,
/// as under `/proc/PID/ns/`) as the supervisor. The caller's namespace
/// cannot change while it waits in a call: unshare and setns of a user
/// namespace need a single-threaded process, and the caller is stopped.
pub fn shares_ours(pid: u32, kind: &str) -> Result<bool, Errno> {
    static OURS: OnceLock<[Option<NamespaceId>; 2]> = OnceLock::new();
    let ours = OURS.get_or_init(|| {
        [
            namespace_of("/proc/self/ns/user").ok(),
            namespace_of("/proc/self/ns/pid").ok(),
        ]
    });
    let own = match kind {
        "user" => ours[0],
        _ => ours[1],
    };
    let theirs = namespace_of(&format!("/proc/{pid}/ns/{kind}"))?;
    // Unknown to us (no /proc?): the caller is taken as foreign, the side
    // that lends nothing.
    Ok(own == Some(theirs))
}

/// One line of a uid_map or gid_map: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    inside: u32,
    outside: u32,
    count: u32,
}

/// An id map read from `/proc/PID/uid_map` or `gid_map` by the supervisor:
/// the outside ids are in the supervisor's own namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMap {
    extents: Vec<Extent>,
}

impl IdMap {
    /// Reads the caller's `uid_map` (`which` = "uid") or `gid_map` ("gid").
    pub fn read(pid: u32, which: &str) -> Result<IdMap, Errno> {
        let mut buf = Vec::with_capacity(256);
        fs::read_small_file(format!("/proc/{pid}/{which}_map").as_bytes(), &mut buf)?;
        Ok(IdMap::parse(&buf))
    }

    /// Parses the text of a map. Lines that do not parse are skipped: they
    /// map nothing, which refuses their ids (the safe side).
    pub fn parse(text: &[u8]) -> IdMap {
        let extents = String::from_utf8_lossy(text)
            .lines()
            .filter_map(|line| {
                let mut f = line.split_whitespace().map(|v| v.parse::<u32>().ok());
                let (inside, outside, count) = (f.next()??, f.next()??, f.next()??);
                Some(Extent {
                    inside,
                    outside,
                    count,
                })
            })
            .collect();
        IdMap { extents }
    }

    /// The supervisor's id for the caller's `id`, or `None` when the
    /// caller's namespace does not map it (the kernel then fails the call
    /// with EINVAL). An outside id of `u32::MAX` means the extent is not
    /// visible from our namespace.
    pub fn to_outside(&self, id: u32) -> Option<u32> {
        self.extents.iter().find_map(|e| {
            let offset = id.checked_sub(e.inside)?;
            if offset >= e.count || e.outside == u32::MAX {
                return None;
            }
            e.outside.checked_add(offset).filter(|&out| out != u32::MAX)
        })
    }
}

/// Maps a `chown`-style pair of ids from the caller's namespace to ours:
/// `-1` (leave unchanged) stays, an unmapped id is EINVAL as in the kernel.
/// A caller in our own namespace passes its ids unchanged.
pub fn map_owner(pid: u32, uid: u32, gid: u32) -> Result<(u32, u32), Errno> {
    if shares_ours(pid, "user")? {
        return Ok((uid, gid));
    }
    let map = |id: u32, which: &str| -> Result<u32, Errno> {
        if id == u32::MAX {
            return Ok(id);
        }
        IdMap::read(pid, which)?
            .to_outside(id)
            .ok_or(Errno(libc::EINVAL))
    };
    Ok((map(uid, "uid")?, map(gid, "gid")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_map_translates_within_extents_only() {
        let map =
            IdMap::parse(b"         0       1001          1\n      1000     100000      65536\n");
        assert_eq!(map.to_outside(0), Some(1001));
        assert_eq!(map.to_outside(1), None);
        assert_eq!(map.to_outside(1000), Some(100000));
        assert_eq!(map.to_outside(66535), Some(165535));
        assert_eq!(map.to_outside(66536), None);
    }

    #[test]
    fn empty_map_maps_nothing() {
        assert_eq!(IdMap::parse(b"").to_outside(0), None);
    }

    #[test]
    fn extent_invisible_from_our_namespace_maps_nothing() {
        let map = IdMap::parse(b"0 4294967295 1\n");
        assert_eq!(map.to_outside(0), None);
    }

    #[test]
    fn overflowing_extent_stops_before_the_invalid_id() {
        let map = IdMap::parse(b"0 4294967290 10\n");
        assert_eq!(map.to_outside(4), Some(4294967294));
        assert_eq!(map.to_outside(5), None);
    }
}
