"""Exploding gradients on a simple RNN (003_*.txt): SGD lr 0.2, batch 64, summed cross entropy, L = 20;
the L2 norms of the gradients of W, U, b at every step, without clipping, clipped by norm 5.0, and
clipped by value 0.5."""
import csv
from dataclasses import replace
from pathlib import Path

from rnnlab.data.digits import generate
from rnnlab.experiments.plots import line_plot
from rnnlab.experiments.runner import RunConfig, train_classifier

PARAMS = ("W", "U", "b")


def run(out, quick=False, seed=0, global_norm=False):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = RunConfig(kind="rnn", optimizer="sgd", lr=0.2, batch_size=64, reduction="sum",
                     epochs=5 if quick else 50, seed=seed)
    norm_label = "clip norm 5.0 (global)" if global_norm else "clip norm 5.0 (per tensor)"
    configs = {"no clipping": base,
               norm_label: replace(base, clip_norm=5.0, clip_per_tensor=not global_norm),
               "clip value 0.5": replace(base, clip_value=0.5)}
    data = generate(20, seed)
    results = {name: train_classifier(cfg, data) for name, cfg in configs.items()}

    with open(out / "grad_norms.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("run", "step", "loss") + PARAMS)
        for name, r in results.items():
            for row in r.grad_norms:
                writer.writerow((name, row["step"], f"{row['loss']:.6g}") + tuple(f"{row[p]:.6g}" for p in PARAMS))

    def norms(name, steps):
        rows = results[name].grad_norms[:steps]
        return {f"{p} ({name})" if steps > 40 else f"{p}_grad_l2": ([r["step"] for r in rows], [r[p] for r in rows])
                for p in PARAMS}
    line_plot(out / "explosion.png", norms("no clipping", 40), "Gradient norms without clipping (first 40 steps)",
              "step", "L2 norm", log_y=True)
    clipped = {**norms(norm_label, 100), **norms("clip value 0.5", 100)}
    line_plot(out / "clipped.png", clipped, "Gradient norms (before clipping) with clipping, first 100 steps",
              "step", "L2 norm", log_y=True)

    lines = ["# Exploding gradients on a simple RNN", "",
             f"Digit-sum task, L = 20, simple RNN 32/32, SGD lr 0.2, batch 64, summed cross entropy, "
             f"{base.epochs} epochs, seed {seed}. Test accuracy of the best model by dev accuracy.", "",
             "| run | test accuracy | best dev accuracy | largest gradient norm (W / U / b) | non-finite steps |",
             "|---|---:|---:|---|---:|"]
    for name, r in results.items():
        peaks = " / ".join(f"{max(row[p] for row in r.grad_norms):.3g}" for p in PARAMS)
        lines.append(f"| {name} | {r.test_accuracy:.3f} | {r.best_dev_accuracy:.3f} | {peaks} | {r.nonfinite_steps} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results
