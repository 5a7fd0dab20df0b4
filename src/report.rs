//! Violation reports: one human line on stderr per event, the same events as
//! JSON lines with `--log`, a summary at exit, and per-syscall statistics.

use crate::learn::Recorder;
use crate::policy::Category;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What happened to a reported access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Refused.
    Deny,
    /// Allowed, reported because the category default is `warn`.
    Warn,
    /// The process was killed.
    Kill,
}

impl Action {
    /// The word used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Warn => "warn",
            Action::Kill => "kill",
        }
    }
}

/// One reported access.
#[derive(Debug, Clone)]
pub struct Event {
    /// The calling thread.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub comm: Vec<u8>,
    /// Its working directory, when it could be read.
    pub cwd: Vec<u8>,
    /// The system call's name.
    pub syscall: &'static str,
    /// The decoded arguments, as shown in the human line.
    pub args: String,
    /// The category checked.
    pub category: Category,
    /// The path or address the rule would name.
    pub subject: Vec<u8>,
    /// What happened.
    pub action: Action,
    /// The deciding rule, or `None` for the category default.
    pub rule: Option<String>,
    /// The errno the caller saw, if the call failed.
    pub errno: Option<i32>,
}

impl Event {
    /// The rule that would allow this access, written so that it matches
    /// exactly this path or address when pasted back.
    pub fn suggestion(&self) -> String {
        format!(
            "allow/{}+{}",
            self.category.name(),
            escape_pattern(&self.subject)
        )
    }

    /// The one-line human report.
    pub fn human(&self) -> String {
        let verb = match self.action {
            Action::Deny => "denied",
            Action::Warn => "warning, allowed",
            Action::Kill => "killed for",
        };
        let mut line = format!(
            "stockade: {verb} {} access: {}({}) by pid {} ({})",
            self.category.name(),
            self.syscall,
            self.args,
            self.pid,
            escape(&self.comm)
        );
        match &self.rule {
            Some(rule) => {
                let _ = write!(line, " by rule {rule}");
            }
            None => line.push_str(" by default"),
        }
        let _ = write!(line, "; to allow, add: {}", self.suggestion());
        line
    }

    /// The JSON-lines record.
    pub fn json(&self) -> String {
        let value = serde_json::json!({
            "time": timestamp(),
            "pid": self.pid,
            "comm": escape(&self.comm),
            "cwd": escape(&self.cwd),
            "syscall": self.syscall,
            "args": self.args,
            "category": self.category.name(),
            "path": escape(&self.subject),
            "action": self.action.name(),
            "rule": self.rule.clone().unwrap_or_else(|| "default".to_string()),
            "errno": self.errno.map(|e| crate::sys::Errno(e).name()),
        });
        value.to_string()
    }
}

/// One refused call that reached for another process: one outside the
/// sandboxed tree, or, under `lock:exec`, one that may still send in-sandbox
/// commands, driven by one that may not. No rule allows these, so the
/// report suggests none.
#[derive(Debug, Clone)]
pub struct ProcessEvent {
    /// The calling thread.
    pub pid: u32,
    /// Its command name.
    pub comm: Vec<u8>,
    /// The system call's name.
    pub syscall: &'static str,
    /// The decoded arguments.
    pub args: String,
    /// The process aimed at (negative for a process group).
    pub target: i64,
    /// Its command name, when it could be read.
    pub target_comm: Vec<u8>,
    /// Why it was refused, e.g. `outside the sandbox`.
    pub why: &'static str,
    /// The errno the caller saw, if the call failed.
    pub errno: Option<i32>,
}

impl ProcessEvent {
    /// The category name used in reports and the summary.
    pub const CATEGORY: &'static str = "process";

    fn target_name(&self) -> String {
        let mut name = if self.target < 0 {
            format!("process group {}", -self.target)
        } else {
            format!("pid {}", self.target)
        };
        if !self.target_comm.is_empty() {
            let _ = write!(name, " ({})", escape(&self.target_comm));
        }
        name
    }

    /// The one-line human report.
    pub fn human(&self) -> String {
        let verb = if self.errno.is_some() {
            "denied"
        } else {
            "spared"
        };
        format!(
            "stockade: {verb} process access: {}({}) by pid {} ({}): {} is {}; no rule allows it",
            self.syscall,
            self.args,
            self.pid,
            escape(&self.comm),
            self.target_name(),
            self.why
        )
    }

