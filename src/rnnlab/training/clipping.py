"""Gradient clipping in its three common forms (003_*.txt): by global norm, per tensor, by value."""
import torch


def clip_gradients(params, norm=None, value=None, per_tensor=False):
    """Clip the gradients of `params` in place; returns the global L2 norm measured before clipping.

    norm: scale gradients so their L2 norm is at most `norm` (all tensors together, or each tensor
    on its own with per_tensor=True, as Paddle's ClipGradByNorm does); value: clamp every entry to
    [-value, value]. Both may be given: norm first, then value."""
    params = [p for p in params if p.grad is not None]
    # clip_grad_norm_ returns the norm it measured before scaling: one pass for the global case
    total = torch.nn.utils.clip_grad_norm_(params, norm if norm is not None and not per_tensor else float("inf")).item()
    if norm is not None and per_tensor:
        for p in params:
            torch.nn.utils.clip_grad_norm_([p], norm)
    if value is not None:
        torch.nn.utils.clip_grad_value_(params, value)
    return total
