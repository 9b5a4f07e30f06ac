"""The training loop: shuffled padded batches, an optimizer step per batch, validation perplexity
every `eval_every` steps and at each epoch end, early stopping, best/ and last/ checkpoints."""
import json
import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rnnlab.checkpoint import ARCHITECTURES, architecture, build_model, load_checkpoint, save_checkpoint, weights_are_finite
from rnnlab.errors import Interrupted, RnnlabError
from rnnlab.fileio import atomic_write_text
from rnnlab.nn.awd import AWDConfig, AWDLanguageModel
from rnnlab.nn.class_softmax import frequency_classes
from rnnlab.nn.lm import LanguageModel, ModelConfig
from rnnlab.train.engines import evaluation_weights, exp_or_inf, make_engine
from rnnlab.train import distributed
from rnnlab.train.metrics import MetricsLog, plot
from rnnlab.train.state import Progress, load_state, restore_rngs, save_state


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
    main_process: bool = True                     # False in torchrun's other processes: they print nothing


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


@contextmanager
def catch_signals(received):
    """While training, SIGINT and SIGTERM only note their arrival in `received`; the loop then saves and stops."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def train(cfg, data, run_dir, init_from=None, progress=True, resume=False):
    """Train on `data` (a Prepared dataset), writing the run into `run_dir`; returns a TrainResult.

    `init_from` (a Checkpoint) starts from its weights; the architecture then comes from it.
    `resume`: go on from run_dir's training state (cfg and data must be the run's own, see resume_run).
    The full state is saved every cfg.checkpoint_every steps, at each epoch end and when training stops.
    """
    run_dir = Path(run_dir)
    dist, device = distributed.start(pick_device(cfg.device))
    main = dist.is_main                                  # only the main process writes and prints
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    if resume:
        state = load_state(run_dir)
        model = build_model(cfg.model, ARCHITECTURES[cfg.model][0](**_read_run_config(run_dir)["model"]), state["model"])
    else:
        model = start_model(cfg, data, init_from)
        if init_from is not None:
            cfg = replace(cfg, model=architecture(model),
                          **{k: v for k, v in model.config.to_dict().items() if k in LOOP_COPIES_FROM_CHECKPOINT})
    engine = make_engine(cfg, model, device, data.vocab, dist)
    extra = [f"grad_norm:{name}" for name in engine.model.state_dict()] if cfg.log_grad_norms else []
    if resume:
        p = Progress(**state["progress"])
        if p.stop and not p.stop.startswith("time budget"):
            raise RnnlabError(f"{run_dir}: this run has finished ({p.stop}); there is nothing to resume")
        p.stop = None
        engine.optimizer.load_state_dict(state["optimizer"])
        restore_rngs(state)
        carry = state["carry"]
    else:
        p, carry = Progress(epoch_rng=rng.bit_generator.state), None
        if main:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / "config.json", json.dumps({"train": cfg.to_dict(), "model": engine.model.config.to_dict(),
                                                                   "data_stats": data.stats}, indent=2, ensure_ascii=False))
            atomic_write_text(run_dir / "vocab.json", data.vocab.to_json())
            save_state(run_dir, engine, p)
    dist.barrier()
    log = MetricsLog(run_dir / "metrics.csv" if main else None, extra, p.rows)

    steps_per_epoch = engine.steps_per_epoch(data.train)
    total_steps = steps_per_epoch * cfg.epochs           # an estimate with variable BPTT windows, for the bar
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    deadline = time.perf_counter() + cfg.time_budget * 60 if cfg.time_budget else None
    bar = tqdm(total=total_steps, initial=p.step, disable=not (progress and main), unit="step", dynamic_ncols=True)
    say = bar.write if main else (lambda text: None)
    received = []
    with catch_signals(received):
        while p.epoch < cfg.epochs and p.stop is None:
            rng.bit_generator.state = p.epoch_rng          # this epoch's batches, drawn again when resuming
            batches = engine.epoch_steps(data.train, rng)
            if p.batch:
                engine.carry = carry
            while p.batch < len(batches):
                b = p.batch
                t0 = time.perf_counter()
                loss_sum, n, grad_norm, norms = engine.step(*batches[b])
                dt = time.perf_counter() - t0
                p.step, p.batch = p.step + 1, b + 1
                p.train_time, p.train_tokens = p.train_time + dt, p.train_tokens + n
                if math.isfinite(loss_sum) and math.isfinite(grad_norm):
                    p.window = {"loss": p.window["loss"] + loss_sum, "tokens": p.window["tokens"] + n,
                                "time": p.window["time"] + dt}
                    p.bad_in_a_row = 0
                else:
                    p.nonfinite, p.bad_in_a_row = p.nonfinite + 1, p.bad_in_a_row + 1    # the engine skipped it
                    if p.bad_in_a_row >= cfg.max_bad_steps:
                        roll_back(engine, run_dir, cfg.bad_lr_factor)
                        p.rollbacks, p.bad_in_a_row = p.rollbacks + 1, 0
                        say(f"step {p.step:>6}  {cfg.max_bad_steps} non-finite steps in a row: back to the last "
                            f"saved state, learning rate now {engine.lr:g}")
                bar.update()
                bar.set_postfix(loss=f"{loss_sum / n:.3f}", ppl=f"{exp_or_inf(loss_sum / n):.1f}",
                                tok_s=f"{p.train_tokens / p.train_time:.0f}", skipped=p.nonfinite, refresh=False)

                out_of_time, interrupted = dist.any(deadline is not None and time.perf_counter() >= deadline, received)
                epoch_end = b == len(batches) - 1
                last = p.step == cfg.max_steps or (p.epoch == cfg.epochs - 1 and epoch_end)
                row = None
                if p.step % cfg.eval_every == 0 or epoch_end or out_of_time or last:
                    row = {"valid_ppl": evaluate(engine, data, cfg, p, run_dir, steps_per_epoch, say, main)}
                elif p.step % cfg.log_every == 0:
                    row = {}
                if row is not None:
                    w = p.window
                    log.write(step=p.step, epoch=round(p.step / steps_per_epoch, 4),
                              train_loss=w["loss"] / w["tokens"] if w["tokens"] else None,
                              lr=engine.lr, grad_norm=grad_norm,
                              tokens_per_s=w["tokens"] / w["time"] if w["time"] else None,
                              **{f"grad_norm:{k}": v for k, v in norms.items()}, **row)
                    p.window = {"loss": 0.0, "tokens": 0, "time": 0.0}
                if p.evals_since_best >= cfg.patience:
                    p.stop = f"early stopping: no improvement in {cfg.patience} evaluations"
                elif out_of_time:
                    p.stop = f"time budget of {cfg.time_budget:g} min reached"
                elif last:
                    p.stop = "max steps reached" if p.step == cfg.max_steps else "all epochs done"
                if epoch_end:
                    p.epoch, p.batch, p.epoch_rng = p.epoch + 1, 0, rng.bit_generator.state
                if p.stop or epoch_end or interrupted or p.step % cfg.checkpoint_every == 0:
                    if main:
                        save_state(run_dir, engine, p)
                    dist.barrier()                       # the others may read it (roll_back) only once it is whole
                if interrupted:
                    bar.close()
                    dist.finish()
                    raise Interrupted(received[0] if received else signal.SIGTERM, p.step, run_dir)
                if p.stop or epoch_end:
                    break
    bar.close()

    if main:
        with evaluation_weights(engine.optimizer):
            if weights_are_finite(engine.model):
                save_checkpoint(run_dir / "last", engine.model, data.vocab, cfg.data,
                                {"step": p.step, "epoch": round(p.step / steps_per_epoch, 3), "valid_ppl": p.latest_ppl})
        plot(log.rows, run_dir / "training.png", f"{cfg.data.corpus} · {cfg.engine}/{cfg.cell} · {cfg.embed_size}/{cfg.hidden_size}")
    dist.barrier()
    dist.finish()
    if not math.isfinite(p.best_ppl):
        raise RnnlabError(f"training diverged: validation perplexity was never finite (see {run_dir / 'metrics.csv'})")
    best = load_checkpoint(run_dir / "best", cell=cfg.cell, device=device)
    return TrainResult(run_dir, p.best_ppl, p.step, p.step / steps_per_epoch, p.train_tokens / max(p.train_time, 1e-9),
                       p.stop, best, p.nonfinite, log.rows, main)


def evaluate(engine, data, cfg, p, run_dir, steps_per_epoch, say, main):
    """Validation perplexity (NT-ASGD: of the averaged weights); best/ when it improves; NT-ASGD's trigger."""
    with evaluation_weights(engine.optimizer):
        p.latest_ppl = engine.perplexity(data.valid)
        if p.latest_ppl < p.best_ppl:
            p.best_ppl, p.evals_since_best = p.latest_ppl, 0
            if main:
                save_checkpoint(run_dir / "best", engine.model, data.vocab, cfg.data,
                                {"step": p.step, "epoch": round(p.step / steps_per_epoch, 3), "valid_ppl": p.latest_ppl})
        else:
            p.evals_since_best += 1
    if hasattr(engine.optimizer, "check") and engine.optimizer.check(p.latest_ppl):
        say(f"step {p.step:>6}  NT-ASGD: validation stopped improving, averaging from here on")
    say(f"step {p.step:>6}  epoch {p.step / steps_per_epoch:5.2f}  valid ppl {p.latest_ppl:8.2f}"
        f"{'  (best)' if p.evals_since_best == 0 else ''}")
    return p.latest_ppl


