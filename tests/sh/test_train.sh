# gevo train and gevo eval end to end on Fashion-MNIST (Debian's
# dataset-fashion-mnist): accuracy after one epoch, divergence, progress
# lines, SIGTERM, weights, and errors that still end with a result.
. "$(dirname "$0")/lib.sh"
DATA=/usr/share/datasets/fashion-mnist
J() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# the engine issue's bar: smallcnn, one epoch, at least 85% test accuracy
"$GEVO" train engine/nets/smallcnn.net --epochs 1 --threads 2 -q --out "$T/small.json" >/dev/null 2>"$T/err"
rc=$?
acc=$(J "$T/small.json" 'd["test_acc"]' 2>/dev/null)
if [ $rc -eq 0 ] && python3 -c "import sys; sys.exit(0 if float('$acc') >= 0.85 else 1)"; then
    ok "train_smallcnn_one_epoch_85pct ($acc)"
else
    fail train_smallcnn_one_epoch_85pct "rc=$rc test_acc=$acc $(tail -n 3 "$T/err")"
fi

# lr 1e6 diverges: status diverged, exit 3, never a crash
"$GEVO" train engine/nets/quick.net --lr 1e6 --set schedule=constant --subset 2000 --no-test -q \
    --out "$T/div.json" >/dev/null 2>&1
rc=$?
st=$(J "$T/div.json" 'd["status"]' 2>/dev/null)
[ $rc -eq 3 ] && [ "$st" = diverged ] && ok train_diverged || fail train_diverged "rc=$rc status=$st"

# --progress: JSON lines, ending with the result; weights then eval agree;
# the timing phases are each measured and fit in the process's wall time
t0=$(date +%s.%N)
"$GEVO" train engine/nets/quick.net --subset 3000 --progress --weights "$T/w.bin" >"$T/prog.jsonl" 2>/dev/null
rc=$?
t1=$(date +%s.%N)
if [ $rc -eq 0 ] && python3 - "$T/prog.jsonl" "$t0" "$t1" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
t = lines[-1]["result"]["timing"]
phases = ("startup", "data_load", "data_batches", "train_steps", "validation", "test")
assert sorted(t) == sorted(phases), t
assert all(t[k] >= 0 for k in phases) and t["train_steps"] > 0, t
assert t["validation"] > 0 and t["test"] > 0 and t["startup"] > 0, t
assert sum(t.values()) <= float(sys.argv[3]) - float(sys.argv[2]), (t, sys.argv[2:])
ev = [l["event"] for l in lines]
assert ev[0] == "start" and ev[-1] == "result", ev
assert "step" in ev and "epoch" in ev, ev
step = next(l for l in lines if l["event"] == "step")
for k in ("epoch", "step", "steps", "loss", "lr", "images_per_sec"):
    assert k in step, k
r = lines[-1]["result"]
assert r["status"] == "ok" and 0.5 < r["val_acc"] <= 1 and r["params"] == 14634, r
assert len(r["epochs"]) == 1 and r["images"] == 3000, r
open(sys.argv[1] + ".acc", "w").write("%.6f" % r["test_acc"])
PY
then ok train_progress_lines; else fail train_progress_lines "rc=$rc $(tail -n 2 "$T/prog.jsonl")"; fi
"$GEVO" eval --batch 128 engine/nets/quick.net "$T/w.bin" >"$T/eval.json" 2>"$T/err"
rc=$?
a=$(cat "$T/prog.jsonl.acc" 2>/dev/null); b=$(J "$T/eval.json" '"%.6f" % d["test_acc"]' 2>/dev/null)
[ $rc -eq 0 ] && [ -n "$a" ] && [ "$a" = "$b" ] && ok eval_matches_train ||
    fail eval_matches_train "rc=$rc train $a, eval $b $(cat "$T/err")"
# ... and says how fast it was: the pass's seconds, the images per second
s=$(J "$T/eval.json" '"ok" if d["images"] == 10000 and d["seconds"] > 0 and abs(d["images_per_sec"] * d["seconds"] - 10000) < 1e-6 * 10000 else "bad %r" % d' 2>/dev/null)
[ "$s" = ok ] && ok eval_reports_speed || fail eval_reports_speed "$s"

# SIGTERM mid-training: a clean partial result with status stopped
"$GEVO" train engine/nets/smallcnn.net --progress --no-test >"$T/term.jsonl" 2>/dev/null &
pid=$!
n=0
while [ $n -lt 600 ] && ! grep -q '"event":"step"' "$T/term.jsonl" 2>/dev/null; do sleep 0.1; n=$((n + 1)); done
kill -TERM $pid
wait $pid
rc=$?
last=$(tail -n 1 "$T/term.jsonl")
case "$last" in
*'"event":"result"'*'"status":"stopped"'*) [ $rc -eq 3 ] && ok train_sigterm_partial_result || fail train_sigterm_partial_result "rc=$rc" ;;
*) fail train_sigterm_partial_result "rc=$rc last line: $last" ;;
esac

