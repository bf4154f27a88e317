#!/usr/bin/python3
"""Writes a small Fashion-MNIST: the first TRAIN training and TEST test
images (and labels) of SRC's IDX files, as uncompressed IDX files in OUT,
which gevo and tests/export/check_export.py read.

usage: subset_idx.py SRC OUT TRAIN TEST   (python3 only, no numpy)"""
import gzip
import os
import struct
import sys


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def find(src, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(src, name)):
            return os.path.join(src, name)
    sys.exit("subset_idx.py: %s is not in %s" % (stem, src))


def subset(src, out, stem, n):
    data = read(find(src, stem))
    ndim = data[3]
    dims = list(struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim]))
    per = 1
    for d in dims[1:]:
        per *= d
    n = min(n, dims[0])
    dims[0] = n
    head = data[:4] + struct.pack(">%dI" % ndim, *dims)
    body = data[4 + 4 * ndim:4 + 4 * ndim + n * per]
    with open(os.path.join(out, stem), "wb") as f:
        f.write(head + body)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    src, out, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    for stem, n in (("train-images-idx3-ubyte", ntrain), ("train-labels-idx1-ubyte", ntrain),
                    ("t10k-images-idx3-ubyte", ntest), ("t10k-labels-idx1-ubyte", ntest)):
        subset(src, out, stem, n)


main()
