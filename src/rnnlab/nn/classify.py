"""Sequence classifiers for the digit-sum memory task: embedding -> recurrent layer -> linear on the
last hidden state. The recurrent layers are written from their equations (001_*.txt, 003_*.txt)."""
import torch
from torch import nn

from rnnlab.nn.cells import AutogradLSTM


class SimpleRNN(nn.Module):
    """h_t = tanh(x_t W + h_{t-1} U + b), with W (I, H), U (H, H), b (H) as in the textbook."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.W = nn.Parameter(torch.empty(input_size, hidden_size))
        self.U = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.b = nn.Parameter(torch.empty(hidden_size))
        bound = hidden_size ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x, h=None):
        """x (B, T, I) -> all hidden states (B, T, H) and the last one (B, H)."""
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        x_proj = self.input_projection(x)
        outputs = []
        for t in range(x.shape[1]):
            h = self.step(x_proj[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h

    def input_projection(self, x):
        """x_t W + b for all steps in one matmul."""
        return x @ self.W + self.b

    def step(self, x_proj_t, h):
        return torch.tanh(x_proj_t + h @ self.U)


class LSTMLayer(nn.Module):
    """One LSTM layer from the gate equations (rnnlab.nn.cells.AutogradLSTM) with SimpleRNN's interface."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.lstm = AutogradLSTM(input_size, hidden_size)

    def forward(self, x):
        out, (h, _) = self.lstm(x)
        return out, h[0]


RECURRENT = {"rnn": SimpleRNN, "lstm": LSTMLayer}


class DigitSumClassifier(nn.Module):
    """Embedding of the 10 digits -> recurrent layer -> linear over the 19 sums.

    Bidirectional: a second layer reads the sequence backwards; the classifier sees both last states,
    so the backward one has read the first two digits last."""

    def __init__(self, kind="rnn", embed_size=32, hidden_size=32, bidirectional=False, num_classes=19):
        super().__init__()
        self.embedding = nn.Embedding(10, embed_size)
        self.forward_rnn = RECURRENT[kind](embed_size, hidden_size)
        self.backward_rnn = RECURRENT[kind](embed_size, hidden_size) if bidirectional else None
        self.classifier = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, digits):
        x = self.embedding(digits)
        _, last = self.forward_rnn(x)
        if self.backward_rnn is not None:
            _, last_backward = self.backward_rnn(x.flip(1))
            last = torch.cat([last, last_backward], dim=1)
        return self.classifier(last)
