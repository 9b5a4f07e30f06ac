"""Time to quality: the reference's seed-large and the default preset (cpu-fast) trained one after the
other on the same machine, data and budget, each as `rnnlab train --preset P --time-budget MINUTES`
would train it, and then the peer a user would try instead, the character transformer of
char_transformer.py with its swept settings (PEER), in the default's precision. At each mark of the
training clock (wall time since training began, the run's own validations included) the weights are
copied; after training every copy is evaluated on the whole validation split, on unseen text, and by
the rhyme and tones of --poems unconstrained poems of each regulated form, outside the clock.

Unseen text: the handout corpus (tangshi) without the poems that share a line with the Tang training split,
encoded with the model's vocabulary; its unknown-character rate is reported beside it (an unknown
character is a target like any other: the model must predict <unk>).

    python benchmarks/time_to_quality.py --out benchmarks/results/cpu-2core/time-to-quality

writes OUT/time_to_quality.json and OUT/time_to_quality.png and prints the table. It needs the CPU to
itself for about 3 x MINUTES plus 10 minutes of evaluation and about a minute per mark and run for the poems.
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
from char_transformer import PEER, train_peer, unconstrained_rates

from rnnlab.data.dataset import prepare
from rnnlab.generate.forms import FORMS, line_cuts
from rnnlab.machine import describe
from rnnlab.training.config import DEFAULT_PRESET, build_config, run_precision
from rnnlab.training.loop import train
from rnnlab.training.perplexity import poem_perplexity

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def unseen_split(cfg, vocab, train_split):
    """tangshi's poems that share no line with the training split, in the model's vocabulary."""
    tangshi = prepare(replace(cfg.data, corpus="tangshi", valid_fraction=0.5), vocab=vocab)
    poems = tangshi.split("all")
    return poems.without(train_split, line_cuts(vocab)), len(poems)


class Snapshots:
    """A copy of the weights each time the training clock passes a mark (take, called after each step)."""

    def __init__(self, marks):
        self.marks, self.taken, self.tokens = sorted(marks), [], 0

    def take(self, model, step, tokens, seconds):
        self.tokens = tokens
        if len(self.taken) < len(self.marks) and seconds >= self.marks[len(self.taken)] * 60:
            self.taken.append({"minutes": self.marks[len(self.taken)], "seconds": seconds, "step": step, "tokens": tokens,
                               "weights": {k: v.detach().clone() for k, v in model.state_dict().items()}})

    def lstm_callback(self, run, seconds):
        """train()'s on_step."""
        self.take(run.engine.model, run.progress.step, run.progress.train_tokens, seconds)


def scored(model, snaps, final, data, unseen, poems):
    """The curve: each snapshot's weights (then the final ones, already in `model`) on the whole validation
    split and the unseen poems, with the unconstrained rhyme and tone rates of `poems` poems of each form."""
    split, pad = unseen, data.vocab.pad

    def measures(point):
        point.update(valid_ppl=point.get("valid_ppl") or poem_perplexity(model, data.valid, pad),
                     unseen_ppl=poem_perplexity(model, split, pad))
        if poems:
            point["unconstrained"] = {form: {k: r[k] for k in ("rhyme", "tones")}
                                      for form, r in unconstrained_rates(model, data, num=poems).items()}
        return point

    final = measures(final)            # before the snapshots' weights replace the final ones
    points = []
    for snap in snaps.taken:
        model.load_state_dict(snap.pop("weights"))
        points.append(measures(snap))
    return points + [final]


def run_preset(preset, minutes, marks, seed, work, unseen, corpus, poems):
    cfg = build_config(preset, time_budget=minutes, seed=seed, corpus=corpus)
    data = prepare(cfg.data, fetch_missing=True)
    snaps = Snapshots([m for m in marks if m < minutes])
    t0 = time.perf_counter()
    result = train(cfg, data, work / preset, progress=False, on_step=snaps.lstm_callback)
    wall = time.perf_counter() - t0
    unseen = unseen or unseen_split(cfg, data.vocab, data.train)
    # what the run reports: best/ on the full validation split; then the model takes each snapshot's weights
    final = {"minutes": minutes, "seconds": wall, "step": result.steps, "tokens": snaps.tokens,
             "valid_ppl": result.best_ppl, "final": True}
    points = scored(result.checkpoint.model, snaps, final, data, unseen[0], poems)
    return {"preset": preset, "config": cfg.to_dict(), "steps": result.steps, "tokens_per_s": result.tokens_per_s,
            "stop_reason": result.stop_reason, "points": points, "unseen": unseen_figures(unseen, data.vocab)}, unseen


def run_peer(minutes, marks, seed, unseen, corpus, poems):
    """The transformer peer (char_transformer.py, its swept settings) on the default run's data and split."""
    cfg = build_config(DEFAULT_PRESET, seed=seed, corpus=corpus)
    data = prepare(cfg.data, fetch_missing=True)
    snaps = Snapshots([m for m in marks if m < minutes])
    model, stats = train_peer(data, minutes, **PEER, seed=seed, precision=run_precision(cfg, "cpu"),
                              on_step=snaps.take)
    final = {"minutes": minutes, "seconds": stats["seconds"], "step": stats["steps"], "tokens": stats["tokens"],
             "final": True}
    points = scored(model, snaps, final, data, unseen[0], poems)
    return {"preset": "transformer", "config": PEER, "steps": stats["steps"],
            "tokens_per_s": stats["tokens"] / stats["seconds"], "stop_reason": "time budget", "points": points,
            "unseen": unseen_figures(unseen, data.vocab)}


def unseen_figures(unseen, vocab):
    split, tangshi_total = unseen
    unknown = int((split.tokens == vocab.unk).sum())
    return {"poems": len(split), "tangshi_poems": tangshi_total, "tokens": split.n_targets, "unknown": unknown,
            "unknown_rate": unknown / max(len(split.tokens), 1)}


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
    parser.add_argument("--poems", type=int, default=100,
                        help="unconstrained poems of each regulated form sampled at each mark (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", default="tang", help="tang; tangshi for a quick check of the script")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs, unseen = [], None
    with tempfile.TemporaryDirectory() as work:
        for preset in args.presets:
            run, unseen = run_preset(preset, args.minutes, args.marks, args.seed, Path(work), unseen, args.corpus,
                                     args.poems)
            runs.append(run)
            print(f"{preset}: {run['steps']} steps, {run['tokens_per_s']:.0f} tokens/s, {run['stop_reason']}", flush=True)
    runs.append(run_peer(args.minutes, args.marks, args.seed, unseen, args.corpus, args.poems))
    reference, ours, _ = runs
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
    print(f"unseen text ({u['poems']} tangshi poems that share no line with the training split, {u['tokens']} targets, "
          f"{100 * u['unknown_rate']:.2f}% unknown characters): "
          + ", ".join(f"{r['preset']} {r['points'][-1]['unseen_ppl']:.2f}" for r in runs))
    if args.poems:
        print(f"unconstrained rhyme / tones at {args.minutes:g} min ({args.poems} poems a form, temperature 0.8)")
        for r in runs:
            rates = r["points"][-1]["unconstrained"]
            print(f"{r['preset']:>12} " + "  ".join(f"{f} {rates[f]['rhyme']:.0%} / {rates[f]['tones']:.0%}" for f in FORMS))


if __name__ == "__main__":
    main()
