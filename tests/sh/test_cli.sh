# The command line as one front end: every command of the table (tui/cli/
# commands.c, as `gevo --help` lists it) answers --help with its usage
# line and status 0, refuses a bad option with status 2 and a message
# naming it; man/gevo.1's SYNOPSIS and COMMANDS list exactly those usage
# lines; and the layers include only downwards (engine/ knows nothing of
# jansson, the sessions, the core or the front ends).
. tests/sh/lib.sh
root=$(pwd)

"$GEVO" --help >"$T/help"
check "gevo --help exits 0" test $? -eq 0
sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' "$T/help" >"$T/names"
check "gevo --help lists the commands" test "$(wc -l <"$T/names")" -ge 10

# the usage line of each command, from its own --help
: >"$T/usages"
echo "gevo" >>"$T/usages"
: >"$T/empty"
n_opts=0
for c in $(cat "$T/names"); do
    "$GEVO" "$c" --help >"$T/h.$c" 2>"$T/e.$c"
    rc=$?
    first=$(head -n 1 "$T/h.$c")
    case "$first" in
    "usage: gevo $c"*) [ $rc -eq 0 ] && [ ! -s "$T/e.$c" ] && ok "gevo $c --help: usage, status 0" ||
        fail "gevo $c --help: usage, status 0" "status $rc, stderr $(cat "$T/e.$c")" ;;
    *) fail "gevo $c --help: usage, status 0" "first line: $first" ;;
    esac
    echo "${first#usage: }" >>"$T/usages"
    # every option the help lists is one the parser takes: alone (no
    # operand, no value) it is a usage error, never an unknown option
    opts=$(sed -n 's/^  \(-[a-z], \)\{0,1\}--\([a-z][a-z-]*\).*/\2/p' "$T/h.$c" | grep -v '^help$')
    bad=""
    for o in $opts; do
        "$GEVO" "$c" "--$o" <"$T/empty" >"$T/o" 2>"$T/e"
        rc=$?
        if [ $rc -ne 2 ] || grep -q "unknown option" "$T/e" || [ -s "$T/o" ]; then bad="$bad --$o($rc)"; fi
        n_opts=$((n_opts + 1))
    done
    [ -z "$bad" ] && ok "gevo $c: every option of its --help is parsed" ||
        fail "gevo $c: every option of its --help is parsed" "refused:$bad"
    "$GEVO" "$c" --no-such-option x >"$T/o" 2>"$T/e"
    rc=$?
    if [ $rc -eq 2 ] && grep -q "^gevo $c: unknown option '--no-such-option'" "$T/e" &&
        grep -q "^usage: gevo $c" "$T/e" && [ ! -s "$T/o" ]; then
        ok "gevo $c --no-such-option: status 2, named"
    else
        fail "gevo $c --no-such-option: status 2, named" "status $rc: $(head -n 3 "$T/e")"
    fi
done
check "the commands' --help list their options ($n_opts)" test $n_opts -ge 60
echo "gevo --help" >>"$T/usages"
echo "gevo --version" >>"$T/usages"

check "gevo --help: new's line names the preset" grep -q '^  new .*preset' "$T/help"

# a value that is missing, a value given to a flag, a bad number
"$GEVO" train engine/nets/quick.net --epochs >"$T/o" 2>"$T/e"
rc=$?
check "a missing value: status 2, the option named" sh -c \
    "test $rc -eq 2 && grep -q \"^gevo train: option '--epochs' needs a value\" '$T/e'"
"$GEVO" check --json=yes engine/nets/quick.net >"$T/o" 2>"$T/e"
rc=$?
check "a value for a flag: status 2, the option named" sh -c \
    "test $rc -eq 2 && grep -q \"^gevo check: option '--json' takes no value\" '$T/e'"
"$GEVO" log "$T" --generation ten >"$T/o" 2>"$T/e"
rc=$?
check "a bad number: status 2, the option and the value named" sh -c \
    "test $rc -eq 2 && grep -q \"^gevo log: --generation: 'ten' is not a whole number\" '$T/e'"
