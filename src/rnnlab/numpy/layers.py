"""Layers with explicit forward and backward passes. Shapes are batch-first: x is (B, T, I).

Each layer keeps what its backward needs from the last forward call, and its backward *adds*
into the gradients `p.d` of its parameters (so a parameter shared by two uses gets both).
"""
import numpy as np

from rnnlab.numpy.params import Param


def sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)   # = 1 / (1 + e^-x), without overflow warnings


class Embedding:
    def __init__(self, weight):
        self.weight = Param(weight)

    def params(self):
        return {"weight": self.weight}

    def forward(self, tokens):
        self.tokens = tokens
        return self.weight.v[tokens]

    def backward(self, dout):
        # dL/dE = sum_t dL/dx_t · dx_t/dE: row `token` of E receives every gradient of a position holding it
        np.add.at(self.weight.d, self.tokens.reshape(-1), dout.reshape(-1, dout.shape[-1]))


class Linear:
    """y = x W^T + b, with W (out, in) as in torch.nn.Linear."""

    def __init__(self, weight, bias):
        self.weight, self.bias = Param(weight), Param(bias)

    def params(self):
        return {"weight": self.weight, "bias": self.bias}

    def forward(self, x):
        self.x = x
        return x @ self.weight.v.T + self.bias.v

    def backward(self, dout):
        x2, d2 = self.x.reshape(-1, self.x.shape[-1]), dout.reshape(-1, dout.shape[-1])
        self.weight.d += d2.T @ x2                 # dL/dV = sum_t dL/dnet_y,t h_t^T
        self.bias.d += d2.sum(axis=0)              # dL/db_q = sum_t dL/dnet_y,t
        return dout @ self.weight.v


