# gevo run against a hostile LLM (tests/fake_llm/hostile.py) and a dead
# endpoint: the run ends by itself with the cause and exit status 4
# instead of reopening generations forever; a refused key or a closed port
# is not asked again and again; lying usage numbers cannot bypass the
# token budget; an echoed key never reaches git; escape sequences and
# credentials in base_url never reach the terminal; the recorded model is
# the configured one.
. "$(dirname "$0")/lib.sh"
root=$GEVO_ROOT
RUN="--subset 300 --population 2 --offspring 2 --slots 1 --threads 1 --epochs 1"
export GEVO_LLM_BACKOFF_BASE=0.01 GEVO_LLM_BACKOFF_MAX=0.02
unset OPENAI_API_KEY GEVO_LLM_API_KEY_ENV

mkdir -p "$T/answers"
{
    echo "A wider middle block."
    echo '```python'
    sed "s/x = block(x, 24)/x = block(x, 28)/" "$root/engine/nets/quick.net"
    echo '```'
} >"$T/answers/w1.md"
python3 "$root/tests/fake_llm/hostile.py" --answers "$T/answers" >"$T/port" 2>/dev/null &
spid=$!
n=0
while [ ! -s "$T/port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
port=$(head -n 1 "$T/port")
url="http://127.0.0.1:$port/v1"
requests() { curl -s "http://127.0.0.1:$port/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"].get(sys.argv[1], 0))' "$1"; }
commits() { git -C "$1" rev-list --count journal; }
raw_escape() { grep -q "$(printf '\033')" "$1" || grep -q "$(printf '\302\233')" "$1"; }

# a closed port: the first request's retries, then no more; no generation
# is closed, the run says why and exits 4
dead=$(python3 "$root/tests/fake_llm/hostile.py" --closed-port)
S="$T/dead"
"$GEVO" new "$S" >/dev/null 2>&1
timeout 300 "$GEVO" run "$S" --generations 3 $RUN --llm "http://127.0.0.1:$dead/v1" --model m/ok \
    >"$T/dead.log" 2>&1
rc=$?
if [ $rc -eq 4 ] && grep -q "stopped at generation 1: the LLM cannot be used" "$T/dead.log" &&
    grep -q "onnect" "$T/dead.log" && [ "$(commits "$S")" -eq 1 ]; then
    ok run_dead_endpoint_stops
else
    fail run_dead_endpoint_stops "rc=$rc commits=$(commits "$S") $(tail -n 3 "$T/dead.log")"
fi

# 401 whose message echoes the key and is full of escapes: stops at once
S="$T/k401"
"$GEVO" new "$S" >/dev/null 2>&1
MYKEY=sk-hostile-4242 GEVO_LLM_API_KEY_ENV=MYKEY timeout 300 "$GEVO" run "$S" --generations 3 $RUN \
    --llm "$url" --model k/401 >"$T/401.log" 2>&1
rc=$?
n=$(requests k/401)
if [ $rc -eq 4 ] && grep -q "HTTP 401" "$T/401.log" && [ "$n" -ge 1 ] && [ "$n" -le 2 ] &&
    [ "$(commits "$S")" -eq 1 ] && ! grep -q sk-hostile-4242 "$T/401.log" && ! raw_escape "$T/401.log"; then
    ok run_refused_key_stops
else
    fail run_refused_key_stops "rc=$rc requests=$n commits=$(commits "$S") $(tail -n 3 "$T/401.log")"
fi

# every answer unusable (prose, no program): each generation is closed
# once, and after max_empty_generations of them in a row the run stops
S="$T/empty"
"$GEVO" new "$S" >/dev/null 2>&1
timeout 600 "$GEVO" run "$S" --generations 6 $RUN --llm "$url" --model e/ok:12_prose_only \
    --max-empty-generations 2 >"$T/empty.log" 2>&1
rc=$?
c1=$(commits "$S")
python3 - "$S/gevo.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["max_empty_generations"] = "1"
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
timeout 600 "$GEVO" run "$S" --generations 6 $RUN --llm "$url" --model e/ok:12_prose_only \
    >"$T/empty2.log" 2>&1