    /// The JSON-lines record.
    pub fn json(&self) -> String {
        serde_json::json!({
            "time": timestamp(),
            "pid": self.pid,
            "comm": escape(&self.comm),
            "syscall": self.syscall,
            "args": self.args,
            "category": Self::CATEGORY,
            "target": self.target,
            "target_comm": escape(&self.target_comm),
            "why": self.why,
            "action": Action::Deny.name(),
            "errno": self.errno.map(|e| crate::sys::Errno(e).name()),
        })
        .to_string()
    }
}

/// A refused call that no path or address rule decides: a new user
/// namespace, a raised core limit, an ioctl that changes a whole
/// filesystem, switching process accounting off.
#[derive(Debug, Clone)]
pub struct RefusalEvent {
    /// The calling thread.
    pub pid: u32,
    /// Its command name.
    pub comm: Vec<u8>,
    /// The system call's name.
    pub syscall: &'static str,
    /// The decoded arguments.
    pub args: String,
    /// What kind of refusal, also the summary's category: `namespace`,
    /// `core`, `filesystem`, `accounting`.
    pub category: &'static str,
    /// Why it was refused.
    pub why: &'static str,
    /// The rule that would allow it, if one can.
    pub allow: Option<&'static str>,
    /// The errno the caller saw.
    pub errno: i32,
}

impl RefusalEvent {
    /// The one-line human report.
    pub fn human(&self) -> String {
        let hint = match self.allow {
            Some(rule) => format!("to allow, add: {rule}"),
            None => "no rule allows it".to_string(),
        };
        format!(
            "stockade: denied {} access: {}({}) by pid {} ({}): {}; {hint}",
            self.category,
            self.syscall,
            self.args,
            self.pid,
            escape(&self.comm),
            self.why
        )
    }

    /// The JSON-lines record.
    pub fn json(&self) -> String {
        serde_json::json!({
            "time": timestamp(),
            "pid": self.pid,
            "comm": escape(&self.comm),
            "syscall": self.syscall,
            "args": self.args,
            "category": self.category,
            "why": self.why,
            "rule": self.allow,
            "action": Action::Deny.name(),
            "errno": crate::sys::Errno(self.errno).name(),
        })
        .to_string()
    }
}