def softmax_cross_entropy(logits, targets, pad):
    """Mean cross entropy over targets != pad, and its gradient dL/dlogits = (softmax - onehot) / count."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    mask = targets != pad
    count = max(int(mask.sum()), 1)
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    loss = -(picked * mask).sum() / count
    dlogits = np.exp(log_probs)
    np.put_along_axis(dlogits, targets[..., None], np.take_along_axis(dlogits, targets[..., None], -1) - 1, -1)
    dlogits *= (mask / count)[..., None]
    return loss, dlogits


class LSTMLayer:
    """One LSTM layer with nn.LSTM's layout: weight_ih (4H, I), weight_hh (4H, H), biases (4H), gates i, f, g, o.

    Forward (reference PART 1, with z_t = [h_{t-1}, x_t] split into the two matmuls):
        a_t = x_t W_ih^T + h_{t-1} W_hh^T + b_ih + b_hh
        i_t, f_t, o_t = sigmoid(a_t[i]), sigmoid(a_t[f]), sigmoid(a_t[o]);   C̄_t = tanh(a_t[g])
        C_t = f_t * C_{t-1} + i_t * C̄_t;   h_t = o_t * tanh(C_t)
    """

    def __init__(self, weight_ih, weight_hh, bias_ih, bias_hh):
        self.weight_ih, self.weight_hh = Param(weight_ih), Param(weight_hh)
        self.bias_ih, self.bias_hh = Param(bias_ih), Param(bias_hh)
        self.hidden_size = self.weight_hh.v.shape[1]

    def params(self):
        return {"weight_ih": self.weight_ih, "weight_hh": self.weight_hh, "bias_ih": self.bias_ih, "bias_hh": self.bias_hh}

    def forward(self, x, h0, c0):
        B, T, _ = x.shape
        H = self.hidden_size
        # the input projection for all time steps in one matmul
        a = (x.reshape(B * T, -1) @ self.weight_ih.v.T + (self.bias_ih.v + self.bias_hh.v)).reshape(B, T, 4 * H)
        h = np.empty((B, T + 1, H), dtype=x.dtype)      # h[:, t + 1] is h_t; h[:, 0] is h_0
        c = np.empty((B, T + 1, H), dtype=x.dtype)
        tanh_c = np.empty((B, T, H), dtype=x.dtype)     # kept for the backward pass
        h[:, 0], c[:, 0] = h0, c0
        w_hh_t = self.weight_hh.v.T
        for t in range(T):
            a_t = a[:, t]
            a_t += h[:, t] @ w_hh_t                       # the recurrence: one matmul per step, four gates fused
            a_t[:, :2 * H] = sigmoid(a_t[:, :2 * H])      # i, f
            a_t[:, 2 * H:3 * H] = np.tanh(a_t[:, 2 * H:3 * H])   # C̄
            a_t[:, 3 * H:] = sigmoid(a_t[:, 3 * H:])      # o
            i, f, g, o = a_t[:, :H], a_t[:, H:2 * H], a_t[:, 2 * H:3 * H], a_t[:, 3 * H:]
            c[:, t + 1] = f * c[:, t] + i * g
            np.tanh(c[:, t + 1], out=tanh_c[:, t])
            np.multiply(o, tanh_c[:, t], out=h[:, t + 1])
        self.x, self.gates, self.h, self.c, self.tanh_c = x, a, h, c, tanh_c
        return h[:, 1:], h[:, T], c[:, T]

    def backward(self, dh_out, dh_n, dc_n):
        """dh_out (B, T, H): dL/dh_t from the layer above; dh_n, dc_n: from beyond the last step.
        Returns dL/dx, dL/dh_0, dL/dC_0."""
        x, gates, h, c = self.x, self.gates, self.h, self.c
        B, T, _ = x.shape
        H = self.hidden_size
        w_hh = self.weight_hh.v
        da = np.empty_like(gates)
        dh_next, dc_next = dh_n, dc_n
        for t in reversed(range(T)):
            i, f, g, o = gates[:, t, :H], gates[:, t, H:2 * H], gates[:, t, 2 * H:3 * H], gates[:, t, 3 * H:]
            tanh_c = self.tanh_c[:, t]
            dh = dh_out[:, t] + dh_next                          # dL/dh_t = output part + (dh_{t+1}/dh_t)^T dL/dh_{t+1}
            dc = dc_next + dh * o * (1 - tanh_c ** 2)            # dL/dC_t = dL/dC_{t+1} f_{t+1} + dL/dh_t o_t (1 - tanh²C_t)
            da_t = da[:, t]
            da_t[:, :H] = dc * g * i * (1 - i)                   # through i_t:  dC_t/di_t = C̄_t
            da_t[:, H:2 * H] = dc * c[:, t] * f * (1 - f)        # through f_t:  dC_t/df_t = C_{t-1}
            da_t[:, 2 * H:3 * H] = dc * i * (1 - g ** 2)         # through C̄_t: dC_t/dC̄_t = i_t
            da_t[:, 3 * H:] = dh * tanh_c * o * (1 - o)          # through o_t:  dh_t/do_t = tanh(C_t)
            dc_next = dc * f
            dh_next = da_t @ w_hh
        da2 = da.reshape(B * T, 4 * H)
        # parameter gradients summed over time, each in one matmul after the loop
        self.weight_ih.d += da2.T @ x.reshape(B * T, -1)
        self.weight_hh.d += da2.T @ h[:, :T].reshape(B * T, H)
        db = da2.sum(axis=0)
        self.bias_ih.d += db
        self.bias_hh.d += db
        dx = (da2 @ self.weight_ih.v).reshape(x.shape)
        return dx, dh_next, dc_next


class RNNLayer:
    """Simple tanh RNN: h_t = tanh(x_t W + h_{t-1} U + b), W (I, H), U (H, H), b (H)."""

    def __init__(self, W, U, b):
        self.W, self.U, self.b = Param(W), Param(U), Param(b)

    def params(self):
        return {"W": self.W, "U": self.U, "b": self.b}

    def forward(self, x, h0):
        B, T, _ = x.shape
        a = (x.reshape(B * T, -1) @ self.W.v + self.b.v).reshape(B, T, -1)
        h = np.empty((B, T + 1, a.shape[-1]), dtype=x.dtype)
        h[:, 0] = h0
        for t in range(T):
            h[:, t + 1] = np.tanh(a[:, t] + h[:, t] @ self.U.v)
        self.x, self.h = x, h
        return h[:, 1:], h[:, T]

    def backward(self, dh_out, dh_n):
        x, h = self.x, self.h
        B, T, _ = x.shape
        da = np.empty_like(dh_out)
        dh_next = dh_n
        for t in reversed(range(T)):
            da[:, t] = (dh_out[:, t] + dh_next) * (1 - h[:, t + 1] ** 2)
            dh_next = da[:, t] @ self.U.v.T
        da2 = da.reshape(B * T, -1)
        self.W.d += x.reshape(B * T, -1).T @ da2
        self.U.d += h[:, :T].reshape(B * T, -1).T @ da2
        self.b.d += da2.sum(axis=0)
        return (da2 @ self.W.v.T).reshape(x.shape), dh_next


class Stack:
    """Layers of one kind on top of each other; states are (layers, B, H) arrays as in torch:
    a pair (h, c) for LSTM layers, h alone for RNN layers. Parameters are named `{name}_l{layer}`."""

    def __init__(self, layers):
        self.layers = layers
        self.lstm = isinstance(layers[0], LSTMLayer)

    def params(self):
        return {f"{name}_l{l}": p for l, layer in enumerate(self.layers) for name, p in layer.params().items()}

    def forward(self, x, state):
        finals = []
        for l, layer in enumerate(self.layers):
            if self.lstm:
                x, h_n, c_n = layer.forward(x, state[0][l], state[1][l])
                finals.append((h_n, c_n))
            else:
                x, h_n = layer.forward(x, state[l])
                finals.append(h_n)
        if self.lstm:
            return x, (np.stack([f[0] for f in finals]), np.stack([f[1] for f in finals]))
        return x, np.stack(finals)

    def backward(self, dout, dstate):
        """dstate: gradient w.r.t. the final state(s); returns dL/dx and dL/d(initial state)."""
        d0 = []
        for l in reversed(range(len(self.layers))):
            if self.lstm:
                dout, dh0, dc0 = self.layers[l].backward(dout, dstate[0][l], dstate[1][l])
                d0.append((dh0, dc0))
            else:
                dout, dh0 = self.layers[l].backward(dout, dstate[l])
                d0.append(dh0)
        d0.reverse()
        if self.lstm:
            return dout, (np.stack([d[0] for d in d0]), np.stack([d[1] for d in d0]))
        return dout, np.stack(d0)
