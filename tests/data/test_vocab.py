import pytest

from rnnlab.data.vocab import SPECIALS, Vocab
from rnnlab.errors import RnnlabError


def test_min_count_keeps_characters_seen_often_enough():
    v = Vocab.build(["aaab", "bbc", "a"], min_count=3)
    assert v.itos == list(SPECIALS) + ["a", "b"]
    assert "c" not in v and "a" in v and "<eos>" not in v


def test_order_is_frequency_then_code_point():
    v = Vocab.build(["zzyyx"], min_count=1)
    assert v.itos[len(SPECIALS):] == ["y", "z", "x"]


def test_unknown_characters_map_to_unk_and_decode_skips_specials():
    v = Vocab.build(["ab"], min_count=1)
    ids = v.encode("abq")
    assert ids[-1] == v.unk
    assert v.decode([v.bos] + ids + [v.eos]) == "ab"


def test_json_round_trip():
    v = Vocab.build(["月光月光"], min_count=1)
    assert Vocab.from_json(v.to_json()).itos == v.itos


def test_malformed_vocab_json():
    with pytest.raises(RnnlabError):
        Vocab.from_json("{nope")
    with pytest.raises(RnnlabError):
        Vocab.from_json('{"itos": ["a", "b"]}')
