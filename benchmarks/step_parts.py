"""Two parts of the default's training step, each forward and backward, the way torch writes them against
the way rnnlab does (the 2026-12-04 native profile of `rnnlab train` found them at a tenth of the step each):

    dropout on the LSTM's output   F.dropout (one float Bernoulli draw per unit)
                                   against rnnlab.nn.regularize.dropout (16-bit draws, four per 64-bit number)
    the rows that have a target    h[mask] (its backward: index_put with accumulation)
                                   against rnnlab.nn.lm.counted_rows (index_select; backward: index_add)

    python benchmarks/step_parts.py [--batch 128] [--steps 66] [--units 512] [--kept 0.72] [--repeats 30]

The default's shapes: 128 rows of windows of 66, 512 units, 72% of the targets real (the rest padding). The
figures are medians of `repeats` timings, the two ways alternating in one process (rnnlab.bench.time_steps),
with the CPU named (rnnlab.machine.describe).
"""
import argparse

import torch
import torch.nn.functional as F

from rnnlab.bench import time_steps
from rnnlab.machine import describe
from rnnlab.nn.lm import counted_rows
from rnnlab.nn.regularize import dropout

PAD = 0


def forward_backward(part, h):
    def run():
        out = part(h)
        out.backward(torch.ones_like(out))
        h.grad = None
    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=66)
    p.add_argument("--units", type=int, default=512)
    p.add_argument("--kept", type=float, default=0.72, help="share of the targets that are not padding")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--repeats", type=int, default=30)
    a = p.parse_args(argv)
    torch.manual_seed(0)
    h = torch.randn(a.batch, a.steps, a.units, requires_grad=True)
    targets = torch.where(torch.rand(a.batch, a.steps) < a.kept, torch.randint(1, 100, (a.batch, a.steps)), PAD)
    mask = targets.reshape(-1) != PAD
    pairs = {
        "dropout": (lambda x: F.dropout(x, a.dropout, True), lambda x: dropout(x, a.dropout)),
        "rows with a target": (lambda x: x.reshape(-1, a.units)[mask], lambda x: counted_rows(x, targets, PAD)[0]),
    }
    print(f"{describe()}; h {tuple(h.shape)}, {mask.float().mean():.0%} of the rows kept, medians of {a.repeats}")
    print("| part (forward + backward) | torch's way (ms) | rnnlab's (ms) | ratio |")
    print("|---|---:|---:|---:|")
    for name, (theirs, ours) in pairs.items():
        seconds = time_steps({"theirs": forward_backward(theirs, h), "ours": forward_backward(ours, h)}, a.repeats,
                             min_time=0.0)
        t_theirs, t_ours = 1e3 * seconds["theirs"], 1e3 * seconds["ours"]
        print(f"| {name} | {t_theirs:.2f} | {t_ours:.2f} | {t_theirs / t_ours:.1f}x |")


if __name__ == "__main__":
    main()
