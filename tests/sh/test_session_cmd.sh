# gevo new / log / show / export on a real session, and plain git reading it.
. tests/sh/lib.sh
root=$(pwd)
seed="$T/seed.net"
cat >"$seed" <<'EOF'
input x: 1x28x28
classes 10

def block(x, c):
    return relu(conv(x, c, k=3, padding=same))

x = block(x, 8)
return linear(gap(x), classes)
EOF
mkdir -p "$T/data" "$T/share/prompts" "$T/share/nets"
echo "You are an expert." >"$T/share/prompts/persona_expert.txt"
cp "$seed" "$T/share/nets/quick.net"
export GEVO_DATADIR="$T/share"

check "new creates a session" "$GEVO" new "$T/s" --seed "$seed" --data "$T/data"
check "the session is a git repository on the journal branch" \
    sh -c "cd '$T/s' && test \"\$(git rev-parse --abbrev-ref HEAD)\" = journal && test -z \"\$(git status --porcelain)\""
check "the seed is g0-1 with the seed as genome" \
    sh -c "cd '$T/s' && git show g0-1:genome.net | cmp - '$seed'"
check "prompt templates are copied and versioned" \
    sh -c "cd '$T/s' && git show journal:prompts/persona_expert.txt | grep -q expert"
check "the configuration names the data folder" grep -q "\"$T/data\"" "$T/s/gevo.json"
check "new refuses an existing non-empty folder" sh -c "! '$GEVO' new '$T/s' --seed '$seed' 2>/dev/null"
"$GEVO" new "$T/bad" --seed "$T/nope.net" >"$T/out" 2>&1
check "new with a missing seed fails clearly" grep -q "nope.net" "$T/out"
printf 'input x: 1x28x28\nclasses 10\nreturn linear(gap(y), classes)\n' >"$T/broken.net"
check "new refuses a seed that does not compile" sh -c "! '$GEVO' new '$T/bad2' --seed '$T/broken.net' 2>/dev/null && test ! -e '$T/bad2'"
check "new with a missing data folder fails" sh -c "! '$GEVO' new '$T/bad3' --seed '$seed' --data '$T/none' 2>/dev/null"
check "the default seed and prompts come from GEVO_DATADIR" \
    sh -c "'$GEVO' new '$T/s2' --data '$T/data' >/dev/null && cd '$T/s2' && git show g0-1:genome.net | cmp - '$seed' && test -f prompts/persona_expert.txt"

# Individuals, notes and an edit through plain git, the way another tool
# (or a researcher) could add them; then gevo must read them back.
cd "$T/s"
git config user.name "Grace Hopper"
git config user.email grace@example.org
check "git fsck accepts a new session" git fsck --strict

"$GEVO" log "$T/s" >"$T/log" 2>&1
check "log lists generation 0 and the seed" sh -c "grep -q '^generation 0: 1 individual, front: g0-1' '$T/log' && grep -q '  g0-1 .* seed .* pending' '$T/log'"
"$GEVO" show "$T/s" g0-1 >"$T/show" 2>&1
check "show prints the genome" grep -q "return linear(gap(x), classes)" "$T/show"
hash=$(git rev-parse g0-1)
"$GEVO" show "$T/s" "$(echo "$hash" | cut -c1-8)" >"$T/show2" 2>&1
check "show accepts a commit-hash prefix" grep -q "^individual g0-1" "$T/show2"
check "show refuses an unknown id" sh -c "! '$GEVO' show '$T/s' g5-5 2>'$T/err' && grep -q 'no individual g5-5' '$T/err'"
"$GEVO" export "$T/s" --csv >"$T/csv"
check "export --csv has a header and one row" sh -c "test \$(wc -l <'$T/csv') -eq 2 && head -1 '$T/csv' | grep -q '^id,generation' && grep -q '^g0-1,0,1,$hash,seed' '$T/csv'"
"$GEVO" export "$T/s" --json >"$T/json"
check "export --json is JSON with the individual" python3 -c "
import json,sys; d=json.load(open('$T/json')); i=d['individuals'][0]
assert i['id']=='g0-1' and i['status']=='pending' and i['val_acc'] is None, i"
check "export needs a format" sh -c "! '$GEVO' export '$T/s' 2>/dev/null"
check "log of a folder that is not a session fails" sh -c "! '$GEVO' log '$T/data' 2>'$T/err' && grep -q 'not a gevo session' '$T/err'"
cd "$root"