def roll_back(engine, run_dir, lr_factor):
    """Weights and optimizer from the last saved state, the learning rate times lr_factor, no carried state."""
    lr = engine.lr
    state = load_state(run_dir)
    engine.model.load_state_dict(state["model"])
    engine.optimizer.load_state_dict(state["optimizer"])
    engine.set_lr(lr * lr_factor)
    engine.carry = None


def _read_run_config(run_dir):
    path = Path(run_dir) / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise RnnlabError(f"{path}: missing or malformed (not a run directory?)") from None


def resume_run(run_dir, progress=True, **overrides):
    """Continue the run in `run_dir` from its saved state: its own config, data and vocabulary."""
    from rnnlab.data.dataset import DataConfig, prepare
    from rnnlab.data.vocab import Vocab
    from rnnlab.train.config import TrainConfig

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RnnlabError(f"{run_dir}: no such run directory")
    saved = _read_run_config(run_dir)
    try:
        train_cfg = dict(saved["train"])
        cfg = TrainConfig(**{**train_cfg, "data": DataConfig(**train_cfg["data"]), "betas": tuple(train_cfg["betas"]),
                             **overrides})
        vocab = Vocab.from_json((run_dir / "vocab.json").read_text(encoding="utf-8"))
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise RnnlabError(f"{run_dir}: cannot read its config.json or vocab.json ({e})") from None
    data = prepare(cfg.data, vocab=vocab, fetch_missing=cfg.data.corpus == "tang")
    return train(cfg, data, run_dir, progress=progress, resume=True)
