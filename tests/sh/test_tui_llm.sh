# The workbench's full review loop against the fake LLM server: the LLM
# proposes (one request answered 500 and retried), the researcher approves
# one, edits one through a scripted $EDITOR (a broken edit first, then a
# good one), rejects one with a reason and approves the last; the approved
# ones train (real training on a Fashion-MNIST subset); the next generation
# is proposed. The screens are read as text (GEVO_TUI_SCRIPT, as tig does)
# and every decision is read back from the session with plain git.
#
# The fake server answers requests in the order they arrive, and the
# workbench sends four at once, so which proposal gets which answer (and
# which id, given as each one completes) varies from run to run. The test
# therefore reads the ids from the screen, and every answer is a whole
# program that keeps `x = stem(x, 16)` for the scripted editor.
. tests/sh/lib_tui.sh
unset GEVO_LLM_MODEL GEVO_LLM_BASE_URL
answers="$root/tests/tui/answers"
fake_llm --answers "$answers"
trap 'kill "$spid" 2>/dev/null; tui_cleanup' EXIT
export GEVO_LLM_BACKOFF_BASE=0.01 GEVO_LLM_BACKOFF_MAX=0.02
# generation 1: tui_p1..tui_p4 (the second request gets a 500 and is
# retried); generation 2: tui_p5..tui_p8, all different from every parent
model="tui/ok:tui_p1,500,ok:tui_p2,ok:tui_p3,ok:tui_p4,ok:tui_p5,ok:tui_p6,ok:tui_p7,ok:tui_p8"
export GEVO_TEST_EDITS="$T/edits" EDITOR="$root/tests/tui/editor.sh"

expect "gevo new makes the session" 0 "$GEVO" new "$T/s"
steady_session "$T/s"
# The rows are in the order of their numbers, which the answers' arrival decides.
cat >"$T/keys" <<EOF
:wait-idle
:dump $T/props
:resize 300 24
:dump $T/props-wide
:resize 80 24
3
:dump $T/reason
1
a
$(review_keys "the budget is for fewer parameters")
q
EOF
tui "the scripted workbench exits 0, silent (LLM session)" 80 24 "$T/keys" "$T/s" --llm "$url" \
    --model "$model" --subset 300

