"""The training loop: shuffled padded batches, an optimizer step per batch, validation perplexity
every `eval_every` steps and at each epoch end, early stopping, best/ and last/ checkpoints."""
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rnnlab.checkpoint import load_checkpoint, save_checkpoint
from rnnlab.data.batches import epoch_batches, eval_batches, padded_batch
from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_text
from rnnlab.nn.lm import LanguageModel, ModelConfig, sequence_loss
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


def pick_device(name):
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RnnlabError("--device cuda: no CUDA device is available")
    return name


def make_optimizer(cfg, params):
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.optimizer in ("sgd", "momentum"):
        momentum = cfg.momentum if cfg.optimizer == "momentum" else 0.0
        return torch.optim.SGD(params, cfg.lr, momentum=momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adagrad":
        return torch.optim.Adagrad(params, cfg.lr, weight_decay=cfg.weight_decay)
    raise RnnlabError(f"unknown optimizer {cfg.optimizer!r}")


def exp_or_inf(x):
    """exp that saturates to inf rather than raising OverflowError (perplexity of a diverged model)."""
    return math.exp(x) if x < 700 else float("inf")


@torch.no_grad()
def perplexity(model, split, pad, batch_size=256):
    """exp(mean cross entropy per target token), padding excluded."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for idx in eval_batches(split, batch_size):
        inputs, targets = (torch.from_numpy(a).to(device) for a in padded_batch(split, idx, pad))
        loss, n = sequence_loss(model(inputs)[0], targets, pad)
        total, count = total + loss.item(), count + n
    model.train(was_training)
    if not count:
        return float("nan")
    return exp_or_inf(total / count)


def train(cfg, data, run_dir, init_from=None, progress=True):
    """Train on `data` (a Prepared dataset), writing the run into `run_dir`; returns a TrainResult.

    `init_from` (a Checkpoint) starts from its weights; the architecture then comes from it.
    """
    run_dir = Path(run_dir)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    if init_from is not None:
        model_cfg = replace(init_from.model.config, cell=cfg.cell)
        cfg = replace(cfg, **{k: getattr(model_cfg, k) for k in ("embed_size", "hidden_size", "num_layers", "activation", "init")})
    else:
        model_cfg = ModelConfig(len(data.vocab), cfg.embed_size, cfg.hidden_size, cfg.num_layers,
                                cfg.cell, cfg.activation, cfg.dropout, cfg.init)
    model = LanguageModel(model_cfg).to(device)
    if init_from is not None:
        model.load_state_dict(init_from.model.state_dict())
    optimizer = make_optimizer(cfg, model.parameters())

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps({"train": cfg.to_dict(), "model": model_cfg.to_dict(),
                                                           "data_stats": data.stats}, indent=2, ensure_ascii=False))
    atomic_write_text(run_dir / "vocab.json", data.vocab.to_json())
    log = MetricsLog(run_dir / "metrics.csv")

    pad = data.vocab.pad
    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    deadline = time.perf_counter() + cfg.time_budget * 60 if cfg.time_budget else None
    clip = cfg.clip_norm if cfg.clip_norm else float("inf")

    best_ppl, latest_ppl, evals_since_best, step, stop = float("inf"), None, 0, 0, None
    train_time, train_tokens = 0.0, 0
    window = {"loss": 0.0, "tokens": 0, "time": 0.0}
    bar = tqdm(total=total_steps, disable=not progress, unit="step", dynamic_ncols=True)
    for epoch in range(cfg.epochs):
        batches = epoch_batches(len(data.train), cfg.batch_size, rng)
        for b, idx in enumerate(batches):
            t0 = time.perf_counter()
            inputs, targets = (torch.from_numpy(a).to(device) for a in padded_batch(data.train, idx, pad))
            loss_sum, n = sequence_loss(model(inputs)[0], targets, pad)
            optimizer.zero_grad(set_to_none=True)
            (loss_sum / n).backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item()
            optimizer.step()
            dt = time.perf_counter() - t0
            step += 1
            train_time, train_tokens = train_time + dt, train_tokens + n
            window["loss"] += loss_sum.item()
            window["tokens"] += n
            window["time"] += dt
            bar.update()
            bar.set_postfix(loss=f"{loss_sum.item() / n:.3f}", ppl=f"{exp_or_inf(loss_sum.item() / n):.1f}",
                            tok_s=f"{train_tokens / train_time:.0f}", refresh=False)

            out_of_time = deadline is not None and time.perf_counter() >= deadline
            last = step == total_steps
            row = None
            if step % cfg.eval_every == 0 or b == len(batches) - 1 or out_of_time or last:
                latest_ppl = perplexity(model, data.valid, pad)
                row = {"valid_ppl": latest_ppl}
                if latest_ppl < best_ppl:
                    best_ppl, evals_since_best = latest_ppl, 0
                    save_checkpoint(run_dir / "best", model, data.vocab, cfg.data,
                                    {"step": step, "epoch": round(step / steps_per_epoch, 3), "valid_ppl": latest_ppl})
                else:
                    evals_since_best += 1
                bar.write(f"step {step:>6}  epoch {step / steps_per_epoch:5.2f}  valid ppl {latest_ppl:8.2f}"
                          f"{'  (best)' if evals_since_best == 0 else ''}")
                if evals_since_best >= cfg.patience:
                    stop = f"early stopping: no improvement in {cfg.patience} evaluations"
            elif step % cfg.log_every == 0:
                row = {}
            if row is not None and window["tokens"]:
                log.write(step=step, epoch=round(step / steps_per_epoch, 4), train_loss=window["loss"] / window["tokens"],
                          lr=optimizer.param_groups[0]["lr"], grad_norm=grad_norm,
                          tokens_per_s=window["tokens"] / window["time"], **row)
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

    save_checkpoint(run_dir / "last", model, data.vocab, cfg.data,
                    {"step": step, "epoch": round(step / steps_per_epoch, 3), "valid_ppl": latest_ppl})
    plot(log.rows, run_dir / "training.png", f"{cfg.data.corpus} · {cfg.cell} · {cfg.embed_size}/{cfg.hidden_size}")
    if not math.isfinite(best_ppl):
        raise RnnlabError(f"training diverged: validation perplexity was never finite (see {run_dir / 'metrics.csv'})")
    best = load_checkpoint(run_dir / "best", cell=cfg.cell, device=device)
    return TrainResult(run_dir, best_ppl, step, step / steps_per_epoch, train_tokens / max(train_time, 1e-9), stop, best)