"$GEVO" check -z engine/nets/quick.net >"$T/o" 2>"$T/e"
rc=$?
check "an unknown short option: status 2, named" sh -c \
    "test $rc -eq 2 && grep -q \"^gevo check: unknown option '-z'\" '$T/e'"
"$GEVO" frobnicate >"$T/o" 2>"$T/e"
rc=$?
check "an unknown command: status 2, named" sh -c \
    "test $rc -eq 2 && grep -q \"unknown command 'frobnicate'\" '$T/e'"
"$GEVO" show "$T/nowhere" g0-1 extra >"$T/o" 2>"$T/e"
rc=$?
check "an extra operand: status 2, named" sh -c "test $rc -eq 2 && grep -q \"'extra'\" '$T/e'"

# man/gevo.1: SYNOPSIS and the COMMANDS headings are the table's usage lines
troff_text() { sed 's/\\f[BIRP]//g; s/\\-/-/g; s/^\.[A-Z][A-Z]* //'; }
sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' man/gevo.1 | grep '^\.B gevo' | troff_text >"$T/man-synopsis"
if diff -u "$T/usages" "$T/man-synopsis" >"$T/diff"; then ok "man SYNOPSIS lists every command as its --help does"
else fail "man SYNOPSIS lists every command as its --help does" "$(cat "$T/diff")"; fi
sed -n '/^\.SH COMMANDS/,/^\.SH /p' man/gevo.1 | grep '^\.SS gevo' | troff_text | sort >"$T/man-commands"
grep -v '^gevo$\|^gevo --' "$T/usages" | sort >"$T/usages-sorted"
if diff -u "$T/usages-sorted" "$T/man-commands" >"$T/diff"; then ok "man COMMANDS has a section per command, headed by its usage"
else fail "man COMMANDS has a section per command, headed by its usage" "$(cat "$T/diff")"; fi

# man/gevo.1's EXIT STATUS lists exactly the statuses the commands use
sed -n 's/^ *CLI_[A-Z]* = \([0-9][0-9]*\).*/\1/p' tui/cli/cli.h | sort -n >"$T/codes"
sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' man/gevo.1 | sed -n '/^\.TP/{n;s/^\.B \([0-9][0-9]*\)$/\1/p;}' | sort -n >"$T/man-codes"
if [ -s "$T/codes" ] && diff -u "$T/codes" "$T/man-codes" >"$T/diff"; then ok "man EXIT STATUS lists the statuses of tui/cli/cli.h"
else fail "man EXIT STATUS lists the statuses of tui/cli/cli.h" "$(cat "$T/diff")"; fi

# the layers: arrows go tui -> core -> engine, tui/core -> sessions, and
# engine/base is the bottom of all
layer_ok() { # FOLDER ALLOWED-PREFIXES...: every quoted include of FOLDER/*.[ch] is in one
    d=$1
    shift
    bad=""
    for f in "$d"/*.[ch]; do
        for inc in $(sed -n 's/^#include "\(.*\)\/[^/]*".*/\1/p' "$f"); do
            allowed=no
            for a in "$@"; do [ "$inc" = "$a" ] && allowed=yes; done
            [ $allowed = yes ] || bad="$bad $f:$inc"
        done
    done
    [ -z "$bad" ] && ok "$d includes only $*" || fail "$d includes only $*" "$bad"
}
layer_ok engine/base engine/base
layer_ok engine engine engine/base
layer_ok sessions sessions engine/base
layer_ok core core engine engine/base sessions
layer_ok tui tui tui/cli core engine engine/base sessions
layer_ok tui/cli tui tui/cli core engine engine/base sessions
check "engine/ depends on no library but OpenBLAS and zlib" sh -c \
    "! grep -rn '#include <\\(jansson\\|curl\\|git2\\|ncurses\\|curses\\)' '$root/engine'"
check "no command code outside tui/" sh -c \
    "for f in '$root'/engine/cmd_* '$root'/core/cmd_* '$root'/sessions/cmd_* '$root'/tui/commands.h; do test ! -e \"\$f\" || exit 1; done"
