"""Time to quality: the reference's seed-large and the default preset (cpu-fast) trained one after the
other on the same machine, data and budget, each as `rnnlab train --preset P --time-budget MINUTES`
would train it. At each mark of the training clock (wall time since training began, the run's own
validations included) the weights are copied; after training every copy is evaluated on the whole
validation split and on unseen text, outside the clock.

Unseen text: the handout corpus (tangshi) without the poems that also occur in the Tang training split,
encoded with the model's vocabulary; its unknown-character rate is reported beside it (an unknown
character is a target like any other: the model must predict <unk>).

    python benchmarks/time_to_quality.py --out benchmarks/results/cpu-2core/time-to-quality

writes OUT/time_to_quality.json and OUT/time_to_quality.png and prints the table. It needs the CPU to
itself for about 2 x MINUTES plus 10 minutes of evaluation.
"""
import argparse
import json
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import matplotlib
import torch

from rnnlab.data.dataset import prepare
from rnnlab.machine import describe
from rnnlab.training.config import DEFAULT_PRESET, build_config
from rnnlab.training.loop import train
from rnnlab.training.perplexity import poem_perplexity

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def unseen_split(cfg, vocab, train_split):
    """tangshi's poems that are not in the training split, in the model's vocabulary."""
    tangshi = prepare(replace(cfg.data, corpus="tangshi", valid_fraction=0.5), vocab=vocab)
    poems = tangshi.split("all")
    return poems.without(train_split), len(poems)


class Snapshots:
    """on_step callback: a copy of the weights each time the training clock passes a mark."""

    def __init__(self, marks):
        self.marks, self.taken, self.tokens = sorted(marks), [], 0

    def __call__(self, run, seconds):
        self.tokens = run.progress.train_tokens
        if len(self.taken) < len(self.marks) and seconds >= self.marks[len(self.taken)] * 60:
            p = run.progress
            self.taken.append({"minutes": self.marks[len(self.taken)], "seconds": seconds, "step": p.step,
                               "tokens": p.train_tokens,
                               "weights": {k: v.detach().clone() for k, v in run.engine.model.state_dict().items()}})


def run_preset(preset, minutes, marks, seed, work, unseen, corpus):
    cfg = build_config(preset, time_budget=minutes, seed=seed, corpus=corpus)
    data = prepare(cfg.data, fetch_missing=True)
    snaps = Snapshots([m for m in marks if m < minutes])
    t0 = time.perf_counter()
    result = train(cfg, data, work / preset, progress=False, on_step=snaps)
    wall = time.perf_counter() - t0
    model, pad = result.checkpoint.model, data.vocab.pad
    split, tangshi_total = unseen if unseen else unseen_split(cfg, data.vocab, data.train)
    # what the run reports: best/ on the full validation split; then `model` takes each snapshot's weights
    final = {"minutes": minutes, "seconds": wall, "step": result.steps, "tokens": snaps.tokens,
             "valid_ppl": result.best_ppl, "unseen_ppl": poem_perplexity(model, split, pad), "final": True}
    points = []
    for snap in snaps.taken:
        model.load_state_dict(snap.pop("weights"))
        points.append({**snap, "valid_ppl": poem_perplexity(model, data.valid, pad),
                       "unseen_ppl": poem_perplexity(model, split, pad)})
    points.append(final)
    unknown = int((split.tokens == data.vocab.unk).sum())
    return {"preset": preset, "config": cfg.to_dict(), "steps": result.steps, "tokens_per_s": result.tokens_per_s,
            "stop_reason": result.stop_reason, "points": points,
            "unseen": {"poems": len(split), "tangshi_poems": tangshi_total, "tokens": split.n_targets,
                       "unknown": unknown, "unknown_rate": unknown / max(len(split.tokens), 1)}}, (split, tangshi_total)


def minutes_to_reach(points, target):
    """First time the curve is at or below target, interpolating log perplexity between marks."""
    prev = None
    for pt in points:
        if pt["valid_ppl"] <= target:
            if prev is None:
                return pt["minutes"]
            a, b = math.log(prev["valid_ppl"]), math.log(pt["valid_ppl"])
            return prev["minutes"] + (pt["minutes"] - prev["minutes"]) * (a - math.log(target)) / (a - b)
        prev = pt
    return None


def plot(runs, path):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        pts = r["points"]
        axes[0].plot([p["minutes"] for p in pts], [p["valid_ppl"] for p in pts], "o-", label=r["preset"])
        axes[1].plot([p["tokens"] / 1e6 for p in pts], [p["valid_ppl"] for p in pts], "o-", label=r["preset"])
    axes[0].set_xlabel("training wall-clock minutes")
    axes[1].set_xlabel("training tokens seen (millions)")
    for ax in axes:
        ax.set_ylabel("validation perplexity (full split)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("Tang poems: validation perplexity against training time")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="budget of each run (default: %(default)s)")
    parser.add_argument("--marks", type=float, nargs="+", default=[2, 3, 4, 5, 6, 7, 8, 10, 15],
                        help="training minutes at which the weights are evaluated (default: %(default)s)")
    parser.add_argument("--presets", nargs=2, default=["seed-large", DEFAULT_PRESET])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", default="tang", help="tang; tangshi for a quick check of the script")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs, unseen = [], None
    with tempfile.TemporaryDirectory() as work:
        for preset in args.presets:
            run, unseen = run_preset(preset, args.minutes, args.marks, args.seed, Path(work), unseen, args.corpus)
            runs.append(run)
            print(f"{preset}: {run['steps']} steps, {run['tokens_per_s']:.0f} tokens/s, {run['stop_reason']}", flush=True)
    reference, ours = runs
    target = reference["points"][-1]["valid_ppl"]
    reach = minutes_to_reach(ours["points"], target)
    report = {**describe(), "threads": torch.get_num_threads(), "torch": torch.__version__, "minutes": args.minutes,
              "runs": runs, "reference_final_ppl": target, "minutes_to_reference_final": reach,
              "final_ratio": ours["points"][-1]["valid_ppl"] / target}
    (args.out / "time_to_quality.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    plot(runs, args.out / "time_to_quality.png")
    print(f"\n{report['cpu']}, {report['threads']} threads, torch {report['torch']}; validation perplexity, full split")
    shown = [m for m in (5, 10, 15, args.minutes) if m <= args.minutes]
    print(f"{'minutes':>8} " + " ".join(f"{r['preset']:>12}" for r in runs))
    for m in shown:
        cells = [next((p["valid_ppl"] for p in r["points"] if p["minutes"] == m), float("nan")) for r in runs]
        print(f"{m:>8g} " + " ".join(f"{c:12.2f}" for c in cells))
    print(f"{ours['preset']} / {reference['preset']} at {args.minutes:g} min: {report['final_ratio']:.3f}")
    print(f"{ours['preset']} reaches {reference['preset']}'s {args.minutes:g}-minute perplexity ({target:.2f}) after "
          + (f"{reach:.1f} min" if reach is not None else "more than the budget"))
    u = ours["unseen"]
    print(f"unseen text ({u['poems']} tangshi poems not in the training split, {u['tokens']} targets, "
          f"{100 * u['unknown_rate']:.2f}% unknown characters): "
          + ", ".join(f"{r['preset']} {r['points'][-1]['unseen_ppl']:.2f}" for r in runs))


if __name__ == "__main__":
    main()
