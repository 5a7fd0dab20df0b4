//! Micro-benchmarks of the seccomp filter: generating the program for the
//! watches the benchmark's sandboxes use, and running it in the crate's own
//! BPF interpreter (a stand-in for the kernel's cost per syscall: the
//! instruction count is printed once per case).
//!
//! Run with `cargo bench --bench filter`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stockade::filter::{self, AUDIT_ARCH_X86_64, SeccompData, Watch};

/// The watches of `stockade -p paludis ... -m lock:exec` and `-m lock:on`
/// (see `supervise::watch_for`), and everything on.
fn watches() -> [(&'static str, Watch); 3] {
    let paludis = Watch {
        write: true,
        net: true,
        user_ns: true,
        tree: true,
        ..Watch::default()
    };
    [
        (
            "paludis-lock-exec",
            Watch {
                exec: true,
                magic: true,
                ..paludis
            },
        ),
        ("paludis-lock-on", paludis),
        (
            "all",
            Watch {
                read: true,
                write: true,
                exec: true,
                stat: true,
                magic: true,
                net: true,
                user_ns: true,
                tree: true,
            },
        ),
    ]
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("filter_build");
    for (name, watch) in watches() {
        group.bench_function(name, |b| b.iter(|| filter::build(black_box(&watch))));
    }
    group.finish();
}

fn call(nr: i64, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr: nr as i32,
        arch: AUDIT_ARCH_X86_64,
        instruction_pointer: 0,
        args,
    }
}

fn run(c: &mut Criterion) {
    let calls = [
        ("read", call(libc::SYS_read, [0; 6])),
        (
            "openat-rdonly",
            call(libc::SYS_openat, [0, 0, libc::O_RDONLY as u64, 0, 0, 0]),
        ),
        (
            "openat-wronly",
            call(libc::SYS_openat, [0, 0, libc::O_WRONLY as u64, 0, 0, 0]),
        ),
        ("newfstatat", call(libc::SYS_newfstatat, [0; 6])),
        ("execve", call(libc::SYS_execve, [0; 6])),
    ];
    let mut group = c.benchmark_group("filter_run");
    for (wname, watch) in watches() {
        let prog = filter::build(&watch);
        for (cname, data) in &calls {
            let trace = filter::trace(&prog, data).expect("the program runs");
            eprintln!(
                "filter {wname} ({} insns): {cname} runs {} instructions, returns {:#x}",
                prog.len(),
                trace.executed,
                trace.verdict
            );
            group.bench_function(format!("{wname}/{cname}"), |b| {
                b.iter(|| filter::interpret(black_box(&prog), black_box(data)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, build, run);
criterion_main!(benches);
