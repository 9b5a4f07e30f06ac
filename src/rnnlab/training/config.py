"""A training run's settings: the data's, the model's own config (one dataclass per architecture),
the optimizer's, the AWD-LSTM's stream settings, and the loop's; the named presets fill them all.

`build_config(preset, **options)` routes each option by its name to the section that has it, and
refuses in one line an option that the chosen model, engine or optimizer would not use.
"""
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache

from rnnlab.data.dataset import DataConfig
from rnnlab.device import DEVICES, PRECISIONS
from rnnlab.errors import RnnlabError
from rnnlab.nn.configs import AWD_SECTION, ModelConfig
from rnnlab.nn.registry import ARCHITECTURES, architecture_of
from rnnlab.options import flag_of, option, options_of, out_of_bounds
from rnnlab.training.schedule import SCHEDULES

# The reference's two settings (PART 2 §2.1, §2.2), and the default, cpu-fast. Its first version, kept as
# cpu-fast-v1: seed-large's data and model with an adaptive softmax (2.5x the tokens/s on a 2-core CPU),
# 2.5x the learning rate after a short warm-up, decayed to zero when the time budget ends, and validation
# on 1000 poems while training (the full split at the end); measured in benchmarks/time_to_quality.py.
# cpu-fast-v2 adds dropout, bf16 where the CPU computes it, and the prosody inputs and loss (issue 23;
# benchmarks/levers.py, docs/time-to-quality.md, docs/prosody-inputs.md); cpu-fast-v3 begins each poem with
# its form's token, which teaches the tones (docs/prosody-inputs.md#the-form-token); cpu-fast-v4 ends a poem
# cut at --seq-len without <eos>, so that a 七律 goes on past line 6 (docs/time-to-quality.md); cpu-fast-v5 has
# less dropout and output vectors tied to the input vectors, prosody included (more learned per step);
# cpu-fast-v6 has v5's output vectors with v4's dropout again, since on a CPU with AMX v5 reaches a fifth epoch
# in its 15 minutes and overfits there; cpu-fast-v7 is v6 trained on every poem whole, read in windows of 66
# tokens (a 七律 whole) with the state carried: 1.42x the text of poems cut at 48, in batches of 128 at a higher
# rate; cpu-fast is v7 with 640 units and each row's poems read back to back (no padding): 0.983-0.993x v7's
# perplexity in three pairs of 15-minute runs on two CPUs with bf16 (docs/time-to-quality.md).
# awd follows Merity et al.'s PTB setting (3 layers 400/1150, batch 80, BPTT 70, NT-ASGD at lr 30,
# clip 0.25) and is meant for a GPU; awd-small trains on a 2-core CPU in minutes. Their poems are
# not cut (seq_len 400) since the stream has no padding, and early stopping waits longer than NT-ASGD.
CPU_FAST_V1 = {"embed_size": 512, "hidden_size": 512, "batch_size": 64, "seq_len": 49, "softmax": "adaptive",
               "lr": 5e-3, "warmup": 20, "schedule": "cosine", "valid_subset": 1000, "eval_every": 200}
CPU_FAST_V2 = {**CPU_FAST_V1, "dropout": 0.3, "precision": "auto",
               "prosody_inputs": ("position", "tones", "rhyme", "pattern"), "prosody_loss": 0.5}
CPU_FAST_V3 = {**CPU_FAST_V2, "form_token": True}
CPU_FAST_V4 = {**CPU_FAST_V3, "cut_end": False}
CPU_FAST_V5 = {**CPU_FAST_V4, "dropout": 0.2, "tied": True, "tied_prosody": True}
CPU_FAST_V6 = {**CPU_FAST_V5, "dropout": 0.3}
WHOLE = 10_000            # --train-seq-len longer than any poem of the Tang corpus (its longest: 2,983 tokens)
WINDOWS = {"train_seq_len": WHOLE, "train_window": 66, "batch_size": 128, "lr": 7e-3}   # whole poems, read in windows
CPU_FAST_V7 = {**CPU_FAST_V6, **WINDOWS}
CPU_FAST = {**CPU_FAST_V7, "embed_size": 640, "hidden_size": 640, "pack_poems": True}
HOURS = {"clip_norm": 1.0, "eval_every": 500, "patience": 5, "time_budget": 120.0}                  # cpu-2h*
CPU_2H_V3 = {**CPU_FAST_V4, **HOURS, "hidden_size": 768, "dropout": 0.4, "dropouti": 0.1, "train_seq_len": 129,
             "bucket": True}
