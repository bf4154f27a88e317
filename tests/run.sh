#!/bin/sh
# Runs every test: the C unit-test binaries in BUILD/tests and the shell
# integration tests tests/sh/test_*.sh. Each prints PASS/FAIL lines; a test
# program that dies without saying FAIL counts as one failure. Ends with
# "N passed, N failed" and a non-zero exit status if anything failed.
# A sanitizer report from any process a test starts (a command whose
# failure the test expects, a training worker, a background run) fails
# the test too: AddressSanitizer, LeakSanitizer and UBSan write their
# reports into a folder of the run's own, read after each test.
# Usage: tests/run.sh BUILD [FILTER]
set -u
build=${1:-build}
filter=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export GEVO_ROOT="$root"
export GEVO="$root/$build/gevo"
export GEVO_BUILD="$root/$build"
export LC_ALL=C.UTF-8 TZ=UTC
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
san="$log/sanitizer"
mkdir -p "$san"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san/ubsan"
# decoded data sets (engine/data_cache.c) go to the run's own folder, not
# to the user's cache: Fashion-MNIST is decoded once per run
export GEVO_CACHE_DIR="$log/cache"
passed=0
failed=0
run_one() {
    name=$1; shift
    case "$name" in *"$filter"*) ;; *) return ;; esac
    out="$log/out"
    rm -f "$san"/*
    start=$(date +%s)
    timeout 900 "$@" >"$out" 2>&1
    rc=$?
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with status $rc"
        tail -n 20 "$out" | sed 's/^/    /'
        f=1
    elif [ "$f" -gt 0 ]; then
        grep -v '^PASS ' "$out" | sed 's/^/    /' | tail -n 60
    fi
    for r in "$san"/*; do
        [ -f "$r" ] || continue
        echo "FAIL $name: a sanitizer report ($(basename "$r")):"
        head -n 30 "$r" | sed 's/^/    /'
        f=$((f + 1))
    done
    passed=$((passed + p))
    failed=$((failed + f))
    echo "$name: $p passed, $f failed ($(( $(date +%s) - start ))s)"
}
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/sh/test_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t" .sh)" sh "$t"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
