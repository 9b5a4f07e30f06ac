"""The two training engines behind one interface, so the loop does not care who computes gradients.

An engine owns a model and its optimizer:
    step(inputs, targets, pad) -> (summed loss, target count, gradient norm before clipping, per-parameter norms)
        with the config's L1 penalty and clipping; a step whose loss or gradient is not finite changes nothing
    perplexity(split, pad), lr, and model (with .config and .state_dict(), for checkpoints)
Both start from the same weights for the same seed: the torch model's initialisation, by name.
"""
import math
from contextlib import nullcontext

import numpy as np
import torch

from rnnlab import optim as rnnlab_optim
from rnnlab.data.batches import eval_batches, padded_batch
from rnnlab.errors import RnnlabError
from rnnlab.nn.lm import LanguageModel, sequence_loss
from rnnlab.numpy import optim as numpy_optim
from rnnlab.numpy.lm import LanguageModel as NumpyLanguageModel
from rnnlab.numpy.lm import exp_or_inf
from rnnlab.numpy.lm import perplexity as numpy_perplexity
from rnnlab.train.clipping import clip_gradients
from rnnlab.train.config import OPTIMIZERS


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
    elif name in OPTIMIZERS:
        cls, kwargs = {"rmsprop": "RMSprop", "adagrad": "Adagrad", "adadelta": "Adadelta", "asgd": "ASGD",
                       "ntasgd": "NTASGD"}[name], {"weight_decay": wd}
    else:
        raise RnnlabError(f"unknown optimizer {name!r}")
    if not hasattr(library, cls):
        where = "torch.optim" if library is torch.optim else "the numpy engine"
        raise RnnlabError(f"{where} has no {name}; use --optim-impl ours with the torch engine")
    return getattr(library, cls)(params, cfg.lr, **kwargs)


def evaluation_weights(optimizer):
    """NT-ASGD evaluates (and saves) the averaged weights once averaging has started."""
    return optimizer.averaged() if hasattr(optimizer, "averaged") else nullcontext()


@torch.no_grad()
def perplexity(model, split, pad, batch_size=256):
    """exp(mean cross entropy per target token), padding excluded, for a torch model."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for idx in eval_batches(split, batch_size):
        inputs, targets = (torch.from_numpy(a).to(device) for a in padded_batch(split, idx, pad))
        loss, n = sequence_loss(model(inputs)[0], targets, pad)
        total, count = total + loss.item(), count + n
    model.train(was_training)
    return exp_or_inf(total / count) if count else float("nan")


class TorchEngine:
    def __init__(self, cfg, model_config, device, init_weights=None):
        self.cfg, self.device = cfg, device
        self.model = LanguageModel(model_config).to(device)
        if init_weights is not None:
            self.model.load_state_dict(init_weights)
        library = rnnlab_optim if cfg.optim_impl == "ours" else torch.optim
        self.optimizer = make_optimizer(cfg, self.model.parameters(), library)

    @property
    def lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def step(self, inputs, targets, pad):
        cfg = self.cfg
        inputs, targets = torch.from_numpy(inputs).to(self.device), torch.from_numpy(targets).to(self.device)
        loss_sum, n = sequence_loss(self.model(inputs)[0], targets, pad)
        loss = loss_sum / n
        if cfg.l1:
            loss = loss + cfg.l1 * sum(p.abs().sum() for p in self.model.parameters())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms = {k: p.grad.norm().item() for k, p in self.model.named_parameters()} if cfg.log_grad_norms else {}
        grad_norm = clip_gradients(self.model.parameters(), cfg.clip_norm, cfg.clip_value, cfg.clip_per_tensor)
        if math.isfinite(loss.item()) and math.isfinite(grad_norm):
            self.optimizer.step()
        return loss_sum.item(), n, grad_norm, norms

    def perplexity(self, split, pad):
        return perplexity(self.model, split, pad)


class NumpyEngine:
    """The numpy language model (float32) with the numpy optimizers; CPU only, no dropout."""

    def __init__(self, cfg, model_config, device, init_weights=None):
        if device != "cpu":
            raise RnnlabError("the numpy engine runs on the CPU only; use --device cpu")
        weights = init_weights if init_weights is not None else LanguageModel(model_config).state_dict()
        self.model = NumpyLanguageModel(model_config, {k: v.cpu().numpy().astype(np.float32) for k, v in weights.items()})
        self.cfg, self.params = cfg, list(self.model.params().values())
        self.optimizer = make_optimizer(cfg, self.params, numpy_optim)

    @property
    def lr(self):
        return self.optimizer.lr

    def step(self, inputs, targets, pad):
        cfg = self.cfg
        self.optimizer.zero_grad()
        loss, n = self.model.loss_and_backward(inputs, targets, pad)
        if cfg.l1:
            for p in self.params:
                p.d += cfg.l1 * np.sign(p.v)      # d/dv of l1 * |v|
        norms = {k: float(np.linalg.norm(p.d)) for k, p in self.model.params().items()} if cfg.log_grad_norms else {}
        grad_norm = numpy_optim.clip_gradients(self.params, cfg.clip_norm, cfg.clip_value, cfg.clip_per_tensor)
        if math.isfinite(loss) and math.isfinite(grad_norm):
            self.optimizer.step()
        return float(loss) * n, n, grad_norm, norms

    def perplexity(self, split, pad):
        return numpy_perplexity(self.model, split, pad)


ENGINES = {"torch": TorchEngine, "numpy": NumpyEngine}
