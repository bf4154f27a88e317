"""PyTorch's side of `make bench` (tests/bench.sh): trains one of the
networks of models.py for one pass over N images on the CPU, as gevo
train does (same batch, optimiser, weight decay on conv and linear weights
only, per-channel input normalisation measured on the training images),
then evaluates the test set in eval mode under no_grad (--eval-passes
times: the fastest pass is its speed), and prints one JSON
line: parameters, training images per second, test accuracy, evaluation
images per second, peak resident memory.

  /usr/bin/python3 tests/reference/bench.py --model exquisitenetv2 --images 60000 --threads 2
  ... --memory-format channels_last      # NHWC, oneDNN's fast path on the CPU

--data is an IDX folder (Fashion-MNIST, gzipped or not) or a folder of
CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin), the formats
gevo reads; tests/bench.sh writes synthetic CIFAR-10 batches when the real
ones are absent, so both sides read the same bytes."""
import argparse
import gzip
import json
import os
import resource
import time

import numpy as np
import torch
import torch.nn as nn

import models


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise SystemExit("bench.py: %s: no %s[.gz]" % (folder, stem))


def read_cifar(paths):
    recs = np.concatenate([np.fromfile(p, np.uint8).reshape(-1, 3073) for p in paths])
    return recs[:, 1:].reshape(-1, 3, 32, 32), recs[:, 0].astype(np.int64)


def load(folder):
    """(train images, train labels, test images, test labels), images
    N x C x H x W uint8."""
    cifar = os.path.join(folder, "data_batch_1.bin")
    if os.path.exists(cifar):
        train = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                       if f.startswith("data_batch_") and f.endswith(".bin"))
        xtr, ytr = read_cifar(train)
        xte, yte = read_cifar([os.path.join(folder, "test_batch.bin")])
        return xtr, ytr, xte, yte
    xtr = read_idx(find(folder, "train-images-idx3-ubyte"))[:, None]
    ytr = read_idx(find(folder, "train-labels-idx1-ubyte")).astype(np.int64)
    xte = read_idx(find(folder, "t10k-images-idx3-ubyte"))[:, None]
    yte = read_idx(find(folder, "t10k-labels-idx1-ubyte")).astype(np.int64)
    return xtr, ytr, xte, yte


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="exquisitenetv2", choices=sorted(models.MODELS))
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--images", type=int, default=60000, help="training images (one pass)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--eval-batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory-format", default="contiguous", choices=("contiguous", "channels_last"))
    ap.add_argument("--no-test", action="store_true", help="skip the test set's evaluation")
    ap.add_argument("--eval-passes", type=int, default=1,
                    help="evaluate the test set this many times; its speed is the fastest pass's")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr, xte, yte = load(a.data)
    order = torch.randperm(len(xtr))[:a.images].numpy()
    xtr, ytr = xtr[order], ytr[order]
    c, h = xtr.shape[1], xtr.shape[2]
    # gevo's normalisation: per channel, measured on the training images
    mean = xtr.reshape(len(xtr), c, -1).mean(axis=(0, 2)) / 255
    std = (xtr.reshape(len(xtr), c, -1) / 255).std(axis=(0, 2))
    fmt = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format

    def tensor(x):
        t = (torch.from_numpy(x.astype(np.float32) / 255) - torch.from_numpy(mean).float()[:, None, None]) \
            / torch.from_numpy(std).float()[:, None, None]
        return t.contiguous(memory_format=fmt)

    x, y = tensor(xtr), torch.from_numpy(ytr)
    net = models.build(a.model, c, h).to(memory_format=fmt)
    decay = {id(p) for p in models.decayed(net)}
    groups = [{"params": [p for p in net.parameters() if id(p) in decay], "weight_decay": 1e-4},
              {"params": [p for p in net.parameters() if id(p) not in decay], "weight_decay": 0.0}]
    opt = torch.optim.SGD(groups, lr=a.lr, momentum=0.9, nesterov=True)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    t0 = time.perf_counter()
    for s in range(0, len(x), a.batch):
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x[s:s + a.batch]), y[s:s + a.batch]).backward()
        opt.step()
    train_s = time.perf_counter() - t0
    out = {"model": a.model, "params": sum(p.numel() for p in net.parameters()),
           "input": "%dx%dx%d" % (c, h, xtr.shape[3]), "images": len(x), "batch": a.batch,
           "threads": a.threads, "memory_format": a.memory_format,
           "train_seconds": round(train_s, 3), "images_per_second": round(len(x) / train_s, 1)}
    if not a.no_test:
        xt = tensor(xte)
        net.eval()
        passes = []
        for _ in range(max(1, a.eval_passes)):
            correct = 0
            t0 = time.perf_counter()
            with torch.no_grad():
                for s in range(0, len(xt), a.eval_batch):
                    correct += int((net(xt[s:s + a.eval_batch]).argmax(1) ==
                                    torch.from_numpy(yte[s:s + a.eval_batch])).sum())
            passes.append(time.perf_counter() - t0)
        eval_s = min(passes)
        out.update({"test_accuracy": round(correct / len(xt), 4), "eval_batch": a.eval_batch,
                    "eval_images": len(xt), "eval_seconds": round(eval_s, 3),
                    "eval_passes": [round(p, 3) for p in passes],
                    "eval_images_per_second": round(len(xt) / eval_s, 1)})
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["torch"] = torch.__version__
    print(json.dumps(out))


if __name__ == "__main__":
    main()
