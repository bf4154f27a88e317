# From a session to a result, end to end on Fashion-MNIST subsets: the
# noise measurement and its note, promotion to a higher rung (the rung in
# the result note, gevo log and export), gevo confirm (notes, weights
# outside git, resumed after SIGKILL of the real process), gevo report in
# every format; the workbench's header, tree and report view.
. tests/sh/lib_tui.sh
S="$T/s"
"$GEVO" new "$S" >/dev/null 2>"$T/err" || fail results_new "$(cat "$T/err")"
edit_json "$S/gevo.json" <<'PY'
c["noise_seeds"] = "2"
PY
"$GEVO" run "$S" --generations 1 --population 3 --offspring 3 --slots 2 --threads 1 --seed 3 \
    --rungs 600:1,1200:1 >"$T/run.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'noise measured' "$T/run.log" && grep -q 'promoted to rung 1' "$T/run.log"
then ok results_run_noise_and_promotion; else fail results_run_noise_and_promotion "rc=$rc $(tail -n 5 "$T/run.log")"; fi

# the noise note on the seed, a promoted result with its rungs, the log
if python3 - "$S" <<'PY'
import json, subprocess, sys
S = sys.argv[1]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
n = json.loads(git("notes", "--ref=noise", "show", "g0-1"))
assert n["noise_seeds"] == 2 and n["complete"] and len(n["runs"]) == 2, n
assert n["fidelity"] == {"images": 600, "epochs": 1}, n
assert n["seeds"] == [4, 5], n  # the selection's seed (3) + 1 ...
assert all(r["status"] == "ok" for r in n["runs"]) and n["std"] >= 0, n
promoted = 0
notes = dict(l.split()[::-1] for l in git("notes", "--ref=results", "list").splitlines())
for t in git("tag", "--list").split():
    c = git("rev-parse", t + "^{commit}").strip()
    if c not in notes:
        continue  # a proposal of the next generation, not trained
    r = json.loads(git("notes", "--ref=results", "show", t))
    if r.get("rung") == 1:
        promoted += 1
        assert [x["rung"] for x in r["rungs"]] == [0, 1], r
        assert r["images"] > 600, r
assert promoted >= 1, "nothing at rung 1"
PY
then ok results_notes; else fail results_notes "see above"; fi
# a promoted individual's kept weights are its promotion's (the training
# behind its result note): they give the test accuracy and loss of the same
# program retrained at rung 1 (600 -> 1200 images, seed 3, one thread), not
# those of its screening
P=$(python3 - "$S" <<'PY'
import json, subprocess, sys
S = sys.argv[1]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), capture_output=True, text=True).stdout
for t in sorted(git("tag", "--list").split()):
    r = git("notes", "--ref=results", "show", t)
    if r and json.loads(r).get("rung") == 1:
        print(t)
        break
PY
)
git -C "$S" show "$P:genome.net" >"$T/p.net" 2>"$T/err"
for f in 600 1200; do
    "$GEVO" train "$T/p.net" --subset $f --epochs 1 --seed 3 --threads 1 --no-test --quiet \
        --weights "$T/p$f.weights" >/dev/null 2>>"$T/err"
    "$GEVO" eval "$T/p.net" "$T/p$f.weights" --threads 1 >"$T/p$f.eval" 2>>"$T/err"
done
"$GEVO" eval "$T/p.net" "$S/.gevo/weights/$P.weights" --threads 1 >"$T/pkept.eval" 2>>"$T/err"
if [ -n "$P" ] && python3 - "$T" <<'PY'
import json, sys
T = sys.argv[1]
kept, r0, r1 = ([json.load(open(f"{T}/p{x}.eval"))[k] for k in ("test_acc", "test_loss")]
                for x in ("kept", "600", "1200"))
