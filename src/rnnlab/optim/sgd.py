"""Stochastic gradient descent and its relatives (004 §1-2; 000 §3.3).

    SGD        p -= lr g
    momentum   b = mu b + (1 - dampening) g  (b = g at the first step);   p -= lr b
    Nesterov   p -= lr (g + mu b)             look ahead along the momentum before stepping
    ASGD       p = p (1 - lambd eta) - eta g;  ax = running average of p from step t0 on
               with eta_t = lr / (1 + lambd lr t)^alpha  (Polyak & Juditsky 1992)
"""
import torch

from rnnlab.optim.base import FormulaOptimizer


class SGD(FormulaOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def update(self, p, g, state, group):
        mu = group["momentum"]
        if mu:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.clone()
            else:
                state["momentum_buffer"].mul_(mu).add_(g, alpha=1 - group["dampening"])
            b = state["momentum_buffer"]
            g = g.add(b, alpha=mu) if group["nesterov"] else b
        p.add_(g, alpha=-group["lr"])


class ASGD(FormulaOptimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay))

    def update(self, p, g, state, group):
        if not state:
            state.update(step=0, eta=group["lr"], mu=1.0, ax=torch.zeros_like(p))
        state["step"] += 1
        p.mul_(1 - group["lambd"] * state["eta"]).add_(g, alpha=-state["eta"])
        if state["mu"] != 1:
            state["ax"].add_(p.sub(state["ax"]).mul_(state["mu"]))
        else:
            state["ax"].copy_(p)
        state["eta"] = group["lr"] / (1 + group["lambd"] * group["lr"] * state["step"]) ** group["alpha"]
        state["mu"] = 1 / max(1, state["step"] - group["t0"])
