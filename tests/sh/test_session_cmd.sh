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

expect "new creates a session" 0 "$GEVO" new "$T/s" --seed "$seed" --data "$T/data"
check "the session is a git repository on the journal branch" \
    sh -c "cd '$T/s' && test \"\$(git rev-parse --abbrev-ref HEAD)\" = journal && test -z \"\$(git status --porcelain)\""
check "the seed is g0-1 with the seed as genome" \
    sh -c "cd '$T/s' && git show g0-1:genome.net | cmp - '$seed'"
check "prompt templates are copied and versioned" \
    sh -c "cd '$T/s' && git show journal:prompts/persona_expert.txt | grep -q expert"
check "the configuration names the data folder" grep -q "\"$T/data\"" "$T/s/gevo.json"
expect "new refuses an existing non-empty folder (status 1)" 1 "$GEVO" new "$T/s" --seed "$seed"
expect "new with a missing seed fails (status 1)" 1 "$GEVO" new "$T/bad" --seed "$T/nope.net" &&
    check "new with a missing seed says which" grep -q "nope.net" "$T/out"
printf 'input x: 1x28x28\nclasses 10\nreturn linear(gap(y), classes)\n' >"$T/broken.net"
expect "new refuses a seed that does not compile (status 1)" 1 "$GEVO" new "$T/bad2" --seed "$T/broken.net" &&
    check "it shows where, and creates nothing" sh -c \
        "grep -q '^$T/broken.net:3:[0-9]*: ' '$T/out' && test ! -e '$T/bad2'"
expect "new with a missing data folder fails (status 1)" 1 "$GEVO" new "$T/bad3" --seed "$seed" --data "$T/none"
expect "new with the default seed" 0 "$GEVO" new "$T/s2" --data "$T/data"
check "the default seed and prompts come from GEVO_DATADIR" \
    sh -c "cd '$T/s2' && git show g0-1:genome.net | cmp - '$seed' && test -f prompts/persona_expert.txt"

# Individuals, notes and an edit through plain git, the way another tool
# (or a researcher) could add them; then gevo must read them back.
cd "$T/s"
git config user.name "Grace Hopper"
git config user.email grace@example.org
check "git fsck accepts a new session" git fsck --strict

expect "log exits 0" 0 "$GEVO" log "$T/s" && cp "$T/out" "$T/log"
check "log lists generation 0 and the seed" sh -c "grep -q '^generation 0: 1 individual, front: g0-1' '$T/log' && grep -q '  g0-1 .* seed .* pending' '$T/log'"
expect "show exits 0" 0 "$GEVO" show "$T/s" g0-1 && cp "$T/out" "$T/show"
check "show prints the genome" grep -q "return linear(gap(x), classes)" "$T/show"
hash=$(git rev-parse g0-1)
expect "show of a commit-hash prefix exits 0" 0 "$GEVO" show "$T/s" "$(echo "$hash" | cut -c1-8)" &&
    check "show accepts a commit-hash prefix" grep -q "^individual g0-1" "$T/out"
expect "show refuses an unknown id (status 1)" 1 "$GEVO" show "$T/s" g5-5 &&
    check "it names the id" grep -q 'no individual g5-5' "$T/out"
"$GEVO" export "$T/s" --csv >"$T/csv" 2>"$T/err"
check "export --csv exits 0, silent on stderr" sh -c "test $? -eq 0 && test ! -s '$T/err'"
check "export --csv has a header and one row" sh -c "test \$(wc -l <'$T/csv') -eq 2 && head -1 '$T/csv' | grep -q '^id,generation' && grep -q '^g0-1,0,1,$hash,seed' '$T/csv'"
"$GEVO" export "$T/s" --json >"$T/json" 2>"$T/err"
check "export --json exits 0, silent on stderr" sh -c "test $? -eq 0 && test ! -s '$T/err'"
check "export --json is JSON with the individual" python3 -c "
import json,sys; d=json.load(open('$T/json')); i=d['individuals'][0]
assert i['id']=='g0-1' and i['status']=='pending' and i['val_acc'] is None, i"
expect "export needs a format (status 2)" 2 "$GEVO" export "$T/s"
expect "log of a folder that is not a session fails (status 1)" 1 "$GEVO" log "$T/data" &&
    check "it says so" grep -q 'not a gevo session' "$T/out"
cd "$root"
