"""AWD-LSTM's regularisers: masks shared where they must be, identity in eval mode, every cell under WeightDrop."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from rnnlab.nn.cells import CELLS
from rnnlab.nn.regularize import (
    EmbeddingDropout,
    LockedDropout,
    WeightDrop,
    activation_regularization,
    dropout,
    temporal_activation_regularization,
)


def test_dropout_drops_each_unit_with_probability_p_in_every_16_bit_lane_and_keeps_the_mean():
    """The mask's draws are 16-bit lanes of 64-bit words: a lane whose top bit were never set (random_()'s
    default range for int64) would drop units at another rate than the rest."""
    torch.manual_seed(0)
    x = torch.ones(64, 4096, dtype=torch.float64)
    for p in (0.3, 0.5):
        out = dropout(x, p)
        assert set(out.unique().tolist()) == {0.0, 65536 / (65536 - round(p * 65536))}
        for lane in range(4):                                 # units 4k + lane share a word's lane
            rate = (out.view(-1, 4)[:, lane] == 0).double().mean().item()
            assert abs(rate - p) < 0.01, (p, lane, rate)
        assert abs(out.mean().item() - 1.0) < 0.01


def test_dropout_is_the_identity_at_p_0_or_out_of_training_and_its_gradient_is_its_mask():
    x = torch.rand(5, 7, 9, dtype=torch.float64, requires_grad=True)
    assert dropout(x, 0.0) is x and dropout(x, 0.4, training=False) is x
    torch.manual_seed(3)
    out = dropout(x, 0.4)
    out.backward(torch.ones_like(out))
    assert set(x.grad.unique().tolist()) == {0.0, 65536 / (65536 - round(0.4 * 65536))}
    assert torch.equal(out, x.detach() * x.grad)                     # each unit's factor, 0 or 1/(1-p), is its gradient
    torch.manual_seed(3)
    assert torch.equal(dropout(x, 0.4), out)                         # the same mask from the same seed
    assert dropout(x, 0.4).shape == x.shape and dropout(x[:, :1, :3], 0.4).shape == (5, 1, 3)   # any count of units


def test_locked_dropout_uses_one_mask_for_all_time_steps():
    torch.manual_seed(0)
    drop = LockedDropout(0.5)
    x = torch.rand(4, 7, 6) + 0.5
    ratio = drop(x) / x
    assert torch.equal(ratio, ratio[:, :1].expand_as(ratio))          # the same for every t
    assert set(ratio.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(drop.eval()(x), x)


def test_embedding_dropout_drops_whole_characters():
    torch.manual_seed(1)
    emb = torch.nn.Embedding(50, 8)
    drop = EmbeddingDropout(emb, p=0.3)
    tokens = torch.arange(50).repeat(3, 1)
    out = drop(tokens)
    dropped = (out == 0).all(-1)
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))        # a character is dropped everywhere
    assert 0 < dropped[0].sum() < 50
    kept = ~dropped[0]
    assert torch.allclose(out[0][kept], emb.weight[kept] / 0.7)
    assert torch.equal(drop.eval()(tokens), emb(tokens))


@pytest.mark.parametrize("cell", list(CELLS))
def test_weight_drop_is_one_dropconnect_mask_per_forward_pass(cell):
    torch.manual_seed(2)
    lstm = CELLS[cell](3, 5, 2).double()
    wd = WeightDrop(lstm, p=0.4)
    names = [n for n, _ in lstm.named_parameters()]
    before = {n: p.detach().clone() for n, p in lstm.named_parameters()}
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.manual_seed(3)
        out, _ = wd(x)
        out.sum().backward()
    # the same as running the LSTM once with the dropped hidden-to-hidden weights, for all steps
    torch.manual_seed(3)
    dropped = {n: F.dropout(getattr(lstm, n), 0.4, True) for n in ("weight_hh_l0", "weight_hh_l1")}
    assert torch.allclose(out, functional_call(lstm, dropped, (x,))[0], atol=1e-12, rtol=0)
    # dropped entries get no gradient; nothing was re-registered or changed
    mask = dropped["weight_hh_l0"] == 0
    assert mask.any() and (lstm.weight_hh_l0.grad[mask] == 0).all()
    assert [n for n, _ in lstm.named_parameters()] == names
    assert all(torch.equal(p, before[n]) for n, p in lstm.named_parameters())
    assert torch.equal(wd.eval()(x)[0], lstm(x)[0])


def test_weight_drop_gives_every_cell_the_same_gradients():
    torch.manual_seed(4)
    ref = CELLS["autograd"](3, 4, 1).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    grads = {}
    for cell in CELLS:
        lstm = CELLS[cell](3, 4, 1).double()
        lstm.load_state_dict(ref.state_dict())
        torch.manual_seed(5)
        WeightDrop(lstm, p=0.5)(x)[0].pow(2).sum().backward()
        grads[cell] = [p.grad for p in lstm.parameters()]
    for cell in ("manual", "native"):
        assert all(torch.allclose(a, b, atol=1e-12, rtol=0) for a, b in zip(grads[cell], grads["autograd"]))


def test_ar_and_tar():
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [3.0, 2.0]]])
    assert activation_regularization(h, 2.0).item() == pytest.approx(2.0 * (1 + 4 + 9 + 16 + 9 + 4) / 6)
    assert temporal_activation_regularization(h, 1.0).item() == pytest.approx((4 + 4 + 0 + 4) / 4)


def test_weight_drop_masks_differ_between_passes_and_the_wrapper_saves_and_reloads():
    torch.manual_seed(6)
    wd = WeightDrop(CELLS["native"](3, 4, 1), p=0.5)
    x = torch.randn(2, 5, 3)
    assert not torch.equal(wd(x)[0], wd(x)[0])
    copy = WeightDrop(CELLS["native"](3, 4, 1), p=0.5)
    copy.load_state_dict(wd.state_dict())
    assert torch.equal(copy.eval()(x)[0], wd.eval()(x)[0])


def tiny_lm(**regularisers):
    from rnnlab.nn.configs import ModelConfig
    from rnnlab.nn.lm import LanguageModel
    torch.manual_seed(7)
    return LanguageModel(ModelConfig(vocab_size=20, embed_size=6, hidden_size=5, num_layers=2, **regularisers)).double()


def test_the_plain_lstms_regularisers_keep_its_weights_names_and_are_off_in_eval_mode():
    plain, regularised = tiny_lm(), tiny_lm(dropouti=0.3, dropoute=0.2, wdrop=0.5, dropout=0.1)
    assert list(regularised.state_dict()) == list(plain.state_dict())      # old checkpoints load as before
    tokens = torch.randint(0, 20, (3, 8))
    assert torch.equal(regularised.eval()(tokens)[0], plain.eval()(tokens)[0])


def test_the_plain_lstms_embedding_dropout_and_weight_drop_are_the_regularise_modules():
    tokens = torch.arange(20).repeat(2, 1)
    model = tiny_lm(dropoute=0.3)
    torch.manual_seed(8)
    out = model.features(tokens)[0]
    torch.manual_seed(8)
    same = EmbeddingDropout(model.embedding, 0.3)(tokens)        # the first draw is the rows' mask
    assert torch.equal(out, tiny_lm().rnn(torch.tanh(same))[0])
    model = tiny_lm(wdrop=0.5)
    torch.manual_seed(9)
    out = model.features(tokens)[0]
    torch.manual_seed(9)
    assert torch.equal(out, WeightDrop(model.rnn, 0.5)(torch.tanh(model.embedding(tokens)))[0])
    out.sum().backward()
    assert (model.rnn.weight_hh_l0.grad == 0).sum() > 0.3 * model.rnn.weight_hh_l0.numel()    # dropped entries


def test_the_plain_lstms_input_dropout_is_locked():
    model, tokens, seen = tiny_lm(dropouti=0.5), torch.randint(0, 20, (3, 8)), []
    model.rnn.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    model.features(tokens)
    ratio = seen[0] / torch.tanh(model.embedding(tokens))
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio))         # one mask per poem, for every step
    assert set(ratio.unique().tolist()) == {0.0, 2.0}
