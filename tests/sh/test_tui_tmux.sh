# The real binary in a real terminal, as a person would use it: tmux runs
# `gevo open` at 80x24, keys go in with send-keys, the screen comes back with
# capture-pane. The review screen too: hunks, side by side, zoom, D, R on a
# failed proposal, and the session reopened. Waits poll the screen for what must appear (no fixed
# sleeps), with a generous cap so a slow machine is never a failure.
. tests/sh/lib_tui.sh
if ! command -v tmux >/dev/null; then
    fail "tmux" "tmux is not installed (apt-get install tmux)"
    exit 0
fi
sock="$T/tmux.sock"
tm() { tmux -S "$sock" "$@"; }
trap 'for s in "$T"/tmux*.sock; do tmux -S "$s" kill-server 2>/dev/null; done; tui_cleanup' EXIT
# wait_for NAME PATTERN: passes when the screen shows PATTERN.
# A server that is gone fails at once: waiting would only burn the cap.
wait_for() {
    i=0
    while [ $i -lt 1500 ]; do
        if ! tm capture-pane -p -t gevo >"$T/screen" 2>&1; then
            fail "$1" "the tmux server is gone: $(cat "$T/screen")"
            return 1
        fi
        if grep -q -- "$2" "$T/screen"; then ok "$1"; return 0; fi
        i=$((i + 1))
        sleep 0.2
    done
    fail "$1" "'$2' never appeared; the screen: $(cat "$T/screen")"
    return 1
}

expect "gevo new makes the session" 0 "$GEVO" new "$T/s"
steady_session "$T/s"
: >"$T/tmux.conf" # no user configuration
for term in tmux-256color screen-256color; do
    sock="$T/tmux-$term.sock"   # a server of its own: a dying one refuses clients
    # The server runs in the foreground (-D), in the background of this
    # script: as a daemon it would refuse to start where /dev/null is not
    # the character device (glibc's daemon() checks), as happened on a CI
    # machine; the test is about gevo, not that machine's /dev/null.
    tmux -D -S "$sock" -f "$T/tmux.conf" >"$T/tmux-server.err" 2>&1 &
    n=0
    while [ $n -lt 100 ] && [ ! -S "$sock" ]; do sleep 0.1; n=$((n + 1)); done
    if ! tm new-session -d -s gevo -x 80 -y 24 \
        "env TERM=$term '$GEVO' open '$T/s' --llm none --subset 300; echo GEVO-EXITED \$?; sleep 600" \
        >"$T/tmux.err" 2>&1; then
        fail "$term: tmux starts" "$(cat "$T/tmux.err" "$T/tmux-server.err")"
        continue
    fi
    wait_for "$term: the proposals arrive" "generation 1: 4, [34] pending (live)"
    if [ $term = tmux-256color ]; then
        tm send-keys -t gevo a
        wait_for "$term: a approves the selected proposal" "approved g1-1: queued for training"
    fi
    tm send-keys -t gevo '?'
    wait_for "$term: ? opens the help" "Moving around"
    tm send-keys -t gevo Escape
    wait_for "$term: Esc goes back to the panes" "1 Population"
    tm resize-window -t gevo -x 50 -y 10
    wait_for "$term: a small window gets the too-small screen" "terminal too small: 50x10"
    tm resize-window -t gevo -x 120 -y 30
    wait_for "$term: 120 columns: three panes" "Population .*│ Diff: g1-"
    tm send-keys -t gevo q
    wait_for "$term: q quits and says where the session is" "reopen it with: gevo open"
    wait_for "$term: the exit status is 0" "GEVO-EXITED 0"
    tm kill-server
done
check "the approval made in tmux is in the session" sh -c "cd '$T/s' && git notes --ref=reviews show g1-1 | grep -q '\"approved\"'"

