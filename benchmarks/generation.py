"""Batched generation against one poem at a time: the same model writes N free-form poems both ways,
in one process, and the ratio of the wall times is reported. For a model with tied output vectors (the
default), also 20 poems with those vectors computed once per call, as generate() does, against at every
character, as it did before 2026-12-04 (medians of five alternations).

    python benchmarks/generation.py --checkpoint runs/RUN --num 1000
"""
import argparse
import statistics
import time
from contextlib import nullcontext

import torch

from rnnlab.checkpoint import load_checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--num", type=int, default=1000)
    parser.add_argument("--max-len", type=int, default=64)
    args = parser.parse_args()
    ckpt = load_checkpoint(args.checkpoint)
    ckpt.generate(num=2, seed=0)                                      # warm-up
    t0 = time.perf_counter()
    batched = ckpt.generate(num=args.num, max_len=args.max_len, seed=0)
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = [ckpt.generate(num=1, max_len=args.max_len, seed=i)[0] for i in range(args.num)]
    t_single = time.perf_counter() - t0
    chars = sum(map(len, batched)), sum(map(len, single))
    print(f"{args.num} free-form poems, {ckpt.model.config.cell} cell {ckpt.model.config.embed_size}/"
          f"{ckpt.model.config.hidden_size}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"batched      {t_batch:8.2f} s  ({chars[0] / t_batch:8.0f} characters/s)")
    print(f"one by one   {t_single:8.2f} s  ({chars[1] / t_single:8.0f} characters/s)")
    print(f"speed-up     {t_single / t_batch:8.1f}x")
    if ckpt.model.config.tied:
        once, every = output_vectors_once_against_every_step(ckpt)
        print(f"20 poems, tied output vectors once per call {once:.3f} s, at every character {every:.3f} s: "
              f"{every / once:.1f}x")


def output_vectors_once_against_every_step(ckpt, rounds=5):
    """Median seconds for 20 poems: generate() as it is, and with the output vectors computed at every step."""
    times = {"once": [], "every": []}
    for r in range(rounds):
        for name, spent in times.items():
            if name == "every":
                ckpt.model.output_vectors_fixed = nullcontext          # the instance attribute hides the method
            t0 = time.perf_counter()
            ckpt.generate(num=20, seed=r)
            spent.append(time.perf_counter() - t0)
            if name == "every":
                del ckpt.model.output_vectors_fixed
    return statistics.median(times["once"]), statistics.median(times["every"])


if __name__ == "__main__":
    main()
