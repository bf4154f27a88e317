# The workbench tested the way tig tests its UI: keys come from a script
# named in GEVO_TUI_SCRIPT, the workbench draws to /dev/null (newterm) and
# dumps its virtual screen; the dumps are compared with the screens below.
# The environment is fixed (LINES, COLUMNS, TERM, LANG, TZ, HOME). The full
# loop runs the real evolution (offline proposer, real training on a small
# subset of Fashion-MNIST) and then reads every decision back with git.
. tests/sh/lib_tui.sh

expect "gevo new makes the session" 0 "$GEVO" new "$T/s"
steady_session "$T/s"
cat >"$T/k1" <<EOF
:wait-idle
:dump $T/start
?
:dump $T/help
<Esc>
:resize 160 48
:dump $T/wide
:resize 50 10
:dump $T/small
:resize 80 24
:dump $T/back
EOF
tui "the scripted workbench (help, resizes) exits 0, silent" 80 24 "$T/k1" "$T/s" --llm none
same "80x24: tree, tabs, status line, the first pending proposal selected" "$T/start" <<'EOF'
 gen 1 │ 4 pend 0 train 0 done 0 rej 0 fail │ no LLM: random mutation
 1 Population   2 Diff   3 Reasoning  g1-1 pending
▸ generation 0: 1
▾ generation 1: 4, 4 pending (live)
  ○  g1-1    mutation  (no LLM) pending        - <g0-1
  ○  g1-2    mutation  (no LLM) pending        - <g0-1
  ○  g1-3    mutation  (no LLM) pending        - <g0-1
  ○  g1-4    mutation  (no LLM) pending        - <g0-1















