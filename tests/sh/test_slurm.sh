# gevo run with the Slurm evaluator against a real single-node Slurm on
# 127.0.0.1 (tests/slurm/setup.sh starts it here, teardown.sh stops it by
# pid at the end). Candidates are submitted held (sbatch --hold), so the
# test can act on a job array before any task of it runs, whatever the
# speed of the machine: it cancels one task with scancel (the candidate
# must fail with that reason), then releases the rest. Then: two
# generations land in the session like the local evaluator's; the
# evaluator chosen by the session's configuration (slurm.* settings);
# Ctrl-C mid-generation and a resume that re-attaches to the jobs still in
# Slurm; bad Slurm options are refused with a clear message.
. "$(dirname "$0")/lib.sh"
root=${GEVO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SL="$T/slurm"
mkdir -p "$SL"
rel=""
trap '[ -n "$rel" ] && kill $rel 2>/dev/null; sh "$root/tests/slurm/teardown.sh" "$SL"; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
if ! sh "$root/tests/slurm/setup.sh" "$SL" >"$T/setup.log" 2>&1; then
    fail slurm_setup "$(tail -n 20 "$T/setup.log")"
    exit 1
fi
ok slurm_setup
export SLURM_CONF="$SL/slurm.conf"

RUN="--subset 300 --epochs 1 --population 3 --offspring 3 --threads 1 --seed 3"
# one task at a time (cpus=2 on a node the size of this machine would
# not fit twice on bigger ones: ask for all of them)
CPUS=$(nproc)
SOPTS="--evaluator slurm --slurm mem=300 --slurm interval=0.5 --slurm array_wait=1 --slurm cpus=$CPUS --slurm sbatch=--hold"

# Releases held jobs of this Slurm until the file $1 exists; the first job
# array it sees loses its last task to scancel (written to $2).
releaser() {
    stop=$1 cancelled=$2
    while [ ! -f "$stop" ] && [ -d "$T" ]; do
        squeue -h -r -t PD -o '%i %r' 2>/dev/null >"$T/held" || true
        if [ ! -s "$cancelled" ]; then
            last=$(awk '$1 ~ /_/ { print $1 }' "$T/held" | sort -t_ -k2 -n | tail -n 1)
            if [ -n "$last" ]; then
                scancel "$last" && echo "$last" >"$cancelled"
            fi
        fi
        for j in $(awk '$2 ~ /Held/ { print $1 }' "$T/held"); do
            scontrol release "$j" >/dev/null 2>&1 || true
        done
        sleep 0.2
    done
}

S="$T/s1"
"$GEVO" new "$S" >/dev/null 2>"$T/err" || fail slurm_new "$(cat "$T/err")"
releaser "$T/stop1" "$T/cancelled" &
rel=$!
"$GEVO" run "$S" --generations 2 $RUN $SOPTS >"$T/run.log" 2>&1
rc=$?
touch "$T/stop1"
wait $rel
rel=""
if [ $rc -eq 0 ] && grep -q 'done: 2 generations' "$T/run.log"; then ok slurm_two_generations
else fail slurm_two_generations "rc=$rc $(tail -n 8 "$T/run.log")"; fi
if [ -s "$T/cancelled" ]; then ok slurm_cancelled_a_task; else fail slurm_cancelled_a_task "no job array seen"; fi

# the same kind of session as the local evaluator's: every individual a
# commit with a result note, the journal with generations 0..2; the
# cancelled task's candidate failed with the reason; every job was
# followed to its end (collected) and the batches went out as job arrays
if python3 - "$S" "$(cat "$T/cancelled" 2>/dev/null)" <<'PY'
import json, os, subprocess, sys
S, cancelled = sys.argv[1], sys.argv[2]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
tags = git("tag", "--list").split()
assert sorted(tags) == sorted(["g0-1"] + ["g%d-%d" % (g, i) for g in (1, 2) for i in (1, 2, 3)]), tags
work = os.path.join(S, ".gevo", "work")
jobs, res = {}, {}
for t in tags:
    res[t] = json.loads(git("notes", "--ref=results", "show", t))
    d = os.path.join(work, t)
    if os.path.exists(os.path.join(d, "job.json")):
        jobs[t] = json.load(open(os.path.join(d, "job.json")))
        assert jobs[t]["engine"] == "slurm", jobs[t]
        assert os.path.exists(os.path.join(d, "collected")), t
gens = [json.loads(git("show", c + ":population.json"))["generation"]
        for c in git("rev-list", "--reverse", "journal").split()]
assert gens == [0, 1, 2], gens
victim = [t for t, j in jobs.items() if j["slurm_job"] == cancelled]
assert len(victim) == 1, (cancelled, jobs)
r = res[victim[0]]
assert r["status"] == "error" and "cancelled outside gevo" in r["message"], r
ok = [t for t in tags if res[t]["status"] == "ok"]
assert len(ok) >= 5, res
for t in ok:
    if t in jobs:
        assert res[t]["val_acc"] > 0 and res[t]["params"] > 0, res[t]
        prog = open(os.path.join(work, t, "progress.jsonl")).read()
        assert '"event":"epoch"' in prog.replace(" ", ""), t
arrays = {j["slurm_job"].split("_")[0] for j in jobs.values() if "_" in j["slurm_job"]}
assert len(arrays) >= 2, jobs
PY
then ok slurm_session_results; else fail slurm_session_results "see above"; fi
if git -C "$S" fsck --strict >"$T/fsck" 2>&1; then ok slurm_fsck; else fail slurm_fsck "$(head -n 3 "$T/fsck")"; fi
n=$(squeue -h -o %i | wc -l)
[ "$n" -eq 0 ] && ok slurm_nothing_left || fail slurm_nothing_left "$n jobs still in Slurm"

# the session's configuration chooses Slurm; Ctrl-C leaves the jobs in
# Slurm and a second run re-attaches to them
S2="$T/s2"
"$GEVO" new "$S2" >/dev/null 2>"$T/err" || fail slurm_new2 "$(cat "$T/err")"
edit_json "$S2/gevo.json" "$CPUS" <<'PY'
c["evaluator"] = "slurm"
c["slurm"] = {"mem": "300", "interval": "0.5", "array_wait": "1", "cpus": a[0], "sbatch": "--hold"}
PY
"$GEVO" run "$S2" --generations 1 $RUN >"$T/int.log" 2>&1 &
pid=$!
# interrupt once all of generation 1 is in Slurm (held: none can finish)
n=0
while [ $n -lt 600 ] && [ "$(squeue -h -r -o %i | wc -l)" -lt 4 ]; do sleep 0.1; n=$((n + 1)); done
kill -INT $pid
wait $pid
rc=$?
held=$(squeue -h -r -o %i | wc -l)
if [ $rc -eq 130 ] && [ "$held" -ge 4 ]; then ok slurm_config_and_ctrl_c
else fail slurm_config_and_ctrl_c "rc=$rc, $held jobs in Slurm: $(tail -n 5 "$T/int.log")"; fi
echo none >"$T/cancelled2" # no cancelling this time
releaser "$T/stop2" "$T/cancelled2" &
rel=$!
"$GEVO" run "$S2" --generations 1 $RUN >"$T/resume.log" 2>&1
rc=$?
touch "$T/stop2"
wait $rel
rel=""
if [ $rc -eq 0 ] && grep -q 're-attached' "$T/resume.log" && python3 - "$S2" <<'PY'
import json, subprocess, sys
S = sys.argv[1]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
tags = git("tag", "--list").split()
assert sorted(tags) == ["g0-1", "g1-1", "g1-2", "g1-3"], tags
for t in tags:
    r = json.loads(git("notes", "--ref=results", "show", t))
    assert r["status"] == "ok", (t, r)
PY
then ok slurm_resume_reattaches; else fail slurm_resume_reattaches "rc=$rc $(tail -n 8 "$T/resume.log")"; fi
n=$(squeue -h -o %i | wc -l)
[ "$n" -eq 0 ] && ok slurm_nothing_left_after_resume || fail slurm_nothing_left_after_resume "$n jobs in Slurm"

# bad options: a clear message, exit status 1, nothing submitted
"$GEVO" run "$S" --generations 3 $RUN --evaluator slurm --slurm bogus=1 >"$T/bad1" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "unknown Slurm option 'bogus'" "$T/bad1" && ok slurm_unknown_option ||
    fail slurm_unknown_option "rc=$rc $(cat "$T/bad1")"
"$GEVO" run "$S" --generations 3 $RUN --evaluator slurm --slurm sbatch=--output=x >"$T/bad2" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q -- "--output is set by gevo" "$T/bad2" && ok slurm_owned_sbatch_option ||
    fail slurm_owned_sbatch_option "rc=$rc $(cat "$T/bad2")"
SLURM_CONF="$T/none.conf" timeout 60 "$GEVO" run "$S" --generations 3 $RUN --evaluator slurm >"$T/bad3" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "cannot reach slurmctld" "$T/bad3" && ok slurm_unreachable ||
    fail slurm_unreachable "rc=$rc $(cat "$T/bad3")"

# every unambiguous prefix and short form of an option gevo sets is
# refused too (sbatch's getopt_long would take --outp for --output)
for word in --outp=x --o=x -ox -Hox -e=x --exp=ALL --export-file=f --get-user --job=n --chd=/; do
    timeout 60 "$GEVO" run "$S" --generations 3 $RUN --evaluator slurm --slurm "sbatch=--hold $word" \
        >"$T/bad4" 2>&1
    rc=$?
    if [ $rc -ne 1 ] || ! grep -q -- "--[a-z-]* is set by gevo .*'$word' names it" "$T/bad4"; then
        fail slurm_owned_prefix_refused "$word: rc=$rc $(cat "$T/bad4")"
        word=""
        break
    fi
done
[ -n "$word" ] && ok slurm_owned_prefix_refused

# a '%' in the session's path (sbatch expands %j, %x... in --output and
# --error) and API keys in gevo run's environment: each candidate's output
# lands in its own folder, and no key is in a job's environment or in
# Slurm's saved job state
S3="$T/p%j%x"
"$GEVO" new "$S3" >/dev/null 2>&1
OPENAI_API_KEY=sk-slurm-secret-31 GEVO_LLM_API_KEY=sk-slurm-secret-32 \
    "$GEVO" run "$S3" --generations 1 --subset 300 --epochs 1 --population 2 --offspring 2 \
    --threads 1 --seed 3 --evaluator slurm --slurm mem=300 --slurm interval=0.5 \
    --slurm array_wait=1 --slurm cpus=$CPUS --slurm 'setup=env >job_env.txt' >"$T/pct.log" 2>&1
rc=$?
if [ $rc -eq 0 ] && python3 - "$S3" "$SL" <<'PY'
import json, os, subprocess, sys
S, SL = sys.argv[1], sys.argv[2]
def git(*a):
    return subprocess.run(["git", "-C", S] + list(a), check=True, capture_output=True, text=True).stdout
tags = sorted(git("tag", "--list").split())
assert tags == ["g0-1", "g1-1", "g1-2"], tags
for t in tags:
    r = json.loads(git("notes", "--ref=results", "show", t))
    assert r["status"] == "ok", (t, r)
    d = os.path.join(S, ".gevo", "work", t)
    assert '"event"' in open(os.path.join(d, "progress.jsonl")).read(), t
    env = open(os.path.join(d, "job_env.txt")).read()
    assert "sk-slurm-secret" not in env and "GEVO_LLM_API_KEY" not in env, env
    assert "PATH=" in env, env
for root, _, files in os.walk(os.path.join(SL, "state")):
    for f in files:
        with open(os.path.join(root, f), "rb") as fh:
            assert b"sk-slurm-secret" not in fh.read(), os.path.join(root, f)
PY
then ok slurm_percent_path_and_no_key; else fail slurm_percent_path_and_no_key "rc=$rc $(tail -n 5 "$T/pct.log")"; fi

# teardown stops exactly what setup started
sh "$root/tests/slurm/teardown.sh" "$SL"
left=""
for p in $(awk '{ print $2 }' "$SL/pids.done" 2>/dev/null); do kill -0 "$p" 2>/dev/null && left="$left $p"; done
[ -z "$left" ] && ok slurm_teardown || fail slurm_teardown "still running:$left"
