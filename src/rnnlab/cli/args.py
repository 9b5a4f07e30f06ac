"""The `rnnlab` command's arguments, one sub-parser per command. The options of `train` and `data prepare`
are made from the config dataclasses' declarations (options.py), generate's and eval-gen's from
GenerationOptions; the other commands declare their own few here. A bad value fails with one line."""
import argparse
from dataclasses import fields
from functools import lru_cache
from typing import get_args

from rnnlab import __version__
from rnnlab.options import bounded, flag_of, options_of


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_checkpoint_arg(p, several=False):
    """--checkpoint of the commands that use a trained model; without it, the bundled model."""
    from rnnlab.bundled import DEFAULT_MODEL, bundled_names

    p.add_argument("--checkpoint", metavar="DIR", action="append" if several else "store",
                   help=f"a checkpoint or run directory, or a bundled model's name ({', '.join(bundled_names())}; "
                        f"`rnnlab models` lists them){'; repeat for several models (the first is the default)' if several else ''}"
                        f" (default: the bundled {DEFAULT_MODEL})")


def add_generation_args(p, num):
    """--checkpoint and one flag per field of GenerationOptions; `num`: this command's default poem count.
    The values are checked by GenerationOptions.check (one line, exit 2)."""
    from rnnlab.generate.options import GenerationOptions, choices

    add_checkpoint_arg(p)
    add_device_arg(p)
    add_precision_arg(p)
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


def add_device_arg(p):
    """--device of a command that runs a model, as TrainConfig declares it (default auto)."""
    from rnnlab.training.config import TrainConfig
    add_declared(p, TrainConfig, "device", lambda name: "default: auto", value="auto")


def add_precision_arg(p):
    """--precision of a command that runs a trained model, as TrainConfig declares it (default fp32: exact)."""
    from rnnlab.training.config import TrainConfig
    add_declared(p, TrainConfig, "precision", lambda name: "default: fp32", value="fp32")


def add_format_arg(p):
    """--format of a command that reads a corpus, as DataConfig declares it."""
    from rnnlab.data.dataset import DataConfig
    add_declared(p, DataConfig, "format", data_default)


def add_declared(p, cls, name, shown, value=None):
    """One option of `cls`'s declaration (options.py) as a flag of a command other than train; `shown(name)`
    gives the help's 'default: V', `value` the default value."""
    f, meta = options_of(cls)[name]
    p.add_argument(flag_of(name, meta), dest=name, default=value, **argument(f, meta, shown))


def show(value):
    if isinstance(value, tuple):                   # as it is typed: --betas 0.5 0.99, --prosody-inputs a b
        return " ".join(map(show, value)) or "none"
    return "none" if value is None else ("on" if value else "off") if isinstance(value, bool) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def data_default(name):
    """'default: V' of a data option outside training."""
    from rnnlab.data.dataset import DataConfig
    return f"default: {show(getattr(DataConfig(), name))}"


@lru_cache(maxsize=None)
def preset_configs():
    from rnnlab.training.config import PRESETS, build_config
    return {preset: build_config(preset) for preset in PRESETS}


def train_default(name):
    """'default: V' of a training option as it applies: the default preset's value, then each preset that differs."""
    from rnnlab.training.config import DEFAULT_PRESET, lookup

    values = {preset: lookup(cfg, name) for preset, cfg in preset_configs().items()}
    base = values.pop(DEFAULT_PRESET)
    others = ", ".join(f"{preset} {show(v)}" for preset, v in values.items() if v is not None and v != base)
    if base is None:
        return f"default: {others or 'none'}"
    return f"default: {show(base)}" + (f"; {others}" if others else "")


def add_options(sections, classes, default):
    """One flag per option field of `classes` (options.py), into the argument group its declaration names
    (`sections`: group name -> argparse group; a new name opens a new group); `default(name)` gives
    'default: V' for the help."""
    parser = next(iter(sections.values()))
    for name, (f, meta) in options_of(*classes).items():
        group = meta["group"] or "data"
        if group not in sections:
            sections[group] = parser.add_argument_group(group)
        sections[group].add_argument(flag_of(name, meta), dest=name, default=None, **argument(f, meta, default))


def argument(f, meta, default):
    """add_argument's keywords for one declared option."""
    kw = {"help": meta["help"]}
    if meta["switch"] == "toggle":
        kw["action"] = argparse.BooleanOptionalAction
    elif meta["switch"] in ("on", "off"):          # a flag that sets one value; its help says a default if declared
        suffix = f" (default: {meta['default_text']})" if meta["default_text"] else ""
        return {"help": kw["help"] + suffix, "action": "store_const", "const": meta["switch"] == "on"}
    elif meta["choices"]:
        kw["choices"] = list(meta["choices"])
    else:
        kw["type"] = bounded(meta["bounds"]) if meta["bounds"] else \
            next(t for t in (int, float, str) if t is f.type or t in get_args(f.type))
    kw.update({k: meta[k] for k in ("nargs", "metavar") if meta[k]})
    kw["help"] += f" (default: {meta['default_text']})" if meta["default_text"] else f" ({default(f.name)})"
    return kw


