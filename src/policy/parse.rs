//! One parser for `-m` rules, config files and in-sandbox commands.
//!
//! The rule grammar, one command per rule:
//!
//! ```text
//! sandbox/CATS:on|off        sandbox/CAT?
//! allow|deny|filter/CATS{+|-|^}PATTERN
//! default/CATS:deny|warn|kill|allow
//! errno/CATS:NAME            (EPERM, EACCES, ... : the errno a denial returns)
//! match/no_wildcard:literal|prefix
//! report/safe:on|off
//! lock:on|off|exec
//! exec/kill_if_match{+|-|^}PATTERN     exec/resume_if_match{+|-|^}PATTERN
//! trace/allow_user_namespace:on|off
//! ```
//!
//! CATS is a comma list of `read`, `write`, `exec`, `stat`, `net/bind`,
//! `net/connect`; `sandbox/` and `default/` also take `net` (both net
//! categories) and `all`. Patterns are validated here, so that an error can
//! point at the byte that is wrong.

use std::fmt;

use super::addr::{AddressErrorKind, AddressPattern};
use super::pattern::{Pattern, PatternErrorKind};
use super::{Category, Command, DefaultAction, Lock, NoWildcard, RuleAction, RuleOp};

/// A rule that does not parse: the input, the byte position of the problem
/// and what is wrong there. Displays like a compiler diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    input: Vec<u8>,
    position: usize,
    kind: RuleErrorKind,
}

/// What is wrong at the position of a [`RuleError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleErrorKind {
    /// Something else was expected, described here (e.g. "one of `on`, `off`").
    Expected(&'static str),
    /// `sandbox/...?` named more than one category.
    QueryOfSeveral,
    /// A path pattern is malformed.
    Pattern(PatternErrorKind),
    /// A net pattern is malformed.
    Address(AddressErrorKind),
}

impl RuleError {
    /// The rule as given.
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// The byte offset in [`input`](Self::input) where the problem is.
    pub fn position(&self) -> usize {
        self.position
    }

    /// What is wrong.
    pub fn kind(&self) -> &RuleErrorKind {
        &self.kind
    }

    /// The one-line description, without the rule and caret.
    pub fn message(&self) -> String {
        match &self.kind {
            RuleErrorKind::Expected(what) if self.position == 0 => format!("expected {what}"),
            RuleErrorKind::Expected(what) => {
                format!(
                    "expected {what} after `{}`",
                    escape(&self.input[..self.position])
                )
            }
            RuleErrorKind::QueryOfSeveral => {
                "a query names exactly one category (e.g. `sandbox/net/connect?`)".to_owned()
            }
            RuleErrorKind::Pattern(kind) => format!("invalid pattern: {kind}"),
            RuleErrorKind::Address(kind) => format!("invalid address: {kind}"),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid rule: {}", self.message())?;
        write_caret(f, &self.input, self.position)
    }
}

impl std::error::Error for RuleError {}

/// Writes `  LINE` and `  ^` under the byte at `position`.
fn write_caret(f: &mut fmt::Formatter<'_>, line: &[u8], position: usize) -> fmt::Result {
    let column = escape(&line[..position.min(line.len())]).chars().count();
    writeln!(f, "  {}", escape(line))?;
    write!(f, "  {:column$}^", "")
}

/// Text for display: printable UTF-8 as is, anything else as `\xNN`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                let mut buf = [0; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Parses one rule.
pub fn parse_rule(input: &[u8]) -> Result<Command, RuleError> {
    let mut p = Parser { input, pos: 0 };
    if p.eat(b"sandbox/") {
        p.sandbox()
    } else if p.eat(b"default/") {
        p.default()
    } else if p.eat(b"lock:") {
        p.lock()
    } else if p.eat(b"errno/") {
        p.errno()
    } else if p.eat(b"match/no_wildcard:") {
        p.no_wildcard()
    } else if p.eat(b"report/safe:") {
        p.report_safe()
    } else if p.eat(b"exec/") {
        p.exec_list()
    } else if p.eat(b"allow/") {
        p.rule(RuleAction::Allow)
    } else if p.eat(b"deny/") {
        p.rule(RuleAction::Deny)
    } else if p.eat(b"filter/") {
        p.rule(RuleAction::Filter)
    } else if p.eat(b"trace/") {
        p.trace()
    } else {
        Err(p.expected(
            "one of `sandbox/`, `allow/`, `deny/`, `filter/`, `default/`, `lock:`, `exec/`, \
             `errno/`, `match/no_wildcard:`, `report/safe:`, `trace/`",
        ))
    }
}

/// Category words; the last two are groups, allowed in `sandbox/` and
/// `default/` only.
const CATEGORY_WORDS: [(&[u8], &[Category]); 8] = [
    (b"read", &[Category::Read]),
    (b"write", &[Category::Write]),
    (b"exec", &[Category::Exec]),
    (b"stat", &[Category::Stat]),
    (b"net/bind", &[Category::NetBind]),
    (b"net/connect", &[Category::NetConnect]),
    (b"net", &[Category::NetBind, Category::NetConnect]),
    (b"all", &Category::ALL),
];

/// The errno names `errno/CATS:NAME` takes.
pub(crate) const ERRNO_NAMES: &[(&[u8], i32)] = &[
    (b"EPERM", libc::EPERM),
    (b"EACCES", libc::EACCES),
    (b"ENOENT", libc::ENOENT),
    (b"EROFS", libc::EROFS),
    (b"ECONNREFUSED", libc::ECONNREFUSED),
    (b"EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    (b"EADDRINUSE", libc::EADDRINUSE),
    (b"ENETUNREACH", libc::ENETUNREACH),
    (b"EHOSTUNREACH", libc::EHOSTUNREACH),
];

const ERRNO_EXPECTED: &str = "one of `EPERM`, `EACCES`, `ENOENT`, `EROFS`, `ECONNREFUSED`, \
                              `EADDRNOTAVAIL`, `EADDRINUSE`, `ENETUNREACH`, `EHOSTUNREACH`";

/// The name of an errno in [`ERRNO_NAMES`], for printing rules back.
pub(crate) fn errno_name(errno: i32) -> Option<&'static str> {
    ERRNO_NAMES
        .iter()
        .find(|&&(_, e)| e == errno)
        .and_then(|(name, _)| std::str::from_utf8(name).ok())
}

/// Bytes that end a category word.
const WORD_ENDS: &[u8] = b",:?+-^";

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
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

