"""AWD-LSTM ablation (reference 002 §2.3): a plain LSTM, the full AWD-LSTM, and the full model with one
technique removed at a time, each trained for the same number of epochs on the same stream.

The validation poems are split in two halves: the first picks the best epoch (and drives NT-ASGD's
trigger), the second is the test set, evaluated once with the best weights."""
import copy
import csv
import math
import time
from pathlib import Path

import numpy as np
import torch

from rnnlab.data.dataset import DataConfig, Split, prepare
from rnnlab.experiments.plots import line_plot
from rnnlab.train.config import TrainConfig
from rnnlab.train.engines import AWDEngine, evaluation_weights
from rnnlab.train.loop import start_model

# the full model: 2 layers, NT-ASGD at lr 20 with clipping 0.25, AR 2, TAR 1, BPTT 35 (variable)
FULL = dict(model="awd", num_layers=2, batch_size=16, bptt=35, optimizer="ntasgd", lr=20.0, clip_norm=0.25,
            weight_decay=1.2e-6, dropout=0.4, dropouth=0.25, dropouti=0.4, dropoute=0.1, wdrop=0.5, tied=True,
            alpha=2.0, beta=1.0, variable_bptt=True)
NO_DROPOUT = dict(dropout=0, dropouth=0, dropouti=0, dropoute=0, wdrop=0)
VARIANTS = {
    "plain LSTM": dict(**NO_DROPOUT, tied=False, alpha=0, beta=0, variable_bptt=False, optimizer="sgd"),
    "AWD-LSTM (all)": {},
    "- weight drop": dict(wdrop=0),
    "- locked dropout": dict(dropout=0, dropouth=0, dropouti=0),
    "- embedding dropout": dict(dropoute=0),
    "- weight tying": dict(tied=False),
    "- AR/TAR": dict(alpha=0, beta=0),
    "- variable BPTT": dict(variable_bptt=False),
    "- NT-ASGD (plain SGD)": dict(optimizer="sgd"),
}


def halves(split):
    """The first and second half of a split's sequences."""
    n = len(split) // 2
    return split.head(n), Split(split.tokens[split.offsets[n]:], split.offsets[n:] - split.offsets[n])


def run_variant(label, prepared, splits, epochs, seed, size):
    """Train one variant for `epochs`; returns its per-epoch rows, best validation and test perplexity."""
    cfg = TrainConfig(**{**FULL, **size, **VARIANTS[label]}, seed=seed, device="cpu")
    train, valid, test = splits
    torch.manual_seed(seed)
    engine = AWDEngine(cfg, start_model(cfg, prepared), "cpu", prepared.vocab)
    rng = np.random.default_rng(seed)
    best, best_state, rows = math.inf, None, []
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        for batch in engine.epoch_steps(train, rng):
            loss, n, _, _ = engine.step(*batch)
            total, count = total + loss, count + n
        with evaluation_weights(engine.optimizer):
            ppl = engine.perplexity(valid)
            if ppl < best:
                best, best_state = ppl, copy.deepcopy(engine.model.state_dict())
        if hasattr(engine.optimizer, "check"):
            engine.optimizer.check(ppl)
        rows.append({"variant": label, "epoch": epoch, "train_loss": total / count, "valid_ppl": ppl})
    engine.model.load_state_dict(best_state)
    return {"rows": rows, "best_valid": best, "test": engine.perplexity(test), "seconds": time.perf_counter() - t0,
            "averaging_from": getattr(engine.optimizer, "triggered_at", None)}


def run(out, quick=False, seed=0, corpus="tangshi", epochs=None):
    prepared = prepare(DataConfig(corpus=corpus))
    valid, test = halves(prepared.valid)
    epochs = epochs or (2 if quick else 40)
    size = dict(embed_size=16, hidden_size=24) if quick else dict(embed_size=128, hidden_size=256)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {label: run_variant(label, prepared, (prepared.train, valid, test), epochs, seed, size) for label in VARIANTS}

    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["variant", "epoch", "train_loss", "valid_ppl"])
        writer.writeheader()
        for r in results.values():
            writer.writerows(r["rows"])
    line_plot(out / "curves.png", {label: ([row["epoch"] for row in r["rows"]], [row["valid_ppl"] for row in r["rows"]])
                                   for label, r in results.items()},
              f"AWD-LSTM ablation on {corpus}: validation perplexity", "epoch", "perplexity", log_y=True)
    lines = ["# AWD-LSTM ablation", "",
             f"Corpus {corpus}; 2-layer LSTM, embedding {size['embed_size']}, hidden {size['hidden_size']}; batch 16, "
             f"BPTT 35; NT-ASGD lr 20, clip 0.25; {epochs} epochs per variant, seed {seed}. Validation = first half of "
             "the held-out poems (picks the best epoch), test = second half.", "",
             "| variant | best valid perplexity (epoch) | test perplexity | final valid perplexity | last train loss "
             "| averaging from step | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, r in results.items():
        best_epoch = min(r["rows"], key=lambda row: row["valid_ppl"])["epoch"]
        lines.append(f"| {label} | {r['best_valid']:.2f} ({best_epoch}) | {r['test']:.2f} | {r['rows'][-1]['valid_ppl']:.2f} | "
                     f"{r['rows'][-1]['train_loss']:.3f} | "
                     f"{r['averaging_from'] if r['averaging_from'] is not None else '-'} | {r['seconds']:.0f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results
