"""Training a digit-sum classifier: evaluate on dev every N steps, keep the best model by dev
accuracy, report the test accuracy of that model. Non-finite steps are skipped and counted."""
import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.data.batches import shuffled_batches
from rnnlab.nn.classify import DigitSumClassifier
from rnnlab.training.clipping import clip_gradients


@dataclass(frozen=True)
class RunConfig:
    kind: str = "rnn"               # rnn | lstm
    bidirectional: bool = False
    embed_size: int = 32
    hidden_size: int = 32
    optimizer: str = "adam"         # adam | sgd
    lr: float = 1e-3
    batch_size: int = 8
    epochs: int = 500
    reduction: str = "mean"         # mean | sum (the explosion experiment sums, as the textbook does)
    clip_norm: float | None = None
    clip_per_tensor: bool = False
    clip_value: float | None = None
    weight_decay: float = 0.0
    l1: float = 0.0
    eval_every: int = 100
    seed: int = 0


@dataclass
class RunResult:
    best_dev_accuracy: float
    test_accuracy: float
    steps: int
    nonfinite_steps: int
    grad_norms: list = field(default_factory=list)   # per step: {"step", "loss", name: norm, ...} before clipping
    model: torch.nn.Module = None


@torch.no_grad()
def accuracy(model, digits, labels):
    model.eval()
    correct = (model(digits).argmax(dim=1) == labels).float().mean().item()
    model.train()
    return correct


def train_classifier(cfg, data):
    """`data`: {"train"/"dev"/"test": (digits, labels)} numpy arrays, as rnnlab.data.digits.generate returns."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = DigitSumClassifier(cfg.kind, cfg.embed_size, cfg.hidden_size, cfg.bidirectional)
    opt_class = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[cfg.optimizer]
    optimizer = opt_class(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    tensors = {k: (torch.from_numpy(x), torch.from_numpy(y)) for k, (x, y) in data.items()}
    train_x, train_y = tensors["train"]
    best = {"accuracy": -1.0, "state": None}
    step, nonfinite, log = 0, 0, []

    def keep_if_best():
        acc = accuracy(model, *tensors["dev"])
        if acc > best["accuracy"]:
            best.update(accuracy=acc, state=copy.deepcopy(model.state_dict()))

    # the simple RNN's own parameters go by the textbook's names W, U, b
    named = [(name.removeprefix("forward_rnn.") if cfg.kind == "rnn" else name, p) for name, p in model.named_parameters()]
    for _ in range(cfg.epochs):
        for idx in shuffled_batches(len(train_y), cfg.batch_size, rng):
            idx = torch.from_numpy(idx)
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx], reduction=cfg.reduction)
            if cfg.l1:
                loss = loss + cfg.l1 * sum(p.abs().sum() for p in model.parameters())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            step += 1
            norms = {name: p.grad.norm().item() for name, p in named}
            log.append({"step": step, "loss": loss.item(), **norms})
            if not (math.isfinite(loss.item()) and all(math.isfinite(n) for n in norms.values())):
                nonfinite += 1
                continue
            clip_gradients(model.parameters(), cfg.clip_norm, cfg.clip_value, cfg.clip_per_tensor)
            optimizer.step()
            if step % cfg.eval_every == 0:
                keep_if_best()
    keep_if_best()
    model.load_state_dict(best["state"])
    return RunResult(best["accuracy"], accuracy(model, *tensors["test"]), step, nonfinite, log, model)
