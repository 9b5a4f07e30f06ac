"""Interchangeable LSTM implementations with one parameter layout: nn.LSTM's.

Per layer l: weight_ih_l{l} (4H x I), weight_hh_l{l} (4H x H), bias_ih_l{l}, bias_hh_l{l} (4H),
gate rows in the order i, f, g, o. So a state_dict written by one cell loads into any other.
Inputs are batch-first: x is (B, T, I); the state (h, c) is a pair of (layers, B, H) tensors.
"""
import torch
from torch import nn

from rnnlab.nn.manual import LSTMFunction


class AutogradLSTM(nn.Module):
    """The LSTM written from its gate equations (reference PART 1), gradients by autograd.

        gates = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh          (four gates in one matmul)
        i, f, o = sigmoid(.), g = tanh(.)      C_t = f * C_{t-1} + i * g      h_t = o * tanh(C_t)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, dropout=0.0):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers, self.dropout = input_size, hidden_size, num_layers, dropout
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{layer}", nn.Parameter(torch.empty(4 * hidden_size, n_in)))
            self.register_parameter(f"weight_hh_l{layer}", nn.Parameter(torch.empty(4 * hidden_size, hidden_size)))
            self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(4 * hidden_size)))
            self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(4 * hidden_size)))
        bound = hidden_size ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_params(self, layer):
        return [getattr(self, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def input_projection(self, x, layer=0):
        """x_t W_ih^T + b_ih + b_hh for all steps at once: (B, T, I) -> (B, T, 4H)."""
        w_ih, _, b_ih, b_hh = self.layer_params(layer)
        return torch.addmm(b_ih + b_hh, x.reshape(-1, x.shape[-1]), w_ih.t()).view(x.shape[0], -1, w_ih.shape[0])

    def step(self, x_proj_t, h, c, layer=0):
        """One time step: the recurrence h_{t-1} W_hh^T and the gates. Returns (h_t, C_t)."""
        gates = torch.addmm(x_proj_t, h, getattr(self, f"weight_hh_l{layer}").t())
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def zero_state(self, x):
        """(h, c) of zeros for the batch of x: where every sequence starts."""
        zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
        return zeros, zeros

    def forward(self, x, state=None):
        state = self.zero_state(x) if state is None else state
        h_out, c_out = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                x = nn.functional.dropout(x, self.dropout, self.training)
            x_proj = self.input_projection(x, layer)
            h, c = state[0][layer], state[1][layer]
            outputs = []
            for t in range(x.shape[1]):
                h, c = self.step(x_proj[:, t], h, c, layer)
                outputs.append(h)
            x = torch.stack(outputs, dim=1)
            h_out.append(h)
            c_out.append(c)
        return x, (torch.stack(h_out), torch.stack(c_out))


class ManualLSTM(AutogradLSTM):
    """The same LSTM with its backward pass written by hand (rnnlab.nn.manual), one Function per layer."""

    def forward(self, x, state=None):
        state = self.zero_state(x) if state is None else state
        x = x.transpose(0, 1)                       # time-major: each step's slice is contiguous
        h_out, c_out = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                x = nn.functional.dropout(x, self.dropout, self.training)
            x, h, c = LSTMFunction.apply(x.contiguous(), state[0][layer], state[1][layer], *self.layer_params(layer))
            h_out.append(h)
            c_out.append(c)
        return x.transpose(0, 1), (torch.stack(h_out), torch.stack(c_out))


class NativeLSTM(nn.LSTM):
    """torch.nn.LSTM (cuDNN on a GPU), batch-first, with the same interface as the other cells."""

    def __init__(self, input_size, hidden_size, num_layers=1, dropout=0.0):
        super().__init__(input_size, hidden_size, num_layers, dropout=dropout, batch_first=True)


CELLS = {"autograd": AutogradLSTM, "manual": ManualLSTM, "native": NativeLSTM}


def make_lstm(cell, input_size, hidden_size, num_layers=1, dropout=0.0):
    """`dropout` acts between stacked layers only, as in nn.LSTM."""
    return CELLS[cell](input_size, hidden_size, num_layers, dropout if num_layers > 1 else 0.0)
