"""The plain LSTM's adaptive softmax (Grave et al. 2017): cheap training loss, exact distribution.
Its log-probabilities are a distribution over the whole vocabulary, and the training loss equals the
cross entropy of that distribution, so perplexity and generation stay exact."""
import math

import pytest
import torch
import torch.nn.functional as F

from rnnlab.errors import RnnlabError
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel
from rnnlab.training.config import build_config

V = 97


def adaptive(dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    return LanguageModel(ModelConfig(vocab_size=V, embed_size=6, hidden_size=32, softmax="adaptive", **kw)).to(dtype).eval()


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_rows_are_distributions_over_the_whole_vocabulary(dtype, tol):
    logp, _ = adaptive(dtype)(torch.randint(0, V, (3, 7)))
    assert logp.shape == (3, 7, V)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 7, dtype=dtype), atol=tol, rtol=0)


def test_the_training_loss_is_the_cross_entropy_of_the_full_distribution():
    m = adaptive(cutoffs=(5, 30))
    assert m.decoder.cutoffs == [5, 30, V]
    inputs, targets = torch.randint(0, V, (4, 9)), torch.randint(1, V, (4, 9))
    targets[0, :3] = 0                                                  # padding, left out
    loss, n, _ = m.summed_loss(inputs, targets, 0)
    logp, _ = m(inputs)
    explicit = F.nll_loss(logp.reshape(-1, V), targets.reshape(-1), ignore_index=0, reduction="sum")
    assert n == 33 and loss.item() == pytest.approx(explicit.item(), rel=1e-12)
    assert math.isfinite(loss.item())


def test_default_cutoffs_follow_the_vocabulary_and_bad_ones_are_refused():
    assert adaptive().decoder.cutoffs == [10, 39, V]
    with pytest.raises(RnnlabError, match="do not fit a vocabulary of 97"):
        adaptive(cutoffs=(50, 120))


@pytest.mark.parametrize("options, match", [
    (dict(softmax="class"), "--softmax class is for AWD-LSTM"),
    (dict(preset="awd-small", softmax="adaptive"), "--softmax adaptive is for the plain LSTM"),
    (dict(engine="numpy", softmax="adaptive"), "the numpy engine has a full softmax only"),
])
def test_each_architecture_and_engine_takes_its_own_softmaxes(options, match):
    with pytest.raises(RnnlabError, match=match):
        build_config(options.pop("preset", "seed-large"), **options)
