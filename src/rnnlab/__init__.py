"""rnnlab: recurrent language models you can read, from hand-written BPTT to Tang poems."""
__version__ = "0.1.0"


def load(path, cell=None, device="cpu"):
    """Load a checkpoint (or a run directory's best one): `rnnlab.load("runs/x").generate(start="月")`."""
    from rnnlab.checkpoint import load_checkpoint
    return load_checkpoint(path, cell=cell, device=device)
