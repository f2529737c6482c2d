#!/usr/bin/python3
"""An independent implementation of ../shared/ALGORITHMS.md that replays a run step for step.

A run with `debug.trace = DIR` writes its settings, initial parameters, each client's data and the
order of its samples in every local epoch (see runtime/Trace.java). This program trains the same
rounds from the same start in PyTorch, in float64 (--float32 for the run's precision), and writes its global model after every round
(`round-<t>/global.f32`), CSE-FSL's averaged auxiliary model (`round-<t>/auxiliary.f32`) and the
auxiliary models FSL-SAGE aligned at a round's start (`round-<t>/aligned-<i>.f32`) under OUT, in the
trace's own layout, so that OracleTest can compare the two. With --compare it also prints the
relative difference ||ours - run|| / ||run|| of each file.

It is written from the specification, not from the Java code. Where ALGORITHMS.md leaves a choice
open, it takes these rules (the project's too):
- every optimizer keeps its state (Adam's moments and step count) across rounds: each client's for its
  client part (and, in FedAvg, its server part; in CSE-FSL its auxiliary model), the server's for x_s,
  SplitFed-V1's for each per-client server copy, FSL-SAGE's alignment optimizer for each a_i;
  averaging replaces parameters only;
- Adam is Kingma and Ba's Algorithm 1 in its efficient form,
  alpha_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t), x -= alpha_t * m / (sqrt(v) + eps),
  with beta1 0.9, beta2 0.999, eps 1e-8; Nesterov momentum is v <- mu v - lr g,
  x += (1 + mu) v - mu v_previous (Sutskever et al.'s form as in CS231n);
- losses are batch means of softmax cross-entropy;
- the one-way algorithms' server steps on the round's uploads in the order (k, client);
- FSL-SAGE's server keeps its own copy of each a_i across alignments, starting from the seeded
  auxiliary model (or the warm start's average); alignment minibatches are consecutive runs of
  the buffer, oldest first; the alignment loss's gradient is exact (double backpropagation).

Parameters are flat vectors, x_c then x_s, each layer's weights then bias (the ResNets' convolutions have
none); convolution weights [out, in, k, k], dense weights [in, out] (the transpose of torch.nn.Linear's);
a batch norm's [gamma | beta | running mean | running variance] (docs/BATCHNORM.md). Batch norm rules:
- every forward pass of training is in training mode (batch statistics; running statistics move with
  momentum 0.1 and the unbiased variance, as torch.nn.BatchNorm2d); the running statistics are state: averaged
  with the parameters wherever a model is averaged, never stepped by an optimizer;
- an auxiliary model on a ResNet's cut starts with a global average pool (one value per channel);
- FSL-SAGE's alignment targets are the server's gradients in training mode, taken in the minibatches the
  clients uploaded (a buffer that overflows keeps the newest samples of its oldest minibatch as a
  smaller one), and leave the server as it was.

Usage: /usr/bin/python3 bench/oracle.py TRACE OUT [--compare]   (Debian's python3-torch)
       /usr/bin/python3 bench/oracle.py --serve   (reads "TRACE<tab>OUT" lines, answers each with a line
       "ok" or "error: ..."; OracleTest replays all its runs in one process instead of importing torch for each)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_step import MODELS  # noqa: E402  the zoo's layer definitions, shared with the step benchmark

torch.set_num_threads(2)


def read(path, dtype):
    return np.fromfile(path, dtype=dtype)


def floats(path):
    return torch.as_tensor(read(path, "<f4")).to(torch.get_default_dtype())


def write(path, values):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.asarray(values, dtype="<f4").tofile(path)


# ---- flat parameter vectors ------------------------------------------------------------------

def tensors(module):
    """The module's parameters and batch-norm statistics in flat-vector order, each as it lies in the vector."""
    out = []
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            out += [layer.weight] + ([] if layer.bias is None else [layer.bias])
        elif isinstance(layer, nn.BatchNorm2d):
            out += [layer.weight, layer.bias, layer.running_mean, layer.running_var]
    return out


