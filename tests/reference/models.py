"""The networks of engine/nets/ written in PyTorch, for `make bench`: the
same layers, the same parameter counts (`gevo check engine/nets/NAME.net`)
and PyTorch's default initialisation, which gevo's engine reproduces.

    exquisitenetv2  518,230 parameters on 3x32x32 (CIFAR-10), 518,126 on 1x28x28
    smallcnn        421,642 on 1x28x28
    quick           14,634 on 1x28x28 (the interactive default seed)

Run with Debian's python3-torch (/usr/bin/python3)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def pool2(x, smallest=False):
    """2x2 max (or min) pooling at stride 2 in ceil mode, as gevo's
    maxpool(x, 2, ceil=true) and minpool(x, 2, ceil=true)."""
    if smallest:
        return -F.max_pool2d(-x, 2, ceil_mode=True)
    return F.max_pool2d(x, 2, ceil_mode=True)


class ConvBN(nn.Module):
    """batchnorm(conv(x, cout, k=1, bias=false)): a pointwise projection."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class Fct(nn.Module):
    """fct: max, min and a strided depthwise view, concatenated, projected."""

    def __init__(self, cin, cout):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 4, stride=2, padding=1, groups=cin, bias=False)
        self.proj = ConvBN(3 * cin, cout)

    def forward(self, x):
        return self.proj(torch.cat((pool2(x), pool2(x, True), self.dw(x)), 1))


class Eve(nn.Module):
    """eve: max and min pooling, concatenated, projected."""

    def __init__(self, cin, cout):
        super().__init__()
        self.proj = ConvBN(2 * cin, cout)

    def forward(self, x):
        return self.proj(torch.cat((pool2(x), pool2(x, True)), 1))


class Me(nn.Module):
    """me: max pooling, projected."""

    def __init__(self, cin, cout):
        super().__init__()
        self.proj = ConvBN(cin, cout)

    def forward(self, x):
        return self.proj(pool2(x))


class SeLn(nn.Module):
    """se_ln: squeeze-excitation with a layer norm: x * sigmoid(ln(gap(x)))."""

    def __init__(self, c):
        super().__init__()
        self.ln = nn.LayerNorm(c)

    def forward(self, x):
        s = torch.sigmoid(self.ln(x.mean(dim=(2, 3))))
        return x * s[:, :, None, None]


class Dfseb(nn.Module):
    """dfseb: pointwise, depthwise and squeeze-excitation, two residuals."""

    def __init__(self, c):
        super().__init__()
        self.pw1 = ConvBN(c, c)
        self.dw1 = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.se = SeLn(c)
        self.pw2 = ConvBN(c, c)
        self.dw2 = nn.Conv2d(c, c, 3, padding=1, groups=c)

    def forward(self, x):
        y = x
        x = self.se(self.dw1(F.silu(self.pw1(x)))) + y
        x = self.dw2(F.hardswish(self.pw2(x)))
        return x + y


class ExquisiteNetV2(nn.Module):
    """engine/nets/exquisitenetv2.net, the seed network of LLM-GE."""

    def __init__(self, cin=3, classes=10):
        super().__init__()
        self.body = nn.Sequential(
            Fct(cin, 12), Dfseb(12), Eve(12, 48), Dfseb(48),
            Me(48, 96), Dfseb(96), Me(96, 192), Dfseb(192), Me(192, 384), Dfseb(384))
        self.last = nn.Conv2d(384, 384, 3, padding=1, groups=384)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(384, classes)

    def forward(self, x):
        x = F.hardswish(self.last(self.body(x)))
        return self.fc(self.drop(x.mean(dim=(2, 3))))


class SmallCNN(nn.Module):
    """engine/nets/smallcnn.net: two 3x3 convolutions, compute-bound."""

    def __init__(self, cin=1, classes=10, hw=28):
        super().__init__()
        self.c1 = nn.Conv2d(cin, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.f1 = nn.Linear(64 * (hw // 4) * (hw // 4), 128)
        self.f2 = nn.Linear(128, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(torch.flatten(x, 1))))


class Quick(nn.Module):
    """engine/nets/quick.net: the interactive default seed."""

    def __init__(self, cin=1, classes=10):
        super().__init__()

        def cbr(a, b, stride):
            return nn.Sequential(nn.Conv2d(a, b, 3, stride=stride, padding=1, bias=False),
                                 nn.BatchNorm2d(b), nn.ReLU())

        self.stem = cbr(cin, 16, 2)
        self.b1 = cbr(16, 24, 1)
        self.b2 = cbr(24, 48, 1)
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        x = F.max_pool2d(self.b1(self.stem(x)), 2)
        x = F.max_pool2d(self.b2(x), 2)
        return self.fc(x.mean(dim=(2, 3)))


MODELS = {"exquisitenetv2": ExquisiteNetV2, "smallcnn": SmallCNN, "quick": Quick}

# parameters of each network on (channels, height, width), as gevo check counts them
PARAMS = {("exquisitenetv2", 3, 32): 518230, ("exquisitenetv2", 1, 28): 518126,
          ("smallcnn", 1, 28): 421642, ("quick", 1, 28): 14634}


def build(name, c, h, classes=10):
    """The network for c x h x h images; SmallCNN's first linear layer
    follows the image size."""
    if name == "smallcnn":
        return SmallCNN(c, classes, h)
    return MODELS[name](c, classes)


def decayed(net):
    """The parameters gevo decays: convolution and linear weights, never
    biases or normalisation weights."""
    return [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
