"""The training engines behind one protocol, so the loop does not care who computes gradients or how
a corpus is cut into steps.

TorchEngine and NumpyEngine train on shuffled padded poems and start from the same weights (the torch
model's, by name); AWDEngine trains an AWD-LSTM on the token stream in variable-length BPTT windows.
"""
import math
from contextlib import nullcontext
from typing import Any, ContextManager, NamedTuple, Protocol

import numpy as np
import torch

from rnnlab import optim as rnnlab_optim
from rnnlab.data.batches import (
    batch_count,
    bucketed_batches,
    packed_window_batches,
    padded_batch,
    shuffled_batches,
    window_batches,
    window_count,
)
from rnnlab.data.stream import bptt_windows, stream_columns
from rnnlab.errors import RnnlabError
from rnnlab.nn.awd import detach_state
from rnnlab.nn.lm import full_precision
from rnnlab.nn.registry import architecture_of
from rnnlab.nn.regularize import activation_regularization, temporal_activation_regularization
from rnnlab.numpy import optim as numpy_optim
from rnnlab.numpy.lm import LanguageModel as NumpyLanguageModel
from rnnlab.numpy.lm import perplexity as numpy_perplexity
from rnnlab.optim import NTASGD
from rnnlab.training.clipping import clip_gradients
from rnnlab.training.config import OPTIMIZER_ARGUMENT, OPTIMIZERS
from rnnlab.training.distributed import Single
from rnnlab.training.perplexity import poem_perplexity, stream_perplexity


class Step(NamedTuple):
    loss_sum: float      # summed cross entropy of the step's targets (all processes)
    tokens: int          # their number
    grad_norm: float     # global gradient norm before clipping
    norms: dict          # per-parameter gradient norms (cfg.log_grad_norms), else empty


class Engine(Protocol):
    """A model, its optimizer, and how one epoch of a split becomes steps.

    step(batch) applies the config's penalties and clipping; a step whose loss or gradient is not finite
    changes nothing. `carry` is what a step hands to the next besides the weights (the AWD-LSTM's hidden
    state; else None). An optimizer that averages the iterates (NT-ASGD) is evaluated and saved with its
    averaged weights (evaluation_weights), and is told every validation result (averaging_starts)."""
    model: Any
    optimizer: Any
    carry: Any

    def steps_per_epoch(self, split) -> int: ...
    def epoch_batches(self, split, rng) -> list: ...
    def step(self, batch) -> Step: ...
    def perplexity(self, split) -> float: ...
    def evaluation_weights(self) -> ContextManager: ...
    def averaging_starts(self, ppl: float) -> bool: ...      # True when this result starts NT-ASGD's averaging
    @property
    def lr(self) -> float: ...
    def set_lr(self, lr: float) -> None: ...


def make_optimizer(optim, params, library):
    """`optim`: an OptimConfig; `library` is rnnlab.optim, torch.optim or rnnlab.numpy.optim: same class
    names, same arguments (the table OPTIMIZERS)."""
    if optim.optimizer not in OPTIMIZERS:
        raise RnnlabError(f"unknown optimizer {optim.optimizer!r}")
    cls, takes, fixed = OPTIMIZERS[optim.optimizer]
    if optim.weight_decay and "weight_decay" not in takes:
        raise RnnlabError(f"{optim.optimizer} has no weight decay; leave --weight-decay at 0")
    kwargs = {OPTIMIZER_ARGUMENT.get(k, k): tuple(v) if isinstance(v, list) else v
              for k in takes for v in [getattr(optim, k)]}
    if not hasattr(library, cls):
        where = "torch.optim" if library is torch.optim else "the numpy engine"
        raise RnnlabError(f"{where} has no {optim.optimizer}; use --optim-impl ours with the torch engine")
    return getattr(library, cls)(params, optim.lr, **kwargs, **fixed)


