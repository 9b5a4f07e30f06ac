"""The reference's optimizer comparison (000 §3.4): the same model, from the same initial weights, on
the same batches, trained with each optimizer; train loss and validation perplexity by step."""
import csv
import time
from dataclasses import replace
from pathlib import Path

from rnnlab.data.dataset import prepare
from rnnlab.experiments.plots import plt
from rnnlab.training.config import build_config
from rnnlab.training.loop import train
from rnnlab.training.metrics import format_cell

# label -> build_config options: the reference's five runs, then its two re-tuned ones
RUNS = {
    "Adam lr 1e-3 betas (0.5, 0.99)": dict(optimizer="adam", lr=1e-3, betas=(0.5, 0.99)),
    "RMSprop lr 1e-2": dict(optimizer="rmsprop", lr=1e-2),
    "Adagrad lr 1e-2": dict(optimizer="adagrad", lr=1e-2),
    "SGD lr 1e-3": dict(optimizer="sgd", lr=1e-3),
    "SGD momentum 0.9 lr 1e-1": dict(optimizer="momentum", lr=1e-1, momentum=0.9),
    "Adam lr 1e-3 betas (0.9, 0.999)": dict(optimizer="adam", lr=1e-3, betas=(0.9, 0.999)),
    "RMSprop lr 1e-3": dict(optimizer="rmsprop", lr=1e-3),
}
FULL = dict(embed_size=256, hidden_size=512, batch_size=64, eval_every=50, log_every=10)
QUICK = dict(embed_size=16, hidden_size=24, batch_size=16, eval_every=5, log_every=1)


def run(out, quick=False, seed=0, corpus="tang", steps=None, valid_sequences=1000):
    """Train one model per entry of RUNS for `steps` steps each; validation on the first
    `valid_sequences` of the validation split (a random sample) to keep evaluations short."""
    steps = steps or (10 if quick else 300)
    common = dict(corpus=corpus, seed=seed, max_steps=steps, time_budget=0, patience=10 ** 6, device="cpu",
                  **(QUICK if quick else FULL))
    base = build_config("seed-large", **common)
    data = prepare(base.data)                   # bad input fails here, before anything is written
    data = replace(data, valid=data.valid.head(valid_sequences))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for label, overrides in RUNS.items():
        t0 = time.perf_counter()
        result = train(build_config("seed-large", **common, **overrides), data, out / "runs" / slug(label), progress=False)
        rows = result.metrics
        results[label] = {"rows": rows, "best_ppl": result.best_ppl, "seconds": time.perf_counter() - t0,
                          "final_loss": next(r["train_loss"] for r in reversed(rows) if r["train_loss"] is not None)}
        print(f"{label:<34} best valid ppl {result.best_ppl:9.2f}  {results[label]['seconds']:6.0f} s", flush=True)

    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("optimizer", "step", "train_loss", "valid_ppl"))
        for label, r in results.items():
            for row in r["rows"]:
                writer.writerow((label, row["step"], format_cell(row["train_loss"]), format_cell(row.get("valid_ppl"))))
    plot_curves(results, out / "loss_curves.png",
                f"{corpus}, LSTM {base.model.embed_size}/{base.model.hidden_size}, batch {base.batch_size}, {steps} steps, seed {seed}")
    lines = ["# Optimizer comparison", "",
             f"Corpus {corpus}; model embedding {base.model.embed_size}, LSTM {base.model.hidden_size}; batch {base.batch_size}; "
             f"{steps} steps from the same initial weights on the same batches (seed {seed}); validation perplexity "
             f"on {len(data.valid)} validation poems every {base.eval_every} steps. Train loss: mean cross entropy "
             f"(nats per character) over the last {base.log_every} steps.", "",
             "| optimizer | final train loss | best valid perplexity | wall time (s) |", "|---|---:|---:|---:|"]
    for label, r in results.items():
        lines.append(f"| {label} | {r['final_loss']:.3f} | {r['best_ppl']:.2f} | {r['seconds']:.0f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results


def slug(label):
    return "".join(c if c.isalnum() or c == "." else "-" for c in label.lower()).strip("-")


def plot_curves(results, path, title):
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    for label, r in results.items():
        loss = [(row["step"], row["train_loss"]) for row in r["rows"] if row["train_loss"] is not None]
        ppl = [(row["step"], row["valid_ppl"]) for row in r["rows"] if "valid_ppl" in row]
        left.plot(*zip(*loss), label=label)
        right.plot(*zip(*ppl), marker="o", label=label)
    left.set(title="train loss", xlabel="step", ylabel="cross entropy (nats/char)")
    right.set(title="validation perplexity", xlabel="step", ylabel="perplexity", yscale="log")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
