import json

import numpy as np
import pytest

from rnnlab.data.dataset import DataConfig, Split, prepare, split_indices
from rnnlab.errors import RnnlabError
from tests.conftest import ENGLISH, POEMS


def test_split_is_pinned_to_numpy_pcg64():
    # The same on every machine: these are PCG64's permutations for seeds 0 and 1.
    train, valid = split_indices(10, 0.2, 0)
    assert valid.tolist() == [4, 6] and train.tolist() == [0, 1, 2, 3, 5, 7, 8, 9]
    assert split_indices(10, 0.2, 1)[1].tolist() == [4, 8]


def test_split_covers_everything_once():
    train, valid = split_indices(1001, 0.2, 7)
    assert len(valid) == 200
    assert sorted(train.tolist() + valid.tolist()) == list(range(1001))


def test_split_concat():
    a = Split.from_lists([[1, 2], [3, 4, 5]])
    b = Split.from_lists([[6, 7, 8, 9]])
    joined = Split.concat([a, b])
    assert [joined[i].tolist() for i in range(len(joined))] == [[1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert joined.n_targets == a.n_targets + b.n_targets == 6


def poems_file(tmp_path, poems):
    f = tmp_path / "poems.json"
    f.write_text(json.dumps([{"paragraphs": [p]} for p in poems], ensure_ascii=False), encoding="utf-8")
    return f


def test_without_leaves_out_the_sequences_that_share_a_line():
    BOS, EOS, COMMA = 1, 2, 9                    # cuts: where a line ends
    seen = Split.from_lists([[BOS, 3, 4, COMMA, 5, 6, COMMA, EOS]])
    split = Split.from_lists([
        [BOS, 5, 6, COMMA, 7, 8, COMMA, EOS],    # the seen poem's second line, here first: left out
        [BOS, 3, 4, 5, COMMA, 6, COMMA, EOS],    # the same characters, other lines: kept
        [BOS, 7, 8, COMMA, EOS],                 # nothing shared: kept
        [BOS, 3, 4, COMMA, 5, 6, COMMA, EOS],    # the seen poem itself: left out
    ])
    assert [s.tolist() for s in split.without(seen, {BOS, EOS, COMMA})] == [split[1].tolist(), split[2].tolist()]
    assert len(split.without(seen)) == 3         # no cuts: only the verbatim repeat goes


def test_prepare_converts_cleans_encodes(tmp_path):
    poems = ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。", "短", "(注)床前明月光，疑是地上霜。"] * 5
    cfg = DataConfig(corpus=str(poems_file(tmp_path, poems)), seq_len=13, min_len=5, min_count=1)
    data = prepare(cfg, use_cache=False)
    assert data.stats["dropped"] == {"too_short": 5, "bad_char": 5}
    assert data.stats["kept"] == 10 and data.stats["truncated"] == 0
    assert len(data.train) == 8 and len(data.valid) == 2
    assert "举" in data.vocab and "舉" not in data.vocab          # traditional -> simplified
    seq = data.train[0].tolist()
    assert seq[0] == data.vocab.bos and seq[-1] == data.vocab.eos and len(seq) == 12 + 2


def test_t2s_can_be_switched_off(tmp_path):
    cfg = DataConfig(corpus=str(poems_file(tmp_path, ["舉頭望明月，低頭思故鄉。"] * 5)), min_len=5, min_count=1, t2s=False)
    assert "舉" in prepare(cfg, use_cache=False).vocab


def test_empty_after_cleaning_is_an_error(tmp_path):
    cfg = DataConfig(corpus=str(poems_file(tmp_path, ["短", "(注)"])), min_len=5)
    with pytest.raises(RnnlabError, match="no sequences left after cleaning.*too_short"):
        prepare(cfg, use_cache=False)


def test_second_prepare_comes_from_the_cache():
    cfg = DataConfig(corpus=POEMS, seq_len=25)
    first, second = prepare(cfg), prepare(cfg)
    assert "cached" not in first.stats and second.stats["cached"]
    assert np.array_equal(first.train.tokens, second.train.tokens)
    assert np.array_equal(first.valid.offsets, second.valid.offsets)
    assert first.vocab.itos == second.vocab.itos


def test_plain_text_becomes_windows():
    data = prepare(DataConfig(corpus=ENGLISH, seq_len=32), use_cache=False)
    assert not data.stats["t2s"]
    assert {len(data.train[i]) for i in range(len(data.train))} == {33}
    assert data.vocab.decode(data.train[0].tolist()).isascii()
