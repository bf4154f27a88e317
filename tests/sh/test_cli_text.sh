# Text gevo did not write itself (an LLM's reasoning, a genome's comments,
# a model's name, a review's notes, a file's name) never reaches the
# terminal raw from the command line: escape sequences (CSI, OSC 52
# clipboard writes, OSC 8 links), C1 controls (UTF-8 and raw bytes) and
# bidirectional overrides are planted through the fake LLM server and,
# as another tool could write them, straight into the session with git;
# every command's stdout and stderr must hold none of them, and show
# their visible forms (engine/base/text.h: ^[, <U+009B>, \x9B, <U+202E>).
. tests/sh/lib.sh
root=$(pwd)
export GEVO_DATADIR="$T/share"
mkdir -p "$T/share" "$T/data" "$T/answers"
ln -s "$root/engine/nets" "$T/share/nets"
ln -s "$root/prompts" "$T/share/prompts"
unset GEVO_LLM_MODEL GEVO_LLM_BASE_URL
export GIT_CONFIG_NOSYSTEM=1 HOME="$T" GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org \
    GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org

ESC=$(printf '\033')
BEL=$(printf '\007')
csi="${ESC}[31mRED${ESC}[0m"
osc52="${ESC}]52;c;SGVsbG8=${BEL}"
osc8="${ESC}]8;;http://evil.example/${ESC}\\link${ESC}]8;;${ESC}\\"
c1="$(printf '\302\233')2J"            # U+009B, a C1 CSI, as UTF-8
raw="$(printf '\233')2J"               # the byte 0x9b alone (not UTF-8)
bidi="$(printf '\342\200\256')gnp.exe" # U+202E RIGHT-TO-LEFT OVERRIDE
# all valid UTF-8; C1 and bidi first, as fixed-size fields keep only the start
hostile="$c1 $bidi $csi $osc52 $osc8"

# safe NAME FILE FORM...: FILE holds no control character but newline and
# tab, no C1 control (as UTF-8 or as a raw byte) and no bidirectional
# override; and each visible FORM is there.
safe() {
    name=$1 file=$2
    shift 2
    if python3 - "$file" "$@" >"$T/safe.out" 2>&1 <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8", "surrogateescape")
bad = set()
for ch in text:
    o = ord(ch)
    if (o < 0x20 and ch not in "\n\t") or o == 0x7f:
        bad.add("C0 %#04x" % o)
    elif 0x80 <= o <= 0x9f:
        bad.add("C1 U+%04X" % o)
    elif 0xdc80 <= o <= 0xdc9f:
        bad.add("raw C1 byte %#04x" % (o - 0xdc00))
    elif 0x202a <= o <= 0x202e or 0x2066 <= o <= 0x2069:
        bad.add("bidi U+%04X" % o)
missing = [f for f in sys.argv[2:] if f not in text]
if bad or missing:
    print("raw: %s; visible forms missing: %s" % (sorted(bad), missing))
    sys.exit(1)
PY
    then ok "$name"
    else fail "$name" "$(cat "$T/safe.out")"
    fi
}

s="$T/s"
expect "setup: gevo new" 0 "$GEVO" new "$s" --seed "$root/tests/fixtures/answers/parent.net" --data "$T/data"

# -- gevo propose --verbose against the fake LLM: hostile reasoning ------------
cat >"$T/answers/hostile.md" <<EOF
Reasoning: $hostile

