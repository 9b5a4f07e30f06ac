"""Memory and pace of a training run of a preset (default: cpu-fast) on the Tang corpus in three settings,
each in its own process, the rounds alternating:

    rows as they are         the tied softmax's bf16 products on the batch's real targets, a new number of rows
                             at every step; oneDNN compiles a kernel for each new shape and keeps up to 1024
    ... kernel cache off     the same with ONEDNN_PRIMITIVE_CACHE_CAPACITY=0 (rnnlab's setting from the sixth session
                             of 2026-12-04): nothing kept, every kernel compiled again at every step
    rows rounded (rnnlab)    the rows padded to a multiple of rnnlab.nn.lm.ROW_MULTIPLE: a few shapes, each
                             compiled once and kept

    python benchmarks/train_memory.py [--preset cpu-fast] [--corpus tang] [--steps 120] [--rounds 2] [--out FILE.json]

Reported for each run: the resident memory after some steps and its peak (rnnlab.bench's rss_mib and
peak_rss_mib)
and the seconds per step after the 10th, with the CPU (rnnlab.machine.describe). No validation is run but
the last one. Needs the corpus (RNNLAB_DATA) and the CPU to itself; about a minute per 100 steps a run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# name: (rows rounded to a multiple of, None: rnnlab's ROW_MULTIPLE; oneDNN's kernel cache capacity, None: its own)
SETTINGS = {"rows as they are": (1, None), "rows as they are, kernel cache off": (1, "0"),
            "rows rounded (rnnlab)": (None, None)}
MARKS = (10, 20, 60, 120, 250, 500)


def gb(mib):
    return round(mib * 2 ** 20 / 1e9, 2)


def child(preset, corpus, steps, row_multiple):
    """Train `steps` steps in this process; print one JSON line of what it measured."""
    from rnnlab.bench import peak_rss_mib, rss_mib
    from rnnlab.data.dataset import prepare
    from rnnlab.nn import lm
    from rnnlab.training.config import build_config
    from rnnlab.training.loop import train

    if row_multiple:
        lm.ROW_MULTIPLE = row_multiple
    cfg = build_config(preset, corpus=corpus, max_steps=steps, time_budget=0, eval_every=10**9)
    data = prepare(cfg.data, fetch_missing=True)
    seen = {"rss": {}, "times": []}

    def on_step(run, seconds):
        seen["times"].append(time.perf_counter())
        if run.progress.step in MARKS:
            seen["rss"][run.progress.step] = gb(rss_mib())

    with tempfile.TemporaryDirectory() as out:
        train(cfg, data, out, progress=False, on_step=on_step)
    times = seen["times"]
    print(json.dumps({"rss_gb": seen["rss"], "peak_gb": gb(peak_rss_mib()),
                      "s_per_step": (times[-1] - times[9]) / (len(times) - 10)}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu-fast")
    p.add_argument("--corpus", default="tang")
    p.add_argument("--steps", type=int, default=120, help="steps a run (at least 11)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", help="also write the results as JSON here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--row-multiple", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.steps < 11 or a.rounds < 1:
        p.error("--steps must be at least 11 and --rounds at least 1")
    if a.child:
        return child(a.preset, a.corpus, a.steps, a.row_multiple)

    from rnnlab.machine import describe

    runs = {name: [] for name in SETTINGS}
    for round_ in range(a.rounds):
        for name, (multiple, capacity) in SETTINGS.items():
            env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
            env.update({"ONEDNN_PRIMITIVE_CACHE_CAPACITY": capacity} if capacity else {})
            rows = ["--row-multiple", str(multiple)] if multiple else []
            done = subprocess.run([sys.executable, __file__, "--child", "--preset", a.preset, "--corpus", a.corpus,
                                   "--steps", str(a.steps), *rows],
                                  env=env, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"round {round_ + 1}, {name}: {runs[name][-1]}", file=sys.stderr)
    print(f"{describe()}; {a.preset}, {a.steps} steps, {a.rounds} rounds alternating")
    marks = [m for m in MARKS if m <= a.steps]
    print("| bf16 softmax products | " + " | ".join(f"RSS after {m} steps (GB)" for m in marks)
          + " | peak (GB) | s per step (median) |")
    print("|---" * (len(marks) + 3) + "|")
    for name, results in runs.items():
        rss = [statistics.median(r["rss_gb"][str(m)] for r in results) for m in marks]
        print(f"| {name} | " + " | ".join(f"{x:.2f}" for x in rss)
              + f" | {statistics.median(r['peak_gb'] for r in results):.2f}"
              + f" | {statistics.median(r['s_per_step'] for r in results):.3f} |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"machine": describe(), "preset": a.preset, "steps": a.steps, "runs": runs}, f, indent=2)


if __name__ == "__main__":
    main()
