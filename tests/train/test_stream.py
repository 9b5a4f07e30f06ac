"""AWD-LSTM model and stream training: tying, residual, carried state, the lr scale applied and undone."""
import numpy as np
import pytest
import torch

from rnnlab.data.dataset import DataConfig, prepare
from rnnlab.data.stream import batchify, join
from rnnlab.nn.awd import AWDConfig, AWDLanguageModel
from rnnlab.optim import NTASGD
from rnnlab.train.stream import stream_perplexity, train_epoch, train_step
from tests.conftest import needs_data


def tiny(**kw):
    return AWDConfig(**{**dict(vocab_size=30, embed_size=6, hidden_size=10, num_layers=3), **kw})


def test_tied_weights_are_one_tensor_and_the_last_layer_matches_the_embedding():
    m = AWDLanguageModel(tiny())
    assert m.decoder.weight is m.embedding.weight
    assert [r.module.hidden_size for r in m.rnns] == [10, 10, 6]
    untied = AWDLanguageModel(tiny(tied=False))
    assert untied.decoder.weight is not untied.embedding.weight and untied.rnns[-1].module.hidden_size == 10


@pytest.mark.parametrize("cell", ["autograd", "manual", "native"])
def test_cells_agree_in_eval_and_state_carries_over(cell):
    torch.manual_seed(0)
    ref = AWDLanguageModel(tiny(residual=True)).double().eval()
    m = AWDLanguageModel(tiny(residual=True, cell=cell)).double().eval()
    m.load_state_dict(ref.state_dict())
    data = torch.randint(0, 30, (3, 41))
    assert torch.allclose(m(data)[0], ref(data)[0], atol=1e-12)
    # the stream's perplexity does not depend on the window length when the state is carried over
    assert stream_perplexity(m, data, bptt=7) == pytest.approx(stream_perplexity(m, data, bptt=40), rel=1e-12)


def test_the_learning_rate_is_scaled_for_the_step_and_restored():
    torch.manual_seed(1)
    m = AWDLanguageModel(tiny(wdrop=0.0, dropout=0, dropouth=0, dropouti=0, dropoute=0)).double()
    opt = torch.optim.SGD(m.parameters(), lr=0.3)
    seen = []
    original = opt.step
    opt.step = lambda *a: (seen.append(opt.param_groups[0]["lr"]), original(*a))[1]
    data = torch.randint(0, 30, (2, 12))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    train_step(m, opt, data[:, :-1], data[:, 1:], None, lr_scale=0.5, alpha=0, beta=0, clip=0)
    assert seen == [0.15] and opt.param_groups[0]["lr"] == 0.3
    # the step taken was lr * scale * gradient
    m2 = AWDLanguageModel(tiny(wdrop=0.0, dropout=0, dropouth=0, dropouti=0, dropoute=0)).double()
    m2.load_state_dict(before)
    logits, _, _ = m2(data[:, :-1])
    torch.nn.functional.cross_entropy(logits.reshape(-1, 30), data[:, 1:].reshape(-1)).backward()
    assert torch.allclose(m.decoder.bias, before["decoder.bias"] - 0.15 * m2.decoder.bias.grad, atol=1e-12)


@needs_data("tangshi.txt")
def test_ntasgd_stream_training_lowers_validation_perplexity():
    data = prepare(DataConfig(corpus="tangshi"))
    train = torch.from_numpy(batchify(join(data.train), 8)).long()
    valid = torch.from_numpy(batchify(join(data.valid), 4)).long()
    torch.manual_seed(2)
    m = AWDLanguageModel(AWDConfig(len(data.vocab), embed_size=16, hidden_size=32, num_layers=2))
    opt = NTASGD(m.parameters(), lr=10.0)
    rng = np.random.default_rng(0)
    first = stream_perplexity(m, valid, bptt=20)
    state = None
    for _ in range(3):
        _, state = train_epoch(m, opt, train, 20, rng, state)
        opt.check(stream_perplexity(m, valid, bptt=20))
    assert min(opt.history) < first * 0.5
