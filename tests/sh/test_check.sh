# gevo check, end to end: golden tables for the seed networks, the error
# format on stderr with exit status 1, --json, and usage errors.
. "$(dirname "$0")/lib.sh"
G=tests/lang/golden

for net in exquisitenetv2 smallcnn quick; do
    if "$GEVO" check "engine/nets/$net.net" >"$T/$net.txt" 2>"$T/err"; then
        if diff -u "$G/$net.txt" "$T/$net.txt" >"$T/diff"; then ok "check_golden_$net"
        else fail "check_golden_$net" "$(head -n 20 "$T/diff")"; fi
    else
        fail "check_golden_$net" "exit status $?: $(cat "$T/err")"
    fi
done

"$GEVO" check --input 1x28x28 engine/nets/exquisitenetv2.net >"$T/out" 2>&1
if [ $? -eq 0 ] && grep -q '^parameters: 518,126$' "$T/out"; then ok check_input_override
else fail check_input_override "$(tail -n 5 "$T/out")"; fi

"$GEVO" check engine/nets/exquisitenetv2.net >"$T/out" 2>&1
if [ $? -eq 0 ] && grep -q '^parameters: 518,230$' "$T/out"; then ok check_exquisitenet_518230
else fail check_exquisitenet_518230 "$(tail -n 5 "$T/out")"; fi

"$GEVO" check tests/lang/bad/shape-add.net >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && [ ! -s "$T/out" ] &&
   head -n 1 "$T/err" | grep -q '^tests/lang/bad/shape-add.net:5:5: add(): shapes 1x28x28 and 1x14x14 differ$' &&
   grep -q '^  x = add(x, y)$' "$T/err" && grep -q '^      \^$' "$T/err" && grep -q '^  hint: ' "$T/err"; then
    ok check_error_format
else
    fail check_error_format "rc=$rc: $(cat "$T/err")"
fi

"$GEVO" check --json engine/nets/smallcnn.net >"$T/ok.json"
rc0=$?
"$GEVO" check --json tests/lang/bad/name-unknown-op.net >"$T/bad.json"
rc=$?
if python3 - "$T/ok.json" "$T/bad.json" <<'PY'
import json, sys
ok = json.load(open(sys.argv[1]))
bad = json.load(open(sys.argv[2]))
assert ok["ok"] is True and ok["params"] == 421642, ok
assert len(ok["layers"]) == 11 and ok["layers"][1]["op"] == "conv", ok["layers"][1]
assert ok["layers"][1]["shape"] == [32, 28, 28]
assert bad["ok"] is False and bad["errors"][0]["line"] == 4, bad
assert "rleu" in bad["errors"][0]["message"] and bad["errors"][0]["hint"] == "did you mean relu()?", bad
PY
then [ $rc0 -eq 0 ] && [ $rc -eq 1 ] && ok check_json || fail check_json "exit statuses $rc0 (good), $rc (bad)"
else fail check_json "unexpected JSON"; fi

"$GEVO" check >/dev/null 2>&1; rc1=$?
"$GEVO" check --bogus x.net >/dev/null 2>&1; rc2=$?
"$GEVO" check /nonexistent.net >/dev/null 2>"$T/err"; rc3=$?
"$GEVO" check --help >"$T/help"; rc4=$?
if [ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] && [ $rc3 -eq 1 ] && [ $rc4 -eq 0 ] &&
   grep -q 'cannot open' "$T/err" && grep -q '^usage: gevo check' "$T/help"; then
    ok check_usage_errors
else
    fail check_usage_errors "exit statuses $rc1 $rc2 $rc3 $rc4"
fi
