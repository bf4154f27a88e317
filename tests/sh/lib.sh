# Shared helpers for the shell integration tests: source it, then call
# ok NAME / fail NAME MESSAGE, check NAME COMMAND... (passes when the
# command succeeds) or expect NAME STATUS COMMAND... (passes when the
# command exits with exactly STATUS; its output is then in $T/out).
# $GEVO is the binary under test, $T a scratch folder. Every run's exit
# status is checked as the exact status gevo(1) gives: never as `! gevo`,
# which a crash (or a sanitizer's abort) satisfies too.
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/gevo-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
ok() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
check() {
    name=$1; shift
    if "$@" >"$T/.check.out" 2>&1; then ok "$name"; else fail "$name" "$* -> $(tail -n 5 "$T/.check.out")"; fi
}
# expect NAME STATUS COMMAND...: COMMAND's stdout and stderr go to $T/out;
# passes when it exits with STATUS. Returns 0 when it did, so that
# `expect ... && check ...` reads the output of the right run.
expect() {
    name=$1 want=$2
    shift 2
    "$@" >"$T/out" 2>&1
    got=$?
    if [ "$got" -eq "$want" ]; then
        ok "$name"
        return 0
    fi
    fail "$name" "exit status $got, not $want: $* -> $(tail -n 5 "$T/out")"
    return 1
}
# edit_json FILE [ARG...] <<'PY' ... PY: runs the Python program on stdin
# with c, the JSON object in FILE, and a, the list of ARGs; then writes c
# back to FILE (as tests set a session's gevo.json).
edit_json() {
    python3 -c '
import json, sys
path, a = sys.argv[1], sys.argv[2:]
c = json.load(open(path))
exec(sys.stdin.read())
json.dump(c, open(path, "w"), indent=2)
' "$@"
}
# sanitizer_clean FILE: true when FILE holds no AddressSanitizer,
# LeakSanitizer or UndefinedBehaviorSanitizer report (tests/run.sh also
# collects the reports every process of a test writes, wherever its
# output went).
sanitizer_clean() {
    ! grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$1"
}
# fake_llm [--answers DIR]...: starts tests/fake_llm/server.py on
# 127.0.0.1 (stopped when the test exits) and sets $url to its base URL,
# $port and $spid. Call it before setting a trap of the test's own, and
# stop the server there too (kill "$spid").
fake_llm() {
    rm -f "$T/port" # a second server must not read the first one's port
    python3 "$(pwd)/tests/fake_llm/server.py" "$@" >"$T/port" 2>/dev/null &
    spid=$!
    trap 'kill "$spid" 2>/dev/null; rm -rf "$T"' EXIT
    n=0
    while [ ! -s "$T/port" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    port=$(head -n 1 "$T/port")
    url="http://127.0.0.1:$port/v1"
}
# width_answers DIR W...: fake-LLM answers DIR/w1.md, w2.md, ... (quick.net
# with its middle block W channels wide, each one new) and DIR/bad.md (a
# program whose shapes do not match: it fails validation).
width_answers() {
    d=$1; shift
    mkdir -p "$d"
    i=1
    for w in "$@"; do
        {
            echo "Widening the middle block to $w channels gives it more capacity at little cost."
            echo
            echo '```python'
            sed "s/x = block(x, 24)/x = block(x, $w)/" "$GEVO_ROOT/engine/nets/quick.net"
            echo '```'
        } >"$d/w$i.md"
        i=$((i + 1))
    done
    {
        echo "Here is a bolder version."
        echo '```python'
        sed 's/x = block(x, 48)/x = add(block(x, 48), x)/' "$GEVO_ROOT/engine/nets/quick.net"
        echo '```'
    } >"$d/bad.md"
}
# two_fake_llms: two fake LLM servers (answers from $T/answers, see
# width_answers), $url_a and $url_b, both stopped when the test exits, and
# a session $S made by gevo new.
two_fake_llms() {
    width_answers "$T/answers" 20 28 32 36 40 44 52 56 60 64 72 80 88 96 104 112 120 128 136 144
    fake_llm --answers "$T/answers"
    url_a=$url spid_a=$spid
    fake_llm --answers "$T/answers"
    url_b=$url spid_b=$spid
    trap 'kill "$spid_a" "$spid_b" 2>/dev/null; rm -rf "$T"' EXIT
    S="$T/s"
    "$GEVO" new "$S" >/dev/null 2>"$T/err" || fail two_fake_llms_new "$(cat "$T/err")"
}
