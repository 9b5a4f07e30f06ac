"""AWD-LSTM (Merity, Keskar & Socher 2017; reference 002 §2.3): a stack of single-layer LSTMs with
DropConnect on their recurrent weights and variational dropout everywhere else.

    tokens -> embedding (EmbeddingDropout dropoute) -> LockedDropout(dropouti)
           -> [WeightDrop(LSTM_l, wdrop) -> LockedDropout(dropouth) between layers] x num_layers
           -> LockedDropout(dropout) -> decoder (weight = embedding's when tied)
Layer sizes: every layer has hidden_size units except the last, which has embed_size when the
weights are tied (the decoder then maps embed_size -> vocabulary with the embedding matrix).
`residual` adds a layer's input to its output where the two sizes agree (001: skip connections).
The decoder is a full softmax, or a class-based one (`softmax="class"`, rnnlab.nn.class_softmax).

Same contract as rnnlab.nn.lm.LanguageModel: forward(tokens, state) -> (logits, state), so poems are
generated and evaluated the same way. Training uses features() and loss(), which also give the last
layer's output before and after its dropout (for TAR and AR) and skip the full softmax when classed.
"""
from torch import nn

from rnnlab.nn.cells import make_lstm
from rnnlab.nn.class_softmax import ClassSoftmax
from rnnlab.nn.lm import sequence_loss
from rnnlab.nn.regularize import EmbeddingDropout, LockedDropout, WeightDrop


class AWDLanguageModel(nn.Module):
    def __init__(self, config, token_class=None):
        """`token_class` (V,): each token's class, required when config.softmax == "class"."""
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size)
        self.embedding_dropout = EmbeddingDropout(self.embedding, config.dropoute)
        self.rnns = nn.ModuleList(WeightDrop(make_lstm(config.cell, n_in, n_out), config.wdrop)
                                  for n_in, n_out in config.layer_sizes())
        self.input_dropout = LockedDropout(config.dropouti)
        self.hidden_dropout = LockedDropout(config.dropouth)
        self.output_dropout = LockedDropout(config.dropout)
        n_out = config.layer_sizes()[-1][1]
        if config.softmax == "class":
            self.decoder = ClassSoftmax(n_out, token_class)
            head = self.decoder.token_head
        else:
            self.decoder = head = nn.Linear(n_out, config.vocab_size)
        if config.tied:
            head.weight = self.embedding.weight          # one tensor (Press & Wolf 2017; Inan et al. 2017)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(head.bias)

    def features(self, tokens, state=None):
        """tokens (B, T) -> last layer's output after dropout (B, T, H), state [(h, c) per layer],
        and the same output before dropout."""
        x = self.input_dropout(self.embedding_dropout(tokens))
        new_state = []
        for layer, rnn in enumerate(self.rnns):
            out, s = rnn(x, None if state is None else state[layer])
            new_state.append(s)
            if self.config.residual and out.shape[-1] == x.shape[-1] and layer > 0:
                out = out + x
            raw = out
            x = self.hidden_dropout(out) if layer < len(self.rnns) - 1 else self.output_dropout(out)
        return x, new_state, raw

    def forward(self, tokens, state=None):
        """tokens (B, T) -> logits (B, T, V) (log-probabilities with the class softmax), state."""
        h, state, _ = self.features(tokens, state)
        if self.config.softmax == "class":
            return self.decoder.full_log_prob(h.reshape(-1, h.shape[-1])).view(*h.shape[:2], -1), state
        return self.decoder(h), state

    def summed_loss(self, inputs, targets, ignore_index, state=None):
        """(summed cross entropy of the targets that are not ignore_index, their count, final state)."""
        h, state, _ = self.features(inputs, state)
        return (*self.loss(h, targets, ignore_index), state)

    def loss(self, h, targets, ignore_index):
        """Summed cross entropy of the targets that are not `ignore_index`, and their count."""
        if self.config.softmax == "class":
            keep = targets.reshape(-1) != ignore_index
            logp = self.decoder.log_prob(h.reshape(-1, h.shape[-1])[keep], targets.reshape(-1)[keep])
            return -logp.sum(), int(keep.sum())
        return sequence_loss(self.decoder(h), targets, ignore_index)


def detach_state(state):
    """Cut the graph between BPTT windows while the values carry over."""
    return [tuple(t.detach() for t in s) for s in state]