def trainable(module):
    """What an optimizer steps: the parameters, not the running statistics."""
    return [t for t in tensors(module) if t.requires_grad]


def flat_of(t):
    return (t.t() if t.dim() == 2 else t).reshape(-1)


def get_flat(module):
    return torch.cat([flat_of(t.detach()) for t in tensors(module)])


def set_flat(module, vec):
    vec = torch.as_tensor(vec, dtype=torch.get_default_dtype())
    at = 0
    with torch.no_grad():
        for t in tensors(module):
            n = t.numel()
            chunk = vec[at:at + n]
            t.copy_(chunk.reshape(t.shape[1], t.shape[0]).t() if t.dim() == 2 else chunk.reshape(t.shape))
            at += n
    if at != vec.numel():
        raise ValueError("vector of %d values for a module of %d parameters" % (vec.numel(), at))


# ---- optimizers --------------------------------------------------------------------------------

class Optimizer:
    """One optimizer over a module's parameters; its state outlives rounds."""

    def __init__(self, spec):
        if spec["name"] not in ("adam", "sgd", "nesterovs"):
            raise SystemExit("oracle: optimizer %s is not replayed (adam, sgd, nesterovs)" % spec["name"])
        self.spec = spec
        self.t = 0
        self.m = None
        self.v = None

    def step(self, module):
        params = trainable(module)
        lr = self.spec["learning_rate"]
        with torch.no_grad():
            if self.spec["name"] == "sgd":
                for p in params:
                    p -= lr * p.grad
            elif self.spec["name"] == "nesterovs":
                mu = self.spec["momentum"]
                if self.m is None:
                    self.m = [torch.zeros_like(p) for p in params]
                for p, v in zip(params, self.m):
                    previous = v.clone()
                    v.mul_(mu).sub_(lr * p.grad)
                    p += (1 + mu) * v - mu * previous
            else:
                if self.m is None:
                    self.m = [torch.zeros_like(p) for p in params]
                    self.v = [torch.zeros_like(p) for p in params]
                self.t += 1
                alpha = lr * (1 - 0.999 ** self.t) ** 0.5 / (1 - 0.9 ** self.t)
                for p, m, v in zip(params, self.m, self.v):
                    m.mul_(0.9).add_(p.grad, alpha=0.1)
                    v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
                    p -= alpha * m / (v.sqrt() + 1e-8)
        for p in params:
            p.grad = None


# ---- models ------------------------------------------------------------------------------------

def split_model(s):
    m = s["model"]
    client, server = MODELS[m["name"]](m["classes"])
    layers = list(client) + list(server)
    return nn.Sequential(*layers[:m["cut"]]), nn.Sequential(*layers[m["cut"]:])


def auxiliary_model(s, cut_shape):
    a = s["auxiliary"]
    classes = s["model"]["classes"]
    if s["model"]["name"].startswith("resnet"):
        first, inputs = [nn.AdaptiveAvgPool2d(1), nn.Flatten()], cut_shape[0]
    else:
        first, inputs = [nn.Flatten()], int(np.prod(cut_shape))
    if a["model"] == "linear":
        return nn.Sequential(*first, nn.Linear(inputs, classes))
    if a["model"] == "mlp":
        return nn.Sequential(*first, nn.Linear(inputs, a["hidden"]), nn.ReLU(), nn.Linear(a["hidden"], classes))
    raise SystemExit("oracle: auxiliary model %s is not replayed" % a["model"])


class Learner:
    def __init__(self, module, spec):
        self.module = module
        self.opt = Optimizer(spec)

    def step(self):
        self.opt.step(self.module)


# ---- the run -----------------------------------------------------------------------------------

