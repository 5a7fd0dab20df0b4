#!/usr/bin/env bash
# Benchmark stockade against no sandbox on a real autotools package.
#
#   bash bench/build.sh [PACKAGE] [ROUNDS]      (defaults: hello 5)
#
# For each workload (configure, make, spawn, files, open) it runs, interleaved
# round by round, A = no sandbox, B = stockade -p paludis -m allow/write+BUILD/***
# -m lock:exec, C = the same with -m lock:on, and records wall/user/sys per
# run. Before the timed rounds, B and C each run once more with --stats while
# `perf stat` counts the supervisor's own system calls; those runs are not
# timed. bench/report.py turns the results into markdown tables
# (bench/work/results/results.md). See bench/README.md for the method.
#
# Environment knobs (defaults in brackets):
#   BENCH_WORK   where sources, build trees and results go [bench/work]
#   WORKLOADS    which workloads to run ["configure make spawn files open"]
#   SPAWN_N      /bin/true runs in the spawn storm [3000]
#   FILE_COPIES  copies of the package's source in the file-storm tarball [20]
#   OPEN_N       open(O_WRONLY) calls in the open storm [20000]
#   NO_PERF=1    skip the supervisor syscall count
#   BENCH_NICE   niceness for the whole benchmark, all modes alike [-10 as
#                root, else unchanged]; on a shared machine it keeps other
#                load from landing on some runs more than others
#   BENCH_TMPFS=1  mount a tmpfs on the build tree (needs root): the file
#                storm then measures the sandbox, not the disk's noise
#   STOCKADE_BIN use this stockade binary instead of building the checkout
#                (to measure an older engine with the same script)
set -euo pipefail

PKG=${1:-hello}
ROUNDS=${2:-5}
SPAWN_N=${SPAWN_N:-3000}
FILE_COPIES=${FILE_COPIES:-20}
OPEN_N=${OPEN_N:-20000}
WORKLOADS=${WORKLOADS:-"configure make spawn files open"}
MODES="none exec on"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${BENCH_WORK:-$repo/bench/work}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
SRCROOT=$WORK/src
BUILD=$WORK/build           # everything the workloads write is under here
RES=$WORK/results
NPROC=$(nproc)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

