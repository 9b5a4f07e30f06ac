"""The hand-written BPTT (rnnlab.nn.manual) against finite differences and against nn.LSTM, in float64."""
import pytest
import torch

from rnnlab.nn.cells import ManualLSTM, NativeLSTM
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel, sequence_loss
from rnnlab.nn.manual import LSTMFunction

F64 = torch.float64


def leaf(*shape):
    return torch.randn(*shape, dtype=F64, requires_grad=True)


@pytest.mark.parametrize("with_state", [True, False])
def test_function_passes_gradcheck(with_state):
    torch.manual_seed(0)
    T, B, I, H = 4, 3, 2, 3
    weights = [leaf(4 * H, I), leaf(4 * H, H), leaf(4 * H), leaf(4 * H)]
    if with_state:
        args = [leaf(T, B, I), leaf(B, H), leaf(B, H), *weights]
    else:
        zeros = torch.zeros(B, H, dtype=F64)
        args = [leaf(T, B, I), zeros, zeros, *weights]
    assert torch.autograd.gradcheck(LSTMFunction.apply, args)


def test_function_gradient_through_final_state_only():
    torch.manual_seed(1)
    args = [leaf(3, 2, 2), leaf(2, 3), leaf(2, 3), leaf(12, 2), leaf(12, 3), leaf(12), leaf(12)]
    assert torch.autograd.gradcheck(lambda *a: LSTMFunction.apply(*a)[2], args)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("with_state", [True, False])
def test_module_passes_gradcheck_with_padding(num_layers, with_state):
    """Padded positions run through the cell but their outputs carry no loss: zero incoming gradient."""
    torch.manual_seed(2)
    lstm = ManualLSTM(2, 3, num_layers).double()
    names = [name for name, _ in lstm.named_parameters()]
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=F64).unsqueeze(-1)
    state = (leaf(num_layers, 2, 3), leaf(num_layers, 2, 3)) if with_state else None

    def run(x, *weights):
        out, (h, c) = torch.func.functional_call(lstm, dict(zip(names, weights)), (x, state))
        return out * mask, h, c

    weights = [p.detach().clone().requires_grad_() for p in lstm.parameters()]
    assert torch.autograd.gradcheck(run, [leaf(2, 5, 2), *weights])


@pytest.mark.parametrize("num_layers", [1, 2])
def test_language_model_matches_native_logits_and_gradients(num_layers):
    cfg = ModelConfig(vocab_size=13, embed_size=5, hidden_size=6, num_layers=num_layers, cell="manual")
    torch.manual_seed(4)
    manual = LanguageModel(cfg).double()
    native = LanguageModel(ModelConfig(**{**cfg.to_dict(), "cell": "native"})).double()
    native.load_state_dict(manual.state_dict())
    tokens = torch.randint(0, 13, (3, 8))
    targets = torch.randint(0, 13, (3, 8))
    targets[1, 5:] = 0
    results = []
    for model in (manual, native):
        logits, _ = model(tokens)
        sequence_loss(logits, targets, pad=0)[0].backward()
        results.append((logits, {n: p.grad for n, p in model.named_parameters()}))
    (logits_m, grads_m), (logits_n, grads_n) = results
    assert (logits_m - logits_n).abs().max() <= 1e-10
    for name, g in grads_m.items():
        assert (g - grads_n[name]).abs().max() <= 1e-10, name


def test_state_carries_over_windows_and_matches_native():
    torch.manual_seed(5)
    manual, native = ManualLSTM(3, 4, 2).double(), NativeLSTM(3, 4, 2).double()
    native.load_state_dict(manual.state_dict())
    x = torch.randn(2, 9, 3, dtype=F64)
    first, state = manual(x[:, :4])
    second, (h, c) = manual(x[:, 4:], state)
    whole, (h_n, c_n) = native(x)
    assert (torch.cat([first, second], 1) - whole).abs().max() <= 1e-12
    assert (h - h_n).abs().max() <= 1e-12 and (c - c_n).abs().max() <= 1e-12


def test_training_with_manual_equals_autograd_step_for_step():
    cfg = ModelConfig(vocab_size=11, embed_size=4, hidden_size=5, num_layers=2, cell="manual")
    models = {}
    for cell in ("manual", "autograd"):
        torch.manual_seed(6)
        models[cell] = LanguageModel(ModelConfig(**{**cfg.to_dict(), "cell": cell})).double()
    optims = {cell: torch.optim.Adam(m.parameters(), 1e-2) for cell, m in models.items()}
    gen = torch.Generator().manual_seed(7)
    for _ in range(10):
        tokens = torch.randint(0, 11, (4, 7), generator=gen)
        losses = {}
        for cell, model in models.items():
            loss, n = sequence_loss(model(tokens[:, :-1])[0], tokens[:, 1:], pad=0)
            optims[cell].zero_grad()
            (loss / n).backward()
            optims[cell].step()
            losses[cell] = loss.item()
        assert abs(losses["manual"] - losses["autograd"]) <= 1e-10
    for (name, p), q in zip(models["manual"].named_parameters(), models["autograd"].parameters()):
        assert (p - q).abs().max() <= 1e-10, name


def test_manual_saves_less_than_autograd():
    """Peak memory proxy: the bytes autograd keeps alive for backward after one forward pass."""
    def saved_bytes(cell):
        torch.manual_seed(0)
        model = LanguageModel(ModelConfig(vocab_size=20, embed_size=16, hidden_size=32, cell=cell))
        seen = {}

        def pack(t):
            seen[(t.untyped_storage().data_ptr())] = t.untyped_storage().nbytes()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(torch.randint(0, 20, (8, 30)))
        return sum(seen.values())
    assert saved_bytes("manual") < saved_bytes("autograd")
