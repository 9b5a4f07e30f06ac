"""Every gate and cell of a trained LSTM while it reads one poem, in either engine.

For each layer and each step t (after reading token t; t = 0 is <bos>), the gate equations of
docs/lstm-backprop.md, with the checkpoint's own weights:

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    i_t, f_t, o_t = sigmoid(a_t[i, f, o]),  g_t = tanh(a_t[g])
    c_t = f_t * c_{t-1} + i_t * g_t,        h_t = o_t * tanh(c_t)

`trace_torch` writes them out in torch ops; `trace_numpy` runs rnnlab.numpy's LSTMLayer (the numpy
engine's forward pass, which keeps its gates for backprop). Both read the weights by the names every
cell shares (weight_ih_l{k}, ...), for the plain LSTM (any cell) and the AWD-LSTM's layers, in float64.
A trace is a list with one dict per layer: {"i", "f", "g", "o", "c", "h"} -> array (T, hidden).
"""
import numpy as np
import torch

from rnnlab.errors import RnnlabError

GATES = ("i", "f", "g", "o")
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def lstm_layers(model):
    """[(W_ih, W_hh, b_ih, b_hh)] per layer: nn/lm.py's stacked LSTM or nn/awd.py's list of layers."""
    if hasattr(model, "rnns"):                                   # AWD-LSTM: one single-layer LSTM per layer
        modules = [(rnn.module, 0) for rnn in model.rnns]
    elif hasattr(model, "rnn"):
        modules = [(model.rnn, k) for k in range(model.config.num_layers)]
    else:
        raise RnnlabError("this checkpoint has no LSTM to inspect")
    return [tuple(getattr(m, f"{name}_l{k}").detach().double() for name in NAMES) for m, k in modules]


def embedded(model, tokens):
    """The first layer's input (T, E): the embedding, through the plain model's activation."""
    from rnnlab.nn.lm import ACTIVATIONS

    with torch.no_grad():
        x = model.embedding.weight.detach().double()[torch.as_tensor(tokens)]
        if getattr(model.config, "prosody_inputs", ()):
            x = x + model.prosody(torch.as_tensor(tokens)[None])[0][0].double()
    return x if hasattr(model, "rnns") else ACTIVATIONS[model.config.activation](x)


def residual(model, layer, out, x):
    """The AWD-LSTM's optional residual connection (nn/awd.py)."""
    if getattr(model.config, "residual", False) and layer > 0 and out.shape[-1] == x.shape[-1]:
        return out + x
    return out


@torch.no_grad()
def trace_torch(model, tokens):
    x, trace = embedded(model, tokens), []
    for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(lstm_layers(model)):
        H = w_hh.shape[1]
        h, c = x.new_zeros(H), x.new_zeros(H)
        steps = {k: [] for k in (*GATES, "c", "h")}
        for x_t in x:
            a = w_ih @ x_t + b_ih + w_hh @ h + b_hh
            i, f, g, o = torch.sigmoid(a[:H]), torch.sigmoid(a[H:2 * H]), torch.tanh(a[2 * H:3 * H]), torch.sigmoid(a[3 * H:])
            c = f * c + i * g
            h = o * torch.tanh(c)
            for k, v in zip(steps, (i, f, g, o, c, h)):
                steps[k].append(v)
        values = {k: torch.stack(v) for k, v in steps.items()}
        trace.append({k: v.numpy() for k, v in values.items()})
        x = residual(model, layer, values["h"], x)
    return trace


def trace_numpy(model, tokens):
    from rnnlab.numpy.layers import LSTMLayer

    x, trace = embedded(model, tokens).numpy()[None], []
    for layer, weights in enumerate(lstm_layers(model)):
        lstm = LSTMLayer(*(w.numpy().copy() for w in weights))
        H = lstm.hidden_size
        zeros = np.zeros((1, H))
        out, _, _ = lstm.forward(x, zeros, zeros)
        gates = lstm.gates[0]                          # (T, 4H): i, f, g, o after their nonlinearities
        trace.append({**{k: gates[:, j * H:(j + 1) * H] for j, k in enumerate(GATES)},
                      "c": lstm.c[0, 1:], "h": lstm.h[0, 1:]})
        x = residual(model, layer, out, x)
    return trace


ENGINES = {"torch": trace_torch, "numpy": trace_numpy}
