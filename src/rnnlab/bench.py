"""Throughput and peak memory of the four LSTM engines: autograd, manual, native (torch) and numpy.

Two measurements per grid point (hidden size x batch size, float32, fixed length):
    layer  one LSTM layer (input size = hidden size), forward + backward
    lm     a full language-model training step: embedding -> LSTM -> softmax over the vocabulary,
           backward, Adam step (betas 0.5, 0.99)
Timing: the engines of one grid point are built once, warmed up, then timed alternately in the same
process, so a busy machine slows them all alike; each engine's figure is the median of the repeats.
Memory: in a fresh process per engine, after a warm-up step, the growth of the peak resident set
during one step over what the process held before it (weights, inputs, optimizer state), in MiB.
glibc's malloc is told to map all but tiny blocks on their own, so memory freed by the warm-up step is
not reused unseen.
"""
import multiprocessing
import os
import re
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from rnnlab.machine import describe
from rnnlab.nn.cells import CELLS
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel, sequence_loss
from rnnlab.numpy import optim as numpy_optim
from rnnlab.numpy.layers import LSTMLayer
from rnnlab.numpy.lm import LanguageModel as NumpyLanguageModel
from rnnlab.progress import tracked

ENGINES = (*CELLS, "numpy")
KINDS = ("layer", "lm")


def layer_step(engine, hidden, batch, length, seed=0):
    torch.manual_seed(seed)
    reference = CELLS["native"](hidden, hidden)
    x = torch.randn(batch, length, hidden)
    d_out = torch.randn(batch, length, hidden)
    if engine == "numpy":
        layer = LSTMLayer(*(p.detach().numpy().copy() for p in reference.parameters()))
        x, d_out = x.numpy(), d_out.numpy()
        zeros = np.zeros((batch, hidden), dtype=np.float32)

        def step():
            for p in layer.params().values():
                p.zero_grad()
            layer.forward(x, zeros, zeros)
            layer.backward(d_out, zeros, zeros)
        return step
    lstm = CELLS[engine](hidden, hidden)
    lstm.load_state_dict(reference.state_dict())
    x.requires_grad_()

    def step():
        lstm.zero_grad(set_to_none=True)
        x.grad = None
        lstm(x)[0].backward(d_out)
    return step


def lm_step(engine, hidden, batch, length, vocab, seed=0):
    cell = "native" if engine == "numpy" else engine
    config = ModelConfig(vocab, embed_size=hidden, hidden_size=hidden, cell=cell)
    torch.manual_seed(seed)
    model = LanguageModel(config)
    inputs = torch.randint(4, vocab, (batch, length))
    targets = torch.randint(4, vocab, (batch, length))
    if engine == "numpy":
        np_model = NumpyLanguageModel(config, {k: v.numpy().copy() for k, v in model.state_dict().items()})
        params = list(np_model.params().values())
        optimizer = numpy_optim.Adam(params, 1e-3, betas=(0.5, 0.99))
        inputs, targets = inputs.numpy(), targets.numpy()

        def step():
            optimizer.zero_grad()
            np_model.loss_and_backward(inputs, targets, pad=0)
            optimizer.step()
        return step
    optimizer = torch.optim.Adam(model.parameters(), 1e-3, betas=(0.5, 0.99))

    def step():
        loss, n = sequence_loss(model(inputs)[0], targets, pad=0)
        optimizer.zero_grad(set_to_none=True)
        (loss / n).backward()
        optimizer.step()
    return step


def make_step(kind, engine, hidden, batch, length, vocab):
    return layer_step(engine, hidden, batch, length) if kind == "layer" else lm_step(engine, hidden, batch, length, vocab)


def time_steps(steps, repeats, min_time):
    """{engine: median seconds per step}; per repeat, each engine runs enough steps to last min_time."""
    per_repeat = {}
    for name, step in steps.items():
        step()
        t0 = time.perf_counter()
        step()
        per_repeat[name] = max(1, round(min_time / max(time.perf_counter() - t0, 1e-9)))
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(per_repeat[name]):
                step()
            times[name].append((time.perf_counter() - t0) / per_repeat[name])
    return {name: statistics.median(t) for name, t in times.items()}


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def peak_rss_mib():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024


