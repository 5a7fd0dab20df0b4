//! The sydbox API-1 command language, translated into native commands.
//!
//! Paludis talks to its sandbox by `stat`ing `/dev/sydbox/CMD` paths; this
//! module turns one such CMD (the text after `/dev/sydbox/`) into native
//! [`Command`]s. Every native command is produced as native rule text and
//! parsed with [`parse_rule`], so patterns and addresses are validated in
//! one place; a native error is reported at the byte of the API-1 command
//! it came from.
//!
//! ```text
//! API 1                                     native
//! core/sandbox/write:deny                  sandbox/write:on + default/write:deny
//! core/sandbox/write:allow                 sandbox/write:on + default/write:allow
//! core/sandbox/write:off                   sandbox/write:off
//! core/sandbox/network:MODE                the same with `net`
//! core/sandbox/write?                       sandbox/write?
//! core/sandbox/network?                     sandbox/net/connect?
//! whitelist/write+PATH (also read, exec)    allow/write+PATH
//! blacklist/write-PATH                      deny/write-PATH
//! filter/write+PATH                         filter/write+PATH
//! whitelist/network/bind+ADDR               allow/net/bind+NATIVE-ADDR
//! filter/network+ADDR                       filter/net/bind,net/connect+NATIVE-ADDR
//! core/trace/magic_lock:on|off|exec         lock:on|off|exec
//! exec/kill_if_match+PATH                   exec/kill_if_match+PATH
//! core/violation/decision:deny              default/all:deny
//! core/violation/decision:kill|killall      default/all:kill
//! core/violation/decision:cont|contall      default/all:warn
//! core/match/no_wildcard:literal|prefix     match/no_wildcard:literal|prefix
//! core/violation/raise_safe:BOOL            report/safe:on|off
//! core/trace/exit_wait_all:BOOL             SydboxOption::ExitWaitAll
//! core/whitelist/successful_bind:BOOL       SydboxOption::SuccessfulBind
//! core/violation/exit_code:0                SydboxOption::ViolationExitOffset
//! cmd/exec!PROGRAM\037ARG...                Translation::Exec
//! ```
//!
//! Addresses (`ADDR`) and the native patterns they become:
//!
//! ```text
//! inet:A[/M][@PORTS]      A[/M][!PORTS]     (A must be IPv4)
//! inet6:A[/M][@PORTS]     A[/M][!PORTS]     (A must be IPv6)
//! unix:GLOB               GLOB              (GLOB must start with `/`)
//! unix-abstract:GLOB      @GLOB
//! LOOPBACK[@PORTS]        loopback4[!PORTS]
//! LOOPBACK6[@PORTS]       loopback6[!PORTS]
//! ANY[@PORTS]             any4[!PORTS]
//! ANY6[@PORTS]            any6[!PORTS]
//! LOCAL[@PORTS]           127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16
//! LOCAL6[@PORTS]          ::1, fe80::/10, fc00::/7, fec0::/10
//! ```
//!
//! PORTS is `P`, `P-P`, or a comma list of those; without `@PORTS` every
//! port matches. `LOCAL` and `LOCAL6` name several networks, so they become
//! one native command per network.
//!
//! Choices where API 1 and the native language differ:
//! - sydbox-1 kept whitelists and blacklists in one queue per category in
//!   which the last match wins, in both modes; here both become rules of
//!   the one native list, which works the same way. `allow` mode is a
//!   checked category whose unmatched accesses are allowed silently.
//! - `killall` decisions are approximated by killing the offending process,
//!   `contall` by `warn`. `core/violation/decision` sets the default of
//!   every category, so a later `deny`/`allow` mode switch overrides it for
//!   that category.
//! - Every other sydbox-1 option is accepted, its value checked, and
//!   translated to [`Translation::NoEffect`] with the reason, for the caller
//!   to name once (the list is `OPTIONS` in this file).
//! - `1` (the `[[ -e /dev/sydbox/1 ]]` API check) and the empty command
//!   (`/dev/sydbox` itself) are [`Translation::Ignored`]: they succeed.
//! - Booleans are `true`, `false`, `1`, `0`, `on`, `off`.
//! - Only `+` and `-` edit lists, as in API 1 (no native `^`).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::parse::{RuleErrorKind, escape};
use super::{Command, parse_rule};

/// What an API-1 command amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Translation {
    /// Native commands to apply, in order (a query is a single
    /// [`Command::Query`]).
    Commands(Vec<Command>),
    /// A setting outside the native rule language, for the caller to act on.
    Option(SydboxOption),
    /// `cmd/exec!PROGRAM\037ARG...`: run PROGRAM with the arguments outside
    /// the sandbox. Only meaningful as an in-sandbox command.
    Exec(Vec<Vec<u8>>),
    /// A sydbox-1 option that is accepted (its value checked) and has no
    /// effect here; the caller names it once, with the reason.
    NoEffect {
        /// The option, e.g. `core/trace/use_ptrace`.
        option: &'static str,
        /// Why it has no effect.
        why: &'static str,
    },
    /// Accepted, and nothing to do: the `stat` succeeds.
    Ignored,
}

/// A sydbox-1 setting with no native command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SydboxOption {
    /// `core/trace/exit_wait_all`: wait for every process (true) or only the
    /// eldest (false) before exiting.
    ExitWaitAll(bool),
    /// `core/whitelist/successful_bind`: after a successful bind, allow
    /// connecting to the bound address.
    SuccessfulBind(bool),
    /// `core/violation/exit_code:0`: when anything was reported, exit with
    /// 128 plus the command's own code.
    ViolationExitOffset,
}

/// What is wrong at the position of a [`SydboxError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SydboxErrorKind {
    /// Something else was expected, described here.
    Expected(&'static str),
    /// The native parser rejected the translated pattern or address.
    Native(RuleErrorKind),
}

/// An API-1 command (or config line) that does not translate. Displays like
/// a compiler diagnostic: the message, the text, a caret under the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SydboxError {
    /// `(source, 1-based line)` for a config file line.
    location: Option<(String, usize)>,
    /// The command, or the config line as written.
    text: Vec<u8>,
    /// Byte offset in `text`.
    position: usize,
    kind: SydboxErrorKind,
    message: String,
}

impl SydboxError {
    /// The command as given, or the config line as written (trailing
    /// whitespace trimmed).
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The byte offset in [`text`](Self::text) where the problem is.
    pub fn position(&self) -> usize {
        self.position
    }

    /// What is wrong.
    pub fn kind(&self) -> &SydboxErrorKind {
        &self.kind
    }

    /// The one-line description, without the text and caret.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The config file name given to [`parse_sydbox_config`], if any.
    pub fn source(&self) -> Option<&str> {
        self.location.as_ref().map(|(source, _)| source.as_str())
    }

    /// The 1-based config file line, if any.
    pub fn line(&self) -> Option<usize> {
        self.location.as_ref().map(|&(_, line)| line)
    }

    /// The 1-based byte column of the problem.
    pub fn column(&self) -> usize {
        self.position + 1
    }
}

impl fmt::Display for SydboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some((source, line)) => {
                writeln!(f, "{source}:{line}:{}: {}", self.column(), self.message)?
            }
            None => writeln!(f, "invalid sydbox command: {}", self.message)?,
        }
        let column = escape(&self.text[..self.position.min(self.text.len())])
            .chars()
            .count();
        writeln!(f, "  {}", escape(&self.text))?;
        write!(f, "  {:column$}^", "")
    }
}

impl std::error::Error for SydboxError {}

