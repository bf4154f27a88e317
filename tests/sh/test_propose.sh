# gevo propose from the command line: offline (no LLM configured, --llm
# none) and against the fake LLM server; what it prints, what it records
# (read back with plain git), clear errors that leave the session as it was.
. tests/sh/lib.sh
root=$(pwd)
export GEVO_DATADIR="$T/share"
mkdir -p "$T/share" "$T/data"
ln -s "$root/engine/nets" "$T/share/nets"
ln -s "$root/prompts" "$T/share/prompts"
unset GEVO_LLM_MODEL GEVO_LLM_BASE_URL
s="$T/s"
"$GEVO" new "$s" --seed "$root/tests/fixtures/answers/parent.net" --data "$T/data" >/dev/null 2>&1 \
    || fail "setup" "gevo new failed"
# the individuals, notes and journal (failed proposals, refs/failed/, aside)
refs() { git -C "$s" for-each-ref --format='%(refname) %(objectname)' refs/tags refs/heads refs/notes; }

# -- offline ------------------------------------------------------------------
"$GEVO" propose "$s" --seed 3 >"$T/out" 2>&1
check "offline mutation succeeds" test $? -eq 0
check "it names the new individual" grep -q "^proposal g1-1: mutation of g0-1" "$T/out"
check "it says no LLM took part" grep -q "random mutation (no LLM)" "$T/out"
check "it prints the validation result" grep -q "^validation: ok, [0-9]* parameters (parent 16164" "$T/out"
check "it prints the diff against the parent" grep -q "^+++ b/genome.net" "$T/out"
check "git has the individual" sh -c "git -C '$s' show g1-1:reasoning.md | grep -q 'No LLM took part'"
check "its commit's parent is the seed" \
    sh -c "test \"\$(git -C '$s' rev-parse g1-1^)\" = \"\$(git -C '$s' rev-parse g0-1)\""
expect "a given gene: status 0" 0 "$GEVO" propose "$s" --llm none --parent g0-1 --gene head --seed 5 &&
    check "a given gene is the one mutated" grep -q "block \`head\`" "$T/out"
check "the same seed twice gives the same genome" sh -c \
    "'$GEVO' propose '$s' --seed 3 --parent g0-1 >/dev/null 2>&1 && test \"\$(git -C '$s' rev-parse g1-1:genome.net)\" = \"\$(git -C '$s' rev-parse g1-3:genome.net)\""
expect "offline crossover: status 0" 0 "$GEVO" propose "$s" --operator crossover --parent g0-1 --parent g1-2
check "offline crossover swaps a block of the second parent in" \
    grep -q "^proposal g1-4: crossover of g0-1 and g1-2, block \`head\`" "$T/out"
check "its commit has both parents" sh -c "git -C '$s' rev-list --parents -n 1 g1-4 | awk '{exit NF != 3}'"

before=$(refs)
"$GEVO" propose "$s" --operator eot >"$T/out" 2>&1
check "EoT offline fails with status 1" test $? -eq 1
check "EoT offline says it needs an LLM" grep -q "EoT needs an LLM" "$T/out"
expect "an unknown gene: status 1" 1 "$GEVO" propose "$s" --gene nope --llm none
check "an unknown gene is a clear error" grep -q "no gene \`nope\`" "$T/out"
check "failed proposals leave the refs as they were" test "$before" = "$(refs)"
"$GEVO" propose "$s" --operator sideways >"$T/out" 2>&1
check "a bad operator is a usage error" test $? -eq 2
"$GEVO" propose >"$T/out" 2>&1
check "a missing session is a usage error" test $? -eq 2
expect "a folder that is not a session: status 1" 1 "$GEVO" propose "$T/none"
check "a folder that is not a session fails clearly" grep -q "not a gevo session" "$T/out"
expect "propose --help: status 0" 0 "$GEVO" propose --help &&
    check "propose --help describes the LLM settings" grep -q GEVO_LLM_BASE_URL "$T/out"

# -- against the fake LLM server ----------------------------------------------
fake_llm
export GEVO_LLM_BACKOFF_BASE=0.001 GEVO_LLM_BACKOFF_MAX=0.002 GEVO_LLM_MAX_ATTEMPTS=2

"$GEVO" propose "$s" --llm "$url" --model "sh/ok:20_invalid_shapes,ok:17_helper_def" \
    --parent g0-1 --gene block --persona scientist --verbose >"$T/out" 2>&1
