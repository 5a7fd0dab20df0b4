//! The rule language and the decisions it makes. Pure: no syscalls here.
//!
//! API CONTRACT (shared with the supervisor; signatures below are relied on):
//! see `Policy`, `Command`, `parse_rule`, `parse_config`, `profile`.

pub mod addr;
pub mod parse;
pub mod pattern;
pub mod profile;
mod rules;
pub mod sydbox;

use std::borrow::Cow;

pub use addr::Address;
pub use parse::{ConfigError, RuleError, parse_config, parse_rule};

use addr::AddressPattern;
use parse::{escape, is_net};
use pattern::Pattern;
use rules::{PathRules, Rule, RuleList};

/// An access category: what kind of access a rule governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Opening for reading.
    Read,
    /// Opening for writing, and every call that changes the filesystem.
    Write,
    /// execve and execveat.
    Exec,
    /// The stat family, access, readlink, getxattr, listxattr, chdir.
    Stat,
    /// bind(2) addresses.
    NetBind,
    /// connect(2), and sendto/sendmsg with a destination address.
    NetConnect,
}

impl Category {
    /// Every category, in a fixed order.
    pub const ALL: [Category; 6] = [
        Category::Read,
        Category::Write,
        Category::Exec,
        Category::Stat,
        Category::NetBind,
        Category::NetConnect,
    ];

    /// The name as written in rules: `read`, `write`, `exec`, `stat`,
    /// `net/bind`, `net/connect`.
    pub fn name(self) -> &'static str {
        match self {
            Category::Read => "read",
            Category::Write => "write",
            Category::Exec => "exec",
            Category::Stat => "stat",
            Category::NetBind => "net/bind",
            Category::NetConnect => "net/connect",
        }
    }
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleAction {
    /// `allow/...`: permit the access.
    Allow,
    /// `deny/...`: refuse the access and report it.
    Deny,
    /// `filter/...`: refuse the access without a report.
    Filter,
}

/// What happens to an access that no rule matches (`default/CAT:...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultAction {
    /// Refuse and report (the default).
    Deny,
    /// Allow, but report.
    Warn,
    /// Kill the process and report.
    Kill,
    /// Allow silently: only `deny/` and `filter/` rules refuse (sydbox-1's
    /// `allow` sandbox mode).
    Allow,
}

/// How a path pattern without `*` or `?` is read when a rule is added
/// (`match/no_wildcard:...`, sydbox-1's `core/match/no_wildcard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoWildcard {
    /// As written: `/x` matches `/x` only.
    Literal,
    /// As a prefix: `/x` is taken as `/x/***`, the path and all beneath it.
    /// Applies to path patterns and to UNIX and abstract socket patterns.
    Prefix,
}

/// Who may still send in-sandbox commands (`lock:...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lock {
    /// Anyone may send commands.
    Off,
    /// A process may send commands until its first successful execve.
    Exec,
    /// No more commands from anyone.
    On,
}

/// How a rule command edits the rule list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleOp {
    /// `+PATTERN`: append a rule.
    Add,
    /// `-PATTERN`: remove the most recent identical rule.
    RemoveLast,
    /// `^PATTERN`: remove every identical rule.
    RemoveAll,
}

/// One parsed command of the rule language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `sandbox/CAT[,CAT...]:on|off`.
    Sandbox {
        /// The categories switched.
        categories: Vec<Category>,
        /// On or off.
        on: bool,
    },
    /// `sandbox/CAT?`: true when checking of CAT is on.
    Query {
        /// The category asked about.
        category: Category,
    },
    /// `allow|deny|filter/CAT[,CAT...]{+,-,^}PATTERN`.
    Rule {
        /// What the rule does when it matches.
        action: RuleAction,
        /// The categories it applies to.
        categories: Vec<Category>,
        /// Add, remove last, remove all.
        op: RuleOp,
        /// The pattern as typed (path glob, or address for net categories).
        pattern: Vec<u8>,
    },
    /// `default/CAT[,CAT...]:deny|warn|kill`.
    Default {
        /// The categories whose default changes.
        categories: Vec<Category>,
        /// The new default.
        action: DefaultAction,
    },
    /// `lock:on|off|exec`.
    Lock(Lock),
    /// `trace/allow_user_namespace:on|off`: whether the tree may make new
    /// user namespaces (clone, unshare, setns with CLONE_NEWUSER).
    AllowUserNamespace(bool),
    /// `errno/CAT[,CAT...]:NAME`: the errno a denial in these categories
    /// returns.
    Errno {
        /// The categories whose errno changes.
        categories: Vec<Category>,
        /// The errno number.
        errno: i32,
    },
    /// `match/no_wildcard:literal|prefix`.
    NoWildcard(NoWildcard),
    /// `report/safe:on|off`: whether a denied access that fails anyway
    /// (EEXIST for creating what exists, ENOENT for changing what is
    /// missing) is reported (sydbox-1's `core/violation/raise_safe`).
    ReportSafe(bool),
    /// `exec/kill_if_match{+,-,^}PATTERN`.
    KillIfMatch {
        /// Add, remove last, remove all.
        op: RuleOp,
        /// The path pattern.
        pattern: Vec<u8>,
    },
    /// `exec/resume_if_match{+,-,^}PATTERN`.
    ResumeIfMatch {
        /// Add, remove last, remove all.
        op: RuleOp,
        /// The path pattern.
        pattern: Vec<u8>,
    },
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Let the access happen.
    Allow,
    /// Refuse the access.
    Deny,
    /// Kill the process.
    Kill,
}

/// The decision for one access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What to do.
    pub outcome: Outcome,
    /// Whether the access is reported (denials that are not filtered, warn, kill).
    pub report: bool,
    /// The deciding rule as text (`deny/write+/etc/**`), or `None` when the
    /// category default decided.
    pub rule: Option<String>,
}