/// Translates one API-1 command (the text after `/dev/sydbox/`), e.g.
/// `whitelist/write+/tmp/***`.
pub fn translate(command: &[u8]) -> Result<Translation, SydboxError> {
    translate_at(command).map_err(|fail| SydboxError {
        location: None,
        text: command.to_vec(),
        position: fail.position,
        message: fail.message(command),
        kind: fail.kind,
    })
}

/// Parses a sydbox-1 style config file (the `-c FILE` of `sydbox`): one
/// API-1 command per line; blank lines and lines whose first non-blank byte
/// is `#` are skipped; surrounding whitespace is trimmed.
///
/// Every bad line is reported, not just the first.
pub fn parse_sydbox_config(
    source: &str,
    text: &[u8],
) -> Result<Vec<Translation>, Vec<SydboxError>> {
    let mut translations = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii_end();
        let indent = line.len() - line.trim_ascii_start().len();
        let content = &line[indent..];
        if content.is_empty() || content[0] == b'#' {
            continue;
        }
        match translate_at(content) {
            Ok(translation) => translations.push(translation),
            Err(fail) => errors.push(SydboxError {
                location: Some((source.to_owned(), index + 1)),
                text: line.to_vec(),
                position: indent + fail.position,
                message: fail.message(content),
                kind: fail.kind,
            }),
        }
    }
    if errors.is_empty() {
        Ok(translations)
    } else {
        Err(errors)
    }
}

/// A problem at a byte offset of the command being translated.
#[derive(Debug)]
struct Fail {
    position: usize,
    kind: SydboxErrorKind,
}

impl Fail {
    fn message(&self, command: &[u8]) -> String {
        match &self.kind {
            SydboxErrorKind::Expected(what) if self.position == 0 => format!("expected {what}"),
            SydboxErrorKind::Expected(what) => {
                format!(
                    "expected {what} after `{}`",
                    escape(&command[..self.position])
                )
            }
            SydboxErrorKind::Native(RuleErrorKind::Pattern(kind)) => {
                format!("invalid pattern: {kind}")
            }
            SydboxErrorKind::Native(RuleErrorKind::Address(kind)) => {
                format!("invalid address: {kind}")
            }
            SydboxErrorKind::Native(RuleErrorKind::Expected(what)) => format!("expected {what}"),
            SydboxErrorKind::Native(other) => format!("invalid command: {other:?}"),
        }
    }
}

/// Native rule text under construction, with the offset in the API-1
/// command that each byte stands for.
#[derive(Debug, Clone, Default)]
struct Native {
    text: Vec<u8>,
    origin: Vec<usize>,
}

impl Native {
    /// Appends generated bytes, all standing for the command byte at `at`.
    fn put(mut self, generated: &[u8], at: usize) -> Native {
        self.text.extend_from_slice(generated);
        self.origin.extend(std::iter::repeat_n(at, generated.len()));
        self
    }

    /// Appends bytes copied from the command, starting at offset `start`.
    fn copy(mut self, bytes: &[u8], start: usize) -> Native {
        self.text.extend_from_slice(bytes);
        self.origin.extend(start..start + bytes.len());
        self
    }

    fn append(mut self, other: &Native) -> Native {
        self.text.extend_from_slice(&other.text);
        self.origin.extend_from_slice(&other.origin);
        self
    }

    /// Parses the native text; `end` is the command offset that the end of
    /// the text stands for.
    fn parse(self, end: usize) -> Result<Command, Fail> {
        parse_rule(&self.text).map_err(|e| Fail {
            position: self.origin.get(e.position()).copied().unwrap_or(end),
            kind: SydboxErrorKind::Native(e.kind().clone()),
        })
    }
}

/// A read position in the command.
struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &[u8] {
        &self.input[self.pos..]
    }

    fn eat(&mut self, literal: &[u8]) -> bool {
        let found = self.rest().starts_with(literal);
        if found {
            self.pos += literal.len();
        }
        found
    }

    fn fail_at(&self, position: usize, what: &'static str) -> Fail {
        Fail {
            position,
            kind: SydboxErrorKind::Expected(what),
        }
    }

    fn expected(&self, what: &'static str) -> Fail {
        self.fail_at(self.pos, what)
    }

    /// The longest of `words` that the rest starts with, consumed.
    fn word<T: Copy>(&mut self, words: &[(&[u8], T)], what: &'static str) -> Result<T, Fail> {
        let found = words
            .iter()
            .filter(|(word, _)| self.rest().starts_with(word))
            .max_by_key(|(word, _)| word.len());
        let &(word, value) = found.ok_or_else(|| self.expected(what))?;
        self.pos += word.len();
        Ok(value)
    }

    /// The whole rest must be one of `words`.
    fn keyword<T: Copy>(&mut self, words: &[(&[u8], T)], what: &'static str) -> Result<T, Fail> {
        let found = words.iter().find(|(word, _)| *word == self.rest());
        let &(_, value) = found.ok_or_else(|| self.expected(what))?;
        self.pos = self.input.len();
        Ok(value)
    }

    /// An optionally signed decimal integer, the whole rest.
    fn integer(&mut self) -> Result<i64, Fail> {
        let text = std::str::from_utf8(self.rest()).ok();
        let value = text.and_then(|t| t.parse::<i64>().ok());
        let value = value.ok_or_else(|| self.expected("an integer"))?;
        self.pos = self.input.len();
        Ok(value)
    }

    fn boolean(&mut self) -> Result<bool, Fail> {
        self.keyword(
            &[
                (b"true", true),
                (b"false", false),
                (b"t", true),
                (b"f", false),
                (b"1", true),
                (b"0", false),
                (b"on", true),
                (b"off", false),
            ],
            "one of `true`, `false`, `t`, `f`, `1`, `0`, `on`, `off`",
        )
    }

    /// `+` or `-`, as the native op byte.
    fn op(&mut self, what: &'static str) -> Result<&'static [u8], Fail> {
        self.word(&[(b"+", b"+"), (b"-", b"-")], what)
    }
}

fn translate_at(command: &[u8]) -> Result<Translation, Fail> {
    let mut c = Cursor {
        input: command,
        pos: 0,
    };
    if command.is_empty() || command == b"1" {
        Ok(Translation::Ignored)
    } else if c.eat(b"core/") {
        core(c)
    } else if c.eat(b"whitelist/") {
        list(c, b"allow/", false)
    } else if c.eat(b"blacklist/") {
        list(c, b"deny/", false)
    } else if c.eat(b"filter/") {
        list(c, b"filter/", true)
    } else if c.eat(b"exec/") {
        exec_list(c)
    } else if c.eat(b"log/") {
        log(c)
    } else if c.eat(b"cmd/") {
        cmd(c)
    } else {
        Err(c.expected(
            "one of `core/`, `whitelist/`, `blacklist/`, `filter/`, `exec/`, `log/`, `cmd/`",
        ))
    }
}

fn commands(natives: Vec<Native>, end: usize) -> Result<Translation, Fail> {
    natives
        .into_iter()
        .map(|native| native.parse(end))
        .collect::<Result<_, _>>()
        .map(Translation::Commands)
}

