//! `stockade learn`: run a command once in report-only mode and write the
//! profile that lets it pass (the folding is in `stockade::learn`).

use super::{Failure, Source, build_policy, exit, fail, parse_file, run_failure};
use anyhow::{Context, anyhow};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::Arc;
use stockade::learn::{self, Options, Places, Recorder};
use stockade::policy::{self, Category, Command, Policy};
use stockade::supervise::{self, Config};

const USAGE: &str = "\
usage: stockade learn [OPTIONS] -o FILE [--] COMMAND [ARGS...]

Runs COMMAND once with writes, execs, binds and connects checked but nothing
denied, records every access the policy would refuse, and writes FILE: a
profile that lets the same command pass with `stockade -P FILE -- COMMAND`.
Dangerous accesses (writes to /etc, /usr, ~/.ssh, ~/.config; connects
outside loopback; a shell run from /tmp) are left out, as comments.

options:
  -o, --output FILE    where the profile goes (required)
  -p, --profile NAME   start from a built-in profile (copied into FILE)
  -P, --config FILE    start from the rules in FILE (copied into FILE)
  -m, --rule RULE      start from one rule (copied into FILE)
      --read           also learn reads
      --stat           also learn stats (stat, access, readlink, chdir, ...)
      --keep-dangerous keep dangerous accesses as rules, flagged
      --wait-all       when COMMAND exits, wait for its descendants
      --no-allow-bound do not allow connects to addresses the tree bound
  -h, --help           print this help

exit status: COMMAND's own (FILE is written whatever it is), or stockade's
  codes as for a run (see stockade --help).
";

#[derive(Default)]
struct LearnArgs {
    sources: Vec<Source>,
    output: Option<OsString>,
    read: bool,
    stat: bool,
    keep_dangerous: bool,
    wait_all: bool,
    no_bound_allow: bool,
    command: Vec<OsString>,
}

/// Runs `stockade learn ARGS`; returns the exit code.
pub fn main(argv: Vec<OsString>) -> Result<i32, Failure> {
    let usage = |e: anyhow::Error| fail(exit::USAGE)(anyhow!("{e}\n{USAGE}"));
    let Some(args) = parse_args(argv).map_err(usage)? else {
        return Ok(0);
    };
    let Some(output) = args.output.clone() else {
        return Err(usage(anyhow!("learn needs -o FILE")));
    };
    if args.command.is_empty() {
        return Err(usage(anyhow!("no command given")));
    }
    let (base, _extras) = build_policy(&args.sources, false).map_err(fail(exit::BAD_POLICY))?;
    let base_text = base_sections(&args.sources).map_err(fail(exit::BAD_POLICY))?;
    let categories = learned_categories(&base, &args);
    let mut policy = base;
    policy
        .apply(&Command::Sandbox {
            categories: categories.clone(),
            on: true,
        })
        .map_err(|e| fail(exit::INTERNAL)(e.into()))?;
    policy.set_learning(true);

    let recorder = Arc::new(Recorder::new());
    let config = Config {
        policy,
        log: None,
        wait_all: args.wait_all,
        stats: false,
        allow_bound: !args.no_bound_allow,
        learn: Some(Arc::clone(&recorder)),
        switchable: Vec::new(),
        violation_exit_offset: false,
        outside_exec: false,
    };
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let outcome = supervise::run(config, &args.command, &env).map_err(run_failure)?;

    let seen = recorder.take();
    let options = Options {
        keep_dangerous: args.keep_dangerous,
        categories,
    };
    let learned = learn::learn(&seen, &places(), &options);
    let text = learn::render(&learned, &shell_words(&args.command), &base_text);
    // Our own output must read back; anything else is a bug worth a loud stop.
    check_profile(&text).map_err(fail(exit::INTERNAL))?;
    std::fs::write(&output, &text)
        .with_context(|| format!("cannot write {}", output.to_string_lossy()))
        .map_err(fail(exit::USAGE))?;
    let left = match learned.left_out.len() {
        0 => String::new(),
        n => format!("; {n} dangerous left out, see the end of the file"),
    };
    super::print_err(&format!(
        "stockade: learned {} rules from {} accesses into {}{left}\n",
        learned.rule_count(),
        learned.accesses,
        output.to_string_lossy()
    ));
    if outcome.exit_code != 0 {
        super::print_err(&format!(
            "stockade: the command exited with {}: the profile covers only what it did\n",
            outcome.exit_code
        ));
    }
    Ok(outcome.exit_code)
}

