"""The training loop: an optimizer step per batch, validation perplexity every `eval_every` steps and at
each epoch end, early stopping, best/ and last/ checkpoints, and the full state saved so that a resumed
run continues bit for bit (state.py). `train()` is the whole loop; `Run` is a run in progress, built the
same way for a fresh start and for a resume."""
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

from rnnlab.checkpoint import build_model, load_checkpoint, save_checkpoint, update_meta, weights_are_finite
from rnnlab.device import pick_device
from rnnlab.errors import Interrupted, RnnlabError
from rnnlab.fileio import atomic_write_text
from rnnlab.maths import exp_or_inf
from rnnlab.nn.registry import architecture_of
from rnnlab.progress import clock, on_terminal
from rnnlab.training import distributed
from rnnlab.training.budget import Budget
from rnnlab.training.config import TrainConfig, run_precision
from rnnlab.training.engines import make_engine
from rnnlab.training.metrics import MetricsLog, plot
from rnnlab.training.schedule import lr_factor
from rnnlab.training.state import Progress, load_state, restore_rngs, save_state


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
    subset_ppl: float | None = None               # with cfg.valid_subset: the best perplexity on that subset


def train(cfg, data, run_dir, init_from=None, progress=True, resume=False, on_step=None):
    """Train on `data` (a Prepared dataset), writing the run into `run_dir`; returns a TrainResult.

    `init_from` (a Checkpoint) starts from its weights (cfg.model must be its config, see build_config).
    `resume`: go on from run_dir's training state (cfg and data must be the run's own, see resume_run).
    The full state is saved every cfg.checkpoint_every steps, at each epoch end and when training stops.
    `on_step(run, seconds)` is called after every step with the seconds since training started.
    """
    dist, device = distributed.start(pick_device(cfg.device))
    run = Run.resume(cfg, data, run_dir, device, dist) if resume else Run.start(cfg, data, run_dir, device, dist, init_from)
    cfg, p = run.cfg, run.progress
    run.budget.start()
    bar = tqdm(total=run.total_steps(), initial=p.step, disable=not (progress and dist.is_main and on_terminal()),
               unit="step", dynamic_ncols=True)
    run.bar, run.say = bar, bar.write if dist.is_main else (lambda text: None)
    received = []
    with catch_signals(received):
        while p.stop is None and p.epoch < cfg.epochs:
            batches = run.epoch_batches()
            for b in range(p.batch, len(batches)):
                run.schedule_lr()
                t0 = time.perf_counter()
                result = run.engine.step(batches[b])          # forward, backward, update: a Step
                run.record(result, time.perf_counter() - t0)
                run.recover_if_stuck()
                bar.update()
                bar.set_postfix(run.figures(result), refresh=False)
                out_of_time, interrupted = dist.any(run.budget.out_of_time(), received)
                run.after_step(result, b == len(batches) - 1, out_of_time, interrupted)
                if on_step is not None:
                    on_step(run, time.perf_counter() - run.budget.started)
                if interrupted:
                    bar.close()
                    dist.finish()
                    raise Interrupted(received[0] if received else signal.SIGTERM, p.step, run.dir)
                if p.stop:
                    break
    bar.close()
    return run.finish()


