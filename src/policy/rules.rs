//! The ordered rule list of one category, and for path categories an index
//! that finds the last matching rule without running every glob.
//!
//! Rules are kept in the order added; the last match wins. Most path rules
//! are an exact path (`/dev/null`), a subtree (`/tmp/***`) or a directory
//! prefix (`/etc/**`): those go in hash tables keyed by the path, directory
//! or prefix, each remembering the position of the newest rule with that
//! key. A lookup probes the tables once per `/` in the path, then runs only
//! the general globs added after the best indexed hit, newest first.

use std::collections::HashMap;

use super::RuleAction;
use super::addr::AddressPattern;
use super::pattern::Pattern;

/// One rule of one category.
#[derive(Debug, Clone)]
pub(super) struct Rule<M> {
    /// What the rule does when it matches.
    pub action: RuleAction,
    /// The pattern as typed; with `action`, what identifies the rule for removal.
    pub pattern: Vec<u8>,
    /// The canonical rule text, e.g. `deny/write+/etc/**`.
    pub text: String,
    /// The compiled pattern.
    pub matcher: M,
}

/// Rules in the order added.
#[derive(Debug, Clone)]
pub(super) struct RuleList<M> {
    rules: Vec<Rule<M>>,
}

impl<M> Default for RuleList<M> {
    fn default() -> Self {
        RuleList { rules: Vec::new() }
    }
}

impl<M> RuleList<M> {
    pub fn push(&mut self, rule: Rule<M>) {
        self.rules.push(rule);
    }

    pub fn contains(&self, action: RuleAction, pattern: &[u8]) -> bool {
        self.rules
            .iter()
            .any(|r| r.action == action && r.pattern == pattern)
    }

