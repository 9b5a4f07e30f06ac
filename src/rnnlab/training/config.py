"""A training run's settings: the data's, the model's own config (one dataclass per architecture),
the optimizer's, the AWD-LSTM's stream settings, and the loop's; the named presets fill them all.

`build_config(preset, **options)` routes each option by its name to the section that has it, and
refuses in one line an option that the chosen model, engine or optimizer would not use.
"""
from dataclasses import asdict, dataclass, field, fields, replace

from rnnlab.data.dataset import DataConfig
from rnnlab.errors import RnnlabError
from rnnlab.nn.configs import AWDConfig, ModelConfig
from rnnlab.training.schedule import SCHEDULES

MODEL_CONFIGS = {"lstm": ModelConfig, "awd": AWDConfig}

# The reference's two settings (PART 2 §2.1, §2.2), and the default, cpu-fast: seed-large's data and
# model with an adaptive softmax (2.5x the tokens/s on a 2-core CPU), 2.5x the learning rate after a
# short warm-up, decayed to zero when the time budget ends, and validation on 1000 poems while training
# (the full split at the end). Measured in benchmarks/time_to_quality.py and docs/time-to-quality.md.
# awd follows Merity et al.'s PTB setting (3 layers 400/1150, batch 80, BPTT 70, NT-ASGD at lr 30,
# clip 0.25) and is meant for a GPU; awd-small trains on a 2-core CPU in minutes. Their poems are
# not cut (seq_len 400) since the stream has no padding, and early stopping waits longer than NT-ASGD.
AWD = {"architecture": "awd", "optimizer": "ntasgd", "lr": 30.0, "clip_norm": 0.25, "weight_decay": 1.2e-6,
       "patience": 8, "seq_len": 400}
PRESETS = {
    "seed-small": {"embed_size": 256, "hidden_size": 512, "batch_size": 16, "seq_len": 25},
    "seed-large": {"embed_size": 512, "hidden_size": 512, "batch_size": 64, "seq_len": 49},
    "cpu-fast": {"embed_size": 512, "hidden_size": 512, "batch_size": 64, "seq_len": 49, "softmax": "adaptive",
                 "lr": 5e-3, "warmup": 20, "schedule": "cosine", "valid_subset": 1000, "eval_every": 200},
    "awd": {**AWD, "embed_size": 400, "hidden_size": 1150, "num_layers": 3, "batch_size": 80, "bptt": 70,
            "dropout": 0.4, "dropouth": 0.3, "dropouti": 0.65, "dropoute": 0.1, "wdrop": 0.5},
    "awd-small": {**AWD, "embed_size": 200, "hidden_size": 400, "num_layers": 3, "batch_size": 32, "bptt": 35,
                  "lr": 20.0, "dropout": 0.3, "dropouth": 0.2, "dropouti": 0.3, "dropoute": 0.1, "wdrop": 0.3,
                  "eval_every": 1000},
}

DEFAULT_PRESET = "cpu-fast"

# lower-case class names of rnnlab.optim, plus SGD's two momentum flavours
OPTIMIZERS = ("adam", "adamax", "sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adadelta", "asgd", "rprop",
              "adaptivegains", "ntasgd")


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = "adam"
    optim_impl: str = "ours"        # ours (rnnlab.optim) | torch (torch.optim)
    lr: float = 1e-3
    betas: tuple = (0.5, 0.99)      # the reference's Adam betas (§3.1)
    momentum: float = 0.9           # momentum, nesterov, adaptivegains
    weight_decay: float = 0.0       # the L2 penalty
    finetune: bool = False          # NT-ASGD averages from the first step (AWD-LSTM's fine-tuning stage)