    fn error_at(&self, position: usize, kind: RuleErrorKind) -> RuleError {
        RuleError {
            input: self.input.to_vec(),
            position,
            kind,
        }
    }

    fn expected(&self, what: &'static str) -> RuleError {
        self.error_at(self.pos, RuleErrorKind::Expected(what))
    }

    /// The rest of the input must be one of `words`.
    fn keyword<T: Copy>(
        &mut self,
        words: &[(&[u8], T)],
        what: &'static str,
    ) -> Result<T, RuleError> {
        let found = words.iter().find(|(word, _)| *word == self.rest());
        let (_, value) = found.ok_or_else(|| self.expected(what))?;
        self.pos = self.input.len();
        Ok(*value)
    }

    /// `CAT[,CAT...]`, stopping before the byte that ends the list. Returns
    /// the categories (each once, in order) and how many words named them.
    /// `then` describes what may follow the list, for a word that starts
    /// with a category name and goes on (`write/x`: the op is missing).
    fn categories(
        &mut self,
        groups: bool,
        then: &'static str,
    ) -> Result<(Vec<Category>, usize), RuleError> {
        let mut categories = Vec::new();
        let mut words = 0;
        let allowed = if groups {
            &CATEGORY_WORDS[..]
        } else {
            &CATEGORY_WORDS[..6]
        };
        loop {
            let len = self.rest().iter().position(|b| WORD_ENDS.contains(b));
            let word = &self.rest()[..len.unwrap_or(self.rest().len())];
            if let Some((_, named)) = allowed.iter().find(|(name, _)| *name == word) {
                for &c in *named {
                    if !categories.contains(&c) {
                        categories.push(c);
                    }
                }
            } else if word == b"net" {
                self.pos += word.len();
                return Err(self.expected("`/bind` or `/connect`"));
            } else {
                // A known name running on (`write/x`) most likely lacks what follows it.
                let known = allowed.iter().filter(|(name, _)| word.starts_with(name));
                if let Some((name, _)) = known.max_by_key(|(name, _)| name.len()) {
                    self.pos += name.len();
                    return Err(self.expected(then));
                }
                return Err(self.expected(if groups {
                    "a category: `read`, `write`, `exec`, `stat`, `net`, `net/bind`, \
                     `net/connect` or `all`"
                } else {
                    "a category: `read`, `write`, `exec`, `stat`, `net/bind` or `net/connect`"
                }));
            }
            words += 1;
            self.pos += word.len();
            if !self.eat(b",") {
                return Ok((categories, words));
            }
        }
    }

