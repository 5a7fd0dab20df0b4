//! stockade invoked as `sydbox` (a symlink or a copy): the command line
//! Paludis uses, `sydbox [--profile NAME] [-m CMD]... [-c FILE]... -- COMMAND`.
//! `-m` and `-c` take sydbox API-1 commands; the sandbox environment gets
//! `SYDBOX_ACTIVE` so that nested package-manager calls detect it.

use super::{Args, Source};
use std::ffi::OsString;

/// The help text in sydbox mode.
pub const USAGE: &str = "\
usage: sydbox [--profile NAME] [-m COMMAND]... [-c FILE]... [--] COMMAND [ARGS...]

stockade running as sydbox (API 1): -m and -c take sydbox API-1 commands
(core/sandbox/write:deny, whitelist/write+PATH, ...); --profile takes a
stockade profile (paludis, nonet, readonly).
";

/// The version line: sydbox-compatible, never a claim to be syd 3.
pub fn version() -> String {
    format!("sydbox (stockade {}) API 1", env!("CARGO_PKG_VERSION"))
}

/// Whether the program was invoked under the name `sydbox`.
pub fn invoked_as_sydbox(argv0: Option<&OsString>) -> bool {
    argv0
        .and_then(|a| std::path::Path::new(a).file_name().map(|n| n == "sydbox"))
        .unwrap_or(false)
}

/// Parses a sydbox command line; `Ok(None)` after --help or --version.
pub fn parse_args(argv: Vec<OsString>) -> Result<Option<Args>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(argv);
    let mut args = Args {
        sydbox: true,
        ..Args::default()
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('p') | Long("profile") => args
                .sources
                .push(Source::Profile(parser.value()?.string()?)),
            Short('m') | Long("magic") => args.sources.push(Source::SydboxRule(parser.value()?)),
            Short('c') | Long("config") => args.sources.push(Source::SydboxFile(parser.value()?)),
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
    Ok(Some(args))
}
