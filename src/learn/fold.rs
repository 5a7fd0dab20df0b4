//! Folding the subjects of one category into few patterns (the rules are in
//! the module documentation of [`learn`](super)).

use super::{FOLD_AT, LearnedRule, Places, Reason, Tally, is_under, literal};
use crate::policy::Category;
use std::collections::BTreeMap;

/// One access kind: a subject and its tally.
type Item<'a> = (&'a [u8], &'a Tally);

/// The rules for the plain (not dangerous, not base-refused) accesses of
/// category `c`. No fold covers a subject in `blocked`.
pub(super) fn fold(
    c: Category,
    items: &[Item<'_>],
    blocked: &[&[u8]],
    places: &Places,
) -> Vec<LearnedRule> {
    let is_net = matches!(c, Category::NetBind | Category::NetConnect);
    let (paths, others): (Vec<Item>, Vec<Item>) = items
        .iter()
        .partition(|(s, _)| !is_net || s.first() == Some(&b'/'));
    let mut rules = fold_paths(c, &paths, blocked, places);
    let (abstract_names, inet): (Vec<Item>, Vec<Item>) = others
        .into_iter()
        .partition(|(s, _)| s.first() == Some(&b'@'));
    for (subject, tally) in abstract_names {
        rules.push(rule(
            c,
            written_subject(c, subject, places),
            &[(subject, tally)],
            Reason::Exact,
            places,
        ));
    }
    rules.extend(fold_ports(c, &inet, places));
    rules
}

/// A subject as a literal pattern of category `c`.
pub(super) fn written_subject(c: Category, subject: &[u8], places: &Places) -> String {
    let is_net = matches!(c, Category::NetBind | Category::NetConnect);
    match subject.first() {
        Some(b'@') if is_net => format!("@{}", literal(&subject[1..])),
        Some(b'/') => places.written(subject),
        _ if is_net => String::from_utf8_lossy(subject).into_owned(),
        _ => literal(subject),
    }
}

/// A rule covering `items` with `pattern`; the example is the first item.
fn rule(
    c: Category,
    pattern: String,
    items: &[Item<'_>],
    reason: Reason,
    places: &Places,
) -> LearnedRule {
    let (subject, tally) = items[0];
    LearnedRule {
        category: c,
        pattern,
        accesses: items.iter().map(|(_, t)| t.count).sum(),
        subjects: items.len(),
        example: format!("{} {}", tally.syscall, written_subject(c, subject, places)),
        reason,
        danger: None,
        overrides: None,
    }
}

/// Rules 1 to 3: the build and temporary areas, then busy directories,
/// then exact paths.
fn fold_paths(
    c: Category,
    items: &[Item<'_>],
    blocked: &[&[u8]],
    places: &Places,
) -> Vec<LearnedRule> {
    let mut areas: Vec<(&[u8], Reason)> = [
        places.build_area().map(|d| (d, Reason::BuildArea)),
        places.tmp_area().map(|d| (d, Reason::TmpArea)),
    ]
    .into_iter()
    .flatten()
    .filter(|(dir, _)| !blocked.iter().any(|b| is_under(b, dir)))
    .collect();
    // A path in both areas belongs to the more specific one.
    areas.sort_by_key(|(dir, _)| std::cmp::Reverse(dir.len()));
    let mut in_area: Vec<Vec<Item>> = vec![Vec::new(); areas.len()];
    let mut terminals = Vec::new();
    let mut root = Node::default();
    for &(path, tally) in items {
        match areas.iter().position(|(dir, _)| is_under(path, dir)) {
            Some(i) => in_area[i].push((path, tally)),
            None if is_terminal(path) => terminals.push((path, tally)),
            None => root.insert(path, tally, qualifies(c, tally)),
        }
    }
    for b in blocked {
        root.block(b);
    }
    let mut rules = Vec::new();
    for ((dir, reason), members) in areas.into_iter().zip(in_area) {
        if !members.is_empty() {
            rules.push(rule(c, places.subtree(dir), &members, reason, places));
        }
    }
    if !terminals.is_empty() {
        let pattern = "/dev/pts/*".to_owned();
        rules.push(rule(c, pattern, &terminals, Reason::Terminal, places));
    }
    root.walk(c, b"", 0, places, &mut rules);
    rules
}

/// A pseudo-terminal, `/dev/pts/N`: the next run gets another number
/// (rule 5).
fn is_terminal(path: &[u8]) -> bool {
    path.strip_prefix(b"/dev/pts/")
        .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
}

/// Whether an access counts towards its directory being busy (rule 3).
fn qualifies(c: Category, tally: &Tally) -> bool {
    c != Category::Write || tally.created
}

/// A directory in the tree of paths seen.
#[derive(Default)]
struct Node<'a> {
    children: BTreeMap<&'a [u8], Node<'a>>,
    /// Accesses of exactly this path.
    here: Vec<Item<'a>>,
    /// Something below (or this path itself) counts for rule 3.
    qualifying: bool,
    /// A dangerous access lies below: no fold here.
    blocked: bool,
}

impl<'a> Node<'a> {
    fn insert(&mut self, path: &'a [u8], tally: &'a Tally, qualifying: bool) {
        let mut node = self;
        for part in path.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
            node = node.children.entry(part).or_default();
            node.qualifying |= qualifying;
        }
        node.here.push((path, tally));
    }

    fn block(&mut self, path: &'a [u8]) {
        let mut node = self;
        node.blocked = true;
        for part in path.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
            node = node.children.entry(part).or_default();
            node.blocked = true;
        }
    }

    /// Emits this subtree's rules; `dir` is its path, `depth` its number of
    /// components.
    fn walk(
        &self,
        c: Category,
        dir: &[u8],
        depth: usize,
        places: &Places,
        out: &mut Vec<LearnedRule>,
    ) {
        let busy = self.children.values().filter(|n| n.qualifying).count();
        let above_home = places.home().is_some_and(|h| is_under(h, dir));
        if depth >= 2 && busy >= FOLD_AT && !self.blocked && !above_home {
            let mut items = Vec::new();
            self.gather(&mut items);
            out.push(rule(
                c,
                places.subtree(dir),
                &items,
                Reason::Busy(busy),
                places,
            ));
            return;
        }
        for &(path, tally) in &self.here {
            let pattern = written_subject(c, path, places);
            out.push(rule(c, pattern, &[(path, tally)], Reason::Exact, places));
        }
        for (name, child) in &self.children {
            let path = [dir, b"/", name].concat();
            child.walk(c, &path, depth + 1, places, out);
        }
    }

    fn gather(&self, items: &mut Vec<Item<'a>>) {
        items.extend_from_slice(&self.here);
        for child in self.children.values() {
            child.gather(items);
        }
    }
}

