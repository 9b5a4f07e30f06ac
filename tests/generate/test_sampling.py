import pytest
import torch

from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.generate.sampling import generate
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel

VOCAB = Vocab.build(["床前明月光，疑是地上霜。"], min_count=1)


def model(eos_bias=0.0, seed=0):
    torch.manual_seed(seed)
    m = LanguageModel(ModelConfig(vocab_size=len(VOCAB), embed_size=8, hidden_size=16))
    with torch.no_grad():
        m.decoder.bias[VOCAB.eos] += eos_bias
    return m


def test_start_text_is_kept_and_length_capped():
    poems = generate(model(eos_bias=-50), VOCAB, "床前", num=5, max_len=20, seed=1)
    assert len(poems) == 5
    assert all(p.startswith("床前") and len(p) <= 20 for p in poems)


def test_a_poem_the_cap_stops_ends_at_its_last_full_stop():
    """Up to the cap, a capped run draws what an uncapped one draws; then its poem is cut after its last
    。？！ (the start text kept), or kept as it is if it has none."""
    m = model(eos_bias=-3, seed=4)
    uncapped = generate(m, VOCAB, "床前", num=40, max_len=200, seed=5)
    capped = generate(m, VOCAB, "床前", num=40, max_len=15, seed=5)
    trimmed = 0
    for long, short in zip(uncapped, capped):
        if len(long) < 15:
            assert short == long
        else:
            head = long[:15]
            cut = max(head.rfind(mark) for mark in "。？！")
            assert short == (head[:cut + 1] if cut >= 1 else head)
            trimmed += short != head
    assert 0 < trimmed and any(len(p) < 15 for p in uncapped)


def test_eos_stops_generation():
    assert generate(model(eos_bias=50), VOCAB, "明月", num=3, seed=1) == ["明月"] * 3


def test_specials_are_never_drawn():
    poems = generate(model(eos_bias=-50), VOCAB, "", num=8, max_len=30, temperature=5.0, seed=2)
    assert all(set(p) <= set(VOCAB.itos[4:]) for p in poems)


def test_same_seed_same_poems_and_batch_members_differ():
    m = model(eos_bias=-50)
    a = generate(m, VOCAB, "月", num=4, max_len=16, seed=7)
    assert a == generate(m, VOCAB, "月", num=4, max_len=16, seed=7)
    assert len(set(a)) > 1


def test_top_k_one_is_greedy():
    m = model(eos_bias=-50)
    greedy = generate(m, VOCAB, "月", num=3, max_len=12, top_k=1, seed=1)
    assert len(set(greedy)) == 1
    assert greedy == generate(m, VOCAB, "月", num=3, max_len=12, top_k=1, temperature=0.3, seed=9)


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan")])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(RnnlabError, match="temperature must be > 0"):
        generate(model(), VOCAB, "月", temperature=temperature)


def test_start_outside_vocabulary():
    with pytest.raises(RnnlabError, match="outside the model's vocabulary: 龙"):
        generate(model(), VOCAB, "月龙", seed=1)


def test_cap_must_exceed_start():
    with pytest.raises(RnnlabError, match="max-len"):
        generate(model(), VOCAB, "床前明月", max_len=4)
