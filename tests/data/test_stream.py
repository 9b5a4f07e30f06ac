"""The token stream, its columns and the variable-length BPTT windows."""
import numpy as np

from rnnlab.data.stream import batchify, bptt_windows


def test_batchify_makes_consecutive_columns():
    data = batchify(np.arange(23), 4)
    assert data.shape == (4, 5) and data[1].tolist() == [5, 6, 7, 8, 9]


def test_fixed_windows_cover_the_stream_once():
    windows = list(bptt_windows(101, 10))
    assert [w[0] for w in windows] == list(range(0, 100, 10)) and sum(w[1] for w in windows) == 100
    assert all(scale == n / 10 for _, n, scale in windows)


def test_variable_windows_follow_the_reference_rule():
    rng = np.random.default_rng(0)
    windows = list(bptt_windows(200_000, 70, rng))
    starts, lengths, scales = map(np.array, zip(*windows))
    assert starts[0] == 0 and np.array_equal(starts[1:], np.cumsum(lengths)[:-1])   # contiguous, no gaps
    assert starts[-1] + lengths[-1] == 199_999
    assert lengths[:-1].min() >= 5 and np.allclose(scales, lengths / 70)
    short = lengths < 52                                            # drawn around 35 rather than 70
    assert 0.03 < short.mean() < 0.07
    assert abs(lengths[~short].mean() - 70) < 0.5 and abs(lengths[~short].std() - 5) < 0.5
