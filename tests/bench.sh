#!/bin/sh
# make bench: gevo's engine against PyTorch on the same machine, in the same
# run, alternating sides (the machine is shared: a ratio, not a time).
#
#   sh tests/bench.sh [BUILD]        (make bench builds and calls it)
#
# Environment: BENCH_IMAGES (60000) training images per run, BENCH_REPEAT
# (1) alternations per network, BENCH_NETS ("exquisitenetv2 smallcnn"),
# BENCH_THREADS (2), BENCH_PAIR (1: also two trainings at once with one
# thread each against one at a time with two; 0 skips it), BENCH_DATA.
# A bench is not a test: it asserts nothing and no test depends on it.
set -u
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
GEVO=$ROOT/$B/gevo
IMAGES=${BENCH_IMAGES:-60000}
REPEAT=${BENCH_REPEAT:-1}
NETS=${BENCH_NETS:-exquisitenetv2 smallcnn}
THREADS=${BENCH_THREADS:-2}
DATA=${BENCH_DATA:-/usr/share/datasets/fashion-mnist}
PY=/usr/bin/python3
REF=$ROOT/../shared/reference
T=$(mktemp -d "${TMPDIR:-/tmp}/gevo-bench.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

[ -x "$GEVO" ] || { echo "bench: $GEVO missing (make gevo)"; exit 1; }
[ -d "$DATA" ] || { echo "bench: no data in $DATA (apt-get install dataset-fashion-mnist)"; exit 1; }
torch=0
if [ -x "$PY" ] && [ -f "$REF/bench.py" ] && "$PY" -c 'import torch' 2>/dev/null; then torch=1; fi
[ $torch = 1 ] || echo "bench: no PyTorch under $PY (or no $REF/bench.py): gevo's side only"

# one JSON value out of a file, with python3 (any python3 has json)
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

gevo_run() { # NET OUT THREADS IMAGES
    sub=""
    [ "$4" -lt 60000 ] && sub="--subset $4"
    # exquisitenetv2.net declares CIFAR-10's 3x32x32: trained at the data's
    # 1x28x28, as the PyTorch side is (a network's input line must otherwise
    # match the data)
    inp=""
    [ "$1" = exquisitenetv2 ] && inp="--input 1x28x28"
    /usr/bin/time -f %M -o "$2.rss" "$GEVO" train "engine/nets/$1.net" --data "$DATA" $inp --val-split 0 \
        --set schedule=constant --threads "$3" --no-test --quiet $sub --out "$2" >/dev/null 2>"$2.err" ||
        { echo "bench: gevo train $1 failed:"; cat "$2.err"; return 1; }
}

torch_run() { # NET OUT
    (cd "$REF" && /usr/bin/time -f %M -o "$2.rss" "$PY" bench.py --model "$1" --images "$IMAGES" \
        --threads "$THREADS") >"$2" 2>"$2.err" || { echo "bench: torch $1 failed:"; tail -3 "$2.err"; return 1; }
    tail -1 "$2" >"$2.json"
}

echo "bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $IMAGES images, batch 128, $THREADS threads"
[ -x "$B/tests/bench/session_bench" ] && "$B/tests/bench/session_bench"
SGEMM=0
if [ -x "$B/tests/bench/engine_sgemm" ]; then
    "$B/tests/bench/engine_sgemm" "$THREADS" >"$T/sgemm.json" && SGEMM=$(jget "$T/sgemm.json" sgemm_gflops)
    echo "sgemm: $SGEMM GFLOP/s on $THREADS threads ($(jget "$T/sgemm.json" core) kernels)"
fi

printf '%-15s %9s %9s %7s %9s %9s %8s %7s\n' network gevo_img/s torch_img/s ratio gevo_MB torch_MB GFLOP/s of_sgemm
for net in $NETS; do
    r=0
    while [ $r -lt "$REPEAT" ]; do
        r=$((r + 1))
        # alternate which side goes first, so drift in the machine's load
        # does not favour one
        if [ $((r % 2)) = 1 ]; then
            gevo_run "$net" "$T/g.json" "$THREADS" "$IMAGES" || exit 1
            [ $torch = 1 ] && { torch_run "$net" "$T/t" || exit 1; }
        else
            [ $torch = 1 ] && { torch_run "$net" "$T/t" || exit 1; }
            gevo_run "$net" "$T/g.json" "$THREADS" "$IMAGES" || exit 1
        fi
        gips=$(jget "$T/g.json" images_per_sec)
        gflop=$(jget "$T/g.json" flops)
        gmb=$(awk '{printf "%.0f", $1 / 1024}' "$T/g.json.rss")
        tips=- tmb=- ratio=-
        if [ $torch = 1 ]; then
            tips=$(jget "$T/t.json" images_per_second)
            tmb=$(awk '{printf "%.0f", $1 / 1024}' "$T/t.rss")
            ratio=$(awk -v a="$gips" -v b="$tips" 'BEGIN{printf "%.2f", a / b}')
        fi
        # training is about three forward passes (forward, and backward
        # for the inputs and the weights)
        gf=$(awk -v f="$gflop" -v i="$gips" 'BEGIN{printf "%.1f", 3 * f * i / 1e9}')
        frac=$(awk -v g="$gf" -v s="$SGEMM" 'BEGIN{if (s > 0) printf "%.1f%%", 100 * g / s; else print "-"}')
        printf '%-15s %9.0f %9s %7s %9s %9s %8s %7s\n' "$net" "$gips" "$tips" "$ratio" "$gmb" "$tmb" "$gf" "$frac"
    done
done

if [ "${BENCH_PAIR:-1}" = 1 ]; then
    # the evaluator's choice: two candidates at once on one thread each, or
    # one at a time on two threads (same total work, 12,800 images each)
    n=12800
    net=$(echo "$NETS" | cut -d' ' -f1)
    t0=$(date +%s.%N)
    gevo_run "$net" "$T/p1.json" 2 $n && gevo_run "$net" "$T/p2.json" 2 $n || exit 1
    t1=$(date +%s.%N)
    gevo_run "$net" "$T/q1.json" 1 $n &
    gevo_run "$net" "$T/q2.json" 1 $n
    wait
    t2=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v n=$n -v net="$net" 'BEGIN{
        s = 2 * n / (b - a); p = 2 * n / (c - b);
        printf "pair (%s, 2 x %d images, start-up included): one at a time on 2 threads %.0f img/s, two at once on 1 thread %.0f img/s (%.2fx)\n", net, n, s, p, p / s }'
fi
