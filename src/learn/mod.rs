//! `stockade learn`: from the accesses one run made, the smallest profile
//! that lets the same run pass. Pure: no syscalls here; the command line
//! runs the command and hands over what it saw ([`Recorder`]) and where
//! (`Places`).
//!
//! # What goes in
//!
//! Every access the run's policy would have refused, as recorded in
//! report-only mode ([`Policy::set_learning`](crate::policy::Policy::set_learning)):
//! writes, creates and deletes; execs; binds, connects and sends; reads and
//! stats only in the categories the run checked (`--read`, `--stat`, or a
//! base profile that checks them). Accesses the base profile already allows
//! are not reported, so they need no rule; accesses a base `deny` rule
//! refuses get an exact rule after the base, marked as overriding it.
//!
//! # Folding: the documented rules
//!
//! A rule covers exactly the paths seen, except by these rules, applied in
//! this order:
//!
//! 1. **Build area.** Everything under the working directory becomes one
//!    rule, `${PWD}/***`, in every category. Not when the working directory
//!    is `/` or `$HOME` or above it: then nothing is an area.
//! 2. **Temporary area.** Everything under the temporary directory (`$TMPDIR`,
//!    else `/tmp`) becomes `${TMPDIR:-/tmp}/***`: names there are random, so
//!    the next run would use others.
//! 3. **Busy directories.** A directory in which the run created at least
//!    [`FOLD_AT`] different entries (for writes: created by open with
//!    `O_CREAT`, mkdir, mknod, symlink, link or rename; for the other
//!    categories: accessed), counting a subdirectory as one entry when
//!    anything in it was, becomes `DIR/***`. The highest such directory
//!    wins. Never `/`, a top-level directory such as `/var`, `$HOME` or an
//!    ancestor of it.
//! 4. **Ports.** The ports seen at one address become one comma list:
//!    `127.0.0.1!8080,8081`.
//! 5. **Terminals.** Pseudo-terminals `/dev/pts/N` become `/dev/pts/*`: the
//!    next run's terminal has another number.
//!
//! No fold covers an access flagged as dangerous (below), so leaving one
//! out cannot be undone by a wider rule. Everything else is an exact rule,
//! escaped so that it matches only the path seen.
//!
//! # Variables
//!
//! A path under the working directory, `$HOME` or the temporary directory is
//! written from `${PWD}`, `${HOME}` or `${TMPDIR:-/tmp}` (the most specific
//! wins), so that the profile works for another user or build directory.
//! `$HOME` and `$TMPDIR` are used only when they name their directory
//! canonically, since rules match canonical paths.
//!
//! # Dangerous accesses
//!
//! These are left out, each with a comment saying why, unless
//! [`Options::keep_dangerous`]: writes under `/etc`, `/usr`, `$HOME/.ssh`
//! or `$HOME/.config` (except inside the build area: building in
//! `/usr/src/pkg` is not dangerous); reads of `$HOME/.ssh`; connects and
//! sends to an address outside loopback; exec of a shell (by its name: sh,
//! bash, dash, ...) from a temporary directory. A kept dangerous access
//! stays an exact rule, flagged.

mod danger;
mod fold;
mod render;

pub use danger::Danger;
pub use render::render;

use crate::policy::Category;
use crate::report::{Action, Event};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A directory with at least this many created (or, outside writes,
/// accessed) entries is folded into `DIR/***`.
pub const FOLD_AT: usize = 8;

/// How often one subject was accessed in one category, and an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Accesses seen.
    pub count: u64,
    /// Whether any of them created the path (a write category fact).
    pub created: bool,
    /// The system call of the first access.
    pub syscall: &'static str,
    /// The base rule that would have refused it (`deny/write+/x`), or
    /// `None` when the category default would have.
    pub denied_by: Option<String>,
}

/// Every access recorded, by category and subject. For path categories the
/// subject is the canonical path; for network categories `IP!PORT`, a UNIX
/// socket path, or `@` and an abstract name, as raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    accesses: BTreeMap<(Category, Vec<u8>), Tally>,
}

impl Seen {
    /// Records one access.
    pub fn add(
        &mut self,
        category: Category,
        subject: &[u8],
        syscall: &'static str,
        created: bool,
        denied_by: Option<&str>,
    ) {
        let tally = self
            .accesses
            .entry((category, subject.to_vec()))
            .or_insert_with(|| Tally {
                count: 0,
                created: false,
                syscall,
                denied_by: denied_by.map(str::to_owned),
            });
        tally.count += 1;
        tally.created |= created;
    }

    /// Total accesses recorded.
    pub fn total(&self) -> u64 {
        self.accesses.values().map(|t| t.count).sum()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.accesses.is_empty()
    }

    fn in_category(&self, c: Category) -> impl Iterator<Item = (&[u8], &Tally)> {
        self.accesses
            .range((c, Vec::new())..)
            .take_while(move |((cat, _), _)| *cat == c)
            .map(|((_, subject), tally)| (subject.as_slice(), tally))
    }
}

