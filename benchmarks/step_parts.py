"""Three parts of the default's training step, each forward and backward, the way torch writes them against
the way rnnlab does (the 2026-12-04 native profile of `rnnlab train` found the first two at a tenth of the
step each, the prosody inputs with their counters at about 15%):

    dropout on the LSTM's output   F.dropout (one float Bernoulli draw per unit)
                                   against rnnlab.nn.regularize.dropout (16-bit draws, four per 64-bit number)
    the rows that have a target    h[mask] (its backward: index_put with accumulation)
                                   against rnnlab.nn.lm.counted_rows (index_select; backward: index_add)
    the prosody's small embeddings one lookup per embedding (place, line, tone class, pattern), summed
                                   against rnnlab.nn.prosody_inputs.summed_lookup (one lookup in the
                                   table of their sums, 9 * 17 * 4 * 4 rows)

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
from rnnlab.nn.prosody_inputs import EXPECTED, MAX_LINE, MAX_POSITION, TONE_CLASSES, summed_lookup
from rnnlab.nn.regularize import dropout

PAD = 0


def forward_backward(part, *leaves):
    def run():
        out = part(*leaves)
        out.backward(torch.ones_like(out))
        for leaf in leaves:
            leaf.grad = None
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
    tables = [torch.randn(n, a.units, requires_grad=True)
              for n in (MAX_POSITION + 1, MAX_LINE + 1, len(TONE_CLASSES), len(EXPECTED))]
    indices = [torch.randint(len(table), (a.batch, a.steps)) for table in tables]
    pairs = {
        "dropout": (lambda x: F.dropout(x, a.dropout, True), lambda x: dropout(x, a.dropout), [h]),
        "rows with a target": (lambda x: x.reshape(-1, a.units)[mask], lambda x: counted_rows(x, targets, PAD)[0], [h]),
        "prosody embeddings": (lambda *ts: sum(F.embedding(i, t) for i, t in zip(indices, ts)),
                               lambda *ts: summed_lookup(list(zip(indices, ts))), tables),
    }
    print(f"{describe()}; h {tuple(h.shape)}, {mask.float().mean():.0%} of the rows kept, medians of {a.repeats}")
    print("| part (forward + backward) | torch's way (ms) | rnnlab's (ms) | ratio |")
    print("|---|---:|---:|---:|")
    for name, (theirs, ours, leaves) in pairs.items():
        seconds = time_steps({"theirs": forward_backward(theirs, *leaves), "ours": forward_backward(ours, *leaves)},
                             a.repeats, min_time=0.0)
        t_theirs, t_ours = 1e3 * seconds["theirs"], 1e3 * seconds["ours"]
        print(f"| {name} | {t_theirs:.2f} | {t_ours:.2f} | {t_theirs / t_ours:.1f}x |")


if __name__ == "__main__":
    main()
