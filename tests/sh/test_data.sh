# gevo train on a researcher's own data, end to end: NumPy arrays written by
# numpy itself and image folders of PNG files written here, trained to well
# above chance; the decoded-once cache reused by a second process (no
# decoding, the same file, the same result), decoded once by two processes
# starting together; decode progress events; errors that name the file.
. "$(dirname "$0")/lib.sh"
export GEVO_CACHE_DIR="$T/cache"
# Debian's python3, which has python3-numpy (another python3 may come first in PATH)
PY=/usr/bin/python3
J() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

cat >"$T/net.net" <<'EOF'
input x: 1x8x8
classes 2
x = relu(conv(x, 4, k=3, padding=1))
return linear(flatten(x), classes)
train optimizer=sgd lr=0.05 epochs=2 batch=16 schedule=constant
EOF

# an easy task: class 0 bright on top, class 1 bright at the bottom, noise
PYTHONPATH="$(dirname "$0")" $PY - "$T" <<'PY'
import os, sys
import numpy as np
from gray_png import gray_png
root = sys.argv[1]
rng = np.random.default_rng(1)
def images(n, h=8, w=8):
    y = np.arange(n) % 2
    x = rng.integers(0, 60, size=(n, h, w))
    for i in range(n):
        if y[i] == 0: x[i, : h // 2] += 150
        else: x[i, h // 2 :] += 150
    return x.astype(np.uint8), y
d = os.path.join(root, "npy"); os.makedirs(d)
for split, n in (("train", 400), ("test", 100)):
    x, y = images(n)
    np.save(os.path.join(d, "x_%s.npy" % split), x)             # (N, H, W) uint8
    np.save(os.path.join(d, "y_%s.npy" % split), y.astype(np.int64))
# the same task as float32 in [0, 1], channels last, labels (N, 1) uint8
d = os.path.join(root, "npyf"); os.makedirs(d)
for split, n in (("train", 400), ("test", 100)):
    x, y = images(n)
    np.save(os.path.join(d, "x_%s.npy" % split), (x / 255.0).astype(np.float32)[..., None])
    np.save(os.path.join(d, "y_%s.npy" % split), y.astype(np.uint8).reshape(-1, 1))
d = os.path.join(root, "img")
for split, n in (("train", 200), ("test", 60)):
    x, y = images(n)
    for i in range(n):
        cls = os.path.join(d, split, ("top", "bottom")[y[i]])
        os.makedirs(cls, exist_ok=True)
        gray_png(os.path.join(cls, "%04d.png" % i), x[i])
PY

train() { # DATA OUT [options]
    data=$1 out=$2; shift 2
    "$GEVO" train "$T/net.net" --data "$data" --threads 1 --quiet --out "$out" "$@" >/dev/null 2>"$out.err"
}
above_chance() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['status'] == 'ok' and d['val_acc'] >= 0.9 and d['test_acc'] >= 0.9 else 1)" "$1"; }

for set in npy npyf img; do
    train "$T/$set" "$T/$set.1.json"
    if above_chance "$T/$set.1.json" && [ "$(J "$T/$set.1.json" 'd["data_cache"]["decoded"]')" = True ]; then
        ok "train_on_${set}_above_chance"
    else
        fail "train_on_${set}_above_chance" "$(cat "$T/$set.1.json.err") $(J "$T/$set.1.json" 'd.get("message"), d.get("val_acc")' 2>&1)"
    fi
done
[ "$(J "$T/img.1.json" 'd["classes"]')" = "['bottom', 'top']" ] && [ "$(J "$T/img.1.json" 'd["data_format"]')" = images ] &&
    ok result_names_classes || fail result_names_classes "$(J "$T/img.1.json" 'd.get("classes")' 2>&1)"

# a second process maps the cache: nothing decoded, the same file, the
# same result
for set in npy img; do
    cache=$(J "$T/$set.1.json" 'd["data_cache"]["path"]')
    cp "$cache" "$T/$set.cache.before"
    train "$T/$set" "$T/$set.2.json"
    if [ "$(J "$T/$set.2.json" 'd["data_cache"]["decoded"]')" = False ] &&
        [ "$(J "$T/$set.2.json" 'd["data_cache"]["path"]')" = "$cache" ] &&
        cmp -s "$cache" "$T/$set.cache.before" &&
        [ "$(J "$T/$set.1.json" 'd["val_acc"]')" = "$(J "$T/$set.2.json" 'd["val_acc"]')" ]; then
        ok "cache_reused_$set"
    else
        fail "cache_reused_$set" "$(J "$T/$set.2.json" 'd["data_cache"], d["val_acc"]' 2>&1)"
    fi
done

# a cache that cannot be opened (here a link to itself where the file should be) is
# not a failure: the data are decoded into memory and the result says why
cache=$(J "$T/npy.1.json" 'd["data_cache"]["path"]')
rm -f "$cache" && ln -s "$cache" "$cache"
train "$T/npy" "$T/npy.3.json"
if above_chance "$T/npy.3.json" && [ "$(J "$T/npy.3.json" 'd["data_cache"]["path"]')" = None ] &&
    J "$T/npy.3.json" 'd["data_cache"]["note"]' | grep -q "$cache"; then
    ok unreadable_cache_decodes_into_memory
else
    fail unreadable_cache_decodes_into_memory "$(cat "$T/npy.3.json.err") $(J "$T/npy.3.json" 'd.get("data_cache"), d.get("message")' 2>&1)"
fi
rm -f "$cache"

# decode progress: "decode" events before training's, only on first use
cp -r "$T/npy" "$T/npy2"
"$GEVO" train "$T/net.net" --data "$T/npy2" --threads 1 --progress >"$T/prog1.jsonl" 2>/dev/null
"$GEVO" train "$T/net.net" --data "$T/npy2" --threads 1 --progress >"$T/prog2.jsonl" 2>/dev/null
if $PY - "$T/prog1.jsonl" "$T/prog2.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
dec = [e for e in a if e["event"] == "decode"]
assert dec and dec[-1]["done"] == dec[-1]["total"] == 500, dec[-1:]
assert a.index(dec[-1]) < [e["event"] for e in a].index("start")
assert not [e for e in b if e["event"] == "decode"], "decoded twice"
PY
then ok decode_progress_events; else fail decode_progress_events "$(head -c 300 "$T/prog1.jsonl")"; fi

# two workers starting together: both train, one decodes
cp -r "$T/img" "$T/img2"
train "$T/img2" "$T/c1.json" & p1=$!
train "$T/img2" "$T/c2.json" & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
d1=$(J "$T/c1.json" 'd["data_cache"]["decoded"]' 2>&1)
d2=$(J "$T/c2.json" 'd["data_cache"]["decoded"]' 2>&1)
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ "$d1 $d2" != "True True" ] && [ "$d1 $d2" != "False False" ]; then
    ok concurrent_workers_decode_once
