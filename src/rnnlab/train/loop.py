"""The training loop: shuffled padded batches, an optimizer step per batch, validation perplexity
every `eval_every` steps and at each epoch end, early stopping, best/ and last/ checkpoints."""
import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rnnlab.checkpoint import architecture, build_model, load_checkpoint, save_checkpoint, weights_are_finite
from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_text
from rnnlab.nn.awd import AWDConfig, AWDLanguageModel
from rnnlab.nn.class_softmax import frequency_classes
from rnnlab.nn.lm import LanguageModel, ModelConfig
from rnnlab.train.engines import evaluation_weights, exp_or_inf, make_engine
from rnnlab.train.metrics import MetricsLog, plot


@dataclass
class TrainResult:
    run_dir: Path
    best_ppl: float
    steps: int
    epochs: float
    tokens_per_s: float
    stop_reason: str
    checkpoint: object   # the best Checkpoint, loaded back
    nonfinite_steps: int = 0
    metrics: list = field(default_factory=list)   # the rows of metrics.csv, unrounded


def pick_device(name):
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RnnlabError("--device cuda: no CUDA device is available")
    return name


LOOP_COPIES_FROM_CHECKPOINT = ("embed_size", "hidden_size", "num_layers", "activation", "init")


def start_model(cfg, data, init_from=None):
    """The model a run starts from: `init_from`'s (a Checkpoint; its architecture, cell from cfg), or a
    new one for cfg, initialised from torch's generator (seeded by the caller)."""
    if init_from is not None:
        model = init_from.model
        return build_model(architecture(model), replace(model.config, cell=cfg.cell), model.state_dict())
    vocab_size = len(data.vocab)
    if cfg.model == "awd":
        config = AWDConfig(vocab_size, cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.cell, cfg.dropout,
                           cfg.dropouth, cfg.dropouti, cfg.dropoute, cfg.wdrop, cfg.tied, cfg.residual, cfg.softmax,
                           (cfg.n_classes or round(vocab_size ** 0.5)) if cfg.softmax == "class" else 0)
        counts = np.bincount(data.train.tokens, minlength=vocab_size)
        classes = frequency_classes(counts, config.n_classes) if cfg.softmax == "class" else None
        return AWDLanguageModel(config, classes)
    return LanguageModel(ModelConfig(vocab_size, cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.cell,
                                     cfg.activation, cfg.dropout, cfg.init))


