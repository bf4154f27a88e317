# The real binary in a real terminal, as a person would use it: tmux runs
# `gevo open` at 80x24, keys go in with send-keys, the screen comes back with
# capture-pane. Waits poll the screen for what must appear (no fixed
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
