"""The training engines behind one interface, so the loop does not care who computes gradients or
how a corpus is cut into steps.

An engine owns a model and its optimizer:
    steps_per_epoch(split), epoch_steps(split, rng) -> the arguments of each step of one epoch
    step(*arguments) -> (summed loss, target count, gradient norm before clipping, per-parameter norms)
        with the config's penalties and clipping; a step whose loss or gradient is not finite changes nothing
    perplexity(split), lr and set_lr(lr), model (with .config, .state_dict() and .load_state_dict()), and
    carry: what a step hands to the next one besides the weights (the AWD-LSTM's hidden state; else None)
TorchEngine and NumpyEngine train on shuffled padded poems and start from the same weights (the torch
model's, by name); AWDEngine trains an AWD-LSTM on the token stream in variable-length BPTT windows.
"""
import math
from contextlib import nullcontext

import numpy as np
import torch

from rnnlab import optim as rnnlab_optim
from rnnlab.data.batches import epoch_batches, eval_batches, padded_batch
from rnnlab.data.stream import bptt_windows
from rnnlab.errors import RnnlabError
from rnnlab.nn.lm import sequence_loss
from rnnlab.numpy import optim as numpy_optim
from rnnlab.numpy.lm import LanguageModel as NumpyLanguageModel
from rnnlab.numpy.lm import exp_or_inf
from rnnlab.numpy.lm import perplexity as numpy_perplexity
from rnnlab.train.clipping import clip_gradients
from rnnlab.train.config import OPTIMIZERS
from rnnlab.train.distributed import Single
from rnnlab.train.stream import stream_columns, stream_perplexity, train_step


def make_optimizer(cfg, params, library):
    """`library` is rnnlab.optim, torch.optim or rnnlab.numpy.optim: same class names, same arguments."""
    name, wd = cfg.optimizer, cfg.weight_decay
    if name in ("sgd", "momentum", "nesterov"):
        cls, kwargs = "SGD", {"momentum": 0.0 if name == "sgd" else cfg.momentum, "weight_decay": wd}
        if name == "nesterov":
            kwargs["nesterov"] = True
    elif name in ("adam", "adamax"):
        cls, kwargs = {"adam": "Adam", "adamax": "Adamax"}[name], {"betas": tuple(cfg.betas), "weight_decay": wd}
    elif name == "adaptivegains":
        cls, kwargs = "AdaptiveGains", {"momentum": cfg.momentum, "weight_decay": wd}
    elif name == "rprop":
        if wd:
            raise RnnlabError("rprop has no weight decay; leave --weight-decay at 0")
        cls, kwargs = "Rprop", {}
    elif name == "ntasgd":
        cls, kwargs = "NTASGD", {"weight_decay": wd, "average_from_start": cfg.finetune}
    elif name in OPTIMIZERS:
        cls, kwargs = {"rmsprop": "RMSprop", "adagrad": "Adagrad", "adadelta": "Adadelta", "asgd": "ASGD"}[name], \
            {"weight_decay": wd}
    else:
        raise RnnlabError(f"unknown optimizer {name!r}")
    if cfg.finetune and name != "ntasgd":
        raise RnnlabError("--finetune averages the iterates: it needs --optimizer ntasgd")
    if not hasattr(library, cls):
        where = "torch.optim" if library is torch.optim else "the numpy engine"
        raise RnnlabError(f"{where} has no {name}; use --optim-impl ours with the torch engine")
    return getattr(library, cls)(params, cfg.lr, **kwargs)


def evaluation_weights(optimizer):
    """NT-ASGD evaluates (and saves) the averaged weights once averaging has started."""
    return optimizer.averaged() if hasattr(optimizer, "averaged") else nullcontext()


