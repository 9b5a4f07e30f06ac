"""One config per architecture, free of torch so that the command line and the training config can use
them without loading it: ModelConfig for the reference's LSTM language model (lm.py), AWDConfig for
the AWD-LSTM (awd.py). A checkpoint's config.json holds one of them."""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 0           # 0 in a training config, until the data gives the vocabulary
    embed_size: int = 256
    hidden_size: int = 512
    num_layers: int = 1
    cell: str = "native"          # autograd | manual | native
    activation: str = "tanh"      # applied to the embeddings, as in the reference
    dropout: float = 0.0          # on the LSTM output (and between layers)
    init: str = "uniform"         # uniform (the reference's) | orthogonal
    softmax: str = "full"         # full | adaptive (Grave et al. 2017: frequent characters cost less)
    cutoffs: tuple = ()           # adaptive: where its clusters begin, in vocabulary ids; () = 10% and 40% in

    def __post_init__(self):
        object.__setattr__(self, "cutoffs", tuple(self.cutoffs))     # a list when read back from JSON

    def to_dict(self):
        return asdict(self)

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
    dropouth: float = 0.3       # between LSTM layers
    dropouti: float = 0.65      # on the embedded input
    dropoute: float = 0.1       # whole embedding rows
    wdrop: float = 0.5          # DropConnect on weight_hh
    tied: bool = True
    residual: bool = False
    softmax: str = "full"       # full | class
    n_classes: int = 0          # class softmax: number of frequency classes

    def to_dict(self):
        return asdict(self)

    def layer_sizes(self):
        """[(input size, hidden size)] per layer."""
        outs = [self.hidden_size] * (self.num_layers - 1) + [self.embed_size if self.tied else self.hidden_size]
        return list(zip([self.embed_size] + outs[:-1], outs))