@dataclass(frozen=True)
class StreamConfig:
    """AWD-LSTM training on the token stream: BPTT windows and the AR/TAR penalties (002 §2.3)."""
    bptt: int = 70
    variable_bptt: bool = True
    alpha: float = 2.0              # AR
    beta: float = 1.0               # TAR


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig | AWDConfig = field(default_factory=ModelConfig)   # vocab_size 0: from the data
    optim: OptimConfig = field(default_factory=OptimConfig)
    stream: StreamConfig | None = None    # AWD-LSTM only; the plain LSTM trains on padded poems
    engine: str = "torch"                 # torch | numpy
    batch_size: int = 64
    epochs: int = 20
    max_steps: int | None = None
    time_budget: float | None = 15.0      # minutes; 0 or None for no limit
    schedule: str = "constant"            # constant | cosine (to zero when the run's horizon ends, schedule.py)
    warmup: int = 0                       # steps of linear learning-rate warm-up
    bucket: bool = False                  # batches of poems of similar length (less padding)
    valid_subset: int = 0                 # poems of the validation split used while training; 0 = all
    clip_norm: float | None = None
    clip_value: float | None = None
    clip_per_tensor: bool = False         # clip each tensor to clip_norm on its own
    l1: float = 0.0                       # L1 penalty (the optimizer's weight_decay is the L2 one)
    log_grad_norms: bool = False          # per-parameter gradient norms in metrics.csv
    eval_every: int = 500                 # steps; validation also runs at every epoch end
    log_every: int = 50
    patience: int = 3                     # evaluations without improvement before stopping
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 200           # steps between saves of the full training state (also at each epoch end)
    max_bad_steps: int = 5                # non-finite steps in a row before going back to the last saved state
    bad_lr_factor: float = 0.5            # ... and multiplying the learning rate by this

    @property
    def architecture(self):
        return next(name for name, cls in MODEL_CONFIGS.items() if isinstance(self.model, cls))

    def to_dict(self):
        return {**asdict(self), "architecture": self.architecture}

    @classmethod
    def from_dict(cls, d):
        """Inverse of to_dict (a run's config.json)."""
        d = dict(d)
        arch, optim, stream = d.pop("architecture"), d.pop("optim"), d.pop("stream")
        return cls(**{**d, "data": DataConfig(**d["data"]), "model": MODEL_CONFIGS[arch](**d["model"]),
                      "optim": OptimConfig(**{**optim, "betas": tuple(optim["betas"])}),
                      "stream": StreamConfig(**stream) if stream else None})

# What an option needs besides having a place in the run's config: (does this run use it?, what it needs)
NEEDS = {
    "cell": (lambda c: c.engine == "torch", "the torch engine (the numpy engine has one LSTM)"),
    "dropout": (lambda c: c.engine == "torch" or not c.model.dropout, "the torch engine (the numpy engine has no dropout)"),
    "optim_impl": (lambda c: c.engine == "torch", "the torch engine (the numpy engine has its own optimizers)"),
    "momentum": (lambda c: c.optim.optimizer in ("momentum", "nesterov", "adaptivegains"),
                 "--optimizer momentum, nesterov or adaptivegains"),
    "betas": (lambda c: c.optim.optimizer in ("adam", "adamax"), "--optimizer adam or adamax"),
    "finetune": (lambda c: c.optim.optimizer == "ntasgd", "--optimizer ntasgd (it averages the iterates)"),
    "clip_per_tensor": (lambda c: c.clip_norm is not None, "--clip-norm (the norm each tensor is clipped to)"),
    "n_classes": (lambda c: getattr(c.model, "softmax", "full") == "class", "--softmax class"),
    "cutoffs": (lambda c: c.model.softmax == "adaptive", "--softmax adaptive"),
    "bucket": (lambda c: c.architecture == "lstm", "poems as batches (the plain LSTM; AWD-LSTM reads a stream)"),
    "valid_subset": (lambda c: c.engine == "torch", "the torch engine"),
}
SOFTMAXES = {"lstm": ("full", "adaptive"), "awd": ("full", "class")}


