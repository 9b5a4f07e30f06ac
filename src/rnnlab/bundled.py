"""The trained models that ship inside the package: a name (`--checkpoint tang`) for a checkpoint
folder under rnnlab/models/, whose files are checked against NAME.sha256 beside it before anything
reads them. Made by benchmarks/bundled_model.py (training command, half-precision export, model card).
"""
import sys
from pathlib import Path

from rnnlab.data.download import file_digest, parse_sha256sums
from rnnlab.errors import RnnlabError

MODELS = Path(__file__).parent / "models"
DEFAULT_MODEL = "tang"


def bundled_names():
    return sorted(p.stem for p in MODELS.glob("*.sha256"))


def is_bundled_name(path):
    """A bundled model's name, unless a folder of that name exists here (a run you called tang wins)."""
    return path is not None and str(path) in bundled_names() and not Path(path).exists()


def manifest(name):
    return parse_sha256sums((MODELS / f"{name}.sha256").read_text(encoding="utf-8"))


def bundled_checkpoint(name):
    """The folder of bundled model `name`, after checking every file's SHA-256 against its manifest."""
    folder = MODELS / name
    for file, digest in manifest(name).items():
        if not (folder / file).is_file():
            raise RnnlabError(f"bundled model {name}: {file} is missing (reinstall rnnlab)")
        if file_digest(folder / file, "sha256").hexdigest() != digest:
            raise RnnlabError(f"bundled model {name}: {file} does not match its SHA-256 (changed or truncated; "
                              "reinstall rnnlab)")
    return folder


def checkpoint_or_default(path):
    """`path` as given; with none, the default bundled model, said in one line on stderr."""
    if path is not None:
        return path
    print(f"rnnlab: no --checkpoint given: using the bundled model {DEFAULT_MODEL!r} (see `rnnlab models`)",
          file=sys.stderr)
    return DEFAULT_MODEL


def catalogue(runs="runs"):
    """The models at hand, bundled first, then each run under `runs` with a best/ checkpoint: one dict
    each (name, kind, path, architecture, model, step, valid_ppl, split), read from the JSON files alone.
    split: "full" where valid_ppl is the whole validation split's, "subset" where the run validated on a
    subset and has not yet reached its final full-split validation."""
    import json

    def read(path):
        return json.loads(path.read_text(encoding="utf-8"))

    def entry(name, kind, folder, subset_run=False):
        config, meta = read(folder / "config.json"), read(folder / "meta.json")
        m = config["model"]
        return {"name": name, "kind": kind, "path": str(folder), "architecture": config.get("architecture", "lstm"),
                "model": f"{m['num_layers']}x{m['hidden_size']}", "step": meta.get("step"),
                "valid_ppl": meta.get("valid_ppl"),
                "split": "subset" if subset_run and "valid_ppl_subset" not in meta else "full"}

    found = [entry(name, "bundled", MODELS / name) for name in bundled_names()]
    for meta in sorted(Path(runs).glob("*/best/meta.json")):
        run = meta.parent.parent
        try:
            found.append(entry(run.name, "run", meta.parent, bool(read(run / "config.json")["train"]["valid_subset"])))
        except (OSError, ValueError, KeyError):
            continue                   # a run being written, or not rnnlab's: not listed
    return found