/// Shows bytes as text: printable ASCII and valid UTF-8 as is, every other
/// byte as `\xNN`, and a backslash as `\\`, so distinct paths print
/// distinctly.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Like [`escape`], and also escapes the characters patterns give a meaning
/// to (`*`, `?`, `[`, `]`), so the result matches `bytes` literally as a
/// rule pattern (`\xNN` and `\\` are read back as the bytes they show).
pub fn escape_pattern(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for c in escape(bytes).chars() {
        if matches!(c, '*' | '?' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Where reports go, and what was counted.
#[derive(Debug)]
pub struct Reporter {
    inner: Mutex<Sinks>,
    quiet: bool,
    /// A learning run's recorder: it takes every event, and stderr none.
    recorder: Option<Arc<Recorder>>,
}

#[derive(Debug)]
struct Sinks {
    log: Option<std::fs::File>,
    counts: BTreeMap<&'static str, u64>,
}

impl Reporter {
    /// A reporter writing human lines to stderr (unless `quiet`) and JSON
    /// lines to `log`.
    pub fn new(log: Option<std::fs::File>, quiet: bool) -> Reporter {
        Reporter {
            inner: Mutex::new(Sinks {
                log,
                counts: BTreeMap::new(),
            }),
            quiet,
            recorder: None,
        }
    }

    /// Hands every event to `recorder` (when given) instead of printing it,
    /// for `stockade learn`; the log still gets them.
    pub fn recording_to(mut self, recorder: Option<Arc<Recorder>>) -> Reporter {
        self.recorder = recorder;
        self
    }

    /// Reports one event.
    pub fn report(&self, event: &Event) {
        let mut sinks = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *sinks.counts.entry(event.category.name()).or_default() += 1;
        if let Some(recorder) = &self.recorder {
            recorder.record(event);
        } else if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{}", event.human());
        }
        if let Some(log) = sinks.log.as_mut() {
            let _ = writeln!(log, "{}", event.json());
        }
    }

    /// Reports one refused call that reached for another process.
    pub fn report_process(&self, event: &ProcessEvent) {
        self.emit(ProcessEvent::CATEGORY, event.human(), || event.json());
    }

    /// Reports one refused call that no path or address rule decides.
    pub fn report_refusal(&self, event: &RefusalEvent) {
        self.emit(event.category, event.human(), || event.json());
    }

    /// Counts an event under `category`, prints its line unless quiet, and
    /// logs its JSON record. Write errors are ignored: the outside world
    /// closing stderr or filling the log's disk must not end the run.
    fn emit(&self, category: &'static str, human: String, json: impl FnOnce() -> String) {
        let mut sinks = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *sinks.counts.entry(category).or_default() += 1;
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{human}");
        }
        if let Some(log) = sinks.log.as_mut() {
            let _ = writeln!(log, "{}", json());
        }
    }

    /// Prints a free-form message line (for in-sandbox command errors).
    pub fn message(&self, text: &str) {
        let _guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(std::io::stderr().lock(), "stockade: {text}");
    }

    /// Counts of reported events by category name.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .counts
            .clone()
    }

    /// The exit summary, or `None` when nothing was reported.
    pub fn summary(&self) -> Option<String> {
        let counts = self.counts();
        let total: u64 = counts.values().sum();
        if total == 0 {
            return None;
        }
        let parts: Vec<String> = counts.iter().map(|(cat, n)| format!("{cat} {n}")).collect();
        let noun = if total == 1 {
            "violation"
        } else {
            "violations"
        };
        Some(format!("stockade: {total} {noun} ({})", parts.join(", ")))
    }
}

/// Buckets per power of two in the latency histogram.
const SUB_BUCKETS: usize = 4;
/// Histogram buckets: 2^0 .. 2^24 ns-ish in quarter octaves, enough for 16 s.
const BUCKETS: usize = 36 * SUB_BUCKETS;
/// The highest syscall number tracked.
const MAX_NR: usize = 512;

