"""Adam and AdaMax (Kingma & Ba 2015; 000 §3.1, 004): momentum on the gradient, per-weight scale
from its second moment (Adam) or its running max (AdaMax), with bias correction of the averages.

    m = b1 m + (1 - b1) g        v = b2 v + (1 - b2) g^2        (m: lerp towards g by 1 - b1)
    Adam     p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
             amsgrad: v replaced by the largest v seen so far (Reddi et al. 2018)
    AdaMax   u = max(b2 u, |g| + eps);   p -= lr / (1 - b1^t) * m / u
"""
import torch

from rnnlab.optim.base import FormulaOptimizer


class Adam(FormulaOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def update(self, p, g, state, group):
        b1, b2 = group["betas"]
        if not state:
            state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m = state["exp_avg"].lerp_(g, 1 - b1)
        v = state["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
        if group["amsgrad"]:
            v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = (v.sqrt() / (1 - b2 ** t) ** 0.5).add_(group["eps"])
        p.addcdiv_(m, denom, value=-group["lr"] / (1 - b1 ** t))


class Adamax(FormulaOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def update(self, p, g, state, group):
        b1, b2 = group["betas"]
        if not state:
            state.update(step=0, exp_avg=torch.zeros_like(p), exp_inf=torch.zeros_like(p))
        state["step"] += 1
        m = state["exp_avg"].lerp_(g, 1 - b1)
        u = torch.maximum(state["exp_inf"].mul_(b2), g.abs().add_(group["eps"]), out=state["exp_inf"])
        p.addcdiv_(m, u, value=-group["lr"] / (1 - b1 ** state["step"]))
