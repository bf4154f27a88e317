#!/bin/sh
# Start-up of a training worker per data layout, first use (decoding into
# an empty cache) and second use (mapping the cache): the seconds from
# starting `gevo train --progress` to its "start" event, which comes right
# before the first training step (after loading, the split, the channel
# statistics and the model's allocation).
# Layouts: Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist), the
# same 70,000 images as NumPy arrays, and IMAGES of them (default 12,000)
# as an image folder of PNG files; and a baseline, 300 of them as NumPy
# arrays, for what start-up costs without data (loading the program's
# libraries, compiling the network, allocating the model). "second" is the
# fastest of three runs (the machine is shared and noisy).
# Usage: tests/bench/data_startup.sh [GEVO]   (from the source tree)
set -eu
GEVO=${1:-./gevo}
FMNIST=/usr/share/datasets/fashion-mnist
IMAGES=${IMAGES:-12000}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/gevo-startup.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
PYTHONPATH="$(dirname "$0")/../sh" "$PY" - "$FMNIST" "$T" "$IMAGES" <<'PY'
import gzip, os, struct, sys
import numpy as np
from gray_png import gray_png
src, root, images = sys.argv[1], sys.argv[2], int(sys.argv[3])
def idx(name):
    with gzip.open(os.path.join(src, name + ".gz")) as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)
x, y = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte")
xt, yt = idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte")
os.makedirs(os.path.join(root, "npy"))
os.makedirs(os.path.join(root, "tiny"))
for name, a in (("x_train", x), ("y_train", y), ("x_test", xt), ("y_test", yt)):
    np.save(os.path.join(root, "npy", name + ".npy"), a)
    np.save(os.path.join(root, "tiny", name + ".npy"), a[:300])
ntest = images // 6
for split, xs, ys, n in (("train", x, y, images - ntest), ("test", xt, yt, ntest)):
    for i in range(n):
        d = os.path.join(root, "img", split, "class%d" % ys[i])
        os.makedirs(d, exist_ok=True)
        gray_png(os.path.join(d, "%05d.png" % i), xs[i])
PY
measure() { # DATA: seconds to the start event
    "$PY" - "$GEVO" "$1" <<'PY'
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen([sys.argv[1], "train", "engine/nets/quick.net", "--data", sys.argv[2],
                      "--progress", "--no-test", "--subset", "256", "--threads", "1"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
for line in p.stdout:
    if '"event":"start"' in line:
        print("%.3f" % (time.monotonic() - t0))
        break
p.kill()
p.wait()
PY
}
echo "data startup: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %9s %9s\n' layout first_s second_s
for layout in "baseline-npy-300 $T/tiny" "fashion-mnist-idx $FMNIST" "fashion-mnist-npy $T/npy" \
    "images-png-$IMAGES $T/img"; do
    set -- $layout
    export GEVO_CACHE_DIR="$T/cache-$1"
    a=$(measure "$2")
    b=$( (measure "$2"; measure "$2"; measure "$2") | sort -n | head -n 1)
    printf '%-34s %9s %9s\n' "$1" "$a" "$b"
done
