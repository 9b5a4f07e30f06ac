"""Command line: argument parsing only; every command calls one library function.

User errors (RnnlabError) become one line on stderr and exit code 2."""
import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from rnnlab.errors import Interrupted, RnnlabError

START_CHARS = "日红山夜湖海月"   # the reference's start characters (PART 2 §2.2)
AWD_FLAGS = ("bptt", "dropouth", "dropouti", "dropoute", "wdrop", "alpha", "beta", "tied", "residual", "softmax")


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
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


def add_generation_args(p):
    p.add_argument("--checkpoint", required=True, metavar="DIR", help="a checkpoint or run directory")
    p.add_argument("--form", choices=["free", "wujue", "qijue", "wulv", "qilv"], default="free",
                   help="free (ends at <eos> or --max-len), or 五言绝句 wujue, 七言绝句 qijue, 五言律诗 wulv, 七言律诗 qilv "
                        "(default: %(default)s)")
    p.add_argument("--start", default="", help="the poem's opening text, e.g. 月")
    p.add_argument("--acrostic", default="", help="藏头诗: the first character of each line, e.g. 春夏秋冬")
    p.add_argument("--prefix", default="", help="text read first to set the mood, not printed")
    p.add_argument("--strategy", choices=["sample", "greedy", "beam"], default="sample", help="(default: %(default)s)")
    p.add_argument("--temperature", type=float, default=0.8, help="> 0; lower is safer, higher is wilder (default: %(default)s)")
    p.add_argument("--top-k", type=int, help="sample from the k most likely characters only")
    p.add_argument("--top-p", type=float, help="sample from the smallest set of characters with this much probability (0, 1]")
    p.add_argument("--beam-size", type=positive_int, default=4, help="beam search width (default: %(default)s)")
    p.add_argument("--rhyme", nargs="?", const="hard", choices=["soft", "hard"],
                   help="even lines rhyme (regulated forms): hard masks, soft reweights (--rhyme alone: hard)")
    p.add_argument("--tones", nargs="?", const="hard", choices=["soft", "hard"],
                   help="follow the form's 平仄 pattern: hard or soft (--tones alone: hard)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help=">= 1; discourages repeated characters (default: %(default)s)")
    p.add_argument("--max-len", type=positive_int, default=64, help="length cap of free poems in characters (default: %(default)s)")


def generation_options(args):
    return {"start": args.start, "form": args.form, "acrostic": args.acrostic, "prefix": args.prefix,
            "strategy": args.strategy, "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p,
            "beam_size": args.beam_size, "rhyme": args.rhyme, "tones": args.tones,
            "repetition_penalty": args.repetition_penalty, "max_len": args.max_len, "num": args.num, "seed": args.seed}


def add_data_args(p):
    g = p.add_argument_group("data")
    g.add_argument("--corpus", help="tang, tangshi, shakespeare, or a path (default: tang)")
    g.add_argument("--seq-len", type=positive_int, help="tokens per sequence incl. the end token (default 49; longer poems are truncated)")
    g.add_argument("--min-len", type=positive_int, help="drop poems shorter than this many characters (default 12)")
    g.add_argument("--min-count", type=positive_int, help="keep characters seen at least this often (default 3)")
    g.add_argument("--t2s", action=argparse.BooleanOptionalAction, default=None,
                   help="convert traditional to simplified characters (default: on for Chinese corpora)")
    g.add_argument("--valid-fraction", type=fraction, help="share of sequences held out for validation (default 0.2)")
    g.add_argument("--split-seed", type=int, help="seed of the train/valid split (default 0)")


def data_overrides(args):
    return {"corpus": args.corpus, "seq_len": args.seq_len, "min_len": args.min_len, "min_count": args.min_count,
            "t2s": args.t2s, "valid_fraction": args.valid_fraction, "split_seed": args.split_seed}


def build_parser():
    from rnnlab.train.config import OPTIMIZERS, PRESETS

    parser = Parser(prog="rnnlab", description="Recurrent language models: train an LSTM on Tang poems and let it write poems.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    data = sub.add_parser("data", help="fetch and prepare corpora")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    fetch = data_sub.add_parser("fetch", help="download a corpus into the data folder and verify its SHA-256 hashes")
    fetch.add_argument("name", choices=["tang"])
    dig = data_sub.add_parser("digits", help="write the digit-sum memory task: {L}/train.txt, dev.txt, test.txt")
    dig.add_argument("--out", required=True, metavar="DIR")
    dig.add_argument("--lengths", type=positive_int, nargs="+", default=[5, 10, 15, 20, 25, 30, 35])
    dig.add_argument("--seed", type=int, default=0)
    prep = data_sub.add_parser("prepare", help="clean, split and encode a corpus; print what was kept and dropped")
    add_data_args(prep)

    tr = sub.add_parser("train", help="train a character LSTM language model (no arguments: the main job)",
                        description="Train a character LSTM language model. With no arguments: the full Tang corpus, "
                                    "the seed-large model, 15 minutes, then poems for 日 红 山 夜 湖 海 月.")
    add_data_args(tr)
    g = tr.add_argument_group("model")
    g.add_argument("--preset", choices=list(PRESETS),
                   help="sizes (embedding/hidden, batch, length): " + "; ".join(
                       f"{name}: {p['embed_size']}/{p['hidden_size']}, {p['batch_size']}, {p['seq_len']}" for name, p in PRESETS.items())
                   + " (default: seed-large)")
    g.add_argument("--engine", choices=["torch", "numpy"],
                   help="torch, or numpy (hand-written backward, numpy optimizers, CPU) (default: torch)")
    g.add_argument("--cell", choices=["autograd", "manual", "native"],
                   help="LSTM implementation: autograd (the gate equations), manual (hand-written BPTT) or native (nn.LSTM) (default: native)")
    g.add_argument("--embed-size", type=positive_int, help="embedding (input) size (default: from the preset)")
    g.add_argument("--hidden-size", type=positive_int, help="LSTM hidden size (default: from the preset)")
    g.add_argument("--num-layers", type=positive_int, help="stacked LSTM layers (default 1)")
    g.add_argument("--activation", choices=["tanh", "relu", "none"], help="applied to the embeddings (default tanh)")
    g.add_argument("--dropout", type=probability, help="dropout on the LSTM output and between layers (default 0)")
    g.add_argument("--init", choices=["uniform", "orthogonal"], help="parameter initialisation (default uniform, as in the reference)")
    g.add_argument("--init-from", metavar="CHECKPOINT", help="start from this checkpoint's weights and vocabulary")
    g = tr.add_argument_group("AWD-LSTM (with --preset awd or awd-small: stream training in BPTT windows)")
    g.add_argument("--bptt", type=positive_int, help="mean window length (awd: 70, awd-small: 35)")
    g.add_argument("--fixed-bptt", action="store_true", help="every window --bptt long (default: variable length)")
    g.add_argument("--dropouth", type=probability, help="locked dropout between LSTM layers")
    g.add_argument("--dropouti", type=probability, help="locked dropout on the embedded input")
    g.add_argument("--dropoute", type=probability, help="embedding dropout: share of characters dropped per step")
    g.add_argument("--wdrop", type=probability, help="DropConnect on the hidden-to-hidden weights")
    g.add_argument("--alpha", type=non_negative_float, help="activation regularisation (AR) weight (default 2)")
    g.add_argument("--beta", type=non_negative_float, help="temporal activation regularisation (TAR) weight (default 1)")
    g.add_argument("--tied", action=argparse.BooleanOptionalAction, default=None,
                   help="decoder weight = embedding (default: on; the last layer then has --embed-size units)")
    g.add_argument("--residual", action=argparse.BooleanOptionalAction, default=None,
                   help="add each layer's input to its output where the sizes agree (default: off)")
    g.add_argument("--softmax", choices=["full", "class"], help="class: class-based softmax over frequency classes (default full)")
    g.add_argument("--classes", type=positive_int, help="number of classes of --softmax class (default: sqrt of the vocabulary)")
    g.add_argument("--finetune", action="store_true",
                   help="fine-tuning stage: NT-ASGD averages from the first step (with --init-from a trained run)")
    g = tr.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=OPTIMIZERS, help="default adam, with betas (0.5, 0.99) as in the reference")
    g.add_argument("--optim-impl", choices=["ours", "torch"],
                   help="ours: rnnlab.optim, written from the formulas; torch: torch.optim's class of the same name (default ours)")
    g.add_argument("--lr", type=positive_float, help="learning rate (default 1e-3)")
    g.add_argument("--batch-size", type=positive_int, help="sequences per step (default: from the preset)")
    g.add_argument("--epochs", type=positive_int, help="default 20")
    g.add_argument("--max-steps", type=positive_int, help="stop after this many optimizer steps")
    g.add_argument("--time-budget", type=non_negative_float, metavar="MINUTES", help="stop after this long (default 15; 0 = no limit)")
    g.add_argument("--clip-norm", type=positive_float, help="clip gradients to this global norm")
    g.add_argument("--clip-per-tensor", action="store_true", help="apply --clip-norm to each tensor on its own")
    g.add_argument("--clip-value", type=positive_float, help="clamp every gradient entry to [-v, v]")
    g.add_argument("--weight-decay", type=non_negative_float, help="L2 penalty (default 0)")
    g.add_argument("--l1", type=non_negative_float, help="L1 penalty (default 0)")
    g.add_argument("--log-grad-norms", action="store_true", help="per-parameter gradient norms in metrics.csv")
    g.add_argument("--eval-every", type=positive_int, help="validate every N steps (default 500) and at each epoch end")
    g.add_argument("--patience", type=positive_int, help="stop after N evaluations without improvement (default 3)")
    g.add_argument("--seed", type=int, help="seed for initialisation, data order and sampling (default 0)")
    g.add_argument("--device", choices=["cpu", "cuda", "auto"], help="default auto: cuda when available")
    g.add_argument("--out", metavar="DIR", help="run directory (default runs/CORPUS-CELL-TIME); must not exist yet")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = tr.add_argument_group("surviving crashes and bad numbers")
    g.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a run where its last saved state left off (its own settings; --time-budget may change)")
    g.add_argument("--checkpoint-every", type=positive_int,
                   help="save the full training state every N steps (default 200; also at each epoch end and on stop)")
    g.add_argument("--max-bad-steps", type=positive_int,
                   help="after K non-finite steps in a row, go back to the last saved state (default 5)")
    g.add_argument("--bad-lr-factor", type=fraction, help="... and multiply the learning rate by this (default 0.5)")

    ev = sub.add_parser("eval", help="perplexity of a corpus under a checkpoint")
    ev.add_argument("--checkpoint", required=True, metavar="DIR", help="a checkpoint or run directory")
    ev.add_argument("--corpus", required=True, help="tang, tangshi, shakespeare, or a path")
    ev.add_argument("--split", choices=["all", "train", "valid"], default="all",
                    help="valid/train: the split the checkpoint was trained with (default: %(default)s)")
    ev.add_argument("--engine", choices=["torch", "numpy"], default="torch", help="which engine computes it (default: %(default)s)")
    ev.add_argument("--float64", action="store_true", help="compute in float64 (always so with --engine numpy)")
    ev.add_argument("--json", action="store_true", help="print JSON")

    gen = sub.add_parser("generate", help="write poems with a trained checkpoint")
    add_generation_args(gen)
    gen.add_argument("--num", type=positive_int, default=1, help="how many poems (default: %(default)s)")
    gen.add_argument("--seed", type=int, help="make the output reproducible")
    gen.add_argument("--json", action="store_true", help="print JSON")
    eg = sub.add_parser("eval-gen", help="generate poems and measure form, rhyme, tones, diversity, novelty, log-probability")
    add_generation_args(eg)
    eg.add_argument("--num", type=positive_int, default=200, help="how many poems (default: %(default)s)")
    eg.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    eg.add_argument("--json", action="store_true", help="print JSON")
    sv = sub.add_parser("serve", help="the poem-writing web page and its JSON API",
                        description="Serve a web page and a JSON API (POST /api/generate, GET /api/models, GET /healthz) "
                                    "that write poems with the given checkpoints. API docs at /docs.")
    sv.add_argument("--checkpoint", required=True, action="append", metavar="DIR",
                    help="a checkpoint or run directory; repeat for several models (the first is the default)")
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
    be.add_argument("--hidden", type=positive_int, nargs="+", default=[128, 256, 512, 1024], help="hidden sizes (default: %(default)s)")
    be.add_argument("--batch", type=positive_int, nargs="+", default=[16, 64], help="batch sizes (default: %(default)s)")
    be.add_argument("--length", type=positive_int, default=49, help="sequence length (default: %(default)s)")
    be.add_argument("--vocab", type=positive_int, default=5437, help="vocabulary of the training step (default: tang's %(default)s)")
    be.add_argument("--kinds", nargs="+", choices=["layer", "lm"], default=["layer", "lm"], help="what to measure (default: both)")
    be.add_argument("--engines", nargs="+", choices=["autograd", "manual", "native", "numpy"],
                    default=["autograd", "manual", "native", "numpy"], help="which engines (default: all)")
    be.add_argument("--repeats", type=positive_int, default=5, help="timed repeats; the median is reported (default: %(default)s)")
    be.add_argument("--min-time", type=positive_float, default=0.2, help="seconds each timed repeat lasts at least (default: %(default)s)")
    be.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs (one process per engine and point)")
    be.add_argument("--out", default="bench.json", metavar="FILE", help="where to write the JSON (default: %(default)s)")
    be.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    return parser


def cmd_data(args):
    from rnnlab.data import sources
    from rnnlab.data.dataset import DataConfig, prepare

    if args.data_command == "fetch":
        print(f"Tang corpus ready and verified at {sources.fetch_tang()}")
        return
    if args.data_command == "digits":
        from rnnlab.data import digits
        for folder in digits.write(args.out, args.lengths, args.seed):
            print(f"wrote {folder}/train.txt (300), dev.txt (100), test.txt (100)")
        return
    config = replace(DataConfig(), **{k: v for k, v in data_overrides(args).items() if v is not None})
    t0 = time.perf_counter()
    data = prepare(config, fetch_missing=config.corpus == "tang")
    print_stats(data.stats, time.perf_counter() - t0)


def print_stats(s, seconds):
    print(f"corpus      {s['corpus']} ({s['format']}{', traditional -> simplified' if s['t2s'] else ''})")
    print(f"read        {s['read']}")
    for reason, n in sorted(s["dropped"].items()):
        print(f"dropped     {n} ({reason})")
    print(f"kept        {s['kept']} ({s['truncated']} truncated)")
    print(f"characters  {s['characters']}")
    print(f"vocabulary  {s['vocab_size']} (with 4 special tokens; {s['unknown']} characters became <unk>)")
    print(f"train/valid {s['train']} / {s['valid']}")
    print(f"took        {seconds:.2f} s{' (from cache)' if s.get('cached') else ''}")


def cmd_train(args):
    if os.environ.get("RANK", "0") != "0":       # torchrun's other processes: rank 0 prints for all
        sys.stdout = open(os.devnull, "w")
    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.data.dataset import prepare
    from rnnlab.train.config import build_config
    from rnnlab.train.loop import pick_device, resume_run, train

    overrides = {k: getattr(args, k) for k in ("engine", "cell", "embed_size", "hidden_size", "num_layers", "activation",
                                               "dropout", "init", "optimizer", "optim_impl", "lr", "batch_size", "epochs",
                                               "max_steps", "clip_norm", "clip_value", "weight_decay", "l1", "eval_every",
                                               "patience", "seed", "device", "checkpoint_every", "max_bad_steps",
                                               "bad_lr_factor")}
    overrides.update(clip_per_tensor=args.clip_per_tensor or None, log_grad_norms=args.log_grad_norms or None)
    awd = {k: getattr(args, k) for k in AWD_FLAGS}
    awd.update(variable_bptt=False if args.fixed_bptt else None, n_classes=args.classes, finetune=args.finetune or None)
    overrides.update(awd)
    if args.resume:
        given = [k for k, v in {**overrides, **data_overrides(args), "preset": args.preset, "out": args.out,
                                "init_from": args.init_from}.items() if v is not None]
        if given:
            raise RnnlabError(f"--resume continues a run with its own settings: drop --{given[0].replace('_', '-')}")
        budget = {} if args.time_budget is None else {"time_budget": args.time_budget}
        return report(resume_run(args.resume, progress=not args.no_progress, **budget))
    overrides["time_budget"] = args.time_budget             # 0 stays 0: no limit
    cfg = build_config(args.preset or "seed-large", **overrides, **data_overrides(args))
    given = [k for k, v in awd.items() if v is not None and k != "finetune"]
    if given and cfg.model != "awd":
        raise RnnlabError(f"--{given[0].replace('_', '-')} is an AWD-LSTM option: add --preset awd or awd-small")
    if args.finetune and not args.init_from:
        raise RnnlabError("--finetune continues a trained model: give it with --init-from")
    kind = "awd" if cfg.model == "awd" else cfg.cell if cfg.engine == "torch" else "numpy"
    out = Path(args.out or f"runs/{Path(cfg.data.corpus).stem}-{kind}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RnnlabError(f"{out}: already exists; choose another --out")
    pick_device(cfg.device)
    init = load_checkpoint(args.init_from) if args.init_from else None
    data = prepare(cfg.data, vocab=init.vocab if init else None, fetch_missing=cfg.data.corpus == "tang")
    s = data.stats
    print(f"{s['corpus']}: {s['train']} train / {s['valid']} valid sequences, vocabulary {s['vocab_size']}")
    report(train(cfg, data, out, init_from=init, progress=not args.no_progress))


def report(result):
    """What a finished training run prints: why it stopped, its best perplexity, a poem per start character."""
    from rnnlab.generate.sampling import generate

    print(f"\n{result.stop_reason} after {result.steps} steps ({result.epochs:.2f} epochs), {result.tokens_per_s:.0f} tokens/s")
    if result.nonfinite_steps:
        print(f"{result.nonfinite_steps} steps with a non-finite loss or gradient were skipped")
    print(f"best validation perplexity {result.best_ppl:.2f}; run saved in {result.run_dir}")
    ckpt = result.checkpoint
    starts = [c for c in START_CHARS if c in ckpt.vocab]
    print()
    for i, start in enumerate(starts or [""]):
        poems = generate(ckpt.model, ckpt.vocab, start, num=1 if starts else 3, temperature=0.8, max_len=64, seed=i)
        for poem in poems:
            print(f"{start or '·'}: {poem}")


def cmd_eval(args):
    import torch

    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.data.dataset import Split, prepare
    from rnnlab.train.engines import perplexity

    ckpt = load_checkpoint(args.checkpoint, dtype=torch.float64 if args.float64 or args.engine == "numpy" else torch.float32)
    config = replace(ckpt.data_config, corpus=args.corpus)
    data = prepare(config, vocab=ckpt.vocab, fetch_missing=args.corpus == "tang")
    if args.engine == "numpy":
        from rnnlab.numpy.lm import LanguageModel, perplexity
        model = LanguageModel(ckpt.model.config, {k: v.numpy() for k, v in ckpt.model.state_dict().items()})
    else:
        model = ckpt.model
    split = {"train": data.train, "valid": data.valid, "all": Split.concat([data.train, data.valid])}[args.split]
    report = {"checkpoint": str(ckpt.path), "corpus": data.stats["corpus"], "split": args.split,
              "sequences": len(split), "tokens": split.n_targets,
              "unknown": int((split.tokens == ckpt.vocab.unk).sum()),
              "engine": args.engine, "perplexity": perplexity(model, split, ckpt.vocab.pad)}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"perplexity {report['perplexity']:.2f} on {report['sequences']} sequences / {report['tokens']} tokens"
              f" of {report['corpus']} ({args.split}); {report['unknown']} unknown characters")


def cmd_generate(args):
    from rnnlab.checkpoint import load_checkpoint

    options = generation_options(args)
    ckpt = load_checkpoint(args.checkpoint)
    poems = ckpt.generate(**options)
    if args.json:
        print(json.dumps({**options, "poems": poems}, ensure_ascii=False))
    else:
        print("\n".join(poems))


def cmd_eval_gen(args):
    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.generate.evaluate import evaluate

    options = generation_options(args)
    ckpt = load_checkpoint(args.checkpoint)
    t0 = time.perf_counter()
    poems = ckpt.generate(**options)
    seconds = time.perf_counter() - t0
    result = {"checkpoint": str(ckpt.path), "options": options, **evaluate(ckpt, poems, args.form),
              "seconds": seconds, "examples": poems[:3]}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    rows = [("poems", f"{result['poems']} in {seconds:.1f} s"), ("form valid", f"{result['form_valid']:.1%}"),
            ("rhyme", f"{result['rhyme']:.1%}"), ("tones", f"{result['tones']:.1%}"),
            ("distinct-1", f"{result['distinct_1']:.3f}"), ("distinct-2", f"{result['distinct_2']:.3f}"),
            ("novel lines", f"{result['novel_lines']:.1%}"), ("novel 4-grams", f"{result['novel_4grams']:.1%}"),
            ("log p / char", f"{result['logprob_per_char']:.3f}")]
    print("| measure | value |\n|---|---:|")
    print("\n".join(f"| {k} | {v} |" for k, v in rows))
    print("\n" + "\n".join(poems[:3]))


def cmd_experiment(args):
    import importlib

    module = importlib.import_module(f"rnnlab.experiments.{args.name.replace('-', '_')}")
    corpus = {"corpus": args.corpus} if args.corpus else {}
    extra = {"explosion": {"global_norm": args.global_norm}, "optimizers": {**corpus, "steps": args.steps},
             "awd-ablation": {**corpus, "epochs": args.epochs}}
    if args.name != "optimizer-paths":
        extra.setdefault(args.name, {})["seed"] = args.seed
    module.run(args.out, quick=args.quick, **extra.get(args.name, {}))
    print((Path(args.out) / "summary.md").read_text(encoding="utf-8"))


def cmd_gradcheck(args):
    from rnnlab.gradcheck import LIMIT, run

    rows = run(args.seed)
    worst = max(max(r["vs_numeric"], r["vs_torch"]) for r in rows)
    if args.json:
        print(json.dumps({"limit": LIMIT, "worst": worst, "rows": rows}))
    else:
        print(f"{'component':<16}{'gradient':<18}{'vs numeric':>12}{'vs torch':>12}")
        for r in rows:
            print(f"{r['component']:<16}{r['gradient']:<18}{r['vs_numeric']:>12.1e}{r['vs_torch']:>12.1e}")
        print(f"worst relative error {worst:.1e} (limit {LIMIT:g}): {'ok' if worst <= LIMIT else 'FAILED'}")
    return 0 if worst <= LIMIT else 1


def cmd_serve(args):
    from rnnlab.web.app import serve

    serve(args.checkpoint, args.host, args.port, args.timeout)


def cmd_bench(args):
    from rnnlab.bench import run, table
    from rnnlab.fileio import atomic_write_text

    result = run(args.hidden, args.batch, args.length, args.vocab, args.kinds, args.engines, args.repeats, args.min_time,
                 memory=not args.no_memory)
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(json.dumps(result) if args.json else table(result))


COMMANDS = {"bench": cmd_bench, "eval-gen": cmd_eval_gen, "data": cmd_data, "train": cmd_train, "eval": cmd_eval,
            "generate": cmd_generate, "gradcheck": cmd_gradcheck, "experiment": cmd_experiment, "serve": cmd_serve}


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
    except RnnlabError as e:
        print(f"rnnlab: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        if os.environ.get("RANK", "0") == "0":
            print(f"rnnlab: {e}", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                 # e.g. `rnnlab generate ... | head -1`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
