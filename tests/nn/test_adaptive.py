"""The plain LSTM's adaptive softmax (Grave et al. 2017): cheap training loss, exact distribution.
Its log-probabilities are a distribution over the whole vocabulary, and the training loss equals the
cross entropy of that distribution, so perplexity and generation stay exact."""
import math

import pytest
import torch
import torch.nn.functional as F

from rnnlab.errors import RnnlabError
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import ROW_MULTIPLE, LanguageModel
from rnnlab.training.config import build_config

V = 97


def adaptive(dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    return LanguageModel(ModelConfig(**{"vocab_size": V, "embed_size": 6, "hidden_size": 32, "softmax": "adaptive",
                                        **kw})).to(dtype).eval()


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


def tied(dtype=torch.float64, seed=0, **kw):
    return adaptive(dtype, seed, tied=True, **{"embed_size": 32, **kw})


def test_tied_rows_are_distributions_and_the_loss_is_their_cross_entropy():
    m = tied(cutoffs=(5, 30))
    inputs, targets = torch.randint(0, V, (4, 9)), torch.randint(1, V, (4, 9))
    targets[1, 4:] = 0
    logp, _ = m(inputs)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(4, 9, dtype=torch.float64), atol=1e-12, rtol=0)
    loss, n, _ = m.summed_loss(inputs, targets, 0)
    explicit = F.nll_loss(logp.reshape(-1, V), targets.reshape(-1), ignore_index=0, reduction="sum")
    assert n == 31 and loss.item() == pytest.approx(explicit.item(), rel=1e-12)


def test_tied_log_probabilities_follow_the_two_level_formula_with_the_embedding_as_output_vectors():
    """p(w) = p(its cluster | h) p(w | cluster, h), written out one character at a time with the embedding's
    rows, the head's cluster scores and each cluster's projection (nn/adaptive_softmax.py's docstring)."""
    m = tied(cutoffs=(5, 30))
    with torch.no_grad():                       # away from their starting values (identity, zero bias)
        for p in m.decoder.parameters():
            p.add_(0.3 * torch.randn_like(p))
    h = torch.randn(3, 32, dtype=torch.float64)
    E, b, (U, d) = m.embedding.weight, m.decoder.bias, (m.decoder.cluster_scores.weight, m.decoder.cluster_scores.bias)
    P = [p.weight for p in m.decoder.projections]
    bounds = [0, 5, 30, V]
    head = torch.cat([h @ E[:5].T + b[:5], h @ U.T + d], 1).exp()
    head = head / head.sum(1, keepdim=True)
    expected = torch.empty(3, V, dtype=torch.float64)
    for w in range(V):
        k = sum(w >= c for c in bounds[1:-1])
        if k == 0:
            expected[:, w] = head[:, w]
        else:
            scores = (h @ P[k - 1].T) @ E[bounds[k]:bounds[k + 1]].T + b[bounds[k]:bounds[k + 1]]
            expected[:, w] = head[:, 5 + k - 1] * scores.exp()[:, w - bounds[k]] / scores.exp().sum(1)
    got = m.adaptive_log_probs(h).exp()
    assert torch.allclose(got, expected, rtol=1e-12, atol=0)
    targets = torch.tensor([2, 17, 90])
    assert torch.allclose(m.adaptive_log_probs(h, targets), got[torch.arange(3), targets].log(), rtol=1e-12, atol=0)
    assert not any(p is E for p in m.decoder.parameters())              # stored once: the model's embedding


def test_rows_rounded_up_change_no_log_probability_and_no_gradient():
    """In bf16 the tied softmax pads its products' rows with zeros (nn/adaptive_softmax.py): the rows added are
    left out, so every target's log p and every gradient is as without them (float64)."""
    m = tied(cutoffs=(5, 30))
    h = torch.randn(13, 32, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([2, 17, 90, 0, 4, 29, 30, 96, 5, 11, 60, 1, 3])        # every cluster, both edges
    weights = [h, m.embedding.weight, *m.decoder.parameters()]
    plain = m.decoder.target_log_prob(h, targets, m.output_vectors())
    rounded = m.decoder.target_log_prob(h, targets, m.output_vectors(), row_multiple=8)
    assert rounded.shape == (13,) and torch.allclose(rounded, plain, rtol=1e-12, atol=0)
    for a, b in zip(torch.autograd.grad(plain.sum(), weights), torch.autograd.grad(rounded.sum(), weights)):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-15)


def test_in_bf16_the_softmax_products_have_rows_in_multiples_of_row_multiple():
    """oneDNN compiles a bf16 product's kernel for each new shape; the real targets are a new number each
    step, so their rows are rounded up (benchmarks/train_memory.py); float32 needs no rounding."""
    m = tied(torch.float32, cutoffs=(5, 30))
    seen = []
    for layer in (m.decoder.cluster_scores, *m.decoder.projections):
        layer.register_forward_pre_hook(lambda _, args: seen.append(len(args[0])))
    inputs, targets = torch.randint(0, V, (4, 9)), torch.randint(1, V, (4, 9))
    targets[1, 4:] = 0
    m.summed_loss(inputs, targets, 0)
    assert seen[0] == 31 and all(n < ROW_MULTIPLE for n in seen)
    seen.clear()
    m.autocast_dtype = torch.bfloat16
    m.summed_loss(inputs, targets, 0)
    assert len(seen) == 3 and all(n == ROW_MULTIPLE for n in seen)


def test_tied_with_a_smaller_embedding_projects_the_output_into_its_space():
    m = tied(embed_size=8, cutoffs=(5, 30))
    assert m.output_projection.weight.shape == (8, 32) and m.decoder.projections[0].weight.shape == (8, 8)
    inputs, targets = torch.randint(0, V, (2, 5)), torch.randint(1, V, (2, 5))
    logp, _ = m(inputs)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, 5, dtype=torch.float64), atol=1e-12, rtol=0)
    explicit = F.nll_loss(logp.reshape(-1, V), targets.reshape(-1), reduction="sum")
    assert m.summed_loss(inputs, targets, 0)[0].item() == pytest.approx(explicit.item(), rel=1e-12)
    with pytest.raises(RnnlabError, match="--tied is not used by this run: it needs the torch engine"):
        build_config("seed-large", tied=True, engine="numpy")


def test_a_tied_run_trains_saves_and_loads_with_one_embedding(capsys, tmp_path):
    """`rnnlab train --tied` (the default's adaptive softmax): the checkpoint rebuilds the same model, whose
    output vectors are its embedding, and `eval` scores it."""
    import json

    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.nn.adaptive_softmax import TiedAdaptiveSoftmax
    from tests.conftest import POEMS
    from tests.test_cli import TINY, run

    code, out, err = run(capsys, "train", "--corpus", POEMS, *TINY, "--tied", "--max-steps", "3", "--out", tmp_path / "r")
    assert code == 0, err
    ckpt = load_checkpoint(tmp_path / "r", dtype=torch.float64)
    assert isinstance(ckpt.model.decoder, TiedAdaptiveSoftmax) and ckpt.model.config.tied
    assert ckpt.model.output_projection.weight.shape == (8, 12)                      # TINY: embedding 8, hidden 12
    code, out, err = run(capsys, "eval", "--checkpoint", tmp_path / "r", "--corpus", POEMS, "--split", "valid",
                         "--float64", "--json")
    assert code == 0, err
    assert json.loads(out)["perplexity"] == pytest.approx(ckpt.perplexity(POEMS, "valid"), rel=1e-10)
