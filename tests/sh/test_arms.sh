# Several models and weighted personas in a real run: two fake LLM servers
# on two ports, one answering with valid programs, the other with programs
# that fail validation (and its repairs too). gevo.json "models" spreads
# the proposals over both by weight, "personas" keeps "plain" (weight 0)
# out; every individual records the model that answered.
. "$(dirname "$0")/lib.sh"

two_fake_llms
good="a/ok:w1,ok:w2,ok:w3,ok:w4,ok:w5,ok:w6,ok:w7,ok:w8,ok:w9,ok:w10,ok:w11,ok:w12,ok:w13,ok:w14"
bad="b/ok:bad"

edit_json "$S/gevo.json" "$url_a" "$good" "$url_b" "$bad" <<'PY'
c["models"] = [{"base_url": a[0], "model": a[1], "weight": 1},
               {"base_url": a[2], "model": a[3], "weight": 1, "temperature": 0.2}]
c["personas"] = {"expert": 2, "scientist": 1, "magoo": 1, "plain": 0}
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

# gevo stats of this run adds up across three personas and two models
expect arms_stats 0 "$GEVO" stats "$S" --json && cp "$T/out" "$T/stats.json"
if python3 - "$S" "$T/stats.json" <<'PY'
import json, subprocess, sys
S, path = sys.argv[1:]
st = json.load(open(path))
t = st["total"]
assert t["proposals"] == t["valid_first"] + t["repaired"] + t["failed"] and t["failed"] > 0, t
for k in ("proposals", "valid_first", "repaired", "failed", "trained", "tokens_in", "tokens_out"):
    for sec in ("personas", "models", "operators"):
        assert sum(v[k] for v in st[sec].values()) == t[k], (sec, k)
    assert sum(p[k] for p in st["pairs"]) == t[k], ("pairs", k)
assert len(st["models"]) == 2 and "plain" not in st["personas"], st["models"].keys()
PY
then ok arms_stats_add_up; else fail arms_stats_add_up "see above"; fi