class TorchUpdate:
    """What both torch engines share: the optimizer (rnnlab.optim or torch.optim by cfg.optim.optim_impl),
    its learning rate, NT-ASGD's averaged weights, and one update from an objective."""

    def __init__(self, cfg, model, dist):
        self.cfg, self.model, self.dist, self.carry = cfg, model, dist, None
        library = rnnlab_optim if cfg.optim.optim_impl == "ours" else torch.optim
        self.optimizer = make_optimizer(cfg.optim, model.parameters(), library)

    @property
    def lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def set_lr(self, lr):
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def evaluation_weights(self):
        return self.optimizer.averaged() if isinstance(self.optimizer, NTASGD) else nullcontext()

    def averaging_starts(self, ppl):
        return isinstance(self.optimizer, NTASGD) and self.optimizer.check(ppl)

    def update(self, objective, loss_total):
        """Backward of `objective` plus the L1 penalty, gradients summed over processes, clipping; the
        optimizer steps only if `loss_total` and the gradient are finite. -> (norm before clipping, norms)."""
        cfg, params = self.cfg, list(self.model.parameters())
        if cfg.l1:
            objective = objective + cfg.l1 / self.dist.world * sum(p.abs().sum() for p in params)
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.dist.sync_gradients(params)
        norms = {k: p.grad.norm().item() for k, p in self.model.named_parameters()} if cfg.log_grad_norms else {}
        grad_norm = clip_gradients(params, cfg.clip_norm, cfg.clip_value, cfg.clip_per_tensor)
        if math.isfinite(loss_total) and math.isfinite(grad_norm):
            self.optimizer.step()
        return grad_norm, norms