def step_peak_mib(kind, engine, hidden, batch, length, vocab):
    """Run in a fresh process: growth of the peak resident set during one step after a warm-up step."""
    step = make_step(kind, engine, hidden, batch, length, vocab)
    step()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                   # Linux: reset the peak (VmHWM) to the current size
    before = rss_mib()
    step()
    return max(peak_rss_mib() - before, 0.0)


def peak_memory(jobs):
    """{job: MiB}, each job (kind, engine, hidden, batch, length, vocab) in a process of its own."""
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "4096"   # inherited by the workers: glibc maps (and unmaps) all but tiny blocks
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1) as pool:
        return dict(zip(jobs, pool.map(step_peak_mib, *zip(*jobs))))


def run(hidden_sizes=(128, 256, 512, 1024), batch_sizes=(16, 64), length=49, vocab=5437, kinds=KINDS,
        engines=ENGINES, repeats=5, min_time=0.2, memory=True):
    grid = [(kind, h, b) for kind in kinds for h in hidden_sizes for b in batch_sizes]
    rows = []
    for kind, h, b in tracked(grid, len(grid), "bench: points measured"):
        steps = {e: make_step(kind, e, h, b, length, vocab) for e in engines}
        seconds = time_steps(steps, repeats, min_time)
        rows += [{"kind": kind, "hidden": h, "batch": b, "engine": e, "ms_per_step": 1000 * s,
                  "tokens_per_s": b * length / s} for e, s in seconds.items()]
    if memory:
        jobs = [(r["kind"], r["engine"], r["hidden"], r["batch"], length, vocab) for r in rows]
        peaks = peak_memory(jobs)
        for row, job in zip(rows, jobs):
            row["peak_mib"] = peaks[job]
    return {**describe(), "torch": torch.__version__, "threads": torch.get_num_threads(), "length": length,
            "vocab": vocab, "repeats": repeats, "rows": rows}


def table(result):
    """Markdown tables: tokens/s per engine with the manual cell's ratios, then peak memory."""
    rows = result["rows"]
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    ratios = [(a, b) for a, b in (("manual", "native"), ("manual", "autograd")) if a in engines and b in engines]
    titles = {"layer": "LSTM layer alone, forward + backward", "lm": f"language-model training step, vocabulary {result['vocab']}"}
    lines = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        points = {(r["hidden"], r["batch"]): {} for r in rows if r["kind"] == kind}
        for r in rows:
            if r["kind"] == kind:
                points[(r["hidden"], r["batch"])][r["engine"]] = r
        where = f"{result['cpu']} ({', '.join(result['simd']) or 'no SIMD flags read'}), " if "cpu" in result else ""
        lines += [f"{titles[kind]}: tokens/s (float32, length {result['length']}, {where}{result['threads']} threads, "
                  f"torch {result['torch']})", "",
                  "| hidden | batch | " + " | ".join(engines) + "".join(f" | {a}/{b}" for a, b in ratios) + " |",
                  "|---" * (2 + len(engines) + len(ratios)) + "|"]
        for (h, b), by_engine in points.items():
            rate = {e: by_engine[e]["tokens_per_s"] for e in engines}
            lines.append(f"| {h} | {b} | " + " | ".join(f"{rate[e]:.0f}" for e in engines)
                         + "".join(f" | {rate[a] / rate[bb]:.2f}x" for a, bb in ratios) + " |")
        if all("peak_mib" in r for r in rows):
            lines += ["", f"{titles[kind]}: peak memory growth of one step, MiB", "",
                      "| hidden | batch | " + " | ".join(engines) + " |", "|---" * (2 + len(engines)) + "|"]
            for (h, b), by_engine in points.items():
                lines.append(f"| {h} | {b} | " + " | ".join(f"{by_engine[e]['peak_mib']:.0f}" for e in engines) + " |")
        lines.append("")
    return "\n".join(lines)
