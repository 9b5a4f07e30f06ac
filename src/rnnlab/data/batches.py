"""Mini-batches of padded sequences. The order comes from a seeded numpy generator, never
from an engine's RNG, so every engine sees the same batches for the same seed."""
import numpy as np


def padded_batch(split, indices, pad):
    """Sequences split[i] for i in indices -> (inputs, targets), each (B, T) int64, padded with `pad`."""
    seqs = [split[i] for i in indices]
    width = max(len(s) for s in seqs) - 1
    inputs = np.full((len(seqs), width), pad, dtype=np.int64)
    targets = np.full((len(seqs), width), pad, dtype=np.int64)
    for row, s in enumerate(seqs):
        inputs[row, :len(s) - 1] = s[:-1]
        targets[row, :len(s) - 1] = s[1:]
    return inputs, targets


def epoch_batches(n, batch_size, rng):
    """Shuffled index batches covering 0..n-1 once; the last one may be smaller."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def eval_batches(split, batch_size):
    """Index batches in order of length, so evaluation wastes little work on padding."""
    order = np.argsort(np.diff(split.offsets), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