    /// `+`, `-` or `^`.
    fn rule_op(&mut self, what: &'static str) -> Result<RuleOp, RuleError> {
        let op = match self.rest().first() {
            Some(b'+') => RuleOp::Add,
            Some(b'-') => RuleOp::RemoveLast,
            Some(b'^') => RuleOp::RemoveAll,
            _ => return Err(self.expected(what)),
        };
        self.pos += 1;
        Ok(op)
    }

    fn sandbox(mut self) -> Result<Command, RuleError> {
        let list_start = self.pos;
        let (categories, words) = self.categories(true, "one of `,`, `:`, `?`")?;
        if self.eat(b"?") {
            if !self.rest().is_empty() {
                return Err(self.expected("the end of the rule"));
            }
            return match categories[..] {
                [category] if words == 1 => Ok(Command::Query { category }),
                _ => Err(self.error_at(list_start, RuleErrorKind::QueryOfSeveral)),
            };
        }
        if !self.eat(b":") {
            return Err(self.expected("one of `,`, `:`, `?`"));
        }
        let on = self.keyword(&[(b"on", true), (b"off", false)], "one of `on`, `off`")?;
        Ok(Command::Sandbox { categories, on })
    }

    fn default(mut self) -> Result<Command, RuleError> {
        let (categories, _) = self.categories(true, "one of `,`, `:`")?;
        if !self.eat(b":") {
            return Err(self.expected("one of `,`, `:`"));
        }
        let action = self.keyword(
            &[
                (b"deny", DefaultAction::Deny),
                (b"warn", DefaultAction::Warn),
                (b"kill", DefaultAction::Kill),
                (b"allow", DefaultAction::Allow),
            ],
            "one of `deny`, `warn`, `kill`, `allow`",
        )?;
        Ok(Command::Default { categories, action })
    }

    fn errno(mut self) -> Result<Command, RuleError> {
        let (categories, _) = self.categories(true, "one of `,`, `:`")?;
        if !self.eat(b":") {
            return Err(self.expected("one of `,`, `:`"));
        }
        let errno = self.keyword(ERRNO_NAMES, ERRNO_EXPECTED)?;
        Ok(Command::Errno { categories, errno })
    }

    fn no_wildcard(mut self) -> Result<Command, RuleError> {
        let mode = self.keyword(
            &[
                (b"literal", NoWildcard::Literal),
                (b"prefix", NoWildcard::Prefix),
            ],
            "one of `literal`, `prefix`",
        )?;
        Ok(Command::NoWildcard(mode))
    }

    fn report_safe(mut self) -> Result<Command, RuleError> {
        let on = self.keyword(&[(b"on", true), (b"off", false)], "one of `on`, `off`")?;
        Ok(Command::ReportSafe(on))
    }

    fn lock(mut self) -> Result<Command, RuleError> {
        let lock = self.keyword(
            &[
                (b"on", Lock::On),
                (b"off", Lock::Off),
                (b"exec", Lock::Exec),
            ],
            "one of `on`, `off`, `exec`",
        )?;
        Ok(Command::Lock(lock))
    }

    fn trace(mut self) -> Result<Command, RuleError> {
        if !self.eat(b"allow_user_namespace") {
            return Err(self.expected("`allow_user_namespace`"));
        }
        if !self.eat(b":") {
            return Err(self.expected("`:`"));
        }
        let on = self.keyword(&[(b"on", true), (b"off", false)], "one of `on`, `off`")?;
        Ok(Command::AllowUserNamespace(on))
    }

    fn exec_list(mut self) -> Result<Command, RuleError> {
        let kill = if self.eat(b"kill_if_match") {
            true
        } else if self.eat(b"resume_if_match") {
            false
        } else {
            return Err(self.expected("one of `kill_if_match`, `resume_if_match`"));
        };
        let op = self.rule_op("one of `+`, `-`, `^`")?;
        self.check_path_pattern()?;
        let pattern = self.rest().to_vec();
        Ok(if kill {
            Command::KillIfMatch { op, pattern }
        } else {
            Command::ResumeIfMatch { op, pattern }
        })
    }

