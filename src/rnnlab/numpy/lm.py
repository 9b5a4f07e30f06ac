"""The numpy twin of rnnlab.nn.lm.LanguageModel: embedding -> activation -> LSTM stack -> linear,
with the same parameter names, so a torch state_dict (as numpy arrays) is its weights and vice versa."""
import numpy as np

from rnnlab.data.batches import eval_batches, padded_batch
from rnnlab.errors import RnnlabError
from rnnlab.maths import exp_or_inf
from rnnlab.numpy.layers import Embedding, Linear, LSTMLayer, Stack, softmax_cross_entropy

LSTM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class LanguageModel:
    def __init__(self, config, weights):
        """`config`: an rnnlab.nn.lm.ModelConfig; `weights`: {parameter name: array} as in the torch model."""
        if config.dropout:
            raise RnnlabError("the numpy engine has no dropout; use --dropout 0")
        self.config = config
        self.embedding = Embedding(weights["embedding.weight"])
        self.rnn = Stack([LSTMLayer(*(weights[f"rnn.{name}_l{layer}"] for name in LSTM_NAMES))
                          for layer in range(config.num_layers)])
        self.decoder = Linear(weights["decoder.weight"], weights["decoder.bias"])

    def params(self):
        named = {f"embedding.{k}": p for k, p in self.embedding.params().items()}
        named.update({f"rnn.{k}": p for k, p in self.rnn.params().items()})
        named.update({f"decoder.{k}": p for k, p in self.decoder.params().items()})
        return named

    def named_parameters(self):
        """(name, Param) pairs, as a torch module's (the names of the gradient-norm columns)."""
        return self.params().items()

    def state_dict(self):
        return {name: p.v for name, p in self.params().items()}

    def load_state_dict(self, weights):
        """Copy `weights` ({name: array or tensor}, every parameter) into the parameters, in place."""
        for name, p in self.params().items():
            p.v[...] = np.asarray(weights[name])

    def zero_grad(self):
        for p in self.params().values():
            p.zero_grad()

    def forward(self, tokens, state=None):
        """tokens (B, T) -> logits (B, T, vocab), final (h, c)."""
        e = self.embedding.forward(tokens)
        act = self.config.activation
        self.activated = np.tanh(e) if act == "tanh" else np.maximum(e, 0) if act == "relu" else e
        if state is None:
            zeros = np.zeros((self.config.num_layers, tokens.shape[0], self.config.hidden_size), dtype=e.dtype)
            state = (zeros, zeros)
        out, state = self.rnn.forward(self.activated, state)
        return self.decoder.forward(out), state

    def loss_and_backward(self, inputs, targets, pad):
        """Mean cross entropy over non-padding targets; adds its gradients into every p.d. Returns (loss, count)."""
        logits, (h_n, c_n) = self.forward(inputs)
        loss, dlogits = softmax_cross_entropy(logits, targets, pad)
        dout = self.decoder.backward(dlogits)
        dx, _ = self.rnn.backward(dout, (np.zeros_like(h_n), np.zeros_like(c_n)))
        act, y = self.config.activation, self.activated
        de = dx * (1 - y * y) if act == "tanh" else dx * (y > 0) if act == "relu" else dx
        self.embedding.backward(de)
        return loss, int((targets != pad).sum())


def perplexity(model, split, pad, batch_size=256):
    """exp(mean cross entropy per target token), padding excluded, as rnnlab.training.perplexity.poem_perplexity."""
    total, count = 0.0, 0
    for idx in eval_batches(split, batch_size):
        inputs, targets = padded_batch(split, idx, pad)
        loss, _ = softmax_cross_entropy(model.forward(inputs)[0], targets, pad)
        n = int((targets != pad).sum())
        total, count = total + loss * n, count + n
    return exp_or_inf(total / count) if count else float("nan")