CPU_2H_V4 = {**CPU_2H_V3, "dropout": 0.5, "wdrop": 0.2}
CPU_2H_V5 = {**CPU_2H_V4, **WINDOWS, "bucket": False}
AWD = {"architecture": "awd", "optimizer": "ntasgd", "lr": 30.0, "clip_norm": 0.25, "weight_decay": 1.2e-6,
       "patience": 8, "seq_len": 400}
PRESETS = {
    "seed-small": {"embed_size": 256, "hidden_size": 512, "batch_size": 16, "seq_len": 25},
    "seed-large": {"embed_size": 512, "hidden_size": 512, "batch_size": 64, "seq_len": 49},
    "cpu-fast-v1": CPU_FAST_V1,
    "cpu-fast-v2": CPU_FAST_V2,
    "cpu-fast-v3": CPU_FAST_V3,
    "cpu-fast-v4": CPU_FAST_V4,
    "cpu-fast-v5": CPU_FAST_V5,
    "cpu-fast-v6": CPU_FAST_V6,
    "cpu-fast-v7": CPU_FAST_V7,
    "cpu-fast": CPU_FAST,
    # the bundled models' (issue 25, docs/time-to-quality.md): cpu-fast-v4 one layer wider (768), regularised for a
    # budget of hours (dropout 0.5, DropConnect on the recurrent weights, locked dropout on the input). cpu-2h, the
    # seventh's, trains as the default does (every poem whole, in windows of 66 with the state carried, each row's
    # poems back to back, batches of 128 at lr 7e-3) with embedding dropout 0.1 and DropConnect 0.3 for the epochs
    # packing buys; -v5 made the sixth (not packed, DropConnect 0.2), -v4 the fourth and fifth (poems cut at 128
    # characters, batched by length), -v3 the third (dropout 0.4, no DropConnect: it overfit), -v1 and -v2 the
    # first two (two layers of 512)
    "cpu-2h": {**CPU_2H_V5, "pack_poems": True, "dropoute": 0.1, "wdrop": 0.3},
    "cpu-2h-v5": CPU_2H_V5,
    "cpu-2h-v4": CPU_2H_V4,
    "cpu-2h-v3": CPU_2H_V3,
    "cpu-2h-v2": {**CPU_FAST_V2, **HOURS, "num_layers": 2, "dropout": 0.4, "wdrop": 0.2, "dropouti": 0.1},
    "cpu-2h-v1": {**CPU_FAST_V1, **HOURS, "num_layers": 2, "dropout": 0.3, "precision": "auto"},
    "awd": {**AWD, "embed_size": 400, "hidden_size": 1150, "num_layers": 3, "batch_size": 80, "bptt": 70,
            "dropout": 0.4, "dropouth": 0.3, "dropouti": 0.65, "dropoute": 0.1, "wdrop": 0.5},
    "awd-small": {**AWD, "embed_size": 200, "hidden_size": 400, "num_layers": 3, "batch_size": 32, "bptt": 35,
                  "lr": 20.0, "dropout": 0.3, "dropouth": 0.2, "dropouti": 0.3, "dropoute": 0.1, "wdrop": 0.3,
                  "eval_every": 1000},
}

DEFAULT_PRESET = "cpu-fast"