    fn rule(mut self, action: RuleAction) -> Result<Command, RuleError> {
        let (categories, _) = self.categories(false, "one of `,`, `+`, `-`, `^`")?;
        let op = self.rule_op("one of `,`, `+`, `-`, `^`")?;
        if categories.iter().any(|&c| !is_net(c)) {
            self.check_path_pattern()?;
        }
        if categories.iter().any(|&c| is_net(c)) {
            self.check_address_pattern()?;
        }
        let pattern = self.rest().to_vec();
        Ok(Command::Rule {
            action,
            categories,
            op,
            pattern,
        })
    }

    fn check_path_pattern(&self) -> Result<(), RuleError> {
        Pattern::path(self.rest())
            .map(drop)
            .map_err(|e| self.error_at(self.pos + e.position, RuleErrorKind::Pattern(e.kind)))
    }

    fn check_address_pattern(&self) -> Result<(), RuleError> {
        AddressPattern::parse(self.rest())
            .map(drop)
            .map_err(|e| self.error_at(self.pos + e.position, RuleErrorKind::Address(e.kind)))
    }
}

/// Whether rules of `category` hold network address patterns.
pub(crate) fn is_net(category: Category) -> bool {
    matches!(category, Category::NetBind | Category::NetConnect)
}

/// A config file line that does not parse or expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name (or other label) given to [`parse_config`].
    pub source: String,
    /// 1-based line number.
    pub line: usize,
    /// 1-based byte column in the line as written (before expansion).
    pub column: usize,
    /// What is wrong, in one line.
    pub message: String,
    /// The line as written, for the caret display.
    text: Vec<u8>,
}

impl ConfigError {
    /// The offending line as written (trailing whitespace trimmed).
    pub fn text(&self) -> &[u8] {
        &self.text
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.source, self.line, self.column, self.message
        )?;
        write_caret(f, &self.text, self.column - 1)
    }
}

impl std::error::Error for ConfigError {}

/// Parses a config file: one rule per line; blank lines and lines whose
/// first non-blank byte is `#` are skipped; surrounding whitespace is
/// trimmed. `${VAR}` and `${VAR:-default}` are replaced from `env` first
/// (`:-` also replaces a variable that is set but empty, as in the shell).
///
/// Every bad line is reported, not just the first.
pub fn parse_config(
    source: &str,
    text: &[u8],
    env: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Vec<Command>, Vec<ConfigError>> {
    let mut commands = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii_end();
        let indent = line.len() - line.trim_ascii_start().len();
        let content = &line[indent..];
        if content.is_empty() || content[0] == b'#' {
            continue;
        }
        let error = |offset: usize, message: String| ConfigError {
            source: source.to_owned(),
            line: index + 1,
            column: indent + offset + 1,
            message,
            text: line.to_vec(),
        };
        let (expanded, origin) = match expand(content, env) {
            Ok(done) => done,
            Err((offset, message)) => {
                errors.push(error(offset, message));
                continue;
            }
        };
        match parse_rule(&expanded) {
            Ok(command) => commands.push(command),
            Err(e) => {
                let mut message = e.message();
                if expanded != content {
                    message.push_str(&format!(" (in `{}`)", escape(&expanded)));
                }
                errors.push(error(origin[e.position()], message));
            }
        }
    }
    if errors.is_empty() {
        Ok(commands)
    } else {
        Err(errors)
    }
}

