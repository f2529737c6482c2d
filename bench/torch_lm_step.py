#!/usr/bin/python3
"""PyTorch side of LmStepBenchmark: the zoo's GPT, the same shapes, step and timing rules as the Java side.

The model is the zoo's `gpt` (ModelZoo.gpt, TransformerBlock, CausalSelfAttention): token plus learned
position embedding, `depth` pre-LayerNorm blocks (fused QKV projection [w, 3w], causal softmax attention
over the full t x t scores with the upper triangle masked to -inf, output projection, tanh-GELU MLP
w -> 4w -> w, residual sums), a final LayerNorm and an untied head [w, vocab] with bias; GPT-2's
initialisation; Adam lr 1e-3. The split step cuts after block `cut` as the Java side does.

Prints one line per figure, "rate <size> <mode> <tokens/s of each repeat>...", then "kernels ..." (which
BLAS the process loaded and which OpenBLAS core it runs, torch's CPU capability), "torch <version>
threads <n>" and "peak_rss_kib <KiB>" (plain words: the Java side needs no JSON parser).
Run with Debian's /usr/bin/python3 (python3-torch); threads are pinned so both sides use 2 cores.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_report import rates, report, split_step  # beside this script


class Attention(nn.Module):
    def __init__(self, width, heads, depth):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        nn.init.normal_(self.qkv.weight, std=0.02)
        nn.init.zeros_(self.qkv.bias)
        nn.init.normal_(self.proj.weight, std=0.02 / math.sqrt(2 * depth))
        nn.init.zeros_(self.proj.bias)

    def forward(self, x, mask):
        b, t, w = x.shape
        hw = w // self.heads
        q, k, v = self.qkv(x).split(w, dim=2)  # columns q | k | v, each heads x headWidth
        q = q.view(b, t, self.heads, hw).transpose(1, 2)
        k = k.view(b, t, self.heads, hw).transpose(1, 2)
        v = v.view(b, t, self.heads, hw).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hw)) + mask[:t, :t]
        y = F.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(b, t, w))


class Block(nn.Module):
    def __init__(self, width, heads, depth):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = Attention(width, heads, depth)
        self.norm2 = nn.LayerNorm(width)
        self.expand = nn.Linear(width, 4 * width)
        self.contract = nn.Linear(4 * width, width)
        nn.init.normal_(self.expand.weight, std=0.02)
        nn.init.zeros_(self.expand.bias)
        nn.init.normal_(self.contract.weight, std=0.02 / math.sqrt(2 * depth))
        nn.init.zeros_(self.contract.bias)

    def forward(self, x, mask):
        h = x + self.attention(self.norm1(x), mask)
        return h + self.contract(F.gelu(self.expand(self.norm2(h)), approximate="tanh"))


class Embedding(nn.Module):
    def __init__(self, vocab, context, width):
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(vocab, width) * 0.02)
        self.positions = nn.Parameter(torch.randn(context, width) * 0.02)

    def forward(self, ids):
        return F.embedding(ids, self.tokens) + self.positions[: ids.shape[1]]


class Part(nn.Module):
    """A run of the GPT's layers: embeddings and/or blocks and/or the final norm and head."""

    def __init__(self, layers, context):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.register_buffer("mask", torch.full((context, context), float("-inf")).triu(1))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x, self.mask) if isinstance(layer, Block) else layer(x)
        return x


def token_loss(logits, targets):
    """Cross-entropy over every position's next token."""
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets)


def gpt_layers(vocab, context, width, depth, heads):
    head = nn.Linear(width, vocab)
    nn.init.normal_(head.weight, std=0.02)
    nn.init.zeros_(head.bias)
    return ([Embedding(vocab, context, width)] + [Block(width, heads, depth) for _ in range(depth)]
            + [nn.LayerNorm(width), head])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", required=True,
                   help="name:vocab:context:width:depth:heads:cut,... (the Java side passes its sizes)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=5, help="steps per timed repeat")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing, at least")
    p.add_argument("--warmup-seconds", type=float, default=5, help="untimed seconds of steps before timing, at least")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--modes", default="split,unsplit")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    for size in a.sizes.split(","):
        name, vocab, context, width, depth, heads, cut = size.split(":")
        vocab, context, width, depth, heads, cut = map(int, (vocab, context, width, depth, heads, cut))
        g = torch.Generator().manual_seed(7)
        batches = [(torch.randint(0, vocab, (a.batch, context), generator=g),
                    torch.randint(0, vocab, (a.batch * context,), generator=g)) for _ in range(4)]
        for mode in a.modes.split(","):
            layers = gpt_layers(vocab, context, width, depth, heads)
            if mode == "split":
                step = split_step(Part(layers[:1 + cut], context), Part(layers[1 + cut:], context), token_loss)
            else:
                full = Part(layers, context)
                opt_f = torch.optim.Adam(full.parameters(), lr=1e-3)

                def step(x, y):
                    opt_f.zero_grad(set_to_none=False)
                    token_loss(full(x), y).backward()
                    opt_f.step()

            measured = rates(step, batches, a, a.batch * context)
            print("rate", name, mode, " ".join("%.3f" % r for r in measured), flush=True)
            del layers, step
    report()


if __name__ == "__main__":
    main()
