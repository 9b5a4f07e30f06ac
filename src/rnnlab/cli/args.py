"""The `rnnlab` command's arguments: one sub-parser per command, value checks that fail with one line."""
import argparse
from dataclasses import fields
from typing import get_args

from rnnlab import __version__

class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def fraction(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_generation_args(p, num):
    """--checkpoint and one flag per field of GenerationOptions; `num`: this command's default poem count.
    The values are checked by GenerationOptions.check (one line, exit 2)."""
    from rnnlab.generate.options import GenerationOptions, choices

    p.add_argument("--checkpoint", required=True, metavar="DIR", help="a checkpoint or run directory")
    add_device_arg(p)
    defaults = {"num": num, "seed": 0}                    # the CLI is reproducible unless told otherwise
    for f in fields(GenerationOptions):
        kw = {"default": defaults.get(f.name, f.default), "help": f.metadata["help"]}
        allowed = choices(f.type)
        if f.name in ("rhyme", "tones"):
            kw.update(nargs="?", const="hard", choices=["soft", "hard"])
            kw["help"] += f" (--{f.name} alone: hard)"
        elif allowed:
            kw["choices"] = allowed
        else:
            kw["type"] = next(t for t in (int, float, str) if t is f.type or t in get_args(f.type))
        if kw["default"] not in (None, ""):
            kw["help"] += " (default: %(default)s)"
        p.add_argument("--" + f.name.replace("_", "-"), **kw)


def generation_options(args):
    from rnnlab.generate.options import GenerationOptions
    return {f.name: getattr(args, f.name) for f in fields(GenerationOptions)}


def add_data_args(p, default):
    """The data options; `default(name)` says which default applies."""
    g = p.add_argument_group("data")
    g.add_argument("--corpus", help=f"tang, tangshi, shakespeare, or a path ({default('corpus')})")
    add_format_arg(g)
    g.add_argument("--seq-len", type=positive_int,
                   help=f"tokens per sequence incl. the end token; longer poems are truncated ({default('seq_len')})")
    g.add_argument("--min-len", type=positive_int, help=f"drop poems shorter than this many characters ({default('min_len')})")
    g.add_argument("--min-count", type=positive_int, help=f"keep characters seen at least this often ({default('min_count')})")
    g.add_argument("--t2s", action=argparse.BooleanOptionalAction,
                   help="convert traditional to simplified characters (default: on for Chinese corpora)")
    g.add_argument("--valid-fraction", type=fraction, help=f"share of sequences held out for validation ({default('valid_fraction')})")
    g.add_argument("--split-seed", type=int, help=f"seed of the train/valid split ({default('split_seed')})")


def add_device_arg(p, default="auto"):
    from rnnlab.device import DEVICES
    p.add_argument("--device", choices=DEVICES, default=default,
                   help="auto: CUDA, else Apple's MPS, else the CPU" + (" (default: %(default)s)" if default else ""))


def add_format_arg(p):
    from rnnlab.data.readers import READERS
    p.add_argument("--format", choices=list(READERS),
                   help="how to read a corpus file (default: guessed; lines = one poem a line, as generate prints)")


def show(value):
    return "none" if value is None else ("on" if value else "off") if isinstance(value, bool) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def data_default(name):
    """'default: V' of a data option outside training."""
    from rnnlab.data.dataset import DataConfig
    return f"default: {show(getattr(DataConfig(), name))}"


def train_default(name):
    """'default: V' of a training option as it applies: the default preset's value, then each preset that differs."""
    from rnnlab.training.config import DEFAULT_PRESET, PRESETS, build_config, lookup

    values = {preset: lookup(build_config(preset), name) for preset in PRESETS}
    base = values.pop(DEFAULT_PRESET)
    others = ", ".join(f"{preset} {show(v)}" for preset, v in values.items() if v is not None and v != base)
    if base is None:
        return f"default: {others}"
    return f"default: {show(base)}" + (f"; {others}" if others else "")


DATA_OPTIONS = ("corpus", "format", "seq_len", "min_len", "min_count", "t2s", "valid_fraction", "split_seed")
# what `rnnlab train` hands to build_config: every option of its parser but these
NOT_CONFIG = ("command", "preset", "config", "init_from", "out", "no_progress", "resume")


def data_overrides(args):
    return {k: getattr(args, k) for k in DATA_OPTIONS}


def build_parser():
    from rnnlab.training.config import DEFAULT_PRESET, OPTIMIZERS, PRESETS
    from rnnlab.training.schedule import SCHEDULES

    parser = Parser(prog="rnnlab", description="Recurrent language models: train an LSTM on Tang poems and let it write poems.")
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    data = sub.add_parser("data", help="fetch and prepare corpora")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    fetch = data_sub.add_parser(
        "fetch", help="download a corpus into the data folder and verify its hashes",
        description="Download a corpus into the data folder ($RNNLAB_DATA, else ~/.local/share/rnnlab), check the "
                    "download's hash and every file's SHA-256, then install it; a failed or interrupted fetch installs "
                    "nothing and the next one resumes the download. tang: the chinese-poetry 2.0.1 tarball from the npm "
                    "registry (85 MB); shakespeare: tiny Shakespeare from karpathy/char-rnn (1.1 MB). tangshi, the "
                    "handout corpus, has no public upstream: point RNNLAB_DATA at a folder holding tangshi.txt.")
    fetch.add_argument("name", choices=["tang", "shakespeare"])
    fetch.add_argument("--source", metavar="URL|FILE|npm",
                       help="a mirror's URL or a local copy of the same file, or npm (`npm pack`, tang only); "
                            "default $RNNLAB_TANG_SOURCE / $RNNLAB_SHAKESPEARE_SOURCE, else the upstream")
    fetch.add_argument("--timeout", type=positive_float, default=30.0, help="seconds without data before a try fails (default 30)")
    fetch.add_argument("--retries", type=non_negative_int, default=3, help="tries after the first (default 3)")
    dig = data_sub.add_parser("digits", help="write the digit-sum memory task: {L}/train.txt, dev.txt, test.txt")
    dig.add_argument("--out", required=True, metavar="DIR")
    dig.add_argument("--lengths", type=positive_int, nargs="+", default=[5, 10, 15, 20, 25, 30, 35])
    dig.add_argument("--seed", type=int, default=0)
    prep = data_sub.add_parser("prepare", help="clean, split and encode a corpus; print what was kept and dropped")
    add_data_args(prep, data_default)

    tr = sub.add_parser("train", help="train a character LSTM language model (no arguments: the main job)",
                        description="Train a character LSTM language model. With no arguments: the full Tang corpus, "
                                    "the cpu-fast model, 15 minutes, then poems for 日 红 山 夜 湖 海 月. An option "
                                    "the chosen model, engine or optimizer would not use is refused.")
    add_data_args(tr, train_default)
    d = train_default
    g = tr.add_argument_group("model")
    g.add_argument("--preset", choices=list(PRESETS),
                   help="sizes (embedding/hidden, batch, length): " + "; ".join(
                       f"{name}: {p['embed_size']}/{p['hidden_size']}, {p['batch_size']}, {p['seq_len']}" for name, p in PRESETS.items())
                   + f" (default: {DEFAULT_PRESET}: the most accurate in a CPU-time budget; seed-*: the reference's settings)")
    g.add_argument("--config", metavar="FILE",
                   help="a recipe: a TOML or JSON file of these options by name (hidden_size = 512), or a run's "
                        "config.json; flags given here override it (examples/*.toml)")
    g.add_argument("--engine", choices=["torch", "numpy"],
                   help=f"torch, or numpy (hand-written backward, numpy optimizers, CPU) ({d('engine')})")
    g.add_argument("--cell", choices=["autograd", "manual", "native"],
                   help=f"LSTM implementation: autograd (the gate equations), manual (hand-written BPTT) or native "
                        f"(nn.LSTM) ({d('cell')})")
    g.add_argument("--embed-size", type=positive_int, help=f"embedding (input) size ({d('embed_size')})")
    g.add_argument("--hidden-size", type=positive_int, help=f"LSTM hidden size ({d('hidden_size')})")
    g.add_argument("--num-layers", type=positive_int, help=f"stacked LSTM layers ({d('num_layers')})")
    g.add_argument("--activation", choices=["tanh", "relu", "none"], help=f"applied to the embeddings, plain LSTM ({d('activation')})")
    g.add_argument("--dropout", type=probability,
                   help=f"dropout on the last LSTM layer's output; plain LSTM: also between layers, AWD-LSTM: locked "
                        f"(between layers: --dropouth) ({d('dropout')})")
    g.add_argument("--init", choices=["uniform", "orthogonal"], help=f"parameter initialisation, plain LSTM ({d('init')})")
    g.add_argument("--softmax", choices=["full", "adaptive", "class"],
                   help=f"the output layer: full; adaptive (plain LSTM: frequent characters in a head, the rest in "
                        f"smaller clusters, exact log-probabilities); class (AWD-LSTM: class-based softmax over "
                        f"frequency classes) ({d('softmax')})")
    g.add_argument("--init-from", metavar="CHECKPOINT", help="start from this checkpoint's model, weights and vocabulary")
    g = tr.add_argument_group("AWD-LSTM (with --preset awd or awd-small: stream training in BPTT windows)")
    g.add_argument("--bptt", type=positive_int, help=f"mean window length ({d('bptt')})")
    g.add_argument("--fixed-bptt", dest="variable_bptt", action="store_const", const=False,
                   help="every window --bptt long (default: variable length)")
    g.add_argument("--dropouth", type=probability, help=f"locked dropout between LSTM layers ({d('dropouth')})")
    g.add_argument("--dropouti", type=probability, help=f"locked dropout on the embedded input ({d('dropouti')})")
    g.add_argument("--dropoute", type=probability, help=f"embedding dropout: share of characters dropped per step ({d('dropoute')})")
    g.add_argument("--wdrop", type=probability, help=f"DropConnect on the hidden-to-hidden weights ({d('wdrop')})")
    g.add_argument("--alpha", type=non_negative_float, help=f"activation regularisation (AR) weight ({d('alpha')})")
    g.add_argument("--beta", type=non_negative_float, help=f"temporal activation regularisation (TAR) weight ({d('beta')})")
    g.add_argument("--tied", action=argparse.BooleanOptionalAction,
                   help=f"decoder weight = embedding; the last layer then has --embed-size units ({d('tied')})")
    g.add_argument("--residual", action=argparse.BooleanOptionalAction,
                   help=f"add each layer's input to its output where the sizes agree ({d('residual')})")
    g.add_argument("--classes", dest="n_classes", type=positive_int, metavar="N",
                   help="number of classes of --softmax class (default: sqrt of the vocabulary)")
    g.add_argument("--finetune", action="store_const", const=True,
                   help="fine-tuning stage: NT-ASGD averages from the first step (with --init-from a trained run)")
    g = tr.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=OPTIMIZERS, help=f"Adam's betas are the reference's (0.5, 0.99) ({d('optimizer')})")
    g.add_argument("--betas", type=probability, nargs=2, metavar=("B1", "B2"), help=f"Adam's and AdaMax's betas ({d('betas')})")
    g.add_argument("--optim-impl", choices=["ours", "torch"],
                   help=f"ours: rnnlab.optim, written from the formulas; torch: torch.optim's class of the same name ({d('optim_impl')})")
    g.add_argument("--lr", type=positive_float, help=f"learning rate ({d('lr')})")
    g.add_argument("--schedule", choices=SCHEDULES,
                   help=f"learning rate after the warm-up: constant, or cosine decay to 0 when the run ends (its "
                        f"--max-steps, epochs or --time-budget) ({d('schedule')})")
    g.add_argument("--warmup", type=non_negative_int, metavar="STEPS", help=f"linear learning-rate warm-up ({d('warmup')})")
    g.add_argument("--batch-size", type=positive_int, help=f"sequences per step ({d('batch_size')})")
    g.add_argument("--bucket", action=argparse.BooleanOptionalAction,
                   help=f"batch poems of similar length together, less padding ({d('bucket')})")
    g.add_argument("--epochs", type=positive_int, help=f"({d('epochs')})")
    g.add_argument("--max-steps", type=positive_int, help="stop after this many optimizer steps (default: no limit)")
    g.add_argument("--time-budget", type=non_negative_float, metavar="MINUTES", help=f"stop after this long, 0 = no limit ({d('time_budget')})")
    g.add_argument("--clip-norm", type=positive_float, help=f"clip gradients to this global norm ({d('clip_norm')})")
    g.add_argument("--clip-per-tensor", action="store_const", const=True, help="apply --clip-norm to each tensor on its own")
    g.add_argument("--clip-value", type=positive_float, help="clamp every gradient entry to [-v, v] (default: none)")
    g.add_argument("--weight-decay", type=non_negative_float, help=f"L2 penalty ({d('weight_decay')})")
    g.add_argument("--l1", type=non_negative_float, help=f"L1 penalty ({d('l1')})")
    g.add_argument("--log-grad-norms", action="store_const", const=True, help="per-parameter gradient norms in metrics.csv")
    g.add_argument("--eval-every", type=positive_int, help=f"validate every N steps and at each epoch end ({d('eval_every')})")
    g.add_argument("--valid-subset", type=non_negative_int, metavar="N",
                   help=f"validate on the first N validation poems while training, on all of them at the end; 0 = all "
                        f"({d('valid_subset')})")
    g.add_argument("--patience", type=positive_int, help=f"stop after N evaluations without improvement ({d('patience')})")
    g.add_argument("--seed", type=int, help=f"seed for initialisation, data order and sampling ({d('seed')})")
    add_device_arg(g, default=None)
    g.add_argument("--out", metavar="DIR", help="the run directory to write; must not exist yet (default: runs/CORPUS-KIND-TIME)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = tr.add_argument_group("surviving crashes and bad numbers")
    g.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a run where its last saved state left off (its own settings; --time-budget may change)")
    g.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help=f"save the full training state every N steps, also at each epoch end and on stop ({d('checkpoint_every')})")
    g.add_argument("--max-bad-steps", type=positive_int, metavar="K",
                   help=f"after K non-finite steps in a row, go back to the last saved state ({d('max_bad_steps')})")
    g.add_argument("--bad-lr-factor", type=fraction, metavar="F", help=f"... and multiply the learning rate by this ({d('bad_lr_factor')})")

    ev = sub.add_parser("eval", help="perplexity of a corpus under a checkpoint")
    ev.add_argument("--checkpoint", required=True, metavar="DIR", help="a checkpoint or run directory")
    add_device_arg(ev)
    ev.add_argument("--corpus", required=True, help="tang, tangshi, shakespeare, or a path")
    add_format_arg(ev)
    ev.add_argument("--split", choices=["all", "train", "valid"], default="all",
                    help="valid/train: the split the checkpoint was trained with (default: %(default)s)")
    ev.add_argument("--engine", choices=["torch", "numpy"], default="torch", help="which engine computes it (default: %(default)s)")
    ev.add_argument("--float64", action="store_true", help="compute in float64 (always so with --engine numpy)")
    ev.add_argument("--json", action="store_true", help="print JSON")

    gen = sub.add_parser("generate", help="write poems with a trained checkpoint")
    add_generation_args(gen, num=1)
    gen.add_argument("--json", action="store_true", help="print JSON")
    eg = sub.add_parser("eval-gen", help="generate poems and measure form, rhyme, tones, diversity, novelty, log-probability")
    add_generation_args(eg, num=200)
    eg.add_argument("--poems", metavar="FILE", help="score the poems of FILE (e.g. what generate wrote) instead of new ones")
    add_format_arg(eg)
    eg.add_argument("--json", action="store_true", help="print JSON")
    pr = sub.add_parser("prosody", help="score the regulated poems of a corpus: rhyme and tone rules per form",
                        description="For each regulated form (wujue qijue wulv qilv), the number of poems of that shape "
                                    "that rhyme on 平 (those rhyming on 仄 are old-style verse, counted apart) and the share "
                                    "that rhyme and that follow the tone rules. Traditional text is converted first.")
    pr.add_argument("corpus", metavar="FILE", help="a corpus file or folder in any format rnnlab reads, or tang, tangshi")
    add_format_arg(pr)
    pr.add_argument("--prosody", choices=["classical", "modern"], default="classical", help="(default: %(default)s)")
    pr.add_argument("--shuffled", action="store_true",
                    help="shuffle each line's characters (the last kept) first: what the checks give to non-verse")
    pr.add_argument("--json", action="store_true", help="print JSON")
    sv = sub.add_parser("serve", help="the poem-writing web page and its JSON API",
                        description="Serve a web page and a JSON API (POST /api/generate, GET /api/models, GET /healthz) "
                                    "that write poems with the given checkpoints. API docs at /docs.")
    sv.add_argument("--checkpoint", required=True, action="append", metavar="DIR",
                    help="a checkpoint or run directory; repeat for several models (the first is the default)")
    add_device_arg(sv)
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    sv.add_argument("--port", type=positive_int, default=8000, help="(default: %(default)s)")
    sv.add_argument("--timeout", type=positive_float, default=20.0, help="seconds one request may take (default: %(default)s)")
    ex = sub.add_parser("experiment", help="run an experiment and write its CSV, plots and summary.md")
    ex.add_argument("name", choices=["explosion", "memory", "vanishing", "optimizers", "optimizer-paths", "awd-ablation"])
    ex.add_argument("--out", required=True, metavar="DIR")
    ex.add_argument("--quick", action="store_true", help="a few epochs or steps only: checks that it runs")
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--global-norm", action="store_true", help="explosion: clip by the global norm instead of per tensor")
    ex.add_argument("--corpus", help="optimizers, awd-ablation: the corpus (default: tang for optimizers, tangshi for awd-ablation)")
    ex.add_argument("--steps", type=positive_int, help="optimizers: steps per optimizer (default 300; 10 with --quick)")
    ex.add_argument("--epochs", type=positive_int, help="awd-ablation: epochs per variant (default 40; 2 with --quick)")
    gc = sub.add_parser("gradcheck", help="check the numpy engine's gradients against central differences and PyTorch")
    gc.add_argument("--seed", type=int, default=0)
    gc.add_argument("--json", action="store_true", help="print JSON")
    be = sub.add_parser("bench", help="tokens/s and peak memory of the LSTM engines (layer alone and full training step)")
    be.add_argument("--hidden-size", type=positive_int, nargs="+", default=[128, 256, 512, 1024],
                    help="hidden sizes (default: %(default)s)")
    be.add_argument("--batch-size", type=positive_int, nargs="+", default=[16, 64], help="batch sizes (default: %(default)s)")
    be.add_argument("--seq-len", type=positive_int, default=49, help="sequence length (default: %(default)s)")
    be.add_argument("--vocab-size", type=positive_int, default=5437,
                    help="vocabulary of the training step (default: tang's %(default)s)")
    be.add_argument("--kinds", nargs="+", choices=["layer", "lm"], default=["layer", "lm"], help="what to measure (default: both)")
    be.add_argument("--engines", nargs="+", choices=["autograd", "manual", "native", "numpy"],
                    default=["autograd", "manual", "native", "numpy"], help="which engines (default: all)")
    be.add_argument("--repeats", type=positive_int, default=5, help="timed repeats; the median is reported (default: %(default)s)")
    be.add_argument("--min-time", type=positive_float, default=0.2, help="seconds each timed repeat lasts at least (default: %(default)s)")
    be.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs (one process per engine and point)")
    be.add_argument("--out", default=".", metavar="DIR", help="the folder to write bench.json into (default: %(default)s)")
    be.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    return parser
