"""AWD-LSTM model and stream training: tying, residual, carried state, <bos> targets skipped, the lr
scale applied and undone, the class softmax inside the model, the AWD engine."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlab.data.dataset import DataConfig, Split, prepare
from rnnlab.data.stream import batchify
from rnnlab.nn.awd import AWDLanguageModel
from rnnlab.nn.class_softmax import frequency_classes
from rnnlab.nn.configs import AWDConfig
from rnnlab.training.config import OptimConfig, StreamConfig, TrainConfig, build_config
from rnnlab.training.engines import AWDEngine
from rnnlab.training.loop import start_model
from rnnlab.training.perplexity import perplexity, stream_windows
from tests.conftest import POEMS

BOS = 2
NO_DROPOUT = dict(wdrop=0.0, dropout=0, dropouth=0, dropouti=0, dropoute=0)


def tiny(**kw):
    return AWDConfig(**{**dict(vocab_size=30, embed_size=6, hidden_size=10, num_layers=3), **kw})


def stream_perplexity(model, columns, skip, bptt):
    return perplexity(model, stream_windows(columns, bptt), skip, carry=True)


def sgd_engine(model, lr, **cfg):
    """An AWD engine with torch.optim.SGD and no AR/TAR, on `model`."""
    cfg = TrainConfig(model=model.config, optim=OptimConfig(optimizer="sgd", optim_impl="torch", lr=lr),
                      stream=StreamConfig(alpha=0, beta=0), **cfg)
    return AWDEngine(cfg, model, "cpu", type("Vocab", (), {"bos": BOS}))


def classed(seed=0, **kw):
    torch.manual_seed(seed)
    config = tiny(softmax="class", n_classes=4, **kw)
    return AWDLanguageModel(config, frequency_classes(torch.randint(1, 50, (30,)), 4))


def test_tied_weights_are_one_tensor_and_the_last_layer_matches_the_embedding():
    m = AWDLanguageModel(tiny())
    assert m.decoder.weight is m.embedding.weight
    assert [r.module.hidden_size for r in m.rnns] == [10, 10, 6]
    untied = AWDLanguageModel(tiny(tied=False))
    assert untied.decoder.weight is not untied.embedding.weight and untied.rnns[-1].module.hidden_size == 10
    c = classed()
    assert c.decoder.token_head.weight is c.embedding.weight


@pytest.mark.parametrize("cell", ["autograd", "manual", "native"])
def test_cells_agree_in_eval_and_state_carries_over(cell):
    torch.manual_seed(0)
    ref = AWDLanguageModel(tiny(residual=True)).double().eval()
    m = AWDLanguageModel(tiny(residual=True, cell=cell)).double().eval()
    m.load_state_dict(ref.state_dict())
    data = torch.randint(0, 30, (3, 41))
    assert torch.allclose(m(data)[0], ref(data)[0], atol=1e-12)
    # the stream's perplexity does not depend on the window length when the state is carried over
    assert stream_perplexity(m, data, BOS, bptt=7) == pytest.approx(stream_perplexity(m, data, BOS, bptt=40), rel=1e-12)


def test_stream_perplexity_counts_characters_and_eos_but_not_bos():
    """One column: the stream perplexity is exp of the mean cross entropy of every target but <bos>."""
    torch.manual_seed(3)
    m = AWDLanguageModel(tiny()).double().eval()
    split = Split.from_lists([[BOS, 10, 11, 3], [BOS, 12, 3], [BOS, 13, 14, 15, 3]])
    data = torch.from_numpy(batchify(split.tokens, 1)).long()
    logits, _ = m(data[:, :-1])
    targets = data[0, 1:]
    ce = F.cross_entropy(logits[0], targets, reduction="none")
    keep = targets != BOS
    assert int(keep.sum()) == split.n_targets == 9
    assert stream_perplexity(m, data, BOS, bptt=4) == pytest.approx(math.exp(ce[keep].mean().item()), rel=1e-12)


def test_the_class_softmax_model_is_a_distribution_and_its_loss_is_exact():
    m = classed(residual=True).double().eval()
    tokens = torch.randint(0, 30, (2, 9))
    logp, _ = m(tokens)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, 9, dtype=torch.float64), atol=1e-12)
    h, _, _ = m.features(tokens)
    targets = torch.randint(0, 30, (2, 9))
    targets[0, 3] = BOS
    loss, n = m.loss(h, targets, BOS)
    full = F.cross_entropy(logp.reshape(-1, 30), targets.reshape(-1), ignore_index=BOS, reduction="sum")
    assert n == 17 and torch.allclose(loss, full, atol=1e-10)


def test_the_learning_rate_is_scaled_for_the_step_and_restored():
    torch.manual_seed(1)
    m = AWDLanguageModel(tiny(**NO_DROPOUT)).double()
    engine = sgd_engine(m, lr=0.3)
    opt = engine.optimizer
    seen = []
    original = opt.step
    opt.step = lambda *a: (seen.append(opt.param_groups[0]["lr"]), original(*a))[1]
    data = torch.randint(3, 30, (2, 12))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    engine.step((data[:, :-1], data[:, 1:], 0.5))
    assert seen == [0.15] and opt.param_groups[0]["lr"] == 0.3
    # the step taken was lr * scale * gradient
    m2 = AWDLanguageModel(tiny(**NO_DROPOUT)).double()
    m2.load_state_dict(before)
    logits, _ = m2(data[:, :-1])
    F.cross_entropy(logits.reshape(-1, 30), data[:, 1:].reshape(-1)).backward()
    assert torch.allclose(m.decoder.bias, before["decoder.bias"] - 0.15 * m2.decoder.bias.grad, atol=1e-12)


def test_a_non_finite_window_changes_no_weight():
    m = AWDLanguageModel(tiny(**NO_DROPOUT))
    with torch.no_grad():
        m.decoder.bias[4] = float("nan")
    before = {k: v.clone() for k, v in m.state_dict().items()}
    data = torch.randint(3, 30, (2, 12))
    loss, n, norm, _ = sgd_engine(m, lr=1.0, clip_norm=0.25).step((data[:, :-1], data[:, 1:], 1.0))
    assert not math.isfinite(loss) and n == 22
    for k, v in m.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("softmax", ["full", "class"])
def test_the_awd_engine_lowers_validation_perplexity_and_carries_state_within_an_epoch(softmax):
    data = prepare(DataConfig(corpus=POEMS))
    cfg = build_config("awd-small", embed_size=16, hidden_size=32, num_layers=2, batch_size=8, bptt=20, lr=10.0,
                       softmax=softmax, n_classes=10 if softmax == "class" else None, device="cpu")
    torch.manual_seed(2)
    engine = AWDEngine(cfg, start_model(cfg, data), "cpu", data.vocab)
    rng = np.random.default_rng(0)
    first = engine.perplexity(data.valid)
    for _ in range(6):                                               # the class softmax leaves its plateau in epoch 5
        steps = engine.epoch_batches(data.train, rng)
        assert engine.carry is None                                  # each epoch starts from zeros
        assert sum(s[0].shape[1] for s in steps) == len(data.train.tokens) // 8 - 1
        for s in steps:
            engine.step(s)
        engine.optimizer.check(engine.perplexity(data.valid))
    assert engine.carry is not None and not engine.carry[0][0].requires_grad
    assert min(engine.optimizer.history) < first * 0.9     # the class softmax starts near the unigram rate