class Replay:
    def __init__(self, trace):
        self.trace = trace
        with open(os.path.join(trace, "trace.json")) as f:
            self.s = json.load(f)
        s = self.s
        self.m = len(s["institutes"])
        self.q = s["server_interval"]
        self.shape = s["model"]["input_shape"]
        self.data = []
        for i in range(self.m):
            labels = torch.as_tensor(read(self.path("client-%d.labels.i32" % i), "<i4").astype(np.int64))
            x = floats(self.path("client-%d.features.f32" % i))
            self.data.append((x.reshape(len(labels), *self.shape), labels))
        initial = floats(self.path("initial.f32"))
        nc = s["model"]["client_params"]
        self.global_c, self.global_s = initial[:nc], initial[nc:]
        self.aux_init = floats(self.path("auxiliary.f32"))
        self.weights = self.aggregation_weights()
        # State that outlives a round: every party's optimizer, the server, buffers, heads.
        self.client_c = [self.learner(split_model(s)[0], s["optimizer"]) for _ in range(self.m)]
        self.client_top = [self.learner(split_model(s)[1], s["optimizer"]) for _ in range(self.m)]
        self.server = self.learner(split_model(s)[1], s["server_optimizer"])
        self.server_copies = [self.learner(split_model(s)[1], s["server_optimizer"]) for _ in range(self.m)]
        self.cut = tuple(self.cut_shape())
        self.client_aux = [self.learner(auxiliary_model(s, self.cut), s["optimizer"], self.aux_init) for _ in range(self.m)]
        self.server_aux = [None] * self.m
        self.aux_spec = s["alignment"]["optimizer"]
        self.buffers = [[] for _ in range(self.m)]  # uploaded (z, y) minibatches, at most capacity samples, oldest first
        self.aligned_before = False
        self.averaged_aux = None
        self.warm_head = None
        self.aligned = {}

    def path(self, name):
        return os.path.join(self.trace, name)

    def learner(self, module, spec, init=None):
        if init is not None:
            set_flat(module, init)
        return Learner(module, spec)

    def cut_shape(self):
        client, _ = split_model(self.s)
        with torch.no_grad():
            return client(torch.zeros(1, *self.shape)).shape[1:]

    def aggregation_weights(self):
        n = np.array([len(d[1]) for d in self.data], dtype=np.float64)
        if self.s["weights"] == "uniform":
            n = np.ones(self.m)
        return n / n.sum()

    def average(self, vectors):
        return sum(w * v for w, v in zip(self.weights, vectors))

    def batches(self, t, i):
        """Client i's minibatches of round t, k = 0, 1, ... across its local epochs."""
        x, y = self.data[i]
        b = self.s["batch_size"]
        for e in range(self.s["local_epochs"]):
            order = torch.as_tensor(read(self.path("round-%d/client-%d-epoch-%d.order.i32" % (t, i, e)), "<i4")
                                    .astype(np.int64))
            if sorted(order.tolist()) != list(range(len(y))):
                raise SystemExit("oracle: round %d client %d epoch %d is not a permutation of its data" % (t, i, e))
            for start in range(0, len(order), b):
                idx = order[start:start + b]
                yield x[idx], y[idx]

    # -- the algorithms, one method each, as ALGORITHMS.md states them --

    def fedavg(self, t):
        cs, ss = [], []
        for i in range(self.m):
            c, top = self.client_c[i], self.client_top[i]
            set_flat(c.module, self.global_c)
            set_flat(top.module, self.global_s)
            for x, y in self.batches(t, i):
                F.cross_entropy(top.module(c.module(x)), y).backward()
                c.step()
                top.step()
            cs.append(get_flat(c.module))
            ss.append(get_flat(top.module))
        self.global_c, self.global_s = self.average(cs), self.average(ss)

    def exchange(self, server, x, y, c):
        """One minibatch of SL/SplitFed: z up, server step, g = dl/dz down, client step."""
        z = c.module(x)
        sent = z.detach().requires_grad_()
        F.cross_entropy(server.module(sent), y).backward()
        server.step()
        z.backward(sent.grad)
        c.step()

    def sl(self, t):
        set_flat(self.server.module, self.global_s)
        handed = self.global_c
        for i in range(self.m):
            c = self.client_c[i]
            set_flat(c.module, handed)
            for x, y in self.batches(t, i):
                self.exchange(self.server, x, y, c)
            handed = get_flat(c.module)
        self.global_c, self.global_s = handed, get_flat(self.server.module)

    def splitfed_v1(self, t):
        cs, ss = [], []
        for i in range(self.m):
            c, copy = self.client_c[i], self.server_copies[i]
            set_flat(c.module, self.global_c)
            set_flat(copy.module, self.global_s)
            for x, y in self.batches(t, i):
                self.exchange(copy, x, y, c)
            cs.append(get_flat(c.module))
            ss.append(get_flat(copy.module))
        self.global_c, self.global_s = self.average(cs), self.average(ss)

    def splitfed_v2(self, t):
        if self.s["server_order"] != "client-by-client":
            raise SystemExit("oracle: SplitFed-V2 replays client-by-client order only")
        set_flat(self.server.module, self.global_s)
        cs = []
        for i in range(self.m):
            c = self.client_c[i]
            set_flat(c.module, self.global_c)
            for x, y in self.batches(t, i):
                self.exchange(self.server, x, y, c)
            cs.append(get_flat(c.module))
        self.global_c, self.global_s = self.average(cs), get_flat(self.server.module)

    def one_way(self, t, client_step, on_upload):
        """Clients train without waiting; the server then steps on every upload in (k, client) order."""
        set_flat(self.server.module, self.global_s)
        uploads, cs = [], []
        for i in range(self.m):
            c = self.client_c[i]
            set_flat(c.module, self.global_c)
            for k, (x, y) in enumerate(self.batches(t, i)):
                z = client_step(i, c, x, y)
                if k % self.q == 0:
                    uploads.append((k, i, z, y))
            cs.append(get_flat(c.module))
        for k, i, z, y in sorted(uploads, key=lambda u: (u[0], u[1])):
            F.cross_entropy(self.server.module(z), y).backward()
            self.server.step()
            on_upload(i, z, y)
        self.global_c, self.global_s = self.average(cs), get_flat(self.server.module)

    def cse_fsl(self, t):
        if self.averaged_aux is not None:
            for a in self.client_aux:
                set_flat(a.module, self.averaged_aux)

        def step(i, c, x, y):
            a = self.client_aux[i]
            z = c.module(x)
            F.cross_entropy(a.module(z), y).backward()
            a.step()
            c.step()
            return z.detach()

        self.one_way(t, step, lambda i, z, y: None)
        self.averaged_aux = self.average([get_flat(a.module) for a in self.client_aux])

    def fsl_sage(self, t):
        if t == 0 and self.s["warm_start"]:
            self.cse_fsl(t)
            self.warm_head = self.averaged_aux  # every client's a_i and the server's first copy of it
            return
        if self.averaged_aux is not None:
            for a in self.client_aux:
                set_flat(a.module, self.averaged_aux)
        self.averaged_aux = None
        if t % self.s["alignment"]["interval"] == 0 or not self.aligned_before:
            for i in range(self.m):
                if self.buffers[i]:
                    self.align(i)
                    self.aligned[i] = get_flat(self.server_aux[i].module)
                    set_flat(self.client_aux[i].module, self.aligned[i])
                    self.aligned_before = True

        def step(i, c, x, y):
            a = self.client_aux[i].module
            z = c.module(x)
            sent = z.detach().requires_grad_()
            estimate, = torch.autograd.grad(F.cross_entropy(a(sent), y), sent)  # a_i is not stepped
            z.backward(estimate)
            c.step()
            return z.detach()

        self.one_way(t, step, self.buffer)

    def buffer(self, i, z, y):
        batches = self.buffers[i]
        batches.append((z, y))
        excess = sum(len(b[1]) for b in batches) - self.s["alignment"]["capacity"]
        while excess > 0:
            oldest_z, oldest_y = batches.pop(0)
            if excess < len(oldest_y):
                batches.insert(0, (oldest_z[excess:], oldest_y[excess:]))
            excess -= len(oldest_y)

    def align(self, i):
        """Targets from the current x_s, then E_align epochs on sum_n ||grad_z l(a(z_n)) - g_n||^2."""
        a_spec = self.s["alignment"]
        if self.server_aux[i] is None:
            start = self.warm_head if self.warm_head is not None else self.aux_init
            self.server_aux[i] = self.learner(auxiliary_model(self.s, self.cut), self.aux_spec, start)
        a = self.server_aux[i]
        set_flat(self.server.module, self.global_s)
        targets = []
        for zb, yb in self.buffers[i]:  # batch statistics: a probe's gradient does not depend on the running ones
            zb = zb.detach().requires_grad_()
            targets.append(torch.autograd.grad(F.cross_entropy(self.server.module(zb), yb, reduction="sum"), zb)[0])
        set_flat(self.server.module, self.global_s)  # the probes moved its running statistics
        z = torch.cat([b[0] for b in self.buffers[i]])
        y = torch.cat([b[1] for b in self.buffers[i]])
        g = torch.cat(targets)
        n = len(y)
        size = n if a_spec["batch_size"] <= 0 else min(n, a_spec["batch_size"])
        for _ in range(a_spec["epochs"]):
            for start in range(0, n, size):
                zb = z[start:start + size].detach().requires_grad_()
                estimate, = torch.autograd.grad(F.cross_entropy(a.module(zb), y[start:start + size], reduction="sum"),
                                                zb, create_graph=True)
                ((estimate - g[start:start + size]) ** 2).sum().backward()
                a.step()

    def run(self, out, compare):
        rules = {"fedavg": self.fedavg, "sl": self.sl, "splitfed-v1": self.splitfed_v1,
                 "splitfed-v2": self.splitfed_v2, "cse-fsl": self.cse_fsl, "fsl-sage": self.fsl_sage}
        algorithm = self.s["algorithm"]
        if algorithm not in rules:
            raise SystemExit("oracle: algorithm %s is not replayed" % algorithm)
        for t in range(self.s["rounds"]):
            if not os.path.exists(self.path("round-%d/global.f32" % t)):
                break  # the run stopped early
            self.aligned = {}
            rules[algorithm](t)
            files = {"round-%d/global.f32" % t: torch.cat([self.global_c, self.global_s])}
            if self.averaged_aux is not None:
                files["round-%d/auxiliary.f32" % t] = self.averaged_aux
            for i, a in self.aligned.items():
                files["round-%d/aligned-%d.f32" % (t, i)] = a
            for name, values in files.items():
                write(os.path.join(out, name), values.detach().numpy())
                if compare:
                    run = floats(self.path(name))
                    print("%s %s relative difference %.3e" % (algorithm, name,
                                                               float((values - run).norm() / run.norm())))


def serve():
    for line in sys.stdin:
        try:
            trace, out = line.rstrip("\n").split("\t")
            Replay(trace).run(out, False)
            answer = "ok"
        except (Exception, SystemExit) as e:  # noqa: BLE001  the caller reads the reason; the next request still runs
            answer = "error: %s: %s" % (type(e).__name__, str(e).replace("\n", " "))
        print(answer, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("trace", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--compare", action="store_true", help="print the relative difference to the run's files")
    p.add_argument("--float32", action="store_true", help="compute in float32 (the run's precision) instead of float64")
    p.add_argument("--serve", action="store_true", help="replay the TRACE<tab>OUT lines read from stdin")
    a = p.parse_args()
    if not a.serve and (a.trace is None or a.out is None):
        p.error("TRACE and OUT are required unless --serve")
    torch.set_default_dtype(torch.float32 if a.float32 else torch.float64)
    if a.serve:
        serve()
    else:
        Replay(a.trace).run(a.out, a.compare)


if __name__ == "__main__":
    main()
