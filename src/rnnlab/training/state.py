"""The full state of a training run in one file, RUN/resume.safetensors, replaced atomically (fileio), so
a crash at any instant leaves the previous state whole.

Tensors: the model's weights ("model.<name>"), every tensor of the optimizer's state_dict, torch's RNG
state and, for an AWD-LSTM, the hidden state carried between windows. Everything else is JSON in the
file's metadata: the loop's Progress (position in the data order, early stopping), the metrics rows so far, the
optimizer's other values, and Python's RNG state. The tensors keep their dtypes, so a
resumed run continues bit for bit. Nothing in it is ever unpickled.
"""
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from rnnlab.checkpoint import refuse_pickle
from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_bytes

STATE_FILE = "resume.safetensors"
STATE_VERSION = 2


@dataclass
class Progress:
    """Where a run is, besides its weights and optimizer: enough for the loop to go on exactly."""
    step: int = 0
    epoch: int = 0
    batch: int = 0                   # batches of this epoch already done
    epoch_rng: dict | None = None    # the data-order generator's state before this epoch's batches were drawn
    best_ppl: float = float("inf")
    latest_ppl: float | None = None
    evals_since_best: int = 0
    nonfinite: int = 0               # steps skipped for a non-finite loss or gradient
    bad_in_a_row: int = 0
    rollbacks: int = 0               # returns to the last good state, each halving the learning rate
    lr_scale: float = 1.0            # the product of those cuts (a scheduled learning rate is multiplied by it)
    horizon: int | None = None       # the step where the cosine schedule ends, once known
    reserve: float = 0.0             # seconds of the time budget kept for the final full-split validation
    train_time: float = 0.0
    train_tokens: int = 0
    window: dict = field(default_factory=lambda: {"loss": 0.0, "tokens": 0, "time": 0.0})
    stop: str | None = None          # why the run ended, once it has


def _split(obj, prefix, tensors):
    """Replace every tensor or array in a nested structure by a reference into `tensors`."""
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        tensors[prefix] = (torch.from_numpy(np.ascontiguousarray(obj)) if isinstance(obj, np.ndarray) else obj).detach().cpu().clone()
        return {"__tensor__": prefix, "numpy": isinstance(obj, np.ndarray)}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: _split(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[k, _split(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_split(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    return obj


def _join(obj, tensors):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            t = tensors[obj["__tensor__"]]
            return t.numpy() if obj["numpy"] else t
        if "__items__" in obj:
            return {k: _join(v, tensors) for k, v in obj["__items__"]}
        return {k: _join(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join(v, tensors) for v in obj]
    return obj


def save_state(run_dir, engine, progress, metrics, torch_rngs=None, carry=None):
    """Write RUN/resume.safetensors (`metrics`: the rows of metrics.csv so far; `torch_rngs`: every process's
    torch generator state under torchrun, which their dropout masks of different shapes set apart; `carry`:
    what to save as the engine's carry, every process's under torchrun, else engine.carry); refuses
    (RnnlabError) if any weight or optimizer value is not finite."""
    tensors, torch_rngs = {}, torch_rngs or [torch.get_rng_state()]
    meta = {"version": STATE_VERSION, "progress": asdict(progress), "metrics": metrics,
            "model": _split({k: torch.as_tensor(v) for k, v in engine.model.state_dict().items()}, "model", tensors),
            "optimizer": _split(engine.optimizer.state_dict(), "optimizer", tensors),
            "carry": _split(engine.carry if carry is None else carry, "carry", tensors),
            "rng": {"python": random.getstate(), "torch": _split(torch_rngs, "rng.torch", tensors)}}
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise RnnlabError("refusing to write the training state: a weight or optimizer value is not finite")
    data = save(tensors, metadata={"rnnlab": json.dumps(meta)})
    atomic_write_bytes(Path(run_dir) / STATE_FILE, data)


def load_state(run_dir):
    """Read RUN/resume.safetensors -> its JSON with every tensor put back in place."""
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise RnnlabError(f"{run_dir}: no {STATE_FILE} to resume from (not a run directory, or trained before "
                          "rnnlab wrote resumable state)")
    refuse_pickle(path)
    try:
        with safe_open(path, "pt") as f:
            meta = json.loads((f.metadata() or {}).get("rnnlab", "null"))
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, json.JSONDecodeError) as e:
        raise RnnlabError(f"{path}: unreadable ({e})") from None
    if not isinstance(meta, dict) or meta.get("version") != STATE_VERSION:
        raise RnnlabError(f"{path}: not an rnnlab training state of version {STATE_VERSION}")
    try:
        return _join(meta, tensors)
    except KeyError as e:
        raise RnnlabError(f"{path}: tensor {e} is missing") from None


def restore_rngs(state, rank=0):
    """Put Python's and torch's generators back as they were (the data order's is in Progress.epoch_rng):
    torch's as process `rank` left it (a state saved by one process, or by fewer: the first process's)."""
    version, internal, gauss = state["rng"]["python"]
    random.setstate((version, tuple(internal), gauss))
    saved = state["rng"]["torch"]
    saved = [saved] if isinstance(saved, torch.Tensor) else saved      # a state written before 2026-12-03
    torch.set_rng_state(saved[rank] if rank < len(saved) else saved[0])
