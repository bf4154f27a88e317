#!/bin/sh
# Where a network's training steps spend their instructions, by function:
# callgrind (repeatable on a shared, noisy machine, unlike a clock) over
# gevo train's training loop only (train_run: batches, forward, backward,
# optimiser; not start-up or data loading), on one thread.
#
#   sh tests/bench/profile.sh [NET [IMAGES [INPUT [GEVO]]]]
#   sh tests/bench/profile.sh exquisitenetv2 384 1x28x28 ./gevo
#
# Prints the instruction total and the top 25 functions; GEVO_NO_FUSE=1
# and the like pass through to gevo. Needs valgrind.
set -u
NET=${1:-exquisitenetv2}
N=${2:-384}
SHAPE=${3:-1x28x28}
GEVO=${4:-./gevo}
command -v valgrind >/dev/null 2>&1 || { echo "profile: needs valgrind (apt-get install valgrind)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/gevo-profile.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$T/cg" \
    --toggle-collect=train_run "$GEVO" train "engine/nets/$NET.net" --input "$SHAPE" \
    --subset "$N" --val-split 0 --no-test --set schedule=constant --threads 1 --quiet \
    >"$T/out" 2>"$T/err" || { tail -3 "$T/err"; exit 1; }
callgrind_annotate --inclusive=no "$T/cg" 2>/dev/null |
    sed -n '/PROGRAM TOTALS/p; /file:function/,$p' | sed -n '1p;4,28p'