else
    fail concurrent_workers_decode_once "rc $r1 $r2, decoded $d1 $d2"
fi

# errors name the file, and leave no cache behind
expect() { # NAME DATA TEXT
    n_before=$(ls "$GEVO_CACHE_DIR" | grep -c '\.gdc$')
    "$GEVO" train "$T/net.net" --data "$2" --quiet --out "$T/e.json" >/dev/null 2>&1
    rc=$?
    m=$(J "$T/e.json" 'd["message"]' 2>&1)
    n_after=$(ls "$GEVO_CACHE_DIR" | grep -c '\.gdc$')
    case "$m" in
    *"$3"*) [ $rc -eq 1 ] && [ "$n_before" = "$n_after" ] && ok "$1" || fail "$1" "rc=$rc, cache files $n_before -> $n_after" ;;
    *) fail "$1" "rc=$rc: $m" ;;
    esac
}
cp -r "$T/npy" "$T/bad1"
$PY -c "import numpy as np; np.save('$T/bad1/y_train.npy', np.arange(399) % 2)"
expect error_count_mismatch "$T/bad1" "x_train.npy has 400 images but $T/bad1/y_train.npy has 399 labels"
$PY -c "import numpy as np; y = np.arange(400) % 2; y[7] = -3; np.save('$T/bad1/y_train.npy', y)"
expect error_label_out_of_range "$T/bad1" "y_train.npy: label -3 at index 7 is out of range"
$PY -c "import numpy as np; np.save('$T/bad1/x_train.npy', np.zeros((400, 8, 8), np.float64))"
expect error_npy_dtype "$T/bad1" "x_train.npy: dtype '<f8' is not supported for images"
$PY -c "import numpy as np; np.save('$T/bad1/x_train.npy', np.asfortranarray(np.zeros((400, 8, 8), np.uint8)))"
expect error_npy_fortran "$T/bad1" "x_train.npy: header: fortran_order True is not supported"
cp -r "$T/img" "$T/bad2"
head -c 60 "$T/img/train/top/0000.png" >"$T/bad2/train/top/0000.png"
expect error_truncated_png "$T/bad2" "bad2/train/top/0000.png: corrupt or truncated PNG"
cp "$T/img/train/top/0000.png" "$T/bad2/train/top/0000.png"
mkdir "$T/bad2/train/zebra"
expect error_empty_class "$T/bad2" "bad2/train/zebra: an empty class folder"
rmdir "$T/bad2/train/zebra"
$PY - "$T/bad2/train/top/0000.png" <<'PY'
import struct, sys, zlib
def chunk(t, data):
    c = struct.pack(">I", len(data)) + t + data
    return c + struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)
