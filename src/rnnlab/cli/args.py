"""The `rnnlab` command's arguments: one sub-parser per command, value checks that fail with one line."""
import argparse

AWD_FLAGS = ("bptt", "dropouth", "dropouti", "dropoute", "wdrop", "alpha", "beta", "tied", "residual", "softmax")


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
    p.add_argument("--prosody", choices=["classical", "modern"], default="classical",
                   help="whose tones and rhymes: classical (平水韵, as the Tang poets) or modern (Mandarin) (default: %(default)s)")
    p.add_argument("--repetition-penalty", type=float, default=1.0, help=">= 1; discourages repeated characters (default: %(default)s)")
    p.add_argument("--max-len", type=positive_int, default=64, help="length cap of free poems in characters (default: %(default)s)")


def generation_options(args):
    return {"start": args.start, "form": args.form, "acrostic": args.acrostic, "prefix": args.prefix,
            "strategy": args.strategy, "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p,
            "beam_size": args.beam_size, "rhyme": args.rhyme, "tones": args.tones, "prosody": args.prosody,
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
    g.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                   help="save the full training state every N steps (default 200; also at each epoch end and on stop)")
    g.add_argument("--max-bad-steps", type=positive_int, metavar="K",
                   help="after K non-finite steps in a row, go back to the last saved state (default 5)")
    g.add_argument("--bad-lr-factor", type=fraction, metavar="F", help="... and multiply the learning rate by this (default 0.5)")

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
    pr = sub.add_parser("prosody", help="score the regulated poems of a corpus: rhyme and tone rules per form",
                        description="For each regulated form (wujue qijue wulv qilv), the number of poems of that shape "
                                    "that rhyme on 平 (those rhyming on 仄 are old-style verse, counted apart) and the share "
                                    "that rhyme and that follow the tone rules. Traditional text is converted first.")
    pr.add_argument("corpus", metavar="FILE", help="a corpus file or folder in any format rnnlab reads, or tang, tangshi")
    pr.add_argument("--prosody", choices=["classical", "modern"], default="classical", help="(default: %(default)s)")
    pr.add_argument("--shuffled", action="store_true",
                    help="shuffle each line's characters (the last kept) first: what the checks give to non-verse")
    pr.add_argument("--json", action="store_true", help="print JSON")
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
