#!/usr/bin/env python3
"""Turn the files bench/build.sh leaves in its results directory into markdown.

usage: python3 bench/report.py RESULTS_DIR > results.md

Reads meta.tsv, times.tsv (one line per timed run; round 0 is the warm-up and
is left out), and per workload and sandbox mode W-MODE.stats (stockade
--stats), W-MODE.perf (perf stat -x, of the supervisor) and W-MODE.status
(the supervisor's /proc status lines at the end).
"""

import csv
import os
import statistics
import sys

MODES = ["none", "exec", "on"]
LABEL = {"none": "none", "exec": "stockade, lock:exec", "on": "stockade, lock:on"}
TARGET = {"configure": 1.15, "make": 1.03, "spawn": 1.30, "files": 1.50}
TITLE = {
    "configure": "configure: `./configure` in a fresh copy of the source",
    "make": "compile: `make -j$(nproc)` after `make clean`",
    "spawn": "spawn storm: a `sh` loop running `/bin/true` {spawn_n} times",
    "files": "file storm: untar {files_in_tar} entries, `find -exec stat`, `rm -rf`",
    "open": "open storm: {open_n} × `: >>f` in `sh` (one open(O_WRONLY) each, no fork)",
}


def read_meta(d):
    meta = {}
    with open(os.path.join(d, "meta.tsv")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value
    return meta


def read_times(d):
    runs = {}
    with open(os.path.join(d, "times.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["round"] == "0":
                continue
            key = (row["workload"], row["mode"])
            runs.setdefault(key, {})[int(row["round"])] = {
                k: float(row[k]) for k in ("wall", "user", "sys", "load1")
            }
    return runs


def read_stats(path):
    """syscall -> (count, p50, p90, p99) and the total, from --stats output."""
    rows, total, inside = {}, None, False
    if not os.path.exists(path):
        return rows, total
    with open(path) as f:
        for line in f:
            if line.startswith("stockade: notifications by syscall"):
                inside = True
                continue
            if not inside:
                continue
            parts = line.split()
            if not parts or parts[0] == "syscall":
                continue
            if parts[0] == "total":
                total = int(parts[1])
                break
            rows[parts[0]] = (int(parts[1]), *parts[2:5])
    return rows, total


# The filtered events build.sh asks perf for after the total, in its order.
IOCTLS = ["ioctl RECV", "ioctl SEND", "ioctl ADDFD", "ioctl ID_VALID", "ioctl → ENOENT"]


def read_perf(path):
    """syscall -> count for the supervisor's threads, the total, and the
    listener ioctls by request."""
    counts, total, ioctls = {}, None, {}
    if not os.path.exists(path):
        return counts, total, ioctls
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) >= 3 and parts[0].isdigit():
                rows.append((int(parts[0]), parts[2]))
    if rows and rows[0][1] == "raw_syscalls:sys_enter":
        total = rows[0][0]
        for name, (n, _) in zip(IOCTLS, rows[1 : 1 + len(IOCTLS)]):
            ioctls[name] = n
        rows = rows[1 + len(IOCTLS) :]
    for n, event in rows:
        if event.startswith("syscalls:sys_enter_") and n:
            counts[event[len("syscalls:sys_enter_") :]] = n
    return counts, total, ioctls


def read_perf_all(path):
    """(total, ENOENT ioctls) over the supervisor's whole run, or None."""
    if not os.path.exists(path):
        return None
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) >= 3 and parts[0].isdigit():
                rows.append(int(parts[0]))
    return tuple(rows) if len(rows) == 2 else None


def read_status(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    return out


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_ratio(x):
    return f"{x:.3f}"


def main():
    d = sys.argv[1]
    meta = read_meta(d)
    runs = read_times(d)
    workloads = meta.get("workloads", "").split()
    out = []
    p = out.append

    p(f"Package `{meta.get('package', '?')}`, {meta.get('rounds')} interleaved rounds "
      f"(none, lock:exec, lock:on, none, ...), {meta.get('date')}.")
    p("")
    p(f"- `nproc`: {meta.get('nproc')}; `uname -r`: {meta.get('uname')}; CPU: {meta.get('cpu')}")
    p(f"- stockade: `{meta.get('stockade')}`; benchmark ran at niceness {meta.get('nice')}")
    p(f"- build tree on: {meta.get('build_fs', 'disk')}")
    p(f"- load average at start: {meta.get('load_start')}; at end: {meta.get('load_end')}")
    p("")

    # Summary.
    summary = {}
    for w in workloads:
        none = runs.get((w, "none"), {})
        row = {}
        for m in ("exec", "on"):
            sb = runs.get((w, m), {})
            rounds = sorted(set(none) & set(sb))
            row[m] = {
                "wall": [sb[r]["wall"] / none[r]["wall"] for r in rounds],
                "cpu": [
                    (sb[r]["user"] + sb[r]["sys"]) / (none[r]["user"] + none[r]["sys"])
                    for r in rounds
                ],
                "diff": [sb[r]["wall"] - none[r]["wall"] for r in rounds],
            }
        summary[w] = row

    p("| workload | target (wall ratio) | lock:exec wall ratio | lock:on wall ratio | met with lock:exec? |")
    p("|---|---|---|---|---|")
    for w in workloads:
        t = TARGET.get(w)
        ex, on = med(summary[w]["exec"]["wall"]), med(summary[w]["on"]["wall"])
        met = "—" if t is None else ("yes" if ex <= t else f"**no** (+{(ex - t) * 100:.1f} points)")
        p(f"| {w} | {'—' if t is None else f'≤ {t:.2f}'} | {fmt_ratio(ex)} | {fmt_ratio(on)} | {met} |")
    p("")
    p("Ratios are the median over rounds of (stockade run / no-sandbox run of the same round).")
    p("")

    for w in workloads:
        p(f"### {TITLE.get(w, w).format(**meta)}")
        p("")
        p("| sandbox | wall s | user s | sys s | wall ratio | wall ratio min–max | CPU (user+sys) ratio |")
        p("|---|---|---|---|---|---|---|")
        for m in MODES:
            rs = runs.get((w, m), {})
            walls = [r["wall"] for r in rs.values()]
            users = [r["user"] for r in rs.values()]
            syss = [r["sys"] for r in rs.values()]
            if m == "none":
                ratio = spread = cpu = "1"
            else:
                wr = summary[w][m]["wall"]
                ratio = fmt_ratio(med(wr))
                spread = f"{min(wr):.3f}–{max(wr):.3f}" if wr else "—"
                cpu = fmt_ratio(med(summary[w][m]["cpu"]))
            p(f"| {LABEL[m]} | {med(walls):.3f} | {med(users):.3f} | {med(syss):.3f} "
              f"| {ratio} | {spread} | {cpu} |")
        p("")
        n = {"spawn": meta.get("spawn_n"), "open": meta.get("open_n")}.get(w)
        if n:
            unit = {"spawn": "spawn (fork+exec+exit of /bin/true)", "open": "open"}[w]
            costs = ", ".join(
                f"{LABEL[m]} {med(summary[w][m]['diff']) / int(n) * 1e6:.1f} µs"
                for m in ("exec", "on")
            )
            p(f"Added wall time per {unit} (median of per-round differences / {n}): {costs}.")
            p("")

        # Per-round walls, for judging the noise.
        rounds = sorted(runs.get((w, "none"), {}))
        p("<details><summary>per-round wall seconds (none / lock:exec / lock:on, load1)</summary>")
        p("")
        p("| round | none | lock:exec | lock:on | load1 at none |")
        p("|---|---|---|---|---|")
        for r in rounds:
            cells = [f"{runs.get((w, m), {}).get(r, {}).get('wall', float('nan')):.3f}" for m in MODES]
            p(f"| {r} | {' | '.join(cells)} | {runs[(w, 'none')][r]['load1']:.2f} |")
        p("")
        p("</details>")
        p("")

        # Notifications.
        stats = {m: read_stats(os.path.join(d, f"{w}-{m}.stats")) for m in ("exec", "on")}
        perf = {m: read_perf(os.path.join(d, f"{w}-{m}.perf")) for m in ("exec", "on")}
        status = {m: read_status(os.path.join(d, f"{w}-{m}.status")) for m in ("exec", "on")}
        names = sorted(
            set(stats["exec"][0]) | set(stats["on"][0]),
            key=lambda s: -max(stats["exec"][0].get(s, (0,))[0], stats["on"][0].get(s, (0,))[0]),
        )
        p("Notifications handled (one instrumented run each, `--stats`; latency from receipt to reply):")
        p("")
        p("| syscall | lock:exec count | p50 µs | p99 µs | lock:on count | p50 µs | p99 µs |")
        p("|---|---|---|---|---|---|---|")
        for s in names:
            cells = []
            for m in ("exec", "on"):
                r = stats[m][0].get(s)
                cells += [str(r[0]), r[1], r[3]] if r else ["0", "", ""]
            p(f"| {s} | {' | '.join(cells)} |")
        p(f"| **total** | {stats['exec'][1]} | | | {stats['on'][1]} | | |")
        p("")

        if perf["exec"][1] is not None or perf["on"][1] is not None:
            p("The supervisor's own system calls while the workload ran (a second instrumented "
              "run per mode, `perf stat` on the supervisor's threads; per notification uses "
              "that run's own `--stats` total):")
            p("")
            p("| | lock:exec | lock:on |")
            p("|---|---|---|")
            tot = {m: perf[m][1] for m in ("exec", "on")}
            p(f"| **all syscalls** | {tot['exec']} | {tot['on']} |")
            per = []
            for m in ("exec", "on"):
                nt = read_stats(os.path.join(d, f"{w}-{m}.pstats"))[1]
                per.append(f"{tot[m] / nt:.1f}" if nt and tot[m] is not None else "—")
            p(f"| per notification | {per[0]} | {per[1]} |")
            top = sorted(
                set(perf["exec"][0]) | set(perf["on"][0]),
                key=lambda s: -max(perf["exec"][0].get(s, 0), perf["on"][0].get(s, 0)),
            )
            for s in IOCTLS:
                p(f"| {s} | {perf['exec'][2].get(s, '—')} | {perf['on'][2].get(s, '—')} |")
            for s in top[:14]:
                p(f"| {s} | {perf['exec'][0].get(s, 0)} | {perf['on'][0].get(s, 0)} |")
            if len(top) > 14:
                rest = [sum(perf[m][0].get(s, 0) for s in top[14:]) for m in ("exec", "on")]
                p(f"| {len(top) - 14} others | {rest[0]} | {rest[1]} |")
            p("")
        after = []
        for m in ("exec", "on"):
            whole = read_perf_all(os.path.join(d, f"{w}-{m}.perf-all"))
            if whole and perf[m][1] is not None:
                after.append(
                    f"{LABEL[m]} {whole[0] - perf[m][1]} syscalls "
                    f"({whole[1] - perf[m][2].get('ioctl → ENOENT', 0)} of them ioctls failing with ENOENT)"
                )
        if after:
            p("After the last sandboxed process exited, until stockade itself exited: "
              + "; ".join(after) + ".")
            p("")
        hwm = [status[m].get("VmHWM", "—") for m in ("exec", "on")]
        thr = [status[m].get("Threads", "—") for m in ("exec", "on")]
        p(f"Supervisor peak RSS (VmHWM): lock:exec {hwm[0]}, lock:on {hwm[1]}; "
          f"threads alive at the end: {thr[0]}, {thr[1]}.")
        p("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
