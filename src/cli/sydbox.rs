//! stockade invoked as `sydbox` (a symlink or a copy): the command line
//! Paludis uses, `sydbox [--profile NAME] [-m CMD]... [-c FILE]... -- COMMAND`.
//! `-m` and `-c` take sydbox API-1 commands; the sandbox environment gets
//! `SYDBOX_ACTIVE` so that nested package-manager calls detect it.

use super::{Args, Source};
use std::ffi::OsString;

/// The help text in sydbox mode.
pub const USAGE: &str = "\
usage: sydbox [--profile NAME] [-m COMMAND]... [-c FILE]... [-E VAR=VAL|VAR]...
              [--] COMMAND [ARGS...]

stockade running as sydbox (API 1): -m and -c take sydbox API-1 commands
(core/sandbox/write:deny, whitelist/write+PATH, ...); --profile takes
sydbox-1's paludis profile or a stockade profile (nonet, readonly);
-E VAR=VAL sets VAR for COMMAND, -E VAR removes it. -c @paludis.syd-1 is
the built-in paludis profile; without -c, $SYDBOX_CONFIG is read.
";

/// The version line: sydbox-compatible, never a claim to be syd 3.
pub fn version() -> String {
    format!("sydbox (stockade {}) API 1", env!("CARGO_PKG_VERSION"))
}

/// Whether the program was invoked under `name` (`sydbox`, `sydfmt`).
pub fn invoked_as(argv0: Option<&OsString>, name: &str) -> bool {
    argv0
        .and_then(|a| std::path::Path::new(a).file_name().map(|n| n == name))
        .unwrap_or(false)
}

/// Applies one `-E` argument: `VAR=VAL` sets VAR, a bare `VAR` removes it
/// (sydbox-1's -E).
pub fn apply_env_change(env: &mut Vec<(OsString, OsString)>, change: &OsString) {
    use std::os::unix::ffi::OsStrExt;
    let bytes = change.as_bytes();
    let (name, value) = match bytes.iter().position(|&b| b == b'=') {
        Some(eq) => (&bytes[..eq], Some(&bytes[eq + 1..])),
        None => (bytes, None),
    };
    let name = std::ffi::OsStr::from_bytes(name).to_os_string();
    env.retain(|(k, _)| *k != name);
    if let Some(value) = value {
        env.push((name, std::ffi::OsStr::from_bytes(value).to_os_string()));
    }
}

/// Parses a sydbox command line; `Ok(None)` after --help or --version.
pub fn parse_args(argv: Vec<OsString>) -> Result<Option<Args>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(argv);
    let mut args = Args {
        sydbox: true,
        ..Args::default()
    };
    let mut configs = 0;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('p') | Long("profile") => args
                .sources
                .push(Source::Profile(parser.value()?.string()?)),
            Short('m') | Long("magic") => args.sources.push(Source::SydboxRule(parser.value()?)),
            Short('c') | Long("config") => {
                configs += 1;
                args.sources.push(config_source(parser.value()?));
            }
            Short('E') => args.env_changes.push(parser.value()?),
            Short('h') | Long("help") => {
                super::print_out(USAGE);
                return Ok(None);
            }
            Short('v') | Short('V') | Long("version") => {
                super::print_out(&format!("{}\n", version()));
                return Ok(None);
            }
            Value(v) => {
                args.command.push(v);
                args.command.extend(parser.raw_args()?);
            }
            _ => return Err(arg.unexpected()),
        }
    }
    // sydbox-1 reads SYDBOX_CONFIG when no -c is given, before the rest.
    if configs == 0
        && let Some(path) = std::env::var_os("SYDBOX_CONFIG").filter(|p| !p.is_empty())
    {
        args.sources.insert(0, config_source(path));
    }
    Ok(Some(args))
}

/// A `-c` argument: a config file, or `@NAME` for one of sydbox-1's shipped
/// configs (it looked in `$sharedir/sydbox/`): `@paludis.syd-1` (or
/// `@paludis`) is the built-in paludis profile.
fn config_source(path: OsString) -> Source {
    use std::os::unix::ffi::OsStrExt;
    match path.as_bytes() {
        b"@paludis.syd-1" | b"@paludis" => Source::Profile("paludis".to_owned()),
        _ => Source::SydboxFile(path),
    }
}
