# The session side of the PyTorch export: every trained individual's
# weights kept in SESSION/.gevo/weights outside git history, keep_weights
# ("all", "front", "none") bounding them, gevo show saying whether they are
# kept, `gevo export SESSION ID --torch OUT` (checked against gevo with
# python3-torch when it is there), and --train retraining an individual
# whose weights are gone at the fidelity of its result.
. "$(dirname "$0")/lib.sh"
DATA=/usr/share/datasets/fashion-mnist
PY=/usr/bin/python3
RUN="--subset 600 --population 2 --offspring 2 --slots 2 --threads 1 --seed 3"
python3 tests/export/subset_idx.py "$DATA" "$T/data" 1200 500 || fail export_session_data "cannot subset $DATA"
set_config() { # KEY VALUE: in the session's gevo.json, as a researcher edits it
    python3 - "$S/gevo.json" "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d[sys.argv[2]] = sys.argv[3]
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
}

S="$T/s"
"$GEVO" new "$S" --data "$T/data" >/dev/null 2>"$T/err" || fail export_session_new "$(cat "$T/err")"
"$GEVO" run "$S" --generations 1 $RUN >"$T/run1.log" 2>&1 || fail export_session_run "$(tail -n 3 "$T/run1.log")"

# keep_weights unset is "all": every trained individual has its file
missing=""
for id in g0-1 g1-1 g1-2; do
    status=$(git -C "$S" notes --ref=results show "$id" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [ "$status" = ok ] && [ ! -s "$S/.gevo/weights/$id.weights" ] && missing="$missing $id"
done
[ -z "$missing" ] && ok export_weights_kept_all || fail export_weights_kept_all "no weights for$missing"
check export_weights_outside_git test -z "$(git -C "$S" status --porcelain)"
check export_weights_not_committed sh -c "! git -C '$S' log --all --name-only --format= | grep -q weights"
"$GEVO" show "$S" g1-1 >"$T/show" 2>&1
check export_show_says_kept grep -q "^weights    kept: .gevo/weights/g1-1.weights" "$T/show"

# the CLI export, and gevo eval on what it wrote
O="$T/out-g1-1"
"$GEVO" export "$S" g1-1 --torch "$O" >"$T/export.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "^exported g1-1 to $O" "$T/export.out"; then
    ok export_cli_torch
else
    fail export_cli_torch "rc=$rc $(cat "$T/export.out")"
fi
for f in model.py weights.npz genome.net gevo.weights README.md; do
    [ -s "$O/$f" ] || fail export_cli_files "$O/$f is missing"
done
git -C "$S" notes --ref=results show g1-1 >"$O/gevo_train.json"
if "$GEVO" eval "$O/genome.net" "$O/gevo.weights" --data "$T/data" >"$O/gevo_eval.json" 2>"$T/err" &&
    "$GEVO_BUILD/tests/export_tool" logits "$O/genome.net" "$O/gevo.weights" "$T/data" 32 \
        "$O/gevo_logits.f32" 2>>"$T/err"; then
    ok export_cli_eval
else
    fail export_cli_eval "$(cat "$T/err")"
fi
if "$PY" -c 'import numpy, torch, onnx' 2>/dev/null; then
    "$PY" tests/export/check_export.py "$T/data" "$O" >"$T/pyout" 2>"$T/pyerr" ||
        { grep -q . "$T/pyerr" && fail export_cli_check "$(tail -n 5 "$T/pyerr")"; }
    cat "$T/pyout"
    n=$(grep -c "^[A-Z]* export_$(basename "$O")_[a-z]* " "$T/pyout")
    [ "$n" -eq 5 ] || fail export_cli_checked "$n of the 5 PyTorch checks reported"
else
    echo "SKIP export_cli_check: $PY cannot import numpy, torch and onnx" \
        "(apt-get install python3-torch python3-onnx python3-numpy; make test installs them)"
fi

# usage errors
"$GEVO" export "$S" g1-1 --torch "$O" --csv >/dev/null 2>"$T/err"
check export_usage_torch_and_csv sh -c "test $? -eq 2 && grep -q 'choose one of' '$T/err'"
"$GEVO" export "$S" --csv --train >/dev/null 2>"$T/err"
check export_usage_train_without_torch sh -c "test $? -eq 2 && grep -q -- '--train' '$T/err'"
"$GEVO" export "$S" g9-9 --torch "$T/nowhere" >/dev/null 2>"$T/err"
check export_unknown_id sh -c "test $? -eq 1 && grep -q 'g9-9' '$T/err'"

# keep_weights "front": what is not on the archive front loses its file
# when a generation closes; export says so; --train brings it back
set_config keep_weights front
"$GEVO" run "$S" --generations 2 $RUN >"$T/run2.log" 2>&1 || fail export_session_run2 "$(tail -n 3 "$T/run2.log")"
front=$(git -C "$S" show journal:front.json | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["front"]))')
bad=""
gone=""
for w in "$S"/.gevo/weights/*.weights; do
    id=$(basename "$w" .weights)
    case " $front " in *" $id "*) ;; *) bad="$bad $id" ;; esac
done
for id in $(git -C "$S" tag --list); do
    case " $front " in *" $id "*) ;; *) [ -e "$S/.gevo/weights/$id.weights" ] || gone="$gone $id" ;; esac
done
[ -z "$bad" ] && [ -n "$gone" ] && ok export_weights_front_only ||
    fail export_weights_front_only "front: $front; kept off the front:$bad; removed:$gone"
id=${gone# }
id=${id%% *}
"$GEVO" show "$S" "$id" >"$T/show2" 2>&1
check export_show_says_not_kept grep -q "^weights    not kept (keep_weights \"front\"); .*--train" "$T/show2"
"$GEVO" export "$S" "$id" --torch "$T/out-gone" >"$T/gone.out" 2>"$T/gone.err"
rc=$?
check export_says_weights_gone sh -c "test $rc -eq 1 && grep -q \"$id's weights are not kept\" '$T/gone.err' && grep -q -- '--train' '$T/gone.err'"
"$GEVO" export "$S" "$id" --torch "$T/out-gone" --train >"$T/train.out" 2>"$T/train.err"
rc=$?
# the retraining at the note's fidelity reaches the note's accuracy
line=$(grep '^retrained' "$T/train.out")
again=$(echo "$line" | sed -n 's/.*validation accuracy \([0-9.]*\) (its result: \([0-9.]*\)).*/\1 \2/p')
if [ $rc -eq 0 ] && [ -s "$T/out-gone/model.py" ] && [ -s "$S/.gevo/weights/$id.weights" ] &&
    [ -n "$again" ] && [ "${again% *}" = "${again#* }" ]; then
    ok export_train_at_fidelity
