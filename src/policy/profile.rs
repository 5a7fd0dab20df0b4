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
