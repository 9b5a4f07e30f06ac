"""Each numpy optimizer against torch.optim's algorithm of the same name, 100 steps on a small problem."""
import numpy as np
import pytest
import torch

from rnnlab.numpy import optim
from rnnlab.numpy.gradcheck import rel_error
from rnnlab.numpy.params import Param

CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.01}),
    ("Adadelta", {"lr": 1.0}),
    ("Adadelta", {"lr": 0.5, "rho": 0.95, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 1e-2, "betas": (0.5, 0.99)}),
    ("Adam", {"lr": 1e-2, "weight_decay": 0.01}),
    ("Adamax", {"lr": 2e-2}),
    ("Adamax", {"lr": 2e-2, "betas": (0.8, 0.99), "weight_decay": 0.01}),
]


def problem_grad(w, A, y):
    """Gradient of the loss 0.5 |tanh(A w) - y|² (smooth, non-quadratic)."""
    z = np.tanh(A @ w)
    return A.T @ ((z - y) * (1 - z ** 2))


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch_optim_for_100_steps(name, kwargs):
    rng = np.random.default_rng(0)
    A, y, w0 = rng.standard_normal((8, 5)), rng.standard_normal(8) * 0.5, rng.standard_normal(5)
    p = Param(w0.copy())
    ours = getattr(optim, name)([p], **kwargs)
    tw = torch.tensor(w0.copy(), requires_grad=True)
    theirs = getattr(torch.optim, name)([tw], **kwargs)
    for _ in range(100):
        ours.zero_grad()
        p.d += problem_grad(p.v, A, y)
        ours.step()
        theirs.zero_grad()
        tw.grad = torch.from_numpy(problem_grad(tw.detach().numpy().copy(), A, y))
        theirs.step()
        assert rel_error(p.v, tw.detach().numpy()) <= 1e-6


def test_clip_by_norm_matches_torch():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = [Param(np.zeros_like(g)) for g in grads]
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(params, tensors, grads):
        p.d[...] = g
        t.grad = torch.from_numpy(g.copy())
    norm = optim.clip_grad_norm(params, 0.5)
    t_norm = torch.nn.utils.clip_grad_norm_(tensors, 0.5)
    assert abs(norm - t_norm.item()) <= 1e-12 * norm
    for p, t in zip(params, tensors):
        assert rel_error(p.d, t.grad.numpy()) <= 1e-12


def test_clip_by_value_matches_torch():
    g = np.random.default_rng(2).standard_normal((4, 4))
    p, t = Param(np.zeros_like(g)), torch.zeros(4, 4, dtype=torch.float64, requires_grad=True)
    p.d[...], t.grad = g, torch.from_numpy(g.copy())
    optim.clip_grad_value([p], 0.3)
    torch.nn.utils.clip_grad_value_([t], 0.3)
    assert np.array_equal(p.d, t.grad.numpy())
