"""Everything a training run needs, as one JSON-serialisable config, and the named presets."""
from dataclasses import asdict, dataclass, field, fields, replace

from rnnlab.data.dataset import DataConfig

# The reference's two settings (PART 2 §2.1, §2.2). seed-large is the default: on a 2-core CPU it
# reached a lower validation perplexity within 15 minutes than a smaller, faster 256/384 model.
# awd follows Merity et al.'s PTB setting (3 layers 400/1150, batch 80, BPTT 70, NT-ASGD at lr 30,
# clip 0.25) and is meant for a GPU; awd-small trains on a 2-core CPU in minutes. Their poems are
# not cut (seq_len 400) since the stream has no padding, and early stopping waits longer than NT-ASGD.
AWD = {"model": "awd", "optimizer": "ntasgd", "lr": 30.0, "clip_norm": 0.25, "weight_decay": 1.2e-6, "patience": 8,
       "seq_len": 400}
PRESETS = {
    "seed-small": {"embed_size": 256, "hidden_size": 512, "batch_size": 16, "seq_len": 25},
    "seed-large": {"embed_size": 512, "hidden_size": 512, "batch_size": 64, "seq_len": 49},
    "awd": {**AWD, "embed_size": 400, "hidden_size": 1150, "num_layers": 3, "batch_size": 80, "bptt": 70,
            "dropout": 0.4, "dropouth": 0.3, "dropouti": 0.65, "dropoute": 0.1, "wdrop": 0.5},
    "awd-small": {**AWD, "embed_size": 200, "hidden_size": 400, "num_layers": 3, "batch_size": 32, "bptt": 35,
                  "lr": 20.0, "dropout": 0.3, "dropouth": 0.2, "dropouti": 0.3, "dropoute": 0.1, "wdrop": 0.3,
                  "eval_every": 1000},
}

# lower-case class names of rnnlab.optim, plus SGD's two momentum flavours
OPTIMIZERS = ("adam", "adamax", "sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adadelta", "asgd", "rprop",
              "adaptivegains", "ntasgd")


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    embed_size: int = 512
    hidden_size: int = 512
    num_layers: int = 1
    engine: str = "torch"           # torch | numpy
    cell: str = "native"            # the torch engine's LSTM: autograd | manual | native
    activation: str = "tanh"
    dropout: float = 0.0
    init: str = "uniform"
    optimizer: str = "adam"
    optim_impl: str = "ours"        # ours (rnnlab.optim) | torch (torch.optim)
    lr: float = 1e-3
    betas: tuple = (0.5, 0.99)      # the reference's Adam betas (§3.1)
    momentum: float = 0.9           # momentum, nesterov, adaptivegains
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 20
    max_steps: int | None = None
    time_budget: float | None = 15.0  # minutes; 0 or None for no limit
    clip_norm: float | None = None
    clip_value: float | None = None
    clip_per_tensor: bool = False     # clip each tensor to clip_norm on its own
    l1: float = 0.0                   # L1 penalty (weight_decay is the L2 one)
    log_grad_norms: bool = False      # per-parameter gradient norms in metrics.csv
    eval_every: int = 500             # steps; validation also runs at every epoch end
    log_every: int = 50
    patience: int = 3                 # evaluations without improvement before stopping
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 200       # steps between saves of the full training state (also at each epoch end)
    max_bad_steps: int = 5            # non-finite steps in a row before going back to the last saved state
    bad_lr_factor: float = 0.5        # ... and multiplying the learning rate by this
    # AWD-LSTM (model "awd", rnnlab.nn.awd): stream training in BPTT windows; dropout is its output dropout
    model: str = "lstm"               # lstm | awd
    bptt: int = 70
    variable_bptt: bool = True
    dropouth: float = 0.3
    dropouti: float = 0.65
    dropoute: float = 0.1
    wdrop: float = 0.5
    alpha: float = 2.0                # AR
    beta: float = 1.0                 # TAR
    tied: bool = True
    residual: bool = False
    softmax: str = "full"             # full | class
    n_classes: int = 0                # class softmax: 0 = about sqrt(vocabulary size)
    finetune: bool = False            # NT-ASGD averages from the first step (AWD-LSTM's fine-tuning stage)

    def to_dict(self):
        return asdict(self)


def build_config(preset="seed-large", **overrides):
    """Defaults <- preset <- explicit overrides (None values are ignored). Data fields are routed to DataConfig."""
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    data_names = {f.name for f in fields(DataConfig)}
    data = replace(DataConfig(), **{k: v for k, v in values.items() if k in data_names})
    return TrainConfig(data=data, **{k: v for k, v in values.items() if k not in data_names})
