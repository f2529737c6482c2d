#!/usr/bin/python3
"""PyTorch side of StepBenchmark: the same models, step and timing rules as the Java side.

Prints one line per figure, "rate <model> <mode> <samples/s of each repeat>...", then
"peak_rss_kib <KiB>" and "torch <version>" (plain words: the Java side needs no JSON parser).
mode is "split" (client forward, server forward, loss, backward, gradient at the cut, client
backward, both Adam steps), "unsplit" (one network, one Adam step) or "eval" (forward only, no grad).
Run with Debian's /usr/bin/python3 (python3-torch); threads are pinned so both sides use 2 cores. The Java
side starts it as the environment documents for benchmarks (bench/TorchSide: OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset, an installed OpenBLAS on LD_LIBRARY_PATH); "kernels ..." says which BLAS it used.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_report import rates, report, split_step  # beside this script


def simple_conv(classes, lrn=lambda: nn.LocalResponseNorm(4, alpha=0.001 / 9.0, beta=0.75, k=1.0)):
    """The FSL-SAGE reference's simple_conv on 1x28x28 (its LRN; initialisation does not matter here)."""
    client = nn.Sequential(
        nn.Conv2d(1, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), lrn(),
        nn.Conv2d(64, 64, 5, padding=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2, padding=1))
    server = nn.Sequential(nn.Flatten(), nn.Linear(3136, 384), nn.ReLU(), nn.Linear(384, 192), nn.ReLU(),
                           nn.Linear(192, classes))
    return client, server


def simple_conv_tf(classes):
    # TensorFlow's lrn(depth radius 4, alpha 0.001/9) == torch LocalResponseNorm(size 9, alpha 0.001): torch divides by size.
    return simple_conv(classes, lambda: nn.LocalResponseNorm(9, alpha=0.001, beta=0.75, k=1.0))


def fmnist_cnn(classes):
    client = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))
    server = nn.Sequential(nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, classes))
    return client, server


class Block(nn.Module):
    """The zoo's BasicBlock: two 3x3 conv + BN, ReLU, 1x1 conv + BN shortcut when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


def resnet(classes, width, blocks, cut):
    """Stem, stages, pool and head as ModelZoo.resnet; the client holds the stem and the first cut - 1 stages."""
    units = [nn.Sequential(nn.Conv2d(1, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())]
    cin = width
    for stage, n in enumerate(blocks):
        cout = width << stage
        units.append(nn.Sequential(*[Block(cin if b == 0 else cout, cout, 2 if b == 0 and stage > 0 else 1)
                                     for b in range(n)]))
        cin = cout
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*units[:cut]), nn.Sequential(*units[cut:], *head)


MODELS = {"simple_conv": simple_conv, "simple_conv_tf": simple_conv_tf, "fmnist_cnn": fmnist_cnn,
          "resnet20": lambda classes: resnet(classes, 16, [3, 3, 3], 2),
          "resnet18": lambda classes: resnet(classes, 64, [2, 2, 2, 2], 3)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="simple_conv,fmnist_cnn,resnet20")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="steps per timed repeat")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before timing, at least")
    p.add_argument("--warmup-seconds", type=float, default=5, help="untimed seconds of steps before timing, at least")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    for name in a.models.split(","):
        client, server = MODELS[name](10)
        full = nn.Sequential(*client, *server)
        batches = [(torch.rand(a.batch, 1, 28, 28), torch.randint(0, 10, (a.batch,))) for _ in range(4)]
        split = split_step(client, server, F.cross_entropy)
        opt_f = torch.optim.Adam(full.parameters(), lr=1e-3)

        def unsplit_step(x, y):
            opt_f.zero_grad(set_to_none=False)
            F.cross_entropy(full(x), y).backward()
            opt_f.step()

        def eval_step(x, y):
            full.eval()  # batch norm on running statistics, as the Java side's predict
            with torch.no_grad():
                full(x).argmax(1)
            full.train()

        for mode, fn in (("split", split), ("unsplit", unsplit_step), ("eval", eval_step)):
            print("rate", name, mode, " ".join("%.3f" % r for r in rates(fn, batches, a, a.batch)), flush=True)
    report()


if __name__ == "__main__":
    main()
