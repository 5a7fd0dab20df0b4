//! Micro-benchmarks of the policy: deciding one path against 1, 100 and
//! 10 000 rules, parsing single rules, and parsing the paludis profile.
//!
//! Run with `cargo bench --bench policy`. These time library calls only;
//! the cost of a whole notification is measured by `bench/build.sh`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stockade::policy::{Category, Outcome, Policy, parse_config, parse_rule, profile};

/// A policy with write checks on and `n` rules, in the shapes real policies
/// use. Three in four are subtree rules (`allow/write+/build/N/***`, what
/// `-m allow/write+DIR/***` adds); the rest are general globs, which the
/// rule index must group rather than hash (`/src/N/**/*.o`, `/src/N/*.[ch]`).
/// The last rule is always a subtree rule for `/build/last/***`, so the
/// newest rule is the one a build-directory path hits.
fn policy_with(n: usize) -> Policy {
    let mut policy = Policy::new();
    apply(&mut policy, "sandbox/write:on");
    for i in 0..n.saturating_sub(1) {
        let rule = match i % 8 {
            0..=5 => format!("allow/write+/build/{i}/***"),
            6 => format!("deny/write+/src/{i}/**/*.o"),
            _ => format!("allow/write+/src/{i}/*.[ch]"),
        };
        apply(&mut policy, &rule);
    }
    apply(&mut policy, "allow/write+/build/last/***");
    policy
}

fn apply(policy: &mut Policy, rule: &str) {
    let cmd = parse_rule(rule.as_bytes()).expect("the benchmark's rules parse");
    policy.apply(&cmd).expect("the benchmark's rules apply");
}

/// Paths a build writes, each with the outcome it must get, so a broken
/// index shows up as a panic rather than as a fast benchmark.
const PATHS: [(&str, &str, Outcome); 3] = [
    // Hits the newest rule: the common case for the build directory.
    (
        "hit-newest",
        "/build/last/hello-2.10/lib/.deps/libhello_a-xalloc-die.Po",
        Outcome::Allow,
    ),
    // Deep path matching no rule: the category default decides (deny).
    (
        "miss-deep",
        "/usr/share/locale/de/LC_MESSAGES/some/deeper/dir/hello.mo",
        Outcome::Deny,
    ),
    // Short path matching no rule.
    ("miss-short", "/etc/passwd", Outcome::Deny),
];

fn check_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("check_path");
    group.throughput(Throughput::Elements(1));
    for n in [1usize, 100, 10_000] {
        let policy = policy_with(n);
        for (name, path, want) in PATHS {
            // With one rule only `/build/last/***` exists: still a hit.
            assert_eq!(
                policy.check_path(Category::Write, path.as_bytes()).outcome,
                want,
                "{name} with {n} rules"
            );
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| policy.check_path(Category::Write, black_box(path.as_bytes())))
            });
        }
    }
    group.finish();
}

/// Rules as users and Paludis's `esandbox` type them.
const RULES: [(&str, &str); 5] = [
    (
        "subtree",
        "allow/write+/var/tmp/paludis/build/hello-2.10/***",
    ),
    ("glob", "deny/write+/var/tmp/secret/**/*.[ch]"),
    ("sandbox", "sandbox/write:on"),
    ("net-connect", "allow/net/connect+127.0.0.0/8!1024-65535"),
    ("lock", "lock:exec"),
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_rule");
    for (name, rule) in RULES {
        parse_rule(rule.as_bytes()).expect("the benchmark's rules parse");
        group.bench_function(name, |b| b.iter(|| parse_rule(black_box(rule.as_bytes()))));
    }
    group.finish();

    let text = profile::profile("paludis").expect("the paludis profile exists");
    let no_env = |_: &str| -> Option<Vec<u8>> { None };
    let commands = parse_config("paludis", text.as_bytes(), &no_env).expect("it parses");
    let mut group = c.benchmark_group("profile");
    group.throughput(Throughput::Elements(commands.len() as u64));
    group.bench_function("parse_config/paludis", |b| {
        b.iter(|| parse_config("paludis", black_box(text.as_bytes()), &no_env))
    });
    // Parsing plus building the Policy: what stockade does before it starts.
    group.bench_function("parse_and_apply/paludis", |b| {
        b.iter(|| {
            let mut policy = Policy::new();
            for cmd in parse_config("paludis", black_box(text.as_bytes()), &no_env).unwrap() {
                policy.apply(&cmd).unwrap();
            }
            policy
        })
    });
    group.finish();

    // Building a large policy: the cost of 10 000 rules at start-up.
    let mut group = c.benchmark_group("policy_build");
    group.sample_size(20);
    group.bench_function("10000_rules", |b| b.iter(|| policy_with(black_box(10_000))));
    group.finish();
}

criterion_group!(benches, check_path, parse);
criterion_main!(benches);