class Run:
    """A training run in progress: its config, data, engine, position (Progress), metrics log and data-order
    generator; main is False in torchrun's other processes, which write nothing."""

    def __init__(self, cfg, data, run_dir, engine, progress, rows, device, dist, carry=None):
        self.cfg, self.data, self.dir, self.engine, self.progress = cfg, data, Path(run_dir), engine, progress
        self.device, self.dist = device, dist
        self.main = dist.is_main
        self.rng = np.random.default_rng(cfg.seed)
        self.carry = carry                    # the state to continue an epoch from, when resuming (AWD, --train-window)
        self.say, self.bar = print, None
        extra = [f"grad_norm:{name}" for name, _ in engine.model.named_parameters()] if cfg.log_grad_norms else []
        self.log = MetricsLog(self.dir / "metrics.csv" if self.main else None, extra, rows)
        self.steps_per_epoch = engine.steps_per_epoch(data.train)
        self.valid = data.valid.sample(cfg.valid_subset, cfg.seed) if cfg.valid_subset else data.valid   # while training
        self.budget = Budget(cfg, progress, dist, len(data.valid) / len(self.valid), self.total_steps())

    @classmethod
    def start(cls, cfg, data, run_dir, device, dist, init_from=None):
        """A new run: the model from init_from's weights or from the seed; config, vocabulary and state written."""
        torch.manual_seed(cfg.seed)
        model = start_model(cfg, data, init_from)
        cfg = replace(cfg, model=model.config, precision=run_precision(cfg, device),     # as config.json says
                      data=replace(cfg.data, form_token=bool(data.vocab.form_ids)))     # none in running text
        engine = make_engine(cfg, model, device, data.vocab, dist)        # refuses what it cannot do, first
        if dist.is_main:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
        run = cls(cfg, data, run_dir, engine, Progress(), [], device, dist)
        run.progress.epoch_rng = run.rng.bit_generator.state
        if cfg.schedule == "cosine" and not cfg.time_budget:
            run.progress.horizon = run.total_steps()
        if run.main:
            atomic_write_text(run.dir / "config.json", json.dumps({"train": cfg.to_dict(), "data_stats": data.stats},
                                                                  indent=2, ensure_ascii=False))
            atomic_write_text(run.dir / "vocab.json", data.vocab.to_json())
        run.save_state()
        return run

    @classmethod
    def resume(cls, cfg, data, run_dir, device, dist):
        """The run in run_dir as its last saved state left it: weights, optimizer, generators, position."""
        state = load_state(run_dir)
        model = build_model(cfg.model, state["model"])
        progress = Progress(**state["progress"])
        if progress.stop and not progress.stop.startswith("time budget"):
            raise RnnlabError(f"{run_dir}: this run has finished ({progress.stop}); there is nothing to resume")
        progress.stop = None
        carry = state["carry"]
        if dist.world > 1 and carry is not None:                  # every process's rows were saved: take this one's
            carry = [ranks[dist.rank] for ranks in carry]
        run = cls(cfg, data, run_dir, make_engine(cfg, model, device, data.vocab, dist), progress, state["metrics"], device, dist,
                  carry)
        run.engine.optimizer.load_state_dict(state["optimizer"])
        restore_rngs(state, dist.rank)
        return run

    def total_steps(self):
        """Where the epochs or --max-steps end the run (an estimate with variable BPTT windows)."""
        total = self.steps_per_epoch * self.cfg.epochs
        return total if self.cfg.max_steps is None else min(total, self.cfg.max_steps)

    def schedule_lr(self):
        """The learning rate of the next step, when the run has a schedule (schedule.py)."""
        cfg, p = self.cfg, self.progress
        if cfg.schedule != "constant" or cfg.warmup:
            self.engine.set_lr(cfg.optim.lr * p.lr_scale * lr_factor(cfg.schedule, p.step, cfg.warmup, p.horizon))

    def epoch_batches(self):
        """This epoch's batches, drawn again from the saved generator state when resuming within it."""
        self.rng.bit_generator.state = self.progress.epoch_rng
        batches = self.engine.epoch_batches(self.data.train, self.rng)
        if self.progress.batch:
            self.engine.carry = self.carry
        return batches

    def record(self, result, seconds):
        """Book one step (a Step from the engine); a non-finite one, which the engine skipped, is counted."""
        p = self.progress
        p.step, p.batch = p.step + 1, p.batch + 1
        p.train_time, p.train_tokens = p.train_time + seconds, p.train_tokens + result.tokens
        if math.isfinite(result.loss_sum) and math.isfinite(result.grad_norm):
            p.window = {"loss": p.window["loss"] + result.loss_sum, "tokens": p.window["tokens"] + result.tokens,
                        "time": p.window["time"] + seconds}
            p.bad_in_a_row = 0
        else:
            p.nonfinite, p.bad_in_a_row = p.nonfinite + 1, p.bad_in_a_row + 1

    def figures(self, result):
        """The progress bar's figures after a step."""
        p, loss = self.progress, result.loss_sum / result.tokens
        left = {"left": clock(self.budget.seconds_left())} if self.budget.deadline else {}
        return {"loss": f"{loss:.3f}", "ppl": f"{exp_or_inf(loss):.1f}", "tok_s": f"{p.train_tokens / p.train_time:.0f}",
                "skipped": p.nonfinite, **left}

    def recover_if_stuck(self):
        """After cfg.max_bad_steps non-finite steps in a row: back to the last saved state, at a lower rate."""
        p, cfg = self.progress, self.cfg
        if p.bad_in_a_row >= cfg.max_bad_steps:
            self.roll_back()
            p.rollbacks, p.bad_in_a_row, p.lr_scale = p.rollbacks + 1, 0, p.lr_scale * cfg.bad_lr_factor
            self.say(f"step {p.step:>6}  {cfg.max_bad_steps} non-finite steps in a row: back to the last saved state, "
                     f"learning rate now {self.engine.lr:g}")

    def after_step(self, result, epoch_end, out_of_time, interrupted):
        """Validate and log when due, decide whether to stop, save the state when due."""
        p, cfg = self.progress, self.cfg
        last = p.step == cfg.max_steps or (p.epoch == cfg.epochs - 1 and epoch_end)
        if p.step % cfg.eval_every == 0 or epoch_end or out_of_time or last or self.budget.due(p.step):
            t0 = time.perf_counter()
            self.write_row(result, valid_ppl=self.validate())
            said = self.budget.after_validation(time.perf_counter() - t0)
            if said:
                self.say(said)
        elif p.step % cfg.log_every == 0:
            self.write_row(result)
        if out_of_time:                           # a run that ends here anyway did not stop early
            p.stop = f"time budget of {cfg.time_budget:g} min reached"
        elif last:
            p.stop = "max steps reached" if p.step == cfg.max_steps else "all epochs done"
        elif p.evals_since_best >= cfg.patience:
            p.stop = f"early stopping: no improvement in {cfg.patience} evaluations"
        if epoch_end:
            p.epoch, p.batch, p.epoch_rng = p.epoch + 1, 0, self.rng.bit_generator.state
        if p.stop or epoch_end or interrupted or p.step % cfg.checkpoint_every == 0:
            self.save_state()

    def validate(self):
        """Validation perplexity (NT-ASGD: of the averaged weights, also what best/ then holds)."""
        p, engine = self.progress, self.engine
        with engine.evaluation_weights():
            p.latest_ppl = engine.perplexity(self.valid)
            if p.latest_ppl < p.best_ppl:
                p.best_ppl, p.evals_since_best = p.latest_ppl, 0
                self.save_checkpoint("best")
            else:
                p.evals_since_best += 1
        if engine.averaging_starts(p.latest_ppl):
            self.say(f"step {p.step:>6}  NT-ASGD: validation stopped improving, averaging from here on")
        subset = f" ({len(self.valid)} poems)" if self.cfg.valid_subset else ""
        self.say(f"step {p.step:>6}  epoch {p.step / self.steps_per_epoch:5.2f}  valid ppl{subset} {p.latest_ppl:8.2f}"
                 f"{'  (best)' if p.evals_since_best == 0 else ''}{self.pace()}")
        return p.latest_ppl

    def pace(self):
        """The bar's figures refreshed (its total: where the run will stop); where no bar is drawn, the
        same figures for the validation line."""
        p, expected = self.progress, self.budget.expected_steps()
        left = f", {clock(max(0.0, self.budget.seconds_left()))} of the budget left" if self.budget.deadline else ""
        if self.bar is not None and not self.bar.disable:
            self.bar.total = expected
            self.bar.refresh()
            return ""
        return f"  [{p.step}/{expected} steps, {p.train_tokens / max(p.train_time, 1e-9):.0f} tokens/s{left}]"

    def write_row(self, result, **row):
        w, p = self.progress.window, self.progress
        self.log.write(step=p.step, epoch=round(p.step / self.steps_per_epoch, 4),
                       train_loss=w["loss"] / w["tokens"] if w["tokens"] else None, lr=self.engine.lr,
                       grad_norm=result.grad_norm, tokens_per_s=w["tokens"] / w["time"] if w["time"] else None,
                       **{f"grad_norm:{k}": v for k, v in result.norms.items()}, **row)
        p.window = {"loss": 0.0, "tokens": 0, "time": 0.0}

    def save_checkpoint(self, name):
        if self.main:
            p = self.progress
            save_checkpoint(self.dir / name, self.engine.model, self.data.vocab, self.cfg.data,
                            {"step": p.step, "epoch": round(p.step / self.steps_per_epoch, 3), "valid_ppl": p.latest_ppl})

    def save_state(self):
        torch_rngs = self.dist.gather(torch.get_rng_state())    # every process's: their dropout masks differ
        carry = self.engine.carry                                 # under torchrun, each its rows' (--train-window)
        ranks_carry = [self.dist.gather(t) for t in carry] if self.dist.world > 1 and carry is not None else None
        if self.main:
            save_state(self.dir, self.engine, self.progress, self.log.rows, torch_rngs, ranks_carry)
        self.dist.barrier()                       # the others may read it (roll_back) only once it is whole

    def roll_back(self):
        """Weights and optimizer from the last saved state, the learning rate times cfg.bad_lr_factor, no carry."""
        lr, state = self.engine.lr, load_state(self.dir)
        self.engine.model.load_state_dict(state["model"])
        self.engine.optimizer.load_state_dict(state["optimizer"])
        self.engine.set_lr(lr * self.cfg.bad_lr_factor)
        self.engine.carry = None

    def finish(self):
        """last/ (if its weights are finite), the plot, and the best checkpoint loaded back."""
        p, cfg = self.progress, self.cfg
        if self.main:
            with self.engine.evaluation_weights():
                if weights_are_finite(self.engine.model):
                    self.save_checkpoint("last")
            plot(self.log.rows, self.dir / "training.png",
                 f"{cfg.data.corpus} · {cfg.engine}/{cfg.model.cell} · {cfg.model.embed_size}/{cfg.model.hidden_size}")
        self.dist.barrier()
        if not math.isfinite(p.best_ppl):
            self.dist.finish()
            raise RnnlabError(f"training diverged: validation perplexity was never finite (see {self.dir / 'metrics.csv'})")
        best = load_checkpoint(self.dir / "best", cell=cfg.model.cell, device=self.device)
        best_ppl = self.validate_best_in_full(best) if cfg.valid_subset else p.best_ppl
        self.dist.finish()
        return TrainResult(self.dir, best_ppl, p.step, p.step / self.steps_per_epoch,
                           p.train_tokens / max(p.train_time, 1e-9), p.stop, best, p.nonfinite, self.log.rows, self.main,
                           p.best_ppl if cfg.valid_subset else None)

    def validate_best_in_full(self, best):
        """The best weights' perplexity on the whole validation split (they were chosen on a subset); best/'s
        meta.json gets it as valid_ppl, the subset's figure as valid_ppl_subset."""
        self.engine.model.load_state_dict(best.model.state_dict())
        full = self.engine.perplexity(self.data.valid)
        if self.main:
            update_meta(self.dir / "best", valid_ppl=full, valid_ppl_subset=best.meta["valid_ppl"])
        self.say(f"best weights (step {best.meta['step']}): valid ppl {full:.2f} on the full split "
                 f"({len(self.data.valid)} poems), {best.meta['valid_ppl']:.2f} on the {len(self.valid)} used while training")
        return full


