# Shared helpers for the shell integration tests: source it, then call
# ok NAME / fail NAME MESSAGE, or check NAME COMMAND... which passes when
# the command succeeds. $GEVO is the binary under test, $T a scratch folder.
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/gevo-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
ok() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
check() {
    name=$1; shift
    if "$@" >"$T/.check.out" 2>&1; then ok "$name"; else fail "$name" "$* -> $(tail -n 5 "$T/.check.out")"; fi
}