\`\`\`gevo
def se(x, r=4):
    s = gap(x)
    s = hswish(linear(s, channels(s) // r))
    s = sigmoid(linear(s, channels(x)))
    return x * s
\`\`\`
EOF
fake_llm --answers "$T/answers"
export GEVO_LLM_BACKOFF_BASE=0.001 GEVO_LLM_BACKOFF_MAX=0.002 GEVO_LLM_MAX_ATTEMPTS=2
"$GEVO" propose "$s" --llm "$url" --model "h/ok:hostile" --parent g0-1 --gene se --verbose \
    >"$T/propose" 2>&1
rc=$?
check "propose: the hostile answer is a valid proposal" test $rc -eq 0
safe "propose --verbose: reasoning and raw response, shown safely" "$T/propose" '^[[31mRED' \
    '^[]52;c;SGVsbG8=^G' '^[]8;;http://evil.example/^[\link' '<U+009B>2J' '<U+202E>gnp.exe'

# -- an individual rewritten with git, as another tool could ----------------
# g1-2 (the offline proposer's) gets a hostile genome comment, reasoning
# (with a raw 0x9b byte), persona, operator and model, and a review note.
expect "setup: an offline proposal" 0 "$GEVO" propose "$s" --llm none --parent g0-1 --seed 2
id=$(sed -n 's/^proposal \(g[0-9]*-[0-9]*\):.*/\1/p' "$T/out")
git -C "$s" show "$id:genome.net" >"$T/genome.net"
printf '# a comment: %s %s\n' "$hostile" "$raw" >>"$T/genome.net"
printf 'reasoning: %s %s\n' "$hostile" "$raw" >"$T/reasoning.md"
git -C "$s" show "$id:meta.json" | python3 -c '
import json, sys
m = json.load(sys.stdin)
h = sys.argv[1]
m["persona"] = "p" + h
m["operator"] = "mutation" + h
m["model"] = "m" + h
json.dump(m, sys.stdout)' "$hostile" >"$T/meta.json"
tamper() {
    export GIT_INDEX_FILE="$T/index"
    git -C "$s" read-tree "$id" &&
        for f in genome.net reasoning.md meta.json; do
            b=$(git -C "$s" hash-object -w "$T/$f") &&
                git -C "$s" update-index --cacheinfo "100644,$b,$f" || return 1
        done &&
        tree=$(git -C "$s" write-tree) &&
        c=$(git -C "$s" commit-tree "$tree" -p "$id^" -m "$id, rewritten") &&
        git -C "$s" update-ref "refs/tags/$id" "$c" &&
        python3 -c 'import json, sys; print(json.dumps({"decision": "rejected", "reason": sys.argv[1], "author": "x" + sys.argv[1]}, ensure_ascii=False))' \
            "$hostile" >"$T/review" &&
        git -C "$s" notes --ref=reviews add -f -F "$T/review" "$c"
    rc=$?
    unset GIT_INDEX_FILE
    return $rc
}
check "setup: the individual rewritten with git" tamper

"$GEVO" show "$s" "$id" >"$T/show" 2>&1
rc=$?
check "show exits 0 on the rewritten individual" test $rc -eq 0
safe "show: genome comment, reasoning, persona, model, review, diff shown safely" "$T/show" \
    'p<U+009B>2J' 'm<U+009B>2J' 'reasoning: <U+009B>2J <U+202E>gnp.exe ^[[31mRED' \
    '# a comment: <U+009B>2J' '\x9B2J' '^[]52;c;SGVsbG8=^G' '^[]8;;http://evil.example/^[\link'
"$GEVO" show "$s" "$(git -C "$s" rev-parse g1-1)" >"$T/show1" 2>&1
rc=$?
check "show exits 0 on the LLM's proposal" test $rc -eq 0
safe "show: the LLM's reasoning shown safely" "$T/show1" 'Reasoning: <U+009B>2J' '^[[31mRED'
"$GEVO" log "$s" >"$T/log" 2>&1
rc=$?
check "log exits 0" test $rc -eq 0
safe "log: operator, persona shown safely" "$T/log" 'mutation<U+009B>2J'
"$GEVO" export "$s" --csv >"$T/csv" 2>&1
rc=$?
check "export --csv exits 0" test $rc -eq 0
safe "export --csv: fields with controls shown visibly" "$T/csv" 'p<U+009B>2J <U+202E>gnp.exe' \
    'm<U+009B>2J'
check "export --csv: still one line per individual" test "$(wc -l <"$T/csv")" -eq 4
"$GEVO" export "$s" --json >"$T/json" 2>&1
rc=$?
check "export --json exits 0" test $rc -eq 0
safe "export --json: controls, C1 and bidi as \\u escapes" "$T/json" '\u001B[31mRED' '\u009B2J' \
    '\u202Egnp.exe'
check "export --json: the JSON holds the exact strings" python3 -c "
import json, sys
d = json.load(open('$T/json'))
i = [x for x in d['individuals'] if x['id'] == '$id'][0]
p = i['persona']
assert len(p) > 20 and ('p' + sys.argv[1]).startswith(p), repr(p)" "$hostile"

# -- gevo run: the model's name in its header and log lines -------------------
s2="$T/s2"
expect "setup: a second session" 0 "$GEVO" new "$s2" --seed "$root/tests/fixtures/answers/parent.net" --data "$T/data"
"$GEVO" run "$s2" --generations 1 --llm "$url" --model "r$osc52$c1$bidi/ok:hostile" \
    --population 1 --offspring 1 --review-policy manual >"$T/run" 2>&1
rc=$?
check "run: stops for review (status 0)" test $rc -eq 0
safe "run: header and log lines shown safely" "$T/run" '^[]52;c;SGVsbG8=^G' '<U+202E>gnp.exe'

# -- gevo check and gevo train: file names, echoed source lines --------------
bad="$T/bad$csi.net"
printf 'input x: 1x28x28\nclasses 10\ny = rleu(x)  # %s\nreturn linear(gap(y), classes)\n' \
    "$hostile" >"$bad"
"$GEVO" check "$bad" >"$T/check" 2>&1
rc=$?
check "check: an invalid program is status 1" test $rc -eq 1
safe "check: the file name and the echoed line shown safely" "$T/check" 'bad^[[31mRED^[[0m.net:3:'
"$GEVO" check --json "$bad" >"$T/check.json" 2>&1
safe "check --json: the file name as \\u escapes" "$T/check.json" '\u001B[31mRED'
good="$T/good$osc52.net"
cp "$root/engine/nets/quick.net" "$good"
"$GEVO" check -q "$good" >"$T/checkq" 2>&1
rc=$?
check "check -q: a valid program is status 0" test $rc -eq 0
safe "check -q: the file name shown safely" "$T/checkq" 'good^[]52;c;SGVsbG8=^G.net: ok'
"$GEVO" train "$bad" --subset 100 >"$T/train" 2>&1
rc=$?
check "train: an error is status 1" test $rc -eq 1
safe "train: the error and the result JSON shown safely" "$T/train" '\u001B[31mRED' \
    'gevo train: '"$T"'/bad^[[31mRED'
"$GEVO" frobnicate"$csi" >"$T/unknown" 2>&1
safe "an unknown command is named safely" "$T/unknown" "frobnicate^[[31mRED"

# -- every command: a hostile option, option value and operand ---------------
# (the workbench without a terminal names the folder; gevo new creates one
# under a hostile name and says so)
for c in $("$GEVO" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p'); do
    "$GEVO" "$c" "--x$hostile" >"$T/opt.$c" 2>&1
    rc=$?
    check "$c: a hostile option is a usage error (status 2)" test $rc -eq 2
    safe "$c: a hostile option named safely" "$T/opt.$c" "--x<U+009B>2J <U+202E>gnp.exe ^[[31mRED"
    "$GEVO" "$c" "$T/none$csi" "$T/none$osc52" </dev/null >"$T/arg.$c" 2>&1
    safe "$c: hostile operands named safely" "$T/arg.$c"
done
"$GEVO" train --max-memory "1$csi" "$good" >"$T/maxmem" 2>&1
rc=$?
check "train --max-memory: a hostile value is status 2" test $rc -eq 2
safe "train --max-memory: the value shown safely" "$T/maxmem" "'1^[[31mRED^[[0m' is not a size"
"$GEVO" new "$T/n" --preset "q$osc8" >"$T/preset" 2>&1
rc=$?
check "new --preset: an unknown preset is status 2" test $rc -eq 2
check "new --preset: nothing is created" test ! -e "$T/n"
safe "new --preset: the name shown safely" "$T/preset" "unknown preset 'q^[]8;;http://evil.example/"
hs="$T/s$csi$bidi"
"$GEVO" new "$hs" --seed "$root/tests/fixtures/answers/parent.net" --data "$T/data" >"$T/newh" 2>&1
rc=$?
check "new: a session under a hostile name (status 0)" test $rc -eq 0
safe "new: the folder's name shown safely" "$T/newh" "created session $T/s^[[31mRED^[[0m<U+202E>"
"$GEVO" open "$hs" </dev/null >"$T/open" 2>&1
rc=$?
check "open without a terminal: status 1" test $rc -eq 1
safe "open without a terminal: the folder named safely" "$T/open" "'gevo log $T/s^[[31mRED^[[0m<U+202E>"
GEVO_TUI_SCRIPT="$T/no-script$osc52" "$GEVO" open "$hs" >"$T/open2" 2>&1
rc=$?
check "open with a missing key script: status 2" test $rc -eq 2
safe "open: the script's name shown safely" "$T/open2" 'no-script^[]52;c;SGVsbG8=^G'
