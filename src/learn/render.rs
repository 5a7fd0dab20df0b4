//! Writing a learned profile out as a config file with comments.

use super::{Learned, LearnedRule, Reason};
use crate::policy::Category;
use std::fmt::Write as _;

/// The profile as config-file text. `command` is the command line learned
/// from, shown in the header; `base` are the base profile's parts, each a
/// title (`-p paludis`) and its rule text, copied in so that the file
/// stands alone.
///
/// Layout: the learned rules first, then the base (its rules keep the last
/// word over learned folds), then exact rules for what a base `deny` rule
/// refused, then the categories to check, then the dangerous accesses left
/// out, as comments.
pub fn render(learned: &Learned, command: &str, base: &[(String, String)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A stockade profile, learned by `stockade learn` from one run of:"
    );
    let _ = writeln!(out, "#   {}", one_line(command));
    let left = learned.left_out.len();
    let _ = writeln!(
        out,
        "# {} rules for {} recorded accesses{}.",
        learned.rule_count(),
        learned.accesses,
        match left {
            0 => String::new(),
            1 => "; 1 dangerous one left out (see the end)".to_owned(),
            n => format!("; {n} dangerous ones left out (see the end)"),
        }
    );
    out.push_str(
        "# Check it: stockade check FILE; use it: stockade -P FILE -- COMMAND\n\
         # Each rule follows a comment: how many accesses it covers, and one of them.\n",
    );
    section(&mut out, "learned");
    rules(&mut out, &learned.rules, false);
    for (title, text) in base {
        section(&mut out, &format!("base: {}", one_line(title)));
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    if !learned.overrides.is_empty() {
        section(&mut out, "learned: accesses the base refused by rule");
        rules(&mut out, &learned.overrides, false);
    }
    if !learned.categories.is_empty() {
        section(&mut out, "the categories checked");
        let names: Vec<&str> = learned.categories.iter().map(|c| c.name()).collect();
        let _ = writeln!(out, "sandbox/{}:on", names.join(","));
    }
    if !learned.left_out.is_empty() {
        section(
            &mut out,
            "dangerous, left out (stockade learn --keep-dangerous keeps them)",
        );
        rules(&mut out, &learned.left_out, true);
    }
    out
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n# --- {title} ---");
}

fn rules(out: &mut String, rules: &[LearnedRule], commented: bool) {
    for rule in rules {
        let _ = writeln!(out, "# {}", describe(rule));
        let _ = writeln!(out, "{}{}", if commented { "# " } else { "" }, rule.line());
    }
}

/// The comment above a rule: `write, 12 accesses to 3 paths (build area),
/// e.g. openat ${PWD}/config.h`.
fn describe(rule: &LearnedRule) -> String {
    let mut text = String::new();
    if let Some(danger) = rule.danger {
        let _ = write!(text, "DANGEROUS, {danger}: ");
    }
    let _ = write!(
        text,
        "{}, {}",
        rule.category.name(),
        plural(rule.accesses, "access", "accesses")
    );
    if rule.subjects > 1 {
        let noun = match rule.category {
            Category::NetBind | Category::NetConnect => ("address", "addresses"),
            _ => ("path", "paths"),
        };
        let _ = write!(text, " to {}", plural(rule.subjects as u64, noun.0, noun.1));
    }
    match &rule.reason {
        Reason::Exact => {}
        Reason::BuildArea => text.push_str(" (the build area)"),
        Reason::TmpArea => text.push_str(" (the temporary area)"),
        Reason::Busy(n) => {
            let how = if rule.category == Category::Write {
                "created"
            } else {
                "accessed"
            };
            let _ = write!(text, " ({n} entries {how} in this directory)");
        }
        Reason::Ports => text.push_str(" (the ports seen)"),
        Reason::Terminal => text.push_str(" (terminals: the next run's has another number)"),
    }
    let _ = write!(text, ", e.g. {}", one_line(&rule.example));
    if let Some(base) = &rule.overrides {
        let _ = write!(text, "; overrides the base's {base}");
    }
    text
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Text for a comment: a newline would end it.
fn one_line(text: &str) -> String {
    text.replace('\n', "\\x0a").replace('\r', "\\x0d")
}
