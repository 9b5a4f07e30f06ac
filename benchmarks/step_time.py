"""Milliseconds per training step of a preset (default: cpu-fast) on real batches of the Tang corpus, in
three precisions measured one after the other in one process, so that their ratios are from one run:

    fp32           everything in float32
    bf16-lstm      the LSTM in bf16, the tied adaptive softmax's products in float32 (--precision bf16 until
                   2026-12-03)
    bf16           the LSTM and the softmax's products in bf16 (--precision bf16 since)

    python benchmarks/step_time.py [--preset cpu-fast] [--corpus tang] [--steps 12] [--rounds 10] [--out FILE.json]

Each precision starts from the same weights and trains on the same batches; the rounds interleave the
precisions, a few steps each, so that the machine's drifts of speed (on a shared VM, 10-20% over minutes)
fall on all three alike. Reported: each precision's median step time over the rounds, and its speed-up as
the median over the rounds of that round's ratio, with the CPU (rnnlab.machine.describe). Needs the corpus
(RNNLAB_DATA) and the CPU to itself; about 15 s per round.
"""
import argparse
import copy
import json
import statistics
import time
from dataclasses import replace

import numpy as np
import torch

from rnnlab.data.dataset import prepare
from rnnlab.machine import describe
from rnnlab.nn.lm import full_precision
from rnnlab.training.config import build_config
from rnnlab.training.engines import make_engine
from rnnlab.training.loop import start_model

PRECISIONS = ("fp32", "bf16-lstm", "bf16")


def softmax_in_float32(model):
    """The model with its adaptive softmax's products taken out of the bf16 autocast (as until 2026-12-03)."""
    computed = model.adaptive_log_probs

    def adaptive_log_probs(h, targets=None):
        with full_precision(model):
            return computed(h, targets)
    model.adaptive_log_probs = adaptive_log_probs
    return model


def engine_for(cfg, data, start, precision):
    model = copy.deepcopy(start)
    if precision == "bf16-lstm":
        softmax_in_float32(model)
    run_cfg = replace(cfg, precision="fp32" if precision == "fp32" else "bf16")
    return make_engine(run_cfg, model, torch.device("cpu"), data.vocab)


def mean_step_ms(engine, batches):
    engine.step(batches[0])                                          # the first step allocates the optimizer state
    start = time.perf_counter()
    for batch in batches[1:]:
        engine.step(batch)
    return (time.perf_counter() - start) / (len(batches) - 1) * 1000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-fast")
    parser.add_argument("--corpus", default="tang", help="a corpus name or file (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per precision and round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        parser.error("--steps and --rounds must be at least 1")
    torch.manual_seed(0)
    cfg = build_config(args.preset, corpus=args.corpus)
    data = prepare(cfg.data)
    start = start_model(cfg, data)
    epoch = engine_for(cfg, data, start, "fp32").epoch_batches(data.train, np.random.default_rng(0))
    batches = [epoch[i % len(epoch)] for i in range(args.steps + 1)]           # a small corpus is gone round again
    tokens = np.mean([int((b[1] != data.vocab.pad).sum()) for b in batches[1:]])
    rounds = {p: [] for p in PRECISIONS}
    for r in range(args.rounds):
        for precision in PRECISIONS:
            rounds[precision].append(mean_step_ms(engine_for(cfg, data, start, precision), batches))
            print(f"round {r + 1}: {precision:9s} {rounds[precision][-1]:7.1f} ms/step", flush=True)
    median = {p: statistics.median(v) for p, v in rounds.items()}
    result = {"preset": args.preset, "cpu": describe(), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "steps": args.steps, "targets_per_step": float(tokens), "ms_per_step": rounds, "median_ms": median,
              "speedup_over_fp32": {p: statistics.median(f / t for f, t in zip(rounds["fp32"], rounds[p]))
                                    for p in PRECISIONS}}
    cpu = result["cpu"]
    print(f"{cpu['cpu']} ({', '.join(cpu['simd'])}); {args.preset}, {tokens:.0f} targets a step, median of "
          f"{args.rounds} rounds of {args.steps} steps")
    for p in PRECISIONS:
        print(f"  {p:9s} {median[p]:7.1f} ms/step  {tokens / median[p] * 1000:7.0f} tokens/s  "
              f"{result['speedup_over_fp32'][p]:.2f}x fp32")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
