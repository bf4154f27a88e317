# The researcher's edit in the workbench ('e') is checked against the
# memory limit as a proposal is: an edit whose training would not fit is
# refused with both numbers, the editor is offered again and nothing is
# saved; under no limit the same edit is a commit.
. tests/sh/lib_tui.sh

expect "gevo new makes the session" 0 "$GEVO" new "$T/s"
# no noise runs or promotions: their workers outlive a workbench and would
# write notes while the refs are compared
steady_session "$T/s"
printf ':wait-idle\n' >"$T/k0"
tui "the workbench makes the proposals (no limit), exits 0, silent" 80 24 "$T/k0" "$T/s" \
    --llm none --max-memory 0
cat >"$T/editor.sh" <<'EOF'
#!/bin/sh
echo "# the researcher was here" >>"$1"
EOF
chmod +x "$T/editor.sh"
refs() { git -C "$T/s" for-each-ref --format='%(refname) %(objectname)'; }
before=$(refs)
cat >"$T/k1" <<EOF
:wait-idle
e
:dump $T/refused
<Esc>
EOF
EDITOR="$T/editor.sh" tui "the workbench under --max-memory 1M exits 0, silent" 300 24 "$T/k1" \
    "$T/s" --llm none --max-memory 1M
check "the edit is refused with both numbers and the editor offered again" grep -q \
    "e: edit again, Esc: cancel | g1-1.net: the network compiles, but its training needs [0-9.]* [MG]iB at batch [0-9]*, more than the limit of 1.0 MiB (--max-memory)" \
    "$T/refused"
check "a refused edit leaves the session's refs as they were" test "$before" = "$(refs)"
cat >"$T/k2" <<EOF
:wait-idle
e
:dump $T/accepted
EOF
EDITOR="$T/editor.sh" tui "the workbench without a limit exits 0, silent" 300 24 "$T/k2" "$T/s" \
    --llm none --max-memory 0
check "without a limit the same edit is saved" sh -c \
    "git -C '$T/s' log --format=%s -1 g1-1 | grep -q \"researcher's edit\""
exit 0
