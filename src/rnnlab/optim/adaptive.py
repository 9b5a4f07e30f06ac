"""Per-weight learning rates (004 §3-5): each weight's step is scaled by its own gradient history.

    Adagrad   s += g^2;                          p -= lr/(1 + (t-1) lr_decay) g / (sqrt(s) + eps)
    RMSprop   s = alpha s + (1 - alpha) g^2;     p -= lr g / (sqrt(s) + eps)
              centered: divide by sqrt(s - m^2) + eps with m = alpha m + (1 - alpha) g;
              momentum: b = mu b + g / (...);   p -= lr b
    Adadelta  s = rho s + (1 - rho) g^2;  d = sqrt(u + eps) / sqrt(s + eps) g;  u = rho u + (1 - rho) d^2;  p -= lr d
    Rprop     only the sign of g: each weight's step grows by etaplus while the sign stays, shrinks by
              etaminus when it flips (and that step is skipped), within step_sizes
    AdaptiveGains  (Hinton, Neural Networks for ML, lecture 6d) a gain per weight: + increase while the
              gradient's sign stays, * decrease when it flips, kept in gain_range; with momentum
              b = mu b - lr gain g;  p += b
"""
import torch

from rnnlab.optim.base import FormulaOptimizer


class Adagrad(FormulaOptimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def update(self, p, g, state, group):
        if not state:
            state.update(step=0, sum=torch.full_like(p, group["initial_accumulator_value"]))
        state["step"] += 1
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"].addcmul_(g, g)
        p.addcdiv_(g, state["sum"].sqrt().add_(group["eps"]), value=-lr)


class RMSprop(FormulaOptimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def update(self, p, g, state, group):
        alpha = group["alpha"]
        if not state:
            state.update(step=0, square_avg=torch.zeros_like(p))
            if group["momentum"] > 0:
                state["momentum_buffer"] = torch.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(p)
        state["step"] += 1
        s = state["square_avg"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if group["centered"]:
            m = state["grad_avg"].lerp_(g, 1 - alpha)
            denom = s.addcmul(m, m, value=-1).sqrt_().add_(group["eps"])
        else:
            denom = s.sqrt().add_(group["eps"])
        if group["momentum"] > 0:
            b = state["momentum_buffer"].mul_(group["momentum"]).addcdiv_(g, denom)
            p.add_(b, alpha=-group["lr"])
        else:
            p.addcdiv_(g, denom, value=-group["lr"])


class Adadelta(FormulaOptimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        if not state:
            state.update(step=0, square_avg=torch.zeros_like(p), acc_delta=torch.zeros_like(p))
        state["step"] += 1
        s = state["square_avg"].mul_(rho).addcmul_(g, g, value=1 - rho)
        delta = state["acc_delta"].add(eps).sqrt_().div_(s.add(eps).sqrt_()).mul_(g)
        state["acc_delta"].mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-group["lr"])


class Rprop(FormulaOptimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes)))

    def update(self, p, g, state, group):
        etaminus, etaplus = group["etas"]
        if not state:
            state.update(step=0, prev=torch.zeros_like(p), step_size=torch.full_like(p, group["lr"]))
        state["step"] += 1
        agree, factor = g * state["prev"], torch.ones_like(p)
        factor[agree > 0] = etaplus
        factor[agree < 0] = etaminus
        state["step_size"].mul_(factor).clamp_(*group["step_sizes"])
        g = g.masked_fill(agree < 0, 0)           # after a sign flip: no step, and no flip seen next time
        p.addcmul_(g.sign(), state["step_size"], value=-1)
        state["prev"].copy_(g)


class AdaptiveGains(FormulaOptimizer):
    def __init__(self, params, lr=1e-2, momentum=0.9, increase=0.05, decrease=0.95, gain_range=(0.1, 10.0),
                 weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, increase=increase, decrease=decrease,
                                      gain_range=tuple(gain_range), weight_decay=weight_decay))

    def update(self, p, g, state, group):
        if not state:
            state.update(step=0, gain=torch.ones_like(p), prev=torch.zeros_like(p), velocity=torch.zeros_like(p))
        state["step"] += 1
        gain, agree = state["gain"], g * state["prev"]
        gain[agree > 0] += group["increase"]
        gain[agree < 0] *= group["decrease"]
        gain.clamp_(*group["gain_range"])
        state["prev"].copy_(g)
        v = state["velocity"].mul_(group["momentum"]).addcmul_(gain, g, value=-group["lr"])
        p.add_(v)
