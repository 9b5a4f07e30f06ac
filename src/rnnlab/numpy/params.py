"""A parameter as in the reference (PART 2 §3.3): value `v`, gradient `d`, optimizer memory `m`."""
import numpy as np


class Param:
    def __init__(self, value):
        self.v = np.asarray(value)
        self.d = np.zeros_like(self.v)
        self.m = {}          # optimizer memory by name (momentum buffer, squared-gradient sum, ...)

    def zero_grad(self):
        self.d[...] = 0

    def __repr__(self):
        return f"Param(shape={self.v.shape}, dtype={self.v.dtype})"
