#!/usr/bin/env bash
# Interleaved before/after of two stockade binaries on the open storm and
# the file storm, with the build tree on a tmpfs (needs root):
#
#   bash bench/ab.sh OLD_STOCKADE NEW_STOCKADE [ROUNDS]     (default 5)
#
# Each round runs none, OLD and NEW (`-p paludis -m allow/write+DIR/***
# -m lock:exec`) on both workloads and prints one line per run: round,
# workload, mode, wall seconds, load1. Then the median of the per-round
# ratios to none, and for the open storm the added µs per open.
# The file storm needs bench/work/storm-hello-20.tar (made by build.sh).
set -euo pipefail
OLD=$(realpath "$1")
NEW=$(realpath "$2")
ROUNDS=${3:-5}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
W=$repo/bench/work/ab
TAR=${STORM_TAR:-$repo/bench/work/storm-hello-20.tar}
[ -f "$TAR" ] || { echo "ab: no $TAR; run bench/build.sh once" >&2; exit 1; }
mkdir -p "$W"
mountpoint -q "$W" || mount -t tmpfs -o size=1g stockade-ab "$W"
trap 'cd /; umount "$W" 2>/dev/null || true' EXIT
out=$(mktemp)
TIMEFORMAT=%3R
for r in $(seq "$ROUNDS"); do
    for w in open files; do
        for m in none old new; do
            case $m in
            none) P=() ;;
            old) P=("$OLD" -p paludis -m "allow/write+$W/***" -m lock:exec --) ;;
            new) P=("$NEW" -p paludis -m "allow/write+$W/***" -m lock:exec --) ;;
            esac
            rm -rf "$W/d"
            mkdir -p "$W/d"
            cd "$W/d"
            if [ "$w" = open ]; then
                # shellcheck disable=SC2016
                t=$({ time "${P[@]}" sh -c 'i=0; while [ $i -lt 20000 ]; do : >>f; i=$((i+1)); done' >/dev/null 2>&1; } 2>&1)
            else
                # shellcheck disable=SC2016
                t=$({ time "${P[@]}" sh -c 'mkdir tree && tar -xf "$1" -C tree --no-same-owner &&
                    find tree -exec stat -c %s {} + >/dev/null && rm -rf tree' sh "$TAR" >/dev/null 2>&1; } 2>&1)
            fi
            echo "$r $w $m $t $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
            cd /
        done
    done
done
python3 - "$out" <<'PY'
import statistics, sys
d = {}
for line in open(sys.argv[1]):
    r, w, m, t, _ = line.split()
    d[(r, w, m)] = float(t)
rounds = sorted({k[0] for k in d})
for w in ("open", "files"):
    for m in ("old", "new"):
        ratios = [d[(r, w, m)] / d[(r, w, "none")] for r in rounds]
        line = f"{w:5} {m}: median ratio {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})"
        if w == "open":
            added = [(d[(r, w, m)] - d[(r, w, "none")]) / 20000 * 1e6 for r in rounds]
            line += f", added {statistics.median(added):.1f} µs per open"
        print(line)
PY
rm -f "$out"
