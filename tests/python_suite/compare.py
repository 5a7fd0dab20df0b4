#!/usr/bin/env python3
"""Runs CPython test modules natively and under stockade, and compares them
test by test.

    compare.py --stockade BIN --work DIR --expect FILE [--jobs N]
               [--timeout SECONDS] MODULE...

Both runs get a fresh build directory of their own under DIR, with TMPDIR and
HOME inside it, as a package build would. The sandboxed run is

    stockade -p paludis -m allow/write+BUILD/*** -- python3 runner.py session ...

Unix sockets in BUILD are not allowed: the tests that bind them differ by
policy. (Allowing them with allow/net/bind+BUILD/*** today makes ~80 unix
socket tests hang on the getsockname difference of issue 9.)

Every test that passes natively must pass inside, or be named in the
expectation file. A test that differs and is not named is run again inside
once (a loaded machine can upset a timing test); if it differs again, this
fails. Named tests get a short timeout, as they are expected to hang.
Tests that fail or skip natively are not compared. An expectation that
matches no difference is stale and fails too, so the file stays true.

Expectation lines: `KIND  TEST-ID-GLOB  REASON`, KIND `policy` (the policy
refuses what the test does, on purpose) or `known` (a stockade difference
already reported, being fixed; the entry goes once the fix lands), either
with `-racy` when the difference shows only with some timings: such an
entry is never stale.
"""

import fnmatch
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.py")


def load(out_dir):
    """{test id: (outcome, detail)} from a session's result files."""
    results = {}
    if not os.path.isdir(out_dir):
        return results
    for name in sorted(os.listdir(out_dir)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(out_dir, name)) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 2 and fields[0] != "start":
                    detail = fields[2] if len(fields) > 2 else ""
                    results[fields[1]] = (fields[0], detail)
    return results


def failure_details(out_dir):
    """{test id: first failure message} from the modules' logs."""
    details = {}
    for name in sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []:
        if name.endswith(".log"):
            with open(os.path.join(out_dir, name), errors="replace") as f:
                for line in f:
                    if line.startswith("FAIL ") and ": " in line:
                        tid, msg = line[5:].rstrip("\n").split(": ", 1)
                        details.setdefault(tid.split(" ")[0], msg)
    return details


def load_expectations(path):
    entries = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(None, 2)
            if len(fields) < 3 or fields[0].removesuffix("-racy") not in ("policy", "known"):
                sys.exit(f"{path}:{number}: expected 'policy|known[-racy] TEST-ID-GLOB REASON'")
            entries.append({"kind": fields[0], "glob": fields[1], "reason": fields[2], "hits": 0})
    return entries


def session_argv(out_dir, opts, modules, only=None, quick=None):
    argv = [sys.executable, RUNNER, "session", "--out", out_dir,
            "--jobs", opts["--jobs"], "--timeout", opts["--timeout"]]
    if only:
        argv += ["--only", only]
    if quick:
        argv += ["--quick", quick]
    return argv + modules


def build_dir(work, name):
    build = os.path.join(work, name)
    for sub in ("tmp", "home"):
        os.makedirs(os.path.join(build, sub), exist_ok=True)
    env = dict(os.environ, TMPDIR=os.path.join(build, "tmp"), HOME=os.path.join(build, "home"))
    env.pop("PYTHONPATH", None)
    return build, env


def start_inside(work, name, opts, modules, only=None, quick=None):
    build, env = build_dir(work, name)
    argv = [opts["--stockade"], "-p", "paludis", "-m", f"allow/write+{build}/***", "--"]
    argv += session_argv(os.path.join(build, "out"), opts, modules, only, quick)
    stderr = open(os.path.join(work, name + ".stderr"), "w")
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stderr,
                            stderr=stderr), os.path.join(build, "out")


def start_native(work, opts, modules):
    build, env = build_dir(work, "native")
    out = os.path.join(build, "out")
    log = open(os.path.join(work, "native.stderr"), "w")
    return subprocess.Popen(session_argv(out, opts, modules), env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log), out


def reports(work, name):
    """The distinct denials stockade reported, without pids."""
    seen = []
    path = os.path.join(work, name + ".stderr")
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("stockade: denied"):
                line = line.split(" by pid ")[0] + " ..." + line.split(";", 1)[-1].rstrip()
                if line not in seen:
                    seen.append(line)
    return seen


def main(argv):
    opts = {"--jobs": "2", "--timeout": "60"}
    while argv and argv[0].startswith("--"):
        opts[argv[0]] = argv[1]
        argv = argv[2:]
    modules = argv
    work = opts["--work"]
    os.makedirs(work, exist_ok=True)
    expectations = load_expectations(opts["--expect"])

    started = time.monotonic()
    native, native_out = start_native(work, opts, modules)
    quick = os.path.join(work, "quick.globs")
    with open(quick, "w") as f:
        f.writelines(e["glob"] + "\n" for e in expectations)
    inside, inside_out = start_inside(work, "inside", opts, modules, quick=quick)
    native.wait()
    status = inside.wait()
    print(f"both runs took {time.monotonic() - started:.0f} s; stockade exited {status}")
    outside, first = load(native_out), load(inside_out)

    compared = sorted(t for t, (o, _) in outside.items() if o == "pass")
    differing = [t for t in compared if first.get(t, ("missing", ""))[0] != "pass"]

    def expectation(t):
        return next((e for e in expectations if fnmatch.fnmatchcase(t, e["glob"])), None)

    rerun = {}
    again_ids = [t for t in differing if expectation(t) is None]
    if again_ids:
        only = os.path.join(work, "rerun.ids")
        with open(only, "w") as f:
            f.writelines(t + "\n" for t in again_ids)
        again, again_out = start_inside(work, "rerun", opts, modules, only)
        again.wait()
        rerun = load(again_out)
    details = failure_details(inside_out)

    flaky, expected, unexpected = [], [], []
    for t in differing:
        outcome, detail = rerun.get(t, ("missing", ""))
        if outcome == "pass":
            flaky.append(t)
            continue
        first_outcome, first_detail = first.get(t, ("missing", ""))
        why = f"{first_outcome} {first_detail or details.get(t, '')}".strip()
        entry = expectation(t)
        if entry:
            entry["hits"] += 1
            expected.append((t, entry, why))
        else:
            unexpected.append((t, why))

    identical = len(compared) - len(differing)
    print(f"modules: {' '.join(modules)}")
    print(f"tests passing natively (compared): {len(compared)}; identical inside: {identical}; "
          f"passed inside on the second run: {len(flaky)}; expected differences: {len(expected)}; "
          f"unexpected differences: {len(unexpected)}")
    not_native = sum(1 for o, _ in outside.values() if o != "pass")
    print(f"tests not compared (skipped or failing natively): {not_native}")
    for t in flaky:
        print(f"  flaky (failed once inside, then passed): {t}")
    for t, entry, why in expected:
        print(f"  expected ({entry['kind']}: {entry['reason']}): {t}: {why}")
    for t, why in unexpected:
        print(f"  DIFFERENT: {t}: passes natively, inside: {why}")
    stale = [e for e in expectations if e["hits"] == 0 and not e["kind"].endswith("-racy")]
    for e in stale:
        print(f"  STALE expectation (no such difference any more, remove it): {e['kind']} {e['glob']}")
    denials = reports(work, "inside")
    if denials:
        print(f"stockade reported {len(denials)} distinct denials in the sandboxed run; the first:")
        for line in denials[:20]:
            print("  " + line)
    return 1 if unexpected or stale else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.exit(main(sys.argv[1:]))