    /// Removes the newest identical rule, or every one; false when none was there.
    pub fn remove(&mut self, action: RuleAction, pattern: &[u8], every: bool) -> bool {
        let same = |r: &Rule<M>| r.action == action && r.pattern == pattern;
        if every {
            let before = self.rules.len();
            self.rules.retain(|r| !same(r));
            self.rules.len() != before
        } else if let Some(i) = self.rules.iter().rposition(same) {
            self.rules.remove(i);
            true
        } else {
            false
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rule<M>> {
        self.rules.iter()
    }

    /// The newest rule accepted by `matches`, scanning every rule.
    pub fn last_match(&self, matches: impl Fn(&M) -> bool) -> Option<&Rule<M>> {
        self.rules.iter().rev().find(|r| matches(&r.matcher))
    }
}

impl RuleList<AddressPattern> {
    /// The newest rule matching `addr`. Net rule lists are short, so a scan.
    pub fn last_match_addr(&self, addr: &super::Address) -> Option<&Rule<AddressPattern>> {
        self.last_match(|m| m.matches(addr))
    }
}

/// The path rules of one category, with their index.
#[derive(Debug, Clone, Default)]
pub(super) struct PathRules {
    list: RuleList<Pattern>,
    index: PathIndex,
}

/// Positions in the list of rules that can be found by key; each table holds
/// the newest position for its key.
#[derive(Debug, Clone, Default)]
struct PathIndex {
    /// Exact path → rule.
    exact: HashMap<Vec<u8>, usize>,
    /// `DIR/***` keyed by DIR.
    subtree: HashMap<Vec<u8>, usize>,
    /// `PREFIX**` where PREFIX ends in `/`, keyed by PREFIX.
    dir_prefix: HashMap<Vec<u8>, usize>,
    /// Every other rule, oldest first.
    scan: Vec<usize>,
}

impl PathIndex {
    fn insert(&mut self, position: usize, pattern: &Pattern) {
        if let Some(path) = pattern.as_literal() {
            self.exact.insert(path.to_vec(), position);
        } else if let Some(dir) = pattern.as_subtree() {
            self.subtree.insert(dir.to_vec(), position);
        } else if let Some(prefix) = pattern.as_prefix().filter(|p| p.ends_with(b"/")) {
            self.dir_prefix.insert(prefix.to_vec(), position);
        } else {
            self.scan.push(position);
        }
    }

    /// The newest indexed rule that matches `path`, by the tables alone.
    fn best_keyed(&self, path: &[u8]) -> Option<usize> {
        let mut best = self.exact.get(path).copied();
        let mut consider = |found: Option<&usize>| {
            if let Some(&i) = found {
                best = Some(best.map_or(i, |b| b.max(i)));
            }
        };
        if !self.subtree.is_empty() {
            consider(self.subtree.get(path));
        }
        if !self.subtree.is_empty() || !self.dir_prefix.is_empty() {
            for (slash, _) in path.iter().enumerate().filter(|&(_, &b)| b == b'/') {
                if !self.subtree.is_empty() {
                    consider(self.subtree.get(&path[..slash]));
                }
                if !self.dir_prefix.is_empty() {
                    consider(self.dir_prefix.get(&path[..=slash]));
                }
            }
        }
        best
    }
}

impl PathRules {
    pub fn push(&mut self, rule: Rule<Pattern>) {
        self.index.insert(self.list.rules.len(), &rule.matcher);
        self.list.push(rule);
    }

    pub fn contains(&self, action: RuleAction, pattern: &[u8]) -> bool {
        self.list.contains(action, pattern)
    }

    /// Removes the newest identical rule, or every one; false when none was there.
    pub fn remove(&mut self, action: RuleAction, pattern: &[u8], every: bool) -> bool {
        let removed = self.list.remove(action, pattern, every);
        if removed {
            // Positions shift; removal is rare enough to rebuild.
            self.index = PathIndex::default();
            for (i, rule) in self.list.rules.iter().enumerate() {
                self.index.insert(i, &rule.matcher);
            }
        }
        removed
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rule<Pattern>> {
        self.list.iter()
    }

    /// The newest rule matching `path`.
    pub fn last_match(&self, path: &[u8]) -> Option<&Rule<Pattern>> {
        let mut best = self.index.best_keyed(path);
        for &i in self.index.scan.iter().rev() {
            if best.is_some_and(|b| b > i) {
                break;
            }
            if self.list.rules[i].matcher.matches(path) {
                best = Some(i);
                break;
            }
        }
        best.map(|i| &self.list.rules[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str]) -> PathRules {
        let mut rules = PathRules::default();
        for p in patterns {
            rules.push(Rule {
                action: RuleAction::Allow,
                pattern: p.as_bytes().to_vec(),
                text: (*p).to_owned(),
                matcher: Pattern::path(p.as_bytes()).unwrap(),
            });
        }
        rules
    }

    fn winner(rules: &PathRules, path: &str) -> Option<String> {
        rules.last_match(path.as_bytes()).map(|r| r.text.clone())
    }

    /// The index must give the same answer as scanning every rule.
    fn agrees_with_scan(rules: &PathRules, path: &str) {
        let scanned = rules
            .list
            .last_match(|m| m.matches(path.as_bytes()))
            .map(|r| r.text.clone());
        assert_eq!(winner(rules, path), scanned, "path {path}");
    }

    #[test]
    fn newest_match_wins_across_shapes() {
        let r = rules(&["/a/b", "/a/***", "/a/**", "/a/*", "/x/***"]);
        assert_eq!(winner(&r, "/a/b").as_deref(), Some("/a/*"));
        assert_eq!(winner(&r, "/a").as_deref(), Some("/a/***"));
        assert_eq!(winner(&r, "/a/b/c").as_deref(), Some("/a/**"));
        assert_eq!(winner(&r, "/b"), None);
    }

    #[test]
    fn indexed_rule_newer_than_glob_wins() {
        let r = rules(&["/a/*", "/a/b"]);
        assert_eq!(winner(&r, "/a/b").as_deref(), Some("/a/b"));
    }

    #[test]
    fn index_agrees_with_scan_after_removal() {
        let mut r = rules(&["/t/***", "/t/x", "/t/*", "/t/x", "/t/**", "/***", "/t/x*"]);
        assert!(r.remove(RuleAction::Allow, b"/t/x", false));
        assert!(r.remove(RuleAction::Allow, b"/t/x*", true));
        for path in ["/", "/t", "/t/", "/t/x", "/t/x/y", "/u", "/tt"] {
            agrees_with_scan(&r, path);
        }
    }

    #[test]
    fn non_directory_prefix_is_scanned() {
        let r = rules(&["/usr/lib**", "/usr/***"]);
        assert_eq!(winner(&r, "/usr/lib64/x").as_deref(), Some("/usr/***"));
        let r = rules(&["/usr/***", "/usr/lib**"]);
        assert_eq!(winner(&r, "/usr/lib64/x").as_deref(), Some("/usr/lib**"));
    }

    #[test]
    fn many_rules_agree_with_scan() {
        let mut patterns: Vec<String> = Vec::new();
        for i in 0..200 {
            patterns.push(format!("/d{}/f{}", i % 7, i));
            patterns.push(format!("/d{}/***", i % 5));
            patterns.push(format!("/d{}/**", i % 3));
            patterns.push(format!("/d{}/f{}*", i % 7, i % 11));
        }
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let r = rules(&refs);
        for path in ["/d1/f8", "/d3", "/d2/f10/x", "/d6/f99", "/d9/x", "/d4/f3x"] {
            agrees_with_scan(&r, path);
        }
    }
}