def data_options():
    from rnnlab.data.dataset import DataConfig
    return [f.name for f in fields(DataConfig)]


# what `rnnlab train` hands to build_config: every option of its parser but these
NOT_CONFIG = ("command", "preset", "config", "init_from", "out", "no_progress", "resume")


def data_overrides(args):
    return {k: getattr(args, k) for k in data_options()}


def add_train_parser(sub):
    """`rnnlab train`: every option declared by the config dataclasses, in their sections, and the few
    that are not config (preset, config file, init-from, out, no-progress, resume)."""
    from rnnlab.data.dataset import DataConfig
    from rnnlab.nn.configs import AWD_SECTION, AWDConfig, ModelConfig
    from rnnlab.training.config import (
        DEFAULT_PRESET,
        OPTIMISATION,
        PRESETS,
        SURVIVAL,
        OptimConfig,
        StreamConfig,
        TrainConfig,
    )

    tr = sub.add_parser("train", help="train a character LSTM language model (no arguments: the main job)",
                        description="Train a character LSTM language model. With no arguments: the full Tang corpus, "
                                    "the cpu-fast model, 15 minutes, then poems for 日 红 山 夜 湖 海 月. An option "
                                    "the chosen model, engine or optimizer would not use is refused.")
    sections = {name: tr.add_argument_group(name) for name in ("data", "model", AWD_SECTION, OPTIMISATION, SURVIVAL)}
    model = sections["model"]
    model.add_argument("--preset", choices=list(PRESETS),
                       help="sizes (embedding/hidden, batch, length): " + "; ".join(
                           f"{name}: {p['embed_size']}/{p['hidden_size']}, {p['batch_size']}, {p['seq_len']}"
                           for name, p in PRESETS.items())
                       + f" (default: {DEFAULT_PRESET}: the most accurate in a CPU-time budget; seed-*: the reference's settings)")
    model.add_argument("--config", metavar="FILE",
                       help="a recipe: a TOML or JSON file of these options by name (hidden_size = 512), or a run's "
                            "config.json; flags given here override it (examples/*.toml)")
    model.add_argument("--init-from", metavar="CHECKPOINT", help="start from this checkpoint's model, weights and vocabulary")
    add_options(sections, [DataConfig, ModelConfig, AWDConfig, OptimConfig, StreamConfig, TrainConfig], train_default)
    sections[OPTIMISATION].add_argument("--out", metavar="DIR", help="the run directory to write; must not exist yet "
                                                                     "(default: runs/CORPUS-KIND-TIME)")
    sections[OPTIMISATION].add_argument("--no-progress", action="store_true", help="no progress bar")
    sections[SURVIVAL].add_argument("--resume", metavar="RUN_DIR",
                                    help="continue a run where its last saved state left off (its own settings; "
                                         "--time-budget may change)")


def build_parser():
    parser = Parser(prog="rnnlab", description="Recurrent language models: train an LSTM on Tang poems and let it write poems.")
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_data_parser(sub)
    add_train_parser(sub)
    add_model_parsers(sub)
    add_look_parsers(sub)
    add_tool_parsers(sub)
    return parser


def add_data_parser(sub):
    """`rnnlab data fetch | digits | prepare`."""
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
    fetch.add_argument("--timeout", type=bounded("positive_float"), default=30.0, help="seconds without data before a try fails (default 30)")
    fetch.add_argument("--retries", type=bounded("non_negative_int"), default=3, help="tries after the first (default 3)")
    dig = data_sub.add_parser("digits", help="write the digit-sum memory task: {L}/train.txt, dev.txt, test.txt")
    dig.add_argument("--out", required=True, metavar="DIR")
    dig.add_argument("--lengths", type=bounded("positive_int"), nargs="+", default=[5, 10, 15, 20, 25, 30, 35])
    dig.add_argument("--seed", type=int, default=0)
    prep = data_sub.add_parser("prepare", help="clean, split and encode a corpus; print what was kept and dropped")
    from rnnlab.data.dataset import DataConfig
    add_options({"data": prep.add_argument_group("data")}, [DataConfig], data_default)


def add_model_parsers(sub):
    """The commands that use a trained model: eval, generate, eval-gen, prosody (the ruler) and serve."""
    ev = sub.add_parser("eval", help="perplexity of a corpus under a checkpoint")
    add_checkpoint_arg(ev)
    add_device_arg(ev)
    add_precision_arg(ev)
    ev.add_argument("--corpus", required=True, help="tang, tangshi, shakespeare, or a path")
    add_format_arg(ev)
    ev.add_argument("--split", choices=["all", "train", "valid"], default="all",
                    help="valid/train: the split the checkpoint was trained with (default: %(default)s)")
    ev.add_argument("--unseen", action="store_true",
                    help="leave out the sequences that share a line (text between two punctuation marks) with "
                         "the checkpoint's own training split")
    ev.add_argument("--engine", choices=["torch", "numpy"], default="torch", help="which engine computes it (default: %(default)s)")
    ev.add_argument("--float64", action="store_true", help="compute in float64 (always so with --engine numpy)")
    ev.add_argument("--json", action="store_true", help="print JSON")

    gen = sub.add_parser("generate", help="write poems with a trained checkpoint (none given: the bundled model)")
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
    add_checkpoint_arg(sv, several=True)
    add_device_arg(sv)
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    sv.add_argument("--port", type=bounded("positive_int"), default=8000, help="(default: %(default)s)")
    sv.add_argument("--timeout", type=bounded("positive_float"), default=20.0, help="seconds one request may take (default: %(default)s)")


