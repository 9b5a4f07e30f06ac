"""AWD-LSTM ablation (reference 002 §2.3): a plain LSTM, the full AWD-LSTM, and the full model with one
technique removed at a time, each trained by the training loop (rnnlab.training.loop) for the same number
of epochs on the same stream, validated at every epoch end.

The validation poems are split in two halves: the first picks the best epoch (and drives NT-ASGD's
trigger), the second is the test set, evaluated once with the best weights."""
import csv
import time
from dataclasses import replace
from pathlib import Path

from rnnlab.data.dataset import DataConfig, Split, prepare
from rnnlab.experiments.plots import line_plot
from rnnlab.progress import tracked
from rnnlab.training.config import build_config
from rnnlab.training.loop import train
from rnnlab.training.perplexity import stream_perplexity
from rnnlab.training.state import load_state

# the full model: 2 layers, NT-ASGD at lr 20 with clipping 0.25, AR 2, TAR 1, BPTT 35 (variable)
FULL = dict(num_layers=2, batch_size=16, bptt=35, optimizer="ntasgd", lr=20.0, clip_norm=0.25, weight_decay=1.2e-6,
            dropout=0.4, dropouth=0.25, dropouti=0.4, dropoute=0.1, wdrop=0.5, tied=True, alpha=2.0, beta=1.0,
            variable_bptt=True)
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


def variant_config(label, corpus, epochs, seed, size):
    """Validated and logged at every epoch end and nowhere else; no early stopping, no time limit."""
    return build_config("awd-small", **{**FULL, **size, **VARIANTS[label]}, corpus=corpus, epochs=epochs, seed=seed,
                        device="cpu", eval_every=10 ** 9, log_every=10 ** 9, patience=10 ** 9, time_budget=0)


def run_variant(label, cfg, data, test, run_dir):
    """Train one variant; returns its per-epoch rows, best validation and test perplexity."""
    t0 = time.perf_counter()
    result = train(cfg, data, run_dir, progress=False)
    rows = [{"variant": label, "epoch": round(r["epoch"]), "train_loss": r["train_loss"], "valid_ppl": r["valid_ppl"]}
            for r in result.metrics]
    return {"rows": rows, "best_valid": result.best_ppl, "seconds": time.perf_counter() - t0,
            "test": stream_perplexity(result.checkpoint.model, test, data.vocab.bos, cfg.stream.bptt),
            "averaging_from": load_state(run_dir)["optimizer"].get("ntasgd", {}).get("triggered_at")}


def run(out, quick=False, seed=0, corpus="tangshi", epochs=None):
    prepared = prepare(DataConfig(corpus=corpus))
    valid, test = halves(prepared.valid)
    data = replace(prepared, valid=valid)
    epochs = epochs or (2 if quick else 40)
    size = dict(embed_size=16, hidden_size=24) if quick else dict(embed_size=128, hidden_size=256)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    configs = {label: variant_config(label, corpus, epochs, seed, size) for label in VARIANTS}
    variants = tracked(enumerate(configs.items()), len(configs), "awd-ablation: variants trained")
    results = {label: run_variant(label, cfg, data, test, out / "runs" / f"variant-{i}") for i, (label, cfg) in variants}

    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["variant", "epoch", "train_loss", "valid_ppl"])
        writer.writeheader()
        for r in results.values():
            writer.writerows(r["rows"])
    line_plot(out / "curves.png", {label: ([row["epoch"] for row in r["rows"]], [row["valid_ppl"] for row in r["rows"]])
                                   for label, r in results.items()},
              f"AWD-LSTM ablation on {corpus}: validation perplexity", "epoch", "perplexity", log_y=True)
    full = configs["AWD-LSTM (all)"]
    m, o, s = full.model, full.optim, full.stream
    lines = ["# AWD-LSTM ablation", "",
             f"Corpus {corpus}; the full model: {m.num_layers}-layer LSTM, embedding {m.embed_size}, hidden "
             f"{m.hidden_size}; batch {full.batch_size}, BPTT {s.bptt}{' (variable)' if s.variable_bptt else ''}; "
             f"{o.optimizer.upper()} lr {o.lr:g}, clip {full.clip_norm:g}, weight decay {o.weight_decay:g}; dropout "
             f"output/between/input/embedding/weight {m.dropout:g}/{m.dropouth:g}/{m.dropouti:g}/{m.dropoute:g}/"
             f"{m.wdrop:g}; AR {s.alpha:g}, TAR {s.beta:g}; {epochs} epochs per variant, seed {seed}. Each variant "
             "changes what its name says (settings in rnnlab/experiments/awd_ablation.py, trained runs in runs/). "
             "Validation = first half of the held-out poems (picks the best epoch), test = second half.", "",
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
