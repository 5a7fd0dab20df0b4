//! Built-in profiles, as config-file text (parse with
//! [`parse_config`](super::parse_config)).

/// Package builds as Paludis runs them: writes confined to devices, temporary
/// and cache directories; binding only to loopback; connecting only to nscd.
const PALUDIS: &str = "\
# Paludis package builds.
sandbox/write:on
sandbox/read:off
sandbox/exec:off
sandbox/stat:off

allow/write+/dev/null
allow/write+/dev/zero
allow/write+/dev/full
allow/write+/dev/tty
allow/write+/dev/console
allow/write+/dev/ptmx
allow/write+/dev/random
allow/write+/dev/urandom
allow/write+/dev/stdout
allow/write+/dev/stderr
allow/write+/dev/pts/***
allow/write+/dev/shm/***
allow/write+/dev/fd/***
allow/write+/proc/self/fd/***
allow/write+/proc/self/attr/***
allow/write+/proc/self/task/***
allow/write+/tmp/***
allow/write+/var/tmp/***
allow/write+/var/cache/***

sandbox/net:on
allow/net/bind+loopback!0
allow/net/bind+loopback!1024-65535
allow/net/connect+/var/run/nscd/socket
allow/net/connect+/run/nscd/socket
";

/// What `sydbox --profile paludis` gives: the same policy as sydbox-1's own
/// paludis profile (`paludis.syd-1`), in native rules. It differs from
/// [`PALUDIS`] where sydbox-1 did: plain patterns are prefixes
/// (`core/match/no_wildcard:prefix`, so `allow_net unix:${TMPDIR}` covers
/// sockets beneath it), terminals are matched as `/dev/tty*`, `/dev/pty*`,
/// `/dev/tts` and `/dev/pts`, and SELinux contexts may be written.
const PALUDIS_SYDBOX: &str = "\
# Paludis package builds, as sydbox-1's paludis profile has them.
sandbox/exec:off
sandbox/read:off
sandbox/stat:off
sandbox/write:on
default/write:deny
sandbox/net:on
default/net:deny
report/safe:off
match/no_wildcard:prefix

allow/write+/dev/stdout
allow/write+/dev/stderr
allow/write+/dev/zero
allow/write+/dev/null
allow/write+/dev/full
allow/write+/dev/console
allow/write+/dev/random
allow/write+/dev/urandom
allow/write+/dev/ptmx
allow/write+/dev/fd/***
allow/write+/dev/tty*
allow/write+/dev/pty*
allow/write+/dev/tts
allow/write+/dev/pts
allow/write+/dev/shm/***
allow/write+/selinux/context/***
allow/write+/proc/self/attr/***
allow/write+/proc/self/fd/***
allow/write+/proc/self/task/***
allow/write+/tmp/***
allow/write+/var/tmp/***
allow/write+/var/cache/***

allow/net/bind+loopback4!0
allow/net/bind+loopback4!1024-65535
allow/net/bind+loopback6!0
allow/net/bind+loopback6!1024-65535
allow/net/connect+/var/run/nscd/socket
allow/net/connect+/run/nscd/socket
";

/// What stockade invoked as `sydbox` starts from, before any profile, file
/// or rule: sydbox-1's errnos (EPERM for a denied read or write, EACCES for
/// a denied exec, EADDRNOTAVAIL for a denied bind, ECONNREFUSED for a denied
/// connect; a denied stat stays ENOENT, sydbox-1 had no stat checks) and its
/// defaults for pattern matching and safe denials.
pub const SYDBOX_DEFAULTS: &str = "\
errno/read,write:EPERM
errno/exec:EACCES
errno/net/bind:EADDRNOTAVAIL
errno/net/connect:ECONNREFUSED
match/no_wildcard:literal
report/safe:off
";

/// No network: every bind and connect with an address is denied.
const NONET: &str = "\
# No network access (unnamed sockets still work).
sandbox/net:on
";

/// The filesystem is read-only except for a few devices.
const READONLY: &str = "\
# Read-only filesystem, except terminals and the null-like devices.
sandbox/write:on
allow/write+/dev/null
allow/write+/dev/zero
allow/write+/dev/full
allow/write+/dev/tty
allow/write+/dev/pts/***
allow/write+/dev/fd/***
allow/write+/proc/self/fd/***
";

/// Names and texts, in the same order.
const NAMES: [&str; 3] = ["paludis", "nonet", "readonly"];
const TEXTS: [&str; 3] = [PALUDIS, NONET, READONLY];

/// The profile called `name` as config-file text, or `None` if there is none.
pub fn profile(name: &str) -> Option<&'static str> {
    NAMES.iter().position(|&n| n == name).map(|i| TEXTS[i])
}

/// The profile called `name` for stockade invoked as `sydbox`: sydbox-1's
/// own where it had one (`paludis`), the native one otherwise.
pub fn sydbox_profile(name: &str) -> Option<&'static str> {
    match name {
        "paludis" => Some(PALUDIS_SYDBOX),
        _ => profile(name),
    }
}

/// The names of every built-in profile.
pub fn profile_names() -> &'static [&'static str] {
    &NAMES
}

#[cfg(test)]
mod tests {
    use super::super::{Address, Category, Outcome, Policy, parse_config};
    use super::*;

    fn load(name: &str) -> Policy {
        let text = profile(name).unwrap();
        let commands = parse_config(name, text.as_bytes(), &|_| None)
            .unwrap_or_else(|errors| panic!("{}", errors[0]));
        let mut policy = Policy::new();
        for cmd in &commands {
            policy.apply(cmd).unwrap();
        }
        policy
    }

    #[test]
    fn every_profile_parses_and_applies() {
        for name in profile_names() {
            load(name);
        }
    }

    fn load_sydbox(name: &str) -> Policy {
        let mut policy = Policy::new();
        for text in [SYDBOX_DEFAULTS, sydbox_profile(name).unwrap()] {
            for cmd in &parse_config(name, text.as_bytes(), &|_| None)
                .unwrap_or_else(|errors| panic!("{}", errors[0]))
            {
                policy.apply(cmd).unwrap();
            }
        }
        policy
    }

    #[test]
    fn sydbox_paludis_reads_plain_patterns_as_prefixes() {
        let p = load_sydbox("paludis");
        let write = |path: &[u8]| p.check_path(Category::Write, path).outcome;
        assert_eq!(write(b"/dev/pts/3"), Outcome::Allow);
        assert_eq!(write(b"/dev/tty1"), Outcome::Allow);
        assert_eq!(write(b"/dev/null"), Outcome::Allow);
        assert_eq!(write(b"/usr/bin/x"), Outcome::Deny);
        assert_eq!(p.deny_errno(Category::Write), Some(libc::EPERM));
        assert_eq!(p.deny_errno(Category::Exec), Some(libc::EACCES));
        assert_eq!(p.deny_errno(Category::NetBind), Some(libc::EADDRNOTAVAIL));
        let bind = |a: &str| p.check_addr(Category::NetBind, &Address::Inet(a.parse().unwrap()));
        assert_eq!(bind("127.0.0.1:0").outcome, Outcome::Allow);
        assert_eq!(bind("[::1]:8080").outcome, Outcome::Allow);
        assert_eq!(bind("127.0.0.1:80").outcome, Outcome::Deny);
    }

    #[test]
    fn sydbox_profile_falls_back_to_native_ones() {
        assert_eq!(sydbox_profile("nonet"), profile("nonet"));
        assert_eq!(sydbox_profile("nope"), None);
    }

    #[test]
    fn names_and_lookup_agree() {
        for name in profile_names() {
            assert!(profile(name).is_some(), "{name}");
        }
        assert_eq!(profile("nope"), None);
    }

    #[test]
    fn paludis_allows_tmp_and_denies_usr() {
        let p = load("paludis");
        assert_eq!(
            p.check_path(Category::Write, b"/var/tmp/portage/x").outcome,
            Outcome::Allow
        );
        assert_eq!(
            p.check_path(Category::Write, b"/dev/null").outcome,
            Outcome::Allow
        );
        assert_eq!(
            p.check_path(Category::Write, b"/usr/bin/x").outcome,
            Outcome::Deny
        );
        assert_eq!(
            p.check_path(Category::Read, b"/etc/shadow").outcome,
            Outcome::Allow
        );
    }

    #[test]
    fn paludis_binds_loopback_high_ports_only() {
        let p = load("paludis");
        let bind = |a: &str| p.check_addr(Category::NetBind, &Address::Inet(a.parse().unwrap()));
        assert_eq!(bind("127.0.0.1:0").outcome, Outcome::Allow);
        assert_eq!(bind("[::1]:8080").outcome, Outcome::Allow);
        assert_eq!(bind("127.0.0.1:80").outcome, Outcome::Deny);
        assert_eq!(bind("0.0.0.0:8080").outcome, Outcome::Deny);
    }

    #[test]
    fn paludis_connects_to_nscd_only() {
        let p = load("paludis");
        let nscd = Address::Unix(b"/run/nscd/socket".to_vec());
        assert_eq!(
            p.check_addr(Category::NetConnect, &nscd).outcome,
            Outcome::Allow
        );
        let web = Address::Inet("93.184.216.34:80".parse().unwrap());
        assert_eq!(
            p.check_addr(Category::NetConnect, &web).outcome,
            Outcome::Deny
        );
    }

    #[test]
    fn nonet_denies_addresses_but_not_unnamed() {
        let p = load("nonet");
        let lo = Address::Inet("127.0.0.1:80".parse().unwrap());
        assert_eq!(
            p.check_addr(Category::NetConnect, &lo).outcome,
            Outcome::Deny
        );
        assert_eq!(
            p.check_addr(Category::NetConnect, &Address::Unnamed)
                .outcome,
            Outcome::Allow
        );
    }

    #[test]
    fn readonly_denies_writes_outside_devices() {
        let p = load("readonly");
        assert_eq!(
            p.check_path(Category::Write, b"/dev/pts/3").outcome,
            Outcome::Allow
        );
        assert_eq!(
            p.check_path(Category::Write, b"/tmp/x").outcome,
            Outcome::Deny
        );
    }
}