rc2=$?
c2=$(commits "$S")
if [ $rc -eq 4 ] && grep -q "2 generations in a row got no valid proposal" "$T/empty.log" &&
    [ "$c1" -eq 3 ] && [ $rc2 -eq 4 ] && [ "$c2" -eq 4 ] &&
    git -C "$S" log --format=%s journal | grep -q "generation 2"; then
    ok run_empty_generations_stop
else
    fail run_empty_generations_stop "rc=$rc/$rc2 commits=$c1/$c2 $(tail -n 2 "$T/empty.log") $(tail -n 2 "$T/empty2.log")"
fi

# usage of INT64_MAX tokens: counted within what a request can hold, so
# the token budget still stops the run after a request or two
S="$T/budget"
"$GEVO" new "$S" >/dev/null 2>&1
python3 - "$S/gevo.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.setdefault("llm", {})["budget_tokens"] = "30000"
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
timeout 300 "$GEVO" run "$S" --generations 3 $RUN --llm "$url" --model b/usage=max:w1 \
    >"$T/budget.log" 2>&1
rc=$?
n=$(requests b/usage=max:w1)
if [ $rc -eq 4 ] && grep -q "token budget spent" "$T/budget.log" && [ "$n" -ge 1 ] && [ "$n" -le 4 ]; then
    ok run_budget_holds_against_lying_usage
else
    fail run_budget_holds_against_lying_usage "rc=$rc requests=$n $(tail -n 3 "$T/budget.log")"
fi

# a server that echoes the key (named by GEVO_LLM_API_KEY_ENV, over
# gevo.json) into its answer, reasoning and model field: no git object
# holds it
S="$T/echo"
"$GEVO" new "$S" >/dev/null 2>&1
"$GEVO" config "$S" llm.api_key_env OTHER_KEY >/dev/null 2>&1 ||
    python3 - "$S/gevo.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.setdefault("llm", {})["api_key_env"] = "OTHER_KEY"
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
MYKEY=sk-echo-98765-secret GEVO_LLM_API_KEY_ENV=MYKEY timeout 300 "$GEVO" run "$S" --generations 1 \
    $RUN --llm "$url" --model x/echo:w1 >"$T/echo.log" 2>&1
rc=$?
git -C "$S" cat-file --batch-all-objects --batch >"$T/objects" 2>&1
if [ $rc -eq 0 ] && [ "$(requests x/echo:w1)" -ge 1 ] && grep -q "Your key is" "$T/objects" &&
    ! grep -q sk-echo-98765-secret "$T/objects" && ! grep -q sk-echo-98765-secret "$T/echo.log"; then
    ok run_echoed_key_not_in_git
else
    fail run_echoed_key_not_in_git "rc=$rc $(grep -c sk-echo-98765-secret "$T/objects") objects hold it; $(tail -n 2 "$T/echo.log")"
fi

# escapes in every field and credentials in base_url: the log shows
# neither raw; meta.json records the configured model, the server's apart
S="$T/esc"
"$GEVO" new "$S" >/dev/null 2>&1
timeout 300 "$GEVO" run "$S" --generations 1 $RUN --llm "http://alice:pw-zz9@127.0.0.1:$port/v1" \
    --model y/esc:w1 >"$T/esc.log" 2>&1
rc=$?
timeout 300 "$GEVO" run "$S" --generations 2 $RUN --llm "http://alice:pw-zz9@127.0.0.1:$port/v1" \
    --model y2/500 >"$T/esc2.log" 2>&1
if [ $rc -eq 0 ] && ! raw_escape "$T/esc.log" && ! grep -q pw-zz9 "$T/esc.log" "$T/esc2.log" &&
    grep -q '\*\*\*@127.0.0.1' "$T/esc.log" && grep -q '\*\*\*@127.0.0.1' "$T/esc2.log" &&
    python3 - "$S" <<'PY'
import json, subprocess, sys
S = sys.argv[1]
meta = json.loads(subprocess.run(["git", "-C", S, "show", "g1-1:meta.json"], check=True,
                                 capture_output=True, text=True).stdout)
assert meta["model"] == "y/esc:w1", meta
assert "\x1b" not in meta["served_model"] and "^[" in meta["served_model"], meta
PY
then
    ok run_escapes_and_credentials_hidden
else
    fail run_escapes_and_credentials_hidden "rc=$rc $(tail -n 3 "$T/esc.log" | od -c | head -n 5)"
fi
kill $spid 2>/dev/null