# ---- the review screen in a real terminal (issue 16) -----------------------
# Two proposals from the fake LLM server; the workbench's own proposal
# fails every check (g1-f1). In tmux at 80x24: } and { between hunks, s
# side by side, z zoom, D against the marked one, R on the failed proposal
# with a steering note; then the session reopened keeps it all.
fake_llm --answers "$root/tests/tui/answers"
trap 'kill "$spid" 2>/dev/null; for s in "$T"/tmux*.sock; do tmux -S "$s" kill-server 2>/dev/null; done; tui_cleanup' EXIT
R="$T/r"
review_session "$R"
# in_tmux NAME ARGS...: `gevo open ARGS` at 80x24 in a tmux server of its own
in_tmux() {
    sock="$T/tmux-$1.sock"
    shift
    tmux -D -S "$sock" -f "$T/tmux.conf" >"$T/tmux-server.err" 2>&1 &
    n=0
    while [ $n -lt 100 ] && [ ! -S "$sock" ]; do sleep 0.1; n=$((n + 1)); done
    tm new-session -d -s gevo -x 80 -y 24 \
        "env TERM=tmux-256color '$GEVO' open $*; echo GEVO-EXITED \$?; sleep 600" >"$T/tmux.err" 2>&1
}
if in_tmux review "'$R'" --llm "'$url'" --model tm/ok:nope,ok:nope,ok:nope,ok:tui_p1 --offspring 3 --subset 300; then
    wait_for "review: the workbench's proposal fails every check: g1-f1" "!  g1-f1   mutation .* failed"
    tm send-keys -t gevo 2
    wait_for "review: 2 shows g1-1's diff" "^▶--- a/genome.net"
    tm send-keys -t gevo '}' '}'
    wait_for "review: } twice: the second hunk" "^▶@@ -21,5 +22,5 @@ x = block(x, 24)"
    tm send-keys -t gevo '{'
    wait_for "review: { the hunk before" "^▶@@ -7,10 +7,11 @@ input x: 1x28x28"
    tm send-keys -t gevo s
    wait_for "review: s side by side" "^   10 -    return relu(batchnorm(conv(x,│  10 +    return relu(batchnorm(conv(x,"
    tm send-keys -t gevo s
    wait_for "review: s again unified" "^ -    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))"
    tm send-keys -t gevo z
    wait_for "review: z zooms the diff" "^ Diff: g1-1 against g0-1"
    tm send-keys -t gevo z
    wait_for "review: z again: the tabs" "^ 1 Population   2 Diff   3 Reasoning  g1-1 pending"
    tm send-keys -t gevo 1 Down m Up D
    wait_for "review: D diffs g1-1 against the marked g1-2" "g1-1 against g1-2"
    tm send-keys -t gevo D 1 Down Down
    wait_for "review: the failed proposal selected" "^ 1 Population   2 Diff   3 Reasoning  g1-f1 failed"
    tm send-keys -t gevo R
    wait_for "review: R asks for a steering note" "Steering note for the LLM:"
    tm send-keys -t gevo 'a wider stem' Enter
    wait_for "review: R asked again in the slot: g1-3" "○  g1-3    mutation"
    tm send-keys -t gevo q
    wait_for "review: q quits" "GEVO-EXITED 0"
    tm kill-server
else
    fail "review: tmux starts" "$(cat "$T/tmux.err" "$T/tmux-server.err")"
fi
check "review: g1-3 was asked again for g1-f1, with the steering note" sh -c \
    "git -C '$R' show g1-3:meta.json | grep -qF '\"retry_of\": \"g1-f1\"' &&
     git -C '$R' show g1-3:meta.json | grep -qF '\"steering\": \"a wider stem\"' &&
     git -C '$R' show g1-3:prompt.txt | grep -q 'a wider stem'"
# reopened: the new proposal in the slot, the session's totals in the header
if in_tmux reopen "'$R'" --llm none --offspring 3 --subset 300; then
    wait_for "reopened: the three proposals pending" "generation 1: 3, 3 pending (live)"
    wait_for "reopened: the header has the session's totals (6 requests, 9.0k tokens)" \
        "│ 9.0k tok 6 req │ no LLM"
    check "reopened: the failed proposal asked again for is not in the tree" sh -c "! grep -q 'g1-f1' '$T/screen'"
    tm send-keys -t gevo q
    wait_for "reopened: q quits" "GEVO-EXITED 0"
    tm kill-server
else
    fail "reopened: tmux starts" "$(cat "$T/tmux.err" "$T/tmux-server.err")"
fi
