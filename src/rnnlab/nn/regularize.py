"""AWD-LSTM's regularisers (Merity, Keskar & Socher 2017; reference 002 §2.3) as small modules.

    LockedDropout     variational dropout (Gal & Ghahramani 2016): one mask per sequence, the same at
                      every time step, on (B, T, H) activations
    EmbeddingDropout  drops whole rows of the embedding matrix (a character disappears from the whole
                      batch), the kept rows scaled by 1/(1-p)
    WeightDrop        DropConnect on an LSTM's hidden-to-hidden weights: one mask per forward pass,
                      shared by all time steps; eval mode uses the full weights
    activation_regularization, temporal_activation_regularization   AR and TAR penalties

and `dropout`, plain dropout with a cheaper mask.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

LEVELS = 2 ** 16        # dropout's draws are 16-bit: its probability is rounded to a multiple of 1/65536


def dropout(x, p, training=True):
    """F.dropout(x, p, training), its mask drawn as 16-bit integers, four from each 64-bit random number:
    on a CPU 4x fewer draws than F.dropout's one float Bernoulli per unit, which took a tenth of the default's
    step (benchmarks/step_parts.py). A unit is dropped with probability round(p * 65536) / 65536, and
    the rest scaled so that the expectation stays x."""
    if not training or p == 0:
        return x
    dropped = round(p * LEVELS)
    words = x.new_empty(-(-x.numel() // 4), dtype=torch.int64).random_(-2 ** 63, None)   # all 64 bits random
    draws = words.view(torch.int16)[:x.numel()].view(x.shape)                          # uniform on -32768..32767
    keep = (draws >= dropped - LEVELS // 2).to(x.dtype)                                 # (LEVELS - dropped) of LEVELS
    return x * keep.mul_(LEVELS / (LEVELS - dropped))


class LockedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        """x (B, T, H): each (sequence, unit) is kept or dropped for all T steps."""
        if not self.training or self.p == 0:
            return x
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask


class EmbeddingDropout(nn.Module):
    """Wraps an nn.Embedding; in training mode each row is dropped with probability p."""

    def __init__(self, embedding, p=0.1):
        super().__init__()
        self.embedding, self.p = embedding, p

    def forward(self, tokens):
        return embed_dropped(self.embedding, tokens, self.p if self.training else 0.0)


def embed_dropped(embedding, tokens, p):
    """embedding(tokens) with each row of its matrix dropped with probability p for this call."""
    weight = embedding.weight
    if p > 0:
        weight = weight * (weight.new_empty(weight.shape[0], 1).bernoulli_(1 - p) / (1 - p))
    return F.embedding(tokens, weight, embedding.padding_idx)


class WeightDrop(nn.Module):
    """Wraps an LSTM (any rnnlab cell) and drops entries of its weight_hh_l{k} for each forward pass.

    The wrapped module keeps its parameters; the dropped weights are passed in for one call with
    torch.func.functional_call, so nothing is re-registered and the module is never left modified.
    """

    def __init__(self, module, p=0.5, names=None):
        super().__init__()
        self.module, self.p = module, p
        self.names = names or [n for n, _ in module.named_parameters() if n.startswith("weight_hh")]

    def forward(self, *args):
        if not self.training or self.p == 0:
            return self.module(*args)
        return drop_connect(self.module, self.p, self.names, args)


def drop_connect(module, p, names, args):
    """module(*args) with each parameter in `names` dropped out (entries zeroed with probability p, the
    rest scaled by 1/(1-p)) for this call only."""
    dropped = {name: F.dropout(getattr(module, name), p, training=True) for name in names}
    return functional_call(module, dropped, args, strict=False)


def activation_regularization(h, alpha):
    """AR: alpha * mean(h^2), on the (dropped-out) output of the last layer."""
    return alpha * h.pow(2).mean()


def temporal_activation_regularization(h, beta):
    """TAR: beta * mean((h_t - h_{t+1})^2), on the last layer's output before dropout; h is (B, T, H)."""
    return beta * (h[:, 1:] - h[:, :-1]).pow(2).mean()