class PoemBatches:
    """Each step is a shuffled batch of whole poems, padded to the longest; `bucket`: of poems of similar
    length (less padding); `window`: the shuffled poems read in windows of that many tokens by the batch's
    rows (window_batches; with `packed_skip`, each row's poems back to back, packed_window_batches), each
    step's batch then (inputs, targets, fresh). Under torchrun, process r takes rows r, r+N, ... of each
    batch, and a last batch smaller than N is left out."""

    def __init__(self, batch_size, pad, dist, bucket=False, window=None, packed_skip=None):
        self.batch_size, self.pad, self.dist, self.bucket, self.window = batch_size, pad, dist, bucket, window
        self.packed_skip = packed_skip          # the poems packed back to back in each row: the target left out (<bos>)

    def steps_per_epoch(self, split):
        """(with windows, an estimate: the windows over the batch size; packed, each row's share of the tokens
        over the window)"""
        if self.window and self.packed_skip is not None:
            return max(1, (len(split.tokens) // self.batch_size - 1) // self.window)
        if self.window:
            return max(1, round(window_count(split, self.window) / self.batch_size))
        return batch_count(len(split), self.batch_size)

    def epoch_batches(self, split, rng):
        r, n = self.dist.rank, self.dist.world
        if self.window:
            order = rng.permutation(len(split))
            lanes = (window_batches(split, order, self.batch_size, self.window, self.pad) if self.packed_skip is None
                     else packed_window_batches(split, order, self.batch_size, self.window, self.pad, self.packed_skip))
            return [tuple(a[r::n] for a in batch) for batch in lanes]
        order = (bucketed_batches(np.diff(split.offsets), self.batch_size, rng) if self.bucket
                 else shuffled_batches(len(split), self.batch_size, rng))
        return [padded_batch(split, idx[r::n], self.pad) for idx in order if len(idx) >= n]


class TorchEngine(TorchUpdate):
    """The plain LSTM on padded poems; with cfg.precision bf16 its steps compute the LSTM in bfloat16
    (weights, optimizer state and validation stay float32). With cfg.train_window a long poem takes several
    steps, and `carry` is the state each row hands to its next window."""

    def __init__(self, cfg, model, device, vocab, dist=Single()):
        super().__init__(cfg, model.to(device), dist)
        self.device, self.pad = device, vocab.pad
        model.autocast_dtype = torch.bfloat16 if cfg.precision == "bf16" else None
        self.batches = PoemBatches(cfg.batch_size, vocab.pad, dist, cfg.bucket, cfg.train_window,
                                   vocab.bos if cfg.pack_poems else None)
        self.steps_per_epoch, self.epoch_batches = self.batches.steps_per_epoch, self.batches.epoch_batches

    def step(self, batch):
        inputs, targets, *fresh = (torch.from_numpy(a).to(self.device) for a in batch)
        carried = None if not fresh or self.carry is None else [t.to(self.device) for t in self.carry]
        state = None if carried is None else self.model.restart(carried, fresh[0])
        objective, loss_sum, n, state = self.model.objective(inputs, targets, self.pad, state)
        self.carry = tuple(t.detach() for t in state) if fresh else None
        n, total = self.dist.all_sum([n, loss_sum.item()])    # the global batch's targets: the loss is their mean
        grad_norm, norms = self.update(objective / n, total)
        return Step(total, int(n), grad_norm, norms)

    def perplexity(self, split):
        with full_precision(self.model):
            return poem_perplexity(self.model, split, self.pad, self.dist)


class NumpyEngine:
    """The numpy language model (float32) with the numpy optimizers; CPU only, no dropout."""

    def __init__(self, cfg, model, device, vocab, dist=Single()):
        weights = {k: v.cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
        self.model, self.cfg, self.pad, self.carry = NumpyLanguageModel(model.config, weights), cfg, vocab.pad, None
        self.params = list(self.model.params().values())
        self.optimizer = make_optimizer(cfg.optim, self.params, numpy_optim)
        self.batches = PoemBatches(cfg.batch_size, vocab.pad, dist, cfg.bucket)
        self.steps_per_epoch, self.epoch_batches = self.batches.steps_per_epoch, self.batches.epoch_batches

    @property
    def lr(self):
        return self.optimizer.lr

    def set_lr(self, lr):
        self.optimizer.lr = lr

    def evaluation_weights(self):
        return nullcontext()

    def averaging_starts(self, ppl):
        return False

    def step(self, batch):
        cfg = self.cfg
        self.optimizer.zero_grad()
        loss, n = self.model.loss_and_backward(*batch, self.pad)
        if cfg.l1:
            for p in self.params:
                p.d += cfg.l1 * np.sign(p.v)      # d/dv of l1 * |v|
        norms = {k: float(np.linalg.norm(p.d)) for k, p in self.model.params().items()} if cfg.log_grad_norms else {}
        grad_norm = numpy_optim.clip_gradients(self.params, cfg.clip_norm, cfg.clip_value, cfg.clip_per_tensor)
        if math.isfinite(loss) and math.isfinite(grad_norm):
            self.optimizer.step()
        return Step(float(loss) * n, n, grad_norm, norms)

    def perplexity(self, split):
        return numpy_perplexity(self.model, split, self.pad)


class AWDEngine(TorchUpdate):
    """An AWD-LSTM on the token stream: the train split as batch_size columns walked in BPTT windows
    (variable length unless cfg.stream.variable_bptt is off), the state carried over within an epoch.
    Each window's learning rate is scaled by its length / bptt and restored after the step; <bos>
    targets are left out of the loss (see rnnlab.data.stream)."""

    def __init__(self, cfg, model, device, vocab, dist=Single()):
        super().__init__(cfg, model.to(device), dist)
        self.device, self.skip = device, vocab.bos

    def steps_per_epoch(self, split):
        return math.ceil((len(split.tokens) // self.cfg.batch_size - 1) / self.cfg.stream.bptt)

    def epoch_batches(self, split, rng):
        data, s = torch.from_numpy(stream_columns(split, self.cfg.batch_size)).to(self.device), self.cfg.stream
        self.carry = None                                       # each epoch starts from a zero state
        return [(data[:, i:i + n], data[:, i + 1:i + 1 + n], scale)
                for i, n, scale in bptt_windows(data.shape[1], s.bptt, rng if s.variable_bptt else None)]

    def step(self, batch):
        inputs, targets, lr_scale = batch
        s, lr = self.cfg.stream, self.lr
        self.set_lr(lr * lr_scale)
        dropped, state, raw = self.model.features(inputs, self.carry)
        loss_sum, n = self.model.loss(dropped, targets, self.skip)
        objective = loss_sum / max(n, 1) + activation_regularization(dropped, s.alpha) \
            + temporal_activation_regularization(raw, s.beta)
        grad_norm, norms = self.update(objective, objective.item())
        self.set_lr(lr)
        self.carry = detach_state(state)
        return Step(loss_sum.item(), n, grad_norm, norms)

    def perplexity(self, split):
        return stream_perplexity(self.model, split, self.skip, self.cfg.stream.bptt)


def make_engine(cfg, model, device, vocab, dist=Single()) -> Engine:
    """The engine the architecture names for cfg.engine (nn/registry.py)."""
    if dist.world > 1 and (cfg.architecture == "awd" or cfg.engine != "torch"):
        raise RnnlabError("torchrun data parallelism covers the torch engine's LSTM; train AWD-LSTM or the numpy "
                          "engine in one process")
    if dist.world > 1 and cfg.train_window and cfg.batch_size % dist.world:
        raise RnnlabError(f"--train-window under torchrun: --batch-size {cfg.batch_size} must be a multiple of the "
                          f"{dist.world} processes (each carries the state of its share of the rows)")
    return globals()[architecture_of(cfg.model).engines[cfg.engine]](cfg, model, device, vocab, dist)
