"""Numerical gradients by central differences, and the relative error used to compare gradients."""
import numpy as np


def numeric_grad(loss_fn, array, eps=1e-6):
    """dloss/darray by central differences, perturbing `array` in place one entry at a time."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        plus = loss_fn()
        flat[k] = old - eps
        minus = loss_fn()
        flat[k] = old
        gflat[k] = (plus - minus) / (2 * eps)
    return grad


def rel_error(a, b):
    """max |a - b| / max(max |a|, max |b|): 0 for equal arrays, scale-free otherwise."""
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-300)
    return float(np.abs(a - b).max() / scale)
