"""Mini-batches of padded sequences. The order comes from a seeded numpy generator, never
from an engine's RNG, so every engine sees the same batches for the same seed."""
from itertools import pairwise

import numpy as np


def padded_batch(split, indices, pad):
    """Sequences split[i] for i in indices -> (inputs, targets), each (B, T) int64, padded with `pad`."""
    return padded_rows([split[i] for i in indices], pad)


def padded_rows(seqs, pad):
    """Sequences (None: a row of padding only) -> (inputs, targets), each (B, T) int64, T the longest's
    length - 1: input = seq[:-1], target = seq[1:], padded with `pad`."""
    width = max(len(s) for s in seqs if s is not None) - 1
    inputs = np.full((len(seqs), width), pad, dtype=np.int64)
    targets = np.full((len(seqs), width), pad, dtype=np.int64)
    for row, s in enumerate(seqs):
        if s is not None:
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


def window_batches(split, order, batch_size, window, pad):
    """The poems in `order` read by `batch_size` lanes, each lane a poem at a time in windows of `window`
    targets (truncated BPTT): a lane takes the next poem as soon as its own has no window left. -> a list
    of (inputs, targets, fresh), fresh (B,) True where a row begins a poem (its state starts from zero)
    or holds none (all padding). The epoch ends when fewer than half the lanes still have a poem: like
    fold_tail, no step on a handful of rows (the rest of those poems is left out of this epoch), unless
    it would have no step at all."""
    lanes = [None] * batch_size             # per lane: (poem index, offset of its next window)
    queue = iter(order)
    batches = []
    while True:
        fresh = np.zeros(batch_size, dtype=bool)
        for lane, held in enumerate(lanes):
            if held is None or held[1] >= len(split[held[0]]) - 1:
                poem = next(queue, None)
                lanes[lane] = None if poem is None else (poem, 0)
                fresh[lane] = True
        active = sum(held is not None for held in lanes)
        if active == 0 or (batches and 2 * active < batch_size):
            return batches
        pieces = [None if held is None else split[held[0]][held[1]:held[1] + window + 1] for held in lanes]
        batches.append((*padded_rows(pieces, pad), fresh))
        lanes = [None if held is None else (held[0], held[1] + window) for held in lanes]


def packed_window_batches(split, order, batch_size, window, pad, skip):
    """The poems in `order` read back to back by `batch_size` lanes in windows of `window` targets: `order`
    cut at poem boundaries into batch_size runs of about as many tokens, each lane one run read as a stream,
    its state carried from one poem into the next (the target `skip`, the next poem's <bos> after an <eos>,
    left out). -> a list of (inputs, targets, fresh), fresh True at the first window only. The windows stop
    at the shortest run's end (the rest of the longer runs is left out of this epoch), or after one window
    if the runs are shorter than that (a tiny corpus: the short rows padded)."""
    lengths = np.diff(split.offsets)[order]
    starts = np.cumsum(lengths) - lengths
    cuts = [*np.searchsorted(starts, lengths.sum() * np.arange(batch_size) / batch_size), len(order)]
    runs = [np.concatenate([split[i] for i in order[a:b]]) if b > a else np.zeros(0, np.int32)
            for a, b in pairwise(cuts)]
    steps = max(1, (min(len(r) for r in runs) - 1) // window)
    batches = []
    for step in range(steps):
        pieces = [r[step * window:step * window + window + 1] for r in runs]
        inputs, targets = padded_rows([p if len(p) > 1 else None for p in pieces], pad)
        targets[targets == skip] = pad
        batches.append((inputs, targets, np.full(batch_size, step == 0)))
    return batches


def window_count(split, window):
    """How many windows of `window` targets a split's poems make (a poem of n targets: ceil(n / window))."""
    return int((-(-(np.diff(split.offsets) - 1) // window)).sum())