# the ids of the four rows of generation 1, top to bottom
ids=$(sed -n 's/^  ○  \(g1-[0-9]\) .*/\1/p' "$T/props")
set -- $ids
if [ $# -ne 4 ]; then
    fail "four LLM proposals are pending review" "rows: '$ids'; $(cat "$T/props" "$T/tui.out")"
    exit 0
fi
approved=$1 edited=$2 rejected=$3 approved2=$4

# The tree lists a generation by number; which answer (and persona) got
# which number depends on the order the answers came in: the personas are
# masked on the screen and compared as a set.
sed 's/^\(  ○  g1-[1-4]    mutation  \)[a-z]* */\1PERSONA  /' "$T/props" >"$T/props-masked"
same "80x24: four LLM proposals pending by number, tokens and the model in the status line" "$T/props-masked" <<'EOF'
 gen 1 │ 4 pend 0 train 0 done 0 rej 0 fail │ 6.0k tok 4 req │ tui/ok:tui_p1,500
 1 Population   2 Diff   3 Reasoning  g1-1 pending
▸ generation 0: 1
▾ generation 1: 4, 4 pending (live)
  ○  g1-1    mutation  PERSONA  pending        - <g0-1
  ○  g1-2    mutation  PERSONA  pending        - <g0-1
  ○  g1-3    mutation  PERSONA  pending        - <g0-1
  ○  g1-4    mutation  PERSONA  pending        - <g0-1















?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit
EOF
sed -n 's/^  ○  g1-[1-4]    mutation  \([a-z]*\) .*/\1/p' "$T/props" | sort >"$T/personas"
check "the four personas drawn: expert, plain and scientist twice" \
    test "$(tr '\n' ' ' <"$T/personas")" = "expert plain scientis scientis "
check "the first row is selected" grep -q "^ 1 Population   2 Diff   3 Reasoning  $approved pending" "$T/props"
check "wide status line: tokens in/out, then model @ URL" grep -qF \
    " gevo s │ gen 1 │ 4 pending 0 training 0 trained 0 rejected 0 failed │ 4.0k/2.0k tokens \$0.00 4 requests │ $model @ $url" \
    "$T/props-wide"

# the reasoning pane of the first proposal: persona, model, tokens, the LLM's prose
persona=$(sed -n "s/^$approved [a-z]* by \([a-z]*\)\$/\1/p" "$T/reason")
check "the reasoning pane names the persona" sh -c "echo '$persona' | grep -qx 'expert\|scientist\|magoo\|plain'"
check "the reasoning pane names the model and its tokens" sh -c \
    "tr '\\n' ' ' <'$T/reason' | grep -q ' model: tui/ok:tui_p1,500,[^ ]*, tokens  *1000 in, 500 out, '"
prose=$(sed -n '/^-- reasoning --$/{n;p;q}' "$T/reason")
check "the reasoning pane shows the LLM's own prose" sh -c \
    "test -n \"\$1\" && git -C '$T/s' show $approved:response.txt | grep -qF \"\$1\"" - "$prose"
check "the persona shown is the one recorded" sh -c \
    "git -C '$T/s' show $approved:meta.json | grep -q '\"persona\": \"$persona\"'"

# review on the screen
check "a broken edit says why and offers the editor again" \
    grep -q "^e: edit again, Esc: cancel | $edited.net:[0-9]*:[0-9]*: expected an expression" "$T/edit-error"
check "the editor ran twice, the second time with the error at the top" test "$(cat "$T/edits" 2>/dev/null)" = 2
check "the edited proposal is marked with a quote" grep -q "^  ○  $edited' " "$T/edited"
check "the rejection shows in the tree" grep -q "^  ✗  $rejected .* rejected" "$T/rejected"
check "three trainings ran, tokens unchanged" \
    grep -q "^ gen 1 │ 0 pend 0 train 3 done 1 rej 0 fail │ 6.0k tok 4 req │ tui/ok:" "$T/trained"
check "next generation: four new LLM proposals, 12.0k tokens in all" sh -c \
    "grep -q '^ gen 2 │ 4 pend 0 train 0 done 0 rej 0 fail │ 12.0k tok 8 req │ tui/ok:' '$T/gen2' &&
     grep -q '^▾ generation 2: 4, 4 pending (live)' '$T/gen2' && grep -q '^▸ generation 1: 4\$' '$T/gen2' &&
     test \$(grep -c '^  ○  g2-[1-4] ' '$T/gen2') -eq 4"
check "the event log tells of the rejection" grep -q "^ $rejected rejected: the budget is for fewer parameters" "$T/events"
check "the server saw 9 requests (8 answers and one retried 500)" python3 -c "
import json, urllib.request
s = json.load(urllib.request.urlopen('http://127.0.0.1:$port/stats'))
assert s['requests'].get('$model') == 9, s['requests']
"

# the session repository holds each decision
if python3 - "$T/s" "$answers" "$model" "$approved" "$edited" "$rejected" "$approved2" >"$T/py.out" 2>&1 <<'PY'
import json, subprocess, sys
S, answers, model, a1, ed, rej, a2 = sys.argv[1:]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
def review(i):
    return json.loads(git("notes", "--ref=reviews", "show", i))
assert review(a1)["decision"] == "approved", review(a1)
assert review(a2)["decision"] == "approved", review(a2)
assert review(ed)["decision"] == "approved_edited", review(ed)
r = review(rej)
assert r["decision"] == "rejected" and r["reason"] == "the budget is for fewer parameters", r
# the edit: a commit by the researcher on top of the LLM's proposal
assert git("log", "-1", "--format=%an", ed).strip() == "Ada Researcher"
assert git("log", "-1", "--format=%an", ed + "^").strip() != "Ada Researcher"
assert "\nx = stem(x, 20)\n" in git("show", ed + ":genome.net")
assert "\nx = stem(x, 16)\n" in git("show", ed + "^:genome.net")
# every LLM proposal records its model, tokens, persona, prompt and raw answer
prog = {}
for k in range(1, 9):
    with open("%s/tui_p%d.md" % (answers, k), encoding="utf-8") as f:
        prog[f.read()] = k
got = {1: set(), 2: set()}
for g in (1, 2):
    for n in range(1, 5):
        i = "g%d-%d" % (g, n)
        meta = json.loads(git("show", i + ":meta.json"))
        assert meta["model"] == model, meta
        assert meta["tokens"]["in"] >= 1000 and meta["tokens"]["out"] >= 500, meta
        assert meta["persona"] in ("expert", "scientist", "magoo", "plain"), meta
        prompt = git("show", i + ":prompt.txt")
        assert prompt.startswith("===== attempt 1 of 3: ") and "persona " + meta["persona"] in prompt, i
        resp = git("show", i + ":response.txt").split("\n", 1)[1]
        assert resp in prog, (i, resp[:200])
        got[g].add(prog[resp])
        if g == 2:
            # every gen-2 parent descends from g0-1, the rejected one's
            # parent: the reason must reach the LLM
            assert "the budget is for fewer parameters" in prompt, (i, prompt[-1500:])
            assert "- %s (" % rej in prompt, i
assert got[1] == {1, 2, 3, 4} and got[2] == {5, 6, 7, 8}, got
for i in (a1, ed, a2):
    assert json.loads(git("notes", "--ref=results", "show", i))["val_acc"] >= 0, i
subjects = git("log", "--format=%s", "journal")
assert any(s.startswith("generation 1: 4 individuals") for s in subjects.splitlines()), subjects
PY
then ok "git: reviews, the researcher's edit, model/tokens/persona, prompts and answers, journal"
else fail "git: reviews, the researcher's edit, model/tokens/persona, prompts and answers, journal" "$(tail -n 8 "$T/py.out")"
fi
# persona_column: each gen-1 row's persona column is the recorded persona
# (cut to the column's 8 characters: "scientist" shows as "scientis")
persona_column() {
    for i in $ids; do
        p=$(sed -n "s/^  [^ ]* *$i'* *[a-z]*  *\([a-z]*\) .*/\1/p" "$T/trained")
        [ -n "$p" ] && git -C "$T/s" show "$i:meta.json" | grep -q "\"persona\": \"$p[a-z]*\"" ||
            { echo "$i: '$p'"; return 1; }
    done
}
check "the tree's persona column is the recorded persona" persona_column
check "git fsck accepts the session" git -C "$T/s" fsck --strict
