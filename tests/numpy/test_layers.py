"""Every hand-written backward pass, in float64, against central differences and against torch autograd."""
import numpy as np
import pytest
import torch

from rnnlab.numpy.gradcheck import numeric_grad, rel_error
from rnnlab.numpy.layers import Embedding, Linear, LSTMLayer, RNNLayer, Stack, softmax_cross_entropy

TOL = 1e-7
rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


def lstm_stack(num_layers, I=3, H=4):
    layers = [LSTMLayer(randn(4 * H, I if l == 0 else H) * 0.5, randn(4 * H, H) * 0.5, randn(4 * H) * 0.1, randn(4 * H) * 0.1)
              for l in range(num_layers)]
    return Stack(layers)


def rnn_stack(num_layers, I=3, H=4):
    return Stack([RNNLayer(randn(I if l == 0 else H, H) * 0.5, randn(H, H) * 0.5, randn(H) * 0.1) for l in range(num_layers)])


def check_against_numeric(stack, x, state, seed=1):
    """Loss = weighted sum of outputs and final states; every analytic gradient vs central differences."""
    weights_rng = np.random.default_rng(seed)
    out, final = stack.forward(x, state)
    r_out = weights_rng.standard_normal(out.shape)
    r_final = [weights_rng.standard_normal(f.shape) for f in (final if stack.lstm else (final,))]

    def loss():
        o, fin = stack.forward(x, state)
        fins = fin if stack.lstm else (fin,)
        return (o * r_out).sum() + sum((f * r).sum() for f, r in zip(fins, r_final))

    for p in stack.params().values():
        p.zero_grad()
    stack.forward(x, state)
    dx, dstate = stack.backward(r_out, tuple(r_final) if stack.lstm else r_final[0])
    errors = {name: rel_error(p.d, numeric_grad(loss, p.v)) for name, p in stack.params().items()}
    errors["x"] = rel_error(dx, numeric_grad(loss, x))
    for k, (s, ds) in enumerate(zip(state if stack.lstm else (state,), dstate if stack.lstm else (dstate,))):
        errors[f"state{k}"] = rel_error(ds, numeric_grad(loss, s))
    return errors


@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_backward_matches_central_differences(num_layers):
    stack = lstm_stack(num_layers)
    x = randn(2, 5, 3)
    state = (randn(num_layers, 2, 4), randn(num_layers, 2, 4))
    errors = check_against_numeric(stack, x, state)
    assert max(errors.values()) <= TOL, errors


@pytest.mark.parametrize("num_layers", [1, 2])
def test_rnn_backward_matches_central_differences(num_layers):
    errors = check_against_numeric(rnn_stack(num_layers), randn(2, 5, 3), randn(num_layers, 2, 4))
    assert max(errors.values()) <= TOL, errors


@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_matches_torch_autograd(num_layers):
    stack = lstm_stack(num_layers)
    ref = torch.nn.LSTM(3, 4, num_layers, batch_first=True).double()
    with torch.no_grad():
        for name, p in stack.params().items():
            getattr(ref, name).copy_(torch.from_numpy(p.v))
    x = randn(2, 6, 3)
    h0, c0 = randn(num_layers, 2, 4), randn(num_layers, 2, 4)
    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    t_out, (t_h, t_c) = ref(tx, (th0, tc0))
    out, (h_n, c_n) = stack.forward(x, (h0, c0))
    assert rel_error(out, t_out.detach().numpy()) <= 1e-12
    assert rel_error(c_n, t_c.detach().numpy()) <= 1e-12
    r, rh, rc = randn(*out.shape), randn(*h_n.shape), randn(*c_n.shape)
    ((t_out * torch.from_numpy(r)).sum() + (t_h * torch.from_numpy(rh)).sum() + (t_c * torch.from_numpy(rc)).sum()).backward()
    dx, (dh0, dc0) = stack.backward(r, (rh, rc))
    for name, p in stack.params().items():
        assert rel_error(p.d, getattr(ref, name).grad.numpy()) <= TOL, name
    for mine, theirs in [(dx, tx), (dh0, th0), (dc0, tc0)]:
        assert rel_error(mine, theirs.grad.numpy()) <= TOL


def test_rnn_matches_torch_autograd():
    stack = rnn_stack(1)
    layer = stack.layers[0]
    x, h0 = randn(2, 6, 3), randn(1, 2, 4)
    W, U, b, tx, th0 = (torch.tensor(a, requires_grad=True) for a in (layer.W.v, layer.U.v, layer.b.v, x, h0[0]))
    h, outs = th0, []
    for t in range(6):
        h = torch.tanh(tx[:, t] @ W + h @ U + b)
        outs.append(h)
    r = randn(2, 6, 4)
    (torch.stack(outs, 1) * torch.from_numpy(r)).sum().backward()
    out, _ = stack.forward(x, h0)
    assert rel_error(out, torch.stack(outs, 1).detach().numpy()) <= 1e-12
    dx, dh0 = stack.backward(r, np.zeros((1, 2, 4)))
    for mine, theirs in [(layer.W.d, W), (layer.U.d, U), (layer.b.d, b), (dx, tx), (dh0[0], th0)]:
        assert rel_error(mine, theirs.grad.numpy()) <= TOL


def test_state_carries_over_windows():
    stack = lstm_stack(2)
    x = randn(2, 7, 3)
    zeros = (np.zeros((2, 2, 4)), np.zeros((2, 2, 4)))
    whole, _ = stack.forward(x, zeros)
    first, state = stack.forward(x[:, :3], zeros)
    second, _ = stack.forward(x[:, 3:], state)
    assert np.allclose(np.concatenate([first, second], 1), whole, atol=1e-14, rtol=0)


def test_linear_embedding_and_masked_softmax_against_torch():
    emb, lin = Embedding(randn(7, 3)), Linear(randn(7, 3), randn(7))
    tokens = np.array([[1, 2, 3], [4, 5, 0]])
    targets = np.array([[2, 3, 4], [5, 0, 0]])              # 0 is padding
    logits = lin.forward(emb.forward(tokens))
    loss, dlogits = softmax_cross_entropy(logits, targets, pad=0)
    emb.backward(lin.backward(dlogits))
    E, W, b = (torch.tensor(a, requires_grad=True) for a in (emb.weight.v, lin.weight.v, lin.bias.v))
    t_logits = E[torch.from_numpy(tokens)] @ W.T + b
    t_loss = torch.nn.functional.cross_entropy(t_logits.reshape(-1, 7), torch.from_numpy(targets).reshape(-1), ignore_index=0)
    t_loss.backward()
    assert abs(loss - t_loss.item()) <= 1e-12 * abs(loss)
    for mine, theirs in [(emb.weight.d, E), (lin.weight.d, W), (lin.bias.d, b)]:
        assert rel_error(mine, theirs.grad.numpy()) <= TOL


def test_masked_softmax_against_central_differences():
    logits = randn(2, 3, 5)
    targets = np.array([[1, 2, 0], [3, 0, 0]])
    _, dlogits = softmax_cross_entropy(logits, targets, pad=0)
    numeric = numeric_grad(lambda: softmax_cross_entropy(logits, targets, pad=0)[0], logits)
    assert rel_error(dlogits, numeric) <= TOL
    assert np.all(dlogits[targets == 0] == 0)