check "LLM proposal with one repair succeeds" test $? -eq 0
check "it reports the model and two attempts" grep -q "^model sh/ok:20_invalid_shapes,ok:17_helper_def: 2 attempts, 2000 tokens in" "$T/out"
check "the diff shows the new helper block" grep -q "^+def dwsep(x, c):" "$T/out"
check "the reasoning is printed" grep -q "depthwise-separable" "$T/out"
check "--verbose prints the repair prompt" grep -q "===== attempt 2 of 3: repair" "$T/out"
id=$(sed -n 's/^proposal \(g[0-9]*-[0-9]*\):.*/\1/p' "$T/out")
check "git has both prompts" sh -c "git -C '$s' show $id:prompt.txt | grep -q 'attempt 2 of 3: repair'"
check "git has both raw answers" sh -c "git -C '$s' show $id:response.txt | grep -q 'Add a residual connection'"
check "the persona is recorded" sh -c "git -C '$s' show $id:meta.json | grep -q '\"persona\": \"scientist\"'"

# the session configuration is used when no flag is given
sed 's|"model": ""|"model": "cfg/ok:01_plain_fence"|; s|"base_url": "[^"]*"|"base_url": "'"$url"'"|' \
    "$s/gevo.json" >"$T/g.json" && cp "$T/g.json" "$s/gevo.json"
expect "the session's LLM settings: status 0" 0 "$GEVO" propose "$s" --parent g0-1 --gene se
check "the model comes from gevo.json" grep -q "^model cfg/ok:01_plain_fence: 1 attempt" "$T/out"
expect "GEVO_LLM_MODEL: status 0" 0 env GEVO_LLM_MODEL="env/ok:05_prose_after" "$GEVO" propose "$s" --parent g0-1 --gene head
check "GEVO_LLM_MODEL overrides gevo.json" grep -q "^model env/ok:05_prose_after" "$T/out"

# failed proposals are no individuals: refs/failed/gGEN-fN only
before=$(refs)
"$GEVO" propose "$s" --llm "$url" --model "shf/ok:12_prose_only" --parent g0-1 --gene se >"$T/out" 2>&1
check "answers without code fail with status 1" test $? -eq 1
check "the final error says how many attempts" grep -q "no valid proposal after 3 attempts" "$T/out"
check "it says where the failure is recorded" grep -q "^recorded as failed proposal g1-f1 (git log refs/failed/g1-f1)" "$T/out"
"$GEVO" propose "$s" --llm "$url" --model "sh5/500" --parent g0-1 --gene se >"$T/out" 2>&1
check "server errors fail with status 1" test $? -eq 1
check "the error names the HTTP failure" grep -q "the LLM request failed" "$T/out"
check "failed LLM proposals leave the individuals as they were" test "$before" = "$(refs)"
check "each failed LLM proposal is recorded as one" \
    test "$(git -C "$s" for-each-ref --format='%(refname)' refs/failed | wc -l)" -eq 2
check "a failed proposal keeps its error" sh -c \
    "git -C '$s' show refs/failed/g1-f1:meta.json | grep -q 'no valid proposal after 3 attempts'"
g1f1=refs/failed/g1-f1
check "the record holds every prompt and every raw answer" sh -c \
    "test \$(git -C '$s' show $g1f1:prompt.txt | grep -c '^===== attempt [123] of 3') -eq 3 &&
     test \$(git -C '$s' show $g1f1:response.txt | grep -c '^===== attempt [123] of 3') -eq 3"
check "and every check error" sh -c "test \$(git -C '$s' show $g1f1:reasoning.md | grep -c '^attempt [123]: ') -eq 3"
check "its meta.json: the persona, the parent, three requests, the error" python3 -c "
import json, subprocess
m = json.loads(subprocess.run(['git', '-C', '$s', 'show', '$g1f1:meta.json'], capture_output=True, text=True, check=True).stdout)
assert m['id'] == 'g1-f1' and m['parents'] == ['g0-1'] and m['requests'] == 3 and m['persona'], m
assert m['tokens'] == {'in': 3000, 'out': 1500} and m['status'] == 'failed', m
assert 'no valid proposal after 3 attempts' in m['error'], m
"
check "a request that failed counts as a request, of the model asked" python3 -c "
import json, subprocess
m = json.loads(subprocess.run(['git', '-C', '$s', 'show', 'refs/failed/g1-f2:meta.json'], capture_output=True, text=True, check=True).stdout)
assert m['requests'] == 1 and m['model'] == 'sh5/500', m
"
expect "gevo log: status 0" 0 "$GEVO" log "$s"
check "gevo log counts the failed proposals of the generation" \
    grep -q "^generation 1: [0-9]* individuals, 2 failed proposals" "$T/out"