def train(cfg, data, run_dir, init_from=None, progress=True):
    """Train on `data` (a Prepared dataset), writing the run into `run_dir`; returns a TrainResult.

    `init_from` (a Checkpoint) starts from its weights; the architecture then comes from it.
    """
    run_dir = Path(run_dir)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = start_model(cfg, data, init_from)
    if init_from is not None:
        cfg = replace(cfg, model=architecture(model),
                      **{k: v for k, v in model.config.to_dict().items() if k in LOOP_COPIES_FROM_CHECKPOINT})
    engine = make_engine(cfg, model, device, data.vocab)
    model_cfg = engine.model.config

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps({"train": cfg.to_dict(), "model": model_cfg.to_dict(),
                                                           "data_stats": data.stats}, indent=2, ensure_ascii=False))
    atomic_write_text(run_dir / "vocab.json", data.vocab.to_json())
    extra = [f"grad_norm:{name}" for name in engine.model.state_dict()] if cfg.log_grad_norms else []
    log = MetricsLog(run_dir / "metrics.csv", extra)

    steps_per_epoch = engine.steps_per_epoch(data.train)
    total_steps = steps_per_epoch * cfg.epochs           # an estimate with variable BPTT windows, for the bar
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    deadline = time.perf_counter() + cfg.time_budget * 60 if cfg.time_budget else None
    best_ppl, latest_ppl, evals_since_best, step, stop, nonfinite = float("inf"), None, 0, 0, None, 0
    train_time, train_tokens = 0.0, 0
    window = {"loss": 0.0, "tokens": 0, "time": 0.0}
    bar = tqdm(total=total_steps, disable=not progress, unit="step", dynamic_ncols=True)
    for epoch in range(cfg.epochs):
        batches = engine.epoch_steps(data.train, rng)
        for b, batch in enumerate(batches):
            t0 = time.perf_counter()
            loss_sum, n, grad_norm, norms = engine.step(*batch)
            dt = time.perf_counter() - t0
            step += 1
            train_time, train_tokens = train_time + dt, train_tokens + n
            if math.isfinite(loss_sum) and math.isfinite(grad_norm):
                window["loss"] += loss_sum
                window["tokens"] += n
                window["time"] += dt
            else:
                nonfinite += 1            # the engine skipped this update
            bar.update()
            bar.set_postfix(loss=f"{loss_sum / n:.3f}", ppl=f"{exp_or_inf(loss_sum / n):.1f}",
                            tok_s=f"{train_tokens / train_time:.0f}", skipped=nonfinite, refresh=False)

            out_of_time = deadline is not None and time.perf_counter() >= deadline
            last = step == cfg.max_steps or (epoch == cfg.epochs - 1 and b == len(batches) - 1)
            row = None
            if step % cfg.eval_every == 0 or b == len(batches) - 1 or out_of_time or last:
                with evaluation_weights(engine.optimizer):
                    latest_ppl = engine.perplexity(data.valid)
                    row = {"valid_ppl": latest_ppl}
                    if latest_ppl < best_ppl:
                        best_ppl, evals_since_best = latest_ppl, 0
                        save_checkpoint(run_dir / "best", engine.model, data.vocab, cfg.data,
                                        {"step": step, "epoch": round(step / steps_per_epoch, 3), "valid_ppl": latest_ppl})
                    else:
                        evals_since_best += 1
                if hasattr(engine.optimizer, "check") and engine.optimizer.check(latest_ppl):
                    bar.write(f"step {step:>6}  NT-ASGD: validation stopped improving, averaging from here on")
                bar.write(f"step {step:>6}  epoch {step / steps_per_epoch:5.2f}  valid ppl {latest_ppl:8.2f}"
                          f"{'  (best)' if evals_since_best == 0 else ''}")
                if evals_since_best >= cfg.patience:
                    stop = f"early stopping: no improvement in {cfg.patience} evaluations"
            elif step % cfg.log_every == 0:
                row = {}
            if row is not None:
                log.write(step=step, epoch=round(step / steps_per_epoch, 4),
                          train_loss=window["loss"] / window["tokens"] if window["tokens"] else None,
                          lr=engine.lr, grad_norm=grad_norm,
                          tokens_per_s=window["tokens"] / window["time"] if window["time"] else None,
                          **{f"grad_norm:{k}": v for k, v in norms.items()}, **row)
                window = {"loss": 0.0, "tokens": 0, "time": 0.0}
            evaluated = row is not None and "valid_ppl" in row
            if stop is None and evaluated and deadline is not None and time.perf_counter() >= deadline:
                stop = f"time budget of {cfg.time_budget:g} min reached"
            if stop is None and last:
                stop = "max steps reached" if cfg.max_steps is not None and step == cfg.max_steps else "all epochs done"
            if stop:
                break
        if stop:
            break
    bar.close()

    with evaluation_weights(engine.optimizer):
        if weights_are_finite(engine.model):
            save_checkpoint(run_dir / "last", engine.model, data.vocab, cfg.data,
                            {"step": step, "epoch": round(step / steps_per_epoch, 3), "valid_ppl": latest_ppl})
    plot(log.rows, run_dir / "training.png", f"{cfg.data.corpus} · {cfg.engine}/{cfg.cell} · {cfg.embed_size}/{cfg.hidden_size}")
    if not math.isfinite(best_ppl):
        raise RnnlabError(f"training diverged: validation perplexity was never finite (see {run_dir / 'metrics.csv'})")
    best = load_checkpoint(run_dir / "best", cell=cfg.cell, device=device)
    return TrainResult(run_dir, best_ppl, step, step / steps_per_epoch, train_tokens / max(train_time, 1e-9), stop, best,
                       nonfinite, log.rows)
