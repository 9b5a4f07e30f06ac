"""The numpy language model against central differences and against the torch model, and the
cross-engine contracts: same checkpoint, same perplexity; same SGD step, same parameters."""
import math

import numpy as np
import pytest
import torch

from rnnlab.checkpoint import load_checkpoint
from rnnlab.data.dataset import prepare
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel as TorchLM
from rnnlab.nn.lm import sequence_loss
from rnnlab.numpy import optim
from rnnlab.numpy.gradcheck import numeric_grad, rel_error
from rnnlab.numpy.layers import softmax_cross_entropy
from rnnlab.numpy.lm import LanguageModel, perplexity
from rnnlab.training.perplexity import poem_perplexity as torch_perplexity

TOL = 1e-7


def twins(activation="tanh", num_layers=2, seed=0):
    cfg = ModelConfig(vocab_size=9, embed_size=3, hidden_size=4, num_layers=num_layers, activation=activation)
    torch.manual_seed(seed)
    ref = TorchLM(cfg).double()
    return ref, LanguageModel(cfg, {k: v.detach().numpy().copy() for k, v in ref.state_dict().items()})


BATCH = (np.array([[2, 5, 6, 7, 8], [2, 4, 4, 1, 0]]), np.array([[5, 6, 7, 8, 3], [4, 4, 1, 3, 0]]))


@pytest.mark.parametrize("activation", ["tanh", "relu", "none"])
def test_full_model_gradients_match_central_differences(activation):
    _, model = twins(activation)
    model.embedding.weight.v *= 10     # N(0, 1) embeddings: gradients large enough for central differences
    inputs, targets = BATCH
    model.zero_grad()
    model.loss_and_backward(inputs, targets, pad=0)

    def loss():
        return softmax_cross_entropy(model.forward(inputs)[0], targets, pad=0)[0]

    for name, p in model.params().items():
        # eps 1e-4: the loss is a mean of ~2 nats, so smaller steps drown in float64 rounding
        assert rel_error(p.d, numeric_grad(loss, p.v, eps=1e-4)) <= TOL, name


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_full_model_matches_torch(activation):
    ref, model = twins(activation)
    inputs, targets = BATCH
    logits, _ = model.forward(inputs)
    t_logits = ref(torch.from_numpy(inputs))[0]
    assert rel_error(logits, t_logits.detach().numpy()) <= 1e-12
    model.zero_grad()
    loss, n = model.loss_and_backward(inputs, targets, pad=0)
    t_sum, t_n = sequence_loss(t_logits, torch.from_numpy(targets), pad=0)
    (t_sum / t_n).backward()
    assert n == t_n and abs(loss - t_sum.item() / t_n) <= 1e-12 * loss
    grads = {k: p.grad.numpy() for k, p in ref.named_parameters()}
    for name, p in model.params().items():
        assert rel_error(p.d, grads[name]) <= TOL, name


def test_one_sgd_step_gives_the_same_parameters():
    ref, model = twins()
    inputs, targets = BATCH
    model.zero_grad()
    model.loss_and_backward(inputs, targets, pad=0)
    optim.SGD(model.params().values(), lr=0.5).step()
    t_opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    t_sum, t_n = sequence_loss(ref(torch.from_numpy(inputs))[0], torch.from_numpy(targets), pad=0)
    (t_sum / t_n).backward()
    t_opt.step()
    for name, value in ref.state_dict().items():
        assert rel_error(model.state_dict()[name], value.numpy()) <= 1e-12, name


def test_same_checkpoint_same_perplexity_in_both_engines(tiny_full_run):
    ckpt = load_checkpoint(tiny_full_run.run_dir, dtype=torch.float64)
    data = prepare(ckpt.data_config, vocab=ckpt.vocab)
    weights = {k: v.numpy().copy() for k, v in ckpt.model.state_dict().items()}
    ours = perplexity(LanguageModel(ckpt.model.config, weights), data.valid, ckpt.vocab.pad)
    theirs = torch_perplexity(ckpt.model, data.valid, ckpt.vocab.pad)
    assert math.isfinite(ours) and abs(ours - theirs) <= 1e-6 * theirs


def test_perplexity_of_a_diverged_model_is_inf_not_an_error():
    from rnnlab.data.dataset import Split
    _, model = twins()
    model.decoder.weight.v *= 1e6
    split = Split.from_lists([[2, 5, 6, 7, 8, 3], [2, 4, 4, 1, 3]])
    assert perplexity(model, split, pad=0) == float("inf")
