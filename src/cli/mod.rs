//! Command-line parsing and the documented exit codes.

use anyhow::{Context, anyhow};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use stockade::policy::sydbox as sydbox_api;
use stockade::policy::{self, Command, Policy};

mod sydbox;
use stockade::supervise::{self, Config, RunError};

/// Exit codes for stockade's own failures (the command's own code, or
/// 128+signal, otherwise).
pub mod exit {
    /// Bad command line.
    pub const USAGE: i32 = 64;
    /// A bad rule, config file or profile name.
    pub const BAD_POLICY: i32 = 65;
    /// The kernel lacks what stockade needs.
    pub const KERNEL: i32 = 69;
    /// stockade itself failed to set up the sandbox.
    pub const INTERNAL: i32 = 70;
    /// The command exists but cannot be executed.
    pub const CANNOT_EXECUTE: i32 = 126;
    /// The command was not found.
    pub const NOT_FOUND: i32 = 127;
}

const USAGE: &str = "\
usage: stockade [OPTIONS] [--] COMMAND [ARGS...]
       stockade check FILE...

Runs COMMAND and every process it starts under a policy, reporting every
access the policy denies.

options (profiles, files and rules apply in the order given; the last
matching rule wins):
  -p, --profile NAME   apply a built-in profile (paludis, nonet, readonly)
  -P, --config FILE    apply the rules in FILE
  -m, --rule RULE      apply one rule, e.g. allow/write+/tmp/***
      --log FILE       also write each report as a JSON line to FILE
      --wait-all       when COMMAND exits, wait for its descendants
                       instead of killing them
      --stats          print notification counts and latency at exit
      --no-allow-bound do not allow connects to addresses the sandboxed
                       tree bound itself (allowed by default)
      --print-profile  print the resulting policy as rules and exit
  -h, --help           print this help
  -V, --version        print the version

exit status: COMMAND's own, or 128+N if it was killed by signal N;
  64 bad usage, 65 bad rule or config, 69 kernel too old,
  70 internal failure, 126 COMMAND cannot be executed, 127 not found.
";

/// Writes `text` to stdout. A closed or broken stdout (a pager that quit)
/// is not stockade's failure: never panic as `print!` does on EPIPE.
fn print_out(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes `text` to stderr, ignoring errors: a reader that went away (the
/// `tee` of `2> >(tee log)`) must not turn COMMAND's status into a panic's
/// 101 (issue 9).
fn print_err(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// One policy source, in the order typed.
enum Source {
    Profile(String),
    File(OsString),
    Rule(OsString),
    /// A sydbox API-1 command (`sydbox -m`).
    SydboxRule(OsString),
    /// A sydbox-1 style config file (`sydbox -c`).
    SydboxFile(OsString),
}

#[derive(Default)]
struct Args {
    /// Invoked as `sydbox`.
    sydbox: bool,
    sources: Vec<Source>,
    log: Option<OsString>,
    wait_all: bool,
    stats: bool,
    no_bound_allow: bool,
    print_profile: bool,
    command: Vec<OsString>,
}

/// A failure with its exit code.
struct Failure {
    code: i32,
    error: anyhow::Error,
}

fn fail(code: i32) -> impl FnOnce(anyhow::Error) -> Failure {
    move |error| Failure { code, error }
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let mut all = std::env::args_os();
    let argv0 = all.next();
    let argv: Vec<OsString> = all.collect();
    let result = if sydbox::invoked_as_sydbox(argv0.as_ref()) {
        sydbox::parse_args(argv)
            .map_err(|e| fail(exit::USAGE)(anyhow!("{e}\n{}", sydbox::USAGE)))
            .and_then(|args| match args {
                Some(args) => run_args(args),
                None => Ok(0),
            })
    } else if argv.first().is_some_and(|a| a == "check") {
        check(&argv[1..])
    } else {
        run(argv)
    };
    match result {
        Ok(code) => code,
        Err(Failure { code, error }) => {
            print_err(&format!("stockade: {error:#}\n"));
            code
        }
    }
}

fn parse_args(argv: Vec<OsString>) -> Result<Option<Args>, anyhow::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(argv);
    let mut args = Args::default();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('p') | Long("profile") => args
                .sources
                .push(Source::Profile(parser.value()?.string()?)),
            Short('P') | Long("config") => args.sources.push(Source::File(parser.value()?)),
            Short('m') | Long("rule") => args.sources.push(Source::Rule(parser.value()?)),
            Long("log") => args.log = Some(parser.value()?),
            Long("wait-all") => args.wait_all = true,
            Long("stats") => args.stats = true,
            Long("no-allow-bound") => args.no_bound_allow = true,
            Long("print-profile") => args.print_profile = true,
            Short('h') | Long("help") => {
                print_out(USAGE);
                return Ok(None);
            }
            Short('V') | Long("version") => {
                print_out(&format!("stockade {}\n", env!("CARGO_PKG_VERSION")));
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

fn run(argv: Vec<OsString>) -> Result<i32, Failure> {
    match parse_args(argv).map_err(|e| fail(exit::USAGE)(anyhow!("{e}\n{USAGE}")))? {
        Some(args) => run_args(args),
        None => Ok(0),
    }
}

fn run_args(args: Args) -> Result<i32, Failure> {
    let (policy, extras) = build_policy(&args.sources).map_err(fail(exit::BAD_POLICY))?;
    if args.print_profile {
        print_out(&policy.to_rules());
        return Ok(0);
    }
    if args.command.is_empty() {
        return Err(fail(exit::USAGE)(anyhow!("no command given\n{USAGE}")));
    }
    let log = match &args.log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log {}", path.to_string_lossy()))
                .map_err(fail(exit::USAGE))?,
        ),
        None => None,
    };
    let config = Config {
        policy,
        log,
        wait_all: args.wait_all || extras.wait_all,
        stats: args.stats,
        allow_bound: !args.no_bound_allow && extras.allow_bound,
    };
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    if args.sydbox {
        env.retain(|(k, _)| k != "SYDBOX_ACTIVE");
        env.push(("SYDBOX_ACTIVE".into(), "1".into()));
    }
    match supervise::run(config, &args.command, &env) {
        Ok(outcome) => {
            if let Some(summary) = outcome.summary {
                print_err(&format!("{summary}\n"));
            }
            if let Some(stats) = outcome.stats {
                print_err(&stats);
            }
            Ok(outcome.exit_code)
        }
        Err(e) => {
            let code = match &e {
                RunError::KernelUnsupported(_) => exit::KERNEL,
                RunError::NotFound(_) => exit::NOT_FOUND,
                RunError::Spawn(supervise::spawn::SpawnError::Exec { source, .. })
                    if source.0 == libc::ENOENT =>
                {
                    exit::NOT_FOUND
                }
                RunError::Spawn(supervise::spawn::SpawnError::Exec { .. }) => exit::CANNOT_EXECUTE,
                _ => exit::INTERNAL,
            };
            Err(Failure {
                code,
                error: e.into(),
            })
        }
    }
}

/// Run options that sydbox API-1 commands can set besides rules.
struct Extras {
    wait_all: bool,
    allow_bound: bool,
}

/// Applies every source in order to a fresh policy.
fn build_policy(sources: &[Source]) -> anyhow::Result<(Policy, Extras)> {
    let mut policy = Policy::new();
    let mut extras = Extras {
        wait_all: false,
        allow_bound: true,
    };
    for source in sources {
        let commands = match source {
            Source::Profile(name) => {
                let text = policy::profile::profile(name).ok_or_else(|| {
                    anyhow!(
                        "unknown profile {name}; known profiles: {}",
                        policy::profile::profile_names().join(", ")
                    )
                })?;
                parse_file(&format!("profile {name}"), text.as_bytes())?
            }
            Source::File(path) => {
                let text = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.to_string_lossy()))?;
                parse_file(&path.to_string_lossy(), &text)?
            }
            Source::Rule(rule) => {
                vec![policy::parse_rule(rule.as_bytes()).map_err(|e| anyhow!("in -m: {e}"))?]
            }
            Source::SydboxRule(rule) => {
                let t =
                    sydbox_api::translate(rule.as_bytes()).map_err(|e| anyhow!("in -m: {e}"))?;
                sydbox_commands(vec![t], &mut extras)
            }
            Source::SydboxFile(path) => {
                let text = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.to_string_lossy()))?;
                let translations = sydbox_api::parse_sydbox_config(&path.to_string_lossy(), &text)
                    .map_err(|errors| {
                        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                        anyhow!("{}", all.join("\n"))
                    })?;
                sydbox_commands(translations, &mut extras)
            }
        };
        for command in &commands {
            policy
                .apply(command)
                .map_err(|e| anyhow!("cannot apply rule: {e}"))?;
        }
    }
    Ok((policy, extras))
}

/// The native commands of sydbox translations; options go to `extras`.
fn sydbox_commands(
    translations: Vec<sydbox_api::Translation>,
    extras: &mut Extras,
) -> Vec<Command> {
    let mut commands = Vec::new();
    for t in translations {
        match t {
            sydbox_api::Translation::Commands(c) => commands.extend(c),
            sydbox_api::Translation::Option(sydbox_api::SydboxOption::ExitWaitAll(on)) => {
                extras.wait_all = on
            }
            sydbox_api::Translation::Option(sydbox_api::SydboxOption::SuccessfulBind(on)) => {
                extras.allow_bound = on
            }
            _ => {}
        }
    }
    commands
}

fn parse_file(name: &str, text: &[u8]) -> anyhow::Result<Vec<Command>> {
    let env = |var: &str| std::env::var_os(var).map(OsString::into_vec);
    policy::parse_config(name, text, &env).map_err(|errors| {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow!("{}", all.join("\n"))
    })
}

/// `stockade check FILE...`: validates config files, printing every error.
fn check(files: &[OsString]) -> Result<i32, Failure> {
    if files.is_empty() {
        return Err(fail(exit::USAGE)(anyhow!("check needs at least one FILE")));
    }
    let mut errors = Vec::new();
    for file in files {
        let result = std::fs::read(file)
            .with_context(|| format!("cannot read {}", file.to_string_lossy()))
            .and_then(|text| parse_file(&file.to_string_lossy(), &text).map(drop));
        if let Err(e) = result {
            errors.push(format!("{e:#}"));
        }
    }
    if errors.is_empty() {
        return Ok(0);
    }
    for e in &errors {
        print_err(&format!("{e}\n"));
    }
    Err(fail(exit::BAD_POLICY)(anyhow!(
        "{} of {} files have errors",
        errors.len(),
        files.len()
    )))
}