impl Verdict {
    /// Allowed, silently.
    pub const ALLOW: Verdict = Verdict {
        outcome: Outcome::Allow,
        report: false,
        rule: None,
    };
}

/// The result of applying a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The command changed (or confirmed) the policy.
    Done,
    /// The command was a query, with its answer.
    Query(bool),
}

/// Why a well-formed command could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A `-PATTERN` or `^PATTERN` removal matched no rule.
    #[error("no rule {0} to remove")]
    NoSuchRule(String),
    /// A pattern or address could not be compiled.
    #[error("invalid pattern {pattern}: {reason}")]
    BadPattern {
        /// The pattern as typed.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl RuleAction {
    /// The word as written in rules: `allow`, `deny`, `filter`.
    pub fn name(self) -> &'static str {
        match self {
            RuleAction::Allow => "allow",
            RuleAction::Deny => "deny",
            RuleAction::Filter => "filter",
        }
    }
}

impl DefaultAction {
    /// The word as written in rules: `deny`, `warn`, `kill`.
    pub fn name(self) -> &'static str {
        match self {
            DefaultAction::Deny => "deny",
            DefaultAction::Warn => "warn",
            DefaultAction::Kill => "kill",
            DefaultAction::Allow => "allow",
        }
    }
}

impl Lock {
    /// The word as written in rules: `off`, `exec`, `on`.
    pub fn name(self) -> &'static str {
        match self {
            Lock::Off => "off",
            Lock::Exec => "exec",
            Lock::On => "on",
        }
    }
}

/// A validated policy: which categories are checked, their defaults, their
/// rules in order, the exec kill lists and the lock.
///
/// Built by [`apply`](Policy::apply)ing parsed [`Command`]s. It does not
/// enforce the lock: deciding who may still send commands is the caller's
/// business, which reads [`lock`](Policy::lock).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Indexed by `Category as usize` (the order of [`Category::ALL`]).
    on: [bool; 6],
    defaults: [DefaultAction; 6],
    /// Read, Write, Exec, Stat.
    paths: [PathRules; 4],
    /// NetBind, NetConnect.
    nets: [RuleList<AddressPattern>; 2],
    /// `exec/kill_if_match` patterns; the action field is unused (`Deny`).
    kill_if_match: RuleList<Pattern>,
    /// `exec/resume_if_match` patterns; the action field is unused (`Allow`).
    resume_if_match: RuleList<Pattern>,
    lock: Lock,
    allow_user_namespace: bool,
    /// The errno of a denial, per category; `None` for the built-in one.
    errnos: [Option<i32>; 6],
    no_wildcard: NoWildcard,
    report_safe: bool,
    /// Report-only (`stockade learn`): see [`set_learning`](Policy::set_learning).
    learning: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new()
    }
}

/// A rule pattern compiled for its category.
enum Matcher {
    Path(Pattern),
    Net(AddressPattern),
}

impl Matcher {
    fn compile(c: Category, pattern: &[u8]) -> Result<Matcher, ApplyError> {
        let compiled = if is_net(c) {
            AddressPattern::parse(pattern)
                .map(Matcher::Net)
                .map_err(|e| e.to_string())
        } else {
            Pattern::path(pattern)
                .map(Matcher::Path)
                .map_err(|e| e.to_string())
        };
        compiled.map_err(|reason| ApplyError::BadPattern {
            pattern: escape(pattern),
            reason,
        })
    }
}

