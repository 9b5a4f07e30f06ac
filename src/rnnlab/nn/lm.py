"""The character language model of the reference: embedding -> activation -> LSTM -> linear.

Its regularisers are AWD-LSTM's modules (nn/regularize.py), all off by default: embedding dropout
(dropoute) and locked dropout (dropouti) on the input, DropConnect on the recurrent weights (wdrop),
dropout between layers and on the output (dropout). With `tied` the output vectors are the embedding's
(a full softmax's weight, or the adaptive softmax of adaptive_softmax.py). With `prosody_inputs` the embedding of each
character read gets its prosody added (nn/prosody_inputs.py), and the state is (h, c, counters)."""
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.errors import RnnlabError
from rnnlab.nn.adaptive_softmax import TiedAdaptiveSoftmax
from rnnlab.nn.cells import CELLS, make_lstm
from rnnlab.nn.prosody_inputs import TONE_CLASSES, ProsodyInputs
from rnnlab.nn.regularize import LockedDropout, drop_connect, dropout, embed_dropped

# In bf16 the tied softmax pads the rows of its products to a multiple of this (nn/adaptive_softmax.py), so
# that oneDNN meets a few shapes, each compiled once, instead of a new one at every step.
ROW_MULTIPLE = 512
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "none": lambda x: x}


