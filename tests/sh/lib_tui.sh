# Shared by the workbench tests (tests/sh/test_tui*.sh, test_results.sh):
# a fixed environment as tig's tests have (TERM, LANG, TZ, HOME, the data
# folder), the sessions and key scripts more than one test uses, scripted
# runs whose exit status and output are checked, and screen comparisons.
. tests/sh/lib.sh
root=$(pwd)
mkdir -p "$T/share" "$T/home"
ln -s "$root/engine/nets" "$T/share/nets"
ln -s "$root/prompts" "$T/share/prompts"
export GEVO_DATADIR="$T/share" HOME="$T/home" TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8
export TERM=xterm-256color GIT_CONFIG_NOSYSTEM=1
unset NO_COLOR GEVO_ASCII VISUAL
git config --global user.name "Ada Researcher"
git config --global user.email ada@example.org
: >"$T/empty" # standard input that is not a terminal (and not /dev/null)

# Trainings outlive the workbench by design; the tests stop their own
# workers (by the pids the evaluator records in the sessions under $T)
# before removing them. A test that starts more (a server) adds to
# tui_cleanup through its own trap.
# A session whose screens do not depend on timing: no noise measurement,
# no promotion (tests/sh/test_results.sh covers both).
steady_session() {
    python3 - "$1/gevo.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["noise_seeds"] = "0"
c["rungs"] = "1"
json.dump(c, open(p, "w"), indent=2)
PY
}

# review_session DIR: the review screen's session (issue 16) in DIR, a
# steady one with two proposals from the seed that `gevo propose` records
# from the fake LLM server at $url (tests/tui/answers/tui_review*.md).
review_session() {
    expect "review: gevo new" 0 "$GEVO" new "$1"
    steady_session "$1"
    expect "review: the first proposal" 0 "$GEVO" propose "$1" --llm "$url" \
        --model "rev/ok:tui_review" --parent g0-1
    expect "review: the second proposal" 0 "$GEVO" propose "$1" --llm "$url" \
        --model "rev2/ok:tui_review2" --parent g0-1
}

stop_workers() {
    for f in "$T"/*/.gevo/work/*/pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    return 0
}
tui_cleanup() {
    stop_workers
    rm -rf "$T"
}
trap tui_cleanup EXIT

# tui NAME COLS LINES SCRIPT ARGS...: one scripted run of `gevo open ARGS`
# at COLS x LINES, keys from SCRIPT. Passes NAME when the workbench exits
# with status 0 and says nothing (its output, in $T/tui.out, would be an
# error or a sanitizer's report); returns that status.
tui() {
    name=$1 c=$2 l=$3 s=$4
    shift 4
    env COLUMNS="$c" LINES="$l" GEVO_TUI_SCRIPT="$s" "$GEVO" open "$@" <"$T/empty" >"$T/tui.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$T/tui.out" ]; then
        ok "$name"
    else
        fail "$name" "gevo open $* exited with status $rc: $(head -n 20 "$T/tui.out")"
        [ $rc -ne 0 ] || rc=1
    fi
    return $rc
}
# review_keys REASON: the keys of the review loop both full-loop tests
# script, from the first proposal (approved, the tree focused): edit the
# second (tests/tui/editor.sh: a broken edit, then a good one) and approve
# it, reject the third for REASON, approve the fourth, wait for the
# trainings, start the next generation, show the event log. Dumps
# $T/edit-error, edited, rejected, trained, gen2 and events on the way.
review_keys() {
    cat <<EOF
<Down>
e
:dump $T/edit-error
e
:dump $T/edited
a
<Down>
r
$1<Enter>
:dump $T/rejected
<Down>
a
:wait-idle
:dump $T/trained
>
:wait-idle
:dump $T/gen2
E
:dump $T/events
EOF
}
# same NAME DUMP: the dump equals the expected screen on stdin.
same() {
    cat >"$T/expected"
    if [ ! -f "$2" ]; then
        fail "$1" "no dump $2 (the scripted run did not get there)"
    elif diff -u "$T/expected" "$2" >"$T/diff" 2>&1; then
        ok "$1"
    else
        fail "$1" "$(head -40 "$T/diff")"
    fi
}