/// Collects the reports of a learning run (shared with the reporter).
#[derive(Debug, Default)]
pub struct Recorder {
    seen: Mutex<Seen>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Records a reported event. Only allowed ones count: in a learning run
    /// the policy allows every refusal it would make, so what is still
    /// refused or killed (`exec/kill_if_match`) will be in the next run
    /// too, whatever the profile says.
    pub fn record(&self, event: &Event) {
        if event.action != Action::Warn {
            return;
        }
        let subject = subject_bytes(event.category, &event.subject);
        let created = creates(event.syscall, &event.args);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.add(
            event.category,
            &subject,
            event.syscall,
            created,
            event.rule.as_deref(),
        );
    }

    /// What was recorded so far, leaving the recorder empty.
    pub fn take(&self) -> Seen {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Whether a reported call creates its path: the write category's busy
/// directory rule counts only these.
fn creates(syscall: &str, args: &str) -> bool {
    match syscall {
        "mkdir" | "mkdirat" | "mknod" | "mknodat" | "symlink" | "symlinkat" | "link" | "linkat"
        | "rename" | "renameat" | "renameat2" | "creat" => true,
        // The flags are the last argument shown; a path never is.
        "open" | "openat" | "openat2" => args
            .rsplit(", ")
            .next()
            .is_some_and(|flags| flags.split('|').any(|f| f == "O_CREAT")),
        _ => false,
    }
}

/// Network subjects arrive as reports show them (UNIX paths and abstract
/// names escaped); path subjects as raw bytes.
fn subject_bytes(category: Category, shown: &[u8]) -> Vec<u8> {
    let is_net = matches!(category, Category::NetBind | Category::NetConnect);
    if is_net && matches!(shown.first(), Some(b'/' | b'@')) {
        unescape(shown)
    } else {
        shown.to_vec()
    }
}

/// The inverse of [`crate::report::escape`]: `\\` and `\xNN` back to bytes.
fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' {
            if text.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            let hex = text
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if text.get(i + 1) == Some(&b'x')
                && let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Where the run happened: the directories that are areas or variables.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// The working directory, canonical: the build directory, `${PWD}`.
    pub cwd: Vec<u8>,
    /// `$HOME` made canonical, and whether `$HOME` already was.
    pub home: Option<(Vec<u8>, bool)>,
    /// The temporary directory (`$TMPDIR`, else `/tmp`) made canonical, and
    /// whether it already was.
    pub tmp: Option<(Vec<u8>, bool)>,
}

impl Places {
    /// The build area: the working directory, unless it is `/`, `$HOME`,
    /// or above `$HOME`.
    pub fn build_area(&self) -> Option<&[u8]> {
        let cwd = self.cwd.as_slice();
        let above_home = self.home().is_some_and(|home| is_under(home, cwd));
        (cwd.len() > 1 && cwd.starts_with(b"/") && !above_home).then_some(cwd)
    }

    /// The temporary area, unless it is `/`.
    pub fn tmp_area(&self) -> Option<&[u8]> {
        self.tmp
            .as_ref()
            .map(|(t, _)| t.as_slice())
            .filter(|t| t.len() > 1)
    }

    /// The canonical home directory.
    pub fn home(&self) -> Option<&[u8]> {
        self.home.as_ref().map(|(h, _)| h.as_slice())
    }

    /// The directories written as variables, with the text that names them.
    /// A directory whose name holds a pattern character cannot be one: the
    /// variable's value is not escaped when the profile is read.
    fn variables(&self) -> Vec<(&[u8], &'static str)> {
        let mut vars = Vec::new();
        if self.cwd.len() > 1 {
            vars.push((self.cwd.as_slice(), "${PWD}"));
        }
        if let Some((home, true)) = &self.home {
            vars.push((home.as_slice(), "${HOME}"));
        }
        if let Some((tmp, true)) = &self.tmp {
            vars.push((tmp.as_slice(), "${TMPDIR:-/tmp}"));
        }
        vars.retain(|(dir, _)| dir.len() > 1 && !dir.iter().any(|b| b"*?[]\\$".contains(b)));
        // The most specific first.
        vars.sort_by_key(|(dir, _)| std::cmp::Reverse(dir.len()));
        vars
    }

    /// `path` written as a literal pattern, from a variable where one names
    /// a directory above it.
    pub fn written(&self, path: &[u8]) -> String {
        for (dir, var) in self.variables() {
            if is_under(path, dir) {
                return format!("{var}{}", literal(&path[dir.len()..]));
            }
        }
        literal(path)
    }

