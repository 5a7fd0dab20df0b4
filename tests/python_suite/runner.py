#!/usr/bin/env python3
"""Runs CPython test modules and records one result line per test.

    runner.py session --out DIR --jobs N --timeout SECONDS [--only FILE]
              [--quick FILE] MODULE...
    runner.py module --out FILE [--skip FILE] [--only FILE] MODULE

`session` runs each MODULE in a child process (`module` mode), at most N at a
time, each in a fresh working directory under $TMPDIR. A child that writes no
result for SECONDS is killed: the test it had started is recorded as `hang`,
and the module is started again without the tests already recorded. A child
that dies in a test records it as `crash` the same way. So one stuck test
costs SECONDS, never the whole module's results. `--only FILE` runs just the
test ids listed in FILE (one a line). `--quick FILE` lists test id globs
that are expected to hang: they get 10 s instead of SECONDS.

Result files hold tab-separated lines: `start ID`, then one of `pass ID`,
`skip ID REASON`, `fail ID`, `hang ID`, `crash ID`.
"""

import fnmatch
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.abspath(__file__)
# Seconds given to a test expected to hang.
QUICK_TIMEOUT = 10


def clean(text):
    return " ".join(str(text).split())[:200]


class LineResult(unittest.TestResult):
    """Writes each test's outcome as it happens, flushed, so a killed child
    still leaves everything it finished."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        self.failed_here = set()

    def line(self, *fields):
        self.out.write("\t".join(fields) + "\n")
        self.out.flush()

    def startTest(self, test):
        super().startTest(test)
        self.line("start", test.id(), "%.3f" % time.monotonic())

    def stopTest(self, test):
        super().stopTest(test)
        tid = test.id()
        if tid in self.failed_here:
            self.line("fail", tid)
        elif not getattr(test, "_runner_outcome", None):
            self.line("pass", tid)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        test._runner_outcome = "skip"
        self.line("skip", test.id(), clean(reason))

    def addError(self, test, err):
        super().addError(test, err)
        self.fail_one(test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.fail_one(test, err)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed_here.add(test.id())

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.failed_here.add(test.id())
            sys.stderr.write(f"FAIL {subtest.id()}: {clean(err[1])}\n")

    def fail_one(self, test, err):
        tid = test.id()
        if isinstance(test, unittest.case._SubTest):
            tid = test.test_case.id()
        if isinstance(test, unittest.TestCase):
            self.failed_here.add(tid)
        else:
            # A class or module fixture failed outside any test: recorded
            # under its own id ("setUpClass (test.x.Case)").
            self.line("fail", tid)
        sys.stderr.write(f"FAIL {tid}: {clean(err[1])}\n")
        sys.stderr.write(self._exc_info_to_string(err, test) + "\n")


def select(suite, skip, only):
    """`suite` without the tests whose ids are in `skip`, and, when `only` is
    given, without those not in it."""
    kept = unittest.TestSuite()
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            kept.addTest(select(test, skip, only))
        elif test.id() not in skip and (only is None or test.id() in only):
            kept.addTest(test)
    return kept


def read_ids(path):
    with open(path) as f:
        return {line.rstrip("\n") for line in f if line.strip()}


def run_module(out_path, skip_path, only_path, module):
    from test import support

    # As regrtest would with `-u network`: no large files, no internet
    # fetches, no cpu-heavy runs; local sockets are used.
    support.use_resources = ["network"]
    skip = read_ids(skip_path) if skip_path else set()
    only = read_ids(only_path) if only_path else None
    with open(out_path, "a") as out:
        result = LineResult(out)
        try:
            suite = unittest.defaultTestLoader.loadTestsFromName("test." + module)
        except unittest.SkipTest as e:
            result.line("skip", "module " + module, clean(e))
            return 0
        except Exception as e:  # an import failing is a result too
            result.line("fail", "module " + module)
            sys.stderr.write(f"FAIL import {module}: {clean(e)}\n")
            return 0
        select(suite, skip, only).run(result)
    return 0


def read_results(path):
    """(finished ids, the test started last without a result)."""
    done, pending = set(), None
    if not os.path.exists(path):
        return done, pending
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2:
                continue
            kind, tid = fields[0], fields[1]
            if kind == "start":
                pending = tid
            else:
                done.add(tid)
                if tid == pending:
                    pending = None
    return done, pending


class Child:
    def __init__(self, module, out_dir, tmp, only, quick):
        self.module = module
        self.only = only
        self.quick = quick
        self.res = os.path.join(out_dir, module + ".txt")
        self.skip = os.path.join(out_dir, module + ".skip")
        self.log = open(os.path.join(out_dir, module + ".log"), "a")
        self.tmp = tmp
        self.proc = None

    def start(self):
        done, _ = read_results(self.res)
        with open(self.skip, "w") as f:
            f.writelines(t + "\n" for t in sorted(done))
        cwd = tempfile.mkdtemp(prefix=self.module + "-", dir=self.tmp)
        argv = [sys.executable, HERE, "module", "--out", self.res, "--skip", self.skip]
        if self.only:
            argv += ["--only", self.only]
        self.proc = subprocess.Popen(
            argv + [self.module],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.last_size = -1
        self.last_change = time.monotonic()

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def record(self, kind, tid):
        with open(self.res, "a") as f:
            f.write(f"{kind}\t{tid}\n")

    def poll(self, timeout):
        """True when the module is finished."""
        size = os.path.getsize(self.res) if os.path.exists(self.res) else 0
        now = time.monotonic()
        if size != self.last_size:
            self.last_size, self.last_change = size, now
        if self.proc.poll() is None:
            _, pending = read_results(self.res)
            if pending and any(fnmatch.fnmatchcase(pending, g) for g in self.quick):
                timeout = min(timeout, QUICK_TIMEOUT)
            if now - self.last_change < timeout:
                return False
            self.kill()
            self.record("hang", pending or f"module {self.module}")
            self.start()
            return False
        # Its own children (forked servers) go with it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, pending = read_results(self.res)
        if pending is None:
            return True
        self.record("crash", pending)
        self.start()
        return False


def session(out_dir, jobs, timeout, only, quick_path, modules):
    os.makedirs(out_dir, exist_ok=True)
    tmp = os.environ.get("TMPDIR") or tempfile.gettempdir()
    quick = sorted(read_ids(quick_path)) if quick_path else []
    waiting = list(modules)
    running = []
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                child = Child(waiting.pop(0), out_dir, tmp, only, quick)
                child.start()
                running.append(child)
            time.sleep(0.5)
            for child in list(running):
                if child.poll(timeout):
                    running.remove(child)
    finally:
        for child in running:
            child.kill()
    return 0


def on_term(signum, frame):
    sys.exit(128 + signum)


def main(argv):
    signal.signal(signal.SIGTERM, on_term)
    mode, args = argv[0], argv[1:]
    opts = {}
    while args and args[0].startswith("--"):
        opts[args[0]] = args[1]
        args = args[2:]
    if mode == "session":
        jobs = int(opts.get("--jobs", "2"))
        timeout = float(opts["--timeout"])
        return session(opts["--out"], jobs, timeout, opts.get("--only"), opts.get("--quick"), args)
    if mode == "module":
        return run_module(opts["--out"], opts.get("--skip"), opts.get("--only"), args[0])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
