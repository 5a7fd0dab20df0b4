//! Command-line parsing and the documented exit codes.

use anyhow::{Context, anyhow};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use stockade::policy::sydbox as sydbox_api;
use stockade::policy::{self, Command, Policy};

mod learn;
mod sydbox;
mod sydfmt;
use stockade::policy::Category;
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
       stockade check FILE...   (FILE.syd-1: a sydbox-1 config)
       stockade learn [OPTIONS] -o FILE [--] COMMAND [ARGS...]  (see learn --help)

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
pub(crate) fn print_out(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes `text` to stderr, ignoring errors: a reader that went away (the
/// `tee` of `2> >(tee log)`) must not turn COMMAND's status into a panic's
/// 101 (issue 9).
pub(crate) fn print_err(text: &str) {
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
    /// `sydbox -E VAR=VAL` (set) and `-E VAR` (unset), in order.
    env_changes: Vec<OsString>,
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
    let result = if sydbox::invoked_as(argv0.as_ref(), "sydfmt") {
        Ok(sydfmt::main(&argv))
    } else if sydbox::invoked_as(argv0.as_ref(), "sydbox") {
        sydbox::parse_args(argv)
            .map_err(|e| fail(exit::USAGE)(anyhow!("{e}\n{}", sydbox::USAGE)))
            .and_then(|args| match args {
                Some(args) => run_args(args),
                None => Ok(0),
            })
    } else if argv.first().is_some_and(|a| a == "check") {
        check(&argv[1..])
    } else if argv.first().is_some_and(|a| a == "learn") {
        learn::main(argv[1..].to_vec())
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
    let (policy, extras) =
        build_policy(&args.sources, args.sydbox).map_err(fail(exit::BAD_POLICY))?;
    for (option, why) in &extras.no_effect {
        print_err(&format!(
            "stockade: {option} is accepted and has no effect: {why}\n"
        ));
    }
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
        // API-1 scripts switch write, exec and network checks on from
        // inside (esandbox enable, enable_exec, enable_net), as sydbox-1
        // allowed; read checks were never switched by Paludis and would
        // cost every open a round trip, so they must be on at start.
        switchable: if args.sydbox {
            vec![
                Category::Write,
                Category::Exec,
                Category::NetBind,
                Category::NetConnect,
            ]
        } else {
            Vec::new()
        },
        violation_exit_offset: extras.violation_exit_offset,
        // An escape hatch that only sydbox-1's users expect.
        outside_exec: args.sydbox,
        learn: None,
    };
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    if args.sydbox {
        env.retain(|(k, _)| k != "SYDBOX_ACTIVE");
        env.push(("SYDBOX_ACTIVE".into(), "1".into()));
    }
    for change in &args.env_changes {
        sydbox::apply_env_change(&mut env, change);
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
        Err(e) => Err(run_failure(e)),
    }
}

/// The exit code and error for a run that could not start.
fn run_failure(e: RunError) -> Failure {
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
    Failure {
        code,
        error: e.into(),
    }
}

/// Run options that sydbox API-1 commands can set besides rules.
struct Extras {
    wait_all: bool,
    allow_bound: bool,
    violation_exit_offset: bool,
    /// sydbox-1 options without effect, each named once, with the reason.
    no_effect: Vec<(&'static str, &'static str)>,
}

/// Applies every source in order to a fresh policy. Invoked as `sydbox`,
/// the policy starts from sydbox-1's defaults and `--profile` takes
/// sydbox-1's profiles first.
fn build_policy(sources: &[Source], sydbox: bool) -> anyhow::Result<(Policy, Extras)> {
    let mut policy = Policy::new();
    let mut extras = Extras {
        wait_all: false,
        allow_bound: true,
        violation_exit_offset: false,
        no_effect: Vec::new(),
    };
    if sydbox {
        for command in parse_file(
            "sydbox defaults",
            policy::profile::SYDBOX_DEFAULTS.as_bytes(),
        )? {
            policy
                .apply(&command)
                .map_err(|e| anyhow!("cannot apply rule: {e}"))?;
        }
    }
    for source in sources {
        let commands = match source {
            Source::Profile(name) => {
                let found = if sydbox {
                    policy::profile::sydbox_profile(name)
                } else {
                    policy::profile::profile(name)
                };
                let text = found.ok_or_else(|| {
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
            sydbox_api::Translation::Option(sydbox_api::SydboxOption::ViolationExitOffset) => {
                extras.violation_exit_offset = true
            }
            sydbox_api::Translation::NoEffect { option, why }
                if !extras.no_effect.iter().any(|&(o, _)| o == option) =>
            {
                extras.no_effect.push((option, why));
            }
            // cmd/exec only means something from inside the sandbox.
            sydbox_api::Translation::Exec(_) | sydbox_api::Translation::Ignored => {}
            _ => {}
        }
    }
    commands
}

fn parse_file(name: &str, text: &[u8]) -> anyhow::Result<Vec<Command>> {
    let env = |var: &str| variable(var).map(OsString::into_vec);
    policy::parse_config(name, text, &env).map_err(|errors| {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow!("{}", all.join("\n"))
    })
}

/// Checks one file: a sydbox-1 config (named `*.syd-1`, as sydbox-1 names
/// them) or a native one. A sydbox-1 option without effect is named once,
/// as a run would.
fn check_text(file: &OsString, text: &[u8]) -> anyhow::Result<()> {
    let name = file.to_string_lossy();
    if !name.ends_with(".syd-1") {
        return parse_file(&name, text).map(drop);
    }
    let translations = sydbox_api::parse_sydbox_config(&name, text).map_err(|errors| {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow!("{}", all.join("\n"))
    })?;
    let mut extras = Extras {
        wait_all: false,
        allow_bound: true,
        violation_exit_offset: false,
        no_effect: Vec::new(),
    };
    let mut policy = Policy::new();
    for command in sydbox_commands(translations, &mut extras) {
        policy
            .apply(&command)
            .map_err(|e| anyhow!("{name}: cannot apply rule: {e}"))?;
    }
    for (option, why) in &extras.no_effect {
        print_err(&format!(
            "{name}: {option} is accepted and has no effect: {why}\n"
        ));
    }
    Ok(())
}

/// The value of `${VAR}` in config files: the environment's, except that
/// `${PWD}` is always the working directory as the kernel names it (the
/// canonical path rules match), whatever the environment says; profiles
/// from `stockade learn` name the build directory so.
fn variable(var: &str) -> Option<OsString> {
    if var == "PWD"
        && let Ok(cwd) = std::env::current_dir()
    {
        return Some(cwd.into_os_string());
    }
    std::env::var_os(var)
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
            .and_then(|text| check_text(file, &text));
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
