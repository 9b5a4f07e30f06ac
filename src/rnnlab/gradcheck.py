"""`rnnlab gradcheck`: every gradient of the numpy engine, in float64 on tiny shapes, against central
differences and against PyTorch autograd. Returns rows of relative errors; the CLI prints them."""
import numpy as np
import torch

from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel as TorchLM
from rnnlab.nn.lm import sequence_loss
from rnnlab.numpy.gradcheck import numeric_grad, rel_error
from rnnlab.numpy.layers import LSTMLayer, RNNLayer, Stack, softmax_cross_entropy
from rnnlab.numpy.lm import LanguageModel

LIMIT = 1e-7
B, T, I, H, V = 2, 5, 3, 4, 9


def _rows(component, ours, numeric, theirs):
    return [{"component": component, "gradient": name, "vs_numeric": rel_error(g, numeric[name]),
             "vs_torch": rel_error(g, theirs[name])} for name, g in ours.items()]


def check_recurrent(kind, rng):
    """A 2-layer LSTM or RNN stack; loss = weighted sum of all outputs and final states."""
    torch_layers = None
    if kind == "lstm":
        ref = torch.nn.LSTM(I, H, 2, batch_first=True).double()
        weights = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
        stack = Stack([LSTMLayer(*(weights[f"{n}_l{l}"].copy() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
                       for l in range(2)])
        inputs = {"x": rng.standard_normal((B, T, I)), "h0": rng.standard_normal((2, B, H)), "c0": rng.standard_normal((2, B, H))}
    else:
        torch_layers = [[torch.tensor(rng.standard_normal(s) * 0.5, requires_grad=True) for s in ((I if l == 0 else H, H), (H, H), (H,))]
                        for l in range(2)]
        stack = Stack([RNNLayer(*(t.detach().numpy().copy() for t in ws)) for ws in torch_layers])
        inputs = {"x": rng.standard_normal((B, T, I)), "h0": rng.standard_normal((2, B, H))}
    state = lambda: (inputs["h0"], inputs["c0"]) if kind == "lstm" else inputs["h0"]   # noqa: E731
    out, final = stack.forward(inputs["x"], state())
    finals = final if kind == "lstm" else (final,)
    r_out, r_fin = rng.standard_normal(out.shape), [rng.standard_normal(f.shape) for f in finals]

    def loss():
        o, fin = stack.forward(inputs["x"], state())
        return (o * r_out).sum() + sum((f * r).sum() for f, r in zip(fin if kind == "lstm" else (fin,), r_fin))

    stack.forward(inputs["x"], state())
    dx, d0 = stack.backward(r_out, tuple(r_fin) if kind == "lstm" else r_fin[0])
    ours = {name: p.d for name, p in stack.params().items()}
    ours.update(zip(inputs, [dx, *(d0 if kind == "lstm" else (d0,))]))
    arrays = {**{n: p.v for n, p in stack.params().items()}, **inputs}
    numeric = {name: numeric_grad(loss, arrays[name]) for name in ours}

    t_in = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    if kind == "lstm":
        t_out, t_fin = ref(t_in["x"], (t_in["h0"], t_in["c0"]))
        t_params = dict(ref.named_parameters())
    else:
        x, t_fin = t_in["x"], []
        for l, (W, U, b) in enumerate(torch_layers):
            h, outs = t_in["h0"][l], []
            for t in range(T):
                h = torch.tanh(x[:, t] @ W + h @ U + b)
                outs.append(h)
            x = torch.stack(outs, 1)
            t_fin.append(h)
        t_out, t_fin = x, (torch.stack(t_fin),)
        t_params = {f"{n}_l{l}": w for l, ws in enumerate(torch_layers) for n, w in zip("WUb", ws)}
    ((t_out * torch.from_numpy(r_out)).sum() + sum((f * torch.from_numpy(r)).sum() for f, r in zip(t_fin, r_fin))).backward()
    theirs = {**{k: p.grad.numpy() for k, p in t_params.items()}, **{k: v.grad.numpy() for k, v in t_in.items()}}
    return _rows(kind, ours, numeric, theirs)


def check_language_model(rng):
    """The whole model: embedding -> tanh -> 2-layer LSTM -> linear -> masked softmax cross entropy."""
    ref = TorchLM(ModelConfig(vocab_size=V, embed_size=I, hidden_size=H, num_layers=2)).double()
    with torch.no_grad():
        ref.embedding.weight.mul_(10)    # N(0, 1) embeddings: gradients large enough for central differences
    model = LanguageModel(ref.config, {k: v.detach().numpy().copy() for k, v in ref.state_dict().items()})
    inputs = rng.integers(1, V, (B, T))
    targets = rng.integers(1, V, (B, T))
    targets[1, 3:] = 0                                      # padding, masked out
    model.loss_and_backward(inputs, targets, pad=0)
    ours = {name: p.d for name, p in model.params().items()}

    def loss():
        return softmax_cross_entropy(model.forward(inputs)[0], targets, pad=0)[0]

    numeric = {name: numeric_grad(loss, p.v, eps=1e-4) for name, p in model.params().items()}
    total, n = sequence_loss(ref(torch.from_numpy(inputs))[0], torch.from_numpy(targets), pad=0)
    (total / n).backward()
    return _rows("language model", ours, numeric, {k: p.grad.numpy() for k, p in ref.named_parameters()})


def run(seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    return check_recurrent("lstm", rng) + check_recurrent("rnn", rng) + check_language_model(rng)