def build_config(preset=DEFAULT_PRESET, init_from=None, **options):
    """Defaults <- preset <- explicit options (None values are ignored), each routed by name to the data,
    model, optimizer, stream or loop settings. `init_from`: a checkpoint's model config, which replaces
    the preset's model (only its cell may change). RnnlabError for an option this run would not use."""
    given = {k: v for k, v in options.items() if v is not None}
    values = {**PRESETS[preset], **given}
    arch = values.pop("architecture", "lstm")
    if init_from is not None and not isinstance(init_from, MODEL_CONFIGS[arch]):
        other = next(n for n, c in MODEL_CONFIGS.items() if isinstance(init_from, c))
        raise RnnlabError(f"--init-from gives {'an AWD-LSTM' if other == 'awd' else 'a plain LSTM'}: choose "
                          f"{'an awd-* --preset' if other == 'awd' else 'cpu-fast or a seed-* --preset'}")
    sections = {"data": DataConfig, "model": MODEL_CONFIGS[arch], "optim": OptimConfig,
                "stream": StreamConfig if arch == "awd" else None, "loop": TrainConfig}
    nested = {"data", "model", "optim", "stream", "vocab_size"}       # set by build_config or the data, not by name
    names = {name: {f.name for f in fields(cls)} - nested for name, cls in sections.items() if cls}
    routed = {name: {} for name in sections}
    for key, value in values.items():
        where = next((name for name, known in names.items() if key in known), None)
        if where is None:
            raise RnnlabError(f"{flag(key)} is an AWD-LSTM option: add --preset awd or awd-small" if arch == "lstm" else
                              f"{flag(key)} is a plain-LSTM option, not used by AWD-LSTM")
        routed[where][key] = value
    if init_from is not None:
        changed = sorted(k for k in routed["model"] if k in given and k != "cell")
        if changed:
            raise RnnlabError(f"{flag(changed[0])}: the model comes from --init-from's checkpoint; drop it")
        model = replace(init_from, **{k: v for k, v in routed["model"].items() if k == "cell"})
    else:
        model = MODEL_CONFIGS[arch](**routed["model"])
    cfg = TrainConfig(data=DataConfig(**routed["data"]), model=model, optim=OptimConfig(**routed["optim"]),
                      stream=StreamConfig(**routed["stream"]) if arch == "awd" else None, **routed["loop"])
    for key in given:
        uses, needs = NEEDS.get(key, (lambda c: True, ""))
        if not uses(cfg):
            raise RnnlabError(f"{flag(key)} is not used by this run: it needs {needs}")
    if cfg.model.softmax not in SOFTMAXES[arch]:
        other = next(a for a, kinds in SOFTMAXES.items() if cfg.model.softmax in kinds)
        raise RnnlabError(f"--softmax {cfg.model.softmax} is for {'AWD-LSTM (--preset awd or awd-small)' if other == 'awd' else 'the plain LSTM'};"
                          f" {describe(arch)} has {' or '.join(SOFTMAXES[arch])}")
    if cfg.schedule not in SCHEDULES:
        raise RnnlabError(f"unknown schedule {cfg.schedule!r}: {' or '.join(SCHEDULES)}")
    if cfg.engine == "numpy" and (cfg.model.softmax != "full" or cfg.valid_subset) and "softmax" not in given:
        raise RnnlabError(f"--engine numpy: the {preset} preset's adaptive softmax and validation subset need the torch "
                          "engine; add --preset seed-large or seed-small")
    if cfg.engine == "numpy" and cfg.model.softmax != "full":
        raise RnnlabError("the numpy engine has a full softmax only; leave --softmax at full or use --engine torch")
    if cfg.engine == "numpy" and arch == "awd":
        raise RnnlabError("AWD-LSTM trains with the torch engine only; leave --engine at torch")
    if cfg.engine == "numpy" and cfg.device == "cuda":
        raise RnnlabError("the numpy engine runs on the CPU only; use --device cpu")
    return cfg


def flag(key):
    """The command-line flag of an option."""
    return {"n_classes": "--classes", "variable_bptt": "--fixed-bptt"}.get(key, "--" + key.replace("_", "-"))


def lookup(cfg, name):
    """An option's value in cfg by its build_config name; None if this run has no such option."""
    for section in (cfg.data, cfg.model, cfg.optim, cfg.stream, cfg):
        if section is not None and name in {f.name for f in fields(section)}:
            return getattr(section, name)
    return None


def describe(arch):
    return "AWD-LSTM" if arch == "awd" else "the plain LSTM"
