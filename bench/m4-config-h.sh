#!/usr/bin/env bash
# m4's own ./configure must write the same lib/config.h natively and under
#   stockade -p paludis -m allow/write+BUILD/***
# (issue 9: gnulib's probes once saw a rename bug, RENAME_TRAILING_SLASH_DEST_BUG,
# that exists only under stockade). Exits non-zero and shows the diff when
# they differ.
#
#   bash bench/m4-config-h.sh [STOCKADE]     (default: target/release/stockade,
#                                             built when missing)
#
# BENCH_WORK (default bench/work, or /var/lib/stockade-bench when the
# checkout is under /tmp) holds the source and both build trees; it must not
# be inside an area the paludis profile allows (/tmp, /var/tmp, ...), or the
# rule under test would not be the one that decides.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
in_paludis_area() {
    case $1/ in
    /tmp/* | /var/tmp/* | /var/cache/* | /dev/shm/*) return 0 ;;
    esac
    return 1
}
WORK=${BENCH_WORK:-$repo/bench/work}
# A checkout under /tmp (a CI clone) cannot hold the build trees: fall back,
# as the tests' scratch directories do, unless BENCH_WORK was given.
if [ -z "${BENCH_WORK:-}" ] && in_paludis_area "$(realpath -m "$WORK")"; then
    WORK=/var/lib/stockade-bench
fi
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
SRCROOT=$WORK/src
BUILD=$WORK/m4-config-h
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'm4-config-h: %s\n' "$*" >&2; exit 1; }

if in_paludis_area "$BUILD"; then
    die "BENCH_WORK=$WORK is inside an area the paludis profile already allows"
fi

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
mkdir -p "$SRCROOT"
src=$(find "$SRCROOT" -mindepth 1 -maxdepth 1 -type d -name 'm4-*' 2>/dev/null | sort | tail -1)
if [ -z "$src" ]; then
    if [ -z "$(apt-cache showsrc m4 2>/dev/null | head -1)" ]; then
        # deb-src entries next to the machine's deb ones, as bench/build.sh
        # adds them.
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
                "${SUDO[@]}" tee /etc/apt/sources.list.d/stockade-bench-src.sources >/dev/null
        elif grep -qsE '^deb[[:space:]]' /etc/apt/sources.list; then
            grep -E '^deb[[:space:]]' /etc/apt/sources.list | sed -E 's/^deb/deb-src/' |
                "${SUDO[@]}" tee /etc/apt/sources.list.d/stockade-bench-src.list >/dev/null
        else
            die "found no Debian apt sources to derive deb-src entries from"
        fi
        "${SUDO[@]}" apt-get update -qq
    fi
    command -v dpkg-source >/dev/null || DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq dpkg-dev >/dev/null
    mkdir -p "$SRCROOT"
    say "apt-get source m4"
    (cd "$SRCROOT" && apt-get source -qq m4 >/dev/null 2>&1) || die "apt-get source m4 failed"
    src=$(find "$SRCROOT" -mindepth 1 -maxdepth 1 -type d -name 'm4-*' | sort | tail -1)
fi
command -v cc >/dev/null && command -v make >/dev/null ||
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq gcc make >/dev/null

STOCKADE=${1:-}
if [ -z "$STOCKADE" ]; then
    STOCKADE=${CARGO_TARGET_DIR:-$repo/target}/release/stockade
    [ -x "$STOCKADE" ] || (cd "$repo" && cargo build --release --quiet)
fi
STOCKADE=$(realpath "$STOCKADE")

rm -rf "$BUILD"
mkdir -p "$BUILD"
for mode in native stockade; do
    cp -a "$src" "$BUILD/$mode"
    mkdir -p "$BUILD/$mode-tmp"
done
# Both at once: the two configure runs take about a minute each.
say "configure natively and under stockade in $BUILD"
(cd "$BUILD/native" && TMPDIR=$BUILD/native-tmp ./configure >../native.log 2>&1) &
native=$!
(cd "$BUILD/stockade" && TMPDIR=$BUILD/stockade-tmp "$STOCKADE" -p paludis \
    -m "allow/write+$BUILD/stockade/***" -m "allow/write+$BUILD/stockade-tmp/***" \
    -- ./configure >../stockade.log 2>&1) &
inside=$!
wait "$native" || die "native configure failed; see $BUILD/native.log"
wait "$inside" || die "configure under stockade failed; see $BUILD/stockade.log"
if grep -q '^stockade: ' "$BUILD/stockade.log"; then
    say "stockade reported (see $BUILD/stockade.log):"
    grep '^stockade: ' "$BUILD/stockade.log" | sort | uniq -c | head -20 >&2
fi
if ! diff -u "$BUILD/native/lib/config.h" "$BUILD/stockade/lib/config.h"; then
    die "lib/config.h differs between native and stockade (diff above)"
fi
say "lib/config.h is identical natively and under stockade ($(wc -l <"$BUILD/native/lib/config.h") lines)"