/// Rule 4: one rule per address, with every port seen.
fn fold_ports(c: Category, items: &[Item<'_>], places: &Places) -> Vec<LearnedRule> {
    let mut by_host: BTreeMap<String, Vec<(u32, Item)>> = BTreeMap::new();
    for &(subject, tally) in items {
        let text = String::from_utf8_lossy(subject);
        let (host, port) = match text.rsplit_once('!') {
            Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(u32::MAX)),
            None => (text.into_owned(), u32::MAX),
        };
        by_host
            .entry(host)
            .or_default()
            .push((port, (subject, tally)));
    }
    let mut rules = Vec::new();
    for (host, mut seen) in by_host {
        seen.sort_by_key(|(port, _)| *port);
        let ports: Vec<String> = seen
            .iter()
            .filter(|(p, _)| *p != u32::MAX)
            .map(|(p, _)| p.to_string())
            .collect();
        let items: Vec<Item> = seen.iter().map(|(_, item)| *item).collect();
        let (pattern, reason) = match ports.len() {
            0 => (host, Reason::Exact),
            1 => (format!("{host}!{}", ports[0]), Reason::Exact),
            _ => (format!("{host}!{}", ports.join(",")), Reason::Ports),
        };
        rules.push(rule(c, pattern, &items, reason, places));
    }
    rules
}