    /// `DIR/***` for `dir`, from a variable where one fits.
    pub fn subtree(&self, dir: &[u8]) -> String {
        format!("{}/***", self.written(dir))
    }
}

/// Whether `path` is `dir` or beneath it.
fn is_under(path: &[u8], dir: &[u8]) -> bool {
    if dir == b"/" {
        return path.starts_with(b"/");
    }
    path.starts_with(dir) && matches!(path.get(dir.len()), None | Some(b'/'))
}

/// `bytes` as a pattern that matches exactly them in a config file: the
/// report escapes, plus `${` (which would expand) and a trailing space
/// (which would be trimmed) as `\xNN`.
fn literal(bytes: &[u8]) -> String {
    let mut text = crate::report::escape_pattern(bytes).replace("${", "\\x24{");
    if text.ends_with(' ') {
        text.pop();
        text.push_str("\\x20");
    }
    text
}

/// What `learn` is told besides the accesses.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep dangerous accesses as (flagged) rules instead of leaving them out.
    pub keep_dangerous: bool,
    /// The categories the run checked: the profile switches them on.
    pub categories: Vec<Category>,
}

/// Why a rule covers what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Exactly the subject seen.
    Exact,
    /// The build area (fold rule 1).
    BuildArea,
    /// The temporary area (fold rule 2).
    TmpArea,
    /// A busy directory (fold rule 3), with how many entries counted.
    Busy(usize),
    /// The ports seen at one address (fold rule 4).
    Ports,
    /// Pseudo-terminals (fold rule 5).
    Terminal,
}

/// One learned rule (or a dangerous one left out), with what it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedRule {
    /// The category.
    pub category: Category,
    /// The pattern as written in the profile (with variables).
    pub pattern: String,
    /// Accesses covered.
    pub accesses: u64,
    /// Different subjects covered.
    pub subjects: usize,
    /// One access: its system call and its subject, as written.
    pub example: String,
    /// Why the pattern is what it is.
    pub reason: Reason,
    /// Why it is dangerous, if it is.
    pub danger: Option<Danger>,
    /// The base rule it overrides, if a base `deny` rule refused it.
    pub overrides: Option<String>,
}

impl LearnedRule {
    /// The rule line: `allow/CAT+PATTERN`.
    pub fn line(&self) -> String {
        format!("allow/{}+{}", self.category.name(), self.pattern)
    }
}

/// The learned profile, before it is written out.
#[derive(Debug, Clone, Default)]
pub struct Learned {
    /// Rules for accesses no base rule decided: they go before the base,
    /// so that the base's own rules keep the last word.
    pub rules: Vec<LearnedRule>,
    /// Exact rules for accesses a base `deny` rule refused: after the base.
    pub overrides: Vec<LearnedRule>,
    /// Dangerous accesses left out, one per subject.
    pub left_out: Vec<LearnedRule>,
    /// The categories to switch on.
    pub categories: Vec<Category>,
    /// Accesses recorded.
    pub accesses: u64,
}

impl Learned {
    /// Rules written (left-out ones are only comments).
    pub fn rule_count(&self) -> usize {
        self.rules.len() + self.overrides.len()
    }
}

/// Folds what a run saw into the smallest profile that allows it (see the
/// module documentation for the rules).
pub fn learn(seen: &Seen, places: &Places, options: &Options) -> Learned {
    let mut learned = Learned {
        categories: options.categories.clone(),
        accesses: seen.total(),
        ..Learned::default()
    };
    for c in Category::ALL {
        let mut plain = Vec::new();
        let mut flagged = Vec::new();
        for (subject, tally) in seen.in_category(c) {
            match danger::classify(c, subject, places) {
                Some(d) => flagged.push((subject, tally, d)),
                None => plain.push((subject, tally)),
            }
        }
        let blocked: Vec<&[u8]> = flagged.iter().map(|(s, _, _)| *s).collect();
        for (subject, tally, d) in flagged {
            let mut rule = exact(c, subject, tally, places);
            rule.danger = Some(d);
            if options.keep_dangerous {
                learned.rules.push(rule);
            } else {
                learned.left_out.push(rule);
            }
        }
        let (by_base, plain): (Vec<_>, Vec<_>) =
            plain.into_iter().partition(|(_, t)| t.denied_by.is_some());
        learned.overrides.extend(by_base.into_iter().map(|(s, t)| {
            let mut rule = exact(c, s, t, places);
            rule.overrides = t.denied_by.clone();
            rule
        }));
        learned
            .rules
            .extend(fold::fold(c, &plain, &blocked, places));
    }
    learned
}

/// The exact rule for one subject.
fn exact(c: Category, subject: &[u8], tally: &Tally, places: &Places) -> LearnedRule {
    let pattern = fold::written_subject(c, subject, places);
    LearnedRule {
        category: c,
        example: format!("{} {}", tally.syscall, pattern),
        pattern,
        accesses: tally.count,
        subjects: 1,
        reason: Reason::Exact,
        danger: None,
        overrides: None,
    }
}

#[cfg(test)]
mod tests;