/// Replaces `${VAR}` and `${VAR:-default}`. Returns the expanded bytes and,
/// for each expanded byte (and the end), the offset in `line` it came from;
/// substituted bytes map to their `$`. Errors carry an offset in `line`.
fn expand(
    line: &[u8],
    env: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<(Vec<u8>, Vec<usize>), (usize, String)> {
    let mut out = Vec::with_capacity(line.len());
    let mut origin = Vec::with_capacity(line.len() + 1);
    let mut i = 0;
    while i < line.len() {
        if !line[i..].starts_with(b"${") {
            out.push(line[i]);
            origin.push(i);
            i += 1;
            continue;
        }
        let Some(len) = line[i + 2..].iter().position(|&b| b == b'}') else {
            return Err((i, "`${` has no closing `}`".to_owned()));
        };
        let inner = &line[i + 2..i + 2 + len];
        let (name, default) = match inner.windows(2).position(|w| w == b":-") {
            Some(at) => (&inner[..at], Some(&inner[at + 2..])),
            None => (inner, None),
        };
        let Some(name) = variable_name(name) else {
            return Err((
                i + 2,
                "expected a variable name (letters, digits, `_`)".to_owned(),
            ));
        };
        let value = match (env(name), default) {
            (Some(v), Some(d)) if v.is_empty() => d.to_vec(),
            (Some(v), _) => v,
            (None, Some(d)) => d.to_vec(),
            (None, None) => {
                return Err((
                    i,
                    format!("variable `{name}` is not set and has no default"),
                ));
            }
        };
        origin.extend(std::iter::repeat_n(i, value.len()));
        out.extend_from_slice(&value);
        i += 2 + len + 1;
    }
    origin.push(line.len());
    Ok((out, origin))
}

fn variable_name(bytes: &[u8]) -> Option<&str> {
    let valid = bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if valid {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rule: &str) -> Command {
        parse_rule(rule.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error_at(rule: &[u8]) -> usize {
        parse_rule(rule).unwrap_err().position()
    }

    fn no_env(_: &str) -> Option<Vec<u8>> {
        None
    }

    fn config(text: &str) -> Result<Vec<Command>, Vec<ConfigError>> {
        let env = |name: &str| match name {
            "HOME" => Some(b"/home/u".to_vec()),
            "EMPTY" => Some(Vec::new()),
            _ => None,
        };
        parse_config("test.conf", text.as_bytes(), &env)
    }

    #[test]
    fn parses_sandbox_switch_with_several_categories() {
        assert_eq!(
            parse("sandbox/read,write:on"),
            Command::Sandbox {
                categories: vec![Category::Read, Category::Write],
                on: true
            }
        );
    }

    #[test]
    fn sandbox_net_means_bind_and_connect() {
        assert_eq!(
            parse("sandbox/net:off"),
            Command::Sandbox {
                categories: vec![Category::NetBind, Category::NetConnect],
                on: false
            }
        );
    }

    #[test]
    fn sandbox_all_means_every_category() {
        assert_eq!(
            parse("sandbox/all:on"),
            Command::Sandbox {
                categories: Category::ALL.to_vec(),
                on: true
            }
        );
    }

    #[test]
    fn repeated_category_is_kept_once() {
        assert_eq!(
            parse("default/write,write:kill"),
            Command::Default {
                categories: vec![Category::Write],
                action: DefaultAction::Kill
            }
        );
    }

    #[test]
    fn parses_query_of_one_category() {
        assert_eq!(
            parse("sandbox/net/bind?"),
            Command::Query {
                category: Category::NetBind
            }
        );
    }

    #[test]
    fn rejects_query_of_several_categories() {
        let e = parse_rule(b"sandbox/net?").unwrap_err();
        assert_eq!(
            (e.position(), e.kind()),
            (8, &RuleErrorKind::QueryOfSeveral)
        );
        assert_eq!(error_at(b"sandbox/read,write?"), 8);
    }

    #[test]
    fn rejects_text_after_query() {
        assert_eq!(error_at(b"sandbox/read?x"), 13);
    }

    #[test]
    fn parses_rule_with_each_op() {
        for (op_char, op) in [
            ('+', RuleOp::Add),
            ('-', RuleOp::RemoveLast),
            ('^', RuleOp::RemoveAll),
        ] {
            assert_eq!(
                parse(&format!("deny/write{op_char}/etc/**")),
                Command::Rule {
                    action: RuleAction::Deny,
                    categories: vec![Category::Write],
                    op,
                    pattern: b"/etc/**".to_vec()
                }
            );
        }
    }

    #[test]
    fn parses_filter_rule_for_several_categories() {
        assert_eq!(
            parse("filter/read,stat+/proc/**"),
            Command::Rule {
                action: RuleAction::Filter,
                categories: vec![Category::Read, Category::Stat],
                op: RuleOp::Add,
                pattern: b"/proc/**".to_vec()
            }
        );
    }

    #[test]
    fn parses_net_rule() {
        assert_eq!(
            parse("allow/net/connect+127.0.0.0/8!1024-65535"),
            Command::Rule {
                action: RuleAction::Allow,
                categories: vec![Category::NetConnect],
                op: RuleOp::Add,
                pattern: b"127.0.0.0/8!1024-65535".to_vec()
            }
        );
    }

    #[test]
    fn keeps_non_utf8_pattern_bytes() {
        let Command::Rule { pattern, .. } = parse_rule(b"allow/write+/tmp/\xff\xfe").unwrap()
        else {
            panic!("not a rule");
        };
        assert_eq!(pattern, b"/tmp/\xff\xfe");
    }

    #[test]
    fn parses_default_lock_and_exec_lists() {
        assert_eq!(
            parse("default/net:warn"),
            Command::Default {
                categories: vec![Category::NetBind, Category::NetConnect],
                action: DefaultAction::Warn
            }
        );
        assert_eq!(parse("lock:exec"), Command::Lock(Lock::Exec));
        assert_eq!(
            parse("exec/kill_if_match+/usr/bin/evil*"),
            Command::KillIfMatch {
                op: RuleOp::Add,
                pattern: b"/usr/bin/evil*".to_vec()
            }
        );
        assert_eq!(
            parse("exec/resume_if_match^/bin/ok"),
            Command::ResumeIfMatch {
                op: RuleOp::RemoveAll,
                pattern: b"/bin/ok".to_vec()
            }
        );
    }

    #[test]
    fn parses_user_namespace_switch() {
        assert_eq!(
            parse("trace/allow_user_namespace:on"),
            Command::AllowUserNamespace(true)
        );
        assert_eq!(
            parse("trace/allow_user_namespace:off"),
            Command::AllowUserNamespace(false)
        );
        assert_eq!(error_at(b"trace/allow_user_ns:on"), 6);
        assert_eq!(error_at(b"trace/allow_user_namespace:yes"), 27);
        assert_eq!(error_at(b"trace/allow_user_namespace"), 26);
    }

    #[test]
    fn rejects_unknown_command_at_start() {
        assert_eq!(error_at(b"permit/write+/x"), 0);
    }

    #[test]
    fn rejects_unknown_category_at_its_start() {
        assert_eq!(error_at(b"allow/read,wrte+/x"), 11);
        assert_eq!(error_at(b"sandbox/:on"), 8);
    }

    #[test]
    fn rejects_bare_net_in_rule_after_net() {
        let e = parse_rule(b"allow/net+127.0.0.1").unwrap_err();
        assert_eq!(e.position(), 9);
        assert_eq!(
            e.message(),
            "expected `/bind` or `/connect` after `allow/net`"
        );
    }

    #[test]
    fn rejects_all_in_rule() {
        assert_eq!(error_at(b"allow/all+/x"), 6);
    }

    #[test]
    fn category_running_on_points_past_its_name() {
        let e = parse_rule(b"allow/write/x").unwrap_err();
        assert_eq!(
            e.message(),
            "expected one of `,`, `+`, `-`, `^` after `allow/write`"
        );
    }

    #[test]
    fn rejects_missing_op() {
        assert_eq!(error_at(b"allow/write"), 11);
        assert_eq!(error_at(b"sandbox/write+/x"), 13);
    }

    #[test]
    fn parses_errno_no_wildcard_and_report_safe() {
        assert_eq!(
            parse("errno/write,net/bind:EPERM"),
            Command::Errno {
                categories: vec![Category::Write, Category::NetBind],
                errno: libc::EPERM
            }
        );
        assert_eq!(
            parse("match/no_wildcard:prefix"),
            Command::NoWildcard(NoWildcard::Prefix)
        );
        assert_eq!(parse("report/safe:on"), Command::ReportSafe(true));
        assert_eq!(
            parse("default/write:allow"),
            Command::Default {
                categories: vec![Category::Write],
                action: DefaultAction::Allow
            }
        );
    }

    #[test]
    fn rejects_bad_switch_value_with_position() {
        assert_eq!(error_at(b"sandbox/write:maybe"), 14);
        assert_eq!(error_at(b"sandbox/write:onn"), 14);
        assert_eq!(error_at(b"default/write:permit"), 14);
        assert_eq!(error_at(b"lock:maybe"), 5);
        assert_eq!(error_at(b"errno/write:EWHAT"), 12);
        assert_eq!(error_at(b"errno/write"), 11);
        assert_eq!(error_at(b"match/no_wildcard:glob"), 18);
        assert_eq!(error_at(b"report/safe:yes"), 12);
        assert_eq!(error_at(b"exec/kill+/x"), 5);
    }

    #[test]
    fn rejects_relative_path_pattern_at_pattern_start() {
        let e = parse_rule(b"allow/write+tmp").unwrap_err();
        assert_eq!(e.position(), 12);
        assert_eq!(
            e.kind(),
            &RuleErrorKind::Pattern(PatternErrorKind::NotAbsolute)
        );
        assert_eq!(error_at(b"allow/write+"), 12);
        assert_eq!(error_at(b"exec/kill_if_match+x"), 19);
    }

    #[test]
    fn rejects_bad_glob_at_its_position() {
        assert_eq!(error_at(b"allow/write+/a/[b"), 15);
    }

    #[test]
    fn rejects_bad_address_at_its_position() {
        assert_eq!(error_at(b"allow/net/bind+127.0.0.1/33"), 25);
        assert_eq!(error_at(b"allow/net/bind+127.0.0.1!70000"), 25);
        assert_eq!(error_at(b"allow/net/bind+127.0.0.1!10-5"), 25);
    }

    #[test]
    fn path_and_net_categories_in_one_rule_need_a_pattern_valid_for_both() {
        assert!(parse_rule(b"allow/write,net/connect+/run/x").is_ok());
        assert_eq!(error_at(b"allow/write,net/connect+any"), 24);
    }

    #[test]
    fn displays_like_a_compiler() {
        let e = parse_rule(b"sandbox/write:maybe").unwrap_err();
        let expected = [
            "invalid rule: expected one of `on`, `off` after `sandbox/write:`",
            "  sandbox/write:maybe",
            "                ^",
        ];
        assert_eq!(e.to_string(), expected.join("\n"));
    }

    #[test]
    fn display_escapes_non_utf8_and_aligns_caret() {
        let e = parse_rule(b"allow/write+/\xff[").unwrap_err();
        assert_eq!(e.position(), 14);
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], r"  allow/write+/\xff[");
        assert_eq!(lines[2], format!("  {}^", " ".repeat(17)));
    }

    #[test]
    fn config_skips_comments_and_blank_lines() {
        let commands =
            config("# header\n\n   # indented\nsandbox/write:on   \r\n  lock:on\n").unwrap();
        assert_eq!(
            commands,
            vec![
                Command::Sandbox {
                    categories: vec![Category::Write],
                    on: true
                },
                Command::Lock(Lock::On)
            ]
        );
    }

    #[test]
    fn config_expands_variable() {
        let commands = config("allow/write+${HOME}/***").unwrap();
        let Command::Rule { pattern, .. } = &commands[0] else {
            panic!()
        };
        assert_eq!(pattern, b"/home/u/***");
    }

    #[test]
    fn config_default_applies_when_unset_or_empty() {
        let commands = config("allow/write+${NOPE:-/tmp}\nallow/write+${EMPTY:-/var}").unwrap();
        let patterns: Vec<_> = commands
            .iter()
            .map(|c| match c {
                Command::Rule { pattern, .. } => pattern.clone(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(patterns, vec![b"/tmp".to_vec(), b"/var".to_vec()]);
    }

    #[test]
    fn config_unset_variable_is_an_error_at_the_dollar() {
        let errors = config("  allow/write+${NOPE}/x").unwrap_err();
        assert_eq!((errors[0].line, errors[0].column), (1, 15));
        assert!(
            errors[0].message.contains("`NOPE`"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn config_unterminated_variable_is_an_error() {
        let errors = parse_config("f", b"allow/write+${HOME", &no_env).unwrap_err();
        assert_eq!(errors[0].column, 13);
    }

    #[test]
    fn config_reports_every_bad_line() {
        let errors =
            config("sandbox/write:maybe\nlock:on\nallow/write+rel\n${NOPE}\n").unwrap_err();
        let at: Vec<_> = errors.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(at, vec![(1, 15), (3, 13), (4, 1)]);
    }

    #[test]
    fn config_error_position_maps_back_through_expansion() {
        let errors = config("allow/write+${HOME}/[x").unwrap_err();
        assert_eq!(errors[0].column, 21);
    }

    #[test]
    fn config_error_displays_file_line_column_and_caret() {
        let errors = config("lock:on\n  sandbox/write:maybe").unwrap_err();
        let expected = [
            "test.conf:2:17: expected one of `on`, `off` after `sandbox/write:`",
            "    sandbox/write:maybe",
            "                  ^",
        ];
        assert_eq!(errors[0].to_string(), expected.join("\n"));
    }
}