assert kept == r1, (kept, r1)
assert kept != r0, (kept, r0)  # the screening's weights would not do
PY
then ok results_promoted_weights_kept
else fail results_promoted_weights_kept "P=$P $(cat "$T/err" "$T"/p*.eval 2>/dev/null | tail -n 8)"; fi
if ls "$S"/.gevo/work/*.weights >/dev/null 2>&1; then
    fail results_promotion_weights_moved "$(ls "$S"/.gevo/work/*.weights)"
else ok results_promotion_weights_moved; fi
"$GEVO" log "$S" >"$T/log" 2>&1
check "log: the noise line" grep -q '^noise: g0-1 trained 2 times (600 images, 1 epoch): val .*±' "$T/log"
check "log: a screening accuracy with the noise" grep -q ' ok  *[0-9.]*% ±[0-9.]* ' "$T/log"
check "log: a promoted accuracy with its rung" grep -q ' ok  *[0-9.]*% r1 ' "$T/log"
"$GEVO" export "$S" --json >"$T/export.json" 2>&1
check "export: every individual's rung" python3 -c "
import json; d = json.load(open('$T/export.json'))
rs = [i['rung'] for i in d['individuals'] if i['status'] == 'ok']
assert rs and set(rs) <= {0, 1} and 1 in rs, rs"

# confirm: killed (SIGKILL) once a run has ended, resumed
CONF="--images 2000 --epochs 1 --seeds 2 --slots 2 --threads 1"
"$GEVO" confirm "$S" g0-1 g1-1 $CONF >"$T/c1.log" 2>&1 &
pid=$!
n=0
while [ $n -lt 1200 ] && ! grep -q 'seed [12]: val' "$T/c1.log"; do sleep 0.1; n=$((n + 1)); done
kill -9 $pid
wait $pid 2>/dev/null
saved=$(grep -c 'seed [12]: val' "$T/c1.log")
"$GEVO" confirm "$S" g0-1 g1-1 $CONF >"$T/c2.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$saved" -ge 1 ] && grep -q "4 runs, [1-4] saved already" "$T/c2.log" &&
    grep -q 'g0-1 confirmed' "$T/c2.log" && grep -q 'g1-1 confirmed' "$T/c2.log"
then ok results_confirm_killed_and_resumed
else fail results_confirm_killed_and_resumed "rc=$rc saved=$saved $(cat "$T/c1.log" "$T/c2.log" | tail -n 12)"; fi
if python3 - "$S" <<'PY'
import json, os, subprocess, sys
S = sys.argv[1]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
for t in ("g0-1", "g1-1"):
    c = json.loads(git("notes", "--ref=confirm", "show", t))
    assert c["fidelity"] == {"images": 2000, "epochs": 1} and c["seeds"] == [1, 2], c
    assert c["complete"] and c["n"] == 2 and sorted(r["seed"] for r in c["runs"]) == [1, 2], c
    for r in c["runs"]:
        assert r["status"] == "ok" and 0 <= r["test_acc"] <= 1, r
        w = os.path.join(S, r["weights"])
        assert os.path.getsize(w) > 1000, w
    import statistics
    assert abs(c["test_mean"] - statistics.mean(r["test_acc"] for r in c["runs"])) < 1e-12, c
# the weights stay out of git
assert git("status", "--porcelain", "--ignored=no") == "", git("status", "--porcelain")
tree = git("ls-tree", "-r", "--name-only", "journal")
assert ".gevo" not in tree, tree
PY
then ok results_confirm_notes_and_weights; else fail results_confirm_notes_and_weights "see above"; fi
# export --confirmed: the confirm run with the best validation accuracy
expect "export --confirmed exits 0" 0 "$GEVO" export "$S" g1-1 --torch "$T/xc" --confirmed &&
    check "export --confirmed: the weights of the run with the best validation accuracy" \
        python3 - "$S" "$T/xc" "$T/out" <<'PY'
import filecmp, json, os, subprocess, sys
S, X, out = sys.argv[1:4]
c = json.loads(subprocess.run(["git", "-C", S, "notes", "--ref=confirm", "show", "g1-1"],
                              check=True, capture_output=True, text=True).stdout)
best = max(c["runs"], key=lambda r: r["val_acc"])
assert filecmp.cmp(os.path.join(S, best["weights"]), os.path.join(X, "gevo.weights"), shallow=False)
assert "confirm run with seed %d" % best["seed"] in open(out).read(), open(out).read()
doc = open(os.path.join(X, "model.py")).read()
assert "Its result (confirmed): validation accuracy %.4f" % best["val_acc"] in doc, doc[:600]
PY
expect "export --confirmed of an unconfirmed individual fails (status 1)" 1 \
    "$GEVO" export "$S" g1-2 --torch "$T/xc2" --confirmed &&
    check "it says to confirm it" grep -q 'g1-2 has not been confirmed' "$T/out"
expect "export --confirmed with --train is a usage error (status 2)" 2 \
    "$GEVO" export "$S" g1-1 --torch "$T/xc3" --confirmed --train
expect "confirm at another fidelity is refused (status 1)" 1 "$GEVO" confirm "$S" g0-1 --images 3000 --seeds 2 &&
    check "it says at which it was" grep -q 'g0-1 was confirmed at 2000 images, 1 epoch' "$T/out"
expect "confirm of an unknown id fails (status 1)" 1 "$GEVO" confirm "$S" g9-9 &&
    check "it names the id" grep -q 'g9-9' "$T/out"
expect "confirm --seeds 1 is a usage error (status 2)" 2 "$GEVO" confirm "$S" --seeds 1

# report
expect "report exits 0" 0 "$GEVO" report "$S" && cp "$T/out" "$T/report"
check "report: the seed first, then g1-1, and the test named" sh -c \
    "grep -q '^g0-1 *seed ' '$T/report' && grep -q '^g1-1 ' '$T/report' && grep -q \"Welch's t-test\" '$T/report'"
"$GEVO" report "$S" --json >"$T/report.json" 2>"$T/err"
check "report --json: the schema" python3 - "$T/report.json" "$S" <<'PY'
import json, subprocess, sys, statistics
d = json.load(open(sys.argv[1]))
S = sys.argv[2]
assert set(d) == {"seed", "rows"} and d["seed"] == "g0-1", d
assert [r["id"] for r in d["rows"]] == ["g0-1", "g1-1"], d
for r in d["rows"]:
    for k in ("id", "label", "params", "seeds", "val_mean", "val_std", "test_mean", "test_std",
              "delta_test", "beyond_noise", "generation", "operator", "persona"):
        assert k in r, (k, r)
    c = json.loads(subprocess.run(["git", "-C", S, "notes", "--ref=confirm", "show", r["id"]],
                                  check=True, capture_output=True, text=True).stdout)
    tests = [x["test_acc"] for x in c["runs"]]
    assert abs(r["test_mean"] - statistics.mean(tests)) < 1e-9, r
    assert abs(r["test_std"] - statistics.stdev(tests)) < 1e-9, r
seed, other = d["rows"]
assert seed["label"] == "seed" and seed["delta_test"] == 0, seed
assert abs(other["delta_test"] - 100 * (other["test_mean"] - seed["test_mean"])) < 1e-9, other
# L: at no more parameters than the seed; M: at least the seed's accuracy
want = []
if other["params"] <= seed["params"]:
    want.append("L")
if other["test_mean"] >= seed["test_mean"]:
    want.append("M")
assert other["label"] == ",".join(want), (other, want)
assert isinstance(other["beyond_noise"], bool), other
PY
"$GEVO" report "$S" --csv >"$T/report.csv" 2>&1
check "report --csv: a header and two rows" sh -c \
    "test \$(wc -l <'$T/report.csv') -eq 3 && head -1 '$T/report.csv' | grep -q '^id,label,params,'"
"$GEVO" report "$S" --markdown >"$T/report.md" 2>&1
check "report --markdown: a table" sh -c "grep -q '^| id | label |' '$T/report.md' && grep -q '^| g1-1 |' '$T/report.md'"
expect "report with two formats is a usage error (status 2)" 2 "$GEVO" report "$S" --csv --json &&
    check "it says to choose one" grep -q 'choose one of --markdown, --csv and --json' "$T/out"
S2="$T/s2"
"$GEVO" new "$S2" >/dev/null 2>&1
expect "report of an unconfirmed session fails (status 1)" 1 "$GEVO" report "$S2" &&
    check "it says to run gevo confirm" grep -q 'gevo confirm' "$T/out"

# the workbench: the noise in the header and the tree, the report view
cat >"$T/kw" <<EOF
:dump $T/wb-head
f
:dump $T/wb-tree
T
:dump $T/wb-report
EOF
tui "the workbench on the confirmed session exits 0" 120 40 "$T/kw" "$S" --llm none --rungs 1
check "workbench header: the noise" grep -q '^ gevo s .* noise ±[0-9.]* ' "$T/wb-head"
# the front (f): each member's accuracy with the noise (screening) or its rung
check "workbench tree: accuracy with the noise or the rung" \
    grep -q ' g[0-9]*-[0-9]* .* [0-9.]*% \(±[0-9.]*\|r1\) ' "$T/wb-tree"
check "workbench report view: the table and the plot" sh -c \
    "grep -q 'Result table: confirmed at 2000 images, 1 epoch;' '$T/wb-report' &&
     grep -q '^ g0-1 *seed ' '$T/wb-report' && grep -q 'confirmed front: mean test accuracy' '$T/wb-report'"

# keep_weights "front": a generation's close prunes the weights off the
# front, but not gevo confirm's runs nor the confirmed individuals' own
python3 - "$S/gevo.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["keep_weights"] = "front"; json.dump(c, open(sys.argv[1], "w"))
PY
"$GEVO" run "$S" --generations 2 --population 3 --offspring 3 --slots 2 --threads 1 --seed 3 \
    --rungs 600:1 >"$T/run2.log" 2>&1
rc=$?
front=$(git -C "$S" show journal:front.json | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["front"]))')
missing=""
for f in g0-1 g0-1.confirm-1 g0-1.confirm-2 g1-1 g1-1.confirm-1 g1-1.confirm-2; do
    [ -f "$S/.gevo/weights/$f.weights" ] || missing="$missing $f"
done
pruned=0
for id in $(git -C "$S" tag --list); do
    case " $front g0-1 g1-1 " in *" $id "*) ;; *) [ -e "$S/.gevo/weights/$id.weights" ] || pruned=$((pruned + 1)) ;; esac
done
if [ $rc -eq 0 ] && [ -z "$missing" ] && [ $pruned -gt 0 ]; then ok results_prune_keeps_confirmed
else fail results_prune_keeps_confirmed "rc=$rc front: $front; missing:$missing; pruned $pruned $(tail -n 3 "$T/run2.log")"; fi

# a kill during the noise measurement: the next run resumes it (the run
# saved is kept and not counted twice, the others collected), and only
# then does generation 1 close. GEVO_TEST_STOP_AT stops the first run
# right after the first of its three noise runs is saved (before it is
# marked collected): killed there, whatever the speed of the machine (a
# kill timed on the log came after all three had ended once the engine
# got fast enough)
S3="$T/kn"
"$GEVO" new "$S3" >/dev/null 2>&1
GEVO_TEST_STOP_AT=noise-note "$GEVO" run "$S3" --generations 1 --subset 600 --population 2 \
    --offspring 2 --seed 3 >"$T/kn1.log" 2>&1 &
pid=$!
n=0
while [ $n -lt 3000 ] && [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" != T ]; do
    sleep 0.1
    n=$((n + 1))
done
stopped=$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)
kill -9 $pid
wait $pid 2>/dev/null
before=$(git -C "$S3" notes --ref=noise show g0-1 2>/dev/null | python3 -c "import json,sys; print(len(json.load(sys.stdin)['runs']))")
"$GEVO" run "$S3" --generations 1 --subset 600 --population 2 --offspring 2 --seed 3 >"$T/kn2.log" 2>&1
rc=$?
after=$(git -C "$S3" notes --ref=noise show g0-1 | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert d['complete'] and d['seeds'] == [4, 5, 6] and sorted(r['seed'] for r in d['runs']) == [4, 5, 6], d
print(len(d['runs']))")
if [ "$stopped" = T ] && [ $rc -eq 0 ] && [ "$before" = 1 ] && [ "$after" = 3 ] &&
    grep -q 'noise measured' "$T/kn2.log" && grep -q 'done: 1 generation' "$T/kn2.log"
then ok results_noise_killed_and_resumed
else fail results_noise_killed_and_resumed "state=$stopped rc=$rc before=$before after=$after $(tail -n 5 "$T/kn2.log")"; fi
