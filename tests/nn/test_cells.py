"""The autograd cell is the reference's LSTM written from the gate equations; it must agree
with torch.nn.LSTM (float64) in outputs, final states and gradients, given the same weights."""
import pytest
import torch

from rnnlab.nn.cells import AutogradLSTM, NativeLSTM
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel


def twins(num_layers, seed=0):
    torch.manual_seed(seed)
    a = AutogradLSTM(5, 7, num_layers).double()
    n = NativeLSTM(5, 7, num_layers).double()
    n.load_state_dict(a.state_dict())
    return a, n


def test_same_parameter_names_and_shapes():
    a, n = twins(2)
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in n.state_dict().items()}


@pytest.mark.parametrize("num_layers", [1, 2])
def test_outputs_states_and_gradients_match_nn_lstm(num_layers):
    a, n = twins(num_layers)
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    h0 = torch.randn(num_layers, 3, 7, dtype=torch.float64)
    c0 = torch.randn(num_layers, 3, 7, dtype=torch.float64)
    out_a, (h_a, c_a) = a(x, (h0, c0))
    out_n, (h_n, c_n) = n(x, (h0, c0))
    for mine, theirs in [(out_a, out_n), (h_a, h_n), (c_a, c_n)]:
        assert (mine - theirs).abs().max() <= 1e-12
    weights = torch.randn_like(out_a)
    ((out_a * weights).sum() + h_a.sum() + c_a.sum()).backward()
    ((out_n * weights).sum() + h_n.sum() + c_n.sum()).backward()
    for (name, pa), (_, pn) in zip(a.named_parameters(), n.named_parameters()):
        assert (pa.grad - pn.grad).abs().max() <= 1e-12, name


def test_state_carries_over_windows():
    a, _ = twins(1)
    x = torch.randn(2, 8, 5, dtype=torch.float64)
    whole, _ = a(x)
    first, state = a(x[:, :5])
    second, _ = a(x[:, 5:], state)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-14, rtol=0)


@pytest.mark.parametrize("init", ["uniform", "orthogonal"])
def test_language_models_of_both_cells_agree_in_float64(init):
    cfg = ModelConfig(vocab_size=11, embed_size=6, hidden_size=8, num_layers=2, init=init)
    torch.manual_seed(3)
    native = LanguageModel(cfg).double()
    torch.manual_seed(3)
    auto = LanguageModel(ModelConfig(**{**cfg.to_dict(), "cell": "autograd"})).double()
    # same seed, same names -> same initial weights, whatever the cell
    assert all(torch.equal(p, q) for p, q in zip(native.state_dict().values(), auto.state_dict().values()))
    tokens = torch.randint(0, 11, (4, 9))
    assert (native(tokens)[0] - auto(tokens)[0]).abs().max() <= 1e-10


def test_reference_initialisation_ranges():
    torch.manual_seed(0)
    m = LanguageModel(ModelConfig(vocab_size=50, embed_size=32, hidden_size=64))
    assert m.rnn.weight_hh_l0.abs().max() <= 64 ** -0.5
    assert m.decoder.weight.abs().max() <= 64 ** -0.5
    assert abs(m.embedding.weight.std().item() - 0.1) < 0.01


def test_orthogonal_init_gives_orthogonal_gate_blocks():
    torch.manual_seed(0)
    m = LanguageModel(ModelConfig(vocab_size=10, embed_size=4, hidden_size=6, init="orthogonal"))
    for block in m.rnn.weight_hh_l0.detach().view(4, 6, 6):
        assert torch.allclose(block @ block.T, torch.eye(6), atol=1e-5)
