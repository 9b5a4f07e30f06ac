"""Non-monotonically triggered averaged SGD (Merity, Keskar & Socher 2017, Algorithm 1; 002 §2.3).

Plain SGD until the validation metric stops improving: at the k-th call of `check(metric)` (lower is
better) averaging starts when k > n and metric > min(metrics of all checks but the last n). From then
on each step also updates ax = mean of the iterates since the trigger, and `averaged()` swaps that
mean into the model (for evaluation and for saving) and back out. The trigger, the history and the
averages are part of state_dict(). `average_from_start` skips the trigger: AWD-LSTM's fine-tuning
stage, which continues a trained model with averaging from its first step.
"""
from contextlib import contextmanager

import torch

from rnnlab.optim.base import FormulaOptimizer


class NTASGD(FormulaOptimizer):
    def __init__(self, params, lr=30.0, n=5, weight_decay=0.0, average_from_start=False):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay))
        self.n, self.history, self.steps, self.n_averaged = n, [], 0, 0
        self.triggered_at = 0 if average_from_start else None

    @property
    def averaging(self):
        return self.triggered_at is not None

    def check(self, metric):
        """Record one validation result; returns True when this call starts the averaging."""
        fire = not self.averaging and len(self.history) > self.n and metric > min(self.history[:-self.n])
        self.history.append(float(metric))
        if fire:
            self.triggered_at = self.steps
        return fire

    @torch.no_grad()
    def step(self, closure=None):
        self.steps += 1
        if self.averaging:
            self.n_averaged += 1
        return super().step(closure)

    def update(self, p, g, state, group):
        p.add_(g, alpha=-group["lr"])
        if self.averaging:
            if "ax" not in state:
                state["ax"] = torch.zeros_like(p)
            state["ax"].add_(p - state["ax"], alpha=1 / self.n_averaged)     # running mean of the iterates

    @contextmanager
    def averaged(self):
        """Inside the block the parameters hold their averages (if averaging has started).

        Values are swapped in place, so the parameters keep their storage (cuDNN's flat weights stay valid)."""
        self._swap_averages()
        try:
            yield
        finally:
            self._swap_averages()

    @torch.no_grad()
    def _swap_averages(self):
        for group in self.param_groups:
            for p in group["params"]:
                if "ax" in self.state[p]:
                    ax = self.state[p]["ax"]
                    current = p.clone()
                    p.copy_(ax)
                    ax.copy_(current)

    def state_dict(self):
        sd = super().state_dict()
        sd["ntasgd"] = {"n": self.n, "history": list(self.history), "triggered_at": self.triggered_at,
                        "steps": self.steps, "n_averaged": self.n_averaged}
        return sd

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        extra = state_dict.pop("ntasgd")
        super().load_state_dict(state_dict)
        self.n, self.history, self.triggered_at = extra["n"], list(extra["history"]), extra["triggered_at"]
        self.steps, self.n_averaged = extra["steps"], extra["n_averaged"]
