#!/bin/sh
# Fuzzes the gevo-net compiler with libFuzzer for SECONDS (default 60),
# starting from the language corpus. A crashing input is copied into
# tests/lang/regress/, where test_lang_regress replays it in `make test`.
set -eu
seconds=${1:-60}
cd "$(dirname "$0")/.."
out=build-fuzz
mkdir -p "$out/corpus"
flags="-std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined"
# shellcheck disable=SC2046
clang $flags -o "$out/fuzz_net" tests/fuzz/fuzz_net.c engine/net.c engine/net_parse.c \
    engine/net_build.c engine/net_canon.c -lm
cp tests/lang/good/*.net tests/lang/bad/*.net "$out/corpus/" 2>/dev/null || true
cp tests/lang/regress/* "$out/corpus/" 2>/dev/null || true
mkdir -p "$out/crashes"
set +e
"$out/fuzz_net" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/crashes/" -print_final_stats=1 "$out/corpus" 2>&1 | tail -n 25
rc=$?
set -e
found=0
for f in "$out"/crashes/*; do
    [ -f "$f" ] || continue
    found=$((found + 1))
    cp "$f" "tests/lang/regress/$(basename "$f")"
    echo "fuzz: kept $f as tests/lang/regress/$(basename "$f")"
done
echo "fuzz: $found crashing inputs"
[ "$found" -eq 0 ]
