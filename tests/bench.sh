#!/bin/sh
# make bench: gevo's engine against PyTorch on the same machine, in the same
# run, alternating sides (the machine may be shared: a ratio, not a time),
# and the goals of the engine's speed issue: see tests/bench/bench.py for
# what is measured and the BENCH_* variables that change it.
#
#   sh tests/bench.sh [BUILD]        (make bench builds and calls it)
#
# PyTorch is Debian's python3-torch under /usr/bin/python3, its networks and
# benchmark are tests/reference/. Missing, it is installed when this runs as
# root (as make test installs its packages); otherwise the command to
# install it is printed and only gevo's side runs.
set -u
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3

has_torch() { [ -x "$PY" ] && "$PY" -c 'import torch, numpy' 2>/dev/null; }
if [ "${BENCH_TORCH:-1}" = 1 ] && ! has_torch; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bench: installing python3-torch (the PyTorch reference)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-torch >&2
    fi
    if ! has_torch; then
        echo "bench: no PyTorch under $PY; install it with"
        echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends python3-torch"
        echo "bench: running gevo's side only"
        BENCH_TORCH=0
        export BENCH_TORCH
    fi
fi
python3 tests/bench/bench.py "$B" || exit 1
# the session layer's own bench (BENCH_SESSION=0 skips it): after the
# engine's, whose numbers it would otherwise disturb
if [ "${BENCH_SESSION:-1}" = 1 ] && [ -x "$B/tests/bench/session_bench" ]; then
    "$B/tests/bench/session_bench"
fi