# The optimizers by name: the class of rnnlab.optim (and of torch.optim and rnnlab.numpy.optim, which share
# the names and arguments), the OptimConfig fields it takes, and arguments fixed by the name.
OPTIMIZERS = {
    "adam": ("Adam", ("betas", "weight_decay"), {}),
    "adamax": ("Adamax", ("betas", "weight_decay"), {}),
    "sgd": ("SGD", ("weight_decay",), {"momentum": 0.0}),
    "momentum": ("SGD", ("momentum", "weight_decay"), {}),
    "nesterov": ("SGD", ("momentum", "weight_decay"), {"nesterov": True}),
    "rmsprop": ("RMSprop", ("weight_decay",), {}),
    "adagrad": ("Adagrad", ("weight_decay",), {}),
    "adadelta": ("Adadelta", ("weight_decay",), {}),
    "asgd": ("ASGD", ("weight_decay",), {}),
    "rprop": ("Rprop", (), {}),
    "adaptivegains": ("AdaptiveGains", ("momentum", "weight_decay"), {}),
    "ntasgd": ("NTASGD", ("weight_decay", "finetune"), {}),
}
OPTIMIZER_ARGUMENT = {"finetune": "average_from_start"}        # OptimConfig field -> constructor argument
OPTIMISATION = "optimisation"                                   # a help section
SURVIVAL = "surviving crashes and bad numbers"


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = option("adam", "Adam's betas are the reference's (0.5, 0.99)", choices=OPTIMIZERS,
                            group=OPTIMISATION)
    optim_impl: str = option("ours", "ours: rnnlab.optim, written from the formulas; torch: torch.optim's class of "
                                     "the same name", choices=("ours", "torch"), group=OPTIMISATION)
    lr: float = option(1e-3, "learning rate", bounds="positive_float", group=OPTIMISATION)
    betas: tuple = option((0.5, 0.99), "Adam's and AdaMax's betas (the reference's, §3.1)", bounds="probability",
                          nargs=2, metavar=("B1", "B2"), group=OPTIMISATION)
    momentum: float = 0.9           # momentum, nesterov, adaptivegains (no flag)
    weight_decay: float = option(0.0, "L2 penalty", bounds="non_negative_float", group=OPTIMISATION)
    finetune: bool = option(False, "fine-tuning stage: NT-ASGD averages from the first step (with --init-from a "
                                   "trained run)", switch="on", group=AWD_SECTION)