?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
head -8 "$T/help" >"$T/help8"
same "the help screen comes from the key table" "$T/help8" <<'EOF'
 gen 1 │ 4 pend 0 train 0 done 0 rej 0 fail │ no LLM: random mutation
 Help
 gevo workbench: keys (Esc or ? closes this help; q quits at any time)

 Moving around
   <Up> k          select the previous line (scroll up in diff/reasoning)  [mov
   <Down> j        select the next line (scroll down in diff/reasoning)  [move-
   <PgUp> -        one page up  [page-up]
EOF
head -12 "$T/wide" >"$T/wide12"
same "160x48: three panes side by side; the diff's long line wraps" "$T/wide12" <<'EOF'
 gevo s │ gen 1 │ 4 pending 0 training 0 trained 0 rejected 0 failed │ no LLM: random mutation
 training: none
 Population                                             │ Diff: g1-1 against g0-1                                │ Reasoning
▸ generation 0: 1                                       │▶--- a/genome.net                                       │g1-1 mutation by random mutation (no LLM)
▾ generation 1: 4, 4 pending (live)                     │ +++ b/genome.net                                       │parents: g0-1
  ○  g1-1    mutation  (no LLM) pending        - <g0-1  │ @@ -7,7 +7,7 @@ input x: 1x28x28                       │model: none, tokens 0 in, 0 out, 0.0 s
  ○  g1-2    mutation  (no LLM) pending        - <g0-1  │  classes 10                                            │
  ○  g1-3    mutation  (no LLM) pending        - <g0-1  │                                                        │-- reasoning --
  ○  g1-4    mutation  (no LLM) pending        - <g0-1  │  def stem(x, c):                                       │random mutation (no LLM): conv kernel 3 -> 5
                                                        │ -    return relu(batchnorm(conv(x, c, k=3, stride=2, pa│in `stem`
                                                        │ ↪dding=1, bias=false)))                                │
                                                        │ +    return relu(batchnorm(conv(x, c, k=5, stride=2, pa│
EOF
same "a terminal too small gets a clear screen" "$T/small" <<'EOF'




terminal too small: 50x10
gevo needs 60x16; q quits




EOF
check "resizing back restores the same screen" cmp "$T/start" "$T/back"

# Every request of the key table is on the help screen (scrolled through).
printf ':resize 120 200\n?\n:dump %s\n' "$T/fullhelp" >"$T/k2"
tui "the scripted workbench (the whole help) exits 0, silent" 120 24 "$T/k2" "$T/s" --llm none
n=$(grep -c '  \[[a-z-]*\]$' "$T/fullhelp")
nreq=$(grep -c '^    REQ(' "$root/tui/wb.h")
check "help shows every request of the key table ($nreq)" test "$n" -eq "$nreq"
check "help names requests and keys" sh -c "grep -q '^   P  *Pareto front.*\[view-pareto\]\$' '$T/fullhelp' && grep -q '^   q  *quit; nothing is lost.*\[quit\]\$' '$T/fullhelp'"

# ASCII only: TERM=vt100, a C locale, NO_COLOR.
printf ':dump %s\n' "$T/ascii" >"$T/k3"
LANG=C LC_ALL=C TERM=vt100 NO_COLOR=1 tui "the scripted workbench (vt100, C locale) exits 0, silent" \
    80 24 "$T/k3" "$T/s" --llm none
check "vt100 and a C locale give an ASCII-only screen" sh -c \
    "test -s '$T/ascii' && ! LC_ALL=C grep -q '[^ -~]' '$T/ascii'"
check "ASCII glyphs: ? pending, v expanded, > marks the selected line (no colour)" sh -c \
    "grep -q '^> ?  g1-1 ' '$T/ascii' && grep -q '^ v generation 1' '$T/ascii'"

# ---- --review-policy: the same name and values as gevo run's -------------
printf ':wait-idle\n:dump %s\n' "$T/policy" >"$T/kp"
expect "gevo new makes a second session" 0 "$GEVO" new "$T/auto"
steady_session "$T/auto"
tui "the scripted workbench (--review-policy auto) exits 0, silent" 80 24 "$T/kp" "$T/auto" \
    --llm none --review-policy auto --subset 200 --epochs 1
check "--review-policy auto: the workbench approves and trains every proposal" \
    grep -q "^ gen 1 │ 0 pend 0 train 4 done 0 rej 0 fail" "$T/policy"
expect "gevo new makes a third session" 0 "$GEVO" new "$T/limits"
steady_session "$T/limits"
tui "the scripted workbench (--review-policy limits:N) exits 0, silent" 80 24 "$T/kp" "$T/limits" \
    --llm none --review-policy limits:1000
check "--review-policy limits:N: larger proposals wait for review" \
    grep -q "^ gen 1 │ 4 pend 0 train 0 done 0 rej 0 fail" "$T/policy"
expect "an unknown review policy is a usage error (status 2)" 2 \
    "$GEVO" open "$T/limits" --review-policy sometimes <"$T/empty" &&
    check "it names the policy" grep -q "unknown review policy 'sometimes'" "$T/out"

# ---- the full loop: annotate, approve, edit (with a retry), reject, next ----
export GEVO_TEST_EDITS="$T/edits" EDITOR="$root/tests/tui/editor.sh"
cat >"$T/k4" <<EOF
:wait-idle
a
2
<Down><Down><Down><Down><Down><Down><Down>
c
kernel 5 is wide for 28x28<Enter>
:dump $T/annotated
1
$(review_keys "too many parameters for the budget")
EOF
tui "the scripted workbench (the full loop) exits 0, silent" 80 24 "$T/k4" "$T/s" --llm none --subset 300
check "the annotation is shown under its diff line" sh -c \
    "grep -A1 '^▶+    return relu(batchnorm(conv(x, c, k=5' '$T/annotated' | grep -q '^     note: kernel 5 is wide for 28x28'"
check "an edit that does not compile says why and offers the editor again" \
    grep -q "^e: edit again, Esc: cancel | g1-2.net:19:18: expected an expression" "$T/edit-error"
check "the editor ran twice, the second time with the error at the top" test "$(cat "$T/edits")" = 2
check "the edited proposal is marked with a quote" grep -q "^  ○  g1-2'" "$T/edited"
check "the rejection shows in the tree" grep -q "^  ✗  g1-3 .* rejected" "$T/rejected"
check "three trainings ran" grep -q "0 pend 0 train 3 done 1 rej 0 fail" "$T/trained"
check "next generation: generation 2 is proposed" sh -c \
    "grep -q '^▾ generation 2: 4, 4 pending (live)' '$T/gen2' && grep -q '^▸ generation 1: 4' '$T/gen2'"
check "the event log tells what happened" grep -q "g1-3 rejected: too many parameters for the budget" "$T/events"

# The session repository holds each decision.
cd "$T/s"
check "g1-1 approved, with the annotation on line 10" sh -c \
    "git notes --ref=reviews show g1-1 | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r[\"decision\"]==\"approved\", r; assert {\"line\":10,\"text\":\"kernel 5 is wide for 28x28\"} in r[\"annotations\"], r'"
check "g1-2's edit is a commit by the researcher on top of the proposal" sh -c \
    "test \"\$(git log -1 --format=%an g1-2)\" = 'Ada Researcher' && git show g1-2:genome.net | grep -q '^x = stem(x, 20)\$' && git show g1-2^:genome.net | grep -q '^x = stem(x, 16)\$'"
check "g1-2 is approved as edited" sh -c "git notes --ref=reviews show g1-2 | grep -q '\"approved_edited\"'"
check "g1-3 is rejected with the reason" sh -c \
    "git notes --ref=reviews show g1-3 | grep -q '\"rejected\"' && git notes --ref=reviews show g1-3 | grep -q 'too many parameters for the budget'"
check "the trained candidates have results" sh -c \
    "for i in g1-1 g1-2 g1-4; do git notes --ref=results show \$i | grep -q val_acc || exit 1; done"
check "the journal records generation 1" sh -c "git log --format=%s journal | grep -q '^generation 1: '"
check "git fsck accepts the session" git fsck --strict
cd "$root"

# ---- reopening: everything as it was; stepping back shows generation 1 ----
cat >"$T/k5" <<EOF
:dump $T/reopened
[
:dump $T/gen1
EOF
tui "the scripted workbench (reopened) exits 0, silent" 80 24 "$T/k5" "$T/s" --llm none
check "reopened on generation 2 with its proposals pending" grep -q "^▾ generation 2: 4, 4 pending (live)" "$T/reopened"
check "stepping back shows generation 1 as it was" sh -c \
    "grep -q '^ gen 2 (viewing 1)' '$T/gen1' && grep -q \"^  ●.* g1-2'\" '$T/gen1' && grep -q '^  ✗  g1-3 .* rejected' '$T/gen1'"

# ---- errors: each with its exit status -----------------------------------
expect "gevo open without a terminal: status 1" 1 "$GEVO" open "$T/s" <"$T/empty" &&
    check "it says the workbench needs a terminal" grep -q 'needs a terminal' "$T/out"
expect "gevo open on a folder that is not a session: status 1" 1 \
    env GEVO_TUI_SCRIPT="$T/k3" "$GEVO" open "$T/home" <"$T/empty" &&
    check "it says it is not a gevo session" grep -q 'not a gevo session' "$T/out"
printf '<Nope>\n' >"$T/bad"
expect "a script with an unknown key: status 2" 2 env GEVO_TUI_SCRIPT="$T/bad" "$GEVO" open "$T/s" &&
    check "it names the key" grep -q 'unknown key <Nope>' "$T/out"
expect "gevo open --help: status 0" 0 "$GEVO" open --help &&
    check "gevo open --help prints the usage" grep -q '^usage: gevo open DIR' "$T/out"
expect "gevo --help: status 0" 0 "$GEVO" --help &&
    check "gevo --help still lists the commands, open among them" grep -q '^  open ' "$T/out"
expect "bare gevo without a terminal: status 2" 2 sh -c "cd '$T/home' && exec '$GEVO' <'$T/empty'" &&
    check "it says the workbench needs a terminal" grep -q 'needs a terminal' "$T/out"
check "bare gevo without a terminal creates nothing" sh -c \
    "cd '$T/home' && for d in gevo-*; do test ! -e \"\$d\" || exit 1; done"

# ---- the key table, the man page's KEYS and the bottom hint line -----------
# the help screen (from tui/wb_keys.c and WB_REQ_INFO) as "group", then
# "keys|text|name" lines; man/gevo.1's KEYS section in the same form
sed -n '/^ gevo workbench: keys/,/^ Prompts/p' "$T/fullhelp" | sed -n \
    -e 's/^ \([A-Z][^ ].*\)$/\1/p' \
    -e 's/^   \(.\{15\}\) \(.*\)  \[\([a-z-]*\)\]$/\1|\2|\3/p' |
    sed 's/ *|/|/' | grep -v '^Prompts' >"$T/help-keys"
sed -n '/^\.SH KEYS/,/^\.SH [^K]/p' man/gevo.1 | awk '
    /^\.SS / { sub(/^\.SS /, ""); print; next }
    /^\.TP/ { tp = 1; next }
    tp == 1 && /^\.B / { sub(/^\.B /, ""); keys = $0; tp = 2; next }
    tp == 2 { line = $0; name = line; sub(/.* \(/, "", name); sub(/\)$/, "", name)
              sub(/ \([a-z\\-]*\)$/, "", line); print keys "|" line "|" name; tp = 0 }' |
    sed 's/\\-/-/g; s/\\(aq/'"'"'/g' >"$T/man-keys"
if [ -s "$T/help-keys" ] && diff -u "$T/help-keys" "$T/man-keys" >"$T/diff"; then
    ok "man KEYS is the key table (keys, help, names, groups)"
else
    fail "man KEYS is the key table (keys, help, names, groups)" "$(head -n 30 "$T/diff")"
fi
# every KEY:label of the hint line is bound, to the request the label
# abbreviates (its letters in order: "note" for annotate, "next gen" for
# next-generation), so the hint cannot name a key that does something else
hint_matches_table() {
    hint=$(tail -n 1 "$T/start")
    [ -n "$hint" ] || { echo "no hint line"; return 1; }
    # "?:help ... >:next gen Tab:pane" as KEY|label-with-dashes lines
    echo "$hint" | awk '{
        for (i = 1; i <= NF; i++)
            if (index($i, ":") > 1) {
                if (k != "") print k "|" l
                k = substr($i, 1, index($i, ":") - 1); l = substr($i, index($i, ":") + 1)
            } else l = l "-" $i
        print k "|" l }' >"$T/hint"
    [ "$(wc -l <"$T/hint")" -ge 5 ] || { echo "hint line not understood: $hint"; return 1; }
    while IFS='|' read -r key label; do
        [ "$key" = Tab ] && key='<Tab>'
        req=$(awk -F'|' -v k="$key" '{ n = split($1, a, " "); for (i = 1; i <= n; i++) if (a[i] == k) print $3 }' "$T/help-keys")
        if ! awk -v l="$label" -v r="$req" 'BEGIN {
            j = 1
            for (i = 1; i <= length(r) && j <= length(l); i++)
                if (substr(r, i, 1) == substr(l, j, 1)) j++
            exit !(r != "" && j > length(l)) }'; then
            echo "'$key:$label' is bound to '$req'"
            return 1
        fi
    done <"$T/hint"
}
check "the hint line's keys do what the key table says" hint_matches_table

# A live generation larger than the evolve object's first allocation (16):
# the individuals' array moves as it grows, and every row must still show
# its own operator (the view's strings pointed into the freed array once).
expect "gevo new makes a session for a large generation" 0 "$GEVO" new "$T/big"
steady_session "$T/big"
i=1
while [ $i -le 20 ]; do
    "$GEVO" propose "$T/big" --llm none --parent g0-1 --generation 1 --seed $i >/dev/null 2>&1
    i=$((i + 1))
done
printf ':dump %s\n' "$T/bigtree" >"$T/kbig"
tui "the scripted workbench (20 proposals in the live generation) exits 0, silent" 80 40 \
    "$T/kbig" "$T/big" --llm none
rows=$(grep -cE '^  [^ ]+ +g1-[0-9]+ ' "$T/bigtree")
named=$(grep -cE "^  [^ ]+ +g1-[0-9]+'? +mutation " "$T/bigtree")
check "a live generation of 20 shows every row ($rows) with its operator ($named)" \
    sh -c "[ $rows -ge 17 ] && [ $rows -eq $named ]"
