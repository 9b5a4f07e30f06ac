"""One config per architecture, free of torch so that the command line and the training config can use
them without loading it: ModelConfig for the reference's LSTM language model (lm.py), AWDConfig for
the AWD-LSTM (awd.py). A checkpoint's config.json holds one of them. Their fields are the model
options of `rnnlab train` (options.py); the name tables below are the ones the models are built from."""
from dataclasses import asdict, dataclass

from rnnlab.options import option

CELLS = ("autograd", "manual", "native")     # nn/cells.py: the gate equations, hand-written BPTT, nn.LSTM
ACTIVATIONS = ("tanh", "relu", "none")       # nn/lm.py: on the embeddings
INITS = ("uniform", "orthogonal")
PROSODY_INPUTS = ("position", "tones", "rhyme", "pattern")   # nn/prosody_inputs.py: what the plain LSTM is told of each character read
AWD_SECTION = "AWD-LSTM (with --preset awd or awd-small: stream training in BPTT windows)"     # a help section


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 0           # 0 in a training config, until the data gives the vocabulary
    embed_size: int = option(256, "embedding (input) size", bounds="positive_int", group="model")
    hidden_size: int = option(512, "LSTM hidden size", bounds="positive_int", group="model")
    num_layers: int = option(1, "stacked LSTM layers", bounds="positive_int", group="model")
    cell: str = option("native", "LSTM implementation: autograd (the gate equations), manual (hand-written BPTT) "
                                 "or native (nn.LSTM)", choices=CELLS, group="model")
    activation: str = option("tanh", "applied to the embeddings, plain LSTM", choices=ACTIVATIONS, group="model")
    dropout: float = option(0.0, "dropout on the last LSTM layer's output; plain LSTM: also between layers, "
                                 "AWD-LSTM: locked (between layers: --dropouth)", bounds="probability", group="model")
    dropouti: float = option(0.0, "locked dropout on the embedded input (one mask per poem, Gal & Ghahramani 2016)",
                             bounds="probability", group="model")
    dropoute: float = option(0.0, "embedding dropout: share of characters dropped from the whole batch per step",
                             bounds="probability", group="model")
    wdrop: float = option(0.0, "DropConnect on the hidden-to-hidden weights, one mask per step (Merity et al. 2017)",
                          bounds="probability", group="model")
    prosody_inputs: tuple = option((), "tell the model of each character it has read: its place in the line and the "
                                       "line's index (position), its tone class (tones), its rhyme groups and the "
                                       "rhyme so far (rhyme), from the ruler's 平水韵 tables, and what the regulated "
                                       "tone patterns still open expect next (pattern)", choices=PROSODY_INPUTS,
                                   nargs="+", metavar="INPUT", group="model")
    prosody_loss: float = option(0.0, "weight of an auxiliary loss: the next character's tone class and rhyme group, "
                                      "predicted from the LSTM's output by a linear head (training only)",
                                 bounds="non_negative_float", group="model")
    init: str = option("uniform", "parameter initialisation, plain LSTM (uniform: the reference's)", choices=INITS,
                       group="model")
    softmax: str = option("full", "the output layer: full; adaptive (plain LSTM, Grave et al. 2017: frequent "
                                  "characters in a head, the rest in smaller clusters, exact log-probabilities); "
                                  "class (AWD-LSTM: class-based softmax over frequency classes)",
                          choices=("full", "adaptive"), group="model")
    tied: bool = option(False, "output vectors = the embedding's (Press & Wolf 2017); plain LSTM: its output is "
                               "projected to --embed-size if that differs; AWD-LSTM: its last layer has --embed-size units",
                        switch="toggle", group="model")
    tied_prosody: bool = option(False, "with --tied, --softmax adaptive and the tones or rhyme prosody inputs: a "
                                       "character's output vector is its whole input vector, its embedding plus its "
                                       "tone's and rhyme groups'", switch="toggle", group="model")
    cutoffs: tuple = ()           # adaptive: where its clusters begin, in vocabulary ids; () = 10% and 40% in
    form_tokens: int = 0          # --form-token: the vocabulary's last ids are the forms' tokens, from the data

    def __post_init__(self):
        for name in ("cutoffs", "prosody_inputs"):                    # lists when read back from JSON
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def to_dict(self):
        return asdict(self)

    def output_size(self):
        """The size of the output vectors: the embedding's when tied (the LSTM's output is projected to it), else
        the LSTM's."""
        return self.embed_size if self.tied else self.hidden_size

    def adaptive_cutoffs(self):
        """The adaptive softmax's cluster boundaries: the vocabulary is sorted by frequency, so the head
        holds the most frequent 10% of the ids and two smaller-dimension clusters the rest."""
        return self.cutoffs or (round(self.vocab_size * 0.1), round(self.vocab_size * 0.4))


@dataclass(frozen=True)
class AWDConfig:
    vocab_size: int = 0         # 0 in a training config, until the data gives the vocabulary
    embed_size: int = 400
    hidden_size: int = 1150
    num_layers: int = 3
    cell: str = "native"
    dropout: float = 0.4        # on the last layer's output
    dropouth: float = option(0.3, "locked dropout between LSTM layers", bounds="probability", group=AWD_SECTION)
    dropouti: float = 0.65      # the help of these three is ModelConfig's
    dropoute: float = 0.1
    wdrop: float = 0.5
    tied: bool = True           # the help is ModelConfig's
    residual: bool = option(False, "add each layer's input to its output where the sizes agree", switch="toggle",
                            group=AWD_SECTION)
    softmax: str = option("full", choices=("full", "class"))      # the help is ModelConfig.softmax's
    n_classes: int = option(0, "number of classes of --softmax class", flag="--classes", bounds="positive_int",
                            metavar="N", group=AWD_SECTION, default_text="sqrt of the vocabulary")

    def to_dict(self):
        return asdict(self)

    def layer_sizes(self):
        """[(input size, hidden size)] per layer."""
        outs = [self.hidden_size] * (self.num_layers - 1) + [self.embed_size if self.tied else self.hidden_size]
        return list(zip([self.embed_size] + outs[:-1], outs))