# errors still end with a result JSON saying what went wrong
"$GEVO" train engine/nets/quick.net --data "$T/nowhere" --out "$T/e1.json" >/dev/null 2>&1
rc=$?
m=$(J "$T/e1.json" 'd["status"] + ": " + d["message"]' 2>/dev/null)
case "$m" in "error: "*"no such data directory"*) [ $rc -eq 1 ] && ok train_error_bad_data || fail train_error_bad_data "rc=$rc" ;;
*) fail train_error_bad_data "rc=$rc: $m" ;; esac
"$GEVO" train tests/lang/bad/shape-add.net --out "$T/e2.json" >/dev/null 2>&1
rc=$?
m=$(J "$T/e2.json" 'd["message"]' 2>/dev/null)
case "$m" in *"shape-add.net:5:5: add(): shapes"*) [ $rc -eq 1 ] && ok train_error_bad_program || fail train_error_bad_program "rc=$rc" ;;
*) fail train_error_bad_program "rc=$rc: $m" ;; esac
"$GEVO" train --bogus x >/dev/null 2>&1; [ $? -eq 2 ] && ok train_usage_error || fail train_usage_error "not 2"

# --out and --weights naming something that is not a regular file (a
# device, a FIFO) write straight to it: a rename over it would, as root,
# replace /dev/null with a plain file and break every later `>/dev/null`.
# The device is a null device of the test's own where it may make one
# (root, as CI), so neither the test nor a broken machine's /dev/null
# decides the other; else /dev/null itself.
dev="$T/null"
mknod "$dev" c 1 3 2>/dev/null || dev=/dev/null
if [ -c "$dev" ]; then
    "$GEVO" train engine/nets/quick.net --subset 200 --epochs 1 --no-test --quiet \
        --out "$dev" --weights "$dev" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -eq 0 ] && [ -c "$dev" ] && ! ls "$dev".tmp.* >/dev/null 2>&1 &&
        ok train_out_device_stays_a_device || fail train_out_device_stays_a_device "rc=$rc $(ls -l "$dev") $(cat "$T/err")"
else
    echo "note: no character device to write to (not root, and /dev/null is not one): device test not run"
fi
mkfifo "$T/fifo"
# bounded: a gevo that renamed over the FIFO would never open it, and the
# reader would wait for a writer forever
timeout 120 cat "$T/fifo" >"$T/fifo.out" &
"$GEVO" train engine/nets/quick.net --subset 200 --epochs 1 --no-test --quiet --out "$T/fifo" >/dev/null 2>"$T/err"
rc=$?
wait
[ $rc -eq 0 ] && [ -p "$T/fifo" ] && [ "$(J "$T/fifo.out" 'd["status"]' 2>/dev/null)" = ok ] &&
    ok train_out_fifo || fail train_out_fifo "rc=$rc $(cat "$T/err")"

# memory: a training that would allocate more than --max-memory is refused
# before it allocates (the message names both numbers; the result is still
# written), and a batch larger than the training set is capped at it
"$GEVO" train engine/nets/quick.net --set batch=65536 --no-test --quiet --max-memory 512M \
    --out "$T/mem.json" >/dev/null 2>"$T/err"
rc=$?
m=$(J "$T/mem.json" 'd["status"] + ": " + d["message"]' 2>/dev/null)
case "$m" in "error: needs "*" GiB at batch 54000, more than the limit of 512.0 MiB (--max-memory)")
    [ $rc -eq 1 ] && ok train_max_memory_refused || fail train_max_memory_refused "rc=$rc" ;;
*) fail train_max_memory_refused "rc=$rc: $m $(cat "$T/err")" ;; esac
"$GEVO" train engine/nets/quick.net --max-memory 2X --quiet >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q -- "--max-memory: '2X'" "$T/err" && ok train_max_memory_usage ||
    fail train_max_memory_usage "$(cat "$T/err")"
"$GEVO" train engine/nets/quick.net --set batch=65536 --subset 300 --no-test --progress \
    --max-memory 1G >"$T/cap.jsonl" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && python3 - "$T/cap.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
start, r = lines[0], lines[-1]["result"]
note = "batch 65536 is more than the 300 training images: trained at batch 300"
assert start["event"] == "start" and start["batch"] == 300 and start["note"] == note, start
assert r["status"] == "ok" and r["recipe"]["batch"] == 300 and r["recipe"]["batch_asked"] == 65536, r
assert r["note"] == note and r["steps"] == 1 and r["peak_rss_mb"] < 1024, r
PY
then ok train_batch_capped_at_training_set; else fail train_batch_capped_at_training_set "rc=$rc $(cat "$T/err")"; fi

# weights whose values are not finite are refused by gevo eval, although
# their checksum is valid (a NaN written in, the CRC-32 recomputed)
if [ -f "$T/w.bin" ] && python3 - "$T/w.bin" "$T/nan.bin" <<'PY'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], "rb").read())
b[40:44] = struct.pack("<f", float("nan"))  # the first parameter: header is 40 bytes
b[-4:] = struct.pack("<I", zlib.crc32(bytes(b[:-4])))
open(sys.argv[2], "wb").write(b)
PY
then
    "$GEVO" eval engine/nets/quick.net "$T/nan.bin" >"$T/nan.json" 2>"$T/err"
    rc=$?
    grep -q "gevo eval: $T/nan.bin: the weight of conv at line 10 holds NaN" "$T/err" && [ $rc -eq 1 ] &&
        ok eval_refuses_nan_weights || fail eval_refuses_nan_weights "rc=$rc $(cat "$T/err")"
else
    fail eval_refuses_nan_weights "no weights file to corrupt"
fi