@dataclass(frozen=True)
class StreamConfig:
    """AWD-LSTM training on the token stream: BPTT windows and the AR/TAR penalties (002 §2.3)."""
    bptt: int = option(70, "mean window length", bounds="positive_int", group=AWD_SECTION)
    variable_bptt: bool = option(True, "every window --bptt long", flag="--fixed-bptt", switch="off", group=AWD_SECTION,
                                 default_text="variable length")
    alpha: float = option(2.0, "activation regularisation (AR) weight", bounds="non_negative_float", group=AWD_SECTION)
    beta: float = option(1.0, "temporal activation regularisation (TAR) weight", bounds="non_negative_float",
                         group=AWD_SECTION)


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: object = field(default_factory=ModelConfig)    # the architecture's config; vocab_size 0: from the data
    optim: OptimConfig = field(default_factory=OptimConfig)
    stream: StreamConfig | None = None    # AWD-LSTM only; the plain LSTM trains on padded poems
    engine: str = option("torch", "torch, or numpy (hand-written backward, numpy optimizers, CPU)",
                         choices=("torch", "numpy"), group="model")
    precision: str = option("fp32", "the LSTM's arithmetic: fp32, bf16 (autocast, and the tied softmax's products; "
                                    "weights, optimizer state, log-softmax and loss stay float32, and so does "
                                    "training's validation) or auto (bf16 "
                                    "where the CPU or GPU computes it natively)", choices=PRECISIONS, group="model")
    batch_size: int = option(64, "sequences per step", bounds="positive_int", group=OPTIMISATION)
    epochs: int = option(20, "passes over the training split", bounds="positive_int", group=OPTIMISATION)
    max_steps: int | None = option(None, "stop after this many optimizer steps", bounds="positive_int",
                                   group=OPTIMISATION, default_text="no limit")
    time_budget: float | None = option(15.0, "stop after this many minutes, 0 = no limit", bounds="non_negative_float",
                                       metavar="MINUTES", group=OPTIMISATION)
    schedule: str = option("constant", "learning rate after the warm-up: constant, or cosine decay to 0 when the run "
                                       "ends (its --max-steps, epochs or --time-budget; schedule.py)",
                           choices=SCHEDULES, group=OPTIMISATION)
    warmup: int = option(0, "linear learning-rate warm-up", bounds="non_negative_int", metavar="STEPS",
                         group=OPTIMISATION)
    bucket: bool = option(False, "batch poems of similar length together, less padding", switch="toggle",
                          group=OPTIMISATION)
    train_window: int | None = option(None, "read each training poem in windows of N tokens, the LSTM's "
                                            "state carried from one window to the next (truncated BPTT): with "
                                            "--train-seq-len above --seq-len, all of a long poem at the step's cost of "
                                            "a short one", bounds="positive_int", metavar="N", group=OPTIMISATION,
                                      default_text="the whole poem")
    pack_poems: bool = option(False, "with --train-window: each row reads its poems back to back, no padding (the state "
                                     "carried from a poem's end into the next poem, as a stream)", switch="toggle",
                              group=OPTIMISATION)
    valid_subset: int = option(0, "validate on the first N validation poems while training, on all of them at the "
                                  "end; 0 = all", bounds="non_negative_int", metavar="N", group=OPTIMISATION)
    clip_norm: float | None = option(None, "clip gradients to this global norm", bounds="positive_float",
                                     group=OPTIMISATION)
    clip_value: float | None = option(None, "clamp every gradient entry to [-v, v]", bounds="positive_float",
                                      group=OPTIMISATION)
    clip_per_tensor: bool = option(False, "apply --clip-norm to each tensor on its own", switch="on",
                                   group=OPTIMISATION)
    l1: float = option(0.0, "L1 penalty (the optimizer's weight decay is the L2 one)", bounds="non_negative_float",
                       group=OPTIMISATION)
    log_grad_norms: bool = option(False, "per-parameter gradient norms in metrics.csv", switch="on", group=OPTIMISATION)
    eval_every: int = option(500, "validate every N steps and at each epoch end", bounds="positive_int",
                             group=OPTIMISATION)
    log_every: int = 50                   # steps between rows of metrics.csv (no flag)
    patience: int = option(3, "stop after N evaluations without improvement", bounds="positive_int", group=OPTIMISATION)
    seed: int = option(0, "seed for initialisation, data order and sampling", group=OPTIMISATION)
    device: str = option("auto", "auto: CUDA, else Apple's MPS, else the CPU", choices=DEVICES, group=OPTIMISATION)
    checkpoint_every: int = option(200, "save the full training state every N steps, also at each epoch end and on "
                                        "stop", bounds="positive_int", metavar="N", group=SURVIVAL)
    max_bad_steps: int = option(5, "after K non-finite steps in a row, go back to the last saved state",
                                bounds="positive_int", metavar="K", group=SURVIVAL)
    bad_lr_factor: float = option(0.5, "... and multiply the learning rate by this", bounds="fraction", metavar="F",
                                  group=SURVIVAL)

    @property
    def architecture(self):
        return architecture_of(self.model).name

    def to_dict(self):
        return {**asdict(self), "architecture": self.architecture}

    @classmethod
    def from_dict(cls, d):
        """Inverse of to_dict (a run's config.json)."""
        d = dict(d)
        arch, optim, stream = d.pop("architecture"), d.pop("optim"), d.pop("stream")
        return cls(**{**d, "data": DataConfig(**d["data"]), "model": ARCHITECTURES[arch].config(**d["model"]),
                      "optim": OptimConfig(**{**optim, "betas": tuple(optim["betas"])}),
                      "stream": StreamConfig(**stream) if stream else None})

def takers(option):
    """The optimizers that take an OptimConfig field."""
    return [name for name, (_, takes, _) in OPTIMIZERS.items() if option in takes]


