#!/usr/bin/python3
"""Checks PyTorch exports of gevo networks against gevo itself.

usage: check_export.py DATA DIR...

DATA holds the IDX files the networks were trained and evaluated on. Each
DIR is a `gevo export --torch` folder to which the test added:
  gevo_train.json   gevo train's result (its parameter count)
  gevo_eval.json    gevo eval's result on DIR/genome.net DIR/gevo.weights
  gevo_logits.f32   gevo's logits of the first test images (float32)
For each DIR it prints PASS or FAIL lines named export_NAME_CHECK (NAME is
the folder's name) for: the parameter count, the logits (relative 1e-4),
the test accuracy (0.1 points), the ONNX export with onnx.checker, and one
epoch of fine-tuning (weights change, accuracy within a point or better)."""
import importlib.util
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

LOGITS_RTOL = 1e-4  # max |torch - gevo| over max |gevo|, per network
ACC_POINTS = 0.1
FINETUNE_POINTS = 1.0


def idx(path):
    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def images(data, split):
    x = idx(os.path.join(data, split + "-images-idx3-ubyte"))
    y = idx(os.path.join(data, split + "-labels-idx1-ubyte"))
    # as gevo reads them: C x H x W bytes scaled to [0, 1]
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


def load_module(folder, name):
    spec = importlib.util.spec_from_file_location("export_" + name, os.path.join(folder, "model.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def accuracy(net, x, y, batch=250):
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return 100.0 * correct / len(x)


def report(name, ok, detail):
    print("%s export_%s (%s)" % ("PASS" if ok else "FAIL", name, detail))
    sys.stdout.flush()


def check(data, folder, train, test):
    name = os.path.basename(os.path.normpath(folder))
    with open(os.path.join(folder, "gevo_train.json")) as f:
        gevo_train = json.load(f)
    with open(os.path.join(folder, "gevo_eval.json")) as f:
        gevo_eval = json.load(f)
    mod = load_module(folder, name)
    net = mod.load()

    params = sum(p.numel() for p in net.parameters())
    report(name + "_params", params == gevo_train["params"],
           "PyTorch %d, gevo %d" % (params, gevo_train["params"]))

    ours = np.fromfile(os.path.join(folder, "gevo_logits.f32"), np.float32)
    n = len(ours) // gevo_train_classes(net, test[0])
    ours = torch.from_numpy(ours.reshape(n, -1))
    with torch.no_grad():
        theirs = net(test[0][:n])
    rel = ((theirs - ours).abs().max() / ours.abs().max()).item()
    report(name + "_logits", theirs.shape == ours.shape and rel <= LOGITS_RTOL,
           "%d images, max difference %.2e of the largest logit" % (n, rel))

    acc = accuracy(net, *test)
    gacc = 100.0 * gevo_eval["test_acc"]
    report(name + "_accuracy", abs(acc - gacc) <= ACC_POINTS,
           "PyTorch %.2f%%, gevo %.2f%% on %d test images" % (acc, gacc, len(test[0])))

    import onnx
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        try:
            torch.onnx.export(net, test[0][:2], path, input_names=["images"],
                              output_names=["logits"],
                              dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
            onnx.checker.check_model(onnx.load(path))
            report(name + "_onnx", True, "torch.onnx.export, onnx.checker")
        except Exception as e:  # the message is the test's output
            report(name + "_onnx", False, "%s: %s" % (type(e).__name__, e))

    torch.manual_seed(1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    order = torch.randperm(len(train[0]))
    for i in range(0, len(order), 64):
        b = order[i:i + 64]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(train[0][b]), train[1][b]).backward()
        opt.step()
    changed = sum(int(not torch.equal(before[k], v)) for k, v in net.state_dict().items())
    tuned = accuracy(net, *test)
    report(name + "_finetune", changed > 0 and tuned >= acc - FINETUNE_POINTS,
           "%d of %d tensors changed, accuracy %.2f%% -> %.2f%%"
           % (changed, len(before), acc, tuned))


def gevo_train_classes(net, x):
    with torch.no_grad():
        return net(x[:1]).shape[1]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    torch.set_num_threads(1)  # spinning OpenMP threads cost more than they give on a busy machine
    data = sys.argv[1]
    train, test = images(data, "train"), images(data, "t10k")
    for folder in sys.argv[2:]:
        try:
            check(data, folder, train, test)
        except Exception as e:
            report(os.path.basename(os.path.normpath(folder)) + "_load", False,
                   "%s: %s" % (type(e).__name__, e))


main()