case $ROUNDS in '' | *[!0-9]*) die "ROUNDS must be a number, not '$ROUNDS'" ;; esac
[ "$ROUNDS" -ge 1 ] || die "ROUNDS must be at least 1"
case $BUILD/ in
/tmp/* | /var/tmp/* | /var/cache/* | /dev/shm/*)
    die "BENCH_WORK=$WORK is inside an area the paludis profile already allows;" \
        "choose another place so that allow/write+BUILD/*** is the rule that decides"
    ;;
esac

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
APT_UPDATED=
apt_update() {
    [ -n "$APT_UPDATED" ] && return
    say "apt-get update"
    "${SUDO[@]}" apt-get update -qq
    APT_UPDATED=1
}
apt_install() {
    apt_update
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "$@" >/dev/null
}

# --- tools -------------------------------------------------------------------
need=()
[ -x /usr/bin/time ] || need+=(time) # not used for timing; kept for users' checks
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v make >/dev/null || need+=(make)
command -v cc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
if [ -z "${NO_PERF:-}" ] && ! command -v perf >/dev/null; then need+=(linux-perf); fi
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

# --- the package's source ----------------------------------------------------
# deb-src entries are added once, next to the machine's own deb entries, in a
# file of our own; nothing is changed when some deb-src entry already exists.
has_src() { [ -n "$(apt-cache showsrc "$PKG" 2>/dev/null | head -1)" ]; }
enable_deb_src() {
    if grep -rqsE '^(deb-src[[:space:]]|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return
    fi
    local added=
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
            "${SUDO[@]}" tee /etc/apt/sources.list.d/stockade-bench-src.sources >/dev/null
        added=1
    fi
    if [ -f /etc/apt/sources.list ] && grep -qE '^deb[[:space:]]' /etc/apt/sources.list; then
        grep -E '^deb[[:space:]]' /etc/apt/sources.list | sed -E 's/^deb/deb-src/' |
            "${SUDO[@]}" tee /etc/apt/sources.list.d/stockade-bench-src.list >/dev/null
        added=1
    fi
    [ -n "$added" ] || die "found no Debian apt sources to derive deb-src entries from"
    say "added deb-src entries"
}

find_src() { find "$SRCROOT" -mindepth 1 -maxdepth 1 -type d -name "$PKG-*" | sort | tail -1; }
mkdir -p "$SRCROOT"
SRC=$(find_src)
if [ -z "$SRC" ]; then
    if ! has_src; then
        enable_deb_src
        APT_UPDATED= apt_update
        has_src || die "no source package '$PKG' in the apt sources"
    fi
    say "apt-get source $PKG"
    (cd "$SRCROOT" && apt-get source -qq "$PKG" >/dev/null 2>&1) ||
        (cd "$SRCROOT" && apt-get source "$PKG") || die "apt-get source $PKG failed"
    SRC=$(find_src)
    [ -n "$SRC" ] || die "apt-get source $PKG made no $PKG-* directory"
fi
# Build dependencies, only when something is missing.
if ! apt-get -s build-dep "$PKG" >/dev/null 2>&1 ||
    apt-get -s build-dep "$PKG" 2>/dev/null | grep -q '^Inst '; then
    apt_update
    say "apt-get build-dep $PKG"
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get build-dep -y -qq "$PKG" >/dev/null
fi
if [ ! -x "$SRC/configure" ]; then
    say "no configure script: autoreconf -fi"
    (cd "$SRC" && autoreconf -fi >/dev/null 2>&1) || die "autoreconf failed in $SRC"
fi

# --- stockade ----------------------------------------------------------------
if [ -n "${STOCKADE_BIN:-}" ]; then
    STOCKADE=$(realpath "$STOCKADE_BIN")
else
    say "cargo build --release"
    (cd "$repo" && cargo build --release --quiet)
    TARGET=${CARGO_TARGET_DIR:-$repo/target}
    STOCKADE=$(realpath "$TARGET/release/stockade")
fi

# --- perf, for the supervisor's own syscalls ---------------------------------
PERF=
if [ -z "${NO_PERF:-}" ] && command -v perf >/dev/null; then
    if [ ! -d /sys/kernel/tracing/events ] && [ ! -d /sys/kernel/debug/tracing/events ]; then
        "${SUDO[@]}" mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
    fi
    if "${SUDO[@]}" perf stat -x, -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
        PERF=perf
    else
        say "perf cannot count raw_syscalls:sys_enter here: supervisor syscalls not counted"
    fi
fi

# --- workloads ---------------------------------------------------------------
# Each workload has: prep_W (untimed, unsandboxed, before every run),
# dir_W (its working directory) and the command cmd_W (an array).
prep_configure() {
    rm -rf "$BUILD/configure"
    cp -a "$SRC" "$BUILD/configure"
}
dir_configure() { echo "$BUILD/configure"; }
cmd_configure=(./configure)

prep_make() {
    if [ ! -f "$BUILD/make/Makefile" ]; then
        rm -rf "$BUILD/make"
        cp -a "$SRC" "$BUILD/make"
        (cd "$BUILD/make" && ./configure >"$RES/make-configure.log" 2>&1)
    fi
    make -C "$BUILD/make" clean >/dev/null 2>&1
}
dir_make() { echo "$BUILD/make"; }
cmd_make=(make "-j$NPROC")

prep_spawn() { mkdir -p "$BUILD/spawn"; }
dir_spawn() { echo "$BUILD/spawn"; }
# shellcheck disable=SC2016 # expanded by the benchmarked shell
cmd_spawn=(sh -c 'i=0; while [ "$i" -lt "$1" ]; do /bin/true; i=$((i+1)); done' sh "$SPAWN_N")

# A tarball of FILE_COPIES copies of the source, uncompressed so that the
# storm is file system calls rather than gzip.
STORM_TAR=$WORK/storm-$PKG-$FILE_COPIES.tar
prep_files() {
    if [ ! -f "$STORM_TAR" ]; then
        local t
        t=$(mktemp -d "$WORK/storm.XXXXXX")
        for i in $(seq "$FILE_COPIES"); do cp -a "$SRC" "$t/copy$i"; done
        tar -cf "$STORM_TAR.part" -C "$t" .
        rm -rf "$t"
        mv "$STORM_TAR.part" "$STORM_TAR"
    fi
    rm -rf "$BUILD/files"
    mkdir -p "$BUILD/files"
}
dir_files() { echo "$BUILD/files"; }
# --no-same-owner: unpack as a package build does (as its build user), not
# chown-ing every file as root's tar would.
# shellcheck disable=SC2016
cmd_files=(sh -c 'mkdir tree && tar -xf "$1" -C tree --no-same-owner &&
    find tree -exec stat -c %s {} + >/dev/null && rm -rf tree' sh "$STORM_TAR")

prep_open() {
    mkdir -p "$BUILD/open"
    : >"$BUILD/open/f"
}
dir_open() { echo "$BUILD/open"; }
# `: >>f` in dash is open(O_WRONLY|O_CREAT|O_APPEND) + close: one
# notification per iteration and no fork, so the difference to no sandbox
# divided by OPEN_N is the end-to-end cost of one emulated open.
# shellcheck disable=SC2016
cmd_open=(sh -c 'i=0; while [ "$i" -lt "$1" ]; do : >>f; i=$((i+1)); done' sh "$OPEN_N")

sandbox() { # MODE -> the prefix that runs a command in that mode
    case $1 in
    none) PREFIX=() ;;
    exec) PREFIX=("$STOCKADE" -p paludis -m "allow/write+$BUILD/***" -m lock:exec) ;;
    on) PREFIX=("$STOCKADE" -p paludis -m "allow/write+$BUILD/***" -m lock:on) ;;
    esac
}

# Every configure run must write the config.h files the first native one
# wrote (issue 9: m4's gnulib probes saw a rename bug only under stockade).
# The native warm-up run (round 0) makes the reference.
check_config_h() { # W MODE
    [ "$1" = configure ] || return 0
    local ref=$RES/config-h.native got=$RES/config-h.$2 h
    rm -rf "$got"
    mkdir -p "$got"
    (cd "$BUILD/configure" && find . -name config.h -type f) | while read -r h; do
        mkdir -p "$got/$(dirname "$h")"
        cp "$BUILD/configure/$h" "$got/$h"
    done
    if [ ! -d "$ref" ]; then
        [ "$2" = none ] || die "no native config.h to compare the $2 run with"
        mv "$got" "$ref"
        return 0
    fi
    diff -ru "$ref" "$got" >&2 || die "configure under $2 wrote a config.h that differs from the native one (diff above)"
}

# Runs workload W in MODE once, timed; appends a line to times.tsv.
TIMEFORMAT='%3R %3U %3S'
run_timed() { # W MODE ROUND
    local w=$1 mode=$2 round=$3 cmd dir log load t rc=0
    "prep_$w"
    sandbox "$mode"
    dir=$("dir_$w")
    eval "cmd=(\"\${cmd_$w[@]}\")"
    log=$RES/logs/$w-$mode-$round.log
    load=$(cut -d' ' -f1 /proc/loadavg)
    # No `exec` in the subshell: bash 5.2 then loses the `time` report.
    t=$( { time (cd "$dir" && "${PREFIX[@]}" "${cmd[@]}" >"$log" 2>&1); } 2>&1) || rc=$?
    [ "$rc" -eq 0 ] || die "$w under $mode (round $round) failed with status $rc; see $log"
    check_config_h "$w" "$mode"
    if grep -q '^stockade: ' "$log"; then
        die "$w under $mode (round $round): stockade reported something; see $log"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$w" "$mode" "$round" "${t// /$'\t'}" "$load" >>"$RES/times.tsv"
    printf '  %-9s round %-2s %-4s wall/user/sys %s  (load %s)\n' "$w" "$round" "$mode" "$t" "$load" >&2
}

# SECCOMP_IOCTL_NOTIF_* request numbers (<linux/seccomp.h>, x86-64).
IOCTL_RECV=0xc0502100     # _IOWR('!', 0, struct seccomp_notif)
IOCTL_SEND=0xc0182101     # _IOWR('!', 1, struct seccomp_notif_resp)
IOCTL_ID_VALID=0x40082102 # _IOW('!', 2, __u64)
IOCTL_ADDFD=0x40182103    # _IOW('!', 3, struct seccomp_notif_addfd)

# Runs workload W under MODE once with --stats, untimed; with USE_PERF=1,
# while perf counts the supervisor's syscalls. Two such runs are made per
# mode: one without perf, for the notification counts, their latencies and
# the peak RSS (perf adds work to every syscall and to every thread start, so
# it would inflate the latencies), and one with perf, for the supervisor's
# syscalls (its own --stats output, kept as W-MODE.pstats, gives the
# notifications of that same run).
#
# The sandboxed shell waits on a FIFO until perf has attached to the
# supervisor, which by then has forked the sandboxed child: perf's inherited
# counters follow the supervisor's threads (workers come and go) and never
# the sandboxed tree. When the workload is done, the shell records the
# supervisor's /proc status (VmHWM: its peak RSS so far, all threads
# together), tells us, and waits again while the first perf (every syscall
# by name) is stopped; that one covers the workload only. A second perf
# (total and ENOENT ioctls) runs on until stockade has exited, so the
# difference is what the supervisor does after the last sandboxed process
# is gone.
run_instrumented() { # W MODE USE_PERF
    local w=$1 mode=$2 use_perf=$3 dir cmd spid perf_run= perf_all= out=$RES/$1-$2 stats
    stats=$out.stats
    if [ "$use_perf" = 1 ]; then
        [ -n "$PERF" ] || return 0
        stats=$out.pstats
    fi
    local go=$BUILD/.go done=$BUILD/.done
    "prep_$w"
    sandbox "$mode"
    dir=$("dir_$w")
    eval "cmd=(\"\${cmd_$w[@]}\")"
    rm -f "$go" "$done"
    mkfifo "$go" "$done"
    exec 7<>"$done" # held open both ways: neither side blocks on open
    # shellcheck disable=SC2016
    (cd "$dir" && exec "${PREFIX[@]}" --stats -- sh -c '
        go=$1 out=$2 done=$3; shift 3
        read -r _ <"$go"
        "$@"; s=$?
        grep -E "^(VmHWM|VmRSS|Threads):" /proc/$PPID/status >"$out"
        echo "$s" >"$done"
        read -r _ <"$go"
        exit $s' sh "$go" "$BUILD/.status" "$done" "${cmd[@]}" >"$out.log" 2>"$stats") 7<&- &
    spid=$! # the subshell execs stockade: this is the supervisor
    if [ "$use_perf" = 1 ]; then
        # The order matters to report.py: the total, then the listener
        # ioctls by request (RECV, SEND, ADDFD, ID_VALID) and ioctls that
        # failed with ENOENT, then every syscall by name.
        "${SUDO[@]}" perf stat -x, --no-big-num -o "$out.perf" -e raw_syscalls:sys_enter \
            -e syscalls:sys_enter_ioctl --filter "cmd == $IOCTL_RECV" \
            -e syscalls:sys_enter_ioctl --filter "cmd == $IOCTL_SEND" \
            -e syscalls:sys_enter_ioctl --filter "cmd == $IOCTL_ADDFD" \
            -e syscalls:sys_enter_ioctl --filter "cmd == $IOCTL_ID_VALID" \
            -e syscalls:sys_exit_ioctl --filter 'ret == -2' \
            -e 'syscalls:sys_enter_*' -p "$spid" 2>/dev/null &
        perf_run=$!
        "${SUDO[@]}" perf stat -x, --no-big-num -o "$out.perf-all" -e raw_syscalls:sys_enter \
            -e syscalls:sys_exit_ioctl --filter 'ret == -2' -p "$spid" 2>/dev/null &
        perf_all=$!
        sleep 2 # perf opens a few hundred events per thread before counting
    fi
    timeout 60 sh -c 'echo go >"$1"' sh "$go" || die "$w under $mode never started"
    local status=
    while ! read -r -t 1 status <&7; do
        kill -0 "$spid" 2>/dev/null || die "$w under $mode (instrumented) died; see $out.log $stats"
    done
    exec 7<&-
    [ "$status" = 0 ] || die "$w under $mode (instrumented) failed with $status; see $out.log"
    if [ -n "$perf_run" ]; then
        kill -INT "$perf_run" 2>/dev/null || true
        wait "$perf_run" || true
    fi
    timeout 60 sh -c 'echo go >"$1"' sh "$go" || die "$w under $mode did not finish"
    wait "$spid" || die "$w under $mode (instrumented) failed; see $out.log $stats"
    check_config_h "$w" "$mode"
    if [ -n "$perf_all" ]; then
        kill -INT "$perf_all" 2>/dev/null || true
        wait "$perf_all" || true
    fi
    if [ "$use_perf" = 1 ]; then
        rm -f "$BUILD/.status"
    else
        mv "$BUILD/.status" "$out.status"
    fi
    rm -f "$go" "$done"
    if grep -q 'violation' "$stats"; then
        die "$w under $mode: stockade reported a violation; see $stats"
    fi
    if [ "$use_perf" = 1 ]; then
        say "$w under $mode, with perf: $(grep -E '^ +total' "$stats" | awk '{print $2}') notifications," \
            "$(awk -F, '$3=="raw_syscalls:sys_enter"{print $1}' "$out.perf") supervisor syscalls"
    else
        say "$w under $mode: $(grep -E '^ +total' "$stats" | awk '{print $2}') notifications"
    fi
}

# --- run ---------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && [ -n "${BENCH_NICE--10}" ]; then
    renice -n "${BENCH_NICE--10}" -p $$ >/dev/null
fi
if mountpoint -q "$BUILD" 2>/dev/null; then "${SUDO[@]}" umount "$BUILD"; fi
rm -rf "$RES" "$BUILD"
mkdir -p "$RES/logs" "$BUILD"
BUILD=$(realpath "$BUILD")
FSTYPE=disk
if [ -n "${BENCH_TMPFS:-}" ]; then
    "${SUDO[@]}" mount -t tmpfs -o size=2g,mode=0755 stockade-bench "$BUILD" ||
        die "cannot mount a tmpfs on $BUILD (BENCH_TMPFS needs root)"
    trap '"${SUDO[@]}" umount "$BUILD" 2>/dev/null || true' EXIT
    FSTYPE=tmpfs
fi
{
    echo "package	$PKG $(basename "$SRC")"
    echo "rounds	$ROUNDS"
    echo "nproc	$NPROC"
    echo "uname	$(uname -r)"
    echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    if [ -n "${STOCKADE_BIN:-}" ]; then
        echo "stockade	$STOCKADE_BIN"
    else
        echo "stockade	$(cd "$repo" && git describe --always --dirty 2>/dev/null || echo unknown)"
    fi
    echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "spawn_n	$SPAWN_N"
    echo "file_copies	$FILE_COPIES"
    echo "open_n	$OPEN_N"
    echo "workloads	$WORKLOADS"
    echo "build_fs	$FSTYPE"
    echo "nice	$(nice)"
    echo "load_start	$(cat /proc/loadavg)"
} >"$RES/meta.tsv"
printf 'workload\tmode\tround\twall\tuser\tsys\tload1\n' >"$RES/times.tsv"

for w in $WORKLOADS; do
    declare -F "prep_$w" >/dev/null || die "unknown workload '$w'"
    say "$w: warm-up and instrumented runs"
    run_timed "$w" none 0 # warm-up, discarded by the report (round 0)
    for m in exec on; do
        run_instrumented "$w" "$m" 0
        run_instrumented "$w" "$m" 1
    done
    say "$w: $ROUNDS interleaved rounds"
    for r in $(seq "$ROUNDS"); do
        for m in $MODES; do run_timed "$w" "$m" "$r"; done
    done
done
if [ -f "$STORM_TAR" ]; then
    echo "files_in_tar	$(tar -tf "$STORM_TAR" | wc -l)" >>"$RES/meta.tsv"
fi
echo "load_end	$(cat /proc/loadavg)" >>"$RES/meta.tsv"

python3 "$repo/bench/report.py" "$RES" >"$RES/results.md"
cat "$RES/results.md"
say "results in $RES/results.md"