# The plain LSTM's options that only its torch model has: the regularisers and the prosody
TORCH_ONLY = ("dropout", "dropouti", "dropoute", "wdrop", "prosody_inputs", "prosody_loss", "tied", "tied_prosody")
# What an option needs besides having a place in the run's config: (does this run use it?, what it needs)
NEEDS = {
    "cell": (lambda c: c.engine == "torch", "the torch engine (the numpy engine has one LSTM)"),
    **{key: (lambda c, key=key: c.engine == "torch" or not getattr(c.model, key),
             "the torch engine (the numpy engine has no dropout or tying and reads characters only)") for key in TORCH_ONLY},
    "optim_impl": (lambda c: c.engine == "torch", "the torch engine (the numpy engine has its own optimizers)"),
    **{key: (lambda c, key=key: c.optim.optimizer in takers(key), "--optimizer " + " or ".join(takers(key)))
       for key in ("momentum", "betas", "finetune")},
    "clip_per_tensor": (lambda c: c.clip_norm is not None, "--clip-norm (the norm each tensor is clipped to)"),
    "n_classes": (lambda c: c.model.softmax == "class", "--softmax class"),
    "cutoffs": (lambda c: c.model.softmax == "adaptive", "--softmax adaptive"),
    "bucket": (lambda c: not architecture_of(c.model).stream, "poems as batches (the plain LSTM; AWD-LSTM reads a stream)"),
    "valid_subset": (lambda c: c.engine == "torch", "the torch engine"),
    "train_window": (lambda c: c.engine == "torch" and not architecture_of(c.model).stream and not c.bucket,
                     "the torch engine's plain LSTM, its poems in their shuffled order (not --bucket)"),
    "pack_poems": (lambda c: c.train_window is not None, "--train-window (the windows the rows read)"),
    "precision": (lambda c: c.engine == "torch" and not architecture_of(c.model).stream, "the torch engine's plain LSTM"),
    "form_token": (lambda c: c.engine == "torch" and not architecture_of(c.model).stream,
                   "the torch engine's plain LSTM (the AWD-LSTM reads a stream, the numpy engine counts every target)"),
}


def sections_of(arch):
    """{section: its dataclass} of a run of architecture `arch` (an Architecture)."""
    return {"data": DataConfig, "model": arch.config, "optim": OptimConfig, "stream": StreamConfig if arch.stream else None,
            "loop": TrainConfig}


NESTED = {"data", "model", "optim", "stream", "vocab_size"}       # set by build_config or the data, not by name


def section_fields(arch):
    """{section: {option name: its field}} of a run of architecture `arch`: what can be set by name."""
    return {name: {f.name: f for f in fields(cls) if f.name not in NESTED}
            for name, cls in sections_of(arch).items() if cls}


def build_config(preset=DEFAULT_PRESET, init_from=None, **options):
    """Defaults <- preset <- explicit options (None values are ignored), each routed by name to the data,
    model, optimizer, stream or loop settings. `init_from`: a checkpoint's model config, which replaces
    the preset's model (only its cell may change). RnnlabError for an option this run would not use."""
    given = {k: v for k, v in options.items() if v is not None}
    values = {**PRESETS[preset], **given}
    arch = ARCHITECTURES[values.pop("architecture", "lstm")]
    if init_from is not None and architecture_of(init_from) is not arch:
        other = architecture_of(init_from)
        raise RnnlabError(f"--init-from gives {'an ' + other.title if other.stream else 'a plain LSTM'}: choose "
                          f"{other.presets}")
    routed = route(arch, values)
    if init_from is not None:
        changed = sorted(k for k in routed["model"] if k in given and k != "cell")
        if changed:
            raise RnnlabError(f"{flag(changed[0])}: the model comes from --init-from's checkpoint; drop it")
        model = replace(init_from, **{k: v for k, v in routed["model"].items() if k == "cell"})
        if "form_token" not in given:                         # the vocabulary is the checkpoint's, with or without
            routed["data"]["form_token"] = bool(getattr(init_from, "form_tokens", 0))
    else:
        model = arch.config(**routed["model"])
    cfg = TrainConfig(data=DataConfig(**routed["data"]), model=model, optim=OptimConfig(**routed["optim"]),
                      stream=StreamConfig(**routed["stream"]) if arch.stream else None, **routed["loop"])
    refuse_unused(cfg, arch, preset, given)
    return cfg


def route(arch, values):
    """{section: {option: value}}: each option to the section of this architecture's run that has it."""
    names = section_fields(arch)
    routed = {name: {} for name in sections_of(arch)}
    for key, value in values.items():
        where = next((name for name, known in names.items() if key in known), None)
        if where is None:
            other = next((a for a in ARCHITECTURES.values() if key in {f.name for cls in sections_of(a).values() if cls
                                                                        for f in fields(cls)}), None)
            if other is None:
                raise RnnlabError(f"unknown option {key!r}")
            raise RnnlabError(f"{flag(key)} is an {other.title} option: add --preset awd or awd-small" if other.stream else
                              f"{flag(key)} is a plain-LSTM option, not used by {arch.title}")
        routed[where][key] = value
    return routed