/// What a list command names: a path category, or net categories.
#[derive(Clone, Copy)]
enum ListCategory {
    Path(&'static [u8]),
    Net(&'static [u8]),
    /// `network` without `/bind` or `/connect` where one is needed.
    BareNetwork,
}

/// `whitelist/`, `blacklist/` or `filter/` (already eaten), `CAT{+,-}X`.
fn list(mut c: Cursor, action: &'static [u8], filter: bool) -> Result<Translation, Fail> {
    let category = if filter {
        c.word(
            &[
                (b"write", ListCategory::Path(b"write")),
                (b"read", ListCategory::Path(b"read")),
                (b"exec", ListCategory::Path(b"exec")),
                (b"network", ListCategory::Net(b"net/bind,net/connect")),
            ],
            "one of `write`, `read`, `exec`, `network`",
        )?
    } else {
        let category = c.word(
            &[
                (b"write", ListCategory::Path(b"write")),
                (b"read", ListCategory::Path(b"read")),
                (b"exec", ListCategory::Path(b"exec")),
                (b"network", ListCategory::BareNetwork),
                (b"network/bind", ListCategory::Net(b"net/bind")),
                (b"network/connect", ListCategory::Net(b"net/connect")),
            ],
            "one of `write`, `read`, `exec`, `network/bind`, `network/connect`",
        )?;
        if let ListCategory::BareNetwork = category {
            return Err(c.expected("one of `/bind`, `/connect`"));
        }
        category
    };
    let at = c.pos;
    let op = c.op("one of `+`, `-`")?;
    let end = c.input.len();
    match category {
        ListCategory::Path(name) => {
            let native = Native::default()
                .put(action, at)
                .put(name, at)
                .put(op, at)
                .copy(c.rest(), c.pos);
            commands(vec![native], end)
        }
        ListCategory::Net(names) => {
            let prefix = Native::default().put(action, at).put(names, at).put(op, at);
            let natives = address(c.rest(), c.pos)?
                .iter()
                .map(|pattern| prefix.clone().append(pattern))
                .collect();
            commands(natives, end)
        }
        ListCategory::BareNetwork => unreachable!("rejected above"),
    }
}

/// `exec/` (already eaten), `kill_if_match{+,-}PATH` or
/// `resume_if_match{+,-}PATH`.
fn exec_list(mut c: Cursor) -> Result<Translation, Fail> {
    let at = c.pos;
    let name = c.word(
        &[
            (b"kill_if_match", "kill_if_match"),
            (b"resume_if_match", "resume_if_match"),
        ],
        "one of `kill_if_match`, `resume_if_match`",
    )?;
    let op = c.op("one of `+`, `-`")?;
    let native = Native::default()
        .put(b"exec/", at)
        .put(name.as_bytes(), at)
        .put(op, at)
        .copy(c.rest(), c.pos);
    commands(vec![native], c.input.len())
}

/// `core/` (already eaten), `sandbox/...` or `OPTION:VALUE`.
fn core(mut c: Cursor) -> Result<Translation, Fail> {
    let end = c.input.len();
    if c.eat(b"sandbox/") {
        return sandbox_mode(c);
    }
    let name_at = c.pos;
    let name_len = c.rest().iter().position(|&b| b == b':' || b == b'?');
    let name = &c.rest()[..name_len.unwrap_or(c.rest().len())];
    let known = OPTIONS.iter().find(|option| option.name == name);
    let Some(option) = known else {
        return Err(c.expected(
            "a `core/` option: `sandbox/...`, `trace/magic_lock`, `trace/exit_wait_all`, \
             `whitelist/successful_bind`, `violation/decision`, or another sydbox-1 option",
        ));
    };
    c.pos += name.len();
    if !c.eat(b":") {
        return Err(c.expected("`:`"));
    }
    let value_at = c.pos;
    let native = |text: &[u8]| Native::default().put(text, name_at);
    match option.value {
        OptionValue::Lock => {
            let lock = c.keyword(
                &[(b"on", "on"), (b"off", "off"), (b"exec", "exec")],
                "one of `on`, `off`, `exec`",
            )?;
            let native = native(b"lock:").put(lock.as_bytes(), value_at);
            commands(vec![native], end)
        }
        OptionValue::Decision => {
            let action = c.keyword(
                &[
                    (b"deny", "deny"),
                    (b"kill", "kill"),
                    (b"killall", "kill"),
                    (b"cont", "warn"),
                    (b"continue", "warn"),
                    (b"contall", "warn"),
                ],
                "one of `deny`, `kill`, `killall`, `cont`, `contall`",
            )?;
            let native = native(b"default/all:").put(action.as_bytes(), value_at);
            commands(vec![native], end)
        }
        OptionValue::NoWildcard => {
            let mode = c.keyword(
                &[(b"literal", "literal"), (b"prefix", "prefix")],
                "one of `literal`, `prefix`",
            )?;
            let native = native(b"match/no_wildcard:").put(mode.as_bytes(), value_at);
            commands(vec![native], end)
        }
        OptionValue::RaiseSafe => {
            let on: &[u8] = if c.boolean()? { b"on" } else { b"off" };
            commands(vec![native(b"report/safe:").put(on, value_at)], end)
        }
        OptionValue::ExitWaitAll => {
            Ok(Translation::Option(SydboxOption::ExitWaitAll(c.boolean()?)))
        }
        OptionValue::SuccessfulBind => Ok(Translation::Option(SydboxOption::SuccessfulBind(
            c.boolean()?,
        ))),
        OptionValue::ViolationExitCode => {
            let code = c.integer()?;
            if code == 0 {
                Ok(Translation::Option(SydboxOption::ViolationExitOffset))
            } else {
                Ok(no_effect(option))
            }
        }
        OptionValue::NoEffect(kind) => {
            kind.check(&mut c)?;
            Ok(no_effect(option))
        }
    }
}

fn no_effect(option: &SydboxOptionInfo) -> Translation {
    Translation::NoEffect {
        option: option.full_name,
        why: option.why,
    }
}

/// `core/sandbox/` (already eaten), `CAT:deny|off|allow` or `CAT?`.
fn sandbox_mode(mut c: Cursor) -> Result<Translation, Fail> {
    let end = c.input.len();
    let at = c.pos;
    let (switch, query) = c.word(
        &[
            (b"write", ("write", "write")),
            (b"read", ("read", "read")),
            (b"exec", ("exec", "exec")),
            (b"network", ("net", "net/connect")),
        ],
        "one of `write`, `read`, `exec`, `network`",
    )?;
    let native = Native::default().put(b"sandbox/", at);
    if c.eat(b"?") {
        if !c.rest().is_empty() {
            return Err(c.expected("the end of the command"));
        }
        return commands(vec![native.put(query.as_bytes(), at).put(b"?", at)], end);
    }
    if !c.eat(b":") {
        return Err(c.expected("one of `:`, `?`"));
    }
    let value_at = c.pos;
    // deny: checked, unmatched accesses denied; allow: checked, unmatched
    // accesses allowed, so only blacklist (deny/filter) rules refuse.
    let mode = c.keyword(
        &[
            (b"deny", Some("deny")),
            (b"off", None),
            (b"allow", Some("allow")),
        ],
        "one of `deny`, `off`, `allow`",
    )?;
    let on_off = native.put(switch.as_bytes(), at).put(b":", value_at);
    let Some(default) = mode else {
        return commands(vec![on_off.put(b"off", value_at)], end);
    };
    let default = Native::default()
        .put(b"default/", at)
        .put(switch.as_bytes(), at)
        .put(b":", value_at)
        .put(default.as_bytes(), value_at);
    commands(vec![on_off.put(b"on", value_at), default], end)
}

/// What a `core/` option does here.
#[derive(Clone, Copy)]
enum OptionValue {
    /// `on|off|exec` → `lock:...`.
    Lock,
    /// A violation decision → `default/all:...`.
    Decision,
    /// `literal|prefix` → `match/no_wildcard:...`.
    NoWildcard,
    /// A boolean → `report/safe:...`.
    RaiseSafe,
    ExitWaitAll,
    SuccessfulBind,
    /// An integer; 0 is implemented, other values have no effect.
    ViolationExitCode,
    /// Checked, accepted, and without effect.
    NoEffect(ValueKind),
}

/// The value an option without effect takes, still checked.
#[derive(Clone, Copy)]
enum ValueKind {
    Bool,
    Integer,
    /// One of the words.
    Word(&'static [&'static [u8]], &'static str),
    /// Any text, even empty (`log/file:` switches file logging off).
    Text,
}

impl ValueKind {
    fn check(self, c: &mut Cursor) -> Result<(), Fail> {
        match self {
            ValueKind::Bool => c.boolean().map(drop),
            ValueKind::Integer => c.integer().map(drop),
            ValueKind::Word(words, what) => {
                if words.iter().any(|&word| word == c.rest()) {
                    c.pos = c.input.len();
                    Ok(())
                } else {
                    Err(c.expected(what))
                }
            }
            ValueKind::Text => {
                c.pos = c.input.len();
                Ok(())
            }
        }
    }
}

/// One sydbox-1 option: its name after `core/` (or after nothing, for
/// `log/`), the full name, what it does here and, for an option without
/// effect, why.
struct SydboxOptionInfo {
    name: &'static [u8],
    full_name: &'static str,
    value: OptionValue,
    why: &'static str,
}

const fn option(
    name: &'static str,
    full_name: &'static str,
    value: OptionValue,
    why: &'static str,
) -> SydboxOptionInfo {
    SydboxOptionInfo {
        name: name.as_bytes(),
        full_name,
        value,
        why,
    }
}

const PTRACE: &str = "stockade supervises with seccomp user notification, not ptrace";

/// Every `core/` option of sydbox-1 (its manual page and magic key table,
/// up to 1.2.1) besides `core/sandbox/...`.
const OPTIONS: &[SydboxOptionInfo] = &[
    option(
        "trace/magic_lock",
        "core/trace/magic_lock",
        OptionValue::Lock,
        "",
    ),
    option(
        "violation/decision",
        "core/violation/decision",
        OptionValue::Decision,
        "",
    ),
    option(
        "match/no_wildcard",
        "core/match/no_wildcard",
        OptionValue::NoWildcard,
        "",
    ),
    option(
        "violation/raise_safe",
        "core/violation/raise_safe",
        OptionValue::RaiseSafe,
        "",
    ),
    option(
        "trace/exit_wait_all",
        "core/trace/exit_wait_all",
        OptionValue::ExitWaitAll,
        "",
    ),
    option(
        "whitelist/successful_bind",
        "core/whitelist/successful_bind",
        OptionValue::SuccessfulBind,
        "",
    ),
    option(
        "violation/exit_code",
        "core/violation/exit_code",
        OptionValue::ViolationExitCode,
        "only 0 (exit with 128 plus the command's code after a violation) is implemented; \
         other codes apply to contall/killall, which stockade does not have",
    ),
    option(
        "violation/raise_fail",
        "core/violation/raise_fail",
        OptionValue::NoEffect(ValueKind::Bool),
        "failures such as path resolution errors are never reported as violations",
    ),
    option(
        "trace/follow_fork",
        "core/trace/follow_fork",
        OptionValue::NoEffect(ValueKind::Bool),
        "every process the command starts is always sandboxed",
    ),
    option(
        "trace/exit_kill",
        "core/trace/exit_kill",
        OptionValue::NoEffect(ValueKind::Bool),
        "stockade does not exit before the sandboxed tree has ended",
    ),
    option(
        "trace/use_ptrace",
        "core/trace/use_ptrace",
        OptionValue::NoEffect(ValueKind::Bool),
        PTRACE,
    ),
    option(
        "trace/use_seccomp",
        "core/trace/use_seccomp",
        OptionValue::NoEffect(ValueKind::Bool),
        "seccomp is always used",
    ),
    option(
        "trace/use_seize",
        "core/trace/use_seize",
        OptionValue::NoEffect(ValueKind::Bool),
        PTRACE,
    ),
    option(
        "trace/use_toolong_hack",
        "core/trace/use_toolong_hack",
        OptionValue::NoEffect(ValueKind::Bool),
        "paths longer than PATH_MAX are resolved without a hack",
    ),
    option(
        "trace/interrupt",
        "core/trace/interrupt",
        OptionValue::NoEffect(ValueKind::Text),
        PTRACE,
    ),
    option(
        "restrict/file_control",
        "core/restrict/file_control",
        OptionValue::NoEffect(ValueKind::Bool),
        "open and fcntl flags are not restricted",
    ),
    option(
        "restrict/shared_memory_writable",
        "core/restrict/shared_memory_writable",
        OptionValue::NoEffect(ValueKind::Bool),
        "shared writable mappings are not restricted",
    ),
    option(
        "whitelist/per_process_directories",
        "core/whitelist/per_process_directories",
        OptionValue::NoEffect(ValueKind::Bool),
        "/proc/PID of a caller is judged as /proc/self by the rules",
    ),
    option(
        "whitelist/unsupported_socket_families",
        "core/whitelist/unsupported_socket_families",
        OptionValue::NoEffect(ValueKind::Bool),
        "socket families without addresses to check are always allowed",
    ),
    option(
        "match/case_sensitive",
        "core/match/case_sensitive",
        OptionValue::NoEffect(ValueKind::Bool),
        "patterns always match case-sensitively",
    ),
    option(
        "abort/decision",
        "core/abort/decision",
        OptionValue::NoEffect(ValueKind::Word(
            &[b"contall", b"killall"],
            "one of `contall`, `killall`",
        )),
        "signals to stockade are forwarded to the command",
    ),
    option(
        "panic/decision",
        "core/panic/decision",
        OptionValue::NoEffect(ValueKind::Word(
            &[b"kill", b"cont", b"contall", b"killall"],
            "one of `kill`, `cont`, `contall`, `killall`",
        )),
        "stockade has no panic state: an internal failure ends the run",
    ),
    option(
        "panic/exit_code",
        "core/panic/exit_code",
        OptionValue::NoEffect(ValueKind::Integer),
        "stockade has no panic state: an internal failure ends the run",
    ),
];

/// sydbox-1's `log/` options: all accepted, none with effect (reports go to
/// stderr, and as JSON lines to `--log` of `stockade`).
const LOG_OPTIONS: &[SydboxOptionInfo] = &[
    option(
        "file",
        "log/file",
        OptionValue::NoEffect(ValueKind::Text),
        LOG,
    ),
    option(
        "level",
        "log/level",
        OptionValue::NoEffect(ValueKind::Integer),
        LOG,
    ),
    option(
        "console_fd",
        "log/console_fd",
        OptionValue::NoEffect(ValueKind::Integer),
        LOG,
    ),
    option(
        "console_level",
        "log/console_level",
        OptionValue::NoEffect(ValueKind::Integer),
        LOG,
    ),
];

const LOG: &str = "reports always go to stderr";

/// `log/` (already eaten), `OPTION:VALUE`.
fn log(mut c: Cursor) -> Result<Translation, Fail> {
    let name_len = c.rest().iter().position(|&b| b == b':');
    let name = &c.rest()[..name_len.unwrap_or(c.rest().len())];
    let Some(option) = LOG_OPTIONS.iter().find(|option| option.name == name) else {
        return Err(c.expected("one of `file`, `level`, `console_fd`, `console_level`"));
    };
    c.pos += name.len();
    if !c.eat(b":") {
        return Err(c.expected("`:`"));
    }
    if let OptionValue::NoEffect(kind) = option.value {
        kind.check(&mut c)?;
    }
    Ok(no_effect(option))
}

/// `cmd/` (already eaten), `exec!PROGRAM[\037ARG...]`.
fn cmd(mut c: Cursor) -> Result<Translation, Fail> {
    if !c.eat(b"exec!") {
        return Err(c.expected("`exec!`"));
    }
    if c.rest().is_empty() || c.rest()[0] == UNIT_SEPARATOR {
        return Err(c.expected("a program name"));
    }
    let argv = c
        .rest()
        .split(|&b| b == UNIT_SEPARATOR)
        .map(<[u8]>::to_vec)
        .collect();
    Ok(Translation::Exec(argv))
}

/// What separates the program and its arguments in `cmd/exec!`.
pub const UNIT_SEPARATOR: u8 = 0o37;

/// Aliases and the native host patterns they stand for.
const ALIASES: &[(&[u8], &[&[u8]])] = &[
    (b"LOOPBACK", &[b"loopback4"]),
    (b"LOOPBACK6", &[b"loopback6"]),
    (b"ANY", &[b"any4"]),
    (b"ANY6", &[b"any6"]),
    (
        b"LOCAL",
        &[
            b"127.0.0.0/8",
            b"10.0.0.0/8",
            b"172.16.0.0/12",
            b"192.168.0.0/16",
        ],
    ),
    (
        b"LOCAL6",
        &[b"::1", b"fe80::/10", b"fc00::/7", b"fec0::/10"],
    ),
];

const ADDRESS_FORMS: &str = "an address: `inet:`, `inet6:`, `unix:`, `unix-abstract:`, \
                             `LOOPBACK`, `LOOPBACK6`, `ANY`, `ANY6`, `LOCAL` or `LOCAL6`";

/// Translates an API-1 address starting at command offset `start` into one
/// native net pattern per network it names.
fn address(addr: &[u8], start: usize) -> Result<Vec<Native>, Fail> {
    let fail = |position, what| Fail {
        position,
        kind: SydboxErrorKind::Expected(what),
    };
    let native = Native::default();
    if let Some(glob) = addr.strip_prefix(b"unix-abstract:") {
        let at = start + 14;
        return Ok(vec![native.put(b"@", at).copy(glob, at)]);
    }
    if let Some(glob) = addr.strip_prefix(b"unix:") {
        let at = start + 5;
        if glob.first() != Some(&b'/') {
            return Err(fail(at, "a socket path starting with `/`"));
        }
        return Ok(vec![native.copy(glob, at)]);
    }
    let (family, host_at): (Option<bool>, usize) = if addr.starts_with(b"inet:") {
        (Some(false), 5)
    } else if addr.starts_with(b"inet6:") {
        (Some(true), 6)
    } else {
        (None, 0)
    };
    let body = &addr[host_at..];
    let (host, ports) = match body.iter().position(|&b| b == b'@') {
        Some(at) => (&body[..at], Some((&body[at + 1..], start + host_at + at))),
        None => (body, None),
    };
    let host_at = start + host_at;
    let with_ports = |native: Native| match ports {
        Some((ports, at)) => native.put(b"!", at).copy(ports, at + 1),
        None => native,
    };
    match family {
        Some(v6) => {
            let ip = &host[..host.iter().position(|&b| b == b'/').unwrap_or(host.len())];
            let ip = std::str::from_utf8(ip).ok();
            let valid = if v6 {
                ip.is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok())
            } else {
                ip.is_some_and(|ip| ip.parse::<Ipv4Addr>().is_ok())
            };
            if !valid {
                return Err(fail(
                    host_at,
                    if v6 {
                        "an IPv6 address"
                    } else {
                        "an IPv4 address"
                    },
                ));
            }
            Ok(vec![with_ports(native.copy(host, host_at))])
        }
        None => {
            let Some(&(_, networks)) = ALIASES.iter().find(|(alias, _)| *alias == host) else {
                return Err(fail(start, ADDRESS_FORMS));
            };
            Ok(networks
                .iter()
                .map(|network| with_ports(native.clone().put(network, host_at)))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::addr::AddressPattern;
    use crate::policy::{Address, Category, Lock, Outcome, Policy, RuleAction, RuleOp};

    fn translated(command: &str) -> Translation {
        translate(command.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn commands(command: &str) -> Vec<Command> {
        match translated(command) {
            Translation::Commands(commands) => commands,
            other => panic!("{command}: not commands: {other:?}"),
        }
    }

    fn native(rules: &[&str]) -> Vec<Command> {
        rules
            .iter()
            .map(|rule| parse_rule(rule.as_bytes()).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    /// `command` translates to exactly the native `rules`.
    fn same(command: &str, rules: &[&str]) {
        assert_eq!(commands(command), native(rules), "{command}");
    }

    fn error(command: &str) -> SydboxError {
        match translate(command.as_bytes()) {
            Ok(t) => panic!("{command}: translated to {t:?}"),
            Err(e) => e,
        }
    }

    fn error_at(command: &str) -> usize {
        error(command).position()
    }

    #[test]
    fn sandbox_modes_switch_categories() {
        same(
            "core/sandbox/write:deny",
            &["sandbox/write:on", "default/write:deny"],
        );
        same("core/sandbox/write:off", &["sandbox/write:off"]);
        same(
            "core/sandbox/read:deny",
            &["sandbox/read:on", "default/read:deny"],
        );
        same("core/sandbox/read:off", &["sandbox/read:off"]);
        same(
            "core/sandbox/exec:deny",
            &["sandbox/exec:on", "default/exec:deny"],
        );
        same("core/sandbox/exec:off", &["sandbox/exec:off"]);
        same(
            "core/sandbox/network:deny",
            &["sandbox/net:on", "default/net:deny"],
        );
        same("core/sandbox/network:off", &["sandbox/net:off"]);
    }

    #[test]
    fn sandbox_network_covers_bind_and_connect() {
        assert_eq!(
            commands("core/sandbox/network:deny")[0],
            Command::Sandbox {
                categories: vec![Category::NetBind, Category::NetConnect],
                on: true
            }
        );
    }

    #[test]
    fn allow_mode_checks_with_a_default_of_allow() {
        same(
            "core/sandbox/write:allow",
            &["sandbox/write:on", "default/write:allow"],
        );
        same(
            "core/sandbox/network:allow",
            &["sandbox/net:on", "default/net:allow"],
        );
    }

    #[test]
    fn queries_ask_one_native_category() {
        same("core/sandbox/write?", &["sandbox/write?"]);
        same("core/sandbox/read?", &["sandbox/read?"]);
        same("core/sandbox/exec?", &["sandbox/exec?"]);
        same("core/sandbox/network?", &["sandbox/net/connect?"]);
        assert_eq!(
            commands("core/sandbox/network?"),
            vec![Command::Query {
                category: Category::NetConnect
            }]
        );
    }

    #[test]
    fn whitelist_blacklist_and_filter_paths() {
        for (list, action) in [
            ("whitelist", "allow"),
            ("blacklist", "deny"),
            ("filter", "filter"),
        ] {
            for category in ["write", "read", "exec"] {
                for op in ["+", "-"] {
                    same(
                        &format!("{list}/{category}{op}/tmp/***"),
                        &[&format!("{action}/{category}{op}/tmp/***")],
                    );
                }
            }
        }
    }

    #[test]
    fn path_is_passed_through_byte_for_byte() {
        let commands = match translate(b"whitelist/write+/var/tmp/paludis/\xff-x/**").unwrap() {
            Translation::Commands(commands) => commands,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            commands,
            vec![Command::Rule {
                action: RuleAction::Allow,
                categories: vec![Category::Write],
                op: RuleOp::Add,
                pattern: b"/var/tmp/paludis/\xff-x/**".to_vec(),
            }]
        );
    }

    #[test]
    fn network_lists_bind_and_connect() {
        for (list, action) in [("whitelist", "allow"), ("blacklist", "deny")] {
            for (api, category) in [("bind", "net/bind"), ("connect", "net/connect")] {
                for op in ["+", "-"] {
                    same(
                        &format!("{list}/network/{api}{op}inet:127.0.0.1@80"),
                        &[&format!("{action}/{category}{op}127.0.0.1!80")],
                    );
                }
            }
        }
    }

    #[test]
    fn filter_network_filters_bind_and_connect() {
        for op in ["+", "-"] {
            same(
                &format!("filter/network{op}unix:/dev/log"),
                &[&format!("filter/net/bind,net/connect{op}/dev/log")],
            );
        }
        let Command::Rule { categories, .. } = &commands("filter/network+LOOPBACK@0")[0] else {
            panic!("not a rule");
        };
        assert_eq!(categories, &[Category::NetBind, Category::NetConnect]);
    }

    #[test]
    fn magic_lock_becomes_lock() {
        same("core/trace/magic_lock:on", &["lock:on"]);
        same("core/trace/magic_lock:off", &["lock:off"]);
        same("core/trace/magic_lock:exec", &["lock:exec"]);
        assert_eq!(
            commands("core/trace/magic_lock:exec"),
            vec![Command::Lock(Lock::Exec)]
        );
    }

    #[test]
    fn exec_lists_keep_their_names() {
        same(
            "exec/kill_if_match+/usr/bin/evil*",
            &["exec/kill_if_match+/usr/bin/evil*"],
        );
        same(
            "exec/kill_if_match-/usr/bin/evil*",
            &["exec/kill_if_match-/usr/bin/evil*"],
        );
        same(
            "exec/resume_if_match+/bin/ok",
            &["exec/resume_if_match+/bin/ok"],
        );
        same(
            "exec/resume_if_match-/bin/ok",
            &["exec/resume_if_match-/bin/ok"],
        );
    }

    /// The native pattern(s) an API-1 address becomes, each checked to
    /// compile on its own.
    fn patterns(addr: &str) -> Vec<String> {
        commands(&format!("whitelist/network/connect+{addr}"))
            .into_iter()
            .map(|command| match command {
                Command::Rule {
                    action: RuleAction::Allow,
                    categories,
                    op: RuleOp::Add,
                    pattern,
                } => {
                    assert_eq!(categories, vec![Category::NetConnect]);
                    AddressPattern::parse(&pattern).unwrap();
                    String::from_utf8(pattern).unwrap()
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn address_forms_become_native_patterns() {
        for (api, expected) in [
            ("inet:127.0.0.1/8@1024-65535", "127.0.0.1/8!1024-65535"),
            ("inet:0.0.0.0@0", "0.0.0.0!0"),
            ("inet:10.0.0.1", "10.0.0.1"),
            ("inet:10.0.0.0/8", "10.0.0.0/8"),
            (
                "inet:127.0.0.1@80,443,8000-8080",
                "127.0.0.1!80,443,8000-8080",
            ),
            ("inet6:::1@80", "::1!80"),
            ("inet6:::1", "::1"),
            ("inet6:fe80::/10@22", "fe80::/10!22"),
            ("inet6:::ffff:127.0.0.1@80", "::ffff:127.0.0.1!80"),
            ("unix:/run/nscd/socket", "/run/nscd/socket"),
            ("unix:/tmp/*.sock", "/tmp/*.sock"),
            ("unix:/var/tmp/***", "/var/tmp/***"),
            ("unix-abstract:/tmp/.X11-unix/X*", "@/tmp/.X11-unix/X*"),
            ("unix-abstract:name", "@name"),
            ("LOOPBACK@0", "loopback4!0"),
            ("LOOPBACK@1024-65535", "loopback4!1024-65535"),
            ("LOOPBACK", "loopback4"),
            ("LOOPBACK6@80", "loopback6!80"),
            ("LOOPBACK6@1024-65535", "loopback6!1024-65535"),
            ("ANY@80", "any4!80"),
            ("ANY6@22,80", "any6!22,80"),
        ] {
            assert_eq!(patterns(api), vec![expected], "{api}");
        }
    }

    #[test]
    fn local_aliases_become_one_rule_per_network() {
        assert_eq!(
            patterns("LOCAL@80"),
            [
                "127.0.0.0/8!80",
                "10.0.0.0/8!80",
                "172.16.0.0/12!80",
                "192.168.0.0/16!80"
            ]
        );
        assert_eq!(
            patterns("LOCAL6"),
            ["::1", "fe80::/10", "fc00::/7", "fec0::/10"]
        );
    }

    #[test]
    fn translated_rules_decide_as_sydbox_did() {
        let mut policy = Policy::new();
        for command in [
            "core/sandbox/network:deny",
            "core/sandbox/write:deny",
            "whitelist/network/connect+inet:127.0.0.1/8@1024-65535",
            "whitelist/network/bind+LOOPBACK6@0",
            "whitelist/write+/var/tmp/***",
        ] {
            for c in commands(command) {
                policy.apply(&c).unwrap();
            }
        }
        let inet = |a: &str| Address::Inet(a.parse().unwrap());
        let outcome = |c, a: &str| policy.check_addr(c, &inet(a)).outcome;
        assert_eq!(
            outcome(Category::NetConnect, "127.0.0.5:2000"),
            Outcome::Allow
        );
        assert_eq!(outcome(Category::NetConnect, "127.0.0.5:80"), Outcome::Deny);
        assert_eq!(outcome(Category::NetBind, "[::1]:0"), Outcome::Allow);
        assert_eq!(outcome(Category::NetBind, "127.0.0.1:0"), Outcome::Deny);
        let path = |p: &[u8]| policy.check_path(Category::Write, p).outcome;
        assert_eq!(path(b"/var/tmp/x/y"), Outcome::Allow);
        assert_eq!(path(b"/etc/passwd"), Outcome::Deny);
        for c in commands("whitelist/write-/var/tmp/***") {
            policy.apply(&c).unwrap();
        }
        let after = policy.check_path(Category::Write, b"/var/tmp/x/y");
        assert_eq!(after.outcome, Outcome::Deny);
    }

    #[test]
    fn options_with_a_native_meaning_are_returned() {
        for (value, expected) in [
            ("true", true),
            ("false", false),
            ("1", true),
            ("0", false),
            ("on", true),
            ("off", false),
        ] {
            assert_eq!(
                translated(&format!("core/trace/exit_wait_all:{value}")),
                Translation::Option(SydboxOption::ExitWaitAll(expected))
            );
            assert_eq!(
                translated(&format!("core/whitelist/successful_bind:{value}")),
                Translation::Option(SydboxOption::SuccessfulBind(expected))
            );
        }
    }

    #[test]
    fn violation_decision_sets_the_defaults() {
        same("core/violation/decision:deny", &["default/all:deny"]);
        same("core/violation/decision:kill", &["default/all:kill"]);
        same("core/violation/decision:killall", &["default/all:kill"]);
        same("core/violation/decision:cont", &["default/all:warn"]);
        same("core/violation/decision:continue", &["default/all:warn"]);
    }

    /// What one sydbox-1 command is expected to become.
    enum Expect {
        Native(&'static [&'static str]),
        Option(SydboxOption),
        NoEffect(&'static str),
        Ignored,
    }

    /// Every option of sydbox-1 (manual page and magic key table, 1.x up
    /// to 1.2.1), each with a value it takes, and what it becomes here.
    #[test]
    fn every_sydbox1_option_is_accepted() {
        use Expect::*;
        let table: &[(&str, Expect)] = &[
            ("", Ignored),
            ("1", Ignored),
            (
                "core/sandbox/exec:deny",
                Native(&["sandbox/exec:on", "default/exec:deny"]),
            ),
            (
                "core/sandbox/read:allow",
                Native(&["sandbox/read:on", "default/read:allow"]),
            ),
            ("core/sandbox/write:off", Native(&["sandbox/write:off"])),
            (
                "core/sandbox/network:deny",
                Native(&["sandbox/net:on", "default/net:deny"]),
            ),
            (
                "core/match/case_sensitive:true",
                NoEffect("core/match/case_sensitive"),
            ),
            (
                "core/match/no_wildcard:prefix",
                Native(&["match/no_wildcard:prefix"]),
            ),
            (
                "core/match/no_wildcard:literal",
                Native(&["match/no_wildcard:literal"]),
            ),
            (
                "core/restrict/file_control:false",
                NoEffect("core/restrict/file_control"),
            ),
            (
                "core/restrict/shared_memory_writable:false",
                NoEffect("core/restrict/shared_memory_writable"),
            ),
            (
                "core/whitelist/per_process_directories:true",
                NoEffect("core/whitelist/per_process_directories"),
            ),
            (
                "core/whitelist/successful_bind:true",
                Option(SydboxOption::SuccessfulBind(true)),
            ),
            (
                "core/whitelist/unsupported_socket_families:true",
                NoEffect("core/whitelist/unsupported_socket_families"),
            ),
            (
                "core/abort/decision:contall",
                NoEffect("core/abort/decision"),
            ),
            (
                "core/abort/decision:killall",
                NoEffect("core/abort/decision"),
            ),
            ("core/panic/decision:kill", NoEffect("core/panic/decision")),
            (
                "core/panic/decision:contall",
                NoEffect("core/panic/decision"),
            ),
            ("core/panic/exit_code:-1", NoEffect("core/panic/exit_code")),
            (
                "core/violation/decision:deny",
                Native(&["default/all:deny"]),
            ),
            (
                "core/violation/decision:contall",
                Native(&["default/all:warn"]),
            ),
            (
                "core/violation/exit_code:-1",
                NoEffect("core/violation/exit_code"),
            ),
            (
                "core/violation/exit_code:0",
                Option(SydboxOption::ViolationExitOffset),
            ),
            (
                "core/violation/raise_fail:false",
                NoEffect("core/violation/raise_fail"),
            ),
            (
                "core/violation/raise_safe:false",
                Native(&["report/safe:off"]),
            ),
            ("core/violation/raise_safe:t", Native(&["report/safe:on"])),
            (
                "core/trace/follow_fork:true",
                NoEffect("core/trace/follow_fork"),
            ),
            (
                "core/trace/exit_kill:true",
                NoEffect("core/trace/exit_kill"),
            ),
            (
                "core/trace/exit_wait_all:f",
                Option(SydboxOption::ExitWaitAll(false)),
            ),
            ("core/trace/magic_lock:off", Native(&["lock:off"])),
            (
                "core/trace/use_ptrace:true",
                NoEffect("core/trace/use_ptrace"),
            ),
            (
                "core/trace/use_seccomp:true",
                NoEffect("core/trace/use_seccomp"),
            ),
            (
                "core/trace/use_seize:true",
                NoEffect("core/trace/use_seize"),
            ),
            (
                "core/trace/use_toolong_hack:true",
                NoEffect("core/trace/use_toolong_hack"),
            ),
            (
                "core/trace/interrupt:while_wait",
                NoEffect("core/trace/interrupt"),
            ),
            ("log/file:", NoEffect("log/file")),
            ("log/file:/var/log/sydbox.log", NoEffect("log/file")),
            ("log/level:511", NoEffect("log/level")),
            ("log/console_fd:2", NoEffect("log/console_fd")),
            ("log/console_level:3", NoEffect("log/console_level")),
            (
                "exec/kill_if_match+/bin/x",
                Native(&["exec/kill_if_match+/bin/x"]),
            ),
            (
                "exec/resume_if_match+/bin/x",
                Native(&["exec/resume_if_match+/bin/x"]),
            ),
            ("whitelist/exec+/bin/x", Native(&["allow/exec+/bin/x"])),
            ("whitelist/read+/x", Native(&["allow/read+/x"])),
            ("whitelist/write+/x", Native(&["allow/write+/x"])),
            (
                "whitelist/network/bind+LOOPBACK@0",
                Native(&["allow/net/bind+loopback4!0"]),
            ),
            (
                "whitelist/network/connect+unix:/x",
                Native(&["allow/net/connect+/x"]),
            ),
            ("blacklist/exec+/bin/x", Native(&["deny/exec+/bin/x"])),
            ("blacklist/read+/x", Native(&["deny/read+/x"])),
            ("blacklist/write+/x", Native(&["deny/write+/x"])),
            (
                "blacklist/network/bind+LOOPBACK6@0",
                Native(&["deny/net/bind+loopback6!0"]),
            ),
            (
                "blacklist/network/connect+unix-abstract:x",
                Native(&["deny/net/connect+@x"]),
            ),
            ("filter/exec+/bin/x", Native(&["filter/exec+/bin/x"])),
            ("filter/read+/x", Native(&["filter/read+/x"])),
            ("filter/write+/x", Native(&["filter/write+/x"])),
            (
                "filter/network+unix:/x",
                Native(&["filter/net/bind,net/connect+/x"]),
            ),
        ];
        for (command, expect) in table {
            let got = translated(command);
            match expect {
                Native(rules) => assert_eq!(got, Translation::Commands(native(rules)), "{command}"),
                Option(o) => assert_eq!(got, Translation::Option(*o), "{command}"),
                NoEffect(name) => match got {
                    Translation::NoEffect { option, why } => {
                        assert_eq!(option, *name, "{command}");
                        assert!(!why.is_empty(), "{command}");
                    }
                    other => panic!("{command}: {other:?}"),
                },
                Ignored => assert_eq!(got, Translation::Ignored, "{command}"),
            }
        }
        let exec = format!("cmd/exec!/bin/echo{0}a b{0}{0}c", UNIT_SEPARATOR as char);
        assert_eq!(
            translated(&exec),
            Translation::Exec(vec![
                b"/bin/echo".to_vec(),
                b"a b".to_vec(),
                Vec::new(),
                b"c".to_vec()
            ])
        );
    }

    #[test]
    fn options_without_effect_still_check_their_values() {
        assert_eq!(error_at("core/trace/follow_fork:maybe"), 23);
        assert_eq!(error_at("core/match/no_wildcard:glob"), 23);
        assert_eq!(error_at("core/panic/decision:deny"), 20);
        assert_eq!(error_at("core/panic/exit_code:x"), 21);
        assert_eq!(error_at("log/level:high"), 10);
        assert_eq!(error_at("log/colour:1"), 4);
        assert_eq!(error_at("cmd/exec!"), 9);
        assert_eq!(error_at("cmd/run!x"), 4);
    }

    #[test]
    fn rejects_unknown_command_at_start() {
        let e = error("permit/write+/x");
        assert_eq!(e.position(), 0);
        assert_eq!(
            e.message(),
            "expected one of `core/`, `whitelist/`, `blacklist/`, `filter/`, `exec/`, `log/`, \
             `cmd/`"
        );
        assert_eq!(error_at("2"), 0);
    }

    #[test]
    fn rejects_unknown_option_at_its_name() {
        assert_eq!(error_at("core/trace/nope:1"), 5);
        assert_eq!(error_at("core/sandbox/stat:deny"), 13);
        assert_eq!(error_at("core/trace/exit_wait_all?"), 24);
    }

    #[test]
    fn rejects_bad_mode_after_the_colon() {
        let e = error("core/sandbox/write:maybe");
        assert_eq!(e.position(), 19);
        assert_eq!(
            e.kind(),
            &SydboxErrorKind::Expected("one of `deny`, `off`, `allow`")
        );
        assert_eq!(
            e.message(),
            "expected one of `deny`, `off`, `allow` after `core/sandbox/write:`"
        );
        assert_eq!(error_at("core/sandbox/write:on"), 19);
        assert_eq!(error_at("core/sandbox/write"), 18);
        assert_eq!(error_at("core/sandbox/write?x"), 19);
        assert_eq!(error_at("core/trace/magic_lock:maybe"), 22);
        assert_eq!(error_at("core/violation/decision:allow"), 24);
        assert_eq!(error_at("core/trace/exit_wait_all:yes"), 25);
    }

    #[test]
    fn rejects_bad_port_at_the_port() {
        let e = error("whitelist/network/bind+inet:1.2.3.4@99999");
        assert_eq!(e.position(), 36);
        assert!(
            e.message()
                .starts_with("invalid address: expected a port number"),
            "{}",
            e.message()
        );
        assert_eq!(error_at("whitelist/network/bind+inet:1.2.3.4@80-"), 39);
        assert_eq!(error_at("whitelist/network/bind+inet:1.2.3.4@"), 36);
        assert_eq!(error_at("whitelist/network/bind+LOOPBACK@x"), 32);
        assert_eq!(error_at("whitelist/network/bind+inet:1.2.3.4@80,9-5"), 39);
    }

    #[test]
    fn rejects_bad_prefix_at_the_prefix() {
        assert_eq!(error_at("whitelist/network/bind+inet:127.0.0.1/33@80"), 38);
        assert_eq!(error_at("whitelist/network/bind+inet6:::1/129"), 33);
    }

    #[test]
    fn rejects_address_of_the_wrong_family_at_the_address() {
        let e = error("whitelist/network/bind+inet:::1@80");
        assert_eq!(e.position(), 28);
        assert_eq!(e.kind(), &SydboxErrorKind::Expected("an IPv4 address"));
        assert_eq!(error_at("whitelist/network/bind+inet6:127.0.0.1@80"), 29);
        assert_eq!(error_at("whitelist/network/bind+inet:loopback@80"), 28);
        assert_eq!(error_at("whitelist/network/bind+inet:@80"), 28);
    }

    #[test]
    fn rejects_unknown_address_form_at_its_start() {
        assert_eq!(error_at("whitelist/network/bind+LOOPBACKX@80"), 23);
        assert_eq!(error_at("whitelist/network/bind+127.0.0.1@80"), 23);
        assert_eq!(error_at("whitelist/network/bind+loopback"), 23);
        assert_eq!(error_at("whitelist/network/bind+"), 23);
    }

    #[test]
    fn rejects_bad_unix_addresses() {
        assert_eq!(error_at("whitelist/network/connect+unix:rel/sock"), 31);
        let e = error("whitelist/network/connect+unix:/a/[b");
        assert_eq!(e.position(), 34);
        assert!(
            e.message().starts_with("invalid address:"),
            "{}",
            e.message()
        );
        assert_eq!(error_at("whitelist/network/connect+unix-abstract:"), 40);
        assert_eq!(error_at("whitelist/network/connect+unix-abstract:a[b"), 41);
    }

    #[test]
    fn rejects_bad_path_patterns_at_their_position() {
        let e = error("whitelist/write+tmp");
        assert_eq!(e.position(), 16);
        assert_eq!(
            e.message(),
            "invalid pattern: a path pattern must start with `/`"
        );
        assert_eq!(error_at("whitelist/write+"), 16);
        assert_eq!(error_at("filter/read+/a/[b"), 15);
        assert_eq!(error_at("exec/kill_if_match+x"), 19);
    }

    #[test]
    fn rejects_bad_list_syntax() {
        assert_eq!(error_at("whitelist/stat+/x"), 10);
        assert_eq!(error_at("whitelist/write/x"), 15);
        assert_eq!(error_at("whitelist/write^/x"), 15);
        assert_eq!(
            error("whitelist/network+inet:1.2.3.4").message(),
            "expected one of `/bind`, `/connect` after `whitelist/network`"
        );
        assert_eq!(error_at("whitelist/network/listen+LOOPBACK"), 17);
        assert_eq!(error_at("filter/network/bind+LOOPBACK"), 14);
        assert_eq!(error_at("exec/kill+/x"), 5);
        assert_eq!(error_at("exec/kill_if_match/x"), 18);
    }

    #[test]
    fn displays_like_a_compiler() {
        let e = error("core/sandbox/write:maybe");
        let expected = [
            "invalid sydbox command: expected one of `deny`, `off`, `allow` after \
             `core/sandbox/write:`",
            "  core/sandbox/write:maybe",
            "                     ^",
        ];
        assert_eq!(e.to_string(), expected.join("\n"));
        assert_eq!((e.source(), e.line(), e.column()), (None, None, 20));
    }

    #[test]
    fn config_skips_comments_and_blank_lines() {
        let text = "# sydbox profile\n\n   # indented\ncore/sandbox/write:deny  \r\n  \
                    whitelist/write+/tmp/***\ncore/trace/follow_fork:true\n";
        let translations = parse_sydbox_config("paludis.syd-1", text.as_bytes()).unwrap();
        assert_eq!(
            translations,
            vec![
                Translation::Commands(native(&["sandbox/write:on", "default/write:deny"])),
                Translation::Commands(native(&["allow/write+/tmp/***"])),
                Translation::NoEffect {
                    option: "core/trace/follow_fork",
                    why: "every process the command starts is always sandboxed"
                },
            ]
        );
    }

    #[test]
    fn config_reports_every_bad_line_together() {
        let text = "# header\ncore/sandbox/write:maybe\nwhitelist/write+/tmp\n  \
                    whitelist/network/bind+inet:1.2.3.4@99999\n";
        let errors = parse_sydbox_config("f.syd-1", text.as_bytes()).unwrap_err();
        let at: Vec<_> = errors.iter().map(|e| (e.line(), e.column())).collect();
        assert_eq!(at, vec![(Some(2), 20), (Some(4), 39)]);
        assert_eq!(errors[0].source(), Some("f.syd-1"));
        let expected = [
            "f.syd-1:4:39: invalid address: expected a port number from 0 to 65535",
            "    whitelist/network/bind+inet:1.2.3.4@99999",
            "                                        ^",
        ];
        assert_eq!(errors[1].to_string(), expected.join("\n"));
    }
}
