"""A numeric helper both engines share (the torch one in training/, the numpy one in numpy/)."""
import math


def exp_or_inf(x):
    """exp that saturates to inf rather than raising OverflowError (perplexity of a diverged model)."""
    return math.exp(x) if x < 700 else float("inf")