@lru_cache(maxsize=None)
def all_options():
    """Every declared option of every section and architecture (the declarations never change)."""
    return options_of(DataConfig, *(a.config for a in ARCHITECTURES.values()), OptimConfig, StreamConfig, TrainConfig)


def refuse_out_of_bounds(given):
    """RnnlabError for a value outside its option's choices or bounds (the flags' parser checks the same)."""
    declared = all_options()
    for key, value in given.items():
        meta = declared[key][1] if key in declared else {}
        items = value if isinstance(value, (tuple, list)) else (value,)
        wrong = [item for item in items if meta.get("choices") and item not in meta["choices"]]
        if wrong:
            raise RnnlabError(f"{flag(key)} {wrong[0]}: not one of {', '.join(map(str, meta['choices']))}")
        for item in items:
            problem = meta.get("bounds") and isinstance(item, (int, float)) and out_of_bounds(meta["bounds"], item)
            if problem:
                raise RnnlabError(f"{flag(key)}: {problem}")


def refuse_unused(cfg, arch, preset, given):
    """RnnlabError for an option given that this run would not use, or a combination it cannot run."""
    refuse_out_of_bounds(given)
    for key in given:
        uses, needs = NEEDS.get(key, (lambda c: True, ""))
        if not uses(cfg):
            raise RnnlabError(f"{flag(key)} is not used by this run: it needs {needs}")
    if cfg.model.softmax not in arch.softmaxes:
        other = next(a for a in ARCHITECTURES.values() if cfg.model.softmax in a.softmaxes)
        raise RnnlabError(f"--softmax {cfg.model.softmax} is for {other.title + ' (--preset awd or awd-small)' if other.stream else other.title};"
                          f" {arch.title} has {' or '.join(arch.softmaxes)}")
    if cfg.engine == "numpy" and (cfg.model.softmax != "full" or cfg.valid_subset) and "softmax" not in given:
        raise RnnlabError(f"--engine numpy: the {preset} preset's adaptive softmax and validation subset need the torch "
                          "engine; add --preset seed-large or seed-small")
    if cfg.engine == "numpy" and cfg.model.softmax != "full":
        raise RnnlabError("the numpy engine has a full softmax only; leave --softmax at full or use --engine torch")
    if cfg.engine not in arch.engines:
        raise RnnlabError(f"{arch.title} trains with the {' or '.join(arch.engines)} engine only; leave --engine at torch")
    torch_only = [flag(k) for k in TORCH_ONLY if cfg.engine == "numpy" and getattr(cfg.model, k)]
    if torch_only:
        raise RnnlabError(f"--engine numpy: the {preset} preset's {', '.join(torch_only)} need the torch engine; add "
                          "--preset seed-large or seed-small")
    if cfg.engine == "numpy" and cfg.device == "cuda":
        raise RnnlabError("the numpy engine runs on the CPU only; use --device cpu")


def run_precision(cfg, device):
    """fp32 or bf16 for this training run on `device` (resolve_precision)."""
    return resolve_precision(cfg.precision, cfg.model, cfg.engine, device)


def resolve_precision(name, model_config, engine, device):
    """fp32 or bf16 for `--precision name` of a model on `device`, in training, eval or generation: auto takes
    bf16 where the device computes it natively and the model can use it, the torch engine's plain LSTM with
    the native or autograd cell (the manual cell's hand-written backward computes in float32); bf16 asked of
    any other model is refused."""
    from rnnlab.device import pick_precision

    usable = engine == "torch" and not architecture_of(model_config).stream and model_config.cell != "manual"
    if name == "bf16" and not usable:
        raise RnnlabError("--precision bf16 needs the torch engine's plain LSTM with the native or autograd cell "
                          "(the manual cell's backward computes in float32)")
    return pick_precision(name, device) if usable else "fp32"


def flag(key):
    """The command-line flag of an option (options.py: declared with its field)."""
    found = all_options()
    return flag_of(key, found[key][1]) if key in found else "--" + key.replace("_", "-")


def lookup(cfg, name):
    """An option's value in cfg by its build_config name; None if this run has no such option."""
    for section in (cfg.data, cfg.model, cfg.optim, cfg.stream, cfg):
        if section is not None and name in {f.name for f in fields(section)}:
            return getattr(section, name)
    return None
