"""The corpus as one token stream, for AWD-LSTM-style training (reference 002 §2.3).

A Split's tokens are already one stream: poem after poem, each as <bos> characters <eos>. The
targets that are <bos> (the token after every <eos>) carry no information and are left out of the
loss, so a stream perplexity counts the same targets as a poem-by-poem one: characters and <eos>.
`batchify` cuts the stream into `batch_size` equal columns (the tail that does not fill a row is
dropped), so column b continues where it left off at the next window and the hidden state can be
carried over (and detached) between windows.
`bptt_windows` walks the columns in windows whose length varies as in Merity et al. (2017): the base
length is `bptt` with probability 0.95, else bptt/2; the length is drawn from N(base, 5), at least 5;
the learning rate of that step is scaled by length / bptt, so short windows do not weigh more.
"""
import numpy as np


def batchify(stream, batch_size):
    """(N,) -> (batch_size, N // batch_size): row b is the b-th consecutive stretch of the stream."""
    n = len(stream) // batch_size
    return np.asarray(stream[:n * batch_size]).reshape(batch_size, n)


def stream_columns(split, batch_size):
    """A split's token stream (the poems end to end) as (batch_size, N) int64 columns."""
    return batchify(split.tokens, batch_size).astype(np.int64)


def bptt_windows(length, bptt, rng=None, min_len=5, sd=5):
    """(start, window length, lr scale) over positions [0, length - 1): inputs [start, start+len),
    targets shifted by one. With `rng` None the windows are all `bptt` long (evaluation)."""
    start = 0
    while start < length - 1:
        if rng is None:
            seq_len = bptt
        else:
            base = bptt if rng.random() < 0.95 else bptt / 2
            seq_len = max(min_len, int(round(rng.normal(base, sd))))
        seq_len = min(seq_len, length - 1 - start)
        yield start, seq_len, seq_len / bptt
        start += seq_len
