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


def shuffled_batches(n, batch_size, rng):
    """Shuffled index batches covering 0..n-1 once (batch_count of them)."""
    order = rng.permutation(n)
    return fold_tail([order[i:i + batch_size] for i in range(0, n, batch_size)], batch_size)


def bucketed_batches(lengths, batch_size, rng, pool=32):
    """Like shuffled_batches, but each batch holds poems of similar length, so little of it is padding:
    shuffle, sort each run of `pool` batches' worth of poems by length, cut it into batches, and
    shuffle the order of all the batches."""
    order = rng.permutation(len(lengths))
    span = pool * batch_size
    pools = [chunk[np.argsort(lengths[chunk], kind="stable")] for chunk in (order[i:i + span] for i in range(0, len(order), span))]
    batches = fold_tail([p[i:i + batch_size] for p in pools for i in range(0, len(p), batch_size)], batch_size)
    return [batches[i] for i in rng.permutation(len(batches))]


def fold_tail(batches, batch_size):
    """The last batch joins the one before it when it is under half a batch: a step on the 3 poems left
    over by 41411 / 64 would take Adam's full stride along a noisy gradient (the validation perplexity
    rose 8% after such a step at the end of the first epoch)."""
    if len(batches) > 1 and 2 * len(batches[-1]) < batch_size:
        batches[-2:] = [np.concatenate(batches[-2:])]
    return batches


def batch_count(n, batch_size):
    """How many batches shuffled_batches and bucketed_batches cut n poems into."""
    full, tail = divmod(n, batch_size)
    return full + int(tail > 0 and (full == 0 or 2 * tail >= batch_size))


def eval_batches(split, batch_size):
    """Index batches in order of length, so evaluation wastes little work on padding."""
    order = np.argsort(np.diff(split.offsets), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