raw = b"".join(b"\0" + bytes(10) for _ in range(8))
ihdr = struct.pack(">IIBBBBB", 10, 8, 8, 0, 0, 0, 0)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
expect error_image_sizes "$T/bad2" "bad2/train/top/0000.png: 8x10, but $T/bad2/train/bottom/0001.png is 8x8"

# the network's input line must match the data; --resize resamples the
# data to it, --input trains the program at the data's shape instead
sed 's/^input x: 1x8x8/input x: 1x10x10/' "$T/net.net" >"$T/net10.net"
"$GEVO" train "$T/net10.net" --data "$T/npy" --quiet --out "$T/m.json" >/dev/null 2>&1
rc=$?
m=$(J "$T/m.json" 'd["message"]' 2>&1)
case "$m" in
*"net10.net: its input line says 1x10x10, but the data in $T/npy is 1x8x8 images (write 'input x: 1x8x8', or resample the data with --resize 10x10)"*)
    [ $rc -eq 1 ] && ok error_input_line_mismatch || fail error_input_line_mismatch "rc=$rc" ;;
*) fail error_input_line_mismatch "rc=$rc: $m" ;;
esac
"$GEVO" train "$T/net10.net" --data "$T/npy" --resize 10x10 --threads 1 --quiet --out "$T/r.json" >/dev/null 2>&1
above_chance "$T/r.json" && [ "$(J "$T/r.json" 'd["data_cache"]["decoded"]')" = True ] &&
    ok resize_trains_and_has_its_own_cache || fail resize_trains_and_has_its_own_cache "$(J "$T/r.json" 'd.get("message")' 2>&1)"
"$GEVO" train "$T/net10.net" --data "$T/npy" --input 1x8x8 --threads 1 --quiet --out "$T/i.json" >/dev/null 2>&1
above_chance "$T/i.json" && ok input_option_trains_at_data_shape || fail input_option_trains_at_data_shape "$(J "$T/i.json" 'd.get("message")' 2>&1)"
# images of two sizes train with --resize
"$GEVO" train "$T/net.net" --data "$T/bad2" --resize 8x8 --threads 1 --quiet --out "$T/r2.json" >/dev/null 2>&1
[ "$(J "$T/r2.json" 'd["status"]')" = ok ] && ok resize_takes_mixed_sizes || fail resize_takes_mixed_sizes "$(J "$T/r2.json" 'd.get("message")' 2>&1)"
"$GEVO" train "$T/net.net" --data "$T/npy" --resize 8 >/dev/null 2>"$T/u.err"
[ $? -eq 2 ] && grep -q "resize: '8' is not a size HxW" "$T/u.err" && ok resize_usage_error || fail resize_usage_error "$(cat "$T/u.err")"

# gevo new loads the data (decoding it once) and refuses a seed whose input
# line does not match it; --resize is recorded for the session's workers
"$GEVO" new "$T/s1" --data "$T/npy" >"$T/n1.out" 2>"$T/n1.err"
rc=$?
grep -q "gevo new: the seed does not fit the data: .*quick.net: its input line says 1x28x28, but the data in $T/npy is 1x8x8 images" "$T/n1.err" &&
    [ $rc -eq 1 ] && [ ! -e "$T/s1" ] && ok new_refuses_seed_of_other_shape || fail new_refuses_seed_of_other_shape "rc=$rc $(cat "$T/n1.err")"
"$GEVO" new "$T/s2" --seed "$T/net.net" --data "$T/img" >"$T/n2.out" 2>&1 &&
    grep -q "data $T/img (200 training images of 1x8x8, 2 classes)" "$T/n2.out" &&
    ok new_loads_the_data || fail new_loads_the_data "$(cat "$T/n2.out")"
"$GEVO" new "$T/s3" --seed "$T/net10.net" --data "$T/npy" --resize 10x10 >/dev/null 2>"$T/n3.err" &&
    grep -q '"resize": "10x10"' "$T/s3/gevo.json" && ok new_records_resize || fail new_records_resize "$(cat "$T/n3.err")"
