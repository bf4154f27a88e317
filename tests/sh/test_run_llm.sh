# gevo run against the fake LLM server on 127.0.0.1: three generations of
# the quick preset on a Fashion-MNIST subset, with streamed answers, a
# server error the client retries, and an invalid program the repair loop
# fixes. Every individual is a commit with its result; the journal has the
# three generations; every proposal records its prompt and raw answer.
. "$(dirname "$0")/lib.sh"
root=$GEVO_ROOT

# whole-program answers: quick.net with other widths, each one new
width_answers "$T/answers" 20 28 32 36 40 44 52 56 60 64 72 80

fake_llm --answers "$T/answers"
export GEVO_LLM_BACKOFF_BASE=0.01 GEVO_LLM_BACKOFF_MAX=0.02
script="run/ok:w1,500,ok:w2,ok:bad,ok:w3,ok:w4,ok:w5,ok:w6,ok:w7,ok:w8,ok:w9,ok:w10,ok:w11,ok:w12"

S="$T/s"
"$GEVO" new "$S" >/dev/null 2>"$T/err" || fail run_llm_new "$(cat "$T/err")"
"$GEVO" run "$S" --generations 3 --llm "$url" --model "$script" --subset 600 --population 3 --offspring 3 \
    --slots 2 --threads 1 >"$T/run.log" 2>&1
rc=$?
kill $spid 2>/dev/null
if [ $rc -eq 0 ] && grep -q 'done: 3 generations' "$T/run.log" && grep -q "run/ok:w1" "$T/run.log"; then
    ok run_llm_three_generations
else
    fail run_llm_three_generations "rc=$rc $(tail -n 8 "$T/run.log")"
fi

if python3 - "$S" <<'PY'
import json, subprocess, sys
S = sys.argv[1]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
tags = [t for t in git("tag", "--list").split() if t != "g0-1"]
assert len(tags) >= 8, tags                     # 9 proposals; a failed one is not written
repaired = 0
for t in tags:
    meta = json.loads(git("show", t + ":meta.json"))
    assert meta["model"].startswith("run/"), meta
    assert meta["tokens"]["in"] > 0, meta
    prompt = git("show", t + ":prompt.txt")
    response = git("show", t + ":response.txt")
    assert "```" in response and "input x: 1x28x28" in response, t
    if "attempt 2" in prompt:
        repaired += 1
        assert "shapes" in prompt, prompt[-2000:]   # the exact error went back to the LLM
    r = json.loads(git("notes", "--ref=results", "show", t))
    assert r["status"] in ("ok", "diverged", "timeout", "error"), r
assert repaired >= 1, "no repaired proposal"
gens = set()
for c in git("rev-list", "journal").split():
    gens.add(json.loads(git("show", c + ":population.json"))["generation"])
assert gens == {0, 1, 2, 3}, gens
PY
then ok run_llm_recorded; else fail run_llm_recorded "see above"; fi
git -C "$S" fsck --strict >/dev/null 2>&1 && ok run_llm_fsck || fail run_llm_fsck "fsck"
