#!/usr/bin/env bash
# The cost of watching write, exec and network from the start under the name
# `sydbox` (issue 10): a file-heavy command with no category switched on,
# run bare, under `stockade` (which watches only what is on, plus the stat
# family and exec for in-sandbox commands) and under `sydbox` (which also
# watches writes and network so that API-1 scripts may switch them on),
# interleaved round by round. Prints each run and the medians, in seconds.
#
# usage: bench/sydbox-watch.sh [ROUNDS] [STOCKADE-BINARY]
# The tree is copied under $TMPDIR (default /dev/shm: memory, so that disk
# I/O does not drown the supervisor's cost).
set -euo pipefail
rounds=${1:-7}
bin=$(realpath "${2:-target/release/stockade}")
work=$(mktemp -d -p "${TMPDIR:-/dev/shm}")
trap 'rm -rf "$work"' EXIT
ln -s "$bin" "$work/sydbox"
# cp -r of /usr/include: thousands of creating opens, mkdirs and stats;
# rm -rf: as many unlinks.
cmd=(sh -c 'cp -r /usr/include "$1/tree" && rm -rf "$1/tree"' sh "$work")
time_one() {
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
# Columns: bare; `stockade` and `sydbox` with nothing switched on (the cost
# asked about); `stockade -p paludis` and `sydbox --profile paludis`, what
# Paludis runs, where write and network checks are on anyway. The order
# alternates each round, so that no column always runs first.
names=(bare stockade sydbox stockade-paludis sydbox-paludis)
run_column() {
    case $1 in
    0) time_one "${cmd[@]}" ;;
    1) time_one "$bin" -- "${cmd[@]}" ;;
    2) time_one "$work/sydbox" -- "${cmd[@]}" ;;
    3) time_one "$bin" -p paludis -- "${cmd[@]}" ;;
    4) time_one "$work/sydbox" --profile paludis -- "${cmd[@]}" ;;
    esac
}
declare -a results
for ((i = 0; i < rounds; i++)); do
    line="round $i:"
    for ((j = 0; j < 5; j++)); do
        c=$(( i % 2 == 0 ? j : 4 - j ))
        t=$(run_column "$c")
        results[c]+="$t "
        line+=" ${names[c]} $t"
    done
    echo "$line"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
line="median:"
for ((c = 0; c < 5; c++)); do
    # shellcheck disable=SC2086
    line+=" ${names[c]} $(median ${results[c]})"
done
echo "$line"