def add_look_parsers(sub):
    """inspect and models."""
    ins = sub.add_parser("inspect", help="look inside a trained LSTM: structural cells, gate saturation, its choices",
                         description="Trace every gate and cell of the model over real poems; find the cells that track "
                                     "position in the line, line index, the rhyme position and the distance to the end "
                                     "(with a shuffled-lines control); compare gate saturation with an untrained model; "
                                     "show the model's top-5 at each position of a poem it writes. Writes heatmap.png, "
                                     "saturation.png, inspect.json and summary.md into --out.")
    add_checkpoint_arg(ins)
    poems = ins.add_mutually_exclusive_group()
    poems.add_argument("--text", metavar="POEM", help="inspect this poem only")
    poems.add_argument("--corpus", help="poems from this corpus (default: the validation split of the checkpoint's own)")
    add_format_arg(ins)
    ins.add_argument("--num", type=bounded("inspected_poems"), default=200, help="how many poems (default: %(default)s)")
    ins.add_argument("--engine", choices=["torch", "numpy"], default="torch",
                     help="which engine computes the gates (the same figures from either; default: %(default)s)")
    from rnnlab.generate.options import Form, choices
    ins.add_argument("--form", choices=[f for f in choices(Form) if f != "free"], default="wujue",
                     help="the form of the poem whose choices are shown, written with hard rhyme and tones "
                          "(default: %(default)s)")
    ins.add_argument("--seed", type=int, default=0,
                     help="for the shuffled lines, the untrained model and the poem written (default: %(default)s)")
    ins.add_argument("--out", required=True, metavar="DIR", help="the folder to write into (absent or empty)")
    ls = sub.add_parser("models", help="the bundled models and your runs, with their validation perplexity")
    ls.add_argument("--runs", default="runs", metavar="DIR", help="where to look for runs (default: %(default)s)")
    ls.add_argument("--json", action="store_true", help="print JSON")


def add_tool_parsers(sub):
    """experiment, gradcheck, bench."""
    ex = sub.add_parser("experiment", help="run an experiment and write its CSV, plots and summary.md")
    ex.add_argument("name", choices=["explosion", "memory", "vanishing", "optimizers", "optimizer-paths", "awd-ablation"])
    ex.add_argument("--out", required=True, metavar="DIR")
    ex.add_argument("--quick", action="store_true", help="a few epochs or steps only: checks that it runs")
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--global-norm", action="store_true", help="explosion: clip by the global norm instead of per tensor")
    ex.add_argument("--corpus", help="optimizers, awd-ablation: the corpus (default: tang for optimizers, tangshi for awd-ablation)")
    ex.add_argument("--steps", type=bounded("positive_int"), help="optimizers: steps per optimizer (default 300; 10 with --quick)")
    ex.add_argument("--epochs", type=bounded("positive_int"), help="awd-ablation: epochs per variant (default 40; 2 with --quick)")
    gc = sub.add_parser("gradcheck", help="check the numpy engine's gradients against central differences and PyTorch")
    gc.add_argument("--seed", type=int, default=0)
    gc.add_argument("--json", action="store_true", help="print JSON")
    be = sub.add_parser("bench", help="tokens/s and peak memory of the LSTM engines (layer alone and full training step)")
    be.add_argument("--hidden-size", type=bounded("positive_int"), nargs="+", default=[128, 256, 512, 1024],
                    help="hidden sizes (default: %(default)s)")
    be.add_argument("--batch-size", type=bounded("positive_int"), nargs="+", default=[16, 64], help="batch sizes (default: %(default)s)")
    be.add_argument("--seq-len", type=bounded("positive_int"), default=49, help="sequence length (default: %(default)s)")
    be.add_argument("--vocab-size", type=bounded("positive_int"), default=5437,
                    help="vocabulary of the training step (default: tang's %(default)s)")
    be.add_argument("--kinds", nargs="+", choices=["layer", "lm"], default=["layer", "lm"], help="what to measure (default: both)")
    be.add_argument("--engines", nargs="+", choices=["autograd", "manual", "native", "numpy"],
                    default=["autograd", "manual", "native", "numpy"], help="which engines (default: all)")
    be.add_argument("--repeats", type=bounded("positive_int"), default=5, help="timed repeats; the median is reported (default: %(default)s)")
    be.add_argument("--min-time", type=bounded("positive_float"), default=0.2, help="seconds each timed repeat lasts at least (default: %(default)s)")
    be.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs (one process per engine and point)")
    be.add_argument("--out", default=".", metavar="DIR", help="the folder to write bench.json into (default: %(default)s)")
    be.add_argument("--json", action="store_true", help="print the JSON instead of the table")
