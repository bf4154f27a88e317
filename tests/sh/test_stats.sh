# gevo stats and the bandit in a real run: two fake LLM servers on two
# ports, model a answering with valid programs, model b mostly with one
# that fails validation (and its repairs). With "policy": "bandit" the
# proposals move towards a; gevo stats counts every proposal, failed ones
# too, and its numbers add up: proposals = valid + failed, the personas',
# models', operators' and pairs' sums are the total, the tokens are what
# the servers were asked.
. "$(dirname "$0")/lib.sh"

two_fake_llms
good="a/ok:w1,ok:w2,ok:w3,ok:w4,ok:w5,ok:w6,ok:w7,ok:w8,ok:w9,ok:w10,ok:w11,ok:w12,ok:w13,ok:w14"
bad="b/ok:bad,ok:bad,ok:bad,ok:w15,ok:bad,ok:bad,ok:bad,ok:bad,ok:bad,ok:bad,ok:bad,ok:bad,ok:bad"

edit_json "$S/gevo.json" "$url_a" "$good" "$url_b" "$bad" <<'PY'
c["models"] = [{"base_url": a[0], "model": a[1]}, {"base_url": a[2], "model": a[3]}]
# one persona: two arms, so that three generations show the bandit's choice
c["personas"] = {"expert": 1, "scientist": 0, "magoo": 0, "plain": 0}
c["policy"] = "bandit"
PY
"$GEVO" run "$S" --generations 3 --subset 600 --population 3 --offspring 4 --slots 2 --threads 1 \
    >"$T/run.log" 2>&1
rc=$?
[ $rc -eq 0 ] && ok stats_bandit_run || fail stats_bandit_run "rc=$rc $(tail -n 8 "$T/run.log")"

expect stats_json 0 "$GEVO" stats "$S" --json && cp "$T/out" "$T/stats.json"
expect stats_text 0 "$GEVO" stats "$S" && grep -q "proposals:.*failed" "$T/out" && ok stats_text_says ||
    fail stats_text_says "$(head -n 3 "$T/out")"

if python3 - "$S" "$T/stats.json" "$url_a" "$url_b" "$good" "$bad" <<'PY'
import json, subprocess, sys, urllib.request
S, path, ua, ub, good, bad = sys.argv[1:]
st = json.load(open(path))
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
tags = [t for t in git("tag", "--list").split() if t != "g0-1"]
failed = [r for r in git("for-each-ref", "--format=%(refname)", "refs/failed/").split()]
t = st["total"]
assert t["proposals"] == len(tags) + len(failed), (t, len(tags), len(failed))
assert t["proposals"] == t["valid_first"] + t["repaired"] + t["failed"], t
assert t["failed"] == len(failed) and t["failed"] > 0, t
keys = ["proposals", "valid_first", "repaired", "failed", "approved", "edited", "rejected",
        "trained", "improved", "front", "tokens_in", "tokens_out"]
for k in keys:
    for sec in ("personas", "models", "operators"):
        s = sum(v[k] for v in st[sec].values())
        assert s == t[k], (sec, k, s, t[k])
    assert sum(p[k] for p in st["pairs"]) == t[k], ("pairs", k)
assert set(st["models"]) == {good, bad}, list(st["models"])
assert list(st["personas"]) == ["expert"], list(st["personas"])
# every request the servers answered is counted (the fake server reports
# 1000 prompt and 500 completion tokens for each)
def asked(u):
    return sum(json.load(urllib.request.urlopen(u[:-3] + "/stats"))["requests"].values())
n = asked(ua) + asked(ub)
assert t["tokens_in"] == 1000 * n and t["tokens_out"] == 500 * n, (t["tokens_in"], n)
# the bandit moved towards model a after the first generation
later = {good: 0, bad: 0}
for tag in tags:
    m = json.loads(git("show", tag + ":meta.json"))
    if m["generation"] >= 2:
        later[m["model"]] += 1
for r in failed:
    m = json.loads(git("show", r + ":meta.json"))
    assert m["status"] == "failed" and m["error"], m
    if m["generation"] >= 2:
        later[m["model"]] += 1
assert later[good] > later[bad], later
print("later generations:", later)
PY
then ok stats_add_up_and_bandit; else fail stats_add_up_and_bandit "see above"; fi

# "improved" is beyond the noise selection uses (core/noise.h): the
# measured noise's 2 sd; gevo.json epsilon as a number sets it; a value of
# another type is refused by name
check "stats: the noise tolerance is selection's, from the measured noise" python3 - "$S" "$T/stats.json" <<'PY'
import json, subprocess, sys
S, path = sys.argv[1:]
st = json.load(open(path))
n = json.loads(subprocess.run(["git", "-C", S, "notes", "--ref=noise", "show", "g0-1"],
                              check=True, capture_output=True, text=True).stdout)
assert n["complete"] and n["std"] > 0, n
assert abs(st["noise"] - 2 * n["std"]) < 1e-9 and "2 sd of" in st["noise_how"], (st["noise"], st["noise_how"], n)
PY
cp "$S/gevo.json" "$T/gevo.json.kept"
edit_json "$S/gevo.json" <<'PY'
c["epsilon"] = 0.02
PY
expect "stats with epsilon 0.02 (a JSON number) exits 0" 0 "$GEVO" stats "$S" --json &&
    check "it is the tolerance" python3 -c "
import json; d = json.load(open('$T/out')); assert d['noise'] == 0.02 and 'epsilon 0.02' in d['noise_how'], d"
edit_json "$S/gevo.json" <<'PY'
c["epsilon"] = True
PY
expect "stats with epsilon true fails (status 1)" 1 "$GEVO" stats "$S" &&
    check "it names the key" grep -q 'gevo.json epsilon' "$T/out"
cp "$T/gevo.json.kept" "$S/gevo.json"

# the workbench shows the same table as a view (S, from the key table)
: >"$T/empty"
printf ':wait-idle\nS\n:dump %s\nq\n' "$T/statsview" >"$T/keys"
env COLUMNS=200 LINES=50 TERM=xterm-256color LANG=C.UTF-8 HOME="$T" GEVO_TUI_SCRIPT="$T/keys" \
    "$GEVO" open "$S" --llm none <"$T/empty" >"$T/tui.out" 2>&1
rc=$?
"$GEVO" stats "$S" >"$T/stats.txt" 2>&1
if [ $rc -eq 0 ] && [ -f "$T/statsview" ] && grep -q "Proposals per persona, model, operator" "$T/statsview" &&
    grep -qF "$(head -n 1 "$T/stats.txt" | cut -c1-60)" "$T/statsview" && grep -q "MODEL / PERSONA" "$T/statsview"; then
    ok stats_workbench_view
else
    fail stats_workbench_view "rc=$rc $(head -n 5 "$T/tui.out") $(head -n 8 "$T/statsview" 2>/dev/null)"
fi
