"""The benchmark's transformer peer (benchmarks/char_transformer.py): causal, and scored by rnnlab's own
generation and perplexity code through the language-model interface."""
import pytest
import torch
from benchmarks.char_transformer import CharTransformer, train_peer

from rnnlab.data.dataset import prepare
from rnnlab.generate.forms import form_of
from rnnlab.generate.sampling import generate
from rnnlab.training.config import build_config
from rnnlab.training.perplexity import poem_perplexity
from tests.conftest import POEMS


@pytest.fixture(scope="module")
def data():
    return prepare(build_config("cpu-fast", corpus=POEMS).data)


def test_a_position_sees_only_the_tokens_before_it():
    torch.manual_seed(0)
    model = CharTransformer(50, d_model=16, n_layers=2, n_heads=2, max_len=12, dropout=0.0).eval()
    tokens = torch.randint(0, 50, (2, 10))
    changed = tokens.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 50
    a, _ = model(tokens)
    b, _ = model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6], rtol=0, atol=0)
    assert not torch.allclose(a[:, 6:], b[:, 6:])
    step_by_step, state = [], None                  # the state (tokens read) gives the same logits, one at a time
    for t in range(10):
        logits, state = model(tokens[:, t:t + 1], state)
        step_by_step.append(logits)
    torch.testing.assert_close(torch.cat(step_by_step, 1), a, rtol=1e-5, atol=1e-5)


def test_in_bf16_its_logits_stay_float32_and_near_the_float32_models():
    torch.manual_seed(0)
    model = CharTransformer(50, d_model=32, n_layers=2, n_heads=2, max_len=12, dropout=0.0).eval()
    tokens = torch.randint(0, 50, (2, 10))
    exact, _ = model(tokens)
    model.autocast_dtype = torch.bfloat16
    lowered, _ = model(tokens)
    assert lowered.dtype == torch.float32
    assert not torch.equal(lowered, exact)                  # the products did run in bf16
    torch.testing.assert_close(lowered, exact, rtol=0, atol=0.05)


def test_it_trains_and_writes_regulated_poems_through_rnnlabs_code(data):
    torch.manual_seed(0)
    untrained = CharTransformer(len(data.vocab), 32, 2, 2, 64, 0.0).eval()
    model, stats = train_peer(data, minutes=10, d_model=32, n_layers=2, n_heads=2, dropout=0.0, lr=3e-3, batch_size=16,
                              warmup=5, max_steps=80)
    assert stats["steps"] == 80
    assert poem_perplexity(model, data.valid, data.vocab.pad) < 0.5 * poem_perplexity(untrained, data.valid, data.vocab.pad)
    poems = generate(model, data.vocab, "", form="wujue", num=3, seed=0)
    assert all(form_of(p) == "wujue" for p in poems)


def test_its_unconstrained_rhyme_and_tones_are_the_rulers(data):
    from benchmarks.char_transformer import unconstrained_rates

    from rnnlab.generate.forms import follows_tones, rhymes
    torch.manual_seed(0)
    model = CharTransformer(len(data.vocab), 16, 1, 2, 66, 0.0).eval()         # <bos>, the form token, a 七律
    rates = unconstrained_rates(model, data, num=8)
    assert set(rates) == {"wujue", "qijue", "wulv", "qilv"}
    poems = generate(model, data.vocab, "", form="qijue", num=8, temperature=0.8, seed=0)
    assert rates["qijue"]["example"] == poems[0]
    assert rates["qijue"]["rhyme"] == sum(map(rhymes, poems)) / 8
    assert rates["qijue"]["tones"] == sum(map(follows_tones, poems)) / 8