fn parse_args(argv: Vec<OsString>) -> Result<Option<LearnArgs>, anyhow::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(argv);
    let mut args = LearnArgs::default();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('o') | Long("output") => args.output = Some(parser.value()?),
            Short('p') | Long("profile") => args
                .sources
                .push(Source::Profile(parser.value()?.string()?)),
            Short('P') | Long("config") => args.sources.push(Source::File(parser.value()?)),
            Short('m') | Long("rule") => args.sources.push(Source::Rule(parser.value()?)),
            Long("read") => args.read = true,
            Long("stat") => args.stat = true,
            Long("keep-dangerous") => args.keep_dangerous = true,
            Long("wait-all") => args.wait_all = true,
            Long("no-allow-bound") => args.no_bound_allow = true,
            Short('h') | Long("help") => {
                super::print_out(USAGE);
                return Ok(None);
            }
            Value(v) => {
                args.command.push(v);
                args.command.extend(parser.raw_args()?);
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Some(args))
}

/// Writes, execs and the network always; reads and stats when asked; and
/// whatever the base already checks, since the profile must cover it too.
fn learned_categories(base: &Policy, args: &LearnArgs) -> Vec<Category> {
    Category::ALL
        .into_iter()
        .filter(|&c| match c {
            Category::Read => args.read || base.is_on(c),
            Category::Stat => args.stat || base.is_on(c),
            _ => true,
        })
        .collect()
}

/// The base's parts as text to copy into the profile: each profile and
/// file as written (variables unexpanded), runs of `-m` rules together.
fn base_sections(sources: &[Source]) -> anyhow::Result<Vec<(String, String)>> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for source in sources {
        match source {
            Source::Profile(name) => {
                let text = policy::profile::profile(name).unwrap_or_default();
                sections.push((format!("-p {name}"), text.to_owned()));
            }
            Source::File(path) => {
                let text = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.to_string_lossy()))?;
                let text = String::from_utf8(text).map_err(|_| {
                    anyhow!(
                        "{} is not UTF-8 text; write its odd bytes as \\xNN to learn from it",
                        path.to_string_lossy()
                    )
                })?;
                sections.push((format!("-P {}", path.to_string_lossy()), text));
            }
            Source::Rule(rule) => {
                let line = format!("{}\n", rule.to_string_lossy());
                match sections.last_mut() {
                    Some((title, text)) if title == "-m" => text.push_str(&line),
                    _ => sections.push(("-m".to_owned(), line)),
                }
            }
            Source::SydboxRule(_) | Source::SydboxFile(_) => {}
        }
    }
    Ok(sections)
}

/// The directories the profile names by variables, made canonical.
fn places() -> Places {
    let canonical = |raw: OsString| {
        let canon = std::fs::canonicalize(&raw).ok()?.into_os_string();
        let was = canon == raw;
        Some((canon.into_vec(), was))
    };
    let tmp = std::env::var_os("TMPDIR")
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "/tmp".into());
    Places {
        cwd: std::env::current_dir()
            .map(|d| d.into_os_string().into_vec())
            .unwrap_or_default(),
        home: std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .and_then(canonical),
        tmp: canonical(tmp),
    }
}

/// Parses and applies the profile as `-P` would.
fn check_profile(text: &str) -> anyhow::Result<()> {
    let mut policy = Policy::new();
    for command in parse_file("the learned profile", text.as_bytes())? {
        policy
            .apply(&command)
            .map_err(|e| anyhow!("the learned profile does not apply: {e}"))?;
    }
    Ok(())
}

/// The command line as a shell would read it back, for the header.
fn shell_words(argv: &[OsString]) -> String {
    let word = |arg: &OsString| {
        let bytes = arg.as_bytes();
        let plain = !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(b));
        let text = arg.to_string_lossy();
        if plain {
            text.into_owned()
        } else {
            format!("'{}'", text.replace('\'', r"'\''"))
        }
    };
    argv.iter().map(word).collect::<Vec<_>>().join(" ")
}