def default_run_dir(cfg):
    """runs/CORPUS-KIND-TIME, KIND being awd, the LSTM cell, or numpy."""
    kind = "awd" if cfg.architecture == "awd" else cfg.model.cell if cfg.engine == "torch" else "numpy"
    return Path(f"runs/{Path(cfg.data.corpus).stem}-{kind}-{time.strftime('%Y%m%d-%H%M%S')}")


def start_model(cfg, data, init_from=None):
    """The model a run starts from: `init_from`'s weights (a Checkpoint; cfg.model is its config, cell
    included), or a new one for cfg.model and the data's vocabulary, initialised from torch's generator."""
    if init_from is not None:
        return build_model(cfg.model, init_from.model.state_dict())
    return architecture_of(cfg.model).new_model(cfg.model, data.vocab, data.train.tokens)


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


def resume_run(run_dir, progress=True, **overrides):
    """Continue the run in `run_dir` from its saved state: its own config, data and vocabulary."""
    from rnnlab.data.dataset import prepare
    from rnnlab.data.vocab import Vocab

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RnnlabError(f"{run_dir}: no such run directory")
    path = run_dir / "config.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RnnlabError(f"{path}: missing or malformed (not a run directory?)") from None
    try:
        cfg = replace(TrainConfig.from_dict(saved["train"]), **overrides)
        vocab = Vocab.from_json((run_dir / "vocab.json").read_text(encoding="utf-8"))
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise RnnlabError(f"{run_dir}: cannot read its config.json or vocab.json ({e})") from None
    data = prepare(cfg.data, vocab=vocab, fetch_missing=cfg.data.corpus == "tang")
    return train(cfg, data, run_dir, progress=progress, resume=True)
