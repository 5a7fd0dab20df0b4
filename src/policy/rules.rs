//! The ordered rule list of one category, and for path categories an index
//! that finds the last matching rule without running every glob.
//!
//! Rules are kept in the order added; the last match wins. Most path rules
//! are an exact path (`/dev/null`), a subtree (`/tmp/***`) or a directory
//! prefix (`/etc/**`): those go in hash tables keyed by the path, directory
//! or prefix, each remembering the position of the newest rule with that
//! key. The remaining globs are grouped by the literal directory they start
//! with (`/usr/lib/` for `/usr/lib/*.so`), which a matching path must also
//! start with. A lookup probes the tables once per `/` in the path, and in
//! each group it finds runs only the globs added after the best hit so far,
//! newest first.

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
    /// Every other rule, keyed by its literal directory, oldest first.
    globs: HashMap<Vec<u8>, Vec<usize>>,
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
            let dir = pattern.literal_directory();
            self.globs.entry(dir).or_default().push(position);
        }
    }

    /// The position of the newest rule in `rules` that matches `path`.
    fn last_match(&self, rules: &[Rule<Pattern>], path: &[u8]) -> Option<usize> {
        // Positions only grow, and `None < Some(_)`: `max` keeps the newest.
        let mut best = self.exact.get(path).copied();
        let probe_prefixes =
            !(self.subtree.is_empty() && self.dir_prefix.is_empty() && self.globs.is_empty());
        if !self.subtree.is_empty() {
            best = best.max(self.subtree.get(path).copied());
        }
        if !self.globs.is_empty() {
            best = best.max(self.newest_glob(rules, b"", path, best));
        }
        if probe_prefixes {
            for (slash, _) in path.iter().enumerate().filter(|&(_, &b)| b == b'/') {
                let (dir, with_slash) = (&path[..slash], &path[..=slash]);
                best = best.max(self.subtree.get(dir).copied());
                best = best.max(self.dir_prefix.get(with_slash).copied());
                best = best.max(self.newest_glob(rules, with_slash, path, best));
            }
        }
        best
    }

    /// The newest glob under `dir` matching `path`, if newer than `best`.
    fn newest_glob(
        &self,
        rules: &[Rule<Pattern>],
        dir: &[u8],
        path: &[u8],
        best: Option<usize>,
    ) -> Option<usize> {
        let positions = self.globs.get(dir)?;
        positions
            .iter()
            .rev()
            .take_while(|&&i| best.is_none_or(|b| i > b))
            .find(|&&i| rules[i].matcher.matches(path))
            .copied()
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
        let position = self.index.last_match(&self.list.rules, path);
        position.map(|i| &self.list.rules[i])
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
    fn many_rules_of_every_shape_agree_with_scan() {
        let shapes = [
            "/d{a}/f{b}",
            "/d{a}/***",
            "/d{a}/**",
            "/d{a}/f{b}*",
            "/d{a}/*/g",
            "/**/f{b}",
            "/d{a}?/f{b}",
            "/d{a}/f{b}/*/***",
            "/d{a}/f**",
        ];
        let mut patterns = Vec::new();
        for i in 0..300usize {
            let shape = shapes[i % shapes.len()];
            let (a, b) = ((i / 7 % 4).to_string(), (i % 5).to_string());
            patterns.push(shape.replace("{a}", &a).replace("{b}", &b));
        }
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let mut r = rules(&refs);
        let mut paths = vec!["/".to_owned()];
        for a in 0..5 {
            for b in 0..6 {
                paths.push(format!("/d{a}"));
                paths.push(format!("/d{a}/f{b}"));
                paths.push(format!("/d{a}x/f{b}"));
                paths.push(format!("/d{a}/f{b}/g"));
                paths.push(format!("/d{a}/f{b}/q/r"));
                paths.push(format!("/e/d{a}/f{b}"));
            }
        }
        for path in &paths {
            agrees_with_scan(&r, path);
        }
        for p in refs.iter().step_by(4) {
            r.remove(RuleAction::Allow, p.as_bytes(), false);
        }
        for path in &paths {
            agrees_with_scan(&r, path);
        }
    }
}
