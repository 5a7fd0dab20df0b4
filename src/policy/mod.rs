//! The rule language and the decisions it makes. Pure: no syscalls here.
//!
//! API CONTRACT (shared with the supervisor; signatures below are relied on):
//! see `Policy`, `Command`, `parse_rule`, `parse_config`, `profile`.

pub mod addr;
pub mod parse;
pub mod pattern;
pub mod profile;




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
    pub const ALLOW: Verdict = Verdict { outcome: Outcome::Allow, report: false, rule: None };
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
