"""rnnlab: recurrent language models you can read, from hand-written BPTT to Tang poems.

    import rnnlab
    run = rnnlab.train(corpus="tang", time_budget=15)      # the options of `rnnlab train`, as keywords
    poet = rnnlab.load(run.run_dir)                          # or any checkpoint or run directory;
                                                             # rnnlab.load(): the bundled model, trained here
    poet.generate("月", form="qijue", num=3)
    poet.perplexity(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"])
"""
__version__ = "0.1.0"


def load(path=None, cell=None, device="cpu"):
    """A checkpoint (a run directory's best one, or a bundled model's name; none: the bundled `tang`), with
    .generate(start, **options) and .perplexity(texts)."""
    from rnnlab.checkpoint import load_checkpoint
    return load_checkpoint(path, cell=cell, device=device)


def train(preset=None, out=None, progress=True, **options):
    """Train as `rnnlab train` does, with its options as keywords (corpus="tang", time_budget=15, ...);
    returns the TrainResult (run_dir, best_ppl, checkpoint, metrics, ...). `out`: the run directory
    (default: runs/CORPUS-KIND-TIME)."""
    from rnnlab.data.dataset import prepare
    from rnnlab.training.config import DEFAULT_PRESET, build_config
    from rnnlab.training.loop import default_run_dir
    from rnnlab.training.loop import train as train_loop

    cfg = build_config(preset or DEFAULT_PRESET, **options)
    data = prepare(cfg.data, fetch_missing=cfg.data.corpus == "tang")
    return train_loop(cfg, data, out or default_run_dir(cfg), progress=progress)
