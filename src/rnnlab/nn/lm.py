"""The character language model of the reference: embedding -> activation -> LSTM -> linear."""
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.errors import RnnlabError
from rnnlab.nn.cells import CELLS, make_lstm

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "none": lambda x: x}


class LanguageModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        if config.cell not in CELLS:
            raise ValueError(f"unknown cell {config.cell!r}")
        self.config = config
        self.autocast_dtype = None      # torch.bfloat16: the embedding and the LSTM compute in it (training/engines.py)
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size)
        self.rnn = make_lstm(config.cell, config.embed_size, config.hidden_size, config.num_layers, config.dropout)
        if config.softmax == "adaptive":
            cutoffs = list(config.adaptive_cutoffs())
            if not (0 < cutoffs[0] and all(a < b for a, b in zip(cutoffs, cutoffs[1:] + [config.vocab_size]))):
                raise RnnlabError(f"adaptive softmax cutoffs {cutoffs} do not fit a vocabulary of {config.vocab_size}")
            # each cluster further from the head gets a projection 4x smaller (div_value, the paper's setting;
            # less below hidden size 16, so that the last cluster keeps at least one dimension)
            div = min(4.0, config.hidden_size ** (1 / len(cutoffs)))
            self.decoder = nn.AdaptiveLogSoftmaxWithLoss(config.hidden_size, config.vocab_size, cutoffs, div_value=div)
        elif config.softmax == "full":
            self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        else:
            raise ValueError(f"unknown softmax {config.softmax!r}")
        self.reset_parameters()

    def reset_parameters(self):
        """Initialise by parameter name, so every cell gets the same values from the same seed.

        uniform (reference PART 2 §1): weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with
        fan_in = hidden size for the LSTM as in nn.LSTM; embeddings ~ N(0, 0.1).
        orthogonal: the same, but each gate's block of weight_hh is an orthogonal matrix.
        """
        H = self.config.hidden_size
        for name, p in sorted(self.named_parameters()):
            if name == "embedding.weight":
                nn.init.normal_(p, 0.0, 0.1)
            elif name.startswith("rnn."):
                nn.init.uniform_(p, -H ** -0.5, H ** -0.5)
                if self.config.init == "orthogonal" and "weight_hh" in name:
                    with torch.no_grad():
                        for block in p.view(4, H, H):
                            nn.init.orthogonal_(block)
            else:
                bound = self.decoder.in_features ** -0.5
                nn.init.uniform_(p, -bound, bound)

    def features(self, tokens, state=None):
        """tokens (B, T) -> the LSTM's output after dropout (B, T, H), final (h, c). With autocast_dtype set,
        the LSTM's matrix products run in that dtype (the weights stay float32) and its output comes back
        as float32, so the softmax, its log-probabilities and the loss are float32."""
        lower = self.autocast_dtype is not None
        with torch.autocast(tokens.device.type, dtype=self.autocast_dtype or torch.bfloat16, enabled=lower):
            x = ACTIVATIONS[self.config.activation](self.embedding(tokens))
            out, state = self.rnn(x, state)
        if lower:
            out, state = out.float(), tuple(s.float() for s in state)
        return F.dropout(out, self.config.dropout, self.training), state

    def forward(self, tokens, state=None):
        """tokens (B, T) -> logits (B, T, vocab) (the adaptive softmax: exact log-probabilities), final (h, c)."""
        h, state = self.features(tokens, state)
        if self.config.softmax == "adaptive":
            return self.decoder.log_prob(h.reshape(-1, h.shape[-1])).view(*h.shape[:2], -1), state
        return self.decoder(h), state

    def summed_loss(self, inputs, targets, ignore_index, state=None):
        """(summed cross entropy of the targets that are not ignore_index, their count, final state); the
        adaptive softmax computes only the clusters the targets fall in."""
        if self.config.softmax != "adaptive":
            logits, state = self(inputs, state)
            return (*sequence_loss(logits, targets, ignore_index), state)
        h, state = self.features(inputs, state)
        keep = targets.reshape(-1) != ignore_index
        picked = self.decoder(h.reshape(-1, h.shape[-1])[keep], targets.reshape(-1)[keep]).output
        return -picked.sum(), int(keep.sum()), state


@contextmanager
def full_precision(model):
    """The model in float32 for the time of the block (a validation's figure is then exact)."""
    saved, model.autocast_dtype = model.autocast_dtype, None
    try:
        yield model
    finally:
        model.autocast_dtype = saved


def sequence_loss(logits, targets, pad):
    """Summed cross entropy over non-padding targets, and their count (mean = sum / count)."""
    total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad, reduction="sum")
    return total, int((targets != pad).sum())
