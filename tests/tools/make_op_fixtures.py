#!/usr/bin/python3
"""Writes PyTorch reference tensors for gevo's operators (engine/ops.h).

Run with Debian's python3 (python3-torch):  /usr/bin/python3 tests/tools/make_op_fixtures.py
It rewrites tests/fixtures/ops/*.fix; tests/unit/test_ops_torch.c reads them,
so the C tests never need torch. Every case here mirrors a case of the same
name in tests/unit/test_ops_cases.h (same tensor names and shapes; the C test
checks every size).

Each case is computed in float64 from float32 inputs (so the stored inputs
are exactly what torch used), with a random output gradient `dout`.

File format (little-endian), one file per case:
    gevo-op-fixture 1 <case>\n
    then per tensor a text line "<name> <count>\n" followed by <count>
    float32 values (4 bytes each, little-endian), and finally "end\n".
Tensor names: the case's inputs and parameters by name; "out" (forward
output, flattened NCHW); "dout"; "grad_<name>" for each differentiable input;
"state_<name>_in" / "state_<name>_out" for state a forward updates (batchnorm
running statistics). Labels are stored as float32 class numbers.
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "ops")
gen = torch.Generator().manual_seed(20240607)


def rnd(*shape, scale=1.0):
    # float32 first, so the values written are exactly the values used
    return (torch.randn(*shape, generator=gen, dtype=torch.float32) * scale).double()


def uni(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo).double()


class Case:
    def __init__(self, name):
        self.name = name
        self.inputs = []   # (name, tensor, differentiable)
        self.states = []   # (name, tensor)

    def t(self, name, value, diff=True):
        self.inputs.append((name, value, diff))
        return value

    def s(self, name, value):
        self.states.append((name, value))
        return value


def conv_case(name, n, cin, h, w, cout, kh, kw, stride, pad_h, pad_w, dil, groups, bias):
    c = Case(name)
    c.t("x", rnd(n, cin, h, w))
    c.t("w", rnd(cout, cin // groups, kh, kw, scale=0.5))
    if bias:
        c.t("b", rnd(cout))

    def f(v, st):
        return F.conv2d(v["x"], v["w"], v.get("b"), stride=stride, padding=(pad_h, pad_w),
                        dilation=dil, groups=groups)
    return c, f


def bn_case(name, n, c_, hw, training):
    c = Case(name)
    c.t("x", rnd(n, c_, hw, 1, scale=2.0) + 0.5)
    c.t("gamma", uni(c_, lo=0.5, hi=1.5))
    c.t("beta", rnd(c_))
    c.s("run_mean", rnd(c_) * 0.3 if not training else torch.zeros(c_))
    c.s("run_var", uni(c_, lo=0.5, hi=1.5) if not training else torch.ones(c_))

    def f(v, st):
        return F.batch_norm(v["x"], st["run_mean"], st["run_var"], v["gamma"], v["beta"],
                            training=training, momentum=0.1, eps=1e-5)
    return c, f


def ln_case(name, n, c_, hw):
    c = Case(name)
    c.t("x", rnd(n, c_, hw, 1))
    c.t("gamma", uni(c_, lo=0.5, hi=1.5))
    c.t("beta", rnd(c_))

    def f(v, st):
        x = v["x"].permute(0, 2, 3, 1)
        y = F.layer_norm(x, (c_,), v["gamma"], v["beta"], 1e-5)
        return y.permute(0, 3, 1, 2)
    return c, f


def act_case(name, fn, special=()):
    c = Case(name)
    x = rnd(2, 3, 16, scale=2.5)
    for i, s in enumerate(special):
        x.view(-1)[i] = s
    c.t("x", x)
    return c, lambda v, st: fn(v["x"])


def pool_case(name, kind, n, c_, h, w, k, stride, pad, ceil):
    c = Case(name)
    c.t("x", rnd(n, c_, h, w))

    def f(v, st):
        x = v["x"]
        if kind == "max":
            return F.max_pool2d(x, k, stride, pad, ceil_mode=ceil)
        if kind == "min":
            return -F.max_pool2d(-x, k, stride, pad, ceil_mode=ceil)
        return F.avg_pool2d(x, k, stride, pad, ceil_mode=ceil, count_include_pad=True)
    return c, f


def xent_case(name, smoothing):
    c = Case(name)
    c.t("logits", rnd(5, 7, scale=2.0))
    c.t("labels", torch.tensor([3.0, 0.0, 6.0, 3.0, 1.0]), diff=False)
    return c, lambda v, st: F.cross_entropy(v["logits"], v["labels"].long(),
                                            label_smoothing=smoothing).reshape(1)


def cases():
    yield conv_case("conv_1x1", 2, 4, 5, 5, 6, 1, 1, 1, 0, 0, 1, 1, True)
    yield conv_case("conv_1x1_grouped", 2, 4, 3, 5, 6, 1, 1, 1, 0, 0, 1, 2, False)
    yield conv_case("conv_general", 2, 4, 7, 6, 6, 3, 2, 2, 2, 1, 2, 2, True)
    yield conv_case("conv_3x3", 2, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, False)
    yield conv_case("conv_strided_1x1", 2, 3, 7, 7, 5, 1, 1, 2, 1, 0, 1, 1, True)
    yield conv_case("conv_depthwise", 2, 4, 7, 7, 4, 3, 3, 2, 1, 1, 1, 4, True)
    yield conv_case("conv_depthwise_dil", 2, 3, 6, 7, 3, 3, 2, 1, 2, 1, 2, 3, False)

    c = Case("linear")
    c.t("x", rnd(3, 5))
    c.t("w", rnd(4, 5))
    c.t("b", rnd(4))
    yield c, lambda v, st: F.linear(v["x"], v["w"], v["b"])

    yield bn_case("bn_train", 2, 3, 25, True)
    yield bn_case("bn_eval", 2, 3, 25, False)
    yield bn_case("bn_vec", 4, 5, 1, True)
    yield ln_case("ln_map", 2, 4, 9)
    yield ln_case("ln_vec", 3, 6, 1)

    yield act_case("relu", F.relu, special=(0.0,))
    yield act_case("silu", F.silu)
    yield act_case("hswish", F.hardswish, special=(-3.0, 3.0))
    yield act_case("gelu", F.gelu)
    yield act_case("sigmoid", torch.sigmoid)
    yield act_case("tanh", torch.tanh)

    yield pool_case("maxpool_ceil", "max", 2, 3, 7, 6, 3, 2, 1, True)
    yield pool_case("maxpool_floor", "max", 2, 3, 7, 7, 2, 2, 0, False)
    yield pool_case("minpool_ceil", "min", 2, 3, 7, 5, 2, 2, 0, True)
    yield pool_case("avgpool_ceil_pad", "avg", 2, 3, 7, 6, 3, 2, 1, True)
    yield pool_case("avgpool_ceil", "avg", 2, 3, 5, 5, 2, 2, 0, True)

    c = Case("gap")
    c.t("x", rnd(2, 3, 5, 6))
    yield c, lambda v, st: v["x"].mean((2, 3))

    c = Case("concat")
    for nm, ch in (("a", 2), ("b", 3), ("c", 1)):
        c.t(nm, rnd(2, ch, 12))
    yield c, lambda v, st: torch.cat([v["a"], v["b"], v["c"]], 1)

    c = Case("add")
    for nm in "abc":
        c.t(nm, rnd(2, 3, 10))
    yield c, lambda v, st: v["a"] + v["b"] + v["c"]

    c = Case("mul")
    c.t("a", rnd(2, 3, 20))
    c.t("b", rnd(2, 3, 20))
    yield c, lambda v, st: v["a"] * v["b"]

    c = Case("mul_bcast")
    c.t("a", rnd(2, 3, 20))
    c.t("b", rnd(2, 3, 1))
    yield c, lambda v, st: v["a"] * v["b"]

    c = Case("dropout")
    c.t("x", rnd(2, 4, 9))
    keep = (torch.rand(2, 4, 9, generator=gen) >= 0.3).double()
    c.t("mask", keep / 0.7, diff=False)  # the scaled mask, as ops_dropout keeps it
    yield c, lambda v, st: v["x"] * v["mask"]

    yield xent_case("xent_smooth", 0.1)
    yield xent_case("xent_plain", 0.0)

    # composites, as chained by hand in test_ops_cases.h
    c = Case("resblock")
    c.t("x", rnd(2, 4, 6, 6))
    c.t("w0", rnd(4, 4, 3, 3, scale=0.3))
    c.t("gamma0", uni(4, lo=0.5, hi=1.5))
    c.t("beta0", rnd(4) * 0.2)
    c.t("w1", rnd(4, 4, 3, 3, scale=0.3))
    c.t("b1", rnd(4) * 0.2)
    c.t("gamma1", uni(4, lo=0.5, hi=1.5))
    c.t("beta1", rnd(4) * 0.2)

    def res(v, st):
        a = F.conv2d(v["x"], v["w0"], None, padding=1)
        a = F.relu(F.batch_norm(a, None, None, v["gamma0"], v["beta0"], training=True, eps=1e-5))
        a = F.conv2d(a, v["w1"], v["b1"], padding=1)
        a = F.batch_norm(a, None, None, v["gamma1"], v["beta1"], training=True, eps=1e-5)
        return F.relu(a + v["x"])
    yield c, res

    c = Case("catnet")
    c.t("x", rnd(2, 4, 6, 6))
    c.t("w0", rnd(3, 4, 1, 1, scale=0.5))
    c.t("b0", rnd(3) * 0.2)
    c.t("w1", rnd(4, 2, 3, 3, scale=0.3))
    c.t("w2", rnd(4, 1, 3, 3, scale=0.3))
    c.t("b2", rnd(4) * 0.2)

    def cat(v, st):
        b0 = F.conv2d(v["x"], v["w0"], v["b0"])
        b1 = F.conv2d(F.max_pool2d(v["x"], 3, 1, 1), v["w1"], None, padding=1, groups=2)
        b2 = F.conv2d(v["x"], v["w2"], v["b2"], padding=1, groups=4)
        return F.hardswish(torch.cat([b0, b1, b2], 1))
    yield c, cat

    c = Case("senet")
    c.t("x", rnd(2, 4, 5, 5))
    c.t("w0", rnd(2, 4, scale=0.5))
    c.t("b0", rnd(2) * 0.2 + 0.3)
    c.t("w1", rnd(4, 2, scale=0.5))
    c.t("b1", rnd(4) * 0.2)
    c.t("gamma", uni(4, lo=0.5, hi=1.5))
    c.t("beta", rnd(4) * 0.2)

    def se(v, st):
        s = v["x"].mean((2, 3))
        s = F.linear(F.relu(F.linear(s, v["w0"], v["b0"])), v["w1"], v["b1"])
        s = torch.sigmoid(F.layer_norm(s, (4,), v["gamma"], v["beta"], 1e-5))
        return v["x"] * s[:, :, None, None]
    yield c, se

    c = Case("head")
    c.t("x", rnd(3, 3, 6, 6))
    c.t("w0", rnd(4, 3, 3, 3, scale=0.3))
    c.t("b0", rnd(4) * 0.2)
    c.t("gamma", uni(4, lo=0.5, hi=1.5))
    c.t("beta", rnd(4) * 0.2)
    c.t("w1", rnd(5, 4, scale=0.5))
    c.t("b1", rnd(5) * 0.2)
    keep = (torch.rand(3, 4, generator=gen) >= 0.25).double()
    c.t("mask", keep / 0.75, diff=False)
    c.t("labels", torch.tensor([4.0, 0.0, 2.0]), diff=False)
    c.s("run_mean", torch.zeros(4))
    c.s("run_var", torch.ones(4))

    def head(v, st):
        a = F.conv2d(v["x"], v["w0"], v["b0"], stride=2, padding=1)
        a = F.batch_norm(a, st["run_mean"], st["run_var"], v["gamma"], v["beta"],
                         training=True, momentum=0.1, eps=1e-5)
        a = F.gelu(a).mean((2, 3)) * v["mask"]
        logits = F.linear(a, v["w1"], v["b1"])
        return F.cross_entropy(logits, v["labels"].long(), label_smoothing=0.1).reshape(1)
    yield c, head


def write_tensor(f, name, t):
    data = t.detach().to(torch.float32).contiguous().reshape(-1)
    f.write(("%s %d\n" % (name, data.numel())).encode())
    f.write(struct.pack("<%df" % data.numel(), *data.tolist()))


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for case, fn in cases():
        leaves = {}
        for name, value, diff in case.inputs:
            # round through float32 so torch sees what the file holds
            leaves[name] = value.to(torch.float32).double().requires_grad_(diff)
        states = {name: value.to(torch.float32).double().clone() for name, value in case.states}
        states_in = {name: value.clone() for name, value in states.items()}
        out = fn(leaves, states)
        dout = uni(*out.shape)
        out.backward(dout)
        path = os.path.join(OUT, case.name + ".fix")
        with open(path, "wb") as f:
            f.write(("gevo-op-fixture 1 %s\n" % case.name).encode())
            for name, value, diff in case.inputs:
                write_tensor(f, name, leaves[name])
            for name in states:
                write_tensor(f, "state_%s_in" % name, states_in[name])
                write_tensor(f, "state_%s_out" % name, states[name])
            write_tensor(f, "out", out)
            write_tensor(f, "dout", dout)
            for name, value, diff in case.inputs:
                if diff:
                    write_tensor(f, "grad_" + name, leaves[name].grad)
            f.write(b"end\n")
        total += os.path.getsize(path)
    print("wrote %s (%d bytes)" % (OUT, total), file=sys.stderr)


if __name__ == "__main__":
    main()
