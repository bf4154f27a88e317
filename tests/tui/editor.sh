#!/bin/sh
# A scripted $EDITOR for the workbench tests. The first call breaks the
# genome (a dangling '+'), the next fixes it to stem(x, 20); every call is
# counted in $GEVO_TEST_EDITS so the test can check the retry happened.
f=$1
n=$(cat "$GEVO_TEST_EDITS" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$GEVO_TEST_EDITS"
if [ "$n" = 1 ]; then
    sed 's/^x = stem(x, 16)$/x = stem(x, 16) +/' "$f" >"$f.new"
else
    grep -q '^# gevo: ' "$f" || exit 3   # the error must be at the top
    sed 's/^x = stem(x, 16) +$/x = stem(x, 20)/' "$f" >"$f.new"
fi
cat "$f.new" >"$f" && rm -f "$f.new"