/// Per-syscall notification counts and latency histograms, lock-free.
pub struct Stats {
    counts: Vec<AtomicU64>,
    latency: Vec<AtomicU64>,
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats").finish_non_exhaustive()
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            counts: (0..MAX_NR).map(|_| AtomicU64::new(0)).collect(),
            latency: (0..MAX_NR * BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn bucket_of(ns: u64) -> usize {
    let ns = ns.max(1);
    let octave = 63 - ns.leading_zeros() as usize;
    let sub = if octave >= 2 {
        ((ns >> (octave - 2)) & 3) as usize
    } else {
        0
    };
    (octave * SUB_BUCKETS + sub).min(BUCKETS - 1)
}

fn bucket_floor(bucket: usize) -> u64 {
    let octave = bucket / SUB_BUCKETS;
    let sub = (bucket % SUB_BUCKETS) as u64;
    if octave >= 2 {
        (4 + sub) << (octave - 2)
    } else {
        1 << octave
    }
}

impl Stats {
    /// Records one handled notification of syscall `nr` that took `elapsed`
    /// from receipt to reply.
    pub fn record(&self, nr: i64, elapsed: Duration) {
        let nr = (nr as usize).min(MAX_NR - 1);
        self.counts[nr].fetch_add(1, Ordering::Relaxed);
        let b = bucket_of(elapsed.as_nanos() as u64);
        self.latency[nr * BUCKETS + b].fetch_add(1, Ordering::Relaxed);
    }

    /// Total notifications handled.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// A table: syscall, count, p50, p90, p99 latency in microseconds.
    pub fn table(&self, name_of: impl Fn(i64) -> String) -> String {
        let mut out =
            String::from("stockade: notifications by syscall (latency from receipt to reply)\n");
        let _ = writeln!(
            out,
            "  {:<16} {:>10} {:>10} {:>10} {:>10}",
            "syscall", "count", "p50 µs", "p90 µs", "p99 µs"
        );
        for nr in 0..MAX_NR {
            let n = self.counts[nr].load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let hist: Vec<u64> = (0..BUCKETS)
                .map(|b| self.latency[nr * BUCKETS + b].load(Ordering::Relaxed))
                .collect();
            let pct = |p: f64| -> f64 {
                let want = ((n as f64) * p).ceil().max(1.0) as u64;
                let mut seen = 0;
                for (b, c) in hist.iter().enumerate() {
                    seen += c;
                    if seen >= want {
                        return bucket_floor(b) as f64 / 1000.0;
                    }
                }
                0.0
            };
            let _ = writeln!(
                out,
                "  {:<16} {:>10} {:>10.1} {:>10.1} {:>10.1}",
                name_of(nr as i64),
                n,
                pct(0.5),
                pct(0.9),
                pct(0.99)
            );
        }
        let _ = writeln!(out, "  {:<16} {:>10}", "total", self.total());
        out
    }
}

/// The wall-clock time of a JSON record: seconds since the epoch, with
/// microseconds.
fn timestamp() -> String {
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    format!("{}.{:06}", time.as_secs(), time.subsec_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_invalid_utf8_as_hex() {
        assert_eq!(escape(b"/tmp/a\xffb"), "/tmp/a\\xffb");
    }

    #[test]
    fn escape_keeps_valid_utf8_and_escapes_controls() {
        assert_eq!(escape("/tmp/é\n".as_bytes()), "/tmp/é\\x0a");
        assert_eq!(escape(b"a\\b"), "a\\\\b");
    }

    #[test]
    fn suggested_patterns_match_literally() {
        use crate::policy::pattern::Pattern;
        for path in [&b"/tmp/a[1]/s*?"[..], b"/tmp/\xff\\x", b"/tmp/plain"] {
            let text = escape_pattern(path);
            let p = Pattern::path(text.as_bytes()).unwrap();
            assert!(p.matches(path), "{text}");
        }
    }

    #[test]
    fn buckets_are_monotonic_and_floors_fit() {
        let mut last = 0;
        for ns in [1u64, 2, 3, 5, 8, 100, 1_000, 70_000, 10_000_000] {
            let b = bucket_of(ns);
            assert!(b >= last);
            assert!(bucket_floor(b) <= ns, "floor of {ns}");
            last = b;
        }
    }

    #[test]
    fn summary_counts_by_category() {
        let r = Reporter::new(None, true);
        assert_eq!(r.summary(), None);
        let ev = Event {
            pid: 1,
            comm: b"sh".to_vec(),
            cwd: b"/".to_vec(),
            syscall: "openat",
            args: String::new(),
            category: Category::Write,
            subject: b"/etc/x".to_vec(),
            action: Action::Deny,
            rule: None,
            errno: Some(libc::EACCES),
        };
        r.report(&ev);
        r.report(&ev);
        assert_eq!(r.summary().unwrap(), "stockade: 2 violations (write 2)");
        assert_eq!(ev.suggestion(), "allow/write+/etc/x");
    }

    #[test]
    fn process_events_read_as_denials_and_count_as_process() {
        let r = Reporter::new(None, true);
        let ev = ProcessEvent {
            pid: 7,
            comm: b"py".to_vec(),
            syscall: "ptrace",
            args: "PTRACE_ATTACH, 42".into(),
            target: 42,
            target_comm: b"sh".to_vec(),
            why: "outside the sandbox",
            errno: Some(libc::EPERM),
        };
        assert_eq!(
            ev.human(),
            "stockade: denied process access: ptrace(PTRACE_ATTACH, 42) by pid 7 (py): \
             pid 42 (sh) is outside the sandbox; no rule allows it"
        );
        let json: serde_json::Value = serde_json::from_str(&ev.json()).unwrap();
        assert_eq!(json["category"], "process");
        assert_eq!(json["errno"], "EPERM");
        assert_eq!(json["target"], 42);
        let group = ProcessEvent {
            target: -5,
            target_comm: Vec::new(),
            errno: None,
            ..ev.clone()
        };
        assert!(group.human().starts_with("stockade: spared process access"));
        assert!(group.human().contains("process group 5 is"));
        r.report_process(&ev);
        assert_eq!(r.summary().unwrap(), "stockade: 1 violation (process 1)");
    }
}