/// Where the rules of one category live.
enum Rules<'a> {
    Path(&'a PathRules),
    Net(&'a RuleList<AddressPattern>),
}

impl Policy {
    /// Every category off, every default `Deny`, lock off, no rules.
    pub fn new() -> Policy {
        Policy {
            on: [false; 6],
            defaults: [DefaultAction::Deny; 6],
            paths: Default::default(),
            nets: Default::default(),
            kill_if_match: RuleList::default(),
            resume_if_match: RuleList::default(),
            lock: Lock::Off,
            allow_user_namespace: false,
            errnos: [None; 6],
            no_wildcard: NoWildcard::Literal,
            report_safe: false,
            learning: false,
        }
    }

    /// Applies one command. A command that fails changes nothing, even
    /// when it names several categories.
    pub fn apply(&mut self, cmd: &Command) -> Result<Applied, ApplyError> {
        match cmd {
            Command::Sandbox { categories, on } => {
                for &c in categories {
                    self.on[c as usize] = *on;
                }
            }
            Command::Query { category } => return Ok(Applied::Query(self.is_on(*category))),
            Command::Rule {
                action,
                categories,
                op,
                pattern,
            } => {
                self.apply_rule(*action, categories, *op, pattern)?;
            }
            Command::Default { categories, action } => {
                for &c in categories {
                    self.defaults[c as usize] = *action;
                }
            }
            Command::Lock(lock) => self.lock = *lock,
            Command::AllowUserNamespace(on) => self.allow_user_namespace = *on,
            Command::Errno { categories, errno } => {
                for &c in categories {
                    self.errnos[c as usize] = Some(*errno);
                }
            }
            Command::NoWildcard(mode) => self.no_wildcard = *mode,
            Command::ReportSafe(on) => self.report_safe = *on,
            Command::KillIfMatch { op, pattern } => {
                let text = exec_rule_text("kill_if_match", pattern);
                edit_exec_list(
                    &mut self.kill_if_match,
                    RuleAction::Deny,
                    *op,
                    pattern,
                    text,
                )?;
            }
            Command::ResumeIfMatch { op, pattern } => {
                let text = exec_rule_text("resume_if_match", pattern);
                edit_exec_list(
                    &mut self.resume_if_match,
                    RuleAction::Allow,
                    *op,
                    pattern,
                    text,
                )?;
            }
        }
        Ok(Applied::Done)
    }

    fn apply_rule(
        &mut self,
        action: RuleAction,
        categories: &[Category],
        op: RuleOp,
        pattern: &[u8],
    ) -> Result<(), ApplyError> {
        let expanded = self.expand(pattern);
        let pattern = &expanded[..];
        if op != RuleOp::Add {
            // Check every category first, so that a failure changes nothing.
            if let Some(&c) = categories
                .iter()
                .find(|&&c| !self.holds(c, action, pattern))
            {
                return Err(ApplyError::NoSuchRule(rule_text(action, c, pattern)));
            }
            for &c in categories {
                let every = op == RuleOp::RemoveAll;
                match c {
                    c if is_net(c) => self.nets[c as usize - 4].remove(action, pattern, every),
                    c => self.paths[c as usize].remove(action, pattern, every),
                };
            }
            return Ok(());
        }
        // Compile for every category before adding any, so that a bad
        // pattern changes nothing.
        let matchers = categories
            .iter()
            .map(|&c| Matcher::compile(c, pattern))
            .collect::<Result<Vec<_>, _>>()?;
        for (&c, matcher) in categories.iter().zip(matchers) {
            let text = rule_text(action, c, pattern);
            let pattern = pattern.to_vec();
            match matcher {
                Matcher::Path(matcher) => {
                    let rule = Rule {
                        action,
                        pattern,
                        text,
                        matcher,
                    };
                    self.paths[c as usize].push(rule);
                }
                Matcher::Net(matcher) => {
                    let rule = Rule {
                        action,
                        pattern,
                        text,
                        matcher,
                    };
                    self.nets[c as usize - 4].push(rule);
                }
            }
        }
        Ok(())
    }

    /// `pattern` as `match/no_wildcard` reads it: under `prefix`, a path,
    /// UNIX socket or abstract socket pattern without `*` or `?` becomes
    /// `PATTERN/***` (trailing slashes dropped first). Network address
    /// patterns (which start with neither `/` nor `@`) are left alone.
    fn expand(&self, pattern: &[u8]) -> Vec<u8> {
        let names_a_path = matches!(pattern.first(), Some(b'/' | b'@'));
        if self.no_wildcard == NoWildcard::Literal
            || !names_a_path
            || pattern.iter().any(|&b| b == b'*' || b == b'?')
        {
            return pattern.to_vec();
        }
        let mut out = pattern.to_vec();
        while out.len() > 1 && out.last() == Some(&b'/') {
            out.pop();
        }
        if out == b"/" {
            out.clear();
        }
        out.extend_from_slice(b"/***");
        out
    }

    /// The errno a denial of category `c` returns, when one was set with
    /// `errno/...`; the caller picks its own otherwise.
    pub fn deny_errno(&self, c: Category) -> Option<i32> {
        self.errnos[c as usize]
    }

    /// How patterns without wildcards are read.
    pub fn no_wildcard(&self) -> NoWildcard {
        self.no_wildcard
    }

    /// Whether denied accesses that fail anyway (EEXIST, ENOENT) are
    /// reported.
    pub fn reports_safe(&self) -> bool {
        self.report_safe
    }

    fn rules(&self, c: Category) -> Rules<'_> {
        if is_net(c) {
            Rules::Net(&self.nets[c as usize - 4])
        } else {
            Rules::Path(&self.paths[c as usize])
        }
    }

    fn holds(&self, c: Category, action: RuleAction, pattern: &[u8]) -> bool {
        match self.rules(c) {
            Rules::Path(rules) => rules.contains(action, pattern),
            Rules::Net(rules) => rules.contains(action, pattern),
        }
    }

    /// Whether accesses of category `c` are checked.
    pub fn is_on(&self, c: Category) -> bool {
        self.on[c as usize]
    }

    /// What happens to an access of category `c` that no rule matches.
    pub fn default_action(&self, c: Category) -> DefaultAction {
        self.defaults[c as usize]
    }

    /// Who may still send in-sandbox commands.
    pub fn lock(&self) -> Lock {
        self.lock
    }

    /// Whether new user namespaces are allowed
    /// (`trace/allow_user_namespace:on`). Off by default: inside one, a
    /// process holds every capability, and everything stockade does not
    /// emulate would see it as root there.
    pub fn allows_user_namespace(&self) -> bool {
        self.allow_user_namespace
    }

    /// Switches report-only mode, for `stockade learn`: every access that a
    /// `deny` rule or a `deny`/`kill` default would refuse is allowed and
    /// reported instead. `filter` rules still refuse silently, as they do
    /// when the policy is enforced, so that a learning run sees what an
    /// enforcing run will. Not reachable from the rule language: a
    /// sandboxed process cannot switch it.
    pub fn set_learning(&mut self, on: bool) {
        self.learning = on;
    }

    /// Whether the policy is in report-only mode.
    pub fn is_learning(&self) -> bool {
        self.learning
    }

    /// Decides an access to `path`, the canonical absolute path as raw bytes
    /// (it may be non-UTF-8). For a net category, `path` is taken as a UNIX
    /// socket path.
    pub fn check_path(&self, c: Category, path: &[u8]) -> Verdict {
        if !self.is_on(c) {
            return Verdict::ALLOW;
        }
        match self.rules(c) {
            Rules::Path(rules) => {
                self.decide(c, rules.last_match(path).map(|r| (r.action, &r.text)))
            }
            Rules::Net(rules) => {
                let hit = rules.last_match_addr(&Address::Unix(path.to_vec()));
                self.decide(c, hit.map(|r| (r.action, &r.text)))
            }
        }
    }

    /// Decides a bind or connect to `addr`. An unnamed address is always
    /// allowed; an IPv4-mapped IPv6 address is judged as IPv4. For a path
    /// category, a UNIX socket path is checked as a path and other
    /// addresses get the category default.
    pub fn check_addr(&self, c: Category, addr: &Address) -> Verdict {
        if !self.is_on(c) || *addr == Address::Unnamed {
            return Verdict::ALLOW;
        }
        match (self.rules(c), addr) {
            (Rules::Net(rules), _) => {
                self.decide(c, rules.last_match_addr(addr).map(|r| (r.action, &r.text)))
            }
            (Rules::Path(_), Address::Unix(path)) => self.check_path(c, path),
            (Rules::Path(_), _) => self.decide(c, None),
        }
    }

    /// The verdict from the deciding rule, or from the default when none matched.
    fn decide(&self, c: Category, hit: Option<(RuleAction, &String)>) -> Verdict {
        let (outcome, report, rule) = match hit {
            Some((RuleAction::Allow, text)) => (Outcome::Allow, false, Some(text.clone())),
            Some((RuleAction::Deny, text)) => {
                (self.refusal(Outcome::Deny), true, Some(text.clone()))
            }
            Some((RuleAction::Filter, text)) => (Outcome::Deny, false, Some(text.clone())),
            None => match self.default_action(c) {
                DefaultAction::Deny => (self.refusal(Outcome::Deny), true, None),
                DefaultAction::Warn => (Outcome::Allow, true, None),
                DefaultAction::Kill => (self.refusal(Outcome::Kill), true, None),
                DefaultAction::Allow => (Outcome::Allow, false, None),
            },
        };
        Verdict {
            outcome,
            report,
            rule,
        }
    }

    /// The file hierarchies that hold every path an `allow/exec` rule can
    /// allow, for the kernel to enforce (Landlock's execute right): the
    /// path of an exact rule, the literal directory of any other
    /// (`/usr/bin` for `/usr/bin/gcc-*`). `None` when exec is not checked,
    /// its default allows (`warn`, or `allow`, where only deny rules
    /// refuse), or the policy is learning (which lets everything run), so
    /// that no hierarchy bounds it.
    pub fn exec_hierarchies(&self) -> Option<Vec<Vec<u8>>> {
        let exec = Category::Exec;
        let default_allows = matches!(
            self.default_action(exec),
            DefaultAction::Warn | DefaultAction::Allow
        );
        if !self.is_on(exec) || default_allows || self.learning {
            return None;
        }
        let mut roots: Vec<Vec<u8>> = Vec::new();
        let allows = self.paths[exec as usize].iter();
        for rule in allows.filter(|r| r.action == RuleAction::Allow) {
            let root = hierarchy(&rule.matcher);
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
        Some(roots)
    }

    /// What a reported refusal becomes: itself, or a reported allow when
    /// learning. Only refusals pay for the test.
    fn refusal(&self, outcome: Outcome) -> Outcome {
        if self.learning {
            Outcome::Allow
        } else {
            outcome
        }
    }

    /// Whether any `exec/kill_if_match` rule exists, so exec must be watched.
    pub fn has_exec_kill_rules(&self) -> bool {
        self.kill_if_match.iter().next().is_some()
    }

    /// The rule text (`exec/kill_if_match+PATTERN`) when an
    /// `exec/kill_if_match` pattern matches `path` and no
    /// `exec/resume_if_match` pattern does. Independent of `sandbox/exec`.
    pub fn exec_kill(&self, path: &[u8]) -> Option<String> {
        if self
            .resume_if_match
            .last_match(|m| m.matches(path))
            .is_some()
        {
            return None;
        }
        self.kill_if_match
            .last_match(|m| m.matches(path))
            .map(|r| r.text.clone())
    }

    /// The whole policy as rule lines, one per line, that rebuild it when
    /// applied in order to [`Policy::new`] (for `--print-profile`).
    ///
    /// A pattern that is not printable UTF-8 is written with `\xNN` escapes,
    /// which do not parse back to the same bytes; use
    /// [`to_rule_bytes`](Policy::to_rule_bytes) when that matters.
    pub fn to_rules(&self) -> String {
        let bytes = self.write_rules(|p| match std::str::from_utf8(p) {
            Ok(s) if !s.chars().any(char::is_control) => Cow::Borrowed(p),
            _ => Cow::Owned(escape(p).into_bytes()),
        });
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Like [`to_rules`](Policy::to_rules), with patterns as their exact
    /// bytes. Only a pattern holding a newline cannot be read back, since
    /// the format is one rule per line.
    pub fn to_rule_bytes(&self) -> Vec<u8> {
        self.write_rules(Cow::Borrowed)
    }

    fn write_rules<'p>(&'p self, pattern: impl Fn(&'p [u8]) -> Cow<'p, [u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        for c in Category::ALL {
            let state = if self.is_on(c) { "on" } else { "off" };
            out.extend_from_slice(format!("sandbox/{}:{state}\n", c.name()).as_bytes());
        }
        for c in Category::ALL {
            let line = format!("default/{}:{}\n", c.name(), self.default_action(c).name());
            out.extend_from_slice(line.as_bytes());
        }
        for c in Category::ALL {
            if let Some(name) = self.errnos[c as usize].and_then(parse::errno_name) {
                out.extend_from_slice(format!("errno/{}:{name}\n", c.name()).as_bytes());
            }
        }
        let safe = if self.report_safe { "on" } else { "off" };
        out.extend_from_slice(format!("report/safe:{safe}\n").as_bytes());
        let mut line = |head: String, p: &'p [u8]| {
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(&pattern(p));
            out.push(b'\n');
        };
        for c in Category::ALL {
            let head = |action: RuleAction| format!("{}/{}+", action.name(), c.name());
            match self.rules(c) {
                Rules::Path(rules) => rules.iter().for_each(|r| line(head(r.action), &r.pattern)),
                Rules::Net(rules) => rules.iter().for_each(|r| line(head(r.action), &r.pattern)),
            }
        }
        for r in self.kill_if_match.iter() {
            line("exec/kill_if_match+".to_owned(), &r.pattern);
        }
        for r in self.resume_if_match.iter() {
            line("exec/resume_if_match+".to_owned(), &r.pattern);
        }
        // After the rules, which are stored expanded: read back under the
        // default (literal), they stay as they are.
        let mode = match self.no_wildcard {
            NoWildcard::Literal => "literal",
            NoWildcard::Prefix => "prefix",
        };
        out.extend_from_slice(format!("match/no_wildcard:{mode}\n").as_bytes());
        out.extend_from_slice(format!("lock:{}\n", self.lock.name()).as_bytes());
        out
    }
}

/// The file or directory every path `pattern` matches lies in (see
/// [`Policy::exec_hierarchies`]), without a trailing `/` except for `/`.
fn hierarchy(pattern: &Pattern) -> Vec<u8> {
    let mut root = match (pattern.as_literal(), pattern.as_subtree()) {
        (Some(path), _) | (None, Some(path)) => path.to_vec(),
        (None, None) => pattern.literal_directory(),
    };
    while root.len() > 1 && root.ends_with(b"/") {
        root.pop();
    }
    if root.is_empty() {
        root.push(b'/');
    }
    root
}

/// Whether `path` is the hierarchy `root` or lies beneath it.
pub fn in_hierarchy(root: &[u8], path: &[u8]) -> bool {
    root == b"/"
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

/// The canonical text of a single-category rule: `deny/write+/etc/**`.
fn rule_text(action: RuleAction, c: Category, pattern: &[u8]) -> String {
    format!("{}/{}+{}", action.name(), c.name(), escape(pattern))
}

fn exec_rule_text(list: &str, pattern: &[u8]) -> String {
    format!("exec/{list}+{}", escape(pattern))
}

/// Adds to or removes from an exec kill/resume list.
fn edit_exec_list(
    list: &mut RuleList<Pattern>,
    action: RuleAction,
    op: RuleOp,
    pattern: &[u8],
    text: String,
) -> Result<(), ApplyError> {
    match op {
        RuleOp::Add => {
            let matcher = Pattern::path(pattern).map_err(|e| ApplyError::BadPattern {
                pattern: escape(pattern),
                reason: e.to_string(),
            })?;
            list.push(Rule {
                action,
                pattern: pattern.to_vec(),
                text,
                matcher,
            });
        }
        RuleOp::RemoveLast | RuleOp::RemoveAll => {
            if !list.remove(action, pattern, op == RuleOp::RemoveAll) {
                return Err(ApplyError::NoSuchRule(text));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> Policy {
        let mut policy = Policy::new();
        for rule in rules {
            let cmd = parse_rule(rule.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            policy.apply(&cmd).unwrap_or_else(|e| panic!("{rule}: {e}"));
        }
        policy
    }

    fn apply(policy: &mut Policy, rule: &str) -> Result<Applied, ApplyError> {
        policy.apply(&parse_rule(rule.as_bytes()).unwrap())
    }

    fn verdict(outcome: Outcome, report: bool, rule: Option<&str>) -> Verdict {
        Verdict {
            outcome,
            report,
            rule: rule.map(str::to_owned),
        }
    }

    fn inet(text: &str) -> Address {
        Address::Inet(text.parse().unwrap())
    }

    #[test]
    fn new_policy_checks_nothing() {
        let p = Policy::new();
        for c in Category::ALL {
            assert!(!p.is_on(c));
            assert_eq!(p.default_action(c), DefaultAction::Deny);
        }
        assert_eq!(p.lock(), Lock::Off);
        assert_eq!(
            p.check_path(Category::Write, b"/etc/passwd"),
            Verdict::ALLOW
        );
    }

    #[test]
    fn category_off_allows_even_with_deny_rule() {
        let p = policy(&["deny/write+/etc/**"]);
        assert_eq!(
            p.check_path(Category::Write, b"/etc/passwd"),
            Verdict::ALLOW
        );
    }

    #[test]
    fn unmatched_access_gets_default_deny_with_report() {
        let p = policy(&["sandbox/write:on"]);
        assert_eq!(
            p.check_path(Category::Write, b"/etc/passwd"),
            verdict(Outcome::Deny, true, None)
        );
    }

    #[test]
    fn default_warn_allows_and_reports() {
        let p = policy(&["sandbox/write:on", "default/write:warn"]);
        assert_eq!(
            p.check_path(Category::Write, b"/x"),
            verdict(Outcome::Allow, true, None)
        );
    }

    #[test]
    fn default_kill_kills_and_reports() {
        let p = policy(&["sandbox/exec:on", "default/exec:kill"]);
        assert_eq!(
            p.check_path(Category::Exec, b"/x"),
            verdict(Outcome::Kill, true, None)
        );
    }

    #[test]
    fn allow_rule_allows_silently_and_names_itself() {
        let p = policy(&["sandbox/write:on", "allow/write+/tmp/***"]);
        assert_eq!(
            p.check_path(Category::Write, b"/tmp/a"),
            verdict(Outcome::Allow, false, Some("allow/write+/tmp/***"))
        );
    }

    #[test]
    fn deny_rule_denies_with_report() {
        let p = policy(&[
            "sandbox/read:on",
            "default/read:warn",
            "deny/read+/etc/shadow",
        ]);
        assert_eq!(
            p.check_path(Category::Read, b"/etc/shadow"),
            verdict(Outcome::Deny, true, Some("deny/read+/etc/shadow"))
        );
    }

    #[test]
    fn filter_rule_denies_silently() {
        let p = policy(&["sandbox/write:on", "filter/write+/proc/**"]);
        assert_eq!(
            p.check_path(Category::Write, b"/proc/1/mem"),
            verdict(Outcome::Deny, false, Some("filter/write+/proc/**"))
        );
    }

    #[test]
    fn last_matching_rule_wins() {
        let p = policy(&[
            "sandbox/write:on",
            "allow/write+/var/tmp/***",
            "deny/write+/var/tmp/secret/**",
        ]);
        assert_eq!(
            p.check_path(Category::Write, b"/var/tmp/secret/k").outcome,
            Outcome::Deny
        );
        assert_eq!(
            p.check_path(Category::Write, b"/var/tmp/ok").outcome,
            Outcome::Allow
        );
        let p = policy(&["sandbox/write:on", "deny/write+/a/**", "allow/write+/a/b"]);
        assert_eq!(
            p.check_path(Category::Write, b"/a/b").outcome,
            Outcome::Allow
        );
    }

    #[test]
    fn rules_apply_only_to_their_category() {
        let p = policy(&["sandbox/read,write:on", "allow/read+/x"]);
        assert_eq!(p.check_path(Category::Read, b"/x").outcome, Outcome::Allow);
        assert_eq!(p.check_path(Category::Write, b"/x").outcome, Outcome::Deny);
    }

    #[test]
    fn multi_category_rule_names_one_category_in_verdict() {
        let p = policy(&[
            "sandbox/read,write:on",
            "deny/read,write+/etc/**",
            "default/read,write:warn",
        ]);
        assert_eq!(
            p.check_path(Category::Read, b"/etc/x").rule.as_deref(),
            Some("deny/read+/etc/**")
        );
        assert_eq!(
            p.check_path(Category::Write, b"/etc/x").rule.as_deref(),
            Some("deny/write+/etc/**")
        );
    }

    #[test]
    fn remove_last_removes_only_the_newest_identical_rule() {
        let mut p = policy(&[
            "sandbox/write:on",
            "allow/write+/t/***",
            "deny/write+/t/x",
            "allow/write+/t/***",
        ]);
        apply(&mut p, "allow/write-/t/***").unwrap();
        assert_eq!(
            p.check_path(Category::Write, b"/t/x").outcome,
            Outcome::Deny
        );
        assert_eq!(
            p.check_path(Category::Write, b"/t/y").outcome,
            Outcome::Allow
        );
    }

    #[test]
    fn remove_all_removes_every_identical_rule() {
        let mut p = policy(&[
            "sandbox/write:on",
            "allow/write+/t/***",
            "allow/write+/t/***",
        ]);
        apply(&mut p, "allow/write^/t/***").unwrap();
        assert_eq!(
            p.check_path(Category::Write, b"/t/y").outcome,
            Outcome::Deny
        );
    }

    #[test]
    fn removal_needs_the_same_action() {
        let mut p = policy(&["allow/write+/t"]);
        assert_eq!(
            apply(&mut p, "deny/write-/t"),
            Err(ApplyError::NoSuchRule("deny/write+/t".to_owned()))
        );
    }

    #[test]
    fn failed_multi_category_removal_changes_nothing() {
        let mut p = policy(&["sandbox/read,write:on", "allow/read+/t"]);
        assert!(apply(&mut p, "allow/read,write-/t").is_err());
        assert_eq!(p.check_path(Category::Read, b"/t").outcome, Outcome::Allow);
    }

    #[test]
    fn bad_pattern_in_built_command_is_refused() {
        let mut p = Policy::new();
        let cmd = Command::Rule {
            action: RuleAction::Allow,
            categories: vec![Category::Write],
            op: RuleOp::Add,
            pattern: b"relative".to_vec(),
        };
        assert!(matches!(p.apply(&cmd), Err(ApplyError::BadPattern { .. })));
    }

    #[test]
    fn non_utf8_path_is_matched_byte_for_byte() {
        let mut p = policy(&["sandbox/write:on"]);
        p.apply(&parse_rule(b"allow/write+/tmp/\xff*").unwrap())
            .unwrap();
        let v = p.check_path(Category::Write, b"/tmp/\xff\x80");
        assert_eq!(
            v,
            verdict(Outcome::Allow, false, Some(r"allow/write+/tmp/\xff*"))
        );
        assert_eq!(
            p.check_path(Category::Write, b"/tmp/\x80").outcome,
            Outcome::Deny
        );
    }

    #[test]
    fn query_answers_whether_category_is_on() {
        let mut p = policy(&["sandbox/net:on"]);
        assert_eq!(apply(&mut p, "sandbox/net/bind?"), Ok(Applied::Query(true)));
        assert_eq!(apply(&mut p, "sandbox/read?"), Ok(Applied::Query(false)));
    }

    #[test]
    fn lock_is_recorded() {
        assert_eq!(policy(&["lock:exec"]).lock(), Lock::Exec);
    }

    #[test]
    fn net_rule_allows_matching_address() {
        let p = policy(&["sandbox/net:on", "allow/net/connect+127.0.0.0/8!1024-65535"]);
        assert_eq!(
            p.check_addr(Category::NetConnect, &inet("127.0.0.1:8080")),
            verdict(
                Outcome::Allow,
                false,
                Some("allow/net/connect+127.0.0.0/8!1024-65535")
            )
        );
        assert_eq!(
            p.check_addr(Category::NetConnect, &inet("127.0.0.1:80"))
                .outcome,
            Outcome::Deny
        );
        assert_eq!(
            p.check_addr(Category::NetBind, &inet("127.0.0.1:8080"))
                .outcome,
            Outcome::Deny
        );
    }

    #[test]
    fn ipv4_mapped_address_is_judged_as_ipv4() {
        let p = policy(&["sandbox/net:on", "allow/net/connect+10.0.0.0/8"]);
        let v = p.check_addr(Category::NetConnect, &inet("[::ffff:10.1.1.1]:22"));
        assert_eq!(v.outcome, Outcome::Allow);
    }

    #[test]
    fn unnamed_socket_is_always_allowed() {
        let p = policy(&["sandbox/net:on", "default/net:kill"]);
        assert_eq!(
            p.check_addr(Category::NetConnect, &Address::Unnamed),
            Verdict::ALLOW
        );
    }

    #[test]
    fn unix_and_abstract_socket_rules() {
        let p = policy(&[
            "sandbox/net:on",
            "allow/net/connect+/run/nscd/socket",
            "allow/net/connect+@dbus-*",
        ]);
        let unix = Address::Unix(b"/run/nscd/socket".to_vec());
        assert_eq!(
            p.check_addr(Category::NetConnect, &unix).outcome,
            Outcome::Allow
        );
        let abs = Address::Abstract(b"dbus-42".to_vec());
        assert_eq!(
            p.check_addr(Category::NetConnect, &abs).outcome,
            Outcome::Allow
        );
        let other = Address::Abstract(b"x".to_vec());
        assert_eq!(
            p.check_addr(Category::NetConnect, &other).outcome,
            Outcome::Deny
        );
    }

    #[test]
    fn exec_kill_matches_unless_resumed() {
        let p = policy(&[
            "exec/kill_if_match+/usr/bin/*",
            "exec/resume_if_match+/usr/bin/ok",
        ]);
        assert_eq!(
            p.exec_kill(b"/usr/bin/bad").as_deref(),
            Some("exec/kill_if_match+/usr/bin/*")
        );
        assert_eq!(p.exec_kill(b"/usr/bin/ok"), None);
        assert_eq!(p.exec_kill(b"/bin/sh"), None);
    }

    #[test]
    fn exec_kill_removal() {
        let mut p = policy(&["exec/kill_if_match+/x"]);
        apply(&mut p, "exec/kill_if_match-/x").unwrap();
        assert_eq!(p.exec_kill(b"/x"), None);
        assert!(apply(&mut p, "exec/kill_if_match^/x").is_err());
    }

    #[test]
    fn exec_hierarchies_are_the_literal_part_of_each_allow_rule() {
        let p = policy(&[
            "sandbox/exec:on",
            "allow/exec+/usr/bin/***",
            "allow/exec+/opt/tool/bin/gcc-*",
            "allow/exec+/usr/local/bin/make",
            "allow/exec+/srv/b**",
            "deny/exec+/home/***",
            "allow/exec+/usr/bin/**",
        ]);
        let roots = p.exec_hierarchies().unwrap();
        let roots: Vec<&[u8]> = roots.iter().map(Vec::as_slice).collect();
        assert_eq!(
            roots,
            [
                &b"/usr/bin"[..],
                b"/opt/tool/bin",
                b"/usr/local/bin/make",
                b"/srv"
            ]
        );
        let everything = policy(&["sandbox/exec:on", "allow/exec+/***"]);
        assert_eq!(everything.exec_hierarchies(), Some(vec![b"/".to_vec()]));
    }

    #[test]
    fn exec_hierarchies_bound_nothing_when_exec_is_off_or_warns() {
        assert_eq!(
            policy(&["allow/exec+/usr/bin/***"]).exec_hierarchies(),
            None
        );
        let warn = policy(&["sandbox/exec:on", "default/exec:warn"]);
        assert_eq!(warn.exec_hierarchies(), None);
        let allow = policy(&[
            "sandbox/exec:on",
            "default/exec:allow",
            "allow/exec+/usr/bin/***",
            "deny/exec+/usr/bin/curl",
        ]);
        assert_eq!(allow.exec_hierarchies(), None, "allow mode bounds nothing");
        let mut none = policy(&["sandbox/exec:on", "default/exec:kill"]);
        assert_eq!(none.exec_hierarchies(), Some(Vec::new()));
        none.set_learning(true);
        assert_eq!(
            none.exec_hierarchies(),
            None,
            "learning lets everything run"
        );
    }

    #[test]
    fn in_hierarchy_respects_component_boundaries() {
        assert!(in_hierarchy(b"/usr/bin", b"/usr/bin"));
        assert!(in_hierarchy(b"/usr/bin", b"/usr/bin/true"));
        assert!(!in_hierarchy(b"/usr/bin", b"/usr/binx/true"));
        assert!(in_hierarchy(b"/", b"/anything"));
    }

    #[test]
    fn learning_allows_and_reports_what_would_be_refused() {
        let mut p = policy(&[
            "sandbox/write,exec:on",
            "default/exec:kill",
            "deny/write+/etc/**",
            "filter/write+/proc/**",
            "allow/write+/tmp/***",
        ]);
        p.set_learning(true);
        assert!(p.is_learning());
        let allowed = |rule: Option<&str>| verdict(Outcome::Allow, true, rule);
        assert_eq!(
            p.check_path(Category::Write, b"/etc/x"),
            allowed(Some("deny/write+/etc/**"))
        );
        assert_eq!(p.check_path(Category::Write, b"/home/x"), allowed(None));
        assert_eq!(p.check_path(Category::Exec, b"/bin/x"), allowed(None));
        // Silent refusals stay refusals, and allows stay silent.
        assert_eq!(
            p.check_path(Category::Write, b"/proc/1/mem"),
            verdict(Outcome::Deny, false, Some("filter/write+/proc/**"))
        );
        assert_eq!(
            p.check_path(Category::Write, b"/tmp/a"),
            verdict(Outcome::Allow, false, Some("allow/write+/tmp/***"))
        );
        p.set_learning(false);
        assert_eq!(
            p.check_path(Category::Write, b"/home/x").outcome,
            Outcome::Deny
        );
    }

    #[test]
    fn to_rules_round_trips() {
        let p = policy(&[
            "sandbox/write,net:on",
            "default/read:warn",
            "allow/write+/tmp/***",
            "deny/write+/tmp/secret",
            "filter/read,write+/proc/**",
            "allow/net/bind+loopback!0",
            "allow/net/connect+@x",
            "exec/kill_if_match+/bin/evil",
            "exec/resume_if_match+/bin/ok",
            "lock:exec",
            "errno/exec:EPERM",
            "default/stat:allow",
            "match/no_wildcard:prefix",
            "report/safe:on",
        ]);
        let text = p.to_rules();
        let commands = parse_config("rules", text.as_bytes(), &|_| None).unwrap();
        let mut again = Policy::new();
        for cmd in &commands {
            again.apply(cmd).unwrap();
        }
        assert_eq!(again.to_rules(), text);
        assert!(text.contains("filter/read+/proc/**\n"), "{text}");
        assert!(text.contains("filter/write+/proc/**\n"), "{text}");
    }

    #[test]
    fn default_allow_lets_unmatched_through_and_deny_rules_refuse() {
        let p = policy(&[
            "sandbox/write:on",
            "default/write:allow",
            "deny/write+/etc/**",
        ]);
        assert_eq!(p.check_path(Category::Write, b"/usr/x"), Verdict::ALLOW);
        assert_eq!(
            p.check_path(Category::Write, b"/etc/passwd"),
            verdict(Outcome::Deny, true, Some("deny/write+/etc/**"))
        );
    }

    #[test]
    fn no_wildcard_prefix_makes_plain_patterns_subtrees() {
        let p = policy(&[
            "sandbox/write,net:on",
            "match/no_wildcard:prefix",
            "allow/write+/a/b/",
            "allow/write+/c/*.o",
            "allow/net/bind+/tmp/t",
            "allow/net/bind+@/tmp/t",
            "allow/net/bind+127.0.0.1!80",
        ]);
        let w = |path: &[u8]| p.check_path(Category::Write, path).outcome;
        assert_eq!(w(b"/a/b"), Outcome::Allow);
        assert_eq!(w(b"/a/b/c/d"), Outcome::Allow);
        assert_eq!(w(b"/a/bc"), Outcome::Deny);
        assert_eq!(w(b"/c/x.o"), Outcome::Allow);
        assert_eq!(w(b"/c/x.o/y"), Outcome::Deny);
        let bind = |a: Address| p.check_addr(Category::NetBind, &a).outcome;
        assert_eq!(
            bind(Address::Unix(b"/tmp/t/x.sock".to_vec())),
            Outcome::Allow
        );
        assert_eq!(
            bind(Address::Abstract(b"/tmp/t/x".to_vec())),
            Outcome::Allow
        );
        assert_eq!(bind(Address::Abstract(b"/tmp/tx".to_vec())), Outcome::Deny);
        assert_eq!(bind(inet("127.0.0.1:80")), Outcome::Allow);
        assert_eq!(
            p.check_path(Category::Write, b"/a/b/c").rule.as_deref(),
            Some("allow/write+/a/b/***")
        );
    }

    #[test]
    fn no_wildcard_prefix_removal_finds_the_expanded_rule() {
        let mut p = policy(&[
            "sandbox/write:on",
            "match/no_wildcard:prefix",
            "allow/write+/a",
        ]);
        apply(&mut p, "allow/write-/a").unwrap();
        assert_eq!(
            p.check_path(Category::Write, b"/a/x").outcome,
            Outcome::Deny
        );
    }

    #[test]
    fn no_wildcard_literal_is_the_default() {
        let p = policy(&["sandbox/write:on", "allow/write+/a"]);
        assert_eq!(p.no_wildcard(), NoWildcard::Literal);
        assert_eq!(
            p.check_path(Category::Write, b"/a/x").outcome,
            Outcome::Deny
        );
    }

    #[test]
    fn errno_and_report_safe_settings_are_kept_and_printed() {
        let p = policy(&[
            "errno/read,write:EPERM",
            "errno/net/bind:EADDRNOTAVAIL",
            "report/safe:on",
        ]);
        assert_eq!(p.deny_errno(Category::Write), Some(libc::EPERM));
        assert_eq!(p.deny_errno(Category::NetBind), Some(libc::EADDRNOTAVAIL));
        assert_eq!(p.deny_errno(Category::Exec), None);
        assert!(p.reports_safe());
        let text = p.to_rules();
        assert!(text.contains("errno/write:EPERM\n"), "{text}");
        assert!(text.contains("errno/net/bind:EADDRNOTAVAIL\n"), "{text}");
        assert!(text.contains("report/safe:on\n"), "{text}");
    }

    #[test]
    fn to_rule_bytes_round_trips_non_utf8() {
        let mut p = Policy::new();
        p.apply(&parse_rule(b"allow/write+/t/\xff").unwrap())
            .unwrap();
        let bytes = p.to_rule_bytes();
        let commands = parse_config("rules", &bytes, &|_| None).unwrap();
        let mut again = Policy::new();
        for cmd in &commands {
            again.apply(cmd).unwrap();
        }
        assert_eq!(again.to_rule_bytes(), bytes);
        assert!(p.to_rules().contains(r"allow/write+/t/\xff"));
    }
}
