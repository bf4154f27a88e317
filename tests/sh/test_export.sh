# The PyTorch export (core/export_torch.c) against gevo itself, on every
# seed network and on the test programs of tests/export/nets, which
# together use every operator and option of gevo-net: each is trained
# briefly on a small Fashion-MNIST, exported, and checked by
# tests/export/check_export.py with Debian's python3-torch (parameter
# count, logits, test accuracy, ONNX, fine-tuning). Without torch or onnx
# the export itself is still checked and the PyTorch checks say SKIP.
. "$(dirname "$0")/lib.sh"
DATA=/usr/share/datasets/fashion-mnist
TOOL="$GEVO_BUILD/tests/export_tool"
PY=/usr/bin/python3

python3 tests/export/subset_idx.py "$DATA" "$T/data" 2000 1000 || fail export_data "cannot subset $DATA"
dirs=""
# a seed's input line must be the data's (gevo new wants it so): the
# CIFAR-10 seed is trained on Fashion-MNIST as 1x28x28, as in a session
mkdir -p "$T/nets"
for net in engine/nets/*.net; do
    sed 's/^input x: 3x32x32$/input x: 1x28x28/' "$net" >"$T/nets/$(basename "$net")"
done
for net in "$T"/nets/*.net tests/export/nets/*.net; do
    name=$(basename "$net" .net)
    d="$T/$name"
    mkdir -p "$d"
    if ! "$GEVO" train "$net" --data "$T/data" --threads 1 -q --weights "$T/$name.weights" \
        --out "$d/gevo_train.json" >/dev/null 2>"$T/err"; then
        fail "export_${name}_train" "$(tail -n 3 "$T/err")"
        continue
    fi
    if ! "$TOOL" export "$net" "$T/$name.weights" "$T/data" "$d" 2>"$T/err"; then
        fail "export_${name}_write" "$(cat "$T/err")"
        continue
    fi
    # gevo evaluates the exported folder's own copy of the weights
    if "$GEVO" eval "$d/genome.net" "$d/gevo.weights" --data "$T/data" >"$d/gevo_eval.json" 2>"$T/err" &&
        "$TOOL" logits "$net" "$T/$name.weights" "$T/data" 64 "$d/gevo_logits.f32" 2>>"$T/err"; then
        ok "export_${name}_write"
        dirs="$dirs $d"
    else
        fail "export_${name}_write" "$(cat "$T/err")"
    fi
done

# the programs above call every operator of the registry (engine/net_ops.h)
# and dwconv, so an operator added without a program here fails
ops=$(sed -n 's/^ *X([A-Z_]*, *"\([a-z]*\)".*/\1/p' engine/net_ops.h | grep -v '^input$')
missing=""
for op in $ops dwconv; do
    grep -q "\b$op(" "$T"/nets/*.net tests/export/nets/*.net || missing="$missing $op"
done
if [ "$(echo "$ops" | wc -w)" -ge 19 ] && [ -z "$missing" ]; then
    ok export_every_operator_tested
else
    fail export_every_operator_tested "not called by any program:$missing (registry: $ops)"
fi

if ! "$PY" -c 'import numpy, torch, onnx' 2>/dev/null; then
    echo "SKIP export_torch: $PY cannot import numpy, torch and onnx" \
        "(apt-get install python3-torch python3-onnx python3-numpy; make test installs them)"
elif [ -n "$dirs" ]; then
    # shellcheck disable=SC2086
    "$PY" tests/export/check_export.py "$T/data" $dirs >"$T/pyout" 2>"$T/pyerr" || {
        grep -q . "$T/pyerr" && fail export_check "$(tail -n 5 "$T/pyerr")"
    }
    cat "$T/pyout"
    # a checker that died part-way (a crash says nothing) fails too
    for d in $dirs; do
        name=$(basename "$d")
        n=$(grep -c "^[A-Z]* export_${name}_[a-z]* " "$T/pyout")
        [ "$n" -eq 5 ] || fail "export_${name}_checked" "$n of the 5 PyTorch checks reported"
    done
fi