else
    fail export_train_at_fidelity "rc=$rc $line $(cat "$T/train.err")"
fi

# keep_weights "none": nothing is written; a bad value is named
set_config keep_weights none
"$GEVO" run "$S" --generations 3 $RUN >"$T/run3.log" 2>&1 || fail export_session_run3 "$(tail -n 3 "$T/run3.log")"
new=$(ls "$S/.gevo/weights" | grep -c '^g3-' || true)
check export_weights_none test "$new" -eq 0

# the workbench's key: X asks for the folder (ID-torch offered) and writes
# what the command line writes; for weights that are gone it names --train
g3=""
for id in $(git -C "$S" tag --list 'g3-*'); do
    status=$(git -C "$S" notes --ref=results show "$id" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [ "$status" = ok ] && g3=$id && break
done
cat >"$T/keys" <<KEYS
:wait-idle
/g1-1<Enter>
X
:dump $T/wb-ask
<C-u>$T/wb-out<Enter>
:dump $T/wb-done
/$g3<Enter>
X
:dump $T/wb-gone
KEYS
: >"$T/empty" # standard input that is not a terminal
(cd "$T" && env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 COLUMNS=220 LINES=30 \
    GEVO_TUI_SCRIPT="$T/keys" "$GEVO" open "$S" --llm none <"$T/empty" >"$T/wb.out" 2>&1)
rc=$?
check export_wb_runs sh -c "test $rc -eq 0 && test ! -s '$T/wb.out'"
check export_wb_asks_folder grep -q "^Export to the folder: g1-1-torch *\$" "$T/wb-ask"
check export_wb_exported grep -q "^exported g1-1 to $T/wb-out: [0-9]* parameters" "$T/wb-done"
check export_wb_same_as_cli sh -c "cmp '$O/model.py' '$T/wb-out/model.py' &&
    cmp '$O/weights.npz' '$T/wb-out/weights.npz' && cmp '$O/gevo.weights' '$T/wb-out/gevo.weights' &&
    test -s '$T/wb-out/README.md'"
check export_wb_says_weights_gone sh -c "test -n '$g3' && test ! -e '$T/$g3-torch' &&
    grep -q '^export: $g3.s weights: not kept (keep_weights .none.); .*--train' '$T/wb-gone'"

set_config keep_weights most
"$GEVO" export "$S" g1-1 --torch "$T/out-bad" >/dev/null 2>"$T/err"
check export_bad_keep_weights sh -c "test $? -eq 1 && grep -q 'keep_weights is \"most\"' '$T/err'"
