"""How far back can a recurrent layer remember? Simple RNN vs LSTM (and bidirectional versions) on the
digit-sum task for growing L: Adam lr 1e-3, hidden 32, batch 8."""
import csv
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from rnnlab.data.digits import generate
from rnnlab.experiments.plots import line_plot
from rnnlab.experiments.runner import RunConfig, train_classifier
from rnnlab.progress import tracked

MODELS = {"simple RNN": ("rnn", False), "LSTM": ("lstm", False),
          "bidirectional RNN": ("rnn", True), "bidirectional LSTM": ("lstm", True)}


def run(out, quick=False, seed=0, lengths=None, epochs=None):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lengths = lengths or ([10, 20] if quick else [10, 15, 20, 25, 30, 35])
    epochs = epochs or (3 if quick else 500)
    jobs = [(name, length, RunConfig(kind=kind, bidirectional=bi, epochs=epochs, seed=seed))
            for length in lengths for name, (kind, bi) in MODELS.items()]
    # independent, seeded runs: one per core, each single-threaded (the models are tiny)
    with ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        results = pool.map(_test_accuracy, [(cfg, length) for _, length, cfg in jobs])
        accuracy = {name: {} for name in MODELS}
        for (name, length, _), acc in zip(jobs, tracked(results, len(jobs), "memory: models trained")):
            accuracy[name][length] = acc

    with open(out / "accuracy.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model"] + [f"L={n}" for n in lengths])
        for name, by_length in accuracy.items():
            writer.writerow([name] + [f"{by_length[n]:.3f}" for n in lengths])
    line_plot(out / "accuracy.png", {name: (lengths, [a[n] for n in lengths]) for name, a in accuracy.items()},
              f"Digit-sum test accuracy ({epochs} epochs)", "sequence length L", "test accuracy")

    lines = ["# Memory: simple RNN vs LSTM on the digit-sum task", "",
             f"Adam lr 1e-3, embedding and hidden 32, batch 8, {epochs} epochs, seed {seed}; "
             "test accuracy of the best model by dev accuracy (chance: 1/19 for a uniform guess).", "",
             "| model | " + " | ".join(f"L={n}" for n in lengths) + " |",
             "|---|" + "---:|" * len(lengths)]
    for name, by_length in accuracy.items():
        lines.append(f"| {name} | " + " | ".join(f"{by_length[n]:.3f}" for n in lengths) + " |")
    lines += ["", "What the numbers show:"]
    for name, by_length in accuracy.items():
        first, last = lengths[0], lengths[-1]
        trend = "falls" if by_length[last] < by_length[first] - 0.05 else "rises" if by_length[last] > by_length[first] + 0.05 else "holds"
        lines.append(f"- {name}: {by_length[first]:.3f} at L={first}, {by_length[last]:.3f} at L={last} ({trend}).")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return accuracy


def _test_accuracy(job):
    cfg, length = job
    return train_classifier(cfg, generate(length, cfg.seed)).test_accuracy
