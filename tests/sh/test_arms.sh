# Several models and weighted personas in a real run: two fake LLM servers
# on two ports, one answering with valid programs, the other with programs
# that fail validation (and its repairs too). gevo.json "models" spreads
# the proposals over both by weight, "personas" keeps "plain" (weight 0)
# out; every individual records the model that answered.
. "$(dirname "$0")/lib.sh"

width_answers "$T/answers" 20 28 32 36 40 44 52 56 60 64 72 80 88 96 104 112 120 128 136 144

fake_llm --answers "$T/answers"
url_a=$url spid_a=$spid
fake_llm --answers "$T/answers"
url_b=$url spid_b=$spid
trap 'kill "$spid_a" "$spid_b" 2>/dev/null; rm -rf "$T"' EXIT
good="a/ok:w1,ok:w2,ok:w3,ok:w4,ok:w5,ok:w6,ok:w7,ok:w8,ok:w9,ok:w10,ok:w11,ok:w12,ok:w13,ok:w14"
bad="b/ok:bad"

S="$T/s"
"$GEVO" new "$S" >/dev/null 2>"$T/err" || fail arms_new "$(cat "$T/err")"
python3 - "$S/gevo.json" "$url_a" "$good" "$url_b" "$bad" <<'PY'
import json, sys
p, ua, ma, ub, mb = sys.argv[1:]
c = json.load(open(p))
c["models"] = [{"base_url": ua, "model": ma, "weight": 1},
               {"base_url": ub, "model": mb, "weight": 1, "temperature": 0.2}]
c["personas"] = {"expert": 2, "scientist": 1, "magoo": 1, "plain": 0}
json.dump(c, open(p, "w"), indent=2)
PY
"$GEVO" run "$S" --generations 2 --subset 600 --population 3 --offspring 4 --slots 2 --threads 1 \
    >"$T/run.log" 2>&1
rc=$?
[ $rc -eq 0 ] && ok arms_run || fail arms_run "rc=$rc $(tail -n 8 "$T/run.log")"

if python3 - "$S" "$url_a" "$url_b" <<'PY'
import json, subprocess, sys, urllib.request
S, ua, ub = sys.argv[1:]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
tags = [t for t in git("tag", "--list").split() if t != "g0-1"]
assert tags, "no individual"
for t in tags:
    meta = json.loads(git("show", t + ":meta.json"))
    assert meta["persona"] != "plain", meta        # weight 0: never drawn
    assert meta["model"].startswith("a/"), meta    # only the good model's answers validate
def asked(u):
    stats = json.load(urllib.request.urlopen(u[:-3] + "/stats"))
    return sum(stats["requests"].values())
na, nb = asked(ua), asked(ub)
assert na > 0 and nb > 0, (na, nb)                 # both models were asked
PY
then ok arms_both_models_used; else fail arms_both_models_used "see above"; fi
