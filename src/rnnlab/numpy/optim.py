"""Numpy optimizers over Param objects (value p.v, gradient p.d, memory p.m), written as the update
formulas of the reference (000 §3.3, 004) in the exact form torch.optim uses, so they agree step for step.

Weight decay is L2: the gradient becomes d + weight_decay * v before the update.
"""
import numpy as np


class Optimizer:
    def __init__(self, params, lr, weight_decay=0.0):
        self.params, self.lr, self.weight_decay = list(params), lr, weight_decay
        self.t = 0

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()

    def step(self):
        self.t += 1
        for p in self.params:
            g = p.d + self.weight_decay * p.v if self.weight_decay else p.d
            self.update(p, g)

    def update(self, p, g):
        raise NotImplementedError

    def state_dict(self):
        """The step count, learning rate and every parameter's memory, in parameter order."""
        return {"t": self.t, "lr": self.lr, "memory": [dict(p.m) for p in self.params]}

    def load_state_dict(self, state):
        self.t, self.lr = state["t"], state["lr"]
        for p, memory in zip(self.params, state["memory"], strict=True):
            p.m = {k: np.array(v) for k, v in memory.items()}


class SGD(Optimizer):
    """v -= lr * g; with momentum μ: buf = μ buf + (1 - dampening) g, v -= lr * buf
    (the reference's m = μ m - lr d, v += m is the same for a constant lr); Nesterov: v -= lr (g + μ buf)."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum, self.dampening, self.nesterov = momentum, dampening, nesterov

    def update(self, p, g):
        if self.momentum:
            if "buf" not in p.m:
                p.m["buf"] = g.copy()
            else:
                p.m["buf"] = self.momentum * p.m["buf"] + (1 - self.dampening) * g
            g = g + self.momentum * p.m["buf"] if self.nesterov else p.m["buf"]
        p.v -= self.lr * g


class Adagrad(Optimizer):
    """sum += g²;  v -= lr g / (sqrt(sum) + eps): each weight's step shrinks with its gradient history."""

    def __init__(self, params, lr=1e-2, eps=1e-10, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.eps = eps

    def update(self, p, g):
        p.m["sum"] = p.m.get("sum", 0) + g * g
        p.v -= self.lr * g / (np.sqrt(p.m["sum"]) + self.eps)


class Adadelta(Optimizer):
    """E[g²] = ρ E[g²] + (1-ρ) g²;  Δ = sqrt(E[Δ²] + eps) / sqrt(E[g²] + eps) · g;  E[Δ²] = ρ E[Δ²] + (1-ρ) Δ²;  v -= lr Δ."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.rho, self.eps = rho, eps

    def update(self, p, g):
        sq = p.m["square_avg"] = self.rho * p.m.get("square_avg", 0) + (1 - self.rho) * g * g
        acc = p.m.get("acc_delta", 0)
        delta = np.sqrt(acc + self.eps) / np.sqrt(sq + self.eps) * g
        p.m["acc_delta"] = self.rho * acc + (1 - self.rho) * delta * delta
        p.v -= self.lr * delta


class RMSprop(Optimizer):
    """E[g²] = α E[g²] + (1-α) g²;  v -= lr g / (sqrt(E[g²]) + eps)  (optionally centred, with momentum)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr, weight_decay)
        self.alpha, self.eps, self.momentum, self.centered = alpha, eps, momentum, centered

    def update(self, p, g):
        sq = p.m["square_avg"] = self.alpha * p.m.get("square_avg", 0) + (1 - self.alpha) * g * g
        if self.centered:
            mean = p.m["grad_avg"] = self.alpha * p.m.get("grad_avg", 0) + (1 - self.alpha) * g
            sq = sq - mean * mean
        step = g / (np.sqrt(sq) + self.eps)
        if self.momentum:
            step = p.m["buf"] = self.momentum * p.m.get("buf", 0) + step
        p.v -= self.lr * step


class Adam(Optimizer):
    """m = β1 m + (1-β1) g;  s = β2 s + (1-β2) g²;  v -= lr · (m / (1-β1^t)) / (sqrt(s / (1-β2^t)) + eps)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.betas, self.eps = betas, eps

    def update(self, p, g):
        b1, b2 = self.betas
        m = p.m["exp_avg"] = b1 * p.m.get("exp_avg", 0) + (1 - b1) * g
        s = p.m["exp_avg_sq"] = b2 * p.m.get("exp_avg_sq", 0) + (1 - b2) * g * g
        denom = np.sqrt(s) / np.sqrt(1 - b2 ** self.t) + self.eps
        p.v -= self.lr / (1 - b1 ** self.t) * m / denom


class Adamax(Adam):
    """Adam with the infinity norm: u = max(β2 u, |g| + eps);  v -= lr / (1-β1^t) · m / u."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, p, g):
        b1, b2 = self.betas
        m = p.m["exp_avg"] = b1 * p.m.get("exp_avg", 0) + (1 - b1) * g
        u = p.m["exp_inf"] = np.maximum(b2 * p.m.get("exp_inf", 0), np.abs(g) + self.eps)
        p.v -= self.lr / (1 - b1 ** self.t) * m / u


def clip_grad_norm(params, max_norm):
    """Scale all gradients together so that their global L2 norm is at most max_norm; returns the norm before."""
    params = list(params)
    total = float(np.sqrt(sum(float((p.d ** 2).sum()) for p in params)))
    scale = min(max_norm / (total + 1e-6), 1.0)
    for p in params:
        p.d *= scale
    return total


def clip_grad_value(params, clip_value):
    """Clip every gradient entry into [-clip_value, clip_value]."""
    for p in params:
        np.clip(p.d, -clip_value, clip_value, out=p.d)


def clip_gradients(params, norm=None, value=None, per_tensor=False):
    """As rnnlab.training.clipping.clip_gradients: by global norm, per tensor, and/or by value; returns the
    global norm measured before clipping."""
    params = list(params)
    total = clip_grad_norm(params, norm if norm is not None and not per_tensor else float("inf"))
    if norm is not None and per_tensor:
        for p in params:
            clip_grad_norm([p], norm)
    if value is not None:
        clip_grad_value(params, value)
    return total