class LanguageModel(nn.Module):
    def __init__(self, config, prosody_tables=None):
        """prosody_tables: nn/prosody_inputs.prosody_tables(vocab), needed with config.prosody_inputs."""
        super().__init__()
        if config.cell not in CELLS:
            raise ValueError(f"unknown cell {config.cell!r}")
        self.config = config
        self.autocast_dtype = None      # torch.bfloat16: the embedding and the LSTM compute in it (training/engines.py)
        self.held_output_vectors = None    # set inside output_vectors_fixed(): the tied output vectors, computed once
        self.embedding = nn.Embedding(config.vocab_size, config.embed_size)
        self.input_dropout = LockedDropout(config.dropouti)
        if config.prosody_inputs or config.prosody_loss:
            if prosody_tables is None:
                raise RnnlabError("a model with prosody inputs or loss needs the prosody tables of its vocabulary")
            self.prosody = ProsodyInputs(config.prosody_inputs, config.embed_size, prosody_tables, pad=0)  # <pad> is id 0
        if config.prosody_loss:
            self.prosody_head = nn.Linear(config.hidden_size, len(TONE_CLASSES) + prosody_tables["groups"].shape[1])
        if config.tied_prosody and not (config.tied and config.softmax == "adaptive"
                                        and {"tones", "rhyme"} & set(config.prosody_inputs)):
            raise RnnlabError("--tied-prosody needs --tied, --softmax adaptive and the tones or rhyme prosody inputs")
        self.rnn = make_lstm(config.cell, config.embed_size, config.hidden_size, config.num_layers, config.dropout)
        self.recurrent_weights = [n for n, _ in self.rnn.named_parameters() if n.startswith("weight_hh")]
        out_size = config.output_size()          # tied: the LSTM's output is projected to the embedding's size
        self.output_projection = nn.Linear(config.hidden_size, out_size, bias=False) if out_size != config.hidden_size else None
        if config.softmax == "adaptive":
            cutoffs = list(config.adaptive_cutoffs())
            if not (0 < cutoffs[0] and all(a < b for a, b in zip(cutoffs, cutoffs[1:] + [config.vocab_size]))):
                raise RnnlabError(f"adaptive softmax cutoffs {cutoffs} do not fit a vocabulary of {config.vocab_size}")
            if config.tied:
                self.decoder = TiedAdaptiveSoftmax(out_size, config.vocab_size, cutoffs)
            else:
                # each cluster further from the head gets a projection 4x smaller (div_value, the paper's setting;
                # less below hidden size 16, so that the last cluster keeps at least one dimension)
                div = min(4.0, out_size ** (1 / len(cutoffs)))
                self.decoder = nn.AdaptiveLogSoftmaxWithLoss(out_size, config.vocab_size, cutoffs, div_value=div)
        elif config.softmax == "full":
            self.decoder = nn.Linear(out_size, config.vocab_size)
            if config.tied:
                self.decoder.weight = self.embedding.weight          # one tensor (Press & Wolf 2017)
        else:
            raise ValueError(f"unknown softmax {config.softmax!r}")
        self.reset_parameters()

    def reset_parameters(self):
        """Initialise by parameter name, so every cell gets the same values from the same seed.

        uniform (reference PART 2 §1): weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with
        fan_in = hidden size for the LSTM as in nn.LSTM; embeddings (the prosody inputs' too) ~ N(0, 0.1).
        orthogonal: the same, but each gate's block of weight_hh is an orthogonal matrix.
        """
        H = self.config.hidden_size
        for name, p in sorted(self.named_parameters()):
            if name == "embedding.weight" or name.startswith("prosody."):        # the prosody inputs' embeddings too
                nn.init.normal_(p, 0.0, 0.1)
            elif name.startswith("decoder.projections."):                          # tied clusters start as the head
                nn.init.eye_(p)
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
        as float32, so the log-probabilities and the loss are float32 (adaptive_log_probs)."""
        lower, config = self.autocast_dtype is not None, self.config
        counters = state[2] if state is not None and len(state) == 3 else None
        with self.lowered(tokens):
            x, counters = self.inputs(tokens, counters)
            x = self.input_dropout(x)
            state = None if state is None else state[:2]
            if self.training and config.wdrop:
                out, state = drop_connect(self.rnn, config.wdrop, self.recurrent_weights, (x, state))
            else:
                out, state = self.rnn(x, state)
        if lower:
            out, state = out.float(), tuple(s.float() for s in state)
        state = (*state, counters) if counters is not None else state
        return dropout(out, config.dropout, self.training), state

    def inputs(self, tokens, counters=None):
        """The LSTM's input (B, T, E): the characters' embeddings (with their prosody's added), through the
        activation; and the prosody's counters after them (None without prosody inputs)."""
        x = embed_dropped(self.embedding, tokens, self.config.dropoute if self.training else 0.0)
        if self.config.prosody_inputs:
            prosody, counters = self.prosody(tokens, counters)
            x = x + prosody
        return ACTIVATIONS[self.config.activation](x), counters

    def forward(self, tokens, state=None):
        """tokens (B, T) -> logits (B, T, vocab) (the adaptive softmax: exact log-probabilities), final (h, c)."""
        h, state = self.features(tokens, state)
        h = self.to_output(h)
        if self.config.softmax == "adaptive":
            return self.adaptive_log_probs(h.reshape(-1, h.shape[-1])).view(*h.shape[:2], -1), state
        return self.decoder(h), state

    def to_output(self, h):
        """The LSTM's output in the output vectors' space (the embedding's, when tied and the sizes differ)."""
        return h if self.output_projection is None else self.output_projection(h)

    def adaptive_log_probs(self, h, targets=None):
        """The adaptive softmax's log-probabilities: of every character (N, V), or of each target (N,). Tied and
        with autocast_dtype set, its matrix products run in that dtype and its log-softmaxes in float32."""
        if self.config.tied:
            weight = self.output_vectors()
            with self.lowered(h):
                if targets is None:
                    return self.decoder.log_prob(h, weight)
                return self.decoder.target_log_prob(h, targets, weight, ROW_MULTIPLE if self.autocast_dtype else 1)
        return self.decoder.log_prob(h) if targets is None else self.decoder(h, targets).output

    def lowered(self, tensor):
        """autocast to autocast_dtype on the tensor's device, or nothing when it is None."""
        return torch.autocast(tensor.device.type, dtype=self.autocast_dtype or torch.bfloat16,
                              enabled=self.autocast_dtype is not None)

    def output_vectors(self):
        """Tied: the characters' output vectors (V, E), their embedding rows; with tied_prosody each row plus
        the tone's and rhyme groups' vectors that the prosody inputs add when the character is read."""
        if self.held_output_vectors is not None:
            return self.held_output_vectors
        if self.config.tied_prosody:
            return self.embedding.weight + self.prosody.character_vectors()
        return self.embedding.weight

    @contextmanager
    def output_vectors_fixed(self):
        """For a block that does not change the weights (generation: one step per character): the tied output
        vectors computed once, not at every step."""
        saved = self.held_output_vectors
        with torch.no_grad():
            self.held_output_vectors = self.output_vectors() if self.config.tied else None
        try:
            yield self
        finally:
            self.held_output_vectors = saved

    def summed_loss(self, inputs, targets, ignore_index, state=None):
        """(summed cross entropy of the targets that are not ignore_index, their count, final state); the
        adaptive softmax computes only the clusters the targets fall in."""
        h, state = self.features(inputs, state)
        return (*self.loss(*counted_rows(h, targets, ignore_index)), state)

    def objective(self, inputs, targets, ignore_index, state=None):
        """What training minimises, summed over the targets: (the cross entropy plus prosody_loss times the
        prosody head's, the cross entropy alone, the number of targets, the final state)."""
        h, state = self.features(inputs, state)
        h, targets = counted_rows(h, targets, ignore_index)
        loss_sum, n = self.loss(h, targets)
        if not self.config.prosody_loss:
            return loss_sum, loss_sum, n, state
        extra = self.prosody.next_character_loss(self.prosody_head(h), targets)
        return loss_sum + self.config.prosody_loss * extra, loss_sum, n, state

    def restart(self, state, fresh):
        """`state` (h, c[, counters]) with the rows where `fresh` (B,) is True back where a poem starts: h and c
        zero, the prosody's counters as before any character (a poem read in windows, training/engines.py)."""
        keep = ~fresh.view(1, -1, 1)
        h, c = (torch.where(keep, s, 0.0) for s in state[:2])
        if len(state) == 2:
            return h, c
        return h, c, torch.where(keep, state[2], self.prosody.start(fresh[:, None]))

    def loss(self, h, targets):
        """The summed cross entropy of the targets (N,) given their features h (N, H) (counted_rows), and the
        count of those that are characters: a form token's cost is in the sum, but the perplexity stays per
        character, comparable with a model without form tokens."""
        forms = int((targets >= self.config.vocab_size - self.config.form_tokens).sum()) if self.config.form_tokens else 0
        h = self.to_output(h)
        if self.config.softmax != "adaptive":
            total = F.cross_entropy(self.decoder(h), targets, reduction="sum")
        else:
            total = -self.adaptive_log_probs(h, targets).sum()
        return total, len(targets) - forms


def counted_rows(h, targets, ignore_index):
    """h (B, T, H), targets (B, T) -> the rows of h whose target is not ignore_index (N, H), and those targets
    (N,). index_select, not a boolean mask: on a CPU index_select and its backward (index_add) took
    3.4x less time than the mask's (benchmarks/step_parts.py)."""
    rows = (targets.reshape(-1) != ignore_index).nonzero().squeeze(1)
    return h.reshape(-1, h.shape[-1]).index_select(0, rows), targets.reshape(-1).index_select(0, rows)


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