@torch.no_grad()
def perplexity(model, split, pad, batch_size=256, dist=Single()):
    """exp(mean cross entropy per target token), padding excluded, for a torch model
    (under torchrun each process takes every N-th batch and the sums are added up)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for idx in eval_batches(split, batch_size)[dist.rank::dist.world]:
        inputs, targets = (torch.from_numpy(a).to(device) for a in padded_batch(split, idx, pad))
        loss, n = sequence_loss(model(inputs)[0], targets, pad)
        total, count = total + loss.item(), count + n
    total, count = dist.all_sum([total, count])
    model.train(was_training)
    return exp_or_inf(total / count) if count else float("nan")


class TorchOptimizerRate:
    """lr and set_lr for an engine whose optimizer is a torch.optim.Optimizer (all its groups share one rate)."""

    @property
    def lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def set_lr(self, lr):
        for group in self.optimizer.param_groups:
            group["lr"] = lr


class PoemBatches:
    """Each step is a shuffled batch of whole poems, padded to the longest. Under torchrun, process r
    takes poems r, r+N, ... of each batch, and a last batch smaller than N is left out."""
    carry = None
    dist = Single()

    def steps_per_epoch(self, split):
        return math.ceil(len(split) / self.cfg.batch_size)

    def epoch_steps(self, split, rng):
        batches = epoch_batches(len(split), self.cfg.batch_size, rng)
        r, n = self.dist.rank, self.dist.world
        return [padded_batch(split, idx[r::n], self.pad) for idx in batches if len(idx) >= n]


class TorchEngine(PoemBatches, TorchOptimizerRate):
    def __init__(self, cfg, model, device, vocab, dist=Single()):
        self.cfg, self.device, self.pad, self.dist = cfg, device, vocab.pad, dist
        self.model = model.to(device)
        library = rnnlab_optim if cfg.optim_impl == "ours" else torch.optim
        self.optimizer = make_optimizer(cfg, self.model.parameters(), library)

    def step(self, inputs, targets):
        cfg = self.cfg
        inputs, targets = torch.from_numpy(inputs).to(self.device), torch.from_numpy(targets).to(self.device)
        loss_sum, n = sequence_loss(self.model(inputs)[0], targets, self.pad)
        n = int(self.dist.all_sum([n])[0])                 # the global batch's targets: the loss is their mean
        loss = loss_sum / n
        if cfg.l1:
            loss = loss + cfg.l1 / self.dist.world * sum(p.abs().sum() for p in self.model.parameters())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.dist.sync_gradients(self.model.parameters())
        norms = {k: p.grad.norm().item() for k, p in self.model.named_parameters()} if cfg.log_grad_norms else {}
        grad_norm = clip_gradients(self.model.parameters(), cfg.clip_norm, cfg.clip_value, cfg.clip_per_tensor)
        total = self.dist.all_sum([loss_sum.item()])[0]
        if math.isfinite(total) and math.isfinite(grad_norm):
            self.optimizer.step()
        return total, n, grad_norm, norms

    def perplexity(self, split):
        return perplexity(self.model, split, self.pad, dist=self.dist)


class NumpyEngine(PoemBatches):
    """The numpy language model (float32) with the numpy optimizers; CPU only, no dropout."""

    def __init__(self, cfg, model, device, vocab, dist=Single()):
        if device != "cpu":
            raise RnnlabError("the numpy engine runs on the CPU only; use --device cpu")
        weights = {k: v.cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
        self.model = NumpyLanguageModel(model.config, weights)
        self.cfg, self.pad, self.dist, self.params = cfg, vocab.pad, dist, list(self.model.params().values())
        self.optimizer = make_optimizer(cfg, self.params, numpy_optim)

    @property
    def lr(self):
        return self.optimizer.lr

    def set_lr(self, lr):
        self.optimizer.lr = lr

    def step(self, inputs, targets):
        cfg = self.cfg
        self.optimizer.zero_grad()
        loss, n = self.model.loss_and_backward(inputs, targets, self.pad)
        if cfg.l1:
            for p in self.params:
                p.d += cfg.l1 * np.sign(p.v)      # d/dv of l1 * |v|
        norms = {k: float(np.linalg.norm(p.d)) for k, p in self.model.params().items()} if cfg.log_grad_norms else {}
        grad_norm = numpy_optim.clip_gradients(self.params, cfg.clip_norm, cfg.clip_value, cfg.clip_per_tensor)
        if math.isfinite(loss) and math.isfinite(grad_norm):
            self.optimizer.step()
        return float(loss) * n, n, grad_norm, norms

    def perplexity(self, split):
        return numpy_perplexity(self.model, split, self.pad)


class AWDEngine(TorchOptimizerRate):
    """An AWD-LSTM on the token stream: the train split as batch_size columns walked in BPTT windows
    (variable length unless cfg.variable_bptt is off), the state carried over within an epoch."""

    def __init__(self, cfg, model, device, vocab):
        self.cfg, self.device, self.skip = cfg, device, vocab.bos
        self.model = model.to(device)
        self.optimizer = make_optimizer(cfg, self.model.parameters(), rnnlab_optim)
        self.carry, self.streams = None, {}

    def columns(self, split, batch_size):
        key = (id(split), batch_size)
        if key not in self.streams:
            self.streams[key] = (split, stream_columns(split, batch_size, self.device))
        return self.streams[key][1]

    def steps_per_epoch(self, split):
        return math.ceil((len(split.tokens) // self.cfg.batch_size - 1) / self.cfg.bptt)

    def epoch_steps(self, split, rng):
        data = self.columns(split, self.cfg.batch_size)
        self.carry = None                                       # each epoch starts from a zero state
        return [(data[:, s:s + n], data[:, s + 1:s + 1 + n], scale)
                for s, n, scale in bptt_windows(data.shape[1], self.cfg.bptt, rng if self.cfg.variable_bptt else None)]

    def step(self, inputs, targets, lr_scale):
        cfg = self.cfg
        loss, n, norm, self.carry = train_step(self.model, self.optimizer, inputs, targets, self.carry, self.skip,
                                               lr_scale, cfg.alpha, cfg.beta, cfg.clip_norm)
        return loss, n, norm, {}

    def perplexity(self, split):
        return stream_perplexity(self.model, self.columns(split, 10), self.skip, self.cfg.bptt)


def make_engine(cfg, model, device, vocab, dist=Single()):
    if cfg.model == "awd" and cfg.engine != "torch":
        raise RnnlabError("AWD-LSTM trains with the torch engine only; leave --engine at torch")
    if dist.world > 1 and (cfg.model == "awd" or cfg.engine != "torch"):
        raise RnnlabError("torchrun data parallelism covers the torch engine's LSTM; train AWD-LSTM or the numpy "
                          "engine in one process")
    if cfg.model == "awd":
        return AWDEngine(cfg, model, device, vocab)
    return {"torch": TorchEngine, "numpy": NumpyEngine}[cfg.engine](cfg, model, device, vocab, dist)