# a budget is the session's: what earlier processes spent counts
python3 - "$s/gevo.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.setdefault("llm", {})["budget_tokens"] = "1000"
json.dump(c, open(sys.argv[1], "w"))
PY
"$GEVO" propose "$s" --llm "$url" --model "shb/ok:01_plain_fence" --parent g0-1 --gene se >"$T/out" 2>&1
check "a token budget counts the session's earlier requests, not only this process's" \
    grep -q "token budget spent: [0-9]* of 1000 tokens used" "$T/out"
python3 - "$s/gevo.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["llm"]["budget_tokens"]
json.dump(c, open(sys.argv[1], "w"))
PY
check "git fsck is clean" git -C "$s" fsck --strict --no-progress

# -- memory: a proposal whose training would not fit is refused in validation
# batch=65536 (capped at the 10,000 training images gevo run's default
# preset trains on) needs more than 256M: refused with both numbers, and
# the repair prompt carries the message, so the second answer fixes it
"$GEVO" propose "$s" --llm "$url" --model "mem/ok:huge_batch,ok:17_helper_def" --parent g0-1 \
    --gene block --max-memory 256M --verbose >"$T/out" 2>&1
check "a proposal too large to train is repaired: status 0" test $? -eq 0
check "attempt 1 is refused with both numbers" grep -q \
    "^attempt 1: too large to train: the network compiles, but its training needs [0-9.]* GiB at batch 10000, more than the limit of 256.0 MiB (--max-memory) (the train line's batch=65536, capped at the 10000 training images)" \
    "$T/out"
id=$(sed -n 's/^proposal \(g[0-9]*-[0-9]*\):.*/\1/p' "$T/out")
check "the repair prompt carries the memory error" sh -c \
    "git -C '$s' show $id:prompt.txt | sed -n '/attempt 2 of 3: repair/,\$p' | grep -q 'more than the limit of 256.0 MiB (--max-memory)'"
check "the stored genome is the repaired one" sh -c \
    "git -C '$s' show $id:genome.net | grep -q 'batch=128' && ! git -C '$s' show $id:genome.net | grep -q 65536"
expect "a bad --max-memory is a usage error" 2 "$GEVO" propose "$s" --llm none --max-memory lots &&
    check "it names the option" grep -q -- "--max-memory: 'lots' is not a size" "$T/out"

# gevo.json max_memory below the network's need refuses every candidate
cp "$s/gevo.json" "$T/saved.json"
sed 's|^{|{"max_memory": "1M", |' "$T/saved.json" >"$s/gevo.json"
expect "gevo.json max_memory refuses an offline mutation: status 1" 1 "$GEVO" propose "$s" --llm none --seed 4 &&
    check "the offline refusal names gevo.json max_memory" grep -q \
        "more than the limit of 1.0 MiB (gevo.json max_memory)" "$T/out"
expect "gevo.json max_memory refuses an LLM proposal: status 1" 1 "$GEVO" propose "$s" --llm "$url" \
    --model "memcfg/ok:17_helper_def" --parent g0-1 --gene block &&
    check "the LLM refusal names gevo.json max_memory" grep -q \
        "too large to train: .*more than the limit of 1.0 MiB (gevo.json max_memory)" "$T/out"
expect "--max-memory overrides gevo.json: status 0" 0 "$GEVO" propose "$s" --llm "$url" \
    --model "memopt/ok:17_helper_def" --parent g0-1 --gene block --max-memory 0
sed 's|^{|{"max_memory": "plenty", |' "$T/saved.json" >"$s/gevo.json"
expect "a gevo.json max_memory that is not a size: status 1" 1 "$GEVO" propose "$s" --llm none &&
    check "it names gevo.json max_memory" grep -q "gevo.json max_memory: 'plenty' is not a size" "$T/out"
cp "$T/saved.json" "$s/gevo.json"
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
exit 0
